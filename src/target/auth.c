/* Authentication of the SCIM target: a static bearer token (`--token`), HTTP Basic
 * (`--basic USER:PASS`), and OAuth 2 client credentials (RFC 6749 §4.4) through the
 * target's own POST /oauth/token, which issues short-lived bearer tokens. Strict as a
 * real application: tokens only with the Bearer scheme, every failure a 401 with
 * WWW-Authenticate. When no method is configured, every request is allowed. Secrets
 * are compared in constant time and never logged. */
#include "target/target_internal.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "http/server.h"
#include "scim/message.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_MAX_ISSUED 10000
#define AUTH_MAX_HEADER 4096

static char *dup_or_null(const char *s)
{
    return s ? sc_strdup(s) : NULL;
}

enum sc_err target_auth_init(struct target *t, struct sc_error *e)
{
    struct target_auth *a = &t->auth;
    const struct target_options *o = &t->opt;
    memset(a, 0, sizeof *a);
    pthread_mutex_init(&a->mu, NULL);
    a->token_ttl_s = o->token_ttl_s > 0 ? o->token_ttl_s : TARGET_DEFAULT_TOKEN_TTL;
    if (o->token) {
        if (!*o->token || strlen(o->token) > 1024)
            return sc_error_set(e, SC_ERR_INVALID, "token",
                                "--token must be 1 to 1024 characters long");
        a->token = dup_or_null(o->token);
    }
    if (o->basic) {
        const char *colon = strchr(o->basic, ':');
        if (!colon || colon == o->basic || !colon[1] || strlen(o->basic) > 1024)
            return sc_error_set(e, SC_ERR_INVALID, "basic",
                                "--basic must be USER:PASS with a non-empty user and password");
        a->basic_user = strndup(o->basic, (size_t)(colon - o->basic));
        a->basic_pass = dup_or_null(colon + 1);
    }
    if (!!o->client_id != !!o->client_secret)
        return sc_error_set(e, SC_ERR_INVALID, o->client_id ? "client-secret" : "client-id",
                            "--client-id and --client-secret go together");
    if (o->client_id) {
        if (!*o->client_id || !*o->client_secret)
            return sc_error_set(e, SC_ERR_INVALID, "client-id",
                                "--client-id and --client-secret must not be empty");
        a->client_id = dup_or_null(o->client_id);
        a->client_secret = dup_or_null(o->client_secret);
    }
    return SC_OK;
}

void target_auth_free(struct target_auth *a)
{
    free(a->token);
    free(a->basic_user);
    if (a->basic_pass)
        sodium_memzero(a->basic_pass, strlen(a->basic_pass));
    free(a->basic_pass);
    free(a->client_id);
    if (a->client_secret)
        sodium_memzero(a->client_secret, strlen(a->client_secret));
    free(a->client_secret);
    free(a->issued);
    pthread_mutex_destroy(&a->mu);
}

static int auth_configured(const struct target_auth *a)
{
    return a->token || a->basic_user || a->client_id;
}

/* Decodes standard base64 "user:pass" into out (size n); returns the colon's position
 * or NULL when malformed. */
