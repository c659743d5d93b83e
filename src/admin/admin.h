/* What the admin API needs of the server beyond the directory and provisioning: the
 * admin token, created once and kept in the database's settings only as its SHA-256
 * hash (hex), checked in constant time; and the health /healthz reports (the database
 * reads and takes writes). Runs on the caller's thread with the caller's store
 * connection (no transaction open on it). */
#ifndef SC_ADMIN_ADMIN_H
#define SC_ADMIN_ADMIN_H

#include "base/err.h"

#include <stddef.h>

struct store;

#define ADMIN_TOKEN_HASH_SIZE 65 /* the hash as hex, and its NUL */
#define ADMIN_TOKEN_MIN 16       /* characters of a token the administrator chooses */
#define ADMIN_TOKEN_NEW_SIZE 64  /* room for a token admin_token_setup makes */

/* Makes sure the database holds the admin token's hash and writes that hash into
 * hash_out. A chosen token (env_token, SCIMITAR_ADMIN_TOKEN; NULL or "" for none)
 * replaces the stored hash. Without one the stored hash is kept; when none is stored, a
 * new random token is made, its hash stored, and the token written into new_token for
 * the caller to show once (it is nowhere else); new_token[0] is '\0' otherwise.
 * Errors: SC_ERR_INVALID (env_token shorter than ADMIN_TOKEN_MIN characters; field
 * "SCIMITAR_ADMIN_TOKEN"), SC_ERR_DB and the store's other codes, SC_ERR_INTERNAL (no
 * random bytes). */
enum sc_err admin_token_setup(struct store *st, const char *env_token,
                              char hash_out[ADMIN_TOKEN_HASH_SIZE],
                              char new_token[ADMIN_TOKEN_NEW_SIZE], struct sc_error *e);

/* *stored = 1 when the database holds an admin token hash (every database `scimitar
 * serve` has started on does), else 0. Errors: the store's. */
enum sc_err admin_token_stored(struct store *st, int *stored);

/* Returns 1 when token (NUL-terminated, from a request) hashes to hash (the hex of
 * admin_token_setup), else 0. Constant time in the hash compared. */
int admin_token_matches(const char *hash, const char *token);

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
