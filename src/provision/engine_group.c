/* Group provisioning in the engine (docs/provisioning.md, "Groups"): one job per leased
 * (rule, group) item. The items travel in the sync outbox under "group:<group id>", so
 * they are leased, renewed, fenced and taken over as users' items are; the job's calls
 * go through its connection's queue (engine__dispatch) as CALL_GROUP, within the
 * connection's in-flight and rate limits.
 *
 * A job brings the target's group up to date with the directory in steps, each one call
 * and each outcome committed at once (fenced by the item's lease): look up by
 * displayName and link, or create; read the group back when an earlier lease may have
 * sent a change whose answer was never recorded (so the recorded members are exactly
 * the target's after a crash); rename; then the membership diff (recorded members
 * against the members the rule provisions) in PATCH requests of at most
 * membersPerRequest members, adds first. A group leaving scope has its members removed
 * (and is unlinked) or is deleted, per the rule's onRemove. */
#include "provision/engine_internal.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "directory/directory.h"
#include "http/client.h"
#include "provision/connection.h"
#include "provision/groupsync.h"
#include "scim/dialect.h"
#include "provision/rule.h"
#include "scim/filter.h"
#include "store/store.h"
#include "store/store_directory.h"
#include "store/store_events.h"
#include "store/store_groupsync.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GJOB_PAGE 1000       /* directory members read per page */
#define GJOB_MAX_CONFLICTS 3 /* creates answered 409 before the job fails */
#define GJOB_MAX_REFRESH 3   /* reads of the group after a refused removal */
#define GJOB_RETRY_MS 1000   /* first retry after a failure, doubling... */
#define GJOB_RETRY_MAX 60000 /* ...up to a minute */
#define GJOB_ERR_MAX 600

enum gstep { G_LOOKUP, G_CREATE, G_READ, G_RENAME, G_PATCH, G_DELETE };

struct gjob {
    struct call call; /* first: queued on its connection as a call */
    struct provision_engine *eng;
    struct eng_rule *er;
    struct store_sync_item item;
    const char *group_id; /* in item.user_id, after the prefix */
    struct groupsync_config cfg;
    json_t *group;  /* the directory group, NULL when gone */
    int in_scope;   /* pushed by the rule now */
    int is_dynamic; /* has a userFilter */
    long index;     /* in the snapshot, -1 when gone */
    struct store_group_link link;
    int has_link;
    json_t *want_attrs; /* {"displayName", "externalId"?} */
    struct groupsync_members have, adds, removes;
    size_t add_pos, rm_pos, batch_n;
    int batch_add;
    enum gstep step;
    int looked_up, refreshed, uncertain, diffed, braked, conflicts, refreshes;
    char last_error[GJOB_ERR_MAX];
    int last_status;
    /* the operation logged in the open transaction, counted once it commits */
    const char *op_action, *op_status;
    size_t op_members;
    struct gjob *prev, *next; /* live jobs */
};

static const char *rule_id_of(const struct gjob *j)
{
    return j->item.rule_id;
}

static const struct connection *conn_of(const struct gjob *j)
{
    return j->er->sr->rc->conn;
}

static const char *display_of(const struct gjob *j)
{
    const char *n = json_string_value(json_object_get(j->group, "name"));
    return n ? n : j->link.name;
}

int engine__group_item(const struct store_sync_item *it)
{
    return strncmp(it->user_id, GROUPSYNC_ITEM_PREFIX, sizeof GROUPSYNC_ITEM_PREFIX - 1) == 0;
}

/* ---- metrics ---- */

/* Group operations by connection, read by other threads (behind eng->mlock): each logged
 * operation (action and status as in the log) once its outcome is committed, and the
 * members the successful PATCH requests added and removed. */
static const char *const gm_actions[] = {"LINK",           "CREATE", "UPDATE", "MEMBERS_ADD",
                                         "MEMBERS_REMOVE", "DELETE", "UNLINK"};
static const char *const gm_statuses[] = {"SUCCESS", "FAILED", "UNSYNCED"};
#define GM_NACTIONS (sizeof gm_actions / sizeof gm_actions[0])
#define GM_NSTATUSES (sizeof gm_statuses / sizeof gm_statuses[0])

struct gmetrics {
    struct gm_conn {
        char conn_id[STORE_SYNC_ID_MAX];
        uint64_t ops[GM_NACTIONS][GM_NSTATUSES];
        uint64_t members_added, members_removed;
    } * v;
    size_t n, cap;
};

static size_t index_of(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (name && strcmp(names[i], name) == 0)
            return i;
    return n;
}

/* Counts the operation the job logged in the transaction just committed. */
static void gmetrics_count(struct gjob *j)
{
    size_t a = index_of(gm_actions, GM_NACTIONS, j->op_action);
    size_t s = index_of(gm_statuses, GM_NSTATUSES, j->op_status);
    size_t members = j->op_members;
    j->op_action = j->op_status = NULL;
    j->op_members = 0;
    if (a == GM_NACTIONS || s == GM_NSTATUSES)
        return;
    struct provision_engine *eng = j->eng;
    const char *conn = conn_of(j)->id;
    pthread_mutex_lock(&eng->mlock);
    struct gmetrics *m = eng->gmetrics;
    if (!m)
        m = eng->gmetrics = calloc(1, sizeof *m);
    struct gm_conn *c = NULL;
    for (size_t i = 0; m && i < m->n && !c; i++)
        if (strcmp(m->v[i].conn_id, conn) == 0)
            c = &m->v[i];
    if (m && !c && m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 4;
        struct gm_conn *v = realloc(m->v, cap * sizeof *v);
        if (v) {
            m->v = v;
            m->cap = cap;
        }
    }
    if (m && !c && m->n < m->cap) {
        c = &m->v[m->n++];
        memset(c, 0, sizeof *c);
        sc_strlcpy(c->conn_id, conn, sizeof c->conn_id);
    }
    if (c) {
        c->ops[a][s]++;
        if (s == 0 && strcmp(gm_actions[a], "MEMBERS_ADD") == 0)
            c->members_added += members;
        else if (s == 0 && strcmp(gm_actions[a], "MEMBERS_REMOVE") == 0)
            c->members_removed += members;
    }
    pthread_mutex_unlock(&eng->mlock);
}

void provision_engine_group_metrics(struct provision_engine *eng, struct sc_buf *out)
{
    if (!eng)
        return;
    pthread_mutex_lock(&eng->mlock);
    const struct gmetrics *m = eng->gmetrics;
    sc_buf_puts(out, "# HELP scimitar_sync_group_operations_total Group provisioning operations "
                     "by connection, action and status.\n"
                     "# TYPE scimitar_sync_group_operations_total counter\n");
    for (size_t i = 0; m && i < m->n; i++)
        for (size_t a = 0; a < GM_NACTIONS; a++)
            for (size_t s = 0; s < GM_NSTATUSES; s++)
                if (m->v[i].ops[a][s])
                    sc_buf_printf(out,
                                  "scimitar_sync_group_operations_total{connection=\"%s\","
                                  "action=\"%s\",status=\"%s\"} %" PRIu64 "\n",
                                  m->v[i].conn_id, gm_actions[a], gm_statuses[s],
                                  m->v[i].ops[a][s]);
    sc_buf_puts(out, "# HELP scimitar_sync_group_members_total Group members added to and "
                     "removed from target groups, by connection.\n"
                     "# TYPE scimitar_sync_group_members_total counter\n");
    for (size_t i = 0; m && i < m->n; i++)
        sc_buf_printf(out,
                      "scimitar_sync_group_members_total{connection=\"%s\",change=\"add\"} "
                      "%" PRIu64 "\n"
                      "scimitar_sync_group_members_total{connection=\"%s\",change=\"remove\"} "
                      "%" PRIu64 "\n",
                      m->v[i].conn_id, m->v[i].members_added, m->v[i].conn_id,
                      m->v[i].members_removed);
    pthread_mutex_unlock(&eng->mlock);
}

static void gjob_free(struct gjob *j)
{
    struct provision_engine *eng = j->eng;
    if (j->prev)
        j->prev->next = j->next;
    else if (eng->gjobs == j)
        eng->gjobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    groupsync_config_clear(&j->cfg);
    json_decref(j->group);
    json_decref(j->want_attrs);
    store_groupsync_link_clear(&j->link);
    groupsync_members_clear(&j->have);
    groupsync_members_clear(&j->adds);
    groupsync_members_clear(&j->removes);
    free(j);
}

