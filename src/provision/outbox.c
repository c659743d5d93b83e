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

enum sc_err sync_rule_match(const struct sync_rule *r, const struct directory_groups *g,
                            const json_t *user, int *in_scope, int *enabled)
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
    return SC_OK;
}

enum sc_err sync_rule_map(const struct sync_rule *r, const json_t *user, json_t **desired)
{
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

enum sc_err sync_rule_eval(const struct sync_rule *r, const struct directory_groups *g,
                           const json_t *user, int *in_scope, int *enabled, json_t **desired)
{
    enum sc_err err = sync_rule_match(r, g, user, in_scope, enabled);
    return err ? err : sync_rule_map(r, user, desired);
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

/* ---- the resync pass ---- */

/* Strings of a page or a chunk kept one after the other in one buffer (an arena emptied
 * with its page or chunk), so a pass allocates nothing per user. A string is known by
 * its offset + 1; 0 stands for NULL. */
static size_t arena_put(struct sc_buf *a, const char *s, enum sc_err *err)
{
    if (!s || *err)
        return 0;
    size_t off = a->len + 1;
    enum sc_err e = sc_buf_append(a, s, strlen(s) + 1);
    if (e) {
        *err = e;
        return 0;
    }
    return off;
}

static const char *arena_str(const struct sc_buf *a, size_t off)
{
    return off ? a->data + off - 1 : NULL;
}

/* Makes room for one more element of size in *v (capacity *cap, n used). */
static enum sc_err grow(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return SC_OK;
    size_t ncap = *cap ? *cap * 2 : 64;
    void *g = realloc(*v, ncap * size);
    if (!g)
        return SC_ERR_NOMEM;
    *v = g;
    *cap = ncap;
    return SC_OK;
}

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* A link as the pass reads it: no sent values (only whether they say active false). */
struct pass_link {
    char user_id[STORE_SYNC_ID_MAX];
    char state[24];
    uint64_t digest;
    uint64_t source;            /* the source stamp it was last found in sync at */
    size_t username, target_id; /* in the arena of its page or chunk */
    int inactive;
};

/* A user as the pass reads it in a page. */
struct page_user {
    char id[STORE_SYNC_ID_MAX];
    uint64_t digest;
    int scope; /* what the filter says of its population: 1 all in, 0 none, -1 depends */
    int enabled;
    size_t username; /* in the page's arena */
};

/* A page of users' row digests, read in id order after `after`. */
struct user_page {
    const struct sync_rule *r;
    struct page_user *v;
    size_t n, i, cap;
    int done; /* the last page was read */
    char after[STORE_SYNC_ID_MAX];
    struct sc_buf strs;
};

/* A page of the rule's links, read in user id order after `after`. */
struct link_page {
    struct pass_link *v;
    size_t n, i, cap;
    int done;
    char after[STORE_SYNC_ID_MAX];
    struct sc_buf strs;
};

/* A user of the chunk to evaluate (its stamp moved, or the filter tests groups). */
struct pending {
    char id[STORE_SYNC_ID_MAX];
    uint64_t stamp;     /* this pass's source stamp of the user (0 = none) */
    int linked;         /* l is its link row */
    struct pass_link l; /* strings in the chunk's arena */
};

/* An unlinked user in scope, waiting for the listing (or the end of the pass). */
struct candidate {
    char user_id[STORE_SYNC_ID_MAX];
    size_t username, ident; /* in cand_strs */
};

struct touch_item {
    char user_id[STORE_SYNC_ID_MAX];
    int flags;
};

/* A user found in sync at a new source stamp. */
struct record_item {
    char user_id[STORE_SYNC_ID_MAX];
    uint64_t digest, stamp;
};

/* A linked account that drifted (verify): what the link is to record. */
struct drift_item {
    char user_id[STORE_SYNC_ID_MAX];
    size_t username, target_id, sent, changes; /* in the chunk's arena; no target: gone */
    uint64_t digest, expect;
};

/* identifier -> resource, in a small open hash (keys folded when not caseExact) */
struct ident_map {
    struct {
        char *key;
        json_t *res;
    } * h;
    size_t cap, n;
};

enum { LISTING_NONE, LISTING_WANTED, LISTING_READY, LISTING_FAILED };

struct outbox_pass {
    struct store *st;
    const struct sync_rule *r;
    const struct directory_groups *g; /* the step's */
    json_t *plan;
    struct outbox_resync_result local;
    int allow, verify;
    int64_t seq;
    int64_t events_seq; /* the last change event committed when the pass began */
    int64_t now;
    int64_t limit; /* the brake's threshold, from the linked users when the pass began */
    enum outbox_step state;
    /* the merge */
    struct user_page users;
    struct link_page links;
    char last_user[STORE_SYNC_ID_MAX]; /* the last user the merge passed */
    /* the chunk */
    struct pending *pend;
    size_t npend, cappend;
    struct touch_item *touches;
    size_t ntouch, captouch;
    struct record_item *records;
    size_t nrecord, caprecord;
    struct drift_item *drifts;
    size_t ndrift, capdrift;
    struct sc_buf strs;
    int resolve; /* the chunk links or queues the waiting candidates */
    /* across chunks */
    struct candidate *cands;
    size_t ncands, capcands;
    struct sc_buf cand_strs;
    char (*held)[STORE_SYNC_ID_MAX]; /* removals waiting for the brake's verdict */
    size_t nheld, capheld;
    /* the listing */
    int listing;
    int complete;
    struct ident_map by_ident, by_id;
    json_t *drifted; /* plan mode: the drift a verify found */
};
#define pass outbox_pass

/* Notes user_id for queueing (with item flags) in the chunk's transaction. */
static enum sc_err touch_flags(struct pass *p, const char *user_id, int flags)
{
    p->local.queued++;
    if (p->plan)
        return SC_OK;
    if (grow((void **)&p->touches, &p->captouch, p->ntouch, sizeof *p->touches))
        return SC_ERR_NOMEM;
    struct touch_item *t = &p->touches[p->ntouch++];
    sc_strlcpy(t->user_id, user_id, sizeof t->user_id);
    t->flags = flags;
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
    if (grow((void **)&p->cands, &p->capcands, p->ncands, sizeof *p->cands))
        return SC_ERR_NOMEM;
    struct candidate *c = &p->cands[p->ncands];
    enum sc_err err = SC_OK;
    sc_strlcpy(c->user_id, user_id, sizeof c->user_id);
    c->username = arena_put(&p->cand_strs, username, &err);
    c->ident = arena_put(&p->cand_strs, ident, &err);
    if (!err)
        p->ncands++;
    return err;
}

/* A removal (disable or delete) of a linked user: queued at once when approved, else
 * held until the pass knows whether it passes the brake (past the threshold it does,
 * and none is held). */
static enum sc_err add_removal(struct pass *p, const char *user_id, const char *username,
                               const char *target_id)
{
    const struct connection *c = p->r->rc->conn;
    p->local.removals++;
    if (p->plan) {
        plan_add(p, c->remove_action == CONNECTION_REMOVE_DELETE ? "deletes" : "disables",
                 json_pack("{s:s, s:s?, s:s}", "userId", user_id, "username", username, "targetId",
                           target_id));
        return SC_OK;
    }
    if (p->allow)
        return touch(p, user_id);
    if (p->local.removals > p->limit) { /* braked: none of them goes */
        free(p->held);
        p->held = NULL;
        p->nheld = p->capheld = 0;
        return SC_OK;
    }
    if (grow((void **)&p->held, &p->capheld, p->nheld, sizeof *p->held))
        return SC_ERR_NOMEM;
    sc_strlcpy(p->held[p->nheld++], user_id, STORE_SYNC_ID_MAX);
    return SC_OK;
}

/* A linked user out of scope, disabled, or gone from the directory. */
static enum sc_err pass_remove(struct pass *p, const char *user_id, const char *username,
                               const struct pass_link *l, const char *target_id)
{
    const struct connection *c = p->r->rc->conn;
    if (c->remove_action != CONNECTION_REMOVE_DELETE && l->inactive)
        return SC_OK;
    if (!c->allow_disable)
        return strcmp(l->state, SYNC_STATE_OUT_OF_SCOPE) != 0 ? touch(p, user_id) : SC_OK;
    return add_removal(p, user_id, username, target_id);
}

/* ---- the target's listing ---- */

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
    m->h = NULL;
    m->cap = m->n = 0;
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
        m->n++;
    }
    return SC_OK;
}

