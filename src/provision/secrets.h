/* Secrets at rest: the connection secrets (access tokens, passwords, client secrets,
 * custom header values) are stored encrypted with libsodium's crypto_secretbox
 * (XSalsa20-Poly1305) under a 32-byte key that lives outside the database: in the
 * environment (SCIMITAR_KEY, base64 or hex of 32 bytes) or in a key file created on
 * first use with mode 0600 (`scimitar serve --key-file`, default the database path +
 * ".key"). A sealed secret is the text "sb1:" + base64(nonce || ciphertext). Nothing
 * here logs a secret or puts one in an error message. */
#ifndef SC_PROVISION_SECRETS_H
#define SC_PROVISION_SECRETS_H

#include "base/err.h"

#include <stddef.h>

#define SECRETS_KEY_BYTES 32
#define SECRETS_PREFIX "sb1:"
#define SECRETS_MAX_PLAIN 8192 /* bytes of one secret */

struct secrets_key;

/* Loads the key: SCIMITAR_KEY from the environment when set (base64, URL-safe base64
 * or hex of exactly 32 bytes), else the file at path (same text forms), creating it
 * with a new random key and mode 0600 when it does not exist (atomically: a concurrent
 * creator's key wins and is read back). path NULL and no SCIMITAR_KEY: a random key
 * for this process only (for in-memory databases). *out is new (secrets_key_free).
 * Errors: SC_ERR_INVALID (malformed SCIMITAR_KEY or key file, or a key file whose mode
 * gives group or others any access; e->field "SCIMITAR_KEY" or "key-file"), SC_ERR_IO
 * (cannot read or create the file; the message names the path), SC_ERR_NOMEM. */
enum sc_err secrets_key_load(const char *path, struct secrets_key **out, struct sc_error *e);

/* Returns the process-wide key for path (as secrets_key_load), loading it on first use
 * and keeping it until exit. Thread-safe. Borrowed; NULL on error (e filled). */
const struct secrets_key *secrets_key_shared(const char *path, struct sc_error *e);

/* Makes a key from 32 raw bytes (for tests). *out is new. */
enum sc_err secrets_key_from_bytes(const unsigned char bytes[SECRETS_KEY_BYTES],
                                   struct secrets_key **out);

/* Wipes and frees k. NULL is a no-op. */
void secrets_key_free(struct secrets_key *k);

/* Encrypts plain (NUL-terminated, at most SECRETS_MAX_PLAIN bytes) with a random nonce.
 * *out is a new string "sb1:..." (free it). Errors: SC_ERR_TOO_LARGE, SC_ERR_NOMEM. */
enum sc_err secrets_seal(const struct secrets_key *k, const char *plain, char **out);

/* Decrypts a string made by secrets_seal. *out is a new string (wipe with
 * secrets_wipe_free). Errors: SC_ERR_PARSE (not a sealed secret), SC_ERR_CRYPTO (wrong
 * key or tampered data: the message says to check SCIMITAR_KEY / the key file),
 * SC_ERR_NOMEM. */
enum sc_err secrets_open(const struct secrets_key *k, const char *sealed, char **out,
                         struct sc_error *e);

/* Returns non-zero when s looks like a sealed secret ("sb1:" prefix). */
int secrets_is_sealed(const char *s);

/* Zeroes s's bytes, then frees it. NULL is a no-op. */
void secrets_wipe_free(char *s);

#endif