/* What the group jobs keep between jobs: whether each rule pushes groups, as of a
 * configuration generation (a user's job asks for every result it records, and the
 * section changes only with a rule.groups event, which moves the generation on every
 * node); and the group tree (directory_groups_load_tree: groups, nesting, dynamic
 * filters, no user memberships), reloaded only when a group.* event changed groups or
 * nesting. The node handling events records the last such event's sequence under
 * GROUP_TREE_KEY; every node reads it again when its configuration generation moves
 * (any group.* event moves it) and reloads its tree when it differs. A user joining or
 * leaving a group changes neither, so it costs no reload: the jobs read a group's
 * members from the store. */
#define GROUP_TREE_KEY "sync.group_tree_gen"

struct gcache {
    int64_t gen;
    size_t n, cap;
    struct {
        char rule_id[STORE_SYNC_ID_MAX];
        int enabled;
    } * v;
    struct directory_groups *tree;
    int tree_stale;       /* this node handled a structural group event */
    int64_t tree_gen;     /* GROUP_TREE_KEY when the tree was loaded */
    int64_t tree_checked; /* the configuration generation GROUP_TREE_KEY was read at */
};

static struct gcache *gcache_of(struct provision_engine *eng)
{
    if (!eng->gcache)
        eng->gcache = calloc(1, sizeof *eng->gcache);
    return eng->gcache;
}

void engine__groups_jobs_free(struct provision_engine *eng)
{
    while (eng->gjobs)
        gjob_free(eng->gjobs);
    pthread_mutex_lock(&eng->mlock);
    if (eng->gmetrics) {
        free(eng->gmetrics->v);
        free(eng->gmetrics);
        eng->gmetrics = NULL;
    }
    pthread_mutex_unlock(&eng->mlock);
    if (eng->gcache) {
        directory_groups_free(eng->gcache->tree);
        free(eng->gcache->v);
        free(eng->gcache);
        eng->gcache = NULL;
    }
}

static int64_t tree_gen_read(struct store *st)
{
    char *v = NULL;
    int64_t gen = 0;
    if (store_setting_get(st, GROUP_TREE_KEY, &v) == SC_OK)
        sc_parse_int64(v, 0, INT64_MAX, &gen);
    free(v);
    return gen;
}

/* The group tree (reloaded when stale); NULL when it cannot be loaded. */
static const struct directory_groups *gtree(struct provision_engine *eng)
{
    struct gcache *c = gcache_of(eng);
    if (!c)
        return NULL;
    if (c->tree && !c->tree_stale && c->tree_checked == eng->config_gen)
        return c->tree;
    int64_t gen = tree_gen_read(eng->st);
    c->tree_checked = eng->config_gen;
    if (c->tree && !c->tree_stale && gen == c->tree_gen)
        return c->tree;
    struct directory_groups *g = NULL;
    struct sc_error e = {0};
    if (directory_groups_load_tree(eng->st, &g, &e)) {
        SC_WARN("engine.group_tree_load_failed", "message=\"%s\"", e.message);
        return c->tree;
    }
    directory_groups_free(c->tree);
    c->tree = g;
    c->tree_gen = gen;
    c->tree_stale = 0;
    SC_DEBUG("engine.group_tree_loaded", "groups=%zu gen=%" PRId64, directory_groups_count(g), gen);
    return g;
}

/* Whether a group.* event changes the tree: anything but a user joining a group
 * (detail "userId") or leaving it (detail "memberId" naming a user). */
static int tree_event(struct store *st, const struct store_event *x)
{
    if (strncmp(x->kind, "group.", 6) != 0)
        return 0;
    if (strcmp(x->kind, "group.members") != 0 || !x->detail)
        return 1;
    json_t *d = json_loads(x->detail, 0, NULL);
    const char *uid = json_string_value(json_object_get(d, "userId"));
    const char *mid = json_string_value(json_object_get(d, "memberId"));
    int user = uid && *uid;
    if (!user && mid && *mid) {
        json_t *u = NULL;
        struct sc_error e = {0};
        user = directory_user_get(st, mid, &u, &e) == SC_OK;
        json_decref(u);
    }
    json_decref(d);
    return !user;
}

/* Whether rule_id pushes groups: 1, 0, or -1 when it cannot be read. */
static int rule_pushes_groups(struct provision_engine *eng, const char *rule_id)
{
    struct gcache *c = gcache_of(eng);
    if (!c)
        return -1;
    if (c->gen != eng->config_gen) {
        c->n = 0;
        c->gen = eng->config_gen;
    }
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].rule_id, rule_id) == 0)
            return c->v[i].enabled;
    struct groupsync_config cfg;
    if (groupsync_config_load(eng->st, rule_id, &cfg))
        return -1;
    int enabled = cfg.enabled;
    groupsync_config_clear(&cfg);
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        void *v = realloc(c->v, cap * sizeof *c->v);
        if (!v)
            return enabled;
        c->v = v;
        c->cap = cap;
    }
    sc_strlcpy(c->v[c->n].rule_id, rule_id, sizeof c->v[0].rule_id);
    c->v[c->n++].enabled = enabled;
    return enabled;
}

/* Gives back the job's places (lease budget, rule) and frees it. */
static void gjob_end(struct gjob *j)
{
    struct provision_engine *eng = j->eng;
    eng->leased--;
    if (j->er) {
        j->er->cs->leased--;
        j->er->refs--;
    }
    gjob_free(j);
    engine__rules_collect(eng);
}

/* ---- commits ---- */

/* Opens a transaction in which the job's outcome may be written: 1 when the lease still
 * holds, 0 when it was taken over (the transaction is closed), -1 on a store error. */
static int gtx_begin(struct gjob *j)
{
    struct store *st = j->eng->st;
    if (store_begin(st))
        return -1;
    int held = 0;
    if (store_sync_outbox_held(st, j->eng->owner, &j->item, &held)) {
        store_rollback(st);
        return -1;
    }
    if (!held) {
        store_rollback(st);
        SC_WARN("engine.lease_lost", "rule=%s group=%s (outcome not applied)", rule_id_of(j),
                j->group_id);
        return 0;
    }
    return 1;
}

/* Appends the log entry of an operation (inside the open transaction); the operation is
 * counted in the metrics when the transaction commits (gtx_close). */
static enum sc_err glog(struct gjob *j, const char *action, const char *status, int http,
                        const char *changes, const char *error)
{
    j->op_action = action;
    j->op_status = status;
    struct store_sync_log_entry le = {.rule_id = rule_id_of(j),
                                      .user_id = j->item.user_id,
                                      .username = display_of(j),
                                      .action = action,
                                      .status = status,
                                      .http_status = http,
                                      .changes = changes,
                                      .error = error};
    return store_sync_log_append(j->eng->st, &le);
}

static char *members_changes(size_t n)
{
    char buf[96];
    snprintf(buf, sizeof buf, "[{\"attribute\":\"members\",\"old\":null,\"new\":%zu}]", n);
    return sc_strdup(buf);
}

static void gnext(struct gjob *j);
static void gfinish(struct gjob *j, int retry);
static void gstore_failed(struct gjob *j);

/* Opens the transaction that records a call's outcome: 1 when open (the lease holds);
 * 0 when the job has ended instead (the lease was taken over, or a store error: the
 * item is retried). */
static int gtx_open(struct gjob *j)
{
    j->op_action = j->op_status = NULL;
    j->op_members = 0;
    int t = gtx_begin(j);
    if (t < 0)
        gstore_failed(j);
    else if (t == 0)
        gjob_end(j);
    return t > 0;
}

/* Commits the open transaction when err is SC_OK and counts its operation: 1. Else (or
 * when the commit fails) rolls back and retries the item: 0, the job has ended. */
static int gtx_close(struct gjob *j, enum sc_err err)
{
    if (!err)
        err = store_commit(j->eng->st);
    if (err) {
        store_rollback(j->eng->st);
        gstore_failed(j);
        return 0;
    }
    gmetrics_count(j);
    return 1;
}

/* A store failure while recording: the item is retried (its next lease reads the group
 * back, as after a crash). */
