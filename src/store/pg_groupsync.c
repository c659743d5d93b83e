/* The groupsync component of the PostgreSQL back-end: its schema migrations and the
 * store functions declared in store/store_groupsync.h, as the SQLite back-end's
 * (sqlite_groupsync.c). */
#include "store/pg_internal.h"
#include "base/buf.h"
#include "base/clock.h"
#include "store/store_groupsync.h"

#include <stdlib.h>
#include <string.h>

static const struct pg_migration groupsync_migrations[] = {
    {1, "CREATE TABLE sync_group_config ("
        " rule_id TEXT COLLATE \"C\" PRIMARY KEY,"
        " config TEXT NOT NULL);"
        "CREATE TABLE sync_group_links ("
        " rule_id TEXT COLLATE \"C\" NOT NULL,"
        " group_id TEXT COLLATE \"C\" NOT NULL,"
        " name TEXT,"
        " target_id TEXT,"
        " sent TEXT,"
        " state TEXT COLLATE \"C\" NOT NULL,"
        " last_error TEXT,"
        " updated_at BIGINT NOT NULL,"
        " PRIMARY KEY(rule_id, group_id));"
        "CREATE TABLE sync_group_members ("
        " rule_id TEXT COLLATE \"C\" NOT NULL,"
        " group_id TEXT COLLATE \"C\" NOT NULL,"
        " target_member_id TEXT COLLATE \"C\" NOT NULL,"
        " member_id TEXT COLLATE \"C\","
        " kind TEXT NOT NULL,"
        " PRIMARY KEY(rule_id, group_id, target_member_id));"
        "CREATE INDEX sync_group_members_member ON sync_group_members(rule_id, member_id);"},
};
const struct pg_component store__pg_groupsync_schema = {"groupsync", groupsync_migrations, 1};

static enum sc_err pg_gs_config_get(struct store *st, const char *rule_id, char **out)
{
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    return pg__text_row(st, "SELECT config FROM sync_group_config WHERE rule_id = $1", &a, out);
}

static enum sc_err pg_gs_config_put(struct store *st, const char *rule_id, const char *json)
{
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    pg__arg_text(&a, json);
    return pg__cmd(st,
                   "INSERT INTO sync_group_config(rule_id, config) VALUES($1, $2) ON "
                   "CONFLICT(rule_id) DO UPDATE SET config = excluded.config",
                   &a, NULL);
}

#define GLINK_COLUMNS "rule_id, group_id, name, target_id, sent, state, last_error, updated_at"

/* A group link row into dst (a struct store_group_link; also pg__row's fill). */
static void glink_read(const PGresult *r, int row, void *dst)
{
    struct store_group_link *l = dst;
    memset(l, 0, sizeof *l);
    const char *t = pg__col_text(r, row, 0);
    sc_strlcpy(l->rule_id, t ? t : "", sizeof l->rule_id);
    t = pg__col_text(r, row, 1);
    sc_strlcpy(l->group_id, t ? t : "", sizeof l->group_id);
    l->name = pg__col_dup(r, row, 2);
    l->target_id = pg__col_dup(r, row, 3);
    l->sent = pg__col_dup(r, row, 4);
    t = pg__col_text(r, row, 5);
    sc_strlcpy(l->state, t ? t : "", sizeof l->state);
    l->last_error = pg__col_dup(r, row, 6);
    l->updated_at = pg__col_int(r, row, 7);
}

static enum sc_err pg_gs_link_get(struct store *st, const char *rule_id, const char *group_id,
                                  struct store_group_link *out)
{
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    pg__arg_text(&a, group_id);
    return pg__row(st,
                   "SELECT " GLINK_COLUMNS " FROM sync_group_links WHERE rule_id = $1 AND "
                   "group_id = $2",
                   &a, glink_read, out);
}

