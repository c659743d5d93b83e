/* Random identifiers and tokens from libsodium's CSPRNG, and secret comparison. */
#ifndef SC_BASE_ID_H
#define SC_BASE_ID_H

#include <stddef.h>

#define SC_UUID_LEN 36

/* Initialises libsodium once; safe to call from any thread, any number of times.
 * Returns 0, or -1 when the library cannot start (the process should exit). */
int sc_crypto_init(void);

/* Writes a new random UUID v4 ("0f8fad5b-d9cb-469f-a165-70867728950e") into out[37]. */
void sc_uuid_v4(char out[SC_UUID_LEN + 1]);

/* Writes a new UUID v7 (RFC 9562: the Unix time in milliseconds, a 12-bit counter that
 * keeps the ids one process makes in the same millisecond in order, 62 random bits)
 * into out[37]. Ids made later sort after earlier ones (as strings too), so rows keyed
 * by them are stored in the order they were made and scans by id read them in order. */
void sc_uuid_v7(char out[SC_UUID_LEN + 1]);

/* Returns non-zero when s is a UUID in canonical lower- or upper-case form. */
int sc_uuid_valid(const char *s);

/* Writes nbytes random bytes as URL-safe base64 without padding into out (size n).
 * Returns 0, or -1 when out is too small. */
int sc_random_token(size_t nbytes, char *out, size_t n);

/* Constant-time comparison of two NUL-terminated secrets; non-zero when equal. */
int sc_secret_equal(const char *a, const char *b);

/* Writes the lower-case hex SHA-256 of s into out[65] (for storing token hashes). */
void sc_sha256_hex(const char *s, char out[65]);

#endif