static void gstore_failed(struct gjob *j)
{
    SC_ERROR("engine.group_commit_failed", "rule=%s group=%s (retried)", rule_id_of(j),
             j->group_id);
    snprintf(j->last_error, sizeof j->last_error, "the outcome could not be recorded");
    gfinish(j, 1);
}

/* ---- finishing ---- */

/* Touches the groups that hold this one as a member (nested mode) after it was linked
 * or unlinked. Inside a transaction. */
static enum sc_err touch_parents(struct gjob *j, int64_t now)
{
    if (!j->cfg.nested || j->index < 0)
        return SC_OK;
    const struct directory_groups *g = gtree(j->eng);
    if (!g || (size_t)j->index >= directory_groups_count(g) ||
        strcmp(directory_groups_id_at(g, (size_t)j->index), j->group_id) != 0)
        return SC_OK;
    const uint32_t *parents = NULL;
    size_t np = directory_groups_parents_at(g, (size_t)j->index, &parents);
    enum sc_err err = SC_OK;
    for (size_t p = 0; p < np && !err; p++) {
        char key[STORE_SYNC_ID_MAX];
        snprintf(key, sizeof key, GROUPSYNC_ITEM_PREFIX "%s",
                 directory_groups_id_at(g, parents[p]));
        err = store_sync_outbox_touch(j->eng->st, rule_id_of(j), key, 0, STORE_SYNC_LANE_LIVE, now);
    }
    return err;
}

/* Ends the job: the item done (or retried later), the link's state recorded. */
static void gfinish(struct gjob *j, int retry)
{
    int t = gtx_begin(j);
    if (t <= 0) {
        gjob_end(j);
        return;
    }
    struct store *st = j->eng->st;
    int64_t now = sc_clock_now_ms();
    enum sc_err err = SC_OK;
    int held = 0;
    if (retry) {
        int shift = j->item.attempts < 7 ? j->item.attempts - 1 : 6;
        int64_t wait = (int64_t)GJOB_RETRY_MS << (shift > 0 ? shift : 0);
        if (wait > GJOB_RETRY_MAX)
            wait = GJOB_RETRY_MAX;
        err = store_sync_outbox_retry(st, &j->item, now + wait, &held);
    } else {
        err = store_sync_outbox_done(st, &j->item, &held);
    }
    if (!err && held && j->has_link) {
        const char *state = retry       ? GROUPSYNC_STATE_FAILED
                            : j->braked ? GROUPSYNC_STATE_BRAKED
                                        : GROUPSYNC_STATE_SYNCED;
        sc_strlcpy(j->link.state, state, sizeof j->link.state);
        free(j->link.last_error);
        j->link.last_error = retry && j->last_error[0] ? sc_strdup(j->last_error) : NULL;
        free(j->link.name);
        j->link.name = display_of(j) ? sc_strdup(display_of(j)) : NULL;
        err = store_groupsync_link_put(st, &j->link);
    }
    if (!err && held && !retry)
        err = store_sync_rule_touch(st, rule_id_of(j), now);
    if (!err)
        err = store_commit(st);
    else
        store_rollback(st);
    if (err)
        SC_ERROR("engine.group_commit_failed", "rule=%s group=%s error=%s", rule_id_of(j),
                 j->group_id, sc_err_name(err));
    gjob_end(j);
}

/* A call failed: logged, the link's error set, the item retried later. */
static void gfail(struct gjob *j, const char *action, const char *method,
                  const struct http_multi_result *res, const char *why)
{
    char text[GJOB_ERR_MAX];
    if (why) {
        snprintf(text, sizeof text, "%s", why);
    } else if (res->status == 0) {
        snprintf(text, sizeof text, "%s: no response: %s", method,
                 res->error[0] ? res->error : "transport error");
    } else {
        json_t *body = res->body.len ? json_loadb(res->body.data, res->body.len, 0, NULL) : NULL;
        const char *words = json_string_value(json_object_get(body, "detail"));
        snprintf(text, sizeof text, "%s answered %ld%s%.400s", method, res->status,
                 words ? ": " : "", words ? words : "");
        json_decref(body);
    }
    connection_error_text(conn_of(j), engine__current_token(j->eng, &j->call), text, strlen(text),
                          j->last_error, sizeof j->last_error);
    j->last_status = res ? (int)res->status : 0;
    if (!gtx_open(j))
        return;
    if (glog(j, action, "FAILED", j->last_status, NULL, j->last_error) || store_commit(j->eng->st))
        store_rollback(j->eng->st);
    else
        gmetrics_count(j);
    SC_WARN("engine.group_failed", "rule=%s group=%s error=\"%s\"", rule_id_of(j), j->group_id,
            j->last_error);
    gfinish(j, 1);
}

/* ---- what the target should hold ---- */

static json_t *attrs_for(const struct groupsync_config *cfg, const json_t *group,
                         const char *group_id)
{
    json_t *a = json_object();
    const char *dn = groupsync_source_value(cfg->display_name, group);
    json_object_set_new(a, "displayName", json_string(dn ? dn : group_id));
    if (cfg->has_external_id) {
        const char *x = groupsync_source_value(cfg->external_id, group);
        if (x)
            json_object_set_new(a, "externalId", json_string(x));
    }
    return a;
}

static json_t *want_attrs(const struct gjob *j)
{
    return attrs_for(&j->cfg, j->group, j->group_id);
}

static int have_add(void *arg, const char *target_member_id, const char *member_id,
                    const char *kind)
{
    struct groupsync_members *m = arg;
    return groupsync_members_add(m, target_member_id, member_id,
                                 kind && strcmp(kind, "group") == 0) != SC_OK;
}

/* Adds user_id to want when the rule provisions it (a link with a target account that
 * is not disabled, deleted or out of scope). */
static enum sc_err want_user(struct store *st, const char *rule_id, const char *user_id,
                             struct groupsync_members *want)
{
    char target[256];
    int found = 0;
    enum sc_err err =
        store_groupsync_user_target(st, rule_id, user_id, target, sizeof target, &found);
    if (!err && found)
        err = groupsync_members_add(want, target, user_id, 0);
    return err;
}

/* A growing list of ids (new strings). */
struct idlist {
    char **v;
    size_t n, cap;
};

static enum sc_err idlist_add(struct idlist *l, const char *id)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return SC_ERR_NOMEM;
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = sc_strdup(id)))
        return SC_ERR_NOMEM;
    l->n++;
    return SC_OK;
}

