/* Client-credentials token cache (see oauth.h). A small array keyed by connection id;
 * the engine has few connections. */
#include "provision/oauth.h"
#include "base/buf.h"
#include "provision/connection.h"
#include "provision/secrets.h"

#include <stdlib.h>
#include <string.h>

#define OAUTH_DEFAULT_LIFETIME_S 3600
#define OAUTH_RENEW_MARGIN_MS 30000

struct oauth_entry {
    char conn_id[SC_UUID_LEN + 1];
    char *client_id;
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
    free(en->client_id);
    en->token = NULL;
    en->client_id = NULL;
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

enum sc_err oauth_cache_token(struct oauth_cache *cache, const struct connection *c, int64_t now_ms,
                              const char **token, struct sc_error *e)
{
    struct oauth_entry *en = find(cache, c, 1);
    if (!en)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    const char *cid = c->client_id ? c->client_id : "";
    if (en->token && en->client_id && strcmp(en->client_id, cid) == 0 && now_ms < en->renew_at_ms) {
        *token = en->token;
        return SC_OK;
    }
    char *fresh = NULL;
    int64_t life = 0;
    enum sc_err err = cache->fetch(c, &fresh, &life, e);
    if (err)
        return err;
    entry_clear(en);
    en->token = fresh;
    en->client_id = sc_strdup(cid);
    if (life <= 0)
        life = OAUTH_DEFAULT_LIFETIME_S;
    int64_t life_ms = life * 1000;
    int64_t renew = life_ms * 8 / 10;
    if (life_ms - renew < OAUTH_RENEW_MARGIN_MS)
        renew = life_ms - OAUTH_RENEW_MARGIN_MS;
    if (renew < life_ms / 2)
        renew = life_ms / 2;
    en->renew_at_ms = now_ms + renew;
    *token = en->token;
    return SC_OK;
}

void oauth_cache_invalidate(struct oauth_cache *cache, const struct connection *c)
{
    struct oauth_entry *en = find(cache, c, 0);
    if (en)
        entry_clear(en);
}
