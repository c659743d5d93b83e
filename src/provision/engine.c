/* The provisioning engine (see engine.h): one thread that loops over
 *   1. change events after its durable cursor -> outbox items (and resync requests),
 *      cursor and items written in one transaction;
 *   2. pending full resyncs (engine_resync.c over provision/outbox.c), stepped a few
 *      chunks per round;
 *   3. leasing due outbox items per rule, within each connection's budget, and running a
 *      job for each (engine_job.c): plan, send over the libcurl multi loop within the
 *      connection's limits (engine_conn.c), read the answer, plan again;
 *   4. committing finished jobs' results in one transaction per batch, fenced by their
 *      leases, and renewing the leases of what is still in flight.
 * It sleeps in http_multi_poll_fd (libcurl itself runs on the multi's I/O thread, see
 * http/multi.c), which provision_engine_wake interrupts. */
#include "provision/engine.h"
#include "base/clock.h"
#include "base/id.h"
#include "base/json.h"
#include "base/log.h"
#include "directory/directory.h"
#include "http/client.h"
#include "http/multi.h"
#include "provision/caps.h"
#include "provision/connection.h"
#include "provision/engine_internal.h"
#include "provision/oauth.h"
#include "provision/outbox.h"
#include "provision/rule.h"
#include "provision/secrets.h"
#include "store/store_events.h"
#include "store/store_provision.h"
#include "store/store_sync.h"

#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *rule_id_of(const struct eng_rule *er)
{
    return er->sr->rc->rule.id;
}

/* ---- metrics ---- */

static const double latency_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                        0.5,   1.0,  2.5,   5.0,  10.0};
#define NBOUNDS (sizeof latency_bounds / sizeof latency_bounds[0])
static const char *const metric_actions[] = {"CREATE", "UPDATE", "ENABLE", "DISABLE",
                                             "DELETE", "LINK",   "SKIP",   "VERIFY"};
static const char *const metric_statuses[] = {"SUCCESS", "FAILED", "RETRY", "UNSYNCED", "DRIFTED"};
#define NACTIONS (sizeof metric_actions / sizeof metric_actions[0])
#define NSTATUSES (sizeof metric_statuses / sizeof metric_statuses[0])

_Static_assert(NBOUNDS == ENGINE_NBOUNDS, "latency bounds");
_Static_assert(NACTIONS == ENGINE_NACTIONS, "metric actions");
_Static_assert(NSTATUSES == ENGINE_NSTATUSES, "metric statuses");

/* ---- metrics helpers ---- */

static struct rule_metrics *metrics_for(struct provision_engine *eng, const char *rule_id)
{
    for (size_t i = 0; i < eng->nmetrics; i++)
        if (strcmp(eng->metrics[i].rule_id, rule_id) == 0)
            return &eng->metrics[i];
    if (eng->nmetrics == eng->capmetrics) {
        size_t ncap = eng->capmetrics ? eng->capmetrics * 2 : 8;
        struct rule_metrics *g = realloc(eng->metrics, ncap * sizeof *g);
        if (!g)
            return NULL;
        eng->metrics = g;
        eng->capmetrics = ncap;
    }
    struct rule_metrics *m = &eng->metrics[eng->nmetrics++];
    memset(m, 0, sizeof *m);
    sc_strlcpy(m->rule_id, rule_id, sizeof m->rule_id);
    return m;
}

void engine__metrics_op(struct provision_engine *eng, const char *rule_id, const char *action,
                        const char *status)
{
    size_t a = NACTIONS, s = NSTATUSES;
    for (size_t i = 0; i < NACTIONS; i++)
        if (strcmp(metric_actions[i], action) == 0)
            a = i;
    for (size_t i = 0; i < NSTATUSES; i++)
        if (strcmp(metric_statuses[i], status) == 0)
            s = i;
    if (a == NACTIONS || s == NSTATUSES)
        return;
    pthread_mutex_lock(&eng->mlock);
    struct rule_metrics *m = metrics_for(eng, rule_id);
    if (m)
        m->ops[a][s]++;
    pthread_mutex_unlock(&eng->mlock);
}

void engine__metrics_latency(struct provision_engine *eng, const char *rule_id, double seconds,
                             int requests)
{
    pthread_mutex_lock(&eng->mlock);
    struct rule_metrics *m = metrics_for(eng, rule_id);
    if (m) {
        size_t b = 0;
        while (b < NBOUNDS && seconds > latency_bounds[b])
            b++;
        m->lat_buckets[b]++;
        m->lat_sum += seconds;
        m->lat_count++;
    }
    eng->requests_total += (uint64_t)requests;
    pthread_mutex_unlock(&eng->mlock);
}

void engine__metrics_bulk(struct provision_engine *eng, size_t ops)
{
    pthread_mutex_lock(&eng->mlock);
    eng->requests_total++;
    eng->bulk_requests_total++;
    eng->bulk_operations_total += ops;
    pthread_mutex_unlock(&eng->mlock);
}

const char *provision_engine_node_id(const struct provision_engine *eng)
{
    return eng ? eng->owner : NULL;
}

