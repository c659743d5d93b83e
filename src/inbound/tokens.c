/* The inbound tokens: created (the token shown once, only its SHA-256 hash stored),
 * listed, revoked, and checked for each /scim/v2 request; and the users' source as the
 * REST API shows it, with the import that records its own. */
#include "inbound/inbound.h"
#include "base/buf.h"
#include "base/id.h"
#include "base/json.h"
#include "base/log.h"
#include "directory/directory.h"
#include "store/store.h"
#include "store/store_directory.h"
#include "store/store_inbound.h"
#include "store/store_provision.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PREFIX_LEN 8

static json_t *token_json(struct store *st, const struct store_inbound_token *t)
{
    json_t *pop = NULL;
    json_t *p = json_pack("{s:s, s:n}", "id", t->population_id, "name");
    if (p && store_population_get(st, t->population_id, &pop) == SC_OK)
        json_object_set(p, "name", json_object_get(pop, "name"));
    json_decref(pop);
    return json_pack("{s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:s}", "id", t->id, "name", t->name,
                     "population", p ? p : json_null(), "scope", t->scope, "sourceConnection",
                     t->source_connection[0] ? json_string(t->source_connection) : json_null(),
                     "createdAt", sc_json_time(t->created_at), "lastUsedAt",
                     sc_json_time(t->last_used_at), "prefix", t->prefix);
}

/* Checks that connection_id names a connection and that no rule towards it takes in
 * population_id. */
static enum sc_err check_source(struct store *st, const char *connection_id,
                                const char *population_id, struct sc_error *e)
{
    struct store_connection c;
    memset(&c, 0, sizeof c);
    if (strlen(connection_id) > SC_UUID_LEN)
        return sc_error_set(e, SC_ERR_INVALID, "sourceConnection", "no connection '%.64s'",
                            connection_id);
    enum sc_err rc = store_connection_get(st, connection_id, &c);
    store_connection_clear(&c);
    if (rc == SC_ERR_NOT_FOUND)
        return sc_error_set(e, SC_ERR_INVALID, "sourceConnection", "no connection '%s'",
                            connection_id);
    if (rc)
        return sc_error_set(e, rc, NULL, "the connection cannot be read");
    return inbound_loop_check_token(st, connection_id, population_id, e);
}

enum sc_err inbound_token_set_source(struct store *st, const char *id, const char *connection_id,
                                     struct sc_error *e)
{
    struct store_inbound_token *list = NULL;
    size_t n = 0;
    enum sc_err rc = store_inbound_token_list(st, &list, &n);
    if (rc)
        return sc_error_set(e, rc, NULL, "the inbound tokens cannot be read");
    const struct store_inbound_token *t = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].id, id) == 0)
            t = &list[i];
    if (!t)
        rc = sc_error_set(e, SC_ERR_NOT_FOUND, NULL, "no inbound token %s", id);
    else if (connection_id && *connection_id)
        rc = check_source(st, connection_id, t->population_id, e);
    if (!rc && (rc = store_inbound_token_set_source(st, id, connection_id)))
        sc_error_set(e, rc, NULL, "the inbound token cannot be changed");
    free(list);
    return rc;
}

enum sc_err inbound_token_create(struct store *st, const char *name, const char *population,
                                 const char *scope, const char *source_connection, int64_t now,
                                 json_t **out, struct sc_error *e)
{
    char token[80] = "scmi_";
    struct store_inbound_token t;
    struct store_inbound_token *list = NULL;
    json_t *pop = NULL;
    size_t n = 0;
    enum sc_err rc;
    memset(&t, 0, sizeof t);
    if (!name || !sc_name_valid(name, STORE_INBOUND_NAME_MAX))
        return sc_error_set(e, SC_ERR_INVALID, "name",
                            "name must be 1 to %d printable characters without leading or "
                            "trailing spaces",
                            STORE_INBOUND_NAME_MAX);
    if (!scope || (strcmp(scope, "read") != 0 && strcmp(scope, "write") != 0))
        return sc_error_set(e, SC_ERR_INVALID, "scope",
                            "scope must be \"read\" (read-only) or \"write\" (read-write)");
    if (!population || !*population || strlen(population) > 256)
        return sc_error_set(e, SC_ERR_INVALID, "population",
                            "population is required: the id or name of the population the "
                            "token's users join");
    rc = store_population_get(st, population, &pop);
    if (rc == SC_ERR_NOT_FOUND)
        rc = store_population_find(st, population, &pop);
    if (rc == SC_ERR_NOT_FOUND)
        return sc_error_set(e, SC_ERR_INVALID, "population", "no population '%s'", population);
    if (rc)
        return sc_error_set(e, rc, NULL, "the population cannot be read");
    sc_strlcpy(t.population_id, json_string_value(json_object_get(pop, "id")),
               sizeof t.population_id);
    json_decref(pop);
    if (source_connection && *source_connection) {
        if ((rc = check_source(st, source_connection, t.population_id, e)))
            return rc;
        sc_strlcpy(t.source_connection, source_connection, sizeof t.source_connection);
    }
    if ((rc = store_inbound_token_list(st, &list, &n)))
        return sc_error_set(e, rc, NULL, "the inbound tokens cannot be read");
    free(list);
    if (n >= INBOUND_TOKENS_MAX)
        return sc_error_set(e, SC_ERR_CONFLICT, NULL,
                            "there are %d inbound tokens already: revoke one first",
                            INBOUND_TOKENS_MAX);
    if (sc_random_token(32, token + 5, sizeof token - 5))
        return sc_error_set(e, SC_ERR_INTERNAL, NULL, "no random bytes for the inbound token");
    sc_uuid_v4(t.id);
    sc_strlcpy(t.name, name, sizeof t.name);
    sc_sha256_hex(token, t.hash);
    memcpy(t.prefix, token, PREFIX_LEN);
    t.prefix[PREFIX_LEN] = '\0';
    sc_strlcpy(t.scope, scope, sizeof t.scope);
    t.created_at = now;
    rc = store_inbound_token_insert(st, &t);
    if (rc == SC_ERR_CONFLICT) {
        sc_error_set(e, rc, "name", "an inbound token named '%s' exists", name);
        goto done;
    }
    if (rc) {
        sc_error_set(e, rc, NULL, "the inbound token cannot be stored");
        goto done;
    }
    json_t *j = token_json(st, &t);
    json_object_set_new(j, "token", json_string(token));
    *out = j;
    SC_INFO("inbound.token_created", "id=%s scope=%s population=%s", t.id, t.scope,
            t.population_id);
done:
    memset(token, 0, sizeof token);
    memset(&t, 0, sizeof t);
    return rc;
}

