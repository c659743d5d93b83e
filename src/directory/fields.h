/* The one table of directory attributes (SPEC §2, §4): every user field an expression
 * may read (a mapping's source) or a user filter may test, in its dotted API name,
 * with the display name the seed's console shows ("Given Name" for name.given,
 * "Population Name" for population.name), and the one table of user-filter operators
 * with their labels. The user-filter compiler, the expression parser, the REST API's
 * /meta/attributes and, through it, the console's pick lists all read these tables.
 * Static data, no I/O, safe from any thread. */
#ifndef SC_DIRECTORY_FIELDS_H
#define SC_DIRECTORY_FIELDS_H

#include <stddef.h>

#define DIRECTORY_FIELD_SOURCE 0x1u /* an expression (a mapping's source) may read it */
#define DIRECTORY_FIELD_FILTER 0x2u /* a user filter may test it */
#define DIRECTORY_FIELD_SCOPE                                                                      \
    0x4u /* names a population or group: an outbound rule's                                        \
            filter needs one such condition */

struct directory_field {
    const char *name;  /* "name.given": the dotted API name */
    const char *label; /* "Given Name": the seed's display name */
    unsigned uses;     /* DIRECTORY_FIELD_* bits */
};

struct directory_operator {
    const char *name;  /* "NOT_EQUALS" */
    const char *label; /* "Does not equal" */
    int takes_value;   /* 0 for IS_NULL and IS_NOT_NULL */
};

/* The number of fields, and field i (NULL past the end), in pick-list order: the user
 * fields in the order of SPEC §2, then the population and group. Borrowed, static. */
size_t directory_field_count(void);
const struct directory_field *directory_field_at(size_t i);

/* Returns the field called name (ASCII case-insensitive; the first len bytes of name,
 * or all of it when len is 0) that has every bit of uses, or NULL. Borrowed, static:
 * its name is the canonical spelling. */
const struct directory_field *directory_field_find(const char *name, size_t len, unsigned uses);

/* The number of user-filter operators, and operator i (NULL past the end), in the
 * order of SPEC §4 (EQUALS first); userfilter.c's enum follows this order. Borrowed. */
size_t directory_operator_count(void);
const struct directory_operator *directory_operator_at(size_t i);

#endif
