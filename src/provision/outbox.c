/* Sync rules, user evaluation and the full resync pass (see outbox.h). */
#include "provision/outbox.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "directory/userfilter.h"
#include "provision/connection.h"
#include "provision/mapping.h"
#include "provision/planner.h"
#include "scim/dialect.h"
#include "scim/path.h"
#include "scim/schema.h"
#include "store/store_directory.h"
#include "store/store_events.h"
#include "store/store_sync.h"

#include <stdlib.h>
#include <string.h>

/* ---- sync rules ---- */

void sync_rule_free(struct sync_rule *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->npaths; i++)
        scim_path_free(r->paths[i]);
    free(r->paths);
    free(r->keys);
    free(r->case_exact);
    scim_path_free(r->ident_path);
    json_decref(r->clear);
    rule_compiled_free(r->rc);
    free(r);
}

enum sc_err sync_rule_new(struct rule_compiled *rc, struct sync_rule **out, struct sc_error *e)
{
    struct sync_rule *r = calloc(1, sizeof *r);
    if (!r) {
        rule_compiled_free(rc);
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    }
    r->rc = rc;
    size_t n = mapping_count(rc->mapping);
    r->paths = calloc(n ? n : 1, sizeof *r->paths);
    r->keys = calloc(n ? n : 1, sizeof *r->keys);
    r->case_exact = calloc(n ? n : 1, 1);
    if (!r->paths || !r->keys || !r->case_exact) {
        sync_rule_free(r);
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const char *p = mapping_target_path(rc->mapping, i);
        struct scim_error se = {0};
        if (!p || scim_path_parse(p, &r->paths[r->npaths], &se)) {
            sc_error_set(e, SC_ERR_INVALID, "mappings", "mapping row %zu: %s", i,
                         p ? se.detail : "no path");
            sync_rule_free(r);
            return SC_ERR_INVALID;
        }
        r->case_exact[r->npaths] =
            (unsigned char)scim_path_case_exact(scim_resource_type_user(), r->paths[r->npaths]);
        r->keys[r->npaths++] = p;
    }
    const char *ident = rc->conn->user_identifier ? rc->conn->user_identifier : "userName";
    r->ident_key = mapping_path_for(rc->mapping, ident);
    struct scim_error se = {0};
    const char *ipath = rc->conn->user_identifier_path ? rc->conn->user_identifier_path : ident;
    if (scim_path_parse(ipath, &r->ident_path, &se)) {
        sc_error_set(e, SC_ERR_INVALID, "preferences.userIdentifier", "%s", se.detail);
        sync_rule_free(r);
        return SC_ERR_INVALID;
    }
    r->ident_case_exact = scim_path_case_exact(scim_resource_type_user(), r->ident_path);
    enum scim_dialect d = SCIM_DIALECT_20;
    scim_dialect_parse(rc->conn->version, &d);
    r->dialect = (int)d;
    r->uses_groups = userfilter_uses_groups(rc->filter);
    uint64_t fd = rc->rule.filter ? sc_json_digest(rc->rule.filter) : 1;
    uint64_t md = rc->rule.mappings ? sc_json_digest(rc->rule.mappings) : 2;
    r->source_seed = fd ^ (md * 0x9E3779B97F4A7C15ULL + 0x7F4A7C15ULL);
    *out = r;
    return SC_OK;
}

enum sc_err sync_rule_eval(const struct sync_rule *r, const struct directory_groups *g,
                           const json_t *user, int *in_scope, int *enabled, json_t **desired)
{
    const char *stack[64];
    const char **names = stack;
    size_t ngroups = 0;
    if (r->uses_groups && g) {
        ngroups = directory_groups_of_user(g, user, stack, 64);
        if (ngroups > 64) {
            names = calloc(ngroups, sizeof *names);
            if (!names)
                return SC_ERR_NOMEM;
            directory_groups_of_user(g, user, names, ngroups);
        }
    }
    *in_scope = userfilter_match(r->rc->filter, user, ngroups ? names : NULL, ngroups);
    if (names != stack)
        free(names);
    json_t *en = json_object_get(user, "enabled");
    *enabled = !en || !json_is_false(en);
    json_t *res = NULL;
    enum sc_err err = mapping_apply(r->rc->mapping, user, &res);
    if (err)
        return err;
    json_t *flat = json_object();
    const struct scim_resource_type *rt = scim_resource_type_user();
    for (size_t i = 0; i < r->npaths; i++) {
        if (sc_strcaseeq(r->keys[i], "active"))
            continue;
        json_t *v = scim_path_get(rt, res, r->paths[i]);
        if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)))
            continue;
        json_object_set(flat, r->keys[i], v);
    }
    json_decref(res);
    *desired = flat;
    return SC_OK;
}

uint64_t sync_rule_source(const struct sync_rule *r, uint64_t row_digest)
{
    if (!row_digest || r->uses_groups)
        return 0;
    uint64_t h = (row_digest ^ r->source_seed) * 0xC2B2AE3D27D4EB4FULL;
    h ^= h >> 29;
    return h ? h : 1;
}

