/* The target's HTTP face: starts the server, and for each request counts it, routes it
 * (/oauth/token, then everything under /scim/v2, or /scim/v1 in SCIM 1.1), checks
 * authentication, injects the configured faults, checks and parses the body, runs the
 * SCIM operation and writes the answer as application/scim+json with ETag and Location
 * headers. In SCIM 1.1 the edge converts: a 1.1 body is checked strictly and turned into
 * 2.0 before the operation, the filter and attribute names likewise, and the answer
 * (resource, list, error) is turned into 1.1 after it; PATCH bodies go to the 1.1
 * applier as they are. Also the test aid GET /scim/v2/_stats (requests by method since
 * start, resource counts), and one key=value log line per request at debug level. */
#include "target/target_internal.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "http/server.h"
#include "scim/dialect.h"
#include "scim/filter.h"
#include "scim/message.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCIM_PREFIX "/scim/v2"
#define SCIM11_PREFIX "/scim/v1"
#define SCIM_CT "application/scim+json"

static const char *const method_names[TM__COUNT] = {"GET",   "POST",   "PUT",
                                                    "PATCH", "DELETE", "OTHER"};

static const char too_large_body[] =
    "{\"schemas\":[\"" SCIM_MSG_ERROR "\"],\"status\":\"413\",\"detail\":\"the request body is "
    "larger than this service accepts (see maxPayloadSize in /ServiceProviderConfig)\"}";
static const char too_large_body_11[] =
    "{\"Errors\":[{\"description\":\"the request body is larger than this service "
    "accepts\",\"code\":\"413\"}]}";

static const char *prefix_of(const struct target *t)
{
    return t->opt.dialect == SCIM_DIALECT_11 ? SCIM11_PREFIX : SCIM_PREFIX;
}

static void stats(struct target *t, struct http_response *res)
{
    json_t *req = json_object();
    for (int i = 0; i < TM__COUNT; i++)
        json_object_set_new(req, method_names[i], json_integer((json_int_t)t->requests[i]));
    pthread_rwlock_rdlock(&t->repo.lock);
    size_t users = target_repo_count(&t->repo, TARGET_USER);
    size_t groups = target_repo_count(&t->repo, TARGET_GROUP);
    pthread_rwlock_unlock(&t->repo.lock);
    char started[32];
    sc_clock_format_iso8601(t->started_ms, started, sizeof started);
    res->content_type = "application/json";
    json_t *bulk =
        json_pack("{s:I, s:I, s:I}", "requests", (json_int_t)t->bulk_requests, "operations",
                  (json_int_t)t->bulk_operations, "largest", (json_int_t)t->bulk_largest);
    http_response_json(res, 200,
                       json_pack("{s:o, s:o, s:I, s:I, s:I, s:s}", "requests", req, "bulk", bulk,
                                 "users", (json_int_t)users, "groups", (json_int_t)groups, "faults",
                                 (json_int_t)t->faulted, "startedAt", started));
}

/* Sleeps ms, or until the target stops. */
static void pause_ms(struct target *t, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&t->hang_mu);
    while (!t->stopping) {
        if (pthread_cond_timedwait(&t->hang_cv, &t->hang_mu, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&t->hang_mu);
}

/* Applies the configured faults. Returns 1 when the request was answered by a fault. */
static int inject(struct target *t, struct http_response *res)
{
    if (!t->faults.enabled)
        return 0;
    if (t->faults.latency_ms > 0)
        pause_ms(t, t->faults.latency_ms);
    int f = target_faults_pick(&t->faults);
    if (f == 0)
        return 0;
    t->faulted++;
    struct target_result r = {0};
    if (f < 0) {
        pause_ms(t, t->faults.hang_ms);
        f = 503;
    }
    if (f == 429 || f == 503) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", t->faults.retry_after_s);
        http_response_header(res, "Retry-After", ra);
    }
    target_error(&r, f, NULL, "injected fault (--faults): HTTP %d", f);
    target_service_write(&t->svc, res, &r);
    return 1;
}

/* The SCIM 1.1 answer of a 2.0 operation: a resource or a ListResponse in 1.1 shapes,
 * and 200 instead of 204 for a DELETE (draft-scim-api-01 answers 200 OK). Errors are
 * converted in write_result. */
