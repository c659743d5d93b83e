/* The directory component of the PostgreSQL back-end: its schema (dir_populations,
 * dir_users, dir_groups, dir_group_members) and the functions of store_directory.h, with
 * the SQLite back-end's contracts. Differences of PostgreSQL that matter here:
 *  - text columns use the "C" collation, so ordering and keyset paging compare bytes
 *    as SQLite does, and lower() folds ASCII only, as SQLite's NOCASE and lower() do;
 *    case-insensitive names are unique through lower() indexes;
 *  - a failed statement aborts its transaction: a bulk insert skips taken usernames
 *    with ON CONFLICT DO NOTHING instead of catching the error;
 *  - transactions run side by side (READ COMMITTED): a read in a transaction locks the
 *    row it returns (FOR NO KEY UPDATE) so the write that follows (read, patch, write)
 *    cannot lose a concurrent one; writes take the events lock (pg_events.c) before
 *    touching rows, so every appender takes its locks in one order; adding a group to
 *    a group holds a lock over the cycle check. */
#include "store/pg_internal.h"
#include "store/store_directory.h"
#include "store/store_events.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"

#include <stdlib.h>
#include <string.h>

static const struct pg_migration directory_migrations[] = {
    {1, "CREATE TABLE dir_populations ("
        " id TEXT COLLATE \"C\" PRIMARY KEY,"
        " name TEXT COLLATE \"C\" NOT NULL,"
        " description TEXT COLLATE \"C\","
        " created_at TEXT COLLATE \"C\" NOT NULL,"
        " updated_at TEXT COLLATE \"C\" NOT NULL);"
        "CREATE UNIQUE INDEX dir_populations_name ON dir_populations(lower(name));"
        "CREATE TABLE dir_users ("
        " id TEXT COLLATE \"C\" PRIMARY KEY,"
        " username TEXT COLLATE \"C\" NOT NULL,"
        " given_name TEXT COLLATE \"C\", family_name TEXT COLLATE \"C\","
        " formatted_name TEXT COLLATE \"C\", nickname TEXT COLLATE \"C\","
        " title TEXT COLLATE \"C\", user_type TEXT COLLATE \"C\", email TEXT COLLATE \"C\","
        " primary_phone TEXT COLLATE \"C\", external_id TEXT COLLATE \"C\","
        " street_address TEXT COLLATE \"C\", locality TEXT COLLATE \"C\","
        " region TEXT COLLATE \"C\", postal_code TEXT COLLATE \"C\","
        " country_code TEXT COLLATE \"C\","
        " enabled INTEGER NOT NULL DEFAULT 1,"
        " population_id TEXT COLLATE \"C\" NOT NULL REFERENCES dir_populations(id),"
        " created_at TEXT COLLATE \"C\" NOT NULL,"
        " updated_at TEXT COLLATE \"C\" NOT NULL);"
        "CREATE UNIQUE INDEX dir_users_username ON dir_users(lower(username));"
        "CREATE INDEX dir_users_population ON dir_users(population_id);"
        "CREATE TABLE dir_groups ("
        " id TEXT COLLATE \"C\" PRIMARY KEY,"
        " name TEXT COLLATE \"C\" NOT NULL,"
        " description TEXT COLLATE \"C\","
        " user_filter TEXT,"
        " created_at TEXT COLLATE \"C\" NOT NULL,"
        " updated_at TEXT COLLATE \"C\" NOT NULL);"
        "CREATE UNIQUE INDEX dir_groups_name ON dir_groups(lower(name));"
        "CREATE TABLE dir_group_members ("
        " group_id TEXT COLLATE \"C\" NOT NULL REFERENCES dir_groups(id) ON DELETE CASCADE,"
        " user_id TEXT COLLATE \"C\" REFERENCES dir_users(id) ON DELETE CASCADE,"
        " member_group_id TEXT COLLATE \"C\" REFERENCES dir_groups(id) ON DELETE CASCADE,"
        " CHECK ((user_id IS NULL) <> (member_group_id IS NULL)));"
        "CREATE INDEX dir_group_members_of ON dir_group_members(group_id);"
        "CREATE UNIQUE INDEX dir_group_members_user ON dir_group_members(group_id, user_id)"
        " WHERE user_id IS NOT NULL;"
        "CREATE UNIQUE INDEX dir_group_members_group ON dir_group_members(group_id,"
        " member_group_id) WHERE member_group_id IS NOT NULL;"
        "CREATE INDEX dir_group_members_by_user ON dir_group_members(user_id)"
        " WHERE user_id IS NOT NULL;"
        "CREATE INDEX dir_group_members_by_group ON dir_group_members(member_group_id)"
        " WHERE member_group_id IS NOT NULL;"},
};
const struct pg_component store__pg_directory_schema = {"directory", directory_migrations, 1};

/* The user's origin (struct store_user_origin): the inbound token that created it and
 * that token's source connection, kept with the user (so after the token is revoked too).
 * One look-up by key beside the user's row. */
#define USER_ORIGIN_COLS ", iu.source, iu.source_connection "
#define USER_ORIGIN_FROM "LEFT JOIN inbound_users iu ON iu.user_id = u.id "

/* ---- helpers ------------------------------------------------------------------ */

