/* The sync component of the SQLite back-end: its schema migrations and the store
 * functions declared in store/store_sync.h (links, outbox with leases, engine cursor,
 * per-rule state and brake, connection quarantine, provisioning log). */
#include "store/sqlite_internal.h"
#include "store/store_sync.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct store_migration sync_migrations[] = {
    {1, "CREATE TABLE sync_links ("
        " rule_id TEXT NOT NULL,"
        " user_id TEXT NOT NULL,"
        " username TEXT,"
        " target_id TEXT,"
        " state TEXT NOT NULL,"
        " sent TEXT,"
        " digest INTEGER NOT NULL DEFAULT 0,"
        " absent INTEGER NOT NULL DEFAULT 0,"
        " last_error TEXT,"
        " updated_at INTEGER NOT NULL,"
        " PRIMARY KEY(rule_id, user_id));"
        "CREATE TABLE sync_outbox ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " rule_id TEXT NOT NULL,"
        " user_id TEXT NOT NULL,"
        " flags INTEGER NOT NULL DEFAULT 0,"
        " attempts INTEGER NOT NULL DEFAULT 0,"
        " generation INTEGER NOT NULL DEFAULT 1,"
        " not_before INTEGER NOT NULL,"
        " lease_owner TEXT,"
        " lease_until INTEGER NOT NULL DEFAULT 0,"
        " created_at INTEGER NOT NULL,"
        " UNIQUE(rule_id, user_id));"
        "CREATE INDEX sync_outbox_due ON sync_outbox(not_before);"
        "CREATE TABLE sync_rules ("
        " rule_id TEXT PRIMARY KEY,"
        " resync INTEGER NOT NULL DEFAULT 0,"
        " brake_hold INTEGER NOT NULL DEFAULT 0,"
        " brake_limit INTEGER NOT NULL DEFAULT 0,"
        " last_sync_at INTEGER NOT NULL DEFAULT 0,"
        " last_resync_at INTEGER NOT NULL DEFAULT 0,"
        " last_error TEXT);"
        "CREATE TABLE sync_connections ("
        " connection_id TEXT PRIMARY KEY,"
        " quarantined INTEGER NOT NULL DEFAULT 0,"
        " reason TEXT,"
        " since INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE sync_log ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " time INTEGER NOT NULL,"
        " rule_id TEXT, user_id TEXT, username TEXT,"
        " action TEXT NOT NULL, status TEXT NOT NULL, http_status INTEGER NOT NULL DEFAULT 0,"
        " changes TEXT, error TEXT);"
        "CREATE INDEX sync_log_rule ON sync_log(rule_id, id);"
        "CREATE INDEX sync_log_user ON sync_log(user_id, id);"},
    /* status counts read an index instead of every link row */
    {2, "CREATE INDEX sync_links_state ON sync_links(rule_id, state, target_id);"},
    /* the source stamp a SYNCED link was last checked against (0 = none): a resync
     * skips users whose directory row and rule are unchanged since */
    {3, "ALTER TABLE sync_links ADD COLUMN source INTEGER NOT NULL DEFAULT 0;"},
    /* attributes the target rejected (attribute isolation); a fencing token per lease, so
     * a job whose lease was taken over cannot apply its late outcome; leasing per rule;
     * drift repair (verify) requests and figures per rule */
    {4, "ALTER TABLE sync_links ADD COLUMN rejected TEXT;"
        "ALTER TABLE sync_outbox ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;"
        "CREATE INDEX sync_outbox_rule_due ON sync_outbox(rule_id, not_before);"
        "ALTER TABLE sync_rules ADD COLUMN verify INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE sync_rules ADD COLUMN last_verify_at INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE sync_rules ADD COLUMN verify_checked INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE sync_rules ADD COLUMN verify_drifted INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE sync_rules ADD COLUMN resync_seq INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE sync_rules ADD COLUMN clear_paths TEXT;"},
    /* the nodes that share the database, and which of them runs a rule's resync */
    {5, "CREATE TABLE sync_nodes ("
        " id TEXT PRIMARY KEY,"
        " listen TEXT,"
        " started_at INTEGER NOT NULL,"
        " last_seen_at INTEGER NOT NULL,"
        " leased INTEGER NOT NULL DEFAULT 0);"
        "ALTER TABLE sync_rules ADD COLUMN resync_owner TEXT;"
        "ALTER TABLE sync_rules ADD COLUMN resync_until INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE sync_rules ADD COLUMN resync_events_seq INTEGER NOT NULL DEFAULT 0;"},
    /* the live lane: changes are leased before bulk work */
    {6, "ALTER TABLE sync_outbox ADD COLUMN lane INTEGER NOT NULL DEFAULT 0;"
        "DROP INDEX sync_outbox_due;"
        "DROP INDEX sync_outbox_rule_due;"
        "CREATE INDEX sync_outbox_due ON sync_outbox(lane, not_before);"
        "CREATE INDEX sync_outbox_rule_due ON sync_outbox(rule_id, lane, not_before);"},
};
const struct store_component store__sync_schema = {"sync", sync_migrations, 6};

/* step_done, and *changed (when not NULL) says whether a row was written. */
static enum sc_err step_changed(struct store *st, sqlite3_stmt *s, int *changed)
{
    enum sc_err err = store__step_done(st, s);
    if (!err && changed)
        *changed = sqlite3_changes(sqlite__db(st)) > 0;
    return err;
}

/* ---- links ---- */

#define LINK_COLUMNS                                                                               \
    "rule_id, user_id, username, target_id, state, sent, digest, absent, last_error, updated_at, " \
    "source, rejected"

