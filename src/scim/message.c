/* SCIM protocol messages: the SCIM error, Error / ListResponse / PatchOp / Bulk /
 * SearchRequest bodies, meta and ETags (see message.h). */
#include "scim/message.h"
#include "scim/filter.h"
#include "scim/scim_internal.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum sc_err scim_error_code(int status)
{
    switch (status) {
    case 0:
        return SC_OK;
    case 400:
        return SC_ERR_INVALID;
    case 401:
        return SC_ERR_AUTH;
    case 403:
        return SC_ERR_FORBIDDEN;
    case 404:
        return SC_ERR_NOT_FOUND;
    case 405:
    case 501:
        return SC_ERR_UNSUPPORTED;
    case 409:
    case 412:
        return SC_ERR_CONFLICT;
    case 413:
        return SC_ERR_TOO_LARGE;
    default:
        return SC_ERR_INTERNAL;
    }
}

enum sc_err scim_error_set(struct scim_error *err, int status, const char *scim_type,
                           const char *fmt, ...)
{
    if (err) {
        err->status = status;
        sc_strlcpy(err->scim_type, scim_type ? scim_type : "", sizeof err->scim_type);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->detail, sizeof err->detail, fmt, ap);
        va_end(ap);
    }
    return scim_error_code(status);
}

void scim_error_clear(struct scim_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
}

void scim_error_to_sc(const struct scim_error *err, struct sc_error *out)
{
    if (!out)
        return;
    if (!err || err->status == 0) {
        sc_error_clear(out);
        return;
    }
    sc_error_set(out, scim_error_code(err->status), err->scim_type, "%s", err->detail);
}

json_t *scim_error_json(const struct scim_error *err)
{
    char status[16];
    snprintf(status, sizeof status, "%d", err && err->status ? err->status : 500);
    json_t *o = json_pack("{s:[s],s:s}", "schemas", SCIM_MSG_ERROR, "status", status);
    if (!o)
        return NULL;
    if (err && err->scim_type[0])
        json_object_set_new(o, "scimType", json_string(err->scim_type));
    if (err && err->detail[0])
        json_object_set_new(o, "detail", json_string(err->detail));
    return o;
}

void scim_error_from_json(const json_t *body, int http_status, struct scim_error *err)
{
    if (!err)
        return;
    scim_error_clear(err);
    err->status = http_status;
    if (!json_is_object(body))
        return;
    const json_t *st = scim__obj_get(body, "status", NULL);
    int64_t v;
    if (json_is_integer(st))
        err->status = (int)json_integer_value(st);
    else if (json_is_string(st) && sc_parse_int64(json_string_value(st), 100, 599, &v) == 0)
        err->status = (int)v;
    const char *t = json_string_value(scim__obj_get(body, "scimType", NULL));
    const char *d = json_string_value(scim__obj_get(body, "detail", NULL));
    const json_t *errors = scim__obj_get(body, "Errors", NULL);
    if (!d && json_is_array(errors) && json_array_size(errors) > 0) {
        const json_t *e0 = json_array_get(errors, 0);
        d = json_string_value(scim__obj_get(e0, "description", NULL));
        const json_t *code = scim__obj_get(e0, "code", NULL);
        if (!json_is_integer(st) && !json_is_string(st)) {
            if (json_is_integer(code))
                err->status = (int)json_integer_value(code);
            else if (json_is_string(code) &&
                     sc_parse_int64(json_string_value(code), 100, 599, &v) == 0)
                err->status = (int)v; /* SCIM 1.1 writes "code":"404" */
        }
    }
    if (t)
        sc_strlcpy(err->scim_type, t, sizeof err->scim_type);
    if (d)
        sc_strlcpy(err->detail, d, sizeof err->detail);
}

