/* The provisioning engine (see engine.h): one thread that loops over
 *   1. change events after its durable cursor -> outbox items (and resync requests),
 *      cursor and items written in one transaction;
 *   2. pending full resyncs (provision/outbox.c);
 *   3. leasing due outbox items and running a job for each: plan (provision/planner.c),
 *      send over the libcurl multi loop (http/multi.c) within the connection's limits,
 *      interpret the answer, plan again when a look-up, a 409 or a 404 asks for it;
 *   4. committing finished jobs' results (links, log, outbox) in one transaction per
 *      batch.
 * It sleeps in curl_multi_poll, which provision_engine_wake interrupts. */
#include "provision/engine.h"
#include "base/clock.h"
#include "base/id.h"
#include "base/json.h"
#include "base/log.h"
#include "directory/directory.h"
#include "http/client.h"
#include "http/multi.h"
#include "provision/connection.h"
#include "provision/delivery.h"
#include "provision/oauth.h"
#include "provision/outbox.h"
#include "provision/planner.h"
#include "provision/rule.h"
#include "provision/secrets.h"
#include "scim/filter.h"
#include "scim/message.h"
#include "store/store_directory.h"
#include "store/store_events.h"
#include "store/store_provision.h"
#include "store/store_sync.h"

#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENGINE_MAX_INFLIGHT 256  /* jobs at once */
#define ENGINE_LEASE_MS 300000   /* an item's lease (renewed by finishing it) */
#define ENGINE_EVENT_BATCH 500   /* events per transaction */
#define ENGINE_COMMIT_BATCH 256  /* finished jobs per results transaction */
#define ENGINE_IDLE_POLL_MS 1000 /* longest sleep when nothing is due */
#define ENGINE_MAX_STEPS 6       /* plans per job (look-up, 409, 404 loops) */
#define ENGINE_LIST_MAX 1000000  /* accounts read from one target listing */
#define ENGINE_LEASE_BATCH 32    /* free slots worth a lease transaction */
#define ENGINE_PRUNE_EVERY 10000 /* handled events deleted in chunks of this many */

/* ---- metrics ---- */

static const double latency_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                        0.5,   1.0,  2.5,   5.0,  10.0};
#define NBOUNDS (sizeof latency_bounds / sizeof latency_bounds[0])
static const char *const metric_actions[] = {"CREATE", "UPDATE", "ENABLE", "DISABLE",
                                             "DELETE", "LINK",   "SKIP"};
static const char *const metric_statuses[] = {"SUCCESS", "FAILED", "RETRY", "UNSYNCED"};
#define NACTIONS (sizeof metric_actions / sizeof metric_actions[0])
#define NSTATUSES (sizeof metric_statuses / sizeof metric_statuses[0])

struct rule_metrics {
    char rule_id[STORE_SYNC_ID_MAX];
    uint64_t ops[NACTIONS][NSTATUSES];
    uint64_t lat_buckets[NBOUNDS + 1];
    double lat_sum;
    uint64_t lat_count;
};

/* ---- engine state ---- */

struct eng_rule {
    struct sync_rule *sr;
    int refs;    /* jobs using it */
    int retired; /* replaced by a reload: freed when refs drops to 0 */
    struct eng_rule *next;
};

struct conn_state {
    char id[SC_UUID_LEN + 1];
    int inflight;
    struct delivery_bucket bucket;
    double rate;
    struct delivery_health health;
    int persisted_quarantine; /* what the store says */
    struct conn_state *next;
};

struct job;

struct provision_engine {
    pthread_t thread;
    int started;
    atomic_int stop;
    char *dsn;
    char owner[SC_UUID_LEN + 1];
    const struct secrets_key *key;
    struct store *st;
    struct http_multi *multi;
    struct oauth_cache *oauth;
    struct eng_rule *rules; /* active (not retired) and retired ones */
    struct conn_state *conns;
    struct directory_groups *groups;
    int groups_stale;
    int64_t cursor;
    int64_t pruned;      /* events up to here are deleted */
    int inflight;        /* jobs started and not finished */
    struct job *waiting; /* jobs waiting for a connection slot (FIFO) */
    struct job *waiting_tail;
    struct job *finished; /* jobs whose results wait for the batch commit */
    struct job *all;      /* every live job (freed at stop if still in flight) */
    size_t nfinished;
    int64_t next_wait_ms; /* earliest rate-limit wait among waiting jobs */
    /* metrics (read by other threads) */
    pthread_mutex_t mlock;
    struct rule_metrics *metrics;
    size_t nmetrics, capmetrics;
    uint64_t events_total, resyncs_total, requests_total;
    int64_t outbox_pending;
};

struct job_log {
    const char *action;
    const char *status;
    int http_status;
    char *changes; /* JSON text */
    char *error;
    struct job_log *next;
};

struct job {
    struct provision_engine *eng;
    struct eng_rule *er;
    struct conn_state *cs;
    struct store_sync_item item;
    json_t *user;
    int exists, in_scope, enabled;
    json_t *desired;
    struct store_sync_link link;
    int has_row;
    json_t *sent;
    struct planner_op op;
    int steps;
    int auth_retried;
    int uncertain;
    int link_dirty;
    int retry; /* finish with a retry at retry_at */
    int64_t retry_at;
    int success;    /* at least one call succeeded */
    uint64_t stamp; /* the user's source stamp, read before the user (0 = unknown) */
    struct job_log *logs, *logs_tail;
    struct job *next;
    struct job *all_prev, *all_next; /* the engine's list of every live job */
};

static const char *rule_id_of(const struct eng_rule *er)
{
    return er->sr->rc->rule.id;
}

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

static void metrics_op(struct provision_engine *eng, const char *rule_id, const char *action,
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

static void metrics_latency(struct provision_engine *eng, const char *rule_id, double seconds)
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
    eng->requests_total++;
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
                  "# TYPE scimitar_sync_events_total counter\nscimitar_sync_events_total %" PRIu64
                  "\n# TYPE scimitar_sync_resyncs_total counter\nscimitar_sync_resyncs_total "
                  "%" PRIu64 "\n# TYPE scimitar_sync_requests_total counter\n"
                  "scimitar_sync_requests_total %" PRIu64
                  "\n# TYPE scimitar_sync_outbox_pending gauge\nscimitar_sync_outbox_pending "
                  "%" PRId64 "\n",
                  eng->events_total, eng->resyncs_total, eng->requests_total, eng->outbox_pending);
    pthread_mutex_unlock(&eng->mlock);
}

