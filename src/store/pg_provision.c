/* The provision component of the PostgreSQL back-end: connections, rules and
 * connection_capabilities with the functions of store_provision.h, as the SQLite
 * back-end's (lists page by the internal creation sequence carried in the cursor,
 * "s<seq>"). Configuration writes are followed by their change event in the same
 * transaction, so they take the events lock first (pg_events.c), keeping one lock order
 * for every appender; reads in a transaction lock the row they return (FOR NO KEY
 * UPDATE) for the write that follows. */
#include "store/pg_internal.h"
#include "store/store_provision.h"
#include "base/buf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct pg_migration provision_migrations[] = {
    {1, "CREATE TABLE connections ("
        " seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " id TEXT COLLATE \"C\" NOT NULL UNIQUE,"
        " name TEXT COLLATE \"C\" NOT NULL,"
        " enabled INTEGER NOT NULL DEFAULT 0,"
        " config TEXT NOT NULL,"
        " created_at BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL);"
        "CREATE UNIQUE INDEX connections_name ON connections(lower(name));"
        "CREATE TABLE rules ("
        " seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " id TEXT COLLATE \"C\" NOT NULL UNIQUE,"
        " name TEXT COLLATE \"C\" NOT NULL,"
        " description TEXT NOT NULL DEFAULT '',"
        " target_id TEXT COLLATE \"C\" REFERENCES connections(id) ON DELETE RESTRICT,"
        " enabled INTEGER NOT NULL DEFAULT 0,"
        " filter TEXT,"
        " mappings TEXT NOT NULL,"
        " created_at BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL);"
        "CREATE UNIQUE INDEX rules_name ON rules(lower(name));"
        "CREATE INDEX rules_target ON rules(target_id);"
        "CREATE TABLE connection_capabilities ("
        " connection_id TEXT COLLATE \"C\" PRIMARY KEY"
        "  REFERENCES connections(id) ON DELETE CASCADE,"
        " doc TEXT NOT NULL,"
        " updated_at BIGINT NOT NULL);"},
};
const struct pg_component store__pg_provision_schema = {"provision", provision_migrations, 1};

#define CONN_COLS "id, name, enabled, config, created_at, updated_at, seq"

static int read_connection(const PGresult *r, int row, void *out)
{
    struct store_connection *c = out;
    memset(c, 0, sizeof *c);
    pg__col_copy(r, row, 0, c->id, sizeof c->id);
    c->name = pg__col_dup(r, row, 1);
    c->enabled = (int)pg__col_int(r, row, 2);
    c->config = pg__col_dup(r, row, 3);
    c->created_at = pg__col_int(r, row, 4);
    c->updated_at = pg__col_int(r, row, 5);
    if (!c->name || !c->config) {
        store_connection_clear(c);
        return -1;
    }
    return 0;
}

#define RULE_COLS                                                                                  \
    "id, name, description, target_id, enabled, filter, mappings, created_at, updated_at, seq"

static int read_rule(const PGresult *r, int row, void *out)
{
    struct store_rule *x = out;
    memset(x, 0, sizeof *x);
    pg__col_copy(r, row, 0, x->id, sizeof x->id);
    x->name = pg__col_dup(r, row, 1);
    x->description = pg__col_dup(r, row, 2);
    pg__col_copy(r, row, 3, x->target_id, sizeof x->target_id);
    x->enabled = (int)pg__col_int(r, row, 4);
    x->filter = pg__col_dup(r, row, 5);
    x->mappings = pg__col_dup(r, row, 6);
    x->created_at = pg__col_int(r, row, 7);
    x->updated_at = pg__col_int(r, row, 8);
    if (!x->name || !x->description || !x->mappings) {
        store_rule_clear(x);
        return -1;
    }
    return 0;
}

/* What the get and list code needs to know of a table's rows. */
struct row_kind {
    size_t size;
    int seq_col;
    int (*read)(const PGresult *r, int row, void *out);
    void (*clear)(void *row);
};

static void clear_connection(void *row)
{
    store_connection_clear(row);
}

static void clear_rule(void *row)
{
    store_rule_clear(row);
}

static const struct row_kind connection_kind = {sizeof(struct store_connection), 6, read_connection,
                                                clear_connection};
