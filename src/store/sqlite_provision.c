/* The provision component of the SQLite back-end: the connections, rules and
 * connection_capabilities tables and the store functions declared in
 * store/store_provision.h. Lists page by an internal
 * sequence number (creation order) carried in the cursor. */
#include "store/sqlite_internal.h"
#include "store/store_provision.h"
#include "base/buf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct store_migration provision_migrations[] = {
    {1, "CREATE TABLE connections ("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " id TEXT NOT NULL UNIQUE,"
        " name TEXT NOT NULL COLLATE NOCASE UNIQUE,"
        " enabled INTEGER NOT NULL DEFAULT 0,"
        " config TEXT NOT NULL,"
        " created_at INTEGER NOT NULL,"
        " updated_at INTEGER NOT NULL);"
        "CREATE TABLE rules ("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " id TEXT NOT NULL UNIQUE,"
        " name TEXT NOT NULL COLLATE NOCASE UNIQUE,"
        " description TEXT NOT NULL DEFAULT '',"
        " target_id TEXT REFERENCES connections(id) ON DELETE RESTRICT,"
        " enabled INTEGER NOT NULL DEFAULT 0,"
        " filter TEXT,"
        " mappings TEXT NOT NULL,"
        " created_at INTEGER NOT NULL,"
        " updated_at INTEGER NOT NULL);"
        "CREATE INDEX rules_target ON rules(target_id);"},
    {2, "CREATE TABLE connection_capabilities ("
        " connection_id TEXT PRIMARY KEY REFERENCES connections(id) ON DELETE CASCADE,"
        " doc TEXT NOT NULL,"
        " updated_at INTEGER NOT NULL);"},
};
const struct store_component store__provision_schema = {"provision", provision_migrations, 2};

/* Columns: id, name, enabled, config, created_at, updated_at, seq */
#define CONN_COLS "id, name, enabled, config, created_at, updated_at, seq"

static int read_connection(sqlite3_stmt *s, void *row)
{
    struct store_connection *c = row;
    memset(c, 0, sizeof *c);
    store__column_copy(s, 0, c->id, sizeof c->id);
    c->name = store__column_dup(s, 1);
    c->enabled = sqlite3_column_int(s, 2);
    c->config = store__column_dup(s, 3);
    c->created_at = sqlite3_column_int64(s, 4);
    c->updated_at = sqlite3_column_int64(s, 5);
    if (!c->name || !c->config) {
        store_connection_clear(c);
        return -1;
    }
    return 0;
}

/* Columns: id, name, description, target_id, enabled, filter, mappings, created_at,
 * updated_at, seq */
#define RULE_COLS                                                                                  \
    "id, name, description, target_id, enabled, filter, mappings, created_at, updated_at, seq"

static int read_rule(sqlite3_stmt *s, void *row)
{
    struct store_rule *r = row;
    memset(r, 0, sizeof *r);
    store__column_copy(s, 0, r->id, sizeof r->id);
    r->name = store__column_dup(s, 1);
    r->description = store__column_dup(s, 2);
    store__column_copy(s, 3, r->target_id, sizeof r->target_id);
    r->enabled = sqlite3_column_int(s, 4);
    r->filter = store__column_dup(s, 5);
    r->mappings = store__column_dup(s, 6);
    r->created_at = sqlite3_column_int64(s, 7);
    r->updated_at = sqlite3_column_int64(s, 8);
    if (!r->name || !r->description || !r->mappings) {
        store_rule_clear(r);
        return -1;
    }
    return 0;
}

