/* The SCIM operations of the target on /Users and /Groups (RFC 7644 §3.3-3.6): create,
 * read, list and search (filter, paging, projection), replace, patch and delete, with
 * strict validation through the SCIM core (src/scim), case-insensitive uniqueness of
 * userName and displayName, ETags (W/"n") with If-Match and If-None-Match, and group
 * members that must exist. The same entry point serves HTTP requests and the
 * operations of a /Bulk request. Stored documents are immutable once indexed, so a
 * reader takes a reference under the read lock and renders it after unlocking. */
#include "target/target_internal.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "scim/dialect.h"
#include "scim/filter.h"
#include "scim/message.h"
#include "scim/patch.h"
#include "scim/schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TARGET_MAX_ID 64

static const char *const endpoints[TARGET__KINDS] = {"Users", "Groups"};

static const struct scim_resource_type *rt_of(enum target_kind k)
{
    return k == TARGET_USER ? scim_resource_type_user() : scim_resource_type_group();
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

static void etag_of(const struct target_res *res, char *out, size_t n)
{
    char v[24];
    snprintf(v, sizeof v, "%lld", (long long)res->version);
    scim_etag_format(v, out, n);
}

static void location_of(const struct target *t, enum target_kind k, const char *id, char *out,
                        size_t n)
{
    snprintf(out, n, "%s/%s/%s", t->base_url, endpoints[k], id);
}

/* Returns a new reference to res's document as served: for a user who is a member of
 * groups, a shallow copy with the readOnly `groups` attribute (direct memberships)
 * added. Caller holds the repository lock. */
static json_t *served_doc(const struct target *t, const struct target_res *res)
{
    if (res->kind != TARGET_USER || res->ngroups == 0)
        return json_incref(res->doc);
    json_t *doc = json_copy(res->doc);
    json_t *groups = json_array();
    if (!doc || !groups) {
        json_decref(doc);
        json_decref(groups);
        return json_incref(res->doc);
    }
    for (size_t i = 0; i < res->ngroups; i++) {
        const struct target_res *g = res->groups[i];
        char loc[320];
        location_of(t, TARGET_GROUP, g->id, loc, sizeof loc);
        json_t *one = json_pack("{s:s, s:s, s:s}", "value", g->id, "$ref", loc, "type", "direct");
        const char *name = json_string_value(json_object_get(g->doc, "displayName"));
        if (one && name)
            json_object_set_new(one, "display", json_string(name));
        json_array_append_new(groups, one);
    }
    json_object_set_new(doc, "groups", groups);
    return doc;
}

/* Renders a stored document for a response: projection, then meta.location. New
 * reference or NULL with r filled with the error. */
static json_t *render(const struct target *t, enum target_kind k, const json_t *doc,
                      const char *attributes, const char *excluded, struct target_result *r)
{
    json_t *out = NULL;
    struct scim_error err = {0};
    if (scim_resource_project(rt_of(k), doc, attributes, excluded, &out, &err)) {
        scim_fail(r, &err);
        return NULL;
    }
    json_t *meta = json_object_get(out, "meta");
    const char *id = json_string_value(json_object_get(doc, "id"));
    if (json_is_object(meta) && id) {
        char loc[320];
        location_of(t, k, id, loc, sizeof loc);
        json_object_set_new(meta, "location", json_string(loc));
    }
    return out;
}

/* Fills r with the resource as a 200/201 answer with ETag and (for 201) Location. */
static void answer_resource(struct target *t, enum target_kind k, json_t *doc, int64_t version,
                            int status, const struct target_call *c, struct target_result *r)
{
    json_t *body = render(t, k, doc, c->attributes, c->excluded, r);
    if (!body)
        return;
    char v[24];
    snprintf(v, sizeof v, "%lld", (long long)version);
    scim_etag_format(v, r->etag, sizeof r->etag);
    const char *id = json_string_value(json_object_get(doc, "id"));
    location_of(t, k, id ? id : "", r->location, sizeof r->location);
    r->status = status;
    r->body = body;
}

/* A copy of doc without meta, for comparing content. */
static int same_content(const json_t *a, const json_t *b)
{
    json_t *ca = json_copy((json_t *)a), *cb = json_copy((json_t *)b);
    int same = 0;
    if (ca && cb) {
        json_object_del(ca, "meta");
        json_object_del(cb, "meta");
        same = json_equal(ca, cb);
    }
    json_decref(ca);
    json_decref(cb);
    return same;
}

/* Sets meta on doc (version n, created from the previous doc's meta when given). */
static int set_meta(json_t *doc, enum target_kind k, const json_t *prev, int64_t version)
{
    int64_t now = sc_clock_now_ms(), created = now;
    const char *pc =
        prev ? json_string_value(json_object_get(json_object_get(prev, "meta"), "created")) : NULL;
    if (pc && sc_clock_parse_iso8601(pc, &created))
        created = now;
    char v[24], etag[32];
    snprintf(v, sizeof v, "%lld", (long long)version);
    scim_etag_format(v, etag, sizeof etag);
    return scim_meta_set(doc, k == TARGET_USER ? "User" : "Group", created, now, NULL, etag);
}

/* Checks name uniqueness (case-insensitive userName / displayName) for doc, which is
 * to be stored as self (NULL for a new resource). Caller holds the lock. */
static int check_unique(struct target *t, enum target_kind k, const json_t *doc,
                        const struct target_res *self, struct target_result *r)
{
    const char *attr = k == TARGET_USER ? "userName" : "displayName";
    const char *name = json_string_value(json_object_get(doc, attr));
    if (!name)
        return 0;
    struct target_res *other = target_repo_by_name(&t->repo, k, name);
    if (other && other != self)
        return target_error(r, 409, SCIM_TYPE_UNIQUENESS,
                            "%s '%s' is already taken (compared case-insensitively)", attr, name);
    return 0;
}

/* Group members must name existing users or groups; fills in type, $ref and display
 * where the schema has them. Caller holds the lock; doc is changed in place. */
static int check_members(struct target *t, json_t *doc, const struct target_res *self,
                         struct target_result *r)
{
    json_t *members = json_object_get(doc, "members");
    if (!members)
        return 0;
    const struct scim_attr *ma = scim_schema_attr(scim_schema_group(), "members");
    int has_ref = ma && scim_attr_sub(ma, "$ref");
    int has_display = ma && scim_attr_sub(ma, "display");
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m)
    {
        const char *value = json_string_value(json_object_get(m, "value"));
        if (!value)
            return target_error(r, 400, SCIM_TYPE_INVALID_VALUE,
                                "members[%zu] has no value (the member's id)", i);
        struct target_res *u = target_repo_get(&t->repo, TARGET_USER, value);
        struct target_res *g = u ? NULL : target_repo_get(&t->repo, TARGET_GROUP, value);
        if (!u && !g)
            return target_error(r, 400, SCIM_TYPE_INVALID_VALUE,
                                "members[%zu] value '%s' is not the id of a user or group", i,
                                value);
        if (g && g == self)
            return target_error(r, 400, SCIM_TYPE_INVALID_VALUE,
                                "a group cannot be a member of itself");
        const char *type = json_string_value(json_object_get(m, "type"));
        const char *want = u ? "User" : "Group";
        if (type && !sc_strcaseeq(type, want))
            return target_error(r, 400, SCIM_TYPE_INVALID_VALUE,
                                "members[%zu] value '%s' is a %s, not a %s", i, value, want, type);
        json_object_set_new(m, "type", json_string(want));
        if (has_ref) {
            char loc[320];
            location_of(t, u ? TARGET_USER : TARGET_GROUP, value, loc, sizeof loc);
            json_object_set_new(m, "$ref", json_string(loc));
        }
        if (has_display && !json_object_get(m, "display")) {
            const json_t *d = u ? u->doc : g->doc;
            const char *name = json_string_value(json_object_get(d, "displayName"));
            if (!name && u)
                name = json_string_value(json_object_get(d, "userName"));
            if (name)
                json_object_set_new(m, "display", json_string(name));
        }
    }
    return 0;
}

