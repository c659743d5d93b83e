/* The engine's connections (see engine_internal.h): per-connection queues, concurrency
 * and rate limits, health (quarantine) and OAuth client-credentials tokens. A call waits
 * on its own connection only: the queues are per connection, and dispatching walks
 * every connection, so a slow or dead one never delays another's calls. */
#include "base/clock.h"
#include "base/log.h"
#include "provision/connection.h"
#include "provision/engine_internal.h"
#include "provision/oauth.h"
#include "scim/dialect.h"
#include "scim/message.h"
#include "store/store_sync.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void conn_share(struct provision_engine *eng, struct conn_state *cs);

struct conn_state *engine__conn(struct provision_engine *eng, const struct connection *c)
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
    cs->rate_conf = (double)c->max_requests_per_second;
    cs->concurrency_conf = c->max_concurrency;
    conn_share(eng, cs);
    return cs;
}

/* This node's share of a connection's limits: the rate divided by the live nodes, the
 * concurrency too (rounded up: at least one call each). */
static void conn_share(struct provision_engine *eng, struct conn_state *cs)
{
    int nodes = eng->nodes > 0 ? eng->nodes : 1;
    double rate = cs->rate_conf / nodes;
    if (rate != cs->rate) {
        delivery_bucket_init(&cs->bucket, rate, sc_clock_mono_ms());
        cs->rate = rate;
    }
    cs->max_concurrency = cs->concurrency_conf > 0 ? (cs->concurrency_conf + nodes - 1) / nodes : 0;
}

void engine__conns_share(struct provision_engine *eng)
{
    for (struct conn_state *cs = eng->conns; cs; cs = cs->next)
        conn_share(eng, cs);
}

/* A token request in flight: what its answer needs. */
struct token_fetch {
    struct provision_engine *eng;
    struct conn_state *cs;
    struct eng_rule *er; /* whose connection it was made for (a ref is held) */
};

void engine__conns_free(struct provision_engine *eng)
{
    while (eng->conns) {
        struct conn_state *cs = eng->conns;
        eng->conns = cs->next;
        free(cs->tok_fetch); /* abandoned with the multi handle */
        free(cs);
    }
}

static int conn_limit(const struct conn_state *cs)
{
    if (cs->health.quarantined)
        return 1;
    return cs->max_concurrency > 0 ? (int)cs->max_concurrency : 1 << 30;
}

void engine__conn_health(struct provision_engine *eng, struct conn_state *cs, int failed)
{
    (void)eng;
    int h = delivery_health_record(&cs->health, failed);
    if (h > 0)
        SC_WARN("engine.quarantine", "connection=%s", cs->id);
    else if (h < 0)
        SC_INFO("engine.quarantine_lifted", "connection=%s", cs->id);
}

static void queue_push(struct call **head, struct call **tail, struct call *c)
{
    c->next = NULL;
    if (*tail)
        (*tail)->next = c;
    else
        *head = c;
    *tail = c;
}

static struct call *queue_pop(struct call **head, struct call **tail)
{
    struct call *c = *head;
    if (c) {
        *head = c->next;
        if (!*head)
            *tail = NULL;
        c->next = NULL;
    }
    return c;
}

void engine__call_send(struct provision_engine *eng, struct call *c)
{
    c->er->cs->inflight++;
    if (c->kind == CALL_JOB)
        engine__job_send(eng, (struct job *)c);
    else if (c->kind == CALL_GROUP)
        engine__group_send(eng, c);
    else
        engine__list_send(eng, c);
}

/* Takes a slot and a rate token for cs now: 1 when granted, else 0 (cs->wait_ms says
 * how long the rate limit wants). */
static int conn_grant(struct conn_state *cs, int64_t now_mono)
{
    cs->wait_ms = 0;
    if (cs->inflight >= conn_limit(cs))
        return 0;
    int64_t wait = delivery_bucket_take(&cs->bucket, now_mono);
    if (wait == 0)
        return 1;
    cs->wait_ms = wait;
    return 0;
}

/* Queues c behind the urgent calls already waiting and ahead of the rest. */
static void queue_push_urgent(struct call **head, struct call **tail, struct call *c)
{
    if (!*head || !(*head)->urgent) {
        c->next = *head;
        *head = c;
        if (!*tail)
            *tail = c;
        return;
    }
    struct call *p = *head;
    while (p->next && p->next->urgent)
        p = p->next;
    c->next = p->next;
    p->next = c;
    if (*tail == p)
        *tail = c;
}