static void idlist_clear(struct idlist *l)
{
    for (size_t k = 0; k < l->n; k++)
        free(l->v[k]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Appends the effective user ids of group gid to l. Errors as
 * directory_group_effective_members (SC_ERR_NOT_FOUND: the group is gone). */
static enum sc_err effective_ids(struct store *st, const char *gid, struct idlist *l)
{
    char *after = NULL;
    enum sc_err err = SC_OK;
    for (;;) {
        json_t *page = NULL;
        struct sc_error e = {0};
        err = directory_group_effective_members(st, gid, after, GJOB_PAGE, &page, &e);
        size_t i, got = json_array_size(page);
        json_t *it;
        json_array_foreach(page, i, it)
        {
            const char *id = json_string_value(json_object_get(it, "id"));
            if (id && !err)
                err = idlist_add(l, id);
        }
        free(after);
        after =
            got ? sc_strdup(json_string_value(json_object_get(json_array_get(page, got - 1), "id")))
                : NULL;
        json_decref(page);
        if (err || got < GJOB_PAGE)
            break;
    }
    free(after);
    return err;
}

/* The members rule_id wants on group_id's target group (sorted), per cfg: the users it
 * provisions among the group's effective members (flatten), or among its direct members
 * and dynamic matches plus its linked child groups (nested). */
static enum sc_err want_members(struct store *st, const char *rule_id,
                                const struct groupsync_config *cfg, const char *group_id,
                                int is_dynamic, struct groupsync_members *want)
{
    enum sc_err err = SC_OK;
    struct idlist mine = {0}, skip = {0}, children = {0};
    if (!cfg->nested) {
        err = effective_ids(st, group_id, &mine);
        for (size_t k = 0; k < mine.n && !err; k++)
            err = want_user(st, rule_id, mine.v[k], want);
        goto done;
    }
    /* direct users and child groups (pushed groups, linked) */
    char *cursor = NULL;
    for (;;) {
        json_t *page = NULL;
        char *next = NULL;
        struct sc_error e = {0};
        err = directory_group_members(st, group_id, cursor, GJOB_PAGE, &page, &next, &e);
        size_t i;
        json_t *it;
        json_array_foreach(page, i, it)
        {
            const char *type = json_string_value(json_object_get(it, "type"));
            const char *id = json_string_value(json_object_get(it, "id"));
            if (err || !type || !id)
                continue;
            if (strcmp(type, "user") == 0) {
                err = want_user(st, rule_id, id, want);
                continue;
            }
            if (strcmp(type, "group") != 0 || (err = idlist_add(&children, id)))
                continue;
            struct store_group_link cl;
            if (store_groupsync_link_get(st, rule_id, id, &cl) == SC_OK) {
                if (cl.target_id && strcmp(cl.state, GROUPSYNC_STATE_FAILED) != 0)
                    err = groupsync_members_add(want, cl.target_id, id, 1);
                store_groupsync_link_clear(&cl);
            }
        }
        json_decref(page);
        free(cursor);
        cursor = next;
        if (err || !cursor)
            break;
    }
    free(cursor);
    /* a dynamic group's matches: its effective users not reached through a child */
    if (!err && is_dynamic) { /* a group gone meanwhile has no members */
        err = effective_ids(st, group_id, &mine);
        for (size_t c = 0; c < children.n && (!err || err == SC_ERR_NOT_FOUND); c++)
            err = effective_ids(st, children.v[c], &skip);
        if (err == SC_ERR_NOT_FOUND)
            err = SC_OK;
        for (size_t k = 0; k < mine.n && !err; k++) {
            int skipped = 0;
            for (size_t x = 0; x < skip.n && !skipped; x++)
                skipped = strcmp(skip.v[x], mine.v[k]) == 0;
            if (!skipped)
                err = want_user(st, rule_id, mine.v[k], want);
        }
    }
done:
    idlist_clear(&mine);
    idlist_clear(&skip);
    idlist_clear(&children);
    groupsync_members_sort(want);
    return err;
}

/* The members the job's rule wants on its target group (sorted). */
static enum sc_err compute_want(struct gjob *j, struct groupsync_members *want)
{
    if (!j->in_scope)
        return SC_OK;
    return want_members(j->eng->st, rule_id_of(j), &j->cfg, j->group_id, j->is_dynamic, want);
}

/* ---- steps ---- */

static void gdispatch(struct gjob *j, enum gstep step)
{
    j->step = step;
    engine__dispatch(j->eng, &j->call);
}

/* The members a target's group resource lists (its "members" values). */
static void members_from(const json_t *res, struct groupsync_members *m)
{
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(res, "members"), i, it)
    {
        const char *v = json_string_value(json_object_get(it, "value"));
        const char *type = json_string_value(json_object_get(it, "type"));
        if (v)
            groupsync_members_add(m, v, NULL, type && strcasecmp(type, "Group") == 0);
    }
    groupsync_members_sort(m);
}

/* Records that the target group holds exactly m now (inside a transaction): member ids
 * already known are kept. */
static enum sc_err record_members(struct gjob *j, struct groupsync_members *m)
{
    struct store *st = j->eng->st;
    /* keep the directory ids recorded before for the same target ids */
    for (size_t i = 0; i < m->n; i++) {
        if (m->v[i].member_id)
            continue;
        for (size_t k = 0; k < j->have.n; k++)
            if (strcmp(j->have.v[k].target_id, m->v[i].target_id) == 0 && j->have.v[k].member_id) {
                m->v[i].member_id = sc_strdup(j->have.v[k].member_id);
                break;
            }
    }
    enum sc_err err = store_groupsync_members_clear(st, rule_id_of(j), j->group_id);
    for (size_t i = 0; i < m->n && !err; i++)
        err = store_groupsync_member_put(st, rule_id_of(j), j->group_id, m->v[i].target_id,
                                         m->v[i].member_id, m->v[i].is_group ? "group" : "user");
    if (!err) {
        groupsync_members_clear(&j->have);
        j->have = *m;
        memset(m, 0, sizeof *m);
    }
    return err;
}

static void set_sent_from(struct gjob *j, const json_t *res)
{
    json_t *sent = json_object();
    const json_t *dn = json_object_get(res, "displayName");
    const json_t *x = json_object_get(res, "externalId");
    if (json_is_string(dn))
        json_object_set(sent, "displayName", (json_t *)dn);
    if (json_is_string(x))
        json_object_set(sent, "externalId", (json_t *)x);
    free(j->link.sent);
    j->link.sent = sc_json_dump(sent);
    json_decref(sent);
}

/* The attributes of want that old (the attributes last sent; NULL: none) does not hold
 * as they are: a new array of {"attribute", "old", "new"}, as logged. */
static json_t *attr_changes(const json_t *old, const json_t *want)
{
    json_t *ch = json_array();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)want, k, v)
    {
        json_t *o = json_object_get(old, k);
        if (!o || !json_equal(o, v))
            json_array_append_new(ch, json_pack("{s:s, s:O, s:O}", "attribute", k, "old",
                                                o ? o : json_null(), "new", v));
    }
    return ch;
}

/* attr_changes as the log's "changes" text (new). */
static char *changes_from(const json_t *old, const json_t *want)
{
    json_t *ch = attr_changes(old, want);
    char *text = sc_json_dump(ch);
    json_decref(ch);
    return text;
}

/* The target group is gone (404): unlinked, looked up or created again. */
static void group_gone(struct gjob *j)
{
    if (!gtx_open(j))
        return;
    free(j->link.target_id);
    j->link.target_id = NULL;
    groupsync_members_clear(&j->have);
    enum sc_err err = store_groupsync_members_clear(j->eng->st, rule_id_of(j), j->group_id);
    if (!err)
        err = store_groupsync_link_put(j->eng->st, &j->link);
    if (!gtx_close(j, err))
        return;
    j->looked_up = j->refreshed = j->diffed = 0;
    j->uncertain = 0;
    gnext(j);
}

static void on_lookup(struct gjob *j, const struct http_multi_result *res)
{
    if (res->status != 200) {
        gfail(j, "LINK", "GET (look-up)", res, NULL);
        return;
    }
    json_t *body = json_loadb(res->body.data, res->body.len, 0, NULL);
    const char *want = json_string_value(json_object_get(j->want_attrs, "displayName"));
    /* the group of exactly that displayName, else the one group whose displayName
     * differs only in case (displayName is caseExact false, RFC 7643 §4.2) */
    const json_t *found = NULL, *folded = NULL;
    size_t i, nfolded = 0;
    json_t *r;
    json_array_foreach(json_object_get(body, "Resources"), i, r)
    {
        const char *dn = json_string_value(json_object_get(r, "displayName"));
        if (!dn || !want || !json_string_value(json_object_get(r, "id")))
            continue;
        if (strcmp(dn, want) == 0) {
            found = r;
            break;
        }
        if (strcasecmp(dn, want) == 0) {
            folded = r;
            nfolded++;
        }
    }
    if (!found && nfolded == 1)
        found = folded;
    j->looked_up = 1;
    if (!found) {
        json_decref(body);
        gnext(j);
        return;
    }
    if (!gtx_open(j)) {
        json_decref(body);
        return;
    }
    free(j->link.target_id);
    j->link.target_id = sc_strdup(json_string_value(json_object_get(found, "id")));
    set_sent_from(j, found);
    sc_strlcpy(j->link.state, GROUPSYNC_STATE_PENDING, sizeof j->link.state);
    j->has_link = 1;
    /* a listing may leave members out (excludedAttributes, or a target that never lists
     * them): the group is read whole next */
    int listed = json_is_array(json_object_get(found, "members"));
    struct groupsync_members m = {0};
    members_from(found, &m);
    enum sc_err err = store_groupsync_link_put(j->eng->st, &j->link);
    if (!err)
        err = record_members(j, &m);
    groupsync_members_clear(&m);
    if (!err)
        err = glog(j, "LINK", "SUCCESS", (int)res->status, NULL, NULL);
    if (!err)
        err = touch_parents(j, sc_clock_now_ms());
    json_decref(body);
    if (!gtx_close(j, err))
        return;
    j->refreshed = listed;
    j->uncertain = !listed;
    gnext(j);
}