static enum sc_err pg_gs_link_put(struct store *st, const struct store_group_link *l)
{
    struct pg_args a = {0};
    pg__arg_text(&a, l->rule_id);
    pg__arg_text(&a, l->group_id);
    pg__arg_text(&a, l->name);
    pg__arg_text(&a, l->target_id);
    pg__arg_text(&a, l->sent);
    pg__arg_text(&a, l->state[0] ? l->state : GROUPSYNC_STATE_PENDING);
    pg__arg_text(&a, l->last_error);
    pg__arg_int(&a, sc_clock_now_ms());
    return pg__cmd(st,
                   "INSERT INTO sync_group_links(" GLINK_COLUMNS
                   ") VALUES($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT(rule_id, group_id) DO "
                   "UPDATE SET name = excluded.name, target_id = excluded.target_id, sent = "
                   "excluded.sent, state = excluded.state, last_error = excluded.last_error, "
                   "updated_at = excluded.updated_at",
                   &a, NULL);
}

static enum sc_err pg_gs_members_clear(struct store *st, const char *rule_id, const char *group_id)
{
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    pg__arg_text(&a, group_id);
    return pg__cmd(st, "DELETE FROM sync_group_members WHERE rule_id = $1 AND group_id = $2", &a,
                   NULL);
}

static enum sc_err pg_gs_link_delete(struct store *st, const char *rule_id, const char *group_id)
{
    enum sc_err err = pg_gs_members_clear(st, rule_id, group_id);
    if (err)
        return err;
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    pg__arg_text(&a, group_id);
    return pg__cmd(st, "DELETE FROM sync_group_links WHERE rule_id = $1 AND group_id = $2", &a,
                   NULL);
}

static enum sc_err pg_gs_link_each(struct store *st, const char *rule_id,
                                   int (*fn)(void *arg, const struct store_group_link *l),
                                   void *arg)
{
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    PGresult *r = pg__run(
        st,
        "SELECT l.rule_id, l.group_id, l.name, l.target_id, l.sent, l.state, l.last_error, "
        "l.updated_at, (SELECT COUNT(*) FROM sync_group_members m WHERE m.rule_id = l.rule_id "
        "AND m.group_id = l.group_id) FROM sync_group_links l WHERE l.rule_id = $1 ORDER BY "
        "l.group_id",
        &a, &err);
    if (!r)
        return err;
    int rows = PQntuples(r);
    for (int i = 0; i < rows && !err; i++) {
        struct store_group_link l;
        glink_read(r, i, &l);
        l.members = pg__col_int(r, i, 8);
        if (fn(arg, &l))
            err = SC_ERR_INTERNAL;
        store_groupsync_link_clear(&l);
    }
    PQclear(r);
    return err;
}

static enum sc_err pg_gs_members_each(struct store *st, const char *rule_id, const char *group_id,
                                      int (*fn)(void *arg, const char *target_member_id,
                                                const char *member_id, const char *kind),
                                      void *arg)
{
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    pg__arg_text(&a, group_id);
    PGresult *r = pg__run(st,
                          "SELECT target_member_id, member_id, kind FROM sync_group_members "
                          "WHERE rule_id = $1 AND group_id = $2 ORDER BY target_member_id",
                          &a, &err);
    if (!r)
        return err;
    int rows = PQntuples(r);
    for (int i = 0; i < rows && !err; i++)
        if (fn(arg, pg__col_text(r, i, 0), pg__col_text(r, i, 1), pg__col_text(r, i, 2)))
            err = SC_ERR_INTERNAL;
    PQclear(r);
    return err;
}

static enum sc_err pg_gs_member_put(struct store *st, const char *rule_id, const char *group_id,
                                    const char *target_member_id, const char *member_id,
                                    const char *kind)
{
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    pg__arg_text(&a, group_id);
    pg__arg_text(&a, target_member_id);
    pg__arg_text(&a, member_id);
    pg__arg_text(&a, kind);
    return pg__cmd(st,
                   "INSERT INTO sync_group_members(rule_id, group_id, target_member_id, "
                   "member_id, kind) VALUES($1, $2, $3, $4, $5) ON CONFLICT(rule_id, group_id, "
                   "target_member_id) DO UPDATE SET member_id = excluded.member_id, kind = "
                   "excluded.kind",
                   &a, NULL);
}