static const struct row_kind rule_kind = {sizeof(struct store_rule), 9, read_rule, clear_rule};

/* Runs a change; NOT_FOUND when no row changed. */
static enum sc_err cmd_change(struct store *st, const char *sql, struct pg_args *a)
{
    int64_t rows = 0;
    enum sc_err err = pg__cmd(st, sql, a, &rows);
    if (err)
        return err;
    return rows > 0 ? SC_OK : SC_ERR_NOT_FOUND;
}

/* A configuration write: in its own transaction when none is open, after the events
 * lock (its event follows in the caller's transaction). */
static enum sc_err config_write(struct store *st, const char *sql, struct pg_args *a)
{
    int own;
    enum sc_err rc = pg__tx_open(st, &own);
    if (rc)
        return rc;
    if (!(rc = pg__events_lock(st)))
        rc = cmd_change(st, sql, a);
    return pg__tx_close(st, own, rc);
}

static enum sc_err get_row(struct store *st, const char *sql, const struct row_kind *k,
                           const char *id, void *out)
{
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_text(&a, id);
    PGresult *r = pg__run(st, sql, &a, &err);
    if (!r)
        return err;
    if (PQntuples(r) == 0)
        err = SC_ERR_NOT_FOUND;
    else if (k->read(r, 0, out))
        err = SC_ERR_NOMEM;
    PQclear(r);
    return err;
}

static int parse_cursor(const char *cursor, int64_t *after)
{
    *after = 0;
    if (!cursor || !*cursor)
        return 0;
    if (strncmp(cursor, "s", 1) != 0 || sc_parse_int64(cursor + 1, 0, INT64_MAX, after))
        return -1;
    return 0;
}

static enum sc_err list_rows(struct store *st, const char *sql, const struct row_kind *k,
                             const char *cursor, int limit, void **out, size_t *n,
                             char *next_cursor)
{
    *out = NULL;
    *n = 0;
    next_cursor[0] = '\0';
    int64_t after;
    if (parse_cursor(cursor, &after))
        return SC_ERR_INVALID;
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_int(&a, after);
    pg__arg_int(&a, (int64_t)limit + 1);
    PGresult *r = pg__run(st, sql, &a, &err);
    if (!r)
        return err;
    char *v = calloc((size_t)limit + 1, k->size);
    size_t count = 0;
    int rows = PQntuples(r);
    if (!v)
        err = SC_ERR_NOMEM;
    for (int i = 0; !err && i < rows; i++) {
        if (count == (size_t)limit) {
            snprintf(next_cursor, STORE_CURSOR_MAX, "s%" PRId64, pg__col_int(r, i - 1, k->seq_col));
            break;
        }
        if (k->read(r, i, v + count * k->size))
            err = SC_ERR_NOMEM;
        else
            count++;
    }
    PQclear(r);
    if (err) {
        for (size_t i = 0; v && i < count; i++)
            k->clear(v + i * k->size);
        free(v);
        next_cursor[0] = '\0';
        return err;
    }
    *out = v;
    *n = count;
    return SC_OK;
}

static enum sc_err pg_connection_insert(struct store *st, const struct store_connection *c)
{
    struct pg_args a = {0};
    pg__arg_text(&a, c->id);
    pg__arg_text(&a, c->name);
    pg__arg_int(&a, c->enabled ? 1 : 0);
    pg__arg_text(&a, c->config);
    pg__arg_int(&a, c->created_at);
    pg__arg_int(&a, c->updated_at);
    return config_write(st,
                        "INSERT INTO connections(id, name, enabled, config, created_at, "
                        "updated_at) VALUES($1, $2, $3, $4, $5, $6)",
                        &a);
}

static enum sc_err pg_connection_update(struct store *st, const struct store_connection *c)
{
    struct pg_args a = {0};
    pg__arg_text(&a, c->name);
    pg__arg_int(&a, c->enabled ? 1 : 0);
    pg__arg_text(&a, c->config);
    pg__arg_int(&a, c->updated_at);
    pg__arg_text(&a, c->id);
    return config_write(st,
                        "UPDATE connections SET name = $1, enabled = $2, config = $3, "
                        "updated_at = $4 WHERE id = $5",
                        &a);
}

