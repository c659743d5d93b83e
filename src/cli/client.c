/* The CLI's REST client over http/client.h: server and token discovery, JSON requests,
 * and error bodies {"error": {"code", "message", "field"}} turned into one line. */
#include "cli/client.h"
#include "base/buf.h"
#include "base/id.h"
#include "base/json.h"
#include "http/client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLI_TOKEN_MAX 512
#define CLI_RESOLVE_PAGES 1000 /* pages looked through to find a name (1000 each) */

void cli_client_fail(const struct cli_client *c, const char *fmt, ...)
{
    va_list ap;
    if (c->quiet)
        return;
    fprintf(stderr, "%s: ", c->prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_client_init(struct cli_client *c, const char *server_opt, const char *prog)
{
    memset(c, 0, sizeof *c);
    sc_strlcpy(c->prog, prog, sizeof c->prog);
    const char *server = server_opt;
    if (!server || !*server)
        server = getenv("SCIMITAR_SERVER");
    if (!server || !*server)
        server = CLI_DEFAULT_SERVER;
    if (strncmp(server, "http://", 7) != 0 && strncmp(server, "https://", 8) != 0) {
        cli_client_fail(c, "--server must be an http:// or https:// URL, not '%s'", server);
        return CLI_USAGE;
    }
    if (sc_strlcpy(c->server, server, sizeof c->server) >= sizeof c->server) {
        cli_client_fail(c, "--server is longer than %zu characters", sizeof c->server - 1);
        return CLI_USAGE;
    }
    size_t n = strlen(c->server);
    while (n > 0 && c->server[n - 1] == '/')
        c->server[--n] = '\0';
    const char *token = getenv("SCIMITAR_TOKEN");
    if (!token || !*token) {
        cli_client_fail(
            c, "SCIMITAR_TOKEN is not set: export the admin token that "
               "`scimitar serve` printed (or wrote to its initial_token_file) at its first start");
        return CLI_USAGE;
    }
    if (strlen(token) > CLI_TOKEN_MAX || strpbrk(token, "\r\n")) {
        cli_client_fail(c,
                        "SCIMITAR_TOKEN is malformed (a single line of at most %d "
                        "characters is expected)",
                        CLI_TOKEN_MAX);
        return CLI_USAGE;
    }
    snprintf(c->auth, sizeof c->auth, "Authorization: Bearer %s", token);
    return CLI_OK;
}

/* Prints the one line that describes a non-2xx answer. */
static void report_status(struct cli_client *c, long status, const char *body, size_t len)
{
    json_t *doc = NULL;
    struct sc_error e = {0};
    const char *code = NULL, *msg = NULL, *field = NULL;
    if (len && sc_json_parse(body, len, 0, &doc, &e) == SC_OK && json_is_object(doc)) {
        json_t *err = json_object_get(doc, "error");
        if (json_is_object(err)) {
            code = json_string_value(json_object_get(err, "code"));
            msg = json_string_value(json_object_get(err, "message"));
            field = json_string_value(json_object_get(err, "field"));
        } else if (json_is_string(err)) {
            msg = json_string_value(err);
        }
    }
    if (field && *field)
        sc_strlcpy(c->last_field, field, sizeof c->last_field);
    if (status == 401) {
        cli_client_fail(c, "the server refused the admin token (HTTP 401): check SCIMITAR_TOKEN");
    } else if (msg && field && *field) {
        cli_client_fail(c, "%s: %s (HTTP %ld%s%s)", field, msg, status, code ? " " : "",
                        code ? code : "");
    } else if (msg) {
        cli_client_fail(c, "%s (HTTP %ld%s%s)", msg, status, code ? " " : "", code ? code : "");
    } else {
        /* not our error shape: show the start of the body on one line */
        char snippet[160];
        size_t k = 0;
        for (size_t i = 0; i < len && k + 1 < sizeof snippet; i++)
            snippet[k++] = (body[i] == '\n' || body[i] == '\r' || body[i] == '\t') ? ' ' : body[i];
        snippet[k] = '\0';
        cli_client_fail(c, "the server answered HTTP %ld%s%s", status, k ? ": " : "", snippet);
    }
    json_decref(doc);
}

int cli_client_call_text(struct cli_client *c, const char *method, const char *path,
                         const char *body, size_t len, json_t **out, char **raw)
{
    int rc = CLI_FAIL;
    struct sc_buf url;
    struct http_client_response res;
    json_t *doc = NULL;
    sc_buf_init(&url, 0);
    memset(&res, 0, sizeof res);
    c->last_status = 0;
    c->last_field[0] = '\0';
    if (sc_buf_printf(&url, "%s%s", c->server, path) != SC_OK) {
        cli_client_fail(c, "out of memory");
        goto done;
    }
    const char *headers[] = {c->auth, "Accept: application/json",
                             body ? "Content-Type: application/json" : NULL, NULL};
    struct http_client_request req = {
        .method = method,
        .url = url.data,
        .headers = headers,
        .body = body,
        .body_len = len,
        .timeout_ms = c->timeout_ms,
    };
    enum sc_err err = http_client_do(&req, &res);
    if (err != SC_OK) {
        cli_client_fail(c,
                        "cannot reach %s: %s (is `scimitar serve` running there? set "
                        "--server or SCIMITAR_SERVER)",
                        c->server, res.error[0] ? res.error : sc_strerror(err));
        goto done;
    }
    c->last_status = res.status;
    if (res.status < 200 || res.status > 299) {
        report_status(c, res.status, res.body.data ? res.body.data : "", res.body.len);
        goto done;
    }
    if (out) {
        if (res.body.len == 0) {
            doc = json_null();
        } else {
            struct sc_error e = {0};
            if (sc_json_parse(res.body.data, res.body.len, 64, &doc, &e) != SC_OK) {
                cli_client_fail(c, "the server's answer is not JSON: %s", e.message);
                goto done;
            }
        }
    }
    if (raw) {
        *raw = res.body.len ? sc_buf_steal(&res.body) : sc_strdup("");
        if (!*raw) {
            cli_client_fail(c, "out of memory");
            goto done;
        }
    }
    if (out) {
        *out = doc;
        doc = NULL;
    }
    rc = CLI_OK;
done:
    json_decref(doc);
    http_client_response_free(&res);
    sc_buf_free(&url);
    return rc;
}

int cli_client_call(struct cli_client *c, const char *method, const char *path, const json_t *body,
                    json_t **out, char **raw)
{
    char *text = NULL;
    if (body) {
        text = sc_json_dump(body);
        if (!text) {
            cli_client_fail(c, "out of memory");
            return CLI_FAIL;
        }
    }
    int rc = cli_client_call_text(c, method, path, text, text ? strlen(text) : 0, out, raw);
    free(text);
    return rc;
}

char *cli_client_escape(const char *s)
{
    return http_client_escape(s);
}

/* Appends s as a SCIM string literal (quotes, with " and \ escaped). */
static enum sc_err append_scim_string(struct sc_buf *b, const char *s)
{
    enum sc_err rc = sc_buf_puts(b, "\"");
    for (; rc == SC_OK && *s; s++) {
        if (*s == '"' || *s == '\\')
            rc = sc_buf_append(b, "\\", 1);
        if (rc == SC_OK)
            rc = sc_buf_append(b, s, 1);
    }
    return rc == SC_OK ? sc_buf_puts(b, "\"") : rc;
}

/* Finds a user by username through ?filter=. */
static int resolve_user(struct cli_client *c, const char *ref, char *id_out, size_t n)
{
    int rc = CLI_FAIL;
    struct sc_buf filter, path;
    json_t *page = NULL;
    char *esc = NULL;
    sc_buf_init(&filter, 0);
    sc_buf_init(&path, 0);
    if (sc_buf_puts(&filter, "username eq ") != SC_OK ||
        append_scim_string(&filter, ref) != SC_OK || !(esc = cli_client_escape(filter.data)) ||
        sc_buf_printf(&path, "/api/v1/users?limit=2&filter=%s", esc) != SC_OK) {
        cli_client_fail(c, "out of memory");
        goto done;
    }
    if (cli_client_call(c, "GET", path.data, NULL, &page, NULL) != CLI_OK)
        goto done;
    json_t *items = json_object_get(page, "items");
    json_t *found = NULL;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        const char *u = json_string_value(json_object_get(it, "username"));
        if (u && sc_strcaseeq(u, ref)) {
            found = it;
            break;
        }
    }
    const char *id = json_string_value(json_object_get(found, "id"));
    if (!id) {
        cli_client_fail(c, "no user has the username '%s'", ref);
        goto done;
    }
    sc_strlcpy(id_out, id, n);
    rc = CLI_OK;
done:
    json_decref(page);
    free(esc);
    sc_buf_free(&filter);
    sc_buf_free(&path);
    return rc;
}

int cli_client_resolve(struct cli_client *c, const char *path, const char *ref, char *id_out,
                       size_t n)
{
    if (sc_uuid_valid(ref)) {
        sc_strlcpy(id_out, ref, n);
        return CLI_OK;
    }
    if (strcmp(path, "/api/v1/users") == 0)
        return resolve_user(c, ref, id_out, n);
    int rc = CLI_FAIL, matches = 0;
    char *cursor = NULL;
    struct sc_buf url;
    sc_buf_init(&url, 0);
    const char *kind = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    for (int pages = 0; pages < CLI_RESOLVE_PAGES; pages++) {
        json_t *page = NULL;
        char *esc = cursor ? cli_client_escape(cursor) : NULL;
        sc_buf_reset(&url);
        enum sc_err e = esc ? sc_buf_printf(&url, "%s?limit=1000&cursor=%s", path, esc)
                            : sc_buf_printf(&url, "%s?limit=1000", path);
        free(esc);
        if (e != SC_OK) {
            cli_client_fail(c, "out of memory");
            goto done;
        }
        if (cli_client_call(c, "GET", url.data, NULL, &page, NULL) != CLI_OK)
            goto done;
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(page, "items"), i, it)
        {
            const char *name = json_string_value(json_object_get(it, "name"));
            const char *id = json_string_value(json_object_get(it, "id"));
            if (name && id && sc_strcaseeq(name, ref)) {
                matches++;
                sc_strlcpy(id_out, id, n);
            }
        }
        free(cursor);
        const char *next = json_string_value(json_object_get(page, "nextCursor"));
        cursor = next && *next ? sc_strdup(next) : NULL;
        json_decref(page);
        if (!cursor)
            break;
    }
    if (matches == 0) {
        cli_client_fail(c, "no %.*s is named '%s' (give its id or its exact name)",
                        (int)(strlen(kind) > 1 ? strlen(kind) - 1 : strlen(kind)), kind, ref);
        goto done;
    }
    if (matches > 1) {
        cli_client_fail(c, "%d %s are named '%s': give the id", matches, kind, ref);
        goto done;
    }
    rc = CLI_OK;
done:
    free(cursor);
    sc_buf_free(&url);
    return rc;
}

