/* SCIM dialects: SCIM 2.0 (RFC 7643/7644, what the rest of src/scim speaks) and SCIM 1.1
 * (draft-scim-core-schema-01 and draft-scim-api-01, the "SCIM Version 1.1" a connection
 * may choose). Everything inside scimitar is SCIM 2.0; this file converts at the edge:
 * resources both ways (core URN urn:scim:schemas:core:1.0, the enterprise extension
 * under urn:scim:schemas:extension:enterprise:1.0 with manager.managerId), the 1.1 PATCH
 * (a partial resource with meta.attributes and "operation":"delete" entries) built from
 * the same flat attribute sets as scim_patch_diff and applied to a resource, ListResponse
 * and Error bodies ({"Errors":[{"description","code"}]}), filters (1.1 has eq co sw pr gt
 * ge lt le, and, or, parentheses; no ne, ew, not or [...] value paths), attribute names,
 * and the 1.1 /Schemas/Users document. Each client-side call takes the connection's
 * dialect, so a caller writes one code path: SCIM_DIALECT_20 gives what the SCIM 2.0
 * functions give. No I/O; jansson ownership rules as in message.h. */
#ifndef SCIM_DIALECT_H
#define SCIM_DIALECT_H

#include "base/buf.h"
#include "base/err.h"
#include "scim/message.h"
#include "scim/schema.h"

#include <jansson.h>
#include <stdint.h>

enum scim_dialect { SCIM_DIALECT_20 = 0, SCIM_DIALECT_11 = 1 };

/* The SCIM 1.1 schema URNs. The core URN names both User and Group (1.1 has one core
 * schema); the resource type comes from the endpoint. */
#define SCIM11_SCHEMA_CORE "urn:scim:schemas:core:1.0"
#define SCIM11_SCHEMA_ENTERPRISE "urn:scim:schemas:extension:enterprise:1.0"

/* Reads a connection's "SCIM Version" ("2.0" or "1.1", exactly) into *out. 0, or -1 for
 * anything else (*out untouched). */
int scim_dialect_parse(const char *version, enum scim_dialect *out);

/* "2.0" or "1.1". Static. */
const char *scim_dialect_name(enum scim_dialect d);

/* The discovery path below the SCIM base URL: "/ServiceProviderConfig" (2.0) or
 * "/ServiceProviderConfigs" (1.1). Static. */
const char *scim_dialect_service_provider_config_path(enum scim_dialect d);

/* ---- client side: what the provisioning engine calls, dialect in hand ---------------- */

/* The full User for POST or PUT from flat attributes (as scim_resource_from_attrs), in
 * dialect d. On success *out is new. Errors: as scim_resource_from_attrs. */
enum sc_err scim_dialect_resource_from_attrs(enum scim_dialect d, const json_t *attrs, json_t **out,
                                             struct scim_error *err);

/* The PATCH body that moves the target from old_attrs to new_attrs, in dialect d: a
 * PatchOp (scim_patch_diff) for 2.0, a 1.1 partial resource
 * (scim_dialect_patch_diff_11) for 1.1. *out is new, or NULL when nothing changed.
 * Errors: as those two. */
enum sc_err scim_dialect_patch_diff(enum scim_dialect d, const json_t *old_attrs,
                                    const json_t *new_attrs, json_t **out, struct scim_error *err);

/* A PATCH body that sets only `active`: {"schemas":[PatchOp],"Operations":[{"op":"replace",
 * "path":"active","value":b}]} for 2.0, {"schemas":["urn:scim:schemas:core:1.0"],
 * "active":b} for 1.1. New, or NULL when out of memory. */
json_t *scim_dialect_patch_active(enum scim_dialect d, int active);

/* Reads one resource a target returned into the SCIM 2.0 shape the rest of scimitar
 * projects with 2.0 paths (scim_path_get): for 2.0 a new reference to body itself, for
 * 1.1 scim_dialect_resource_from_11. rt is User or Group. On success *out is new.
 * Errors: 400 invalidSyntax when body is not an object. */
enum sc_err scim_dialect_resource_read(enum scim_dialect d, const struct scim_resource_type *rt,
                                       const json_t *body, json_t **out, struct scim_error *err);

/* Reads a ListResponse (2.0, or 1.1's {"schemas":["urn:scim:schemas:core:1.0"],
 * "totalResults","itemsPerPage","startIndex","Resources"}) as scim_list_response_parse
 * does, and returns in *resources a new array (the caller's to json_decref) of its
 * resources in the 2.0 shape (scim_dialect_resource_read on each: for 2.0 the body's own
 * resources, shared, so treat them as read-only; an empty page gives an empty array).
 * Errors: as scim_list_response_parse; 400 invalidSyntax for a resource that is not an
 * object. */
enum sc_err scim_dialect_list_read(enum scim_dialect d, const struct scim_resource_type *rt,
                                   const json_t *body, int64_t *total, json_t **resources,
                                   struct scim_error *err);