/* Opens a transaction when none is open and takes the events lock first (every write
 * here appends an event). */
static enum sc_err write_open(struct store *st, int *own)
{
    enum sc_err rc = pg__tx_open(st, own);
    if (!rc && (rc = pg__events_lock(st)))
        pg__tx_close(st, *own, rc);
    return rc;
}

static json_t *col_json_string(const PGresult *r, int row, int col)
{
    const char *t = pg__col_text(r, row, col);
    return t ? json_string(t) : json_null();
}

/* Row `row` of res (read with STORE__USER_COLS) as both back-ends make it into a user: the
 * type codes SQLite would give its values. */
static void user_row(const PGresult *res, int row, struct store__user_row *r)
{
    for (int i = 0; i < STORE__USER_NCOLS; i++) {
        int null = PQgetisnull(res, row, i);
        r->type[i] = null ? 5 : i == STORE__USER_COL_ENABLED ? 1 : 3;
        r->num[i] = r->type[i] == 1 ? pg__col_int(res, row, i) : 0;
        r->text[i] = null ? NULL : PQgetvalue(res, row, i);
        r->len[i] = null ? 0 : (size_t)PQgetlength(res, row, i);
    }
}

static json_t *user_from_row(const PGresult *res, int row)
{
    struct store__user_row r;
    user_row(res, row, &r);
    return store__user_json(&r);
}

/* $1 id, $2..$16 the text fields, $17 enabled, $18 population id, $19 createdAt,
 * $20 updatedAt. */
static void args_user(struct pg_args *a, const json_t *u)
{
    struct store__user_values v;
    store__user_values(u, &v);
    pg__arg_text(a, v.id);
    for (int i = 0; i < STORE__USER_NTEXT; i++)
        pg__arg_text(a, v.text[i]);
    pg__arg_int(a, v.enabled);
    pg__arg_text(a, v.population_id);
    pg__arg_text(a, v.created_at);
    pg__arg_text(a, v.updated_at);
}

/* Runs sql and collects every row through fn into a new array. */
static enum sc_err collect_rows(struct store *st, const char *sql, struct pg_args *a,
                                json_t *(*fn)(const PGresult *, int), json_t **items)
{
    enum sc_err err = SC_OK;
    PGresult *r = pg__run(st, sql, a, &err);
    if (!r)
        return err;
    json_t *arr = json_array();
    if (!arr)
        err = SC_ERR_NOMEM;
    for (int i = 0; !err && i < PQntuples(r); i++) {
        json_t *row = fn(r, i);
        if (!row || json_array_append_new(arr, row))
            err = SC_ERR_NOMEM;
    }
    PQclear(r);
    if (err) {
        json_decref(arr);
        return err;
    }
    *items = arr;
    return SC_OK;
}

/* Runs sql and reads its one row through fn; SC_ERR_NOT_FOUND when there is none. */
static enum sc_err one_row(struct store *st, const char *sql, struct pg_args *a,
                           json_t *(*fn)(const PGresult *, int), json_t **out)
{
    enum sc_err err = SC_OK;
    PGresult *r = pg__run(st, sql, a, &err);
    if (!r)
        return err;
    if (PQntuples(r) == 0)
        err = SC_ERR_NOT_FOUND;
    else if (!(*out = fn(r, 0)))
        err = SC_ERR_NOMEM;
    PQclear(r);
    return err;
}

/* Runs sql with one text parameter; *found says whether it returned a row. */
static enum sc_err row_exists(struct store *st, const char *sql, const char *id, int *found)
{
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_text(&a, id);
    PGresult *r = pg__run(st, sql, &a, &err);
    if (!r)
        return err;
    *found = PQntuples(r) > 0;
    PQclear(r);
    return SC_OK;
}

/* ---- populations -------------------------------------------------------------- */

#define POP_COLS                                                                                   \
    "p.id, p.name, p.description, p.created_at, p.updated_at, "                                    \
    "(SELECT count(*) FROM dir_users u WHERE u.population_id = p.id) "

static json_t *population_from_row(const PGresult *r, int row)
{
    return json_pack("{s:o, s:o, s:o, s:I, s:o, s:o}", "id", col_json_string(r, row, 0), "name",
                     col_json_string(r, row, 1), "description", col_json_string(r, row, 2),
                     "userCount", (json_int_t)pg__col_int(r, row, 5), "createdAt",
                     col_json_string(r, row, 3), "updatedAt", col_json_string(r, row, 4));
}

static enum sc_err pg_population_insert(struct store *st, const json_t *p)
{
    int own;
    enum sc_err rc = write_open(st, &own);
    if (rc)
        return rc;
    const char *id = json_string_value(json_object_get(p, "id"));
    struct pg_args a = {0};
    pg__arg_text(&a, id);
    pg__arg_text(&a, json_string_value(json_object_get(p, "name")));
    pg__arg_text(&a, json_string_value(json_object_get(p, "description")));
    pg__arg_text(&a, json_string_value(json_object_get(p, "createdAt")));
    pg__arg_text(&a, json_string_value(json_object_get(p, "updatedAt")));
    rc = pg__cmd(st,
                 "INSERT INTO dir_populations(id, name, description, created_at, updated_at) "
                 "VALUES($1, $2, $3, $4, $5)",
                 &a, NULL);
    if (!rc)
        rc = store_event_append(st, "population.updated", id, NULL);
    return pg__tx_close(st, own, rc);
}