json_t *sync_rule_project(const struct sync_rule *r, const json_t *resource)
{
    json_t *flat = json_object();
    const struct scim_resource_type *rt = scim_resource_type_user();
    for (size_t i = 0; i < r->npaths; i++) {
        if (sc_strcaseeq(r->keys[i], "active"))
            continue;
        json_t *v = scim_path_get(rt, resource, r->paths[i]);
        if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)))
            continue;
        json_object_set(flat, r->keys[i], v);
    }
    json_t *a = json_object_get(resource, "active");
    json_object_set_new(flat, "active", json_boolean(!a || !json_is_false(a)));
    return flat;
}

json_t *sync_rule_read(const struct sync_rule *r, const json_t *body)
{
    json_t *out = NULL;
    struct scim_error se = {0};
    if (scim_dialect_resource_read((enum scim_dialect)r->dialect, scim_resource_type_user(), body,
                                   &out, &se) != SC_OK)
        return NULL;
    return out;
}

enum sc_err sync_rule_read_list(const struct sync_rule *r, const json_t *body, int64_t *total,
                                json_t **resources)
{
    struct scim_error se = {0};
    *resources = NULL;
    if (!body || scim_dialect_list_read((enum scim_dialect)r->dialect, scim_resource_type_user(),
                                        body, total, resources, &se) != SC_OK)
        return SC_ERR_INVALID;
    return SC_OK;
}

const char *sync_rule_identifier(const struct sync_rule *r, const json_t *desired)
{
    if (!r->ident_key || !desired)
        return NULL;
    return json_string_value(json_object_get(desired, r->ident_key));
}

/* Is the value at key of a the same as b's, with the case of key's attribute? */
static int same_value(const struct sync_rule *r, const char *key, const json_t *a, const json_t *b)
{
    if (a && b && json_equal(a, b))
        return 1;
    if (!a || !b || !json_is_string(a) || !json_is_string(b))
        return 0;
    for (size_t i = 0; i < r->npaths; i++)
        if (strcmp(r->keys[i], key) == 0)
            return !r->case_exact[i] && sc_strcaseeq(json_string_value(a), json_string_value(b));
    return 0;
}

int sync_rule_holds(const struct sync_rule *r, const json_t *sent, const json_t *found)
{
    if (!sent || !found)
        return !sent && !found;
    if (json_object_size(sent) != json_object_size(found))
        return 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)sent, k, v)
    {
        if (!same_value(r, k, v, json_object_get(found, k)))
            return 0;
    }
    return 1;
}

int sync_rule_identifier_equal(const struct sync_rule *r, const char *a, const char *b)
{
    return r->ident_case_exact ? strcmp(a, b) == 0 : sc_strcaseeq(a, b);
}

const char *sync_rule_resource_identifier(const struct sync_rule *r, const json_t *resource)
{
    json_t *v = scim_path_get(scim_resource_type_user(), resource, r->ident_path);
    return json_string_value(v);
}

/* ---- a small string hash for the resync pass ---- */

struct link_entry {
    char *user_id; /* NULL = free slot */
    char *username;
    char *target_id;
    uint64_t digest;
    uint64_t source; /* the link's recorded source stamp */
    uint64_t stamp;  /* this pass's stamp for the user (0 = unknown) */
    int inactive;
    int seen;
    int clean;  /* in sync at an unchanged stamp: not evaluated */
    int record; /* found in sync: record stamp as its source */
    char state[24];
};

struct link_table {
    struct link_entry *v;
    size_t cap, n;
    int64_t linked;
};

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static struct link_entry *table_find(struct link_table *t, const char *id, int add)
{
    if (add && (t->n + 1) * 2 > t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 1024;
        struct link_entry *nv = calloc(ncap, sizeof *nv);
        if (!nv)
            return NULL;
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->v[i].user_id)
                continue;
            size_t j = str_hash(t->v[i].user_id) & (ncap - 1);
            while (nv[j].user_id)
                j = (j + 1) & (ncap - 1);
            nv[j] = t->v[i];
        }
        free(t->v);
        t->v = nv;
        t->cap = ncap;
    }
    if (!t->cap)
        return NULL;
    size_t j = str_hash(id) & (t->cap - 1);
    while (t->v[j].user_id) {
        if (strcmp(t->v[j].user_id, id) == 0)
            return &t->v[j];
        j = (j + 1) & (t->cap - 1);
    }
    if (!add)
        return NULL;
    t->v[j].user_id = sc_strdup(id);
    t->n++;
    return &t->v[j];
}

static void table_free(struct link_table *t)
{
    for (size_t i = 0; i < t->cap; i++) {
        free(t->v[i].user_id);
        free(t->v[i].username);
        free(t->v[i].target_id);
    }
    free(t->v);
}

