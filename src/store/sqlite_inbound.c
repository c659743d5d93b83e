/* The inbound SCIM component of the SQLite back-end: the inbound tokens' table, the
 * records kept per user and group written through /scim/v2, and the store functions of
 * store/store_inbound.h. */
#include "store/sqlite_internal.h"
#include "base/buf.h"

#include <stdlib.h>
#include <string.h>

static const struct store_migration inbound_migrations[] = {
    {1, "CREATE TABLE inbound_tokens ("
        " id TEXT PRIMARY KEY,"
        " name TEXT NOT NULL UNIQUE,"
        " prefix TEXT NOT NULL,"
        " hash TEXT NOT NULL UNIQUE,"
        " population_id TEXT NOT NULL,"
        " scope TEXT NOT NULL,"
        " source_connection TEXT,"
        " created_at INTEGER NOT NULL,"
        " last_used_at INTEGER);"
        "CREATE TABLE inbound_users ("
        " user_id TEXT PRIMARY KEY REFERENCES dir_users(id) ON DELETE CASCADE,"
        " source TEXT,"
        " extra TEXT);"
        "CREATE TABLE inbound_groups ("
        " group_id TEXT PRIMARY KEY REFERENCES dir_groups(id) ON DELETE CASCADE,"
        " extra TEXT);"},
    /* users made by an import (POST /api/v1/users/import): their source is the import */
    {2, "ALTER TABLE inbound_users ADD COLUMN imported INTEGER NOT NULL DEFAULT 0;"},
    /* the source connection of the token that made the user, kept with the user: the
     * engine's loop check holds after the token is revoked */
    {3, "ALTER TABLE inbound_users ADD COLUMN source_connection TEXT;"
        "UPDATE inbound_users SET source_connection = (SELECT t.source_connection FROM"
        " inbound_tokens t WHERE t.name = inbound_users.source) WHERE source IS NOT NULL;"},
};
const struct store_component store__inbound_schema = {"inbound", inbound_migrations, 3};

#define TOKEN_COLUMNS                                                                              \
    "id, name, prefix, hash, population_id, scope, created_at, last_used_at, source_connection"

/* A token row into t (a struct store_inbound_token; store__rows' and store__row's fill). */
static void token_from_row(sqlite3_stmt *s, void *dst)
{
    struct store_inbound_token *t = dst;
    memset(t, 0, sizeof *t);
    store__column_copy(s, 0, t->id, sizeof t->id);
    store__column_copy(s, 1, t->name, sizeof t->name);
    store__column_copy(s, 2, t->prefix, sizeof t->prefix);
    store__column_copy(s, 3, t->hash, sizeof t->hash);
    store__column_copy(s, 4, t->population_id, sizeof t->population_id);
    store__column_copy(s, 5, t->scope, sizeof t->scope);
    t->created_at = sqlite3_column_int64(s, 6);
    t->last_used_at = sqlite3_column_int64(s, 7);
    store__column_copy(s, 8, t->source_connection, sizeof t->source_connection);
}

static enum sc_err token_insert(struct store *st, const struct store_inbound_token *t)
{
    sqlite3_stmt *s = store__prepare(st, "INSERT INTO inbound_tokens(" TOKEN_COLUMNS
                                         ") VALUES(?, ?, ?, ?, ?, ?, ?, NULL, ?)");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, t->id);
    store__bind_text(s, 2, t->name);
    store__bind_text(s, 3, t->prefix);
    store__bind_text(s, 4, t->hash);
    store__bind_text(s, 5, t->population_id);
    store__bind_text(s, 6, t->scope);
    sqlite3_bind_int64(s, 7, t->created_at);
    store__bind_text(s, 8, t->source_connection[0] ? t->source_connection : NULL);
    return store__step_done(st, s);
}

