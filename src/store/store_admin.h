/* Persistence of the named admin tokens: one row per token with its name, the SHA-256
 * hash (hex) of the token (never the token), the first characters of the token (its
 * prefix, to tell tokens apart in a list), and its creation, last-use and expiry times
 * (ms since the epoch; 0 for none). Names and hashes are unique. A few rows at most: an
 * administrator makes them by hand, so listing reads them all. */
#ifndef SC_STORE_STORE_ADMIN_H
#define SC_STORE_STORE_ADMIN_H

#include "base/id.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

#define STORE_ADMIN_NAME_MAX 64   /* characters of a token's name */
#define STORE_ADMIN_PREFIX_MAX 16 /* characters of a token's prefix */

struct store_admin_token {
    char id[SC_UUID_LEN + 1];
    char name[STORE_ADMIN_NAME_MAX + 1];
    char prefix[STORE_ADMIN_PREFIX_MAX + 1];
    char hash[65]; /* SHA-256 of the token, lower-case hex */
    int64_t created_at;
    int64_t last_used_at; /* 0: never used */
    int64_t expires_at;   /* 0: never expires */
};

/* Stores a new token (t borrowed). Errors: SC_ERR_CONFLICT (its id, name or hash is
 * taken), SC_ERR_DB, SC_ERR_BUSY. */
enum sc_err store_admin_token_insert(struct store *st, const struct store_admin_token *t);

/* Stores t under t->name: a token of that name with another hash gets t's hash, prefix,
 * creation and expiry times (its id stays, its last use is forgotten); one with t's hash
 * is left as it is; otherwise t is inserted.
 * Errors: SC_ERR_CONFLICT (t's hash belongs to another token), SC_ERR_DB, SC_ERR_BUSY. */
enum sc_err store_admin_token_put_named(struct store *st, const struct store_admin_token *t);

/* Reads the token whose hash is hash into *out. Errors: SC_ERR_NOT_FOUND, SC_ERR_DB. */
enum sc_err store_admin_token_find_hash(struct store *st, const char *hash,
                                        struct store_admin_token *out);

/* Reads every token, oldest first, into *out (new array of *n, free() it; NULL when
 * none). Errors: SC_ERR_NOMEM, SC_ERR_DB. */
enum sc_err store_admin_token_list(struct store *st, struct store_admin_token **out, size_t *n);

/* Deletes the token id unless it is the only token left (*last = 1 then, and nothing is
 * deleted); concurrent deletes never leave no token. Errors: SC_ERR_NOT_FOUND (no such
 * token), SC_ERR_DB, SC_ERR_BUSY. */
enum sc_err store_admin_token_delete(struct store *st, const char *id, int *last);

/* Records a use of token id at now unless its last recorded use is newer than
 * now - min_age_ms (then nothing is written). Errors: SC_ERR_DB, SC_ERR_BUSY. */
enum sc_err store_admin_token_touch(struct store *st, const char *id, int64_t now,
                                    int64_t min_age_ms);

#endif