/* A link row into dst (a struct store_sync_link; also store__row's fill). */
static void link_read(sqlite3_stmt *s, void *dst)
{
    struct store_sync_link *l = dst;
    memset(l, 0, sizeof *l);
    sc_strlcpy(l->rule_id, (const char *)sqlite3_column_text(s, 0), sizeof l->rule_id);
    sc_strlcpy(l->user_id, (const char *)sqlite3_column_text(s, 1), sizeof l->user_id);
    l->username = store__column_dup(s, 2);
    l->target_id = store__column_dup(s, 3);
    sc_strlcpy(l->state, (const char *)sqlite3_column_text(s, 4), sizeof l->state);
    l->sent = store__column_dup(s, 5);
    l->digest = (uint64_t)sqlite3_column_int64(s, 6);
    l->absent = sqlite3_column_int(s, 7);
    l->last_error = store__column_dup(s, 8);
    l->updated_at = sqlite3_column_int64(s, 9);
    l->source = (uint64_t)sqlite3_column_int64(s, 10);
    l->rejected = store__column_dup(s, 11);
}

static enum sc_err sqlite_sync_link_get(struct store *st, const char *rule_id, const char *user_id,
                                        struct store_sync_link *out)
{
    sqlite3_stmt *s = store__prepare(st, "SELECT " LINK_COLUMNS
                                         " FROM sync_links WHERE rule_id = ? AND user_id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    store__bind_text(s, 2, user_id);
    return store__row(st, s, link_read, out);
}

static void link_bind(sqlite3_stmt *s, const struct store_sync_link *l)
{
    store__bind_text(s, 1, l->rule_id);
    store__bind_text(s, 2, l->user_id);
    store__bind_text(s, 3, l->username);
    store__bind_text(s, 4, l->target_id);
    store__bind_text(s, 5, l->state[0] ? l->state : SYNC_STATE_PENDING);
    store__bind_text(s, 6, l->sent);
    sqlite3_bind_int64(s, 7, (sqlite3_int64)l->digest);
    sqlite3_bind_int(s, 8, l->absent ? 1 : 0);
    store__bind_text(s, 9, l->last_error);
    sqlite3_bind_int64(s, 10, sc_clock_now_ms());
    sqlite3_bind_int64(s, 11, (sqlite3_int64)l->source);
    store__bind_text(s, 12, l->rejected);
}

static enum sc_err sqlite_sync_link_put(struct store *st, const struct store_sync_link *l)
{
    sqlite3_stmt *s = store__prepare(st, "INSERT OR REPLACE INTO sync_links(" LINK_COLUMNS
                                         ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!s)
        return SC_ERR_DB;
    link_bind(s, l);
    return store__step_done(st, s);
}

static enum sc_err sqlite_sync_link_put_unlinked(struct store *st, const struct store_sync_link *l,
                                                 int64_t since_ms, int *written)
{
    *written = 0;
    sqlite3_stmt *s = store__prepare(
        st, "INSERT INTO sync_links(" LINK_COLUMNS ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(rule_id, user_id) DO UPDATE SET username = excluded.username, "
            "target_id = excluded.target_id, state = excluded.state, sent = excluded.sent, "
            "digest = excluded.digest, absent = excluded.absent, last_error = "
            "excluded.last_error, updated_at = excluded.updated_at, source = excluded.source, "
            "rejected = excluded.rejected WHERE sync_links.target_id IS NULL AND "
            "sync_links.updated_at <= ?13");
    if (!s)
        return SC_ERR_DB;
    link_bind(s, l);
    sqlite3_bind_int64(s, 13, since_ms);
    return step_changed(st, s, written);
}

static enum sc_err sqlite_sync_link_set_found(struct store *st, const struct store_sync_link *l,
                                              uint64_t expect_digest, int *written)
{
    *written = 0;
    sqlite3_stmt *s = store__prepare(
        st, "UPDATE sync_links SET sent = ?1, digest = ?2, target_id = ?3, absent = ?4, "
            "state = '" SYNC_STATE_PENDING "', source = 0, updated_at = ?5 WHERE rule_id = ?6 AND "
            "user_id = ?7 AND digest = ?8");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, l->sent);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)l->digest);
    store__bind_text(s, 3, l->target_id);
    sqlite3_bind_int(s, 4, l->target_id ? 0 : 1);
    sqlite3_bind_int64(s, 5, sc_clock_now_ms());
    store__bind_text(s, 6, l->rule_id);
    store__bind_text(s, 7, l->user_id);
    sqlite3_bind_int64(s, 8, (sqlite3_int64)expect_digest);
    return step_changed(st, s, written);
}

static enum sc_err sqlite_sync_link_set_source(struct store *st, const char *rule_id,
                                               const char *user_id, uint64_t digest,
                                               uint64_t source)
{
    sqlite3_stmt *s =
        store__prepare(st, "UPDATE sync_links SET source = ? WHERE rule_id = ? AND "
                           "user_id = ? AND digest = ? AND state = '" SYNC_STATE_SYNCED "'");
    if (!s)
        return SC_ERR_DB;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)source);
    store__bind_text(s, 2, rule_id);
    store__bind_text(s, 3, user_id);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)digest);
    return store__step_done(st, s);
}

