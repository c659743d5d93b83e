/* The copy of a whole database (store_copy.h) over the back-end seam: the one list of
 * the tables it covers, in an order that satisfies the foreign keys, and the loop that
 * streams each table's rows from the source's table reader into the destination's
 * table writer and carries the numbering over. Nothing here knows a back-end. */
#include "store/backend.h"
#include "base/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The tables of the schema, in copy order (a table after those its foreign keys point
 * to). Not copied: schema_version (each database has its own migrations) and
 * target_resources (the built-in target's store, SQLite only, never a server's).
 * tests/unit/store/test_store_copy.c checks that every other table of both back-ends is
 * here, so a table added by a migration cannot be left behind. */
static const struct copy_table {
    const char *name;
    const char *label;
    const char *order;  /* the rows' key, for a deterministic order */
    const char *serial; /* the column the database numbers, or NULL */
} tables[] = {
    {"settings", "settings", "key", NULL},
    {"dir_populations", "populations", "id", NULL},
    {"dir_users", "users", "id", NULL},
    {"dir_groups", "groups", "id", NULL},
    {"dir_group_members", "group members", "group_id, user_id, member_group_id", NULL},
    {"connections", "connections", "seq", "seq"},
    {"connection_capabilities", "connection capabilities", "connection_id", NULL},
    {"rules", "rules", "seq", "seq"},
    {"change_events", "change events", "seq", "seq"},
    {"sync_links", "sync links", "rule_id, user_id", NULL},
    {"sync_outbox", "outbox items", "id", "id"},
    {"sync_rules", "rule sync states", "rule_id", NULL},
    {"sync_connections", "connection sync states", "connection_id", NULL},
    {"sync_nodes", "nodes", "id", NULL},
    {"sync_log", "log entries", "id", "id"},
    {"admin_tokens", "admin tokens", "id", NULL},
    {"inbound_tokens", "inbound tokens", "id", NULL},
    {"inbound_users", "inbound user records", "user_id", NULL},
    {"inbound_groups", "inbound group records", "group_id", NULL},
    {"sync_group_config", "group provisioning sections", "rule_id", NULL},
    {"sync_group_links", "group links", "rule_id, group_id", NULL},
    {"sync_group_members", "target group members", "rule_id, group_id, target_member_id", NULL},
};
#define NTABLES (sizeof tables / sizeof tables[0])

