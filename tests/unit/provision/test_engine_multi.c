/* Unit tests for the engine's concurrent HTTP client (http/multi.c) against a local
 * libmicrohttpd server on loopback: many transfers in flight at once, each answered
 * through its callback with status, body and Retry-After; methods and bodies as given;
 * a transport failure; a deadline; a wake-up that interrupts the wait; freeing with
 * transfers in flight; callbacks on the polling thread while libcurl runs on its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/clock.h"
#include "http/multi.h"
#include "http/server.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void handler(void *ctx, const struct http_request *req, struct http_response *res)
{
    (void)ctx;
    if (strcmp(req->path, "/slow") == 0) {
        sc_clock_sleep_ms(1500);
        http_response_text(res, 200, "text/plain", "late");
        return;
    }
    if (strcmp(req->path, "/busy") == 0) {
        http_response_header(res, "Retry-After", "7");
        http_response_text(res, 429, "text/plain", "slow down");
        return;
    }
    /* echo: "METHOD path body" */
    char out[512];
    snprintf(out, sizeof out, "%s %s %s", req->method, req->path, req->body);
    http_response_text(res, 201, "text/plain", out);
}

struct results {
    int n;
    long status[64];
    char body[64][128];
    char retry_after[64][16];
    int timed_out[64];
};

static void on_done(void *arg, const struct http_multi_result *res)
{
    struct results *r = arg;
    int i = r->n++;
    r->status[i] = res->status;
    snprintf(r->body[i], sizeof r->body[i], "%s", res->body.data ? res->body.data : "");
    snprintf(r->retry_after[i], sizeof r->retry_after[i], "%s", res->retry_after);
    r->timed_out[i] = res->timed_out;
}

static struct http_server *start_server(char *base, size_t n)
{
    struct http_server *srv = NULL;
    struct sc_error e = {0};
    struct http_server_options o = {
        .listen = "127.0.0.1:0", .threads = 4, .handler = handler, .ctx = NULL};
    assert_int_equal(http_server_start(&o, &srv, &e), SC_OK);
    snprintf(base, n, "http://127.0.0.1:%u", http_server_port(srv));
    return srv;
}

static void run_until(struct http_multi *m, struct results *r, int want)
{
    int64_t deadline = sc_clock_mono_ms() + 20000;
    while (r->n < want && sc_clock_mono_ms() < deadline)
        http_multi_poll(m, 50);
}

static void test_many_in_flight(void **state)
{
    (void)state;
    char base[64], url[128];
    struct http_server *srv = start_server(base, sizeof base);
    struct http_multi *m = NULL;
    assert_int_equal(http_multi_new(0, &m), SC_OK);
    struct results r = {0};
    const char *hdrs[] = {"Content-Type: application/scim+json", NULL};
    for (int i = 0; i < 40; i++) {
        snprintf(url, sizeof url, "%s/Users/%d", base, i);
        char body[32];
        snprintf(body, sizeof body, "{\"n\":%d}", i);
        struct http_multi_request req = {.method = i % 2 ? "PATCH" : "POST",
                                         .url = url,
                                         .headers = hdrs,
                                         .body = body,
                                         .body_len = strlen(body)};
        assert_int_equal(http_multi_add(m, &req, on_done, &r), SC_OK);
    }
    assert_int_equal(http_multi_running(m), 40);
    run_until(m, &r, 40);
    assert_int_equal(r.n, 40);
    assert_int_equal(http_multi_running(m), 0);
    int patches = 0;
    for (int i = 0; i < 40; i++) {
        assert_int_equal(r.status[i], 201);
        patches += strncmp(r.body[i], "PATCH /Users/", 13) == 0;
        assert_non_null(strstr(r.body[i], "{\"n\":"));
    }
    assert_int_equal(patches, 20);
    /* a DELETE without body, and a 429 with Retry-After */
    struct results r2 = {0};
    snprintf(url, sizeof url, "%s/Users/x", base);
    struct http_multi_request del = {.method = "DELETE", .url = url};
    assert_int_equal(http_multi_add(m, &del, on_done, &r2), SC_OK);
    snprintf(url, sizeof url, "%s/busy", base);
    struct http_multi_request busy = {.method = "GET", .url = url};
    assert_int_equal(http_multi_add(m, &busy, on_done, &r2), SC_OK);
    run_until(m, &r2, 2);
    assert_int_equal(r2.n, 2);
    for (int i = 0; i < 2; i++) {
        if (r2.status[i] == 429) {
            assert_string_equal(r2.retry_after[i], "7");
        } else {
            assert_int_equal(r2.status[i], 201);
            assert_string_equal(r2.body[i], "DELETE /Users/x ");
        }
    }
    http_multi_free(m);
    http_server_stop(srv);
}

