/* OAuth 2 client-credentials tokens for delivery: one cached access token per
 * connection, fetched on first use, renewed before it expires (at 80% of its lifetime,
 * at least 30 s before the end, and at least once a day: lifetimes are clamped to
 * CONNECTION_TOKEN_MAX_LIFETIME_S; 0 counts as one hour), and dropped after a 401 so the
 * next call fetches a fresh one (once). A cached token is used only for the settings
 * it was fetched with (base URL, token URL, client id and secret, scope, client
 * authentication): after any of them changed it counts as absent. The fetch is either
 * oauth_cache_token's blocking one, or the caller's own (oauth_cache_peek, then
 * connection_token_request / connection_token_parse on its event loop, then
 * oauth_cache_put). Tokens are wiped when dropped and never logged. */
#ifndef SC_PROVISION_OAUTH_H
#define SC_PROVISION_OAUTH_H

#include "base/err.h"

#include <stdint.h>

struct connection;

/* Fetches a token for c: as connection_fetch_token. Replaceable in unit tests. */
typedef enum sc_err (*oauth_fetch_fn)(const struct connection *c, char **token,
                                      int64_t *expires_in_s, struct sc_error *e);

struct oauth_cache;

/* Creates an empty cache using fetch (NULL = connection_fetch_token with 15 s). *out is
 * new (oauth_cache_free). */
enum sc_err oauth_cache_new(oauth_fetch_fn fetch, struct oauth_cache **out);

/* Wipes every token and frees cache. NULL is a no-op. */
void oauth_cache_free(struct oauth_cache *cache);

/* Returns in *token (borrowed, valid until the next call on cache) a valid access token
 * for c (keyed by c->id and its settings), fetching one with the cache's fetch function
 * (blocking) when oauth_cache_peek finds none. Errors: those of the fetch (e filled),
 * SC_ERR_NOMEM. */
enum sc_err oauth_cache_token(struct oauth_cache *cache, const struct connection *c, int64_t now_ms,
                              const char **token, struct sc_error *e);

/* Returns in *token (borrowed, valid until the next call that changes cache) c's cached
 * token when one is there for c's current settings and not due for renewal at now_ms.
 * Never fetches. Errors: SC_ERR_NOT_FOUND (none cached, or due for renewal). */
enum sc_err oauth_cache_peek(struct oauth_cache *cache, const struct connection *c, int64_t now_ms,
                             const char **token);

/* Stores token_stolen (a token fetched elsewhere for c, with its lifetime as the token
 * endpoint gave it; 0 = unknown) as c's token from now_ms, replacing any other; it is
 * renewed by the same rule (and clamp) as oauth_cache_token's. The token is taken over
 * in every case (wiped on failure). Errors: SC_ERR_INVALID (token_stolen NULL),
 * SC_ERR_NOMEM. */
enum sc_err oauth_cache_put(struct oauth_cache *cache, const struct connection *c,
                            char *token_stolen, int64_t expires_in_s, int64_t now_ms);

/* Drops c's cached token (after a 401). */
void oauth_cache_invalidate(struct oauth_cache *cache, const struct connection *c);

#endif
