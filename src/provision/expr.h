/* The mapping expression language (SPEC §4): what a mapping row's source may be.
 *   literals      "text" or 'text' (escapes \" \' \\ \n \t \r), numbers (12, -3.5),
 *                 true, false, null
 *   field refs    a directory field in its dotted API name: username, name.given,
 *                 address.locality, population.name, ...
 *   a + b         string concatenation (null counts as "")
 *   a == b, a != b  comparison (as strings; null equals only null): true or false
 *   functions     lower(s) upper(s) trim(s) coalesce(a, b, ...) replace(s, from, to)
 *                 substring(s, start[, len]) join(sep, a, b, ...) if(cond, a, b)
 *                 switch(v, k1, r1, k2, r2, ..., [default])
 *   ( ... )       grouping
 * Truthiness (if): null, false, "" and 0 are false; everything else is true.
 * substring counts characters (UTF-8 code points) from 0; join skips null and "" values;
 * coalesce returns the first value that is not null or "". Text is at most
 * EXPR_MAX_LEN bytes, nesting at most EXPR_MAX_DEPTH, EXPR_MAX_NODES nodes; results are
 * cut at EXPR_MAX_RESULT bytes. Parsed once to a tree; evaluation has no I/O and cannot
 * fail except for memory. A plain field name compiles to a single lookup. */
#ifndef SC_PROVISION_EXPR_H
#define SC_PROVISION_EXPR_H

#include "base/err.h"

#include <jansson.h>
#include <stddef.h>

#define EXPR_MAX_LEN 4096
#define EXPR_MAX_DEPTH 32
#define EXPR_MAX_NODES 512
#define EXPR_MAX_RESULT 65536

struct expr;

/* Parses text. On success *out is new (expr_free). Errors: SC_ERR_PARSE (or
 * SC_ERR_TOO_LARGE past a cap) with e->message "at position N: <what was expected>",
 * N the 1-based character position of the error; e->field is left empty for the
 * caller to fill ("mappings[3].source"). Unknown field names and functions, and wrong
 * argument counts, are errors at the position of the name. */
enum sc_err expr_parse(const char *text, struct expr **out, struct sc_error *e);

/* Frees x. NULL is a no-op. */
void expr_free(struct expr *x);

/* Evaluates x against user (a directory user in the API JSON shape). Returns a new
 * reference: a string, number, boolean or null (never NULL unless out of memory). */
json_t *expr_eval(const struct expr *x, const json_t *user);

/* Returns the field name (borrowed) when x is a plain field reference, else NULL. */
const char *expr_field(const struct expr *x);

/* Returns 1 when name is a directory field an expression may refer to ("username",
 * "name.given", "population.name", ...: the fields of directory/fields.h marked
 * DIRECTORY_FIELD_SOURCE), else 0. */
int expr_field_known(const char *name);

/* The number of functions, and function i's name ("substring"; NULL past the end),
 * with its usage text ("substring(s, start[, len])") and argument counts (max 0 = any
 * number) through the optional out-parameters. Borrowed, static (for pick lists and
 * GET /api/v1/meta/attributes). */
size_t expr_function_count(void);
const char *expr_function_at(size_t i, const char **usage, size_t *min_args, size_t *max_args);

#endif
