/* libmicrohttpd wrapper: body collection with a cap, a single handler call per
 * request, header/query accessors and JSON responses. */
#include "http/server.h"
#include "base/log.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct http_server {
    struct MHD_Daemon *daemon;
    struct http_server_options opt;
    unsigned port;
};

/* Per-request state kept between libmicrohttpd callbacks. */
struct req_state {
    struct sc_buf body;
    int too_large;
    int skip_body; /* the early hook asked to drop the body */
    int answered;  /* an answer was queued before the body: drop what still comes */
};

int http_parse_listen(const char *listen, char *host, size_t hn, unsigned *port)
{
    if (!listen || !*listen)
        return -1;
    const char *colon;
    const char *h = listen;
    size_t hlen;
    if (listen[0] == '[') {
        const char *rb = strchr(listen, ']');
        if (!rb || rb[1] != ':')
            return -1;
        h = listen + 1;
        hlen = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon)
            return -1;
        hlen = (size_t)(colon - listen);
    }
    if (hlen >= hn)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    char *end = NULL;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || p < 0 || p > 65535)
        return -1;
    *port = (unsigned)p;
    return 0;
}

const char *http_request_header(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_request_query(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct query_iter {
    void (*fn)(void *, const char *, const char *);
    void *arg;
};

static enum MHD_Result query_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    (void)kind;
    struct query_iter *it = cls;
    it->fn(it->arg, key, value ? value : "");
    return MHD_YES;
}

void http_request_query_each(const struct http_request *req,
                             void (*fn)(void *arg, const char *key, const char *value), void *arg)
{
    struct query_iter it = {fn, arg};
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_cb, &it);
}

int http_response_header(struct http_response *res, const char *name, const char *value)
{
    if (res->header_count >= HTTP_MAX_RESPONSE_HEADERS)
        return -1;
    char *v = strdup(value);
    if (!v)
        return -1;
    res->header_names[res->header_count] = name;
    res->header_values[res->header_count] = v;
    res->header_count++;
    return 0;
}

void http_response_json(struct http_response *res, int status, json_t *v)
{
    res->status = status;
    sc_buf_reset(&res->body);
    if (!res->content_type || !strstr(res->content_type, "json"))
        res->content_type = "application/json";
    if (v) {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s) {
            sc_buf_puts(&res->body, s);
            free(s);
        }
        json_decref(v);
    }
}

void http_response_text(struct http_response *res, int status, const char *content_type,
                        const char *text)
{
    res->status = status;
    res->content_type = content_type;
    sc_buf_reset(&res->body);
    if (text)
        sc_buf_puts(&res->body, text);
}

static enum MHD_Result send_plain(struct MHD_Connection *conn, unsigned status, const char *body,
                                  const char *type)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", type ? type : "application/json");
    MHD_add_response_header(r, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static void response_free(struct http_response *res)
{
    sc_buf_free(&res->body);
    for (int i = 0; i < res->header_count; i++)
        free(res->header_values[i]);
}

/* Queues res on conn; close adds "Connection: close" (an answer sent before the body
 * was read: the rest of the request is never read). */
static enum MHD_Result queue_response(struct MHD_Connection *conn, const struct http_response *res,
                                      int close)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        res->body.len, res->body.data ? res->body.data : "", MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    if (res->body.len || res->status != 204)
        MHD_add_response_header(r, "Content-Type",
                                res->content_type ? res->content_type : "application/json");
    for (int i = 0; i < res->header_count; i++)
        MHD_add_response_header(r, res->header_names[i], res->header_values[i]);
    if (close)
        MHD_add_response_header(r, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)res->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Writes the peer's address of conn as text into out (size n; "?" when unknown). */
static void remote_text(struct MHD_Connection *conn, char *out, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    sc_strlcpy(out, "?", n);
    if (ci && ci->client_addr) {
        if (ci->client_addr->sa_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)ci->client_addr)->sin_addr, out,
                      (socklen_t)n);
        else if (ci->client_addr->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ci->client_addr)->sin6_addr, out,
                      (socklen_t)n);
    }
}

/* Runs the early hook on a request whose headers just arrived. Returns 1 when it
 * answered (the answer is queued into *ret). */
