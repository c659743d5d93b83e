/* The SCIM operations on /Users and /Groups (RFC 7644 §3.3-3.6) over any back-end (see
 * service.h): create, read, list and search (filter, paging, projection), replace,
 * patch and delete, with strict validation through the SCIM core (src/scim), ETags with
 * If-Match and If-None-Match, and the HTTP edge shared by `scimitar target` and
 * scimitar serve's /scim/v2. The same entry point serves HTTP requests and the
 * operations of a /Bulk request. */
#include "target/service.h"
#include "base/buf.h"
#include "base/json.h"
#include "http/server.h"
#include "scim/dialect.h"
#include "scim/filter.h"
#include "scim/message.h"
#include "scim/patch.h"
#include "scim/schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TARGET_MAX_ID 64
#define SCIM_CT "application/scim+json"

static const char *const endpoints[TARGET__KINDS] = {"Users", "Groups"};
static const char *const method_names[TM__COUNT] = {"GET",   "POST",   "PUT",
                                                    "PATCH", "DELETE", "OTHER"};

const struct scim_resource_type *target_rt(enum target_kind k)
{
    return k == TARGET_USER ? scim_resource_type_user() : scim_resource_type_group();
}

enum target_method target_method_of(const char *m)
{
    for (int i = 0; i < TM_OTHER; i++)
        if (strcmp(m, method_names[i]) == 0)
            return (enum target_method)i;
    return TM_OTHER;
}

