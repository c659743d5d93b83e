/* Unit tests for src/provision/oauth: the client-credentials token cache with a fake
 * fetch: renewal at 80% of the lifetime, the clamp of huge lifetimes, tokens fetched
 * elsewhere (peek / put, as the engine's non-blocking fetch uses them), and a token
 * never used after the settings it was fetched with changed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/buf.h"
#include "provision/connection.h"
#include "provision/oauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fetches;
static int64_t next_life;

static enum sc_err fake_fetch(const struct connection *c, char **token, int64_t *expires_in_s,
                              struct sc_error *e)
{
    (void)c;
    (void)e;
    char buf[32];
    snprintf(buf, sizeof buf, "tok%d", ++fetches);
    *token = strdup(buf);
    *expires_in_s = next_life;
    return SC_OK;
}

static void conn_init(struct connection *c)
{
    memset(c, 0, sizeof *c);
    sc_strlcpy(c->id, "11111111-1111-4111-8111-111111111111", sizeof c->id);
    c->auth_method = CONNECTION_AUTH_CLIENT_CREDENTIALS;
    c->base_url = "https://app.example.com/scim/v2";
    c->token_url = "https://idp.example.com/token";
    c->client_id = "client";
    c->client_secret = "secret";
}

/* expires_in of INT64_MAX seconds overflowed life * 1000 (UBSan aborts; a release
 * build fetched a new token for every call). */
static void test_huge_lifetime_is_clamped(void **state)
{
    (void)state;
    struct oauth_cache *cache = NULL;
    assert_int_equal(oauth_cache_new(fake_fetch, &cache), SC_OK);
    struct connection c;
    conn_init(&c);
    const char *t = NULL;
    struct sc_error e = {0};
    fetches = 0;
    next_life = INT64_MAX;
    int64_t now = 1700000000000;
    assert_int_equal(oauth_cache_token(cache, &c, now, &t, &e), SC_OK);
    assert_string_equal(t, "tok1");
    /* kept for most of a day ... */
    assert_int_equal(oauth_cache_token(cache, &c, now + 3600 * 1000, &t, &e), SC_OK);
    assert_string_equal(t, "tok1");
    assert_int_equal(fetches, 1);
    /* ... and renewed within one */
    assert_int_equal(oauth_cache_token(cache, &c, now + 86400 * 1000, &t, &e), SC_OK);
    assert_string_equal(t, "tok2");
    /* the same through put */
    char *fetched = strdup("elsewhere");
    assert_int_equal(oauth_cache_put(cache, &c, fetched, INT64_MAX, now), SC_OK);
    assert_int_equal(oauth_cache_peek(cache, &c, now + 3600 * 1000, &t), SC_OK);
    assert_string_equal(t, "elsewhere");
    assert_int_equal(oauth_cache_peek(cache, &c, now + 86400 * 1000, &t), SC_ERR_NOT_FOUND);
    oauth_cache_free(cache);
}

static void test_peek_and_put(void **state)
{
    (void)state;
    struct oauth_cache *cache = NULL;
    assert_int_equal(oauth_cache_new(fake_fetch, &cache), SC_OK);
    struct connection c;
    conn_init(&c);
    const char *t = NULL;
    struct sc_error e = {0};
    fetches = 0;
    next_life = 100;
    /* nothing cached: peek never fetches */
    assert_int_equal(oauth_cache_peek(cache, &c, 0, &t), SC_ERR_NOT_FOUND);
    assert_int_equal(fetches, 0);
    assert_int_equal(oauth_cache_put(cache, &c, strdup("fetched-elsewhere"), 100, 0), SC_OK);
    assert_int_equal(oauth_cache_peek(cache, &c, 10000, &t), SC_OK);
    assert_string_equal(t, "fetched-elsewhere");
    /* oauth_cache_token uses it too */
    assert_int_equal(oauth_cache_token(cache, &c, 20000, &t, &e), SC_OK);
    assert_string_equal(t, "fetched-elsewhere");
    assert_int_equal(fetches, 0);
    /* due for renewal at 80% of 100 s */
    assert_int_equal(oauth_cache_peek(cache, &c, 80000, &t), SC_ERR_NOT_FOUND);
    assert_int_equal(oauth_cache_token(cache, &c, 80000, &t, &e), SC_OK);
    assert_string_equal(t, "tok1");
    /* a lifetime of 0 (not said) counts as an hour */
    assert_int_equal(oauth_cache_put(cache, &c, strdup("no-life"), 0, 0), SC_OK);
    assert_int_equal(oauth_cache_peek(cache, &c, 2000 * 1000, &t), SC_OK);
    assert_int_equal(oauth_cache_peek(cache, &c, 3000 * 1000, &t), SC_ERR_NOT_FOUND);
    /* invalidate drops it */
    assert_int_equal(oauth_cache_put(cache, &c, strdup("x"), 100, 0), SC_OK);
    oauth_cache_invalidate(cache, &c);
    assert_int_equal(oauth_cache_peek(cache, &c, 1, &t), SC_ERR_NOT_FOUND);
    assert_int_equal(oauth_cache_put(cache, &c, NULL, 100, 0), SC_ERR_INVALID);
    oauth_cache_free(cache);
}

/* A token fetched for one base URL, token URL or client is never sent after a change. */
static void test_settings_change_drops_token(void **state)
{
    (void)state;
    struct oauth_cache *cache = NULL;
    assert_int_equal(oauth_cache_new(fake_fetch, &cache), SC_OK);
    struct connection c;
    conn_init(&c);
    const char *t = NULL;
    next_life = 3600;
    assert_int_equal(oauth_cache_put(cache, &c, strdup("for-app"), 3600, 0), SC_OK);
    assert_int_equal(oauth_cache_peek(cache, &c, 1, &t), SC_OK);
    c.base_url = "https://other.example.net/scim/v2";
    assert_int_equal(oauth_cache_peek(cache, &c, 1, &t), SC_ERR_NOT_FOUND);
    conn_init(&c);
    c.token_url = "https://idp.example.com/other";
    assert_int_equal(oauth_cache_peek(cache, &c, 1, &t), SC_ERR_NOT_FOUND);
    conn_init(&c);
    c.client_secret = "rotated";
    assert_int_equal(oauth_cache_peek(cache, &c, 1, &t), SC_ERR_NOT_FOUND);
    conn_init(&c);
    c.token_auth = CONNECTION_TOKEN_AUTH_POST;
    assert_int_equal(oauth_cache_peek(cache, &c, 1, &t), SC_ERR_NOT_FOUND);
    conn_init(&c);
    c.scope = "read";
    assert_int_equal(oauth_cache_peek(cache, &c, 1, &t), SC_ERR_NOT_FOUND);
    conn_init(&c);
    assert_int_equal(oauth_cache_peek(cache, &c, 1, &t), SC_OK);
    assert_string_equal(t, "for-app");
    oauth_cache_free(cache);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_huge_lifetime_is_clamped),
        cmocka_unit_test(test_peek_and_put),
        cmocka_unit_test(test_settings_change_drops_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
