/* Secrets at rest with libsodium's crypto_secretbox: key loading (environment, key file
 * created atomically with mode 0600, or a per-process key), sealing and opening. */
#include "provision/secrets.h"
#include "base/buf.h"
#include "base/id.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct secrets_key {
    unsigned char k[crypto_secretbox_KEYBYTES];
};

_Static_assert(crypto_secretbox_KEYBYTES == SECRETS_KEY_BYTES, "secretbox key size");

enum sc_err secrets_key_from_bytes(const unsigned char bytes[SECRETS_KEY_BYTES],
                                   struct secrets_key **out)
{
    *out = NULL;
    if (sc_crypto_init())
        return SC_ERR_CRYPTO;
    struct secrets_key *k = sodium_malloc(sizeof *k);
    if (!k)
        return SC_ERR_NOMEM;
    memcpy(k->k, bytes, sizeof k->k);
    *out = k;
    return SC_OK;
}

void secrets_key_free(struct secrets_key *k)
{
    if (k)
        sodium_free(k); /* wipes */
}

/* Decodes text (surrounding whitespace ignored) as hex, base64 or URL-safe base64 of
 * exactly 32 bytes. 0 or -1. */
static int key_decode(const char *text, unsigned char out[SECRETS_KEY_BYTES])
{
    size_t len = strlen(text);
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ' ||
                   text[len - 1] == '\t'))
        len--;
    while (len && (*text == ' ' || *text == '\t')) {
        text++;
        len--;
    }
    size_t bin_len = 0;
    const char *end = NULL;
    if (len == 2 * SECRETS_KEY_BYTES &&
        sodium_hex2bin(out, SECRETS_KEY_BYTES, text, len, NULL, &bin_len, &end) == 0 &&
        bin_len == SECRETS_KEY_BYTES && end == text + len)
        return 0;
    static const int variants[] = {
        sodium_base64_VARIANT_ORIGINAL,
        sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
        sodium_base64_VARIANT_URLSAFE,
        sodium_base64_VARIANT_URLSAFE_NO_PADDING,
    };
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        if (sodium_base642bin(out, SECRETS_KEY_BYTES, text, len, NULL, &bin_len, &end,
                              variants[i]) == 0 &&
            bin_len == SECRETS_KEY_BYTES && end == text + len)
            return 0;
    }
    sodium_memzero(out, SECRETS_KEY_BYTES);
    return -1;
}

/* Reads the key file at path into raw. SC_ERR_NOT_FOUND when it does not exist. */
static enum sc_err key_file_read(const char *path, unsigned char raw[SECRETS_KEY_BYTES],
                                 struct sc_error *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return SC_ERR_NOT_FOUND;
        return sc_error_set(e, SC_ERR_IO, "key-file", "cannot read the key file %s: %s", path,
                            strerror(errno));
    }
    struct stat sb;
    if (fstat(fd, &sb) == 0 && (sb.st_mode & 077)) {
        close(fd);
        return sc_error_set(e, SC_ERR_INVALID, "key-file",
                            "the key file %s is open to group or others (mode %04o): it "
                            "must be readable by its owner only (chmod 600 %s)",
                            path, (unsigned)(sb.st_mode & 07777), path);
    }
    char text[256];
    ssize_t n = read(fd, text, sizeof text - 1);
    int saved = errno;
    close(fd);
    if (n < 0)
        return sc_error_set(e, SC_ERR_IO, "key-file", "cannot read the key file %s: %s", path,
                            strerror(saved));
    text[n] = '\0';
    int bad = key_decode(text, raw);
    sodium_memzero(text, sizeof text);
    if (bad)
        return sc_error_set(e, SC_ERR_INVALID, "key-file",
                            "the key file %s does not hold base64 or hex of 32 bytes", path);
    return SC_OK;
}

/* Creates the key file with a new random key: written to a temporary file with mode
 * 0600, then hard-linked into place so a concurrent creator's file is never replaced.
 * On EEXIST the existing key is read back. */
static enum sc_err key_file_create(const char *path, unsigned char raw[SECRETS_KEY_BYTES],
                                   struct sc_error *e)
{
    enum sc_err rc = SC_OK;
    char tmp[4096];
    char b64[sodium_base64_ENCODED_LEN(SECRETS_KEY_BYTES, sodium_base64_VARIANT_ORIGINAL) + 1];
    int fd = -1;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp)
        return sc_error_set(e, SC_ERR_INVALID, "key-file", "the key file path is too long");
    randombytes_buf(raw, SECRETS_KEY_BYTES);
    sodium_bin2base64(b64, sizeof b64 - 1, raw, SECRETS_KEY_BYTES, sodium_base64_VARIANT_ORIGINAL);
    size_t len = strlen(b64);
    b64[len++] = '\n';
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = sc_error_set(e, SC_ERR_IO, "key-file", "cannot create the key file %s: %s", path,
                          strerror(errno));
        goto done;
    }
    if (write(fd, b64, len) != (ssize_t)len || fsync(fd) != 0) {
        rc = sc_error_set(e, SC_ERR_IO, "key-file", "cannot write the key file %s: %s", path,
                          strerror(errno));
        goto done;
    }
    close(fd);
    fd = -1;
    if (link(tmp, path) != 0) {
        if (errno == EEXIST) {
            rc = key_file_read(path, raw, e);
            if (rc == SC_ERR_NOT_FOUND)
                rc = sc_error_set(e, SC_ERR_IO, "key-file", "the key file %s vanished", path);
        } else {
            rc = sc_error_set(e, SC_ERR_IO, "key-file", "cannot create the key file %s: %s", path,
                              strerror(errno));
        }
        goto done;
    }
    SC_INFO("secrets.key_created", "path=%s", path);
done:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    sodium_memzero(b64, sizeof b64);
    return rc;
}

enum sc_err secrets_key_load(const char *path, struct secrets_key **out, struct sc_error *e)
{
    *out = NULL;
    if (sc_crypto_init())
        return sc_error_set(e, SC_ERR_CRYPTO, NULL, "libsodium cannot start");
    unsigned char raw[SECRETS_KEY_BYTES];
    enum sc_err rc = SC_OK;
    const char *env = getenv("SCIMITAR_KEY");
    if (env && *env) {
        if (key_decode(env, raw))
            return sc_error_set(e, SC_ERR_INVALID, "SCIMITAR_KEY",
                                "SCIMITAR_KEY must be base64 or hex of exactly 32 bytes");
    } else if (path && *path) {
        rc = key_file_read(path, raw, e);
        if (rc == SC_ERR_NOT_FOUND)
            rc = key_file_create(path, raw, e);
        if (rc)
            return rc;
    } else {
        randombytes_buf(raw, sizeof raw);
    }
    rc = secrets_key_from_bytes(raw, out);
    sodium_memzero(raw, sizeof raw);
    if (rc)
        sc_error_set(e, rc, NULL, "cannot set up the secrets key");
    return rc;
}

#define SHARED_MAX 8

static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char *path; /* NULL for the per-process key */
    struct secrets_key *key;
} shared[SHARED_MAX];
static int nshared;

const struct secrets_key *secrets_key_shared(const char *path, struct sc_error *e)
{
    const struct secrets_key *found = NULL;
    if (path && !*path)
        path = NULL;
    pthread_mutex_lock(&shared_mu);
    for (int i = 0; i < nshared && !found; i++)
        if ((!path && !shared[i].path) ||
            (path && shared[i].path && strcmp(path, shared[i].path) == 0))
            found = shared[i].key;
    if (!found) {
        struct secrets_key *k = NULL;
        if (nshared == SHARED_MAX) {
            sc_error_set(e, SC_ERR_INTERNAL, NULL, "too many secrets keys in one process");
        } else if (secrets_key_load(path, &k, e) == SC_OK) {
            shared[nshared].path = path ? sc_strdup(path) : NULL;
            shared[nshared].key = k;
            nshared++;
            found = k;
        }
    }
    pthread_mutex_unlock(&shared_mu);
    return found;
}

int secrets_is_sealed(const char *s)
{
    return s && strncmp(s, SECRETS_PREFIX, strlen(SECRETS_PREFIX)) == 0;
}

enum sc_err secrets_seal(const struct secrets_key *k, const char *plain, char **out)
{
    *out = NULL;
    size_t plen = strlen(plain);
    if (plen > SECRETS_MAX_PLAIN)
        return SC_ERR_TOO_LARGE;
    size_t blen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plen;
    unsigned char *box = malloc(blen);
    size_t b64len = sodium_base64_ENCODED_LEN(blen, sodium_base64_VARIANT_ORIGINAL);
    char *text = malloc(strlen(SECRETS_PREFIX) + b64len);
    if (!box || !text) {
        free(box);
        free(text);
        return SC_ERR_NOMEM;
    }
    randombytes_buf(box, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, (const unsigned char *)plain, plen,
                          box, k->k);
    memcpy(text, SECRETS_PREFIX, strlen(SECRETS_PREFIX));
    sodium_bin2base64(text + strlen(SECRETS_PREFIX), b64len, box, blen,
                      sodium_base64_VARIANT_ORIGINAL);
    free(box);
    *out = text;
    return SC_OK;
}

enum sc_err secrets_open(const struct secrets_key *k, const char *sealed, char **out,
                         struct sc_error *e)
{
    *out = NULL;
    if (!secrets_is_sealed(sealed))
        return sc_error_set(e, SC_ERR_PARSE, NULL, "a stored secret is not sealed");
    const char *b64 = sealed + strlen(SECRETS_PREFIX);
    size_t b64len = strlen(b64);
    size_t max = b64len / 4 * 3 + 3;
    unsigned char *box = malloc(max);
    if (!box)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    enum sc_err rc = SC_OK;
    char *plain = NULL;
    size_t blen = 0;
    if (sodium_base642bin(box, max, b64, b64len, NULL, &blen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        blen < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
        rc = sc_error_set(e, SC_ERR_PARSE, NULL, "a stored secret is malformed");
        goto done;
    }
    size_t plen = blen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    plain = malloc(plen + 1);
    if (!plain) {
        rc = sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
        goto done;
    }
    if (crypto_secretbox_open_easy((unsigned char *)plain, box + crypto_secretbox_NONCEBYTES,
                                   blen - crypto_secretbox_NONCEBYTES, box, k->k) != 0) {
        rc = sc_error_set(e, SC_ERR_CRYPTO, NULL,
                          "a stored secret cannot be decrypted: the secrets key "
                          "(SCIMITAR_KEY or the key file) is not the one it was saved with");
        goto done;
    }
    plain[plen] = '\0';
    *out = plain;
    plain = NULL;
done:
    free(plain);
    free(box);
    return rc;
}

void secrets_wipe_free(char *s)
{
    if (!s)
        return;
    sodium_memzero(s, strlen(s));
    free(s);
}