static enum sc_err sqlite_sync_link_page(struct store *st, const char *rule_id,
                                         const char *after_user_id, size_t max,
                                         int (*fn)(void *arg, const struct store_sync_link *l),
                                         void *arg, size_t *n)
{
    *n = 0;
    sqlite3_stmt *s = store__prepare(
        st, "SELECT rule_id, user_id, username, target_id, state, NULL, digest, absent, NULL, "
            "updated_at, source, NULL, instr(sent, '\"active\":false') > 0 FROM sync_links "
            "WHERE rule_id = ? AND user_id > ? ORDER BY user_id LIMIT ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    store__bind_text(s, 2, after_user_id ? after_user_id : "");
    sqlite3_bind_int64(s, 3, (sqlite3_int64)max);
    enum sc_err err = SC_OK;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_sync_link l;
        link_read(s, &l);
        l.inactive = sqlite3_column_int(s, 12);
        (*n)++;
        int stop = fn(arg, &l);
        store_sync_link_clear(&l);
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

static enum sc_err sqlite_sync_link_list(struct store *st, const char *rule_id, int limit,
                                         const char *cursor, json_t *items, char **next)
{
    *next = NULL;
    sqlite3_stmt *s = store__prepare(
        st, "SELECT u.user_id, l.username, l.target_id, l.state, l.last_error, l.updated_at, "
            "l.rejected, o.id IS NOT NULL FROM (SELECT user_id FROM sync_links WHERE rule_id = ?1 "
            "AND user_id > ?2 UNION SELECT user_id FROM sync_outbox WHERE rule_id = ?1 AND "
            "user_id > ?2 AND user_id NOT LIKE 'group:%') u LEFT JOIN sync_links l ON "
            "l.rule_id = ?1 AND l.user_id = u.user_id "
            "LEFT JOIN sync_outbox o ON o.rule_id = ?1 AND o.user_id = u.user_id "
            "ORDER BY u.user_id LIMIT ?3");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    store__bind_text(s, 2, cursor ? cursor : "");
    sqlite3_bind_int(s, 3, limit + 1);
    int count = 0, rc;
    enum sc_err err = SC_OK;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *uid = (const char *)sqlite3_column_text(s, 0);
        if (count == limit) {
            *next = sc_strdup(json_string_value(
                json_object_get(json_array_get(items, json_array_size(items) - 1), "userId")));
            break;
        }
        struct store__link_row row = {
            .user_id = uid,
            .username = (const char *)sqlite3_column_text(s, 1),
            .target_id = (const char *)sqlite3_column_text(s, 2),
            .state = (const char *)sqlite3_column_text(s, 3),
            .last_error = (const char *)sqlite3_column_text(s, 4),
            .has_link = sqlite3_column_type(s, 3) != SQLITE_NULL,
            .updated_at = sqlite3_column_int64(s, 5),
            .rejected = (const char *)sqlite3_column_text(s, 6),
            .queued = sqlite3_column_int(s, 7),
        };
        json_t *item = store__link_item(&row);
        if (!item) {
            err = SC_ERR_NOMEM;
            break;
        }
        json_array_append_new(items, item);
        count++;
    }
    if (!err && rc != SQLITE_DONE && rc != SQLITE_ROW)
        err = store__err(st, rc);
    sqlite3_reset(s);
    return err;
}

static enum sc_err sqlite_sync_link_counts(struct store *st, const char *rule_id,
                                           struct store_sync_counts *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = store__prepare(st, "SELECT state, COUNT(*), SUM(target_id IS NOT NULL) "
                                         "FROM sync_links WHERE rule_id = ? GROUP BY state");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        store__link_counts_add(out, (const char *)sqlite3_column_text(s, 0),
                               sqlite3_column_int64(s, 1), sqlite3_column_int64(s, 2));
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SC_OK : store__err(st, rc);
}

/* ---- outbox ---- */

static enum sc_err sqlite_sync_outbox_touch(struct store *st, const char *rule_id,
                                            const char *user_id, int flags, int lane,
                                            int64_t not_before)
{
    sqlite3_stmt *s = store__prepare(
        st, "INSERT INTO sync_outbox(rule_id, user_id, flags, not_before, created_at, lane) "
            "VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(rule_id, user_id) DO UPDATE SET "
            "generation = generation + 1, flags = flags | excluded.flags, "
            "not_before = MIN(not_before, excluded.not_before), "
            "lane = MIN(lane, excluded.lane)");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    store__bind_text(s, 2, user_id);
    sqlite3_bind_int(s, 3, flags);
    sqlite3_bind_int64(s, 4, not_before);
    sqlite3_bind_int64(s, 5, sc_clock_now_ms());
    sqlite3_bind_int(s, 6, lane);
    return store__step_done(st, s);
}

static enum sc_err sqlite_sync_outbox_lease(struct store *st, const char *owner,
                                            const char *rule_id, int64_t now, int64_t lease_ms,
                                            size_t max, struct store_sync_item **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (max == 0)
        return SC_OK;
    int own_tx = !st->in_tx;
    enum sc_err err = SC_OK;
    struct store_sync_item *items = NULL;
    size_t count = 0;
    if (own_tx && (err = store_begin(st)))
        return err;
    items = calloc(max, sizeof *items);
    if (!items) {
        err = SC_ERR_NOMEM;
        goto done;
    }
    /* The live lane, then the bulk one: a range of an index each (two statements so that
     * each can use its index, the rule's or the due one). */
    for (int lane = STORE_SYNC_LANE_LIVE; lane <= STORE_SYNC_LANE_BULK && count < max && !err;
         lane++) {
        sqlite3_stmt *u =
            rule_id
                ? store__prepare(
                      st, "UPDATE sync_outbox SET lease_owner = ?1, lease_until = ?2, attempts = "
                          "attempts + 1, lease_token = lease_token + 1 WHERE id IN (SELECT id "
                          "FROM sync_outbox WHERE rule_id = ?6 AND lane = ?7 AND not_before <= "
                          "?3 AND (lease_owner IS NULL OR lease_until < ?4) ORDER BY not_before "
                          "LIMIT ?5) RETURNING id, rule_id, user_id, flags, attempts, generation, "
                          "not_before, lease_token, lane")
                : store__prepare(
                      st, "UPDATE sync_outbox SET lease_owner = ?1, lease_until = ?2, attempts = "
                          "attempts + 1, lease_token = lease_token + 1 WHERE id IN (SELECT id "
                          "FROM sync_outbox WHERE lane = ?7 AND not_before <= ?3 AND "
                          "(lease_owner IS NULL OR lease_until < ?4) ORDER BY not_before LIMIT "
                          "?5) RETURNING id, rule_id, user_id, flags, attempts, generation, "
                          "not_before, lease_token, lane");
        if (!u) {
            err = SC_ERR_DB;
            break;
        }
        store__bind_text(u, 1, owner);
        sqlite3_bind_int64(u, 2, now + lease_ms);
        sqlite3_bind_int64(u, 3, now);
        sqlite3_bind_int64(u, 4, now);
        sqlite3_bind_int64(u, 5, (sqlite3_int64)(max - count));
        if (rule_id)
            store__bind_text(u, 6, rule_id);
        sqlite3_bind_int(u, 7, lane);
        int rc;
        while ((rc = sqlite3_step(u)) == SQLITE_ROW && count < max) {
            struct store_sync_item *it = &items[count++];
            it->id = sqlite3_column_int64(u, 0);
            sc_strlcpy(it->rule_id, (const char *)sqlite3_column_text(u, 1), sizeof it->rule_id);
            sc_strlcpy(it->user_id, (const char *)sqlite3_column_text(u, 2), sizeof it->user_id);
            it->flags = sqlite3_column_int(u, 3);
            it->attempts = sqlite3_column_int(u, 4);
            it->generation = sqlite3_column_int64(u, 5);
            it->not_before = sqlite3_column_int64(u, 6);
            it->lease_token = sqlite3_column_int64(u, 7);
            it->lane = sqlite3_column_int(u, 8);
        }
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
            err = store__err(st, rc);
        sqlite3_reset(u);
    }
done:
    if (own_tx) {
        if (err)
            store_rollback(st);
        else
            err = store_commit(st);
    }
    if (err) {
        free(items);
        return err;
    }
    if (count == 0) {
        free(items);
        items = NULL;
    }
    *out = items;
    *n = count;
    return SC_OK;
}

static enum sc_err sqlite_sync_outbox_renew(struct store *st, const char *owner, int64_t until)
{
    sqlite3_stmt *u =
        store__prepare(st, "UPDATE sync_outbox SET lease_until = ? WHERE lease_owner = ?");
    if (!u)
        return SC_ERR_DB;
    sqlite3_bind_int64(u, 1, until);
    store__bind_text(u, 2, owner);
    return store__step_done(st, u);
}

static enum sc_err sqlite_sync_outbox_held(struct store *st, const char *owner,
                                           const struct store_sync_item *it, int *held)
{
    *held = 0;
    sqlite3_stmt *s = store__prepare(
        st, "SELECT 1 FROM sync_outbox WHERE id = ? AND lease_owner = ? AND lease_token = ?");
    if (!s)
        return SC_ERR_DB;
    sqlite3_bind_int64(s, 1, it->id);
    store__bind_text(s, 2, owner);
    sqlite3_bind_int64(s, 3, it->lease_token);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        *held = 1;
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SC_OK : store__err(st, rc);
}

static enum sc_err sqlite_sync_outbox_done(struct store *st, const struct store_sync_item *it,
                                           int *held)
{
    int dummy;
    if (!held)
        held = &dummy;
    *held = 0;
    sqlite3_stmt *d = store__prepare(
        st, "DELETE FROM sync_outbox WHERE id = ? AND generation = ? AND lease_token = ?");
    if (!d)
        return SC_ERR_DB;
    sqlite3_bind_int64(d, 1, it->id);
    sqlite3_bind_int64(d, 2, it->generation);
    sqlite3_bind_int64(d, 3, it->lease_token);
    enum sc_err err = store__step_done(st, d);
    if (err)
        return err;
    if (sqlite3_changes(sqlite__db(st)) > 0) {
        *held = 1;
        return SC_OK;
    }
    sqlite3_stmt *u = store__prepare(st, "UPDATE sync_outbox SET lease_owner = NULL, lease_until = "
                                         "0, attempts = 0 WHERE id = ? AND lease_token = ?");
    if (!u)
        return SC_ERR_DB;
    sqlite3_bind_int64(u, 1, it->id);
    sqlite3_bind_int64(u, 2, it->lease_token);
    return step_changed(st, u, held);
}

static enum sc_err sqlite_sync_outbox_retry(struct store *st, const struct store_sync_item *it,
                                            int64_t not_before, int *held)
{
    sqlite3_stmt *u = store__prepare(
        st, "UPDATE sync_outbox SET lease_owner = NULL, lease_until = 0, "
            "not_before = CASE WHEN generation = ? THEN ? ELSE MIN(not_before, ?) END WHERE id = ? "
            "AND lease_token = ?");
    if (!u)
        return SC_ERR_DB;
    sqlite3_bind_int64(u, 1, it->generation);
    sqlite3_bind_int64(u, 2, not_before);
    sqlite3_bind_int64(u, 3, sc_clock_now_ms());
    sqlite3_bind_int64(u, 4, it->id);
    sqlite3_bind_int64(u, 5, it->lease_token);
    return step_changed(st, u, held);
}

static enum sc_err sqlite_sync_outbox_release_all(struct store *st, const char *owner)
{
    sqlite3_stmt *u;
    if (owner) {
        u = store__prepare(st, "UPDATE sync_outbox SET lease_owner = NULL, lease_until = 0 "
                               "WHERE lease_owner = ?");
        if (!u)
            return SC_ERR_DB;
        store__bind_text(u, 1, owner);
    } else {
        u = store__prepare(st, "UPDATE sync_outbox SET lease_owner = NULL, lease_until = 0 "
                               "WHERE lease_owner IS NOT NULL");
        if (!u)
            return SC_ERR_DB;
    }
    return store__step_done(st, u);
}

static enum sc_err sqlite_sync_outbox_next_due(struct store *st, const char *rule_id, int64_t *ms)
{
    sqlite3_stmt *s =
        /* per lane, so that each is a walk of its index in not_before order (the scalar
         * MIN is NULL when an argument is: an empty lane counts as never) */
        rule_id
            ? store__prepare(st, "SELECT MIN(COALESCE((SELECT MIN(not_before) FROM sync_outbox "
                                 "WHERE rule_id = ?1 AND lane = 0 AND lease_owner IS NULL), "
                                 "9223372036854775807), COALESCE((SELECT MIN(not_before) FROM "
                                 "sync_outbox WHERE rule_id = ?1 AND lane = 1 AND lease_owner IS "
                                 "NULL), 9223372036854775807))")
            : store__prepare(st, "SELECT MIN(COALESCE((SELECT MIN(not_before) FROM sync_outbox "
                                 "WHERE lane = 0 AND lease_owner IS NULL), 9223372036854775807), "
                                 "COALESCE((SELECT MIN(not_before) FROM sync_outbox WHERE lane = 1 "
                                 "AND lease_owner IS NULL), 9223372036854775807))");
    if (!s)
        return SC_ERR_DB;
    if (rule_id)
        store__bind_text(s, 1, rule_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *ms = sqlite3_column_type(s, 0) == SQLITE_NULL ? INT64_MAX : sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? SC_OK : store__err(st, rc);
}

static enum sc_err sqlite_sync_outbox_count(struct store *st, const char *rule_id, int64_t *n)
{
    sqlite3_stmt *s =
        store__prepare(st, "SELECT COUNT(*) FROM sync_outbox WHERE ?1 IS NULL OR rule_id = ?1");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? SC_OK : store__err(st, rc);
}

static enum sc_err sqlite_sync_outbox_drop_rule(struct store *st, const char *rule_id)
{
    sqlite3_stmt *d = store__prepare(st, "DELETE FROM sync_outbox WHERE rule_id = ?");
    if (!d)
        return SC_ERR_DB;
    store__bind_text(d, 1, rule_id);
    return store__step_done(st, d);
}

static enum sc_err sqlite_sync_tune(struct store *st)
{
    /* A page cache of 16 MiB for the engine's passes over users and links (they read in
     * id order, so pages are used in turn), and no memory map: every page of a map a
     * pass touched counts in the process's resident memory (most of a gigabyte at a
     * million users), while the kernel's page cache serves the reads just as well. The
     * engine's commits checkpoint only past 4,000 pages of log: its loader thread
     * checkpoints sooner on its own connection (store_sync_checkpoint), which took a
     * third of each commit's time on the engine thread. */
    return store__exec(st, "PRAGMA mmap_size=0; PRAGMA cache_size=-16384; "
                           "PRAGMA wal_autocheckpoint=4000;");
}

static enum sc_err sqlite_sync_checkpoint(struct store *st)
{
    int rc = sqlite3_wal_checkpoint_v2(sqlite__db(st), NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return rc == SQLITE_OK || rc == SQLITE_BUSY ? SC_OK : store__err(st, rc);
}

/* ---- rules ---- */

static enum sc_err sqlite_sync_rule_get(struct store *st, const char *rule_id,
                                        struct store_sync_rule *out)
{
    memset(out, 0, sizeof *out);
    sc_strlcpy(out->rule_id, rule_id, sizeof out->rule_id);
    sqlite3_stmt *s = store__prepare(st, "SELECT resync, brake_hold, brake_limit, last_sync_at, "
                                         "last_resync_at, last_error, verify, last_verify_at, "
                                         "verify_checked, verify_drifted, resync_seq, "
                                         "resync_events_seq FROM sync_rules WHERE rule_id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        out->resync = sqlite3_column_int(s, 0);
        out->brake_hold = sqlite3_column_int64(s, 1);
        out->brake_limit = sqlite3_column_int64(s, 2);
        out->last_sync_at = sqlite3_column_int64(s, 3);
        out->last_resync_at = sqlite3_column_int64(s, 4);
        const unsigned char *t = sqlite3_column_text(s, 5);
        if (t)
            sc_strlcpy(out->last_error, (const char *)t, sizeof out->last_error);
        out->verify = sqlite3_column_int(s, 6);
        out->last_verify_at = sqlite3_column_int64(s, 7);
        out->verify_checked = sqlite3_column_int64(s, 8);
        out->verify_drifted = sqlite3_column_int64(s, 9);
        out->resync_seq = sqlite3_column_int64(s, 10);
        out->resync_events_seq = sqlite3_column_int64(s, 11);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SC_OK : store__err(st, rc);
}

static enum sc_err sqlite_sync_rule_put(struct store *st, const struct store_sync_rule *r)
{
    sqlite3_stmt *s = store__prepare(
        st, "INSERT INTO sync_rules(rule_id, resync, brake_hold, brake_limit, last_sync_at, "
            "last_resync_at, last_error, verify, last_verify_at, verify_checked, verify_drifted, "
            "resync_seq) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(rule_id) DO "
            "UPDATE SET resync = excluded.resync, brake_hold = excluded.brake_hold, brake_limit "
            "= excluded.brake_limit, last_sync_at = excluded.last_sync_at, last_resync_at = "
            "excluded.last_resync_at, last_error = excluded.last_error, verify = "
            "excluded.verify, last_verify_at = excluded.last_verify_at, verify_checked = "
            "excluded.verify_checked, verify_drifted = excluded.verify_drifted, resync_seq = "
            "excluded.resync_seq");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, r->rule_id);
    sqlite3_bind_int(s, 2, r->resync);
    sqlite3_bind_int64(s, 3, r->brake_hold);
    sqlite3_bind_int64(s, 4, r->brake_limit);
    sqlite3_bind_int64(s, 5, r->last_sync_at);
    sqlite3_bind_int64(s, 6, r->last_resync_at);
    store__bind_text(s, 7, r->last_error[0] ? r->last_error : NULL);
    sqlite3_bind_int(s, 8, r->verify ? 1 : 0);
    sqlite3_bind_int64(s, 9, r->last_verify_at);
    sqlite3_bind_int64(s, 10, r->verify_checked);
    sqlite3_bind_int64(s, 11, r->verify_drifted);
    sqlite3_bind_int64(s, 12, r->resync_seq);
    return store__step_done(st, s);
}

static enum sc_err sqlite_sync_rule_request_resync(struct store *st, const char *rule_id, int allow,
                                                   int verify)
{
    sqlite3_stmt *s = store__prepare(
        st, "INSERT INTO sync_rules(rule_id, resync, verify, resync_seq) VALUES(?, ?, ?, 1) ON "
            "CONFLICT(rule_id) DO UPDATE SET resync = MAX(resync, excluded.resync), verify = "
            "MAX(verify, excluded.verify), resync_seq = resync_seq + 1");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    sqlite3_bind_int(s, 2, allow ? 2 : 1);
    sqlite3_bind_int(s, 3, verify ? 1 : 0);
    return store__step_done(st, s);
}

static enum sc_err sqlite_sync_rule_resync_done(struct store *st, const char *rule_id, int64_t seq)
{
    sqlite3_stmt *s = store__prepare(
        st, "UPDATE sync_rules SET resync = CASE WHEN resync_seq = ?2 THEN 0 ELSE resync END, "
            "verify = CASE WHEN resync_seq = ?2 THEN 0 ELSE verify END, resync_owner = NULL, "
            "resync_until = 0 WHERE rule_id = ?1");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    sqlite3_bind_int64(s, 2, seq);
    return store__step_done(st, s);
}

static enum sc_err sqlite_sync_rule_seen(struct store *st, const char *rule_id, int64_t events_seq)
{
    sqlite3_stmt *s = store__prepare(
        st,
        "UPDATE sync_rules SET resync_events_seq = MAX(resync_events_seq, ?) WHERE rule_id = ?");
    if (!s)
        return SC_ERR_DB;
    sqlite3_bind_int64(s, 1, events_seq);
    store__bind_text(s, 2, rule_id);
    return store__step_done(st, s);
}

static enum sc_err sqlite_sync_rule_claim(struct store *st, const char *rule_id, const char *owner,
                                          int64_t now, int64_t until, int *claimed)
{
    sqlite3_stmt *s = store__prepare(
        st, "UPDATE sync_rules SET resync_owner = ?2, resync_until = ?4 WHERE rule_id = ?1 AND "
            "resync > 0 AND (resync_owner IS NULL OR resync_owner = ?2 OR resync_until < ?3)");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    store__bind_text(s, 2, owner);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_int64(s, 4, until);
    return step_changed(st, s, claimed);
}

static enum sc_err sqlite_sync_rule_claims_renew(struct store *st, const char *owner, int64_t until)
{
    sqlite3_stmt *s =
        store__prepare(st, "UPDATE sync_rules SET resync_until = ? WHERE resync_owner = ?");
    if (!s)
        return SC_ERR_DB;
    sqlite3_bind_int64(s, 1, until);
    store__bind_text(s, 2, owner);
    return store__step_done(st, s);
}

/* ---- nodes ---- */

static enum sc_err sqlite_sync_node_beat(struct store *st, const struct store_node *n)
{
    sqlite3_stmt *s = store__prepare(
        st, "INSERT OR REPLACE INTO sync_nodes(id, listen, started_at, last_seen_at, leased) "
            "VALUES(?, ?, ?, ?, ?)");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, n->id);
    store__bind_text(s, 2, n->listen);
    sqlite3_bind_int64(s, 3, n->started_at);
    sqlite3_bind_int64(s, 4, n->last_seen_at);
    sqlite3_bind_int64(s, 5, n->leased);
    return store__step_done(st, s);
}

/* A node row into dst (a struct store_node; store__rows' fill). */
static void node_from_row(sqlite3_stmt *s, void *dst)
{
    struct store_node *x = dst;
    store__column_copy(s, 0, x->id, sizeof x->id);
    store__column_copy(s, 1, x->listen, sizeof x->listen);
    x->started_at = sqlite3_column_int64(s, 2);
    x->last_seen_at = sqlite3_column_int64(s, 3);
    x->leased = sqlite3_column_int64(s, 4);
}

static enum sc_err sqlite_sync_node_list(struct store *st, int64_t seen_since,
                                         struct store_node **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s = store__prepare(st, "SELECT id, listen, started_at, last_seen_at, leased "
                                         "FROM sync_nodes WHERE last_seen_at >= ? ORDER BY id");
    if (!s)
        return SC_ERR_DB;
    sqlite3_bind_int64(s, 1, seen_since);
    void *v = NULL;
    enum sc_err err = store__rows_plain(st, s, sizeof **out, node_from_row, &v, n);
    *out = v;
    return err;
}

static enum sc_err sqlite_sync_node_reap(struct store *st, int64_t seen_before, int64_t *released)
{
    if (released)
        *released = 0;
    sqlite3_stmt *u = store__prepare(
        st, "UPDATE sync_outbox SET lease_owner = NULL, lease_until = 0 WHERE lease_owner IN "
            "(SELECT id FROM sync_nodes WHERE last_seen_at < ?)");
    if (!u)
        return SC_ERR_DB;
    sqlite3_bind_int64(u, 1, seen_before);
    enum sc_err err = store__step_done(st, u);
    if (err)
        return err;
    if (released)
        *released = sqlite3_changes(sqlite__db(st));
    sqlite3_stmt *c = store__prepare(
        st, "UPDATE sync_rules SET resync_owner = NULL, resync_until = 0 WHERE resync_owner IN "
            "(SELECT id FROM sync_nodes WHERE last_seen_at < ?)");
    if (!c)
        return SC_ERR_DB;
    sqlite3_bind_int64(c, 1, seen_before);
    if ((err = store__step_done(st, c)))
        return err;
    sqlite3_stmt *d = store__prepare(st, "DELETE FROM sync_nodes WHERE last_seen_at < ?");
    if (!d)
        return SC_ERR_DB;
    sqlite3_bind_int64(d, 1, seen_before - 3600 * 1000);
    return store__step_done(st, d);
}

static enum sc_err sqlite_sync_rule_add_drift(struct store *st, const char *rule_id,
                                              int64_t checked, int64_t drifted, int64_t at)
{
    sqlite3_stmt *s = store__prepare(
        st, "INSERT INTO sync_rules(rule_id, last_verify_at, verify_checked, verify_drifted) "
            "VALUES(?1, ?4, ?2, ?3) ON CONFLICT(rule_id) DO UPDATE SET last_verify_at = ?4, "
            "verify_checked = verify_checked + ?2, verify_drifted = verify_drifted + ?3");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    sqlite3_bind_int64(s, 2, checked);
    sqlite3_bind_int64(s, 3, drifted);
    sqlite3_bind_int64(s, 4, at);
    return store__step_done(st, s);
}

static enum sc_err sqlite_sync_rule_clears_get(struct store *st, const char *rule_id, char **out)
{
    *out = NULL;
    sqlite3_stmt *s = store__prepare(st, "SELECT clear_paths FROM sync_rules WHERE rule_id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = store__column_dup(s, 0);
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SC_OK : store__err(st, rc);
}

static enum sc_err sqlite_sync_rule_clears_set(struct store *st, const char *rule_id,
                                               const char *json)
{
    sqlite3_stmt *s = store__prepare(
        st, "INSERT INTO sync_rules(rule_id, clear_paths) VALUES(?, ?) ON CONFLICT(rule_id) DO "
            "UPDATE SET clear_paths = excluded.clear_paths");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    store__bind_text(s, 2, json);
    return store__step_done(st, s);
}

static enum sc_err sqlite_sync_rule_pending(struct store *st, size_t max,
                                            char (**out)[STORE_SYNC_ID_MAX], size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s =
        store__prepare(st, "SELECT rule_id FROM sync_rules WHERE resync > 0 ORDER BY rule_id "
                           "LIMIT ?");
    if (!s)
        return SC_ERR_DB;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)max);
    char(*ids)[STORE_SYNC_ID_MAX] = calloc(max ? max : 1, sizeof *ids);
    if (!ids)
        return SC_ERR_NOMEM;
    size_t count = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && count < max)
        sc_strlcpy(ids[count++], (const char *)sqlite3_column_text(s, 0), STORE_SYNC_ID_MAX);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        free(ids);
        return store__err(st, rc);
    }
    if (count == 0) {
        free(ids);
        return SC_OK;
    }
    *out = ids;
    *n = count;
    return SC_OK;
}

