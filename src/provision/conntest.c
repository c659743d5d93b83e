/* Test Connection: the step-by-step check of a connection against its target (URL,
 * DNS, TCP, TLS, authentication, a users query that matches no one, and the
 * ServiceProviderConfig), each failure saying what to fix. */
#include "provision/conntest.h"
#include "base/buf.h"
#include "base/id.h"
#include "base/json.h"
#include "http/client.h"
#include "provision/connection.h"
#include "provision/secrets.h"
#include "scim/filter.h"
#include "scim/message.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct report {
    json_t *steps;
    int ok;
    const struct connection *c;
    const char *token; /* the fetched access token, or NULL */
};

#define DETAIL_MAX 1024

__attribute__((format(printf, 4, 5))) static void step(struct report *r, const char *name, int ok,
                                                       const char *fmt, ...)
{
    char detail[DETAIL_MAX];
    struct sc_buf b;
    sc_buf_init(&b, 0);
    va_list ap;
    va_start(ap, fmt);
    enum sc_err rc = sc_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    /* masked before it is cut to size: a secret cut in two would not be found */
    connection_error_text(r->c, r->token,
                          rc       ? "out of memory"
                          : b.data ? b.data
                                   : "",
                          rc ? 13 : b.len, detail, sizeof detail);
    if (b.data)
        sodium_memzero(b.data, b.len);
    sc_buf_free(&b);
    json_array_append_new(r->steps,
                          json_pack("{s:s, s:b, s:s}", "name", name, "ok", ok, "detail", detail));
    if (!ok)
        r->ok = 0;
}

/* The hint for a 401/403 by authentication method. */
static const char *auth_hint(const struct connection *c)
{
    switch (c->auth_method) {
    case CONNECTION_AUTH_BEARER:
        return "check the OAuth Access Token (auth.accessToken) and the Auth Type Header";
    case CONNECTION_AUTH_BASIC:
        return "check the Basic user name and password (auth.username, auth.password)";
    case CONNECTION_AUTH_CLIENT_CREDENTIALS:
        return "check the client's permissions (auth.clientId, auth.scope)";
    case CONNECTION_AUTH_NONE:
        break;
    }
    return "the target needs authentication: choose an Authentication Method (auth.method)";
}

/* The value of key in obj, its name matched case-insensitively. Borrowed. */
static json_t *get_ci(const json_t *obj, const char *key)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (sc_strcaseeq(k, key))
            return v;
    }
    return NULL;
}

/* Copies what the target said in an error answer into out as " (the target says: ...)":
 * a SCIM error's detail (2.0) or first description (1.1), else the text of a body that
 * is not JSON; masked whole, then cut. "" when it said nothing. */
static void target_detail(const struct report *r, const struct http_client_response *res, char *out,
                          size_t n)
{
    out[0] = '\0';
    if (!res->body.len)
        return;
    json_t *body = NULL;
    struct sc_error pe = {0};
    const char *said = NULL;
    size_t said_len = 0;
    if (sc_json_parse(res->body.data, res->body.len, 16, &body, &pe) == SC_OK) {
        said = json_string_value(get_ci(body, "detail"));
        json_t *errors = get_ci(body, "Errors");
        if (!said && json_is_array(errors))
            said = json_string_value(get_ci(json_array_get(errors, 0), "description"));
        said_len = said ? strlen(said) : 0;
    } else {
        said = res->body.data;
        said_len = res->body.len;
    }
    if (said && said_len) {
        char text[300];
        connection_error_text(r->c, r->token, said, said_len, text, sizeof text);
        snprintf(out, n, " (the target says: %s)", text);
    }
    json_decref(body);
}

