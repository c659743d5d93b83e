/* The SQLite back-end's side of a whole-database copy (store_copy.h): the snapshot read
 * transaction, the check for other processes that have the database open (the WAL
 * index's lock), and the raw table operations of backend.h (rows read with one stepped
 * statement, written with one prepared INSERT, AUTOINCREMENT numbering in
 * sqlite_sequence). */
#include "store/sqlite_internal.h"
#include "base/buf.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What SQLite's unix VFS locks (its documented file format, walformat.html): every
 * connection holds a shared lock on the "DMS" byte of the WAL index (PATH-shm) for as
 * long as it has the database open in WAL mode; a connection in exclusive locking mode
 * (no WAL index) holds the lock bytes of the database file itself. */
#define SHM_DMS_BYTE 128
#define DB_PENDING_BYTE 0x40000000
#define DB_LOCK_BYTES (512 + 2) /* the pending, reserved and shared bytes */

/* 1 when another process holds a lock on [start, start + len) of path, 0 when none
 * (or no such file), -1 when it cannot be told. */
static int locked_elsewhere(const char *path, off_t start, off_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    int rc = fcntl(fd, F_GETLK, &fl);
    close(fd);
    if (rc != 0)
        return -1;
    return fl.l_type != F_UNLCK;
}

enum sc_err store__sqlite_open_elsewhere(const char *dsn, int *elsewhere)
{
    *elsewhere = 0;
    const char *path = dsn + 7;
    if (!*path || strncmp(path, "file:", 5) == 0 || strcmp(path, ":memory:") == 0)
        return SC_ERR_INVALID;
    char shm[4096];
    if ((size_t)snprintf(shm, sizeof shm, "%s-shm", path) >= sizeof shm)
        return SC_ERR_INVALID;
    int a = locked_elsewhere(shm, SHM_DMS_BYTE, 1);
    int b = locked_elsewhere(path, DB_PENDING_BYTE, DB_LOCK_BYTES);
    if (a < 0 || b < 0)
        return SC_ERR_IO;
    *elsewhere = a || b;
    return SC_OK;
}

enum sc_err store__sqlite_begin_snapshot(struct store *st)
{
    /* a deferred transaction takes its snapshot at its first read: read at once */
    enum sc_err rc = store__exec(st, "BEGIN DEFERRED; SELECT count(*) FROM settings;");
    if (rc) {
        if (!sqlite3_get_autocommit(sqlite__db(st)))
            sqlite3_exec(sqlite__db(st), "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    st->in_tx = 1;
    return SC_OK;
}

/* Prepares sql (not cached: its text is built at run time). NULL on error (logged). */
static sqlite3_stmt *prepare_once(struct store *st, const char *sql)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(sqlite__db(st), sql, -1, &s, NULL);
    if (rc != SQLITE_OK) {
        SC_ERROR("store.prepare_failed", "rc=%d message=\"%s\"", rc,
                 sqlite3_errmsg(sqlite__db(st)));
        sqlite3_finalize(s);
        return NULL;
    }
    return s;
}

static enum sc_err sqlite_table_count(struct store *st, const char *table, int64_t *n)
{
    char sql[256];
    if (!store__ident_ok(table))
        return SC_ERR_INVALID;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    sqlite3_stmt *s = prepare_once(st, sql);
    if (!s)
        return SC_ERR_DB;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? SC_OK : store__err(st, rc);
}

static enum sc_err sqlite_table_each(struct store *st, const char *table, const char *order,
                                     int (*fn)(void *arg, int ncols, const char *const *names,
                                               const char *const *values),
                                     void *arg)
{
    char sql[512];
    if (!store__ident_ok(table))
        return SC_ERR_INVALID;
    snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY %s", table, order);
    sqlite3_stmt *s = prepare_once(st, sql);
    if (!s)
        return SC_ERR_DB;
    enum sc_err err = SC_OK;
    int ncols = sqlite3_column_count(s);
    const char **names = calloc((size_t)ncols + 1, sizeof *names);
    const char **values = calloc((size_t)ncols + 1, sizeof *values);
    if (!names || !values) {
        err = SC_ERR_NOMEM;
        goto done;
    }
    for (int i = 0; i < ncols; i++)
        names[i] = sqlite3_column_name(s, i);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        for (int i = 0; i < ncols; i++)
            values[i] = (const char *)sqlite3_column_text(s, i);
        if (fn(arg, ncols, names, values)) {
            err = SC_ERR_INTERNAL;
            goto done;
        }
    }
    if (rc != SQLITE_DONE)
        err = store__err(st, rc);
done:
    free(names);
    free(values);
    sqlite3_finalize(s);
    return err;
}

