/* The inbound SCIM component of the PostgreSQL back-end: the inbound tokens' table, the
 * records kept per user and group written through /scim/v2, and the store functions of
 * store/store_inbound.h. */
#include "store/pg_internal.h"
#include "base/buf.h"

#include <stdlib.h>
#include <string.h>

static const struct pg_migration inbound_migrations[] = {
    {1, "CREATE TABLE inbound_tokens ("
        " id TEXT COLLATE \"C\" PRIMARY KEY,"
        " name TEXT NOT NULL UNIQUE,"
        " prefix TEXT NOT NULL,"
        " hash TEXT COLLATE \"C\" NOT NULL UNIQUE,"
        " population_id TEXT COLLATE \"C\" NOT NULL,"
        " scope TEXT NOT NULL,"
        " source_connection TEXT,"
        " created_at BIGINT NOT NULL,"
        " last_used_at BIGINT);"
        "CREATE TABLE inbound_users ("
        " user_id TEXT COLLATE \"C\" PRIMARY KEY REFERENCES dir_users(id) ON DELETE CASCADE,"
        " source TEXT,"
        " extra TEXT);"
        "CREATE TABLE inbound_groups ("
        " group_id TEXT COLLATE \"C\" PRIMARY KEY REFERENCES dir_groups(id) ON DELETE CASCADE,"
        " extra TEXT);"},
    /* users made by an import (POST /api/v1/users/import): their source is the import */
    {2, "ALTER TABLE inbound_users ADD COLUMN imported INTEGER NOT NULL DEFAULT 0;"},
    /* the source connection of the token that made the user, kept with the user: the
     * engine's loop check holds after the token is revoked */
    {3, "ALTER TABLE inbound_users ADD COLUMN source_connection TEXT;"
        "UPDATE inbound_users SET source_connection = (SELECT t.source_connection FROM"
        " inbound_tokens t WHERE t.name = inbound_users.source) WHERE source IS NOT NULL;"},
};
const struct pg_component store__pg_inbound_schema = {"inbound", inbound_migrations, 3};

#define TOKEN_COLUMNS                                                                              \
    "id, name, prefix, hash, population_id, scope, created_at, last_used_at, source_connection"

/* A token row into dst (a struct store_inbound_token; pg__rows' and pg__row's fill). */
static void token_from_row(const PGresult *r, int row, void *dst)
{
    struct store_inbound_token *t = dst;
    memset(t, 0, sizeof *t);
    pg__col_copy(r, row, 0, t->id, sizeof t->id);
    pg__col_copy(r, row, 1, t->name, sizeof t->name);
    pg__col_copy(r, row, 2, t->prefix, sizeof t->prefix);
    pg__col_copy(r, row, 3, t->hash, sizeof t->hash);
    pg__col_copy(r, row, 4, t->population_id, sizeof t->population_id);
    pg__col_copy(r, row, 5, t->scope, sizeof t->scope);
    t->created_at = pg__col_int(r, row, 6);
    t->last_used_at = pg__col_int(r, row, 7);
    pg__col_copy(r, row, 8, t->source_connection, sizeof t->source_connection);
}

static enum sc_err token_insert(struct store *st, const struct store_inbound_token *t)
{
    struct pg_args a = {0};
    pg__arg_text(&a, t->id);
    pg__arg_text(&a, t->name);
    pg__arg_text(&a, t->prefix);
    pg__arg_text(&a, t->hash);
    pg__arg_text(&a, t->population_id);
    pg__arg_text(&a, t->scope);
    pg__arg_int(&a, t->created_at);
    pg__arg_text(&a, t->source_connection[0] ? t->source_connection : NULL);
    return pg__cmd(st,
                   "INSERT INTO inbound_tokens(" TOKEN_COLUMNS
                   ") VALUES($1, $2, $3, $4, $5, $6, $7, NULL, $8)",
                   &a, NULL);
}

static enum sc_err token_find_hash(struct store *st, const char *hash,
                                   struct store_inbound_token *out)
{
    struct pg_args a = {0};
    pg__arg_text(&a, hash);
    return pg__row(st, "SELECT " TOKEN_COLUMNS " FROM inbound_tokens WHERE hash = $1", &a,
                   token_from_row, out);
}

static enum sc_err token_list(struct store *st, struct store_inbound_token **out, size_t *n)
{
    void *v = NULL;
    enum sc_err err =
        pg__rows(st, "SELECT " TOKEN_COLUMNS " FROM inbound_tokens ORDER BY created_at, id", NULL,
                 sizeof **out, token_from_row, &v, n);
    *out = v;
    return err;
}

