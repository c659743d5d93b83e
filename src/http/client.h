/* Blocking HTTP client over libcurl's easy interface, for the CLI, Test Connection and
 * OAuth token requests. Each thread keeps one easy handle so consecutive requests to
 * the same host reuse the connection (keep-alive). The provisioning engine's
 * concurrent delivery uses its own libcurl multi loop. */
#ifndef SC_HTTP_CLIENT_H
#define SC_HTTP_CLIENT_H

#include "base/buf.h"
#include "base/err.h"

#include <stddef.h>

/* Which part of the exchange failed (for Test Connection's step report). */
enum http_client_stage {
    HTTP_STAGE_NONE = 0, /* the exchange completed (any HTTP status) */
    HTTP_STAGE_URL,      /* the URL is malformed or its scheme unsupported */
    HTTP_STAGE_DNS,      /* the host name did not resolve */
    HTTP_STAGE_CONNECT,  /* TCP connect failed or timed out */
    HTTP_STAGE_TLS,      /* TLS handshake or certificate check failed */
    HTTP_STAGE_TRANSFER  /* sending or receiving failed, or the deadline passed */
};

struct http_client_request {
    const char *method; /* default "GET" */
    const char *url;
    const char *const *headers; /* NULL-terminated "Name: value" lines, or NULL */
    const char *body;           /* may be NULL */
    size_t body_len;
    long timeout_ms;        /* whole exchange; default 30000 */
    size_t max_response;    /* response body cap; default 16 MiB */
    const char *basic_user; /* with basic_pass: HTTP Basic auth, or NULL */
    const char *basic_pass;
};

struct http_client_response {
    long status;        /* HTTP status, 0 when no response */
    struct sc_buf body; /* response body */
    char content_type[128];
    char retry_after[64];       /* Retry-After header value, "" if none */
    char www_authenticate[256]; /* WWW-Authenticate, "" if none */
    char location[512];
    char etag[128];
    enum http_client_stage failed_stage;
    char error[256]; /* libcurl's description when failed_stage != NONE */
    double namelookup_ms, connect_ms, tls_ms, total_ms;
    char remote_ip[64];
};

/* Initialises libcurl once per process (call before starting threads). */
void http_client_global_init(void);

/* Performs one request. Returns SC_OK when an HTTP response arrived (whatever its
 * status; check res->status), or SC_ERR_UNAVAILABLE / SC_ERR_TIMEOUT / SC_ERR_INVALID
 * with res->failed_stage and res->error set. res is initialised here; free it with
 * http_client_response_free() in every case. */
enum sc_err http_client_do(const struct http_client_request *req, struct http_client_response *res);

/* Frees what res holds. */
void http_client_response_free(struct http_client_response *res);

/* Frees this thread's reusable handle (call before a thread exits). */
void http_client_thread_cleanup(void);

/* Percent-encodes s for a URL query value into a new string (free it). */
char *http_client_escape(const char *s);

#endif