void provision_engine_set_listen(struct provision_engine *eng, const char *listen)
{
    if (!eng || !listen)
        return;
    pthread_mutex_lock(&eng->mlock);
    sc_strlcpy(eng->listen, listen, sizeof eng->listen);
    pthread_mutex_unlock(&eng->mlock);
}

void provision_engine_metrics(struct provision_engine *eng, struct sc_buf *out)
{
    if (!eng)
        return;
    pthread_mutex_lock(&eng->mlock);
    sc_buf_puts(out, "# HELP scimitar_sync_operations_total Provisioning operations by rule, "
                     "action and status.\n# TYPE scimitar_sync_operations_total counter\n");
    for (size_t i = 0; i < eng->nmetrics; i++) {
        struct rule_metrics *m = &eng->metrics[i];
        for (size_t a = 0; a < NACTIONS; a++)
            for (size_t s = 0; s < NSTATUSES; s++)
                if (m->ops[a][s])
                    sc_buf_printf(out,
                                  "scimitar_sync_operations_total{rule=\"%s\",action=\"%s\","
                                  "status=\"%s\"} %" PRIu64 "\n",
                                  m->rule_id, metric_actions[a], metric_statuses[s], m->ops[a][s]);
    }
    sc_buf_puts(out, "# HELP scimitar_sync_request_duration_seconds SCIM call latency by rule.\n"
                     "# TYPE scimitar_sync_request_duration_seconds histogram\n");
    for (size_t i = 0; i < eng->nmetrics; i++) {
        struct rule_metrics *m = &eng->metrics[i];
        uint64_t cum = 0;
        for (size_t b = 0; b < NBOUNDS; b++) {
            cum += m->lat_buckets[b];
            sc_buf_printf(out,
                          "scimitar_sync_request_duration_seconds_bucket{rule=\"%s\",le=\"%g\"} "
                          "%" PRIu64 "\n",
                          m->rule_id, latency_bounds[b], cum);
        }
        cum += m->lat_buckets[NBOUNDS];
        sc_buf_printf(out,
                      "scimitar_sync_request_duration_seconds_bucket{rule=\"%s\",le=\"+Inf\"} "
                      "%" PRIu64 "\n"
                      "scimitar_sync_request_duration_seconds_sum{rule=\"%s\"} %.6f\n"
                      "scimitar_sync_request_duration_seconds_count{rule=\"%s\"} %" PRIu64 "\n",
                      m->rule_id, cum, m->rule_id, m->lat_sum, m->rule_id, m->lat_count);
    }
    sc_buf_printf(out,
                  "# HELP scimitar_sync_events_total Directory change events the engine "
                  "handled.\n# TYPE scimitar_sync_events_total counter\nscimitar_sync_events_total "
                  "%" PRIu64 "\n# HELP scimitar_sync_resyncs_total Full resync passes "
                  "finished.\n# TYPE scimitar_sync_resyncs_total counter\n"
                  "scimitar_sync_resyncs_total %" PRIu64
                  "\n# HELP scimitar_sync_requests_total SCIM requests sent to targets.\n"
                  "# TYPE scimitar_sync_requests_total counter\n"
                  "scimitar_sync_requests_total %" PRIu64
                  "\n# HELP scimitar_sync_bulk_requests_total SCIM Bulk requests sent (each "
                  "counts once in scimitar_sync_requests_total).\n"
                  "# TYPE scimitar_sync_bulk_requests_total counter\n"
                  "scimitar_sync_bulk_requests_total %" PRIu64
                  "\n# HELP scimitar_sync_bulk_operations_total Operations carried by SCIM Bulk "
                  "requests.\n# TYPE scimitar_sync_bulk_operations_total counter\n"
                  "scimitar_sync_bulk_operations_total %" PRIu64
                  "\n# HELP scimitar_sync_outbox_pending Users waiting for delivery, all rules "
                  "(read once a second).\n# TYPE scimitar_sync_outbox_pending gauge\n"
                  "scimitar_sync_outbox_pending "
                  "%" PRId64 "\n# HELP scimitar_cluster_nodes Live nodes sharing the engine's "
                  "work (this node's view; connection limits are divided by it).\n"
                  "# TYPE scimitar_cluster_nodes gauge\nscimitar_cluster_nodes %d\n",
                  eng->events_total, eng->resyncs_total, eng->requests_total,
                  eng->bulk_requests_total, eng->bulk_operations_total, eng->outbox_pending,
                  eng->nodes);
    pthread_mutex_unlock(&eng->mlock);
}

/* ---- rules and connections ---- */

struct eng_rule *engine__rule_find(struct provision_engine *eng, const char *id)
{
    for (struct eng_rule *er = eng->rules; er; er = er->next)
        if (!er->retired && strcmp(rule_id_of(er), id) == 0)
            return er;
    return NULL;
}

void engine__rules_collect(struct provision_engine *eng)
{
    struct eng_rule **pp = &eng->rules;
    while (*pp) {
        struct eng_rule *er = *pp;
        if (er->retired && er->refs == 0) {
            *pp = er->next;
            sync_rule_free(er->sr);
            free(er);
        } else {
            pp = &er->next;
        }
    }
}