/* ---- rules and connections ---- */

static struct eng_rule *rule_find(struct provision_engine *eng, const char *id)
{
    for (struct eng_rule *er = eng->rules; er; er = er->next)
        if (!er->retired && strcmp(rule_id_of(er), id) == 0)
            return er;
    return NULL;
}

static void rules_collect(struct provision_engine *eng)
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

static struct conn_state *conn_state_for(struct provision_engine *eng, const struct connection *c)
{
    struct conn_state *cs;
    for (cs = eng->conns; cs; cs = cs->next)
        if (strcmp(cs->id, c->id) == 0)
            break;
    if (!cs) {
        cs = calloc(1, sizeof *cs);
        if (!cs)
            return NULL;
        sc_strlcpy(cs->id, c->id, sizeof cs->id);
        int on = 0;
        store_sync_quarantine_get(eng->st, c->id, &on, NULL, 0);
        cs->persisted_quarantine = on;
        cs->health.quarantined = on;
        cs->rate = -1;
        cs->next = eng->conns;
        eng->conns = cs;
    }
    double rate = (double)c->max_requests_per_second;
    if (rate != cs->rate) {
        delivery_bucket_init(&cs->bucket, rate, sc_clock_mono_ms());
        cs->rate = rate;
    }
    return cs;
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
        SC_WARN("engine.rules_load_failed", "error=%s", sc_err_name(err));
        return err;
    }
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
        if (!rule_find(eng, rc->rule.id))
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
        er->sr = sr;
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
    rules_collect(eng);
    if (nf == 0) {
        free(ids);
        ids = NULL;
    }
    *fresh = ids;
    *nfresh = nf;
    SC_DEBUG("engine.rules_loaded", "rules=%zu skipped=%zu", n, skipped);
    return SC_OK;
}

static const struct directory_groups *groups_get(struct provision_engine *eng)
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

