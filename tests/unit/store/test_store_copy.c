/* The contract of the whole-database copy (store_copy.h), run on SQLite and
 * (unit-pg/store/test_store_copy) on PostgreSQL, where it also copies SQLite into
 * PostgreSQL and back: every row of every table arrives with every value (ids, digests
 * with their top bit, text with tabs, newlines and backslashes, leases, the event
 * cursor), numbering continues after what the source had handed out (deleted rows
 * included), a copy reads one snapshot while another connection writes, a destination
 * that already holds a row refuses the copy and keeps what it had, every table of
 * both schemas is covered, and another process's open SQLite database is seen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/buf.h"
#include "store/pg_internal.h"
#include "store/store.h"
#include "store/store_copy.h"
#include "store/store_directory.h"
#include "store/store_events.h"
#include "store/store_provision.h"
#include "store/store_sync.h"
#include "storetest.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- databases of either kind ---- */

/* A new empty database: PostgreSQL when pg (the run's server), else a SQLite file. */
static void db_new(int pg, char *dsn, size_t n)
{
    if (pg) {
        assert_int_equal(storetest_dsn_new(dsn, n), 0);
        return;
    }
    char path[] = "/tmp/scimitar-copytest-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    snprintf(dsn, n, "sqlite:%s", path);
}

static struct store *db_open(const char *dsn)
{
    struct store *st = NULL;
    struct sc_error e = {0};
    if (store_open(dsn, &st, &e))
        fail_msg("cannot open %s: %s", dsn, e.message);
    return st;
}

/* The kinds of this run: SQLite alone, or both with a PostgreSQL server. */
static int kinds(void)
{
    return storetest_pg() ? 2 : 1;
}

/* ---- a database with something in every table ---- */

static json_t *user_json(int i, const char *pop)
{
    char id[32], username[32], title[64];
    snprintf(id, sizeof id, "u%02d", i);
    snprintf(username, sizeof username, "user%02d", i);
    snprintf(title, sizeof title, "Engineer\t%d\\n", i); /* COPY's escapes */
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:b, s:{s:s}, s:s, s:s}", "id", id,
                     "username", username, "name", "given", "Zoë", "family", "Line\nbreak", "email",
                     "x@example.com", "title", title, "enabled", i != 3, "population", "id", pop,
                     "createdAt", "2026-01-01T00:00:00.000Z", "updatedAt",
                     "2026-01-02T00:00:00.000Z");
}

