/* The libcurl multi wrapper (see multi.h): one easy handle per transfer with its own
 * copies of URL, headers and body. libcurl runs on a thread of its own (the I/O thread):
 * it takes added transfers from a queue, moves their bytes, and puts finished ones on a
 * second queue; the polling thread calls their callbacks from there. So the thread that
 * owns the multi (the engine's) spends no time in libcurl's loop or the kernel's socket
 * calls, and all of its own state stays on it.
 *
 * Who owns what (no field is touched by both threads outside lock):
 *   - a transfer belongs to the polling thread until http_multi_add queues it on
 *     m->in; to the I/O thread from when it takes it off m->in until it puts it on
 *     m->out (libcurl writes its response, headers and allow-list state meanwhile);
 *     to the polling thread again once taken off m->out (callback, then reuse or free);
 *   - m->in, m->out and m->stop: under m->lock;
 *   - m->multi and m->live: the I/O thread's (set up before it starts, torn down after
 *     it is joined); m->running, m->pool: the polling thread's;
 *   - m->efd (an eventfd): written by the I/O thread when m->out turns non-empty and by
 *     http_multi_wakeup from any thread, read by the polling thread; m->woken (atomic)
 *     says a wake-up was asked since the last wait, so a wake-up made while the polling
 *     thread was busy still ends its next wait (reading m->efd for finished transfers
 *     must not swallow it). */
#include "http/multi.h"
#include "http/allow_internal.h"
#include "http/client.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct transfer {
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    struct http_multi_result res;
    http_multi_done_fn done;
    void *arg;
    char errbuf[CURL_ERROR_SIZE];
    struct http__allow_ctx allow; /* the connect-time destination check */
    struct transfer *prev, *next; /* in m->in, m->live or m->out */
};

#define MULTI_POOL_MAX 256    /* idle easy handles kept for reuse */
#define MULTI_IO_WAIT_MS 1000 /* the I/O thread's longest sleep (a wake-up ends it) */

struct http_multi {
    pthread_mutex_t lock;
    struct transfer *in, *in_tail;   /* added, not yet with libcurl (lock) */
    struct transfer *out, *out_tail; /* finished, callbacks due (lock) */
    int stop;                        /* the I/O thread ends (lock) */
    int efd;                         /* eventfd: finished transfers or a wake-up */
    atomic_int woken;                /* http_multi_wakeup since the last wait */
    pthread_t io;
    int io_started;
    CURLM *multi;               /* the I/O thread's */
    struct transfer *live;      /* with libcurl (the I/O thread's) */
    int running;                /* added and not yet called back (the polling thread's) */
    CURL *pool[MULTI_POOL_MAX]; /* reset easy handles: reusing them spares the
                                   allocation of their buffers per transfer */
    int npool;
};

static void *io_main(void *arg);

static void transfer_free(struct transfer *t)
{
    if (!t)
        return;
    if (t->easy)
        curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    free(t->body);
    sc_buf_free(&t->res.body);
    free(t);
}

static void list_free(struct transfer *t)
{
    while (t) {
        struct transfer *n = t->next;
        transfer_free(t);
        t = n;
    }
}

enum sc_err http_multi_new(long max_total_connections, struct http_multi **out)
{
    struct http_multi *m = calloc(1, sizeof *m);
    if (!m)
        return SC_ERR_NOMEM;
    m->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (m->efd < 0) {
        free(m);
        return SC_ERR_INTERNAL;
    }
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        close(m->efd);
        free(m);
        return SC_ERR_INTERNAL;
    }
    m->multi = curl_multi_init();
    if (!m->multi) {
        http_multi_free(m);
        return SC_ERR_INTERNAL;
    }
    curl_multi_setopt(m->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(m->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      max_total_connections > 0 ? max_total_connections : 64L);
    curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS,
                      max_total_connections > 0 ? max_total_connections : 64L);
    if (pthread_create(&m->io, NULL, io_main, m) != 0) {
        http_multi_free(m);
        return SC_ERR_INTERNAL;
    }
    m->io_started = 1;
    *out = m;
    return SC_OK;
}