/* What is known of r's target (provision/caps.h) that changes how the engine talks to
 * it: no PATCH (updates go by PUT), filters ignored (look-ups replaced by listings),
 * Bulk offered (writes travel in Bulk requests: set on its connection's state cs). */
static void rule_load_caps(struct provision_engine *eng, struct sync_rule *r, struct conn_state *cs)
{
    json_t *caps = NULL;
    if (provision_caps_get(eng->st, r->rc->conn->id, &caps) != SC_OK)
        return;
    r->patch_unsupported = json_is_false(json_object_get(caps, "patch"));
    json_t *learnt = json_object_get(caps, "learnt");
    r->filter_ignored =
        json_is_false(json_object_get(json_object_get(caps, "filter"), "honoured")) ||
        json_is_false(json_object_get(learnt, "filterHonoured"));
    engine__conn_bulk(cs, r->rc->conn, r->dialect, caps);
    json_decref(caps);
}

/* The unmapped attributes still to clear on r's target (stored with the rule's sync
 * state), attached to r. */
static void rule_load_clears(struct provision_engine *eng, struct sync_rule *r)
{
    char *text = NULL;
    if (store_sync_rule_clears_get(eng->st, r->rc->rule.id, &text) == SC_OK && text) {
        json_t *a = json_loads(text, 0, NULL);
        if (json_is_array(a) && json_array_size(a) > 0)
            r->clear = json_incref(a);
        json_decref(a);
    }
    free(text);
}

/* Reloads the enabled rules. Rule ids that are active now and were not before are
 * written into *fresh (new array, *nfresh of them) so their first resync starts. */
static enum sc_err rules_reload(struct provision_engine *eng, char (**fresh)[STORE_SYNC_ID_MAX],
                                size_t *nfresh)
{
    *fresh = NULL;
    *nfresh = 0;
    struct rule_compiled **v = NULL;
    size_t n = 0, skipped = 0;
    struct sc_error e = {0};
    enum sc_err err = rule_load_enabled(eng->st, eng->key, &v, &n, &skipped, &e);
    if (err) {
        if (!eng->reload_failing) /* retried at every round until it works: said once */
            SC_WARN("engine.rules_load_failed", "error=%s (retried)", sc_err_name(err));
        eng->reload_failing = 1;
        return err;
    }
    eng->reload_failing = 0;
    char(*ids)[STORE_SYNC_ID_MAX] = calloc(n ? n : 1, sizeof *ids);
    if (!ids) {
        rule_compiled_free_all(v, n);
        return SC_ERR_NOMEM;
    }
    struct eng_rule *added = NULL;
    size_t nf = 0;
    for (size_t i = 0; i < n; i++) {
        struct rule_compiled *rc = v[i];
        v[i] = NULL;
        if (!engine__rule_find(eng, rc->rule.id))
            sc_strlcpy(ids[nf++], rc->rule.id, STORE_SYNC_ID_MAX);
        struct sync_rule *sr = NULL;
        struct sc_error se = {0};
        char rid[SC_UUID_LEN + 1];
        sc_strlcpy(rid, rc->rule.id, sizeof rid);
        if (sync_rule_new(rc, &sr, &se)) {
            SC_WARN("engine.rule_skipped", "rule=%s reason=\"%s\"", rid, se.message);
            continue;
        }
        struct eng_rule *er = calloc(1, sizeof *er);
        if (!er) {
            sync_rule_free(sr);
            continue;
        }
        rule_load_clears(eng, sr);
        er->sr = sr;
        er->cs = engine__conn(eng, sr->rc->conn);
        if (!er->cs) {
            sync_rule_free(sr);
            free(er);
            continue;
        }
        rule_load_caps(eng, sr, er->cs);
        er->next = added;
        added = er;
    }
    free(v);
    for (struct eng_rule *er = eng->rules; er; er = er->next)
        er->retired = 1;
    /* prepend the new set */
    struct eng_rule *tail = added;
    while (tail && tail->next)
        tail = tail->next;
    if (tail) {
        tail->next = eng->rules;
        eng->rules = added;
    }
    engine__rules_collect(eng);
    if (nf == 0) {
        free(ids);
        ids = NULL;
    }
    *fresh = ids;
    *nfresh = nf;
    SC_DEBUG("engine.rules_loaded", "rules=%zu skipped=%zu", n, skipped);
    return SC_OK;
}

const struct directory_groups *engine__groups(struct provision_engine *eng)
{
    if (eng->groups && !eng->groups_stale)
        return eng->groups;
    struct directory_groups *g = NULL;
    struct sc_error e = {0};
    if (directory_groups_load(eng->st, &g, &e)) {
        SC_WARN("engine.groups_load_failed", "message=\"%s\"", e.message);
        return eng->groups;
    }
    directory_groups_free(eng->groups);
    eng->groups = g;
    eng->groups_stale = 0;
    return g;
}

/* ---- events ---- */

static int detail_flag(const char *detail, const char *key)
{
    if (!detail)
        return 0;
    json_t *d = json_loads(detail, 0, NULL);
    int v = d && json_is_true(json_object_get(d, key));
    json_decref(d);
    return v;
}

