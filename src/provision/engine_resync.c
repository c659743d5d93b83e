/* Full resyncs in the engine (see engine_internal.h, provision/outbox.h): a pass runs on
 * the engine thread in steps of a few chunks per round of the loop (ENGINE_PASS_SLICE_MS
 * at most), each chunk's work committed as it goes, so deliveries start with the first
 * chunk and live changes are served between steps; when the pass wants one listing of
 * the target (many unlinked users, a target that ignores filters, or drift repair), it
 * waits while the pages are read over the multi loop as calls of the rule's connection,
 * so other work goes on meanwhile (a listing that fails leaves the users to be looked
 * up one by one). Also the dry run, which plans on the caller's thread and, for drift
 * repair, reads the listing with the blocking client. */
#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "directory/directory.h"
#include "http/client.h"
#include "provision/connection.h"
#include "provision/engine_internal.h"
#include "provision/rule.h"
#include "provision/secrets.h"
#include "scim/message.h"
#include "store/store_sync.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct resync {
    struct call call; /* first: a page request is queued on the connection as a call */
    struct provision_engine *eng;
    struct eng_rule *er;
    struct outbox_pass *pass;
    json_t *resources; /* the listing (the pass borrows it) */
    int64_t start;     /* next page's startIndex */
    int complete;
    int failed;
    int auth_retried;
    int listing; /* the pass waits for the listing's pages */
    int64_t t0;
    struct resync *next;
};

static const char *rule_id_of(const struct eng_rule *er)
{
    return er->sr->rc->rule.id;
}

static void resync_free(struct resync *rs)
{
    if (!rs)
        return;
    outbox_pass_free(rs->pass);
    json_decref(rs->resources);
    if (rs->er)
        rs->er->refs--;
    free(rs);
}

void engine__resyncs_free(struct provision_engine *eng)
{
    while (eng->resyncs) {
        struct resync *rs = eng->resyncs;
        eng->resyncs = rs->next;
        resync_free(rs);
    }
}

static void resync_log(struct provision_engine *eng, const char *rule_id,
                       const struct outbox_resync_result *res, int64_t t0, int listed)
{
    pthread_mutex_lock(&eng->mlock);
    eng->resyncs_total++;
    pthread_mutex_unlock(&eng->mlock);
    SC_INFO("engine.resync",
            "rule=%s users=%" PRId64 " queued=%" PRId64 " creates=%" PRId64 " linked=%" PRId64
            " updates=%" PRId64 " removals=%" PRId64 " held=%" PRId64 " unchanged=%" PRId64
            " checked=%" PRId64 " drifted=%" PRId64 " listed=%d ms=%" PRId64,
            rule_id, res->users, res->queued, res->creates, res->linked, res->updates,
            res->removals, res->held, res->unchanged, res->checked, res->drifted, listed,
            sc_clock_mono_ms() - t0);
}

static void resync_unlink(struct resync *rs)
{
    struct resync **pp = &rs->eng->resyncs;
    while (*pp && *pp != rs)
        pp = &(*pp)->next;
    if (*pp)
        *pp = rs->next;
}

/* Finishes rs (stepped to its end) and frees it. */
static void resync_finish(struct resync *rs)
{
    struct provision_engine *eng = rs->eng;
    resync_unlink(rs);
    struct outbox_resync_result res = {0};
    struct sc_error e = {0};
    if (outbox_resync_finish(rs->pass, &res, &e))
        SC_WARN("engine.resync_failed", "rule=%s message=\"%s\"", rule_id_of(rs->er), e.message);
    else
        resync_log(eng, rule_id_of(rs->er), &res, rs->t0, rs->resources && !rs->failed);
    resync_free(rs);
    engine__rules_collect(eng);
}

/* Abandons rs (its request stays pending, so the pass runs again, after a pause when it
 * failed) and frees it. */