static void fill(struct store *st)
{
    assert_int_equal(store_setting_set(st, "admin.token_hash", "0123abcd"), SC_OK);
    json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", "p1", "name", "Sales", "description",
                          "the sales people", "createdAt", "2026-01-01T00:00:00.000Z", "updatedAt",
                          "2026-01-01T00:00:00.000Z");
    assert_int_equal(store_population_insert(st, p), SC_OK);
    json_decref(p);
    for (int i = 0; i < 25; i++) {
        json_t *u = user_json(i, "p1");
        assert_int_equal(store_user_insert(st, u), SC_OK);
        json_decref(u);
    }
    json_t *g1 = json_pack("{s:s, s:s, s:s, s:n, s:s, s:s}", "id", "g1", "name", "Admins",
                           "description", "d", "userFilter", "createdAt",
                           "2026-01-01T00:00:00.000Z", "updatedAt", "2026-01-01T00:00:00.000Z");
    json_t *g2 = json_pack("{s:s, s:s, s:n, s:s, s:s, s:s}", "id", "g2", "name", "Dynamic",
                           "description", "userFilter", "title sw \"Eng\"", "createdAt",
                           "2026-01-01T00:00:00.000Z", "updatedAt", "2026-01-01T00:00:00.000Z");
    assert_int_equal(store_group_insert(st, g1), SC_OK);
    assert_int_equal(store_group_insert(st, g2), SC_OK);
    json_decref(g1);
    json_decref(g2);
    int cycle = 0;
    assert_int_equal(store_group_member_add(st, "g1", "u01", NULL, &cycle), SC_OK);
    assert_int_equal(store_group_member_add(st, "g1", "u02", NULL, &cycle), SC_OK);
    assert_int_equal(store_group_member_add(st, "g1", NULL, "g2", &cycle), SC_OK);
    /* a connection deleted after another was made: numbering remembers it */
    struct store_connection c = {.id = "c1",
                                 .name = (char *)"Code42",
                                 .enabled = 1,
                                 .config = (char *)"{\"auth\":{\"accessToken\":\"sb1:AAAA\"}}",
                                 .created_at = 1000,
                                 .updated_at = 2000};
    assert_int_equal(store_connection_insert(st, &c), SC_OK);
    struct store_connection c2 = c;
    snprintf(c2.id, sizeof c2.id, "c2");
    c2.name = (char *)"Gone";
    assert_int_equal(store_connection_insert(st, &c2), SC_OK);
    assert_int_equal(store_connection_delete(st, "c2"), SC_OK);
    assert_int_equal(store_connection_caps_put(st, "c1", "{\"patch\":true}", 3000), SC_OK);
    struct store_rule r = {.id = "r1",
                           .name = (char *)"Rule",
                           .description = (char *)"",
                           .target_id = "c1",
                           .enabled = 1,
                           .filter = (char *)"{\"all\":[]}",
                           .mappings = (char *)"[]",
                           .created_at = 1000,
                           .updated_at = 1000};
    assert_int_equal(store_rule_insert(st, &r), SC_OK);
    /* sync state */
    for (int i = 0; i < 5; i++) {
        struct store_sync_link l = {0};
        snprintf(l.rule_id, sizeof l.rule_id, "r1");
        snprintf(l.user_id, sizeof l.user_id, "u%02d", i);
        l.username = (char *)"name";
        l.target_id = (char *)"t-1";
        snprintf(l.state, sizeof l.state, "%s", SYNC_STATE_SYNCED);
        l.sent = (char *)"{\"title\":\"a\\tb\"}";
        l.digest = 0xfedcba9876543210ULL + (uint64_t)i;
        l.source = 0x8000000000000001ULL;
        l.last_error = (char *)"back\\slash\r\nline";
        assert_int_equal(store_sync_link_put(st, &l), SC_OK);
    }
    for (int i = 0; i < 4; i++) {
        char user[32];
        snprintf(user, sizeof user, "u%02d", 10 + i);
        int lane = i == 3 ? STORE_SYNC_LANE_BULK : STORE_SYNC_LANE_LIVE;
        assert_int_equal(
            store_sync_outbox_touch(st, "r1", user, i == 0 ? SYNC_ITEM_VERIFY : 0, lane, 100 + i),
            SC_OK);
    }
    /* the newest item (in the bulk lane: leased last) done and deleted; the others leased
     * by a node, one of them released for a retry */
    struct store_sync_item *items = NULL;
    size_t n = 0;
    assert_int_equal(store_sync_outbox_lease(st, "node-a", "r1", 1000, 60000, 4, &items, &n),
                     SC_OK);
    assert_int_equal(n, 4);
    assert_string_equal(items[3].user_id, "u13"); /* the highest id goes */
    assert_int_equal(store_sync_outbox_done(st, &items[3], NULL), SC_OK);
    assert_int_equal(store_sync_outbox_retry(st, &items[2], 5000, NULL), SC_OK);
    free(items);
    assert_int_equal(store_sync_rule_request_resync(st, "r1", 1, 0), SC_OK);
    assert_int_equal(store_sync_rule_add_drift(st, "r1", 4, 1, 77), SC_OK);
    assert_int_equal(store_sync_rule_clears_set(st, "r1", "[\"title\"]"), SC_OK);
    assert_int_equal(store_sync_rule_touch(st, "r1", 4242), SC_OK);
    assert_int_equal(store_sync_quarantine_set(st, "c1", 1, "most calls fail"), SC_OK);
    struct store_node node = {.id = "node-a",
                              .listen = "127.0.0.1:8080",
                              .started_at = 1,
                              .last_seen_at = 2,
                              .leased = 2};
    assert_int_equal(store_sync_node_beat(st, &node), SC_OK);
    for (int i = 0; i < 3; i++) {
        struct store_sync_log_entry le = {.rule_id = "r1",
                                          .user_id = "u01",
                                          .username = "user01",
                                          .action = "UPDATE",
                                          .status = "SUCCESS",
                                          .http_status = 200,
                                          .changes = "[{\"attribute\":\"title\"}]"};
        assert_int_equal(store_sync_log_append(st, &le), SC_OK);
    }
    int64_t seq = 0;
    assert_int_equal(store_events_last_seq(st, &seq), SC_OK);
    assert_true(seq > 20);
    assert_int_equal(store_sync_cursor_set(st, seq - 2), SC_OK);
    assert_int_equal(store_events_prune(st, 5), SC_OK);
}