static int detail_is(const char *detail, const char *key, const char *value)
{
    if (!detail)
        return 0;
    json_t *d = json_loads(detail, 0, NULL);
    const char *v = json_string_value(json_object_get(d, key));
    int eq = v && strcmp(v, value) == 0;
    json_decref(d);
    return eq;
}

/* The user whose direct membership a group.members event records (new string), or
 * NULL when the member is a group or the event does not say. */
static char *member_user(struct provision_engine *eng, const struct store_event *x)
{
    json_t *d = x->detail ? json_loads(x->detail, 0, NULL) : NULL;
    char *out = NULL;
    const char *uid = json_string_value(json_object_get(d, "userId"));
    const char *mid = json_string_value(json_object_get(d, "memberId"));
    if (uid && *uid) {
        out = sc_strdup(uid);
    } else if (mid && *mid) {
        json_t *u = NULL;
        struct sc_error e = {0};
        if (directory_user_get(eng->st, mid, &u, &e) == SC_OK)
            out = sc_strdup(mid);
        json_decref(u);
    }
    json_decref(d);
    return out;
}

static int is_config_event(const char *kind)
{
    return strncmp(kind, "rule.", 5) == 0 || strncmp(kind, "connection.", 11) == 0;
}

static int is_fresh(char (*fresh)[STORE_SYNC_ID_MAX], size_t n, const char *rule_id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(fresh[i], rule_id) == 0)
            return 1;
    return 0;
}

/* The configuration generation: the sequence number of the last change event that
 * changed rules, connections, groups or populations, kept in the settings by whichever
 * node handled it, so the other nodes sharing the database reload what they run. */
#define CONFIG_GEN_KEY "sync.config_gen"

static int64_t config_gen_read(struct provision_engine *eng)
{
    char *v = NULL;
    int64_t gen = 0;
    if (store_setting_get(eng->st, CONFIG_GEN_KEY, &v) == SC_OK)
        sc_parse_int64(v, 0, INT64_MAX, &gen);
    free(v);
    return gen;
}

/* Reloads the rules (and the groups snapshot) when another node saw the configuration
 * change. No resync is requested: the node that handled the change did that. */
static void config_follow(struct provision_engine *eng, int64_t gen)
{
    eng->gen_checked_at = sc_clock_mono_ms();
    if (gen == eng->config_gen)
        return;
    char(*fresh)[STORE_SYNC_ID_MAX] = NULL;
    size_t nfresh = 0;
    if (rules_reload(eng, &fresh, &nfresh) == SC_OK)
        eng->config_gen = gen;
    free(fresh);
    eng->groups_stale = 1;
}

void engine__config_current(struct provision_engine *eng)
{
    if (eng->clustered)
        config_follow(eng, config_gen_read(eng));
}

/* Requests a full resync of rule_id for a change recorded by event seq, unless a resync
 * pass of the rule began after that event was committed (it saw the change already):
 * with events handled in several batches, the state a rule's first resync reads often
 * includes the changes of the next batch. */
static enum sc_err resync_for(struct provision_engine *eng, const char *rule_id, int64_t seq)
{
    struct store_sync_rule sr;
    enum sc_err err = store_sync_rule_get(eng->st, rule_id, &sr);
    if (err)
        return err;
    if (sr.resync_events_seq >= seq)
        return SC_OK;
    return store_sync_rule_request_resync(eng->st, rule_id, 0, 0);
}

static int is_gen_event(const char *kind)
{
    return (is_config_event(kind) && strcmp(kind, "rule.resync") != 0) ||
           strncmp(kind, "group.", 6) == 0 || strncmp(kind, "population.", 11) == 0;
}

/* Handles one batch of events. Returns the number handled (0 when none), -1 on error.
 * The batch is read and derived into work inside one transaction that holds the engine
 * cursor's lock, so with several nodes each event is handled once, in order. */
