/* The built-in SCIM service provider (`scimitar target`, SPEC §8): a strict
 * RFC 7643/7644 application with /Users, /Groups, /Bulk, /.search and the discovery
 * endpoints under http://HOST:PORT/scim/v2, bearer, basic or OAuth 2 client-credentials
 * authentication, ETags, optional SQLite persistence and fault injection. With the SCIM
 * 1.1 dialect it speaks SCIM 1.1 instead (draft-scim-api-01) under
 * http://HOST:PORT/scim/v1: /Users and /Groups with 1.1 bodies, PATCH and errors,
 * /ServiceProviderConfigs and /Schemas/Users. It stands in for an application such as
 * Code42 in trials, the demo and the engine's tests. */
#ifndef SC_TARGET_TARGET_H
#define SC_TARGET_TARGET_H

#include "base/err.h"
#include "scim/dialect.h"

#include <stddef.h>

#define TARGET_DEFAULT_MAX_BODY (1024 * 1024)
#define TARGET_DEFAULT_MAX_RESULTS 200
#define TARGET_DEFAULT_BULK_MAX_OPS 1000
#define TARGET_DEFAULT_TOKEN_TTL 3600

struct target_options {
    const char *listen;        /* HOST:PORT (port 0 = any free port) */
    const char *base_url;      /* public base URL for meta.location; NULL = from listen */
    const char *token;         /* accepted bearer token, or NULL */
    const char *basic;         /* accepted "USER:PASS", or NULL */
    const char *client_id;     /* OAuth 2 client credentials for /oauth/token, or NULL */
    const char *client_secret; /* required with client_id */
    int token_ttl_s;           /* lifetime of tokens /oauth/token issues (0 = default) */
    int no_delete;             /* DELETE on /Users answers 405, as Code42 */
    const char *db;            /* "sqlite:PATH" to persist, NULL = in memory */
    const char *faults;        /* fault spec (see target_faults_parse), NULL = none */
    size_t max_body;           /* request body cap, also Bulk maxPayloadSize (0 = default) */
    int max_results;           /* filter maxResults and the largest page (0 = default) */
    int bulk_max_ops;          /* Bulk maxOperations (0 = default) */
    unsigned threads;          /* HTTP worker threads (0 = default) */
    enum scim_dialect dialect; /* SCIM_DIALECT_20 (default, /scim/v2) or _11 (/scim/v1) */
};

struct target;

/* Validates o, opens the store when o->db is set (loading what it holds) and starts
 * serving. *out is new; target_stop frees it. Errors: SC_ERR_INVALID naming the bad
 * option in e->field (listen, basic, client-secret, faults, ...), SC_ERR_DB, SC_ERR_IO
 * when the address cannot be bound. */
enum sc_err target_start(const struct target_options *o, struct target **out, struct sc_error *e);

/* The TCP port actually bound. */
unsigned target_port(const struct target *t);

/* The SCIM base URL ("http://127.0.0.1:8081/scim/v2", or .../scim/v1 for SCIM 1.1).
 * Borrowed, lives as long as t. */
const char *target_base_url(const struct target *t);

/* Stops serving: wakes hung fault responses, finishes in-flight requests, closes the
 * store and frees t. NULL is a no-op. */
void target_stop(struct target *t);

#endif
