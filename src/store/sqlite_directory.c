/* The directory component of the SQLite back-end: its schema migrations (dir_populations,
 * dir_users, dir_groups, dir_group_members) and the store functions declared in
 * store/store_directory.h. Each write appends its change event in the same transaction:
 * the caller's, or one opened here when the caller has none. */
#include "store/sqlite_internal.h"
#include "store/store_directory.h"
#include "store/store_events.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"

#include <stdlib.h>
#include <string.h>

static const struct store_migration directory_migrations[] = {
    {1, "CREATE TABLE dir_populations ("
        " id TEXT PRIMARY KEY,"
        " name TEXT NOT NULL COLLATE NOCASE UNIQUE,"
        " description TEXT,"
        " created_at TEXT NOT NULL,"
        " updated_at TEXT NOT NULL);"
        "CREATE TABLE dir_users ("
        " id TEXT PRIMARY KEY,"
        " username TEXT NOT NULL,"
        " given_name TEXT, family_name TEXT, formatted_name TEXT, nickname TEXT, title TEXT,"
        " user_type TEXT, email TEXT, primary_phone TEXT, external_id TEXT,"
        " street_address TEXT, locality TEXT, region TEXT, postal_code TEXT, country_code TEXT,"
        " enabled INTEGER NOT NULL DEFAULT 1,"
        " population_id TEXT NOT NULL REFERENCES dir_populations(id),"
        " created_at TEXT NOT NULL,"
        " updated_at TEXT NOT NULL);"
        "CREATE UNIQUE INDEX dir_users_username ON dir_users(lower(username));"
        "CREATE INDEX dir_users_population ON dir_users(population_id);"
        "CREATE TABLE dir_groups ("
        " id TEXT PRIMARY KEY,"
        " name TEXT NOT NULL COLLATE NOCASE UNIQUE,"
        " description TEXT,"
        " user_filter TEXT,"
        " created_at TEXT NOT NULL,"
        " updated_at TEXT NOT NULL);"
        "CREATE TABLE dir_group_members ("
        " group_id TEXT NOT NULL REFERENCES dir_groups(id) ON DELETE CASCADE,"
        " user_id TEXT REFERENCES dir_users(id) ON DELETE CASCADE,"
        " member_group_id TEXT REFERENCES dir_groups(id) ON DELETE CASCADE,"
        " CHECK ((user_id IS NULL) <> (member_group_id IS NULL)));"
        "CREATE UNIQUE INDEX dir_group_members_user ON dir_group_members(group_id, user_id)"
        " WHERE user_id IS NOT NULL;"
        "CREATE UNIQUE INDEX dir_group_members_group ON dir_group_members(group_id,"
        " member_group_id) WHERE member_group_id IS NOT NULL;"
        "CREATE INDEX dir_group_members_by_user ON dir_group_members(user_id)"
        " WHERE user_id IS NOT NULL;"
        "CREATE INDEX dir_group_members_by_group ON dir_group_members(member_group_id)"
        " WHERE member_group_id IS NOT NULL;"},
};
const struct store_component store__directory_schema = {"directory", directory_migrations, 1};

/* The user's origin (struct store_user_origin): the inbound token that created it and
 * that token's source connection, kept with the user (so after the token is revoked too).
 * One look-up by key beside the user's row. */
#define USER_ORIGIN_COLS ", iu.source, iu.source_connection "
#define USER_ORIGIN_FROM "LEFT JOIN inbound_users iu ON iu.user_id = u.id "

/* ---- helpers ------------------------------------------------------------------ */

static enum sc_err tx_open(struct store *st, int *own)
{
    *own = !store_in_transaction(st);
    return *own ? store_begin(st) : SC_OK;
}

static enum sc_err tx_close(struct store *st, int own, enum sc_err rc)
{
    if (!own)
        return rc;
    if (rc) {
        store_rollback(st);
        return rc;
    }
    return store_commit(st);
}

static json_t *col_json_string(sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    return t ? json_string((const char *)t) : json_null();
}

/* Row s (read with STORE__USER_COLS) as both back-ends make it into a user. */
static void user_row(sqlite3_stmt *s, struct store__user_row *r)
{
    for (int i = 0; i < STORE__USER_NCOLS; i++) {
        r->type[i] = sqlite3_column_type(s, i);
        r->num[i] = r->type[i] == SQLITE_INTEGER ? sqlite3_column_int64(s, i) : 0;
        r->text[i] = r->type[i] == SQLITE_NULL ? NULL : (const char *)sqlite3_column_text(s, i);
        r->len[i] = r->text[i] ? (size_t)sqlite3_column_bytes(s, i) : 0;
    }
}

static json_t *user_from_row(sqlite3_stmt *s)
{
    struct store__user_row r;
    user_row(s, &r);
    return store__user_json(&r);
}