static void on_created(struct gjob *j, const struct http_multi_result *res)
{
    if (res->status == 409) {
        /* made meanwhile (or by an attempt whose answer was lost): look it up again */
        if (++j->conflicts >= GJOB_MAX_CONFLICTS) {
            gfail(j, "CREATE", "POST", res,
                  "the target refuses the group as a duplicate (409) but no group with its "
                  "displayName is found by a look-up");
            return;
        }
        j->looked_up = 0;
        gnext(j);
        return;
    }
    if (res->status != 201 && res->status != 200) {
        gfail(j, "CREATE", "POST", res, NULL);
        return;
    }
    char id[256];
    json_t *body = NULL;
    if (!engine__scan_top_id(res->body.data, res->body.len, id, sizeof id)) {
        body = json_loadb(res->body.data, res->body.len, 0, NULL);
        const char *s = json_string_value(json_object_get(body, "id"));
        sc_strlcpy(id, s ? s : "", sizeof id);
    }
    json_decref(body);
    if (!id[0]) {
        gfail(j, "CREATE", "POST", res, "the target's answer to the create holds no id");
        return;
    }
    if (!gtx_open(j))
        return;
    free(j->link.target_id);
    j->link.target_id = sc_strdup(id);
    free(j->link.sent);
    j->link.sent = sc_json_dump(j->want_attrs);
    sc_strlcpy(j->link.state, GROUPSYNC_STATE_PENDING, sizeof j->link.state);
    j->has_link = 1;
    struct groupsync_members none = {0};
    char *changes = changes_from(NULL, j->want_attrs);
    enum sc_err err = store_groupsync_link_put(j->eng->st, &j->link);
    if (!err)
        err = record_members(j, &none);
    if (!err)
        err = glog(j, "CREATE", "SUCCESS", (int)res->status, changes, NULL);
    if (!err)
        err = touch_parents(j, sc_clock_now_ms());
    free(changes);
    if (!gtx_close(j, err))
        return;
    j->refreshed = 1;
    j->uncertain = 0;
    gnext(j);
}

static void on_read(struct gjob *j, const struct http_multi_result *res)
{
    if (res->status == 404) {
        group_gone(j);
        return;
    }
    if (res->status != 200) {
        gfail(j, "UPDATE", "GET", res, NULL);
        return;
    }
    json_t *body = json_loadb(res->body.data, res->body.len, 0, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        gfail(j, "UPDATE", "GET", res, "the target's group is not a JSON object");
        return;
    }
    if (!gtx_open(j)) {
        json_decref(body);
        return;
    }
    struct groupsync_members m = {0};
    members_from(body, &m);
    set_sent_from(j, body);
    enum sc_err err = store_groupsync_link_put(j->eng->st, &j->link);
    if (!err)
        err = record_members(j, &m);
    groupsync_members_clear(&m);
    json_decref(body);
    if (!gtx_close(j, err))
        return;
    j->refreshed = 1;
    j->uncertain = 0;
    j->diffed = 0;
    gnext(j);
}

static void on_renamed(struct gjob *j, const struct http_multi_result *res)
{
    if (res->status == 404) {
        group_gone(j);
        return;
    }
    if (res->status < 200 || res->status > 299) {
        gfail(j, "UPDATE", "PATCH", res, NULL);
        return;
    }
    if (!gtx_open(j))
        return;
    json_t *old = j->link.sent ? json_loads(j->link.sent, 0, NULL) : NULL;
    char *changes = changes_from(old, j->want_attrs);
    json_decref(old);
    free(j->link.sent);
    j->link.sent = sc_json_dump(j->want_attrs);
    enum sc_err err = store_groupsync_link_put(j->eng->st, &j->link);
    if (!err)
        err = glog(j, "UPDATE", "SUCCESS", (int)res->status, changes, NULL);
    free(changes);
    if (!gtx_close(j, err))
        return;
    gnext(j);
}

static void on_patched(struct gjob *j, const struct http_multi_result *res)
{
    if (res->status == 404) {
        group_gone(j);
        return;
    }
    if (res->status == 400 && !j->batch_add && ++j->refreshes <= GJOB_MAX_REFRESH) {
        /* a member to remove is not there (noTarget): read what the group holds */
        j->refreshed = 0;
        j->uncertain = 1;
        j->diffed = 0;
        gnext(j);
        return;
    }
    if (res->status < 200 || res->status > 299) {
        gfail(j, j->batch_add ? "MEMBERS_ADD" : "MEMBERS_REMOVE", "PATCH", res, NULL);
        return;
    }
    if (!gtx_open(j))
        return;
    struct store *st = j->eng->st;
    enum sc_err err = SC_OK;
    struct groupsync_member *v = j->batch_add ? &j->adds.v[j->add_pos] : &j->removes.v[j->rm_pos];
    for (size_t i = 0; i < j->batch_n && !err; i++)
        err = j->batch_add
                  ? store_groupsync_member_put(st, rule_id_of(j), j->group_id, v[i].target_id,
                                               v[i].member_id, v[i].is_group ? "group" : "user")
                  : store_groupsync_member_delete(st, rule_id_of(j), j->group_id, v[i].target_id);
    char *changes = members_changes(j->batch_n);
    if (!err)
        err = glog(j, j->batch_add ? "MEMBERS_ADD" : "MEMBERS_REMOVE", "SUCCESS", (int)res->status,
                   changes, NULL);
    j->op_members = j->batch_n;
    free(changes);
    if (!gtx_close(j, err))
        return;
    if (j->batch_add)
        j->add_pos += j->batch_n;
    else
        j->rm_pos += j->batch_n;
    j->batch_n = 0;
    gnext(j);
}

static void on_deleted(struct gjob *j, const struct http_multi_result *res)
{
    if (res->status != 404 && (res->status < 200 || res->status > 299)) {
        gfail(j, "DELETE", "DELETE", res, NULL);
        return;
    }
    if (!gtx_open(j))
        return;
    enum sc_err err = store_groupsync_link_delete(j->eng->st, rule_id_of(j), j->group_id);
    if (!err)
        err = glog(j, "DELETE", "SUCCESS", (int)res->status, NULL, NULL);
    if (!err)
        err = touch_parents(j, sc_clock_now_ms());
    if (!gtx_close(j, err))
        return;
    j->has_link = 0;
    gfinish(j, 0);
}

/* Unlinks a group whose members were all removed (onRemove removeMembers): the group
 * stays on the target, no longer the rule's. */
static void gunlink(struct gjob *j)
{
    if (!gtx_open(j))
        return;
    int linked = j->link.target_id != NULL;
    enum sc_err err = store_groupsync_link_delete(j->eng->st, rule_id_of(j), j->group_id);
    if (!err && linked)
        err = glog(j, "UNLINK", "SUCCESS", 0, NULL, NULL);
    if (!err && linked)
        err = touch_parents(j, sc_clock_now_ms());
    if (!gtx_close(j, err))
        return;
    j->has_link = 0;
    gfinish(j, 0);
}

/* Computes the diff once (and after each read of the group), with the brake: 0, -1 on
 * a store error, -2 when the job has ended (gtx_open). */
static int gdiff(struct gjob *j)
{
    struct groupsync_members want = {0};
    groupsync_members_clear(&j->adds);
    groupsync_members_clear(&j->removes);
    j->add_pos = j->rm_pos = 0;
    enum sc_err err = compute_want(j, &want);
    if (!err)
        err = groupsync_diff(&j->have, &want, &j->adds, &j->removes);
    groupsync_members_clear(&want);
    if (err)
        return -1;
    j->diffed = 1;
    j->braked = 0;
    if (j->removes.n && !(j->item.flags & SYNC_ITEM_ALLOW_REMOVE) &&
        groupsync_brake_holds(j->removes.n, j->have.n)) {
        j->braked = 1;
        char msg[300];
        snprintf(msg, sizeof msg,
                 "held by the brake: %zu member removals of %zu members (more than %d%% and "
                 "%d); resync the rule with allow=true to let them go",
                 j->removes.n, j->have.n, GROUPSYNC_BRAKE_PERCENT, GROUPSYNC_BRAKE_MIN);
        SC_WARN("engine.group_braked", "rule=%s group=%s removals=%zu members=%zu", rule_id_of(j),
                j->group_id, j->removes.n, j->have.n);
        if (!gtx_open(j))
            return -2;
        if (glog(j, "MEMBERS_REMOVE", "UNSYNCED", 0, NULL, msg) || store_commit(j->eng->st))
            store_rollback(j->eng->st);
        else
            gmetrics_count(j);
    }
    return 0;
}

