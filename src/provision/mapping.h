/* Attribute mappings (SPEC §4): a rule's list of {"target", "source"} rows, compiled
 * once (targets resolved through the SCIM core's alias table to SCIM paths, sources
 * parsed as expressions) and applied to a directory user to build the SCIM User
 * resource sent to the target. Also the seed's fourteen default Code42 rows. */
#ifndef SC_PROVISION_MAPPING_H
#define SC_PROVISION_MAPPING_H

#include "base/err.h"

#include <jansson.h>
#include <stddef.h>

#define MAPPING_MAX_ROWS 256
#define MAPPING_TARGET_MAX 512

struct mapping;

/* Returns a new JSON array of the seed's 14 default rows (userName <- username,
 * givenName <- name.given, ..., formattedName <- name.formatted), in the seed's
 * order. */
json_t *mapping_defaults(void);

/* Validates rows (a JSON array of {"target": string, "source": string, and optionally
 * "clearOnUnmap": boolean}) and compiles
 * it. On success *out is new (mapping_free). Errors: SC_ERR_INVALID / SC_ERR_PARSE
 * with e->field "mappings" (not an array, more than MAPPING_MAX_ROWS, no userName
 * row), "mappings[i]" (not an object, unknown key), "mappings[i].target" (not an alias
 * or a SCIM path of the User resource, or the same SCIM path as an earlier row,
 * aliases resolved), "mappings[i].source" (empty, or an invalid expression: message
 * "at position N: ..."). */
enum sc_err mapping_compile(const json_t *rows, struct mapping **out, struct sc_error *e);

/* Frees m. NULL is a no-op. */
void mapping_free(struct mapping *m);

/* Builds the SCIM User resource for user (a directory user in the API JSON shape):
 * "schemas" (the core User URN, plus the enterprise extension URN when a row targets
 * it), then every row's value set at its SCIM path with the SCIM core's path setter
 * (name.givenName nested; emails/phoneNumbers/addresses as [{"type":"work", ...,
 * "primary":true}]). Rows whose value is null or "" are left out. "active" is not set
 * unless a row targets it (the engine sets it). *scim_user_out is new. Thread-safe:
 * the structure built for each set of present rows is cached inside m (under a lock),
 * so later users cost a copy and their values (about 9 us for the 14 default rows).
 * Errors: SC_ERR_NOMEM, SC_ERR_INTERNAL (the path setter refused a compiled path). */
enum sc_err mapping_apply(const struct mapping *m, const json_t *user, json_t **scim_user_out);

/* The number of rows, and row i's target name as written ("workEmail"), its SCIM path
 * in canonical text ("emails[type eq \"work\"].value"), and its source text. Borrowed
 * from m; NULL past the end. The paths are what mapping_apply may set: a PATCH sends
 * "replace" for those that changed and "remove" for those that became empty. */
size_t mapping_count(const struct mapping *m);
const char *mapping_target_name(const struct mapping *m, size_t i);
const char *mapping_target_path(const struct mapping *m, size_t i);
const char *mapping_source(const struct mapping *m, size_t i);

/* Returns non-zero when row i asks for its target attribute to be cleared on the target
 * when the row is removed from the mapping (else removing a row only stops the value
 * flowing, as Entra ID and Okta do). */
int mapping_clear_on_unmap(const struct mapping *m, size_t i);

/* Returns the canonical SCIM path (borrowed from m) of the row whose target resolves to
 * the same path as name (an alias or a SCIM path, e.g. the connection's
 * userIdentifier), or NULL when no row sets it. */
const char *mapping_path_for(const struct mapping *m, const char *name);

#endif
