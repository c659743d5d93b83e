/* What the admin API needs of the server beyond the directory and provisioning: the
 * named admin tokens (the one made at first start or set by SCIMITAR_ADMIN_TOKEN is the
 * token named "initial"; more are created, listed and revoked through the API), each
 * kept in the database only as its SHA-256 hash (hex), checked in constant time, with
 * its last use recorded at most once per ADMIN_TOKEN_TOUCH_MS; and the health /healthz
 * reports (the database reads and takes writes). Runs on the caller's thread with the
 * caller's store connection (no transaction open on it). */
#ifndef SC_ADMIN_ADMIN_H
#define SC_ADMIN_ADMIN_H

#include "base/err.h"

#include <jansson.h>
#include <stdint.h>

#include <stddef.h>

struct store;

#define ADMIN_TOKEN_HASH_SIZE 65      /* the hash as hex, and its NUL */
#define ADMIN_TOKEN_MIN 16            /* characters of a token the administrator chooses */
#define ADMIN_TOKEN_NEW_SIZE 64       /* room for a token admin_token_setup makes */
#define ADMIN_TOKEN_INITIAL "initial" /* the name of the first-start / environment token */
#define ADMIN_TOKEN_PREFIX_LEN 8      /* characters of a token kept to tell it apart */
#define ADMIN_TOKEN_TOUCH_MS 60000    /* a token's last use is written at most this often */
#define ADMIN_TOKENS_MAX 100          /* tokens a database may hold */

/* Makes sure the database holds an admin token and writes the hash of the token named
 * "initial" (when there is one) into hash_out. A chosen token (env_token,
 * SCIMITAR_ADMIN_TOKEN; NULL or "" for none) becomes the token "initial" (made again
 * when it was revoked; no prefix of it is kept). Without one the stored tokens are kept;
 * a database of an older version, whose one token hash is in the settings, gets it as
 * the token "initial"; when no token is stored at all, a new random token is made,
 * stored as "initial", and written into new_token for the caller to show once (it is
 * nowhere else); new_token[0] is '\0' otherwise.
 * Errors: SC_ERR_INVALID (env_token shorter than ADMIN_TOKEN_MIN characters, or the
 * token of another named admin token; field "SCIMITAR_ADMIN_TOKEN"), SC_ERR_DB and the store's
 * other codes, SC_ERR_INTERNAL (no random bytes). */
enum sc_err admin_token_setup(struct store *st, const char *env_token,
                              char hash_out[ADMIN_TOKEN_HASH_SIZE],
                              char new_token[ADMIN_TOKEN_NEW_SIZE], struct sc_error *e);

/* Creates the admin token name (1 to STORE_ADMIN_NAME_MAX printable characters, unique;
 * field "name") that expires at expires_at (ms since the epoch, after now; 0 for never;
 * field "expiresAt"). *out is new: the token as {"id", "name", "createdAt", "lastUsedAt",
 * "expiresAt", "prefix", "token"}; "token" is its only copy (only the hash is stored).
 * Errors: SC_ERR_INVALID (field named), SC_ERR_CONFLICT (name taken, field "name"),
 * SC_ERR_CONFLICT also when ADMIN_TOKENS_MAX tokens exist, the store's. */
enum sc_err admin_token_create(struct store *st, const char *name, int64_t expires_at, int64_t now,
                               json_t **out, struct sc_error *e);

/* *out = a new array of every admin token, oldest first, as {"id", "name", "createdAt",
 * "lastUsedAt", "expiresAt", "prefix"} (times RFC 3339, null when none; never the token
 * or its hash). Errors: the store's. */
enum sc_err admin_token_list(struct store *st, json_t **out, struct sc_error *e);

/* Revokes the admin token id (the one of the calling request too). Errors:
 * SC_ERR_NOT_FOUND, SC_ERR_CONFLICT (it is the last token: revoking it would lock every
 * administrator out), the store's. */
enum sc_err admin_token_revoke(struct store *st, const char *id, struct sc_error *e);

enum admin_auth {
    ADMIN_AUTH_OK = 0,
    ADMIN_AUTH_UNKNOWN, /* no admin token hashes to it (or the database cannot say) */
    ADMIN_AUTH_EXPIRED, /* a token that has expired */
    ADMIN_AUTH_NO_DB,   /* the database cannot be read to tell */
};

/* Checks token (NUL-terminated, from a request) against the stored admin tokens at now:
 * looked up by its SHA-256 hash, compared in constant time, refused once expired. On
 * ADMIN_AUTH_OK the token's last use becomes now when the recorded one is older than
 * ADMIN_TOKEN_TOUCH_MS (a failed write of it does not refuse the request). The look-up
 * by hash leaks nothing usable of the token: its timing depends on the hash, which a
 * caller cannot steer towards a stored one. */
enum admin_auth admin_token_check(struct store *st, const char *token, int64_t now);

/* *stored = 1 when the database holds an admin token hash (every database `scimitar
 * serve` has started on does), else 0. Errors: the store's. */
enum sc_err admin_token_stored(struct store *st, int *stored);

enum admin_health {
    ADMIN_HEALTH_OK = 0,
    ADMIN_HEALTH_UNREADABLE,  /* the database cannot be read */
    ADMIN_HEALTH_WRITES_FAIL, /* it reads, but writes fail (disk full, read-only, I/O) */
};

/* Checks the database on st: a read of the settings (the admin token hash; none stored
 * is fine), then a write rolled back and whether any write of this process failed since
 * the last commit that succeeded (store_write_check). With ADMIN_HEALTH_WRITES_FAIL,
 * why (size n > 0) holds the failure's text (never a secret); with
 * ADMIN_HEALTH_UNREADABLE, the text of the last failure when one is known (e.g. "the
 * database cannot be reached: ..."), else "". */
enum admin_health admin_health_check(struct store *st, char *why, size_t n);

#endif