static int load_link(void *arg, const struct store_sync_link *l)
{
    struct link_table *t = arg;
    struct link_entry *en = table_find(t, l->user_id, 1);
    if (!en)
        return 1;
    en->username = sc_strdup(l->username);
    en->target_id = sc_strdup(l->target_id);
    en->digest = l->digest;
    en->inactive = l->inactive;
    en->source = l->source;
    sc_strlcpy(en->state, l->state, sizeof en->state);
    if (l->target_id)
        t->linked++;
    return 0;
}

/* ---- the resync pass ---- */

struct candidate {
    char *user_id;
    char *username;
    char *ident; /* identifier value, may be NULL */
};

struct outbox_pass {
    struct store *st;
    const struct sync_rule *r;
    json_t *plan;
    struct outbox_resync_result *res;
    struct outbox_resync_result local;
    int allow, verify;
    int64_t seq;
    int64_t events_seq; /* the last change event committed when the pass began */
    int64_t now;
    struct link_table t;
    struct candidate *cands;
    size_t ncands, capcands;
    char **removals; /* user ids */
    size_t nremovals, capremovals;
    char **touches; /* user ids to queue */
    int *touch_flags;
    size_t ntouch, captouch;
    json_t *drifted; /* plan mode: the drift a verify found */
};
#define pass outbox_pass

/* Notes user_id for queueing (with item flags); the queue is written in one short
 * transaction at the end of the pass, so the pass itself (reads, and the listing's HTTP)
 * holds no write lock. */
static enum sc_err touch_flags(struct pass *p, const char *user_id, int flags)
{
    p->res->queued++;
    if (p->plan)
        return SC_OK;
    if (p->ntouch == p->captouch) {
        size_t ncap = p->captouch ? p->captouch * 2 : 256;
        char **g = realloc(p->touches, ncap * sizeof *g);
        if (!g)
            return SC_ERR_NOMEM;
        p->touches = g;
        int *f = realloc(p->touch_flags, ncap * sizeof *f);
        if (!f)
            return SC_ERR_NOMEM;
        p->touch_flags = f;
        p->captouch = ncap;
    }
    if (!(p->touches[p->ntouch] = sc_strdup(user_id)))
        return SC_ERR_NOMEM;
    p->touch_flags[p->ntouch] = flags;
    p->ntouch++;
    return SC_OK;
}

static enum sc_err touch(struct pass *p, const char *user_id)
{
    return touch_flags(p, user_id, 0);
}

static void plan_add(struct pass *p, const char *list, json_t *entry)
{
    json_t *a = json_object_get(p->plan, list);
    if (!a) {
        a = json_array();
        json_object_set_new(p->plan, list, a);
    }
    json_array_append_new(a, entry);
}

static const char *username_of(const json_t *user)
{
    const char *u = json_string_value(json_object_get(user, "username"));
    return u ? u : "";
}

static enum sc_err add_candidate(struct pass *p, const char *user_id, const char *username,
                                 const char *ident)
{
    if (p->ncands == p->capcands) {
        size_t ncap = p->capcands ? p->capcands * 2 : 256;
        struct candidate *g = realloc(p->cands, ncap * sizeof *g);
        if (!g)
            return SC_ERR_NOMEM;
        p->cands = g;
        p->capcands = ncap;
    }
    struct candidate *c = &p->cands[p->ncands++];
    c->user_id = sc_strdup(user_id);
    c->username = sc_strdup(username);
    c->ident = sc_strdup(ident);
    return SC_OK;
}

static enum sc_err add_removal(struct pass *p, const char *user_id)
{
    if (p->nremovals == p->capremovals) {
        size_t ncap = p->capremovals ? p->capremovals * 2 : 64;
        char **g = realloc(p->removals, ncap * sizeof *g);
        if (!g)
            return SC_ERR_NOMEM;
        p->removals = g;
        p->capremovals = ncap;
    }
    p->removals[p->nremovals++] = sc_strdup(user_id);
    return SC_OK;
}

