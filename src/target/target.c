/* The target's HTTP face: starts the server, and for each request counts it, routes it
 * (/oauth/token, then everything under /scim/v2), checks authentication, injects the
 * configured faults, checks and parses the body, runs the SCIM operation and writes
 * the answer as application/scim+json with ETag and Location headers. Also the test
 * aid GET /scim/v2/_stats (requests by method since start, resource counts), and one
 * key=value log line per request at debug level. */
#include "target/target_internal.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "http/server.h"
#include "scim/message.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCIM_PREFIX "/scim/v2"
#define SCIM_CT "application/scim+json"

static const char *const method_names[TM__COUNT] = {"GET",   "POST",   "PUT",
                                                    "PATCH", "DELETE", "OTHER"};

static const char too_large_body[] =
    "{\"schemas\":[\"" SCIM_MSG_ERROR "\"],\"status\":\"413\",\"detail\":\"the request body is "
    "larger than this service accepts (see maxPayloadSize in /ServiceProviderConfig)\"}";

static enum target_method method_of(const char *m)
{
    for (int i = 0; i < TM_OTHER; i++)
        if (strcmp(m, method_names[i]) == 0)
            return (enum target_method)i;
    return TM_OTHER;
}

static void write_result(struct http_response *res, struct target_result *r)
{
    if (r->etag[0])
        http_response_header(res, "ETag", r->etag);
    if (r->status == 201 && r->location[0])
        http_response_header(res, "Location", r->location);
    if (r->allow)
        http_response_header(res, "Allow", r->allow);
    res->content_type = SCIM_CT;
    http_response_json(res, r->status ? r->status : 500, r->body);
    r->body = NULL;
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
    http_response_json(res, 200,
                       json_pack("{s:o, s:I, s:I, s:I, s:s}", "requests", req, "users",
                                 (json_int_t)users, "groups", (json_int_t)groups, "faults",
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
    write_result(res, &r);
    return 1;
}

static int json_content_type(const char *ct)
{
    if (!ct)
        return 1;
    return sc_strncaseeq(ct, SCIM_CT, strlen(SCIM_CT)) ||
           sc_strncaseeq(ct, "application/json", strlen("application/json"));
}

/* Serves one request below /scim/v2 (path is what follows the prefix). */
static void serve_scim(struct target *t, const struct http_request *req, const char *path,
                       enum target_method m, struct http_response *res)
{
    struct target_result r = {0};
    json_t *body = NULL;
    if (req->body_len > 0 || m == TM_POST || m == TM_PUT || m == TM_PATCH) {
        if (!json_content_type(http_request_header(req, "Content-Type"))) {
            target_error(&r, 415, NULL, "send the body as application/scim+json");
            goto done;
        }
        struct sc_error e = {0};
        if (sc_json_parse(req->body, req->body_len, 0, &body, &e)) {
            target_error(&r, 400, SCIM_TYPE_INVALID_SYNTAX, "%s", e.message);
            goto done;
        }
    }
    if (strcmp(path, "/Bulk") == 0) {
        if (m != TM_POST) {
            r.allow = "POST";
            target_error(&r, 405, NULL, "/Bulk accepts POST only");
        } else {
            target_bulk_run(t, body, &r);
        }
        goto done;
    }
    if (target_discovery(t, path, &r) == 0) {
        if (m != TM_GET) {
            json_decref(r.body);
            r.body = NULL;
            r.allow = "GET";
            target_error(&r, 405, NULL, "%s accepts GET only", path);
        }
        goto done;
    }
    struct target_call c = {
        .method = m,
        .path = path,
        .body = body,
        .if_match = http_request_header(req, "If-Match"),
        .if_none_match = http_request_header(req, "If-None-Match"),
        .filter = http_request_query(req, "filter"),
        .attributes = http_request_query(req, "attributes"),
        .excluded = http_request_query(req, "excludedAttributes"),
        .start_index = http_request_query(req, "startIndex"),
        .count = http_request_query(req, "count"),
    };
    target_call_run(t, &c, &r);
done:
    if (r.status == 304) {
        http_response_header(res, "ETag", r.etag);
        http_response_text(res, 304, SCIM_CT, NULL);
        json_decref(r.body);
    } else {
        write_result(res, &r);
    }
    json_decref(body);
}

static void handle(void *ctx, const struct http_request *req, struct http_response *res)
{
    struct target *t = ctx;
    int64_t t0 = sc_clock_mono_ns();
    enum target_method m = method_of(req->method);
    const char *path = req->path;
    size_t plen = strlen(SCIM_PREFIX);
    if (strcmp(path, "/oauth/token") == 0) {
        t->requests[m]++;
        target_auth_token_endpoint(t, req, res);
    } else if (strncmp(path, SCIM_PREFIX, plen) != 0 || (path[plen] != '/' && path[plen])) {
        struct target_result r = {0};
        t->requests[m]++;
        target_error(&r, 404, NULL, "no such endpoint: %s (the SCIM base is %s)", path,
                     t->base_url);
        write_result(res, &r);
    } else if (target_auth_check(t, req, res) != 0) {
        t->requests[m]++;
    } else if (strcmp(path + plen, "/_stats") == 0) {
        stats(t, res); /* not counted: tests read it between the requests they count */
    } else {
        t->requests[m]++;
        if (!inject(t, res))
            serve_scim(t, req, path[plen] ? path + plen : "/", m, res);
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
    t->requests[method_of(req->method)]++;
    return HTTP_EARLY_ANSWERED;
}

/* Builds the base URL from the listen address and the bound port. */
static void make_base_url(struct target *t)
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
        snprintf(t->base_url, sizeof t->base_url, "http://[%s]:%u" SCIM_PREFIX, host,
                 http_server_port(t->srv));
    else
        snprintf(t->base_url, sizeof t->base_url, "http://%s:%u" SCIM_PREFIX, host,
                 http_server_port(t->srv));
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
        if ((err = store_open(o->db, &t->st, e)))
            goto fail;
    }
    if ((err = target_repo_init(&t->repo, t->st))) {
        sc_error_set(e, err, NULL, "cannot set up the repository");
        goto fail;
    }
    if ((err = target_repo_load(&t->repo, e)))
        goto fail;
    struct http_server_options so = {
        .listen = t->opt.listen,
        .max_body = t->opt.max_body,
        .threads = t->opt.threads,
        .handler = handle,
        .early = early,
        .ctx = t,
        /* a fault that sleeps must not stall the other connections of a pool thread */
        .thread_per_connection = t->faults.latency_ms > 0 || t->faults.timeout_p > 0.0,
        .too_large_body = too_large_body,
        .too_large_type = SCIM_CT,
    };
    if ((err = http_server_start(&so, &t->srv, e)))
        goto fail;
    make_base_url(t);
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
