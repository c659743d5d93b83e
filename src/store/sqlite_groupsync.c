/* The groupsync component of the SQLite back-end: its schema migrations and the store
 * functions declared in store/store_groupsync.h (a rule's group section, group links and
 * the members recorded on each target group). */
#include "store/sqlite_internal.h"
#include "base/buf.h"
#include "base/clock.h"
#include "store/store_groupsync.h"

#include <stdlib.h>
#include <string.h>

static const struct store_migration groupsync_migrations[] = {
    {1, "CREATE TABLE sync_group_config ("
        " rule_id TEXT PRIMARY KEY,"
        " config TEXT NOT NULL);"
        "CREATE TABLE sync_group_links ("
        " rule_id TEXT NOT NULL,"
        " group_id TEXT NOT NULL,"
        " name TEXT,"
        " target_id TEXT,"
        " sent TEXT,"
        " state TEXT NOT NULL,"
        " last_error TEXT,"
        " updated_at INTEGER NOT NULL,"
        " PRIMARY KEY(rule_id, group_id));"
        "CREATE TABLE sync_group_members ("
        " rule_id TEXT NOT NULL,"
        " group_id TEXT NOT NULL,"
        " target_member_id TEXT NOT NULL,"
        " member_id TEXT,"
        " kind TEXT NOT NULL,"
        " PRIMARY KEY(rule_id, group_id, target_member_id));"
        "CREATE INDEX sync_group_members_member ON sync_group_members(rule_id, member_id);"},
};
const struct store_component store__groupsync_schema = {"groupsync", groupsync_migrations, 1};

