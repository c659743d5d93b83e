/* HTTP server over libmicrohttpd: a thread pool that collects each request's body
 * (with a cap), then calls one handler that fills in a response. An optional early
 * hook sees each request as soon as its headers are in, before any body byte is read,
 * and may answer it at once (an unauthenticated request never gets its body buffered). Used by the
 * admin API
 * (`scimitar serve`) and the SCIM target (`scimitar target`). The handler runs on a
 * pool thread and may block (database work); each pool thread may keep its own
 * per-thread resources (see http_server_thread_index). */
#ifndef SC_HTTP_SERVER_H
#define SC_HTTP_SERVER_H

#include "base/buf.h"
#include "base/err.h"

#include <jansson.h>
#include <stddef.h>

#define HTTP_MAX_RESPONSE_HEADERS 16

struct http_request {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* URL path, percent-decoded, without the query string */
    const char *body;   /* NUL-terminated copy of the body ("" when none) */
    size_t body_len;
    const char *remote; /* peer address as text */
    void *conn;         /* opaque: the libmicrohttpd connection */
};

struct http_response {
    int status;               /* default 200 */
    struct sc_buf body;       /* the response body (owned by the server) */
    const char *content_type; /* static string; default JSON */
    const char *header_names[HTTP_MAX_RESPONSE_HEADERS];
    char *header_values[HTTP_MAX_RESPONSE_HEADERS]; /* owned copies */
    int header_count;
};

/* Called once per complete request. Must set res->status and res->body. */
typedef void (*http_handler_fn)(void *ctx, const struct http_request *req,
                                struct http_response *res);

/* What an early hook decided. */
enum http_early {
    HTTP_EARLY_READ_BODY = 0, /* go on: read the body (up to max_body), call the handler */
    HTTP_EARLY_SKIP_BODY,     /* read and drop the body (never buffered); the handler sees
                                 an empty body */
    HTTP_EARLY_ANSWERED,      /* send res now; the body is never read and the connection
                                 is closed after the answer */
};

/* Called once per request when its method, URL and headers are in, before any of its
 * body is read (req->body is "", req->body_len 0; http_request_header and
 * http_request_query work). Returns what to do; with HTTP_EARLY_ANSWERED it must have
 * set res (as a handler does, e.g. http_response_json(res, 401, ...)). */
typedef enum http_early (*http_early_fn)(void *ctx, const struct http_request *req,
                                         struct http_response *res);

struct http_server_options {
    const char *listen; /* "127.0.0.1:8080", "[::1]:8080", ":8080"; port 0 = any free */
    size_t max_body;    /* requests with a larger body get 413 (default 1 MiB) */
    unsigned threads;   /* pool size (default 4) */
    unsigned timeout_s; /* idle connection timeout (default 30) */
    http_handler_fn handler;
    http_early_fn early; /* optional; called with ctx before the body is read */
    void *ctx;
    int thread_per_connection;  /* one thread per connection instead of the pool, so a
                                   handler that sleeps stalls only its own connection */
    const char *too_large_body; /* static body of the 413 answer (NULL = the default
                                   {"error": ...} JSON) */
    const char *too_large_type; /* its content type (NULL = application/json) */
};

struct http_server;

/* Starts serving. On success *out is new (http_server_stop frees it). Errors:
 * SC_ERR_INVALID for a malformed listen address (message says why), SC_ERR_IO when the
 * address cannot be bound. */
enum sc_err http_server_start(const struct http_server_options *opt, struct http_server **out,
                              struct sc_error *e);

/* Returns the port actually bound (useful with port 0). */
unsigned http_server_port(const struct http_server *s);

/* Stops accepting, finishes in-flight requests, frees s. NULL is a no-op. */
void http_server_stop(struct http_server *s);

/* Request accessors. Values are borrowed, valid during the handler; NULL if absent.
 * Header names are case-insensitive. Query values are percent-decoded. */
const char *http_request_header(const struct http_request *req, const char *name);
const char *http_request_query(const struct http_request *req, const char *name);

/* Calls fn for each query argument (decoded). */
void http_request_query_each(const struct http_request *req,
                             void (*fn)(void *arg, const char *key, const char *value), void *arg);

/* Adds a response header (value copied). Returns -1 when the header table is full. */
int http_response_header(struct http_response *res, const char *name, const char *value);

/* Sets status and a JSON body (v is stolen; NULL means no body). Content type
 * application/json unless already set to another JSON type by the caller. */
void http_response_json(struct http_response *res, int status, json_t *v);

/* Sets status and a plain body with the given static content type. */
void http_response_text(struct http_response *res, int status, const char *content_type,
                        const char *text);

/* Parses "host:port" forms into host (size hn) and port. 0 or -1. */
int http_parse_listen(const char *listen, char *host, size_t hn, unsigned *port);

#endif