void http_multi_free(struct http_multi *m)
{
    if (!m)
        return;
    if (m->io_started) {
        pthread_mutex_lock(&m->lock);
        m->stop = 1;
        pthread_mutex_unlock(&m->lock);
        curl_multi_wakeup(m->multi);
        pthread_join(m->io, NULL);
    }
    /* the I/O thread is gone: everything is this thread's */
    for (struct transfer *t = m->live; t; t = t->next)
        curl_multi_remove_handle(m->multi, t->easy);
    list_free(m->live);
    list_free(m->in);
    list_free(m->out);
    for (int i = 0; i < m->npool; i++)
        curl_easy_cleanup(m->pool[i]);
    if (m->multi)
        curl_multi_cleanup(m->multi);
    pthread_mutex_destroy(&m->lock);
    close(m->efd);
    free(m);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct transfer *t = userdata;
    size_t n = size * nmemb;
    if (sc_buf_append(&t->res.body, ptr, n))
        return 0; /* past the cap: abort the transfer */
    return n;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct transfer *t = userdata;
    size_t n = size * nitems;
    static const char name[] = "retry-after:";
    if (n > sizeof name - 1 && strncasecmp(buf, name, sizeof name - 1) == 0) {
        const char *v = buf + sizeof name - 1;
        size_t vn = n - (sizeof name - 1);
        while (vn && (*v == ' ' || *v == '\t')) {
            v++;
            vn--;
        }
        while (vn && (v[vn - 1] == '\r' || v[vn - 1] == '\n' || v[vn - 1] == ' '))
            vn--;
        if (vn >= sizeof t->res.retry_after)
            vn = sizeof t->res.retry_after - 1;
        memcpy(t->res.retry_after, v, vn);
        t->res.retry_after[vn] = '\0';
    }
    return n;
}

enum sc_err http_multi_add(struct http_multi *m, const struct http_multi_request *req,
                           http_multi_done_fn done, void *arg)
{
    struct transfer *t = calloc(1, sizeof *t);
    if (!t)
        return SC_ERR_NOMEM;
    enum sc_err err = SC_ERR_NOMEM;
    sc_buf_init(&t->res.body, req->max_response ? req->max_response : 16u * 1024 * 1024);
    t->done = done;
    t->arg = arg;
    t->easy = m->npool > 0 ? m->pool[--m->npool] : curl_easy_init();
    if (!t->easy)
        goto fail;
    for (const char *const *h = req->headers; h && *h; h++) {
        struct curl_slist *n = curl_slist_append(t->headers, *h);
        if (!n)
            goto fail;
        t->headers = n;
    }
    /* libcurl adds "Expect: 100-continue" to larger bodies: a round trip for nothing. */
    struct curl_slist *n = curl_slist_append(t->headers, "Expect:");
    if (!n)
        goto fail;
    t->headers = n;
    CURL *c = t->easy;
    err = SC_ERR_INVALID;
    const char *method = req->method ? req->method : "GET";
    if (curl_easy_setopt(c, CURLOPT_URL, req->url) != CURLE_OK)
        goto fail;
    curl_easy_setopt(c, CURLOPT_PRIVATE, (char *)t);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 30000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    /* libcurl's default 64 KiB upload buffer, allocated and freed per transfer, makes
     * glibc consolidate and trim its heap each time; SCIM bodies are small. */
    curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    http__allow_setup(c, &t->allow, req->url);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else {
        if (curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK)
            goto fail;
        if (req->body) {
            t->body = malloc(req->body_len + 1);
            if (!t->body) {
                err = SC_ERR_NOMEM;
                goto fail;
            }
            memcpy(t->body, req->body, req->body_len);
            t->body[req->body_len] = '\0';
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, t->body);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        } else if (strcmp(method, "DELETE") != 0) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        }
    }
    /* to the I/O thread; woken only when the queue was empty (it takes it whole) */
    pthread_mutex_lock(&m->lock);
    int was_empty = m->in == NULL;
    t->prev = m->in_tail;
    if (m->in_tail)
        m->in_tail->next = t;
    else
        m->in = t;
    m->in_tail = t;
    pthread_mutex_unlock(&m->lock);
    m->running++;
    if (was_empty)
        curl_multi_wakeup(m->multi);
    return SC_OK;
fail:
    transfer_free(t);
    return err;
}

/* ---- the I/O thread ---- */

static void live_unlink(struct http_multi *m, struct transfer *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        m->live = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
}

/* Fills t's result from its easy handle (removed from libcurl by the caller). */
static void io_result(struct transfer *t, CURLcode code)
{
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_off_t total_us = 0;
    curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &total_us);
    t->res.total_ms = (double)total_us / 1000.0;
    if (code != CURLE_OK) {
        t->res.status = 0;
        t->res.timed_out = code == CURLE_OPERATION_TIMEDOUT;
        const char *msg = t->allow.refused ? t->allow.why
                          : t->errbuf[0]   ? t->errbuf
                                           : curl_easy_strerror(code);
        size_t n = strlen(msg);
        if (n >= sizeof t->res.error)
            n = sizeof t->res.error - 1;
        memcpy(t->res.error, msg, n);
        t->res.error[n] = '\0';
    } else {
        t->res.status = status;
    }
}