/* Appends the filter to send in dialect d for a SCIM 2.0 filter text (what
 * scim_filter_template made): the text itself for 2.0, scim_dialect_filter_to_11 for
 * 1.1. `userName eq "x"` is the same in both. Errors: as scim_dialect_filter_to_11. */
enum sc_err scim_dialect_filter(enum scim_dialect d, const char *filter20, struct sc_buf *out,
                                struct scim_error *err);

/* ---- SCIM 1.1 ----------------------------------------------------------------------- */

/* Converts a SCIM 2.0 User or Group (which one: by its schemas) to SCIM 1.1: schemas
 * become ["urn:scim:schemas:core:1.0"] (plus the 1.1 enterprise URN when the extension
 * object is present); the enterprise extension moves from its 2.0 URN key to the 1.1
 * one, its manager.value becoming manager.managerId and manager.$ref dropped; $ref is
 * dropped from groups and members entries; meta.resourceType is dropped. Other members
 * are copied. On success *out is new. Errors: 400 invalidSyntax when res20 is not an
 * object whose schemas name the 2.0 User or Group. */
enum sc_err scim_dialect_resource_to_11(const json_t *res20, json_t **out, struct scim_error *err);

/* Converts a SCIM 1.1 resource (or partial resource) of type rt to SCIM 2.0: the inverse
 * of scim_dialect_resource_to_11 (schemas entries mapped one by one, unknown ones kept;
 * the 2.0 core URN added when missing, the 2.0 enterprise URN when its object is there;
 * meta.resourceType set to rt's name when meta is present). Lenient: members it does not
 * know are copied, for the 2.0 validation to judge. On success *out is new. Errors: 400
 * invalidSyntax when res11 is not an object. */
enum sc_err scim_dialect_resource_from_11(const struct scim_resource_type *rt, const json_t *res11,
                                          json_t **out, struct scim_error *err);

/* Checks, as a strict SCIM 1.1 service provider would, a body sent for create or
 * replace (patch = 0) or PATCH (patch != 0) to the endpoint of rt: an object; `schemas`
 * a non-empty array of strings listing urn:scim:schemas:core:1.0, and nothing but that
 * and (Users) urn:scim:schemas:extension:enterprise:1.0; no SCIM 2.0 shapes (a PatchOp's
 * Operations, a 2.0 URN in schemas or as a key, manager.value, $ref); the extension
 * object only when its URN is listed; "operation" only in PATCH, only "delete", only in
 * entries of multi-valued attributes; in PATCH, meta holds only `attributes`, an array
 * of at most SCIM_PATCH_MAX_OPERATIONS strings. Attribute types and names are left to
 * the 2.0 validation after conversion. Errors: 400 invalidSyntax (shape, schemas),
 * invalidValue (members), mutability (meta members other than attributes in PATCH). */
enum sc_err scim_dialect_check_11(const struct scim_resource_type *rt, const json_t *body,
                                  int patch, struct scim_error *err);

/* Builds the SCIM 1.1 PATCH body (draft-scim-api-01 §3.3.2) that moves a User from
 * old_attrs to new_attrs, from the same flat sets as scim_patch_diff (names are aliases
 * or SCIM 2.0 paths): {"schemas":["urn:scim:schemas:core:1.0"(, enterprise 1.0)], ...,
 * "meta":{"attributes":[...]}} with
 *  - a changed or new single-valued attribute set in the body (a sub-attribute of a
 *    complex one as {"name":{"givenName":v}}, merged by the service provider); an
 *    enterprise attribute under the 1.1 enterprise URN key (manager.value as
 *    manager.managerId);
 *  - a removed one (absent or null in new_attrs) named in meta.attributes: "title",
 *    "name.givenName", "urn:scim:schemas:extension:enterprise:1.0:department"; a whole
 *    complex attribute by each of its old sub-attributes ("name.givenName", ...);
 *  - a multi-valued entry chosen by a value filter (workEmail is emails[type eq
 *    "work"].value, workCity addresses[type eq "work"].locality, ...): the entry the old
 *    attributes build and the one the new ones build (as scim_resource_from_attrs builds
 *    them: {"type":"work","value":v,"primary":true}); when they differ, the old entry is
 *    sent with "operation":"delete" (the service provider matches it by value, or by all
 *    its sub-attributes when it has none, as addresses) and the new one is added; when
 *    both have the same value and no sub-attribute went away, only the new entry is sent
 *    (merged by value);
 *  - a whole multi-valued attribute ("emails" with an array): listed in meta.attributes
 *    when it had a value before, and sent when it has one now.
 * On success *out is new, or NULL when nothing changed. Errors: 400 invalidPath for a
 * name that is neither an alias nor a path of the User, or a sub-attribute of a
 * multi-valued attribute without filter; 400 noTarget for a value filter that cannot
 * build an entry (only `sub eq value` terms joined by and can). */
enum sc_err scim_dialect_patch_diff_11(const json_t *old_attrs, const json_t *new_attrs,
                                       json_t **out, struct scim_error *err);

