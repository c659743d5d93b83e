/* SCIM attribute paths (RFC 7644 §3.5.2 PATH grammar): an optional schema URN prefix,
 * an attribute name, an optional value filter in brackets, and an optional
 * sub-attribute: `userName`, `name.givenName`, `emails[type eq "work"].value`,
 * `members[value eq "2819c223"]`,
 * `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`.
 * Parse, print, and get or set the value a path names in a resource (json_t), building
 * the right multi-valued entry when absent. No I/O. */
#ifndef SCIM_PATH_H
#define SCIM_PATH_H

#include "base/buf.h"
#include "base/err.h"
#include "scim/message.h"
#include "scim/schema.h"

#include <jansson.h>

struct scim_filter;

#define SCIM_PATH_MAX_LEN 4096

/* A parsed path. All strings are owned by the path. */
struct scim_path {
    char *schema;               /* the URN prefix without the trailing ':', or NULL */
    char *attr;                 /* the top-level attribute name (as written) */
    struct scim_filter *filter; /* the value filter, or NULL */
    char *sub;                  /* the sub-attribute name, or NULL */
};

/* Parses text as an attribute path. A URN prefix is recognised when text starts with
 * "urn:" (case-insensitive): the attribute is what follows its last ':' (before any
 * '[' or '.'). The value filter is parsed with scim_filter_parse's rules (its
 * attribute paths are relative to the attribute's sub-attributes). On success *out is
 * new (scim_path_free). Errors: 400 invalidPath for an empty or malformed path, a
 * name with characters outside ALPHA / DIGIT / '-' / '_' / '$', a path longer than
 * SCIM_PATH_MAX_LEN, or a bad value filter (its detail says what is wrong). */
enum sc_err scim_path_parse(const char *text, struct scim_path **out, struct scim_error *err);

/* Frees p; NULL is a no-op. */
void scim_path_free(struct scim_path *p);

/* Appends p's canonical text to out ("emails[type eq \"work\"].value"). */
enum sc_err scim_path_format(const struct scim_path *p, struct sc_buf *out);

/* Returns the schema URN the path belongs to when resolved against rt: p->schema when
 * given, else the schema (core or extension) that defines p->attr, else NULL. The
 * result is borrowed from the static tables. */
const struct scim_schema *scim_path_schema(const struct scim_resource_type *rt,
                                           const struct scim_path *p);

/* Returns non-zero when the values p names compare case-sensitively (RFC 7643
 * caseExact of the attribute, or of its sub-attribute): false for userName and
 * emails.value, true for externalId. 0 when rt does not know the attribute. */
int scim_path_case_exact(const struct scim_resource_type *rt, const struct scim_path *p);

/* Returns the value p names in resource (borrowed from resource), or NULL when absent:
 * for a plain path the attribute (or sub-attribute) value; for a path with a value
 * filter the first matching element of the multi-valued attribute, or that element's
 * sub-attribute when the path has one. Extension attributes are looked up under their
 * URN key. rt (may be NULL: then caseExact is false except for id and externalId)
 * supplies caseExact for the filter. Attribute names match case-insensitively. */
json_t *scim_path_get(const struct scim_resource_type *rt, const json_t *resource,
                      const struct scim_path *p);

/* Sets the value p names in resource to value (stolen), creating what is missing:
 * intermediate complex objects; for an extension attribute the object under its URN
 * key, and the URN in "schemas"; for a filtered multi-valued path that matches nothing,
 * a new element built from the filter's `attr eq value` terms (so
 * `emails[type eq "work"].value` adds {"type":"work","value":v,"primary":true}; an
 * email gets primary only when no other email is primary; addresses and phone numbers
 * get none); when elements match, their sub-attribute (or, without sub-attribute, the
 * whole element) is set in every match. Existing keys keep their spelling; new ones
 * take the schema's. A JSON null value removes the attribute instead
 * (scim_path_remove). Errors: 400 noTarget when a filter matches nothing and is not a
 * conjunction of `sub eq value` terms; 400 invalidPath for a sub-attribute of a
 * multi-valued attribute without filter, or a value filter on a single-valued one;
 * 400 invalidValue for a non-object value for a filtered path without sub-attribute. */
enum sc_err scim_path_set(const struct scim_resource_type *rt, json_t *resource,
                          const struct scim_path *p, json_t *value, struct scim_error *err);

/* Removes the value p names: the attribute, the sub-attribute, or the matching
 * elements (or their sub-attribute) of a filtered path; an array left empty is
 * removed, and an extension object left empty is removed with its URN from "schemas".
 * Returns how many values were removed (0 when there was nothing). */
int scim_path_remove(const struct scim_resource_type *rt, json_t *resource,
                     const struct scim_path *p);

#endif