static json_t *ident_map_get(const struct ident_map *m, const char *k)
{
    if (!m->cap)
        return NULL;
    size_t j = str_hash(k) & (m->cap - 1);
    while (m->h[j].key && strcmp(m->h[j].key, k) != 0)
        j = (j + 1) & (m->cap - 1);
    return m->h[j].key ? m->h[j].res : NULL;
}

void outbox_pass_set_listing(struct outbox_pass *p, const json_t *resources, int complete)
{
    if (p->state != OUTBOX_STEP_LISTING)
        return;
    p->state = OUTBOX_STEP_MORE;
    if (resources && ident_map_build(p->r, resources, 0, &p->by_ident) == SC_OK &&
        (!p->verify || ident_map_build(p->r, resources, 1, &p->by_id) == SC_OK)) {
        p->listing = LISTING_READY;
        p->complete = complete;
        return;
    }
    ident_map_free(&p->by_ident);
    ident_map_free(&p->by_id);
    p->listing = LISTING_FAILED;
}

/* Does the pass want the listing now: unlinked users in scope, at least
 * OUTBOX_LIST_THRESHOLD of them (or one on a target known to ignore filters)? */
static int wants_listing(const struct pass *p)
{
    return p->listing == LISTING_NONE && p->ncands > 0 &&
           (p->ncands >= OUTBOX_LIST_THRESHOLD || p->r->filter_ignored);
}