/* One directory user. */
static enum sc_err pass_user(struct pass *p, struct link_table *t, const struct directory_groups *g,
                             const json_t *user)
{
    const struct connection *c = p->r->rc->conn;
    const char *uid = json_string_value(json_object_get(user, "id"));
    if (!uid)
        return SC_OK;
    int in_scope = 0, enabled = 1;
    json_t *desired = NULL;
    enum sc_err err = sync_rule_eval(p->r, g, user, &in_scope, &enabled, &desired);
    if (err)
        return err;
    struct link_entry *en = table_find(t, uid, 0);
    if (en)
        en->seen = 1;
    p->res->users++;
    if (in_scope && enabled) {
        json_object_set_new(desired, "active", json_true());
        uint64_t want = planner_digest(desired);
        if (en && en->target_id) {
            if (en->digest == want && strcmp(en->state, SYNC_STATE_SYNCED) == 0) {
                en->record = en->stamp && en->stamp != en->source;
                goto done;
            }
            if (!c->allow_update && !en->inactive && strcmp(en->state, SYNC_STATE_PARTIAL) == 0)
                goto done;
            p->res->updates++;
            if (p->plan) {
                struct store_sync_link l = {0};
                json_t *sent = NULL, *rej = NULL;
                if (store_sync_link_get(p->st, p->r->rc->rule.id, uid, &l) == SC_OK && l.sent)
                    sent = json_loads(l.sent, 0, NULL);
                if (l.rejected) {
                    json_t *doc = json_loads(l.rejected, 0, NULL);
                    rej = json_incref(json_object_get(doc, "attributes"));
                    json_decref(doc);
                }
                struct planner_input in = {
                    .exists = 1,
                    .in_scope = 1,
                    .enabled = 1,
                    .target_id = en->target_id,
                    .sent = sent,
                    .sent_digest = en->digest,
                    .has_link_row = 1,
                    .rejected = rej,
                    .mapped = (const char *const *)p->r->keys,
                    .nmapped = p->r->npaths,
                    .clear = p->r->clear,
                    .allow_create = c->allow_create,
                    .allow_update = c->allow_update,
                    .allow_disable = c->allow_disable,
                    .remove_delete = c->remove_action == CONNECTION_REMOVE_DELETE,
                    .update_put =
                        c->update_method == CONNECTION_UPDATE_PUT || p->r->patch_unsupported,
                    .dialect11 = p->r->dialect == SCIM_DIALECT_11};
                json_object_del(desired, "active");
                in.desired = desired;
                struct planner_op op;
                struct sc_error pe = {0};
                if (planner_plan(&in, &op, &pe) == SC_OK) {
                    if (op.method)
                        plan_add(p, "updates",
                                 json_pack("{s:s, s:s, s:s, s:s, s:O}", "userId", uid, "username",
                                           username_of(user), "targetId", en->target_id, "action",
                                           planner_action_name(op.action), "changes",
                                           op.changes ? op.changes : json_array()));
                    else /* held back (rejected) or only untracked: nothing would be sent */
                        p->res->updates--;
                    planner_op_clear(&op);
                }
                json_decref(rej);
                json_decref(sent);
                store_sync_link_clear(&l);
                goto done;
            }
            err = touch(p, uid);
            goto done;
        }
        if (en && !c->allow_create && strcmp(en->state, SYNC_STATE_UNSYNCED) == 0)
            goto done;
        p->res->creates++;
        if (p->plan) {
            json_object_del(desired, "active");
            plan_add(p, c->allow_create ? "creates" : "unsynced",
                     json_pack("{s:s, s:s, s:O}", "userId", uid, "username", username_of(user),
                               "attributes", desired));
            goto done;
        }
        err = add_candidate(p, uid, username_of(user), sync_rule_identifier(p->r, desired));
        goto done;
    }
    /* out of scope or disabled */
    if (en && en->target_id) {
        if (c->remove_action != CONNECTION_REMOVE_DELETE && en->inactive)
            goto done;
        if (!c->allow_disable) {
            if (strcmp(en->state, SYNC_STATE_OUT_OF_SCOPE) != 0)
                err = touch(p, uid);
            goto done;
        }
        p->res->removals++;
        if (p->plan) {
            plan_add(p, c->remove_action == CONNECTION_REMOVE_DELETE ? "deletes" : "disables",
                     json_pack("{s:s, s:s, s:s}", "userId", uid, "username", username_of(user),
                               "targetId", en->target_id));
            goto done;
        }
        err = add_removal(p, uid);
        goto done;
    }
    if (en && strcmp(en->state, SYNC_STATE_OUT_OF_SCOPE) != 0)
        err = touch(p, uid);
done:
    json_decref(desired);
    return err;
}

/* ---- skipping users whose source stamp is unchanged ---- */

#define OUTBOX_FEW_CHANGED 2000 /* at most this many changed users: read them one by one */

struct stamp_scan {
    struct link_table *t;
    const struct sync_rule *r;
    int64_t users, clean;
    char **changed; /* ids of users to evaluate, while there are few */
    size_t nchanged, capchanged;
    int many; /* more than OUTBOX_FEW_CHANGED: evaluate in one scan instead */
};

static int stamp_user(void *arg, const char *id, uint64_t digest)
{
    struct stamp_scan *sc = arg;
    sc->users++;
    struct link_entry *en = table_find(sc->t, id, 0);
    if (en) {
        en->stamp = sync_rule_source(sc->r, digest);
        if (en->stamp && en->stamp == en->source && en->target_id && !en->inactive &&
            (strcmp(en->state, SYNC_STATE_SYNCED) == 0 ||
             strcmp(en->state, SYNC_STATE_PARTIAL) == 0)) {
            en->clean = 1;
            sc->clean++;
            return 0;
        }
    }
    if (sc->many)
        return 0;
    if (sc->nchanged == OUTBOX_FEW_CHANGED) {
        sc->many = 1;
        return 0;
    }
    if (sc->nchanged == sc->capchanged) {
        size_t ncap = sc->capchanged ? sc->capchanged * 2 : 64;
        char **g = realloc(sc->changed, ncap * sizeof *g);
        if (!g)
            return 1;
        sc->changed = g;
        sc->capchanged = ncap;
    }
    if (!(sc->changed[sc->nchanged] = sc_strdup(id)))
        return 1;
    sc->nchanged++;
    return 0;
}