void engine__conn_bulk(struct conn_state *cs, const struct connection *c, int dialect,
                       const json_t *caps)
{
    const json_t *bulk = json_object_get(caps, "bulk");
    const json_t *learnt = json_object_get(json_object_get(caps, "learnt"), "bulk");
    cs->bulk_ops = 0;
    cs->bulk_bytes = 0;
    /* SCIM 2.0 only: 1.1's Bulk has other messages (status objects, 1.1 URNs) and the
     * targets seen offer none */
    if (!c->use_bulk || dialect != SCIM_DIALECT_20 ||
        !json_is_true(json_object_get(bulk, "supported")) ||
        json_is_false(json_object_get(learnt, "supported")))
        return;
    const json_t *mo = json_object_get(bulk, "maxOperations");
    const json_t *mp = json_object_get(bulk, "maxPayloadSize");
    json_int_t ops = json_is_integer(mo) ? json_integer_value(mo) : ENGINE_BULK_DEFAULT_OPS;
    if (ops > ENGINE_BULK_OPS)
        ops = ENGINE_BULK_OPS;
    if (ops < 2)
        return; /* a Bulk request of one operation saves nothing */
    cs->bulk_ops = (int)ops;
    cs->bulk_bytes = json_is_integer(mp) && json_integer_value(mp) > 0
                         ? (size_t)json_integer_value(mp)
                         : SCIM_BULK_MAX_PAYLOAD;
}

int engine__conn_gathers(const struct conn_state *cs, struct call *call)
{
    return cs->bulk_ops >= 2 && call->kind == CALL_JOB && !call->single &&
           engine__job_is_write((struct job *)call);
}

void engine__dispatch(struct provision_engine *eng, struct call *call)
{
    struct conn_state *cs = call->er->cs;
    int gather = engine__conn_gathers(cs, call);
    if (!cs->wait_head && !gather && conn_grant(cs, sc_clock_mono_ms())) {
        engine__call_send(eng, call);
        return;
    }
    /* A write for a Bulk request waits in the queue even when the connection has room:
     * the writes queued meanwhile (a lease's jobs, the answers of one poll) go together
     * when the engine dispatches the queues, before it sleeps. */
    if (gather)
        eng->gather = 1;
    if (call->urgent)
        queue_push_urgent(&cs->wait_head, &cs->wait_tail, call);
    else
        queue_push(&cs->wait_head, &cs->wait_tail, call);
}

void engine__dispatch_waiting(struct provision_engine *eng)
{
    int64_t now = sc_clock_mono_ms();
    eng->gather = 0;
    for (struct conn_state *cs = eng->conns; cs; cs = cs->next)
        while (cs->wait_head && conn_grant(cs, now)) {
            struct call *c = queue_pop(&cs->wait_head, &cs->wait_tail);
            if (engine__conn_gathers(cs, c))
                engine__bulk_send(eng, cs, c);
            else
                engine__call_send(eng, c);
        }
}

int64_t engine__queue_wait(struct provision_engine *eng)
{
    if (eng->gather)
        return 0;
    int64_t best = -1;
    for (struct conn_state *cs = eng->conns; cs; cs = cs->next)
        if (cs->wait_head && cs->wait_ms > 0 && (best < 0 || cs->wait_ms < best))
            best = cs->wait_ms;
    return best;
}

/* ---- OAuth client-credentials tokens ---- */

#define TOKEN_BACKOFF_MS 1000      /* after a failed fetch: 1 s, doubling... */
#define TOKEN_BACKOFF_MAX_MS 60000 /* ...up to a minute, before the next one */

/* Every call waiting for cs's token: sent (err NULL) or failed with err. */
static void token_release(struct provision_engine *eng, struct conn_state *cs, const char *err)
{
    struct call *list = cs->tok_head;
    cs->tok_head = cs->tok_tail = NULL;
    while (list) {
        struct call *c = list;
        list = c->next;
        c->next = NULL;
        if (!err) {
            engine__dispatch(eng, c);
            continue;
        }
        c->er->cs->inflight++; /* as if sent: the unsent path gives it back */
        if (c->kind == CALL_JOB)
            engine__job_unsent(eng, (struct job *)c, err);
        else if (c->kind == CALL_GROUP)
            engine__group_unsent(eng, c, err);
        else
            engine__list_unsent(eng, c, err);
    }
}