static enum sc_err pg_population_get(struct store *st, const char *id, json_t **out)
{
    struct pg_args a = {0};
    pg__arg_text(&a, id);
    if (st->in_tx)
        return one_row(st,
                       "SELECT " POP_COLS "FROM dir_populations p WHERE id = $1 "
                       "FOR NO KEY UPDATE OF p",
                       &a, population_from_row, out);
    return one_row(st, "SELECT " POP_COLS "FROM dir_populations p WHERE id = $1", &a,
                   population_from_row, out);
}

static enum sc_err pg_population_find(struct store *st, const char *name, json_t **out)
{
    struct pg_args a = {0};
    pg__arg_text(&a, name);
    if (st->in_tx)
        return one_row(st,
                       "SELECT " POP_COLS "FROM dir_populations p WHERE lower(name) = "
                       "lower($1) FOR NO KEY UPDATE OF p",
                       &a, population_from_row, out);
    return one_row(st, "SELECT " POP_COLS "FROM dir_populations p WHERE lower(name) = lower($1)",
                   &a, population_from_row, out);
}

static enum sc_err pg_population_update(struct store *st, const json_t *p)
{
    int own;
    enum sc_err rc = write_open(st, &own);
    if (rc)
        return rc;
    const char *id = json_string_value(json_object_get(p, "id"));
    struct pg_args a = {0};
    pg__arg_text(&a, id);
    pg__arg_text(&a, json_string_value(json_object_get(p, "name")));
    pg__arg_text(&a, json_string_value(json_object_get(p, "description")));
    pg__arg_text(&a, json_string_value(json_object_get(p, "updatedAt")));
    int64_t rows = 0;
    rc = pg__cmd(st,
                 "UPDATE dir_populations SET name = $2, description = $3, updated_at = $4 "
                 "WHERE id = $1",
                 &a, &rows);
    if (!rc && rows == 0)
        rc = SC_ERR_NOT_FOUND;
    if (!rc)
        rc = store_event_append(st, "population.updated", id, NULL);
    return pg__tx_close(st, own, rc);
}

static enum sc_err pg_population_delete(struct store *st, const char *id)
{
    int own;
    enum sc_err rc = write_open(st, &own);
    if (rc)
        return rc;
    int has_users = 0;
    if ((rc = row_exists(st, "SELECT 1 FROM dir_users WHERE population_id = $1 LIMIT 1", id,
                         &has_users)))
        goto done;
    if (has_users) {
        rc = SC_ERR_CONFLICT;
        goto done;
    }
    struct pg_args a = {0};
    pg__arg_text(&a, id);
    int64_t rows = 0;
    rc = pg__cmd(st, "DELETE FROM dir_populations WHERE id = $1", &a, &rows);
    if (rc == SC_ERR_INVALID) /* a user joined it meanwhile */
        rc = SC_ERR_CONFLICT;
    if (!rc && rows == 0)
        rc = SC_ERR_NOT_FOUND;
    if (!rc)
        rc = store_event_append(st, "population.deleted", id, NULL);
done:
    return pg__tx_close(st, own, rc);
}

static enum sc_err pg_population_list(struct store *st, const char *after_name, int limit,
                                      json_t **items)
{
    struct pg_args a = {0};
    pg__arg_text(&a, after_name ? after_name : "");
    pg__arg_int(&a, limit);
    return collect_rows(st,
                        "SELECT " POP_COLS "FROM dir_populations p WHERE lower(name) > lower($1) "
                        "ORDER BY lower(name) LIMIT $2",
                        &a, population_from_row, items);
}

/* ---- users -------------------------------------------------------------------- */

#define USER_INSERT_COLS                                                                           \
    "id, username, given_name, family_name, formatted_name, nickname, title, user_type, email, "   \
    "primary_phone, external_id, street_address, locality, region, postal_code, country_code, "    \
    "enabled, population_id, created_at, updated_at"

static enum sc_err pg_user_insert(struct store *st, const json_t *u)
{
    int own;
    enum sc_err rc = write_open(st, &own);
    if (rc)
        return rc;
    struct pg_args a = {0};
    args_user(&a, u);
    rc = pg__cmd(st,
                 "INSERT INTO dir_users(" USER_INSERT_COLS ") VALUES($1, $2, $3, $4, $5, $6, $7, "
                 "$8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
                 &a, NULL);
    if (!rc)
        rc = store_event_append(st, "user.created", json_string_value(json_object_get(u, "id")),
                                NULL);
    return pg__tx_close(st, own, rc);
}