/* Plans the next call, or finishes. */
static void gnext(struct gjob *j)
{
    if (!j->in_scope) {
        if (!j->has_link || !j->link.target_id) {
            if (j->has_link)
                gunlink(j);
            else
                gfinish(j, 0);
            return;
        }
        if (j->cfg.remove_delete) {
            gdispatch(j, G_DELETE);
            return;
        }
    } else {
        if (!j->link.target_id) {
            gdispatch(j, j->looked_up ? G_CREATE : G_LOOKUP);
            return;
        }
        if (j->uncertain && !j->refreshed) {
            gdispatch(j, G_READ);
            return;
        }
        json_t *sent = j->link.sent ? json_loads(j->link.sent, 0, NULL) : NULL;
        json_t *ch = attr_changes(sent, j->want_attrs);
        int same = json_array_size(ch) == 0;
        json_decref(ch);
        json_decref(sent);
        if (!same) {
            gdispatch(j, G_RENAME);
            return;
        }
    }
    if (!j->diffed) {
        int d = gdiff(j);
        if (d == -2) /* the job has ended */
            return;
        if (d < 0) {
            gstore_failed(j);
            return;
        }
    }
    size_t per = (size_t)j->cfg.members_per_request;
    if (j->add_pos < j->adds.n) {
        j->batch_add = 1;
        j->batch_n = j->adds.n - j->add_pos < per ? j->adds.n - j->add_pos : per;
        gdispatch(j, G_PATCH);
        return;
    }
    if (!j->braked && j->rm_pos < j->removes.n) {
        j->batch_add = 0;
        j->batch_n = j->removes.n - j->rm_pos < per ? j->removes.n - j->rm_pos : per;
        gdispatch(j, G_PATCH);
        return;
    }
    if (!j->in_scope && !j->braked) {
        gunlink(j);
        return;
    }
    gfinish(j, 0);
}

/* ---- sending ---- */

static void on_gresponse(void *arg, const struct http_multi_result *res)
{
    struct gjob *j = arg;
    j->er->cs->inflight--;
    engine__metrics_latency(j->eng, rule_id_of(j), res->total_ms / 1000.0, 1);
    int failed = res->status == 0 || res->status >= 500 || res->status == 429;
    engine__conn_health(j->eng, j->er->cs, failed);
    if (res->status == 401)
        engine__token_invalidate(j->eng, &j->call);
    switch (j->step) {
    case G_LOOKUP:
        on_lookup(j, res);
        break;
    case G_CREATE:
        on_created(j, res);
        break;
    case G_READ:
        on_read(j, res);
        break;
    case G_RENAME:
        on_renamed(j, res);
        break;
    case G_PATCH:
        on_patched(j, res);
        break;
    case G_DELETE:
        on_deleted(j, res);
        break;
    }
}

static const char *step_action(const struct gjob *j)
{
    switch (j->step) {
    case G_LOOKUP:
        return "LINK";
    case G_CREATE:
        return "CREATE";
    case G_READ:
    case G_RENAME:
        return "UPDATE";
    case G_PATCH:
        return j->batch_add ? "MEMBERS_ADD" : "MEMBERS_REMOVE";
    case G_DELETE:
        return "DELETE";
    }
    return "UPDATE";
}

void engine__group_unsent(struct provision_engine *eng, struct call *call, const char *why)
{
    (void)eng;
    struct gjob *j = (struct gjob *)call;
    j->er->cs->inflight--;
    gfail(j, step_action(j), "call", NULL, why);
}

void engine__group_send(struct provision_engine *eng, struct call *call)
{
    struct gjob *j = (struct gjob *)call;
    const struct connection *c = conn_of(j);
    struct sc_buf url;
    sc_buf_init(&url, 0);
    char **headers = NULL;
    char *body = NULL;
    json_t *doc = NULL;
    const char *token = NULL;
    char why[300];
    int t = engine__token(eng, &j->call, &token, why, sizeof why);
    if (t == 0) {
        j->er->cs->inflight--; /* queued until the token arrives */
        goto done;
    }
    if (t < 0) {
        engine__group_unsent(eng, call, why);
        goto done;
    }
    const char *method = "GET";
    int v11 = j->er->sr->dialect == SCIM_DIALECT_11;
    sc_buf_puts(&url, c->base_url);
    sc_buf_puts(&url, c->groups_resource);
    if (j->step != G_LOOKUP && j->step != G_CREATE) {
        char *esc = http_client_escape(j->link.target_id);
        sc_buf_printf(&url, "/%s", esc ? esc : "");
        free(esc);
    }
    switch (j->step) {
    case G_LOOKUP: {
        struct sc_buf f;
        sc_buf_init(&f, 0);
        sc_buf_puts(&f, "displayName eq ");
        scim_filter_quote(json_string_value(json_object_get(j->want_attrs, "displayName")), &f);
        char *q = http_client_escape(f.data ? f.data : "");
        sc_buf_printf(&url, "?filter=%s", q ? q : "");
        free(q);
        sc_buf_free(&f);
        break;
    }
    case G_CREATE:
        method = "POST";
        doc = json_deep_copy(j->want_attrs);
        json_object_set_new(doc, "schemas",
                            json_pack("[s]", v11 ? SCIM11_SCHEMA_CORE
                                                 : "urn:ietf:params:scim:schemas:core:2.0:Group"));
        json_object_set_new(doc, "members", json_array());
        break;
    case G_READ:
        break;
    case G_RENAME: {
        method = "PATCH";
        json_t *value = json_deep_copy(j->want_attrs);
        if (v11) { /* 1.1: the attributes sent replace the target's */
            doc = value;
            json_object_set_new(doc, "schemas", json_pack("[s]", SCIM11_SCHEMA_CORE));
        } else {
            doc = json_pack("{s:[s], s:[{s:s, s:o}]}", "schemas",
                            "urn:ietf:params:scim:api:messages:2.0:PatchOp", "Operations", "op",
                            "replace", "value", value);
        }
        break;
    }
    case G_PATCH: {
        method = "PATCH";
        const struct groupsync_member *batch =
            j->batch_add ? &j->adds.v[j->add_pos] : &j->removes.v[j->rm_pos];
        doc = v11 ? groupsync_patch_body_11(batch, j->batch_n, j->batch_add)
                  : groupsync_patch_body(batch, j->batch_n, j->batch_add);
        break;
    }
    case G_DELETE:
        method = "DELETE";
        break;
    }
    enum sc_err err = connection_request_headers(c, token, &headers);
    if (!err && doc && !(body = sc_json_dump(doc)))
        err = SC_ERR_NOMEM;
    struct http_multi_request req = {.method = method,
                                     .url = url.data,
                                     .headers = (const char *const *)headers,
                                     .body = body,
                                     .body_len = body ? strlen(body) : 0,
                                     .timeout_ms = ENGINE_CALL_TIMEOUT,
                                     .max_response = 256u << 20};
    if (!err)
        err = http_multi_add(eng->multi, &req, on_gresponse, j);
    pthread_mutex_lock(&eng->mlock);
    eng->requests_total++;
    pthread_mutex_unlock(&eng->mlock);
    if (err) {
        snprintf(why, sizeof why, "cannot start the request: %s", sc_strerror(err));
        engine__group_unsent(eng, call, why);
    }
done:
    json_decref(doc);
    connection_headers_free(headers);
    free(body);
    sc_buf_free(&url);
}

/* ---- starting ---- */