static void resync_abandon(struct resync *rs, const char *why, int failed)
{
    struct provision_engine *eng = rs->eng;
    if (failed) {
        SC_WARN("engine.resync_failed", "rule=%s message=\"%s\"", rule_id_of(rs->er), why);
        eng->resync_pause = sc_clock_mono_ms() + ENGINE_PASS_RETRY_MS;
    } else {
        SC_INFO("engine.resync_stopped", "rule=%s reason=\"%s\"", rule_id_of(rs->er), why);
    }
    resync_unlink(rs);
    resync_free(rs);
    engine__rules_collect(eng);
}

/* The listing is read (or failed): the pass goes on. */
static void resync_listed(struct resync *rs)
{
    rs->listing = 0;
    outbox_pass_set_listing(rs->pass, rs->failed ? NULL : rs->resources, rs->complete);
}

static void on_page(void *arg, const struct http_multi_result *res)
{
    struct resync *rs = arg;
    struct provision_engine *eng = rs->eng;
    const struct connection *c = rs->er->sr->rc->conn;
    rs->er->cs->inflight--;
    engine__metrics_latency(eng, rule_id_of(rs->er), res->total_ms / 1000.0, 1);
    if (res->status == 401 && c->auth_method == CONNECTION_AUTH_CLIENT_CREDENTIALS &&
        !rs->auth_retried) {
        engine__token_invalidate(eng, &rs->call);
        rs->auth_retried = 1;
        engine__dispatch(eng, &rs->call);
        return;
    }
    json_t *body = NULL;
    int64_t total = 0;
    json_t *resources = NULL;
    if (res->status != 200 ||
        !(body = json_loadb(res->body.data ? res->body.data : "", res->body.len, 0, NULL)) ||
        sync_rule_read_list(rs->er->sr, body, &total, &resources) != SC_OK) {
        SC_INFO("engine.list_failed", "rule=%s status=%ld (users are looked up one by one)",
                rule_id_of(rs->er), res->status);
        engine__conn_health(eng, rs->er->cs, delivery_classify(res->status) != DELIVERY_PERMANENT);
        json_decref(body);
        rs->failed = 1;
        resync_listed(rs);
        return;
    }
    engine__conn_health(eng, rs->er->cs, 0);
    if (!json_object_get(body, "totalResults"))
        total = INT64_MAX; /* not said: read until an empty page */
    size_t got = json_array_size(resources);
    json_array_extend(rs->resources, resources);
    json_decref(resources);
    json_decref(body);
    rs->start += (int64_t)got;
    size_t have = json_array_size(rs->resources);
    if (got == 0 || (int64_t)have >= total) {
        /* complete: every account the target counted, or (when it does not say how
         * many) read to its empty last page */
        rs->complete = (int64_t)have >= total || total == INT64_MAX;
        resync_listed(rs);
        return;
    }
    if (have >= ENGINE_LIST_MAX) {
        rs->complete = 0;
        resync_listed(rs);
        return;
    }
    engine__dispatch(eng, &rs->call);
}

void engine__list_send(struct provision_engine *eng, struct call *call)
{
    struct resync *rs = (struct resync *)call;
    const struct connection *c = rs->er->sr->rc->conn;
    const char *token = NULL;
    char why[300];
    int t = engine__token(eng, call, &token, why, sizeof why);
    if (t == 0) {
        rs->er->cs->inflight--;
        return;
    }
    if (t < 0) {
        engine__list_unsent(eng, call, why);
        return;
    }
    struct sc_buf url;
    sc_buf_init(&url, 0);
    char **headers = NULL;
    connection_users_url(c, NULL, &url);
    sc_buf_printf(&url, "?startIndex=%" PRId64 "&count=%d", rs->start, ENGINE_LIST_PAGE);
    enum sc_err err = connection_request_headers(c, token, &headers);
    struct http_multi_request req = {.method = "GET",
                                     .url = url.data,
                                     .headers = (const char *const *)headers,
                                     .timeout_ms = ENGINE_LIST_TIMEOUT,
                                     .max_response = 64u * 1024 * 1024};
    if (!err)
        err = http_multi_add(eng->multi, &req, on_page, rs);
    connection_headers_free(headers);
    sc_buf_free(&url);
    if (err) {
        snprintf(why, sizeof why, "cannot start the request: %s", sc_strerror(err));
        engine__list_unsent(eng, call, why);
    }
}