/* Binds ?1 id, ?2..?16 the text fields, ?17 enabled, ?18 population id, ?19 createdAt,
 * ?20 updatedAt. */
static void bind_user(sqlite3_stmt *s, const json_t *u)
{
    struct store__user_values v;
    store__user_values(u, &v);
    store__bind_text(s, 1, v.id);
    for (int i = 0; i < STORE__USER_NTEXT; i++)
        store__bind_text(s, i + 2, v.text[i]);
    sqlite3_bind_int(s, 17, v.enabled);
    store__bind_text(s, 18, v.population_id);
    store__bind_text(s, 19, v.created_at);
    store__bind_text(s, 20, v.updated_at);
}

/* Collects every row of s (already bound) through fn into a new array. */
static enum sc_err collect_rows(struct store *st, sqlite3_stmt *s, json_t *(*fn)(sqlite3_stmt *),
                                json_t **items)
{
    json_t *arr = json_array();
    enum sc_err err = arr ? SC_OK : SC_ERR_NOMEM;
    int rc = SQLITE_DONE;
    while (!err && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        json_t *row = fn(s);
        if (!row || json_array_append_new(arr, row))
            err = SC_ERR_NOMEM;
    }
    if (!err && rc != SQLITE_DONE)
        err = store__err(st, rc);
    sqlite3_reset(s);
    if (err) {
        json_decref(arr);
        return err;
    }
    *items = arr;
    return SC_OK;
}

/* Reads one row through fn; SC_ERR_NOT_FOUND when there is none. */
static enum sc_err one_row(struct store *st, sqlite3_stmt *s, json_t *(*fn)(sqlite3_stmt *),
                           json_t **out)
{
    int rc = sqlite3_step(s);
    enum sc_err err = SC_OK;
    if (rc == SQLITE_ROW) {
        *out = fn(s);
        if (!*out)
            err = SC_ERR_NOMEM;
    } else {
        err = rc == SQLITE_DONE ? SC_ERR_NOT_FOUND : store__err(st, rc);
    }
    sqlite3_reset(s);
    return err;
}

/* ---- populations -------------------------------------------------------------- */

#define POP_COLS                                                                                   \
    "p.id, p.name, p.description, p.created_at, p.updated_at, "                                    \
    "(SELECT count(*) FROM dir_users u WHERE u.population_id = p.id) "

static json_t *population_from_row(sqlite3_stmt *s)
{
    return json_pack("{s:o, s:o, s:o, s:I, s:o, s:o}", "id", col_json_string(s, 0), "name",
                     col_json_string(s, 1), "description", col_json_string(s, 2), "userCount",
                     (json_int_t)sqlite3_column_int64(s, 5), "createdAt", col_json_string(s, 3),
                     "updatedAt", col_json_string(s, 4));
}

static enum sc_err sqlite_population_insert(struct store *st, const json_t *p)
{
    int own;
    enum sc_err rc = tx_open(st, &own);
    if (rc)
        return rc;
    const char *id = json_string_value(json_object_get(p, "id"));
    sqlite3_stmt *s = store__prepare(st, "INSERT INTO dir_populations(id, name, description, "
                                         "created_at, updated_at) VALUES(?, ?, ?, ?, ?)");
    if (!s) {
        rc = SC_ERR_DB;
        goto done;
    }
    store__bind_text(s, 1, id);
    store__bind_text(s, 2, json_string_value(json_object_get(p, "name")));
    store__bind_text(s, 3, json_string_value(json_object_get(p, "description")));
    store__bind_text(s, 4, json_string_value(json_object_get(p, "createdAt")));
    store__bind_text(s, 5, json_string_value(json_object_get(p, "updatedAt")));
    if ((rc = store__step_done(st, s)))
        goto done;
    rc = store_event_append(st, "population.updated", id, NULL);
done:
    return tx_close(st, own, rc);
}