/* Steps a statement that changes rows; NOT_FOUND when none changed. */
static enum sc_err step_change(struct store *st, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store__err(st, rc);
    return sqlite3_changes(sqlite__db(st)) > 0 ? SC_OK : SC_ERR_NOT_FOUND;
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

/* What the get and list code needs to know of a table's rows. */
struct row_kind {
    size_t size;                             /* of the row struct */
    int seq_col;                             /* where seq is in the SELECT's columns */
    int (*read)(sqlite3_stmt *s, void *row); /* 0, or -1 (out of memory, row cleared) */
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

/* Reads the one row sql (a literal, one `id = ?` parameter) selects into out.
 * NOT_FOUND when there is none. */
static enum sc_err get_row(struct store *st, const char *sql, const struct row_kind *k,
                           const char *id, void *out)
{
    sqlite3_stmt *s = store__prepare(st, sql);
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, id);
    enum sc_err err = SC_OK;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        err = k->read(s, out) ? SC_ERR_NOMEM : SC_OK;
    else
        err = rc == SQLITE_DONE ? SC_ERR_NOT_FOUND : store__err(st, rc);
    sqlite3_reset(s);
    return err;
}

/* Reads one page of rows after cursor: sql is a literal with `seq > ?` and `LIMIT ?`
 * parameters, ordered by seq. *out gets a new array of *n rows (room for limit + 1,
 * freed by the table's store_*s_free); next_cursor gets the cursor of the next page,
 * or "" at the end. INVALID for a cursor this code did not make. */
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
    sqlite3_stmt *s = store__prepare(st, sql);
    if (!s)
        return SC_ERR_DB;
    sqlite3_bind_int64(s, 1, after);
    sqlite3_bind_int(s, 2, limit + 1);
    char *v = calloc((size_t)limit + 1, k->size);
    size_t count = 0;
    int64_t last_seq = 0;
    enum sc_err err = v ? SC_OK : SC_ERR_NOMEM;
    int rc = SQLITE_DONE;
    while (!err && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (count == (size_t)limit) {
            snprintf(next_cursor, STORE_CURSOR_MAX, "s%" PRId64, last_seq);
            break;
        }
        if (k->read(s, v + count * k->size))
            err = SC_ERR_NOMEM;
        else
            last_seq = sqlite3_column_int64(s, k->seq_col), count++;
    }
    if (!err && rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = store__err(st, rc);
    sqlite3_reset(s);
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

static enum sc_err sqlite_connection_insert(struct store *st, const struct store_connection *c)
{
    sqlite3_stmt *s = store__prepare(st, "INSERT INTO connections(id, name, enabled, config, "
                                         "created_at, updated_at) VALUES(?, ?, ?, ?, ?, ?)");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, c->id);
    store__bind_text(s, 2, c->name);
    sqlite3_bind_int(s, 3, c->enabled ? 1 : 0);
    store__bind_text(s, 4, c->config);
    sqlite3_bind_int64(s, 5, c->created_at);
    sqlite3_bind_int64(s, 6, c->updated_at);
    return step_change(st, s);
}

static enum sc_err sqlite_connection_update(struct store *st, const struct store_connection *c)
{
    sqlite3_stmt *s = store__prepare(st, "UPDATE connections SET name = ?, enabled = ?, "
                                         "config = ?, updated_at = ? WHERE id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, c->name);
    sqlite3_bind_int(s, 2, c->enabled ? 1 : 0);
    store__bind_text(s, 3, c->config);
    sqlite3_bind_int64(s, 4, c->updated_at);
    store__bind_text(s, 5, c->id);
    return step_change(st, s);
}

static enum sc_err sqlite_connection_get(struct store *st, const char *id,
                                         struct store_connection *out)
{
    return get_row(st, "SELECT " CONN_COLS " FROM connections WHERE id = ?", &connection_kind, id,
                   out);
}

static enum sc_err sqlite_connection_list(struct store *st, const char *cursor, int limit,
                                          struct store_connection **out, size_t *n,
                                          char *next_cursor)
{
    void *v = NULL;
    enum sc_err err =
        list_rows(st, "SELECT " CONN_COLS " FROM connections WHERE seq > ? ORDER BY seq LIMIT ?",
                  &connection_kind, cursor, limit, &v, n, next_cursor);
    *out = v;
    return err;
}

static enum sc_err sqlite_connection_delete(struct store *st, const char *id)
{
    sqlite3_stmt *s = store__prepare(st, "DELETE FROM connections WHERE id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, id);
    return step_change(st, s);
}

static enum sc_err sqlite_rule_targeting(struct store *st, const char *connection_id,
                                         char **name_out)
{
    *name_out = NULL;
    sqlite3_stmt *s =
        store__prepare(st, "SELECT name FROM rules WHERE target_id = ? ORDER BY seq LIMIT 1");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, connection_id);
    return store__text_row(st, s, name_out);
}

static enum sc_err sqlite_rule_insert(struct store *st, const struct store_rule *r)
{
    sqlite3_stmt *s = store__prepare(st, "INSERT INTO rules(id, name, description, target_id, "
                                         "enabled, filter, mappings, created_at, updated_at) "
                                         "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, r->id);
    store__bind_text(s, 2, r->name);
    store__bind_text(s, 3, r->description ? r->description : "");
    store__bind_text(s, 4, r->target_id[0] ? r->target_id : NULL);
    sqlite3_bind_int(s, 5, r->enabled ? 1 : 0);
    store__bind_text(s, 6, r->filter);
    store__bind_text(s, 7, r->mappings ? r->mappings : "[]");
    sqlite3_bind_int64(s, 8, r->created_at);
    sqlite3_bind_int64(s, 9, r->updated_at);
    return step_change(st, s);
}

static enum sc_err sqlite_rule_update(struct store *st, const struct store_rule *r)
{
    sqlite3_stmt *s = store__prepare(st, "UPDATE rules SET name = ?, description = ?, "
                                         "target_id = ?, enabled = ?, filter = ?, mappings = ?, "
                                         "updated_at = ? WHERE id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, r->name);
    store__bind_text(s, 2, r->description ? r->description : "");
    store__bind_text(s, 3, r->target_id[0] ? r->target_id : NULL);
    sqlite3_bind_int(s, 4, r->enabled ? 1 : 0);
    store__bind_text(s, 5, r->filter);
    store__bind_text(s, 6, r->mappings ? r->mappings : "[]");
    sqlite3_bind_int64(s, 7, r->updated_at);
    store__bind_text(s, 8, r->id);
    return step_change(st, s);
}

static enum sc_err sqlite_rule_get(struct store *st, const char *id, struct store_rule *out)
{
    return get_row(st, "SELECT " RULE_COLS " FROM rules WHERE id = ?", &rule_kind, id, out);
}

static enum sc_err sqlite_rule_list(struct store *st, const char *cursor, int limit,
                                    struct store_rule **out, size_t *n, char *next_cursor)
{
    void *v = NULL;
    enum sc_err err =
        list_rows(st, "SELECT " RULE_COLS " FROM rules WHERE seq > ? ORDER BY seq LIMIT ?",
                  &rule_kind, cursor, limit, &v, n, next_cursor);
    *out = v;
    return err;
}

static enum sc_err sqlite_rule_delete(struct store *st, const char *id)
{
    sqlite3_stmt *s = store__prepare(st, "DELETE FROM rules WHERE id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, id);
    return step_change(st, s);
}

/* The first column of row s into dst (an id; store__rows' fill). */
static void id_from_row(sqlite3_stmt *s, void *dst)
{
    store__column_copy(s, 0, dst, SC_UUID_LEN + 1);
}

/* Reads the first column of every row of s (bound by the caller) as ids. */
static enum sc_err read_ids(struct store *st, sqlite3_stmt *s, char (**ids)[SC_UUID_LEN + 1],
                            size_t *n)
{
    void *v = NULL;
    enum sc_err err = store__rows_plain(st, s, sizeof **ids, id_from_row, &v, n);
    *ids = v;
    return err;
}

static enum sc_err sqlite_rule_enabled_ids(struct store *st, char (**ids)[SC_UUID_LEN + 1],
                                           size_t *n)
{
    sqlite3_stmt *s = store__prepare(st, "SELECT r.id FROM rules r JOIN connections c ON "
                                         "c.id = r.target_id WHERE r.enabled = 1 AND "
                                         "c.enabled = 1 ORDER BY r.seq");
    if (!s) {
        *ids = NULL;
        *n = 0;
        return SC_ERR_DB;
    }
    return read_ids(st, s, ids, n);
}

static enum sc_err sqlite_rule_ids_by_target(struct store *st, const char *connection_id,
                                             char (**ids)[SC_UUID_LEN + 1], size_t *n)
{
    sqlite3_stmt *s = store__prepare(st, "SELECT id FROM rules WHERE target_id = ? ORDER BY seq");
    if (!s) {
        *ids = NULL;
        *n = 0;
        return SC_ERR_DB;
    }
    store__bind_text(s, 1, connection_id);
    return read_ids(st, s, ids, n);
}

static enum sc_err sqlite_connection_caps_get(struct store *st, const char *connection_id,
                                              char **doc, int64_t *updated_at)
{
    *doc = NULL;
    sqlite3_stmt *s = store__prepare(
        st, "SELECT doc, updated_at FROM connection_capabilities WHERE connection_id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, connection_id);
    enum sc_err err = SC_OK;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        char *d = store__column_dup(s, 0);
        if (!d) {
            err = SC_ERR_NOMEM;
        } else {
            *doc = d;
            if (updated_at)
                *updated_at = sqlite3_column_int64(s, 1);
        }
    } else {
        err = rc == SQLITE_DONE ? SC_ERR_NOT_FOUND : store__err(st, rc);
    }
    sqlite3_reset(s);
    return err;
}

static enum sc_err sqlite_connection_caps_put(struct store *st, const char *connection_id,
                                              const char *doc, int64_t updated_at)
{
    sqlite3_stmt *s = store__prepare(
        st, "INSERT INTO connection_capabilities(connection_id, doc, updated_at) VALUES(?, ?, ?) "
            "ON CONFLICT(connection_id) DO UPDATE SET doc = excluded.doc, "
            "updated_at = excluded.updated_at");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, connection_id);
    store__bind_text(s, 2, doc);
    sqlite3_bind_int64(s, 3, updated_at);
    enum sc_err err = step_change(st, s);
    return err == SC_ERR_INVALID ? SC_ERR_NOT_FOUND : err;
}

const struct store_provision_ops store__sqlite_provision_ops = {
    .connection_insert = sqlite_connection_insert,
    .connection_update = sqlite_connection_update,
    .connection_get = sqlite_connection_get,
    .connection_list = sqlite_connection_list,
    .connection_delete = sqlite_connection_delete,
    .rule_targeting = sqlite_rule_targeting,
    .rule_insert = sqlite_rule_insert,
    .rule_update = sqlite_rule_update,
    .rule_get = sqlite_rule_get,
    .rule_list = sqlite_rule_list,
    .rule_delete = sqlite_rule_delete,
    .rule_enabled_ids = sqlite_rule_enabled_ids,
    .connection_caps_get = sqlite_connection_caps_get,
    .connection_caps_put = sqlite_connection_caps_put,
    .rule_ids_by_target = sqlite_rule_ids_by_target,
};