/* Counts the clean entries of t as looked at and seen. */
static void pass_clean(struct pass *p, struct link_table *t)
{
    for (size_t i = 0; i < t->cap; i++)
        if (t->v[i].user_id && t->v[i].clean) {
            t->v[i].seen = 1;
            p->res->users++;
            p->res->unchanged++;
        }
}

/* identifier -> resource, in a small open hash (keys folded when not caseExact) */
struct ident_map {
    struct {
        char *key;
        json_t *res;
    } * h;
    size_t cap;
};

static char *ident_key(const struct sync_rule *r, const char *id)
{
    char *k = sc_strdup(id);
    return k && !r->ident_case_exact ? sc_str_lower(k) : k;
}

static void ident_map_free(struct ident_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->h[i].key);
    free(m->h);
}

/* Indexes resources by field: the identifier (by_id 0) or the account id (by_id 1). */
static enum sc_err ident_map_build(const struct sync_rule *r, const json_t *resources, int by_id,
                                   struct ident_map *m)
{
    size_t n = json_array_size(resources), cap = 16;
    while (cap < n * 2 + 2)
        cap *= 2;
    m->cap = cap;
    m->h = calloc(cap, sizeof *m->h);
    if (!m->h)
        return SC_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *res = json_array_get(resources, i);
        const char *tid = json_string_value(json_object_get(res, "id"));
        const char *id = by_id ? tid : sync_rule_resource_identifier(r, res);
        if (!id || !tid)
            continue;
        char *k = by_id ? sc_strdup(id) : ident_key(r, id);
        if (!k)
            return SC_ERR_NOMEM;
        size_t j = str_hash(k) & (cap - 1);
        while (m->h[j].key && strcmp(m->h[j].key, k) != 0)
            j = (j + 1) & (cap - 1);
        if (m->h[j].key) {
            free(k);
            continue;
        }
        m->h[j].key = k;
        m->h[j].res = res;
    }
    return SC_OK;
}

static json_t *ident_map_get(const struct ident_map *m, const char *k)
{
    size_t j = str_hash(k) & (m->cap - 1);
    while (m->h[j].key && strcmp(m->h[j].key, k) != 0)
        j = (j + 1) & (m->cap - 1);
    return m->h[j].key ? m->h[j].res : NULL;
}

/* Links candidates to the accounts of one listing; marks the others absent when the
 * listing is complete (else they are looked up). A link row that a delivery wrote while
 * the listing was read is left as it is. */
static enum sc_err link_from_listing(struct pass *p, const json_t *resources, int complete)
{
    struct ident_map m = {0};
    enum sc_err err = ident_map_build(p->r, resources, 0, &m);
    for (size_t i = 0; i < p->ncands && !err; i++) {
        struct candidate *c = &p->cands[i];
        json_t *found = NULL;
        if (c->ident) {
            char *k = ident_key(p->r, c->ident);
            if (!k) {
                err = SC_ERR_NOMEM;
                break;
            }
            found = ident_map_get(&m, k);
            free(k);
        }
        struct store_sync_link l = {0};
        sc_strlcpy(l.rule_id, p->r->rc->rule.id, sizeof l.rule_id);
        sc_strlcpy(l.user_id, c->user_id, sizeof l.user_id);
        l.username = c->username;
        sc_strlcpy(l.state, SYNC_STATE_PENDING, sizeof l.state);
        char *sent = NULL;
        if (found) {
            json_t *flat = sync_rule_project(p->r, found);
            sent = sc_json_dump_canonical(flat);
            l.digest = planner_digest(flat);
            json_decref(flat);
            l.target_id = (char *)json_string_value(json_object_get(found, "id"));
            l.sent = sent;
        } else if (complete) {
            l.absent = 1;
        } else {
            /* not in a partial listing: the user is looked up on its own */
            err = touch(p, c->user_id);
            continue;
        }
        int written = 0;
        err = store_sync_link_put_unlinked(p->st, &l, p->now, &written);
        if (!err && found && written) {
            p->res->linked++;
            struct store_sync_log_entry le = {.rule_id = l.rule_id,
                                              .user_id = l.user_id,
                                              .username = c->username,
                                              .action = "LINK",
                                              .status = "SUCCESS",
                                              .http_status = 200};
            err = store_sync_log_append(p->st, &le);
        }
        free(sent);
        if (!err)
            err = touch(p, c->user_id);
    }
    ident_map_free(&m);
    return err;
}

/* Changes between what was last sent and what the target holds, for the log and the
 * dry run: old = the target's value, new = what the mapping says it should be. */