static void answer_to_11(struct target_result *r)
{
    if (r->status == 204)
        r->status = 200;
    if (r->status >= 300 || !json_is_object(r->body))
        return;
    struct scim_error err = {0};
    json_t *out = NULL;
    json_t *list = json_object_get(r->body, "Resources");
    if (!list) {
        if (scim_dialect_resource_to_11(r->body, &out, &err) == SC_OK) {
            json_decref(r->body);
            r->body = out;
        }
        return;
    }
    json_t *items = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x)
    {
        if (scim_dialect_resource_to_11(x, &out, &err) == SC_OK)
            json_array_append_new(items, out);
    }
    json_t *page = scim_dialect_list_response_new(
        SCIM_DIALECT_11, items, json_integer_value(json_object_get(r->body, "totalResults")),
        json_integer_value(json_object_get(r->body, "startIndex")));
    json_decref(r->body);
    r->body = page;
    if (!page)
        target_error(r, 500, NULL, "out of memory");
}

/* Converts a comma-separated list of SCIM 1.1 attribute names (`attributes=`) to 2.0. */
static enum sc_err attrs_from_11(const char *list, struct sc_buf *out, struct scim_error *err)
{
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char one[SCIM_SEARCH_MAX_ATTRS_LEN + 1];
        while (n && *p == ' ') {
            p++;
            n--;
        }
        while (n && p[n - 1] == ' ')
            n--;
        if (n >= sizeof one)
            return scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE,
                                  "attributes is longer than %d bytes", SCIM_SEARCH_MAX_ATTRS_LEN);
        if (n) {
            memcpy(one, p, n);
            one[n] = '\0';
            enum sc_err rc = SC_OK;
            if ((out->len && (rc = sc_buf_puts(out, ",")) != SC_OK) ||
                (rc = scim_dialect_path_from_11(one, out, err)) != SC_OK)
                return rc == SC_ERR_TOO_LARGE ? scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE,
                                                               "attributes is longer than %d bytes",
                                                               SCIM_SEARCH_MAX_ATTRS_LEN)
                                              : rc;
        }
        p += comma ? (size_t)(comma - p) + 1 : strlen(p);
    }
    return SC_OK;
}