static int process_events(struct provision_engine *eng)
{
    struct store_event *ev = NULL;
    size_t n = 0;
    int64_t last = 0, cur = 0;
    char(*fresh)[STORE_SYNC_ID_MAX] = NULL;
    size_t nfresh = 0;
    if (store_events_last_seq(eng->st, &last) != SC_OK || last <= eng->cursor) {
        if (eng->clustered && sc_clock_mono_ms() - eng->gen_checked_at >= ENGINE_GEN_CHECK_MS)
            config_follow(eng, config_gen_read(eng));
        return 0;
    }
    enum sc_err err = store_begin(eng->st);
    if (err)
        goto fail;
    if ((err = store_sync_cursor_lock(eng->st, &cur)) ||
        (err = store_events_after(eng->st, cur, ENGINE_EVENT_BATCH, &ev, &n))) {
        store_rollback(eng->st);
        goto fail;
    }
    if (n == 0) { /* another node handled them */
        store_rollback(eng->st);
        eng->cursor = cur;
        return 0;
    }
    /* the rules as every node last saw them, then as this batch changes them */
    config_follow(eng, config_gen_read(eng));
    int reload = 0, gen = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_config_event(ev[i].kind) && strcmp(ev[i].kind, "rule.resync") != 0)
            reload = 1;
        if (is_gen_event(ev[i].kind))
            gen = 1;
    }
    if (reload)
        rules_reload(eng, &fresh, &nfresh);
    int64_t now = sc_clock_now_ms();
    for (size_t f = 0; f < nfresh && !err; f++)
        err = resync_for(eng, fresh[f], ev[n - 1].seq);
    for (size_t i = 0; i < n && !err; i++) {
        const struct store_event *x = &ev[i];
        if (strncmp(x->kind, "user.", 5) == 0) {
            /* A rule that became active in this batch is left out: its first resync (run
             * after this batch) covers every user as it is then, with one listing of the
             * target, and a job per user beside it would race that listing. */
            for (struct eng_rule *er = eng->rules; er && !err; er = er->next)
                if (!er->retired && !is_fresh(fresh, nfresh, rule_id_of(er)))
                    err = store_sync_outbox_touch(eng->st, rule_id_of(er), x->object_id, 0,
                                                  STORE_SYNC_LANE_LIVE, now);
        } else if (strncmp(x->kind, "group.", 6) == 0) {
            eng->groups_stale = 1;
            /* A user joining or leaving a group directly concerns that user only. */
            char *member = strcmp(x->kind, "group.members") == 0 ? member_user(eng, x) : NULL;
            for (struct eng_rule *er = eng->rules; er && !err; er = er->next) {
                if (er->retired || !er->sr->uses_groups ||
                    (member && is_fresh(fresh, nfresh, rule_id_of(er))))
                    continue;
                if (member)
                    err = store_sync_outbox_touch(eng->st, rule_id_of(er), member, 0,
                                                  STORE_SYNC_LANE_LIVE, now);
                else
                    err = resync_for(eng, rule_id_of(er), x->seq);
            }
            free(member);
        } else if (strncmp(x->kind, "population.", 11) == 0) {
            for (struct eng_rule *er = eng->rules; er && !err; er = er->next)
                if (!er->retired)
                    err = resync_for(eng, rule_id_of(er), x->seq);
        } else if (strcmp(x->kind, "rule.resync") == 0) {
            if (engine__rule_find(eng, x->object_id))
                err = store_sync_rule_request_resync(eng->st, x->object_id,
                                                     detail_flag(x->detail, "allow"),
                                                     detail_flag(x->detail, "verify"));
        } else if (strcmp(x->kind, "rule.changed") == 0) {
            if (detail_flag(x->detail, "resync") && engine__rule_find(eng, x->object_id))
                err = resync_for(eng, x->object_id, x->seq);
            if (!err && !engine__rule_find(eng, x->object_id))
                err = detail_is(x->detail, "change", "deleted")
                          ? store_sync_rule_forget(eng->st, x->object_id)
                          : store_sync_outbox_drop_rule(eng->st, x->object_id);
        } else if (strcmp(x->kind, "connection.changed") == 0) {
            if (detail_flag(x->detail, "resync"))
                for (struct eng_rule *er = eng->rules; er && !err; er = er->next)
                    if (!er->retired && strcmp(er->sr->rc->conn->id, x->object_id) == 0)
                        err = resync_for(eng, rule_id_of(er), x->seq);
        }
    }
    if (!err)
        err = engine__group_events(eng, ev, n, now);
    char genv[32];
    snprintf(genv, sizeof genv, "%" PRId64, ev[n - 1].seq);
    if (!err && gen)
        err = store_setting_set(eng->st, CONFIG_GEN_KEY, genv);
    if (!err)
        err = store_sync_cursor_set(eng->st, ev[n - 1].seq);
    if (!err)
        err = store_commit(eng->st);
    else
        store_rollback(eng->st);
    if (err)
        goto fail;
    eng->cursor = ev[n - 1].seq;
    if (gen)
        eng->config_gen = ev[n - 1].seq;
    /* The cursor is shared: what it has passed is handled. Drop it, in chunks. */
    if (eng->cursor - eng->pruned >= ENGINE_PRUNE_EVERY &&
        store_events_prune(eng->st, eng->cursor) == SC_OK)
        eng->pruned = eng->cursor;
    pthread_mutex_lock(&eng->mlock);
    eng->events_total += n;
    pthread_mutex_unlock(&eng->mlock);
    free(fresh);
    store_events_free(ev, n);
    return (int)n;
fail:
    SC_WARN("engine.events_failed", "error=%s", sc_err_name(err));
    free(fresh);
    store_events_free(ev, n);
    return -1;
}

/* ---- leases ---- */

/* How many jobs the connection of a rule may hold now: its share of the lease budget,
 * no more than its rate lets start within a few seconds (so nothing waits in a queue
 * for long while leased; leases are renewed anyway). */
static int conn_budget(const struct conn_state *cs)
{
    int cap = ENGINE_CONN_LEASED;
    if (cs->bulk_ops) {
        /* with Bulk, a request carries up to bulk_ops jobs' writes: a whole number of
         * full requests, at least four of them in flight */
        int per = ENGINE_CONN_LEASED / cs->bulk_ops;
        cap = (per > 4 ? per : 4) * cs->bulk_ops;
        if (cap > ENGINE_BULK_LEASED)
            cap = ENGINE_BULK_LEASED / cs->bulk_ops * cs->bulk_ops;
    }
    if (cs->rate > 0) {
        double r = cs->rate * 4 * (cs->bulk_ops ? cs->bulk_ops : 1);
        if (r < 8)
            r = 8;
        if (r < cap)
            cap = (int)r;
    }
    if (cs->health.quarantined && cap > 8)
        cap = 8;
    return cap - cs->leased;
}