static int check_if_match(const struct target_call *c, const struct target_res *res,
                          struct target_result *r)
{
    if (!c->if_match)
        return 0;
    char etag[32];
    etag_of(res, etag, sizeof etag);
    if (!scim_etag_match(c->if_match, etag))
        return target_error(r, 412, NULL,
                            "If-Match %s does not match the resource's current version %s",
                            c->if_match, etag);
    return 0;
}

static void op_create(struct target *t, enum target_kind k, const struct target_call *c,
                      struct target_result *r)
{
    struct scim_error err = {0};
    json_t *doc = NULL;
    if (!json_is_object(c->body)) {
        target_error(r, 400, SCIM_TYPE_INVALID_SYNTAX, "the request body must be a JSON object");
        return;
    }
    if (scim_resource_validate(rt_of(k), c->body, SCIM_VALIDATE_CREATE, NULL, &doc, &err)) {
        scim_fail(r, &err);
        return;
    }
    char id[SC_UUID_LEN + 1];
    sc_uuid_v4(id);
    json_object_set_new(doc, "id", json_string(id));
    if (set_meta(doc, k, NULL, 1)) {
        json_decref(doc);
        target_error(r, 500, NULL, "out of memory");
        return;
    }
    pthread_rwlock_wrlock(&t->repo.lock);
    struct target_res *res = NULL;
    if (check_unique(t, k, doc, NULL, r) || (k == TARGET_GROUP && check_members(t, doc, NULL, r))) {
        pthread_rwlock_unlock(&t->repo.lock);
        json_decref(doc);
        return;
    }
    json_incref(doc);
    enum sc_err e = target_repo_insert(&t->repo, k, id, doc, &res);
    pthread_rwlock_unlock(&t->repo.lock);
    if (e) {
        json_decref(doc);
        target_error(r, 500, NULL, "cannot store the resource: %s", sc_strerror(e));
        return;
    }
    SC_DEBUG("target.created", "type=%s id=%s", endpoints[k], id);
    answer_resource(t, k, doc, 1, 201, c, r);
    json_decref(doc);
}

