/* The sync component of the PostgreSQL back-end: its schema and the functions of
 * store_sync.h (links, the outbox with leases, per-rule state and brake, connection
 * quarantine, the provisioning log), with the SQLite back-end's contracts. The lease
 * takes due rows with FOR UPDATE SKIP LOCKED, so engines in several processes sharing
 * the table never take the same item and never wait on each other's rows; fencing
 * tokens and renewals are as on SQLite. Digests (64-bit, unsigned in C) are stored as
 * BIGINT with the same bits. */
#include "store/pg_internal.h"
#include "store/store_sync.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct pg_migration sync_migrations[] = {
    {1, "CREATE TABLE sync_links ("
        " rule_id TEXT COLLATE \"C\" NOT NULL,"
        " user_id TEXT COLLATE \"C\" NOT NULL,"
        " username TEXT,"
        " target_id TEXT,"
        " state TEXT COLLATE \"C\" NOT NULL,"
        " sent TEXT,"
        " digest BIGINT NOT NULL DEFAULT 0,"
        " absent INTEGER NOT NULL DEFAULT 0,"
        " last_error TEXT,"
        " updated_at BIGINT NOT NULL,"
        " source BIGINT NOT NULL DEFAULT 0,"
        " rejected TEXT,"
        " PRIMARY KEY(rule_id, user_id));"
        "CREATE INDEX sync_links_state ON sync_links(rule_id, state, target_id);"
        "CREATE TABLE sync_outbox ("
        " id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " rule_id TEXT COLLATE \"C\" NOT NULL,"
        " user_id TEXT COLLATE \"C\" NOT NULL,"
        " flags INTEGER NOT NULL DEFAULT 0,"
        " attempts INTEGER NOT NULL DEFAULT 0,"
        " generation BIGINT NOT NULL DEFAULT 1,"
        " not_before BIGINT NOT NULL,"
        " lease_owner TEXT COLLATE \"C\","
        " lease_until BIGINT NOT NULL DEFAULT 0,"
        " lease_token BIGINT NOT NULL DEFAULT 0,"
        " created_at BIGINT NOT NULL,"
        " UNIQUE(rule_id, user_id));"
        "CREATE INDEX sync_outbox_due ON sync_outbox(not_before);"
        "CREATE INDEX sync_outbox_rule_due ON sync_outbox(rule_id, not_before);"
        "CREATE INDEX sync_outbox_leased ON sync_outbox(lease_owner)"
        " WHERE lease_owner IS NOT NULL;"
        "CREATE TABLE sync_rules ("
        " rule_id TEXT COLLATE \"C\" PRIMARY KEY,"
        " resync INTEGER NOT NULL DEFAULT 0,"
        " brake_hold BIGINT NOT NULL DEFAULT 0,"
        " brake_limit BIGINT NOT NULL DEFAULT 0,"
        " last_sync_at BIGINT NOT NULL DEFAULT 0,"
        " last_resync_at BIGINT NOT NULL DEFAULT 0,"
        " last_error TEXT,"
        " verify INTEGER NOT NULL DEFAULT 0,"
        " last_verify_at BIGINT NOT NULL DEFAULT 0,"
        " verify_checked BIGINT NOT NULL DEFAULT 0,"
        " verify_drifted BIGINT NOT NULL DEFAULT 0,"
        " resync_seq BIGINT NOT NULL DEFAULT 0,"
        " clear_paths TEXT);"
        "CREATE TABLE sync_connections ("
        " connection_id TEXT COLLATE \"C\" PRIMARY KEY,"
        " quarantined INTEGER NOT NULL DEFAULT 0,"
        " reason TEXT,"
        " since BIGINT NOT NULL DEFAULT 0);"
        "CREATE TABLE sync_log ("
        " id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " time BIGINT NOT NULL,"
        " rule_id TEXT COLLATE \"C\", user_id TEXT COLLATE \"C\", username TEXT,"
        " action TEXT COLLATE \"C\" NOT NULL, status TEXT COLLATE \"C\" NOT NULL,"
        " http_status INTEGER NOT NULL DEFAULT 0,"
        " changes TEXT, error TEXT);"
        "CREATE INDEX sync_log_rule ON sync_log(rule_id, id);"
        "CREATE INDEX sync_log_user ON sync_log(user_id, id);"},
    /* the nodes that share the database, and which of them runs a rule's resync */
    {2, "CREATE TABLE sync_nodes ("
        " id TEXT COLLATE \"C\" PRIMARY KEY,"
        " listen TEXT,"
        " started_at BIGINT NOT NULL,"
        " last_seen_at BIGINT NOT NULL,"
        " leased BIGINT NOT NULL DEFAULT 0);"
        "ALTER TABLE sync_rules ADD COLUMN resync_owner TEXT COLLATE \"C\";"
        "ALTER TABLE sync_rules ADD COLUMN resync_until BIGINT NOT NULL DEFAULT 0;"
        "ALTER TABLE sync_rules ADD COLUMN resync_events_seq BIGINT NOT NULL DEFAULT 0;"},
    /* the live lane: changes are leased before bulk work */
    {3, "ALTER TABLE sync_outbox ADD COLUMN lane INTEGER NOT NULL DEFAULT 0;"
        "DROP INDEX sync_outbox_due;"
        "DROP INDEX sync_outbox_rule_due;"
        "CREATE INDEX sync_outbox_due ON sync_outbox(lane, not_before);"
        "CREATE INDEX sync_outbox_rule_due ON sync_outbox(rule_id, lane, not_before);"},
};
const struct pg_component store__pg_sync_schema = {"sync", sync_migrations, 3};

/* ---- links ---- */

