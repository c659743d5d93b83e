/* The admin token (created once, stored as its hash) and the database health. */
#include "admin/admin.h"
#include "base/buf.h"
#include "base/id.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#define ADMIN_TOKEN_SETTING "admin.token_hash"

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
        if ((rc = store_setting_set(st, ADMIN_TOKEN_SETTING, hash)))
            return sc_error_set(e, rc, NULL, "the admin token cannot be stored");
        sc_strlcpy(hash_out, hash, ADMIN_TOKEN_HASH_SIZE);
        return SC_OK;
    }
    char *stored = NULL;
    rc = store_setting_get(st, ADMIN_TOKEN_SETTING, &stored);
    if (rc == SC_OK) {
        sc_strlcpy(hash_out, stored, ADMIN_TOKEN_HASH_SIZE);
        free(stored);
        return SC_OK;
    }
    if (rc != SC_ERR_NOT_FOUND)
        return sc_error_set(e, rc, NULL, "the admin token cannot be read");
    if (sc_random_token(32, token, sizeof token))
        return sc_error_set(e, SC_ERR_INTERNAL, NULL, "no random bytes for the admin token");
    sc_sha256_hex(token, hash);
    if ((rc = store_setting_set(st, ADMIN_TOKEN_SETTING, hash))) {
        memset(token, 0, sizeof token);
        return sc_error_set(e, rc, NULL, "the admin token cannot be stored");
    }
    sc_strlcpy(hash_out, hash, ADMIN_TOKEN_HASH_SIZE);
    memcpy(new_token, token, sizeof token);
    memset(token, 0, sizeof token);
    return SC_OK;
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

int admin_token_matches(const char *hash, const char *token)
{
    char h[ADMIN_TOKEN_HASH_SIZE];
    sc_sha256_hex(token, h);
    return sc_secret_equal(h, hash);
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
