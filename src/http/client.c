/* Blocking libcurl client with a per-thread reusable handle. */
#include "http/client.h"
#include "http/allow_internal.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static _Thread_local CURL *thread_handle;
static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void http_client_global_init(void)
{
    pthread_once(&global_once, global_init);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct http_client_response *res = userdata;
    size_t n = size * nmemb;
    if (sc_buf_append(&res->body, ptr, n) != SC_OK)
        return 0; /* past the cap: abort the transfer */
    return n;
}

static void copy_header_value(char *dst, size_t dn, const char *v, size_t vn)
{
    while (vn && (*v == ' ' || *v == '\t')) {
        v++;
        vn--;
    }
    while (vn && (v[vn - 1] == '\r' || v[vn - 1] == '\n' || v[vn - 1] == ' '))
        vn--;
    if (vn >= dn)
        vn = dn - 1;
    memcpy(dst, v, vn);
    dst[vn] = '\0';
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct http_client_response *res = userdata;
    size_t n = size * nitems;
    static const struct {
        const char *name;
        size_t off, len;
    } wanted[] = {
        {"retry-after:", offsetof(struct http_client_response, retry_after), 64},
        {"www-authenticate:", offsetof(struct http_client_response, www_authenticate), 256},
        {"location:", offsetof(struct http_client_response, location), 512},
        {"etag:", offsetof(struct http_client_response, etag), 128},
    };
    for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
        size_t wl = strlen(wanted[i].name);
        if (n > wl && strncasecmp(buf, wanted[i].name, wl) == 0)
            copy_header_value((char *)res + wanted[i].off, wanted[i].len, buf + wl, n - wl);
    }
    return n;
}

static enum http_client_stage stage_of(CURLcode rc)
{
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return HTTP_STAGE_URL;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return HTTP_STAGE_DNS;
    case CURLE_COULDNT_CONNECT:
        return HTTP_STAGE_CONNECT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
        return HTTP_STAGE_TLS;
    default:
        return HTTP_STAGE_TRANSFER;
    }
}

enum sc_err http_client_do(const struct http_client_request *req, struct http_client_response *res)
{
    memset(res, 0, sizeof *res);
    sc_buf_init(&res->body, req->max_response ? req->max_response : 16u * 1024 * 1024);
    http_client_global_init();
    if (!thread_handle)
        thread_handle = curl_easy_init();
    CURL *h = thread_handle;
    if (!h)
        return SC_ERR_NOMEM;
    curl_easy_reset(h);
    struct curl_slist *hdrs = NULL;
    for (const char *const *p = req->headers; p && *p; p++)
        hdrs = curl_slist_append(hdrs, *p);
    /* no "Expect: 100-continue" round trip on larger bodies */
    hdrs = curl_slist_append(hdrs, "Expect:");
    const char *method = req->method ? req->method : "GET";
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 30000L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, res);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, res);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, res->error);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    struct http__allow_ctx allow;
    http__allow_setup(h, &allow, req->url);
    if (req->basic_user) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, req->basic_user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, req->basic_pass ? req->basic_pass : "");
    }
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        if (req->body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
            strcmp(method, "PATCH") == 0) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)(req->body ? req->body_len : 0));
        }
    }
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hdrs);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);

    double t = 0;
    curl_easy_getinfo(h, CURLINFO_NAMELOOKUP_TIME, &t);
    res->namelookup_ms = t * 1000;
    curl_easy_getinfo(h, CURLINFO_CONNECT_TIME, &t);
    res->connect_ms = t * 1000;
    curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME, &t);
    res->tls_ms = t * 1000;
    curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &t);
    res->total_ms = t * 1000;
    char *ip = NULL;
    if (curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip)
        copy_header_value(res->remote_ip, sizeof res->remote_ip, ip, strlen(ip));
    char *ct = NULL;
    if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
        copy_header_value(res->content_type, sizeof res->content_type, ct, strlen(ct));
    if (rc != CURLE_OK && allow.refused) {
        res->failed_stage = HTTP_STAGE_CONNECT;
        copy_header_value(res->error, sizeof res->error, allow.why, strlen(allow.why));
        return SC_ERR_UNAVAILABLE;
    }
    if (rc != CURLE_OK) {
        res->failed_stage = stage_of(rc);
        if (!res->error[0])
            copy_header_value(res->error, sizeof res->error, curl_easy_strerror(rc),
                              strlen(curl_easy_strerror(rc)));
        if (rc == CURLE_WRITE_ERROR) {
            copy_header_value(res->error, sizeof res->error, "response body too large", 23);
            return SC_ERR_TOO_LARGE;
        }
        if (res->failed_stage == HTTP_STAGE_URL)
            return SC_ERR_INVALID;
        return rc == CURLE_OPERATION_TIMEDOUT ? SC_ERR_TIMEOUT : SC_ERR_UNAVAILABLE;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
    return SC_OK;
}

void http_client_response_free(struct http_client_response *res)
{
    if (res)
        sc_buf_free(&res->body);
}

void http_client_thread_cleanup(void)
{
    if (thread_handle) {
        curl_easy_cleanup(thread_handle);
        thread_handle = NULL;
    }
}

char *http_client_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    if (!e)
        return NULL;
    char *copy = strdup(e);
    curl_free(e);
    return copy;
}
