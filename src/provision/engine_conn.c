/* The engine's connections (see engine_internal.h): per-connection queues, concurrency
 * and rate limits, health (quarantine) and OAuth client-credentials tokens. A call waits
 * on its own connection only: the queues are per connection, and dispatching walks
 * every connection, so a slow or dead one never delays another's calls. */
#include "base/clock.h"
#include "base/log.h"
#include "provision/connection.h"
#include "provision/engine_internal.h"
#include "provision/oauth.h"
#include "store/store_sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    double rate = (double)c->max_requests_per_second;
    if (rate != cs->rate) {
        delivery_bucket_init(&cs->bucket, rate, sc_clock_mono_ms());
        cs->rate = rate;
    }
    cs->max_concurrency = c->max_concurrency;
    return cs;
}

void engine__conns_free(struct provision_engine *eng)
{
    while (eng->conns) {
        struct conn_state *cs = eng->conns;
        eng->conns = cs->next;
        free(cs->tok_client);
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

static void call_send(struct provision_engine *eng, struct call *c)
{
    c->er->cs->inflight++;
    if (c->kind == CALL_JOB)
        engine__job_send(eng, (struct job *)c);
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

void engine__dispatch(struct provision_engine *eng, struct call *call)
{
    struct conn_state *cs = call->er->cs;
    if (!cs->wait_head && conn_grant(cs, sc_clock_mono_ms())) {
        call_send(eng, call);
        return;
    }
    queue_push(&cs->wait_head, &cs->wait_tail, call);
}

void engine__dispatch_waiting(struct provision_engine *eng)
{
    int64_t now = sc_clock_mono_ms();
    for (struct conn_state *cs = eng->conns; cs; cs = cs->next)
        while (cs->wait_head && conn_grant(cs, now))
            call_send(eng, queue_pop(&cs->wait_head, &cs->wait_tail));
}

int64_t engine__queue_wait(struct provision_engine *eng)
{
    int64_t best = -1;
    for (struct conn_state *cs = eng->conns; cs; cs = cs->next)
        if (cs->wait_head && cs->wait_ms > 0 && (best < 0 || cs->wait_ms < best))
            best = cs->wait_ms;
    return best;
}

/* ---- OAuth client-credentials tokens ---- */

int engine__token(struct provision_engine *eng, struct call *call, const char **token, char *err,
                  size_t n)
{
    const struct connection *c = call->er->sr->rc->conn;
    *token = NULL;
    if (c->auth_method != CONNECTION_AUTH_CLIENT_CREDENTIALS)
        return 1;
    struct sc_error e = {0};
    if (oauth_cache_token(eng->oauth, c, sc_clock_now_ms(), token, &e) == SC_OK)
        return 1;
    snprintf(err, n, "cannot get an OAuth token: %.200s", e.message);
    return -1;
}

void engine__token_invalidate(struct provision_engine *eng, struct call *call)
{
    oauth_cache_invalidate(eng->oauth, call->er->sr->rc->conn);
}