static void network_steps(struct report *r, const char *url, const struct http_client_response *res)
{
    int https = sc_strncaseeq(url, "https://", 8);
    enum http_client_stage s = res->failed_stage;
    if (s == HTTP_STAGE_DNS) {
        step(r, CONNTEST_STEP_DNS, 0,
             "the host name in scim.baseUrl does not resolve: check its spelling (%s)", res->error);
        return;
    }
    step(r, CONNTEST_STEP_DNS, 1, "the host name resolved%s%s", res->remote_ip[0] ? " to " : "",
         res->remote_ip);
    if (s == HTTP_STAGE_CONNECT) {
        step(r, CONNTEST_STEP_CONNECT, 0,
             "cannot open a TCP connection: check the host and port in scim.baseUrl and that the "
             "application is running and reachable (%s)",
             res->error);
        return;
    }
    step(r, CONNTEST_STEP_CONNECT, 1, "TCP connection opened");
    if (https) {
        if (s == HTTP_STAGE_TLS) {
            step(r, CONNTEST_STEP_TLS, 0,
                 "the TLS handshake or certificate check failed: check that the URL's host "
                 "matches the certificate and that the certificate is trusted (%s)",
                 res->error);
            return;
        }
        step(r, CONNTEST_STEP_TLS, 1, "TLS handshake and certificate check succeeded");
    }
}

