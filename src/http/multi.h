/* Concurrent HTTP client over libcurl's multi interface, for the provisioning engine:
 * many transfers in flight at once, connections kept alive and shared (HTTP/2
 * multiplexing where the server offers it over TLS), each transfer's response handed to
 * a completion callback. libcurl runs on a thread of the multi's own (started by
 * http_multi_new, joined by http_multi_free); the owning thread adds transfers and calls
 * http_multi_poll in its loop, which runs the callbacks there, so callbacks never run
 * concurrently with the owner. Any thread may call http_multi_wakeup to interrupt the
 * wait. Everything but http_multi_wakeup is for the owning thread only. */
#ifndef SC_HTTP_MULTI_H
#define SC_HTTP_MULTI_H

#include "base/buf.h"
#include "base/err.h"

#include <stddef.h>

struct http_multi;

struct http_multi_request {
    const char *method;         /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *url;            /* copied */
    const char *const *headers; /* NULL-terminated "Name: value" lines (copied), or NULL */
    const char *body;           /* copied; may be NULL */
    size_t body_len;
    long timeout_ms;     /* whole exchange; 0 = 30000 */
    size_t max_response; /* response body cap; 0 = 16 MiB */
};

struct http_multi_result {
    long status;          /* HTTP status, 0 when no response arrived */
    struct sc_buf body;   /* response body (owned by the multi; valid during the call) */
    char retry_after[64]; /* Retry-After header value, "" if none */
    char error[256];      /* transport error text when status is 0 */
    int timed_out;        /* the deadline passed */
    double total_ms;      /* the exchange's duration */
};

/* Called on the polling thread when a transfer finishes (any status or a transport
 * failure). res is borrowed for the call. */
typedef void (*http_multi_done_fn)(void *arg, const struct http_multi_result *res);

/* Creates a multi handle. max_total_connections caps open connections (0 = 64).
 * *out is new (http_multi_free). Errors: SC_ERR_NOMEM, SC_ERR_INTERNAL. */
enum sc_err http_multi_new(long max_total_connections, struct http_multi **out);

/* Frees m, abandoning transfers in flight without calling their callbacks. NULL is a
 * no-op. */
void http_multi_free(struct http_multi *m);

/* Starts a transfer; done(arg, result) is called once from http_multi_poll. Everything
 * in req is copied. A failed call never calls done. Errors: SC_ERR_NOMEM,
 * SC_ERR_INVALID (libcurl refused an option, e.g. a malformed method). A transfer that
 * libcurl's loop then refuses to take is answered through done with status 0 and the
 * error "cannot start the request". */
enum sc_err http_multi_add(struct http_multi *m, const struct http_multi_request *req,
                           http_multi_done_fn done, void *arg);

/* Calls the callbacks of the transfers that finished; when none had, waits up to
 * timeout_ms for one to finish or a wake-up, and calls theirs. Returns the number of
 * transfers still in flight (added and not yet called back). */
int http_multi_poll(struct http_multi *m, int timeout_ms);

/* As http_multi_poll, and the wait also ends when extra_fd (-1 = none) is readable (a
 * database connection's notifications, say). */
int http_multi_poll_fd(struct http_multi *m, int timeout_ms, int extra_fd);

/* Interrupts a wait in http_multi_poll (or makes the next one return at once).
 * Thread-safe, never blocks. */
void http_multi_wakeup(struct http_multi *m);

/* The number of transfers in flight. */
int http_multi_running(const struct http_multi *m);

#endif