json_t *scim_list_response_new(json_t *resources, int64_t total_results, int64_t start_index)
{
    if (!resources)
        resources = json_array();
    if (!json_is_array(resources)) {
        json_decref(resources);
        return NULL;
    }
    return json_pack("{s:[s],s:I,s:I,s:I,s:o}", "schemas", SCIM_MSG_LIST_RESPONSE, "totalResults",
                     (json_int_t)total_results, "startIndex",
                     (json_int_t)(start_index < 1 ? 1 : start_index), "itemsPerPage",
                     (json_int_t)json_array_size(resources), "Resources", resources);
}

enum sc_err scim_list_response_parse(const json_t *body, int64_t *total, json_t **resources,
                                     struct scim_error *err)
{
    if (!json_is_object(body))
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                              "a ListResponse must be a JSON object");
    json_t *res = scim__obj_get(body, "Resources", NULL);
    const json_t *tot = scim__obj_get(body, "totalResults", NULL);
    if (res && !json_is_array(res))
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                              "ListResponse: Resources must be an array");
    if (!json_is_integer(tot) && !res)
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                              "not a ListResponse: no totalResults nor Resources");
    if (total)
        *total =
            json_is_integer(tot) ? (int64_t)json_integer_value(tot) : (int64_t)json_array_size(res);
    if (resources)
        *resources = (res && json_array_size(res) > 0) ? res : NULL;
    return SC_OK;
}

json_t *scim_patch_body_new(void)
{
    return json_pack("{s:[s],s:[]}", "schemas", SCIM_MSG_PATCH_OP, "Operations");
}

int scim_patch_body_add(json_t *body, const char *op, const char *path, json_t *value)
{
    json_t *ops = json_object_get(body, "Operations");
    json_t *o = json_pack("{s:s}", "op", op ? op : "");
    if (!json_is_array(ops) || !o) {
        json_decref(value);
        json_decref(o);
        return -1;
    }
    if (path)
        json_object_set_new(o, "path", json_string(path));
    if (value)
        json_object_set_new(o, "value", value);
    return json_array_append_new(ops, o);
}

void scim_search_init(struct scim_search *s)
{
    memset(s, 0, sizeof *s);
    s->start_index = 1;
    s->count = -1;
}

void scim_search_free(struct scim_search *s)
{
    if (!s)
        return;
    free(s->filter);
    free(s->attributes);
    free(s->excluded_attributes);
    free(s->sort_by);
    scim_search_init(s);
}

static enum sc_err set_str(char **dst, const char *v)
{
    char *c = sc_strdup(v);
    if (!c)
        return SC_ERR_NOMEM;
    free(*dst);
    *dst = c;
    return SC_OK;
}

enum sc_err scim_search_set_param(struct scim_search *s, const char *name, const char *value,
                                  struct scim_error *err)
{
    int64_t v;
    if (!name || !value)
        return SC_OK;
    if (sc_strcaseeq(name, "filter")) {
        if (strlen(value) > SCIM_FILTER_MAX_LEN)
            return scim_error_set(err, 400, SCIM_TYPE_INVALID_FILTER,
                                  "filter is longer than %d bytes", SCIM_FILTER_MAX_LEN);
        return set_str(&s->filter, value);
    }
    if (sc_strcaseeq(name, "startIndex")) {
        if (sc_parse_int64(value, INT64_MIN, INT64_MAX, &v) < 0)
            return scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE,
                                  "startIndex must be an integer");
        s->start_index = v < 1 ? 1 : v;
        return SC_OK;
    }
    if (sc_strcaseeq(name, "count")) {
        if (sc_parse_int64(value, INT64_MIN, INT64_MAX, &v) < 0)
            return scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE, "count must be an integer");
        s->count = v < 0 ? 0 : (v > SCIM_SEARCH_MAX_COUNT ? SCIM_SEARCH_MAX_COUNT : v);
        return SC_OK;
    }
    if (sc_strcaseeq(name, "attributes") || sc_strcaseeq(name, "excludedAttributes")) {
        if (strlen(value) > SCIM_SEARCH_MAX_ATTRS_LEN)
            return scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE, "%s is longer than %d bytes",
                                  name, SCIM_SEARCH_MAX_ATTRS_LEN);
        return set_str(sc_strcaseeq(name, "attributes") ? &s->attributes : &s->excluded_attributes,
                       value);
    }
    if (sc_strcaseeq(name, "sortBy"))
        return set_str(&s->sort_by, value);
    if (sc_strcaseeq(name, "sortOrder")) {
        if (sc_strcaseeq(value, "ascending"))
            s->sort_descending = 0;
        else if (sc_strcaseeq(value, "descending"))
            s->sort_descending = 1;
        else
            return scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE,
                                  "sortOrder must be ascending or descending");
        return SC_OK;
    }
    return SC_OK;
}