struct store_table_writer {
    struct store *st;
    sqlite3_stmt *insert;
    int ncols;
};

static enum sc_err sqlite_table_write_begin(struct store *st, const char *table, int ncols,
                                            const char *const *names,
                                            struct store_table_writer **out)
{
    if (!store__ident_ok(table) || ncols <= 0)
        return SC_ERR_INVALID;
    struct sc_buf sql, marks;
    sc_buf_init(&sql, 0);
    sc_buf_init(&marks, 0);
    enum sc_err err = sc_buf_printf(&sql, "INSERT INTO %s (", table);
    for (int i = 0; i < ncols && !err; i++) {
        if (!store__ident_ok(names[i]))
            err = SC_ERR_INVALID;
        else if (!(err = sc_buf_printf(&sql, "%s%s", i ? ", " : "", names[i])))
            err = sc_buf_puts(&marks, i ? ", ?" : "?");
    }
    if (!err)
        err = sc_buf_printf(&sql, ") VALUES (%s)", marks.data);
    struct store_table_writer *w = NULL;
    if (!err && !(w = calloc(1, sizeof *w)))
        err = SC_ERR_NOMEM;
    if (!err && !(w->insert = prepare_once(st, sql.data)))
        err = SC_ERR_DB;
    sc_buf_free(&sql);
    sc_buf_free(&marks);
    if (err) {
        free(w);
        return err;
    }
    w->st = st;
    w->ncols = ncols;
    *out = w;
    return SC_OK;
}

static enum sc_err sqlite_table_write_row(struct store_table_writer *w, const char *const *values)
{
    sqlite3_reset(w->insert);
    sqlite3_clear_bindings(w->insert);
    for (int i = 0; i < w->ncols; i++)
        store__bind_text(w->insert, i + 1, values[i]);
    int rc = sqlite3_step(w->insert);
    if (rc == SQLITE_DONE)
        return SC_OK;
    SC_WARN("store.copy_refused", "rc=%d message=\"%s\"", rc, sqlite3_errmsg(sqlite__db(w->st)));
    return store__err(w->st, rc);
}

static enum sc_err sqlite_table_write_end(struct store_table_writer *w, int abandon)
{
    (void)abandon; /* every row is in already; the caller's rollback takes them back */
    sqlite3_finalize(w->insert);
    free(w);
    return SC_OK;
}

static enum sc_err sqlite_table_serial_get(struct store *st, const char *table, const char *column,
                                           int64_t *hwm)
{
    char sql[512];
    if (!store__ident_ok(table) || !store__ident_ok(column))
        return SC_ERR_INVALID;
    snprintf(sql, sizeof sql,
             "SELECT max(coalesce((SELECT max(seq) FROM sqlite_sequence WHERE name = ?1), 0), "
             "coalesce((SELECT max(%s) FROM %s), 0))",
             column, table);
    sqlite3_stmt *s = prepare_once(st, sql);
    if (!s)
        return SC_ERR_DB;
    sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *hwm = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? SC_OK : store__err(st, rc);
}

static enum sc_err sqlite_table_serial_set(struct store *st, const char *table, const char *column,
                                           int64_t hwm)
{
    char sql[512];
    if (!store__ident_ok(table) || !store__ident_ok(column))
        return SC_ERR_INVALID;
    /* sqlite_sequence has no key: one row per AUTOINCREMENT table, updated or added */
    static const char *const steps[] = {
        "UPDATE sqlite_sequence SET seq = max(?2, coalesce((SELECT max(%s) FROM %s), 0)) "
        "WHERE name = ?1",
        "INSERT INTO sqlite_sequence(name, seq) SELECT ?1, max(?2, coalesce((SELECT max(%s) "
        "FROM %s), 0)) WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?1)",
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        snprintf(sql, sizeof sql, steps[i], column, table);
        sqlite3_stmt *s = prepare_once(st, sql);
        if (!s)
            return SC_ERR_DB;
        sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, hwm);
        int rc = sqlite3_step(s);
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE)
            return store__err(st, rc);
    }
    return SC_OK;
}

static enum sc_err sqlite_table_clear(struct store *st, const char *table)
{
    char sql[256];
    if (!store__ident_ok(table))
        return SC_ERR_INVALID;
    snprintf(sql, sizeof sql, "DELETE FROM %s", table);
    return store__exec(st, sql);
}

const struct store_table_ops store__sqlite_table_ops = {
    .count = sqlite_table_count,
    .each = sqlite_table_each,
    .write_begin = sqlite_table_write_begin,
    .write_row = sqlite_table_write_row,
    .write_end = sqlite_table_write_end,
    .serial_get = sqlite_table_serial_get,
    .serial_set = sqlite_table_serial_set,
    .clear = sqlite_table_clear,
};
