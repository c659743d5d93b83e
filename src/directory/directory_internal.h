/* Internals shared by the directory module's files: the table of user text fields,
 * reference and name checks, and the change helpers the service files use. Nothing
 * outside src/directory/ includes this file. */
#ifndef SC_DIRECTORY_INTERNAL_H
#define SC_DIRECTORY_INTERNAL_H

#include "base/err.h"

#include <jansson.h>
#include <stddef.h>

/* One user text field of SPEC §2 by its dotted API name. */
struct directory_field {
    const char *path;
    int required;
};

/* The user text fields, terminated by {NULL, 0}. */
extern const struct directory_field directory_user_fields[];

/* Checks a reference object {"id"} or {"name"} (at least one non-empty string, no other
 * keys); errors name field ("population", "population.id"). */
enum sc_err directory__check_ref(const json_t *ref, const char *field, struct sc_error *e);

#define DIRECTORY__REQUIRED 1 /* absent or null is an error */
#define DIRECTORY__NAME 2     /* a name: non-empty, no control characters */

/* Checks an optional string value v (NULL = absent) of at most max bytes. */
enum sc_err directory__check_name(const json_t *v, const char *field, size_t max, int flags,
                                  struct sc_error *e);

#endif