static enum sc_err pg_users_insert_many(struct store *st, const json_t *users, enum sc_err *row_err,
                                        size_t *stored)
{
    size_t n = json_array_size(users), ok = 0;
    int own;
    enum sc_err rc = write_open(st, &own);
    if (rc)
        return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        /* A statement that fails aborts a PostgreSQL transaction: a taken username or id
         * and a missing population are skipped by the statement itself, then told
         * apart. */
        const json_t *u = json_array_get(users, i);
        struct pg_args a = {0};
        args_user(&a, u);
        int64_t rows = 0;
        rc = pg__cmd(st,
                     "INSERT INTO dir_users(" USER_INSERT_COLS ") SELECT $1, $2, $3, $4, $5, $6, "
                     "$7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17::integer, $18, $19, $20 "
                     "WHERE EXISTS (SELECT 1 FROM dir_populations WHERE id = $18) "
                     "ON CONFLICT DO NOTHING",
                     &a, &rows);
        if (rc) {
            /* the population went away between the check and the insert */
            if (rc == SC_ERR_INVALID || rc == SC_ERR_CONFLICT)
                rc = SC_ERR_BUSY;
            break;
        }
        if (rows == 0) {
            int pop = 0;
            rc = row_exists(st, "SELECT 1 FROM dir_populations WHERE id = $1",
                            sc_json_get_string(u, "population.id"), &pop);
            row_err[i] = pop ? SC_ERR_CONFLICT : SC_ERR_INVALID;
            continue;
        }
        row_err[i] = SC_OK;
        ok++;
        rc = store_event_append(st, "user.created", json_string_value(json_object_get(u, "id")),
                                NULL);
    }
    if ((rc = pg__tx_close(st, own, rc)))
        return rc;
    *stored = ok;
    return SC_OK;
}

static enum sc_err pg_user_get(struct store *st, const char *id, json_t **out)
{
    struct pg_args a = {0};
    pg__arg_text(&a, id);
    if (st->in_tx)
        return one_row(st,
                       "SELECT " STORE__USER_COLS STORE__USER_FROM
                       "WHERE u.id = $1 FOR NO KEY UPDATE OF u",
                       &a, user_from_row, out);
    return one_row(st, "SELECT " STORE__USER_COLS STORE__USER_FROM "WHERE u.id = $1", &a,
                   user_from_row, out);
}

static enum sc_err pg_user_update(struct store *st, const json_t *u)
{
    int own;
    enum sc_err rc = write_open(st, &own);
    if (rc)
        return rc;
    struct pg_args a = {0};
    args_user(&a, u);
    int64_t rows = 0;
    rc = pg__cmd(st,
                 "UPDATE dir_users SET username = $2, given_name = $3, family_name = $4, "
                 "formatted_name = $5, nickname = $6, title = $7, user_type = $8, email = $9, "
                 "primary_phone = $10, external_id = $11, street_address = $12, locality = $13, "
                 "region = $14, postal_code = $15, country_code = $16, enabled = $17, "
                 "population_id = $18, created_at = $19, updated_at = $20 WHERE id = $1",
                 &a, &rows);
    if (!rc && rows == 0)
        rc = SC_ERR_NOT_FOUND;
    if (!rc)
        rc = store_event_append(st, "user.updated", json_string_value(json_object_get(u, "id")),
                                NULL);
    return pg__tx_close(st, own, rc);
}

static enum sc_err pg_user_delete(struct store *st, const char *id, const char *detail)
{
    int own;
    enum sc_err rc = write_open(st, &own);
    if (rc)
        return rc;
    struct pg_args a = {0};
    pg__arg_text(&a, id);
    int64_t rows = 0;
    rc = pg__cmd(st, "DELETE FROM dir_users WHERE id = $1", &a, &rows);
    if (!rc && rows == 0)
        rc = SC_ERR_NOT_FOUND;
    if (!rc)
        rc = store_event_append(st, "user.deleted", id, detail);
    return pg__tx_close(st, own, rc);
}

static enum sc_err pg_user_list(struct store *st, const struct store_user_query *q, json_t **items)
{
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
    struct pg_args a = {0};
    pg__arg_text(&a, q->after_username ? q->after_username : "");
    pg__arg_text(&a, q->population_id);
    pg__arg_text(&a, pattern);
    pg__arg_int(&a, q->limit);
    pg__arg_text(&a, q->username);
    /* SQLite's LIKE ignores the case of ASCII letters: ILIKE under the "C" collation */
    enum sc_err rc = collect_rows(
        st,
        "SELECT " STORE__USER_COLS STORE__USER_FROM
        "WHERE lower(u.username) > $1 AND ($2::text IS NULL OR u.population_id = $2) "
        "AND ($3::text IS NULL OR u.username ILIKE $3 ESCAPE '\\' OR u.given_name ILIKE $3 "
        "ESCAPE '\\' OR u.family_name ILIKE $3 ESCAPE '\\' OR u.formatted_name ILIKE $3 ESCAPE "
        "'\\' OR u.email ILIKE $3 ESCAPE '\\') AND ($5::text IS NULL OR lower(u.username) = "
        "lower($5)) ORDER BY lower(u.username) LIMIT $4",
        &a, user_from_row, items);
    free(pattern);
    return rc;
}

static enum sc_err pg_users_after_id(struct store *st, const char *after_id, int limit,
                                     json_t **items)
{
    struct pg_args a = {0};
    pg__arg_text(&a, after_id ? after_id : "");
    pg__arg_int(&a, limit);
    return collect_rows(
        st, "SELECT " STORE__USER_COLS STORE__USER_FROM "WHERE u.id > $1 ORDER BY u.id LIMIT $2",
        &a, user_from_row, items);
}

/* The digest of a user row read with STORE__USER_COLS (store__user_digest: the same as
 * the SQLite back-end's for the same values). */
