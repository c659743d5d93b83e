/* Provisioning connections: defaults, validation and PATCH merging of the configuration
 * document, its API form with masked secrets, sealing of secrets for storage, the typed
 * form the engine sends with, and the helpers for requests (URLs, Authorization,
 * headers, OAuth client-credentials tokens). */
#include "provision/connection.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "http/client.h"
#include "provision/secrets.h"
#include "scim/alias.h"
#include "scim/filter.h"
#include "store/store_provision.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const connection_secret_fields[] = {
    "auth.accessToken",
    "auth.password",
    "auth.clientSecret",
    NULL,
};

static const char *const auth_secret_keys[] = {"accessToken", "password", "clientSecret", NULL};

static const char *const method_names[] = {
    [CONNECTION_AUTH_NONE] = "NONE",
    [CONNECTION_AUTH_BEARER] = "OAUTH2_BEARER",
    [CONNECTION_AUTH_BASIC] = "BASIC",
    [CONNECTION_AUTH_CLIENT_CREDENTIALS] = "OAUTH2_CLIENT_CREDENTIALS",
};

json_t *connection_doc_defaults(void)
{
    json_t *d = json_pack(
        "{s:s, s:s, s:b,"
        " s:{s:s, s:s, s:s, s:s},"
        " s:{s:s, s:n, s:s, s:n, s:n, s:n, s:n, s:n, s:n, s:s},"
        " s:{s:s, s:s, s:s, s:b, s:b, s:b, s:s, s:I, s:I},"
        " s:{}}",
        "name", "", "description", "", "enabled", 0, "scim", "baseUrl", "", "usersResource",
        "/Users", "groupsResource", "/Groups", "version", "2.0", "auth", "method", "OAUTH2_BEARER",
        "accessToken", "typeHeader", "Bearer", "username", "password", "tokenUrl", "clientId",
        "clientSecret", "scope", "tokenEndpointAuthMethod", "client_secret_basic", "preferences",
        "userFilterExpression", "username Eq \"%s\"", "userIdentifier", "userName", "removeAction",
        "DISABLE", "allowCreate", 1, "allowUpdate", 1, "allowDisable", 1, "updateMethod", "PATCH",
        "maxRequestsPerSecond", (json_int_t)0, "maxConcurrency", (json_int_t)0, "headers");
    /* SCIM Bulk for writes where the target offers it */
    if (d && json_object_set_new(json_object_get(d, "preferences"), "useBulk", json_true())) {
        json_decref(d);
        return NULL;
    }
    return d;
}

static void doc_fill_defaults(json_t *doc);

/* Validation helpers. */

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* RFC 7230 tchar. */
static int is_token(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("!#$%&'*+-.^_`|~", c)))
            return 0;
    }
    return 1;
}

/* An http(s) URL with a host and no query, fragment, spaces or control characters. */
static int is_http_url(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > CONNECTION_URL_MAX || has_ctl(s) || strpbrk(s, " #\\\"<>`{}|^"))
        return 0;
    const char *rest;
    if (sc_strncaseeq(s, "http://", 7))
        rest = s + 7;
    else if (sc_strncaseeq(s, "https://", 8))
        rest = s + 8;
    else
        return 0;
    if (*rest == '\0' || *rest == '/' || *rest == ':' || *rest == '?')
        return 0;
    const char *at = strpbrk(rest, "/?");
    const char *userinfo = memchr(rest, '@', at ? (size_t)(at - rest) : strlen(rest));
    if (userinfo)
        return 0; /* credentials in the URL would be logged and shown: use auth instead */
    return 1;
}

static int is_resource_path(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > 256 || s[0] != '/')
        return 0;
    for (const char *p = s + 1; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("-._~/", c)))
            return 0;
    }
    return 1;
}

/* Counts occurrences of "%s" in s, skipping "%%". */
static int count_placeholders(const char *s)
{
    int n = 0;
    for (; *s; s++) {
        if (s[0] == '%' && s[1] == '%')
            s++;
        else if (s[0] == '%' && s[1] == 's')
            n++;
    }
    return n;
}

static const char *upper_enum(const char *v, const char *const *allowed)
{
    for (const char *const *a = allowed; *a; a++)
        if (sc_strcaseeq(v, *a))
            return *a;
    return NULL;
}

/* Checks that obj has only the listed keys; field prefix names the object. */
static enum sc_err only_keys(const json_t *obj, const char *prefix, const char *const *allowed,
                             struct sc_error *e)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok) {
            char field[SC_ERROR_FIELD_MAX];
            snprintf(field, sizeof field, "%s%s%.64s", prefix ? prefix : "", prefix ? "." : "",
                     key);
            return sc_error_set(e, SC_ERR_INVALID, field, "unknown field '%s'", field);
        }
    }
    return SC_OK;
}

static int is_secret_key(const char *key)
{
    for (const char *const *s = auth_secret_keys; *s; s++)
        if (strcmp(*s, key) == 0)
            return 1;
    return 0;
}

/* Merges the section input[section] (an object or null) into doc[section]. Strings,
 * booleans and integers are type-checked here; null resets to the default value in
 * defaults[section]. Secrets sent as the mask keep the stored value. */
static enum sc_err merge_section(json_t *doc, const json_t *defaults, const json_t *input,
                                 const char *section, const char *const *keys, struct sc_error *e)
{
    json_t *in = json_object_get(input, section);
    if (!in)
        return SC_OK;
    if (json_is_null(in)) {
        json_object_set(doc, section, json_object_get(defaults, section));
        return SC_OK;
    }
    if (!json_is_object(in))
        return sc_error_set(e, SC_ERR_INVALID, section, "%s must be an object", section);
    enum sc_err rc = only_keys(in, section, keys, e);
    if (rc)
        return rc;
    json_t *target = json_object_get(doc, section);
    json_t *defs = json_object_get(defaults, section);
    const char *key;
    json_t *v;
    json_object_foreach(in, key, v)
    {
        char field[SC_ERROR_FIELD_MAX];
        snprintf(field, sizeof field, "%s.%s", section, key);
        json_t *def = json_object_get(defs, key);
        if (json_is_null(v)) {
            json_object_set(target, key, def ? def : json_null());
            continue;
        }
        if (json_is_boolean(def)) {
            if (!json_is_boolean(v))
                return sc_error_set(e, SC_ERR_INVALID, field, "%s must be true or false", field);
        } else if (json_is_integer(def)) {
            if (!json_is_integer(v))
                return sc_error_set(e, SC_ERR_INVALID, field, "%s must be a whole number", field);
        } else if (!json_is_string(v)) {
            return sc_error_set(e, SC_ERR_INVALID, field, "%s must be a string", field);
        }
        if (json_is_string(v) && strcmp(section, "auth") == 0 && is_secret_key(key) &&
            strcmp(json_string_value(v), CONNECTION_SECRET_MASK) == 0) {
            json_t *cur = json_object_get(target, key);
            if (!json_is_string(cur) || json_string_length(cur) == 0)
                return sc_error_set(e, SC_ERR_INVALID, field,
                                    "%s has no stored value to keep: send the secret itself",
                                    field);
            continue; /* keep the stored secret */
        }
        json_object_set(target, key, v);
    }
    return SC_OK;
}

