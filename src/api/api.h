/* The admin REST API framework: the route table, dispatch with path parameters, admin
 * bearer-token authentication, JSON bodies with limits, and the error shape
 *   {"error": {"code": "INVALID_VALUE", "message": "...", "field": "email"}}
 * Handlers live one file per area (api/directory_routes.c, api/config_routes.c, ...),
 * each exporting a route array; api/router.c lists the arrays. The same table drives
 * dispatch, `scimitar serve --routes` and docs/api.md. Handlers hold no business rules:
 * they parse, call directory/, provision/ or admin/ with the request's store
 * connection, and answer; nothing here includes a store/ header. */
#ifndef SC_API_API_H
#define SC_API_API_H

#include "base/err.h"
#include "base/buf.h"
#include "http/server.h"

#include <jansson.h>
#include <stdint.h>

struct store; /* a database connection (store/store.h), opaque here */

#define API_MAX_PARAMS 4
#define API_DEFAULT_LIMIT 100
#define API_MAX_LIMIT 1000

/* Shared by every request: set up by `scimitar serve`, read-only afterwards. The API
 * never opens the database itself: it borrows a connection per request through
 * store_acquire and hands it to directory/ and provision/. */
struct api_ctx {
    /* Lends the calling thread a database connection for one request (NULL when none
     * can be opened: the request gets a 500); store_release takes it back. Both
     * thread-safe. */
    struct store *(*store_acquire)(void *arg);
    void (*store_release)(void *arg, struct store *st);
    void *store_arg;
    char admin_token_hash[65]; /* sha256 hex of the token "initial" (admin/admin.h); requests
                                  are checked against every stored admin token */
    /* Called after a request committed changes that the provisioning engine must see
     * (change events, resync requests). May be NULL. Must be cheap and thread-safe. */
    void (*wake)(void *arg);
    void *wake_arg;
    /* Appends Prometheus text for /metrics (engine counters). May be NULL. */
    void (*metrics)(void *arg, struct sc_buf *out);
    void *metrics_arg;
    /* The engine (struct provision_engine *), for handlers that ask it something
     * directly (dry runs, test connection). May be NULL. */
    void *engine;
    /* The secrets key file (provision/secrets.h: SCIMITAR_KEY overrides it; NULL = a key
     * for this process only). Borrowed from `scimitar serve`. */
    const char *key_path;
    int64_t started_ms;
};

/* One request being handled. */
struct api_call {
    struct api_ctx *ctx;
    const struct http_request *req;
    struct http_response *res;
    struct store *st;                   /* a connection lent for this request (opaque) */
    const char *params[API_MAX_PARAMS]; /* values of {…} segments, in order */
    char param_buf[API_MAX_PARAMS][256];
    int nparams;
};

typedef void (*api_handler_fn)(struct api_call *c);

struct api_route {
    const char *method;  /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *pattern; /* "/api/v1/users/{id}"; {name} matches one segment */
    api_handler_fn fn;
    int no_auth;         /* 1 for /healthz, /metrics and /api/v1/openapi.json */
    const char *summary; /* one line for --routes, docs/api.md and the OpenAPI summary */
    /* What the OpenAPI description (api/openapi.c) says of the route; names are those of
     * openapi.c's parameter and schema tables (a test fails on an unknown one). */
    const char *query;    /* the query parameters read, space-separated ("limit cursor q");
                             NULL: none */
    const char *request;  /* the JSON body's schema ("Name?" when the body may be left out);
                             NULL: no body */
    int status;           /* the status of success (200, 201, 202, 204) */
    const char *response; /* the success body's schema; "Name[]" is a list {"items":
                             [Name], "nextCursor"}; NULL: no body (204) or not JSON */
};

/* Route arrays, each terminated by an entry with method NULL. */
extern const struct api_route api_system_routes[];    /* api/system.c */
extern const struct api_route api_directory_routes[]; /* populations, users, groups */
extern const struct api_route api_config_routes[];    /* connections, rules, filter, mappings */
extern const struct api_route api_sync_routes[];      /* resync, status, rule users, logs */
extern const struct api_route api_meta_routes[];      /* attribute tables, mapping preview */
extern const struct api_route api_token_routes[];     /* admin tokens (api/token_routes.c) */
extern const struct api_route api_openapi_routes[];   /* the OpenAPI description */

/* Calls fn for every route of every table, in dispatch order. */
void api_routes_each(void (*fn)(void *arg, const struct api_route *r), void *arg);

/* Returns a new OpenAPI 3.1 document describing every route of the route tables
 * (api/openapi.c): paths, path and query parameters, bodies and answers from each
 * route's fields, schemas from openapi.c's table. NULL with what is wrong in why (size
 * n) when a route names a parameter or schema that table lacks (a bug the tests
 * catch). */
json_t *api_openapi_document(char *why, size_t n);

/* The libmicrohttpd handler for `scimitar serve`: ctx is a struct api_ctx. */
void api_handle(void *ctx, const struct http_request *req, struct http_response *res);

/* The early hook of `scimitar serve`'s HTTP server (http/server.h), run before a body is
 * read: /api/ requests to unknown routes get their 404/405, and requests without the
 * admin token to routes that need it their 401, at once (the body is never buffered);
 * requests outside /api/ (console, /healthz, /metrics) have their body dropped. */
enum http_early api_early(void *ctx, const struct http_request *req, struct http_response *res);

/* Writes the route table as text lines "METHOD PATTERN  summary" into out. */
void api_routes_describe(struct sc_buf *out);

/* Responds with the error shape. field may be NULL. */
void api_error(struct api_call *c, enum sc_err code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Responds with e (its code decides the HTTP status). */
void api_error_from(struct api_call *c, const struct sc_error *e);

/* Responds with status and body (stolen; NULL for no body). */
void api_json(struct api_call *c, int status, json_t *body);

/* Parses the request body as a JSON object. On success *out is new and 0 is returned;
 * otherwise the 400/413 response is already set and -1 is returned. */
int api_body_object(struct api_call *c, json_t **out);

/* api_body_object without answering: on failure -1 is returned with e saying why
 * (api_error_from answers it as api_body_object would have), for a handler that must
 * report another error first. */
int api_body_parse(struct api_call *c, json_t **out, struct sc_error *e);

/* Reads ?limit= (default API_DEFAULT_LIMIT, 1..API_MAX_LIMIT) and ?cursor= (opaque,
 * may be NULL). Returns -1 with a 400 response set when limit is malformed. */
int api_page_params(struct api_call *c, int *limit, const char **cursor);

/* Builds {"items": items (stolen), "nextCursor": next or null}. */
json_t *api_list(json_t *items, const char *next_cursor);

/* Checks that obj has only keys from the NULL-terminated list allowed; on an unknown
 * key responds 400 naming it and returns -1. */
int api_reject_unknown(struct api_call *c, const json_t *obj, const char *const *allowed);

/* Tells the engine that committed changes wait for it (calls ctx->wake). */
void api_wake_engine(struct api_call *c);

/* Serves the embedded console for GET/HEAD requests outside /api (api/console.c).
 * Returns 1 when it answered, 0 when the path is not a console path. */
int api_console_serve(const struct http_request *req, struct http_response *res);

#endif
