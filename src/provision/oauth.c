/* Client-credentials token cache (see oauth.h). A small array keyed by connection id;
 * the engine has few connections. Each entry remembers a digest of the settings the
 * token was fetched with (base URL, token URL, client id and secret, scope, client
 * authentication), so a token is never sent after those changed. */
#include "provision/oauth.h"
#include "base/buf.h"
#include "provision/connection.h"
#include "provision/secrets.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define OAUTH_DEFAULT_LIFETIME_S 3600
#define OAUTH_RENEW_MARGIN_MS 30000
#define OAUTH_KEY_BYTES 32

struct oauth_entry {
    char conn_id[SC_UUID_LEN + 1];
    unsigned char key[OAUTH_KEY_BYTES]; /* digest of the settings the token is for */
    char *token;
    int64_t renew_at_ms;
};

struct oauth_cache {
    oauth_fetch_fn fetch;
    struct oauth_entry *v;
    size_t n, cap;
};

static enum sc_err default_fetch(const struct connection *c, char **token, int64_t *expires_in_s,
                                 struct sc_error *e)
{
    return connection_fetch_token(c, 15000, token, expires_in_s, e);
}

enum sc_err oauth_cache_new(oauth_fetch_fn fetch, struct oauth_cache **out)
{
    struct oauth_cache *c = calloc(1, sizeof *c);
    if (!c)
        return SC_ERR_NOMEM;
    c->fetch = fetch ? fetch : default_fetch;
    *out = c;
    return SC_OK;
}

static void entry_clear(struct oauth_entry *en)
{
    secrets_wipe_free(en->token);
    en->token = NULL;
    sodium_memzero(en->key, sizeof en->key);
    en->renew_at_ms = 0;
}

void oauth_cache_free(struct oauth_cache *cache)
{
    if (!cache)
        return;
    for (size_t i = 0; i < cache->n; i++)
        entry_clear(&cache->v[i]);
    free(cache->v);
    free(cache);
}

/* The digest of the settings of c that a token depends on. */
static void settings_key(const struct connection *c, unsigned char out[OAUTH_KEY_BYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, OAUTH_KEY_BYTES);
    const char *parts[] = {c->base_url, c->token_url, c->client_id, c->client_secret, c->scope};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        /* each part with its length (and -1 for NULL), so no two settings collide */
        int64_t len = parts[i] ? (int64_t)strlen(parts[i]) : -1;
        crypto_generichash_update(&st, (const unsigned char *)&len, sizeof len);
        if (parts[i])
            crypto_generichash_update(&st, (const unsigned char *)parts[i], (size_t)len);
    }
    unsigned char ta = (unsigned char)c->token_auth;
    crypto_generichash_update(&st, &ta, 1);
    crypto_generichash_final(&st, out, OAUTH_KEY_BYTES);
}

static struct oauth_entry *find(struct oauth_cache *cache, const struct connection *c, int add)
{
    for (size_t i = 0; i < cache->n; i++)
        if (strcmp(cache->v[i].conn_id, c->id) == 0)
            return &cache->v[i];
    if (!add)
        return NULL;
    if (cache->n == cache->cap) {
        size_t ncap = cache->cap ? cache->cap * 2 : 4;
        struct oauth_entry *g = realloc(cache->v, ncap * sizeof *g);
        if (!g)
            return NULL;
        cache->v = g;
        cache->cap = ncap;
    }
    struct oauth_entry *en = &cache->v[cache->n++];
    memset(en, 0, sizeof *en);
    sc_strlcpy(en->conn_id, c->id, sizeof en->conn_id);
    return en;
}

enum sc_err oauth_cache_peek(struct oauth_cache *cache, const struct connection *c, int64_t now_ms,
                             const char **token)
{
    struct oauth_entry *en = find(cache, c, 0);
    if (!en || !en->token || now_ms >= en->renew_at_ms)
        return SC_ERR_NOT_FOUND;
    unsigned char key[OAUTH_KEY_BYTES];
    settings_key(c, key);
    if (sodium_memcmp(key, en->key, sizeof key) != 0)
        return SC_ERR_NOT_FOUND;
    *token = en->token;
    return SC_OK;
}

/* When to renew a token of life seconds fetched at now_ms: at 80% of its lifetime, at
 * least 30 s before its end, and not before half of it. */
static int64_t renew_at(int64_t now_ms, int64_t life)
{
    if (life <= 0)
        life = OAUTH_DEFAULT_LIFETIME_S;
    if (life > CONNECTION_TOKEN_MAX_LIFETIME_S)
        life = CONNECTION_TOKEN_MAX_LIFETIME_S;
    int64_t life_ms = life * 1000;
    int64_t renew = life_ms * 8 / 10;
    if (life_ms - renew < OAUTH_RENEW_MARGIN_MS)
        renew = life_ms - OAUTH_RENEW_MARGIN_MS;
    if (renew < life_ms / 2)
        renew = life_ms / 2;
    return now_ms + renew;
}

enum sc_err oauth_cache_put(struct oauth_cache *cache, const struct connection *c,
                            char *token_stolen, int64_t expires_in_s, int64_t now_ms)
{
    struct oauth_entry *en = token_stolen ? find(cache, c, 1) : NULL;
    if (!en) {
        secrets_wipe_free(token_stolen);
        return token_stolen ? SC_ERR_NOMEM : SC_ERR_INVALID;
    }
    entry_clear(en);
    en->token = token_stolen;
    settings_key(c, en->key);
    en->renew_at_ms = renew_at(now_ms, expires_in_s);
    return SC_OK;
}

enum sc_err oauth_cache_token(struct oauth_cache *cache, const struct connection *c, int64_t now_ms,
                              const char **token, struct sc_error *e)
{
    if (oauth_cache_peek(cache, c, now_ms, token) == SC_OK)
        return SC_OK;
    char *fresh = NULL;
    int64_t life = 0;
    enum sc_err err = cache->fetch(c, &fresh, &life, e);
    if (err)
        return err;
    if ((err = oauth_cache_put(cache, c, fresh, life, now_ms)))
        return sc_error_set(e, err, NULL, "out of memory");
    struct oauth_entry *en = find(cache, c, 0);
    *token = en->token;
    return SC_OK;
}

void oauth_cache_invalidate(struct oauth_cache *cache, const struct connection *c)
{
    struct oauth_entry *en = find(cache, c, 0);
    if (en)
        entry_clear(en);
}