/* Handles one batch of events. Returns the number handled (0 when none), -1 on error. */
static int process_events(struct provision_engine *eng)
{
    struct store_event *ev = NULL;
    size_t n = 0;
    if (store_events_after(eng->st, eng->cursor, ENGINE_EVENT_BATCH, &ev, &n) || n == 0)
        return 0;
    char(*fresh)[STORE_SYNC_ID_MAX] = NULL;
    size_t nfresh = 0;
    int reload = 0;
    for (size_t i = 0; i < n; i++)
        if (is_config_event(ev[i].kind) && strcmp(ev[i].kind, "rule.resync") != 0)
            reload = 1;
    if (reload)
        rules_reload(eng, &fresh, &nfresh);
    int64_t now = sc_clock_now_ms();
    enum sc_err err = store_begin(eng->st);
    if (err)
        goto fail;
    for (size_t f = 0; f < nfresh && !err; f++)
        err = store_sync_rule_request_resync(eng->st, fresh[f], 0);
    for (size_t i = 0; i < n && !err; i++) {
        const struct store_event *x = &ev[i];
        if (strncmp(x->kind, "user.", 5) == 0) {
            for (struct eng_rule *er = eng->rules; er && !err; er = er->next)
                if (!er->retired)
                    err = store_sync_outbox_touch(eng->st, rule_id_of(er), x->object_id, 0, now);
        } else if (strncmp(x->kind, "group.", 6) == 0) {
            eng->groups_stale = 1;
            /* A user joining or leaving a group directly concerns that user only. */
            char *member = strcmp(x->kind, "group.members") == 0 ? member_user(eng, x) : NULL;
            for (struct eng_rule *er = eng->rules; er && !err; er = er->next) {
                if (er->retired || !er->sr->uses_groups)
                    continue;
                if (member)
                    err = store_sync_outbox_touch(eng->st, rule_id_of(er), member, 0, now);
                else
                    err = store_sync_rule_request_resync(eng->st, rule_id_of(er), 0);
            }
            free(member);
        } else if (strncmp(x->kind, "population.", 11) == 0) {
            for (struct eng_rule *er = eng->rules; er && !err; er = er->next)
                if (!er->retired)
                    err = store_sync_rule_request_resync(eng->st, rule_id_of(er), 0);
        } else if (strcmp(x->kind, "rule.resync") == 0) {
            if (rule_find(eng, x->object_id))
                err = store_sync_rule_request_resync(eng->st, x->object_id,
                                                     detail_flag(x->detail, "allow"));
        } else if (strcmp(x->kind, "rule.changed") == 0) {
            if (detail_flag(x->detail, "resync") && rule_find(eng, x->object_id))
                err = store_sync_rule_request_resync(eng->st, x->object_id, 0);
            if (!err && !rule_find(eng, x->object_id))
                err = detail_is(x->detail, "change", "deleted")
                          ? store_sync_rule_forget(eng->st, x->object_id)
                          : store_sync_outbox_drop_rule(eng->st, x->object_id);
        } else if (strcmp(x->kind, "connection.changed") == 0) {
            if (detail_flag(x->detail, "resync"))
                for (struct eng_rule *er = eng->rules; er && !err; er = er->next)
                    if (!er->retired && strcmp(er->sr->rc->conn->id, x->object_id) == 0)
                        err = store_sync_rule_request_resync(eng->st, rule_id_of(er), 0);
        }
    }
    if (!err)
        err = store_sync_cursor_set(eng->st, ev[n - 1].seq);
    if (!err)
        err = store_commit(eng->st);
    else
        store_rollback(eng->st);
    if (err)
        goto fail;
    eng->cursor = ev[n - 1].seq;
    /* This engine is the events' only consumer: drop what it has handled, in chunks. */
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

/* ---- target listing for resyncs (blocking; rare) ---- */

static enum sc_err auth_token(struct provision_engine *eng, const struct connection *c,
                              const char **token, struct sc_error *e)
{
    *token = NULL;
    if (c->auth_method != CONNECTION_AUTH_CLIENT_CREDENTIALS)
        return SC_OK;
    return oauth_cache_token(eng->oauth, c, sc_clock_now_ms(), token, e);
}

static enum sc_err list_target(void *arg, const struct sync_rule *r, json_t **out)
{
    struct provision_engine *eng = arg;
    const struct connection *c = r->rc->conn;
    const char *token = NULL;
    struct sc_error e = {0};
    char **headers = NULL;
    json_t *all = json_array();
    enum sc_err err = auth_token(eng, c, &token, &e);
    if (err || (err = connection_request_headers(c, token, &headers)))
        goto done;
    int64_t start = 1;
    for (;;) {
        struct sc_buf url;
        sc_buf_init(&url, 0);
        connection_users_url(c, NULL, &url);
        sc_buf_printf(&url, "?startIndex=%" PRId64 "&count=1000", start);
        struct http_client_request req = {.method = "GET",
                                          .url = url.data,
                                          .headers = (const char *const *)headers,
                                          .timeout_ms = 60000,
                                          .max_response = 64u * 1024 * 1024};
        struct http_client_response res;
        enum sc_err herr = http_client_do(&req, &res);
        sc_buf_free(&url);
        if (herr || res.status != 200) {
            SC_INFO("engine.list_failed", "rule=%s status=%ld", r->rc->rule.id, res.status);
            http_client_response_free(&res);
            err = herr ? herr : SC_ERR_HTTP;
            goto done;
        }
        json_t *body = json_loadb(res.body.data ? res.body.data : "", res.body.len, 0, NULL);
        http_client_response_free(&res);
        int64_t total = 0;
        json_t *resources = NULL;
        struct scim_error se = {0};
        if (!body || scim_list_response_parse(body, &total, &resources, &se)) {
            json_decref(body);
            err = SC_ERR_HTTP;
            goto done;
        }
        size_t got = json_array_size(resources);
        json_array_extend(all, resources);
        json_decref(body);
        start += (int64_t)got;
        if (got == 0 || (int64_t)json_array_size(all) >= total ||
            json_array_size(all) >= ENGINE_LIST_MAX)
            break;
    }
done:
    connection_headers_free(headers);
    if (err) {
        json_decref(all);
        return err;
    }
    *out = all;
    return SC_OK;
}

/* ---- resyncs ---- */

static void process_resyncs(struct provision_engine *eng)
{
    char(*ids)[STORE_SYNC_ID_MAX] = NULL;
    size_t n = 0;
    if (store_sync_rule_pending(eng->st, 16, &ids, &n) || n == 0)
        return;
    for (size_t i = 0; i < n && !atomic_load(&eng->stop); i++) {
        struct eng_rule *er = rule_find(eng, ids[i]);
        struct store_sync_rule sr;
        if (store_sync_rule_get(eng->st, ids[i], &sr))
            continue;
        if (!er) {
            sr.resync = 0;
            store_sync_rule_put(eng->st, &sr);
            continue;
        }
        const struct directory_groups *g = er->sr->uses_groups ? groups_get(eng) : NULL;
        struct outbox_resync_result res = {0};
        struct sc_error e = {0};
        int64_t t0 = sc_clock_mono_ms();
        er->refs++;
        enum sc_err err =
            outbox_resync(eng->st, er->sr, g, sr.resync == 2, list_target, eng, NULL, &res, &e);
        er->refs--;
        if (err) {
            SC_WARN("engine.resync_failed", "rule=%s message=\"%s\"", ids[i], e.message);
            continue;
        }
        pthread_mutex_lock(&eng->mlock);
        eng->resyncs_total++;
        pthread_mutex_unlock(&eng->mlock);
        SC_INFO("engine.resync",
                "rule=%s users=%" PRId64 " queued=%" PRId64 " creates=%" PRId64 " linked=%" PRId64
                " updates=%" PRId64 " removals=%" PRId64 " held=%" PRId64 " ms=%" PRId64,
                ids[i], res.users, res.queued, res.creates, res.linked, res.updates, res.removals,
                res.held, sc_clock_mono_ms() - t0);
    }
    free(ids);
    rules_collect(eng);
}

/* ---- jobs ---- */

static void job_free(struct job *j)
{
    if (!j)
        return;
    if (j->all_prev)
        j->all_prev->all_next = j->all_next;
    else if (j->eng->all == j)
        j->eng->all = j->all_next;
    if (j->all_next)
        j->all_next->all_prev = j->all_prev;
    json_decref(j->user);
    json_decref(j->desired);
    json_decref(j->sent);
    store_sync_link_clear(&j->link);
    planner_op_clear(&j->op);
    while (j->logs) {
        struct job_log *l = j->logs;
        j->logs = l->next;
        free(l->changes);
        free(l->error);
        free(l);
    }
    free(j);
}

static void job_log(struct job *j, const char *action, const char *status, int http_status,
                    const json_t *changes, const char *error)
{
    struct job_log *l = calloc(1, sizeof *l);
    if (!l)
        return;
    l->action = action;
    l->status = status;
    l->http_status = http_status;
    l->changes = changes ? sc_json_dump(changes) : NULL;
    if (error) {
        l->error = sc_strdup(error);
        if (l->error)
            connection_scrub(j->er->sr->rc->conn, l->error);
    }
    if (j->logs_tail)
        j->logs_tail->next = l;
    else
        j->logs = l;
    j->logs_tail = l;
    metrics_op(j->eng, rule_id_of(j->er), action, status);
}

/* Records sent (stolen, may be NULL) as what the target holds; digest is its
 * planner_digest when the caller has it already, else 0 to compute it here. */
static void job_set_sent_digest(struct job *j, json_t *sent, uint64_t digest)
{
    json_decref(j->sent);
    j->sent = sent;
    free(j->link.sent);
    j->link.sent = sent ? sc_json_dump_canonical(sent) : NULL;
    j->link.digest = digest ? digest : planner_digest(sent);
    j->link_dirty = 1;
}

/* Records the planned op's next_sent as what the target holds, taking its canonical
 * text from the planner when it made one (no second dump). */
static void job_set_sent_planned(struct job *j)
{
    if (!j->op.next_sent_text) {
        job_set_sent_digest(j, json_incref(j->op.next_sent), j->op.next_digest);
        return;
    }
    json_decref(j->sent);
    j->sent = json_incref(j->op.next_sent);
    free(j->link.sent);
    j->link.sent = j->op.next_sent_text;
    j->op.next_sent_text = NULL;
    j->link.digest = j->op.next_digest;
    j->link_dirty = 1;
}

static void job_set_sent(struct job *j, json_t *sent)
{
    job_set_sent_digest(j, sent, 0);
}

static void job_set_target(struct job *j, const char *target_id)
{
    free(j->link.target_id);
    j->link.target_id = sc_strdup(target_id);
    j->link_dirty = 1;
}

static void job_set_state(struct job *j, const char *state, const char *error)
{
    if (strcmp(j->link.state, state) != 0 ||
        (error && (!j->link.last_error || strcmp(j->link.last_error, error) != 0)) ||
        (!error && j->link.last_error))
        j->link_dirty = 1;
    sc_strlcpy(j->link.state, state, sizeof j->link.state);
    free(j->link.last_error);
    j->link.last_error = error ? sc_strdup(error) : NULL;
    if (j->link.last_error)
        connection_scrub(j->er->sr->rc->conn, j->link.last_error);
}

static void job_finish(struct job *j)
{
    struct provision_engine *eng = j->eng;
    eng->inflight--;
    j->next = eng->finished;
    eng->finished = j;
    eng->nfinished++;
}

static void job_step(struct job *j);

/* Writes the error text of a failed call into out: the target's SCIM error detail, or
 * the start of its body, or the transport error. */
static void error_text(const struct http_multi_result *res, char *out, size_t n)
{
    if (res->status == 0) {
        snprintf(out, n, "no response: %s", res->error[0] ? res->error : "transport error");
        return;
    }
    json_t *body = res->body.len ? json_loadb(res->body.data, res->body.len, 0, NULL) : NULL;
    struct scim_error se = {0};
    if (body)
        scim_error_from_json(body, (int)res->status, &se);
    json_decref(body);
    if (se.detail[0])
        snprintf(out, n, "HTTP %ld: %s%s%s", res->status, se.detail, se.scim_type[0] ? " ; " : "",
                 se.scim_type);
    else if (res->body.len)
        snprintf(out, n, "HTTP %ld: %.200s", res->status, res->body.data);
    else
        snprintf(out, n, "HTTP %ld", res->status);
}

static const char *log_action_of(const struct job *j)
{
    if (j->op.log_action)
        return j->op.log_action;
    return j->op.action == PLANNER_LOOKUP ? "LINK" : "UPDATE";
}

/* A failed call: retry later, or give up on this version of the user. */
static void job_failed(struct job *j, const struct http_multi_result *res)
{
    struct provision_engine *eng = j->eng;
    char err[512];
    error_text(res, err, sizeof err);
    enum delivery_class cls = delivery_classify(res->status);
    /* A 4xx about this user's data says the target is up and answering: it does not
     * count against the connection's health. */
    int h = delivery_health_record(&j->cs->health, cls != DELIVERY_PERMANENT);
    if (h > 0)
        SC_WARN("engine.quarantine", "connection=%s", j->cs->id);
    else if (h < 0)
        SC_INFO("engine.quarantine_lifted", "connection=%s", j->cs->id);
    const char *action = log_action_of(j);
    if (cls == DELIVERY_PERMANENT) {
        job_log(j, action, "FAILED", (int)res->status, j->op.changes, err);
        job_set_state(j, SYNC_STATE_FAILED, err);
        job_finish(j);
        return;
    }
    int64_t now = sc_clock_now_ms();
    int64_t delay = -1;
    if (res->status == 429 || res->status == 503)
        delay = delivery_retry_after_ms(res->retry_after, now);
    if (delay < 0)
        delay =
            delivery_backoff_ms(j->item.attempts, j->cs->health.quarantined, randombytes_random());
    else if (j->cs->health.quarantined && delay < DELIVERY_QUARANTINE_MIN_MS)
        delay = DELIVERY_QUARANTINE_MIN_MS;
    job_log(j, action, cls == DELIVERY_AUTH ? "FAILED" : "RETRY", (int)res->status, j->op.changes,
            err);
    job_set_state(j, SYNC_STATE_FAILED, err);
    j->retry = 1;
    j->retry_at = now + delay;
    (void)eng;
    job_finish(j);
}

static void job_unlink(struct job *j, int absent)
{
    job_set_target(j, NULL);
    job_set_sent(j, NULL);
    j->link.absent = absent;
}

static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* Copies the top-level "id" string of the JSON object s[0..n) into out (cap bytes) without
 * building the document: a create's answer is the whole resource and only its id is kept.
 * Returns 1 when found (the last one when repeated, as the parser keeps), 0 when the caller
 * must parse the body instead: not an object, an id that is not a plain string (escapes,
 * control characters, invalid UTF-8, too long), an escaped top-level key, or unbalanced
 * text. */
static int scan_top_id(const char *s, size_t n, char *out, size_t cap)
{
    size_t i = skip_ws(s, n, 0);
    int depth = 0, expect_key = 0, found = 0;
    if (i >= n || s[i] != '{')
        return 0;
    while (i < n) {
        char c = s[i];
        if (c == '"') {
            size_t start = ++i;
            int esc = 0;
            while (i < n && s[i] != '"') {
                if (s[i] == '\\') {
                    esc = 1;
                    i++;
                }
                i++;
            }
            if (i >= n)
                return 0;
            size_t end = i++;
            if (depth != 1 || !expect_key)
                continue;
            expect_key = 0;
            if (esc)
                return 0;
            if (end - start != 2 || memcmp(s + start, "id", 2) != 0)
                continue;
            i = skip_ws(s, n, i);
            if (i >= n || s[i] != ':')
                return 0;
            i = skip_ws(s, n, i + 1);
            if (i >= n || s[i] != '"')
                return 0;
            size_t vstart = ++i;
            while (i < n && s[i] != '"') {
                if (s[i] == '\\' || (unsigned char)s[i] < 0x20)
                    return 0;
                i++;
            }
            if (i >= n || i - vstart >= cap || !sc_utf8_valid(s + vstart, i - vstart))
                return 0;
            memcpy(out, s + vstart, i - vstart);
            out[i - vstart] = '\0';
            found = 1;
            i++;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
            if (depth == 1)
                expect_key = 1;
        } else if (c == '}' || c == ']') {
            if (--depth < 0)
                return 0;
            if (depth == 0)
                return skip_ws(s, n, i + 1) == n ? found : 0;
        } else if (c == ',' && depth == 1) {
            expect_key = 1;
        }
        i++;
    }
    return 0;
}

static void job_on_response(void *arg, const struct http_multi_result *res)
{
    struct job *j = arg;
    struct provision_engine *eng = j->eng;
    j->cs->inflight--;
    metrics_latency(eng, rule_id_of(j->er), res->total_ms / 1000.0);
    long st = res->status;
    const struct connection *c = j->er->sr->rc->conn;

    if (st == 401 && c->auth_method == CONNECTION_AUTH_CLIENT_CREDENTIALS && !j->auth_retried) {
        /* The token may have been revoked or expired early: one fresh token, one retry. */
        oauth_cache_invalidate(eng->oauth, c);
        j->auth_retried = 1;
        j->steps--;
        planner_op_clear(&j->op);
        job_step(j);
        return;
    }
    enum delivery_class cls = delivery_classify(st);
    int handled_404 = st == 404 && j->op.action != PLANNER_LOOKUP && j->op.action != PLANNER_CREATE;
    int handled_409 = st == 409 && j->op.action == PLANNER_CREATE;
    if (cls != DELIVERY_OK && !handled_404 && !handled_409) {
        job_failed(j, res);
        return;
    }
    if (delivery_health_record(&j->cs->health, 0) < 0)
        SC_INFO("engine.quarantine_lifted", "connection=%s", j->cs->id);
    j->success = 1;
    /* Only a look-up reads the answer as a document; a create reads its id (below). */
    json_t *body = j->op.action == PLANNER_LOOKUP && res->body.len
                       ? json_loadb(res->body.data, res->body.len, 0, NULL)
                       : NULL;
    const struct sync_rule *r = j->er->sr;
    switch (j->op.action) {
    case PLANNER_LOOKUP: {
        int64_t total = 0;
        json_t *resources = NULL;
        struct scim_error se = {0};
        json_t *found = NULL;
        if (body && scim_list_response_parse(body, &total, &resources, &se) == SC_OK) {
            const char *want = sync_rule_identifier(r, j->desired);
            for (size_t i = 0; i < json_array_size(resources) && !found; i++) {
                json_t *x = json_array_get(resources, i);
                const char *have = sync_rule_resource_identifier(r, x);
                if (!want || (have && sc_strcaseeq(have, want)))
                    found = x;
            }
            if (!found && json_array_size(resources) > 0)
                found = json_array_get(resources, 0);
        }
        const char *tid = found ? json_string_value(json_object_get(found, "id")) : NULL;
        if (tid) {
            job_set_target(j, tid);
            job_set_sent(j, sync_rule_project(r, found));
            j->link.absent = 0;
            job_log(j, "LINK", "SUCCESS", (int)st, NULL, NULL);
        } else {
            j->link.absent = 1;
            j->link_dirty = 1;
        }
        j->uncertain = 0;
        break;
    }
    case PLANNER_CREATE:
        if (st == 409) {
            /* Someone created it meanwhile (or an earlier attempt did): look up, link. */
            j->link.absent = 0;
            j->uncertain = 1;
            j->link_dirty = 1;
            break;
        }
        {
            char idbuf[1024];
            const char *tid = NULL;
            if (scan_top_id(res->body.data, res->body.len, idbuf, sizeof idbuf))
                tid = idbuf;
            else if (res->body.len &&
                     (body = json_loadb(res->body.data, res->body.len, 0, NULL)) != NULL)
                tid = json_string_value(json_object_get(body, "id"));
            if (!tid) {
                json_decref(body);
                job_log(j, "CREATE", "FAILED", (int)st, j->op.changes,
                        "the target answered the create without an id");
                job_set_state(j, SYNC_STATE_FAILED, "the target answered the create without an id");
                job_finish(j);
                return;
            }
            job_set_target(j, tid);
            job_set_sent_planned(j);
            j->link.absent = 0;
            job_log(j, "CREATE", "SUCCESS", (int)st, j->op.changes, NULL);
            job_set_state(j, j->op.state, NULL);
            json_decref(body);
            job_finish(j);
            return;
        }
    case PLANNER_UPDATE:
    case PLANNER_ENABLE:
    case PLANNER_DISABLE:
        if (st == 404) {
            if (j->op.action == PLANNER_DISABLE) {
                job_unlink(j, 1);
                job_log(j, "DISABLE", "SUCCESS", (int)st, NULL,
                        "the account no longer exists on the target");
                job_set_state(j, SYNC_STATE_OUT_OF_SCOPE, NULL);
                json_decref(body);
                job_finish(j);
                return;
            }
            /* The account vanished on the target: unlink and create it again. */
            job_log(j, log_action_of(j), "FAILED", (int)st, NULL,
                    "the account no longer exists on the target; creating it again");
            job_unlink(j, 1);
            break;
        }
        job_set_sent_planned(j);
        job_log(j, j->op.log_action, "SUCCESS", (int)st, j->op.changes, NULL);
        job_set_state(j, j->op.state, NULL);
        json_decref(body);
        job_finish(j);
        return;
    case PLANNER_DELETE:
        job_unlink(j, 0);
        job_log(j, "DELETE", "SUCCESS", (int)st, NULL, NULL);
        job_set_state(j, SYNC_STATE_DELETED, NULL);
        json_decref(body);
        job_finish(j);
        return;
    default:
        break;
    }
    json_decref(body);
    planner_op_clear(&j->op);
    job_step(j);
}

/* Sends j->op now (slot and rate already granted). */
static void job_send(struct job *j)
{
    struct provision_engine *eng = j->eng;
    const struct connection *c = j->er->sr->rc->conn;
    struct sc_buf url;
    sc_buf_init(&url, 0);
    char **headers = NULL;
    char *body = NULL;
    const char *token = NULL;
    struct sc_error e = {0};
    enum sc_err err = auth_token(eng, c, &token, &e);
    if (err) {
        struct http_multi_result res = {.status = 0};
        snprintf(res.error, sizeof res.error, "cannot get an OAuth token: %.200s", e.message);
        j->cs->inflight++;
        job_on_response(j, &res);
        goto done;
    }
    connection_users_url(c, j->op.with_id ? j->link.target_id : NULL, &url);
    if (j->op.action == PLANNER_LOOKUP) {
        const char *ident = sync_rule_identifier(j->er->sr, j->desired);
        struct sc_buf f;
        sc_buf_init(&f, 0);
        struct scim_error se = {0};
        if (!ident || scim_filter_template(c->user_filter_expression, ident, &f, &se)) {
            /* Nothing to look up by: treat as absent. */
            sc_buf_free(&f);
            j->link.absent = 1;
            j->uncertain = 0;
            planner_op_clear(&j->op);
            job_step(j);
            goto done;
        }
        char *q = http_client_escape(f.data);
        sc_buf_printf(&url, "?filter=%s", q ? q : "");
        free(q);
        sc_buf_free(&f);
    }
    if ((err = connection_request_headers(c, token, &headers)))
        goto fail;
    if (j->op.body)
        body = sc_json_dump(j->op.body);
    struct http_multi_request req = {.method = j->op.method,
                                     .url = url.data,
                                     .headers = (const char *const *)headers,
                                     .body = body,
                                     .body_len = body ? strlen(body) : 0,
                                     .timeout_ms = 30000};
    if ((err = http_multi_add(eng->multi, &req, job_on_response, j)))
        goto fail;
    j->cs->inflight++;
    goto done;
fail : {
    struct http_multi_result res = {.status = 0};
    snprintf(res.error, sizeof res.error, "cannot start the request: %s", sc_strerror(err));
    j->cs->inflight++;
    job_on_response(j, &res);
}
done:
    connection_headers_free(headers);
    free(body);
    sc_buf_free(&url);
}

static int conn_limit(const struct conn_state *cs, const struct connection *c)
{
    if (cs->health.quarantined)
        return 1;
    return c->max_concurrency > 0 ? (int)c->max_concurrency : 1 << 30;
}

/* Sends now when the connection allows it, else queues j. */
static void job_dispatch(struct job *j)
{
    struct provision_engine *eng = j->eng;
    const struct connection *c = j->er->sr->rc->conn;
    if (!eng->waiting && j->cs->inflight < conn_limit(j->cs, c)) {
        int64_t wait = delivery_bucket_take(&j->cs->bucket, sc_clock_mono_ms());
        if (wait == 0) {
            job_send(j);
            return;
        }
        if (eng->next_wait_ms == 0 || wait < eng->next_wait_ms)
            eng->next_wait_ms = wait;
    }
    j->next = NULL;
    if (eng->waiting_tail)
        eng->waiting_tail->next = j;
    else
        eng->waiting = j;
    eng->waiting_tail = j;
}

/* Starts waiting jobs whose connection now has a slot and a token. */
static void dispatch_waiting(struct provision_engine *eng)
{
    struct job *list = eng->waiting;
    eng->waiting = eng->waiting_tail = NULL;
    eng->next_wait_ms = 0;
    int64_t now = sc_clock_mono_ms();
    while (list) {
        struct job *j = list;
        list = j->next;
        j->next = NULL;
        const struct connection *c = j->er->sr->rc->conn;
        int64_t wait = -1;
        if (j->cs->inflight < conn_limit(j->cs, c))
            wait = delivery_bucket_take(&j->cs->bucket, now);
        if (wait == 0) {
            job_send(j);
            continue;
        }
        if (wait > 0 && (eng->next_wait_ms == 0 || wait < eng->next_wait_ms))
            eng->next_wait_ms = wait;
        if (eng->waiting_tail)
            eng->waiting_tail->next = j;
        else
            eng->waiting = j;
        eng->waiting_tail = j;
    }
}

/* Plans and either finishes j (no call) or dispatches its call. */
static void job_step(struct job *j)
{
    const struct connection *c = j->er->sr->rc->conn;
    if (++j->steps > ENGINE_MAX_STEPS) {
        job_log(j, "SKIP", "FAILED", 0, NULL,
                "too many steps: the target keeps answering "
                "in a way that does not settle this user");
        job_set_state(j, SYNC_STATE_FAILED, "too many steps");
        job_finish(j);
        return;
    }
    struct planner_input in = {
        .exists = j->exists,
        .in_scope = j->in_scope,
        .enabled = j->enabled,
        .desired = j->desired,
        .target_id = j->link.target_id,
        .sent = j->sent,
        .sent_digest = j->link.digest,
        .absent = j->link.absent,
        .uncertain = j->uncertain,
        .has_link_row = j->has_row,
        .allow_create = c->allow_create,
        .allow_update = c->allow_update,
        .allow_disable = c->allow_disable,
        .remove_delete = c->remove_action == CONNECTION_REMOVE_DELETE,
        .update_put = c->update_method == CONNECTION_UPDATE_PUT,
    };
    struct sc_error e = {0};
    planner_op_clear(&j->op);
    if (planner_plan(&in, &j->op, &e)) {
        job_log(j, "SKIP", "FAILED", 0, NULL, e.message);
        job_set_state(j, SYNC_STATE_FAILED, e.message);
        job_finish(j);
        return;
    }
    if (!j->op.method) {
        int changed = strcmp(j->link.state, j->op.state) != 0;
        if (j->op.next_sent)
            job_set_sent_planned(j);
        if (changed &&
            (j->has_row || j->link_dirty || strcmp(j->op.state, SYNC_STATE_OUT_OF_SCOPE) != 0)) {
            if (j->op.action == PLANNER_UNSYNCED)
                job_log(j, "CREATE", "UNSYNCED", 0, j->op.changes,
                        "creating users is not allowed on this connection");
            else if (j->op.action == PLANNER_PARTIAL)
                job_log(j, "UPDATE", "UNSYNCED", 0, j->op.changes,
                        "updating users is not allowed on this connection");
            else if (j->op.action == PLANNER_OUT_OF_SCOPE)
                job_log(j, "SKIP", "UNSYNCED", 0, NULL,
                        "left scope; disabling users is not allowed on this connection");
            job_set_state(j, j->op.state, NULL);
        } else if (j->link.last_error && j->op.action == PLANNER_NOOP) {
            job_set_state(j, j->op.state, NULL);
        }
        job_finish(j);
        return;
    }
    job_dispatch(j);
}

/* Loads what a leased item needs and starts it. */
static void job_start(struct provision_engine *eng, const struct store_sync_item *it)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->eng = eng;
    j->item = *it;
    eng->inflight++;
    j->all_next = eng->all;
    if (eng->all)
        eng->all->all_prev = j;
    eng->all = j;
    j->er = rule_find(eng, it->rule_id);
    if (!j->er) {
        /* The rule is no longer enabled: drop the item. */
        job_finish(j);
        return;
    }
    j->er->refs++;
    j->cs = conn_state_for(eng, j->er->sr->rc->conn);
    /* The user and its source stamp from one read. */
    uint64_t row = 0;
    struct sc_error e = {0};
    enum sc_err err = j->er->sr->uses_groups
                          ? directory_user_get(eng->st, it->user_id, &j->user, &e)
                          : store_user_get_digest(eng->st, it->user_id, &j->user, &row);
    j->stamp = err == SC_OK ? sync_rule_source(j->er->sr, row) : 0;
    j->exists = err == SC_OK;
    if (err && err != SC_ERR_NOT_FOUND) {
        j->retry = 1;
        j->retry_at = sc_clock_now_ms() + 1000;
        job_finish(j);
        return;
    }
    if (j->exists && sync_rule_eval(j->er->sr, j->er->sr->uses_groups ? groups_get(eng) : NULL,
                                    j->user, &j->in_scope, &j->enabled, &j->desired)) {
        j->retry = 1;
        j->retry_at = sc_clock_now_ms() + 1000;
        job_finish(j);
        return;
    }
    err = store_sync_link_get(eng->st, it->rule_id, it->user_id, &j->link);
    if (err == SC_OK) {
        j->has_row = 1;
        if (j->link.sent)
            j->sent = json_loads(j->link.sent, 0, NULL);
    } else {
        memset(&j->link, 0, sizeof j->link);
        sc_strlcpy(j->link.rule_id, it->rule_id, sizeof j->link.rule_id);
        sc_strlcpy(j->link.user_id, it->user_id, sizeof j->link.user_id);
        sc_strlcpy(j->link.state, "", sizeof j->link.state);
    }
    if (j->user) {
        const char *un = json_string_value(json_object_get(j->user, "username"));
        if (un && (!j->link.username || strcmp(j->link.username, un) != 0)) {
            free(j->link.username);
            j->link.username = sc_strdup(un);
            if (j->has_row)
                j->link_dirty = 1;
        }
    }
    /* A lease taken before (by this or a crashed process) may have sent a create whose
     * answer was never recorded: look up before creating again. */
    j->uncertain = it->attempts > 1;
    job_step(j);
}