int target_error(struct target_result *r, int status, const char *scim_type, const char *fmt, ...)
{
    struct scim_error err = {0};
    char detail[SCIM_ERROR_DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    scim_error_set(&err, status, scim_type, "%s", detail);
    json_decref(r->body);
    r->body = scim_error_json(&err);
    r->status = status;
    return -1;
}

static int scim_fail(struct target_result *r, const struct scim_error *err)
{
    return target_error(r, err->status ? err->status : 400,
                        err->scim_type[0] ? err->scim_type : NULL, "%s", err->detail);
}

void target_location(const char *base, enum target_kind k, const char *id, char *out, size_t n)
{
    snprintf(out, n, "%s/%s/%s", base, endpoints[k], id);
}

int target_check_if_match(const char *if_match, const char *etag, struct target_result *r)
{
    if (!if_match || scim_etag_match(if_match, etag))
        return 0;
    return target_error(r, 412, NULL,
                        "If-Match %s does not match the resource's current version %s", if_match,
                        etag);
}

/* Renders a stored document for a response: projection, then meta.location. New
 * reference or NULL with r filled with the error. */
static json_t *render(const struct target_service *s, enum target_kind k, const json_t *doc,
                      const char *attributes, const char *excluded, struct target_result *r)
{
    json_t *out = NULL;
    struct scim_error err = {0};
    if (scim_resource_project(target_rt(k), doc, attributes, excluded, &out, &err)) {
        scim_fail(r, &err);
        return NULL;
    }
    json_t *meta = json_object_get(out, "meta");
    const char *id = json_string_value(json_object_get(doc, "id"));
    if (json_is_object(meta) && id) {
        char loc[320];
        target_location(s->base_url, k, id, loc, sizeof loc);
        json_object_set_new(meta, "location", json_string(loc));
    }
    return out;
}

/* Whether filter f tests a group's members: an attribute path (URN prefix aside) whose
 * first name is "members". */
static int filter_tests_members(const struct scim_filter *f)
{
    if (!f)
        return 0;
    if (f->attr) {
        const char *a = strrchr(f->attr, ':');
        a = a ? a + 1 : f->attr;
        size_t n = strcspn(a, ".[");
        if (n == strlen("members") && strncasecmp(a, "members", n) == 0)
            return 1;
    }
    return filter_tests_members(f->left) || filter_tests_members(f->right);
}

unsigned target_read_flags(const char *attributes, const char *excluded,
                           const struct scim_filter *f)
{
    if ((!attributes || !*attributes) && (!excluded || !*excluded))
        return 0;
    if (filter_tests_members(f))
        return 0;
    /* the projection itself says: a group with every member sub-attribute, projected */
    json_t *probe = json_pack("{s:[s], s:s, s:s, s:[{s:s, s:s, s:s, s:s}]}", "schemas",
                              SCIM_SCHEMA_GROUP, "id", "x", "displayName", "x", "members", "value",
                              "x", "display", "x", "type", "User", "$ref", "x");
    json_t *out = NULL;
    struct scim_error err = {0};
    unsigned flags = 0;
    if (probe &&
        scim_resource_project(scim_resource_type_group(), probe, attributes, excluded, &out,
                              &err) == SC_OK &&
        !json_object_get(out, "members"))
        flags = TARGET_READ_NO_MEMBERS;
    json_decref(out);
    json_decref(probe);
    return flags;
}

/* Fills r with the resource as a 200/201 answer with ETag and Location. */
static void answer_resource(const struct target_service *s, enum target_kind k, const json_t *doc,
                            const char *etag, int status, const struct target_call *c,
                            struct target_result *r)
{
    json_t *body = render(s, k, doc, c->attributes, c->excluded, r);
    if (!body)
        return;
    sc_strlcpy(r->etag, etag, sizeof r->etag);
    const char *id = json_string_value(json_object_get(doc, "id"));
    target_location(s->base_url, k, id ? id : "", r->location, sizeof r->location);
    r->status = status;
    r->body = body;
}

static void op_create(const struct target_service *s, enum target_kind k,
                      const struct target_call *c, struct target_result *r)
{
    struct scim_error err = {0};
    json_t *doc = NULL, *out = NULL;
    char etag[TARGET_ETAG_MAX] = "";
    if (!json_is_object(c->body)) {
        target_error(r, 400, SCIM_TYPE_INVALID_SYNTAX, "the request body must be a JSON object");
        return;
    }
    if (scim_resource_validate(target_rt(k), c->body, SCIM_VALIDATE_CREATE, NULL, &doc, &err)) {
        scim_fail(r, &err);
        return;
    }
    if (s->ops->create(s->be, k, doc, &out, etag, r) == 0)
        answer_resource(s, k, out, etag, 201, c, r);
    json_decref(out);
    json_decref(doc);
}

static void op_get(const struct target_service *s, enum target_kind k, const char *id,
                   const struct target_call *c, struct target_result *r)
{
    json_t *doc = NULL;
    char etag[TARGET_ETAG_MAX] = "";
    unsigned read = k == TARGET_GROUP ? target_read_flags(c->attributes, c->excluded, NULL) : 0;
    if (s->ops->get(s->be, k, id, read, &doc, etag, r))
        return;
    if (c->if_none_match && scim_etag_match(c->if_none_match, etag)) {
        r->status = 304;
        sc_strlcpy(r->etag, etag, sizeof r->etag);
        json_decref(doc);
        return;
    }
    answer_resource(s, k, doc, etag, 200, c, r);
    json_decref(doc);
}

struct change {
    const struct target_service *s;
    enum target_kind k;
    const struct target_call *c;
    struct scim_patch *patch; /* PATCH in SCIM 2.0; NULL for PUT and 1.1's PATCH */
};

static int change_replace(void *arg, const json_t *cur, const char *etag, json_t **next,
                          struct target_result *r)
{
    struct change *ch = arg;
    struct scim_error err = {0};
    if (target_check_if_match(ch->c->if_match, etag, r))
        return -1;
    if (scim_resource_validate(target_rt(ch->k), ch->c->body, SCIM_VALIDATE_REPLACE, cur, next,
                               &err))
        return scim_fail(r, &err);
    return 0;
}

static int change_patch(void *arg, const json_t *cur, const char *etag, json_t **next,
                        struct target_result *r)
{
    struct change *ch = arg;
    struct scim_error err = {0};
    if (target_check_if_match(ch->c->if_match, etag, r))
        return -1;
    if (ch->patch ? scim_patch_apply(ch->patch, target_rt(ch->k), cur, next, &err)
                  : scim_dialect_patch_apply_11(target_rt(ch->k), cur, ch->c->body, next, &err))
        return scim_fail(r, &err);
    return 0;
}

int target_update_is_patch(target_update_fn fn)
{
    return fn == change_patch;
}

static void op_update(const struct target_service *s, enum target_kind k, const char *id,
                      const struct target_call *c, struct target_result *r)
{
    struct scim_error err = {0};
    struct change ch = {.s = s, .k = k, .c = c};
    json_t *out = NULL;
    char etag[TARGET_ETAG_MAX] = "";
    if (!json_is_object(c->body)) {
        target_error(r, 400, SCIM_TYPE_INVALID_SYNTAX, "the request body must be a JSON object");
        return;
    }
    if (c->method == TM_PATCH) {
        int v11 = s->dialect == SCIM_DIALECT_11;
        /* PATCH: a PatchOp (RFC 7644 §3.5.2), or in SCIM 1.1 a partial resource applied
         * with 1.1 semantics (scim_dialect_patch_apply_11) */
        if (v11 ? scim_dialect_check_11(target_rt(k), c->body, 1, &err)
                : scim_patch_parse(c->body, &ch.patch, &err)) {
            scim_fail(r, &err);
            return;
        }
    }
    if (s->ops->update(s->be, k, id, c->method == TM_PATCH ? change_patch : change_replace, &ch,
                       &out, etag, r) == 0)
        answer_resource(s, k, out, etag, 200, c, r);
    json_decref(out);
    scim_patch_free(ch.patch);
}

static void op_delete(const struct target_service *s, enum target_kind k, const char *id,
                      const struct target_call *c, struct target_result *r)
{
    if (k == TARGET_USER && s->no_delete) {
        r->allow = "GET, PUT, PATCH";
        target_error(r, 405, NULL,
                     "users cannot be deleted in this application; deactivate them instead "
                     "(PATCH active=false)");
        return;
    }
    if (s->ops->remove(s->be, k, id, c->if_match, r) == 0)
        r->status = 204;
}

/* ---- list and search ----------------------------------------------------------------- */

static void op_list(const struct target_service *s, int kinds, const struct target_call *c,
                    struct target_result *r)
{
    struct scim_search q;
    struct scim_error err = {0};
    struct scim_filter *f = NULL;
    json_t *resources = NULL;
    struct target_page pg = {0};
    scim_search_init(&q);
    if (c->method == TM_POST) {
        if (!json_is_object(c->body)) {
            target_error(r, 400, SCIM_TYPE_INVALID_SYNTAX,
                         "the request body must be a SearchRequest object");
            goto done;
        }
        if (scim_search_parse_json(c->body, &q, &err)) {
            scim_fail(r, &err);
            goto done;
        }
    } else {
        const char *names[] = {"filter", "attributes", "excludedAttributes", "startIndex", "count"};
        const char *values[] = {c->filter, c->attributes, c->excluded, c->start_index, c->count};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            if (values[i] && scim_search_set_param(&q, names[i], values[i], &err)) {
                scim_fail(r, &err);
                goto done;
            }
        }
    }
    if (q.filter) {
        if (scim_filter_parse(q.filter, &f, &err)) {
            scim_fail(r, &err);
            goto done;
        }
        for (int k = 0; k < TARGET__KINDS; k++) {
            if ((kinds & (1 << k)) && scim_filter_check(f, target_rt((enum target_kind)k), &err)) {
                scim_fail(r, &err);
                goto done;
            }
        }
    }
    int64_t max = s->max_results;
    int64_t count = q.count < 0 ? max : (q.count > max ? max : q.count);
    int64_t start = q.start_index < 1 ? 1 : q.start_index;
    pg.skip = start - 1;
    pg.want = count;
    pg.read = target_read_flags(q.attributes, q.excluded_attributes, f);
    pg.docs = json_array();
    resources = json_array();
    if (!pg.docs || !resources) {
        target_error(r, 500, NULL, "out of memory");
        goto done;
    }
    for (int k = 0; k < TARGET__KINDS; k++)
        if ((kinds & (1 << k)) && s->ops->list(s->be, (enum target_kind)k, f, &pg, r))
            goto done;
    size_t i;
    json_t *pair;
    json_array_foreach(pg.docs, i, pair)
    {
        enum target_kind k = (enum target_kind)json_integer_value(json_array_get(pair, 0));
        json_t *one = render(s, k, json_array_get(pair, 1), q.attributes, q.excluded_attributes, r);
        if (!one)
            goto done;
        json_array_append_new(resources, one);
    }
    r->body = scim_list_response_new(resources, pg.total, start);
    resources = NULL;
    r->status = r->body ? 200 : 500;
done:
    json_decref(pg.docs);
    json_decref(resources);
    scim_filter_free(f);
    scim_search_free(&q);
}

