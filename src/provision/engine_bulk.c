/* SCIM Bulk for the engine's writes (see engine_internal.h; RFC 7644 §3.7). Where a
 * connection's target offers Bulk (its capabilities, read by Test Connection), the
 * connection's useBulk preference allows it and it speaks SCIM 2.0, the jobs' writes
 * (POST, PUT, PATCH, DELETE of a user) wait in the connection's queue until the engine
 * dispatches the queues; then each slot and rate token the connection is granted sends
 * one Bulk request carrying up to maxOperations of them (and under maxPayloadSize
 * bytes), live calls first as the queue orders them. Jobs keep their logic: each
 * operation's outcome reaches its job as the answer to its call.
 *
 *   - An operation's outcome: its status, its response as the body (for a create that
 *     answers no resource, the id its location ends with), matched by bulkId (by order
 *     when the target gives none).
 *   - A Bulk request refused as a whole (a 4xx other than 401, 403, 408 and 429, a 501,
 *     or a 2xx that is not a BulkResponse) or an answer that lacks some operation: the
 *     connection stops using Bulk (learnt in its capabilities, with the reason, until a
 *     Test Connection finds Bulk offered again) and the calls left go alone, as the
 *     same attempt (after a 2xx the target may have run them: a create looks the
 *     account up first).
 *   - Any other failure (no answer, 5xx, 429, 401, 403): each job takes it as its own
 *     call's failure (retry with back-off; an uncertain create is looked up first).
 *   - Look-ups and reads always go alone; so does a write that would not fit the payload
 *     limit by itself or whose path or body holds a "bulkId:" string. */
#include "base/json.h"
#include "base/log.h"
#include "provision/caps.h"
#include "provision/connection.h"
#include "provision/engine_internal.h"
#include "scim/message.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BULK_ID_MAX 16

struct bulk {
    struct provision_engine *eng;
    struct conn_state *cs;
    struct call **calls;           /* the jobs' calls, in the request's order */
    char (*bulk_ids)[BULK_ID_MAX]; /* operation i's bulkId */
    const char **methods;          /* operation i's method (borrowed from its job) */
    size_t n;
    struct bulk *prev, *next; /* the engine's Bulk requests on the wire */
};

static void bulk_free(struct bulk *b)
{
    if (!b)
        return;
    free(b->calls);
    free(b->bulk_ids);
    free(b->methods);
    free(b);
}

static struct bulk *bulk_new(struct provision_engine *eng, struct conn_state *cs, size_t cap)
{
    struct bulk *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->eng = eng;
    b->cs = cs;
    b->calls = calloc(cap, sizeof *b->calls);
    b->bulk_ids = calloc(cap, sizeof *b->bulk_ids);
    b->methods = calloc(cap, sizeof *b->methods);
    if (!b->calls || !b->bulk_ids || !b->methods) {
        bulk_free(b);
        return NULL;
    }
    return b;
}

/* Appends call's write to w when it fits: 1 added, 0 not a Bulk write (it goes alone),
 * -1 it does not fit (or out of memory). */
static int bulk_add(struct bulk *b, struct scim_bulk_writer *w, struct call *call)
{
    const char *method = NULL;
    const json_t *body = NULL;
    struct sc_buf path;
    sc_buf_init(&path, 0);
    int rc = engine__job_write((struct job *)call, &method, &path, &body);
    if (rc) {
        snprintf(b->bulk_ids[b->n], BULK_ID_MAX, "b%zu", b->n);
        rc = scim_bulk_writer_add(w, method, b->bulk_ids[b->n], path.data, NULL, body,
                                  b->cs->bulk_bytes);
        if (rc == 1) {
            b->calls[b->n] = call;
            b->methods[b->n] = method;
            b->n++;
        } else {
            rc = -1;
        }
    }
    sc_buf_free(&path);
    return rc;
}

/* Sends the calls of b left (not NULL) alone; maybe_done: the target may have run them. */
static void bulk_requeue(struct provision_engine *eng, struct call **calls, size_t n,
                         int maybe_done)
{
    for (size_t i = 0; i < n; i++)
        if (calls[i])
            engine__job_alone(eng, (struct job *)calls[i], maybe_done);
}

/* The connection's target does not take Bulk requests as sent: learnt, and the
 * connection stops using Bulk. */
