/* Test Connection: the step-by-step check of a connection against its target (URL,
 * DNS, TCP, TLS, authentication, a users query that matches no one, and the
 * ServiceProviderConfig), each failure saying what to fix; then what the target can do
 * (resource types, schemas, filters, listing, userName case, the mapped attributes its
 * schema declares), which never fails the test. */
#include "provision/conntest.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/id.h"
#include "base/json.h"
#include "http/client.h"
#include "provision/caps.h"
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

static void vstep(struct report *r, const char *name, int ok, int warning, const char *fmt,
                  va_list ap)
{
    char detail[DETAIL_MAX];
    struct sc_buf b;
    sc_buf_init(&b, 0);
    enum sc_err rc = sc_buf_vprintf(&b, fmt, ap);
    /* masked before it is cut to size: a secret cut in two would not be found */
    connection_error_text(r->c, r->token,
                          rc       ? "out of memory"
                          : b.data ? b.data
                                   : "",
                          rc ? 13 : b.len, detail, sizeof detail);
    if (b.data)
        sodium_memzero(b.data, b.len);
    sc_buf_free(&b);
    json_array_append_new(r->steps, json_pack("{s:s, s:b, s:b, s:s}", "name", name, "ok", ok,
                                              "warning", warning, "detail", detail));
    if (!ok)
        r->ok = 0;
}

/* Adds a step that passed (ok) or failed. */
__attribute__((format(printf, 4, 5))) static void step(struct report *r, const char *name, int ok,
                                                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vstep(r, name, ok, 0, fmt, ap);
    va_end(ap);
}

/* Adds a step that passed with a warning: something to know that does not fail the
 * test. */
