/* The one table of target attribute names (SPEC §4): the short names an administrator
 * maps directory fields onto (Code42's `workEmail`, `workCity`, ..., and the seed's
 * misspelling `workStreetAddeess`), each with the SCIM 2.0 path it stands for and a
 * human label. Mapping, validation and the console's pick lists all read this table;
 * any name that is not an alias but a valid SCIM path stands for itself. No I/O. */
#ifndef SCIM_ALIAS_H
#define SCIM_ALIAS_H

#include "scim/message.h"

#include <stddef.h>

struct scim_alias {
    const char *name;     /* "workEmail" */
    const char *path;     /* "emails[type eq \"work\"].value" */
    const char *label;    /* "Work email" */
    const char *alias_of; /* for a spelling variant, the name it stands for
                             ("workStreetAddress" for "workStreetAddeess"); NULL for the
                             names a pick list should show */
};

/* Returns the alias named name (case-insensitive), or NULL. Borrowed, static. */
const struct scim_alias *scim_alias_find(const char *name);

/* The number of rows, and row i (0 <= i < count; NULL past the end), in table order
 * (the order a pick list shows them), spelling variants included. */
size_t scim_alias_count(void);
const struct scim_alias *scim_alias_at(size_t i);

/* Returns the SCIM path name stands for: the alias's path when name is an alias, else
 * name itself (borrowed from the table or from name). Does not check that the result
 * parses; use scim_alias_check for that. */
const char *scim_alias_resolve(const char *name);

/* Checks that name is an alias or a valid SCIM attribute path known to the User
 * resource type (core, enterprise extension, or common attribute; a value filter is
 * allowed on multi-valued attributes). Errors: 400 invalidPath naming the attribute
 * when it is neither, 400 mutability when it is read-only on the target (id, meta,
 * groups) and so cannot be mapped. */
enum sc_err scim_alias_check(const char *name, struct scim_error *err);

#endif