static void on_token(void *arg, const struct http_multi_result *res)
{
    struct token_fetch *tf = arg;
    struct provision_engine *eng = tf->eng;
    struct conn_state *cs = tf->cs;
    const struct connection *c = tf->er->sr->rc->conn;
    cs->tok_fetch = NULL;
    char *token = NULL;
    int64_t life = 0;
    struct sc_error e = {0};
    enum sc_err err = connection_token_parse(res->status, res->body.data, res->body.len,
                                             res->error[0] ? res->error : NULL, &token, &life, &e);
    if (!err)
        err = oauth_cache_put(eng->oauth, c, token, life, sc_clock_now_ms());
    tf->er->refs--;
    free(tf);
    if (!err) {
        cs->tok_failures = 0;
        cs->tok_retry_at = 0;
        token_release(eng, cs, NULL);
        engine__rules_collect(eng);
        return;
    }
    /* Remember the failure for a while, so every waiting call does not fetch again. */
    int shift = cs->tok_failures < 6 ? cs->tok_failures : 6;
    int64_t wait = (int64_t)TOKEN_BACKOFF_MS << shift;
    if (wait > TOKEN_BACKOFF_MAX_MS)
        wait = TOKEN_BACKOFF_MAX_MS;
    cs->tok_failures++;
    cs->tok_retry_at = sc_clock_mono_ms() + wait;
    snprintf(cs->tok_error, sizeof cs->tok_error, "cannot get an OAuth token: %.240s",
             e.message[0] ? e.message : sc_strerror(err));
    SC_WARN("engine.token_failed", "connection=%s retry_in_ms=%" PRId64 " reason=\"%s\"", cs->id,
            wait, cs->tok_error);
    token_release(eng, cs, cs->tok_error);
    engine__rules_collect(eng);
}

/* Sends call's connection's token request over the multi loop. 0, or -1 with err set. */
static int token_fetch(struct provision_engine *eng, struct call *call, char *err, size_t n)
{
    struct conn_state *cs = call->er->cs;
    struct connection_token_req req = {0};
    struct sc_error e = {0};
    struct token_fetch *tf = calloc(1, sizeof *tf);
    if (!tf || connection_token_request(call->er->sr->rc->conn, &req, &e) != SC_OK) {
        free(tf);
        snprintf(err, n, "cannot get an OAuth token: %.240s",
                 e.message[0] ? e.message : "out of memory");
        return -1;
    }
    tf->eng = eng;
    tf->cs = cs;
    tf->er = call->er;
    struct http_multi_request hr = {.method = "POST",
                                    .url = req.url,
                                    .headers = (const char *const *)req.headers,
                                    .body = req.body,
                                    .body_len = req.body_len,
                                    .timeout_ms = ENGINE_TOKEN_TIMEOUT,
                                    .max_response = 1024 * 1024};
    enum sc_err herr = http_multi_add(eng->multi, &hr, on_token, tf);
    connection_token_req_clear(&req);
    if (herr) {
        free(tf);
        snprintf(err, n, "cannot get an OAuth token: cannot start the request (%s)",
                 sc_strerror(herr));
        return -1;
    }
    tf->er->refs++;
    cs->tok_fetch = tf;
    return 0;
}

int engine__token(struct provision_engine *eng, struct call *call, const char **token, char *err,
                  size_t n)
{
    const struct connection *c = call->er->sr->rc->conn;
    struct conn_state *cs = call->er->cs;
    *token = NULL;
    if (c->auth_method != CONNECTION_AUTH_CLIENT_CREDENTIALS)
        return 1;
    if (oauth_cache_peek(eng->oauth, c, sc_clock_now_ms(), token) == SC_OK)
        return 1;
    if (!cs->tok_fetch && cs->tok_retry_at > sc_clock_mono_ms()) {
        sc_strlcpy(err, cs->tok_error, n);
        return -1;
    }
    if (!cs->tok_fetch && token_fetch(eng, call, err, n))
        return -1;
    queue_push(&cs->tok_head, &cs->tok_tail, call);
    return 0;
}

int engine__token_ready(struct provision_engine *eng, struct call *call, const char **token)
{
    const struct connection *c = call->er->sr->rc->conn;
    *token = NULL;
    if (c->auth_method != CONNECTION_AUTH_CLIENT_CREDENTIALS)
        return 1;
    return oauth_cache_peek(eng->oauth, c, sc_clock_now_ms(), token) == SC_OK;
}

const char *engine__current_token(struct provision_engine *eng, const struct call *call)
{
    const char *token = NULL;
    const struct connection *c = call->er->sr->rc->conn;
    if (c->auth_method != CONNECTION_AUTH_CLIENT_CREDENTIALS ||
        oauth_cache_peek(eng->oauth, c, 0, &token) != SC_OK)
        return NULL;
    return token;
}

void engine__token_invalidate(struct provision_engine *eng, struct call *call)
{
    oauth_cache_invalidate(eng->oauth, call->er->sr->rc->conn);
}
