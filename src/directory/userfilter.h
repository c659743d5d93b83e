/* The user-filter language (SPEC §4), shared by dynamic groups and provisioning rules:
 * a JSON tree {"match": "ALL"|"ANY", "conditions": [...]} whose conditions are
 * {"attribute", "operator", "value"} or nested sets. Attributes: `population.name`,
 * `population.id`, `group` (membership by group name: direct, dynamic or inherited) and
 * every user field of SPEC §2 in its dotted API name (`username`, `name.given`,
 * `address.countryCode`, `enabled`, ...). Operators: EQUALS, NOT_EQUALS, STARTS_WITH,
 * ENDS_WITH, CONTAINS, IN (value is an array of strings), IS_NULL, IS_NOT_NULL (no
 * value), MATCHES (POSIX extended regex, ASCII case-insensitive, unanchored; run by
 * PCRE2 under match, depth and heap limits; back-references and repetition counts above
 * USERFILTER_MAX_REPEAT are refused). String comparisons are ASCII case-insensitive. A
 * filter is compiled once (validated, regexes compiled) and evaluated many times; a
 * compiled filter is immutable (but for a once-only warning flag) and may be shared by
 * threads. */
#ifndef SC_DIRECTORY_USERFILTER_H
#define SC_DIRECTORY_USERFILTER_H

#include "base/err.h"

#include <jansson.h>
#include <stddef.h>

#define USERFILTER_MAX_DEPTH 8        /* nesting of condition sets */
#define USERFILTER_MAX_CONDITIONS 256 /* conditions and sets in one filter */
#define USERFILTER_MAX_VALUE 1024     /* bytes of one string value */
#define USERFILTER_MAX_IN 256         /* values of one IN list */
#define USERFILTER_MAX_REGEX 256      /* bytes of one MATCHES pattern */
#define USERFILTER_MAX_REPEAT 255     /* bounds of {n,m} in a pattern (POSIX's RE_DUP_MAX) */

struct userfilter;

/* Validates spec and compiles it. On success *out is new (userfilter_free). Errors:
 * SC_ERR_INVALID with e->field the path of the offending part ("match",
 * "conditions[1].operator", "conditions[0].conditions[2].value") and a message saying
 * what is allowed; SC_ERR_TOO_LARGE past a cap (depth, count, value size);
 * SC_ERR_NOMEM. An empty conditions list is refused. Unknown keys are refused. */
enum sc_err userfilter_compile(const json_t *spec, struct userfilter **out, struct sc_error *e);

/* Frees f. NULL is a no-op. */
void userfilter_free(struct userfilter *f);

/* Returns 1 when user matches f, else 0. A MATCHES test that fails (its pattern over
 * PCRE2's match, depth or heap limit on this value) fails the whole evaluation: 0, and
 * a warning naming the condition's path is logged the first time for this compiled
 * filter. user is a user in the API JSON shape
 * (docs/api.md: "population": {"id", "name"}, nested "name" and "address", boolean
 * "enabled"); groups are the names of the user's effective groups (direct, dynamic,
 * inherited), ngroups of them (groups may be NULL when ngroups is 0). Booleans compare
 * as "true"/"false"; absent, null and "" values are null (IS_NULL matches them, other
 * operators except NOT_EQUALS do not). On `group` the operators test the set of names:
 * EQUALS/STARTS_WITH/ENDS_WITH/CONTAINS/IN/MATCHES match when some name does,
 * NOT_EQUALS when no name equals the value, IS_NULL when there is no group. */
int userfilter_match(const struct userfilter *f, const json_t *user, const char *const *groups,
                     size_t ngroups);

/* What f says of every user of the population with that id and name, from f's
 * population conditions alone: 1 every one matches, 0 none does (a rule on population X
 * leaves out every user of Y without reading them), -1 it depends on more (other
 * conditions; a MATCHES test that fails counts as depending). A NULL f matches none. */
int userfilter_population_match(const struct userfilter *f, const char *population_id,
                                const char *population_name);

/* Returns 1 when f has at least one condition on `population.name`, `population.id` or
 * `group` (an outbound rule's filter must name a population or group), else 0. */
int userfilter_names_scope(const struct userfilter *f);

/* Returns 1 when f has a condition on `group` whose result can depend on membership of
 * a group called name (EQUALS/IN naming it case-insensitively, a pattern operator it
 * satisfies, NOT_EQUALS naming it, or IS_NULL/IS_NOT_NULL), else 0. The engine uses it
 * to decide whether a group change triggers a resync of a rule. */
int userfilter_uses_group(const struct userfilter *f, const char *name);

/* Returns 1 when f has any condition on `group`, else 0. */
int userfilter_uses_groups(const struct userfilter *f);

/* Returns a new JSON array of the distinct string values (as written) that f compares
 * `group` with (EQUALS, NOT_EQUALS, IN, STARTS_WITH, ...; not MATCHES patterns). NULL
 * only when out of memory. */
json_t *userfilter_group_names(const struct userfilter *f);

/* As userfilter_group_names, for `population.name`. */
json_t *userfilter_population_names(const struct userfilter *f);

/* Returns 1 when attribute is an attribute the language knows ("group",
 * "population.name", "name.given", ...), else 0. */
int userfilter_attribute_known(const char *attribute);

#endif
