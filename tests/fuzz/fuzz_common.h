/* Shared by the SCIM fuzz harnesses: the fixture resources, parsed once, and a helper
 * that turns fuzz bytes into a NUL-terminated string. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include "../unit/scim/fixtures.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Returns a new NUL-terminated copy of the input (free it), or NULL. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return NULL;
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* The fixture User and Group, parsed on first use (borrowed, kept for the process). */
static inline const json_t *fuzz_user(void)
{
    static json_t *u;
    if (!u) {
        u = fix_json(FIX_USER);
        json_object_del(u, "level");
    }
    return u;
}

static inline const json_t *fuzz_group(void)
{
    static json_t *g;
    if (!g)
        g = fix_json(FIX_GROUP);
    return g;
}

#endif