/* Commits the finished jobs' results in one transaction. */
static void flush_results(struct provision_engine *eng)
{
    if (!eng->finished)
        return;
    struct job *list = eng->finished;
    eng->finished = NULL;
    eng->nfinished = 0;
    int64_t now = sc_clock_now_ms();
    enum sc_err err = store_begin(eng->st);
    for (struct job *j = list; j && !err; j = j->next) {
        if (j->er && j->link_dirty) {
            if (!j->link.state[0])
                sc_strlcpy(j->link.state, SYNC_STATE_PENDING, sizeof j->link.state);
            /* SYNCED: what was sent is what this version of the user maps to */
            j->link.source = strcmp(j->link.state, SYNC_STATE_SYNCED) == 0 ? j->stamp : 0;
            err = store_sync_link_put(eng->st, &j->link);
        }
        for (struct job_log *l = j->logs; l && !err; l = l->next) {
            struct store_sync_log_entry le = {.rule_id = j->item.rule_id,
                                              .user_id = j->item.user_id,
                                              .username = j->link.username,
                                              .action = l->action,
                                              .status = l->status,
                                              .http_status = l->http_status,
                                              .changes = l->changes,
                                              .error = l->error};
            err = store_sync_log_append(eng->st, &le);
        }
        if (err)
            break;
        if (j->retry)
            err = store_sync_outbox_retry(eng->st, j->item.id, j->item.generation, j->retry_at);
        else
            err = store_sync_outbox_done(eng->st, j->item.id, j->item.generation);
        if (!err && j->success) {
            /* once per rule per batch */
            int seen = 0;
            for (struct job *k = list; k != j && !seen; k = k->next)
                seen = k->success && strcmp(k->item.rule_id, j->item.rule_id) == 0;
            if (!seen)
                err = store_sync_rule_touch(eng->st, j->item.rule_id, now);
        }
    }
    /* quarantine changes */
    for (struct conn_state *cs = eng->conns; cs && !err; cs = cs->next) {
        if (cs->health.quarantined != cs->persisted_quarantine) {
            err = store_sync_quarantine_set(eng->st, cs->id, cs->health.quarantined,
                                            cs->health.quarantined ? "most calls fail" : NULL);
            if (!err)
                cs->persisted_quarantine = cs->health.quarantined;
        }
    }
    if (!err)
        err = store_commit(eng->st);
    else
        store_rollback(eng->st);
    if (err)
        SC_ERROR("engine.commit_failed", "error=%s (the items stay leased and are retried)",
                 sc_err_name(err));
    while (list) {
        struct job *j = list;
        list = j->next;
        if (j->er)
            j->er->refs--;
        job_free(j);
    }
    rules_collect(eng);
}

