/* Helpers shared by the files of src/scim only (not part of the module's interface):
 * case-insensitive JSON member look-up, splitting an attribute path into its URN
 * prefix, attribute and sub-attribute, and finding where in a resource an attribute
 * lives (the resource itself or an extension object under its URN key). */
#ifndef SCIM_INTERNAL_H
#define SCIM_INTERNAL_H

#include "scim/schema.h"

#include <jansson.h>
#include <stddef.h>

#define SCIM__NAME_MAX 256

/* Returns the member of obj whose key equals name case-insensitively (an exact match
 * first), borrowed, or NULL; *key_out (may be NULL) gets the key as stored. */
json_t *scim__obj_get(const json_t *obj, const char *name, const char **key_out);

/* Splits an attribute path without filter ("urn:...:User:name.givenName") into the
 * URN prefix (urn, "" when none), the attribute (name) and the sub-attribute (sub, ""
 * when none), each a buffer of SCIM__NAME_MAX (urn: 2 * SCIM__NAME_MAX). Returns 0, or
 * -1 when the path is malformed (empty parts, too long, bad characters, more than one
 * '.'). */
int scim__split_attr(const char *text, char *urn, char *name, char *sub);

/* Returns non-zero when name is a valid ATTRNAME (ALPHA or '$' first, then ALPHA /
 * DIGIT / '-' / '_' / '$'). n is its length. */
int scim__name_valid(const char *name, size_t n);

/* Finds the attribute (urn may be "" or NULL, name) of rt: the schema it belongs to
 * and its definition. Without urn the core schema, then the common attributes, then
 * the extensions are searched. Returns 0 or -1. */
int scim__find_attr(const struct scim_resource_type *rt, const char *urn, const char *name,
                    const struct scim_schema **schema, const struct scim_attr **attr);

/* Returns non-zero when schema s is one of rt's extensions. */
int scim__is_extension(const struct scim_resource_type *rt, const struct scim_schema *s);

/* Returns the object of resource that holds attribute (urn, name): resource itself for
 * core and common attributes, the extension object under its URN key for extension
 * ones (NULL when that object is absent). Without rt, a URN prefix that is a core
 * schema selects resource, any other selects resource[urn]. */
const json_t *scim__container(const struct scim_resource_type *rt, const json_t *resource,
                              const char *urn, const char *name);

/* ASCII case-insensitive search of needle in haystack (lengths given). */
int scim__contains(const char *hay, size_t hn, const char *needle, size_t nn, int case_exact);

struct scim_filter;
struct scim_error;

/* Parses the text of a value filter (what is between the brackets of a path): as
 * scim_filter_parse, but nested value paths are refused. */
enum sc_err scim__filter_parse_inner(const char *text, struct scim_filter **out,
                                     struct scim_error *err);

/* Evaluates a value filter against one element of a multi-valued attribute (parent,
 * may be NULL when unknown: then strings compare case-insensitively). 1 or 0. */
int scim__filter_match_element(const struct scim_filter *f, const struct scim_resource_type *rt,
                               const struct scim_attr *parent, const json_t *element);

#endif