static uint64_t user_row_digest(const PGresult *res, int row)
{
    struct store__user_row r;
    user_row(res, row, &r);
    return store__user_digest(&r);
}

static enum sc_err pg_user_get_digest(struct store *st, const char *id, json_t **out,
                                      uint64_t *digest, struct store_user_origin *origin)
{
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_text(&a, id);
    PGresult *r =
        pg__run(st,
                "SELECT " STORE__USER_COLS USER_ORIGIN_COLS STORE__USER_FROM USER_ORIGIN_FROM
                "WHERE u.id = $1",
                &a, &err);
    if (!r)
        return err;
    if (PQntuples(r) == 0) {
        err = SC_ERR_NOT_FOUND;
    } else {
        *digest = user_row_digest(r, 0);
        if (origin) {
            int has = !PQgetisnull(r, 0, 21);
            sc_strlcpy(origin->token, has ? PQgetvalue(r, 0, 21) : "", sizeof origin->token);
            sc_strlcpy(origin->connection,
                       has && !PQgetisnull(r, 0, 22) ? PQgetvalue(r, 0, 22) : "",
                       sizeof origin->connection);
        }
        if (!(*out = user_from_row(r, 0)))
            err = SC_ERR_NOMEM;
    }
    PQclear(r);
    return err;
}

/* Rows per page of the scans that call back for every row: fn may use the connection
 * between pages. */
#define SCAN_PAGE 2000

static enum sc_err pg_user_digest_each(struct store *st,
                                       int (*fn)(void *arg, const char *id, uint64_t digest),
                                       void *arg)
{
    char last[256] = "";
    for (;;) {
        enum sc_err err = SC_OK;
        struct pg_args a = {0};
        pg__arg_text(&a, last);
        pg__arg_int(&a, SCAN_PAGE);
        PGresult *r =
            pg__run(st,
                    "SELECT " STORE__USER_COLS STORE__USER_FROM "WHERE u.id > $1 ORDER BY u.id "
                    "LIMIT $2",
                    &a, &err);
        if (!r)
            return err;
        int rows = PQntuples(r);
        for (int i = 0; i < rows; i++) {
            if (fn(arg, PQgetvalue(r, i, 0), user_row_digest(r, i))) {
                PQclear(r);
                return SC_ERR_INTERNAL;
            }
        }
        if (rows > 0)
            sc_strlcpy(last, PQgetvalue(r, rows - 1, 0), sizeof last);
        PQclear(r);
        if (rows < SCAN_PAGE)
            return SC_OK;
    }
}

static enum sc_err pg_user_digest_page(struct store *st, const char *after_id, size_t max,
                                       int (*fn)(void *arg, const struct store_user_digest *u),
                                       void *arg, size_t *n)
{
    *n = 0;
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_text(&a, after_id ? after_id : "");
    pg__arg_int(&a, (int64_t)max);
    PGresult *r = pg__run(
        st, "SELECT " STORE__USER_COLS STORE__USER_FROM "WHERE u.id > $1 ORDER BY u.id LIMIT $2",
        &a, &err);
    if (!r)
        return err;
    int rows = PQntuples(r);
    for (int i = 0; i < rows && !err; i++) {
        (*n)++;
        struct store_user_digest u = {.id = PQgetvalue(r, i, 0),
                                      .digest = user_row_digest(r, i),
                                      .population_id = PQgetvalue(r, i, 17),
                                      .population_name = PQgetvalue(r, i, 18),
                                      .username = PQgetvalue(r, i, 1),
                                      .enabled = (int)pg__col_int(r, i, 16)};
        if (fn(arg, &u))
            err = SC_ERR_INTERNAL;
    }
    PQclear(r);
    return err;
}

static enum sc_err pg_user_count(struct store *st, long long *n)
{
    enum sc_err err = SC_OK;
    PGresult *r = pg__run(st, "SELECT count(*) FROM dir_users", NULL, &err);
    if (!r)
        return err;
    *n = (long long)pg__col_int(r, 0, 0);
    PQclear(r);
    return SC_OK;
}

static json_t *first_col_string(const PGresult *r, int row)
{
    return col_json_string(r, row, 0);
}

static enum sc_err pg_user_direct_groups(struct store *st, const char *user_id, json_t **out)
{
    struct pg_args a = {0};
    pg__arg_text(&a, user_id);
    return collect_rows(st, "SELECT group_id FROM dir_group_members WHERE user_id = $1", &a,
                        first_col_string, out);
}

/* ---- groups ------------------------------------------------------------------- */

#define GROUP_COLS "id, name, description, user_filter, created_at, updated_at "

static json_t *group_from_row(const PGresult *r, int row)
{
    json_t *filter = NULL;
    const char *ft = pg__col_text(r, row, 3);
    if (ft)
        filter = json_loads(ft, 0, NULL);
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "id", col_json_string(r, row, 0), "name",
                     col_json_string(r, row, 1), "description", col_json_string(r, row, 2),
                     "userFilter", filter ? filter : json_null(), "createdAt",
                     col_json_string(r, row, 4), "updatedAt", col_json_string(r, row, 5));
}

/* $1 id, $2 name, $3 description, $4 filter JSON, $5 createdAt, $6 updatedAt; *text is
 * the filter's JSON text (new, free it after the statement). */