/* Appends the finished list done..done_tail to m->out, signalling the polling thread
 * when m->out was empty. */
static void io_hand_back(struct http_multi *m, struct transfer *done, struct transfer *done_tail)
{
    if (!done)
        return;
    pthread_mutex_lock(&m->lock);
    int was_empty = m->out == NULL;
    done->prev = m->out_tail;
    if (m->out_tail)
        m->out_tail->next = done;
    else
        m->out = done;
    m->out_tail = done_tail;
    pthread_mutex_unlock(&m->lock);
    if (was_empty) {
        uint64_t one = 1;
        ssize_t w = write(m->efd, &one, sizeof one);
        (void)w; /* EAGAIN: the counter is full, so it is readable anyway */
    }
}

static void *io_main(void *arg)
{
    struct http_multi *m = arg;
    pthread_setname_np(pthread_self(), "sc-http"); /* (top, perf, /proc: its CPU apart) */
    for (;;) {
        pthread_mutex_lock(&m->lock);
        int stop = m->stop;
        struct transfer *in = m->in;
        m->in = m->in_tail = NULL;
        pthread_mutex_unlock(&m->lock);
        if (stop) {
            list_free(in); /* never handed to libcurl; freed here, not called back */
            break;
        }
        struct transfer *done = NULL, *done_tail = NULL;
        while (in) {
            struct transfer *t = in;
            in = t->next;
            t->prev = t->next = NULL;
            if (curl_multi_add_handle(m->multi, t->easy) == CURLM_OK) {
                t->next = m->live;
                if (m->live)
                    m->live->prev = t;
                m->live = t;
                continue;
            }
            sc_strlcpy(t->errbuf, "cannot start the request", sizeof t->errbuf);
            io_result(t, CURLE_FAILED_INIT);
            t->prev = done_tail;
            if (done_tail)
                done_tail->next = t;
            else
                done = t;
            done_tail = t;
        }
        int still = 0;
        curl_multi_perform(m->multi, &still);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m->multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct transfer *t = NULL;
            CURL *easy = msg->easy_handle;
            CURLcode code = msg->data.result;
            curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
            curl_multi_remove_handle(m->multi, easy);
            if (!t)
                continue;
            live_unlink(m, t);
            io_result(t, code);
            t->prev = done_tail;
            if (done_tail)
                done_tail->next = t;
            else
                done = t;
            done_tail = t;
        }
        io_hand_back(m, done, done_tail);
        curl_multi_poll(m->multi, NULL, 0, MULTI_IO_WAIT_MS, NULL);
    }
    http_client_thread_cleanup();
    return NULL;
}

/* ---- the polling thread ---- */

/* Calls the callbacks of the finished transfers; returns how many. */
static int run_done(struct http_multi *m)
{
    uint64_t count;
    /* reset the signal first: a transfer handed back after the queue is taken signals
     * again */
    while (read(m->efd, &count, sizeof count) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&m->lock);
    struct transfer *t = m->out;
    m->out = m->out_tail = NULL;
    pthread_mutex_unlock(&m->lock);
    int n = 0;
    while (t) {
        struct transfer *next = t->next;
        m->running--;
        n++;
        if (t->done)
            t->done(t->arg, &t->res);
        if (m->npool < MULTI_POOL_MAX) {
            curl_easy_reset(t->easy);
            m->pool[m->npool++] = t->easy;
            t->easy = NULL;
        }
        transfer_free(t);
        t = next;
    }
    return n;
}

int http_multi_poll(struct http_multi *m, int timeout_ms)
{
    return http_multi_poll_fd(m, timeout_ms, -1);
}

int http_multi_poll_fd(struct http_multi *m, int timeout_ms, int extra_fd)
{
    /* a wake-up asked while this thread was busy ends the wait at once; one asked from
     * here on makes m->efd readable */
    if (run_done(m) == 0 && timeout_ms > 0 && !atomic_exchange(&m->woken, 0)) {
        struct pollfd fds[2] = {{.fd = m->efd, .events = POLLIN},
                                {.fd = extra_fd, .events = POLLIN}};
        int r;
        do
            r = poll(fds, extra_fd >= 0 ? 2 : 1, timeout_ms);
        while (r < 0 && errno == EINTR);
        atomic_store(&m->woken, 0); /* spent on this wait */
        run_done(m);
    }
    return m->running;
}

void http_multi_wakeup(struct http_multi *m)
{
    if (!m)
        return;
    atomic_store(&m->woken, 1);
    uint64_t one = 1;
    ssize_t w = write(m->efd, &one, sizeof one);
    (void)w; /* EAGAIN: the counter is full, so it is readable anyway */
}

int http_multi_running(const struct http_multi *m)
{
    return m->running;
}