#define LINK_COLUMNS                                                                               \
    "rule_id, user_id, username, target_id, state, sent, digest, absent, last_error, updated_at, " \
    "source, rejected"

/* A link row into dst (a struct store_sync_link; also pg__row's fill). */
static void link_read(const PGresult *r, int row, void *dst)
{
    struct store_sync_link *l = dst;
    memset(l, 0, sizeof *l);
    sc_strlcpy(l->rule_id, PQgetvalue(r, row, 0), sizeof l->rule_id);
    sc_strlcpy(l->user_id, PQgetvalue(r, row, 1), sizeof l->user_id);
    l->username = pg__col_dup(r, row, 2);
    l->target_id = pg__col_dup(r, row, 3);
    sc_strlcpy(l->state, PQgetvalue(r, row, 4), sizeof l->state);
    l->sent = pg__col_dup(r, row, 5);
    l->digest = (uint64_t)pg__col_int(r, row, 6);
    l->absent = (int)pg__col_int(r, row, 7);
    l->last_error = pg__col_dup(r, row, 8);
    l->updated_at = pg__col_int(r, row, 9);
    l->source = (uint64_t)pg__col_int(r, row, 10);
    l->rejected = pg__col_dup(r, row, 11);
}

static enum sc_err pg_link_get(struct store *st, const char *rule_id, const char *user_id,
                               struct store_sync_link *out)
{
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    pg__arg_text(&a, user_id);
    return pg__row(st,
                   "SELECT " LINK_COLUMNS " FROM sync_links WHERE rule_id = $1 AND user_id = $2",
                   &a, link_read, out);
}

/* $1..$12 in LINK_COLUMNS order. */
static void link_args(struct pg_args *a, const struct store_sync_link *l)
{
    pg__arg_text(a, l->rule_id);
    pg__arg_text(a, l->user_id);
    pg__arg_text(a, l->username);
    pg__arg_text(a, l->target_id);
    pg__arg_text(a, l->state[0] ? l->state : SYNC_STATE_PENDING);
    pg__arg_text(a, l->sent);
    pg__arg_int(a, (int64_t)l->digest);
    pg__arg_int(a, l->absent ? 1 : 0);
    pg__arg_text(a, l->last_error);
    pg__arg_int(a, sc_clock_now_ms());
    pg__arg_int(a, (int64_t)l->source);
    pg__arg_text(a, l->rejected);
}

static enum sc_err pg_link_put(struct store *st, const struct store_sync_link *l)
{
    struct pg_args a = {0};
    link_args(&a, l);
    return pg__cmd(st,
                   "INSERT INTO sync_links(" LINK_COLUMNS ") VALUES($1, $2, $3, $4, $5, $6, $7, "
                   "$8, $9, $10, $11, $12) ON CONFLICT(rule_id, user_id) DO UPDATE SET "
                   "username = excluded.username, target_id = excluded.target_id, state = "
                   "excluded.state, sent = excluded.sent, digest = excluded.digest, absent = "
                   "excluded.absent, last_error = excluded.last_error, updated_at = "
                   "excluded.updated_at, source = excluded.source, rejected = excluded.rejected",
                   &a, NULL);
}

static enum sc_err pg_link_put_unlinked(struct store *st, const struct store_sync_link *l,
                                        int64_t since_ms, int *written)
{
    *written = 0;
    struct pg_args a = {0};
    link_args(&a, l);
    pg__arg_int(&a, since_ms);
    int64_t rows = 0;
    enum sc_err err = pg__cmd(
        st,
        "INSERT INTO sync_links(" LINK_COLUMNS ") VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, "
        "$10, $11, $12) ON CONFLICT(rule_id, user_id) DO UPDATE SET username = "
        "excluded.username, target_id = excluded.target_id, state = excluded.state, sent = "
        "excluded.sent, digest = excluded.digest, absent = excluded.absent, last_error = "
        "excluded.last_error, updated_at = excluded.updated_at, source = excluded.source, "
        "rejected = excluded.rejected WHERE sync_links.target_id IS NULL AND "
        "sync_links.updated_at <= $13",
        &a, &rows);
    if (!err)
        *written = rows > 0;
    return err;
}

static enum sc_err pg_link_set_found(struct store *st, const struct store_sync_link *l,
                                     uint64_t expect_digest, int *written)
{
    *written = 0;
    struct pg_args a = {0};
    pg__arg_text(&a, l->sent);
    pg__arg_int(&a, (int64_t)l->digest);
    pg__arg_text(&a, l->target_id);
    pg__arg_int(&a, l->target_id ? 0 : 1);
    pg__arg_int(&a, sc_clock_now_ms());
    pg__arg_text(&a, l->rule_id);
    pg__arg_text(&a, l->user_id);
    pg__arg_int(&a, (int64_t)expect_digest);
    int64_t rows = 0;
    enum sc_err err = pg__cmd(st,
                              "UPDATE sync_links SET sent = $1, digest = $2, target_id = $3, "
                              "absent = $4, state = '" SYNC_STATE_PENDING "', source = 0, "
                              "updated_at = $5 WHERE rule_id = $6 AND user_id = $7 AND digest = $8",
                              &a, &rows);
    if (!err)
        *written = rows > 0;
    return err;
}

static enum sc_err pg_link_set_source(struct store *st, const char *rule_id, const char *user_id,
                                      uint64_t digest, uint64_t source)
{
    struct pg_args a = {0};
    pg__arg_int(&a, (int64_t)source);
    pg__arg_text(&a, rule_id);
    pg__arg_text(&a, user_id);
    pg__arg_int(&a, (int64_t)digest);
    return pg__cmd(st,
                   "UPDATE sync_links SET source = $1 WHERE rule_id = $2 AND user_id = $3 AND "
                   "digest = $4 AND state = '" SYNC_STATE_SYNCED "'",
                   &a, NULL);
}