static enum sc_err args_group(struct pg_args *a, const json_t *g, char **text)
{
    *text = NULL;
    json_t *f = json_object_get(g, "userFilter");
    if (f && !json_is_null(f) && !(*text = sc_json_dump(f)))
        return SC_ERR_NOMEM;
    pg__arg_text(a, json_string_value(json_object_get(g, "id")));
    pg__arg_text(a, json_string_value(json_object_get(g, "name")));
    pg__arg_text(a, json_string_value(json_object_get(g, "description")));
    pg__arg_text(a, *text);
    pg__arg_text(a, json_string_value(json_object_get(g, "createdAt")));
    pg__arg_text(a, json_string_value(json_object_get(g, "updatedAt")));
    return SC_OK;
}

static enum sc_err pg_group_insert(struct store *st, const json_t *g)
{
    int own;
    char *text = NULL;
    enum sc_err rc = write_open(st, &own);
    if (rc)
        return rc;
    struct pg_args a = {0};
    if ((rc = args_group(&a, g, &text)))
        goto done;
    rc = pg__cmd(st, "INSERT INTO dir_groups(" GROUP_COLS ") VALUES($1, $2, $3, $4, $5, $6)", &a,
                 NULL);
    if (!rc)
        rc = store_event_append(st, "group.created", json_string_value(json_object_get(g, "id")),
                                NULL);
done:
    free(text);
    return pg__tx_close(st, own, rc);
}

static enum sc_err pg_group_get(struct store *st, const char *id, json_t **out)
{
    struct pg_args a = {0};
    pg__arg_text(&a, id);
    if (st->in_tx)
        return one_row(st, "SELECT " GROUP_COLS "FROM dir_groups WHERE id = $1 FOR NO KEY UPDATE",
                       &a, group_from_row, out);
    return one_row(st, "SELECT " GROUP_COLS "FROM dir_groups WHERE id = $1", &a, group_from_row,
                   out);
}

static enum sc_err pg_group_find(struct store *st, const char *name, json_t **out)
{
    struct pg_args a = {0};
    pg__arg_text(&a, name);
    if (st->in_tx)
        return one_row(st,
                       "SELECT " GROUP_COLS "FROM dir_groups WHERE lower(name) = lower($1) "
                       "FOR NO KEY UPDATE",
                       &a, group_from_row, out);
    return one_row(st, "SELECT " GROUP_COLS "FROM dir_groups WHERE lower(name) = lower($1)", &a,
                   group_from_row, out);
}

static enum sc_err pg_group_update(struct store *st, const json_t *g, const char *detail)
{
    int own;
    char *text = NULL;
    enum sc_err rc = write_open(st, &own);
    if (rc)
        return rc;
    struct pg_args a = {0};
    if ((rc = args_group(&a, g, &text)))
        goto done;
    int64_t rows = 0;
    rc = pg__cmd(st,
                 "UPDATE dir_groups SET name = $2, description = $3, user_filter = $4, "
                 "created_at = $5, updated_at = $6 WHERE id = $1",
                 &a, &rows);
    if (!rc && rows == 0)
        rc = SC_ERR_NOT_FOUND;
    if (!rc)
        rc = store_event_append(st, "group.updated", json_string_value(json_object_get(g, "id")),
                                detail);
done:
    free(text);
    return pg__tx_close(st, own, rc);
}

static enum sc_err pg_group_delete(struct store *st, const char *id, const char *detail)
{
    int own;
    json_t *parents = NULL;
    enum sc_err rc = write_open(st, &own);
    if (rc)
        return rc;
    struct pg_args a = {0};
    pg__arg_text(&a, id);
    if ((rc = collect_rows(st, "SELECT group_id FROM dir_group_members WHERE member_group_id = $1",
                           &a, first_col_string, &parents)))
        goto done;
    struct pg_args d = {0};
    pg__arg_text(&d, id);
    int64_t rows = 0;
    if ((rc = pg__cmd(st, "DELETE FROM dir_groups WHERE id = $1", &d, &rows)))
        goto done;
    if (rows == 0) {
        rc = SC_ERR_NOT_FOUND;
        goto done;
    }
    rc = store__group_deleted_events(st, id, parents, detail);
done:
    json_decref(parents);
    return pg__tx_close(st, own, rc);
}

static enum sc_err pg_group_list(struct store *st, const char *after_name, int limit,
                                 json_t **items)
{
    struct pg_args a = {0};
    pg__arg_text(&a, after_name ? after_name : "");
    pg__arg_int(&a, limit);
    return collect_rows(st,
                        "SELECT " GROUP_COLS "FROM dir_groups WHERE lower(name) > lower($1) "
                        "ORDER BY lower(name) LIMIT $2",
                        &a, group_from_row, items);
}

/* A change of group_id's members: its updatedAt moves (the group's lastModified), and
 * group.members is appended with the member that changed in its detail ({key: id}), so
 * the provisioning engine can re-plan one user instead of resyncing whole rules. */