static enum sc_err merge_headers(json_t *doc, const json_t *input, struct sc_error *e)
{
    json_t *in = json_object_get(input, "headers");
    if (!in)
        return SC_OK;
    if (json_is_null(in)) {
        json_object_set_new(doc, "headers", json_object());
        return SC_OK;
    }
    if (!json_is_object(in))
        return sc_error_set(e, SC_ERR_INVALID, "headers",
                            "headers must be an object of header names to values");
    if (json_object_size(in) > CONNECTION_MAX_HEADERS)
        return sc_error_set(e, SC_ERR_INVALID, "headers", "at most %d custom headers",
                            CONNECTION_MAX_HEADERS);
    json_t *cur = json_object_get(doc, "headers");
    json_t *out = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(in, key, v)
    {
        char field[SC_ERROR_FIELD_MAX];
        snprintf(field, sizeof field, "headers.%.100s", key);
        if (!json_is_string(v)) {
            json_decref(out);
            return sc_error_set(e, SC_ERR_INVALID, field, "%s must be a string", field);
        }
        if (strcmp(json_string_value(v), CONNECTION_SECRET_MASK) == 0) {
            json_t *old = NULL;
            const char *ck;
            json_t *cv;
            json_object_foreach(cur, ck, cv)
            {
                if (sc_strcaseeq(ck, key))
                    old = cv;
            }
            if (!old) {
                json_decref(out);
                return sc_error_set(e, SC_ERR_INVALID, field,
                                    "%s has no stored value to keep: send the value itself", field);
            }
            json_object_set(out, key, old);
        } else {
            json_object_set(out, key, v);
        }
    }
    json_object_set_new(doc, "headers", out);
    return SC_OK;
}

/* Validates a whole document (after merging). */
static enum sc_err doc_validate(json_t *doc, struct sc_error *e)
{
    const char *name = sc_json_get_string(doc, "name");
    if (!name || !*name)
        return sc_error_set(e, SC_ERR_INVALID, "name", "name is required");
    if (strlen(name) > CONNECTION_NAME_MAX || has_ctl(name))
        return sc_error_set(e, SC_ERR_INVALID, "name",
                            "name must be at most %d characters, without control characters",
                            CONNECTION_NAME_MAX);
    const char *desc = sc_json_get_string(doc, "description");
    if (!desc)
        json_object_set_new(doc, "description", json_string(""));
    else if (strlen(desc) > CONNECTION_DESCRIPTION_MAX)
        return sc_error_set(e, SC_ERR_INVALID, "description",
                            "description must be at most %d characters",
                            CONNECTION_DESCRIPTION_MAX);
    if (!json_is_boolean(json_object_get(doc, "enabled")))
        return sc_error_set(e, SC_ERR_INVALID, "enabled", "enabled must be true or false");

    /* scim */
    json_t *scim = json_object_get(doc, "scim");
    const char *url = sc_json_get_string(scim, "baseUrl");
    if (!url || !*url)
        return sc_error_set(e, SC_ERR_INVALID, "scim.baseUrl",
                            "scim.baseUrl is required: the SCIM base URL of the application, "
                            "e.g. https://example.com/scim/v2");
    if (!is_http_url(url))
        return sc_error_set(e, SC_ERR_INVALID, "scim.baseUrl",
                            "scim.baseUrl must be an http:// or https:// URL with a host and no "
                            "query, fragment or credentials");
    size_t ulen = strlen(url);
    if (url[ulen - 1] == '/') {
        char *trimmed = sc_strdup(url);
        while (ulen > 0 && trimmed[ulen - 1] == '/')
            trimmed[--ulen] = '\0';
        json_object_set_new(scim, "baseUrl", json_string(trimmed));
        free(trimmed);
    }
    static const char *const res_keys[] = {"usersResource", "groupsResource"};
    for (int i = 0; i < 2; i++) {
        const char *r = sc_json_get_string(scim, res_keys[i]);
        if (!r || !is_resource_path(r))
            return sc_error_set(e, SC_ERR_INVALID, i ? "scim.groupsResource" : "scim.usersResource",
                                "scim.%s must be a path that starts with '/', such as %s",
                                res_keys[i], i ? "/Groups" : "/Users");
    }
    const char *ver = sc_json_get_string(scim, "version");
    if (!ver || (strcmp(ver, "2.0") != 0 && strcmp(ver, "1.1") != 0))
        return sc_error_set(e, SC_ERR_INVALID, "scim.version", "scim.version must be 2.0 or 1.1");

    /* auth */
    json_t *auth = json_object_get(doc, "auth");
    static const char *const methods[] = {"OAUTH2_BEARER", "BASIC", "OAUTH2_CLIENT_CREDENTIALS",
                                          "NONE", NULL};
    const char *m = sc_json_get_string(auth, "method");
    const char *mu = m ? upper_enum(m, methods) : NULL;
    if (!mu)
        return sc_error_set(e, SC_ERR_INVALID, "auth.method",
                            "auth.method must be OAUTH2_BEARER, BASIC, "
                            "OAUTH2_CLIENT_CREDENTIALS or NONE");
    json_object_set_new(auth, "method", json_string(mu));
    const char *th = sc_json_get_string(auth, "typeHeader");
    if (!th)
        json_object_set_new(auth, "typeHeader", json_string("Bearer"));
    else if (!is_token(th, 64))
        return sc_error_set(e, SC_ERR_INVALID, "auth.typeHeader",
                            "auth.typeHeader must be one word such as Bearer, OAuth or Basic "
                            "(letters, digits and !#$%%&'*+-.^_`|~, at most 64)");
    static const char *const auth_strs[] = {"accessToken", "username",     "password", "tokenUrl",
                                            "clientId",    "clientSecret", "scope",    NULL};
    for (const char *const *k = auth_strs; *k; k++) {
        json_t *v = json_object_get(auth, *k);
        if (!v)
            json_object_set_new(auth, *k, json_null());
        else if (json_is_string(v) && json_string_length(v) == 0)
            json_object_set_new(auth, *k, json_null());
        else if (json_is_string(v) &&
                 (json_string_length(v) > CONNECTION_SECRET_MAX || has_ctl(json_string_value(v)))) {
            char field[SC_ERROR_FIELD_MAX];
            snprintf(field, sizeof field, "auth.%s", *k);
            return sc_error_set(e, SC_ERR_INVALID, field,
                                "%s must be at most %d characters without line breaks or "
                                "control characters",
                                field, CONNECTION_SECRET_MAX);
        }
    }
#define AUTH_SET(k) json_is_string(json_object_get(auth, k))
    if (strcmp(mu, "OAUTH2_BEARER") == 0 && !AUTH_SET("accessToken"))
        return sc_error_set(e, SC_ERR_INVALID, "auth.accessToken",
                            "auth.accessToken is required for OAUTH2_BEARER: the OAuth Access "
                            "Token the application issued");
    if (strcmp(mu, "BASIC") == 0) {
        if (!AUTH_SET("username"))
            return sc_error_set(e, SC_ERR_INVALID, "auth.username",
                                "auth.username is required for BASIC");
        if (strchr(sc_json_get_string(auth, "username"), ':'))
            return sc_error_set(e, SC_ERR_INVALID, "auth.username",
                                "auth.username must not contain ':' (HTTP Basic)");
        if (!AUTH_SET("password"))
            return sc_error_set(e, SC_ERR_INVALID, "auth.password",
                                "auth.password is required for BASIC");
    }
    if (strcmp(mu, "OAUTH2_CLIENT_CREDENTIALS") == 0) {
        if (!AUTH_SET("tokenUrl"))
            return sc_error_set(e, SC_ERR_INVALID, "auth.tokenUrl",
                                "auth.tokenUrl is required for OAUTH2_CLIENT_CREDENTIALS");
        if (!AUTH_SET("clientId"))
            return sc_error_set(e, SC_ERR_INVALID, "auth.clientId",
                                "auth.clientId is required for OAUTH2_CLIENT_CREDENTIALS");
        if (!AUTH_SET("clientSecret"))
            return sc_error_set(e, SC_ERR_INVALID, "auth.clientSecret",
                                "auth.clientSecret is required for OAUTH2_CLIENT_CREDENTIALS");
    }
#undef AUTH_SET
    static const char *const token_auths[] = {"client_secret_basic", "client_secret_post", NULL};
    const char *tam = sc_json_get_string(auth, "tokenEndpointAuthMethod");
    const char *tamn = tam ? upper_enum(tam, token_auths) : NULL;
    if (!tamn)
        return sc_error_set(e, SC_ERR_INVALID, "auth.tokenEndpointAuthMethod",
                            "auth.tokenEndpointAuthMethod must be client_secret_basic (the "
                            "client id and secret in HTTP Basic) or client_secret_post (in the "
                            "form body)");
    json_object_set_new(auth, "tokenEndpointAuthMethod", json_string(tamn));
    const char *tu = sc_json_get_string(auth, "tokenUrl");
    if (tu && !is_http_url(tu))
        return sc_error_set(e, SC_ERR_INVALID, "auth.tokenUrl",
                            "auth.tokenUrl must be an http:// or https:// URL");

