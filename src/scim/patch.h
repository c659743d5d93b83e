/* SCIM PATCH (RFC 7644 §3.5.2): parse a PatchOp body, apply its add / replace / remove
 * operations to a resource against its schema, all or nothing; and the other side,
 * building the PatchOp a client sends from the attributes it last sent and the ones it
 * wants now (only what changed). No I/O. */
#ifndef SCIM_PATCH_H
#define SCIM_PATCH_H

#include "base/err.h"
#include "scim/message.h"
#include "scim/path.h"
#include "scim/schema.h"

#include <jansson.h>
#include <stddef.h>

#define SCIM_PATCH_MAX_OPERATIONS 1000

enum scim_patch_kind { SCIM_PATCH_ADD, SCIM_PATCH_REPLACE, SCIM_PATCH_REMOVE };

struct scim_patch_op {
    enum scim_patch_kind kind;
    struct scim_path *path; /* owned; NULL when the operation has no path */
    json_t *value;          /* owned reference; NULL for remove */
};

struct scim_patch {
    struct scim_patch_op *ops;
    size_t count;
};

/* Parses a PatchOp body: `schemas` must list the PatchOp URN; `Operations` (the
 * member name matched case-insensitively) a non-empty array of at most
 * SCIM_PATCH_MAX_OPERATIONS objects with `op` (add / replace / remove, any case:
 * Entra sends "Replace"), `path` (a string, parsed by scim_path_parse) and `value`.
 * On success *out is new (scim_patch_free). Errors: 400 invalidSyntax for a body of
 * the wrong shape or an unknown op, 400 invalidPath for a bad path, 400 noTarget for a
 * remove without path (RFC 7644 §3.5.2.2), 400 invalidValue for an add/replace without
 * value, or without path whose value is not an object, 400 tooMany past the limit. */
enum sc_err scim_patch_parse(const json_t *body, struct scim_patch **out, struct scim_error *err);

/* Frees p; NULL is a no-op. */
void scim_patch_free(struct scim_patch *p);

/* Applies p to a copy of resource and validates the result against rt; resource is
 * not changed. On success *out is the new resource (new reference, normalised as
 * scim_resource_validate does in SCIM_VALIDATE_PATCHED mode, readOnly attributes of
 * resource such as id and meta kept as they were). Semantics:
 *  - add without path: each member of value is added as if by its own path; add to a
 *    multi-valued attribute appends the new values (skipping exact duplicates); add to
 *    a complex attribute merges sub-attributes; add to a single-valued one replaces it;
 *    add with a filtered path that matches nothing builds the element as scim_path_set.
 *  - replace without path: each member replaces its attribute (complex ones merged);
 *    replace with a filtered path replaces the matched elements (or their
 *    sub-attribute); a replace of a missing attribute adds it.
 *  - remove: removes the attribute, the sub-attribute, or the matched elements (a filter
 *    that matches nothing is not an error: the value is already gone); with a value on
 *    a multi-valued attribute without filter (as Entra sends for members), removes only
 *    the elements whose "value" equals one given.
 *  - a path that is a whole extension URN applies to each member of the value (for
 *    remove: drops the extension and its URN from schemas).
 *  - a value without path may name attributes by path ("name.givenName", an extension
 *    URN path) or hold an extension object under its URN key (merged member by member).
 *  - a primary: true written into a multi-valued attribute clears the other elements'
 *    primary (RFC 7643 §2.4).
 *  - writing to a readOnly attribute the value it already has is a no-op.
 * Errors (400): noTarget when a filtered path matches nothing on replace (RFC 7644
 * §3.5.2.3); invalidPath for a path naming no attribute of rt, a value filter on a
 * single-valued attribute, or a sub-attribute of a multi-valued one without filter;
 * mutability for writes to readOnly attributes (id, meta, groups) or a change to an
 * immutable one that already has a value; invalidValue (or the scimType validation
 * gives) when the result is not a valid resource: wrong types, a required attribute
 * removed. err->detail names the operation's index and path. */
enum sc_err scim_patch_apply(const struct scim_patch *p, const struct scim_resource_type *rt,
                             const json_t *resource, json_t **out, struct scim_error *err);

/* Builds the PatchOp a client sends to move a target account from old_attrs (what it
 * holds: the attributes last sent, or read from it when linking) to new_attrs. Both are
 * flat objects of target attribute names to values, names being aliases
 * (scim_alias_find: "workEmail") or SCIM paths ("name.givenName", an extension URN
 * path); old_attrs may be NULL (nothing known). Null values count as absent. For each
 * name whose value differs (JSON equality), in the order of new_attrs' keys, then names
 * only in old_attrs:
 *  - an element of a multi-valued attribute (`phoneNumbers[type eq "work"].value`) or a
 *    complex attribute (`name.givenName`) that old_attrs shows nothing of is added whole,
 *    with every new value that belongs to it, in one operation
 *    (`{"op":"add","path":"phoneNumbers","value":[{"type":"work","value":"1"}]}`,
 *    `{"op":"add","path":"name","value":{"givenName":"A","familyName":"B"}}`): a value
 *    filter would match nothing on the target, and strict servers answer noTarget;
 *  - an element whose every value is gone is removed whole
 *    (`{"op":"remove","path":"phoneNumbers[type eq \"work\"]"}`);
 *  - otherwise "add" when the name had no value, "replace" when it changed, "remove"
 *    when it has none now, each with the resolved path.
 * On success *out is a new PatchOp body, or NULL when nothing changed. Errors: 400
 * invalidPath naming an attribute that is neither an alias nor a valid path. */
enum sc_err scim_patch_diff(const json_t *old_attrs, const json_t *new_attrs, json_t **out,
                            struct scim_error *err);

/* As scim_patch_diff, and *op_keys (may be NULL; set only when *out is) is a new array
 * parallel to the body's Operations: for each operation, the array of the flat names it
 * carries. */
enum sc_err scim_patch_diff_ops(const json_t *old_attrs, const json_t *new_attrs, json_t **out,
                                json_t **op_keys, struct scim_error *err);

/* Builds a full resource (for POST or PUT) from a flat object of target attribute
 * names to values (aliases or SCIM paths, as scim_patch_diff), setting each through
 * scim_path_set on the User resource type: {"userName":"a","workEmail":"a@x"} gives
 * {"schemas":[User URN],"userName":"a","emails":[{"type":"work","value":"a@x",
 * "primary":true}]}. Null values are skipped. On success *out is new. Errors: 400
 * invalidPath as scim_patch_diff. */
enum sc_err scim_resource_from_attrs(const json_t *attrs, json_t **out, struct scim_error *err);

#endif