static enum sc_err members_event(struct store *st, const char *group_id, const char *key,
                                 const char *member)
{
    char now[32];
    sc_clock_format_iso8601(sc_clock_now_ms(), now, sizeof now);
    struct pg_args a = {0};
    pg__arg_text(&a, group_id);
    pg__arg_text(&a, now);
    int64_t rows = 0;
    enum sc_err trc = pg__cmd(st, "UPDATE dir_groups SET updated_at = $2 WHERE id = $1", &a, &rows);
    if (trc)
        return trc;
    json_t *d = json_pack("{s:s}", key, member ? member : "");
    char *text = d ? sc_json_dump(d) : NULL;
    json_decref(d);
    enum sc_err rc = store_event_append(st, "group.members", group_id, text);
    free(text);
    return rc;
}

static enum sc_err pg_group_member_add(struct store *st, const char *group_id, const char *user_id,
                                       const char *member_group_id, int *cycle)
{
    int own, found = 0;
    enum sc_err rc = write_open(st, &own);
    if (cycle)
        *cycle = 0;
    if (rc)
        return rc;
    if ((rc = row_exists(st, "SELECT 1 FROM dir_groups WHERE id = $1", group_id, &found)) ||
        !found) {
        rc = rc ? rc : SC_ERR_NOT_FOUND;
        goto done;
    }
    if (user_id &&
        ((rc = row_exists(st, "SELECT 1 FROM dir_users WHERE id = $1", user_id, &found)) ||
         !found)) {
        rc = rc ? rc : SC_ERR_NOT_FOUND;
        goto done;
    }
    if (member_group_id) {
        if ((rc = row_exists(st, "SELECT 1 FROM dir_groups WHERE id = $1", member_group_id,
                             &found)) ||
            !found) {
            rc = rc ? rc : SC_ERR_NOT_FOUND;
            goto done;
        }
        /* Two nestings added at once could each pass the check and together make a
         * cycle: the check and the insert hold the nesting lock. */
        struct pg_args l = {0};
        pg__arg_int(&l, PG_LOCK_NESTING);
        if ((rc = pg__cmd(st, "SELECT pg_advisory_xact_lock($1::bigint)", &l, NULL)))
            goto done;
        /* A cycle: the new member is the group itself or contains it at any depth. */
        struct pg_args a = {0};
        pg__arg_text(&a, member_group_id);
        pg__arg_text(&a, group_id);
        PGresult *r = pg__run(
            st,
            "WITH RECURSIVE sub(id) AS (SELECT $1::text COLLATE \"C\" UNION SELECT "
            "m.member_group_id FROM dir_group_members m JOIN sub ON m.group_id = sub.id WHERE "
            "m.member_group_id IS NOT NULL) SELECT 1 FROM sub WHERE id = $2 LIMIT 1",
            &a, &rc);
        if (!r)
            goto done;
        int loops = PQntuples(r) > 0;
        PQclear(r);
        if (loops) {
            if (cycle)
                *cycle = 1;
            rc = SC_ERR_CONFLICT;
            goto done;
        }
    }
    struct pg_args a = {0};
    pg__arg_text(&a, group_id);
    pg__arg_text(&a, user_id);
    pg__arg_text(&a, member_group_id);
    rc = pg__cmd(st,
                 "INSERT INTO dir_group_members(group_id, user_id, member_group_id) "
                 "VALUES($1, $2, $3)",
                 &a, NULL);
    if (rc == SC_ERR_INVALID) /* the member was deleted meanwhile */
        rc = SC_ERR_NOT_FOUND;
    if (!rc)
        rc = members_event(st, group_id, user_id ? "userId" : "groupId",
                           user_id ? user_id : member_group_id);
done:
    return pg__tx_close(st, own, rc);
}

static enum sc_err pg_group_member_remove(struct store *st, const char *group_id,
                                          const char *member_id)
{
    int own;
    enum sc_err rc = write_open(st, &own);
    if (rc)
        return rc;
    struct pg_args a = {0};
    pg__arg_text(&a, group_id);
    pg__arg_text(&a, member_id);
    int64_t rows = 0;
    rc = pg__cmd(st,
                 "DELETE FROM dir_group_members WHERE group_id = $1 AND "
                 "(user_id = $2 OR member_group_id = $2)",
                 &a, &rows);
    if (!rc && rows == 0)
        rc = SC_ERR_NOT_FOUND;
    if (!rc)
        rc = members_event(st, group_id, "memberId", member_id);
    return pg__tx_close(st, own, rc);
}

static json_t *member_from_row(const PGresult *r, int row)
{
    json_t *m = json_pack("{s:o, s:o, s:o}", "type", col_json_string(r, row, 0), "id",
                          col_json_string(r, row, 1), "display", col_json_string(r, row, 2));
    if (m && PQnfields(r) > 3 && !PQgetisnull(r, row, 3))
        json_object_set_new(m, "populationId", col_json_string(r, row, 3));
    return m;
}

static enum sc_err pg_group_members(struct store *st, const char *group_id, const char *after_type,
                                    const char *after_key, int limit, json_t **out)
{
    struct pg_args a = {0};
    pg__arg_text(&a, group_id);
    pg__arg_text(&a, after_type);
    pg__arg_text(&a, after_key ? after_key : "");
    pg__arg_int(&a, limit);
    return collect_rows(
        st,
        "SELECT t, id, d, p FROM (SELECT 'user'::text COLLATE \"C\" AS t, u.id AS id, "
        "u.username AS d, lower(u.username) AS k, u.population_id AS p FROM dir_group_members m "
        "JOIN dir_users u ON u.id = m.user_id WHERE m.group_id = $1 UNION ALL SELECT 'group', "
        "g.id, g.name, lower(g.name), NULL FROM dir_group_members m JOIN dir_groups g ON g.id = "
        "m.member_group_id "
        "WHERE m.group_id = $1) x WHERE $2::text IS NULL OR t < $2 OR (t = $2 AND k > $3) "
        "ORDER BY t DESC, k LIMIT $4",
        &a, member_from_row, out);
}

