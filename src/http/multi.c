/* The libcurl multi wrapper (see multi.h): one easy handle per transfer with its own
 * copies of URL, headers and body, collected in a list and finished from
 * curl_multi_info_read. */
#include "http/multi.h"
#include "http/allow_internal.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

struct transfer {
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    struct http_multi_result res;
    http_multi_done_fn done;
    void *arg;
    char errbuf[CURL_ERROR_SIZE];
    struct http__allow_ctx allow; /* the connect-time destination check */
    struct transfer *prev, *next; /* the multi's list of transfers in flight */
};

#define MULTI_POOL_MAX 256 /* idle easy handles kept for reuse */

struct http_multi {
    CURLM *multi;
    int running;
    struct transfer *list;
    CURL *pool[MULTI_POOL_MAX]; /* reset easy handles: reusing them spares the
                                   allocation of their buffers per transfer */
    int npool;
};

enum sc_err http_multi_new(long max_total_connections, struct http_multi **out)
{
    struct http_multi *m = calloc(1, sizeof *m);
    if (!m)
        return SC_ERR_NOMEM;
    m->multi = curl_multi_init();
    if (!m->multi) {
        free(m);
        return SC_ERR_INTERNAL;
    }
    curl_multi_setopt(m->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(m->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      max_total_connections > 0 ? max_total_connections : 64L);
    curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS,
                      max_total_connections > 0 ? max_total_connections : 64L);
    *out = m;
    return SC_OK;
}

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

void http_multi_free(struct http_multi *m)
{
    if (!m)
        return;
    while (m->list) {
        struct transfer *t = m->list;
        m->list = t->next;
        curl_multi_remove_handle(m->multi, t->easy);
        transfer_free(t);
    }
    for (int i = 0; i < m->npool; i++)
        curl_easy_cleanup(m->pool[i]);
    curl_multi_cleanup(m->multi);
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
    if (curl_multi_add_handle(m->multi, c) != CURLM_OK)
        goto fail;
    m->running++;
    t->next = m->list;
    if (m->list)
        m->list->prev = t;
    m->list = t;
    return SC_OK;
fail:
    transfer_free(t);
    return err;
}

static void finish(struct http_multi *m, CURL *easy, CURLcode code)
{
    struct transfer *t = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
    curl_multi_remove_handle(m->multi, easy);
    m->running--;
    if (!t)
        return;
    if (t->prev)
        t->prev->next = t->next;
    else
        m->list = t->next;
    if (t->next)
        t->next->prev = t->prev;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_off_t total_us = 0;
    curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &total_us);
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
    if (t->done)
        t->done(t->arg, &t->res);
    if (m->npool < MULTI_POOL_MAX) {
        curl_easy_reset(t->easy);
        m->pool[m->npool++] = t->easy;
        t->easy = NULL;
    }
    transfer_free(t);
}

int http_multi_poll(struct http_multi *m, int timeout_ms)
{
    return http_multi_poll_fd(m, timeout_ms, -1);
}

int http_multi_poll_fd(struct http_multi *m, int timeout_ms, int extra_fd)
{
    int still = 0;
    curl_multi_perform(m->multi, &still);
    CURLMsg *msg;
    int left;
    int finished = 0;
    while ((msg = curl_multi_info_read(m->multi, &left))) {
        if (msg->msg == CURLMSG_DONE) {
            finish(m, msg->easy_handle, msg->data.result);
            finished++;
        }
    }
    if (!finished && timeout_ms > 0) {
        struct curl_waitfd wfd = {.fd = extra_fd, .events = CURL_WAIT_POLLIN};
        curl_multi_poll(m->multi, extra_fd >= 0 ? &wfd : NULL, extra_fd >= 0 ? 1 : 0, timeout_ms,
                        NULL);
        curl_multi_perform(m->multi, &still);
        while ((msg = curl_multi_info_read(m->multi, &left))) {
            if (msg->msg == CURLMSG_DONE)
                finish(m, msg->easy_handle, msg->data.result);
        }
    }
    return m->running;
}

void http_multi_wakeup(struct http_multi *m)
{
    if (m)
        curl_multi_wakeup(m->multi);
}

int http_multi_running(const struct http_multi *m)
{
    return m->running;
}