void engine__list_unsent(struct provision_engine *eng, struct call *call, const char *why)
{
    struct resync *rs = (struct resync *)call;
    rs->er->cs->inflight--;
    SC_INFO("engine.list_failed", "rule=%s reason=\"%s\" (users are looked up one by one)",
            rule_id_of(rs->er), why);
    (void)eng;
    rs->failed = 1;
    resync_listed(rs);
}

static int resync_running(struct provision_engine *eng, const char *rule_id)
{
    for (struct resync *rs = eng->resyncs; rs; rs = rs->next)
        if (strcmp(rule_id_of(rs->er), rule_id) == 0)
            return 1;
    return 0;
}

void engine__resyncs(struct provision_engine *eng)
{
    char(*ids)[STORE_SYNC_ID_MAX] = NULL;
    size_t n = 0;
    if (sc_clock_mono_ms() < eng->resync_pause || store_sync_rule_pending(eng->st, 16, &ids, &n) ||
        n == 0)
        return;
    /* a request made through another node comes with its configuration: follow it, so a
     * rule this node does not know yet is not taken for a disabled one */
    engine__config_current(eng);
    for (size_t i = 0; i < n && !atomic_load(&eng->stop); i++) {
        if (resync_running(eng, ids[i]))
            continue;
        struct eng_rule *er = engine__rule_find(eng, ids[i]);
        struct store_sync_rule sr;
        int claimed = 0;
        int64_t now = sc_clock_now_ms();
        /* one node runs a rule's resync pass; the work it queues is shared by all */
        if (store_sync_rule_claim(eng->st, ids[i], eng->owner, now, now + eng->lease_ms,
                                  &claimed) ||
            !claimed || store_sync_rule_get(eng->st, ids[i], &sr))
            continue;
        if (!er) {
            store_sync_rule_resync_done(eng->st, ids[i], sr.resync_seq);
            continue;
        }
        struct resync *rs = calloc(1, sizeof *rs);
        if (!rs)
            break;
        rs->eng = eng;
        rs->er = er;
        rs->call.kind = CALL_LIST;
        rs->call.er = er;
        rs->t0 = sc_clock_mono_ms();
        rs->start = 1;
        er->refs++;
        struct sc_error e = {0};
        if (outbox_resync_begin(eng->st, er->sr, sr.resync == 2, sr.verify, sr.resync_seq, NULL,
                                &rs->pass, &e)) {
            SC_WARN("engine.resync_failed", "rule=%s message=\"%s\"", ids[i], e.message);
            resync_free(rs);
            eng->resync_pause = sc_clock_mono_ms() + ENGINE_PASS_RETRY_MS;
            continue;
        }
        rs->next = eng->resyncs;
        eng->resyncs = rs;
    }
    free(ids);
    engine__rules_collect(eng);
}

/* Steps rs for at most until (mono ms), at least one chunk. */
static void resync_step(struct resync *rs, int64_t until)
{
    struct provision_engine *eng = rs->eng;
    if (!engine__rule_find(eng, rule_id_of(rs->er))) {
        /* disabled or deleted meanwhile (its queue was dropped): the pending request is
         * ended by engine__resyncs */
        resync_abandon(rs, "the rule is no longer active", 0);
        return;
    }
    const struct directory_groups *g = rs->er->sr->uses_groups ? engine__groups(eng) : NULL;
    enum outbox_step next = OUTBOX_STEP_MORE;
    do {
        struct sc_error e = {0};
        if (outbox_pass_step(rs->pass, g, OUTBOX_CHUNK, &next, &e)) {
            resync_abandon(rs, e.message, 1);
            return;
        }
    } while (next == OUTBOX_STEP_MORE && sc_clock_mono_ms() < until);
    if (next == OUTBOX_STEP_DONE) {
        resync_finish(rs);
    } else if (next == OUTBOX_STEP_LISTING) {
        rs->listing = 1;
        rs->resources = json_array();
        engine__dispatch(eng, &rs->call);
    }
}

