/* SCIM 2.0 schemas (RFC 7643) as static tables: the core User and Group schemas, the
 * Enterprise User extension, and the common attributes (id, externalId, meta) every
 * resource has. On them: attribute lookup by case-insensitive name or full URN path,
 * validation of a resource sent for create or replace (strict, as a real application
 * is), `attributes` / `excludedAttributes` projection, and the JSON the service
 * provider serves at /Schemas and /ResourceTypes. No I/O; all tables are static and
 * never freed. */
#ifndef SCIM_SCHEMA_H
#define SCIM_SCHEMA_H

#include "base/err.h"
#include "scim/message.h"

#include <jansson.h>
#include <stddef.h>

enum scim_type {
    SCIM_T_STRING,
    SCIM_T_BOOLEAN,
    SCIM_T_DECIMAL,
    SCIM_T_INTEGER,
    SCIM_T_DATETIME,
    SCIM_T_REFERENCE,
    SCIM_T_COMPLEX,
    SCIM_T_BINARY
};

enum scim_mutability {
    SCIM_MUT_READ_WRITE = 0,
    SCIM_MUT_READ_ONLY,
    SCIM_MUT_IMMUTABLE,
    SCIM_MUT_WRITE_ONLY
};

enum scim_returned { SCIM_RET_DEFAULT = 0, SCIM_RET_ALWAYS, SCIM_RET_NEVER, SCIM_RET_REQUEST };

enum scim_uniqueness { SCIM_UNIQ_NONE = 0, SCIM_UNIQ_SERVER, SCIM_UNIQ_GLOBAL };

/* One attribute definition (RFC 7643 §7). String arrays are NULL-terminated or NULL. */
struct scim_attr {
    const char *name;
    enum scim_type type;
    int multi_valued;
    const char *description;
    int required;
    int case_exact;
    enum scim_mutability mutability;
    enum scim_returned returned;
    enum scim_uniqueness uniqueness;
    const char *const *canonical_values;
    const char *const *reference_types;
    const struct scim_attr *sub_attrs; /* for SCIM_T_COMPLEX */
    size_t n_sub_attrs;
};

struct scim_schema {
    const char *id; /* the schema URN */
    const char *name;
    const char *description;
    const struct scim_attr *attrs;
    size_t n_attrs;
};

/* A resource type (RFC 7643 §6): its core schema and its extensions. */
struct scim_resource_type {
    const char *id;       /* "User", "Group" */
    const char *name;     /* "User", "Group" */
    const char *endpoint; /* "/Users", "/Groups" */
    const char *description;
    const struct scim_schema *schema;
    const struct scim_schema *const *extensions;
    const int *extension_required; /* parallel to extensions */
    size_t n_extensions;
};

/* The static schemas and resource types (borrowed; never NULL). */
const struct scim_schema *scim_schema_user(void);
const struct scim_schema *scim_schema_group(void);
const struct scim_schema *scim_schema_enterprise_user(void);
const struct scim_resource_type *scim_resource_type_user(void);
const struct scim_resource_type *scim_resource_type_group(void);

/* The common attributes id, externalId and meta (RFC 7643 §3.1), found by
 * scim_schema_find_attr for every resource type. Borrowed, never NULL. */
const struct scim_schema *scim_schema_common(void);

/* Returns the schema with that URN (case-insensitive), or NULL. */
const struct scim_schema *scim_schema_find(const char *urn);

/* Returns the resource type with that name ("User") or endpoint ("/Users"),
 * case-insensitive, or NULL. */
const struct scim_resource_type *scim_resource_type_find(const char *name);

/* Returns the attribute of schema s named name (case-insensitive), or NULL. */
const struct scim_attr *scim_schema_attr(const struct scim_schema *s, const char *name);

/* Returns the sub-attribute of complex attribute a named name (case-insensitive), or
 * NULL. */
const struct scim_attr *scim_attr_sub(const struct scim_attr *a, const char *name);

/* Resolves an attribute path without value filter ("userName", "name.givenName",
 * "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
 * "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", and the
 * common attributes "id", "meta.created") against a resource type. On success writes
 * the schema the attribute belongs to (*schema, may be scim_schema_common()), the
 * top-level attribute (*attr) and the sub-attribute (*sub, NULL when the path has
 * none); any out pointer may be NULL. Returns 0, or -1 when the path names nothing
 * (the out pointers are then left alone). */