static enum sc_err sqlite_population_get(struct store *st, const char *id, json_t **out)
{
    sqlite3_stmt *s = store__prepare(st, "SELECT " POP_COLS "FROM dir_populations p WHERE id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, id);
    return one_row(st, s, population_from_row, out);
}

static enum sc_err sqlite_population_find(struct store *st, const char *name, json_t **out)
{
    sqlite3_stmt *s =
        store__prepare(st, "SELECT " POP_COLS "FROM dir_populations p WHERE name = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, name);
    return one_row(st, s, population_from_row, out);
}

static enum sc_err sqlite_population_update(struct store *st, const json_t *p)
{
    int own;
    enum sc_err rc = tx_open(st, &own);
    if (rc)
        return rc;
    const char *id = json_string_value(json_object_get(p, "id"));
    sqlite3_stmt *s = store__prepare(st, "UPDATE dir_populations SET name = ?2, description = ?3, "
                                         "updated_at = ?4 WHERE id = ?1");
    if (!s) {
        rc = SC_ERR_DB;
        goto done;
    }
    store__bind_text(s, 1, id);
    store__bind_text(s, 2, json_string_value(json_object_get(p, "name")));
    store__bind_text(s, 3, json_string_value(json_object_get(p, "description")));
    store__bind_text(s, 4, json_string_value(json_object_get(p, "updatedAt")));
    if ((rc = store__step_done(st, s)))
        goto done;
    if (sqlite3_changes(sqlite__db(st)) == 0) {
        rc = SC_ERR_NOT_FOUND;
        goto done;
    }
    rc = store_event_append(st, "population.updated", id, NULL);
done:
    return tx_close(st, own, rc);
}

static enum sc_err sqlite_population_delete(struct store *st, const char *id)
{
    int own;
    enum sc_err rc = tx_open(st, &own);
    if (rc)
        return rc;
    sqlite3_stmt *s = store__prepare(st, "SELECT 1 FROM dir_users WHERE population_id = ? LIMIT 1");
    if (!s) {
        rc = SC_ERR_DB;
        goto done;
    }
    store__bind_text(s, 1, id);
    int has_users = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_reset(s);
    if (has_users) {
        rc = SC_ERR_CONFLICT;
        goto done;
    }
    s = store__prepare(st, "DELETE FROM dir_populations WHERE id = ?");
    if (!s) {
        rc = SC_ERR_DB;
        goto done;
    }
    store__bind_text(s, 1, id);
    if ((rc = store__step_done(st, s)))
        goto done;
    if (sqlite3_changes(sqlite__db(st)) == 0) {
        rc = SC_ERR_NOT_FOUND;
        goto done;
    }
    rc = store_event_append(st, "population.deleted", id, NULL);
done:
    return tx_close(st, own, rc);
}

static enum sc_err sqlite_population_list(struct store *st, const char *after_name, int limit,
                                          json_t **items)
{
    sqlite3_stmt *s = store__prepare(st, "SELECT " POP_COLS "FROM dir_populations p "
                                         "WHERE name > ? ORDER BY name LIMIT ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, after_name ? after_name : "");
    sqlite3_bind_int(s, 2, limit);
    return collect_rows(st, s, population_from_row, items);
}

/* ---- users -------------------------------------------------------------------- */

static enum sc_err user_insert_row(struct store *st, const json_t *u)
{
    sqlite3_stmt *s = store__prepare(
        st, "INSERT INTO dir_users(id, username, given_name, family_name, formatted_name, "
            "nickname, title, user_type, email, primary_phone, external_id, street_address, "
            "locality, region, postal_code, country_code, enabled, population_id, created_at, "
            "updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
            "?15, ?16, ?17, ?18, ?19, ?20)");
    if (!s)
        return SC_ERR_DB;
    bind_user(s, u);
    enum sc_err rc = store__step_done(st, s);
    if (rc)
        return rc;
    return store_event_append(st, "user.created", json_string_value(json_object_get(u, "id")),
                              NULL);
}

static enum sc_err sqlite_user_insert(struct store *st, const json_t *u)
{
    int own;
    enum sc_err rc = tx_open(st, &own);
    if (rc)
        return rc;
    rc = user_insert_row(st, u);
    return tx_close(st, own, rc);
}

static enum sc_err sqlite_users_insert_many(struct store *st, const json_t *users,
                                            enum sc_err *row_err, size_t *stored)
{
    size_t n = json_array_size(users), ok = 0;
    int own;
    enum sc_err rc = tx_open(st, &own);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        /* A failed INSERT undoes only itself (ON CONFLICT ABORT), so a bad row leaves
         * the transaction and the good rows intact. */
        enum sc_err r = user_insert_row(st, json_array_get(users, i));
        row_err[i] = r;
        if (r == SC_OK)
            ok++;
        else if (r != SC_ERR_CONFLICT && r != SC_ERR_INVALID)
            return tx_close(st, own, r);
    }
    if ((rc = tx_close(st, own, SC_OK)))
        return rc;
    *stored = ok;
    return SC_OK;
}

static enum sc_err sqlite_user_get(struct store *st, const char *id, json_t **out)
{
    sqlite3_stmt *s =
        store__prepare(st, "SELECT " STORE__USER_COLS STORE__USER_FROM "WHERE u.id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, id);
    return one_row(st, s, user_from_row, out);
}

static enum sc_err sqlite_user_update(struct store *st, const json_t *u)
{
    int own;
    enum sc_err rc = tx_open(st, &own);
    if (rc)
        return rc;
    sqlite3_stmt *s = store__prepare(
        st, "UPDATE dir_users SET username = ?2, given_name = ?3, family_name = ?4, "
            "formatted_name = ?5, nickname = ?6, title = ?7, user_type = ?8, email = ?9, "
            "primary_phone = ?10, external_id = ?11, street_address = ?12, locality = ?13, "
            "region = ?14, postal_code = ?15, country_code = ?16, enabled = ?17, "
            "population_id = ?18, created_at = ?19, updated_at = ?20 WHERE id = ?1");
    if (!s) {
        rc = SC_ERR_DB;
        goto done;
    }
    bind_user(s, u);
    if ((rc = store__step_done(st, s)))
        goto done;
    if (sqlite3_changes(sqlite__db(st)) == 0) {
        rc = SC_ERR_NOT_FOUND;
        goto done;
    }
    rc = store_event_append(st, "user.updated", json_string_value(json_object_get(u, "id")), NULL);
done:
    return tx_close(st, own, rc);
}

static enum sc_err sqlite_user_delete(struct store *st, const char *id, const char *detail)
{
    int own;
    enum sc_err rc = tx_open(st, &own);
    if (rc)
        return rc;
    sqlite3_stmt *s = store__prepare(st, "DELETE FROM dir_users WHERE id = ?");
    if (!s) {
        rc = SC_ERR_DB;
        goto done;
    }
    store__bind_text(s, 1, id);
    if ((rc = store__step_done(st, s)))
        goto done;
    if (sqlite3_changes(sqlite__db(st)) == 0) {
        rc = SC_ERR_NOT_FOUND;
        goto done;
    }
    rc = store_event_append(st, "user.deleted", id, detail);
done:
    return tx_close(st, own, rc);
}

static enum sc_err sqlite_user_list(struct store *st, const struct store_user_query *q,
                                    json_t **items)
{
    sqlite3_stmt *s = store__prepare(
        st, "SELECT " STORE__USER_COLS STORE__USER_FROM
            "WHERE lower(u.username) > ?1 AND (?2 IS NULL OR u.population_id = ?2) "
            "AND (?3 IS NULL OR u.username LIKE ?3 ESCAPE '\\' OR u.given_name LIKE ?3 ESCAPE "
            "'\\' OR u.family_name LIKE ?3 ESCAPE '\\' OR u.formatted_name LIKE ?3 ESCAPE '\\' "
            "OR u.email LIKE ?3 ESCAPE '\\') AND (?5 IS NULL OR lower(u.username) = lower(?5)) "
            "ORDER BY lower(u.username) LIMIT ?4");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, q->after_username ? q->after_username : "");
    store__bind_text(s, 2, q->population_id);
    char *pattern = NULL;
    if (q->q) {
        struct sc_buf b;
        sc_buf_init(&b, 0);
        sc_buf_puts(&b, "%");
        for (const char *p = q->q; *p; p++) {
            if (*p == '%' || *p == '_' || *p == '\\')
                sc_buf_append(&b, "\\", 1);
            sc_buf_append(&b, p, 1);
        }
        sc_buf_puts(&b, "%");
        pattern = sc_buf_steal(&b);
        if (!pattern)
            return SC_ERR_NOMEM;
    }
    store__bind_text(s, 3, pattern);
    sqlite3_bind_int(s, 4, q->limit);
    store__bind_text(s, 5, q->username);
    enum sc_err rc = collect_rows(st, s, user_from_row, items);
    free(pattern);
    return rc;
}

static enum sc_err sqlite_users_after_id(struct store *st, const char *after_id, int limit,
                                         json_t **items)
{
    sqlite3_stmt *s = store__prepare(st, "SELECT " STORE__USER_COLS STORE__USER_FROM
                                         "WHERE u.id > ? ORDER BY u.id LIMIT ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, after_id ? after_id : "");
    sqlite3_bind_int(s, 2, limit);
    return collect_rows(st, s, user_from_row, items);
}

/* The digest of a user row read with STORE__USER_COLS (store__user_digest). */
static uint64_t user_row_digest(sqlite3_stmt *s)
{
    struct store__user_row r;
    user_row(s, &r);
    return store__user_digest(&r);
}

static enum sc_err sqlite_user_get_digest(struct store *st, const char *id, json_t **out,
                                          uint64_t *digest, struct store_user_origin *origin)
{
    sqlite3_stmt *s = store__prepare(
        st, "SELECT " STORE__USER_COLS USER_ORIGIN_COLS STORE__USER_FROM USER_ORIGIN_FROM
            "WHERE u.id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    enum sc_err err = SC_OK;
    if (rc == SQLITE_ROW) {
        *digest = user_row_digest(s);
        if (origin) {
            const unsigned char *t = sqlite3_column_text(s, 21);
            const unsigned char *c = sqlite3_column_text(s, 22);
            sc_strlcpy(origin->token, t ? (const char *)t : "", sizeof origin->token);
            sc_strlcpy(origin->connection, t && c ? (const char *)c : "",
                       sizeof origin->connection);
        }
        if (!(*out = user_from_row(s)))
            err = SC_ERR_NOMEM;
    } else {
        err = rc == SQLITE_DONE ? SC_ERR_NOT_FOUND : store__err(st, rc);
    }
    sqlite3_reset(s);
    return err;
}

static enum sc_err sqlite_user_digest_each(struct store *st,
                                           int (*fn)(void *arg, const char *id, uint64_t digest),
                                           void *arg)
{
    /* A private statement: fn may use cached ones. */
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(sqlite__db(st),
                           "SELECT " STORE__USER_COLS STORE__USER_FROM "ORDER BY u.id", -1, &s,
                           NULL) != SQLITE_OK)
        return store__err(st, sqlite3_errcode(sqlite__db(st)));
    enum sc_err err = SC_OK;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        uint64_t d = user_row_digest(s);
        if (fn(arg, (const char *)sqlite3_column_text(s, 0), d)) {
            err = SC_ERR_INTERNAL;
            break;
        }
    }
    if (!err && rc != SQLITE_DONE)
        err = store__err(st, rc);
    sqlite3_finalize(s);
    return err;
}

static enum sc_err sqlite_user_digest_page(struct store *st, const char *after_id, size_t max,
                                           int (*fn)(void *arg, const struct store_user_digest *u),
                                           void *arg, size_t *n)
{
    *n = 0;
    sqlite3_stmt *s = store__prepare(st, "SELECT " STORE__USER_COLS STORE__USER_FROM
                                         "WHERE u.id > ? ORDER BY u.id LIMIT ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, after_id ? after_id : "");
    sqlite3_bind_int64(s, 2, (sqlite3_int64)max);
    enum sc_err err = SC_OK;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        (*n)++;
        struct store_user_digest u = {.digest = user_row_digest(s)};
        u.id = (const char *)sqlite3_column_text(s, 0);
        u.population_id = (const char *)sqlite3_column_text(s, 17);
        u.population_name = (const char *)sqlite3_column_text(s, 18);
        u.username = (const char *)sqlite3_column_text(s, 1);
        u.enabled = sqlite3_column_int(s, 16);
        if (fn(arg, &u)) {
            err = SC_ERR_INTERNAL;
            break;
        }
    }
    if (!err && rc != SQLITE_DONE)
        err = store__err(st, rc);
    sqlite3_reset(s);
    return err;
}

static enum sc_err sqlite_user_count(struct store *st, long long *n)
{
    sqlite3_stmt *s = store__prepare(st, "SELECT count(*) FROM dir_users");
    if (!s)
        return SC_ERR_DB;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? SC_OK : store__err(st, rc);
}

static json_t *first_col_string(sqlite3_stmt *s)
{
    return col_json_string(s, 0);
}

static enum sc_err sqlite_user_direct_groups(struct store *st, const char *user_id, json_t **out)
{
    sqlite3_stmt *s =
        store__prepare(st, "SELECT group_id FROM dir_group_members WHERE user_id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, user_id);
    return collect_rows(st, s, first_col_string, out);
}

/* ---- groups ------------------------------------------------------------------- */

#define GROUP_COLS "id, name, description, user_filter, created_at, updated_at "

static json_t *group_from_row(sqlite3_stmt *s)
{
    json_t *filter = NULL;
    const unsigned char *ft = sqlite3_column_text(s, 3);
    if (ft)
        filter = json_loads((const char *)ft, 0, NULL);
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "id", col_json_string(s, 0), "name",
                     col_json_string(s, 1), "description", col_json_string(s, 2), "userFilter",
                     filter ? filter : json_null(), "createdAt", col_json_string(s, 4), "updatedAt",
                     col_json_string(s, 5));
}

/* Binds ?1 id, ?2 name, ?3 description, ?4 filter JSON, ?5 createdAt, ?6 updatedAt. */
static enum sc_err bind_group(sqlite3_stmt *s, const json_t *g)
{
    store__bind_text(s, 1, json_string_value(json_object_get(g, "id")));
    store__bind_text(s, 2, json_string_value(json_object_get(g, "name")));
    store__bind_text(s, 3, json_string_value(json_object_get(g, "description")));
    json_t *f = json_object_get(g, "userFilter");
    if (f && !json_is_null(f)) {
        char *text = sc_json_dump(f);
        if (!text)
            return SC_ERR_NOMEM;
        sqlite3_bind_text(s, 4, text, -1, free);
    } else {
        sqlite3_bind_null(s, 4);
    }
    store__bind_text(s, 5, json_string_value(json_object_get(g, "createdAt")));
    store__bind_text(s, 6, json_string_value(json_object_get(g, "updatedAt")));
    return SC_OK;
}

static enum sc_err sqlite_group_insert(struct store *st, const json_t *g)
{
    int own;
    enum sc_err rc = tx_open(st, &own);
    if (rc)
        return rc;
    sqlite3_stmt *s =
        store__prepare(st, "INSERT INTO dir_groups(" GROUP_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    if (!s) {
        rc = SC_ERR_DB;
        goto done;
    }
    if ((rc = bind_group(s, g)) || (rc = store__step_done(st, s)))
        goto done;
    rc = store_event_append(st, "group.created", json_string_value(json_object_get(g, "id")), NULL);
done:
    return tx_close(st, own, rc);
}

static enum sc_err sqlite_group_get(struct store *st, const char *id, json_t **out)
{
    sqlite3_stmt *s = store__prepare(st, "SELECT " GROUP_COLS "FROM dir_groups WHERE id = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, id);
    return one_row(st, s, group_from_row, out);
}

static enum sc_err sqlite_group_find(struct store *st, const char *name, json_t **out)
{
    sqlite3_stmt *s = store__prepare(st, "SELECT " GROUP_COLS "FROM dir_groups WHERE name = ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, name);
    return one_row(st, s, group_from_row, out);
}

static enum sc_err sqlite_group_update(struct store *st, const json_t *g, const char *detail)
{
    int own;
    enum sc_err rc = tx_open(st, &own);
    if (rc)
        return rc;
    sqlite3_stmt *s = store__prepare(st, "UPDATE dir_groups SET name = ?2, description = ?3, "
                                         "user_filter = ?4, created_at = ?5, updated_at = ?6 "
                                         "WHERE id = ?1");
    if (!s) {
        rc = SC_ERR_DB;
        goto done;
    }
    if ((rc = bind_group(s, g)) || (rc = store__step_done(st, s)))
        goto done;
    if (sqlite3_changes(sqlite__db(st)) == 0) {
        rc = SC_ERR_NOT_FOUND;
        goto done;
    }
    rc = store_event_append(st, "group.updated", json_string_value(json_object_get(g, "id")),
                            detail);
done:
    return tx_close(st, own, rc);
}

static enum sc_err sqlite_group_delete(struct store *st, const char *id, const char *detail)
{
    int own;
    json_t *parents = NULL;
    enum sc_err rc = tx_open(st, &own);
    if (rc)
        return rc;
    sqlite3_stmt *s =
        store__prepare(st, "SELECT group_id FROM dir_group_members WHERE member_group_id = ?");
    if (!s) {
        rc = SC_ERR_DB;
        goto done;
    }
    store__bind_text(s, 1, id);
    if ((rc = collect_rows(st, s, first_col_string, &parents)))
        goto done;
    s = store__prepare(st, "DELETE FROM dir_groups WHERE id = ?");
    if (!s) {
        rc = SC_ERR_DB;
        goto done;
    }
    store__bind_text(s, 1, id);
    if ((rc = store__step_done(st, s)))
        goto done;
    if (sqlite3_changes(sqlite__db(st)) == 0) {
        rc = SC_ERR_NOT_FOUND;
        goto done;
    }
    rc = store__group_deleted_events(st, id, parents, detail);
done:
    json_decref(parents);
    return tx_close(st, own, rc);
}

static enum sc_err sqlite_group_list(struct store *st, const char *after_name, int limit,
                                     json_t **items)
{
    sqlite3_stmt *s = store__prepare(st, "SELECT " GROUP_COLS
                                         "FROM dir_groups WHERE name > ? ORDER BY name LIMIT ?");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, after_name ? after_name : "");
    sqlite3_bind_int(s, 2, limit);
    return collect_rows(st, s, group_from_row, items);
}

static int row_exists(struct store *st, const char *sql, const char *id, enum sc_err *err)
{
    sqlite3_stmt *s = store__prepare(st, sql);
    if (!s) {
        *err = SC_ERR_DB;
        return 0;
    }
    store__bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        *err = store__err(st, rc);
    return rc == SQLITE_ROW;
}

/* A change of group_id's members: its updatedAt moves (the group's lastModified), and
 * group.members is appended with the member that changed in its detail ({key: id}), so
 * the provisioning engine can re-plan one user instead of resyncing whole rules. */
static enum sc_err members_event(struct store *st, const char *group_id, const char *key,
                                 const char *member)
{
    char now[32];
    sc_clock_format_iso8601(sc_clock_now_ms(), now, sizeof now);
    sqlite3_stmt *s = store__prepare(st, "UPDATE dir_groups SET updated_at = ?2 WHERE id = ?1");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, group_id);
    store__bind_text(s, 2, now);
    enum sc_err trc = store__step_done(st, s);
    if (trc)
        return trc;
    json_t *d = json_pack("{s:s}", key, member ? member : "");
    char *text = d ? sc_json_dump(d) : NULL;
    json_decref(d);
    enum sc_err rc = store_event_append(st, "group.members", group_id, text);
    free(text);
    return rc;
}

static enum sc_err sqlite_group_member_add(struct store *st, const char *group_id,
                                           const char *user_id, const char *member_group_id,
                                           int *cycle)
{
    int own;
    enum sc_err rc = tx_open(st, &own);
    if (cycle)
        *cycle = 0;
    if (rc)
        return rc;
    if (!row_exists(st, "SELECT 1 FROM dir_groups WHERE id = ?", group_id, &rc)) {
        rc = rc ? rc : SC_ERR_NOT_FOUND;
        goto done;
    }
    if (user_id && !row_exists(st, "SELECT 1 FROM dir_users WHERE id = ?", user_id, &rc)) {
        rc = rc ? rc : SC_ERR_NOT_FOUND;
        goto done;
    }
    if (member_group_id) {
        if (!row_exists(st, "SELECT 1 FROM dir_groups WHERE id = ?", member_group_id, &rc)) {
            rc = rc ? rc : SC_ERR_NOT_FOUND;
            goto done;
        }
        /* A cycle: the new member is the group itself or contains it at any depth. */
        sqlite3_stmt *s = store__prepare(
            st, "WITH RECURSIVE sub(id) AS (SELECT ?1 UNION SELECT m.member_group_id FROM "
                "dir_group_members m JOIN sub ON m.group_id = sub.id WHERE m.member_group_id IS "
                "NOT NULL) SELECT 1 FROM sub WHERE id = ?2 LIMIT 1");
        if (!s) {
            rc = SC_ERR_DB;
            goto done;
        }
        store__bind_text(s, 1, member_group_id);
        store__bind_text(s, 2, group_id);
        int r = sqlite3_step(s);
        sqlite3_reset(s);
        if (r == SQLITE_ROW) {
            if (cycle)
                *cycle = 1;
            rc = SC_ERR_CONFLICT;
            goto done;
        }
        if (r != SQLITE_DONE) {
            rc = store__err(st, r);
            goto done;
        }
    }
    sqlite3_stmt *s = store__prepare(st, "INSERT INTO dir_group_members(group_id, user_id, "
                                         "member_group_id) VALUES(?, ?, ?)");
    if (!s) {
        rc = SC_ERR_DB;
        goto done;
    }
    store__bind_text(s, 1, group_id);
    store__bind_text(s, 2, user_id);
    store__bind_text(s, 3, member_group_id);
    if ((rc = store__step_done(st, s)))
        goto done;
    rc = members_event(st, group_id, user_id ? "userId" : "groupId",
                       user_id ? user_id : member_group_id);
done:
    return tx_close(st, own, rc);
}

static enum sc_err sqlite_group_member_remove(struct store *st, const char *group_id,
                                              const char *member_id)
{
    int own;
    enum sc_err rc = tx_open(st, &own);
    if (rc)
        return rc;
    sqlite3_stmt *s = store__prepare(st, "DELETE FROM dir_group_members WHERE group_id = ?1 AND "
                                         "(user_id = ?2 OR member_group_id = ?2)");
    if (!s) {
        rc = SC_ERR_DB;
        goto done;
    }
    store__bind_text(s, 1, group_id);
    store__bind_text(s, 2, member_id);
    if ((rc = store__step_done(st, s)))
        goto done;
    if (sqlite3_changes(sqlite__db(st)) == 0) {
        rc = SC_ERR_NOT_FOUND;
        goto done;
    }
    rc = members_event(st, group_id, "memberId", member_id);
done:
    return tx_close(st, own, rc);
}

static json_t *member_from_row(sqlite3_stmt *s)
{
    json_t *m = json_pack("{s:o, s:o, s:o}", "type", col_json_string(s, 0), "id",
                          col_json_string(s, 1), "display", col_json_string(s, 2));
    if (m && sqlite3_column_count(s) > 3 && sqlite3_column_type(s, 3) != SQLITE_NULL)
        json_object_set_new(m, "populationId", col_json_string(s, 3));
    return m;
}

static enum sc_err sqlite_group_members(struct store *st, const char *group_id,
                                        const char *after_type, const char *after_key, int limit,
                                        json_t **out)
{
    sqlite3_stmt *s = store__prepare(
        st, "SELECT t, id, d, p FROM (SELECT 'user' AS t, u.id AS id, u.username AS d, "
            "lower(u.username) AS k, u.population_id AS p FROM dir_group_members m JOIN dir_users "
            "u ON u.id = m.user_id WHERE m.group_id = ?1 UNION ALL SELECT 'group', g.id, g.name, "
            "lower(g.name), NULL FROM dir_group_members m JOIN dir_groups g ON g.id = "
            "m.member_group_id WHERE "
            "m.group_id = ?1) WHERE ?2 IS NULL OR t < ?2 OR (t = ?2 AND k > ?3) "
            "ORDER BY t DESC, k LIMIT ?4");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, group_id);
    store__bind_text(s, 2, after_type);
    store__bind_text(s, 3, after_key ? after_key : "");
    sqlite3_bind_int(s, 4, limit);
    return collect_rows(st, s, member_from_row, out);
}

static enum sc_err sqlite_group_tree_dynamic(struct store *st, const char *group_id, int *dynamic)
{
    sqlite3_stmt *s = store__prepare(
        st, "WITH RECURSIVE sub(id) AS (SELECT ?1 UNION SELECT m.member_group_id FROM "
            "dir_group_members m JOIN sub ON m.group_id = sub.id WHERE m.member_group_id IS NOT "
            "NULL) SELECT 1 FROM dir_groups g JOIN sub ON g.id = sub.id WHERE g.user_filter IS "
            "NOT NULL LIMIT 1");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, group_id);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store__err(st, rc);
    *dynamic = rc == SQLITE_ROW;
    return SC_OK;
}

static enum sc_err sqlite_group_tree_users(struct store *st, const char *group_id,
                                           const char *after_id, int limit, json_t **out)
{
    sqlite3_stmt *s = store__prepare(
        st, "WITH RECURSIVE sub(id) AS (SELECT ?1 UNION SELECT m.member_group_id FROM "
            "dir_group_members m JOIN sub ON m.group_id = sub.id WHERE m.member_group_id IS NOT "
            "NULL) SELECT DISTINCT 'user', u.id, u.username FROM dir_group_members m JOIN sub "
            "ON m.group_id = sub.id JOIN dir_users u ON u.id = m.user_id WHERE u.id > ?2 "
            "ORDER BY u.id LIMIT ?3");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, group_id);
    store__bind_text(s, 2, after_id ? after_id : "");
    sqlite3_bind_int(s, 3, limit);
    return collect_rows(st, s, member_from_row, out);
}