static enum sc_err pg_link_page(struct store *st, const char *rule_id, const char *after_user_id,
                                size_t max, int (*fn)(void *arg, const struct store_sync_link *l),
                                void *arg, size_t *n)
{
    *n = 0;
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    pg__arg_text(&a, after_user_id ? after_user_id : "");
    pg__arg_int(&a, (int64_t)max);
    PGresult *r = pg__run(st,
                          "SELECT rule_id, user_id, username, target_id, state, NULL, digest, "
                          "absent, NULL, updated_at, source, NULL, "
                          "(strpos(sent, '\"active\":false') > 0)::integer FROM sync_links "
                          "WHERE rule_id = $1 AND user_id > $2 ORDER BY user_id LIMIT $3",
                          &a, &err);
    if (!r)
        return err;
    int rows = PQntuples(r);
    for (int i = 0; i < rows && !err; i++) {
        struct store_sync_link l;
        link_read(r, i, &l);
        l.inactive = (int)pg__col_int(r, i, 12);
        (*n)++;
        if (fn(arg, &l))
            err = SC_ERR_INTERNAL;
        store_sync_link_clear(&l);
    }
    PQclear(r);
    return err;
}

static enum sc_err pg_link_list(struct store *st, const char *rule_id, int limit,
                                const char *cursor, json_t *items, char **next)
{
    *next = NULL;
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    pg__arg_text(&a, cursor ? cursor : "");
    pg__arg_int(&a, (int64_t)limit + 1);
    PGresult *r = pg__run(
        st,
        "SELECT u.user_id, l.username, l.target_id, l.state, l.last_error, l.updated_at, "
        "l.rejected, (o.id IS NOT NULL)::integer FROM (SELECT user_id FROM sync_links WHERE "
        "rule_id = $1 AND user_id > $2 UNION SELECT user_id FROM sync_outbox WHERE rule_id = $1 "
        "AND user_id > $2 AND user_id NOT LIKE 'group:%') u LEFT JOIN sync_links l ON l.rule_id = "
        "$1 AND l.user_id = u.user_id "
        "LEFT JOIN sync_outbox o ON o.rule_id = $1 AND o.user_id = u.user_id "
        "ORDER BY u.user_id LIMIT $3",
        &a, &err);
    if (!r)
        return err;
    int rows = PQntuples(r);
    for (int i = 0; i < rows; i++) {
        if (i == limit) {
            *next = sc_strdup(json_string_value(
                json_object_get(json_array_get(items, json_array_size(items) - 1), "userId")));
            break;
        }
        struct store__link_row row = {
            .user_id = pg__col_text(r, i, 0),
            .username = pg__col_text(r, i, 1),
            .target_id = pg__col_text(r, i, 2),
            .state = pg__col_text(r, i, 3),
            .last_error = pg__col_text(r, i, 4),
            .has_link = !pg__col_null(r, i, 3),
            .updated_at = pg__col_int(r, i, 5),
            .rejected = pg__col_text(r, i, 6),
            .queued = (int)pg__col_int(r, i, 7),
        };
        json_t *item = store__link_item(&row);
        if (!item) {
            err = SC_ERR_NOMEM;
            break;
        }
        json_array_append_new(items, item);
    }
    PQclear(r);
    return err;
}

static enum sc_err pg_link_counts(struct store *st, const char *rule_id,
                                  struct store_sync_counts *out)
{
    memset(out, 0, sizeof *out);
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    PGresult *r = pg__run(st,
                          "SELECT state, COUNT(*), SUM((target_id IS NOT NULL)::integer) FROM "
                          "sync_links WHERE rule_id = $1 GROUP BY state",
                          &a, &err);
    if (!r)
        return err;
    for (int i = 0; i < PQntuples(r); i++) {
        store__link_counts_add(out, PQgetvalue(r, i, 0), pg__col_int(r, i, 1),
                               pg__col_int(r, i, 2));
    }
    PQclear(r);
    return SC_OK;
}

/* ---- outbox ---- */

static enum sc_err pg_outbox_touch(struct store *st, const char *rule_id, const char *user_id,
                                   int flags, int lane, int64_t not_before)
{
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    pg__arg_text(&a, user_id);
    pg__arg_int(&a, flags);
    pg__arg_int(&a, not_before);
    pg__arg_int(&a, sc_clock_now_ms());
    pg__arg_int(&a, lane);
    return pg__cmd(st,
                   "INSERT INTO sync_outbox(rule_id, user_id, flags, not_before, created_at, lane) "
                   "VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT(rule_id, user_id) DO UPDATE SET "
                   "generation = sync_outbox.generation + 1, flags = sync_outbox.flags | "
                   "excluded.flags, not_before = LEAST(sync_outbox.not_before, "
                   "excluded.not_before), lane = LEAST(sync_outbox.lane, excluded.lane)",
                   &a, NULL);
}