int scim_schema_resolve(const struct scim_resource_type *rt, const char *path,
                        const struct scim_schema **schema, const struct scim_attr **attr,
                        const struct scim_attr **sub);

/* Returns the type name RFC 7643 uses ("string", "dateTime", ...). */
const char *scim_type_name(enum scim_type t);

enum scim_validate_mode {
    SCIM_VALIDATE_CREATE,  /* POST: readOnly attributes supplied are ignored (dropped) */
    SCIM_VALIDATE_REPLACE, /* PUT: readOnly attributes are ignored (dropped) */
    SCIM_VALIDATE_PATCHED  /* a stored or patched resource: readOnly attributes are kept
                              and checked like the others */
};

/* Validates a resource sent for create or replace against rt and returns, in *out, a
 * new normalised copy: attribute names in their schema spelling (RFC 7643 attribute
 * names are case-insensitive), null values and empty arrays dropped (unassigned), an
 * extension's attributes under its URN key, and, for CREATE and REPLACE, readOnly
 * attributes and sub-attributes (id, meta, groups, manager.displayName, ...) removed
 * (RFC 7644 §3.3, §3.5.1) so the caller can set or carry them over. `schemas` is kept,
 * less any URN no schema knows that names no member of resource (ignored, as Entra
 * lists its ADSCIM group schema). What real clients send is accepted as the type it
 * stands for: a string "true" / "false" in any case for a boolean, and a bare string
 * for a single-valued complex attribute with a `value` sub-attribute (the enterprise
 * manager) as {"value": string}.
 * existing (may be NULL) is the stored resource for REPLACE, used to refuse changes
 * to immutable attributes.
 * Errors (400 unless said): invalidSyntax when resource is not an object or `schemas`
 * is missing, not an array of strings, or lacks the core schema URN or names a schema
 * that is not the resource type's (or an unknown one whose URN keys a member);
 * invalidValue for an unknown attribute, a value of the wrong type
 * (string / boolean / integer / decimal / dateTime / reference / binary / complex /
 * multi-valued array), a complex value with unknown sub-attributes, more than one
 * `primary: true` in a multi-valued attribute, an extension object whose URN is not in
 * `schemas`, or a missing required attribute (userName for User, displayName for
 * Group); mutability for an `id` that differs from the stored one on REPLACE, or an
 * immutable attribute changed on REPLACE. The detail names the attribute. */
enum sc_err scim_resource_validate(const struct scim_resource_type *rt, const json_t *resource,
                                   enum scim_validate_mode mode, const json_t *existing,
                                   json_t **out, struct scim_error *err);

/* Projects a resource for a response (RFC 7644 §3.4.2.5, §3.9): attributes and
 * excluded are comma-separated attribute paths (either may be NULL or ""; when both
 * are given, attributes wins). Attributes with returned=never (password) are always
 * removed; returned=always ones (id, and `schemas`) are always kept;
 * returned=request ones only when listed in attributes; returned=default ones unless
 * excluded, or, when attributes is given, only if listed (a listed complex attribute
 * brings all of its sub-attributes, a listed sub-attribute only itself). Paths may
 * carry schema URN prefixes; unknown paths are ignored, as RFC 7644 leaves room for.
 * On success *out is new. Errors: 400 invalidPath for a malformed path (e.g. with a
 * value filter), 400 invalidValue when a list is longer than SCIM_SEARCH_MAX_ATTRS_LEN. */
enum sc_err scim_resource_project(const struct scim_resource_type *rt, const json_t *resource,
                                  const char *attributes, const char *excluded, json_t **out,
                                  struct scim_error *err);

/* Returns a new JSON rendering of schema s as served at /Schemas/<urn> (RFC 7643 §7),
 * with meta.location = base_url + "/Schemas/" + urn (base_url may be NULL: no meta
 * location). NULL when out of memory. */
json_t *scim_schema_to_json(const struct scim_schema *s, const char *base_url);

/* Returns a new JSON rendering of rt as served at /ResourceTypes/<id> (RFC 7643 §6). */
json_t *scim_resource_type_to_json(const struct scim_resource_type *rt, const char *base_url);

/* Returns a new array of every schema (User, Group, Enterprise User) rendered by
 * scim_schema_to_json, for a /Schemas ListResponse. */
json_t *scim_schemas_all_json(const char *base_url);

/* Returns a new array of every resource type (User, Group), for /ResourceTypes. */
json_t *scim_resource_types_all_json(const char *base_url);

#endif