static enum sc_err sqlite_directory_scan(struct store *st,
                                         const struct store_directory_scan_fns *fns, void *arg)
{
    int own = !store_in_transaction(st);
    enum sc_err rc = SC_OK;
    if (own && (rc = store__exec(st, "BEGIN")))
        return rc;
    static const char *const sql[] = {
        "SELECT id, name, user_filter FROM dir_groups",
        "SELECT group_id, member_group_id, NULL FROM dir_group_members WHERE member_group_id IS "
        "NOT NULL",
        "SELECT group_id, user_id, NULL FROM dir_group_members WHERE user_id IS NOT NULL",
    };
    for (int q = 0; q < 3 && !rc; q++) {
        if ((q == 0 && !fns->group) || (q == 1 && !fns->nesting) || (q == 2 && !fns->membership))
            continue;
        sqlite3_stmt *s = store__prepare(st, sql[q]);
        if (!s) {
            rc = SC_ERR_DB;
            break;
        }
        int r;
        while ((r = sqlite3_step(s)) == SQLITE_ROW) {
            const char *a = (const char *)sqlite3_column_text(s, 0);
            const char *b = (const char *)sqlite3_column_text(s, 1);
            int stop = q == 0   ? fns->group(arg, a, b, (const char *)sqlite3_column_text(s, 2))
                       : q == 1 ? fns->nesting(arg, a, b)
                                : fns->membership(arg, a, b);
            if (stop) {
                rc = SC_ERR_NOMEM;
                break;
            }
        }
        if (!rc && r != SQLITE_DONE)
            rc = store__err(st, r);
        sqlite3_reset(s);
    }
    if (own) {
        if (rc)
            store__exec(st, "ROLLBACK");
        else
            rc = store__exec(st, "COMMIT");
    }
    return rc;
}