/* Leases due items rule by rule, each within its connection's budget, and starts them.
 * Returns how many. */
static size_t lease_and_start(struct provision_engine *eng)
{
    size_t started = 0;
    size_t nrules = 0;
    for (struct eng_rule *er = eng->rules; er; er = er->next)
        if (!er->retired)
            nrules++;
    if (!nrules)
        return 0;
    size_t first = eng->lease_turn++ % nrules, k = 0;
    for (size_t pass = 0; pass < 2; pass++) {
        k = 0;
        for (struct eng_rule *er = eng->rules; er; er = er->next) {
            if (er->retired)
                continue;
            size_t idx = k++;
            if ((pass == 0 && idx < first) || (pass == 1 && idx >= first))
                continue;
            int room = conn_budget(er->cs);
            int global = ENGINE_MAX_LEASED - eng->leased;
            if (global < room)
                room = global;
            /* one lease transaction per batch of free slots, not per finished job (half
             * the budget when the budget is small) */
            int cap = conn_budget(er->cs) + er->cs->leased;
            int batch = cap < 2 * ENGINE_LEASE_BATCH ? (cap + 1) / 2 : ENGINE_LEASE_BATCH;
            if (room <= 0 || (er->cs->leased > 0 && room < batch))
                continue;
            struct store_sync_item *items = NULL;
            size_t n = 0;
            if (store_sync_outbox_lease(eng->st, eng->owner, rule_id_of(er), sc_clock_now_ms(),
                                        eng->lease_ms, (size_t)room, &items, &n))
                continue;
            struct job *to_load = NULL;
            for (size_t i = 0; i < n; i++) {
                if (engine__group_item(&items[i]))
                    engine__group_start(eng, &items[i]);
                else
                    engine__job_start(eng, &items[i], &to_load);
            }
            if (to_load)
                engine__loader_push(eng, to_load);
            free(items);
            started += n;
        }
    }
    return started;
}

/* The earliest due time of an item a rule with room could lease (INT64_MAX: none). */
static int64_t next_due(struct provision_engine *eng)
{
    int64_t best = INT64_MAX;
    for (struct eng_rule *er = eng->rules; er; er = er->next) {
        if (er->retired || conn_budget(er->cs) <= 0)
            continue;
        int64_t due = INT64_MAX;
        if (store_sync_outbox_next_due(eng->st, rule_id_of(er), &due) == SC_OK && due < best)
            best = due;
    }
    return best;
}

/* Keeps the leases of work still held (waiting in a queue, or on the wire) and the
 * resync claims alive. */
static void renew_leases(struct provision_engine *eng)
{
    int64_t now = sc_clock_mono_ms();
    if (now - eng->renewed_at < eng->lease_ms / 3)
        return;
    eng->renewed_at = now;
    int64_t until = sc_clock_now_ms() + eng->lease_ms;
    if (eng->leased > 0 && store_sync_outbox_renew(eng->st, eng->owner, until) != SC_OK)
        SC_WARN("engine.renew_failed", "leased=%d", eng->leased);
    if (eng->resyncs)
        store_sync_rule_claims_renew(eng->st, eng->owner, until);
}

/* The node's heartbeat: records it, counts the live nodes (their number divides the
 * connections' limits), and takes back the work of nodes that stopped beating. */
static void heartbeat(struct provision_engine *eng)
{
    int64_t mono = sc_clock_mono_ms();
    if (eng->beat_at && mono - eng->beat_at < ENGINE_BEAT_MS)
        return;
    eng->beat_at = mono;
    int64_t now = sc_clock_now_ms();
    struct store_node me = {
        .started_at = eng->started_at, .last_seen_at = now, .leased = eng->leased};
    sc_strlcpy(me.id, eng->owner, sizeof me.id);
    pthread_mutex_lock(&eng->mlock);
    sc_strlcpy(me.listen, eng->listen, sizeof me.listen);
    pthread_mutex_unlock(&eng->mlock);
    if (store_sync_node_beat(eng->st, &me) != SC_OK)
        return;
    struct store_node *v = NULL;
    size_t n = 0;
    if (store_sync_node_list(eng->st, now - ENGINE_NODE_DEAD_MS, &v, &n) == SC_OK) {
        int nodes = n > 0 ? (int)n : 1;
        if (nodes != eng->nodes) {
            SC_INFO("engine.nodes", "live=%d", nodes);
            eng->nodes = nodes;
            engine__conns_share(eng);
        }
    }
    free(v);
    int64_t released = 0;
    if (store_sync_node_reap(eng->st, now - ENGINE_NODE_DEAD_MS, &released) == SC_OK &&
        released > 0)
        SC_WARN("engine.takeover", "released=%" PRId64 " (leases of nodes that stopped)", released);
    if (eng->clustered) { /* the socket changes when the connection was re-opened */
        int fd = -1;
        eng->listen_fd = store_listen(eng->st, &fd) == SC_OK ? fd : -1;
    }
}

