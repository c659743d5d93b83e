/* Internals shared by the PostgreSQL back-end's files (store/pg*.c): the connection
 * struct, statements prepared once per connection, text-format parameters and columns,
 * error conversion (SQLSTATE to enum sc_err) and the advisory lock keys. Nothing outside
 * src/store/ includes this file.
 *
 * Every parameter and column travels in text format; integers are formatted and parsed
 * here. Text parameters are checked to be valid UTF-8 (a target's bytes in an error
 * text may not be) and repaired when they are not, since PostgreSQL refuses invalid
 * UTF-8 where SQLite stores any bytes. */
#ifndef SC_STORE_PG_INTERNAL_H
#define SC_STORE_PG_INTERNAL_H

#include "store/backend.h"

#include <libpq-fe.h>

#define PG_STMT_CACHE 256
#define PG_ARGS_MAX 24

/* Advisory lock keys (one 64-bit space per database, shared with other applications:
 * "SCIM" in the high half). */
#define PG_LOCK_MIGRATE 0x5343494d00000001LL /* schema migrations */
#define PG_LOCK_EVENTS 0x5343494d00000002LL  /* appending change events (pg_events.c) */
#define PG_LOCK_NESTING 0x5343494d00000003LL /* adding a group to a group (cycle check) */

/* The channel a transaction that appends change events notifies at commit, and the
 * engines listen on (store_listen). */
#define PG_CHANNEL "scimitar_events"

/* A PostgreSQL connection: the common head first (backend.h). */
struct pg_store {
    struct store base;
    PGconn *conn;
    const char *cache[PG_STMT_CACHE]; /* statement i ("s<i>") was prepared from cache[i] */
    int ncache;
    int events_locked; /* this transaction holds PG_LOCK_EVENTS */
    int listening;     /* LISTEN PG_CHANNEL was sent (again after a reconnection) */
    int down;          /* the connection is broken and its failure was logged */
    int64_t retry_at;  /* no new connection attempt before this (ms, monotonic) */
    int backoff_ms;    /* the wait after the next failed attempt (doubles up to 2 s) */
};

/* Parameters of one statement ($1, $2, ... in order of the calls). */
struct pg_args {
    int n;
    const char *v[PG_ARGS_MAX];
    char num[PG_ARGS_MAX][24];
    char *owned[PG_ARGS_MAX]; /* repaired copies of text that was not valid UTF-8 */
};

/* Adds a text parameter (NULL is SQL NULL; borrowed until the statement runs). */
void pg__arg_text(struct pg_args *a, const char *v);

/* Adds an integer parameter. */
void pg__arg_int(struct pg_args *a, int64_t v);

/* Runs sql (a string literal: it is prepared once per connection, cached by its address)
 * with a's parameters (a may be NULL; its copies are freed). Returns the result (the
 * caller PQclears it) when the statement succeeded, else NULL with *err set (logged).
 * Outside a transaction, a connection found broken is re-established and the statement
 * tried once more. */
PGresult *pg__run(struct store *st, const char *sql, struct pg_args *a, enum sc_err *err);

/* pg__run for a statement whose text is built at run time (table names): run once, not
 * prepared (the cache goes by the text's address). */
PGresult *pg__run_text(struct store *st, const char *sql, struct pg_args *a, enum sc_err *err);

/* pg__run for a statement without rows to read; *rows (may be NULL) gets the number of
 * rows it inserted, updated or deleted. */
enum sc_err pg__cmd(struct store *st, const char *sql, struct pg_args *a, int64_t *rows);

/* Runs one or more statements without parameters (not prepared). */
enum sc_err pg__exec(struct store *st, const char *sql);

/* Converts a failed result: unique violation -> CONFLICT; foreign key, not null and
 * check violations -> INVALID; serialization failure, deadlock, lock or statement
 * timeout -> BUSY; else DB. Records failures that mean writes fail (disk full, I/O
 * error, read-only, lost connection) in the write health. Logs all but constraint
 * violations. r may be NULL (a failure of the connection). */
enum sc_err pg__err(struct store *st, const PGresult *r);

/* Takes the events lock for the rest of the transaction (once per transaction). */
enum sc_err pg__events_lock(struct store *st);

/* Opens a transaction when none is open (*own says whether it did) and closes it:
 * commit when rc is SC_OK, else roll back; returns rc or the commit's error. */
enum sc_err pg__tx_open(struct store *st, int *own);
enum sc_err pg__tx_close(struct store *st, int own, enum sc_err rc);

/* Columns of row `row`: NULL / an integer (0 when NULL) / the text (NULL when NULL,
 * borrowed from r) / a new copy of it (NULL when NULL). */
int pg__col_null(const PGresult *r, int row, int col);
int64_t pg__col_int(const PGresult *r, int row, int col);
const char *pg__col_text(const PGresult *r, int row, int col);
char *pg__col_dup(const PGresult *r, int row, int col);

/* Copies a text column into dst (size n, truncated; "" when NULL). */
void pg__col_copy(const PGresult *r, int row, int col, char *dst, size_t n);

/* Runs sql with a and makes *out a new array (NULL when no row) of one zeroed elem-byte
 * element per row, which fill writes from row `row` of r. Errors: those of pg__run,
 * SC_ERR_NOMEM (then *out is NULL and *n 0). */
enum sc_err pg__rows(struct store *st, const char *sql, struct pg_args *a, size_t elem,
                     void (*fill)(const PGresult *r, int row, void *dst), void **out, size_t *n);

/* Runs sql with a: fill writes its first row into dst. Errors: SC_ERR_NOT_FOUND (no row;
 * dst untouched), those of pg__run. */
enum sc_err pg__row(struct store *st, const char *sql, struct pg_args *a,
                    void (*fill)(const PGresult *r, int row, void *dst), void *dst);

/* Runs sql with a: *out gets a new copy of the first column of its first row (NULL when
 * that value is NULL). Errors: SC_ERR_NOT_FOUND (no row), SC_ERR_NOMEM, those of pg__run. */
enum sc_err pg__text_row(struct store *st, const char *sql, struct pg_args *a, char **out);

/* Runs each of the n statements sql[i] with text as its one parameter ($1; deletes of one
 * key across tables, say), stopping at the first error. */
enum sc_err pg__run_each(struct store *st, const char *const *sql, size_t n, const char *text);

/* One schema migration and component, as the SQLite back-end's (sqlite_internal.h). */
struct pg_migration {
    int version;
    const char *sql;
};

struct pg_component {
    const char *name;
    const struct pg_migration *migrations;
    int count;
};

extern const struct pg_component store__pg_core_schema;
extern const struct pg_component store__pg_events_schema;
extern const struct pg_component store__pg_directory_schema;
extern const struct pg_component store__pg_provision_schema;
extern const struct pg_component store__pg_sync_schema;
extern const struct pg_component store__pg_admin_schema;
extern const struct pg_component store__pg_inbound_schema;
extern const struct pg_component store__pg_groupsync_schema;

extern const struct store_events_ops store__pg_events_ops;
extern const struct store_directory_ops store__pg_directory_ops;
extern const struct store_provision_ops store__pg_provision_ops;
extern const struct store_sync_ops store__pg_sync_ops;
extern const struct store_table_ops store__pg_table_ops;
extern const struct store_admin_ops store__pg_admin_ops;
extern const struct store_inbound_ops store__pg_inbound_ops;
extern const struct store_groupsync_ops store__pg_groupsync_ops;

/* The back-end's begin_snapshot (pg_copy.c; the contract of store_begin_snapshot). */
enum sc_err store__pg_begin_snapshot(struct store *st);

#endif