static enum sc_err sqlite_sync_rule_touch(struct store *st, const char *rule_id, int64_t ms)
{
    sqlite3_stmt *s = store__prepare(
        st, "INSERT INTO sync_rules(rule_id, last_sync_at) VALUES(?, ?) ON CONFLICT(rule_id) DO "
            "UPDATE SET last_sync_at = excluded.last_sync_at");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, rule_id);
    sqlite3_bind_int64(s, 2, ms);
    return store__step_done(st, s);
}

static enum sc_err sqlite_sync_rule_forget(struct store *st, const char *rule_id)
{
    static const char *const sql[] = {
        "DELETE FROM sync_links WHERE rule_id = ?",
        "DELETE FROM sync_outbox WHERE rule_id = ?",
        "DELETE FROM sync_rules WHERE rule_id = ?",
    };
    return store__run_each(st, sql, sizeof sql / sizeof sql[0], rule_id);
}

/* ---- connections ---- */

static enum sc_err sqlite_sync_quarantine_set(struct store *st, const char *connection_id, int on,
                                              const char *reason)
{
    sqlite3_stmt *s = store__prepare(
        st, "INSERT OR REPLACE INTO sync_connections(connection_id, quarantined, reason, since) "
            "VALUES(?, ?, ?, ?)");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, connection_id);
    sqlite3_bind_int(s, 2, on ? 1 : 0);
    store__bind_text(s, 3, reason);
    sqlite3_bind_int64(s, 4, sc_clock_now_ms());
    return store__step_done(st, s);
}

