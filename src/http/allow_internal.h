/* Between the allow-list and the libcurl wrappers of src/http: the per-transfer state
 * of the connect-time check. Nothing outside src/http/ includes this file. */
#ifndef SC_HTTP_ALLOW_INTERNAL_H
#define SC_HTTP_ALLOW_INTERNAL_H

#include "http/allow.h"

struct http__allow_ctx {
    char host[256]; /* the URL's host, without brackets */
    char why[160];  /* why a connection was refused */
    int refused;
};

/* When an allow-list is in force, reads url's host into ctx and installs on the libcurl
 * easy handle easy (a CURL *) an open-socket callback that refuses (ctx->refused, why)
 * connections to destinations the list does not allow. ctx must live until the
 * transfer ends. Otherwise does nothing. */
void http__allow_setup(void *easy, struct http__allow_ctx *ctx, const char *url);

#endif
