/* Internals shared by the SQLite back-end's files (store/sqlite_*.c): the connection
 * struct, a prepared-statement cache, error conversion and schema components. Nothing
 * outside src/store/ includes this file. */
#ifndef SC_STORE_SQLITE_INTERNAL_H
#define SC_STORE_SQLITE_INTERNAL_H

#include "store/backend.h"

#include <sqlite3.h>

#define STORE_STMT_CACHE 192

/* A SQLite connection: the common head first (backend.h). */
struct sqlite_store {
    struct store base;
    sqlite3 *db;
    struct {
        const char *sql; /* the static string the statement was prepared from */
        sqlite3_stmt *stmt;
    } cache[STORE_STMT_CACHE];
    int ncache;
};

/* The SQLite handle of st (a connection of this back-end). */
static inline sqlite3 *sqlite__db(const struct store *st)
{
    return ((const struct sqlite_store *)st)->db;
}

/* Returns a reset, unbound prepared statement for sql, cached by the sql pointer (so
 * pass string literals). NULL on error (logged). Do not finalize it. */
sqlite3_stmt *store__prepare(struct store *st, const char *sql);

/* Converts an SQLite result code: SQLITE_CONSTRAINT_UNIQUE/PRIMARYKEY -> CONFLICT,
 * FOREIGN KEY -> INVALID, BUSY/LOCKED -> BUSY, else DB. Logs the SQLite message. */
enum sc_err store__err(struct store *st, int rc);

/* Runs a batch of SQL statements (no results). */
enum sc_err store__exec(struct store *st, const char *sql);

/* Steps s (a write, or a query whose rows are not wanted) to SQLITE_DONE and resets it. */
enum sc_err store__step_done(struct store *st, sqlite3_stmt *s);

/* Runs each of the n cached statements sql[i] with text bound to its one parameter
 * (deletes of one key across tables, say), stopping at the first error. */
enum sc_err store__run_each(struct store *st, const char *const *sql, size_t n, const char *text);

/* Steps s (prepared and bound by the caller) to its end and resets it, growing an array
 * of elem-byte elements: fill writes row s into a zeroed element. *out (new; NULL when no
 * row) and *n are set also on an error, so the caller frees what was filled. Errors:
 * SC_ERR_NOMEM, those of store__err. */
enum sc_err store__rows(struct store *st, sqlite3_stmt *s, size_t elem,
                        void (*fill)(sqlite3_stmt *s, void *dst), void **out, size_t *n);

/* store__rows for elements that own nothing (fixed-size fields only): on an error what
 * was read is freed, *out is NULL and *n 0. */
enum sc_err store__rows_plain(struct store *st, sqlite3_stmt *s, size_t elem,
                              void (*fill)(sqlite3_stmt *s, void *dst), void **out, size_t *n);

/* Steps s (prepared and bound by the caller) once and resets it: fill writes its first
 * row into dst. Errors: SC_ERR_NOT_FOUND (no row; dst untouched), those of store__err. */
enum sc_err store__row(struct store *st, sqlite3_stmt *s, void (*fill)(sqlite3_stmt *s, void *dst),
                       void *dst);

/* Steps s (prepared and bound by the caller) once and resets it: *out gets a new copy of
 * the first column of its first row. Errors: SC_ERR_NOT_FOUND (no row), SC_ERR_NOMEM (also
 * when that value is SQL NULL), those of store__err. */
enum sc_err store__text_row(struct store *st, sqlite3_stmt *s, char **out);

/* Binds text (NULL binds SQL NULL). */
int store__bind_text(sqlite3_stmt *s, int idx, const char *v);

/* Returns a new copy of a text column (NULL when SQL NULL). */
char *store__column_dup(sqlite3_stmt *s, int col);

/* Copies a text column into dst (size n, truncated; "" when SQL NULL). */
void store__column_copy(sqlite3_stmt *s, int col, char *dst, size_t n);

/* One schema migration: the SQL that brings a component from version-1 to version. */
struct store_migration {
    int version;
    const char *sql;
};

/* A schema component (events, directory, provision, sync, target): its migrations in order. */
struct store_component {
    const char *name;
    const struct store_migration *migrations;
    int count;
};

/* The components, defined in their files; opening migrates each in turn. */
extern const struct store_component store__core_schema;
extern const struct store_component store__events_schema;
extern const struct store_component store__directory_schema;
extern const struct store_component store__provision_schema;
extern const struct store_component store__sync_schema;
extern const struct store_component store__target_schema;
extern const struct store_component store__admin_schema;
extern const struct store_component store__inbound_schema;
extern const struct store_component store__groupsync_schema;

/* The operations of each component, defined in their files. */
extern const struct store_events_ops store__sqlite_events_ops;
extern const struct store_directory_ops store__sqlite_directory_ops;
extern const struct store_provision_ops store__sqlite_provision_ops;
extern const struct store_sync_ops store__sqlite_sync_ops;
extern const struct store_target_ops store__sqlite_target_ops;
extern const struct store_table_ops store__sqlite_table_ops;
extern const struct store_admin_ops store__sqlite_admin_ops;
extern const struct store_inbound_ops store__sqlite_inbound_ops;
extern const struct store_groupsync_ops store__sqlite_groupsync_ops;

/* The back-end's begin_snapshot and open_elsewhere (sqlite_copy.c; contracts in
 * store_copy.h). */
enum sc_err store__sqlite_begin_snapshot(struct store *st);
enum sc_err store__sqlite_open_elsewhere(const char *dsn, int *elsewhere);
enum sc_err store__sqlite_backup(const char *dsn, const char *path, struct sc_error *e);
enum sc_err store__sqlite_restore(const char *from, const char *dsn, int replace,
                                  struct sc_error *e);

#endif