static enum sc_err pg_connection_get(struct store *st, const char *id, struct store_connection *out)
{
    if (st->in_tx)
        return get_row(st, "SELECT " CONN_COLS " FROM connections WHERE id = $1 FOR NO KEY UPDATE",
                       &connection_kind, id, out);
    return get_row(st, "SELECT " CONN_COLS " FROM connections WHERE id = $1", &connection_kind, id,
                   out);
}

static enum sc_err pg_connection_list(struct store *st, const char *cursor, int limit,
                                      struct store_connection **out, size_t *n, char *next_cursor)
{
    void *v = NULL;
    enum sc_err err =
        list_rows(st, "SELECT " CONN_COLS " FROM connections WHERE seq > $1 ORDER BY seq LIMIT $2",
                  &connection_kind, cursor, limit, &v, n, next_cursor);
    *out = v;
    return err;
}

static enum sc_err pg_connection_delete(struct store *st, const char *id)
{
    struct pg_args a = {0};
    pg__arg_text(&a, id);
    enum sc_err err = config_write(st, "DELETE FROM connections WHERE id = $1", &a);
    return err == SC_ERR_INVALID ? SC_ERR_CONFLICT : err; /* a rule came meanwhile */
}

static enum sc_err pg_rule_targeting(struct store *st, const char *connection_id, char **name_out)
{
    *name_out = NULL;
    struct pg_args a = {0};
    pg__arg_text(&a, connection_id);
    return pg__text_row(st, "SELECT name FROM rules WHERE target_id = $1 ORDER BY seq LIMIT 1", &a,
                        name_out);
}

static enum sc_err pg_rule_insert(struct store *st, const struct store_rule *x)
{
    struct pg_args a = {0};
    pg__arg_text(&a, x->id);
    pg__arg_text(&a, x->name);
    pg__arg_text(&a, x->description ? x->description : "");
    pg__arg_text(&a, x->target_id[0] ? x->target_id : NULL);
    pg__arg_int(&a, x->enabled ? 1 : 0);
    pg__arg_text(&a, x->filter);
    pg__arg_text(&a, x->mappings ? x->mappings : "[]");
    pg__arg_int(&a, x->created_at);
    pg__arg_int(&a, x->updated_at);
    return config_write(st,
                        "INSERT INTO rules(id, name, description, target_id, enabled, filter, "
                        "mappings, created_at, updated_at) VALUES($1, $2, $3, $4, $5, $6, $7, $8, "
                        "$9)",
                        &a);
}

static enum sc_err pg_rule_update(struct store *st, const struct store_rule *x)
{
    struct pg_args a = {0};
    pg__arg_text(&a, x->name);
    pg__arg_text(&a, x->description ? x->description : "");
    pg__arg_text(&a, x->target_id[0] ? x->target_id : NULL);
    pg__arg_int(&a, x->enabled ? 1 : 0);
    pg__arg_text(&a, x->filter);
    pg__arg_text(&a, x->mappings ? x->mappings : "[]");
    pg__arg_int(&a, x->updated_at);
    pg__arg_text(&a, x->id);
    return config_write(st,
                        "UPDATE rules SET name = $1, description = $2, target_id = $3, "
                        "enabled = $4, filter = $5, mappings = $6, updated_at = $7 WHERE id = $8",
                        &a);
}

static enum sc_err pg_rule_get(struct store *st, const char *id, struct store_rule *out)
{
    if (st->in_tx)
        return get_row(st, "SELECT " RULE_COLS " FROM rules WHERE id = $1 FOR NO KEY UPDATE",
                       &rule_kind, id, out);
    return get_row(st, "SELECT " RULE_COLS " FROM rules WHERE id = $1", &rule_kind, id, out);
}

static enum sc_err pg_rule_list(struct store *st, const char *cursor, int limit,
                                struct store_rule **out, size_t *n, char *next_cursor)
{
    void *v = NULL;
    enum sc_err err =
        list_rows(st, "SELECT " RULE_COLS " FROM rules WHERE seq > $1 ORDER BY seq LIMIT $2",
                  &rule_kind, cursor, limit, &v, n, next_cursor);
    *out = v;
    return err;
}