static void op_get(struct target *t, enum target_kind k, const char *id,
                   const struct target_call *c, struct target_result *r)
{
    pthread_rwlock_rdlock(&t->repo.lock);
    struct target_res *res = target_repo_get(&t->repo, k, id);
    json_t *doc = res ? served_doc(t, res) : NULL;
    int64_t version = res ? res->version : 0;
    pthread_rwlock_unlock(&t->repo.lock);
    if (!doc) {
        target_error(r, 404, NULL, "%s %s not found", k == TARGET_USER ? "User" : "Group", id);
        return;
    }
    char v[24], etag[32];
    snprintf(v, sizeof v, "%lld", (long long)version);
    scim_etag_format(v, etag, sizeof etag);
    if (c->if_none_match && scim_etag_match(c->if_none_match, etag)) {
        r->status = 304;
        sc_strlcpy(r->etag, etag, sizeof r->etag);
        json_decref(doc);
        return;
    }
    answer_resource(t, k, doc, version, 200, c, r);
    json_decref(doc);
}

/* Shared tail of PUT and PATCH: doc (stolen) is the new content of res with id kept.
 * Caller holds the write lock and releases it. */
static void store_update(struct target *t, struct target_res *res, json_t *doc,
                         const struct target_call *c, struct target_result *r)
{
    enum target_kind k = res->kind;
    if (check_unique(t, k, doc, res, r) || (k == TARGET_GROUP && check_members(t, doc, res, r))) {
        json_decref(doc);
        return;
    }
    if (same_content(doc, res->doc)) {
        /* nothing changed: the version (and ETag) stay */
        json_decref(doc);
        json_t *cur = served_doc(t, res);
        answer_resource(t, k, cur, res->version, 200, c, r);
        json_decref(cur);
        return;
    }
    if (set_meta(doc, k, res->doc, res->version + 1)) {
        json_decref(doc);
        target_error(r, 500, NULL, "out of memory");
        return;
    }
    json_incref(doc);
    enum sc_err e = target_repo_replace(&t->repo, res, doc);
    if (e) {
        json_decref(doc);
        target_error(r, 500, NULL, "cannot store the resource: %s", sc_strerror(e));
        return;
    }
    SC_DEBUG("target.updated", "type=%s id=%s version=%lld", endpoints[k], res->id,
             (long long)res->version);
    json_decref(doc);
    doc = served_doc(t, res);
    answer_resource(t, k, doc, res->version, 200, c, r);
    json_decref(doc);
}