/* Joins an array of strings (or takes a string) into a comma-separated list. */
static enum sc_err join_attrs(const json_t *v, const char *name, char **dst, struct scim_error *err)
{
    struct sc_buf b;
    enum sc_err rc = SC_OK;
    sc_buf_init(&b, SCIM_SEARCH_MAX_ATTRS_LEN);
    if (json_is_string(v)) {
        rc = sc_buf_puts(&b, json_string_value(v));
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            if (!json_is_string(x)) {
                rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE,
                                    "%s must be an array of strings", name);
                goto done;
            }
            if ((i > 0 && (rc = sc_buf_puts(&b, ",")) != SC_OK) ||
                (rc = sc_buf_puts(&b, json_string_value(x))) != SC_OK)
                break;
        }
    } else {
        rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE, "%s must be an array of strings",
                            name);
        goto done;
    }
    if (rc == SC_ERR_TOO_LARGE) {
        rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE, "%s is longer than %d bytes", name,
                            SCIM_SEARCH_MAX_ATTRS_LEN);
        goto done;
    }
    if (rc != SC_OK)
        goto done;
    if (!b.data && sc_buf_puts(&b, "") != SC_OK) {
        rc = SC_ERR_NOMEM;
        goto done;
    }
    free(*dst);
    *dst = sc_buf_steal(&b);
done:
    sc_buf_free(&b);
    return rc;
}

enum sc_err scim_search_parse_json(const json_t *body, struct scim_search *s,
                                   struct scim_error *err)
{
    if (!json_is_object(body))
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                              "a SearchRequest must be a JSON object");
    const json_t *schemas = scim__obj_get(body, "schemas", NULL);
    int found = 0;
    size_t i;
    json_t *x;
    json_array_foreach(schemas, i, x)
    {
        if (json_is_string(x) && sc_strcaseeq(json_string_value(x), SCIM_MSG_SEARCH_REQUEST))
            found = 1;
    }
    if (!found)
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                              "schemas must list " SCIM_MSG_SEARCH_REQUEST);
    const char *k;
    json_t *v;
    enum sc_err rc;
    json_object_foreach((json_t *)body, k, v)
    {
        if (sc_strcaseeq(k, "schemas") || json_is_null(v))
            continue;
        if (sc_strcaseeq(k, "attributes") || sc_strcaseeq(k, "excludedAttributes")) {
            rc = join_attrs(
                v, k, sc_strcaseeq(k, "attributes") ? &s->attributes : &s->excluded_attributes,
                err);
            if (rc != SC_OK)
                return rc;
            continue;
        }
        char num[32];
        const char *sv = NULL;
        if (sc_strcaseeq(k, "startIndex") || sc_strcaseeq(k, "count")) {
            if (!json_is_integer(v))
                return scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE, "%s must be an integer",
                                      k);
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
            sv = num;
        } else if (sc_strcaseeq(k, "filter") || sc_strcaseeq(k, "sortBy") ||
                   sc_strcaseeq(k, "sortOrder")) {
            if (!json_is_string(v))
                return scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE, "%s must be a string", k);
            sv = json_string_value(v);
        } else {
            continue;
        }
        rc = scim_search_set_param(s, k, sv, err);
        if (rc != SC_OK)
            return rc;
    }
    return SC_OK;
}