/* ---- what a database holds, for comparing two ---- */

struct dump {
    char **rows;
    size_t n, cap;
};

static void dump_push(struct dump *d, char *row)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 64;
        d->rows = realloc(d->rows, d->cap * sizeof *d->rows);
        assert_non_null(d->rows);
    }
    d->rows[d->n++] = row;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One row as "column=value" pairs in column order (columns may be in another order on
 * the other back-end), values made valid UTF-8 as PostgreSQL stores them. */
static int dump_row(void *arg, int ncols, const char *const *names, const char *const *values)
{
    struct dump *d = arg;
    char **pairs = calloc((size_t)ncols, sizeof *pairs);
    assert_non_null(pairs);
    for (int i = 0; i < ncols; i++) {
        struct sc_buf b;
        sc_buf_init(&b, 0);
        sc_buf_printf(&b, "%s=", names[i]);
        if (values[i])
            sc_utf8_repair(values[i], strlen(values[i]), &b);
        else
            sc_buf_puts(&b, "<null>");
        pairs[i] = sc_buf_steal(&b);
    }
    qsort(pairs, (size_t)ncols, sizeof *pairs, cmp_str);
    struct sc_buf row;
    sc_buf_init(&row, 0);
    for (int i = 0; i < ncols; i++) {
        sc_buf_printf(&row, "%s|", pairs[i]);
        free(pairs[i]);
    }
    free(pairs);
    dump_push(d, sc_buf_steal(&row));
    return 0;
}

struct tables {
    const char *name[32];
    int64_t rows[32];
    int n;
};

static void list_table(void *arg, const char *table, const char *label, int64_t rows)
{
    struct tables *t = arg;
    assert_non_null(label);
    assert_true(t->n < 32);
    t->name[t->n] = table;
    t->rows[t->n++] = rows;
}

/* Every row of every copied table, sorted: "table:col=val|col=val|". */
static void dump_db(struct store *st, struct dump *d)
{
    struct tables t = {0};
    assert_int_equal(store_copy_count(st, list_table, &t), SC_OK);
    for (int i = 0; i < t.n; i++) {
        struct dump one = {0};
        assert_int_equal(st->be->table->each(st, t.name[i], "1", dump_row, &one), SC_OK);
        assert_int_equal((int64_t)one.n, t.rows[i]);
        for (size_t j = 0; j < one.n; j++) {
            struct sc_buf b;
            sc_buf_init(&b, 0);
            sc_buf_printf(&b, "%s:%s", t.name[i], one.rows[j]);
            free(one.rows[j]);
            dump_push(d, sc_buf_steal(&b));
        }
        free(one.rows);
    }
    qsort(d->rows, d->n, sizeof *d->rows, cmp_str);
}

static void dump_free(struct dump *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->rows[i]);
    free(d->rows);
}

static void assert_same(struct store *a, struct store *b)
{
    struct dump da = {0}, db = {0};
    dump_db(a, &da);
    dump_db(b, &db);
    for (size_t i = 0; i < da.n && i < db.n; i++)
        if (strcmp(da.rows[i], db.rows[i]) != 0)
            fail_msg("rows differ:\n  source      %s\n  destination %s", da.rows[i], db.rows[i]);
    assert_int_equal(da.n, db.n);
    dump_free(&da);
    dump_free(&db);
}

/* ---- the tests ---- */

struct seen {
    int starts, dones;
    int64_t users_copied;
};

static void on_progress(void *arg, const struct store_copy_progress *p)
{
    struct seen *s = arg;
    assert_true(p->rows <= p->total);
    if (p->done) {
        s->dones++;
        if (strcmp(p->table, "dir_users") == 0)
            s->users_copied = p->rows;
    } else if (p->rows == 0) {
        s->starts++;
    }
}