static void op_replace(struct target *t, enum target_kind k, const char *id,
                       const struct target_call *c, struct target_result *r)
{
    struct scim_error err = {0};
    if (!json_is_object(c->body)) {
        target_error(r, 400, SCIM_TYPE_INVALID_SYNTAX, "the request body must be a JSON object");
        return;
    }
    pthread_rwlock_wrlock(&t->repo.lock);
    struct target_res *res = target_repo_get(&t->repo, k, id);
    json_t *doc = NULL;
    if (!res) {
        target_error(r, 404, NULL, "%s %s not found", k == TARGET_USER ? "User" : "Group", id);
    } else if (!check_if_match(c, res, r)) {
        if (scim_resource_validate(rt_of(k), c->body, SCIM_VALIDATE_REPLACE, res->doc, &doc,
                                   &err)) {
            scim_fail(r, &err);
        } else {
            json_object_set_new(doc, "id", json_string(res->id));
            json_t *meta = json_object_get(res->doc, "meta");
            if (meta)
                json_object_set(doc, "meta", meta);
            store_update(t, res, doc, c, r);
        }
    }
    pthread_rwlock_unlock(&t->repo.lock);
}

/* PATCH: a PatchOp (RFC 7644 §3.5.2), or in SCIM 1.1 a partial resource applied with
 * 1.1 semantics (scim_dialect_patch_apply_11). */
static void op_patch(struct target *t, enum target_kind k, const char *id,
                     const struct target_call *c, struct target_result *r)
{
    struct scim_error err = {0};
    struct scim_patch *p = NULL;
    int v11 = t->opt.dialect == SCIM_DIALECT_11;
    if (!json_is_object(c->body)) {
        target_error(r, 400, SCIM_TYPE_INVALID_SYNTAX, "the request body must be a JSON object");
        return;
    }
    if (v11 ? scim_dialect_check_11(rt_of(k), c->body, 1, &err)
            : scim_patch_parse(c->body, &p, &err)) {
        scim_fail(r, &err);
        return;
    }
    pthread_rwlock_wrlock(&t->repo.lock);
    struct target_res *res = target_repo_get(&t->repo, k, id);
    json_t *doc = NULL;
    if (!res) {
        target_error(r, 404, NULL, "%s %s not found", k == TARGET_USER ? "User" : "Group", id);
    } else if (!check_if_match(c, res, r)) {
        if (v11 ? scim_dialect_patch_apply_11(rt_of(k), res->doc, c->body, &doc, &err)
                : scim_patch_apply(p, rt_of(k), res->doc, &doc, &err))
            scim_fail(r, &err);
        else
            store_update(t, res, doc, c, r);
    }
    pthread_rwlock_unlock(&t->repo.lock);
    scim_patch_free(p);
}

