/* The storage interface. Callers see `struct store` (one connection, used by one thread
 * at a time) and `struct store_pool` (connections shared out to threads), transactions,
 * and the domain functions declared in store_*.h beside this file. The DSN chooses the
 * back-end behind the same functions (backend.h); only src/store/ includes a database
 * library's header, so keep every domain function free of back-end types and shaped
 * for many processes sharing one database (leases, batches, cursors). */
#ifndef SC_STORE_STORE_H
#define SC_STORE_STORE_H

#include "base/err.h"

#include <stddef.h>
#include <stdint.h>

struct store;
struct store_pool;

/* Opens one connection for dsn ("sqlite:PATH"; "sqlite::memory:" for a private
 * in-memory database) and brings every schema component up to date (migrations run
 * in a transaction, once, guarded by a version table). A database file is created with
 * mode 0600; an existing one, its -wal and -shm, open to group or others, are narrowed
 * to the owner (logged). *out is new; store_close frees it. Errors: SC_ERR_INVALID
 * (bad DSN, e->field "db"), SC_ERR_UNSUPPORTED (a back-end that is not built in),
 * SC_ERR_UNSUPPORTED also when a schema component in the database is at a version
 * above what this binary knows (written by a newer scimitar: nothing is changed),
 * SC_ERR_DB (cannot open or migrate: message says why). */
enum sc_err store_open(const char *dsn, struct store **out, struct sc_error *e);

/* How much of what was committed survives a failure: SQLite's `synchronous` setting
 * under WAL. Both survive a killed process (kill -9, a crash of scimitar). */
enum store_durability {
    STORE_DURABILITY_FULL = 0, /* default: each commit is fsynced before it returns, so
                                  a power loss or OS crash loses no committed transaction */
    STORE_DURABILITY_NORMAL,   /* fsync only at WAL checkpoints: a power loss or OS crash
                                  may lose the transactions committed since the last one
                                  (the database stays consistent) */
};

/* Sets the durability of the connections opened from now on in this process. Call it
 * once at start, before opening any. */
void store_set_durability(enum store_durability d);

/* Writes dsn into buf (size n) with any password masked ("****"), for logs and
 * messages. */
void store_dsn_redact(const char *dsn, char *buf, size_t n);

/* Non-zero when dsn names a PostgreSQL database (postgres:// or postgresql://). */
int store_dsn_is_postgresql(const char *dsn);

/* Closes st. NULL is a no-op. */
void store_close(struct store *st);

/* Transactions. store_begin takes the write lock at once (BEGIN IMMEDIATE) so a
 * transaction never fails half-way on lock upgrade; nesting is not supported. */
enum sc_err store_begin(struct store *st);
enum sc_err store_commit(struct store *st);
void store_rollback(struct store *st);

/* Returns non-zero while a transaction is open on st. */
int store_in_transaction(const struct store *st);

/* A pool of connections to one DSN. store_pool_new opens (and migrates) a first
 * connection to check the DSN. Errors as store_open, and SC_ERR_INVALID (field "db") for
 * an in-memory database ("sqlite::memory:"): each connection would open its own. */
enum sc_err store_pool_new(const char *dsn, struct store_pool **out, struct sc_error *e);

/* Borrows a connection for the current thread's use until store_pool_release. Opens a
 * new one when none is free. NULL when the database cannot be opened. */
struct store *store_pool_acquire(struct store_pool *p);
void store_pool_release(struct store_pool *p, struct store *st);

/* Closes every connection (none may be borrowed) and frees p. NULL is a no-op. */
void store_pool_free(struct store_pool *p);

/* The DSN the pool opens. Borrowed. */
const char *store_pool_dsn(const struct store_pool *p);

/* Write health of this process's database. Takes the write lock and writes a row in a
 * transaction that is rolled back (a database that became read-only fails it), then
 * reports whether a write has failed (disk full, I/O error, read-only or corrupt
 * database) since the last commit that succeeded, in any thread of this process.
 * Returns 0 when writes work, -1 with why (size n) holding the failure's text. */
int store_write_check(struct store *st, char *why, size_t n);

/* Notifications between processes sharing the database: a transaction that appends a
 * change event notifies the others when it commits. store_listen makes st receive them
 * and gives the socket to poll for them (*fd), or SC_ERR_UNSUPPORTED (SQLite: one
 * process). store_notified reads what arrived without blocking and returns how many
 * (0 when none; st keeps listening, also after a reconnection), or -1 when the
 * connection is broken: the socket is then closed (its number may be reused), so poll
 * nothing until store_listen gives a socket again. */
enum sc_err store_listen(struct store *st, int *fd);
int store_notified(struct store *st);

/* Key-value settings (admin token hash, engine cursors, ...). store_setting_get writes a
 * new string into *out (free it) or returns SC_ERR_NOT_FOUND. */
enum sc_err store_setting_get(struct store *st, const char *key, char **out);
enum sc_err store_setting_set(struct store *st, const char *key, const char *value);

#endif
