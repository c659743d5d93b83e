/* The admin component of the PostgreSQL back-end: the named admin tokens' table and the
 * store functions declared in store/store_admin.h. Deleting a token locks every token's
 * row first, so two concurrent deletes of the last two tokens cannot both succeed. */
#include "store/pg_internal.h"
#include "base/buf.h"

#include <stdlib.h>
#include <string.h>

static const struct pg_migration admin_migrations[] = {
    {1, "CREATE TABLE admin_tokens ("
        " id TEXT COLLATE \"C\" PRIMARY KEY,"
        " name TEXT NOT NULL UNIQUE,"
        " prefix TEXT NOT NULL,"
        " hash TEXT COLLATE \"C\" NOT NULL UNIQUE,"
        " created_at BIGINT NOT NULL,"
        " last_used_at BIGINT,"
        " expires_at BIGINT);"},
};
const struct pg_component store__pg_admin_schema = {"admin", admin_migrations, 1};

#define TOKEN_COLUMNS "id, name, prefix, hash, created_at, last_used_at, expires_at"

/* A token row into dst (a struct store_admin_token; pg__rows' and pg__row's fill). */
static void token_from_row(const PGresult *r, int row, void *dst)
{
    struct store_admin_token *t = dst;
    memset(t, 0, sizeof *t);
    pg__col_copy(r, row, 0, t->id, sizeof t->id);
    pg__col_copy(r, row, 1, t->name, sizeof t->name);
    pg__col_copy(r, row, 2, t->prefix, sizeof t->prefix);
    pg__col_copy(r, row, 3, t->hash, sizeof t->hash);
    t->created_at = pg__col_int(r, row, 4);
    t->last_used_at = pg__col_int(r, row, 5);
    t->expires_at = pg__col_int(r, row, 6);
}

static void token_args(struct pg_args *a, const struct store_admin_token *t)
{
    pg__arg_text(a, t->id);
    pg__arg_text(a, t->name);
    pg__arg_text(a, t->prefix);
    pg__arg_text(a, t->hash);
    pg__arg_int(a, t->created_at);
    if (t->last_used_at)
        pg__arg_int(a, t->last_used_at);
    else
        pg__arg_text(a, NULL);
    if (t->expires_at)
        pg__arg_int(a, t->expires_at);
    else
        pg__arg_text(a, NULL);
}

static enum sc_err pg_token_insert(struct store *st, const struct store_admin_token *t)
{
    struct pg_args a = {0};
    token_args(&a, t);
    return pg__cmd(st,
                   "INSERT INTO admin_tokens(" TOKEN_COLUMNS ") VALUES($1, $2, $3, $4, $5, $6, $7)",
                   &a, NULL);
}

static enum sc_err pg_token_put_named(struct store *st, const struct store_admin_token *t)
{
    struct pg_args a = {0};
    token_args(&a, t);
    return pg__cmd(st,
                   "INSERT INTO admin_tokens(" TOKEN_COLUMNS ") VALUES($1, $2, $3, $4, $5, $6, $7)"
                   " ON CONFLICT(name) DO UPDATE SET prefix = excluded.prefix,"
                   " hash = excluded.hash, created_at = excluded.created_at,"
                   " last_used_at = NULL, expires_at = excluded.expires_at"
                   " WHERE admin_tokens.hash <> excluded.hash",
                   &a, NULL);
}

static enum sc_err pg_token_find_hash(struct store *st, const char *hash,
                                      struct store_admin_token *out)
{
    struct pg_args a = {0};
    pg__arg_text(&a, hash);
    return pg__row(st, "SELECT " TOKEN_COLUMNS " FROM admin_tokens WHERE hash = $1", &a,
                   token_from_row, out);
}

static enum sc_err pg_token_list(struct store *st, struct store_admin_token **out, size_t *n)
{
    void *v = NULL;
    enum sc_err err =
        pg__rows(st, "SELECT " TOKEN_COLUMNS " FROM admin_tokens ORDER BY created_at, id", NULL,
                 sizeof **out, token_from_row, &v, n);
    *out = v;
    return err;
}

static enum sc_err pg_token_delete(struct store *st, const char *id, int *last)
{
    *last = 0;
    int own;
    enum sc_err rc = pg__tx_open(st, &own);
    if (rc)
        return rc;
    /* under READ COMMITTED a concurrent delete's row lock makes this wait, and the rows
     * it deleted are then left out: the count below is the one after it */
    PGresult *r = pg__run(st, "SELECT id FROM admin_tokens ORDER BY id FOR UPDATE", NULL, &rc);
    if (!r)
        goto done;
    int rows = PQntuples(r), found = 0;
    for (int i = 0; i < rows && !found; i++)
        found = strcmp(pg__col_text(r, i, 0), id) == 0;
    PQclear(r);
    if (!found) {
        rc = SC_ERR_NOT_FOUND;
        goto done;
    }
    if (rows < 2) {
        *last = 1;
        goto done;
    }
    struct pg_args a = {0};
    pg__arg_text(&a, id);
    rc = pg__cmd(st, "DELETE FROM admin_tokens WHERE id = $1", &a, NULL);
done:
    return pg__tx_close(st, own, rc);
}

static enum sc_err pg_token_touch(struct store *st, const char *id, int64_t now, int64_t min_age_ms)
{
    struct pg_args a = {0};
    pg__arg_int(&a, now);
    pg__arg_text(&a, id);
    pg__arg_int(&a, now - min_age_ms);
    return pg__cmd(st,
                   "UPDATE admin_tokens SET last_used_at = $1 WHERE id = $2"
                   " AND (last_used_at IS NULL OR last_used_at <= $3)",
                   &a, NULL);
}

const struct store_admin_ops store__pg_admin_ops = {
    .token_insert = pg_token_insert,
    .token_put_named = pg_token_put_named,
    .token_find_hash = pg_token_find_hash,
    .token_list = pg_token_list,
    .token_delete = pg_token_delete,
    .token_touch = pg_token_touch,
};