void engine__group_start(struct provision_engine *eng, const struct store_sync_item *it)
{
    struct gjob *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->eng = eng;
    j->item = *it;
    j->group_id = j->item.user_id + sizeof GROUPSYNC_ITEM_PREFIX - 1;
    j->call.kind = CALL_GROUP;
    j->call.urgent = it->lane == STORE_SYNC_LANE_LIVE;
    j->call.single = 1;
    j->index = -1;
    eng->leased++;
    j->next = eng->gjobs;
    if (eng->gjobs)
        eng->gjobs->prev = j;
    eng->gjobs = j;
    j->er = engine__rule_find(eng, it->rule_id);
    if (!j->er) {
        gfinish(j, 0); /* the rule is no longer enabled: drop the item */
        return;
    }
    j->er->refs++;
    j->er->cs->leased++;
    j->call.er = j->er;
    struct sc_error e = {0};
    enum sc_err err = groupsync_config_load(eng->st, it->rule_id, &j->cfg);
    if (!err) {
        err = directory_group_get(eng->st, j->group_id, &j->group, &e);
        if (err == SC_ERR_NOT_FOUND)
            err = SC_OK;
    }
    if (!err) {
        err = store_groupsync_link_get(eng->st, it->rule_id, j->group_id, &j->link);
        if (err == SC_OK)
            j->has_link = 1;
        else if (err == SC_ERR_NOT_FOUND) {
            err = SC_OK;
            sc_strlcpy(j->link.rule_id, it->rule_id, sizeof j->link.rule_id);
            sc_strlcpy(j->link.group_id, j->group_id, sizeof j->link.group_id);
        }
    }
    if (!err)
        err = store_groupsync_members_each(eng->st, it->rule_id, j->group_id, have_add, &j->have);
    if (err) {
        snprintf(j->last_error, sizeof j->last_error, "cannot read the group's state");
        gfinish(j, 1);
        return;
    }
    groupsync_members_sort(&j->have);
    const struct directory_groups *g = gtree(eng);
    if (j->group && g) {
        j->index = directory_groups_find(g, j->group_id);
        if (j->index >= 0) {
            j->in_scope = j->cfg.enabled && groupsync_selects(&j->cfg, g, (size_t)j->index);
            j->is_dynamic = directory_groups_dynamic_at(g, (size_t)j->index);
        }
    }
    if (j->in_scope && !j->has_link) {
        j->has_link = 1; /* written with the first outcome */
        sc_strlcpy(j->link.state, GROUPSYNC_STATE_PENDING, sizeof j->link.state);
    }
    j->want_attrs = j->group ? want_attrs(j) : json_object();
    /* A lease taken before may have sent a change whose answer was never recorded: the
     * group is read back before the diff. */
    j->uncertain = it->attempts > 1;
    gnext(j);
}

/* ---- what to touch ---- */

static enum sc_err touch(struct provision_engine *eng, const char *rule_id, const char *group_id,
                         int flags, int64_t now)
{
    char key[STORE_SYNC_ID_MAX];
    snprintf(key, sizeof key, GROUPSYNC_ITEM_PREFIX "%s", group_id);
    return store_sync_outbox_touch(eng->st, rule_id, key, flags, STORE_SYNC_LANE_LIVE, now);
}

static int collect_link(void *arg, const struct store_group_link *l)
{
    return idlist_add(arg, l->group_id) != SC_OK;
}

static int collect_group(void *arg, const char *group_id)
{
    return idlist_add(arg, group_id) != SC_OK;
}

/* Touches every group rule_id pushes now or has linked. */
static enum sc_err touch_every(struct provision_engine *eng, const char *rule_id,
                               const struct groupsync_config *cfg, int flags, int64_t now)
{
    struct idlist linked = {0};
    enum sc_err err = store_groupsync_link_each(eng->st, rule_id, collect_link, &linked);
    for (size_t i = 0; i < linked.n && !err; i++)
        err = touch(eng, rule_id, linked.v[i], flags, now);
    idlist_clear(&linked);
    const struct directory_groups *g = gtree(eng);
    size_t n = g && cfg->enabled ? directory_groups_count(g) : 0;
    for (size_t i = 0; i < n && !err; i++)
        if (groupsync_selects(cfg, g, i))
            err = touch(eng, rule_id, directory_groups_id_at(g, i), flags, now);
    return err;
}

/* Touches group i, its ancestors (their effective members change with it) and, for a
 * structural change, its descendants (an "under" selection follows the nesting). */
static enum sc_err touch_around(struct provision_engine *eng, const char *rule_id,
                                const struct groupsync_config *cfg,
                                const struct directory_groups *g, size_t i, int structural,
                                int64_t now)
{
    size_t n = directory_groups_count(g);
    unsigned char *mark = calloc(n, 1);
    uint32_t *stack = malloc(n * sizeof *stack);
    enum sc_err err = SC_OK;
    if (!mark || !stack) {
        err = SC_ERR_NOMEM;
        goto done;
    }
    size_t top = 0;
    mark[i] = 1;
    stack[top++] = (uint32_t)i;
    while (top) {
        uint32_t k = stack[--top];
        const uint32_t *parents = NULL;
        size_t np = directory_groups_parents_at(g, k, &parents);
        for (size_t p = 0; p < np; p++)
            if (!mark[parents[p]]) {
                mark[parents[p]] = 1;
                stack[top++] = parents[p];
            }
    }
    if (structural) { /* descendants: groups that have a marked-down group as a parent */
        unsigned char *down = calloc(n, 1);
        if (!down) {
            err = SC_ERR_NOMEM;
            goto done;
        }
        down[i] = 1;
        for (int changed = 1; changed;) {
            changed = 0;
            for (size_t k = 0; k < n; k++) {
                if (down[k])
                    continue;
                const uint32_t *parents = NULL;
                size_t np = directory_groups_parents_at(g, k, &parents);
                for (size_t p = 0; p < np; p++)
                    if (down[parents[p]]) {
                        down[k] = 1;
                        changed = 1;
                        break;
                    }
            }
        }
        for (size_t k = 0; k < n; k++)
            mark[k] |= down[k];
        free(down);
    }
    for (size_t k = 0; k < n && !err; k++) {
        if (!mark[k])
            continue;
        const char *gid = directory_groups_id_at(g, k);
        int linked = 0;
        if (!(cfg->enabled && groupsync_selects(cfg, g, k))) {
            struct store_group_link l;
            if (store_groupsync_link_get(eng->st, rule_id, gid, &l) == SC_OK) {
                linked = 1;
                store_groupsync_link_clear(&l);
            }
            if (!linked)
                continue;
        }
        err = touch(eng, rule_id, gid, 0, now);
    }
done:
    free(mark);
    free(stack);
    return err;
}

enum sc_err engine__group_events(struct provision_engine *eng, const struct store_event *ev,
                                 size_t n, int64_t now)
{
    enum sc_err err = SC_OK;
    int have_group_events = 0;
    int64_t tree_seq = 0;
    unsigned char *structural = calloc(n ? n : 1, 1);
    if (!structural)
        return SC_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(ev[i].kind, "group.", 6) == 0)
            have_group_events = 1;
        if ((structural[i] = (unsigned char)tree_event(eng->st, &ev[i])))
            tree_seq = ev[i].seq;
    }
    if (tree_seq) { /* the tree changed: here at once, on the other nodes by the setting */
        struct gcache *c = gcache_of(eng);
        if (c)
            c->tree_stale = 1;
        char v[32];
        snprintf(v, sizeof v, "%" PRId64, tree_seq);
        err = store_setting_set(eng->st, GROUP_TREE_KEY, v);
    }
    /* rules deleted: forget their groups (the rule is gone from the engine's list) */
    for (size_t i = 0; i < n && !err; i++)
        if (strcmp(ev[i].kind, "rule.changed") == 0 && !engine__rule_find(eng, ev[i].object_id) &&
            ev[i].detail && strstr(ev[i].detail, "\"deleted\""))
            err = store_groupsync_forget(eng->st, ev[i].object_id);
    for (struct eng_rule *er = eng->rules; er && !err; er = er->next) {
        if (er->retired)
            continue;
        const char *rid = er->sr->rc->rule.id;
        struct groupsync_config cfg;
        if ((err = groupsync_config_load(eng->st, rid, &cfg)))
            break;
        int all = 0, flags = 0;
        for (size_t i = 0; i < n; i++) {
            const struct store_event *x = &ev[i];
            if (strcmp(x->object_id, rid) != 0)
                continue;
            if (strcmp(x->kind, "rule.groups") == 0 || strcmp(x->kind, "rule.changed") == 0)
                all = 1;
            else if (strcmp(x->kind, "rule.resync") == 0) {
                all = 1;
                if (x->detail && strstr(x->detail, "\"allow\":true"))
                    flags |= SYNC_ITEM_ALLOW_REMOVE;
            }
        }
        if (all) {
            err = touch_every(eng, rid, &cfg, flags, now);
        } else if (have_group_events && cfg.enabled) {
            const struct directory_groups *g = NULL;
            for (size_t i = 0; i < n && !err; i++) {
                const struct store_event *x = &ev[i];
                if (strncmp(x->kind, "group.", 6) != 0)
                    continue;
                if (!g && !(g = gtree(eng))) {
                    err = SC_ERR_DB;
                    break;
                }
                long idx = directory_groups_find(g, x->object_id);
                if (idx < 0) { /* deleted: its own link is unlinked or deleted */
                    struct store_group_link l;
                    if (store_groupsync_link_get(eng->st, rid, x->object_id, &l) == SC_OK) {
                        store_groupsync_link_clear(&l);
                        err = touch(eng, rid, x->object_id, 0, now);
                    }
                    continue;
                }
                err = touch_around(eng, rid, &cfg, g, (size_t)idx, structural[i], now);
            }
        }
        groupsync_config_clear(&cfg);
    }
    free(structural);
    return err;
}