int store__ident_ok(const char *s)
{
    if (!s || !*s || (*s >= '0' && *s <= '9'))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

enum sc_err store_begin_snapshot(struct store *st)
{
    if (st->in_tx)
        return SC_ERR_INVALID;
    return st->be->begin_snapshot(st);
}

enum sc_err store_open_elsewhere(const char *dsn, int *elsewhere)
{
    *elsewhere = 0;
    if (!dsn)
        return SC_ERR_INVALID;
    if (store_dsn_is_postgresql(dsn))
        return store__pg_backend.open_elsewhere ? store__pg_backend.open_elsewhere(dsn, elsewhere)
                                                : SC_ERR_UNSUPPORTED;
    if (strncmp(dsn, "sqlite:", 7) != 0)
        return SC_ERR_INVALID;
    return store__sqlite_backend.open_elsewhere(dsn, elsewhere);
}

/* Checks that dsn names a SQLite database file; SC_OK or the error that says why. */
static enum sc_err file_database(const char *dsn, const char *what, struct sc_error *e)
{
    if (store_dsn_is_postgresql(dsn))
        return sc_error_set(e, SC_ERR_UNSUPPORTED, "db",
                            "a PostgreSQL database is %s with %s (docs/operations.md, Backups)",
                            what, strcmp(what, "backed up") == 0 ? "pg_dump" : "pg_restore");
    if (strncmp(dsn, "sqlite:", 7) != 0 || !dsn[7] || strncmp(dsn + 7, "file:", 5) == 0 ||
        strcmp(dsn + 7, ":memory:") == 0)
        return sc_error_set(e, SC_ERR_INVALID, "db", "the database must be sqlite:PATH");
    return SC_OK;
}

enum sc_err store_backup(const char *dsn, const char *path, struct sc_error *e)
{
    if (!dsn || !path || !*path)
        return sc_error_set(e, SC_ERR_INVALID, "path", "a backup path is required");
    enum sc_err err = file_database(dsn, "backed up", e);
    return err ? err : store__sqlite_backend.backup(dsn, path, e);
}

enum sc_err store_restore(const char *from, const char *dsn, int replace, struct sc_error *e)
{
    if (!from || !*from)
        return sc_error_set(e, SC_ERR_INVALID, "from", "a backup path is required");
    enum sc_err err = file_database(dsn ? dsn : "", "restored", e);
    if (err)
        return err;
    int elsewhere = 0;
    err = store_open_elsewhere(dsn, &elsewhere);
    if (err)
        return sc_error_set(e, err, "db", "cannot tell whether %s is in use", dsn + 7);
    if (elsewhere)
        return sc_error_set(e, SC_ERR_CONFLICT, "db",
                            "another process has %s open: stop scimitar serve first", dsn + 7);
    return store__sqlite_backend.restore(from, dsn, replace, e);
}

enum sc_err store_copy_count(struct store *st,
                             void (*fn)(void *arg, const char *table, const char *label,
                                        int64_t rows),
                             void *arg)
{
    for (size_t i = 0; i < NTABLES; i++) {
        int64_t n = 0;
        enum sc_err err = st->be->table->count(st, tables[i].name, &n);
        if (err)
            return err;
        fn(arg, tables[i].name, tables[i].label, n);
    }
    return SC_OK;
}

enum sc_err store_copy_clear(struct store *st)
{
    for (size_t i = NTABLES; i-- > 0;) {
        enum sc_err err = st->be->table->clear(st, tables[i].name);
        if (err)
            return err;
    }
    return SC_OK;
}

/* The state of one table's copy, shared with the row callback. */
struct copy_run {
    struct store *dst;
    const struct copy_table *t;
    struct store_table_writer *w;
    int ncols;
    struct store_copy_progress p;
    void (*progress)(void *arg, const struct store_copy_progress *p);
    void *arg;
    enum sc_err err; /* the writer's error that stopped the read */
};

static int copy_row(void *arg, int ncols, const char *const *names, const char *const *values)
{
    struct copy_run *r = arg;
    if (!r->w) {
        r->err = r->dst->be->table->write_begin(r->dst, r->t->name, ncols, names, &r->w);
        if (r->err)
            return 1;
        r->ncols = ncols;
    }
    if (ncols != r->ncols) { /* the columns of one statement's rows never change */
        r->err = SC_ERR_INTERNAL;
        return 1;
    }
    if ((r->err = r->dst->be->table->write_row(r->w, values)))
        return 1;
    r->p.rows++;
    if (r->progress && r->p.rows % STORE_COPY_PROGRESS_ROWS == 0)
        r->progress(r->arg, &r->p);
    return 0;
}

/* Copies one table; e names it on failure. */
static enum sc_err copy_table(struct store *src, struct store *dst, const struct copy_table *t,
                              void (*progress)(void *arg, const struct store_copy_progress *p),
                              void *arg, struct sc_error *e)
{
    struct copy_run r = {.dst = dst, .t = t, .progress = progress, .arg = arg};
    r.p.table = t->name;
    r.p.label = t->label;
    enum sc_err err = src->be->table->count(src, t->name, &r.p.total);
    if (err)
        return sc_error_set(e, err, "from", "cannot count the %s of the source (%s)", t->label,
                            sc_strerror(err));
    if (progress)
        progress(arg, &r.p);
    err = src->be->table->each(src, t->name, t->order, copy_row, &r);
    const char *side = "source";
    if (r.err) {
        err = r.err;
        side = "destination";
    }
    if (r.w) {
        enum sc_err end = dst->be->table->write_end(r.w, err != SC_OK);
        if (!err && end) {
            err = end;
            side = "destination";
        }
    }
    if (err)
        return sc_error_set(e, err, strcmp(side, "source") == 0 ? "from" : "to",
                            "cannot copy the %s (table %s) after %" PRId64
                            " rows: the %s database failed (%s; its words are in the log "
                            "above)",
                            t->label, t->name, r.p.rows, side, sc_strerror(err));
    if (t->serial) {
        int64_t hwm = 0;
        if ((err = src->be->table->serial_get(src, t->name, t->serial, &hwm)))
            return sc_error_set(e, err, "from", "cannot read the numbering of the %s (%s)",
                                t->label, sc_strerror(err));
        if ((err = dst->be->table->serial_set(dst, t->name, t->serial, hwm)))
            return sc_error_set(e, err, "to", "cannot set the numbering of the %s (%s)", t->label,
                                sc_strerror(err));
    }
    r.p.done = 1;
    if (progress)
        progress(arg, &r.p);
    return SC_OK;
}

enum sc_err store_copy(struct store *src, struct store *dst,
                       void (*progress)(void *arg, const struct store_copy_progress *p), void *arg,
                       struct sc_error *e)
{
    if (src == dst)
        return sc_error_set(e, SC_ERR_INVALID, "to", "the source and the destination are one");
    for (size_t i = 0; i < NTABLES; i++) {
        enum sc_err err = copy_table(src, dst, &tables[i], progress, arg, e);
        if (err) {
            SC_WARN("store.copy_failed", "table=%s error=%s", tables[i].name, sc_strerror(err));
            return err;
        }
    }
    return SC_OK;
}
