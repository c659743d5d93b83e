/* Dispatch: authentication, route matching with {param} segments, a database
 * connection lent to each request (struct api_ctx's store_acquire), and the JSON error
 * shape. */
#include "api/api.h"
#include "inbound/inbound.h"
#include "admin/admin.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct api_route *const route_tables[] = {
    api_system_routes, api_directory_routes, api_config_routes,  api_sync_routes,
    api_meta_routes,   api_token_routes,     api_openapi_routes,
};

void api_routes_each(void (*fn)(void *arg, const struct api_route *r), void *arg)
{
    for (size_t t = 0; t < sizeof route_tables / sizeof route_tables[0]; t++)
        for (const struct api_route *r = route_tables[t]; r->method; r++)
            fn(arg, r);
}

void api_error(struct api_call *c, enum sc_err code, const char *field, const char *fmt, ...)
{
    char msg[SC_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *err = json_pack("{s:s, s:s}", "code", sc_err_name(code), "message", msg);
    if (field && *field)
        json_object_set_new(err, "field", json_string(field));
    http_response_json(c->res, sc_err_http_status(code), json_pack("{s:o}", "error", err));
}

void api_error_from(struct api_call *c, const struct sc_error *e)
{
    enum sc_err code = e->code ? e->code : SC_ERR_INTERNAL;
    api_error(c, code, e->field, "%s", e->message[0] ? e->message : sc_strerror(code));
}

void api_json(struct api_call *c, int status, json_t *body)
{
    http_response_json(c->res, status, body);
}

int api_body_parse(struct api_call *c, json_t **out, struct sc_error *e)
{
    const char *ct = http_request_header(c->req, "Content-Type");
    if (ct && !strstr(ct, "json")) {
        sc_error_set(e, SC_ERR_PARSE, NULL, "send the body as application/json, not %s", ct);
        return -1;
    }
    if (!sc_utf8_valid(c->req->body, c->req->body_len)) {
        sc_error_set(e, SC_ERR_PARSE, NULL, "the request body is not valid UTF-8");
        return -1;
    }
    json_t *v = NULL;
    if (sc_json_parse(c->req->body, c->req->body_len, SC_JSON_MAX_DEPTH, &v, e))
        return -1;
    if (!json_is_object(v)) {
        json_decref(v);
        sc_error_set(e, SC_ERR_PARSE, NULL, "the request body must be a JSON object");
        return -1;
    }
    *out = v;
    return 0;
}

int api_body_object(struct api_call *c, json_t **out)
{
    struct sc_error e = {0};
    if (api_body_parse(c, out, &e)) {
        api_error_from(c, &e);
        return -1;
    }
    return 0;
}

int api_page_params(struct api_call *c, int *limit, const char **cursor)
{
    const char *l = http_request_query(c->req, "limit");
    int64_t v = API_DEFAULT_LIMIT;
    if (l && sc_parse_int64(l, 1, API_MAX_LIMIT, &v)) {
        api_error(c, SC_ERR_INVALID, "limit", "limit must be a whole number from 1 to %d",
                  API_MAX_LIMIT);
        return -1;
    }
    *limit = (int)v;
    *cursor = http_request_query(c->req, "cursor");
    if (*cursor && !**cursor)
        *cursor = NULL;
    return 0;
}

json_t *api_list(json_t *items, const char *next_cursor)
{
    return json_pack("{s:o, s:o}", "items", items ? items : json_array(), "nextCursor",
                     next_cursor ? json_string(next_cursor) : json_null());
}

int api_reject_unknown(struct api_call *c, const json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok) {
            api_error(c, SC_ERR_INVALID, key, "unknown field '%s'", key);
            return -1;
        }
    }
    return 0;
}

void api_wake_engine(struct api_call *c)
{
    if (c->ctx->wake)
        c->ctx->wake(c->ctx->wake_arg);
}