static json_t *drift_changes(const json_t *sent, const json_t *found)
{
    json_t *ch = json_array();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)sent, k, v)
    {
        json_t *t = json_object_get(found, k);
        if (!t || !json_equal(t, v))
            json_array_append_new(ch, json_pack("{s:s, s:O, s:O}", "attribute", k, "old",
                                                t ? t : json_null(), "new", v));
    }
    json_object_foreach((json_t *)found, k, v)
    {
        if (!sent || !json_object_get(sent, k))
            json_array_append_new(ch,
                                  json_pack("{s:s, s:O, s:n}", "attribute", k, "old", v, "new"));
    }
    return ch;
}

/* Drift repair: compares each linked account with what the target holds; a difference
 * makes the link record the target's values (so the next delivery sends what the
 * mapping says), a missing account unlinks the user (so it is created again). Only
 * with a complete listing can an account be called missing. */
static enum sc_err verify_from_listing(struct pass *p, const json_t *resources, int complete)
{
    struct ident_map m = {0};
    enum sc_err err = ident_map_build(p->r, resources, 1, &m);
    const char *rule_id = p->r->rc->rule.id;
    for (size_t i = 0; i < p->t.cap && !err; i++) {
        struct link_entry *en = &p->t.v[i];
        if (!en->user_id || !en->target_id || !en->seen)
            continue;
        json_t *found = ident_map_get(&m, en->target_id);
        if (!found && !complete)
            continue;
        p->res->checked++;
        json_t *flat = found ? sync_rule_project(p->r, found) : NULL;
        if (flat && planner_digest(flat) == en->digest) {
            json_decref(flat);
            continue;
        }
        struct store_sync_link l = {0};
        json_t *sent = NULL;
        if (store_sync_link_get(p->st, rule_id, en->user_id, &l) == SC_OK && l.sent)
            sent = json_loads(l.sent, 0, NULL);
        if (flat && sync_rule_holds(p->r, sent, flat)) { /* the target's own case */
            json_decref(flat);
            json_decref(sent);
            store_sync_link_clear(&l);
            continue;
        }
        p->res->drifted++;
        json_t *ch = flat ? drift_changes(sent, flat) : NULL;
        const char *gone = "the account no longer exists on the target; creating it again";
        if (p->plan) {
            json_t *d = json_pack("{s:s, s:s?, s:s}", "userId", en->user_id, "username",
                                  en->username, "targetId", en->target_id);
            if (ch)
                json_object_set(d, "changes", ch);
            else
                json_object_set_new(d, "gone", json_true());
            json_array_append_new(p->drifted, d);
        } else {
            char *text = flat ? sc_json_dump_canonical(flat) : NULL;
            struct store_sync_link nl = {0};
            sc_strlcpy(nl.rule_id, rule_id, sizeof nl.rule_id);
            sc_strlcpy(nl.user_id, en->user_id, sizeof nl.user_id);
            nl.target_id = flat ? en->target_id : NULL;
            nl.sent = text;
            nl.digest = flat ? planner_digest(flat) : 0;
            int written = 0;
            err = store_sync_link_set_found(p->st, &nl, en->digest, &written);
            char *chtext = ch ? sc_json_dump(ch) : NULL;
            if (!err && written) {
                struct store_sync_log_entry le = {.rule_id = rule_id,
                                                  .user_id = en->user_id,
                                                  .username = en->username,
                                                  .action = "VERIFY",
                                                  .status = "DRIFTED",
                                                  .http_status = 200,
                                                  .changes = chtext,
                                                  .error = flat ? NULL : gone};
                err = store_sync_log_append(p->st, &le);
            }
            if (!err && written)
                err = touch(p, en->user_id);
            free(chtext);
            free(text);
        }
        json_decref(ch);
        json_decref(flat);
        json_decref(sent);
        store_sync_link_clear(&l);
    }
    ident_map_free(&m);
    return err;
}

void outbox_pass_free(struct outbox_pass *p)
{
    if (!p)
        return;
    table_free(&p->t);
    for (size_t i = 0; i < p->ncands; i++) {
        free(p->cands[i].user_id);
        free(p->cands[i].username);
        free(p->cands[i].ident);
    }
    free(p->cands);
    for (size_t i = 0; i < p->nremovals; i++)
        free(p->removals[i]);
    free(p->removals);
    for (size_t i = 0; i < p->ntouch; i++)
        free(p->touches[i]);
    free(p->touches);
    free(p->touch_flags);
    json_decref(p->drifted);
    free(p);
}

int outbox_pass_wants_listing(const struct outbox_pass *p)
{
    if (p->verify)
        return 1;
    return p->ncands > 0 && (p->ncands >= OUTBOX_LIST_THRESHOLD || p->r->filter_ignored);
}

