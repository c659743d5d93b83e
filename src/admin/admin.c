/* The admin tokens (stored as hashes, "initial" made at first start or from the
 * environment) and the database health. */
#include "admin/admin.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/id.h"
#include "base/json.h"
#include "base/log.h"
#include "store/store.h"
#include "store/store_admin.h"

#include <stdlib.h>
#include <string.h>

#define ADMIN_TOKEN_SETTING "admin.token_hash"

/* A token for the table from its hash and name (the token itself, when known, gives the
 * prefix). */
static void token_row(struct store_admin_token *t, const char *name, const char *hash,
                      const char *token, int64_t now)
{
    memset(t, 0, sizeof *t);
    sc_uuid_v4(t->id);
    sc_strlcpy(t->name, name, sizeof t->name);
    sc_strlcpy(t->hash, hash, sizeof t->hash);
    if (token) {
        size_t n = strlen(token) < ADMIN_TOKEN_PREFIX_LEN ? strlen(token) : ADMIN_TOKEN_PREFIX_LEN;
        memcpy(t->prefix, token, n);
        t->prefix[n] = '\0';
    }
    t->created_at = now;
}

/* Stores hash (of token, when known) as the token "initial" and in the settings. */
static enum sc_err store_initial(struct store *st, const char *hash, const char *token,
                                 struct sc_error *e)
{
    struct store_admin_token t;
    token_row(&t, ADMIN_TOKEN_INITIAL, hash, token, sc_clock_now_ms());
    enum sc_err rc = store_admin_token_put_named(st, &t);
    if (!rc) /* what admin_token_stored (scimitar migrate) looks for */
        rc = store_setting_set(st, ADMIN_TOKEN_SETTING, hash);
    memset(&t, 0, sizeof t);
    if (rc == SC_ERR_CONFLICT) /* a configuration mistake: said as one */
        return sc_error_set(e, SC_ERR_INVALID, "SCIMITAR_ADMIN_TOKEN",
                            "SCIMITAR_ADMIN_TOKEN is already the token of another named admin "
                            "token: choose another one");
    if (rc)
        return sc_error_set(e, rc, NULL, "the admin token cannot be stored");
    return SC_OK;
}

/* The hash of the token "initial" into hash_out ("" when it was revoked). */
static enum sc_err initial_hash(struct store *st, char hash_out[ADMIN_TOKEN_HASH_SIZE], size_t *n,
                                struct sc_error *e)
{
    struct store_admin_token *list = NULL;
    enum sc_err rc = store_admin_token_list(st, &list, n);
    if (rc)
        return sc_error_set(e, rc, NULL, "the admin tokens cannot be read");
    hash_out[0] = '\0';
    for (size_t i = 0; i < *n; i++)
        if (strcmp(list[i].name, ADMIN_TOKEN_INITIAL) == 0)
            sc_strlcpy(hash_out, list[i].hash, ADMIN_TOKEN_HASH_SIZE);
    free(list);
    return SC_OK;
}

enum sc_err admin_token_setup(struct store *st, const char *env_token,
                              char hash_out[ADMIN_TOKEN_HASH_SIZE],
                              char new_token[ADMIN_TOKEN_NEW_SIZE], struct sc_error *e)
{
    char hash[ADMIN_TOKEN_HASH_SIZE];
    char token[ADMIN_TOKEN_NEW_SIZE] = "";
    enum sc_err rc;
    new_token[0] = '\0';
    if (env_token && *env_token) {
        if (strlen(env_token) < ADMIN_TOKEN_MIN)
            return sc_error_set(e, SC_ERR_INVALID, "SCIMITAR_ADMIN_TOKEN",
                                "SCIMITAR_ADMIN_TOKEN must be at least %d characters long",
                                ADMIN_TOKEN_MIN);
        sc_sha256_hex(env_token, hash);
        /* no prefix kept of a chosen token: it may be short enough for one to matter */
        if ((rc = store_initial(st, hash, NULL, e)))
            return rc;
        sc_strlcpy(hash_out, hash, ADMIN_TOKEN_HASH_SIZE);
        return SC_OK;
    }
    size_t n = 0;
    if ((rc = initial_hash(st, hash_out, &n, e)))
        return rc;
    if (n > 0)
        return SC_OK;
    /* no token in the table: an older version's one hash in the settings, or none */
    char *stored = NULL;
    rc = store_setting_get(st, ADMIN_TOKEN_SETTING, &stored);
    if (rc == SC_OK) {
        sc_strlcpy(hash, stored, sizeof hash);
        free(stored);
        if ((rc = store_initial(st, hash, NULL, e)))
            return rc;
        SC_INFO("admin.token_migrated", "name=%s", ADMIN_TOKEN_INITIAL);
        sc_strlcpy(hash_out, hash, ADMIN_TOKEN_HASH_SIZE);
        return SC_OK;
    }
    if (rc != SC_ERR_NOT_FOUND)
        return sc_error_set(e, rc, NULL, "the admin token cannot be read");
    if (sc_random_token(32, token, sizeof token))
        return sc_error_set(e, SC_ERR_INTERNAL, NULL, "no random bytes for the admin token");
    sc_sha256_hex(token, hash);
    if ((rc = store_initial(st, hash, token, e))) {
        memset(token, 0, sizeof token);
        return rc;
    }
    sc_strlcpy(hash_out, hash, ADMIN_TOKEN_HASH_SIZE);
    memcpy(new_token, token, sizeof token);
    memset(token, 0, sizeof token);
    return SC_OK;
}