static enum sc_err pg_outbox_lease(struct store *st, const char *owner, const char *rule_id,
                                   int64_t now, int64_t lease_ms, size_t max,
                                   struct store_sync_item **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (max == 0)
        return SC_OK;
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_text(&a, owner);
    pg__arg_int(&a, now + lease_ms);
    pg__arg_int(&a, now);
    pg__arg_int(&a, (int64_t)max);
    if (rule_id)
        pg__arg_text(&a, rule_id);
    /* The due rows are picked and locked once (a materialized CTE), skipping rows another
     * engine is leasing right now: the live lane's first, then the bulk lane's, each a
     * range of its index; two statements so that each can use its index. */
    PGresult *r =
        rule_id
            ? pg__run(st,
                      "WITH live AS MATERIALIZED (SELECT id FROM sync_outbox WHERE rule_id = $5 "
                      "AND lane = 0 AND not_before <= $3 AND (lease_owner IS NULL OR "
                      "lease_until < $3) ORDER BY not_before, id LIMIT $4 FOR UPDATE SKIP "
                      "LOCKED), bulk AS MATERIALIZED (SELECT id FROM sync_outbox WHERE rule_id = "
                      "$5 AND lane = 1 AND not_before <= $3 AND (lease_owner IS NULL OR "
                      "lease_until < $3) ORDER BY not_before, id LIMIT $4 - (SELECT count(*) "
                      "FROM live) FOR UPDATE SKIP LOCKED), due AS (SELECT id FROM live UNION ALL "
                      "SELECT id FROM bulk), leased AS (UPDATE sync_outbox o SET lease_owner = "
                      "$1, lease_until = $2, attempts = o.attempts + 1, lease_token = "
                      "o.lease_token + 1 FROM due WHERE o.id = due.id RETURNING o.id, o.rule_id, "
                      "o.user_id, o.flags, o.attempts, o.generation, o.not_before, "
                      "o.lease_token, o.lane) SELECT * FROM leased ORDER BY lane, not_before, id",
                      &a, &err)
            : pg__run(st,
                      "WITH live AS MATERIALIZED (SELECT id FROM sync_outbox WHERE lane = 0 AND "
                      "not_before <= $3 AND (lease_owner IS NULL OR lease_until < $3) ORDER BY "
                      "not_before, id LIMIT $4 FOR UPDATE SKIP LOCKED), bulk AS MATERIALIZED "
                      "(SELECT id FROM sync_outbox WHERE lane = 1 AND not_before <= $3 AND "
                      "(lease_owner IS NULL OR lease_until < $3) ORDER BY not_before, id LIMIT "
                      "$4 - (SELECT count(*) FROM live) FOR UPDATE SKIP LOCKED), due AS (SELECT "
                      "id FROM live UNION ALL SELECT id FROM bulk), leased AS (UPDATE "
                      "sync_outbox o SET lease_owner = $1, lease_until = $2, attempts = "
                      "o.attempts + 1, lease_token = o.lease_token + 1 FROM due WHERE o.id = "
                      "due.id RETURNING o.id, o.rule_id, o.user_id, o.flags, o.attempts, "
                      "o.generation, o.not_before, o.lease_token, o.lane) SELECT * FROM leased "
                      "ORDER BY lane, not_before, id",
                      &a, &err);
    if (!r)
        return err;
    int rows = PQntuples(r);
    if (rows == 0) {
        PQclear(r);
        return SC_OK;
    }
    struct store_sync_item *items = calloc((size_t)rows, sizeof *items);
    if (!items) {
        PQclear(r);
        return SC_ERR_NOMEM;
    }
    for (int i = 0; i < rows; i++) {
        struct store_sync_item *it = &items[i];
        it->id = pg__col_int(r, i, 0);
        sc_strlcpy(it->rule_id, PQgetvalue(r, i, 1), sizeof it->rule_id);
        sc_strlcpy(it->user_id, PQgetvalue(r, i, 2), sizeof it->user_id);
        it->flags = (int)pg__col_int(r, i, 3);
        it->attempts = (int)pg__col_int(r, i, 4);
        it->generation = pg__col_int(r, i, 5);
        it->not_before = pg__col_int(r, i, 6);
        it->lease_token = pg__col_int(r, i, 7);
        it->lane = (int)pg__col_int(r, i, 8);
    }
    PQclear(r);
    *out = items;
    *n = (size_t)rows;
    return SC_OK;
}

static enum sc_err pg_outbox_renew(struct store *st, const char *owner, int64_t until)
{
    struct pg_args a = {0};
    pg__arg_int(&a, until);
    pg__arg_text(&a, owner);
    return pg__cmd(st, "UPDATE sync_outbox SET lease_until = $1 WHERE lease_owner = $2", &a, NULL);
}

static enum sc_err pg_outbox_held(struct store *st, const char *owner,
                                  const struct store_sync_item *it, int *held)
{
    *held = 0;
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_int(&a, it->id);
    pg__arg_text(&a, owner);
    pg__arg_int(&a, it->lease_token);
    PGresult *r = pg__run(
        st, "SELECT 1 FROM sync_outbox WHERE id = $1 AND lease_owner = $2 AND lease_token = $3", &a,
        &err);
    if (!r)
        return err;
    *held = PQntuples(r) > 0;
    PQclear(r);
    return SC_OK;
}

static enum sc_err pg_outbox_done(struct store *st, const struct store_sync_item *it, int *held)
{
    int dummy;
    if (!held)
        held = &dummy;
    *held = 0;
    struct pg_args d = {0};
    pg__arg_int(&d, it->id);
    pg__arg_int(&d, it->generation);
    pg__arg_int(&d, it->lease_token);
    int64_t rows = 0;
    enum sc_err err = pg__cmd(
        st, "DELETE FROM sync_outbox WHERE id = $1 AND generation = $2 AND lease_token = $3", &d,
        &rows);
    if (err)
        return err;
    if (rows > 0) {
        *held = 1;
        return SC_OK;
    }
    struct pg_args u = {0};
    pg__arg_int(&u, it->id);
    pg__arg_int(&u, it->lease_token);
    err = pg__cmd(st,
                  "UPDATE sync_outbox SET lease_owner = NULL, lease_until = 0, attempts = 0 "
                  "WHERE id = $1 AND lease_token = $2",
                  &u, &rows);
    if (!err)
        *held = rows > 0;
    return err;
}