    /* preferences */
    json_t *pref = json_object_get(doc, "preferences");
    const char *ufe = sc_json_get_string(pref, "userFilterExpression");
    if (!ufe || !*ufe || strlen(ufe) > 1024)
        return sc_error_set(e, SC_ERR_INVALID, "preferences.userFilterExpression",
                            "preferences.userFilterExpression is required (at most 1024 "
                            "characters), e.g. username Eq \"%%s\"");
    if (count_placeholders(ufe) != 1)
        return sc_error_set(e, SC_ERR_INVALID, "preferences.userFilterExpression",
                            "preferences.userFilterExpression must contain %%s exactly once "
                            "(where the user identifier's value goes), e.g. username Eq \"%%s\"");
    struct sc_buf fb;
    sc_buf_init(&fb, 0);
    struct scim_error serr = {0};
    enum sc_err frc = scim_filter_template(ufe, "x", &fb, &serr);
    sc_buf_free(&fb);
    if (frc)
        return sc_error_set(e, SC_ERR_INVALID, "preferences.userFilterExpression",
                            "preferences.userFilterExpression is not a SCIM filter once %%s is "
                            "filled in: %s",
                            serr.detail[0] ? serr.detail : "check its syntax");
    const char *uid = sc_json_get_string(pref, "userIdentifier");
    if (!uid || !*uid)
        return sc_error_set(e, SC_ERR_INVALID, "preferences.userIdentifier",
                            "preferences.userIdentifier is required, e.g. userName");
    scim_error_clear(&serr);
    if (strlen(uid) > 512 || scim_alias_check(uid, &serr) != SC_OK)
        return sc_error_set(e, SC_ERR_INVALID, "preferences.userIdentifier",
                            "preferences.userIdentifier must be a target attribute name (such as "
                            "userName or workEmail) or a SCIM attribute path%s%s",
                            serr.detail[0] ? ": " : "", serr.detail);
    static const char *const removes[] = {"DISABLE", "DELETE", NULL};
    const char *ra = sc_json_get_string(pref, "removeAction");
    const char *rau = ra ? upper_enum(ra, removes) : NULL;
    if (!rau)
        return sc_error_set(e, SC_ERR_INVALID, "preferences.removeAction",
                            "preferences.removeAction must be DISABLE or DELETE");
    json_object_set_new(pref, "removeAction", json_string(rau));
    static const char *const updates[] = {"PATCH", "PUT", NULL};
    const char *um = sc_json_get_string(pref, "updateMethod");
    const char *umu = um ? upper_enum(um, updates) : NULL;
    if (!umu)
        return sc_error_set(e, SC_ERR_INVALID, "preferences.updateMethod",
                            "preferences.updateMethod must be PATCH or PUT");
    json_object_set_new(pref, "updateMethod", json_string(umu));
    json_int_t rps = json_integer_value(json_object_get(pref, "maxRequestsPerSecond"));
    if (rps < 0 || rps > CONNECTION_MAX_RPS)
        return sc_error_set(e, SC_ERR_INVALID, "preferences.maxRequestsPerSecond",
                            "preferences.maxRequestsPerSecond must be 0 (no limit) to %d",
                            CONNECTION_MAX_RPS);
    json_int_t conc = json_integer_value(json_object_get(pref, "maxConcurrency"));
    if (conc < 0 || conc > CONNECTION_MAX_CONCURRENCY)
        return sc_error_set(e, SC_ERR_INVALID, "preferences.maxConcurrency",
                            "preferences.maxConcurrency must be 0 (no limit) to %d",
                            CONNECTION_MAX_CONCURRENCY);

    /* headers */
    static const char *const reserved[] = {"Host",       "Content-Length", "Transfer-Encoding",
                                           "Connection", "Content-Type",   NULL};
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(doc, "headers"), key, v)
    {
        char field[SC_ERROR_FIELD_MAX];
        snprintf(field, sizeof field, "headers.%.100s", key);
        if (!is_token(key, 128))
            return sc_error_set(e, SC_ERR_INVALID, field,
                                "a header name must be one word of letters, digits and "
                                "!#$%%&'*+-.^_`|~ (at most 128)");
        for (const char *const *r = reserved; *r; r++)
            if (sc_strcaseeq(key, *r))
                return sc_error_set(e, SC_ERR_INVALID, field,
                                    "%s is set by scimitar and cannot be a custom header", *r);
        if (sc_strcaseeq(key, "Authorization") && strcmp(mu, "NONE") != 0)
            return sc_error_set(e, SC_ERR_INVALID, field,
                                "a custom Authorization header needs auth.method NONE");
        if (json_string_length(v) > CONNECTION_SECRET_MAX || has_ctl(json_string_value(v)))
            return sc_error_set(e, SC_ERR_INVALID, field,
                                "a header value must be at most %d characters without line "
                                "breaks or control characters",
                                CONNECTION_SECRET_MAX);
    }
    return SC_OK;
}

/* Writes the origin of an http(s) URL into out: lower-case scheme and host, and the port
 * (the scheme's default when none is written), e.g. "https://example.com:443". An empty
 * string for NULL or an URL that is not http(s). */
static void url_origin(const char *url, char *out, size_t n)
{
    out[0] = '\0';
    if (!url)
        return;
    const char *rest, *scheme, *port = NULL;
    size_t plen = 0;
    if (sc_strncaseeq(url, "http://", 7))
        scheme = "http", rest = url + 7;
    else if (sc_strncaseeq(url, "https://", 8))
        scheme = "https", rest = url + 8;
    else
        return;
    size_t alen = strcspn(rest, "/?#");
    size_t hlen = alen;
    const char *colon = NULL;
    if (alen && rest[0] == '[') {
        const char *close = memchr(rest, ']', alen);
        if (close && (size_t)(close - rest) + 1 < alen && close[1] == ':')
            colon = close + 1;
    } else {
        colon = memchr(rest, ':', alen);
    }
    if (colon) {
        hlen = (size_t)(colon - rest);
        port = colon + 1;
        plen = alen - hlen - 1;
        while (plen > 1 && *port == '0') /* ":0443" is ":443" */
            port++, plen--;
    }
    if (!port || plen == 0) {
        port = strcmp(scheme, "https") == 0 ? "443" : "80";
        plen = strlen(port);
    }
    snprintf(out, n, "%s://%.*s:%.*s", scheme, (int)hlen, rest, (int)plen, port);
    sc_str_lower(out);
}

static int same_origin(const char *a, const char *b)
{
    char oa[CONNECTION_URL_MAX + 16], ob[CONNECTION_URL_MAX + 16];
    url_origin(a, oa, sizeof oa);
    url_origin(b, ob, sizeof ob);
    return oa[0] && strcmp(oa, ob) == 0;
}