static json_t *token_json(const struct store_admin_token *t)
{
    return json_pack("{s:s, s:s, s:o, s:o, s:o, s:s}", "id", t->id, "name", t->name, "createdAt",
                     sc_json_time(t->created_at), "lastUsedAt", sc_json_time(t->last_used_at),
                     "expiresAt", sc_json_time(t->expires_at), "prefix", t->prefix);
}

enum sc_err admin_token_create(struct store *st, const char *name, int64_t expires_at, int64_t now,
                               json_t **out, struct sc_error *e)
{
    char token[ADMIN_TOKEN_NEW_SIZE + 8] = "scm_";
    struct store_admin_token t;
    struct store_admin_token *list = NULL;
    size_t n = 0;
    enum sc_err rc;
    if (!name || !sc_name_valid(name, STORE_ADMIN_NAME_MAX))
        return sc_error_set(e, SC_ERR_INVALID, "name",
                            "name must be 1 to %d printable characters without leading or "
                            "trailing spaces",
                            STORE_ADMIN_NAME_MAX);
    if (expires_at && expires_at <= now)
        return sc_error_set(e, SC_ERR_INVALID, "expiresAt", "expiresAt must be in the future");
    if ((rc = store_admin_token_list(st, &list, &n)))
        return sc_error_set(e, rc, NULL, "the admin tokens cannot be read");
    free(list);
    if (n >= ADMIN_TOKENS_MAX)
        return sc_error_set(e, SC_ERR_CONFLICT, NULL,
                            "there are %d admin tokens already: revoke one first",
                            ADMIN_TOKENS_MAX);
    if (sc_random_token(32, token + 4, sizeof token - 4))
        return sc_error_set(e, SC_ERR_INTERNAL, NULL, "no random bytes for the admin token");
    char hash[ADMIN_TOKEN_HASH_SIZE];
    sc_sha256_hex(token, hash);
    token_row(&t, name, hash, token, now);
    t.expires_at = expires_at;
    rc = store_admin_token_insert(st, &t);
    if (rc == SC_ERR_CONFLICT) {
        sc_error_set(e, rc, "name", "an admin token named '%s' exists", name);
        goto done;
    }
    if (rc) {
        sc_error_set(e, rc, NULL, "the admin token cannot be stored");
        goto done;
    }
    json_t *j = token_json(&t);
    json_object_set_new(j, "token", json_string(token));
    *out = j;
    SC_INFO("admin.token_created", "id=%s", t.id);
done:
    memset(token, 0, sizeof token);
    memset(&t, 0, sizeof t);
    return rc;
}

enum sc_err admin_token_list(struct store *st, json_t **out, struct sc_error *e)
{
    struct store_admin_token *list = NULL;
    size_t n = 0;
    enum sc_err rc = store_admin_token_list(st, &list, &n);
    if (rc)
        return sc_error_set(e, rc, NULL, "the admin tokens cannot be read");
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, token_json(&list[i]));
    free(list);
    *out = items;
    return SC_OK;
}

enum sc_err admin_token_revoke(struct store *st, const char *id, struct sc_error *e)
{
    int last = 0;
    enum sc_err rc = store_admin_token_delete(st, id, &last);
    if (rc == SC_ERR_NOT_FOUND)
        return sc_error_set(e, rc, "id", "no admin token has the id %s", id);
    if (rc)
        return sc_error_set(e, rc, NULL, "the admin token cannot be revoked");
    if (last)
        return sc_error_set(e, SC_ERR_CONFLICT, "id",
                            "the last admin token cannot be revoked: create another first");
    SC_INFO("admin.token_revoked", "id=%s", id);
    return SC_OK;
}

enum admin_auth admin_token_check(struct store *st, const char *token, int64_t now)
{
    char hash[ADMIN_TOKEN_HASH_SIZE];
    struct store_admin_token t;
    sc_sha256_hex(token, hash);
    enum sc_err found = store_admin_token_find_hash(st, hash, &t);
    if (found && found != SC_ERR_NOT_FOUND)
        return ADMIN_AUTH_NO_DB;
    if (found || !sc_secret_equal(t.hash, hash))
        return ADMIN_AUTH_UNKNOWN;
    if (t.expires_at && t.expires_at <= now)
        return ADMIN_AUTH_EXPIRED;
    if (!t.last_used_at || now - t.last_used_at >= ADMIN_TOKEN_TOUCH_MS) {
        enum sc_err rc = store_admin_token_touch(st, t.id, now, ADMIN_TOKEN_TOUCH_MS);
        if (rc)
            SC_WARN("admin.token_touch_failed", "id=%s error=%s", t.id, sc_strerror(rc));
    }
    return ADMIN_AUTH_OK;
}
enum sc_err admin_token_stored(struct store *st, int *stored)
{
    char *v = NULL;
    enum sc_err rc = store_setting_get(st, ADMIN_TOKEN_SETTING, &v);
    free(v);
    if (rc && rc != SC_ERR_NOT_FOUND)
        return rc;
    *stored = rc == SC_OK;
    return SC_OK;
}

enum admin_health admin_health_check(struct store *st, char *why, size_t n)
{
    char *v = NULL;
    enum sc_err rc = store_setting_get(st, ADMIN_TOKEN_SETTING, &v);
    free(v);
    if (rc != SC_OK && rc != SC_ERR_NOT_FOUND) {
        /* the write check's probe names why (e.g. the server cannot be reached) */
        if (n)
            why[0] = '\0';
        store_write_check(st, why, n);
        return ADMIN_HEALTH_UNREADABLE;
    }
    if (store_write_check(st, why, n))
        return ADMIN_HEALTH_WRITES_FAIL;
    return ADMIN_HEALTH_OK;
}