/* Matches path against pattern, capturing {param} segments into c. */
static int route_match(const char *pattern, const char *path, struct api_call *c)
{
    int n = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            const char *se = strchr(s, '/');
            size_t len = se ? (size_t)(se - s) : strlen(s);
            if (!pe || len == 0 || len >= sizeof c->param_buf[0] || n >= API_MAX_PARAMS)
                return 0;
            memcpy(c->param_buf[n], s, len);
            c->param_buf[n][len] = '\0';
            c->params[n] = c->param_buf[n];
            n++;
            p = pe + 1;
            s += len;
        } else if (*p == *s) {
            p++;
            s++;
        } else {
            return 0;
        }
    }
    /* a trailing slash on the request is tolerated */
    if (*p == '\0' && (*s == '\0' || (s[0] == '/' && s[1] == '\0'))) {
        c->nparams = n;
        return 1;
    }
    return 0;
}

/* What the request's bearer token is worth: checked against the stored admin tokens
 * on a connection lent for the check. */
static enum admin_auth authorised(struct api_ctx *ctx, const struct http_request *req,
                                  struct store *st)
{
    const char *h = http_request_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return ADMIN_AUTH_UNKNOWN;
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    if (!*tok || strlen(tok) > 512)
        return ADMIN_AUTH_UNKNOWN;
    struct store *own = st ? NULL : ctx->store_acquire(ctx->store_arg);
    if (!st && !own)
        return ADMIN_AUTH_NO_DB;
    enum admin_auth a = admin_token_check(st ? st : own, tok, sc_clock_now_ms());
    if (own)
        ctx->store_release(ctx->store_arg, own);
    return a;
}

/* Routes req: finds its route into *found, or answers 404/405 (or serves the console
 * when console is set) and returns 1; answers 401 and returns 1 when the route needs
 * the admin token and req lacks it. 0 when the route may run. */
static int route_request(struct api_call *c, const struct api_route **found, int console)
{
    const struct http_request *req = c->req;
    *found = NULL;
    if (strncmp(req->path, "/api/", 5) != 0 && strcmp(req->path, "/healthz") != 0 &&
        strcmp(req->path, "/metrics") != 0) {
        if (console && api_console_serve(req, c->res))
            return 1;
        api_error(c, SC_ERR_NOT_FOUND, NULL, "no such page: %s", req->path);
        return 1;
    }
    int path_matched = 0;
    for (size_t t = 0; t < sizeof route_tables / sizeof route_tables[0] && !*found; t++) {
        for (const struct api_route *r = route_tables[t]; r->method; r++) {
            if (!route_match(r->pattern, req->path, c))
                continue;
            path_matched = 1;
            if (strcmp(r->method, req->method) == 0) {
                *found = r;
                break;
            }
        }
    }
    if (!*found) {
        if (path_matched)
            api_error(c, SC_ERR_UNSUPPORTED, NULL, "method %s is not allowed on %s", req->method,
                      req->path);
        else
            api_error(c, SC_ERR_NOT_FOUND, NULL, "no such resource: %s", req->path);
        return 1;
    }
    enum admin_auth a = (*found)->no_auth ? ADMIN_AUTH_OK : authorised(c->ctx, req, c->st);
    if (a == ADMIN_AUTH_NO_DB) {
        api_error(c, SC_ERR_DB, NULL, "the database cannot be read to check the admin token");
        return 1;
    }
    if (a != ADMIN_AUTH_OK) {
        http_response_header(c->res, "WWW-Authenticate", "Bearer realm=\"scimitar\"");
        if (a == ADMIN_AUTH_EXPIRED)
            api_error(c, SC_ERR_AUTH, NULL, "the admin token has expired: use another one");
        else
            api_error(c, SC_ERR_AUTH, NULL,
                      "send the admin token as 'Authorization: Bearer <token>'");
        return 1;
    }
    return 0;
}

static void common_headers(struct http_response *res)
{
    http_response_header(res, "Cache-Control", "no-store");
    http_response_header(res, "X-Content-Type-Options", "nosniff");
}