/* ---- dispatch ------------------------------------------------------------------------ */

/* Splits a path below the base into kind (or -1 for the root) and the rest. */
static int parse_path(const char *path, int *kind, const char **rest)
{
    if (strcmp(path, "/.search") == 0) {
        *kind = -1;
        *rest = "/.search";
        return 0;
    }
    for (int k = 0; k < TARGET__KINDS; k++) {
        size_t n = strlen(endpoints[k]);
        if (path[0] == '/' && strncmp(path + 1, endpoints[k], n) == 0 &&
            (path[n + 1] == '\0' || path[n + 1] == '/')) {
            *kind = k;
            *rest = path + n + 1;
            return 0;
        }
    }
    return -1;
}

void target_service_run(const struct target_service *s, const struct target_call *c,
                        struct target_result *r)
{
    int kind;
    const char *rest;
    if (parse_path(c->path, &kind, &rest)) {
        target_error(r, 404, NULL, "no such endpoint: %s", c->path);
        return;
    }
    if (kind < 0) {
        if (c->method != TM_POST) {
            r->allow = "POST";
            target_error(r, 405, NULL, "/.search accepts POST only");
            return;
        }
        op_list(s, (1 << TARGET_USER) | (1 << TARGET_GROUP), c, r);
        return;
    }
    enum target_kind k = (enum target_kind)kind;
    if (*rest == '\0' || strcmp(rest, "/") == 0) {
        if (c->method == TM_GET)
            op_list(s, 1 << k, c, r);
        else if (c->method == TM_POST)
            op_create(s, k, c, r);
        else {
            r->allow = "GET, POST";
            target_error(r, 405, NULL, "/%s accepts GET and POST", endpoints[k]);
        }
        return;
    }
    if (strcmp(rest, "/.search") == 0) {
        if (c->method == TM_POST)
            op_list(s, 1 << k, c, r);
        else {
            r->allow = "POST";
            target_error(r, 405, NULL, "/%s/.search accepts POST only", endpoints[k]);
        }
        return;
    }
    const char *id = rest + 1;
    if (strchr(id, '/') || strlen(id) > TARGET_MAX_ID) {
        target_error(r, 404, NULL, "no such endpoint: %s", c->path);
        return;
    }
    switch (c->method) {
    case TM_GET:
        op_get(s, k, id, c, r);
        break;
    case TM_PUT:
    case TM_PATCH:
        op_update(s, k, id, c, r);
        break;
    case TM_DELETE:
        op_delete(s, k, id, c, r);
        break;
    default:
        r->allow = "GET, PUT, PATCH, DELETE";
        target_error(r, 405, NULL, "/%s/{id} accepts GET, PUT, PATCH and DELETE", endpoints[k]);
        break;
    }
}