static enum sc_err token_delete(struct store *st, const char *id)
{
    struct pg_args a = {0};
    int64_t rows = 0;
    pg__arg_text(&a, id);
    enum sc_err err = pg__cmd(st, "DELETE FROM inbound_tokens WHERE id = $1", &a, &rows);
    if (err)
        return err;
    return rows > 0 ? SC_OK : SC_ERR_NOT_FOUND;
}

static enum sc_err token_set_source(struct store *st, const char *id, const char *connection_id)
{
    struct pg_args a = {0};
    int64_t rows = 0;
    pg__arg_text(&a, connection_id);
    pg__arg_text(&a, id);
    enum sc_err err =
        pg__cmd(st, "UPDATE inbound_tokens SET source_connection = $1 WHERE id = $2", &a, &rows);
    if (err)
        return err;
    if (rows == 0)
        return SC_ERR_NOT_FOUND;
    /* the token's users carry its source connection (the engine's loop check) */
    return pg__cmd(st,
                   "UPDATE inbound_users SET source_connection = $1 WHERE source ="
                   " (SELECT name FROM inbound_tokens WHERE id = $2)",
                   &a, NULL);
}

static enum sc_err token_touch(struct store *st, const char *id, int64_t now, int64_t min_age_ms)
{
    struct pg_args a = {0};
    pg__arg_int(&a, now);
    pg__arg_text(&a, id);
    pg__arg_int(&a, now - min_age_ms);
    return pg__cmd(st,
                   "UPDATE inbound_tokens SET last_used_at = $1 WHERE id = $2"
                   " AND (last_used_at IS NULL OR last_used_at <= $3)",
                   &a, NULL);
}

static enum sc_err dup_col(const PGresult *r, int col, char **out)
{
    const char *v = pg__col_text(r, 0, col);
    if (!out || !v)
        return SC_OK;
    *out = strdup(v);
    return *out ? SC_OK : SC_ERR_NOMEM;
}

static enum sc_err extra_get(struct store *st, enum store_inbound_kind k, const char *id,
                             char **source, char **extra)
{
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_text(&a, id);
    PGresult *r = pg__run(st,
                          k == STORE_INBOUND_USER
                              ? "SELECT source, extra FROM inbound_users WHERE user_id = $1"
                              : "SELECT NULL, extra FROM inbound_groups WHERE group_id = $1",
                          &a, &err);
    if (!r)
        return err;
    if (PQntuples(r) == 0)
        err = SC_ERR_NOT_FOUND;
    else if ((err = dup_col(r, 0, source)) == SC_OK)
        err = dup_col(r, 1, extra);
    PQclear(r);
    return err;
}

static enum sc_err extra_put(struct store *st, enum store_inbound_kind k, const char *id,
                             const char *source, const char *extra)
{
    struct pg_args a = {0};
    pg__arg_text(&a, id);
    if (k == STORE_INBOUND_USER) {
        pg__arg_text(&a, source);
        pg__arg_text(&a, extra);
        return pg__cmd(st,
                       "INSERT INTO inbound_users(user_id, source, extra, source_connection)"
                       " VALUES($1, $2, $3, (SELECT source_connection FROM inbound_tokens"
                       " WHERE name = $2))"
                       " ON CONFLICT(user_id) DO UPDATE SET extra = excluded.extra",
                       &a, NULL);
    }
    pg__arg_text(&a, extra);
    return pg__cmd(st,
                   "INSERT INTO inbound_groups(group_id, extra) VALUES($1, $2)"
                   " ON CONFLICT(group_id) DO UPDATE SET extra = excluded.extra",
                   &a, NULL);
}

static enum sc_err user_imported(struct store *st, const char *user_id, int *imported)
{
    *imported = 0;
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_text(&a, user_id);
    PGresult *r = pg__run(st, "SELECT imported FROM inbound_users WHERE user_id = $1", &a, &err);
    if (!r)
        return err;
    if (PQntuples(r) > 0)
        *imported = pg__col_int(r, 0, 0) != 0;
    PQclear(r);
    return SC_OK;
}

static enum sc_err mark_imported(struct store *st, const char *user_id)
{
    struct pg_args a = {0};
    pg__arg_text(&a, user_id);
    return pg__cmd(st,
                   "INSERT INTO inbound_users(user_id, imported) VALUES($1, 1) "
                   "ON CONFLICT(user_id) DO NOTHING",
                   &a, NULL);
}

const struct store_inbound_ops store__pg_inbound_ops = {
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