int engine__resyncs_step(struct provision_engine *eng)
{
    int64_t until = sc_clock_mono_ms() + ENGINE_PASS_SLICE_MS;
    int stepped = 0;
    struct resync *rs = eng->resyncs;
    while (rs && !atomic_load(&eng->stop)) {
        struct resync *next = rs->next; /* rs may be freed */
        if (!rs->listing) {
            resync_step(rs, until);
            stepped = 1;
        }
        rs = next;
    }
    return stepped;
}

/* ---- dry runs ---- */

struct dry_list {
    const struct secrets_key *key;
};

/* Reads every account of r's target with the blocking client (a dry run's verify). */
static enum sc_err dry_list_target(void *arg, const struct sync_rule *r, json_t **out,
                                   int *complete)
{
    (void)arg;
    const struct connection *c = r->rc->conn;
    char *token = NULL;
    int64_t life = 0;
    struct sc_error e = {0};
    char **headers = NULL;
    json_t *all = json_array();
    enum sc_err err = SC_OK;
    *complete = 0;
    if (c->auth_method == CONNECTION_AUTH_CLIENT_CREDENTIALS &&
        (err = connection_fetch_token(c, ENGINE_TOKEN_TIMEOUT, &token, &life, &e)))
        goto done;
    if ((err = connection_request_headers(c, token, &headers)))
        goto done;
    int64_t start = 1;
    for (;;) {
        struct sc_buf url;
        sc_buf_init(&url, 0);
        connection_users_url(c, NULL, &url);
        sc_buf_printf(&url, "?startIndex=%" PRId64 "&count=%d", start, ENGINE_LIST_PAGE);
        struct http_client_request req = {.method = "GET",
                                          .url = url.data,
                                          .headers = (const char *const *)headers,
                                          .timeout_ms = ENGINE_LIST_TIMEOUT,
                                          .max_response = 64u * 1024 * 1024};
        struct http_client_response res;
        enum sc_err herr = http_client_do(&req, &res);
        sc_buf_free(&url);
        if (herr || res.status != 200) {
            http_client_response_free(&res);
            err = herr ? herr : SC_ERR_HTTP;
            goto done;
        }
        json_t *body = json_loadb(res.body.data ? res.body.data : "", res.body.len, 0, NULL);
        http_client_response_free(&res);
        int64_t total = 0;
        json_t *resources = NULL;
        if (sync_rule_read_list(r, body, &total, &resources) != SC_OK) {
            json_decref(body);
            err = SC_ERR_HTTP;
            goto done;
        }
        if (!json_object_get(body, "totalResults"))
            total = INT64_MAX; /* not said: read until an empty page */
        size_t got = json_array_size(resources);
        json_array_extend(all, resources);
        json_decref(resources);
        json_decref(body);
        start += (int64_t)got;
        if (got == 0 || (int64_t)json_array_size(all) >= total) {
            *complete = 1;
            break;
        }
        if (json_array_size(all) >= ENGINE_LIST_MAX)
            break;
    }
done:
    connection_headers_free(headers);
    secrets_wipe_free(token);
    http_client_thread_cleanup(); /* an API thread: keep no handle behind */
    *out = all;
    return err;
}

enum sc_err provision_engine_dry_run(struct provision_engine *eng, struct store *st,
                                     const char *rule_id, int verify, json_t **out,
                                     struct sc_error *e)
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
    char *clears = NULL;
    if (store_sync_rule_clears_get(st, rule_id, &clears) == SC_OK && clears) {
        json_t *a = json_loads(clears, 0, NULL);
        if (json_is_array(a) && json_array_size(a))
            sr->clear = json_incref(a);
        json_decref(a);
    }
    free(clears);
    plan = json_pack("{s:s, s:b}", "ruleId", rule_id, "dryRun", 1);
    if (verify)
        json_object_set_new(plan, "verify", json_true());
    struct outbox_resync_result res = {0};
    if ((err = outbox_resync(st, sr, g, 0, verify, -1, verify ? dry_list_target : NULL, NULL, plan,
                             &res, e)))
        goto done;
    if ((err = engine__group_plan(st, rule_id, plan, e)))
        goto done;
    *out = plan;
    plan = NULL;
done:
    json_decref(plan);
    directory_groups_free(g);
    sync_rule_free(sr);
    return err;
}