const struct store_directory_ops store__sqlite_directory_ops = {
    .population_insert = sqlite_population_insert,
    .population_get = sqlite_population_get,
    .population_find = sqlite_population_find,
    .population_update = sqlite_population_update,
    .population_delete = sqlite_population_delete,
    .population_list = sqlite_population_list,
    .user_insert = sqlite_user_insert,
    .users_insert_many = sqlite_users_insert_many,
    .user_get = sqlite_user_get,
    .user_update = sqlite_user_update,
    .user_delete = sqlite_user_delete,
    .user_list = sqlite_user_list,
    .users_after_id = sqlite_users_after_id,
    .user_get_digest = sqlite_user_get_digest,
    .user_digest_each = sqlite_user_digest_each,
    .user_digest_page = sqlite_user_digest_page,
    .user_count = sqlite_user_count,
    .user_direct_groups = sqlite_user_direct_groups,
    .group_insert = sqlite_group_insert,
    .group_get = sqlite_group_get,
    .group_find = sqlite_group_find,
    .group_update = sqlite_group_update,
    .group_delete = sqlite_group_delete,
    .group_list = sqlite_group_list,
    .group_member_add = sqlite_group_member_add,
    .group_member_remove = sqlite_group_member_remove,
    .group_members = sqlite_group_members,
    .group_tree_dynamic = sqlite_group_tree_dynamic,
    .group_tree_users = sqlite_group_tree_users,
    .directory_scan = sqlite_directory_scan,
};