/* Whether input sends the secret auth.key itself (not the mask, not left out). */
static int entered(const json_t *input, const char *key)
{
    const char *v = sc_json_get_string(json_object_get(input, "auth"), key);
    return v && strcmp(v, CONNECTION_SECRET_MASK) != 0;
}

/* Stored secrets are bound to the origin they were entered for: when a change moves
 * the SCIM base URL (or the token URL) to another scheme, host or port, every stored
 * secret that would now be sent there must be entered again, so the admin API cannot
 * be used to send a write-only secret to a host of one's choosing. Paths may change. */
static enum sc_err bind_secrets(const json_t *current, const json_t *input, const json_t *doc,
                                struct sc_error *e)
{
    if (!current)
        return SC_OK;
    const char *old_base = sc_json_get_string(current, "scim.baseUrl");
    if (!old_base || !*old_base)
        return SC_OK; /* nothing was ever sent anywhere */
    const char *m = sc_json_get_string(doc, "auth.method");
    int base_moved = !same_origin(old_base, sc_json_get_string(doc, "scim.baseUrl"));
    static const char *const base_msg = "the SCIM base URL's host changed";
    if (base_moved) {
        const char *key = NULL, *label = NULL;
        if (strcmp(m, "OAUTH2_BEARER") == 0)
            key = "accessToken", label = "the OAuth Access Token";
        else if (strcmp(m, "BASIC") == 0)
            key = "password", label = "the password";
        else if (strcmp(m, "OAUTH2_CLIENT_CREDENTIALS") == 0)
            key = "clientSecret", label = "the Client Secret (the token it fetches goes there)";
        if (key && !entered(input, key)) {
            char field[SC_ERROR_FIELD_MAX];
            snprintf(field, sizeof field, "auth.%s", key);
            return sc_error_set(e, SC_ERR_INVALID, field, "%s: enter %s again", base_msg, label);
        }
        json_t *in_headers = json_object_get(input, "headers");
        const char *name;
        json_t *v;
        json_object_foreach(json_object_get(doc, "headers"), name, v)
        {
            const char *sent = json_string_value(json_object_get(in_headers, name));
            if (!sent || strcmp(sent, CONNECTION_SECRET_MASK) == 0) {
                char field[SC_ERROR_FIELD_MAX];
                snprintf(field, sizeof field, "headers.%.100s", name);
                return sc_error_set(e, SC_ERR_INVALID, field,
                                    "%s: enter the value of the header %.100s again", base_msg,
                                    name);
            }
        }
    }
    if (strcmp(m, "OAUTH2_CLIENT_CREDENTIALS") == 0 &&
        !same_origin(sc_json_get_string(current, "auth.tokenUrl"),
                     sc_json_get_string(doc, "auth.tokenUrl")) &&
        !entered(input, "clientSecret"))
        return sc_error_set(e, SC_ERR_INVALID, "auth.clientSecret",
                            "the token URL's host changed: enter the Client Secret again");
    return SC_OK;
}

enum sc_err connection_doc_merge(const json_t *current, const json_t *input, json_t **out,
                                 struct sc_error *e)
{
    *out = NULL;
    static const char *const top[] = {"id",      "name",      "description", "type",
                                      "enabled", "scim",      "auth",        "preferences",
                                      "headers", "createdAt", "updatedAt",   NULL};
    static const char *const scim_keys[] = {"baseUrl", "usersResource", "groupsResource", "version",
                                            NULL};
    static const char *const auth_keys[] = {
        "method",   "accessToken", "typeHeader",   "username", "password",
        "tokenUrl", "clientId",    "clientSecret", "scope",    "tokenEndpointAuthMethod",
        NULL};
    static const char *const pref_keys[] = {"userFilterExpression",
                                            "userIdentifier",
                                            "removeAction",
                                            "allowCreate",
                                            "allowUpdate",
                                            "allowDisable",
                                            "updateMethod",
                                            "maxRequestsPerSecond",
                                            "maxConcurrency",
                                            "useBulk",
                                            NULL};
    enum sc_err rc = SC_OK;
    json_t *defaults = connection_doc_defaults();
    json_t *doc = current ? json_deep_copy(current) : json_deep_copy(defaults);
    if (!defaults || !doc) {
        rc = sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
        goto done;
    }
    doc_fill_defaults(doc);
    if (!json_is_object(input)) {
        rc = sc_error_set(e, SC_ERR_INVALID, NULL, "the connection must be a JSON object");
        goto done;
    }
    if ((rc = only_keys(input, NULL, top, e)))
        goto done;
    json_t *type = json_object_get(input, "type");
    if (type && !(json_is_string(type) && strcmp(json_string_value(type), "SCIM_OUTBOUND") == 0)) {
        rc = sc_error_set(e, SC_ERR_INVALID, "type", "type must be SCIM_OUTBOUND");
        goto done;
    }
    static const char *const ro[] = {"id", "createdAt", "updatedAt"};
    for (int i = 0; i < 3; i++) {
        json_t *v = json_object_get(input, ro[i]);
        if (v && !json_is_string(v) && !json_is_null(v)) {
            rc = sc_error_set(e, SC_ERR_INVALID, ro[i], "%s is read-only", ro[i]);
            goto done;
        }
    }
    json_t *name = json_object_get(input, "name");
    if (name) {
        if (!json_is_string(name)) {
            rc = sc_error_set(e, SC_ERR_INVALID, "name", "name must be a string");
            goto done;
        }
        json_object_set(doc, "name", name);
    }
    json_t *desc = json_object_get(input, "description");
    if (desc) {
        if (!json_is_string(desc) && !json_is_null(desc)) {
            rc = sc_error_set(e, SC_ERR_INVALID, "description", "description must be a string");
            goto done;
        }
        json_object_set_new(doc, "description",
                            json_string(json_is_string(desc) ? json_string_value(desc) : ""));
    }
    json_t *en = json_object_get(input, "enabled");
    if (en) {
        if (!json_is_boolean(en)) {
            rc = sc_error_set(e, SC_ERR_INVALID, "enabled", "enabled must be true or false");
            goto done;
        }
        json_object_set(doc, "enabled", en);
    }
    if ((rc = merge_section(doc, defaults, input, "scim", scim_keys, e)) ||
        (rc = merge_section(doc, defaults, input, "auth", auth_keys, e)) ||
        (rc = merge_section(doc, defaults, input, "preferences", pref_keys, e)) ||
        (rc = merge_headers(doc, input, e)) || (rc = doc_validate(doc, e)) ||
        (rc = bind_secrets(current, input, doc, e)))
        goto done;
    *out = doc;
    doc = NULL;
done:
    json_decref(doc);
    json_decref(defaults);
    return rc;
}

/* Adds to doc's scim, auth and preferences every key of the defaults it lacks (a
 * document stored before the key existed). */
static void doc_fill_defaults(json_t *doc)
{
    json_t *defaults = connection_doc_defaults();
    static const char *const sections[] = {"scim", "auth", "preferences"};
    for (int i = 0; defaults && json_is_object(doc) && i < 3; i++) {
        json_t *sec = json_object_get(doc, sections[i]);
        if (!json_is_object(sec))
            continue;
        const char *key;
        json_t *v;
        json_object_foreach(json_object_get(defaults, sections[i]), key, v)
        {
            if (!json_object_get(sec, key))
                json_object_set(sec, key, v);
        }
    }
    json_decref(defaults);
}