static enum sc_err pg_rule_delete(struct store *st, const char *id)
{
    struct pg_args a = {0};
    pg__arg_text(&a, id);
    return config_write(st, "DELETE FROM rules WHERE id = $1", &a);
}

/* The first column of row `row` into dst (an id; pg__rows' fill). */
static void id_from_row(const PGresult *r, int row, void *dst)
{
    pg__col_copy(r, row, 0, dst, SC_UUID_LEN + 1);
}

/* Runs sql and reads the first column of every row as ids. */
static enum sc_err read_ids(struct store *st, const char *sql, struct pg_args *a,
                            char (**ids)[SC_UUID_LEN + 1], size_t *n)
{
    void *v = NULL;
    enum sc_err err = pg__rows(st, sql, a, sizeof **ids, id_from_row, &v, n);
    *ids = v;
    return err;
}

static enum sc_err pg_rule_enabled_ids(struct store *st, char (**ids)[SC_UUID_LEN + 1], size_t *n)
{
    return read_ids(st,
                    "SELECT r.id FROM rules r JOIN connections c ON c.id = r.target_id WHERE "
                    "r.enabled = 1 AND c.enabled = 1 ORDER BY r.seq",
                    NULL, ids, n);
}

static enum sc_err pg_rule_ids_by_target(struct store *st, const char *connection_id,
                                         char (**ids)[SC_UUID_LEN + 1], size_t *n)
{
    struct pg_args a = {0};
    pg__arg_text(&a, connection_id);
    return read_ids(st, "SELECT id FROM rules WHERE target_id = $1 ORDER BY seq", &a, ids, n);
}

static enum sc_err pg_connection_caps_get(struct store *st, const char *connection_id, char **doc,
                                          int64_t *updated_at)
{
    *doc = NULL;
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_text(&a, connection_id);
    PGresult *r = st->in_tx ? pg__run(st,
                                      "SELECT doc, updated_at FROM connection_capabilities WHERE "
                                      "connection_id = $1 FOR NO KEY UPDATE",
                                      &a, &err)
                            : pg__run(st,
                                      "SELECT doc, updated_at FROM connection_capabilities WHERE "
                                      "connection_id = $1",
                                      &a, &err);
    if (!r)
        return err;
    if (PQntuples(r) == 0) {
        err = SC_ERR_NOT_FOUND;
    } else if (!(*doc = pg__col_dup(r, 0, 0))) {
        err = SC_ERR_NOMEM;
    } else if (updated_at) {
        *updated_at = pg__col_int(r, 0, 1);
    }
    PQclear(r);
    return err;
}

static enum sc_err pg_connection_caps_put(struct store *st, const char *connection_id,
                                          const char *doc, int64_t updated_at)
{
    /* no row written (rather than a foreign key error, which would abort the caller's
     * transaction) when the connection does not exist */
    struct pg_args a = {0};
    pg__arg_text(&a, connection_id);
    pg__arg_text(&a, doc);
    pg__arg_int(&a, updated_at);
    enum sc_err err = cmd_change(
        st,
        "INSERT INTO connection_capabilities(connection_id, doc, updated_at) SELECT id, $2, "
        "$3::bigint FROM connections WHERE id = $1 ON CONFLICT(connection_id) DO UPDATE SET "
        "doc = excluded.doc, updated_at = excluded.updated_at",
        &a);
    return err == SC_ERR_INVALID ? SC_ERR_NOT_FOUND : err;
}

const struct store_provision_ops store__pg_provision_ops = {
    .connection_insert = pg_connection_insert,
    .connection_update = pg_connection_update,
    .connection_get = pg_connection_get,
    .connection_list = pg_connection_list,
    .connection_delete = pg_connection_delete,
    .rule_targeting = pg_rule_targeting,
    .rule_insert = pg_rule_insert,
    .rule_update = pg_rule_update,
    .rule_get = pg_rule_get,
    .rule_list = pg_rule_list,
    .rule_delete = pg_rule_delete,
    .rule_enabled_ids = pg_rule_enabled_ids,
    .connection_caps_get = pg_connection_caps_get,
    .connection_caps_put = pg_connection_caps_put,
    .rule_ids_by_target = pg_rule_ids_by_target,
};