static int run_early(struct http_server *srv, struct req_state *st, struct MHD_Connection *conn,
                     const char *url, const char *method, enum MHD_Result *ret)
{
    char remote[INET6_ADDRSTRLEN];
    remote_text(conn, remote, sizeof remote);
    struct http_request req = {
        .method = method,
        .path = url,
        .body = "",
        .body_len = 0,
        .remote = remote,
        .conn = conn,
    };
    struct http_response res = {.status = 200};
    sc_buf_init(&res.body, 0);
    enum http_early what = srv->opt.early(srv->opt.ctx, &req, &res);
    if (what == HTTP_EARLY_SKIP_BODY)
        st->skip_body = 1;
    if (what == HTTP_EARLY_ANSWERED) {
        st->answered = 1;
        *ret = queue_response(conn, &res, 1);
    }
    response_free(&res);
    return what == HTTP_EARLY_ANSWERED;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    struct http_server *srv = cls;
    struct req_state *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        sc_buf_init(&st->body, srv->opt.max_body);
        *con_cls = st;
        enum MHD_Result early_ret = MHD_NO;
        if (srv->opt.early && run_early(srv, st, conn, url, method, &early_ret))
            return early_ret;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end = NULL;
            unsigned long long n = strtoull(cl, &end, 10);
            if (*end || n > srv->opt.max_body) {
                st->too_large = 1;
                return send_plain(conn, 413,
                                  srv->opt.too_large_body
                                      ? srv->opt.too_large_body
                                      : "{\"error\":{\"code\":\"TOO_LARGE\",\"message\":\"the "
                                        "request body is larger than the server accepts\"}}",
                                  srv->opt.too_large_type);
            }
        }
        return MHD_YES;
    }
    if (st->answered) { /* answered before the body: nothing more to do */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!st->too_large && !st->skip_body &&
            sc_buf_append(&st->body, upload_data, *upload_size) != SC_OK) {
            st->too_large = 1;
            sc_buf_free(&st->body);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (st->too_large)
        return send_plain(conn, 413,
                          srv->opt.too_large_body
                              ? srv->opt.too_large_body
                              : "{\"error\":{\"code\":\"TOO_LARGE\",\"message\":\"the request "
                                "body is larger than the server accepts\"}}",
                          srv->opt.too_large_type);

    char remote[INET6_ADDRSTRLEN];
    remote_text(conn, remote, sizeof remote);
    struct http_request req = {
        .method = method,
        .path = url,
        .body = st->body.data ? st->body.data : "",
        .body_len = st->body.len,
        .remote = remote,
        .conn = conn,
    };
    struct http_response res = {.status = 200};
    sc_buf_init(&res.body, 0);
    srv->opt.handler(srv->opt.ctx, &req, &res);

    enum MHD_Result ret = queue_response(conn, &res, 0);
    response_free(&res);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct req_state *st = *con_cls;
    if (st) {
        sc_buf_free(&st->body);
        free(st);
        *con_cls = NULL;
    }
}

enum sc_err http_server_start(const struct http_server_options *opt, struct http_server **out,
                              struct sc_error *e)
{
    char host[256];
    unsigned port;
    if (http_parse_listen(opt->listen, host, sizeof host, &port))
        return sc_error_set(e, SC_ERR_INVALID, "listen",
                            "listen address '%s' is not HOST:PORT (e.g. 127.0.0.1:8080)",
                            opt->listen ? opt->listen : "");
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
        (opt->thread_per_connection ? MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL : MHD_USE_EPOLL);
    if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_ANY);
        sin->sin_port = htons((uint16_t)port);
    } else if (strchr(host, ':')) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
            return sc_error_set(e, SC_ERR_INVALID, "listen", "'%s' is not an IPv6 address", host);
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        if (strcmp(host, "localhost") == 0)
            inet_pton(AF_INET, "127.0.0.1", &sin->sin_addr);
        else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
            return sc_error_set(e, SC_ERR_INVALID, "listen",
                                "'%s' is not an IPv4 address (use 127.0.0.1 or [::1])", host);
    }
    struct http_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    srv->opt = *opt;
    if (!srv->opt.max_body)
        srv->opt.max_body = 1024 * 1024;
    if (!srv->opt.threads)
        srv->opt.threads = 4;
    if (!srv->opt.timeout_s)
        srv->opt.timeout_s = 30;
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
        srv->opt.thread_per_connection ? 0u : srv->opt.threads, MHD_OPTION_CONNECTION_TIMEOUT,
        srv->opt.timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_CONNECTION_LIMIT, 4096u, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
    if (!srv->daemon) {
        free(srv);
        return sc_error_set(e, SC_ERR_IO, "listen",
                            "cannot listen on %s (address in use or not available)", opt->listen);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : port;
    *out = srv;
    return SC_OK;
}

unsigned http_server_port(const struct http_server *s)
{
    return s->port;
}

void http_server_stop(struct http_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->daemon);
    free(s);
}