json_t *connection_doc_to_api(const json_t *doc_in, const char *id, int64_t created_at,
                              int64_t updated_at)
{
    char ca[32], ua[32];
    json_t *doc = json_deep_copy(doc_in);
    if (!doc)
        return NULL;
    doc_fill_defaults(doc);
    json_t *auth = json_deep_copy(json_object_get(doc, "auth"));
    for (const char *const *k = auth_secret_keys; auth && *k; k++)
        if (json_is_string(json_object_get(auth, *k)))
            json_object_set_new(auth, *k, json_string(CONNECTION_SECRET_MASK));
    json_t *headers = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(doc, "headers"), key, v)
    {
        json_object_set_new(headers, key, json_string(CONNECTION_SECRET_MASK));
    }
    json_t *out = json_pack(
        "{s:o, s:O, s:O, s:s, s:O, s:O, s:o, s:O, s:o, s:o, s:o}", "id",
        id ? json_string(id) : json_null(), "name", json_object_get(doc, "name"), "description",
        json_object_get(doc, "description"), "type", "SCIM_OUTBOUND", "enabled",
        json_object_get(doc, "enabled"), "scim", json_object_get(doc, "scim"), "auth",
        auth ? auth : json_object(), "preferences", json_object_get(doc, "preferences"), "headers",
        headers, "createdAt",
        created_at ? json_string(sc_clock_format_iso8601(created_at, ca, sizeof ca)) : json_null(),
        "updatedAt",
        updated_at ? json_string(sc_clock_format_iso8601(updated_at, ua, sizeof ua)) : json_null());
    json_decref(doc);
    return out;
}

int connection_doc_needs_resync(const json_t *a, const json_t *b)
{
    static const char *const parts[] = {"scim", "auth", "preferences", "headers"};
    for (int i = 0; i < 4; i++)
        if (!json_equal(json_object_get(a, parts[i]), json_object_get(b, parts[i])))
            return 1;
    return !json_is_true(json_object_get(a, "enabled")) &&
           json_is_true(json_object_get(b, "enabled"));
}

static char *dup_str(const json_t *obj, const char *key)
{
    const char *s = sc_json_get_string(obj, key);
    return s ? sc_strdup(s) : NULL;
}

void connection_free(struct connection *c)
{
    if (!c)
        return;
    free(c->name);
    free(c->description);
    free(c->base_url);
    free(c->users_resource);
    free(c->groups_resource);
    free(c->version);
    secrets_wipe_free(c->access_token);
    free(c->type_header);
    free(c->username);
    secrets_wipe_free(c->password);
    free(c->token_url);
    free(c->client_id);
    secrets_wipe_free(c->client_secret);
    free(c->scope);
    free(c->user_filter_expression);
    free(c->user_identifier);
    free(c->user_identifier_path);
    for (size_t i = 0; i < c->nheaders; i++) {
        free(c->headers[i].name);
        secrets_wipe_free(c->headers[i].value);
    }
    free(c->headers);
    free(c);
}

enum sc_err connection_from_doc(const json_t *doc, const char *id, struct connection **out,
                                struct sc_error *e)
{
    *out = NULL;
    struct connection *c = calloc(1, sizeof *c);
    if (!c)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    enum sc_err rc = SC_OK;
    json_t *scim = json_object_get(doc, "scim"), *auth = json_object_get(doc, "auth"),
           *pref = json_object_get(doc, "preferences");
    if (id)
        sc_strlcpy(c->id, id, sizeof c->id);
    c->name = dup_str(doc, "name");
    c->description = dup_str(doc, "description");
    c->enabled = json_is_true(json_object_get(doc, "enabled"));
    c->base_url = dup_str(scim, "baseUrl");
    c->users_resource = dup_str(scim, "usersResource");
    c->groups_resource = dup_str(scim, "groupsResource");
    c->version = dup_str(scim, "version");
    const char *m = sc_json_get_string(auth, "method");
    c->auth_method = CONNECTION_AUTH_NONE;
    for (int i = 0; m && i < 4; i++)
        if (strcmp(m, method_names[i]) == 0)
            c->auth_method = (enum connection_auth_method)i;
    switch (c->auth_method) {
    case CONNECTION_AUTH_BEARER:
        c->access_token = dup_str(auth, "accessToken");
        c->type_header = dup_str(auth, "typeHeader");
        break;
    case CONNECTION_AUTH_BASIC:
        c->username = dup_str(auth, "username");
        c->password = dup_str(auth, "password");
        break;
    case CONNECTION_AUTH_CLIENT_CREDENTIALS:
        c->token_url = dup_str(auth, "tokenUrl");
        c->client_id = dup_str(auth, "clientId");
        c->client_secret = dup_str(auth, "clientSecret");
        c->scope = dup_str(auth, "scope");
        c->token_auth = sc_strcaseeq(sc_json_get_string(auth, "tokenEndpointAuthMethod")
                                         ? sc_json_get_string(auth, "tokenEndpointAuthMethod")
                                         : "",
                                     "client_secret_post")
                            ? CONNECTION_TOKEN_AUTH_POST
                            : CONNECTION_TOKEN_AUTH_BASIC;
        break;
    case CONNECTION_AUTH_NONE:
        break;
    }
    c->user_filter_expression = dup_str(pref, "userFilterExpression");
    c->user_identifier = dup_str(pref, "userIdentifier");
    if (c->user_identifier)
        c->user_identifier_path = sc_strdup(scim_alias_resolve(c->user_identifier));
    const char *ra = sc_json_get_string(pref, "removeAction");
    c->remove_action =
        ra && strcmp(ra, "DELETE") == 0 ? CONNECTION_REMOVE_DELETE : CONNECTION_REMOVE_DISABLE;
    c->allow_create = json_is_true(json_object_get(pref, "allowCreate"));
    c->allow_update = json_is_true(json_object_get(pref, "allowUpdate"));
    c->allow_disable = json_is_true(json_object_get(pref, "allowDisable"));
    const char *um = sc_json_get_string(pref, "updateMethod");
    c->update_method =
        um && strcmp(um, "PUT") == 0 ? CONNECTION_UPDATE_PUT : CONNECTION_UPDATE_PATCH;
    c->max_requests_per_second = json_integer_value(json_object_get(pref, "maxRequestsPerSecond"));
    c->max_concurrency = json_integer_value(json_object_get(pref, "maxConcurrency"));
    c->use_bulk = !json_is_false(json_object_get(pref, "useBulk"));
    json_t *headers = json_object_get(doc, "headers");
    size_t nh = json_object_size(headers);
    if (nh) {
        c->headers = calloc(nh, sizeof *c->headers);
        if (!c->headers) {
            rc = sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
            goto done;
        }
        const char *key;
        json_t *v;
        json_object_foreach(headers, key, v)
        {
            c->headers[c->nheaders].name = sc_strdup(key);
            c->headers[c->nheaders].value = sc_strdup(json_string_value(v));
            c->nheaders++;
        }
    }
    if (!c->name || !c->base_url || !c->users_resource || !c->groups_resource || !c->version ||
        !c->user_filter_expression || !c->user_identifier_path ||
        (c->auth_method == CONNECTION_AUTH_BEARER && (!c->access_token || !c->type_header)) ||
        (c->auth_method == CONNECTION_AUTH_BASIC && (!c->username || !c->password)) ||
        (c->auth_method == CONNECTION_AUTH_CLIENT_CREDENTIALS &&
         (!c->token_url || !c->client_id || !c->client_secret))) {
        rc = sc_error_set(e, SC_ERR_INVALID, NULL, "the stored connection is incomplete");
        goto done;
    }
done:
    if (rc) {
        connection_free(c);
        return rc;
    }
    *out = c;
    return SC_OK;
}

enum secrets_op {
    SECRETS_OPEN,
    SECRETS_SEAL,
    SECRETS_CHECK, /* open each and forget it at once; the document stays as it was */
};