static enum sc_err sqlite_gs_config_get(struct store *st, const char *rule_id, char **out)
{
    sqlite3_stmt *s = store__prepare(st, "SELECT config FROM sync_group_config WHERE rule_id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    return store__text_row(st, s, out);
}

static enum sc_err sqlite_gs_config_put(struct store *st, const char *rule_id, const char *json)
{
    sqlite3_stmt *s = store__prepare(st, "INSERT INTO sync_group_config(rule_id, config) "
                                         "VALUES(?, ?) ON CONFLICT(rule_id) DO UPDATE SET "
                                         "config = excluded.config");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    store__bind_text(s, 2, json);
    return store__step_done(st, s);
}

#define GLINK_COLUMNS "rule_id, group_id, name, target_id, sent, state, last_error, updated_at"

/* A group link row into dst (a struct store_group_link; also store__row's fill). */
static void glink_read(sqlite3_stmt *s, void *dst)
{
    struct store_group_link *l = dst;
    memset(l, 0, sizeof *l);
    sc_strlcpy(l->rule_id, (const char *)sqlite3_column_text(s, 0), sizeof l->rule_id);
    sc_strlcpy(l->group_id, (const char *)sqlite3_column_text(s, 1), sizeof l->group_id);
    l->name = store__column_dup(s, 2);
    l->target_id = store__column_dup(s, 3);
    l->sent = store__column_dup(s, 4);
    sc_strlcpy(l->state, (const char *)sqlite3_column_text(s, 5), sizeof l->state);
    l->last_error = store__column_dup(s, 6);
    l->updated_at = sqlite3_column_int64(s, 7);
}

static enum sc_err sqlite_gs_link_get(struct store *st, const char *rule_id, const char *group_id,
                                      struct store_group_link *out)
{
    sqlite3_stmt *s = store__prepare(
        st, "SELECT " GLINK_COLUMNS " FROM sync_group_links WHERE rule_id = ? AND group_id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    store__bind_text(s, 2, group_id);
    return store__row(st, s, glink_read, out);
}

static enum sc_err sqlite_gs_link_put(struct store *st, const struct store_group_link *l)
{
    sqlite3_stmt *s = store__prepare(st, "INSERT OR REPLACE INTO sync_group_links(" GLINK_COLUMNS
                                         ") VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, l->rule_id);
    store__bind_text(s, 2, l->group_id);
    store__bind_text(s, 3, l->name);
    store__bind_text(s, 4, l->target_id);
    store__bind_text(s, 5, l->sent);
    store__bind_text(s, 6, l->state[0] ? l->state : GROUPSYNC_STATE_PENDING);
    store__bind_text(s, 7, l->last_error);
    sqlite3_bind_int64(s, 8, sc_clock_now_ms());
    return store__step_done(st, s);
}

static enum sc_err sqlite_gs_members_clear(struct store *st, const char *rule_id,
                                           const char *group_id)
{
    sqlite3_stmt *s =
        store__prepare(st, "DELETE FROM sync_group_members WHERE rule_id = ? AND group_id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    store__bind_text(s, 2, group_id);
    return store__step_done(st, s);
}

static enum sc_err sqlite_gs_link_delete(struct store *st, const char *rule_id,
                                         const char *group_id)
{
    enum sc_err err = sqlite_gs_members_clear(st, rule_id, group_id);
    if (err)
        return err;
    sqlite3_stmt *s =
        store__prepare(st, "DELETE FROM sync_group_links WHERE rule_id = ? AND group_id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    store__bind_text(s, 2, group_id);
    return store__step_done(st, s);
}

static enum sc_err sqlite_gs_link_each(struct store *st, const char *rule_id,
                                       int (*fn)(void *arg, const struct store_group_link *l),
                                       void *arg)
{
    sqlite3_stmt *s = store__prepare(
        st, "SELECT l.rule_id, l.group_id, l.name, l.target_id, l.sent, l.state, l.last_error, "
            "l.updated_at, (SELECT COUNT(*) FROM sync_group_members m WHERE m.rule_id = "
            "l.rule_id AND m.group_id = l.group_id) FROM sync_group_links l WHERE l.rule_id = ? "
            "ORDER BY l.group_id");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    enum sc_err err = SC_OK;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_group_link l;
        glink_read(s, &l);
        l.members = sqlite3_column_int64(s, 8);
        int stop = fn(arg, &l);
        store_groupsync_link_clear(&l);
        if (stop) {
            err = SC_ERR_INTERNAL;
            break;
        }
    }
    if (!err && rc != SQLITE_DONE)
        err = store__err(st, rc);
    sqlite3_reset(s);
    return err;
}

static enum sc_err sqlite_gs_members_each(struct store *st, const char *rule_id,
                                          const char *group_id,
                                          int (*fn)(void *arg, const char *target_member_id,
                                                    const char *member_id, const char *kind),
                                          void *arg)
{
    sqlite3_stmt *s = store__prepare(st, "SELECT target_member_id, member_id, kind FROM "
                                         "sync_group_members WHERE rule_id = ? AND group_id = ? "
                                         "ORDER BY target_member_id");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    store__bind_text(s, 2, group_id);
    enum sc_err err = SC_OK;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (fn(arg, (const char *)sqlite3_column_text(s, 0),
               (const char *)sqlite3_column_text(s, 1), (const char *)sqlite3_column_text(s, 2))) {
            err = SC_ERR_INTERNAL;
            break;
        }
    }
    if (!err && rc != SQLITE_DONE)
        err = store__err(st, rc);
    sqlite3_reset(s);
    return err;
}

static enum sc_err sqlite_gs_member_put(struct store *st, const char *rule_id, const char *group_id,
                                        const char *target_member_id, const char *member_id,
                                        const char *kind)
{
    sqlite3_stmt *s = store__prepare(st, "INSERT OR REPLACE INTO sync_group_members(rule_id, "
                                         "group_id, target_member_id, member_id, kind) "
                                         "VALUES(?, ?, ?, ?, ?)");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    store__bind_text(s, 2, group_id);
    store__bind_text(s, 3, target_member_id);
    store__bind_text(s, 4, member_id);
    store__bind_text(s, 5, kind);
    return store__step_done(st, s);
}

static enum sc_err sqlite_gs_member_delete(struct store *st, const char *rule_id,
                                           const char *group_id, const char *target_member_id)
{
    sqlite3_stmt *s = store__prepare(st, "DELETE FROM sync_group_members WHERE rule_id = ? AND "
                                         "group_id = ? AND target_member_id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    store__bind_text(s, 2, group_id);
    store__bind_text(s, 3, target_member_id);
    return store__step_done(st, s);
}

static enum sc_err sqlite_gs_member_groups(struct store *st, const char *rule_id,
                                           const char *member_id,
                                           int (*fn)(void *arg, const char *group_id), void *arg)
{
    sqlite3_stmt *s = store__prepare(st, "SELECT DISTINCT group_id FROM sync_group_members "
                                         "WHERE rule_id = ? AND member_id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    store__bind_text(s, 2, member_id);
    enum sc_err err = SC_OK;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (fn(arg, (const char *)sqlite3_column_text(s, 0))) {
            err = SC_ERR_INTERNAL;
            break;
        }
    }
    if (!err && rc != SQLITE_DONE)
        err = store__err(st, rc);
    sqlite3_reset(s);
    return err;
}

static enum sc_err sqlite_gs_user_target(struct store *st, const char *rule_id, const char *user_id,
                                         char *target, size_t cap, int *found)
{
    sqlite3_stmt *s = store__prepare(
        st, "SELECT target_id FROM sync_links WHERE rule_id = ? AND user_id = ? AND target_id "
            "IS NOT NULL AND state NOT IN ('DISABLED', 'DELETED', 'OUT_OF_SCOPE')");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    store__bind_text(s, 2, user_id);
    int rc = sqlite3_step(s);
    *found = 0;
    enum sc_err err = SC_OK;
    if (rc == SQLITE_ROW) {
        *found = 1;
        sc_strlcpy(target, (const char *)sqlite3_column_text(s, 0), cap);
    } else if (rc != SQLITE_DONE) {
        err = store__err(st, rc);
    }
    sqlite3_reset(s);
    return err;
}

static enum sc_err sqlite_gs_counts(struct store *st, const char *rule_id,
                                    struct store_groupsync_counts *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = store__prepare(
        st, "SELECT COUNT(*), COALESCE(SUM(state = 'SYNCED'), 0), COALESCE(SUM(state = "
            "'FAILED'), 0), COALESCE(SUM(state = 'BRAKED'), 0), (SELECT COUNT(*) FROM "
            "sync_group_members WHERE rule_id = ?1) FROM sync_group_links WHERE rule_id = ?1");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        out->groups = sqlite3_column_int64(s, 0);
        out->synced = sqlite3_column_int64(s, 1);
        out->failed = sqlite3_column_int64(s, 2);
        out->braked = sqlite3_column_int64(s, 3);
        out->members = sqlite3_column_int64(s, 4);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? SC_OK : store__err(st, rc);
}

static enum sc_err sqlite_gs_forget(struct store *st, const char *rule_id)
{
    static const char *const sql[] = {
        "DELETE FROM sync_group_members WHERE rule_id = ?",
        "DELETE FROM sync_group_links WHERE rule_id = ?",
        "DELETE FROM sync_group_config WHERE rule_id = ?",
    };
    return store__run_each(st, sql, sizeof sql / sizeof sql[0], rule_id);
}

const struct store_groupsync_ops store__sqlite_groupsync_ops = {
    .config_get = sqlite_gs_config_get,
    .config_put = sqlite_gs_config_put,
    .link_get = sqlite_gs_link_get,
    .link_put = sqlite_gs_link_put,
    .link_delete = sqlite_gs_link_delete,
    .link_each = sqlite_gs_link_each,
    .members_each = sqlite_gs_members_each,
    .member_put = sqlite_gs_member_put,
    .member_delete = sqlite_gs_member_delete,
    .members_clear = sqlite_gs_members_clear,
    .member_groups = sqlite_gs_member_groups,
    .user_target = sqlite_gs_user_target,
    .counts = sqlite_gs_counts,
    .forget = sqlite_gs_forget,
};