static enum sc_err pg_gs_member_delete(struct store *st, const char *rule_id, const char *group_id,
                                       const char *target_member_id)
{
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    pg__arg_text(&a, group_id);
    pg__arg_text(&a, target_member_id);
    return pg__cmd(st,
                   "DELETE FROM sync_group_members WHERE rule_id = $1 AND group_id = $2 AND "
                   "target_member_id = $3",
                   &a, NULL);
}

static enum sc_err pg_gs_member_groups(struct store *st, const char *rule_id, const char *member_id,
                                       int (*fn)(void *arg, const char *group_id), void *arg)
{
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    pg__arg_text(&a, member_id);
    PGresult *r = pg__run(st,
                          "SELECT DISTINCT group_id FROM sync_group_members WHERE rule_id = $1 "
                          "AND member_id = $2",
                          &a, &err);
    if (!r)
        return err;
    int rows = PQntuples(r);
    for (int i = 0; i < rows && !err; i++)
        if (fn(arg, pg__col_text(r, i, 0)))
            err = SC_ERR_INTERNAL;
    PQclear(r);
    return err;
}

static enum sc_err pg_gs_user_target(struct store *st, const char *rule_id, const char *user_id,
                                     char *target, size_t cap, int *found)
{
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    pg__arg_text(&a, user_id);
    PGresult *r = pg__run(st,
                          "SELECT target_id FROM sync_links WHERE rule_id = $1 AND user_id = $2 "
                          "AND target_id IS NOT NULL AND state NOT IN ('DISABLED', 'DELETED', "
                          "'OUT_OF_SCOPE')",
                          &a, &err);
    *found = 0;
    if (!r)
        return err;
    if (PQntuples(r) > 0) {
        *found = 1;
        const char *t = pg__col_text(r, 0, 0);
        sc_strlcpy(target, t ? t : "", cap);
    }
    PQclear(r);
    return SC_OK;
}

static enum sc_err pg_gs_counts(struct store *st, const char *rule_id,
                                struct store_groupsync_counts *out)
{
    memset(out, 0, sizeof *out);
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    PGresult *r = pg__run(st,
                          "SELECT COUNT(*), COUNT(*) FILTER (WHERE state = 'SYNCED'), COUNT(*) "
                          "FILTER (WHERE state = 'FAILED'), COUNT(*) FILTER (WHERE state = "
                          "'BRAKED'), (SELECT COUNT(*) FROM sync_group_members WHERE rule_id = "
                          "$1) FROM sync_group_links WHERE rule_id = $1",
                          &a, &err);
    if (!r)
        return err;
    if (PQntuples(r) > 0) {
        out->groups = pg__col_int(r, 0, 0);
        out->synced = pg__col_int(r, 0, 1);
        out->failed = pg__col_int(r, 0, 2);
        out->braked = pg__col_int(r, 0, 3);
        out->members = pg__col_int(r, 0, 4);
    }
    PQclear(r);
    return SC_OK;
}

static enum sc_err pg_gs_forget(struct store *st, const char *rule_id)
{
    static const char *const sql[] = {
        "DELETE FROM sync_group_members WHERE rule_id = $1",
        "DELETE FROM sync_group_links WHERE rule_id = $1",
        "DELETE FROM sync_group_config WHERE rule_id = $1",
    };
    return pg__run_each(st, sql, sizeof sql / sizeof sql[0], rule_id);
}

const struct store_groupsync_ops store__pg_groupsync_ops = {
    .config_get = pg_gs_config_get,
    .config_put = pg_gs_config_put,
    .link_get = pg_gs_link_get,
    .link_put = pg_gs_link_put,
    .link_delete = pg_gs_link_delete,
    .link_each = pg_gs_link_each,
    .members_each = pg_gs_members_each,
    .member_put = pg_gs_member_put,
    .member_delete = pg_gs_member_delete,
    .members_clear = pg_gs_members_clear,
    .member_groups = pg_gs_member_groups,
    .user_target = pg_gs_user_target,
    .counts = pg_gs_counts,
    .forget = pg_gs_forget,
};