/* Copies a filled database of kind from into an empty one of kind to and compares. */
static void copy_between(int from_pg, int to_pg)
{
    char from[256], to[256];
    db_new(from_pg, from, sizeof from);
    db_new(to_pg, to, sizeof to);
    struct store *src = db_open(from), *dst = db_open(to);
    fill(src);
    struct sc_error e = {0};
    struct seen seen = {0};
    assert_int_equal(store_begin_snapshot(src), SC_OK);
    assert_int_equal(store_begin(dst), SC_OK);
    assert_int_equal(store_copy(src, dst, on_progress, &seen, &e), SC_OK);
    assert_int_equal(store_commit(dst), SC_OK);
    store_rollback(src);
    assert_int_equal(seen.starts, seen.dones);
    assert_true(seen.dones >= 14);
    assert_int_equal(seen.users_copied, 25);
    assert_same(src, dst);
    /* through the domain functions too: a link's digest, the cursor, a user */
    struct store_sync_link l = {0};
    assert_int_equal(store_sync_link_get(dst, "r1", "u02", &l), SC_OK);
    assert_int_equal(l.digest, 0xfedcba9876543212ULL);
    assert_int_equal(l.source, 0x8000000000000001ULL);
    assert_string_equal(l.last_error, "back\\slash\r\nline");
    store_sync_link_clear(&l);
    int64_t a = 0, b = 0;
    assert_int_equal(store_sync_cursor_get(src, &a), SC_OK);
    assert_int_equal(store_sync_cursor_get(dst, &b), SC_OK);
    assert_int_equal(a, b);
    json_t *ua = NULL, *ub = NULL;
    assert_int_equal(store_user_get(src, "u03", &ua), SC_OK);
    assert_int_equal(store_user_get(dst, "u03", &ub), SC_OK);
    assert_true(json_equal(ua, ub));
    json_decref(ua);
    json_decref(ub);
    /* numbering continues where the source's would: the same writes on both get the
     * same numbers (the deleted connection and outbox item are not handed out again) */
    struct store *both[2] = {src, dst};
    int64_t seqs[2], ids[2], logs[2];
    for (int i = 0; i < 2; i++) {
        struct store *st = both[i];
        assert_int_equal(store_event_append(st, "test.after", "x", NULL), SC_OK);
        assert_int_equal(store_events_last_seq(st, &seqs[i]), SC_OK);
        assert_int_equal(store_sync_outbox_touch(st, "r1", "u20", 0, STORE_SYNC_LANE_LIVE, 0),
                         SC_OK);
        struct store_sync_item *it = NULL;
        size_t n = 0;
        assert_int_equal(store_sync_outbox_lease(st, "after", "r1", 1, 1000, 10, &it, &n), SC_OK);
        assert_int_equal(n, 1);
        ids[i] = it[0].id;
        free(it);
        struct store_sync_log_entry le = {.action = "SKIP", .status = "SUCCESS"};
        assert_int_equal(store_sync_log_append(st, &le), SC_OK);
        json_t *items = json_array();
        char *next = NULL;
        assert_int_equal(store_sync_log_list(st, NULL, NULL, NULL, NULL, 1, NULL, items, &next),
                         SC_OK);
        assert_int_equal(
            sc_parse_int64(json_string_value(json_object_get(json_array_get(items, 0), "id")), 0,
                           INT64_MAX, &logs[i]),
            0);
        free(next);
        json_decref(items);
        struct store_connection c = {.id = "c3",
                                     .name = (char *)"Third",
                                     .config = (char *)"{}",
                                     .created_at = 5,
                                     .updated_at = 5};
        assert_int_equal(store_connection_insert(st, &c), SC_OK);
    }
    assert_int_equal(seqs[0], seqs[1]);
    assert_int_equal(ids[0], ids[1]);
    assert_int_equal(ids[0], 5); /* after the 4 the source handed out */
    assert_int_equal(logs[0], logs[1]);
    assert_int_equal(logs[0], 4);
    struct dump da = {0}, db = {0};
    dump_db(src, &da);
    dump_db(dst, &db);
    int found = 0;
    for (size_t i = 0; i < db.n; i++)
        found += strncmp(db.rows[i], "connections:", 12) == 0 && strstr(db.rows[i], "seq=3|");
    assert_int_equal(found, 1);
    dump_free(&da);
    dump_free(&db);
    store_close(src);
    store_close(dst);
    storetest_dsn_drop(from);
    storetest_dsn_drop(to);
}

static void test_copy_every_value(void **state)
{
    (void)state;
    for (int from = 0; from < kinds(); from++)
        for (int to = 0; to < kinds(); to++)
            copy_between(from, to);
}