char *cli_read_file(const struct cli_client *c, const char *what, const char *path, size_t max,
                    int strip_newline)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    struct sc_buf b;
    char *out = NULL;
    sc_buf_init(&b, max);
    if (!f) {
        cli_client_fail(c, "%s: cannot open %s: %s", what, path, strerror(errno));
        return NULL;
    }
    char chunk[8192];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (sc_buf_append(&b, chunk, got) != SC_OK) {
            cli_client_fail(c, "%s: %s is larger than %zu bytes", what, path, max);
            goto done;
        }
    }
    if (ferror(f)) {
        cli_client_fail(c, "%s: cannot read %s: %s", what, path, strerror(errno));
        goto done;
    }
    if (strip_newline) {
        while (b.len > 0 && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
            b.data[--b.len] = '\0';
    }
    out = b.len ? sc_buf_steal(&b) : sc_strdup("");
    if (!out)
        cli_client_fail(c, "out of memory");
done:
    if (f != stdin)
        fclose(f);
    sc_buf_free(&b);
    return out;
}

json_t *cli_read_json(const struct cli_client *c, const char *what, const char *path)
{
    json_t *doc = NULL;
    struct sc_error e = {0};
    char *text = cli_read_file(c, what, path, 16u * 1024 * 1024, 0);
    if (!text)
        return NULL;
    if (sc_json_parse(text, strlen(text), 0, &doc, &e) != SC_OK) {
        cli_client_fail(c, "%s: %s is not valid JSON: %s", what, strcmp(path, "-") ? path : "stdin",
                        e.message);
        doc = NULL;
    }
    free(text);
    return doc;
}