__attribute__((format(printf, 3, 4))) static void warn(struct report *r, const char *name,
                                                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vstep(r, name, 1, 1, fmt, ap);
    va_end(ap);
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

/* The discovery requests after the users query: the same headers and limits. */
struct probe {
    struct report *r;
    struct http_client_request req;
    const char *base;
    long timeout_ms;     /* for one request */
    int64_t deadline_ms; /* monotonic: no discovery request starts after it */
};

/* GETs base + path (path may be NULL: url is then full) and returns the status (0 when
 * no answer came); *doc is the parsed JSON body (new) or NULL. */
static long get_json(struct probe *p, const char *path, const char *url, json_t **doc)
{
    *doc = NULL;
    int64_t left = p->deadline_ms - sc_clock_mono_ms();
    if (left <= 0)
        return 0; /* a slow target: the remaining steps say what they could not learn */
    p->req.timeout_ms = left < p->timeout_ms ? (long)left : p->timeout_ms;
    struct sc_buf u;
    sc_buf_init(&u, 0);
    if (path && sc_buf_printf(&u, "%s%s", p->base, path))
        return 0;
    struct http_client_response res;
    memset(&res, 0, sizeof res);
    p->req.url = path ? u.data : url;
    enum sc_err hr = http_client_do(&p->req, &res);
    long status = hr ? 0 : res.status;
    struct sc_error pe = {0};
    if (status && res.body.len &&
        sc_json_parse(res.body.data, res.body.len, SC_JSON_MAX_DEPTH, doc, &pe) != SC_OK)
        *doc = NULL;
    http_client_response_free(&res);
    sc_buf_free(&u);
    return status;
}

/* The resources of a list answer: its "Resources" array, or the answer itself when it
 * is an array (some SCIM 1.1 services). Borrowed; NULL when neither. */
static json_t *list_items(json_t *doc)
{
    if (json_is_array(doc))
        return doc;
    json_t *res = get_ci(doc, "Resources");
    return json_is_array(res) ? res : NULL;
}

/* "HTTP 404", or "no answer" for status 0 (into buf). */
static const char *answer(long status, char *buf, size_t n)
{
    if (status <= 0)
        return "no answer";
    snprintf(buf, n, "HTTP %ld", status);
    return buf;
}

/* A "supported" flag of the ServiceProviderConfig: true, false, or null when absent. */
static json_t *supported(const json_t *spc, const char *feature)
{
    json_t *v = get_ci(get_ci(spc, feature), "supported");
    return json_is_boolean(v) ? json_incref(v) : json_null();
}

static json_t *int_or_null(const json_t *v)
{
    return json_is_integer(v) ? json_incref((json_t *)v) : json_null();
}

static const char *yes_no(const json_t *v)
{
    return json_is_true(v) ? "supported" : json_is_false(v) ? "not supported" : "not said";
}

/* ServiceProviderConfig: 2.0's name, then 1.1's (or the other way round for a 1.1
 * connection). Returns -1 when the step failed (PATCH unsupported while it is used). */
static int spc_step(struct probe *p, json_t *caps)
{
    char a[48];
    const struct connection *c = p->r->c;
    int v11 = strcmp(c->version, "1.1") == 0;
    const char *names[2] = {"/ServiceProviderConfig", "/ServiceProviderConfigs"};
    json_t *spc = NULL;
    long status = 0;
    for (int i = 0; i < 2 && !spc; i++) {
        status = get_json(p, names[v11 ? 1 - i : i], NULL, &spc);
        if (status != 200 || !json_is_object(spc)) {
            json_decref(spc);
            spc = NULL;
        }
    }
    if (!spc) {
        step(p->r, CONNTEST_STEP_SPC, 1,
             "the target serves no ServiceProviderConfig (%s); PATCH support is assumed",
             answer(status, a, sizeof a));
        return 0;
    }
    json_object_set_new(caps, "serviceProviderConfig", json_true());
    json_t *patch = supported(spc, "patch");
    json_t *bulk = get_ci(spc, "bulk"), *filter = get_ci(spc, "filter");
    json_object_set_new(caps, "patch", json_incref(patch));
    json_object_set_new(caps, "bulk",
                        json_pack("{s:o, s:o, s:o}", "supported", supported(spc, "bulk"),
                                  "maxOperations", int_or_null(get_ci(bulk, "maxOperations")),
                                  "maxPayloadSize", int_or_null(get_ci(bulk, "maxPayloadSize"))));
    json_t *f = json_object_get(caps, "filter");
    json_object_set_new(f, "supported", supported(spc, "filter"));
    json_object_set_new(f, "maxResults", int_or_null(get_ci(filter, "maxResults")));
    json_object_set_new(caps, "etag", supported(spc, "etag"));
    json_object_set_new(caps, "sort", supported(spc, "sort"));
    json_object_set_new(caps, "changePassword", supported(spc, "changePassword"));

    char limits_f[64] = "", limits_b[96] = "";
    json_t *mr = json_object_get(f, "maxResults");
    if (json_is_integer(mr))
        snprintf(limits_f, sizeof limits_f, " (maxResults %lld)",
                 (long long)json_integer_value(mr));
    json_t *cb = json_object_get(caps, "bulk");
    json_t *mo = json_object_get(cb, "maxOperations"), *mp = json_object_get(cb, "maxPayloadSize");
    if (json_is_integer(mo) || json_is_integer(mp))
        snprintf(limits_b, sizeof limits_b, " (maxOperations %lld, maxPayloadSize %lld)",
                 (long long)json_integer_value(mo), (long long)json_integer_value(mp));
    const char *fs = yes_no(json_object_get(f, "supported"));
    const char *bs = yes_no(json_object_get(cb, "supported"));
    int rc = 0;
    if (!json_is_true(patch) && c->update_method == CONNECTION_UPDATE_PATCH) {
        step(p->r, CONNTEST_STEP_SPC, 0,
             "the target does not support PATCH: set preferences.updateMethod to PUT (filter %s, "
             "bulk %s)",
             fs, bs);
        rc = -1;
    } else {
        step(p->r, CONNTEST_STEP_SPC, 1,
             "PATCH %s, filter %s%s, bulk %s%s, ETag %s, sort %s, changePassword %s",
             json_is_true(patch) ? "supported" : "not supported", fs, limits_f, bs, limits_b,
             yes_no(json_object_get(caps, "etag")), yes_no(json_object_get(caps, "sort")),
             yes_no(json_object_get(caps, "changePassword")));
    }
    json_decref(patch);
    json_decref(spc);
    return rc;
}

static int is_user_schema(const char *id)
{
    return id && (sc_strcaseeq(id, CONNTEST_URN_USER) || sc_strcaseeq(id, CONNTEST_URN_USER_11));
}

static int is_enterprise_schema(const char *id)
{
    return id && (sc_strcaseeq(id, CONNTEST_URN_ENTERPRISE) ||
                  sc_strcaseeq(id, CONNTEST_URN_ENTERPRISE_11));
}

/* ResourceTypes: whether served, where the User resource type lives, its extensions
 * (appended to extensions as URN strings). */
static void resource_types_step(struct probe *p, json_t *caps, json_t *extensions)
{
    char a[48];
    const struct connection *c = p->r->c;
    json_t *doc = NULL;
    long status = get_json(p, "/ResourceTypes", NULL, &doc);
    json_t *items = status == 200 ? list_items(doc) : NULL;
    if (!items) {
        step(p->r, CONNTEST_STEP_RESOURCE_TYPES, 1, "not served (%s); it is optional",
             answer(status, a, sizeof a));
        json_decref(doc);
        return;
    }
    json_object_set_new(caps, "resourceTypes", json_true());
    json_t *user = NULL;
    size_t i;
    json_t *rt;
    json_array_foreach(items, i, rt)
    {
        const char *id = json_string_value(get_ci(rt, "id"));
        const char *name = json_string_value(get_ci(rt, "name"));
        if ((id && sc_strcaseeq(id, "User")) || (name && sc_strcaseeq(name, "User")) ||
            is_user_schema(json_string_value(get_ci(rt, "schema")))) {
            user = rt;
            break;
        }
    }
    if (!user) {
        step(p->r, CONNTEST_STEP_RESOURCE_TYPES, 1,
             "served, with %zu resource type%s but none for users", json_array_size(items),
             json_array_size(items) == 1 ? "" : "s");
        json_decref(doc);
        return;
    }
    const char *endpoint = json_string_value(get_ci(user, "endpoint"));
    if (endpoint && *endpoint && strlen(endpoint) < 512)
        json_object_set_new(caps, "usersEndpoint", json_string(endpoint));
    struct sc_buf ext;
    sc_buf_init(&ext, 0);
    json_t *e;
    json_array_foreach(get_ci(user, "schemaExtensions"), i, e)
    {
        const char *urn = json_string_value(get_ci(e, "schema"));
        if (!urn || strlen(urn) > 512 || json_array_size(extensions) >= 16)
            continue;
        json_array_append_new(extensions, json_string(urn));
        sc_buf_printf(&ext, "%s%s", ext.len ? ", " : "", urn);
    }
    if (endpoint && endpoint[0] == '/' && !sc_strcaseeq(endpoint, c->users_resource))
        warn(p->r, CONNTEST_STEP_RESOURCE_TYPES,
             "the target's User resource type is at %.200s but scim.usersResource is %s: check "
             "scim.usersResource",
             endpoint, c->users_resource);
    else
        step(p->r, CONNTEST_STEP_RESOURCE_TYPES, 1, "the User resource type is at %.200s%s%.600s",
             endpoint ? endpoint : "(no endpoint said)", ext.len ? " with the extension " : "",
             ext.len ? ext.data : "");
    sc_buf_free(&ext);
    json_decref(doc);
}

/* Appends to out the declared paths of one schema's attributes, each name prefixed
 * with prefix ("" for the core schema, "<URN>:" for an extension). */
static void collect_attributes(const json_t *schema, const char *prefix, json_t *out)
{
    size_t i, j;
    json_t *a, *sub;
    json_array_foreach(get_ci(schema, "attributes"), i, a)
    {
        const char *name = json_string_value(get_ci(a, "name"));
        if (!name || !*name || strlen(name) > 128 || json_array_size(out) >= CONNTEST_MAX_ATTRS)
            continue;
        struct sc_buf b;
        sc_buf_init(&b, 0);
        if (sc_buf_printf(&b, "%s%s", prefix, name) == SC_OK)
            json_array_append_new(out, json_string(b.data));
        json_array_foreach(get_ci(a, "subAttributes"), j, sub)
        {
            const char *sn = json_string_value(get_ci(sub, "name"));
            if (!sn || !*sn || strlen(sn) > 128 || json_array_size(out) >= CONNTEST_MAX_ATTRS)
                continue;
            sc_buf_reset(&b);
            if (sc_buf_printf(&b, "%s%s.%s", prefix, name, sn) == SC_OK)
                json_array_append_new(out, json_string(b.data));
        }
        sc_buf_free(&b);
    }
}

/* The extension schemas whose attributes count: the enterprise extension and those the
 * User resource type names. 1.1's enterprise URN is recorded as 2.0's. */
static const char *extension_prefix(const char *id, const json_t *extensions)
{
    if (is_enterprise_schema(id))
        return CONNTEST_URN_ENTERPRISE;
    size_t i;
    json_t *e;
    json_array_foreach(extensions, i, e)
    {
        if (sc_strcaseeq(json_string_value(e), id))
            return id;
    }
    return NULL;
}

/* Schemas: the User schema's attributes (and the extensions'), from /Schemas or, when
 * it does not list them, /Schemas/<URN>. */
static void schemas_step(struct probe *p, json_t *caps, const json_t *extensions)
{
    char a[48];
    const struct connection *c = p->r->c;
    int v11 = strcmp(c->version, "1.1") == 0;
    json_t *doc = NULL, *attrs = json_array();
    json_t *user = NULL;
    int nschemas = 0;
    long status = get_json(p, "/Schemas", NULL, &doc);
    json_t *items = status == 200 ? list_items(doc) : NULL;
    size_t i;
    json_t *s;
    json_array_foreach(items, i, s)
    {
        if (is_user_schema(json_string_value(get_ci(s, "id"))))
            user = s;
    }
    if (user) {
        collect_attributes(user, "", attrs);
        json_array_foreach(items, i, s)
        {
            const char *id = json_string_value(get_ci(s, "id"));
            const char *prefix = id ? extension_prefix(id, extensions) : NULL;
            if (!prefix)
                continue;
            struct sc_buf pb;
            sc_buf_init(&pb, 0);
            if (sc_buf_printf(&pb, "%s:", prefix) == SC_OK)
                collect_attributes(s, pb.data, attrs);
            sc_buf_free(&pb);
            nschemas++;
        }
    } else {
        /* some services serve each schema only by its id */
        json_t *one = NULL;
        long st1 = get_json(
            p, v11 ? "/Schemas/" CONNTEST_URN_USER_11 : "/Schemas/" CONNTEST_URN_USER, NULL, &one);
        if (st1 == 200 && json_is_object(one) && get_ci(one, "attributes")) {
            user = one;
            collect_attributes(one, "", attrs);
            json_t *ent = NULL;
            if (get_json(p,
                         v11 ? "/Schemas/" CONNTEST_URN_ENTERPRISE_11
                             : "/Schemas/" CONNTEST_URN_ENTERPRISE,
                         NULL, &ent) == 200 &&
                json_is_object(ent) && get_ci(ent, "attributes")) {
                collect_attributes(ent, CONNTEST_URN_ENTERPRISE ":", attrs);
                nschemas++;
            }
            json_decref(ent);
        }
        if (!user)
            json_decref(one);
        else
            json_decref(doc), doc = one;
    }
    if (!user) {
        step(p->r, CONNTEST_STEP_SCHEMAS, 1,
             "not served (%s); it is optional, but mapped attributes cannot be checked against "
             "the target's User schema",
             answer(status, a, sizeof a));
        json_decref(attrs);
    } else {
        json_object_set_new(caps, "schemas", json_true());
        size_t n = json_array_size(attrs);
        step(p->r, CONNTEST_STEP_SCHEMAS, 1,
             "the User schema declares %zu attribute path%s (sub-attributes and %d extension "
             "schema%s included)",
             n, n == 1 ? "" : "s", nschemas, nschemas == 1 ? "" : "s");
        json_object_set_new(caps, "userAttributes", attrs);
    }
    json_decref(doc);
}

/* Listing: GET {users}?startIndex=1&count=1 must answer a ListResponse with
 * totalResults and at most one resource. *sample is a new copy of the userName of the
 * resource it answered, if any. */
static void listing_step(struct probe *p, json_t *caps, char **sample)
{
    char a[48];
    const struct connection *c = p->r->c;
    *sample = NULL;
    struct sc_buf u;
    sc_buf_init(&u, 0);
    json_t *doc = NULL;
    long status = 0;
    if (connection_users_url(c, NULL, &u) == SC_OK &&
        sc_buf_puts(&u, "?startIndex=1&count=1") == SC_OK)
        status = get_json(p, NULL, u.data, &doc);
    sc_buf_free(&u);
    json_t *items = get_ci(doc, "Resources");
    json_t *total = get_ci(doc, "totalResults");
    int ok = status == 200 && json_is_object(doc) && json_is_integer(total) &&
             (!items || (json_is_array(items) && json_array_size(items) <= 1));
    json_object_set_new(caps, "listing", json_boolean(ok));
    const char *un = json_string_value(get_ci(json_array_get(items, 0), "userName"));
    if (status == 200 && un && *un && strlen(un) <= 256)
        *sample = sc_strdup(un); /* an account to look up, paged or not */
    if (ok) {
        step(p->r, CONNTEST_STEP_LISTING, 1, "%s lists its users in pages (%lld in all)",
             c->users_resource, (long long)json_integer_value(total));
    } else if (status == 200 && json_is_integer(total)) {
        warn(p->r, CONNTEST_STEP_LISTING,
             "GET %s?startIndex=1&count=1 answered %zu users: the target does not page its "
             "listing, so a full resync looks each user up instead of reading the list",
             c->users_resource, json_array_size(items));
    } else {
        warn(p->r, CONNTEST_STEP_LISTING,
             "GET %s?startIndex=1&count=1 did not answer a ListResponse with totalResults "
             "(%s): a full resync looks each user up instead of reading the list",
             c->users_resource, answer(status, a, sizeof a));
    }
    json_decref(doc);
}

/* Groups, when a rule targeting the connection pushes groups: GET
 * {groups}?startIndex=1&count=1 must answer a SCIM ListResponse. */
static void groups_step(struct probe *p, const json_t *rules)
{
    const char *who = NULL;
    size_t i;
    json_t *rule;
    json_array_foreach(rules, i, rule)
    {
        if (json_is_true(json_object_get(rule, "groups"))) {
            who = json_string_value(json_object_get(rule, "name"));
            break;
        }
    }
    if (!who)
        return;
    const struct connection *c = p->r->c;
    char a[48];
    struct sc_buf path;
    sc_buf_init(&path, 0);
    json_t *doc = NULL;
    long status = 0;
    if (sc_buf_printf(&path, "%s?startIndex=1&count=1", c->groups_resource) == SC_OK)
        status = get_json(p, path.data, NULL, &doc);
    sc_buf_free(&path);
    json_t *total = get_ci(doc, "totalResults");
    if (status == 200 && json_is_object(doc) && json_is_integer(total))
        step(p->r, CONNTEST_STEP_GROUPS, 1, "%s lists groups (%lld in all) for rule '%.200s'",
             c->groups_resource, (long long)json_integer_value(total), who);
    else
        step(p->r, CONNTEST_STEP_GROUPS, 0,
             "GET %s answered %s, not a SCIM ListResponse: rule '%.200s' pushes groups there; "
             "check scim.groupsResource",
             c->groups_resource, answer(status, a, sizeof a), who);
    json_decref(doc);
}

/* UserNameCase: looks the sample account up by its userName in swapped case. */
static void case_step(struct probe *p, json_t *caps, const char *sample, int honoured)
{
    char a[48];
    const struct connection *c = p->r->c;
    if (!sample) {
        step(p->r, CONNTEST_STEP_CASE, 1,
             "unknown: the target has no account to look up in another case");
        return;
    }
    if (!honoured) {
        step(p->r, CONNTEST_STEP_CASE, 1, "unknown: the target ignores filters");
        return;
    }
    char *swapped = sc_strdup(sample);
    int letters = 0;
    for (char *q = swapped; q && *q; q++) {
        if (*q >= 'a' && *q <= 'z')
            *q = (char)(*q - 'a' + 'A'), letters = 1;
        else if (*q >= 'A' && *q <= 'Z')
            *q = (char)(*q - 'A' + 'a'), letters = 1;
    }
    struct sc_buf f, u;
    sc_buf_init(&f, 0);
    sc_buf_init(&u, 0);
    struct scim_error se = {0};
    json_t *doc = NULL;
    long status = -1;
    if (swapped && letters &&
        scim_filter_template("userName eq \"%s\"", swapped, &f, &se) == SC_OK) {
        char *qf = http_client_escape(f.data);
        if (qf && connection_users_url(c, NULL, &u) == SC_OK &&
            sc_buf_printf(&u, "?filter=%s&count=1", qf) == SC_OK)
            status = get_json(p, NULL, u.data, &doc);
        free(qf);
    }
    json_t *items = get_ci(doc, "Resources");
    if (!letters) {
        step(p->r, CONNTEST_STEP_CASE, 1,
             "unknown: the userName of the account tried has no letters");
    } else if (status == 200 && json_is_object(doc)) {
        int found =
            json_array_size(items) > 0 || json_integer_value(get_ci(doc, "totalResults")) > 0;
        json_object_set_new(caps, "userNameCaseInsensitive", json_boolean(found));
        step(p->r, CONNTEST_STEP_CASE, 1,
             found ? "userName look-ups are case-insensitive: an existing account was found "
                     "with its userName in another case"
                   : "userName look-ups are case-sensitive: an existing account was not found "
                     "with its userName in another case");
    } else {
        step(p->r, CONNTEST_STEP_CASE, 1, "unknown: the look-up got %s",
             answer(status, a, sizeof a));
    }
    json_decref(doc);
    sc_buf_free(&f);
    sc_buf_free(&u);
    free(swapped);
}

/* Mapping: one warning per mapped attribute the target's User schema does not declare. */
static void mapping_steps(struct report *r, const json_t *caps, const json_t *rules)
{
    const json_t *attrs = json_object_get(caps, "userAttributes");
    if (!json_is_array(attrs)) {
        step(r, CONNTEST_STEP_MAPPING, 1,
             "not checked: the target serves no User schema to check mapped attributes against");
        return;
    }
    size_t nrules = json_array_size(rules);
    if (nrules == 0) {
        step(r, CONNTEST_STEP_MAPPING, 1, "not checked: no rule targets this connection");
        return;
    }
    json_t *w = provision_caps_warnings(attrs, rules);
    size_t n = json_array_size(w), i;
    json_t *one;
    json_array_foreach(w, i, one)
    {
        if (i == CONNTEST_MAX_MAPPING_STEPS) {
            warn(r, CONNTEST_STEP_MAPPING,
                 "and %zu more mapped attributes the target's schema "
                 "does not declare (see the connection's capabilities)",
                 n - i);
            break;
        }
        warn(r, CONNTEST_STEP_MAPPING, "%s", sc_json_get_string(one, "message"));
    }
    if (n == 0) {
        size_t rows = 0;
        json_t *rule;
        json_array_foreach(rules, i, rule)
        {
            rows += json_array_size(json_object_get(rule, "mappings"));
        }
        step(r, CONNTEST_STEP_MAPPING, 1,
             "the target's schema declares every mapped attribute (%zu row%s of %zu rule%s)", rows,
             rows == 1 ? "" : "s", nrules, nrules == 1 ? "" : "s");
    }
    json_decref(w);
}

json_t *conntest_run_caps(const struct connection *c, long timeout_ms, const json_t *rules,
                          json_t **caps_out)
{
    struct report r = {.steps = json_array(), .ok = 1, .c = c};
    json_t *caps = NULL;
    if (caps_out)
        *caps_out = NULL;
    struct sc_buf url, filter;
    sc_buf_init(&url, 0);
    sc_buf_init(&filter, 0);
    char **headers = NULL;
    char *token = NULL;
    struct http_client_response res;
    memset(&res, 0, sizeof res);
    json_t *body = NULL;
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

    caps = provision_caps_empty(NULL);
    if (!caps)
        goto done;
    json_object_set_new(caps, "scimVersion", json_string(c->version));
    size_t found_n = json_array_size(get_ci(body, "Resources"));
    int honoured = !(total > 0 || found_n > 0);
    json_object_set_new(
        caps, "filter",
        json_pack("{s:n, s:n, s:b}", "supported", "maxResults", "honoured", honoured));

    struct probe pr = {.r = &r,
                       .req = req,
                       .base = base,
                       .timeout_ms = timeout_ms,
                       .deadline_ms = sc_clock_mono_ms() + CONNTEST_DISCOVERY_MS};
    pr.req.max_response = 1024 * 1024;
    if (spc_step(&pr, caps) != 0)
        goto done;
    json_t *extensions = json_array();
    resource_types_step(&pr, caps, extensions);
    schemas_step(&pr, caps, extensions);
    json_decref(extensions);
    if (honoured)
        step(&r, CONNTEST_STEP_FILTER, 1,
             "a filter for a user name no one has answered no one: the target honours filters");
    else
        warn(&r, CONNTEST_STEP_FILTER,
             "a filter for a user name no one has answered %lld user%s: the target ignores "
             "filters, so look-ups cannot be trusted (the engine searches listings instead)",
             (long long)(total > 0 ? total : (int64_t)found_n),
             (total > 0 ? total : (int64_t)found_n) == 1 ? "" : "s");
    char *sample = NULL;
    listing_step(&pr, caps, &sample);
    case_step(&pr, caps, sample, honoured);
    free(sample);
    mapping_steps(&r, caps, rules);
    groups_step(&pr, rules);
done:
    json_decref(body);
    http_client_response_free(&res);
    connection_headers_free(headers);
    secrets_wipe_free(token);
    sc_buf_free(&url);
    sc_buf_free(&filter);
    http_client_thread_cleanup();
    if (caps_out)
        *caps_out = caps;
    else
        json_decref(caps);
    return json_pack("{s:b, s:o}", "ok", r.ok, "steps", r.steps);
}

json_t *conntest_run(const struct connection *c, long timeout_ms)
{
    return conntest_run_caps(c, timeout_ms, NULL, NULL);
}