/* The copy reads one snapshot: what another connection commits meanwhile is not in it. */
static void test_copy_snapshot(void **state)
{
    (void)state;
    int pg = storetest_pg() != NULL;
    char from[256];
    db_new(pg, from, sizeof from);
    struct storetest *t = storetest_open(); /* a private database of the run's kind */
    assert_non_null(t);
    struct store *src = db_open(from), *other = db_open(from), *dst = t->st;
    fill(src);
    assert_int_equal(store_begin_snapshot(src), SC_OK);
    assert_int_equal(store_begin_snapshot(src), SC_ERR_INVALID);
    /* writers are not blocked by the snapshot */
    assert_int_equal(store_setting_set(other, "late", "1"), SC_OK);
    json_t *u = user_json(90, "p1");
    assert_int_equal(store_user_insert(other, u), SC_OK);
    json_decref(u);
    struct sc_error e = {0};
    assert_int_equal(store_begin(dst), SC_OK);
    assert_int_equal(store_copy(src, dst, NULL, NULL, &e), SC_OK);
    assert_int_equal(store_commit(dst), SC_OK);
    char *v = NULL;
    assert_int_equal(store_setting_get(dst, "late", &v), SC_ERR_NOT_FOUND);
    long long n = 0;
    assert_int_equal(store_user_count(dst, &n), SC_OK);
    assert_int_equal(n, 25);
    store_rollback(src);
    assert_int_equal(store_user_count(src, &n), SC_OK);
    assert_int_equal(n, 26);
    store_close(src);
    store_close(other);
    storetest_close(t);
    storetest_dsn_drop(from);
}

static void count_rows(void *arg, const char *table, const char *label, int64_t rows)
{
    (void)table;
    (void)label;
    *(int64_t *)arg += rows;
}

/* A destination that already holds a row refuses the copy, and its transaction rolled
 * back keeps what it had; cleared first, it takes the copy. */
static void test_copy_into_used(void **state)
{
    (void)state;
    int pg = storetest_pg() != NULL;
    char from[256], to[256];
    db_new(pg, from, sizeof from);
    db_new(pg, to, sizeof to);
    struct store *src = db_open(from), *dst = db_open(to);
    fill(src);
    int64_t rows = 0;
    assert_int_equal(store_copy_count(dst, count_rows, &rows), SC_OK);
    assert_int_equal(rows, 0);
    assert_int_equal(store_setting_set(dst, "admin.token_hash", "theirs"), SC_OK);
    json_t *p =
        json_pack("{s:s, s:s, s:n, s:s, s:s}", "id", "p9", "name", "Other", "description",
                  "createdAt", "2026-01-01T00:00:00.000Z", "updatedAt", "2026-01-01T00:00:00.000Z");
    assert_int_equal(store_population_insert(dst, p), SC_OK);
    json_decref(p);
    assert_int_equal(store_copy_count(dst, count_rows, &rows), SC_OK);
    assert_true(rows >= 3); /* the setting, the population, its event */
    struct sc_error e = {0};
    assert_int_equal(store_begin_snapshot(src), SC_OK);
    assert_int_equal(store_begin(dst), SC_OK);
    assert_int_equal(store_copy(src, dst, NULL, NULL, &e), SC_ERR_CONFLICT);
    assert_non_null(strstr(e.message, "settings"));
    store_rollback(dst);
    char *v = NULL;
    assert_int_equal(store_setting_get(dst, "admin.token_hash", &v), SC_OK);
    assert_string_equal(v, "theirs");
    free(v);
    json_t *got = NULL;
    assert_int_equal(store_population_get(dst, "p1", &got), SC_ERR_NOT_FOUND);
    /* cleared in the same transaction, the copy goes in */
    assert_int_equal(store_begin(dst), SC_OK);
    assert_int_equal(store_copy_clear(dst), SC_OK);
    assert_int_equal(store_copy(src, dst, NULL, NULL, &e), SC_OK);
    assert_int_equal(store_commit(dst), SC_OK);
    store_rollback(src);
    assert_same(src, dst);
    assert_int_equal(store_population_get(dst, "p9", &got), SC_ERR_NOT_FOUND);
    /* a store is not copied into itself */
    assert_int_equal(store_copy(src, src, NULL, NULL, &e), SC_ERR_INVALID);
    store_close(src);
    store_close(dst);
    storetest_dsn_drop(from);
    storetest_dsn_drop(to);
}