json_t *conntest_run(const struct connection *c, long timeout_ms)
{
    struct report r = {.steps = json_array(), .ok = 1, .c = c};
    struct sc_buf url, filter;
    sc_buf_init(&url, 0);
    sc_buf_init(&filter, 0);
    char **headers = NULL;
    char *token = NULL;
    struct http_client_response res, spc;
    memset(&res, 0, sizeof res);
    memset(&spc, 0, sizeof spc);
    json_t *body = NULL, *spc_body = NULL;
    if (!r.steps)
        return NULL;
    if (timeout_ms <= 0)
        timeout_ms = 10000;

    /* URL */
    const char *base = c->base_url ? c->base_url : "";
    if (!(sc_strncaseeq(base, "http://", 7) || sc_strncaseeq(base, "https://", 8)) ||
        strlen(base) < 9) {
        step(&r, CONNTEST_STEP_URL, 0,
             "scim.baseUrl must be an http:// or https:// URL, e.g. "
             "https://example.com/scim/v2");
        goto done;
    }
    step(&r, CONNTEST_STEP_URL, 1, "%s", base);

    /* Client credentials: fetch a token first. */
    struct sc_error te = {0};
    int token_failed = 0;
    if (c->auth_method == CONNECTION_AUTH_CLIENT_CREDENTIALS) {
        int64_t expires = 0;
        if (connection_fetch_token(c, timeout_ms, &token, &expires, &te) != SC_OK)
            token_failed = 1;
        r.token = token;
    }

    /* The users query: a filter that matches no one. */
    char probe[64];
    char rnd[24];
    if (sc_random_token(12, rnd, sizeof rnd))
        sc_strlcpy(rnd, "0", sizeof rnd);
    snprintf(probe, sizeof probe, "scimitar-test-%s", rnd);
    struct scim_error se = {0};
    if (scim_filter_template(c->user_filter_expression, probe, &filter, &se) != SC_OK) {
        step(&r, CONNTEST_STEP_USERS, 0,
             "preferences.userFilterExpression is not a SCIM filter once filled in: %s", se.detail);
        goto done;
    }
    char *qf = http_client_escape(filter.data);
    if (!qf || connection_users_url(c, NULL, &url) ||
        sc_buf_printf(&url, "?filter=%s&count=1", qf)) {
        free(qf);
        step(&r, CONNTEST_STEP_URL, 0, "out of memory");
        goto done;
    }
    free(qf);
    if (connection_request_headers(c, token_failed ? NULL : token, &headers) != SC_OK) {
        step(&r, CONNTEST_STEP_AUTH, 0, "cannot build the request headers");
        goto done;
    }
    struct http_client_request req = {
        .method = "GET",
        .url = url.data,
        .headers = (const char *const *)headers,
        .timeout_ms = timeout_ms,
        .max_response = 4 * 1024 * 1024,
    };
    enum sc_err hr = http_client_do(&req, &res);
    if (hr != SC_OK && res.failed_stage == HTTP_STAGE_URL) {
        step(&r, CONNTEST_STEP_URL, 0, "the URL cannot be used: %s", res.error);
        goto done;
    }
    network_steps(&r, base, &res);
    if (!r.ok)
        goto done;
    if (hr != SC_OK) {
        step(&r, CONNTEST_STEP_USERS, 0,
             "the request to %s failed after connecting: %s (is it an HTTP server at that "
             "address?)",
             base, res.error[0] ? res.error : sc_strerror(hr));
        goto done;
    }

    /* Authentication */
    if (token_failed) {
        step(&r, CONNTEST_STEP_AUTH, 0, "%s", te.message);
        goto done;
    }
    if (res.status == 401 || res.status == 403) {
        char td[400];
        target_detail(&r, &res, td, sizeof td);
        step(&r, CONNTEST_STEP_AUTH, 0, "%ld from the target: %s%s", res.status, auth_hint(c), td);
        goto done;
    }
    step(&r, CONNTEST_STEP_AUTH, 1, "%s",
         c->auth_method == CONNECTION_AUTH_NONE ? "no authentication configured; the target "
                                                  "did not ask for any"
         : c->auth_method == CONNECTION_AUTH_CLIENT_CREDENTIALS
             ? "a token was fetched from the token URL and the target accepted it"
             : "the target accepted the credentials");

    /* Users */
    if (res.status == 404) {
        step(&r, CONNTEST_STEP_USERS, 0,
             "404 from %s%s: check scim.baseUrl (the SCIM base URL, often ending in /scim/v2) "
             "and scim.usersResource",
             base, c->users_resource);
        goto done;
    }
    if (res.status != 200) {
        char td[400];
        target_detail(&r, &res, td, sizeof td);
        step(&r, CONNTEST_STEP_USERS, 0, "%ld from the target for GET %s?filter=...%s%s",
             res.status, c->users_resource, td,
             res.status == 400 ? ": check preferences.userFilterExpression" : "");
        goto done;
    }
    struct sc_error pe = {0};
    int64_t total = 0;
    json_t *resources = NULL;
    if (sc_json_parse(res.body.data ? res.body.data : "", res.body.len, 0, &body, &pe) != SC_OK ||
        (!json_is_integer(json_object_get(body, "totalResults")) &&
         scim_list_response_parse(body, &total, &resources, &se) != SC_OK)) {
        step(&r, CONNTEST_STEP_USERS, 0,
             "the answer to GET %s is not a SCIM ListResponse: check that scim.baseUrl points at "
             "the SCIM service",
             c->users_resource);
        goto done;
    }
    total = json_integer_value(json_object_get(body, "totalResults"));
    step(&r, CONNTEST_STEP_USERS, 1,
         "GET %s with the user filter expression answered a ListResponse (%lld match%s)",
         c->users_resource, (long long)total, total == 1 ? "" : "es");

    /* ServiceProviderConfig */
    struct sc_buf su;
    sc_buf_init(&su, 0);
    sc_buf_printf(&su, "%s/ServiceProviderConfig%s", base,
                  strcmp(c->version, "1.1") == 0 ? "s" : "");
    req.url = su.data;
    req.max_response = 1024 * 1024;
    hr = http_client_do(&req, &spc);
    sc_buf_free(&su);
    if (hr != SC_OK || spc.status != 200 ||
        sc_json_parse(spc.body.data ? spc.body.data : "", spc.body.len, 0, &spc_body, &pe) !=
            SC_OK ||
        !json_is_object(spc_body)) {
        step(&r, CONNTEST_STEP_SPC, 1,
             "the target serves no ServiceProviderConfig (%ld); PATCH support is assumed",
             spc.status);
        goto done;
    }
    int patch = json_is_true(sc_json_get_path(spc_body, "patch.supported"));
    int filt = json_is_true(sc_json_get_path(spc_body, "filter.supported"));
    int bulk = json_is_true(sc_json_get_path(spc_body, "bulk.supported"));
    if (!patch && c->update_method == CONNECTION_UPDATE_PATCH) {
        step(&r, CONNTEST_STEP_SPC, 0,
             "the target does not support PATCH: set preferences.updateMethod to PUT (filter %s, "
             "bulk %s)",
             filt ? "supported" : "not supported", bulk ? "supported" : "not supported");
        goto done;
    }
    step(&r, CONNTEST_STEP_SPC, 1, "PATCH %s, filter %s, bulk %s",
         patch ? "supported" : "not supported", filt ? "supported" : "not supported",
         bulk ? "supported" : "not supported");
done:
    json_decref(body);
    json_decref(spc_body);
    http_client_response_free(&res);
    http_client_response_free(&spc);
    connection_headers_free(headers);
    secrets_wipe_free(token);
    sc_buf_free(&url);
    sc_buf_free(&filter);
    http_client_thread_cleanup();
    return json_pack("{s:b, s:o}", "ok", r.ok, "steps", r.steps);
}