const char *scim_etag_format(const char *version, char *out, size_t n)
{
    snprintf(out, n, "W/\"%s\"", version ? version : "");
    return out;
}

const char *scim_etag_of(const json_t *resource, char *out, size_t n)
{
    json_t *copy = json_is_object(resource) ? json_copy((json_t *)resource) : NULL;
    if (copy)
        json_object_del(copy, "meta");
    uint64_t d = sc_json_digest(copy ? copy : resource);
    json_decref(copy);
    snprintf(out, n, "W/\"%016llx\"", (unsigned long long)d);
    return out;
}

/* Strips W/ and the quotes of one entity tag of length n. */
static void etag_core(const char *s, size_t n, const char **core, size_t *cn)
{
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n >= 2 && (s[0] == 'W' || s[0] == 'w') && s[1] == '/') {
        s += 2;
        n -= 2;
    }
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s++;
        n -= 2;
    }
    *core = s;
    *cn = n;
}

int scim_etag_match(const char *header, const char *etag)
{
    if (!header || !etag)
        return 0;
    const char *ec;
    size_t en;
    etag_core(etag, strlen(etag), &ec, &en);
    const char *p = header;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *c;
        size_t cn;
        etag_core(p, n, &c, &cn);
        if (cn == 1 && c[0] == '*')
            return 1;
        if (cn == en && memcmp(c, ec, en) == 0)
            return 1;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

int scim_meta_set(json_t *resource, const char *resource_type, int64_t created_ms,
                  int64_t last_modified_ms, const char *location, const char *version)
{
    char c[40], m[40];
    sc_clock_format_iso8601(created_ms, c, sizeof c);
    sc_clock_format_iso8601(last_modified_ms, m, sizeof m);
    json_t *meta = json_pack("{s:s,s:s,s:s}", "resourceType", resource_type ? resource_type : "",
                             "created", c, "lastModified", m);
    if (!meta)
        return -1;
    if (location)
        json_object_set_new(meta, "location", json_string(location));
    if (version)
        json_object_set_new(meta, "version", json_string(version));
    return json_object_set_new(resource, "meta", meta);
}

/* ---- Bulk ---- */

void scim_bulk_request_free(struct scim_bulk_request *req)
{
    if (!req)
        return;
    for (size_t i = 0; i < req->count; i++) {
        free(req->ops[i].bulk_id);
        free(req->ops[i].path);
        free(req->ops[i].version);
        json_decref(req->ops[i].data);
    }
    free(req->ops);
    free(req);
}

static int has_schema(const json_t *body, const char *urn)
{
    const json_t *schemas = scim__obj_get(body, "schemas", NULL);
    size_t i;
    json_t *x;
    json_array_foreach(schemas, i, x)
    {
        if (json_is_string(x) && sc_strcaseeq(json_string_value(x), urn))
            return 1;
    }
    return 0;
}

enum sc_err scim_bulk_parse(const json_t *body, size_t max_operations,
                            struct scim_bulk_request **out, struct scim_error *err)
{
    enum sc_err rc = SC_OK;
    struct scim_bulk_request *req = NULL;
    if (max_operations == 0)
        max_operations = SCIM_BULK_MAX_OPERATIONS;
    if (!json_is_object(body) || !has_schema(body, SCIM_MSG_BULK_REQUEST))
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                              "a BulkRequest must be an object whose schemas list "
                              "" SCIM_MSG_BULK_REQUEST);
    const json_t *ops = scim__obj_get(body, "Operations", NULL);
    if (!json_is_array(ops))
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                              "BulkRequest: Operations must be an array");
    if (json_array_size(ops) > max_operations)
        return scim_error_set(err, 413, NULL,
                              "The number of operations (%zu) exceeds maxOperations (%zu)",
                              json_array_size(ops), max_operations);
    const json_t *foe = scim__obj_get(body, "failOnErrors", NULL);
    if (foe && !json_is_null(foe) && (!json_is_integer(foe) || json_integer_value(foe) < 0))
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE,
                              "failOnErrors must be a non-negative integer");
    req = calloc(1, sizeof *req);
    if (!req)
        return SC_ERR_NOMEM;
    req->fail_on_errors = json_is_integer(foe) ? (int64_t)json_integer_value(foe) : 0;
    if (json_array_size(ops) > 0) {
        req->ops = calloc(json_array_size(ops), sizeof *req->ops);
        if (!req->ops) {
            rc = SC_ERR_NOMEM;
            goto done;
        }
    }
    size_t i;
    json_t *o;
    json_array_foreach(ops, i, o)
    {
        struct scim_bulk_op *op = &req->ops[i];
        req->count = i + 1;
        if (!json_is_object(o)) {
            rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                                "Operations[%zu] must be an object", i);
            goto done;
        }
        const char *method = json_string_value(scim__obj_get(o, "method", NULL));
        static const char *const methods[] = {"POST", "PUT", "PATCH", "DELETE"};
        int m = -1;
        for (int k = 0; method && k < 4; k++)
            if (sc_strcaseeq(method, methods[k]))
                m = k;
        if (m < 0) {
            rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                                "Operations[%zu].method must be POST, PUT, PATCH or DELETE", i);
            goto done;
        }
        sc_strlcpy(op->method, methods[m], sizeof op->method);
        const char *path = json_string_value(scim__obj_get(o, "path", NULL));
        if (!path || path[0] != '/') {
            rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                                "Operations[%zu].path must be a string starting with '/'", i);
            goto done;
        }
        const json_t *bid = scim__obj_get(o, "bulkId", NULL);
        if (bid && !json_is_null(bid) && (!json_is_string(bid) || json_string_length(bid) == 0)) {
            rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE,
                                "Operations[%zu].bulkId must be a non-empty string", i);
            goto done;
        }
        if (m == 0 && !json_is_string(bid)) {
            rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE,
                                "Operations[%zu]: a POST needs a bulkId", i);
            goto done;
        }
        const char *ver = json_string_value(scim__obj_get(o, "version", NULL));
        json_t *data = scim__obj_get(o, "data", NULL);
        if (m != 3 && !json_is_object(data)) {
            rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE,
                                "Operations[%zu]: %s needs an object in data", i, op->method);
            goto done;
        }
        op->path = sc_strdup(path);
        op->bulk_id = json_is_string(bid) ? sc_strdup(json_string_value(bid)) : NULL;
        op->version = ver ? sc_strdup(ver) : NULL;
        op->data = (m != 3) ? json_incref(data) : NULL;
        if (!op->path || (json_is_string(bid) && !op->bulk_id) || (ver && !op->version)) {
            rc = SC_ERR_NOMEM;
            goto done;
        }
        for (size_t k = 0; op->bulk_id && k < i; k++) {
            if (req->ops[k].bulk_id && strcmp(req->ops[k].bulk_id, op->bulk_id) == 0) {
                rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE,
                                    "Operations[%zu]: bulkId \"%s\" is used twice", i, op->bulk_id);
                goto done;
            }
        }
    }
    *out = req;
    req = NULL;