static void bulk_refused(struct provision_engine *eng, struct conn_state *cs, long status,
                         const char *why)
{
    SC_WARN("engine.bulk_refused", "connection=%s status=%ld reason=\"%s\" (writes go alone)",
            cs->id, status, why);
    cs->bulk_ops = 0;
    json_t *fact =
        json_pack("{s:b, s:I, s:s}", "supported", 0, "status", (json_int_t)status, "reason", why);
    if (!fact || provision_caps_learn(eng->st, cs->id, "bulk", fact) != SC_OK)
        SC_WARN("engine.learn_failed", "connection=%s key=bulk", cs->id);
    json_decref(fact);
}

/* Does a whole-request status say the target refuses Bulk requests (as opposed to a
 * failure each call would meet alone)? */
static int refusal(long st)
{
    if (st >= 400 && st < 500)
        return st != 401 && st != 403 && st != 408 && st != 429;
    return st == 501 || (st >= 300 && st < 400) || (st > 0 && st < 200);
}

/* Builds into r the answer to one operation (method: the request's) from its result:
 * the status, and as body the response (what the target said of it), or for a create
 * answered without the resource's id the id its location ends with (r->body is r's:
 * sc_buf_free it). */
static void op_result(const struct scim_bulk_result *br, const char *method,
                      const struct http_multi_result *whole, struct http_multi_result *r)
{
    memset(r, 0, sizeof *r);
    r->status = br->status;
    r->total_ms = whole->total_ms;
    sc_buf_init(&r->body, 0);
    if (json_is_string(br->response)) { /* words rather than an Error */
        sc_buf_puts(&r->body, json_string_value(br->response));
        return;
    }
    json_t *body = json_is_object(br->response) ? json_incref(br->response) : NULL;
    char id[1024];
    if (br->status >= 200 && br->status < 300 && strcmp(method, "POST") == 0 &&
        !json_is_string(json_object_get(body, "id")) &&
        scim_bulk_location_id(br->location, id, sizeof id)) {
        json_t *copy = body ? json_copy(body) : json_object();
        json_decref(body);
        body = copy;
        if (body)
            json_object_set_new(body, "id", json_string(id));
    }
    char *text = body ? sc_json_dump(body) : NULL;
    if (text)
        sc_buf_puts(&r->body, text);
    free(text);
    json_decref(body);
}

static void on_bulk(void *arg, const struct http_multi_result *res)
{
    struct bulk *b = arg;
    struct provision_engine *eng = b->eng;
    struct conn_state *cs = b->cs;
    cs->inflight--;
    if (b->prev)
        b->prev->next = b->next;
    else
        eng->bulks = b->next;
    if (b->next)
        b->next->prev = b->prev;
    engine__metrics_bulk(eng, b->n);
    long st = res->status;
    SC_DEBUG("engine.bulk_answered", "connection=%s ops=%zu status=%ld ms=%.1f", cs->id, b->n, st,
             res->total_ms);
    json_t *body = NULL;
    struct scim_bulk_result *results = NULL;
    size_t nres = 0;
    long *idx = NULL;
    char why[300];
    if (st >= 200 && st < 300) {
        struct scim_error se = {0};
        body = res->body.len ? json_loadb(res->body.data, res->body.len, 0, NULL) : NULL;
        if (scim_bulk_response_read(body, &results, &nres, &se) != SC_OK) {
            snprintf(why, sizeof why, "POST /Bulk answered %ld with %s", st,
                     se.detail[0] ? se.detail : "an answer that cannot be read");
            bulk_refused(eng, cs, st, why);
            bulk_requeue(eng, b->calls, b->n, 1);
            goto done;
        }
    } else if (refusal(st)) {
        char words[200] = "";
        connection_error_text(b->calls[0]->er->sr->rc->conn,
                              engine__current_token(eng, b->calls[0]), res->body.data,
                              res->body.len < 400 ? res->body.len : 400, words, sizeof words);
        snprintf(why, sizeof why, "POST /Bulk answered %ld%s%s", st, words[0] ? ": " : "", words);
        bulk_refused(eng, cs, st, why);
        bulk_requeue(eng, b->calls, b->n, 0);
        goto done;
    } else {
        /* the request failed as a whole: each job as if its own call had */
        engine__conn_health(eng, cs, delivery_classify(st) != DELIVERY_PERMANENT);
        for (size_t i = 0; i < b->n; i++)
            engine__job_answer(eng, (struct job *)b->calls[i], res, 1);
        goto done;
    }
    idx = calloc(b->n, sizeof *idx);
    const char **ids = calloc(b->n, sizeof *ids);
    if (!idx || !ids) {
        free(ids);
        bulk_requeue(eng, b->calls, b->n, 1);
        goto done;
    }
    for (size_t i = 0; i < b->n; i++)
        ids[i] = b->bulk_ids[i];
    scim_bulk_response_match(results, nres, ids, b->methods, b->n, idx);
    free(ids);
    size_t missing = 0;
    for (size_t i = 0; i < b->n; i++)
        missing += idx[i] < 0;
    engine__conn_health(eng, cs, 0);
    if (missing) {
        snprintf(why, sizeof why,
                 "the answer to a Bulk request of %zu operations holds the outcome of %zu", b->n,
                 b->n - missing);
        bulk_refused(eng, cs, st, why);
    }
    for (size_t i = 0; i < b->n; i++) {
        if (idx[i] < 0)
            continue;
        struct http_multi_result r;
        op_result(&results[idx[i]], b->methods[i], res, &r);
        engine__job_answer(eng, (struct job *)b->calls[i], &r, 0);
        sc_buf_free(&r.body);
        b->calls[i] = NULL;
    }
    if (missing)
        bulk_requeue(eng, b->calls, b->n, 1);
done:
    free(idx);
    free(results);
    json_decref(body);
    bulk_free(b);
}

