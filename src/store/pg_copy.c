/* The PostgreSQL back-end's side of a whole-database copy (store_copy.h): the snapshot
 * transaction (REPEATABLE READ, READ ONLY) and the raw table operations of backend.h:
 * rows read in libpq's single-row mode (one row in memory at a time), written with
 * COPY ... FROM STDIN in text format (which also fills identity columns), identity
 * numbering moved with setval. */
#include "store/pg_internal.h"
#include "base/buf.h"
#include "base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of COPY data gathered before they are handed to libpq. */
#define COPY_CHUNK (256 * 1024)

enum sc_err store__pg_begin_snapshot(struct store *st)
{
    /* the snapshot is taken at the transaction's first statement: one runs at once */
    enum sc_err rc = pg__exec(st, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SELECT 1");
    if (rc) {
        PGconn *c = ((struct pg_store *)st)->conn;
        if (PQtransactionStatus(c) != PQTRANS_IDLE)
            PQclear(PQexec(c, "ROLLBACK"));
        return rc;
    }
    st->in_tx = 1;
    ((struct pg_store *)st)->events_locked = 0;
    return SC_OK;
}

static enum sc_err pg_table_count(struct store *st, const char *table, int64_t *n)
{
    char sql[256];
    if (!store__ident_ok(table))
        return SC_ERR_INVALID;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    enum sc_err err = SC_OK;
    PGresult *r = pg__run_text(st, sql, NULL, &err);
    if (!r)
        return err;
    *n = PQntuples(r) == 1 ? pg__col_int(r, 0, 0) : 0;
    PQclear(r);
    return SC_OK;
}

/* Stops a query whose rows are still arriving and reads what is left of it. */
static void query_abandon(PGconn *c)
{
    PGcancel *cancel = PQgetCancel(c);
    if (cancel) {
        char why[256];
        PQcancel(cancel, why, sizeof why);
        PQfreeCancel(cancel);
    }
    PGresult *r;
    while ((r = PQgetResult(c)) != NULL)
        PQclear(r);
}

static enum sc_err pg_table_each(struct store *st, const char *table, const char *order,
                                 int (*fn)(void *arg, int ncols, const char *const *names,
                                           const char *const *values),
                                 void *arg)
{
    PGconn *c = ((struct pg_store *)st)->conn;
    char sql[512];
    if (!store__ident_ok(table))
        return SC_ERR_INVALID;
    snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY %s", table, order);
    if (!PQsendQuery(c, sql) || !PQsetSingleRowMode(c)) {
        enum sc_err err = pg__err(st, NULL);
        query_abandon(c);
        return err;
    }
    enum sc_err err = SC_OK;
    const char **names = NULL, **values = NULL;
    int ncols = -1;
    PGresult *r;
    while ((r = PQgetResult(c)) != NULL) {
        ExecStatusType s = PQresultStatus(r);
        if (s == PGRES_SINGLE_TUPLE && !err) {
            if (ncols < 0) {
                ncols = PQnfields(r);
                names = calloc((size_t)ncols + 1, sizeof *names);
                values = calloc((size_t)ncols + 1, sizeof *values);
                if (!names || !values) {
                    err = SC_ERR_NOMEM;
                    PQclear(r);
                    query_abandon(c);
                    break;
                }
            }
            for (int i = 0; i < ncols; i++) {
                names[i] = PQfname(r, i);
                values[i] = pg__col_text(r, 0, i);
            }
            if (fn(arg, ncols, names, values)) {
                err = SC_ERR_INTERNAL;
                PQclear(r);
                query_abandon(c);
                break;
            }
        } else if (s != PGRES_SINGLE_TUPLE && s != PGRES_TUPLES_OK && !err) {
            err = pg__err(st, r);
        }
        PQclear(r);
    }
    free(names);
    free(values);
    return err;
}

struct store_table_writer {
    struct store *st;
    char table[64];
    int ncols;
    struct sc_buf data;  /* COPY text not yet handed to libpq */
    struct sc_buf fixed; /* a value repaired to valid UTF-8 */
    enum sc_err err;     /* the first failure to hand data over */
};

static enum sc_err pg_table_write_begin(struct store *st, const char *table, int ncols,
                                        const char *const *names, struct store_table_writer **out)
{
    if (!store__ident_ok(table) || ncols <= 0 || strlen(table) >= 64)
        return SC_ERR_INVALID;
    struct sc_buf sql;
    sc_buf_init(&sql, 0);
    enum sc_err err = sc_buf_printf(&sql, "COPY %s (", table);
    for (int i = 0; i < ncols && !err; i++)
        err = store__ident_ok(names[i]) ? sc_buf_printf(&sql, "%s%s", i ? ", " : "", names[i])
                                        : SC_ERR_INVALID;
    if (!err)
        err = sc_buf_puts(&sql, ") FROM STDIN");
    if (err) {
        sc_buf_free(&sql);
        return err;
    }
    PGconn *c = ((struct pg_store *)st)->conn;
    PGresult *r = PQexec(c, sql.data);
    sc_buf_free(&sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        err = pg__err(st, r);
        PQclear(r);
        return err ? err : SC_ERR_DB;
    }
    PQclear(r);
    struct store_table_writer *w = calloc(1, sizeof *w);
    if (!w) {
        PQputCopyEnd(c, "out of memory");
        query_abandon(c);
        return SC_ERR_NOMEM;
    }
    w->st = st;
    sc_strlcpy(w->table, table, sizeof w->table);
    w->ncols = ncols;
    sc_buf_init(&w->data, 0);
    sc_buf_init(&w->fixed, 0);
    *out = w;
    return SC_OK;
}

/* Appends v to the COPY text, escaped for the text format (backslash, tab, newline and
 * carriage return; \N is NULL). */
static enum sc_err put_value(struct store_table_writer *w, const char *v)
{
    if (!v)
        return sc_buf_puts(&w->data, "\\N");
    size_t n = strlen(v);
    if (!sc_utf8_valid(v, n)) { /* as pg__arg_text: PostgreSQL refuses invalid UTF-8 */
        sc_buf_reset(&w->fixed);
        enum sc_err err = sc_utf8_repair(v, n, &w->fixed);
        if (err)
            return err;
        v = w->fixed.data ? w->fixed.data : "";
        n = strlen(v);
    }
    const char *run = v;
    for (const char *p = v; *p; p++) {
        const char *esc = *p == '\\'   ? "\\\\"
                          : *p == '\t' ? "\\t"
                          : *p == '\n' ? "\\n"
                          : *p == '\r' ? "\\r"
                                       : NULL;
        if (!esc)
            continue;
        enum sc_err err = sc_buf_append(&w->data, run, (size_t)(p - run));
        if (!err)
            err = sc_buf_puts(&w->data, esc);
        if (err)
            return err;
        run = p + 1;
    }
    return sc_buf_append(&w->data, run, (size_t)(v + n - run));
}

/* Hands the gathered COPY text to libpq. */
static enum sc_err flush_data(struct store_table_writer *w)
{
    if (!w->data.len)
        return SC_OK;
    PGconn *c = ((struct pg_store *)w->st)->conn;
    if (PQputCopyData(c, w->data.data, (int)w->data.len) != 1) {
        SC_WARN("store.copy_failed", "table=%s message=\"%s\"", w->table, PQerrorMessage(c));
        return SC_ERR_DB;
    }
    sc_buf_reset(&w->data);
    return SC_OK;
}

static enum sc_err pg_table_write_row(struct store_table_writer *w, const char *const *values)
{
    if (w->err)
        return w->err;
    enum sc_err err = SC_OK;
    for (int i = 0; i < w->ncols && !err; i++) {
        if (i)
            err = sc_buf_puts(&w->data, "\t");
        if (!err)
            err = put_value(w, values[i]);
    }
    if (!err)
        err = sc_buf_puts(&w->data, "\n");
    if (!err && w->data.len >= COPY_CHUNK)
        err = flush_data(w);
    return w->err = err;
}

static enum sc_err pg_table_write_end(struct store_table_writer *w, int abandon)
{
    struct store *st = w->st;
    PGconn *c = ((struct pg_store *)st)->conn;
    enum sc_err err = w->err;
    if (!abandon && !err)
        err = flush_data(w);
    int ended = PQputCopyEnd(c, abandon || err ? "the copy was abandoned" : NULL);
    PGresult *r = PQgetResult(c);
    if (!abandon && !err) {
        if (ended != 1 || PQresultStatus(r) != PGRES_COMMAND_OK) {
            const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
            const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
            SC_WARN("store.copy_refused", "table=%s sqlstate=%s message=\"%s\"", w->table,
                    state ? state : "-", msg ? msg : PQerrorMessage(c));
            err = pg__err(st, r);
            if (!err)
                err = SC_ERR_DB;
        }
    }
    PQclear(r);
    while ((r = PQgetResult(c)) != NULL)
        PQclear(r);
    sc_buf_free(&w->data);
    sc_buf_free(&w->fixed);
    free(w);
    return abandon ? SC_OK : err;
}

static enum sc_err pg_table_serial_get(struct store *st, const char *table, const char *column,
                                       int64_t *hwm)
{
    char sql[512];
    if (!store__ident_ok(table) || !store__ident_ok(column))
        return SC_ERR_INVALID;
    snprintf(sql, sizeof sql,
             "SELECT greatest(coalesce(pg_sequence_last_value(pg_get_serial_sequence('%s', "
             "'%s')::regclass), 0), coalesce((SELECT max(%s) FROM %s), 0))",
             table, column, column, table);
    enum sc_err err = SC_OK;
    PGresult *r = pg__run_text(st, sql, NULL, &err);
    if (!r)
        return err;
    *hwm = PQntuples(r) == 1 ? pg__col_int(r, 0, 0) : 0;
    PQclear(r);
    return SC_OK;
}

static enum sc_err pg_table_serial_set(struct store *st, const char *table, const char *column,
                                       int64_t hwm)
{
    char sql[512];
    if (!store__ident_ok(table) || !store__ident_ok(column))
        return SC_ERR_INVALID;
    /* setval(n, true): the next number is n + 1; (1, false): it is 1 */
    snprintf(sql, sizeof sql,
             "SELECT setval(pg_get_serial_sequence('%s', '%s'), greatest(g, 1), g >= 1) FROM "
             "(SELECT greatest($1::bigint, coalesce((SELECT max(%s) FROM %s), 0)) AS g) x",
             table, column, column, table);
    struct pg_args a = {0};
    pg__arg_int(&a, hwm);
    enum sc_err err = SC_OK;
    PGresult *r = pg__run_text(st, sql, &a, &err);
    PQclear(r);
    return r ? SC_OK : err;
}

static enum sc_err pg_table_clear(struct store *st, const char *table)
{
    char sql[256];
    if (!store__ident_ok(table))
        return SC_ERR_INVALID;
    snprintf(sql, sizeof sql, "DELETE FROM %s", table);
    return pg__exec(st, sql);
}

const struct store_table_ops store__pg_table_ops = {
    .count = pg_table_count,
    .each = pg_table_each,
    .write_begin = pg_table_write_begin,
    .write_row = pg_table_write_row,
    .write_end = pg_table_write_end,
    .serial_get = pg_table_serial_get,
    .serial_set = pg_table_serial_set,
    .clear = pg_table_clear,
};
