/* OAuth 2 client-credentials tokens for delivery: one cached access token per
 * connection, fetched on first use, renewed before it expires (at 80% of its lifetime,
 * and at least 30 s before the end), and dropped after a 401 so the next call fetches a
 * fresh one (once). The fetch itself is connection_fetch_token (blocking; the engine
 * calls it rarely). Tokens are wiped when dropped and never logged. */
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
 * for c (keyed by c->id and its client id), fetching one when none is cached or the
 * cached one is due for renewal at now_ms. Errors: those of the fetch (e filled). */
enum sc_err oauth_cache_token(struct oauth_cache *cache, const struct connection *c, int64_t now_ms,
                              const char **token, struct sc_error *e);

/* Drops c's cached token (after a 401). */
void oauth_cache_invalidate(struct oauth_cache *cache, const struct connection *c);

#endif