enum sc_err engine__group_user_done(struct provision_engine *eng, const char *rule_id,
                                    const char *user_id, const json_t *user)
{
    int pushes = rule_pushes_groups(eng, rule_id);
    if (pushes == 0)
        return SC_OK;
    struct groupsync_config cfg;
    enum sc_err err = groupsync_config_load(eng->st, rule_id, &cfg);
    if (err || !cfg.enabled) {
        groupsync_config_clear(&cfg);
        return err;
    }
    int64_t now = sc_clock_now_ms();
    char target[256];
    int active = 0;
    struct idlist rec = {0};
    unsigned char *member = NULL;
    json_t *direct = NULL;
    const struct directory_groups *g = gtree(eng);
    size_t n = g ? directory_groups_count(g) : 0;
    err = store_groupsync_user_target(eng->st, rule_id, user_id, target, sizeof target, &active);
    if (!err)
        err = store_groupsync_member_groups(eng->st, rule_id, user_id, collect_group, &rec);
    if (err)
        goto done;
    member = calloc(n ? n : 1, 1);
    if (!member) {
        err = SC_ERR_NOMEM;
        goto done;
    }
    if (user && active && n) {
        /* the tree holds no memberships: the user's direct groups come from the store */
        if ((err = store_user_direct_groups(eng->st, user_id, &direct)))
            goto done;
        if (directory_groups_mark_user_in(g, user, direct, member, NULL)) {
            err = SC_ERR_NOMEM;
            goto done;
        }
    }
    /* groups the user should be in but is not recorded in, and the reverse */
    for (size_t i = 0; i < n && !err; i++) {
        if (!member[i] || !groupsync_selects(&cfg, g, i))
            continue;
        const char *gid = directory_groups_id_at(g, i);
        int recorded = 0;
        for (size_t k = 0; k < rec.n && !recorded; k++)
            recorded = strcmp(rec.v[k], gid) == 0;
        if (!recorded)
            err = touch(eng, rule_id, gid, 0, now);
    }
    for (size_t k = 0; k < rec.n && !err; k++) {
        long i = g ? directory_groups_find(g, rec.v[k]) : -1;
        if (i < 0 || !member[i] || !groupsync_selects(&cfg, g, (size_t)i))
            err = touch(eng, rule_id, rec.v[k], 0, now);
    }
done:
    json_decref(direct);
    free(member);
    idlist_clear(&rec);
    groupsync_config_clear(&cfg);
    return err;
}

/* ---- dry run ---- */

static int plan_link(void *arg, const struct store_group_link *l)
{
    json_t *links = arg;
    json_t *v = json_pack("{s:s, s:o, s:o, s:o}", "groupId", l->group_id, "targetId",
                          l->target_id ? json_string(l->target_id) : json_null(), "sent",
                          l->sent ? json_loads(l->sent, 0, NULL) : json_null(), "name",
                          l->name ? json_string(l->name) : json_null());
    return !v || json_object_set_new(links, l->group_id, v) != 0;
}

enum sc_err engine__group_plan(struct store *st, const char *rule_id, json_t *plan,
                               struct sc_error *e)
{
    struct groupsync_config cfg;
    struct directory_groups *g = NULL;
    json_t *links = json_object();
    json_t *creates = json_array(), *renames = json_array(), *members = json_array(),
           *removals = json_array();
    int64_t nadds = 0, nremoves = 0, nbraked = 0;
    enum sc_err err = groupsync_config_load(st, rule_id, &cfg);
    if (err)
        goto done;
    if ((err = store_groupsync_link_each(st, rule_id, plan_link, links)))
        goto done;
    if (cfg.enabled && (err = directory_groups_load_tree(st, &g, e)))
        goto done;
    size_t n = g ? directory_groups_count(g) : 0;
    for (size_t i = 0; i < n && !err; i++) {
        if (!groupsync_selects(&cfg, g, i))
            continue;
        const char *gid = directory_groups_id_at(g, i);
        json_t *group = NULL;
        if (directory_group_get(st, gid, &group, e) != SC_OK)
            continue;
        json_t *attrs = attrs_for(&cfg, group, gid);
        const char *name = directory_groups_name_at(g, i);
        struct groupsync_members want = {0}, have = {0}, adds = {0}, removes = {0};
        err = want_members(st, rule_id, &cfg, gid, directory_groups_dynamic_at(g, i), &want);
        json_t *link = json_object_get(links, gid);
        const char *tid = json_string_value(json_object_get(link, "targetId"));
        if (!err && !tid) {
            json_array_append_new(creates,
                                  json_pack("{s:s, s:s, s:O, s:I}", "groupId", gid, "name", name,
                                            "attributes", attrs, "members", (json_int_t)want.n));
            nadds += (int64_t)want.n;
        } else if (!err) {
            json_t *ch = attr_changes(json_object_get(link, "sent"), attrs);
            if (json_array_size(ch))
                json_array_append_new(renames,
                                      json_pack("{s:s, s:s, s:s, s:O}", "groupId", gid, "name",
                                                name, "targetId", tid, "changes", ch));
            json_decref(ch);
            err = store_groupsync_members_each(st, rule_id, gid, have_add, &have);
            groupsync_members_sort(&have);
            if (!err)
                err = groupsync_diff(&have, &want, &adds, &removes);
            int braked = !err && groupsync_brake_holds(removes.n, have.n);
            if (!err && (adds.n || removes.n))
                json_array_append_new(members, json_pack("{s:s, s:s, s:s, s:I, s:I, s:b}",
                                                         "groupId", gid, "name", name, "targetId",
                                                         tid, "add", (json_int_t)adds.n, "remove",
                                                         (json_int_t)removes.n, "braked", braked));
            nadds += (int64_t)adds.n;
            nremoves += (int64_t)removes.n;
            nbraked += braked;
        }
        json_object_del(links, gid); /* left: linked groups out of scope */
        groupsync_members_clear(&want);
        groupsync_members_clear(&have);
        groupsync_members_clear(&adds);
        groupsync_members_clear(&removes);
        json_decref(attrs);
        json_decref(group);
    }
    const char *gid;
    json_t *link;
    json_object_foreach(links, gid, link)
    {
        const char *tid = json_string_value(json_object_get(link, "targetId"));
        if (!tid || err)
            continue;
        struct groupsync_members have = {0};
        err = store_groupsync_members_each(st, rule_id, gid, have_add, &have);
        json_array_append_new(removals,
                              json_pack("{s:s, s:O, s:s, s:s, s:I}", "groupId", gid, "name",
                                        json_object_get(link, "name"), "targetId", tid, "action",
                                        cfg.remove_delete ? "DELETE" : "REMOVE_MEMBERS", "remove",
                                        (json_int_t)have.n));
        groupsync_members_clear(&have);
    }
    if (!err)
        json_object_set_new(
            plan, "groups",
            json_pack("{s:O, s:O, s:O, s:O, s:{s:I, s:I, s:I, s:I, s:I, s:I}}", "creates", creates,
                      "renames", renames, "members", members, "removals", removals, "counts",
                      "creates", (json_int_t)json_array_size(creates), "renames",
                      (json_int_t)json_array_size(renames), "memberAdds", (json_int_t)nadds,
                      "memberRemoves", (json_int_t)nremoves, "braked", (json_int_t)nbraked,
                      "removals", (json_int_t)json_array_size(removals)));
    else if (!e->message[0])
        sc_error_set(e, err, NULL, "cannot plan the rule's groups");
done:
    groupsync_config_clear(&cfg);
    directory_groups_free(g);
    json_decref(links);
    json_decref(creates);
    json_decref(renames);
    json_decref(members);
    json_decref(removals);
    return err;
}