/* Removes member id from every group that lists it (caller holds the write lock). */
static void drop_memberships(struct target *t, const char *id)
{
    size_t n = target_repo_count(&t->repo, TARGET_GROUP);
    for (size_t i = 0; i < n; i++) {
        struct target_res *g = target_repo_at(&t->repo, TARGET_GROUP, i);
        json_t *members = json_object_get(g->doc, "members");
        size_t j;
        json_t *m;
        int found = 0;
        json_array_foreach(members, j, m)
        {
            const char *v = json_string_value(json_object_get(m, "value"));
            if (v && strcmp(v, id) == 0)
                found = 1;
        }
        if (!found)
            continue;
        json_t *doc = json_deep_copy(g->doc);
        json_t *kept = json_array();
        if (!doc || !kept) {
            json_decref(doc);
            json_decref(kept);
            continue;
        }
        json_array_foreach(members, j, m)
        {
            const char *v = json_string_value(json_object_get(m, "value"));
            if (!v || strcmp(v, id) != 0)
                json_array_append(kept, m);
        }
        if (json_array_size(kept))
            json_object_set_new(doc, "members", kept);
        else {
            json_decref(kept);
            json_object_del(doc, "members");
        }
        set_meta(doc, TARGET_GROUP, g->doc, g->version + 1);
        target_repo_replace(&t->repo, g, doc);
    }
}

static void op_delete(struct target *t, enum target_kind k, const char *id,
                      const struct target_call *c, struct target_result *r)
{
    if (k == TARGET_USER && t->opt.no_delete) {
        r->allow = "GET, PUT, PATCH";
        target_error(r, 405, NULL,
                     "users cannot be deleted in this application; deactivate them instead "
                     "(PATCH active=false)");
        return;
    }
    pthread_rwlock_wrlock(&t->repo.lock);
    struct target_res *res = target_repo_get(&t->repo, k, id);
    if (!res) {
        target_error(r, 404, NULL, "%s %s not found", k == TARGET_USER ? "User" : "Group", id);
    } else if (!check_if_match(c, res, r)) {
        char rid[SC_UUID_LEN + 1];
        sc_strlcpy(rid, res->id, sizeof rid);
        enum sc_err e = target_repo_remove(&t->repo, res);
        if (e) {
            target_error(r, 500, NULL, "cannot delete the resource: %s", sc_strerror(e));
        } else {
            drop_memberships(t, rid);
            r->status = 204;
            SC_DEBUG("target.deleted", "type=%s id=%s", endpoints[k], rid);
        }
    }
    pthread_rwlock_unlock(&t->repo.lock);
}

/* ---- list and search ----------------------------------------------------------------- */

struct list_ctx {
    const struct target *t;
    const struct scim_filter *f;
    enum target_kind k;
    int64_t skip;  /* matches still to skip before the page */
    int64_t want;  /* matches still to collect */
    int64_t total; /* all matches */
    json_t *page;  /* array of [kind, doc] pairs collected */
};

static void consider(struct list_ctx *lc, struct target_res *res)
{
    if (lc->f && !scim_filter_match(lc->f, rt_of(res->kind), res->doc))
        return;
    lc->total++;
    if (lc->skip > 0) {
        lc->skip--;
        return;
    }
    if (lc->want > 0) {
        json_array_append_new(lc->page,
                              json_pack("[i, o]", (int)res->kind, served_doc(lc->t, res)));
        lc->want--;
    }
}

static int consider_ext(void *arg, struct target_res *res)
{
    consider(arg, res);
    return 0;
}

/* Scans (or looks up through an index) the resources of kind k that match lc->f. */
static void collect(struct target *t, enum target_kind k, struct list_ctx *lc)
{
    const char *attr = NULL, *value = NULL;
    if (lc->f && scim_filter_simple_eq(lc->f, &attr, &value)) {
        if (sc_strcaseeq(attr, "id")) {
            struct target_res *res = target_repo_get(&t->repo, k, value);
            if (res)
                consider(lc, res);
            return;
        }
        if ((k == TARGET_USER && sc_strcaseeq(attr, "userName")) ||
            (k == TARGET_GROUP && sc_strcaseeq(attr, "displayName"))) {
            struct target_res *res = target_repo_by_name(&t->repo, k, value);
            if (res)
                consider(lc, res);
            return;
        }
        if (sc_strcaseeq(attr, "externalId")) {
            target_repo_each_ext(&t->repo, k, value, consider_ext, lc);
            return;
        }
    }
    size_t n = target_repo_count(&t->repo, k);
    for (size_t i = 0; i < n; i++)
        consider(lc, target_repo_at(&t->repo, k, i));
}