static enum sc_err token_find_hash(struct store *st, const char *hash,
                                   struct store_inbound_token *out)
{
    sqlite3_stmt *s =
        store__prepare(st, "SELECT " TOKEN_COLUMNS " FROM inbound_tokens WHERE hash = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, hash);
    return store__row(st, s, token_from_row, out);
}

static enum sc_err token_list(struct store *st, struct store_inbound_token **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s =
        store__prepare(st, "SELECT " TOKEN_COLUMNS " FROM inbound_tokens ORDER BY created_at, id");
    if (!s)
        return SC_ERR_DB;
    void *v = NULL;
    enum sc_err err = store__rows_plain(st, s, sizeof **out, token_from_row, &v, n);
    *out = v;
    return err;
}

static enum sc_err token_delete(struct store *st, const char *id)
{
    sqlite3_stmt *s = store__prepare(st, "DELETE FROM inbound_tokens WHERE id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, id);
    enum sc_err err = store__step_done(st, s);
    if (err)
        return err;
    return sqlite3_changes(sqlite__db(st)) > 0 ? SC_OK : SC_ERR_NOT_FOUND;
}

static enum sc_err token_set_source(struct store *st, const char *id, const char *connection_id)
{
    sqlite3_stmt *s =
        store__prepare(st, "UPDATE inbound_tokens SET source_connection = ? WHERE id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, connection_id);
    store__bind_text(s, 2, id);
    enum sc_err err = store__step_done(st, s);
    if (err)
        return err;
    if (sqlite3_changes(sqlite__db(st)) == 0)
        return SC_ERR_NOT_FOUND;
    /* the token's users carry its source connection (the engine's loop check) */
    s = store__prepare(st, "UPDATE inbound_users SET source_connection = ? WHERE source ="
                           " (SELECT name FROM inbound_tokens WHERE id = ?)");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, connection_id);
    store__bind_text(s, 2, id);
    return store__step_done(st, s);
}

static enum sc_err token_touch(struct store *st, const char *id, int64_t now, int64_t min_age_ms)
{
    sqlite3_stmt *s = store__prepare(st, "UPDATE inbound_tokens SET last_used_at = ? WHERE id = ?"
                                         " AND (last_used_at IS NULL OR last_used_at <= ?)");
    if (!s)
        return SC_ERR_DB;
    sqlite3_bind_int64(s, 1, now);
    store__bind_text(s, 2, id);
    sqlite3_bind_int64(s, 3, now - min_age_ms);
    return store__step_done(st, s);
}

static enum sc_err dup_col(sqlite3_stmt *s, int col, char **out)
{
    const char *v = (const char *)sqlite3_column_text(s, col);
    if (!out || !v)
        return SC_OK;
    *out = strdup(v);
    return *out ? SC_OK : SC_ERR_NOMEM;
}

static enum sc_err extra_get(struct store *st, enum store_inbound_kind k, const char *id,
                             char **source, char **extra)
{
    sqlite3_stmt *s = store__prepare(
        st, k == STORE_INBOUND_USER ? "SELECT source, extra FROM inbound_users WHERE user_id = ?"
                                    : "SELECT NULL, extra FROM inbound_groups WHERE group_id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    enum sc_err err = SC_OK;
    if (rc == SQLITE_ROW) {
        if ((err = dup_col(s, 0, source)) == SC_OK)
            err = dup_col(s, 1, extra);
    } else {
        err = rc == SQLITE_DONE ? SC_ERR_NOT_FOUND : store__err(st, rc);
    }
    sqlite3_reset(s);
    return err;
}

static enum sc_err extra_put(struct store *st, enum store_inbound_kind k, const char *id,
                             const char *source, const char *extra)
{
    sqlite3_stmt *s =
        store__prepare(st, k == STORE_INBOUND_USER
                               ? "INSERT INTO inbound_users(user_id, source, extra, "
                                 "source_connection) VALUES(?1, ?2, ?3, (SELECT source_connection"
                                 " FROM inbound_tokens WHERE name = ?2))"
                                 " ON CONFLICT(user_id) DO UPDATE SET extra = excluded.extra"
                               : "INSERT INTO inbound_groups(group_id, extra) VALUES(?, ?)"
                                 " ON CONFLICT(group_id) DO UPDATE SET extra = excluded.extra");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, id);
    if (k == STORE_INBOUND_USER) {
        store__bind_text(s, 2, source);
        store__bind_text(s, 3, extra);
    } else {
        store__bind_text(s, 2, extra);
    }
    return store__step_done(st, s);
}

static enum sc_err user_imported(struct store *st, const char *user_id, int *imported)
{
    *imported = 0;
    sqlite3_stmt *s = store__prepare(st, "SELECT imported FROM inbound_users WHERE user_id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, user_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *imported = sqlite3_column_int(s, 0) != 0;
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SC_OK : store__err(st, rc);
}

static enum sc_err mark_imported(struct store *st, const char *user_id)
{
    sqlite3_stmt *s = store__prepare(st, "INSERT INTO inbound_users(user_id, imported) VALUES(?, 1)"
                                         " ON CONFLICT(user_id) DO NOTHING");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, user_id);
    return store__step_done(st, s);
}

const struct store_inbound_ops store__sqlite_inbound_ops = {
    .token_insert = token_insert,
    .token_find_hash = token_find_hash,
    .token_list = token_list,
    .token_delete = token_delete,
    .token_touch = token_touch,
    .token_set_source = token_set_source,
    .extra_get = extra_get,
    .extra_put = extra_put,
    .user_imported = user_imported,
    .mark_imported = mark_imported,
};
