/* Group provisioning of a rule (docs/provisioning.md, "Groups"): its section (which
 * directory groups a rule pushes, flattened or nested, what leaving scope does, how many
 * members per PATCH, the group attribute mapping), its validation and its API
 * (GET/PUT /api/v1/rules/{id}/groups); which groups a section selects from the
 * membership snapshot; and the membership diff the engine sends (pure: a sorted merge of
 * the members the target holds and the members it should hold, cut into PATCH bodies of
 * at most membersPerRequest members). The engine's side is engine_group.c. */
#ifndef SC_PROVISION_GROUPSYNC_H
#define SC_PROVISION_GROUPSYNC_H

#include "base/err.h"
#include "provision/config.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct directory_groups;
struct store;

#define GROUPSYNC_MEMBERS_DEFAULT 100
#define GROUPSYNC_MEMBERS_MAX 1000
#define GROUPSYNC_NAMES_MAX 1000
#define GROUPSYNC_VALUE_MAX 256
/* The brake on member removals: one sync of a group may remove at most
 * max(GROUPSYNC_BRAKE_PERCENT% of the members it holds, GROUPSYNC_BRAKE_MIN) without a
 * resync with allow. */
#define GROUPSYNC_BRAKE_PERCENT 50
#define GROUPSYNC_BRAKE_MIN 100

enum groupsync_select { GROUPSYNC_SELECT_NAMES, GROUPSYNC_SELECT_FILTER, GROUPSYNC_SELECT_UNDER };
enum groupsync_op {
    GROUPSYNC_OP_EQUALS,
    GROUPSYNC_OP_STARTS_WITH,
    GROUPSYNC_OP_ENDS_WITH,
    GROUPSYNC_OP_CONTAINS
};
enum groupsync_source { GROUPSYNC_SRC_NAME, GROUPSYNC_SRC_ID, GROUPSYNC_SRC_DESCRIPTION };

/* A parsed section. Owned strings; free with groupsync_config_clear. */
struct groupsync_config {
    int enabled;
    enum groupsync_select select;
    char **names; /* SELECT_NAMES */
    size_t nnames;
    enum groupsync_op op; /* SELECT_FILTER */
    char *value;          /* SELECT_FILTER: the value; SELECT_UNDER: the parent's name */
    int nested;           /* 1: child groups are pushed as members; 0: flattened */
    int remove_delete;    /* 1: a group leaving scope is deleted; 0: its members removed */
    int members_per_request;
    enum groupsync_source display_name, external_id; /* external_id < 0: not mapped */
    int has_external_id;
};

/* Frees what c holds and zeroes it. */
void groupsync_config_clear(struct groupsync_config *c);

/* Validates a section (API JSON) and fills *out (may be NULL: only validate). Every field
 * is optional; defaults: enabled false, select {"names": []}, nested "flatten", onRemove
 * "removeMembers", membersPerRequest 100, mappings displayName <- name and externalId <-
 * id. SC_ERR_INVALID names the field ("select.names[2]", "membersPerRequest",
 * "mappings[1].source"). */
enum sc_err groupsync_config_parse(const json_t *in, struct groupsync_config *out,
                                   struct sc_error *e);

/* The canonical API JSON (new) of c (every field, defaults filled in). */
json_t *groupsync_config_to_api(const struct groupsync_config *c);

/* Loads rule_id's section into *out (the defaults, disabled, when it has none).
 * Errors: SC_ERR_DB, SC_ERR_NOMEM; a stored section that no longer parses gives the
 * defaults. */
enum sc_err groupsync_config_load(struct store *st, const char *rule_id,
                                  struct groupsync_config *out);

/* GET /rules/{id}/groups: the section (defaults when none). SC_ERR_NOT_FOUND when the
 * rule does not exist. */
enum sc_err provision_rule_groups_get(const struct provision_config_ctx *cx, const char *id,
                                      json_t **out, struct sc_error *e);

/* PUT /rules/{id}/groups: validates and stores body, appends a rule.groups event (the
 * engine syncs the rule's groups again) and wakes the engine. *out: the stored section.
 * Errors: SC_ERR_NOT_FOUND (rule), SC_ERR_INVALID (field named), SC_ERR_DB. */
enum sc_err provision_rule_groups_put(const struct provision_config_ctx *cx, const char *id,
                                      const json_t *body, json_t **out, struct sc_error *e);

/* Whether group index i of g (directory_groups_at) is selected by c (c->enabled is not
 * looked at). */
int groupsync_selects(const struct groupsync_config *c, const struct directory_groups *g, size_t i);

/* The value of a mapped group attribute from the directory group JSON (borrowed), or NULL. */
const char *groupsync_source_value(enum groupsync_source s, const json_t *group);

/* ---- membership diff ---- */

/* One member: its target id, and the directory user or group it stands for. */
struct groupsync_member {
    char *target_id;
    char *member_id;
    int is_group;
};

/* A set of members, sorted by target id once groupsync_members_sort ran. */
struct groupsync_members {
    struct groupsync_member *v;
    size_t n, cap;
};

/* Appends a member (strings copied). SC_ERR_NOMEM. */
enum sc_err groupsync_members_add(struct groupsync_members *m, const char *target_id,
                                  const char *member_id, int is_group);

/* Sorts by target id and drops repeats. */
void groupsync_members_sort(struct groupsync_members *m);

/* Frees what m holds and zeroes it. */
void groupsync_members_clear(struct groupsync_members *m);

/* The change from have to want (both sorted): *adds gets the members of want not in
 * have, *removes those of have not in want (copies, sorted). SC_ERR_NOMEM. */
enum sc_err groupsync_diff(const struct groupsync_members *have,
                           const struct groupsync_members *want, struct groupsync_members *adds,
                           struct groupsync_members *removes);

/* The PATCH body (new) carrying members v[0..n) (n <= membersPerRequest): one "add" op
 * with every value when add, else one "remove" op per member with the path
 * members[value eq "<id>"] (SCIM 2.0; groupsync_patch_body_11 for 1.1). */
json_t *groupsync_patch_body(const struct groupsync_member *v, size_t n, int add);

/* groupsync_patch_body for a SCIM 1.1 target: {"schemas":["urn:scim:schemas:core:1.0"],
 * "members":[{"value": id}, ...]} adds the n members, with "operation":"delete" on each
 * entry removes them (the 1.1 PATCH of a multi-valued attribute). New, or NULL. */
json_t *groupsync_patch_body_11(const struct groupsync_member *v, size_t n, int add);

/* Whether the brake holds back removing `removes` of the `held` members a group has. */
int groupsync_brake_holds(size_t removes, size_t held);

/* ---- status and log ---- */

/* The rule's group figures for its status (new): {"enabled", "linked", "synced",
 * "failed", "braked", "members"}; NULL when they cannot be read. */
json_t *groupsync_status(struct store *st, const char *rule_id);

/* A page of the provisioning log as provision_log_list, each entry with "kind" ("user"
 * or "group"; a group's entry has "groupId" and "groupName", its userId and username
 * null), only entries of kind when kind is not NULL. A filtered page reads at most a
 * few store pages and then gives a cursor to go on from. Errors as provision_log_list. */
enum sc_err groupsync_log_list(struct store *st, const char *rule_id, const char *user_id,
                               const char *action, const char *status, const char *kind, int limit,
                               const char *cursor, json_t **items, char **next, struct sc_error *e);

#endif