done:
    scim_bulk_request_free(req);
    return rc;
}

json_t *scim_bulk_request_new(int64_t fail_on_errors)
{
    json_t *b = json_pack("{s:[s],s:[]}", "schemas", SCIM_MSG_BULK_REQUEST, "Operations");
    if (b && fail_on_errors > 0)
        json_object_set_new(b, "failOnErrors", json_integer((json_int_t)fail_on_errors));
    return b;
}

/* Appends operation o (new; NULL on allocation failure) to body's "Operations" after
 * setting the optional members that are not NULL: bulkId, location, version, and
 * payload_key = payload (stolen). -1 when body has no Operations or memory ran out. */
static int bulk_add(json_t *body, json_t *o, const char *bulk_id, const char *location,
                    const char *version, const char *payload_key, json_t *payload)
{
    json_t *ops = json_object_get(body, "Operations");
    if (!json_is_array(ops) || !o) {
        json_decref(o);
        json_decref(payload);
        return -1;
    }
    if (bulk_id)
        json_object_set_new(o, "bulkId", json_string(bulk_id));
    if (location)
        json_object_set_new(o, "location", json_string(location));
    if (version)
        json_object_set_new(o, "version", json_string(version));
    if (payload)
        json_object_set_new(o, payload_key, payload);
    return json_array_append_new(ops, o);
}