static enum sc_err pg_outbox_retry(struct store *st, const struct store_sync_item *it,
                                   int64_t not_before, int *held)
{
    struct pg_args a = {0};
    pg__arg_int(&a, it->generation);
    pg__arg_int(&a, not_before);
    pg__arg_int(&a, sc_clock_now_ms());
    pg__arg_int(&a, it->id);
    pg__arg_int(&a, it->lease_token);
    int64_t rows = 0;
    enum sc_err err =
        pg__cmd(st,
                "UPDATE sync_outbox SET lease_owner = NULL, lease_until = 0, not_before = CASE "
                "WHEN generation = $1 THEN $2 ELSE LEAST(not_before, $3) END WHERE id = $4 AND "
                "lease_token = $5",
                &a, &rows);
    if (!err && held)
        *held = rows > 0;
    return err;
}

static enum sc_err pg_outbox_release_all(struct store *st, const char *owner)
{
    struct pg_args a = {0};
    if (owner) {
        pg__arg_text(&a, owner);
        return pg__cmd(st,
                       "UPDATE sync_outbox SET lease_owner = NULL, lease_until = 0 WHERE "
                       "lease_owner = $1",
                       &a, NULL);
    }
    return pg__cmd(st,
                   "UPDATE sync_outbox SET lease_owner = NULL, lease_until = 0 WHERE "
                   "lease_owner IS NOT NULL",
                   NULL, NULL);
}

static enum sc_err pg_outbox_next_due(struct store *st, const char *rule_id, int64_t *ms)
{
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    PGresult *r;
    if (rule_id) {
        pg__arg_text(&a, rule_id);
        r = pg__run(st,
                    "SELECT LEAST((SELECT MIN(not_before) FROM sync_outbox WHERE rule_id = $1 "
                    "AND lane = 0 AND lease_owner IS NULL), (SELECT MIN(not_before) FROM "
                    "sync_outbox WHERE rule_id = $1 AND lane = 1 AND lease_owner IS NULL))",
                    &a, &err);
    } else {
        r = pg__run(st,
                    "SELECT LEAST((SELECT MIN(not_before) FROM sync_outbox WHERE lane = 0 AND "
                    "lease_owner IS NULL), (SELECT MIN(not_before) FROM sync_outbox WHERE lane "
                    "= 1 AND lease_owner IS NULL))",
                    NULL, &err);
    }
    if (!r)
        return err;
    *ms = pg__col_null(r, 0, 0) ? INT64_MAX : pg__col_int(r, 0, 0);
    PQclear(r);
    return SC_OK;
}

static enum sc_err pg_outbox_count(struct store *st, const char *rule_id, int64_t *n)
{
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    PGresult *r = pg__run(
        st, "SELECT COUNT(*) FROM sync_outbox WHERE $1::text IS NULL OR rule_id = $1", &a, &err);
    if (!r)
        return err;
    *n = pg__col_int(r, 0, 0);
    PQclear(r);
    return SC_OK;
}

static enum sc_err pg_outbox_drop_rule(struct store *st, const char *rule_id)
{
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    return pg__cmd(st, "DELETE FROM sync_outbox WHERE rule_id = $1", &a, NULL);
}

static enum sc_err pg_tune(struct store *st)
{
    /* the engine's scans page through their tables (nothing to size per connection) */
    (void)st;
    return SC_OK;
}

/* ---- rules ---- */

static enum sc_err pg_rule_get(struct store *st, const char *rule_id, struct store_sync_rule *out)
{
    memset(out, 0, sizeof *out);
    sc_strlcpy(out->rule_id, rule_id, sizeof out->rule_id);
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    /* in a transaction the row stays locked for the write that follows (a resync's
     * read, update, write must not undo a request that came meanwhile) */
    PGresult *r =
        st->in_tx ? pg__run(st,
                            "SELECT resync, brake_hold, brake_limit, last_sync_at, "
                            "last_resync_at, last_error, verify, last_verify_at, verify_checked, "
                            "verify_drifted, resync_seq, resync_events_seq FROM sync_rules WHERE "
                            "rule_id = $1 FOR NO KEY UPDATE",
                            &a, &err)
                  : pg__run(st,
                            "SELECT resync, brake_hold, brake_limit, last_sync_at, "
                            "last_resync_at, last_error, verify, last_verify_at, verify_checked, "
                            "verify_drifted, resync_seq, resync_events_seq FROM sync_rules WHERE "
                            "rule_id = $1",
                            &a, &err);
    if (!r)
        return err;
    if (PQntuples(r) > 0) {
        out->resync = (int)pg__col_int(r, 0, 0);
        out->brake_hold = pg__col_int(r, 0, 1);
        out->brake_limit = pg__col_int(r, 0, 2);
        out->last_sync_at = pg__col_int(r, 0, 3);
        out->last_resync_at = pg__col_int(r, 0, 4);
        const char *t = pg__col_text(r, 0, 5);
        if (t)
            sc_strlcpy(out->last_error, t, sizeof out->last_error);
        out->verify = (int)pg__col_int(r, 0, 6);
        out->last_verify_at = pg__col_int(r, 0, 7);
        out->verify_checked = pg__col_int(r, 0, 8);
        out->verify_drifted = pg__col_int(r, 0, 9);
        out->resync_seq = pg__col_int(r, 0, 10);
        out->resync_events_seq = pg__col_int(r, 0, 11);
    }
    PQclear(r);
    return SC_OK;
}