/* Non-zero when path is /scim/v2 or below it (inbound SCIM, inbound/inbound.h). */
static int inbound_path(const char *path)
{
    size_t n = strlen(INBOUND_PREFIX);
    return strncmp(path, INBOUND_PREFIX, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Checks req's inbound token on a connection of its own; answers 401/503 and returns -1
 * when it names none. */
static int inbound_check(struct api_ctx *ctx, const struct http_request *req,
                         struct http_response *res, struct store *st, struct inbound_auth *a)
{
    int db_down = 0;
    struct store *own = st ? NULL : ctx->store_acquire(ctx->store_arg);
    if (!st && !own) {
        inbound_refuse(res, 1);
        return -1;
    }
    int rc = inbound_token_check(st ? st : own, http_request_header(req, "Authorization"),
                                 sc_clock_now_ms(), a, &db_down);
    if (own)
        ctx->store_release(ctx->store_arg, own);
    if (rc)
        inbound_refuse(res, db_down);
    return rc;
}

/* Serves a request below /scim/v2 with the inbound token's rights. */
static void inbound_handle(struct api_ctx *ctx, const struct http_request *req,
                           struct http_response *res)
{
    struct inbound_auth a;
    struct store *st = ctx->store_acquire(ctx->store_arg);
    if (!st) {
        inbound_refuse(res, 1);
        return;
    }
    if (inbound_check(ctx, req, res, st, &a) == 0) {
        int changed = 0;
        const char *path = req->path + strlen(INBOUND_PREFIX);
        inbound_serve(st, &a, req, *path ? path : "/", res, &changed);
        if (changed && ctx->wake)
            ctx->wake(ctx->wake_arg);
    }
    ctx->store_release(ctx->store_arg, st);
}

enum http_early api_early(void *vctx, const struct http_request *req, struct http_response *res)
{
    struct api_ctx *ctx = vctx;
    struct api_call c = {.ctx = ctx, .req = req, .res = res};
    const struct api_route *found = NULL;
    if (inbound_path(req->path)) {
        struct inbound_auth a;
        common_headers(res);
        return inbound_check(ctx, req, res, NULL, &a) ? HTTP_EARLY_ANSWERED : HTTP_EARLY_READ_BODY;
    }
    int api = strncmp(req->path, "/api/", 5) == 0;
    if (!api)
        return HTTP_EARLY_SKIP_BODY; /* console, /healthz, /metrics: no body is read */
    common_headers(res);
    if (route_request(&c, &found, 0))
        return HTTP_EARLY_ANSWERED;
    return found->no_auth ? HTTP_EARLY_SKIP_BODY : HTTP_EARLY_READ_BODY;
}

void api_handle(void *vctx, const struct http_request *req, struct http_response *res)
{
    struct api_ctx *ctx = vctx;
    struct api_call c = {.ctx = ctx, .req = req, .res = res};
    common_headers(res);
    if (inbound_path(req->path)) {
        inbound_handle(ctx, req, res);
        return;
    }
    const struct api_route *found = NULL;
    if (route_request(&c, &found, 1))
        return;
    c.st = ctx->store_acquire(ctx->store_arg);
    if (!c.st) {
        api_error(&c, SC_ERR_DB, NULL, "the database cannot be opened");
        return;
    }
    found->fn(&c);
    ctx->store_release(ctx->store_arg, c.st);
    if (sc_log_enabled(SC_LOG_DEBUG))
        SC_DEBUG("api.request", "method=%s route=\"%s\" status=%d", req->method, found->pattern,
                 res->status);
}

void api_routes_describe(struct sc_buf *out)
{
    for (size_t t = 0; t < sizeof route_tables / sizeof route_tables[0]; t++)
        for (const struct api_route *r = route_tables[t]; r->method; r++)
            sc_buf_printf(out, "%-7s %-40s %s%s\n", r->method, r->pattern, r->summary,
                          r->no_auth ? " (no auth)" : "");
}
