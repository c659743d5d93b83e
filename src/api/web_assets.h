/* The console's static files, embedded into the binary at build time by
 * scripts/embed.cmake (the generated web_assets.c defines the table). */
#ifndef SC_API_WEB_ASSETS_H
#define SC_API_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
    const char *path;          /* "/index.html" */
    const unsigned char *data; /* the bytes (NUL-terminated for convenience) */
    size_t size;
    const char *content_type;
};

/* Terminated by an entry with path NULL. */
extern const struct web_asset web_assets[];

#endif