/* Every table of the schema is copied but the version table and the target's. */
static int table_listed(const struct tables *t, const char *name)
{
    if (strcmp(name, "schema_version") == 0 || strcmp(name, "target_resources") == 0)
        return 1;
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->name[i], name) == 0)
            return 1;
    return 0;
}

static void test_copy_covers_schema(void **state)
{
    (void)state;
    for (int pg = 0; pg < kinds(); pg++) {
        char dsn[256];
        db_new(pg, dsn, sizeof dsn);
        struct store *st = db_open(dsn);
        struct tables t = {0};
        assert_int_equal(store_copy_count(st, list_table, &t), SC_OK);
        int seen = 0;
        if (pg) {
            PGconn *c = PQconnectdb(dsn);
            PGresult *r = PQexec(c, "SELECT table_name FROM information_schema.tables WHERE "
                                    "table_schema = current_schema()");
            assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
            for (int i = 0; i < PQntuples(r); i++, seen++)
                if (!table_listed(&t, PQgetvalue(r, i, 0)))
                    fail_msg("table %s of PostgreSQL is not copied", PQgetvalue(r, i, 0));
            PQclear(r);
            PQfinish(c);
        } else {
            sqlite3 *db = NULL;
            assert_int_equal(sqlite3_open(dsn + 7, &db), SQLITE_OK);
            sqlite3_stmt *s = NULL;
            assert_int_equal(sqlite3_prepare_v2(db,
                                                "SELECT name FROM sqlite_master WHERE type = "
                                                "'table' AND name NOT LIKE 'sqlite_%'",
                                                -1, &s, NULL),
                             SQLITE_OK);
            for (; sqlite3_step(s) == SQLITE_ROW; seen++)
                if (!table_listed(&t, (const char *)sqlite3_column_text(s, 0)))
                    fail_msg("table %s of SQLite is not copied", sqlite3_column_text(s, 0));
            sqlite3_finalize(s);
            sqlite3_close(db);
        }
        assert_true(seen >= t.n);
        store_close(st);
        storetest_dsn_drop(dsn);
    }
}

/* Another process that has a SQLite database open is seen, idle or not; once it is
 * gone, it is not. */
static void test_open_elsewhere(void **state)
{
    (void)state;
    char dsn[256];
    db_new(0, dsn, sizeof dsn);
    struct store *st = db_open(dsn);
    store_close(st);
    int elsewhere = -1;
    assert_int_equal(store_open_elsewhere(dsn, &elsewhere), SC_OK);
    assert_int_equal(elsewhere, 0);
    int up[2], down[2];
    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct store *mine = NULL;
        struct sc_error e = {0};
        char c = store_open(dsn, &mine, &e) == SC_OK ? 'y' : 'n';
        if (write(up[1], &c, 1) != 1 || read(down[0], &c, 1) < 0)
            _exit(1);
        _exit(0); /* still open: no close, no checkpoint */
    }
    char c = 0;
    assert_int_equal(read(up[0], &c, 1), 1);
    assert_int_equal(c, 'y');
    assert_int_equal(store_open_elsewhere(dsn, &elsewhere), SC_OK);
    assert_int_equal(elsewhere, 1);
    assert_int_equal(write(down[1], "x", 1), 1);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(store_open_elsewhere(dsn, &elsewhere), SC_OK);
    assert_int_equal(elsewhere, 0);
    close(up[0]);
    close(up[1]);
    close(down[0]);
    close(down[1]);
    storetest_dsn_drop(dsn);
    /* what cannot be told */
    assert_int_equal(store_open_elsewhere("sqlite::memory:", &elsewhere), SC_ERR_INVALID);
    assert_int_equal(store_open_elsewhere("postgresql://u@h:1/d", &elsewhere), SC_ERR_UNSUPPORTED);
    assert_int_equal(store_open_elsewhere("mysql://x", &elsewhere), SC_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy_every_value), cmocka_unit_test(test_copy_snapshot),
        cmocka_unit_test(test_copy_into_used),   cmocka_unit_test(test_copy_covers_schema),
        cmocka_unit_test(test_open_elsewhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