static enum sc_err sqlite_sync_quarantine_get(struct store *st, const char *connection_id, int *on,
                                              char *reason, size_t n)
{
    *on = 0;
    if (reason && n)
        reason[0] = '\0';
    sqlite3_stmt *s = store__prepare(
        st, "SELECT quarantined, reason FROM sync_connections WHERE connection_id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, connection_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *on = sqlite3_column_int(s, 0);
        const unsigned char *t = sqlite3_column_text(s, 1);
        if (t && reason && n)
            sc_strlcpy(reason, (const char *)t, n);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SC_OK : store__err(st, rc);
}

/* ---- log ---- */

static enum sc_err sqlite_sync_log_append(struct store *st, const struct store_sync_log_entry *le)
{
    sqlite3_stmt *s = store__prepare(
        st, "INSERT INTO sync_log(time, rule_id, user_id, username, action, status, http_status, "
            "changes, error) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!s)
        return SC_ERR_DB;
    sqlite3_bind_int64(s, 1, sc_clock_now_ms());
    store__bind_text(s, 2, le->rule_id);
    store__bind_text(s, 3, le->user_id);
    store__bind_text(s, 4, le->username);
    store__bind_text(s, 5, le->action);
    store__bind_text(s, 6, le->status);
    sqlite3_bind_int(s, 7, le->http_status);
    store__bind_text(s, 8, le->changes);
    store__bind_text(s, 9, le->error);
    return store__step_done(st, s);
}

static enum sc_err sqlite_sync_log_list(struct store *st, const char *rule_id, const char *user_id,
                                        const char *action, const char *status, int limit,
                                        const char *cursor, json_t *items, char **next)
{
    *next = NULL;
    int64_t before = INT64_MAX;
    if (cursor && sc_parse_int64(cursor, 1, INT64_MAX, &before))
        return SC_ERR_INVALID;
    sqlite3_stmt *s = store__prepare(
        st, "SELECT id, time, rule_id, user_id, username, action, status, http_status, changes, "
            "error FROM sync_log WHERE id < ?1 AND (?2 IS NULL OR rule_id = ?2) AND "
            "(?3 IS NULL OR user_id = ?3) AND (?4 IS NULL OR action = ?4) AND "
            "(?5 IS NULL OR status = ?5) ORDER BY id DESC LIMIT ?6");
    if (!s)
        return SC_ERR_DB;
    sqlite3_bind_int64(s, 1, before);
    store__bind_text(s, 2, rule_id);
    store__bind_text(s, 3, user_id);
    store__bind_text(s, 4, action);
    store__bind_text(s, 5, status);
    sqlite3_bind_int(s, 6, limit + 1);
    int count = 0, rc;
    int64_t last_id = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (count == limit) {
            char c[32];
            snprintf(c, sizeof c, "%" PRId64, last_id);
            *next = sc_strdup(c);
            break;
        }
        last_id = sqlite3_column_int64(s, 0);
        struct store__log_row row = {
            .id = last_id,
            .time = sqlite3_column_int64(s, 1),
            .rule_id = (const char *)sqlite3_column_text(s, 2),
            .user_id = (const char *)sqlite3_column_text(s, 3),
            .username = (const char *)sqlite3_column_text(s, 4),
            .action = (const char *)sqlite3_column_text(s, 5),
            .status = (const char *)sqlite3_column_text(s, 6),
            .http_status = sqlite3_column_int(s, 7),
            .changes = (const char *)sqlite3_column_text(s, 8),
            .error = (const char *)sqlite3_column_text(s, 9),
        };
        json_array_append_new(items, store__log_item(&row));
        count++;
    }
    enum sc_err err = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? SC_OK : store__err(st, rc);
    sqlite3_reset(s);
    return err;
}

const struct store_sync_ops store__sqlite_sync_ops = {
    .link_get = sqlite_sync_link_get,
    .link_put = sqlite_sync_link_put,
    .link_put_unlinked = sqlite_sync_link_put_unlinked,
    .link_set_found = sqlite_sync_link_set_found,
    .link_set_source = sqlite_sync_link_set_source,
    .link_page = sqlite_sync_link_page,
    .link_list = sqlite_sync_link_list,
    .link_counts = sqlite_sync_link_counts,
    .outbox_touch = sqlite_sync_outbox_touch,
    .outbox_lease = sqlite_sync_outbox_lease,
    .outbox_renew = sqlite_sync_outbox_renew,
    .outbox_held = sqlite_sync_outbox_held,
    .outbox_done = sqlite_sync_outbox_done,
    .outbox_retry = sqlite_sync_outbox_retry,
    .outbox_release_all = sqlite_sync_outbox_release_all,
    .outbox_next_due = sqlite_sync_outbox_next_due,
    .outbox_count = sqlite_sync_outbox_count,
    .outbox_drop_rule = sqlite_sync_outbox_drop_rule,
    .tune = sqlite_sync_tune,
    .checkpoint = sqlite_sync_checkpoint,
    .rule_get = sqlite_sync_rule_get,
    .rule_put = sqlite_sync_rule_put,
    .rule_request_resync = sqlite_sync_rule_request_resync,
    .rule_resync_done = sqlite_sync_rule_resync_done,
    .rule_add_drift = sqlite_sync_rule_add_drift,
    .rule_clears_get = sqlite_sync_rule_clears_get,
    .rule_clears_set = sqlite_sync_rule_clears_set,
    .rule_pending = sqlite_sync_rule_pending,
    .rule_touch = sqlite_sync_rule_touch,
    .rule_forget = sqlite_sync_rule_forget,
    .quarantine_set = sqlite_sync_quarantine_set,
    .quarantine_get = sqlite_sync_quarantine_get,
    .log_append = sqlite_sync_log_append,
    .log_list = sqlite_sync_log_list,
    .rule_seen = sqlite_sync_rule_seen,
    .node_beat = sqlite_sync_node_beat,
    .node_list = sqlite_sync_node_list,
    .node_reap = sqlite_sync_node_reap,
    .rule_claim = sqlite_sync_rule_claim,
    .rule_claims_renew = sqlite_sync_rule_claims_renew,
};