static char *basic_decode(const char *b64, char *out, size_t n)
{
    size_t len = 0;
    if (sodium_base642bin((unsigned char *)out, n - 1, b64, strlen(b64), " ", &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return NULL;
    out[len] = '\0';
    if (memchr(out, '\0', len))
        return NULL;
    return strchr(out, ':');
}

static int basic_ok(const char *user, const char *pass, const char *want_user,
                    const char *want_pass)
{
    int u = sc_secret_equal(user, want_user);
    int p = sc_secret_equal(pass, want_pass);
    return u & p;
}

/* 1 when token is a live issued token; drops expired ones. */
static int issued_ok(struct target_auth *a, const char *token)
{
    int ok = 0;
    int64_t now = sc_clock_mono_ms();
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->nissued;) {
        if (a->issued[i].expires_ms <= now) {
            a->issued[i] = a->issued[--a->nissued];
            continue;
        }
        if (sc_secret_equal(a->issued[i].token, token))
            ok = 1;
        i++;
    }
    pthread_mutex_unlock(&a->mu);
    return ok;
}

static void unauthorized(struct target *t, struct http_response *res, const char *bearer_error,
                         const char *detail)
{
    struct target_auth *a = &t->auth;
    char hdr[160];
    if (a->token || a->client_id) {
        if (bearer_error)
            snprintf(hdr, sizeof hdr, "Bearer realm=\"scimitar\", error=\"%s\"", bearer_error);
        else
            snprintf(hdr, sizeof hdr, "Bearer realm=\"scimitar\"");
        http_response_header(res, "WWW-Authenticate", hdr);
    }
    if (a->basic_user)
        http_response_header(res, "WWW-Authenticate",
                             "Basic realm=\"scimitar\", charset=\"UTF-8\"");
    struct scim_error err = {0};
    scim_error_set(&err, 401, NULL, "%s", detail);
    res->content_type = "application/scim+json";
    http_response_json(res, 401, scim_dialect_error_json(t->opt.dialect, &err));
}

int target_auth_check(struct target *t, const struct http_request *req, struct http_response *res)
{
    struct target_auth *a = &t->auth;
    if (!auth_configured(a))
        return 0;
    const char *h = http_request_header(req, "Authorization");
    if (!h || !*h) {
        unauthorized(t, res, NULL, "authentication required: send an Authorization header");
        return -1;
    }
    if (strlen(h) > AUTH_MAX_HEADER) {
        unauthorized(t, res, "invalid_request", "the Authorization header is too long");
        return -1;
    }
    const char *sp = strchr(h, ' ');
    if (!sp) {
        unauthorized(t, res, "invalid_request", "the Authorization header has no credentials");
        return -1;
    }
    size_t scheme_len = (size_t)(sp - h);
    const char *cred = sp;
    while (*cred == ' ')
        cred++;
    if (scheme_len == 6 && sc_strncaseeq(h, "Bearer", 6)) {
        if (!a->token && !a->client_id) {
            unauthorized(t, res, NULL, "this service does not accept bearer tokens");
            return -1;
        }
        if (a->token && sc_secret_equal(cred, a->token))
            return 0;
        if (a->client_id && issued_ok(a, cred))
            return 0;
        unauthorized(t, res, "invalid_token", "the bearer token is not valid or has expired");
        return -1;
    }
    if (scheme_len == 5 && sc_strncaseeq(h, "Basic", 5)) {
        if (!a->basic_user) {
            unauthorized(t, res, NULL, "this service does not accept basic authentication");
            return -1;
        }
        char buf[1100];
        char *colon = basic_decode(cred, buf, sizeof buf);
        int ok = 0;
        if (colon) {
            *colon = '\0';
            ok = basic_ok(buf, colon + 1, a->basic_user, a->basic_pass);
        }
        sodium_memzero(buf, sizeof buf);
        if (ok)
            return 0;
        unauthorized(t, res, NULL, "wrong user name or password");
        return -1;
    }
    unauthorized(t, res, NULL, "unsupported authorization scheme: use Bearer or Basic");
    return -1;
}

/* ---- POST /oauth/token ----------------------------------------------------------------- */

static void oauth_error(struct http_response *res, int status, const char *code,
                        const char *description)
{
    json_t *b = json_pack("{s:s, s:s}", "error", code, "error_description", description);
    if (status == 401)
        http_response_header(res, "WWW-Authenticate", "Basic realm=\"scimitar\"");
    http_response_header(res, "Cache-Control", "no-store");
    http_response_json(res, status, b);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Finds name in an application/x-www-form-urlencoded body and percent-decodes its
 * value into out (size n). 0 when found, -1 when absent or too long. */
static int form_get(const char *body, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    const char *p = body;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        const char *end = amp ? amp : p + strlen(p);
        if ((size_t)(end - p) > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t o = 0;
            for (const char *q = p + nl + 1; q < end; q++) {
                char c = *q;
                if (c == '+')
                    c = ' ';
                else if (c == '%' && q + 2 < end && hexval(q[1]) >= 0 && hexval(q[2]) >= 0) {
                    c = (char)(hexval(q[1]) * 16 + hexval(q[2]));
                    q += 2;
                }
                if (o + 1 >= n)
                    return -1;
                out[o++] = c;
            }
            out[o] = '\0';
            return 0;
        }
        p = amp ? amp + 1 : NULL;
    }
    return -1;
}

void target_auth_token_endpoint(struct target *t, const struct http_request *req,
                                struct http_response *res)
{
    struct target_auth *a = &t->auth;
    char grant[64], id[512], secret[512];
    id[0] = secret[0] = '\0';
    if (strcmp(req->method, "POST") != 0) {
        http_response_header(res, "Allow", "POST");
        oauth_error(res, 405, "invalid_request", "use POST");
        return;
    }
    if (!a->client_id) {
        oauth_error(res, 400, "unsupported_grant_type",
                    "this service has no OAuth client configured (--client-id)");
        return;
    }
    const char *ct = http_request_header(req, "Content-Type");
    if (!ct || !sc_strncaseeq(ct, "application/x-www-form-urlencoded", 33)) {
        oauth_error(res, 400, "invalid_request",
                    "send the request as application/x-www-form-urlencoded");
        return;
    }
    if (form_get(req->body, "grant_type", grant, sizeof grant) ||
        strcmp(grant, "client_credentials") != 0) {
        oauth_error(res, 400, "unsupported_grant_type", "grant_type must be client_credentials");
        return;
    }
    const char *h = http_request_header(req, "Authorization");
    if (h && sc_strncaseeq(h, "Basic ", 6)) {
        char buf[1100];
        char *colon = basic_decode(h + 6, buf, sizeof buf);
        if (colon) {
            *colon = '\0';
            sc_strlcpy(id, buf, sizeof id);
            sc_strlcpy(secret, colon + 1, sizeof secret);
        }
        sodium_memzero(buf, sizeof buf);
    } else {
        form_get(req->body, "client_id", id, sizeof id);
        form_get(req->body, "client_secret", secret, sizeof secret);
    }
    int ok = basic_ok(id, secret, a->client_id, a->client_secret);
    sodium_memzero(secret, sizeof secret);
    if (!ok) {
        SC_DEBUG("target.oauth_refused", "remote=%s", req->remote);
        oauth_error(res, 401, "invalid_client", "unknown client or wrong client secret");
        return;
    }
    struct target_token tok;
    sc_random_token(32, tok.token, sizeof tok.token);
    tok.expires_ms = sc_clock_mono_ms() + (int64_t)a->token_ttl_s * 1000;
    int stored = 0;
    pthread_mutex_lock(&a->mu);
    int64_t now = sc_clock_mono_ms();
    for (size_t i = 0; i < a->nissued;) {
        if (a->issued[i].expires_ms <= now)
            a->issued[i] = a->issued[--a->nissued];
        else
            i++;
    }
    if (a->nissued == a->capissued && a->capissued < AUTH_MAX_ISSUED) {
        size_t cap = a->capissued ? a->capissued * 2 : 16;
        struct target_token *v = realloc(a->issued, cap * sizeof *v);
        if (v) {
            a->issued = v;
            a->capissued = cap;
        }
    }
    if (a->nissued < a->capissued) {
        a->issued[a->nissued++] = tok;
        stored = 1;
    }
    pthread_mutex_unlock(&a->mu);
    if (!stored) {
        oauth_error(res, 503, "temporarily_unavailable", "too many live tokens; try later");
        return;
    }
    SC_DEBUG("target.token_issued", "expires_in=%d", a->token_ttl_s);
    http_response_header(res, "Cache-Control", "no-store");
    http_response_header(res, "Pragma", "no-cache");
    http_response_json(res, 200,
                       json_pack("{s:s, s:s, s:i}", "access_token", tok.token, "token_type",
                                 "Bearer", "expires_in", a->token_ttl_s));
    sodium_memzero(&tok, sizeof tok);
}