/* ---- the loop ---- */

/* Gives the memory the allocator keeps free back to the system once the engine is idle
 * after work (a pass, a sync), at most every ENGINE_TRIM_MS: every thread's arena, so
 * what a large import parsed on an API thread goes back too. */
static void trim_when_idle(struct provision_engine *eng, int busy)
{
    if (busy || eng->leased > 0 || eng->resyncs) {
        eng->worked = 1;
        return;
    }
    int64_t now = sc_clock_mono_ms();
    if (!eng->worked || now - eng->trimmed_at < ENGINE_TRIM_MS)
        return;
    malloc_trim(0);
    eng->worked = 0;
    eng->trimmed_at = now;
}

static void *engine_main(void *arg)
{
    struct provision_engine *eng = arg;
    pthread_setname_np(pthread_self(), "sc-engine"); /* (top, perf, /proc: its CPU apart) */
    char(*fresh)[STORE_SYNC_ID_MAX] = NULL;
    size_t nfresh = 0;
    rules_reload(eng, &fresh, &nfresh);
    free(fresh); /* at start, pending resyncs are in the store already */
    int64_t last_count = 0;
    size_t finished_before = 0; /* finished jobs at the end of the last round */
    eng->renewed_at = sc_clock_mono_ms();
    while (!atomic_load(&eng->stop)) {
        int busy = 0;
        int ev = process_events(eng);
        if (ev > 0)
            busy = 1;
        engine__resyncs(eng);
        if (engine__resyncs_step(eng))
            busy = 1;
        engine__dispatch_waiting(eng);
        if (lease_and_start(eng))
            busy = 1;
        if (engine__loader_drain(eng))
            busy = 1;
        if (eng->gather) /* the new jobs' writes, gathered into Bulk requests */
            engine__dispatch_waiting(eng);
        /* Commit a batch when it is full, when nothing else is in flight, when it holds
         * a live change and the last poll finished nothing more (waiting would not grow
         * it), or when its oldest result has waited ENGINE_COMMIT_WAIT_MS: a slow call of
         * another connection never holds up results that are in. Bulk work alone waits
         * for a fuller batch: each commit rewrites the pages it touched (outbox, links,
         * log and their indexes), so fewer, larger commits write less per user. */
        if (eng->finished && (eng->nfinished >= ENGINE_COMMIT_BATCH || eng->leased == 0 ||
                              http_multi_running(eng->multi) == 0 ||
                              (eng->finished_urgent > 0 && eng->nfinished == finished_before) ||
                              sc_clock_mono_ms() - eng->finished_at >= ENGINE_COMMIT_WAIT_MS))
            engine__flush(eng);
        finished_before = eng->nfinished;
        renew_leases(eng);
        heartbeat(eng);
        trim_when_idle(eng, busy || ev != 0);
        int timeout = 0;
        if (!busy && !eng->finished) {
            int64_t due = next_due(eng);
            int64_t now = sc_clock_now_ms();
            int64_t t = ENGINE_IDLE_POLL_MS;
            if (due != INT64_MAX)
                t = due - now;
            int64_t qw = engine__queue_wait(eng);
            if (qw >= 0 && qw < t)
                t = qw;
            if (t > ENGINE_IDLE_POLL_MS)
                t = ENGINE_IDLE_POLL_MS;
            timeout = t < 0 ? 0 : (int)t;
            if (timeout == 0 && qw >= 0)
                timeout = 1;
        }
        if (timeout > 0 || http_multi_running(eng->multi) > 0)
            http_multi_poll_fd(eng->multi, timeout > 0 ? timeout : 1, eng->listen_fd);
        if (eng->listen_fd >= 0 && store_notified(eng->st) < 0)
            eng->listen_fd = -1; /* the connection broke: listening again at the heartbeat */
        /* (drained otherwise: the next round reads the events) */
        if (eng->finished && http_multi_running(eng->multi) == 0)
            engine__flush(eng);
        if (sc_clock_mono_ms() - last_count > 1000) {
            int64_t pending = 0;
            store_sync_outbox_count(eng->st, NULL, &pending);
            pthread_mutex_lock(&eng->mlock);
            eng->outbox_pending = pending;
            pthread_mutex_unlock(&eng->mlock);
            last_count = sc_clock_mono_ms();
        }
    }
    /* Abandon in-flight transfers and jobs still loading: their items stay leased and
     * are taken back at the next start; commit what finished. */
    engine__loader_stop(eng);
    engine__flush(eng);
    http_client_thread_cleanup();
    return NULL;
}

