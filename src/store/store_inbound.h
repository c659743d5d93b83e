/* Persistence of inbound SCIM (scimitar serve's /scim/v2): the inbound tokens (one row
 * per token: its name, the SHA-256 hash (hex) of the token, never the token, its first
 * characters, the population its users join and see, its scope, creation and last-use
 * times in ms since the epoch) and, per directory user or group written through
 * /scim/v2, what the directory has no field for: the SCIM attributes kept as sent (JSON
 * text) and, for users, the name of the token that created the user (its source). Those
 * rows go with their user or group when it is deleted. */
#ifndef SC_STORE_STORE_INBOUND_H
#define SC_STORE_STORE_INBOUND_H

#include "base/id.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

#define STORE_INBOUND_NAME_MAX 64
#define STORE_INBOUND_PREFIX_MAX 16

struct store_inbound_token {
    char id[SC_UUID_LEN + 1];
    char name[STORE_INBOUND_NAME_MAX + 1];
    char prefix[STORE_INBOUND_PREFIX_MAX + 1];
    char hash[65];                           /* SHA-256 of the token, lower-case hex */
    char population_id[SC_UUID_LEN + 1];     /* users created through it join it */
    char scope[16];                          /* "read" or "write" */
    char source_connection[SC_UUID_LEN + 1]; /* the connection that is the source's own
                                                (its rules may not take in the token's
                                                population), or "" */
    int64_t created_at;
    int64_t last_used_at; /* 0: never used */
};

/* Stores a new token (t borrowed). Errors: SC_ERR_CONFLICT (id, name or hash taken),
 * SC_ERR_DB, SC_ERR_BUSY. */
enum sc_err store_inbound_token_insert(struct store *st, const struct store_inbound_token *t);

/* Reads the token whose hash is hash. Errors: SC_ERR_NOT_FOUND, SC_ERR_DB. */
enum sc_err store_inbound_token_find_hash(struct store *st, const char *hash,
                                          struct store_inbound_token *out);

/* Reads every token, oldest first, into *out (new array of *n, free() it; NULL when
 * none). Errors: SC_ERR_NOMEM, SC_ERR_DB. */
enum sc_err store_inbound_token_list(struct store *st, struct store_inbound_token **out, size_t *n);

/* Sets the source connection of token id ("" or NULL: none). Errors: SC_ERR_NOT_FOUND,
 * SC_ERR_DB, SC_ERR_BUSY. */
enum sc_err store_inbound_token_set_source(struct store *st, const char *id,
                                           const char *connection_id);

/* Deletes token id. Errors: SC_ERR_NOT_FOUND, SC_ERR_DB, SC_ERR_BUSY. */
enum sc_err store_inbound_token_delete(struct store *st, const char *id);

/* Records a use of token id at now unless its last recorded use is newer than
 * now - min_age_ms. Errors: SC_ERR_DB, SC_ERR_BUSY. */
enum sc_err store_inbound_token_touch(struct store *st, const char *id, int64_t now,
                                      int64_t min_age_ms);

enum store_inbound_kind { STORE_INBOUND_USER = 0, STORE_INBOUND_GROUP = 1 };

/* Reads what is kept for the user or group id: *source (users: the token's name; new
 * string or NULL) and *extra (JSON text of the kept attributes; new string or NULL);
 * either pointer may be NULL when not wanted. Errors: SC_ERR_NOT_FOUND (nothing kept),
 * SC_ERR_NOMEM, SC_ERR_DB. */
enum sc_err store_inbound_extra_get(struct store *st, enum store_inbound_kind k, const char *id,
                                    char **source, char **extra);

/* Writes what is kept for the user or group id (which must exist): extra (JSON text or
 * NULL for none); source (users only) is written when the row is new and kept after.
 * Joins the caller's transaction. Errors: SC_ERR_CONFLICT or SC_ERR_INVALID (no such user or
 * group), SC_ERR_DB, SC_ERR_BUSY. */
enum sc_err store_inbound_extra_put(struct store *st, enum store_inbound_kind k, const char *id,
                                    const char *source, const char *extra);

/* *imported says whether user_id was made by an import (POST /api/v1/users/import).
 * Errors: SC_ERR_DB. */
enum sc_err store_inbound_user_imported(struct store *st, const char *user_id, int *imported);

/* Records that user_id (which must exist) was made by an import; a user with a record
 * already (made through /scim/v2) keeps it. Joins the caller's transaction. Errors:
 * SC_ERR_INVALID (no such user), SC_ERR_DB, SC_ERR_BUSY. */
enum sc_err store_inbound_mark_imported(struct store *st, const char *user_id);

#endif