/* Applies op to every secret of a copy of doc; *n (may be NULL) gets how many it met. */
static enum sc_err transform_secrets(const struct secrets_key *k, const json_t *doc,
                                     enum secrets_op op, json_t **out, size_t *n,
                                     struct sc_error *e)
{
    if (out)
        *out = NULL;
    json_t *copy = json_deep_copy(doc);
    if (!copy)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    enum sc_err rc = SC_OK;
    size_t met = 0;
    json_t *auth = json_object_get(copy, "auth");
    json_t *headers = json_object_get(copy, "headers");
    size_t nslots = 3 + json_object_size(headers);
    for (size_t i = 0; i < nslots && !rc; i++) {
        json_t *holder;
        const char *key;
        if (i < 3) {
            holder = auth;
            key = auth_secret_keys[i];
        } else {
            holder = headers;
            void *it = json_object_iter(headers);
            for (size_t j = 3; j < i && it; j++)
                it = json_object_iter_next(headers, it);
            key = it ? json_object_iter_key(it) : NULL;
        }
        const char *v = key ? sc_json_get_string(holder, key) : NULL;
        if (!v)
            continue;
        char *t = NULL;
        if (op == SECRETS_SEAL) {
            rc = secrets_seal(k, v, &t);
            if (rc)
                sc_error_set(e, rc, NULL, "a secret cannot be encrypted");
        } else {
            rc = secrets_open(k, v, &t, e);
        }
        if (!rc && op != SECRETS_CHECK)
            json_object_set_new(holder, key, json_string(t));
        if (!rc)
            met++;
        secrets_wipe_free(t);
    }
    if (rc || !out)
        json_decref(copy);
    else
        *out = copy;
    if (!rc && n)
        *n = met;
    return rc;
}

enum sc_err connection_seal_doc(const struct secrets_key *k, const json_t *doc, json_t **out,
                                struct sc_error *e)
{
    return transform_secrets(k, doc, SECRETS_SEAL, out, NULL, e);
}

enum sc_err connection_open_doc(const struct secrets_key *k, const json_t *sealed, json_t **out,
                                struct sc_error *e)
{
    enum sc_err rc = transform_secrets(k, sealed, SECRETS_OPEN, out, NULL, e);
    if (!rc)
        doc_fill_defaults(*out);
    return rc;
}

enum sc_err connection_check_sealed(const struct secrets_key *k, const json_t *sealed, size_t *n,
                                    struct sc_error *e)
{
    size_t met = 0;
    enum sc_err rc = transform_secrets(k, sealed, SECRETS_CHECK, NULL, &met, e);
    if (!rc)
        *n = met;
    return rc;
}

enum sc_err connection_load(struct store *st, const struct secrets_key *k, const char *id,
                            json_t **doc_out, struct connection **conn_out, struct sc_error *e)
{
    struct store_connection row = {0};
    json_t *sealed = NULL, *doc = NULL;
    struct connection *c = NULL;
    enum sc_err rc = store_connection_get(st, id, &row);
    if (rc == SC_ERR_NOT_FOUND) {
        rc = sc_error_set(e, rc, NULL, "no connection with id %s", id);
        goto done;
    }
    if (rc) {
        rc = sc_error_set(e, rc, NULL, "cannot read the connection");
        goto done;
    }
    if ((rc = sc_json_parse(row.config, strlen(row.config), 0, &sealed, e)))
        goto done;
    if ((rc = connection_open_doc(k, sealed, &doc, e)))
        goto done;
    json_object_set_new(doc, "name", json_string(row.name));
    json_object_set_new(doc, "enabled", json_boolean(row.enabled));
    if (conn_out) {
        if ((rc = connection_from_doc(doc, row.id, &c, e)))
            goto done;
        c->created_at = row.created_at;
        c->updated_at = row.updated_at;
    }
    if (doc_out) {
        *doc_out = doc;
        doc = NULL;
    }
    if (conn_out) {
        *conn_out = c;
        c = NULL;
    }
done:
    store_connection_clear(&row);
    json_decref(sealed);
    json_decref(doc);
    connection_free(c);
    return rc;
}

enum sc_err connection_users_url(const struct connection *c, const char *id, struct sc_buf *out)
{
    enum sc_err rc = sc_buf_puts(out, c->base_url);
    if (!rc)
        rc = sc_buf_puts(out, c->users_resource);
    if (!rc && id) {
        char *esc = http_client_escape(id);
        if (!esc)
            return SC_ERR_NOMEM;
        rc = sc_buf_printf(out, "/%s", esc);
        free(esc);
    }
    return rc;
}

