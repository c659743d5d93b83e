/* The target's back-end of the shared SCIM handlers (service.h) over its in-memory
 * repository: case-insensitive uniqueness of userName and displayName, versions W/"n"
 * bumped on every change, group members that must exist (with type, $ref and display
 * filled in), the readOnly `groups` of a user served from the reverse index, and
 * listings answered from the hash indexes for `attr eq "value"` on id, userName /
 * displayName and externalId, by a scan otherwise. Stored documents are immutable once
 * indexed, so a reader takes a reference under the read lock and renders it after
 * unlocking. */
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

static void etag_of(const struct target_res *res, char *out, size_t n)
{
    char v[24];
    snprintf(v, sizeof v, "%lld", (long long)res->version);
    scim_etag_format(v, out, n);
}

static void location_of(const struct target *t, enum target_kind k, const char *id, char *out,
                        size_t n)
{
    target_location(t->base_url, k, id, out, n);
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

static int not_found(struct target_result *r, enum target_kind k, const char *id)
{
    return target_error(r, 404, NULL, "%s %s not found", k == TARGET_USER ? "User" : "Group", id);
}

static int repo_get(void *be, enum target_kind k, const char *id, unsigned read, json_t **doc,
                    char *etag, struct target_result *r)
{
    struct target *t = be;
    (void)read; /* the stored document is served as it is */
    pthread_rwlock_rdlock(&t->repo.lock);
    struct target_res *res = target_repo_get(&t->repo, k, id);
    if (res) {
        *doc = served_doc(t, res);
        etag_of(res, etag, TARGET_ETAG_MAX);
    }
    pthread_rwlock_unlock(&t->repo.lock);
    return res ? 0 : not_found(r, k, id);
}

static int repo_create(void *be, enum target_kind k, const json_t *in, json_t **out, char *etag,
                       struct target_result *r)
{
    struct target *t = be;
    json_t *doc = json_deep_copy(in);
    char id[SC_UUID_LEN + 1];
    sc_uuid_v4(id);
    if (!doc || json_object_set_new(doc, "id", json_string(id)) || set_meta(doc, k, NULL, 1)) {
        json_decref(doc);
        return target_error(r, 500, NULL, "out of memory");
    }
    pthread_rwlock_wrlock(&t->repo.lock);
    struct target_res *res = NULL;
    if (check_unique(t, k, doc, NULL, r) || (k == TARGET_GROUP && check_members(t, doc, NULL, r))) {
        pthread_rwlock_unlock(&t->repo.lock);
        json_decref(doc);
        return -1;
    }
    json_incref(doc);
    enum sc_err e = target_repo_insert(&t->repo, k, id, doc, &res);
    pthread_rwlock_unlock(&t->repo.lock);
    if (e) {
        json_decref(doc);
        return target_error(r, 500, NULL, "cannot store the resource: %s", sc_strerror(e));
    }
    SC_DEBUG("target.created", "type=%s id=%s", endpoints[k], id);
    *out = doc;
    snprintf(etag, TARGET_ETAG_MAX, "W/\"1\"");
    return 0;
}

/* Stores doc (stolen), the new content of res with id and meta carried over. Caller
 * holds the write lock. */
static int store_update(struct target *t, struct target_res *res, json_t *doc,
                        struct target_result *r)
{
    enum target_kind k = res->kind;
    json_object_set_new(doc, "id", json_string(res->id));
    json_t *meta = json_object_get(res->doc, "meta");
    if (meta)
        json_object_set(doc, "meta", meta);
    if (check_unique(t, k, doc, res, r) || (k == TARGET_GROUP && check_members(t, doc, res, r))) {
        json_decref(doc);
        return -1;
    }
    if (same_content(doc, res->doc)) {
        /* nothing changed: the version (and ETag) stay */
        json_decref(doc);
        return 0;
    }
    if (set_meta(doc, k, res->doc, res->version + 1)) {
        json_decref(doc);
        return target_error(r, 500, NULL, "out of memory");
    }
    enum sc_err e = target_repo_replace(&t->repo, res, doc);
    if (e)
        return target_error(r, 500, NULL, "cannot store the resource: %s", sc_strerror(e));
    SC_DEBUG("target.updated", "type=%s id=%s version=%lld", endpoints[k], res->id,
             (long long)res->version);
    return 0;
}

static int repo_update(void *be, enum target_kind k, const char *id, target_update_fn fn, void *arg,
                       json_t **out, char *etag, struct target_result *r)
{
    struct target *t = be;
    int rc = -1;
    pthread_rwlock_wrlock(&t->repo.lock);
    struct target_res *res = target_repo_get(&t->repo, k, id);
    json_t *doc = NULL;
    if (!res) {
        not_found(r, k, id);
    } else {
        char cur[TARGET_ETAG_MAX];
        etag_of(res, cur, sizeof cur);
        if (fn(arg, res->doc, cur, &doc, r) == 0 && store_update(t, res, doc, r) == 0) {
            *out = served_doc(t, res);
            etag_of(res, etag, TARGET_ETAG_MAX);
            rc = 0;
        }
    }
    pthread_rwlock_unlock(&t->repo.lock);
    return rc;
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

static int repo_remove(void *be, enum target_kind k, const char *id, const char *if_match,
                       struct target_result *r)
{
    struct target *t = be;
    int rc = -1;
    pthread_rwlock_wrlock(&t->repo.lock);
    struct target_res *res = target_repo_get(&t->repo, k, id);
    char etag[TARGET_ETAG_MAX];
    if (!res) {
        not_found(r, k, id);
    } else if (etag_of(res, etag, sizeof etag), !target_check_if_match(if_match, etag, r)) {
        char rid[SC_UUID_LEN + 1];
        sc_strlcpy(rid, res->id, sizeof rid);
        enum sc_err e = target_repo_remove(&t->repo, res);
        if (e) {
            target_error(r, 500, NULL, "cannot delete the resource: %s", sc_strerror(e));
        } else {
            drop_memberships(t, rid);
            rc = 0;
            SC_DEBUG("target.deleted", "type=%s id=%s", endpoints[k], rid);
        }
    }
    pthread_rwlock_unlock(&t->repo.lock);
    return rc;
}

/* ---- list and search ----------------------------------------------------------------- */

struct list_ctx {
    const struct target *t;
    const struct scim_filter *f;
    struct target_page *pg;
};

static void consider(struct list_ctx *lc, struct target_res *res)
{
    if (lc->f && !scim_filter_match(lc->f, target_rt(res->kind), res->doc))
        return;
    lc->pg->total++;
    if (lc->pg->skip > 0) {
        lc->pg->skip--;
        return;
    }
    if (lc->pg->want > 0) {
        json_array_append_new(lc->pg->docs,
                              json_pack("[i, o]", (int)res->kind, served_doc(lc->t, res)));
        lc->pg->want--;
    }
}

static int consider_ext(void *arg, struct target_res *res)
{
    consider(arg, res);
    return 0;
}

/* Scans (or looks up through an index) the resources of kind k that match f. */
static int repo_list(void *be, enum target_kind k, const struct scim_filter *f,
                     struct target_page *pg, struct target_result *r)
{
    struct target *t = be;
    struct list_ctx lc = {.t = t, .f = f, .pg = pg};
    const char *attr = NULL, *value = NULL;
    (void)r;
    pthread_rwlock_rdlock(&t->repo.lock);
    if (f && scim_filter_simple_eq(f, &attr, &value)) {
        if (sc_strcaseeq(attr, "id")) {
            struct target_res *res = target_repo_get(&t->repo, k, value);
            if (res)
                consider(&lc, res);
            goto done;
        }
        if ((k == TARGET_USER && sc_strcaseeq(attr, "userName")) ||
            (k == TARGET_GROUP && sc_strcaseeq(attr, "displayName"))) {
            struct target_res *res = target_repo_by_name(&t->repo, k, value);
            if (res)
                consider(&lc, res);
            goto done;
        }
        if (sc_strcaseeq(attr, "externalId")) {
            target_repo_each_ext(&t->repo, k, value, consider_ext, &lc);
            goto done;
        }
    }
    size_t n = target_repo_count(&t->repo, k);
    for (size_t i = 0; i < n; i++)
        consider(&lc, target_repo_at(&t->repo, k, i));
done:
    pthread_rwlock_unlock(&t->repo.lock);
    return 0;
}

const struct target_backend target_repo_backend = {
    .get = repo_get,
    .create = repo_create,
    .update = repo_update,
    .remove = repo_remove,
    .list = repo_list,
};