static int path_under(const char *path, const char *endpoint)
{
    size_t n = strlen(endpoint);
    return strncmp(path, endpoint, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Runs one /Users or /Groups request of SCIM 1.1: the body (for POST and PUT), filter
 * and attribute names converted to 2.0 after a strict check, the operation run as in
 * 2.0 (a PATCH body goes as it is: the operation applies it with 1.1 semantics), the
 * answer converted back. */
static void run_11(void *arg, const struct target_call *in, struct target_result *r)
{
    struct target *t = arg;
    struct target_call c = *in;
    struct scim_error err = {0};
    struct sc_buf filter, attrs;
    json_t *conv = NULL;
    const struct scim_resource_type *rt = NULL;
    sc_buf_init(&filter, 2 * SCIM_FILTER_MAX_LEN);
    sc_buf_init(&attrs, 2 * SCIM_SEARCH_MAX_ATTRS_LEN);
    if (strstr(c.path, "/.search")) {
        target_error(r, 404, NULL, "no such endpoint: %s (SCIM 1.1 has no /.search)", c.path);
        goto done;
    }
    if (path_under(c.path, "/Users"))
        rt = scim_resource_type_user();
    else if (path_under(c.path, "/Groups"))
        rt = scim_resource_type_group();
    c.excluded = NULL; /* excludedAttributes is SCIM 2.0's; a 1.1 service ignores it */
    if (rt && c.body && (c.method == TM_POST || c.method == TM_PUT)) {
        if (scim_dialect_check_11(rt, c.body, 0, &err) != SC_OK ||
            scim_dialect_resource_from_11(rt, c.body, &conv, &err) != SC_OK)
            goto fail;
        c.body = conv;
    }
    if (c.filter) {
        if (strlen(c.filter) > SCIM_FILTER_MAX_LEN) {
            scim_error_set(&err, 400, SCIM_TYPE_INVALID_FILTER, "filter is longer than %d bytes",
                           SCIM_FILTER_MAX_LEN);
            goto fail;
        }
        if (scim_dialect_filter_from_11(c.filter, &filter, &err) != SC_OK)
            goto fail;
        c.filter = filter.data;
    }
    if (c.attributes) {
        if (attrs_from_11(c.attributes, &attrs, &err) != SC_OK)
            goto fail;
        c.attributes = attrs.data ? attrs.data : "";
    }
    target_service_run(&t->svc, &c, r);
    answer_to_11(r);
    goto done;
fail:
    target_error(r, err.status ? err.status : 400, err.scim_type[0] ? err.scim_type : NULL, "%s",
                 err.detail);
done:
    json_decref(conv);
    sc_buf_free(&filter);
    sc_buf_free(&attrs);
}

static void handle(void *ctx, const struct http_request *req, struct http_response *res)
{
    struct target *t = ctx;
    int64_t t0 = sc_clock_mono_ns();
    enum target_method m = target_method_of(req->method);
    const char *path = req->path;
    const char *prefix = prefix_of(t);
    size_t plen = strlen(prefix);
    if (strcmp(path, "/oauth/token") == 0) {
        t->requests[m]++;
        target_auth_token_endpoint(t, req, res);
    } else if (strncmp(path, prefix, plen) != 0 || (path[plen] != '/' && path[plen])) {
        struct target_result r = {0};
        t->requests[m]++;
        target_error(&r, 404, NULL, "no such endpoint: %s (the SCIM %s base is %s)", path,
                     scim_dialect_name(t->opt.dialect), t->base_url);
        target_service_write(&t->svc, res, &r);
    } else if (target_auth_check(t, req, res) != 0) {
        t->requests[m]++;
    } else if (strcmp(path + plen, "/_stats") == 0) {
        stats(t, res); /* not counted: tests read it between the requests they count */
    } else {
        t->requests[m]++;
        if (!inject(t, res))
            target_service_http(&t->svc, req, path[plen] ? path + plen : "/", res);
    }
    if (sc_log_enabled(SC_LOG_DEBUG)) {
        char qpath[256];
        sc_log_quote(path, qpath, sizeof qpath);
        SC_DEBUG("target.request",
                 "method=%s path=%s status=%d bytes_in=%zu bytes_out=%zu us=%lld "
                 "remote=%s",
                 req->method, qpath, res->status, req->body_len, res->body.len,
                 (long long)((sc_clock_mono_ns() - t0) / 1000), req->remote);
    }
}

/* The server's early hook: a SCIM request that fails authentication gets its 401 before
 * its body is read, so unauthenticated peers cannot make the target buffer bodies. */
static enum http_early early(void *ctx, const struct http_request *req, struct http_response *res)
{
    struct target *t = ctx;
    const char *path = req->path;
    size_t plen = strlen(SCIM_PREFIX);
    if (strncmp(path, SCIM_PREFIX, plen) != 0 || (path[plen] != '/' && path[plen]))
        return HTTP_EARLY_READ_BODY;
    if (target_auth_check(t, req, res) == 0)
        return HTTP_EARLY_READ_BODY;
    t->requests[target_method_of(req->method)]++;
    return HTTP_EARLY_ANSWERED;
}

/* Builds the base URL from the listen address and port (the bound one for port 0). */
static void make_base_url(struct target *t, unsigned bound)
{
    if (t->opt.base_url) {
        size_t n = sc_strlcpy(t->base_url, t->opt.base_url, sizeof t->base_url);
        while (n > 0 && t->base_url[n - 1] == '/')
            t->base_url[--n] = '\0';
        return;
    }
    char host[200];
    unsigned port = 0;
    if (http_parse_listen(t->opt.listen, host, sizeof host, &port) || !host[0] ||
        strcmp(host, "0.0.0.0") == 0)
        sc_strlcpy(host, "127.0.0.1", sizeof host);
    if (strchr(host, ':'))
        snprintf(t->base_url, sizeof t->base_url, "http://[%s]:%u%s", host, port ? port : bound,
                 prefix_of(t));
    else
        snprintf(t->base_url, sizeof t->base_url, "http://%s:%u%s", host, port ? port : bound,
                 prefix_of(t));
}

enum sc_err target_start(const struct target_options *o, struct target **out, struct sc_error *e)
{
    enum sc_err err = SC_OK;
    struct target *t = calloc(1, sizeof *t);
    if (!t)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    t->opt = *o;
    if (!t->opt.listen)
        t->opt.listen = "127.0.0.1:8081";
    if (!t->opt.max_body)
        t->opt.max_body = TARGET_DEFAULT_MAX_BODY;
    if (!t->opt.max_results)
        t->opt.max_results = TARGET_DEFAULT_MAX_RESULTS;
    if (!t->opt.bulk_max_ops)
        t->opt.bulk_max_ops = TARGET_DEFAULT_BULK_MAX_OPS;
    pthread_mutex_init(&t->hang_mu, NULL);
    pthread_cond_init(&t->hang_cv, NULL);
    t->started_ms = sc_clock_now_ms();
    if (t->opt.max_results < 1 || t->opt.max_results > SCIM_SEARCH_MAX_COUNT) {
        err = sc_error_set(e, SC_ERR_INVALID, "max-results", "--max-results must be 1 to %d",
                           SCIM_SEARCH_MAX_COUNT);
        goto fail;
    }
    if (t->opt.bulk_max_ops < 1 || t->opt.bulk_max_ops > 100000) {
        err = sc_error_set(e, SC_ERR_INVALID, "bulk-max-operations",
                           "--bulk-max-operations must be 1 to 100000");
        goto fail;
    }
    if (t->opt.max_body < 1024 || t->opt.max_body > 256u * 1024 * 1024) {
        err =
            sc_error_set(e, SC_ERR_INVALID, "max-body", "--max-body must be from 1 KiB to 256 MiB");
        goto fail;
    }
    if ((err = target_faults_parse(o->faults, &t->faults, e)))
        goto fail;
    if ((err = target_auth_init(t, e)))
        goto fail;
    if (o->db) {
        /* the target keeps its resources in SQLite (or in memory): its store has no
         * PostgreSQL back-end */
        if (store_dsn_is_postgresql(o->db)) {
            err = sc_error_set(e, SC_ERR_UNSUPPORTED, "db",
                               "scimitar target keeps its resources in SQLite only: use --db "
                               "sqlite:PATH (PostgreSQL is for scimitar serve)");
            goto fail;
        }
        if ((err = store_open(o->db, &t->st, e)))
            goto fail;
    }
    if ((err = target_repo_init(&t->repo, t->st))) {
        sc_error_set(e, err, NULL, "cannot set up the repository");
        goto fail;
    }
    if ((err = target_repo_load(&t->repo, e)))
        goto fail;
    t->svc = (struct target_service){
        .ops = &target_repo_backend,
        .be = t,
        .base_url = t->base_url,
        .max_results = t->opt.max_results,
        .max_body = t->opt.max_body,
        .bulk_max_ops = t->opt.bulk_max_ops,
        .dialect = t->opt.dialect,
        .no_delete = t->opt.no_delete,
        .auth = (t->auth.token ? TARGET_AUTH_BEARER : 0u) |
                (t->auth.client_id ? TARGET_AUTH_OAUTH : 0u) |
                (t->auth.basic_user ? TARGET_AUTH_BASIC : 0u),
        .bulk_requests = &t->bulk_requests,
        .bulk_operations = &t->bulk_operations,
        .bulk_largest = &t->bulk_largest,
        .run = t->opt.dialect == SCIM_DIALECT_11 ? run_11 : NULL,
        .run_arg = t,
    };
    struct http_server_options so = {
        .listen = t->opt.listen,
        .max_body = t->opt.max_body,
        .threads = t->opt.threads,
        .handler = handle,
        .early = early,
        .ctx = t,
        /* a fault that sleeps must not stall the other connections of a pool thread */
        .thread_per_connection = t->faults.latency_ms > 0 || t->faults.timeout_p > 0.0,
        .too_large_body = t->opt.dialect == SCIM_DIALECT_11 ? too_large_body_11 : too_large_body,
        .too_large_type = SCIM_CT,
    };
    /* the base URL is known before the first request can arrive (Location headers use
     * it), except with port 0, where it needs the port the server got */
    char lh[200];
    unsigned lport = 0;
    if (http_parse_listen(t->opt.listen, lh, sizeof lh, &lport) == 0 && lport != 0)
        make_base_url(t, 0);
    if ((err = http_server_start(&so, &t->srv, e)))
        goto fail;
    if (!t->base_url[0])
        make_base_url(t, http_server_port(t->srv));
    *out = t;
    return SC_OK;
fail:
    target_stop(t);
    return err;
}

unsigned target_port(const struct target *t)
{
    return http_server_port(t->srv);
}

const char *target_base_url(const struct target *t)
{
    return t->base_url;
}

void target_stop(struct target *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->hang_mu);
    t->stopping = 1;
    pthread_cond_broadcast(&t->hang_cv);
    pthread_mutex_unlock(&t->hang_mu);
    http_server_stop(t->srv);
    target_repo_free(&t->repo);
    store_close(t->st);
    target_auth_free(&t->auth);
    pthread_cond_destroy(&t->hang_cv);
    pthread_mutex_destroy(&t->hang_mu);
    free(t);
}
