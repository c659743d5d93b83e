/* Serves the embedded console (web/, compiled into the binary) with a strict
 * Content-Security-Policy: same-origin scripts, styles and API calls only. Unknown
 * paths without a file extension get index.html so the console's routes reload. */
#include "api/api.h"
#include "api/web_assets.h"

#include <string.h>

static const struct web_asset *asset_find(const char *path)
{
    for (const struct web_asset *a = web_assets; a->path; a++)
        if (strcmp(a->path, path) == 0)
            return a;
    return NULL;
}

int api_console_serve(const struct http_request *req, struct http_response *res)
{
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)
        return 0;
    const char *path = req->path;
    const struct web_asset *a = NULL;
    if (strcmp(path, "/") == 0) {
        a = asset_find("/index.html");
    } else {
        a = asset_find(path);
        const char *last = strrchr(path, '/');
        if (!a && last && !strchr(last, '.'))
            a = asset_find("/index.html");
    }
    if (!a)
        return 0;
    res->status = 200;
    res->content_type = a->content_type;
    sc_buf_reset(&res->body);
    sc_buf_append(&res->body, a->data, a->size);
    http_response_header(res, "Content-Security-Policy",
                         "default-src 'none'; script-src 'self'; style-src 'self'; "
                         "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
                         "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
    http_response_header(res, "X-Frame-Options", "DENY");
    http_response_header(res, "Referrer-Policy", "no-referrer");
    return 1;
}