int scim_bulk_request_add(json_t *body, const char *method, const char *bulk_id, const char *path,
                          const char *version, json_t *data)
{
    json_t *o = json_pack("{s:s,s:s}", "method", method ? method : "", "path", path ? path : "");
    return bulk_add(body, o, bulk_id, NULL, version, "data", data);
}

json_t *scim_bulk_response_new(void)
{
    return json_pack("{s:[s],s:[]}", "schemas", SCIM_MSG_BULK_RESPONSE, "Operations");
}

int scim_bulk_response_add(json_t *body, const char *method, const char *bulk_id,
                           const char *location, const char *version, int status, json_t *response)
{
    char st[16];
    snprintf(st, sizeof st, "%d", status);
    json_t *o = json_pack("{s:s,s:s}", "method", method ? method : "", "status", st);
    return bulk_add(body, o, bulk_id, location, version, "response", response);
}

static int replace_ref(json_t *v, const char *ref, const char *id, int depth);

/* Replaces member or element x when it is the string ref, else looks inside it.
 * Returns how many were replaced, or -1. */
static int replace_child(json_t *x, const char *ref, const char *id, int depth)
{
    if (json_is_string(x) && strcmp(json_string_value(x), ref) == 0)
        return json_string_set(x, id) < 0 ? -1 : 1;
    return replace_ref(x, ref, id, depth + 1);
}

static int replace_ref(json_t *v, const char *ref, const char *id, int depth)
{
    int n = 0, r;
    if (depth > 64)
        return 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            if ((r = replace_child(x, ref, id, depth)) < 0)
                return -1;
            n += r;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            if ((r = replace_child(x, ref, id, depth)) < 0)
                return -1;
            n += r;
        }
    }
    return n;
}

int scim_bulk_replace_ref(json_t *v, const char *bulk_id, const char *id)
{
    struct sc_buf b;
    sc_buf_init(&b, 0);
    if (sc_buf_printf(&b, "bulkId:%s", bulk_id ? bulk_id : "") != SC_OK) {
        sc_buf_free(&b);
        return -1;
    }
    int n = replace_ref(v, b.data, id ? id : "", 0);
    sc_buf_free(&b);
    return n;
}

static const char *find_ref(const json_t *v, int depth)
{
    if (depth > 64)
        return NULL;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        return strncmp(s, "bulkId:", 7) == 0 ? s + 7 : NULL;
    }
    const char *r = NULL;
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            if ((r = find_ref(x, depth + 1)) != NULL)
                return r;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            if ((r = find_ref(x, depth + 1)) != NULL)
                return r;
        }
    }
    return NULL;
}

const char *scim_bulk_find_ref(const json_t *v)
{
    return find_ref(v, 0);
}

/* ---- Bulk, the client's side ---- */

int scim_bulk_writer_init(struct scim_bulk_writer *w, int64_t fail_on_errors)
{
    memset(w, 0, sizeof *w);
    sc_buf_init(&w->text, 0);
    enum sc_err rc = sc_buf_puts(&w->text, "{\"schemas\":[\"" SCIM_MSG_BULK_REQUEST "\"],");
    if (!rc && fail_on_errors > 0)
        rc = sc_buf_printf(&w->text, "\"failOnErrors\":%lld,", (long long)fail_on_errors);
    if (!rc)
        rc = sc_buf_puts(&w->text, "\"Operations\":[");
    if (rc) {
        scim_bulk_writer_free(w);
        return -1;
    }
    return 0;
}