/* Links the waiting candidates to the accounts of the listing (in the chunk's
 * transaction); marks the others absent when the listing is complete (else they are
 * looked up). A link row that a delivery wrote since the pass began is left as it is.
 * Without a listing, each is queued to be looked up. */
static enum sc_err resolve_candidates(struct pass *p)
{
    enum sc_err err = SC_OK;
    for (size_t i = 0; i < p->ncands && !err; i++) {
        struct candidate *c = &p->cands[i];
        if (p->listing != LISTING_READY) {
            err = touch(p, c->user_id);
            continue;
        }
        json_t *found = NULL;
        const char *ident = arena_str(&p->cand_strs, c->ident);
        if (ident) {
            char *k = ident_key(p->r, ident);
            if (!k)
                return SC_ERR_NOMEM;
            found = ident_map_get(&p->by_ident, k);
            free(k);
        }
        struct store_sync_link l = {0};
        sc_strlcpy(l.rule_id, p->r->rc->rule.id, sizeof l.rule_id);
        sc_strlcpy(l.user_id, c->user_id, sizeof l.user_id);
        l.username = (char *)arena_str(&p->cand_strs, c->username);
        sc_strlcpy(l.state, SYNC_STATE_PENDING, sizeof l.state);
        char *sent = NULL;
        if (found) {
            json_t *flat = sync_rule_project(p->r, found);
            sent = sc_json_dump_canonical(flat);
            l.digest = planner_digest(flat);
            json_decref(flat);
            l.target_id = (char *)json_string_value(json_object_get(found, "id"));
            l.sent = sent;
        } else if (p->complete) {
            l.absent = 1;
        } else {
            /* not in a partial listing: the user is looked up on its own */
            err = touch(p, c->user_id);
            continue;
        }
        int written = 0;
        err = store_sync_link_put_unlinked(p->st, &l, p->now, &written);
        if (!err && found && written) {
            p->local.linked++;
            struct store_sync_log_entry le = {.rule_id = l.rule_id,
                                              .user_id = l.user_id,
                                              .username = l.username,
                                              .action = "LINK",
                                              .status = "SUCCESS",
                                              .http_status = 200};
            err = store_sync_log_append(p->st, &le);
        }
        free(sent);
        if (!err)
            err = touch(p, c->user_id);
    }
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

/* Drift repair of one linked account: compared with what the target holds, a
 * difference makes the link record the target's values (so the next delivery sends
 * what the mapping says), a missing account unlinks the user (so it is created again).
 * Only with a complete listing can an account be called missing. Without a listing,
 * the user is queued to read its own account first. */
static enum sc_err verify_link(struct pass *p, const char *user_id, const struct pass_link *l,
                               const struct sc_buf *strs)
{
    const char *tid = arena_str(strs, l->target_id);
    if (!p->verify || !tid)
        return SC_OK;
    if (p->listing != LISTING_READY)
        return p->plan ? SC_OK : touch_flags(p, user_id, SYNC_ITEM_VERIFY);
    json_t *found = ident_map_get(&p->by_id, tid);
    if (!found && !p->complete)
        return SC_OK;
    p->local.checked++;
    json_t *flat = found ? sync_rule_project(p->r, found) : NULL;
    if (flat && planner_digest(flat) == l->digest) {
        json_decref(flat);
        return SC_OK;
    }
    struct store_sync_link sl = {0};
    json_t *sent = NULL;
    enum sc_err err = SC_OK;
    if (store_sync_link_get(p->st, p->r->rc->rule.id, user_id, &sl) == SC_OK && sl.sent)
        sent = json_loads(sl.sent, 0, NULL);
    store_sync_link_clear(&sl);
    if (flat && sync_rule_holds(p->r, sent, flat)) /* the target's own case */
        goto done;
    p->local.drifted++;
    json_t *ch = flat ? drift_changes(sent, flat) : NULL;
    const char *username = arena_str(strs, l->username);
    if (p->plan) {
        json_t *d =
            json_pack("{s:s, s:s?, s:s}", "userId", user_id, "username", username, "targetId", tid);
        if (ch)
            json_object_set(d, "changes", ch);
        else
            json_object_set_new(d, "gone", json_true());
        json_array_append_new(p->drifted, d);
    } else if (!(err = grow((void **)&p->drifts, &p->capdrift, p->ndrift, sizeof *p->drifts))) {
        struct drift_item *d = &p->drifts[p->ndrift];
        memset(d, 0, sizeof *d);
        sc_strlcpy(d->user_id, user_id, sizeof d->user_id);
        char *text = flat ? sc_json_dump_canonical(flat) : NULL;
        char *chtext = ch ? sc_json_dump(ch) : NULL;
        if (strs == &p->strs) { /* already in the chunk's arena (which may move) */
            d->username = l->username;
            d->target_id = flat ? l->target_id : 0;
        } else {
            d->username = arena_put(&p->strs, username, &err);
            d->target_id = flat ? arena_put(&p->strs, tid, &err) : 0;
        }
        d->sent = arena_put(&p->strs, text, &err);
        d->changes = arena_put(&p->strs, chtext, &err);
        d->digest = flat ? planner_digest(flat) : 0;
        d->expect = l->digest;
        free(text);
        free(chtext);
        if (!err)
            p->ndrift++;
    }
    json_decref(ch);
done:
    json_decref(flat);
    json_decref(sent);
    return err;
}

/* Records the drift of the chunk (in its transaction): each link whose digest is still
 * what the pass read takes the target's values, with a VERIFY DRIFTED log entry, and
 * its user is queued. */
static enum sc_err write_drifts(struct pass *p)
{
    const char *rule_id = p->r->rc->rule.id;
    const char *gone = "the account no longer exists on the target; creating it again";
    enum sc_err err = SC_OK;
    for (size_t i = 0; i < p->ndrift && !err; i++) {
        const struct drift_item *d = &p->drifts[i];
        struct store_sync_link nl = {0};
        sc_strlcpy(nl.rule_id, rule_id, sizeof nl.rule_id);
        sc_strlcpy(nl.user_id, d->user_id, sizeof nl.user_id);
        nl.target_id = (char *)arena_str(&p->strs, d->target_id);
        nl.sent = (char *)arena_str(&p->strs, d->sent);
        nl.digest = d->digest;
        int written = 0;
        err = store_sync_link_set_found(p->st, &nl, d->expect, &written);
        if (!err && written) {
            struct store_sync_log_entry le = {.rule_id = rule_id,
                                              .user_id = d->user_id,
                                              .username = arena_str(&p->strs, d->username),
                                              .action = "VERIFY",
                                              .status = "DRIFTED",
                                              .http_status = 200,
                                              .changes = arena_str(&p->strs, d->changes),
                                              .error = nl.target_id ? NULL : gone};
            err = store_sync_log_append(p->st, &le);
        }
        if (!err && written)
            err = touch(p, d->user_id);
    }
    return err;
}

/* ---- one user ---- */

/* For a dry run: the user's origin (the inbound token that made it and its source
 * connection: store_user_get_digest), so the plan leaves out what the engine will not
 * send back where the user came from. An error reads as no origin. */
static void plan_origin(struct pass *p, const char *uid, struct store_user_origin *o)
{
    json_t *u = NULL;
    uint64_t d = 0;
    if (store_user_get_digest(p->st, uid, &u, &d, o) != SC_OK)
        memset(o, 0, sizeof *o);
    json_decref(u);
}

/* Whether o makes the rule's connection the user's own source (planner_plan's
 * PLANNER_LOOP_BACK). */
static int plan_loops_back(const struct pass *p, const struct store_user_origin *o)
{
    return o->connection[0] && strcmp(o->connection, p->r->rc->conn->id) == 0;
}

/* A user of the chunk whose situation must be evaluated. */
static enum sc_err pass_user(struct pass *p, const struct pending *pu, const json_t *user)
{
    const struct connection *c = p->r->rc->conn;
    const char *uid = pu->id;
    const struct pass_link *en = pu->linked ? &pu->l : NULL;
    const char *target_id = en ? arena_str(&p->strs, en->target_id) : NULL;
    int in_scope = 0, enabled = 1;
    json_t *desired = NULL;
    enum sc_err err = sync_rule_match(p->r, p->g, user, &in_scope, &enabled);
    if (err)
        return err;
    p->local.users++;
    if (in_scope && enabled) {
        if ((err = sync_rule_map(p->r, user, &desired)))
            return err;
        json_object_set_new(desired, "active", json_true());
        uint64_t want = planner_digest(desired);
        if (target_id) {
            if (en->digest == want && strcmp(en->state, SYNC_STATE_SYNCED) == 0) {
                if (!p->plan && pu->stamp && pu->stamp != en->source &&
                    !(err = grow((void **)&p->records, &p->caprecord, p->nrecord,
                                 sizeof *p->records))) {
                    struct record_item *ri = &p->records[p->nrecord++];
                    sc_strlcpy(ri->user_id, uid, sizeof ri->user_id);
                    ri->digest = en->digest;
                    ri->stamp = pu->stamp;
                }
                goto done;
            }
            if (!c->allow_update && !en->inactive && strcmp(en->state, SYNC_STATE_PARTIAL) == 0)
                goto done;
            p->local.updates++;
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
                struct store_user_origin o;
                plan_origin(p, uid, &o);
                struct planner_input in = {
                    .origin_connection = o.connection,
                    .connection_id = c->id,
                    .exists = 1,
                    .in_scope = 1,
                    .enabled = 1,
                    .target_id = target_id,
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
                    if (op.method) {
                        json_t *changes = (json_t *)planner_op_changes(&op); /* borrowed */
                        plan_add(p, "updates",
                                 json_pack("{s:s, s:s, s:s, s:s, s:o}", "userId", uid, "username",
                                           username_of(user), "targetId", target_id, "action",
                                           planner_action_name(op.action), "changes",
                                           changes ? json_incref(changes) : json_array()));
                    } else if (op.action == PLANNER_LOOP_BACK) {
                        char why[512];
                        planner_loop_reason(o.token, why, sizeof why);
                        plan_add(p, "unsynced",
                                 json_pack("{s:s, s:s, s:s, s:s}", "userId", uid, "username",
                                           username_of(user), "targetId", target_id, "reason",
                                           why));
                        p->local.updates--;
                    } else { /* held back (rejected) or only untracked: nothing would be sent */
                        p->local.updates--;
                    }
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
        p->local.creates++;
        if (p->plan) {
            json_object_del(desired, "active");
            struct store_user_origin o;
            plan_origin(p, uid, &o);
            json_t *entry = json_pack("{s:s, s:s, s:O}", "userId", uid, "username",
                                      username_of(user), "attributes", desired);
            if (plan_loops_back(p, &o)) {
                char why[512];
                planner_loop_reason(o.token, why, sizeof why);
                json_object_set_new(entry, "reason", json_string(why));
                p->local.creates--;
            }
            plan_add(p,
                     c->allow_create && !json_object_get(entry, "reason") ? "creates" : "unsynced",
                     entry);
            goto done;
        }
        err = add_candidate(p, uid, username_of(user), sync_rule_identifier(p->r, desired));
        goto done;
    }
    /* out of scope or disabled */
    if (target_id) {
        err = pass_remove(p, uid, username_of(user), en, target_id);
        goto done;
    }
    if (en && strcmp(en->state, SYNC_STATE_OUT_OF_SCOPE) != 0)
        err = touch(p, uid);
done:
    json_decref(desired);
    if (!err && en)
        err = verify_link(p, uid, en, &p->strs);
    return err;
}

/* Evaluates the chunk's pending users, read as JSON: one by one when they are few
 * among the chunk's nusers users, else in pages after `after` (the user before the
 * chunk). A user deleted since its digest was read is left to its own change event. */
static enum sc_err pass_evaluate(struct pass *p, const char *after, size_t nusers,
                                 struct sc_error *e)
{
    enum sc_err err = SC_OK;
    if (p->npend * 4 <= nusers) {
        for (size_t i = 0; i < p->npend && !err; i++) {
            json_t *u = NULL;
            struct sc_error de = {0};
            enum sc_err gerr = directory_user_get(p->st, p->pend[i].id, &u, &de);
            if (gerr == SC_OK)
                err = pass_user(p, &p->pend[i], u);
            else if (gerr != SC_ERR_NOT_FOUND)
                err = sc_error_set(e, gerr, NULL, "cannot read a user: %s", de.message);
            json_decref(u);
        }
        return err;
    }
    char cur[STORE_SYNC_ID_MAX];
    sc_strlcpy(cur, after, sizeof cur);
    int limit = nusers + 16 > 1000 ? 1000 : (int)nusers + 16;
    size_t i = 0;
    while (i < p->npend && !err) {
        json_t *page = NULL;
        struct sc_error de = {0};
        if ((err = directory_users_page(p->st, cur, limit, &page, &de))) {
            *e = de;
            return err;
        }
        size_t n = json_array_size(page);
        for (size_t j = 0; j < n && i < p->npend && !err; j++) {
            json_t *u = json_array_get(page, j);
            const char *id = json_string_value(json_object_get(u, "id"));
            if (!id)
                continue;
            while (i < p->npend && strcmp(p->pend[i].id, id) < 0)
                i++; /* deleted meanwhile */
            if (i < p->npend && strcmp(p->pend[i].id, id) == 0)
                err = pass_user(p, &p->pend[i++], u);
        }
        if (n > 0)
            sc_strlcpy(cur, json_string_value(json_object_get(json_array_get(page, n - 1), "id")),
                       sizeof cur);
        json_decref(page);
        if (n < (size_t)limit)
            break; /* the rest were deleted meanwhile */
    }
    return err;
}

/* ---- the merge of users and links ---- */

static int user_page_add(void *arg, const struct store_user_digest *u)
{
    struct user_page *up = arg;
    if (up->n == up->cap)
        return 1;
    struct page_user *pu = &up->v[up->n];
    enum sc_err err = SC_OK;
    sc_strlcpy(pu->id, u->id, sizeof pu->id);
    pu->digest = u->digest;
    pu->scope =
        userfilter_population_match(up->r->rc->filter, u->population_id, u->population_name);
    pu->enabled = u->enabled;
    pu->username = arena_put(&up->strs, u->username, &err);
    if (err)
        return 1;
    up->n++;
    return 0;
}

static int link_page_add(void *arg, const struct store_sync_link *l)
{
    struct link_page *lp = arg;
    if (lp->n == lp->cap)
        return 1;
    struct pass_link *pl = &lp->v[lp->n];
    enum sc_err err = SC_OK;
    sc_strlcpy(pl->user_id, l->user_id, sizeof pl->user_id);
    sc_strlcpy(pl->state, l->state, sizeof pl->state);
    pl->digest = l->digest;
    pl->source = l->source;
    pl->inactive = l->inactive;
    pl->username = arena_put(&lp->strs, l->username, &err);
    pl->target_id = arena_put(&lp->strs, l->target_id, &err);
    if (err)
        return 1;
    lp->n++;
    return 0;
}

/* Reads the next page of users (when the last one is used up). */
static enum sc_err users_refill(struct pass *p, size_t chunk)
{
    struct user_page *up = &p->users;
    if (up->i < up->n || up->done)
        return SC_OK;
    if (up->cap < chunk) {
        void *g = realloc(up->v, chunk * sizeof *up->v);
        if (!g)
            return SC_ERR_NOMEM;
        up->v = g;
        up->cap = chunk;
    }
    up->n = up->i = 0;
    sc_buf_reset(&up->strs);
    size_t got = 0;
    enum sc_err err = store_user_digest_page(p->st, up->after, up->cap, user_page_add, up, &got);
    if (err)
        return err;
    if (up->n < up->cap)
        up->done = 1;
    if (up->n)
        sc_strlcpy(up->after, up->v[up->n - 1].id, sizeof up->after);
    return SC_OK;
}

/* Reads the next page of the rule's links (when the last one is used up). */
static enum sc_err links_refill(struct pass *p, size_t chunk)
{
    struct link_page *lp = &p->links;
    if (lp->i < lp->n || lp->done)
        return SC_OK;
    if (lp->cap < chunk) {
        void *g = realloc(lp->v, chunk * sizeof *lp->v);
        if (!g)
            return SC_ERR_NOMEM;
        lp->v = g;
        lp->cap = chunk;
    }
    lp->n = lp->i = 0;
    sc_buf_reset(&lp->strs);
    size_t got = 0;
    enum sc_err err =
        store_sync_link_page(p->st, p->r->rc->rule.id, lp->after, lp->cap, link_page_add, lp, &got);
    if (err)
        return err;
    if (lp->n < lp->cap)
        lp->done = 1;
    if (lp->n)
        sc_strlcpy(lp->after, lp->v[lp->n - 1].user_id, sizeof lp->after);
    return SC_OK;
}

/* Does the pass know an unlinked user in scope needs no identifier: no listing will be
 * matched against it (the listing failed, or read no account at all)? */
static int no_identifier_needed(const struct pass *p)
{
    return p->listing == LISTING_FAILED ||
           (p->listing == LISTING_READY && p->complete && p->by_ident.n == 0);
}

/* A directory user met by the merge, with its link row (or NULL): skipped when it is in
 * sync at an unchanged source stamp (only a verify looks at it), or unlinked and of a
 * population the filter leaves out; an unlinked user of a population the filter takes
 * in whole waits for its create without being read when no listing needs its
 * identifier; others are kept for evaluation. */
static enum sc_err pass_meet(struct pass *p, const struct page_user *u, const struct sc_buf *ustrs,
                             const struct pass_link *l, const struct sc_buf *lstrs)
{
    const char *id = u->id;
    int maybe = u->scope != 0;
    if (!l && u->scope == 1 && !p->plan && no_identifier_needed(p)) {
        p->local.users++;
        if (!u->enabled)
            return SC_OK;
        p->local.creates++;
        return add_candidate(p, id, arena_str(ustrs, u->username), NULL);
    }
    if (!maybe && (!l || !p->plan)) {
        /* out of scope whatever its other fields: nothing to read (a dry run reads a
         * linked user, to show its current name) */
        p->local.users++;
        if (!l)
            return SC_OK;
        const char *tid = arena_str(lstrs, l->target_id);
        enum sc_err err = SC_OK;
        if (tid)
            err = pass_remove(p, id, arena_str(lstrs, l->username), l, tid);
        else if (strcmp(l->state, SYNC_STATE_OUT_OF_SCOPE) != 0)
            err = touch(p, id);
        return err ? err : verify_link(p, id, l, lstrs);
    }
    uint64_t stamp = l ? sync_rule_source(p->r, u->digest) : 0;
    if (l && stamp && stamp == l->source && l->target_id && !l->inactive &&
        (strcmp(l->state, SYNC_STATE_SYNCED) == 0 || strcmp(l->state, SYNC_STATE_PARTIAL) == 0)) {
        p->local.users++;
        p->local.unchanged++;
        return verify_link(p, id, l, lstrs);
    }
    if (grow((void **)&p->pend, &p->cappend, p->npend, sizeof *p->pend))
        return SC_ERR_NOMEM;
    struct pending *pu = &p->pend[p->npend];
    memset(pu, 0, sizeof *pu);
    sc_strlcpy(pu->id, id, sizeof pu->id);
    pu->stamp = stamp;
    enum sc_err err = SC_OK;
    if (l) {
        pu->linked = 1;
        pu->l = *l;
        pu->l.username = arena_put(&p->strs, arena_str(lstrs, l->username), &err);
        pu->l.target_id = arena_put(&p->strs, arena_str(lstrs, l->target_id), &err);
    }
    if (!err)
        p->npend++;
    return err;
}

/* Writes what the chunk found in one transaction. */
static enum sc_err chunk_write(struct pass *p)
{
    if (p->plan)
        return SC_OK;
    if (!p->ndrift && !p->resolve && !p->ntouch && !p->nrecord)
        return SC_OK;
    const char *rule_id = p->r->rc->rule.id;
    enum sc_err err = store_begin(p->st);
    if (err)
        return err;
    err = write_drifts(p);
    if (!err && p->resolve) {
        err = resolve_candidates(p);
        p->ncands = 0;
        sc_buf_reset(&p->cand_strs);
    }
    for (size_t i = 0; i < p->ntouch && !err; i++)
        err = store_sync_outbox_touch(p->st, rule_id, p->touches[i].user_id, p->touches[i].flags,
                                      STORE_SYNC_LANE_BULK, p->now);
    for (size_t i = 0; i < p->nrecord && !err; i++)
        err = store_sync_link_set_source(p->st, rule_id, p->records[i].user_id,
                                         p->records[i].digest, p->records[i].stamp);
    if (!err)
        err = store_commit(p->st);
    else
        store_rollback(p->st);
    return err;
}

enum sc_err outbox_pass_step(struct outbox_pass *p, const struct directory_groups *g, size_t chunk,
                             enum outbox_step *next, struct sc_error *e)
{
    *next = p->state;
    if (p->state != OUTBOX_STEP_MORE)
        return SC_OK;
    if (!chunk)
        chunk = OUTBOX_CHUNK;
    p->g = g;
    p->npend = p->ntouch = p->nrecord = p->ndrift = 0;
    p->resolve = 0;
    sc_buf_reset(&p->strs);
    char after[STORE_SYNC_ID_MAX];
    sc_strlcpy(after, p->last_user, sizeof after);
    size_t items = 0, nusers = 0;
    int scanned = 0;
    enum sc_err err = SC_OK;
    while (items < chunk && !err) {
        if ((err = users_refill(p, chunk)) || (err = links_refill(p, chunk))) {
            sc_error_set(e, err, NULL, "resync failed while reading users and links");
            goto fail;
        }
        struct user_page *up = &p->users;
        struct link_page *lp = &p->links;
        int hu = up->i < up->n, hl = lp->i < lp->n;
        if (!hu && !hl) {
            scanned = 1;
            break;
        }
        int cmp = !hu ? 1 : !hl ? -1 : strcmp(up->v[up->i].id, lp->v[lp->i].user_id);
        items++;
        if (cmp <= 0) {
            err =
                pass_meet(p, &up->v[up->i], &up->strs, cmp == 0 ? &lp->v[lp->i] : NULL, &lp->strs);
            sc_strlcpy(p->last_user, up->v[up->i].id, sizeof p->last_user);
            nusers++;
            up->i++;
            if (cmp == 0)
                lp->i++;
        } else { /* a link whose user no longer exists */
            const struct pass_link *l = &lp->v[lp->i];
            const char *tid = arena_str(&lp->strs, l->target_id);
            if (tid)
                err = pass_remove(p, l->user_id, arena_str(&lp->strs, l->username), l, tid);
            lp->i++;
        }
    }
    if (err) {
        sc_error_set(e, err, NULL, "resync failed while planning");
        goto fail;
    }
    if ((err = pass_evaluate(p, after, nusers, e)))
        goto fail;
    if (p->listing == LISTING_READY || p->listing == LISTING_FAILED) {
        p->resolve = p->ncands > 0;
    } else if (wants_listing(p)) {
        p->listing = LISTING_WANTED;
        p->state = OUTBOX_STEP_LISTING;
    } else if (scanned) {
        p->resolve = p->ncands > 0; /* too few for a listing: looked up one by one */
    }
    if ((err = chunk_write(p))) {
        sc_error_set(e, err, NULL, "cannot queue the resync's work");
        goto fail;
    }
    if (scanned && p->state == OUTBOX_STEP_MORE)
        p->state = OUTBOX_STEP_DONE;
    *next = p->state;
    return SC_OK;
fail:
    p->state = OUTBOX_STEP_DONE;
    *next = OUTBOX_STEP_DONE;
    return err;
}

/* ---- begin, finish ---- */

void outbox_pass_free(struct outbox_pass *p)
{
    if (!p)
        return;
    free(p->users.v);
    sc_buf_free(&p->users.strs);
    free(p->links.v);
    sc_buf_free(&p->links.strs);
    free(p->pend);
    free(p->touches);
    free(p->records);
    free(p->drifts);
    sc_buf_free(&p->strs);
    free(p->cands);
    sc_buf_free(&p->cand_strs);
    free(p->held);
    ident_map_free(&p->by_ident);
    ident_map_free(&p->by_id);
    json_decref(p->drifted);
    free(p);
}

const struct outbox_resync_result *outbox_pass_result(const struct outbox_pass *p)
{
    return &p->local;
}

enum sc_err outbox_resync_begin(struct store *st, const struct sync_rule *r, int allow, int verify,
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
    p->allow = allow;
    p->verify = verify;
    p->seq = seq;
    p->now = sc_clock_now_ms();
    p->users.r = r;
    sc_buf_init(&p->users.strs, 0);
    sc_buf_init(&p->links.strs, 0);
    sc_buf_init(&p->strs, 0);
    sc_buf_init(&p->cand_strs, 0);
    store_events_last_seq(st, &p->events_seq); /* before any read of the pass */
    struct store_sync_counts counts;
    enum sc_err err = store_sync_link_counts(st, r->rc->rule.id, &counts);
    if (err) {
        outbox_pass_free(p);
        return sc_error_set(e, err, NULL, "cannot read the rule's links");
    }
    p->limit = counts.linked * OUTBOX_BRAKE_PERCENT / 100;
    if (p->limit < OUTBOX_BRAKE_MIN)
        p->limit = OUTBOX_BRAKE_MIN;
    p->local.limit = p->limit;
    if (plan && verify)
        p->drifted = json_array();
    p->state = OUTBOX_STEP_MORE;
    if (verify) { /* every linked account is compared with the listing */
        p->listing = LISTING_WANTED;
        p->state = OUTBOX_STEP_LISTING;
    }
    *out = p;
    return SC_OK;
}

enum sc_err outbox_resync_finish(struct outbox_pass *p, struct outbox_resync_result *res,
                                 struct sc_error *e)
{
    struct store *st = p->st;
    const char *rule_id = p->r->rc->rule.id;
    json_t *plan = p->plan;
    enum sc_err err = SC_OK;
    int64_t limit = p->limit;
    int braked = p->local.removals > limit && !p->allow;
    if (braked)
        p->local.held = p->local.removals;
    int listed = p->listing == LISTING_READY;
    if (!plan) {
        if ((err = store_begin(st))) {
            sc_error_set(e, err, NULL, "cannot finish the resync");
            return err;
        }
        for (size_t i = 0; i < p->nheld && !braked && !err; i++) {
            p->local.queued++;
            err = store_sync_outbox_touch(st, rule_id, p->held[i], 0, STORE_SYNC_LANE_BULK, p->now);
        }
        struct store_sync_rule sr;
        if (!err)
            err = store_sync_rule_get(st, rule_id, &sr);
        if (!err) {
            sr.brake_hold = braked ? p->local.removals : 0;
            sr.brake_limit = braked ? limit : 0;
            sr.last_resync_at = p->now;
            sr.last_sync_at = sc_clock_now_ms();
            if (p->verify && listed) {
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
            store_rollback(st);
            sc_error_set(e, err, NULL, "cannot finish the resync");
            return err;
        }
        if ((err = store_commit(st))) {
            sc_error_set(e, err, NULL, "cannot commit the resync");
            return err;
        }
    } else {
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
            if (!listed)
                json_object_set_new(plan, "verifyError",
                                    json_string("the target's accounts could not be read"));
        }
        static const char *const lists[] = {"creates", "updates", "disables", "deletes",
                                            "unsynced"};
        for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
            if (!json_object_get(plan, lists[i]))
                json_object_set_new(plan, lists[i], json_array());
    }
    if (res)
        *res = p->local;
    return SC_OK;
}

enum sc_err outbox_resync(struct store *st, const struct sync_rule *r,
                          const struct directory_groups *g, int allow, int verify, int64_t seq,
                          sync_list_fn list, void *list_arg, json_t *plan,
                          struct outbox_resync_result *res, struct sc_error *e)
{
    struct outbox_pass *p = NULL;
    json_t *resources = NULL;
    enum sc_err err = outbox_resync_begin(st, r, allow, verify, seq, plan, &p, e);
    if (err)
        return err;
    enum outbox_step next = OUTBOX_STEP_MORE;
    while (!err && next != OUTBOX_STEP_DONE) {
        if (next == OUTBOX_STEP_LISTING) {
            int complete = 0;
            if (list && list(list_arg, r, &resources, &complete) != SC_OK) {
                json_decref(resources);
                resources = NULL;
            }
            outbox_pass_set_listing(p, resources, complete);
        }
        err = outbox_pass_step(p, g, 0, &next, e);
    }
    if (!err)
        err = outbox_resync_finish(p, res, e);
    outbox_pass_free(p);
    json_decref(resources);
    return err;
}