static enum sc_err pg_group_tree_dynamic(struct store *st, const char *group_id, int *dynamic)
{
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_text(&a, group_id);
    PGresult *r = pg__run(
        st,
        "WITH RECURSIVE sub(id) AS (SELECT $1::text COLLATE \"C\" UNION SELECT m.member_group_id "
        "FROM dir_group_members m JOIN sub ON m.group_id = sub.id WHERE m.member_group_id IS NOT "
        "NULL) SELECT 1 FROM dir_groups g JOIN sub ON g.id = sub.id WHERE g.user_filter IS NOT "
        "NULL LIMIT 1",
        &a, &err);
    if (!r)
        return err;
    *dynamic = PQntuples(r) > 0;
    PQclear(r);
    return SC_OK;
}

static enum sc_err pg_group_tree_users(struct store *st, const char *group_id, const char *after_id,
                                       int limit, json_t **out)
{
    struct pg_args a = {0};
    pg__arg_text(&a, group_id);
    pg__arg_text(&a, after_id ? after_id : "");
    pg__arg_int(&a, limit);
    return collect_rows(
        st,
        "WITH RECURSIVE sub(id) AS (SELECT $1::text COLLATE \"C\" UNION SELECT m.member_group_id "
        "FROM dir_group_members m JOIN sub ON m.group_id = sub.id WHERE m.member_group_id IS NOT "
        "NULL) SELECT DISTINCT 'user'::text, u.id, u.username FROM dir_group_members m JOIN sub "
        "ON m.group_id = sub.id JOIN dir_users u ON u.id = m.user_id WHERE u.id > $2 "
        "ORDER BY u.id LIMIT $3",
        &a, member_from_row, out);
}

static enum sc_err pg_directory_scan(struct store *st, const struct store_directory_scan_fns *fns,
                                     void *arg)
{
    /* one snapshot for the three reads, as SQLite's read transaction */
    int own = !st->in_tx;
    enum sc_err rc = SC_OK;
    if (own) {
        if ((rc = pg__exec(st, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")))
            return rc;
        st->in_tx = 1;
    }
    static const char *const sql[] = {
        "SELECT id, name, user_filter FROM dir_groups",
        "SELECT group_id, member_group_id, NULL FROM dir_group_members WHERE member_group_id IS "
        "NOT NULL",
        "SELECT group_id, user_id, NULL FROM dir_group_members WHERE user_id IS NOT NULL",
    };
    for (int q = 0; q < 3 && !rc; q++) {
        if ((q == 0 && !fns->group) || (q == 1 && !fns->nesting) || (q == 2 && !fns->membership))
            continue;
        PGresult *r = pg__run(st, sql[q], NULL, &rc);
        if (!r)
            break;
        for (int i = 0; i < PQntuples(r); i++) {
            const char *a = PQgetvalue(r, i, 0);
            const char *b = PQgetvalue(r, i, 1);
            int stop = q == 0   ? fns->group(arg, a, b, pg__col_text(r, i, 2))
                       : q == 1 ? fns->nesting(arg, a, b)
                                : fns->membership(arg, a, b);
            if (stop) {
                rc = SC_ERR_NOMEM;
                break;
            }
        }
        PQclear(r);
    }
    if (own) {
        st->in_tx = 0;
        if (rc)
            pg__exec(st, "ROLLBACK");
        else
            rc = pg__exec(st, "COMMIT");
    }
    return rc;
}

const struct store_directory_ops store__pg_directory_ops = {
    .population_insert = pg_population_insert,
    .population_get = pg_population_get,
    .population_find = pg_population_find,
    .population_update = pg_population_update,
    .population_delete = pg_population_delete,
    .population_list = pg_population_list,
    .user_insert = pg_user_insert,
    .users_insert_many = pg_users_insert_many,
    .user_get = pg_user_get,
    .user_update = pg_user_update,
    .user_delete = pg_user_delete,
    .user_list = pg_user_list,
    .users_after_id = pg_users_after_id,
    .user_get_digest = pg_user_get_digest,
    .user_digest_each = pg_user_digest_each,
    .user_digest_page = pg_user_digest_page,
    .user_count = pg_user_count,
    .user_direct_groups = pg_user_direct_groups,
    .group_insert = pg_group_insert,
    .group_get = pg_group_get,
    .group_find = pg_group_find,
    .group_update = pg_group_update,
    .group_delete = pg_group_delete,
    .group_list = pg_group_list,
    .group_member_add = pg_group_member_add,
    .group_member_remove = pg_group_member_remove,
    .group_members = pg_group_members,
    .group_tree_dynamic = pg_group_tree_dynamic,
    .group_tree_users = pg_group_tree_users,
    .directory_scan = pg_directory_scan,
};