int scim_bulk_writer_add(struct scim_bulk_writer *w, const char *method, const char *bulk_id,
                         const char *path, const char *version, const json_t *data,
                         size_t max_bytes)
{
    if (w->closed || !w->text.data)
        return -1;
    /* the members in RFC 7644's order: method, bulkId, path, version, data */
    json_t *o = json_object();
    int bad = !o || json_object_set_new(o, "method", json_string(method ? method : "")) ||
              (bulk_id && json_object_set_new(o, "bulkId", json_string(bulk_id))) ||
              json_object_set_new(o, "path", json_string(path ? path : "")) ||
              (version && json_object_set_new(o, "version", json_string(version))) ||
              (data && json_object_set(o, "data", (json_t *)data));
    char *op = bad ? NULL : json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!op)
        return -1;
    size_t oplen = strlen(op);
    size_t need = w->text.len + (w->count ? 1 : 0) + oplen + 2; /* ",", the op, "]}" */
    if (max_bytes && need > max_bytes) {
        free(op);
        return 0;
    }
    enum sc_err rc = w->count ? sc_buf_append(&w->text, ",", 1) : SC_OK;
    if (!rc)
        rc = sc_buf_append(&w->text, op, oplen);
    free(op);
    if (rc)
        return -1;
    w->count++;
    return 1;
}

const char *scim_bulk_writer_finish(struct scim_bulk_writer *w, size_t *len)
{
    if (!w->text.data)
        return NULL;
    if (!w->closed) {
        if (sc_buf_append(&w->text, "]}", 2))
            return NULL;
        w->closed = 1;
    }
    if (len)
        *len = w->text.len;
    return w->text.data;
}

void scim_bulk_writer_free(struct scim_bulk_writer *w)
{
    sc_buf_free(&w->text);
    memset(w, 0, sizeof *w);
}

/* An operation's status as answered: "201", 201, or SCIM 1.1's {"code": "201"}. 0 when
 * it is none of these or outside 100..599. */
static int bulk_status(const json_t *v)
{
    if (json_is_object(v))
        v = scim__obj_get(v, "code", NULL);
    int64_t n = 0;
    if (json_is_integer(v))
        n = (int64_t)json_integer_value(v);
    else if (!json_is_string(v) || sc_parse_int64(json_string_value(v), 100, 599, &n) != 0)
        return 0;
    return n >= 100 && n <= 599 ? (int)n : 0;
}

static enum sc_err not_bulk_response(struct scim_error *err, const char *why)
{
    scim_error_set(err, 0, NULL, "not a BulkResponse: %s", why);
    return SC_ERR_INVALID;
}