static void op_list(struct target *t, int kinds, const struct target_call *c,
                    struct target_result *r)
{
    struct scim_search s;
    struct scim_error err = {0};
    struct scim_filter *f = NULL;
    json_t *resources = NULL;
    struct list_ctx lc = {0};
    scim_search_init(&s);
    if (c->method == TM_POST) {
        if (!json_is_object(c->body)) {
            target_error(r, 400, SCIM_TYPE_INVALID_SYNTAX,
                         "the request body must be a SearchRequest object");
            goto done;
        }
        if (scim_search_parse_json(c->body, &s, &err)) {
            scim_fail(r, &err);
            goto done;
        }
    } else {
        const char *names[] = {"filter", "attributes", "excludedAttributes", "startIndex", "count"};
        const char *values[] = {c->filter, c->attributes, c->excluded, c->start_index, c->count};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            if (values[i] && scim_search_set_param(&s, names[i], values[i], &err)) {
                scim_fail(r, &err);
                goto done;
            }
        }
    }
    if (s.filter) {
        if (scim_filter_parse(s.filter, &f, &err)) {
            scim_fail(r, &err);
            goto done;
        }
        for (int k = 0; k < TARGET__KINDS; k++) {
            if ((kinds & (1 << k)) && scim_filter_check(f, rt_of((enum target_kind)k), &err)) {
                scim_fail(r, &err);
                goto done;
            }
        }
    }
    int64_t max = t->opt.max_results;
    int64_t count = s.count < 0 ? max : (s.count > max ? max : s.count);
    int64_t start = s.start_index < 1 ? 1 : s.start_index;
    lc.t = t;
    lc.f = f;
    lc.skip = start - 1;
    lc.want = count;
    lc.page = json_array();
    resources = json_array();
    if (!lc.page || !resources) {
        target_error(r, 500, NULL, "out of memory");
        goto done;
    }
    pthread_rwlock_rdlock(&t->repo.lock);
    for (int k = 0; k < TARGET__KINDS; k++)
        if (kinds & (1 << k))
            collect(t, (enum target_kind)k, &lc);
    pthread_rwlock_unlock(&t->repo.lock);
    size_t i;
    json_t *pair;
    json_array_foreach(lc.page, i, pair)
    {
        enum target_kind k = (enum target_kind)json_integer_value(json_array_get(pair, 0));
        json_t *one = render(t, k, json_array_get(pair, 1), s.attributes, s.excluded_attributes, r);
        if (!one)
            goto done;
        json_array_append_new(resources, one);
    }
    r->body = scim_list_response_new(resources, lc.total, start);
    resources = NULL;
    r->status = r->body ? 200 : 500;
done:
    json_decref(lc.page);
    json_decref(resources);
    scim_filter_free(f);
    scim_search_free(&s);
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

void target_call_run(struct target *t, const struct target_call *c, struct target_result *r)
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
        op_list(t, (1 << TARGET_USER) | (1 << TARGET_GROUP), c, r);
        return;
    }
    enum target_kind k = (enum target_kind)kind;
    if (*rest == '\0' || strcmp(rest, "/") == 0) {
        if (c->method == TM_GET)
            op_list(t, 1 << k, c, r);
        else if (c->method == TM_POST)
            op_create(t, k, c, r);
        else {
            r->allow = "GET, POST";
            target_error(r, 405, NULL, "/%s accepts GET and POST", endpoints[k]);
        }
        return;
    }
    if (strcmp(rest, "/.search") == 0) {
        if (c->method == TM_POST)
            op_list(t, 1 << k, c, r);
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
        op_get(t, k, id, c, r);
        break;
    case TM_PUT:
        op_replace(t, k, id, c, r);
        break;
    case TM_PATCH:
        op_patch(t, k, id, c, r);
        break;
    case TM_DELETE:
        op_delete(t, k, id, c, r);
        break;
    default:
        r->allow = "GET, PUT, PATCH, DELETE";
        target_error(r, 405, NULL, "/%s/{id} accepts GET, PUT, PATCH and DELETE", endpoints[k]);
        break;
    }
}