static void test_failures_and_deadline(void **state)
{
    (void)state;
    char base[64], url[128];
    struct http_server *srv = start_server(base, sizeof base);
    struct http_multi *m = NULL;
    assert_int_equal(http_multi_new(4, &m), SC_OK);
    struct results r = {0};
    /* nothing listens on port 1 */
    struct http_multi_request refused = {.method = "GET", .url = "http://127.0.0.1:1/Users"};
    assert_int_equal(http_multi_add(m, &refused, on_done, &r), SC_OK);
    run_until(m, &r, 1);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.status[0], 0);
    /* a deadline shorter than the answer */
    snprintf(url, sizeof url, "%s/slow", base);
    struct http_multi_request slow = {.method = "GET", .url = url, .timeout_ms = 200};
    assert_int_equal(http_multi_add(m, &slow, on_done, &r), SC_OK);
    run_until(m, &r, 2);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.status[1], 0);
    assert_int_equal(r.timed_out[1], 1);
    /* freeing with a transfer in flight calls nothing and leaks nothing */
    struct http_multi_request slow2 = {.method = "GET", .url = url};
    assert_int_equal(http_multi_add(m, &slow2, on_done, &r), SC_OK);
    http_multi_poll(m, 10);
    http_multi_free(m);
    assert_int_equal(r.n, 2);
    http_server_stop(srv);
}

/* libcurl runs on the multi's own thread; callbacks run on the polling thread, and a
 * callback may start the next transfer (as a job's next step does). */
struct chain {
    struct http_multi *m;
    const char *base;
    pthread_t poller;
    int done, wrong_thread, bad, left;
};

static void chain_start(struct chain *c, int i);

static void on_chain(void *arg, const struct http_multi_result *res)
{
    struct chain *c = arg;
    if (!pthread_equal(pthread_self(), c->poller))
        c->wrong_thread++;
    if (res->status != 201 || !res->body.data || !strstr(res->body.data, "POST /Users/"))
        c->bad++;
    c->done++;
    if (c->left > 0) {
        c->left--;
        chain_start(c, c->left);
    }
}

static void chain_start(struct chain *c, int i)
{
    char url[128], body[32];
    snprintf(url, sizeof url, "%s/Users/%d", c->base, i);
    snprintf(body, sizeof body, "{\"n\":%d}", i);
    struct http_multi_request req = {
        .method = "POST", .url = url, .body = body, .body_len = strlen(body)};
    if (http_multi_add(c->m, &req, on_chain, c) != SC_OK)
        c->bad++;
}

static void test_callbacks_on_the_polling_thread(void **state)
{
    (void)state;
    char base[64];
    struct http_server *srv = start_server(base, sizeof base);
    struct chain c = {.base = base, .poller = pthread_self(), .left = 400};
    assert_int_equal(http_multi_new(8, &c.m), SC_OK);
    for (int i = 0; i < 32; i++)
        chain_start(&c, 1000 + i);
    int64_t deadline = sc_clock_mono_ms() + 60000;
    while (c.done < 432 && sc_clock_mono_ms() < deadline)
        http_multi_poll(c.m, 50);
    assert_int_equal(c.done, 432);
    assert_int_equal(c.bad, 0);
    assert_int_equal(c.wrong_thread, 0);
    assert_int_equal(http_multi_running(c.m), 0);
    /* nothing more is called back */
    http_multi_poll(c.m, 20);
    assert_int_equal(c.done, 432);
    http_multi_free(c.m);
    http_server_stop(srv);
}

static void *waker(void *arg)
{
    sc_clock_sleep_ms(100);
    http_multi_wakeup(arg);
    return NULL;
}

static void test_wakeup_interrupts_the_wait(void **state)
{
    (void)state;
    struct http_multi *m = NULL;
    assert_int_equal(http_multi_new(0, &m), SC_OK);
    pthread_t t;
    int64_t t0 = sc_clock_mono_ms();
    assert_int_equal(pthread_create(&t, NULL, waker, m), 0);
    /* Without the wake-up this would wait ten minutes. The waker sleeps 100 ms first;
     * a wake-up made before the wait starts ends the next wait at once, so the wait
     * ends after the wake-up whatever the order, and long before its timeout (the
     * upper bound leaves room for a loaded machine). */
    assert_int_equal(http_multi_poll(m, 600000), 0);
    int64_t waited = sc_clock_mono_ms() - t0;
    pthread_join(t, NULL);
    assert_true(waited >= 90);
    assert_true(waited < 60000);
    /* the wake-up is spent: the next wait runs to its own timeout */
    t0 = sc_clock_mono_ms();
    http_multi_poll(m, 200);
    assert_true(sc_clock_mono_ms() - t0 >= 150);
    /* a wake-up asked while the owner was busy elsewhere (before it polls) ends its next
     * wait at once: the engine must not sleep on a change committed during its round
     * (reading the multi's signal for finished transfers must not swallow it) */
    http_multi_wakeup(m);
    t0 = sc_clock_mono_ms();
    http_multi_poll(m, 10000);
    assert_true(sc_clock_mono_ms() - t0 < 9000);
    /* and it is spent then */
    t0 = sc_clock_mono_ms();
    http_multi_poll(m, 200);
    assert_true(sc_clock_mono_ms() - t0 >= 150);
    http_multi_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_in_flight),
        cmocka_unit_test(test_failures_and_deadline),
        cmocka_unit_test(test_wakeup_interrupts_the_wait),
        cmocka_unit_test(test_callbacks_on_the_polling_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