enum sc_err outbox_resync_begin(struct store *st, const struct sync_rule *r,
                                const struct directory_groups *g, int allow, int verify,
                                int64_t seq, json_t *plan, struct outbox_pass **out,
                                struct sc_error *e)
{
    *out = NULL;
    struct pass *p = calloc(1, sizeof *p);
    if (!p)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    p->st = st;
    p->r = r;
    p->plan = plan;
    p->res = &p->local;
    p->allow = allow;
    p->verify = verify;
    p->seq = seq;
    p->now = sc_clock_now_ms();
    store_events_last_seq(st, &p->events_seq); /* before any read of the pass */
    if (plan && verify)
        p->drifted = json_array();
    struct stamp_scan scan = {.t = &p->t, .r = r};
    json_t *page = NULL;
    char *after = NULL;
    const char *rule_id = r->rc->rule.id;
    enum sc_err err = store_sync_link_each(st, rule_id, load_link, &p->t);
    if (err) {
        sc_error_set(e, err, NULL, "cannot read the rule's links");
        goto done;
    }
    /* Which users changed since their link was last found in sync: a scan of row
     * digests, no JSON. A rule whose filter tests groups evaluates everyone. */
    if (!r->uses_groups) {
        err = store_user_digest_each(st, stamp_user, &scan);
        if (err) {
            sc_error_set(e, err, NULL, "cannot read the users' digests");
            goto done;
        }
        pass_clean(p, &p->t);
    }
    for (size_t i = 0; !r->uses_groups && !scan.many && i < scan.nchanged && !err; i++) {
        json_t *u = NULL;
        struct sc_error de = {0};
        enum sc_err gerr = directory_user_get(st, scan.changed[i], &u, &de);
        if (gerr == SC_OK)
            err = pass_user(p, &p->t, g, u);
        else if (gerr != SC_ERR_NOT_FOUND) /* deleted since: its link is handled below */
            err = gerr;
        json_decref(u);
    }
    if (err) {
        sc_error_set(e, err, NULL, "resync failed while planning");
        goto done;
    }
    for (; r->uses_groups || scan.many;) {
        struct sc_error de = {0};
        if ((err = directory_users_page(st, after, 1000, &page, &de))) {
            *e = de;
            goto done;
        }
        size_t n = json_array_size(page);
        if (n == 0)
            break;
        for (size_t i = 0; i < n && !err; i++) {
            json_t *u = json_array_get(page, i);
            const char *uid = json_string_value(json_object_get(u, "id"));
            struct link_entry *en = uid ? table_find(&p->t, uid, 0) : NULL;
            if (en && en->clean)
                continue;
            err = pass_user(p, &p->t, g, u);
        }
        if (err) {
            sc_error_set(e, err, NULL, "resync failed while planning");
            goto done;
        }
        free(after);
        after = sc_strdup(json_string_value(json_object_get(json_array_get(page, n - 1), "id")));
        json_decref(page);
        page = NULL;
        if (n < 1000)
            break;
    }
    /* Links whose user no longer exists. */
    const struct connection *c = r->rc->conn;
    for (size_t i = 0; i < p->t.cap && !err; i++) {
        struct link_entry *en = &p->t.v[i];
        if (!en->user_id || en->seen || !en->target_id)
            continue;
        if (c->remove_action != CONNECTION_REMOVE_DELETE && en->inactive)
            continue;
        if (!c->allow_disable) {
            if (strcmp(en->state, SYNC_STATE_OUT_OF_SCOPE) != 0)
                err = touch(p, en->user_id);
            continue;
        }
        p->local.removals++;
        if (plan)
            plan_add(p, c->remove_action == CONNECTION_REMOVE_DELETE ? "deletes" : "disables",
                     json_pack("{s:s, s:s?, s:s}", "userId", en->user_id, "username", en->username,
                               "targetId", en->target_id));
        else
            err = add_removal(p, en->user_id);
    }
    if (err)
        sc_error_set(e, err, NULL, "resync failed while planning");
done:
    json_decref(page);
    free(after);
    for (size_t i = 0; i < scan.nchanged; i++)
        free(scan.changed[i]);
    free(scan.changed);
    if (err) {
        outbox_pass_free(p);
        return err;
    }
    *out = p;
    return SC_OK;
}