void engine__bulk_send(struct provision_engine *eng, struct conn_state *cs, struct call *first)
{
    const char *token = NULL;
    struct scim_bulk_writer w = {0};
    char **headers = NULL;
    struct sc_buf url;
    sc_buf_init(&url, 0);
    size_t cap = (size_t)cs->bulk_ops;
    struct bulk *b = NULL;
    /* no access token yet: the call alone fetches it; the others follow */
    if (!engine__token_ready(eng, first, &token) || !(b = bulk_new(eng, cs, cap)) ||
        scim_bulk_writer_init(&w, 0)) {
        engine__call_send(eng, first);
        goto done;
    }
    if (bulk_add(b, &w, first) != 1) {
        first->single = 1; /* not a Bulk write, or too large by itself */
        engine__call_send(eng, first);
        goto done;
    }
    /* the writes waiting behind it, in the queue's order (live calls first) */
    struct call **pp = &cs->wait_head, *prev = NULL;
    while (*pp && b->n < cap) {
        struct call *c = *pp;
        int rc = engine__conn_gathers(cs, c) ? bulk_add(b, &w, c) : 0;
        if (rc < 0)
            break; /* the payload is full */
        if (rc == 0) {
            if (engine__conn_gathers(cs, c))
                c->single = 1; /* it goes alone at its turn */
            prev = c;
            pp = &c->next;
            continue;
        }
        *pp = c->next;
        if (cs->wait_tail == c)
            cs->wait_tail = prev;
        c->next = NULL;
    }
    if (b->n < 2) {
        engine__call_send(eng, first); /* no Bulk request of one */
        goto done;
    }
    size_t len = 0;
    const char *text = scim_bulk_writer_finish(&w, &len);
    const struct connection *c = first->er->sr->rc->conn;
    enum sc_err err = text ? sc_buf_printf(&url, "%s/Bulk", c->base_url) : SC_ERR_NOMEM;
    if (!err)
        err = connection_request_headers(c, token, &headers);
    struct http_multi_request req = {.method = "POST",
                                     .url = url.data,
                                     .headers = (const char *const *)headers,
                                     .body = text,
                                     .body_len = len,
                                     .timeout_ms = ENGINE_BULK_TIMEOUT};
    if (!err)
        err = http_multi_add(eng->multi, &req, on_bulk, b);
    if (err) {
        char why[120];
        snprintf(why, sizeof why, "cannot start the request: %s", sc_strerror(err));
        for (size_t i = 0; i < b->n; i++) {
            cs->inflight++; /* as if sent: the unsent path gives it back */
            engine__job_unsent(eng, (struct job *)b->calls[i], why);
        }
        goto done;
    }
    cs->inflight++;
    SC_DEBUG("engine.bulk_sent", "connection=%s ops=%zu bytes=%zu inflight=%d", cs->id, b->n, len,
             cs->inflight);
    b->next = eng->bulks;
    if (eng->bulks)
        eng->bulks->prev = b;
    eng->bulks = b;
    b = NULL;
done:
    bulk_free(b);
    scim_bulk_writer_free(&w);
    connection_headers_free(headers);
    sc_buf_free(&url);
}

void engine__bulks_free(struct provision_engine *eng)
{
    while (eng->bulks) {
        struct bulk *b = eng->bulks;
        eng->bulks = b->next;
        bulk_free(b);
    }
}