enum sc_err connection_auth_header(const struct connection *c, const char *token,
                                   struct sc_buf *out)
{
    switch (c->auth_method) {
    case CONNECTION_AUTH_BEARER:
        return sc_buf_printf(out, "Authorization: %s %s", c->type_header, c->access_token);
    case CONNECTION_AUTH_CLIENT_CREDENTIALS:
        if (!token)
            return SC_OK; /* no token yet: no Authorization line */
        return sc_buf_printf(out, "Authorization: Bearer %s", token);
    case CONNECTION_AUTH_BASIC: {
        struct sc_buf cred;
        sc_buf_init(&cred, 0);
        enum sc_err rc = sc_buf_printf(&cred, "%s:%s", c->username, c->password);
        size_t b64len = sodium_base64_ENCODED_LEN(cred.len, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = rc ? NULL : malloc(b64len);
        if (!rc && !b64)
            rc = SC_ERR_NOMEM;
        if (!rc) {
            sodium_bin2base64(b64, b64len, (const unsigned char *)cred.data, cred.len,
                              sodium_base64_VARIANT_ORIGINAL);
            rc = sc_buf_printf(out, "Authorization: Basic %s", b64);
            sodium_memzero(b64, strlen(b64));
        }
        free(b64);
        if (cred.data)
            sodium_memzero(cred.data, cred.len);
        sc_buf_free(&cred);
        return rc;
    }
    case CONNECTION_AUTH_NONE:
        break;
    }
    return SC_OK;
}

void connection_headers_free(char **lines)
{
    if (!lines)
        return;
    for (char **l = lines; *l; l++)
        secrets_wipe_free(*l);
    free(lines);
}

enum sc_err connection_request_headers(const struct connection *c, const char *token, char ***out)
{
    *out = NULL;
    char **lines = calloc(c->nheaders + 4, sizeof *lines);
    if (!lines)
        return SC_ERR_NOMEM;
    size_t n = 0;
    enum sc_err rc = SC_OK;
    lines[n++] = sc_strdup("Accept: application/scim+json, application/json");
    lines[n++] = sc_strdup("Content-Type: application/scim+json");
    struct sc_buf b;
    sc_buf_init(&b, 0);
    rc = connection_auth_header(c, token, &b);
    if (!rc && b.len)
        lines[n++] = sc_buf_steal(&b);
    if (b.data)
        sodium_memzero(b.data, b.len);
    sc_buf_free(&b);
    for (size_t i = 0; !rc && i < c->nheaders; i++) {
        struct sc_buf h;
        sc_buf_init(&h, 0);
        rc = sc_buf_printf(&h, "%s: %s", c->headers[i].name, c->headers[i].value);
        if (!rc)
            lines[n++] = sc_buf_steal(&h);
        sc_buf_free(&h);
    }
    for (size_t i = 0; !rc && i < n; i++)
        if (!lines[i])
            rc = SC_ERR_NOMEM;
    if (rc) {
        connection_headers_free(lines);
        return rc;
    }
    *out = lines;
    return SC_OK;
}

/* Appends "&name=value" (value percent-encoded). */
static enum sc_err form_add(struct sc_buf *b, const char *name, const char *value)
{
    char *esc = http_client_escape(value);
    if (!esc)
        return SC_ERR_NOMEM;
    enum sc_err rc = sc_buf_printf(b, "%s%s=%s", b->len ? "&" : "", name, esc);
    sodium_memzero(esc, strlen(esc));
    free(esc);
    return rc;
}

void connection_token_req_clear(struct connection_token_req *r)
{
    if (!r)
        return;
    free(r->url);
    connection_headers_free(r->headers);
    if (r->body)
        sodium_memzero(r->body, r->body_len);
    free(r->body);
    memset(r, 0, sizeof *r);
}

enum sc_err connection_token_request(const struct connection *c, struct connection_token_req *out,
                                     struct sc_error *e)
{
    memset(out, 0, sizeof *out);
    if (c->auth_method != CONNECTION_AUTH_CLIENT_CREDENTIALS || !c->token_url || !c->client_id ||
        !c->client_secret)
        return sc_error_set(e, SC_ERR_INVALID, "auth.method",
                            "the connection does not use OAUTH2_CLIENT_CREDENTIALS");
    struct connection_token_req r = {0};
    struct sc_buf form, basic;
    sc_buf_init(&form, 0);
    sc_buf_init(&basic, 0);
    enum sc_err rc = form_add(&form, "grant_type", "client_credentials");
    if (!rc && c->scope && *c->scope)
        rc = form_add(&form, "scope", c->scope);
    int post = c->token_auth == CONNECTION_TOKEN_AUTH_POST;
    if (!rc && post)
        rc = form_add(&form, "client_id", c->client_id);
    if (!rc && post)
        rc = form_add(&form, "client_secret", c->client_secret);
    r.headers = calloc(4, sizeof *r.headers);
    if (!rc && !r.headers)
        rc = SC_ERR_NOMEM;
    if (!rc) {
        r.headers[0] = sc_strdup("Content-Type: application/x-www-form-urlencoded");
        r.headers[1] = sc_strdup("Accept: application/json");
        if (!r.headers[0] || !r.headers[1])
            rc = SC_ERR_NOMEM;
    }
    if (!rc && !post) {
        /* RFC 6749 §2.3.1 client_secret_basic, as libcurl sends user:password */
        struct sc_buf cred;
        sc_buf_init(&cred, 0);
        rc = sc_buf_printf(&cred, "%s:%s", c->client_id, c->client_secret);
        size_t b64len = sodium_base64_ENCODED_LEN(cred.len, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = rc ? NULL : malloc(b64len);
        if (!rc && !b64)
            rc = SC_ERR_NOMEM;
        if (!rc) {
            sodium_bin2base64(b64, b64len, (const unsigned char *)cred.data, cred.len,
                              sodium_base64_VARIANT_ORIGINAL);
            rc = sc_buf_printf(&basic, "Authorization: Basic %s", b64);
            if (!rc && !(r.headers[2] = sc_buf_steal(&basic)))
                rc = SC_ERR_NOMEM;
        }
        secrets_wipe_free(b64);
        if (cred.data)
            sodium_memzero(cred.data, cred.len);
        sc_buf_free(&cred);
    }
    r.url = sc_strdup(c->token_url);
    if (!rc && !r.url)
        rc = SC_ERR_NOMEM;
    if (!rc) {
        r.body_len = form.len;
        if (!(r.body = sc_buf_steal(&form)))
            rc = SC_ERR_NOMEM;
    }
    if (form.data)
        sodium_memzero(form.data, form.len);
    sc_buf_free(&form);
    if (basic.data)
        sodium_memzero(basic.data, basic.len);
    sc_buf_free(&basic);
    if (rc) {
        connection_token_req_clear(&r);
        return sc_error_set(e, rc, NULL, "cannot build the token request");
    }
    *out = r;
    return SC_OK;
}

/* Reads expires_in (a number of seconds, or a string of digits as some servers send):
 * 0 when absent or not positive, at most CONNECTION_TOKEN_MAX_LIFETIME_S. */
static int64_t token_lifetime(const json_t *exp)
{
    int64_t v = 0;
    if (json_is_integer(exp)) {
        v = json_integer_value(exp);
    } else if (json_is_real(exp)) {
        double d = json_real_value(exp);
        v = d >= 1 ? (d < (double)CONNECTION_TOKEN_MAX_LIFETIME_S ? (int64_t)d
                                                                  : CONNECTION_TOKEN_MAX_LIFETIME_S)
                   : 0;
    } else if (json_is_string(exp)) {
        const char *t = json_string_value(exp);
        size_t digits = strspn(t, "0123456789");
        if (digits > 0 && t[digits] == '\0')
            v = digits > 12 ? CONNECTION_TOKEN_MAX_LIFETIME_S
                            : (sc_parse_int64(t, 0, INT64_MAX, &v) ? 0 : v);
    }
    if (v <= 0)
        return 0;
    return v > CONNECTION_TOKEN_MAX_LIFETIME_S ? CONNECTION_TOKEN_MAX_LIFETIME_S : v;
}

enum sc_err connection_token_parse(long status, const char *body, size_t len,
                                   const char *transport_error, char **token, int64_t *expires_in_s,
                                   struct sc_error *e)
{
    *token = NULL;
    *expires_in_s = 0;
    if (status <= 0)
        return sc_error_set(e, SC_ERR_UNAVAILABLE, "auth.tokenUrl",
                            "cannot reach the token URL (auth.tokenUrl): %.200s",
                            transport_error && *transport_error ? transport_error : "no answer");
    if (status == 400 || status == 401 || status == 403)
        return sc_error_set(e, SC_ERR_AUTH, "auth.clientSecret",
                            "the token URL refused the client (%ld): check the Client ID and "
                            "Client Secret, and the scope",
                            status);
    if (status != 200)
        return sc_error_set(e, SC_ERR_HTTP, "auth.tokenUrl",
                            "the token URL answered %ld instead of 200: check auth.tokenUrl",
                            status);
    json_t *doc = NULL;
    struct sc_error pe = {0};
    const char *tok = NULL;
    if (sc_json_parse(body ? body : "", body ? len : 0, 8, &doc, &pe) == SC_OK)
        tok = sc_json_get_string(doc, "access_token");
    if (!tok || !*tok || has_ctl(tok)) {
        json_decref(doc);
        return sc_error_set(e, SC_ERR_HTTP, "auth.tokenUrl",
                            "the token URL's answer has no access_token: check auth.tokenUrl");
    }
    char *copy = sc_strdup(tok);
    int64_t life = token_lifetime(json_object_get(doc, "expires_in"));
    json_decref(doc);
    if (!copy)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    *token = copy;
    *expires_in_s = life;
    return SC_OK;
}

enum sc_err connection_fetch_token(const struct connection *c, long timeout_ms, char **token,
                                   int64_t *expires_in_s, struct sc_error *e)
{
    *token = NULL;
    *expires_in_s = 0;
    struct connection_token_req tr;
    enum sc_err rc = connection_token_request(c, &tr, e);
    if (rc)
        return rc;
    struct http_client_response res;
    memset(&res, 0, sizeof res);
    struct http_client_request req = {
        .method = "POST",
        .url = tr.url,
        .headers = (const char *const *)tr.headers,
        .body = tr.body,
        .body_len = tr.body_len,
        .timeout_ms = timeout_ms > 0 ? timeout_ms : 15000,
        .max_response = 1024 * 1024,
    };
    enum sc_err hr = http_client_do(&req, &res);
    rc = connection_token_parse(hr ? 0 : res.status, res.body.data, res.body.len,
                                hr ? res.error : NULL, token, expires_in_s, e);
    if (rc == SC_ERR_UNAVAILABLE && hr == SC_ERR_TIMEOUT) {
        rc = SC_ERR_TIMEOUT;
        if (e)
            e->code = rc;
    }
    if (res.body.data)
        sodium_memzero(res.body.data, res.body.len);
    http_client_response_free(&res);
    connection_token_req_clear(&tr);
    return rc;
}

/* Secrets shorter than this are not masked: masking every "abc" in a text would garble it
 * and hide little. */
#define SCRUB_MIN_LEN 4
/* Room for the credentials of one connection and their encoded forms. */
#define SCRUB_MAX_FORMS (3 * (CONNECTION_MAX_HEADERS + 8))

struct scrub_forms {
    char *v[SCRUB_MAX_FORMS];
    size_t n;
};

static void forms_clear(struct scrub_forms *f)
{
    for (size_t i = 0; i < f->n; i++)
        secrets_wipe_free(f->v[i]);
    f->n = 0;
}

/* Adds a copy of s (when long enough, not yet listed and there is room). */
static void forms_add_one(struct scrub_forms *f, const char *s, size_t len)
{
    if (!s || len < SCRUB_MIN_LEN || f->n == SCRUB_MAX_FORMS)
        return;
    for (size_t i = 0; i < f->n; i++)
        if (strlen(f->v[i]) == len && memcmp(f->v[i], s, len) == 0)
            return;
    char *copy = malloc(len + 1);
    if (!copy)
        return;
    memcpy(copy, s, len);
    copy[len] = '\0';
    f->v[f->n++] = copy;
}

/* Adds s and the forms it takes inside a JSON string and a URL (where they differ). */
static void forms_add(struct scrub_forms *f, const char *s)
{
    if (!s || strlen(s) < SCRUB_MIN_LEN)
        return;
    forms_add_one(f, s, strlen(s));
    json_t *j = json_string(s);
    for (int slash = 0; j && slash < 2; slash++) {
        /* as JSON encoders write it, with '/' escaped or not */
        char *dumped = json_dumps(j, JSON_ENCODE_ANY | (slash ? JSON_ESCAPE_SLASH : 0));
        if (dumped && strlen(dumped) >= 2)
            forms_add_one(f, dumped + 1, strlen(dumped) - 2); /* without the quotes */
        secrets_wipe_free(dumped);
    }
    json_decref(j);
    char *esc = http_client_escape(s);
    if (esc) {
        forms_add_one(f, esc, strlen(esc));
        secrets_wipe_free(esc);
    }
}

/* Adds "user:pass" and its base64 (the HTTP Basic credentials). */
static void forms_add_basic(struct scrub_forms *f, const char *user, const char *pass)
{
    if (!user || !pass)
        return;
    struct sc_buf cred;
    sc_buf_init(&cred, 0);
    if (sc_buf_printf(&cred, "%s:%s", user, pass) == SC_OK) {
        forms_add(f, cred.data);
        size_t b64len = sodium_base64_ENCODED_LEN(cred.len, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = malloc(b64len);
        if (b64) {
            sodium_bin2base64(b64, b64len, (const unsigned char *)cred.data, cred.len,
                              sodium_base64_VARIANT_ORIGINAL);
            forms_add_one(f, b64, strlen(b64));
            secrets_wipe_free(b64);
        }
    }
    if (cred.data)
        sodium_memzero(cred.data, cred.len);
    sc_buf_free(&cred);
}

/* Every credential of c that a request carries, in the forms it may be echoed in. */
static void forms_collect(const struct connection *c, const char *token, struct scrub_forms *f)
{
    forms_add(f, token);
    if (!c)
        return;
    forms_add(f, c->access_token);
    forms_add(f, c->password);
    forms_add(f, c->client_secret);
    if (c->auth_method == CONNECTION_AUTH_BASIC)
        forms_add_basic(f, c->username, c->password);
    if (c->auth_method == CONNECTION_AUTH_CLIENT_CREDENTIALS)
        forms_add_basic(f, c->client_id, c->client_secret);
    for (size_t i = 0; i < c->nheaders; i++)
        forms_add(f, c->headers[i].value);
}

/* Masks, in s (in place), every occurrence of the forms: each run of bytes covered by
 * one or more occurrences (overlapping ones included) becomes "********", or as many
 * '*' as it had bytes when shorter, so the text never grows. The scan moves forward
 * past each run: it always ends, whatever the secrets look like. */
static void scrub_forms(char *s, const struct scrub_forms *f)
{
    size_t n = strlen(s);
    if (n == 0 || f->n == 0)
        return;
    unsigned char *covered = calloc(n, 1);
    if (!covered) {
        /* cannot mark: hide the whole text rather than risk showing a secret */
        for (size_t i = 0; i < f->n; i++)
            if (strstr(s, f->v[i])) {
                sc_strlcpy(s, CONNECTION_SECRET_MASK, n + 1);
                return;
            }
        return;
    }
    int any = 0;
    for (size_t k = 0; k < f->n; k++) {
        size_t len = strlen(f->v[k]);
        for (const char *hit = strstr(s, f->v[k]); hit; hit = strstr(hit + 1, f->v[k])) {
            memset(covered + (hit - s), 1, len);
            any = 1;
        }
    }
    if (any) {
        size_t in = 0, out = 0, mask = strlen(CONNECTION_SECRET_MASK);
        while (in < n) {
            if (!covered[in]) {
                s[out++] = s[in++];
                continue;
            }
            size_t run = 0;
            while (in < n && covered[in])
                in++, run++;
            size_t stars = run < mask ? run : mask;
            memset(s + out, '*', stars);
            out += stars;
        }
        s[out] = '\0';
    }
    free(covered);
}

void connection_scrub_with(const struct connection *c, const char *token, char *s)
{
    if (!s)
        return;
    struct scrub_forms f = {.n = 0};
    forms_collect(c, token, &f);
    scrub_forms(s, &f);
    forms_clear(&f);
}

void connection_scrub(const struct connection *c, char *s)
{
    connection_scrub_with(c, NULL, s);
}

/* The length of the valid UTF-8 sequence at p (at most n bytes), or 0 when invalid. */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return c ? 1 : 0; /* NUL ends a C string: replaced too */
    if ((c & 0xE0) == 0xC0)
        len = 2, min = 0x80, c &= 0x1F;
    else if ((c & 0xF0) == 0xE0)
        len = 3, min = 0x800, c &= 0x0F;
    else if ((c & 0xF8) == 0xF0)
        len = 4, min = 0x10000, c &= 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (p[k] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    return len;
}

void connection_error_text(const struct connection *c, const char *token, const char *in,
                           size_t in_len, char *out, size_t cap)
{
    if (!out || cap == 0)
        return;
    out[0] = '\0';
    if (!in || in_len == 0)
        return;
    /* 1. valid UTF-8, NUL-terminated (an invalid byte or a NUL becomes U+FFFD) */
    struct sc_buf b;
    sc_buf_init(&b, 0);
    const unsigned char *p = (const unsigned char *)in;
    enum sc_err rc = SC_OK;
    for (size_t i = 0; i < in_len && !rc;) {
        size_t len = utf8_seq_len(p + i, in_len - i);
        if (len) {
            rc = sc_buf_append(&b, p + i, len);
            i += len;
        } else {
            rc = sc_buf_append(&b, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
    if (!rc && !b.data)
        rc = sc_buf_puts(&b, "");
    if (rc) {
        if (b.data)
            sodium_memzero(b.data, b.len);
        sc_buf_free(&b);
        sc_strlcpy(out, "(the text cannot be shown: out of memory)", cap);
        return;
    }
    /* 2. mask the whole text, so no secret cut in two by 3. survives */
    connection_scrub_with(c, token, b.data);
    /* 3. cut at a character boundary */
    size_t len = strlen(b.data);
    if (len >= cap) {
        len = cap - 1;
        while (len > 0 && ((unsigned char)b.data[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(out, b.data, len);
    out[len] = '\0';
    sodium_memzero(b.data, b.len);
    sc_buf_free(&b);
}