enum sc_err outbox_resync_finish(struct store *st, struct outbox_pass *p, const json_t *resources,
                                 int complete, struct outbox_resync_result *res, struct sc_error *e)
{
    const struct sync_rule *r = p->r;
    const char *rule_id = r->rc->rule.id;
    json_t *plan = p->plan;
    int in_tx = 0;
    enum sc_err err = SC_OK;
    if (!plan) {
        if ((err = store_begin(st))) {
            sc_error_set(e, err, NULL, "cannot queue the resync");
            return err;
        }
        in_tx = 1;
    }
    /* Drift repair first: it reads the links as the planning pass saw them. */
    if (p->verify && resources)
        err = verify_from_listing(p, resources, complete);
    else if (p->verify && !plan)
        /* No listing: each linked user reads its own account before it is planned. */
        for (size_t i = 0; i < p->t.cap && !err; i++)
            if (p->t.v[i].user_id && p->t.v[i].target_id && p->t.v[i].seen)
                err = touch_flags(p, p->t.v[i].user_id, SYNC_ITEM_VERIFY);
    /* Unlinked users in scope: linked from the listing, or looked up one by one. */
    if (!err && !plan && p->ncands > 0) {
        if (resources)
            err = link_from_listing(p, resources, complete);
        else
            for (size_t i = 0; i < p->ncands && !err; i++)
                err = touch(p, p->cands[i].user_id);
    }
    /* The brake. */
    int64_t limit = p->t.linked * OUTBOX_BRAKE_PERCENT / 100;
    if (limit < OUTBOX_BRAKE_MIN)
        limit = OUTBOX_BRAKE_MIN;
    p->local.limit = limit;
    int braked = p->local.removals > limit && !p->allow;
    if (braked)
        p->local.held = p->local.removals;
    if (!err && !plan) {
        for (size_t i = 0; i < p->nremovals && !braked && !err; i++)
            err = touch(p, p->removals[i]);
        for (size_t i = 0; i < p->ntouch && !err; i++)
            err = store_sync_outbox_touch(st, rule_id, p->touches[i], p->touch_flags[i],
                                          STORE_SYNC_LANE_BULK, p->now);
        for (size_t i = 0; i < p->t.cap && !err; i++)
            if (p->t.v[i].user_id && p->t.v[i].record)
                err = store_sync_link_set_source(st, rule_id, p->t.v[i].user_id, p->t.v[i].digest,
                                                 p->t.v[i].stamp);
        struct store_sync_rule sr;
        if (!err)
            err = store_sync_rule_get(st, rule_id, &sr);
        if (!err) {
            sr.brake_hold = braked ? p->local.removals : 0;
            sr.brake_limit = braked ? limit : 0;
            sr.last_resync_at = p->now;
            sr.last_sync_at = sc_clock_now_ms();
            if (p->verify && resources) {
                sr.last_verify_at = p->now;
                sr.verify_checked = p->local.checked;
                sr.verify_drifted = p->local.drifted;
            }
            err = store_sync_rule_put(st, &sr);
        }
        if (!err && p->seq >= 0)
            err = store_sync_rule_resync_done(st, rule_id, p->seq);
        if (!err)
            err = store_sync_rule_seen(st, rule_id, p->events_seq);
        if (err) {
            sc_error_set(e, err, NULL, "cannot queue the resync");
            goto done;
        }
        if ((err = store_commit(st))) {
            in_tx = 0;
            sc_error_set(e, err, NULL, "cannot commit the resync");
            goto done;
        }
        in_tx = 0;
    }
    if (plan) {
        json_object_set_new(plan, "counts",
                            json_pack("{s:I, s:I, s:I, s:I}", "users", (json_int_t)p->local.users,
                                      "creates", (json_int_t)p->local.creates, "updates",
                                      (json_int_t)p->local.updates, "removals",
                                      (json_int_t)p->local.removals));
        if (p->local.removals > limit)
            json_object_set_new(plan, "brake",
                                json_pack("{s:I, s:I}", "held", (json_int_t)p->local.removals,
                                          "threshold", (json_int_t)limit));
        if (p->verify) {
            json_object_set_new(plan, "drifted", json_incref(p->drifted));
            json_object_set_new(json_object_get(plan, "counts"), "drifted",
                                json_integer((json_int_t)p->local.drifted));
            json_object_set_new(json_object_get(plan, "counts"), "checked",
                                json_integer((json_int_t)p->local.checked));
            if (!resources)
                json_object_set_new(plan, "verifyError",
                                    json_string("the target's accounts could not be read"));
        }
        static const char *const lists[] = {"creates", "updates", "disables", "deletes",
                                            "unsynced"};
        for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
            if (!json_object_get(plan, lists[i]))
                json_object_set_new(plan, lists[i], json_array());
    }
done:
    if (in_tx)
        store_rollback(st);
    if (!err && res)
        *res = p->local;
    return err;
}

enum sc_err outbox_resync(struct store *st, const struct sync_rule *r,
                          const struct directory_groups *g, int allow, int verify, int64_t seq,
                          sync_list_fn list, void *list_arg, json_t *plan,
                          struct outbox_resync_result *res, struct sc_error *e)
{
    struct outbox_pass *p = NULL;
    json_t *resources = NULL;
    int complete = 0;
    enum sc_err err = outbox_resync_begin(st, r, g, allow, verify, seq, plan, &p, e);
    if (err)
        return err;
    if (list && outbox_pass_wants_listing(p) && list(list_arg, r, &resources, &complete) != SC_OK) {
        json_decref(resources);
        resources = NULL;
    }
    err = outbox_resync_finish(st, p, resources, complete, res, e);
    json_decref(resources);
    outbox_pass_free(p);
    return err;
}