static enum sc_err pg_rule_put(struct store *st, const struct store_sync_rule *x)
{
    struct pg_args a = {0};
    pg__arg_text(&a, x->rule_id);
    pg__arg_int(&a, x->resync);
    pg__arg_int(&a, x->brake_hold);
    pg__arg_int(&a, x->brake_limit);
    pg__arg_int(&a, x->last_sync_at);
    pg__arg_int(&a, x->last_resync_at);
    pg__arg_text(&a, x->last_error[0] ? x->last_error : NULL);
    pg__arg_int(&a, x->verify ? 1 : 0);
    pg__arg_int(&a, x->last_verify_at);
    pg__arg_int(&a, x->verify_checked);
    pg__arg_int(&a, x->verify_drifted);
    pg__arg_int(&a, x->resync_seq);
    return pg__cmd(
        st,
        "INSERT INTO sync_rules(rule_id, resync, brake_hold, brake_limit, last_sync_at, "
        "last_resync_at, last_error, verify, last_verify_at, verify_checked, verify_drifted, "
        "resync_seq) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON "
        "CONFLICT(rule_id) DO UPDATE SET resync = excluded.resync, brake_hold = "
        "excluded.brake_hold, brake_limit = excluded.brake_limit, last_sync_at = "
        "excluded.last_sync_at, last_resync_at = excluded.last_resync_at, last_error = "
        "excluded.last_error, verify = excluded.verify, last_verify_at = "
        "excluded.last_verify_at, verify_checked = excluded.verify_checked, verify_drifted = "
        "excluded.verify_drifted, resync_seq = excluded.resync_seq",
        &a, NULL);
}

static enum sc_err pg_rule_request_resync(struct store *st, const char *rule_id, int allow,
                                          int verify)
{
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    pg__arg_int(&a, allow ? 2 : 1);
    pg__arg_int(&a, verify ? 1 : 0);
    return pg__cmd(st,
                   "INSERT INTO sync_rules(rule_id, resync, verify, resync_seq) VALUES($1, $2, "
                   "$3, 1) ON CONFLICT(rule_id) DO UPDATE SET resync = GREATEST(sync_rules.resync, "
                   "excluded.resync), verify = GREATEST(sync_rules.verify, excluded.verify), "
                   "resync_seq = sync_rules.resync_seq + 1",
                   &a, NULL);
}

static enum sc_err pg_rule_resync_done(struct store *st, const char *rule_id, int64_t seq)
{
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    pg__arg_int(&a, seq);
    return pg__cmd(st,
                   "UPDATE sync_rules SET resync = CASE WHEN resync_seq = $2 THEN 0 ELSE resync "
                   "END, verify = CASE WHEN resync_seq = $2 THEN 0 ELSE verify END, "
                   "resync_owner = NULL, resync_until = 0 WHERE rule_id = $1",
                   &a, NULL);
}

static enum sc_err pg_rule_seen(struct store *st, const char *rule_id, int64_t events_seq)
{
    struct pg_args a = {0};
    pg__arg_int(&a, events_seq);
    pg__arg_text(&a, rule_id);
    return pg__cmd(st,
                   "UPDATE sync_rules SET resync_events_seq = GREATEST(resync_events_seq, $1) "
                   "WHERE rule_id = $2",
                   &a, NULL);
}

static enum sc_err pg_rule_claim(struct store *st, const char *rule_id, const char *owner,
                                 int64_t now, int64_t until, int *claimed)
{
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    pg__arg_text(&a, owner);
    pg__arg_int(&a, now);
    pg__arg_int(&a, until);
    int64_t rows = 0;
    enum sc_err err = pg__cmd(st,
                              "UPDATE sync_rules SET resync_owner = $2, resync_until = $4 WHERE "
                              "rule_id = $1 AND resync > 0 AND (resync_owner IS NULL OR "
                              "resync_owner = $2 OR resync_until < $3)",
                              &a, &rows);
    if (!err)
        *claimed = rows > 0;
    return err;
}

static enum sc_err pg_rule_claims_renew(struct store *st, const char *owner, int64_t until)
{
    struct pg_args a = {0};
    pg__arg_int(&a, until);
    pg__arg_text(&a, owner);
    return pg__cmd(st, "UPDATE sync_rules SET resync_until = $1 WHERE resync_owner = $2", &a, NULL);
}

/* ---- nodes ---- */

static enum sc_err pg_node_beat(struct store *st, const struct store_node *n)
{
    struct pg_args a = {0};
    pg__arg_text(&a, n->id);
    pg__arg_text(&a, n->listen);
    pg__arg_int(&a, n->started_at);
    pg__arg_int(&a, n->last_seen_at);
    pg__arg_int(&a, n->leased);
    return pg__cmd(st,
                   "INSERT INTO sync_nodes(id, listen, started_at, last_seen_at, leased) "
                   "VALUES($1, $2, $3, $4, $5) ON CONFLICT(id) DO UPDATE SET listen = "
                   "excluded.listen, started_at = excluded.started_at, last_seen_at = "
                   "excluded.last_seen_at, leased = excluded.leased",
                   &a, NULL);
}

/* A node row into dst (a struct store_node; pg__rows' fill). */
static void node_from_row(const PGresult *r, int row, void *dst)
{
    struct store_node *x = dst;
    pg__col_copy(r, row, 0, x->id, sizeof x->id);
    pg__col_copy(r, row, 1, x->listen, sizeof x->listen);
    x->started_at = pg__col_int(r, row, 2);
    x->last_seen_at = pg__col_int(r, row, 3);
    x->leased = pg__col_int(r, row, 4);
}

