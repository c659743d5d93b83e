/* The target component of the SQLite back-end: its schema migrations and the store
 * functions declared in store/store_target.h. Rows keep their creation order through
 * an integer sequence so a restarted target lists resources as before. */
#include "store/sqlite_internal.h"
#include "store/store_target.h"

static const struct store_migration target_migrations[] = {
    {1, "CREATE TABLE target_resources ("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " id TEXT NOT NULL UNIQUE,"
        " kind TEXT NOT NULL,"
        " version INTEGER NOT NULL,"
        " data TEXT NOT NULL);"},
};
const struct store_component store__target_schema = {"target", target_migrations, 1};

static enum sc_err sqlite_target_put(struct store *st, const char *kind, const char *id,
                                     int64_t version, const char *json)
{
    sqlite3_stmt *s = store__prepare(st, "INSERT INTO target_resources(id, kind, version, data)"
                                         " VALUES(?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
                                         " version = excluded.version, data = excluded.data");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, id);
    store__bind_text(s, 2, kind);
    sqlite3_bind_int64(s, 3, version);
    store__bind_text(s, 4, json);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SC_OK : store__err(st, rc);
}

static enum sc_err sqlite_target_delete(struct store *st, const char *id)
{
    sqlite3_stmt *s = store__prepare(st, "DELETE FROM target_resources WHERE id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SC_OK : store__err(st, rc);
}

static enum sc_err sqlite_target_each(struct store *st,
                                      int (*fn)(void *arg, const char *kind, const char *id,
                                                int64_t version, const char *json),
                                      void *arg)
{
    sqlite3_stmt *s =
        store__prepare(st, "SELECT kind, id, version, data FROM target_resources ORDER BY seq");
    if (!s)
        return SC_ERR_DB;
    enum sc_err err = SC_OK;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (fn(arg, (const char *)sqlite3_column_text(s, 0),
               (const char *)sqlite3_column_text(s, 1), sqlite3_column_int64(s, 2),
               (const char *)sqlite3_column_text(s, 3))) {
            err = SC_ERR_INVALID;
            break;
        }
    }
    if (!err && rc != SQLITE_DONE)
        err = store__err(st, rc);
    sqlite3_reset(s);
    return err;
}

const struct store_target_ops store__sqlite_target_ops = {
    .put = sqlite_target_put,
    .delete = sqlite_target_delete,
    .each = sqlite_target_each,
};
