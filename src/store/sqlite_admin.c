/* The admin component of the SQLite back-end: the named admin tokens' table and the
 * store functions declared in store/store_admin.h. */
#include "store/sqlite_internal.h"
#include "base/buf.h"

#include <stdlib.h>
#include <string.h>

static const struct store_migration admin_migrations[] = {
    {1, "CREATE TABLE admin_tokens ("
        " id TEXT PRIMARY KEY,"
        " name TEXT NOT NULL UNIQUE,"
        " prefix TEXT NOT NULL,"
        " hash TEXT NOT NULL UNIQUE,"
        " created_at INTEGER NOT NULL,"
        " last_used_at INTEGER,"
        " expires_at INTEGER);"},
};
const struct store_component store__admin_schema = {"admin", admin_migrations, 1};

#define TOKEN_COLUMNS "id, name, prefix, hash, created_at, last_used_at, expires_at"

/* A token row into t (a struct store_admin_token; store__rows' and store__row's fill). */
static void token_from_row(sqlite3_stmt *s, void *dst)
{
    struct store_admin_token *t = dst;
    memset(t, 0, sizeof *t);
    store__column_copy(s, 0, t->id, sizeof t->id);
    store__column_copy(s, 1, t->name, sizeof t->name);
    store__column_copy(s, 2, t->prefix, sizeof t->prefix);
    store__column_copy(s, 3, t->hash, sizeof t->hash);
    t->created_at = sqlite3_column_int64(s, 4);
    t->last_used_at = sqlite3_column_int64(s, 5);
    t->expires_at = sqlite3_column_int64(s, 6);
}

static void bind_token(sqlite3_stmt *s, const struct store_admin_token *t)
{
    store__bind_text(s, 1, t->id);
    store__bind_text(s, 2, t->name);
    store__bind_text(s, 3, t->prefix);
    store__bind_text(s, 4, t->hash);
    sqlite3_bind_int64(s, 5, t->created_at);
    if (t->last_used_at)
        sqlite3_bind_int64(s, 6, t->last_used_at);
    else
        sqlite3_bind_null(s, 6);
    if (t->expires_at)
        sqlite3_bind_int64(s, 7, t->expires_at);
    else
        sqlite3_bind_null(s, 7);
}

static enum sc_err sqlite_token_insert(struct store *st, const struct store_admin_token *t)
{
    sqlite3_stmt *s = store__prepare(st, "INSERT INTO admin_tokens(" TOKEN_COLUMNS
                                         ") VALUES(?, ?, ?, ?, ?, ?, ?)");
    if (!s)
        return SC_ERR_DB;
    bind_token(s, t);
    return store__step_done(st, s);
}

static enum sc_err sqlite_token_put_named(struct store *st, const struct store_admin_token *t)
{
    sqlite3_stmt *s =
        store__prepare(st, "INSERT INTO admin_tokens(" TOKEN_COLUMNS
                           ") VALUES(?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET"
                           " prefix = excluded.prefix, hash = excluded.hash,"
                           " created_at = excluded.created_at, last_used_at = NULL,"
                           " expires_at = excluded.expires_at"
                           " WHERE admin_tokens.hash <> excluded.hash");
    if (!s)
        return SC_ERR_DB;
    bind_token(s, t);
    return store__step_done(st, s);
}

static enum sc_err sqlite_token_find_hash(struct store *st, const char *hash,
                                          struct store_admin_token *out)
{
    sqlite3_stmt *s =
        store__prepare(st, "SELECT " TOKEN_COLUMNS " FROM admin_tokens WHERE hash = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, hash);
    return store__row(st, s, token_from_row, out);
}

static enum sc_err sqlite_token_list(struct store *st, struct store_admin_token **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s =
        store__prepare(st, "SELECT " TOKEN_COLUMNS " FROM admin_tokens ORDER BY created_at, id");
    if (!s)
        return SC_ERR_DB;
    void *v = NULL;
    enum sc_err err = store__rows_plain(st, s, sizeof **out, token_from_row, &v, n);
    *out = v;
    return err;
}

static enum sc_err sqlite_token_delete(struct store *st, const char *id, int *last)
{
    *last = 0;
    /* one statement: SQLite runs it under the write lock, so the count it sees stays */
    sqlite3_stmt *s = store__prepare(st, "DELETE FROM admin_tokens WHERE id = ?"
                                         " AND (SELECT count(*) FROM admin_tokens) > 1");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, id);
    enum sc_err err = store__step_done(st, s);
    if (err)
        return err;
    if (sqlite3_changes(sqlite__db(st)) > 0)
        return SC_OK;
    s = store__prepare(st, "SELECT 1 FROM admin_tokens WHERE id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW) {
        *last = 1;
        return SC_OK;
    }
    return rc == SQLITE_DONE ? SC_ERR_NOT_FOUND : store__err(st, rc);
}

static enum sc_err sqlite_token_touch(struct store *st, const char *id, int64_t now,
                                      int64_t min_age_ms)
{
    sqlite3_stmt *s = store__prepare(st, "UPDATE admin_tokens SET last_used_at = ? WHERE id = ?"
                                         " AND (last_used_at IS NULL OR last_used_at <= ?)");
    if (!s)
        return SC_ERR_DB;
    sqlite3_bind_int64(s, 1, now);
    store__bind_text(s, 2, id);
    sqlite3_bind_int64(s, 3, now - min_age_ms);
    return store__step_done(st, s);
}

const struct store_admin_ops store__sqlite_admin_ops = {
    .token_insert = sqlite_token_insert,
    .token_put_named = sqlite_token_put_named,
    .token_find_hash = sqlite_token_find_hash,
    .token_list = sqlite_token_list,
    .token_delete = sqlite_token_delete,
    .token_touch = sqlite_token_touch,
};