/* Applies a SCIM 1.1 PATCH body (checked first with scim_dialect_check_11) to a copy of
 * the SCIM 2.0 resource res20 of type rt, all or nothing, and validates the result
 * (SCIM_VALIDATE_PATCHED against res20). Semantics (draft-scim-api-01 §3.3.2):
 *  1. every name in meta.attributes is removed first (a 1.1 path: "title",
 *     "name.givenName", "emails", "urn:scim:schemas:extension:enterprise:1.0:department";
 *     a multi-valued attribute only as a whole);
 *  2. then the body is merged: a single-valued attribute replaces, a complex one merges
 *     its sub-attributes, a null removes; each entry of a multi-valued attribute (an
 *     array) is, with "operation":"delete", removed (matched by its value sub-attribute,
 *     narrowed by the other sub-attributes given when several share the value; without
 *     value, by all the sub-attributes given; ignored when the attribute is also in
 *     meta.attributes or nothing matches), else merged into the entry with the same
 *     value, or appended (exact duplicates skipped); entries are handled in order; an
 *     entry written with primary:true clears the others' primary.
 * readOnly attributes (id, meta, groups) may be sent only with the value they have.
 * On success *out is the new 2.0 resource. Errors (400): the check's; invalidPath for a
 * bad or unknown name in meta.attributes; invalidValue for an unknown attribute, a
 * multi-valued attribute that is not an array, a complex one that is not an object, a
 * delete matching more than one value, or what validation refuses; mutability for
 * writes to readOnly attributes; tooMany past SCIM_PATCH_MAX_OPERATIONS names and
 * entries in all. */
enum sc_err scim_dialect_patch_apply_11(const struct scim_resource_type *rt, const json_t *res20,
                                        const json_t *patch11, json_t **out,
                                        struct scim_error *err);

/* Converts an attribute name (a path without value filter, as in `attributes=`, a
 * filter, or meta.attributes) from SCIM 2.0 to 1.1 and back, appending it to out: the
 * core URN prefix is dropped, the enterprise prefixes swapped
 * ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department" <->
 * "urn:scim:schemas:extension:enterprise:1.0:department"), manager.value <->
 * manager.managerId; a whole extension URN maps to the other. Errors: 400 invalidPath
 * for a URN prefix the source dialect does not have (a 2.0 URN sent in 1.1, and the
 * reverse), or a manager sub-attribute the source dialect does not have. */
enum sc_err scim_dialect_path_to_11(const char *path20, struct sc_buf *out, struct scim_error *err);
enum sc_err scim_dialect_path_from_11(const char *path11, struct sc_buf *out,
                                      struct scim_error *err);

/* Converts a filter between the dialects, appending the canonical text to out: parsed
 * with scim_filter_parse, refused when it uses what SCIM 1.1's grammar lacks (ne, ew,
 * not, value paths `[...]`), attribute names converted as scim_dialect_path_to_11 /
 * _from_11, printed with scim_filter_format. Errors: 400 invalidFilter (with the
 * parser's or the converter's detail). */
enum sc_err scim_dialect_filter_to_11(const char *filter20, struct sc_buf *out,
                                      struct scim_error *err);
enum sc_err scim_dialect_filter_from_11(const char *filter11, struct sc_buf *out,
                                        struct scim_error *err);

/* ---- messages ----------------------------------------------------------------------- */

/* The Error body of dialect d: scim_error_json for 2.0; for 1.1
 * {"Errors":[{"description": detail (SCIM 2.0 URNs in it written as their 1.1
 * counterparts), "code": "400"}]} (code a string, as draft-scim-api-01 shows; no
 * scimType). New, or NULL when out of memory. */
json_t *scim_dialect_error_json(enum scim_dialect d, const struct scim_error *err);

/* A ListResponse of dialect d (resources stolen, already in that dialect; NULL = empty):
 * scim_list_response_new for 2.0; for 1.1 {"schemas":["urn:scim:schemas:core:1.0"],
 * "totalResults","itemsPerPage","startIndex","Resources"}. New, or NULL. */
json_t *scim_dialect_list_response_new(enum scim_dialect d, json_t *resources,
                                       int64_t total_results, int64_t start_index);

/* The SCIM 1.1 schema document of rt as served at /Schemas/Users or /Schemas/Groups
 * (draft-scim-core-schema-01 §7): id "urn:scim:schemas:core:1.0:User", name, description,
 * schema, endpoint, and `attributes` (id, externalId, meta, the core attributes, and for
 * Users the enterprise ones with schema urn:scim:schemas:extension:enterprise:1.0), each
 * with name, type (1.1 types: a 2.0 reference is a string), multiValued,
 * multiValuedAttributeChildName, description, schema, readOnly, required, caseExact and
 * subAttributes; meta.location = base_url + "/Schemas/" + endpoint name when base_url is
 * not NULL. New, or NULL when out of memory. */
json_t *scim_dialect_schema_11_json(const struct scim_resource_type *rt, const char *base_url);

#endif