enum sc_err scim_bulk_response_read(const json_t *body, struct scim_bulk_result **out, size_t *n,
                                    struct scim_error *err)
{
    *out = NULL;
    *n = 0;
    if (!json_is_object(body))
        return not_bulk_response(err, "the answer is not a JSON object");
    const json_t *schemas = scim__obj_get(body, "schemas", NULL);
    if (schemas && !has_schema(body, SCIM_MSG_BULK_RESPONSE))
        return not_bulk_response(err, "its schemas do not name " SCIM_MSG_BULK_RESPONSE);
    const json_t *ops = scim__obj_get(body, "Operations", NULL);
    if (!json_is_array(ops))
        return not_bulk_response(err, "it has no Operations array");
    size_t count = json_array_size(ops);
    if (count == 0)
        return SC_OK;
    struct scim_bulk_result *res = calloc(count, sizeof *res);
    if (!res)
        return SC_ERR_NOMEM;
    size_t i;
    json_t *o;
    json_array_foreach(ops, i, o)
    {
        struct scim_bulk_result *r = &res[i];
        r->status = json_is_object(o) ? bulk_status(scim__obj_get(o, "status", NULL)) : 0;
        if (!r->status) {
            free(res);
            char what[80];
            snprintf(what, sizeof what, "its Operations[%zu] has no status from 100 to 599", i);
            return not_bulk_response(err, what);
        }
        const char *m = json_string_value(scim__obj_get(o, "method", NULL));
        if (m && strlen(m) < sizeof r->method) {
            sc_strlcpy(r->method, m, sizeof r->method);
            for (char *p = r->method; *p; p++)
                if (*p >= 'a' && *p <= 'z')
                    *p = (char)(*p - 'a' + 'A');
        }
        r->bulk_id = json_string_value(scim__obj_get(o, "bulkId", NULL));
        r->location = json_string_value(scim__obj_get(o, "location", NULL));
        r->version = json_string_value(scim__obj_get(o, "version", NULL));
        json_t *resp = scim__obj_get(o, "response", NULL);
        r->response = json_is_null(resp) ? NULL : resp;
    }
    *out = res;
    *n = count;
    return SC_OK;
}

void scim_bulk_response_match(const struct scim_bulk_result *res, size_t nres,
                              const char *const *bulk_ids, const char *const *methods, size_t nops,
                              long *idx)
{
    for (size_t i = 0; i < nops; i++)
        idx[i] = -1;
    unsigned char *used = nres ? calloc(nres, 1) : NULL;
    if (nres && !used)
        return;
    size_t unnamed = 0, matched = 0;
    for (size_t r = 0; r < nres; r++) {
        if (!res[r].bulk_id) {
            unnamed++;
            continue;
        }
        /* the request's order first, then a search */
        size_t op = nops;
        if (r < nops && idx[r] < 0 && strcmp(res[r].bulk_id, bulk_ids[r]) == 0)
            op = r;
        for (size_t k = 0; op == nops && k < nops; k++)
            if (idx[k] < 0 && strcmp(res[r].bulk_id, bulk_ids[k]) == 0)
                op = k;
        if (op < nops) {
            idx[op] = (long)r;
            used[r] = 1;
            matched++;
        }
    }
    if (unnamed && unnamed == nops - matched) {
        /* in order, when every method answered agrees with its operation's */
        size_t r = 0;
        int agree = 1;
        for (size_t k = 0; k < nops && agree; k++) {
            if (idx[k] >= 0)
                continue;
            while (r < nres && (used[r] || res[r].bulk_id))
                r++;
            agree = r < nres && (!res[r].method[0] || sc_strcaseeq(res[r].method, methods[k]));
            r++;
        }
        r = 0;
        for (size_t k = 0; k < nops && agree; k++) {
            if (idx[k] >= 0)
                continue;
            while (r < nres && (used[r] || res[r].bulk_id))
                r++;
            idx[k] = (long)r++;
        }
    }
    free(used);
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int scim_bulk_location_id(const char *location, char *out, size_t cap)
{
    if (!location || cap == 0)
        return 0;
    size_t end = strcspn(location, "?#");
    while (end > 0 && location[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && location[start - 1] != '/')
        start--;
    if (start == end)
        return 0;
    /* a bare host ("https://h") has no path segment */
    if (start >= 2 && location[start - 1] == '/' && location[start - 2] == '/')
        return 0;
    size_t o = 0;
    for (size_t i = start; i < end; i++) {
        int c = (unsigned char)location[i];
        if (c == '%') {
            if (i + 2 >= end)
                return 0;
            int hi = hex_val(location[i + 1]), lo = hex_val(location[i + 2]);
            if (hi < 0 || lo < 0)
                return 0;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0 || o + 1 >= cap)
            return 0;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return sc_utf8_valid(out, o) ? 1 : 0;
}