static enum sc_err pg_node_list(struct store *st, int64_t seen_since, struct store_node **out,
                                size_t *n)
{
    struct pg_args a = {0};
    pg__arg_int(&a, seen_since);
    void *v = NULL;
    enum sc_err err =
        pg__rows(st,
                 "SELECT id, listen, started_at, last_seen_at, leased FROM sync_nodes "
                 "WHERE last_seen_at >= $1 ORDER BY id",
                 &a, sizeof **out, node_from_row, &v, n);
    *out = v;
    return err;
}

static enum sc_err pg_node_reap(struct store *st, int64_t seen_before, int64_t *released)
{
    int64_t rows = 0;
    struct pg_args a = {0};
    pg__arg_int(&a, seen_before);
    enum sc_err err = pg__cmd(st,
                              "UPDATE sync_outbox SET lease_owner = NULL, lease_until = 0 WHERE "
                              "lease_owner IN (SELECT id FROM sync_nodes WHERE last_seen_at < $1)",
                              &a, &rows);
    if (released)
        *released = err ? 0 : rows;
    if (err)
        return err;
    struct pg_args b = {0};
    pg__arg_int(&b, seen_before);
    if ((err = pg__cmd(st,
                       "UPDATE sync_rules SET resync_owner = NULL, resync_until = 0 WHERE "
                       "resync_owner IN (SELECT id FROM sync_nodes WHERE last_seen_at < $1)",
                       &b, NULL)))
        return err;
    struct pg_args c = {0};
    pg__arg_int(&c, seen_before - 3600 * 1000);
    return pg__cmd(st, "DELETE FROM sync_nodes WHERE last_seen_at < $1", &c, NULL);
}

static enum sc_err pg_rule_add_drift(struct store *st, const char *rule_id, int64_t checked,
                                     int64_t drifted, int64_t at)
{
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    pg__arg_int(&a, checked);
    pg__arg_int(&a, drifted);
    pg__arg_int(&a, at);
    return pg__cmd(st,
                   "INSERT INTO sync_rules(rule_id, last_verify_at, verify_checked, "
                   "verify_drifted) VALUES($1, $4, $2, $3) ON CONFLICT(rule_id) DO UPDATE SET "
                   "last_verify_at = $4, verify_checked = sync_rules.verify_checked + $2, "
                   "verify_drifted = sync_rules.verify_drifted + $3",
                   &a, NULL);
}

static enum sc_err pg_rule_clears_get(struct store *st, const char *rule_id, char **out)
{
    *out = NULL;
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    PGresult *r =
        st->in_tx ? pg__run(st,
                            "SELECT clear_paths FROM sync_rules WHERE rule_id = $1 FOR "
                            "NO KEY UPDATE",
                            &a, &err)
                  : pg__run(st, "SELECT clear_paths FROM sync_rules WHERE rule_id = $1", &a, &err);
    if (!r)
        return err;
    if (PQntuples(r) > 0)
        *out = pg__col_dup(r, 0, 0);
    PQclear(r);
    return SC_OK;
}

static enum sc_err pg_rule_clears_set(struct store *st, const char *rule_id, const char *json)
{
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    pg__arg_text(&a, json);
    return pg__cmd(st,
                   "INSERT INTO sync_rules(rule_id, clear_paths) VALUES($1, $2) ON "
                   "CONFLICT(rule_id) DO UPDATE SET clear_paths = excluded.clear_paths",
                   &a, NULL);
}

static enum sc_err pg_rule_pending(struct store *st, size_t max, char (**out)[STORE_SYNC_ID_MAX],
                                   size_t *n)
{
    *out = NULL;
    *n = 0;
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_int(&a, (int64_t)max);
    PGresult *r = pg__run(
        st, "SELECT rule_id FROM sync_rules WHERE resync > 0 ORDER BY rule_id LIMIT $1", &a, &err);
    if (!r)
        return err;
    size_t count = (size_t)PQntuples(r);
    if (count > max)
        count = max;
    if (count == 0) {
        PQclear(r);
        return SC_OK;
    }
    char(*ids)[STORE_SYNC_ID_MAX] = calloc(count, sizeof *ids);
    if (!ids) {
        PQclear(r);
        return SC_ERR_NOMEM;
    }
    for (size_t i = 0; i < count; i++)
        sc_strlcpy(ids[i], PQgetvalue(r, (int)i, 0), STORE_SYNC_ID_MAX);
    PQclear(r);
    *out = ids;
    *n = count;
    return SC_OK;
}

static enum sc_err pg_rule_touch(struct store *st, const char *rule_id, int64_t ms)
{
    struct pg_args a = {0};
    pg__arg_text(&a, rule_id);
    pg__arg_int(&a, ms);
    return pg__cmd(st,
                   "INSERT INTO sync_rules(rule_id, last_sync_at) VALUES($1, $2) ON "
                   "CONFLICT(rule_id) DO UPDATE SET last_sync_at = excluded.last_sync_at",
                   &a, NULL);
}

static enum sc_err pg_rule_forget(struct store *st, const char *rule_id)
{
    static const char *const sql[] = {
        "DELETE FROM sync_links WHERE rule_id = $1",
        "DELETE FROM sync_outbox WHERE rule_id = $1",
        "DELETE FROM sync_rules WHERE rule_id = $1",
    };
    return pg__run_each(st, sql, sizeof sql / sizeof sql[0], rule_id);
}

/* ---- connections ---- */

static enum sc_err pg_quarantine_set(struct store *st, const char *connection_id, int on,
                                     const char *reason)
{
    struct pg_args a = {0};
    pg__arg_text(&a, connection_id);
    pg__arg_int(&a, on ? 1 : 0);
    pg__arg_text(&a, reason);
    pg__arg_int(&a, sc_clock_now_ms());
    return pg__cmd(st,
                   "INSERT INTO sync_connections(connection_id, quarantined, reason, since) "
                   "VALUES($1, $2, $3, $4) ON CONFLICT(connection_id) DO UPDATE SET "
                   "quarantined = excluded.quarantined, reason = excluded.reason, since = "
                   "excluded.since",
                   &a, NULL);
}