enum sc_err provision_engine_start(const struct provision_engine_options *opt,
                                   struct provision_engine **out, struct sc_error *e)
{
    /* The engine allocates and frees many small JSON nodes between libcurl's larger
     * buffers; with glibc's fastbins every large allocation first consolidates them
     * (a fifth of the engine's time in profiles). tcache still serves small sizes. */
    mallopt(M_MXFAST, 0);
    /* Each job builds and frees a few kilobytes of JSON: keep freed memory at the top
     * of the heap instead of returning it and growing the heap again per batch (a
     * thousand jobs in flight hold a few MiB). The threshold holds for every thread's
     * arena: higher, each API thread that once parsed a large import kept tens of MiB. */
    mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024);
    mallopt(M_TOP_PAD, 4 * 1024 * 1024);
    struct provision_engine *eng = calloc(1, sizeof *eng);
    if (!eng)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    pthread_mutex_init(&eng->mlock, NULL);
    enum sc_err err = SC_OK;
    eng->dsn = sc_strdup(opt->dsn);
    eng->clustered = store_dsn_is_postgresql(opt->dsn);
    eng->lease_ms = opt->lease_ms > 0
                        ? opt->lease_ms
                        : (eng->clustered ? ENGINE_CLUSTER_LEASE_MS : ENGINE_LEASE_MS);
    eng->listen_fd = -1;
    eng->nodes = 1;
    eng->started_at = sc_clock_now_ms();
    sc_strlcpy(eng->listen, opt->listen ? opt->listen : "", sizeof eng->listen);
    sc_uuid_v4(eng->owner);
    eng->key = secrets_key_shared(opt->key_path, e);
    if (!eng->key) {
        err = e->code ? e->code : SC_ERR_CRYPTO;
        goto fail;
    }
    if ((err = store_open(opt->dsn, &eng->st, e)))
        goto fail;
    if ((err = http_multi_new(0, &eng->multi))) {
        sc_error_set(e, err, NULL, "cannot start the HTTP client");
        goto fail;
    }
    if ((err = oauth_cache_new(NULL, &eng->oauth)))
        goto fail;
    /* One engine serves a SQLite database: leases of a crashed predecessor are ours.
     * Nodes sharing a PostgreSQL database take back the work of a node that stopped by
     * its missing heartbeat instead (and leases expire). */
    store_sync_tune(eng->st);
    if ((!eng->clustered && (err = store_sync_outbox_release_all(eng->st, NULL))) ||
        (err = store_sync_cursor_get(eng->st, &eng->cursor))) {
        sc_error_set(e, err, "db", "cannot read the engine's state");
        goto fail;
    }
    eng->config_gen = config_gen_read(eng);
    if (eng->clustered && store_listen(eng->st, &eng->listen_fd) != SC_OK)
        eng->listen_fd = -1; /* woken by its own API and once a second anyway */
    engine__loader_start(eng, opt->dsn);
    if (pthread_create(&eng->thread, NULL, engine_main, eng) != 0) {
        err = sc_error_set(e, SC_ERR_INTERNAL, NULL, "cannot start the engine thread");
        goto fail;
    }
    eng->started = 1;
    *out = eng;
    return SC_OK;
fail:
    provision_engine_stop(eng);
    return err;
}

void provision_engine_wake(struct provision_engine *eng)
{
    if (eng)
        http_multi_wakeup(eng->multi);
}

/* An orderly stop of a node sharing the database: its outbox leases and resync claims
 * go back at once and it leaves the node list, so the others take its work over now
 * instead of after ENGINE_NODE_DEAD_MS. What it had sent but not recorded is looked up
 * by whoever works the item next, as after a crash. */
static void engine_leave(struct provision_engine *eng)
{
    struct store_node me = {.started_at = eng->started_at, .last_seen_at = 0, .leased = 0};
    sc_strlcpy(me.id, eng->owner, sizeof me.id);
    if (store_sync_outbox_release_all(eng->st, eng->owner) == SC_OK &&
        store_sync_rule_claims_renew(eng->st, eng->owner, 0) == SC_OK &&
        store_sync_node_beat(eng->st, &me) == SC_OK)
        SC_INFO("engine.left", "node=%s (its work is released to the other nodes)", eng->owner);
    else
        SC_WARN("engine.leave_failed",
                "node=%s (the others take its work over when it is "
                "seen dead)",
                eng->owner);
}

void provision_engine_stop(struct provision_engine *eng)
{
    if (!eng)
        return;
    if (eng->started) {
        atomic_store(&eng->stop, 1);
        http_multi_wakeup(eng->multi);
        pthread_join(eng->thread, NULL);
    }
    engine__loader_stop(eng); /* (stopped by the engine thread unless it never ran) */
    /* jobs still waiting or in flight: freed without recording (their leases are taken
     * back at the next start, or at once by another node: see below) */
    http_multi_free(eng->multi);
    if (eng->started && eng->clustered)
        engine_leave(eng);
    engine__bulks_free(eng);
    while (eng->all)
        engine__job_free(eng->all);
    engine__groups_jobs_free(eng);
    engine__resyncs_free(eng);
    for (struct eng_rule *er = eng->rules; er; er = er->next)
        er->retired = 1, er->refs = 0;
    engine__rules_collect(eng);
    engine__conns_free(eng);
    directory_groups_free(eng->groups);
    oauth_cache_free(eng->oauth);
    store_close(eng->st);
    free(eng->metrics);
    free(eng->dsn);
    pthread_mutex_destroy(&eng->mlock);
    free(eng);
}