/* Leases due items up to the in-flight cap and starts them. Returns how many. */
static size_t lease_and_start(struct provision_engine *eng)
{
    /* Lease in batches: one lease transaction per ENGINE_LEASE_BATCH free slots, not
     * one per finished job. */
    if (eng->inflight >= ENGINE_MAX_INFLIGHT ||
        (eng->inflight > 0 && ENGINE_MAX_INFLIGHT - eng->inflight < ENGINE_LEASE_BATCH))
        return 0;
    size_t room = (size_t)(ENGINE_MAX_INFLIGHT - eng->inflight);
    struct store_sync_item *items = NULL;
    size_t n = 0;
    if (store_sync_outbox_lease(eng->st, eng->owner, sc_clock_now_ms(), ENGINE_LEASE_MS, room,
                                &items, &n))
        return 0;
    for (size_t i = 0; i < n; i++)
        job_start(eng, &items[i]);
    free(items);
    return n;
}

static void *engine_main(void *arg)
{
    struct provision_engine *eng = arg;
    char(*fresh)[STORE_SYNC_ID_MAX] = NULL;
    size_t nfresh = 0;
    rules_reload(eng, &fresh, &nfresh);
    free(fresh); /* at start, pending resyncs are in the store already */
    int64_t last_count = 0;
    while (!atomic_load(&eng->stop)) {
        int busy = 0;
        int ev = process_events(eng);
        if (ev > 0)
            busy = 1;
        process_resyncs(eng);
        dispatch_waiting(eng);
        size_t started = lease_and_start(eng);
        if (started)
            busy = 1;
        if (eng->finished && (eng->nfinished >= ENGINE_COMMIT_BATCH || eng->inflight == 0 ||
                              http_multi_running(eng->multi) == 0))
            flush_results(eng);
        int timeout = 0;
        if (!busy && !eng->finished) {
            int64_t due = INT64_MAX;
            store_sync_outbox_next_due(eng->st, &due);
            int64_t now = sc_clock_now_ms();
            int64_t t = ENGINE_IDLE_POLL_MS;
            int can_lease =
                eng->inflight == 0 || ENGINE_MAX_INFLIGHT - eng->inflight >= ENGINE_LEASE_BATCH;
            if (due != INT64_MAX && can_lease)
                t = due - now;
            if (eng->waiting && eng->next_wait_ms > 0 && eng->next_wait_ms < t)
                t = eng->next_wait_ms;
            if (t > ENGINE_IDLE_POLL_MS)
                t = ENGINE_IDLE_POLL_MS;
            timeout = t < 0 ? 0 : (int)t;
            if (timeout == 0 && eng->waiting)
                timeout = 1;
        }
        if (timeout > 0 || http_multi_running(eng->multi) > 0)
            http_multi_poll(eng->multi, timeout > 0 ? timeout : 1);
        if (eng->finished && http_multi_running(eng->multi) == 0)
            flush_results(eng);
        if (sc_clock_mono_ms() - last_count > 1000) {
            int64_t pending = 0;
            store_sync_outbox_count(eng->st, NULL, &pending);
            pthread_mutex_lock(&eng->mlock);
            eng->outbox_pending = pending;
            pthread_mutex_unlock(&eng->mlock);
            last_count = sc_clock_mono_ms();
        }
    }
    /* Abandon in-flight transfers: their items stay leased and are taken back at the
     * next start; commit what finished. */
    flush_results(eng);
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
     * of the heap instead of returning it and growing the heap again per batch. */
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_TOP_PAD, 4 * 1024 * 1024);
    struct provision_engine *eng = calloc(1, sizeof *eng);
    if (!eng)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    pthread_mutex_init(&eng->mlock, NULL);
    enum sc_err err = SC_OK;
    eng->dsn = sc_strdup(opt->dsn);
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
    /* One engine serves a SQLite database: leases of a crashed predecessor are ours. */
    store_sync_tune(eng->st);
    if ((err = store_sync_outbox_release_all(eng->st, NULL)) ||
        (err = store_sync_cursor_get(eng->st, &eng->cursor))) {
        sc_error_set(e, err, "db", "cannot read the engine's state");
        goto fail;
    }
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

