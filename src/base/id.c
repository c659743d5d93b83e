/* Ids, tokens and digests over libsodium. */
#include "base/id.h"
#include "base/clock.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int sc_crypto_init(void)
{
    return sodium_init() < 0 ? -1 : 0;
}

void sc_uuid_v4(char out[SC_UUID_LEN + 1])
{
    unsigned char b[16];
    sc_crypto_init();
    randombytes_buf(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    snprintf(out, SC_UUID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

/* The last v7 id's time (ms, high bits) and counter (low 12 bits), process-wide. */
static _Atomic uint64_t uuid7_state;

void sc_uuid_v7(char out[SC_UUID_LEN + 1])
{
    uint64_t now = (uint64_t)sc_clock_now_ms() & 0xFFFFFFFFFFFFULL;
    uint64_t old = atomic_load(&uuid7_state), next;
    do /* a new millisecond starts the counter again; within one (or when the clock went
          back) the counter goes on, and past 4095 carries into the time */
        next = now > (old >> 12) ? now << 12 : old + 1;
    while (!atomic_compare_exchange_weak(&uuid7_state, &old, next));
    uint64_t ms = next >> 12;
    unsigned seq = (unsigned)(next & 0xFFF);
    unsigned char b[16];
    sc_crypto_init();
    randombytes_buf(b + 8, 8);
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    b[6] = (unsigned char)(0x70 | (seq >> 8));
    b[7] = (unsigned char)(seq & 0xFF);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    snprintf(out, SC_UUID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

int sc_uuid_valid(const char *s)
{
    if (!s || strlen(s) != SC_UUID_LEN)
        return 0;
    for (int i = 0; i < SC_UUID_LEN; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    return 1;
}

int sc_random_token(size_t nbytes, char *out, size_t n)
{
    unsigned char raw[64];
    if (nbytes > sizeof raw ||
        n < sodium_base64_ENCODED_LEN(nbytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING))
        return -1;
    sc_crypto_init();
    randombytes_buf(raw, nbytes);
    sodium_bin2base64(out, n, raw, nbytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    return 0;
}

int sc_secret_equal(const char *a, const char *b)
{
    if (!a || !b)
        return 0;
    /* compare fixed-size digests so neither content nor length leaks through timing */
    unsigned char da[crypto_generichash_BYTES], db[crypto_generichash_BYTES];
    crypto_generichash(da, sizeof da, (const unsigned char *)a, strlen(a), NULL, 0);
    crypto_generichash(db, sizeof db, (const unsigned char *)b, strlen(b), NULL, 0);
    return sodium_memcmp(da, db, sizeof da) == 0;
}

void sc_sha256_hex(const char *s, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)s, strlen(s));
    sodium_bin2hex(out, 65, h, sizeof h);
}