static enum sc_err pg_quarantine_get(struct store *st, const char *connection_id, int *on,
                                     char *reason, size_t n)
{
    *on = 0;
    if (reason && n)
        reason[0] = '\0';
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_text(&a, connection_id);
    PGresult *r = pg__run(
        st, "SELECT quarantined, reason FROM sync_connections WHERE connection_id = $1", &a, &err);
    if (!r)
        return err;
    if (PQntuples(r) > 0) {
        *on = (int)pg__col_int(r, 0, 0);
        const char *t = pg__col_text(r, 0, 1);
        if (t && reason && n)
            sc_strlcpy(reason, t, n);
    }
    PQclear(r);
    return SC_OK;
}

/* ---- log ---- */

static enum sc_err pg_log_append(struct store *st, const struct store_sync_log_entry *le)
{
    struct pg_args a = {0};
    pg__arg_int(&a, sc_clock_now_ms());
    pg__arg_text(&a, le->rule_id);
    pg__arg_text(&a, le->user_id);
    pg__arg_text(&a, le->username);
    pg__arg_text(&a, le->action);
    pg__arg_text(&a, le->status);
    pg__arg_int(&a, le->http_status);
    pg__arg_text(&a, le->changes);
    pg__arg_text(&a, le->error);
    return pg__cmd(st,
                   "INSERT INTO sync_log(time, rule_id, user_id, username, action, status, "
                   "http_status, changes, error) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                   &a, NULL);
}

static enum sc_err pg_log_list(struct store *st, const char *rule_id, const char *user_id,
                               const char *action, const char *status, int limit,
                               const char *cursor, json_t *items, char **next)
{
    *next = NULL;
    int64_t before = INT64_MAX;
    if (cursor && sc_parse_int64(cursor, 1, INT64_MAX, &before))
        return SC_ERR_INVALID;
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_int(&a, before);
    pg__arg_text(&a, rule_id);
    pg__arg_text(&a, user_id);
    pg__arg_text(&a, action);
    pg__arg_text(&a, status);
    pg__arg_int(&a, (int64_t)limit + 1);
    PGresult *r = pg__run(
        st,
        "SELECT id, time, rule_id, user_id, username, action, status, http_status, changes, "
        "error FROM sync_log WHERE id < $1 AND ($2::text IS NULL OR rule_id = $2) AND "
        "($3::text IS NULL OR user_id = $3) AND ($4::text IS NULL OR action = $4) AND "
        "($5::text IS NULL OR status = $5) ORDER BY id DESC LIMIT $6",
        &a, &err);
    if (!r)
        return err;
    int64_t last_id = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        if (i == limit) {
            char c[32];
            snprintf(c, sizeof c, "%" PRId64, last_id);
            *next = sc_strdup(c);
            break;
        }
        last_id = pg__col_int(r, i, 0);
        struct store__log_row row = {
            .id = last_id,
            .time = pg__col_int(r, i, 1),
            .rule_id = pg__col_text(r, i, 2),
            .user_id = pg__col_text(r, i, 3),
            .username = pg__col_text(r, i, 4),
            .action = PQgetvalue(r, i, 5),
            .status = PQgetvalue(r, i, 6),
            .http_status = (int)pg__col_int(r, i, 7),
            .changes = pg__col_text(r, i, 8),
            .error = pg__col_text(r, i, 9),
        };
        json_array_append_new(items, store__log_item(&row));
    }
    PQclear(r);
    return SC_OK;
}

const struct store_sync_ops store__pg_sync_ops = {
    .link_get = pg_link_get,
    .link_put = pg_link_put,
    .link_put_unlinked = pg_link_put_unlinked,
    .link_set_found = pg_link_set_found,
    .link_set_source = pg_link_set_source,
    .link_page = pg_link_page,
    .link_list = pg_link_list,
    .link_counts = pg_link_counts,
    .outbox_touch = pg_outbox_touch,
    .outbox_lease = pg_outbox_lease,
    .outbox_renew = pg_outbox_renew,
    .outbox_held = pg_outbox_held,
    .outbox_done = pg_outbox_done,
    .outbox_retry = pg_outbox_retry,
    .outbox_release_all = pg_outbox_release_all,
    .outbox_next_due = pg_outbox_next_due,
    .outbox_count = pg_outbox_count,
    .outbox_drop_rule = pg_outbox_drop_rule,
    .tune = pg_tune,
    .checkpoint = pg_tune, /* (the server checkpoints) */
    .rule_get = pg_rule_get,
    .rule_put = pg_rule_put,
    .rule_request_resync = pg_rule_request_resync,
    .rule_resync_done = pg_rule_resync_done,
    .rule_add_drift = pg_rule_add_drift,
    .rule_clears_get = pg_rule_clears_get,
    .rule_clears_set = pg_rule_clears_set,
    .rule_pending = pg_rule_pending,
    .rule_touch = pg_rule_touch,
    .rule_forget = pg_rule_forget,
    .quarantine_set = pg_quarantine_set,
    .quarantine_get = pg_quarantine_get,
    .log_append = pg_log_append,
    .log_list = pg_log_list,
    .rule_seen = pg_rule_seen,
    .node_beat = pg_node_beat,
    .node_list = pg_node_list,
    .node_reap = pg_node_reap,
    .rule_claim = pg_rule_claim,
    .rule_claims_renew = pg_rule_claims_renew,
};