void provision_engine_stop(struct provision_engine *eng)
{
    if (!eng)
        return;
    if (eng->started) {
        atomic_store(&eng->stop, 1);
        http_multi_wakeup(eng->multi);
        pthread_join(eng->thread, NULL);
    }
    /* jobs still waiting or in flight: freed without recording (their leases are taken
     * back at the next start) */
    http_multi_free(eng->multi);
    while (eng->all)
        job_free(eng->all);
    for (struct eng_rule *er = eng->rules; er; er = er->next)
        er->retired = 1, er->refs = 0;
    rules_collect(eng);
    while (eng->conns) {
        struct conn_state *cs = eng->conns;
        eng->conns = cs->next;
        free(cs);
    }
    directory_groups_free(eng->groups);
    oauth_cache_free(eng->oauth);
    store_close(eng->st);
    free(eng->metrics);
    free(eng->dsn);
    pthread_mutex_destroy(&eng->mlock);
    free(eng);
}

enum sc_err provision_engine_dry_run(struct provision_engine *eng, struct store *st,
                                     const char *rule_id, json_t **out, struct sc_error *e)
{
    const struct secrets_key *key = eng ? eng->key : NULL;
    if (!key)
        return sc_error_set(e, SC_ERR_UNAVAILABLE, NULL, "the provisioning engine is not running");
    struct rule_compiled *rc = NULL;
    struct sync_rule *sr = NULL;
    struct directory_groups *g = NULL;
    json_t *plan = NULL;
    enum sc_err err = rule_compile(st, key, rule_id, &rc, e);
    if (err)
        goto done;
    if ((err = sync_rule_new(rc, &sr, e)))
        goto done;
    if (sr->uses_groups && (err = directory_groups_load(st, &g, e)))
        goto done;
    plan = json_pack("{s:s, s:b}", "ruleId", rule_id, "dryRun", 1);
    struct outbox_resync_result res = {0};
    if ((err = outbox_resync(st, sr, g, 0, NULL, NULL, plan, &res, e)))
        goto done;
    *out = plan;
    plan = NULL;
done:
    json_decref(plan);
    directory_groups_free(g);
    sync_rule_free(sr);
    return err;
}