enum sc_err inbound_token_list(struct store *st, json_t **out, struct sc_error *e)
{
    struct store_inbound_token *list = NULL;
    size_t n = 0;
    enum sc_err rc = store_inbound_token_list(st, &list, &n);
    if (rc)
        return sc_error_set(e, rc, NULL, "the inbound tokens cannot be read");
    json_t *items = json_array();
    for (size_t i = 0; items && i < n; i++)
        json_array_append_new(items, token_json(st, &list[i]));
    free(list);
    if (!items)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    *out = items;
    return SC_OK;
}

enum sc_err inbound_token_revoke(struct store *st, const char *id, struct sc_error *e)
{
    enum sc_err rc = store_inbound_token_delete(st, id);
    if (rc == SC_ERR_NOT_FOUND)
        return sc_error_set(e, rc, NULL, "no inbound token %s", id);
    if (rc)
        return sc_error_set(e, rc, NULL, "the inbound token cannot be revoked");
    SC_INFO("inbound.token_revoked", "id=%s", id);
    return SC_OK;
}

int inbound_token_check(struct store *st, const char *authorization, int64_t now,
                        struct inbound_auth *a, int *db_down)
{
    char hash[65];
    struct store_inbound_token t;
    *db_down = 0;
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return -1;
    const char *tok = authorization + 7;
    while (*tok == ' ')
        tok++;
    if (!*tok || strlen(tok) > 512)
        return -1;
    sc_sha256_hex(tok, hash);
    enum sc_err found = store_inbound_token_find_hash(st, hash, &t);
    if (found && found != SC_ERR_NOT_FOUND) {
        *db_down = 1;
        return -1;
    }
    if (found || !sc_secret_equal(t.hash, hash))
        return -1;
    memset(a, 0, sizeof *a);
    sc_strlcpy(a->token_id, t.id, sizeof a->token_id);
    sc_strlcpy(a->name, t.name, sizeof a->name);
    sc_strlcpy(a->population_id, t.population_id, sizeof a->population_id);
    a->write = strcmp(t.scope, "write") == 0;
    if (!t.last_used_at || now - t.last_used_at >= INBOUND_TOKEN_TOUCH_MS) {
        enum sc_err rc = store_inbound_token_touch(st, t.id, now, INBOUND_TOKEN_TOUCH_MS);
        if (rc)
            SC_WARN("inbound.token_touch_failed", "id=%s error=%s", t.id, sc_strerror(rc));
    }
    return 0;
}

void inbound_user_source(struct store *st, json_t *user)
{
    char *source = NULL;
    int imported = 0;
    const char *id = json_string_value(json_object_get(user, "id"));
    json_t *src = NULL;
    if (id && store_inbound_extra_get(st, STORE_INBOUND_USER, id, &source, NULL) == SC_OK && source)
        src = json_pack("{s:s, s:s}", "kind", "scim", "token", source);
    else if (id && store_inbound_user_imported(st, id, &imported) == SC_OK && imported)
        src = json_pack("{s:s}", "kind", "import");
    if (!src)
        src = json_pack("{s:s}", "kind", "api");
    json_object_set_new(user, "source", src);
    free(source);
}

enum sc_err inbound_users_import(struct store *st, const json_t *users, size_t *created,
                                 json_t **rejected, struct sc_error *e)
{
    json_t *ids = NULL, *rej = NULL;
    size_t made = 0;
    enum sc_err rc = store_begin(st);
    if (rc)
        return sc_error_set(e, rc, NULL, "cannot start a transaction: %s", sc_strerror(rc));
    if ((rc = directory_users_import(st, users, &made, &rej, &ids, e)))
        goto done;
    size_t i;
    const json_t *id;
    json_array_foreach(ids, i, id)
    {
        if ((rc = store_inbound_mark_imported(st, json_string_value(id)))) {
            sc_error_set(e, rc, NULL, "cannot record the import as the users' source: %s",
                         sc_strerror(rc));
            goto done;
        }
    }
    if ((rc = store_commit(st))) {
        sc_error_set(e, rc, NULL, "cannot store the users: %s", sc_strerror(rc));
        goto done;
    }
    *created = made;
    *rejected = rej;
    rej = NULL;
done:
    if (rc && store_in_transaction(st))
        store_rollback(st);
    json_decref(ids);
    json_decref(rej);
    return rc;
}

void inbound_user_sources(struct store *st, json_t *users)
{
    size_t i;
    json_t *u;
    json_array_foreach(users, i, u)
    {
        inbound_user_source(st, u);
    }
}