/* ---- the HTTP edge ------------------------------------------------------------------- */

/* In SCIM 1.1, an Error body (2.0, from the shared operations) becomes 1.1's. */
static void error_to_11(const struct target_service *s, struct target_result *r)
{
    if (s->dialect != SCIM_DIALECT_11 || r->status < 400 || !json_is_object(r->body) ||
        json_object_get(r->body, "Errors"))
        return;
    struct scim_error err = {0};
    scim_error_from_json(r->body, r->status, &err);
    json_decref(r->body);
    r->body = scim_dialect_error_json(SCIM_DIALECT_11, &err);
}

void target_service_write(const struct target_service *s, struct http_response *res,
                          struct target_result *r)
{
    error_to_11(s, r);
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

static int json_content_type(const char *ct)
{
    if (!ct)
        return 1;
    return sc_strncaseeq(ct, SCIM_CT, strlen(SCIM_CT)) ||
           sc_strncaseeq(ct, "application/json", strlen("application/json"));
}

void target_service_http(const struct target_service *s, const struct http_request *req,
                         const char *path, struct http_response *res)
{
    struct target_result r = {0};
    json_t *body = NULL;
    enum target_method m = target_method_of(req->method);
    if (strcmp(path, "/Bulk") == 0 && m == TM_POST && s->dialect != SCIM_DIALECT_11 &&
        s->max_body && req->body_len > s->max_body) {
        /* RFC 7644 §3.7.4: a Bulk request over the advertised maxPayloadSize */
        target_error(
            &r, 413, NULL,
            "the Bulk request is %zu bytes; maxPayloadSize is %zu (/ServiceProviderConfig)",
            req->body_len, s->max_body);
        goto done;
    }
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
    if (strcmp(path, "/Bulk") == 0 && s->dialect == SCIM_DIALECT_11) {
        target_error(&r, 501, NULL,
                     "this service does not offer SCIM 1.1 Bulk (bulk.supported is false in "
                     "/ServiceProviderConfigs)");
        goto done;
    }
    if (strcmp(path, "/Bulk") == 0) {
        if (m != TM_POST) {
            r.allow = "POST";
            target_error(&r, 405, NULL, "/Bulk accepts POST only");
        } else {
            target_service_bulk(s, body, &r);
        }
        goto done;
    }
    if (target_service_discovery(s, path, &r) == 0) {
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
    if (s->run)
        s->run(s->run_arg, &c, &r);
    else
        target_service_run(s, &c, &r);
done:
    if (r.status == 304) {
        http_response_header(res, "ETag", r.etag);
        http_response_text(res, 304, SCIM_CT, NULL);
        json_decref(r.body);
    } else {
        target_service_write(s, res, &r);
    }
    json_decref(body);
}
