/* SCIM filters (RFC 7644 §3.4.2.2), the whole grammar: comparisons eq ne co sw ew gt ge
 * lt le, presence pr, logical and / or / not with precedence (not binds tighter than
 * and, and than or), parentheses, value paths (`emails[type eq "work" and value co
 * "@x"]`), a comparison on a sub-attribute after a value path (`emails[type eq "work"]
 * .value eq "ada@example.com"`, the form Microsoft Entra ID sends), case-insensitive operators and
 * attribute names (`username Eq "%s"` parses and matches userName), string literals with JSON
 * escapes, numbers, true / false / null. Parsed to a tree, evaluated against a resource (json_t)
 * with caseExact and type (dateTime, numbers) taken from the schema, printed back, and freed. Also
 * the safe way to put a value into a filter: render it as a SCIM string literal, or fill a
 * `%s` template with it. Inputs are bounded (length, nesting) and the parser is not
 * recursive in the input's nesting beyond SCIM_FILTER_MAX_DEPTH: bad input is a 400
 * invalidFilter, never a crash. No I/O. */
#ifndef SCIM_FILTER_H
#define SCIM_FILTER_H

#include "base/buf.h"
#include "base/err.h"
#include "scim/message.h"
#include "scim/schema.h"

#include <jansson.h>

#define SCIM_FILTER_MAX_LEN 4096 /* bytes of filter text */
#define SCIM_FILTER_MAX_DEPTH 32 /* nesting of parentheses, not and brackets */
#define SCIM_FILTER_MAX_NODES 1024

enum scim_filter_op {
    SCIM_OP_EQ,
    SCIM_OP_NE,
    SCIM_OP_CO,
    SCIM_OP_SW,
    SCIM_OP_EW,
    SCIM_OP_PR,
    SCIM_OP_GT,
    SCIM_OP_GE,
    SCIM_OP_LT,
    SCIM_OP_LE,
    SCIM_OP_AND,
    SCIM_OP_OR,
    SCIM_OP_NOT,
    SCIM_OP_VALUE_PATH /* attr[filter], optionally followed by `.sub op value`: matches when
                          one element matches the filter (and the sub-attribute comparison) */
};

/* A filter tree node. Read it freely; build it only with scim_filter_parse. */
struct scim_filter {
    enum scim_filter_op op;
    char *attr;                /* comparisons, pr, value paths: the attribute path as written
                                  (URN prefix and sub-attribute included), owned */
    json_t *value;             /* comparisons: the literal (string, number, true, false, null),
                                  owned reference; NULL for pr and logical nodes */
    struct scim_filter *left;  /* and/or: left operand; not: the operand; value path:
                                  the inner filter (attributes relative to attr) */
    struct scim_filter *right; /* and/or: right operand; value path: NULL, or the
                                  comparison written after `].` (attr is the bare
                                  sub-attribute name, evaluated on the same element) */
};

/* Parses text (NUL-terminated, at most SCIM_FILTER_MAX_LEN bytes, valid UTF-8) into a
 * tree. On success *out is new (scim_filter_free). Errors: 400 invalidFilter with a
 * detail giving the byte position and what was expected: empty filter, too long, too
 * deeply nested, unknown operator, missing value, bad literal (unterminated string,
 * bad escape, bad number), unbalanced parentheses or brackets, nested value paths,
 * a missing sub-attribute name or operator after `].`, trailing input. */
enum sc_err scim_filter_parse(const char *text, struct scim_filter **out, struct scim_error *err);

/* Frees f and its children; NULL is a no-op. */
void scim_filter_free(struct scim_filter *f);

/* Checks f against rt: comparisons gt/ge/lt/le on boolean or binary attributes, and
 * co/sw/ew on boolean, numeric, or dateTime attributes, are 400 invalidFilter. Unknown
 * attributes are allowed (they match nothing, RFC 7644 §3.4.2.2). */
enum sc_err scim_filter_check(const struct scim_filter *f, const struct scim_resource_type *rt,
                              struct scim_error *err);

/* Returns 1 when resource matches f, else 0. rt (may be NULL) gives caseExact and
 * types; without it, strings compare case-insensitively except for id and externalId.
 * Semantics: a multi-valued attribute matches when any value does; a complex attribute
 * compared without sub-attribute is compared through its "value" sub-attribute;
 * `attr[filter].sub op value` matches when one element of attr matches filter and its
 * sub matches `sub op value` (sub evaluated on that same element, typed by attr's
 * schema); `attr eq null` matches when attr is absent, `ne null` when present; pr is true for a
 * present, non-null, non-empty value; dateTime attributes compare by instant; numbers
 * numerically; gt/ge/lt/le on strings compare lexically (case-folded unless caseExact);
 * comparisons between different JSON types never match (ne: match). */
int scim_filter_match(const struct scim_filter *f, const struct scim_resource_type *rt,
                      const json_t *resource);

/* Appends f's canonical text to out: lower-case operators, minimal parentheses kept
 * where precedence needs them, strings as JSON string literals. The text parses back
 * to an equivalent tree. */
enum sc_err scim_filter_format(const struct scim_filter *f, struct sc_buf *out);

/* Appends value as a SCIM string literal, double quotes included: '"' and '\' are
 * escaped with '\', control characters as \uXXXX. value must be valid UTF-8. Errors:
 * SC_ERR_INVALID for invalid UTF-8, SC_ERR_TOO_LARGE past out's cap. */
enum sc_err scim_filter_quote(const char *value, struct sc_buf *out);

/* Appends the escaped content of value without the surrounding quotes (as
 * scim_filter_quote). */
enum sc_err scim_filter_escape(const char *value, struct sc_buf *out);

/* Fills the template tmpl (e.g. `username Eq "%s"`) with value: every `%s` inside a
 * double-quoted string of the template is replaced by the escaped content of value;
 * a `%s` outside quotes by the whole quoted literal; `%%` is a '%', and any other '%' is
 * kept as is. The result (appended to out) is then parsed to make sure it is one
 * well-formed filter, so value cannot change the filter's shape. Errors: SC_ERR_INVALID
 * when tmpl has no `%s` or value is not valid UTF-8, SC_ERR_PARSE when the result is
 * not a filter (err, when not NULL, gets the 400 invalidFilter detail). On failure out
 * is left as it was. */
enum sc_err scim_filter_template(const char *tmpl, const char *value, struct sc_buf *out,
                                 struct scim_error *err);

/* Recognises the simple filter `attr eq "string"` (the look-up a provisioning client
 * sends), so a service provider can use an index instead of a scan. On a match writes
 * the attribute path (borrowed from f, with a leading core User/Group schema URN
 * stripped: "userName", "externalId", "emails.value") and the string value (borrowed)
 * and returns 1; otherwise 0. */
int scim_filter_simple_eq(const struct scim_filter *f, const char **attr_path, const char **value);

/* Returns the name of op as written in filters ("eq", "and", ...); "[]" for a value
 * path. */
const char *scim_filter_op_name(enum scim_filter_op op);

#endif
