/* The directory (SPEC §2): users, populations and groups, their validation, and group
 * membership (direct, nested, dynamic). Every function takes and returns objects in the
 * JSON shapes of docs/api.md, validates its input with errors naming the field
 * (struct sc_error: code INVALID/CONFLICT/NOT_FOUND/TOO_LARGE, field dotted), and writes
 * through store/store_directory.h, which records each write's change event in the same
 * transaction. Functions take a struct store * the caller owns (one thread at a time).
 *
 * For the provisioning engine: directory_users_page() iterates every user in id order,
 * directory_user_get() reads one user, and struct directory_groups is an in-memory
 * snapshot of every group, edge and dynamic filter for resolving effective groups of
 * many users quickly (full resyncs). */
#ifndef SC_DIRECTORY_DIRECTORY_H
#define SC_DIRECTORY_DIRECTORY_H

#include "base/err.h"
#include "store/store.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define DIRECTORY_MAX_FIELD 256   /* bytes of any one user string field */
#define DIRECTORY_MAX_NAME 256    /* bytes of a population or group name */
#define DIRECTORY_MAX_DESC 1024   /* bytes of a description */
#define DIRECTORY_MAX_IMPORT 5000 /* users in one import request */

/* ---- validation (no store) ---------------------------------------------------- */

/* Checks a user body for create (partial 0) or PATCH (partial 1): only known fields
 * (unknown ones refused, named, e.g. "name.middle"), strings within DIRECTORY_MAX_FIELD,
 * username required on create (non-empty, no control characters or spaces), email
 * well-formed, address.countryCode an ISO 3166-1 alpha-2 code, enabled boolean,
 * population an object with "id" or "name" (required on create). null is allowed on
 * PATCH for every field but username, enabled and population (it clears). Read-only
 * keys (id, createdAt, updatedAt) are refused. Returns SC_OK or SC_ERR_INVALID /
 * SC_ERR_TOO_LARGE with e filled. */
enum sc_err directory_user_check(const json_t *in, int partial, struct sc_error *e);

/* Returns 1 when code is an ISO 3166-1 alpha-2 code (upper- or lower-case), else 0. */
int directory_country_valid(const char *code);

/* Returns 1 when s looks like an email address (local@domain.tld, no spaces), else 0. */
int directory_email_valid(const char *s);

/* ---- users -------------------------------------------------------------------- */

/* A users query (list). Every member is optional (NULL / 0). */
struct directory_user_query {
    const char *filter;        /* SCIM-style filter over user fields: `username sw "a"` */
    const char *q;             /* substring of username, name.* or email */
    const char *population_id; /* only users of this population */
    const char *cursor;        /* opaque, from a previous page's next cursor */
    int limit;                 /* 1..1000; 0 means 100 */
};

/* Creates a user from in (checked as directory_user_check, population resolved by id or
 * name), with a new UUID, enabled defaulting to true, createdAt/updatedAt now, and its
 * user.created event. *out is the stored user (new). Errors: SC_ERR_INVALID (field
 * named; "population" when it does not exist), SC_ERR_CONFLICT (field "username" when
 * taken, case-insensitively), SC_ERR_DB. */
enum sc_err directory_user_create(struct store *st, const json_t *in, json_t **out,
                                  struct sc_error *e);

/* Reads a user in API shape (population with id and name). *out is new. Errors:
 * SC_ERR_NOT_FOUND, SC_ERR_DB. */
enum sc_err directory_user_get(struct store *st, const char *id, json_t **out, struct sc_error *e);

/* Merges patch into the user (null clears a field; nested objects merge key by key),
 * checks the result, stores it with a user.updated event. *out (new) is the stored
 * user. Errors as directory_user_create, plus SC_ERR_NOT_FOUND. */
enum sc_err directory_user_update(struct store *st, const char *id, const json_t *patch,
                                  json_t **out, struct sc_error *e);

/* Deletes a user (and its direct group memberships) with a user.deleted event whose
 * detail is the deleted user's JSON. Errors: SC_ERR_NOT_FOUND, SC_ERR_DB. */
enum sc_err directory_user_delete(struct store *st, const char *id, struct sc_error *e);

/* Lists users ordered by username (case-insensitive). *items is a new array; *next is a
 * new cursor string or NULL on the last page. Errors: SC_ERR_INVALID ("filter" for a bad
 * filter, "cursor", "population"), SC_ERR_DB. */
enum sc_err directory_user_list(struct store *st, const struct directory_user_query *q,
                                json_t **items, char **next, struct sc_error *e);

/* Iterates every user in id order: up to limit users (1..1000) with id > after_id
 * (NULL or "" for the start). *items is a new array (empty at the end); the last item's
 * "id" is the next after_id. Errors: SC_ERR_DB. */
enum sc_err directory_users_page(struct store *st, const char *after_id, int limit, json_t **items,
                                 struct sc_error *e);

/* Counts users. */
enum sc_err directory_user_count(struct store *st, long long *n, struct sc_error *e);

/* Bulk create (import): users is an array of at most DIRECTORY_MAX_IMPORT user
 * objects. Each is checked on its own; good ones are stored in one transaction (the
 * caller's when st is in one; each with its user.created event), bad ones are
 * reported. *created is the number stored;
 * *rejected is a new array of {"index", "field", "message"}; *ids (when ids is not NULL)
 * a new array of the stored users' ids. Errors (nothing stored): SC_ERR_INVALID when
 * users is not an array, SC_ERR_TOO_LARGE past the cap, SC_ERR_DB. */
enum sc_err directory_users_import(struct store *st, const json_t *users, size_t *created,
                                   json_t **rejected, json_t **ids, struct sc_error *e);

/* The user's effective groups: a new array of {"id", "name", "direct": bool} ordered by
 * name. Errors: SC_ERR_NOT_FOUND, SC_ERR_DB. */
enum sc_err directory_user_groups(struct store *st, const char *id, json_t **out,
                                  struct sc_error *e);

/* ---- populations -------------------------------------------------------------- */

/* Population bodies: {"name" (required on create, unique case-insensitively),
 * "description"}. Results carry id, name, description, userCount, createdAt,
 * updatedAt. Create/update/delete append population.updated / population.deleted.
 * Errors: SC_ERR_INVALID (field named), SC_ERR_CONFLICT ("name" taken; delete while
 * users remain), SC_ERR_NOT_FOUND, SC_ERR_DB. *out values are new. */
enum sc_err directory_population_create(struct store *st, const json_t *in, json_t **out,
                                        struct sc_error *e);
enum sc_err directory_population_get(struct store *st, const char *id, json_t **out,
                                     struct sc_error *e);
enum sc_err directory_population_update(struct store *st, const char *id, const json_t *patch,
                                        json_t **out, struct sc_error *e);
enum sc_err directory_population_delete(struct store *st, const char *id, struct sc_error *e);
/* Lists populations by name; cursor and next as directory_user_list. */
enum sc_err directory_population_list(struct store *st, const char *cursor, int limit,
                                      json_t **items, char **next, struct sc_error *e);

/* ---- groups ------------------------------------------------------------------- */

/* Group bodies: {"name" (required on create, unique case-insensitively), "description",
 * "userFilter": null | filter (userfilter.h; a filter may not name its own group)}.
 * Results: id, name, description, userFilter, createdAt, updatedAt. Writes append
 * group.created / group.updated / group.deleted (detail {"name", "oldName"} on rename).
 * Deleting a group removes it from its parents (each parent gets group.members).
 * Errors as populations; "userFilter.conditions[0].operator"-style fields. */
enum sc_err directory_group_create(struct store *st, const json_t *in, json_t **out,
                                   struct sc_error *e);
enum sc_err directory_group_get(struct store *st, const char *id, json_t **out, struct sc_error *e);
enum sc_err directory_group_update(struct store *st, const char *id, const json_t *patch,
                                   json_t **out, struct sc_error *e);
enum sc_err directory_group_delete(struct store *st, const char *id, struct sc_error *e);
enum sc_err directory_group_list(struct store *st, const char *cursor, int limit, json_t **items,
                                 char **next, struct sc_error *e);

/* Direct members of a group, a page at a time: *items is a new array of
 * {"type": "user"|"group", "id", "display"} (display = username or group name), users
 * first by username, then groups by name; cursor and *next as directory_user_list.
 * Errors: SC_ERR_NOT_FOUND, SC_ERR_INVALID ("cursor"), SC_ERR_DB. */
enum sc_err directory_group_members(struct store *st, const char *id, const char *cursor, int limit,
                                    json_t **items, char **next, struct sc_error *e);

/* Adds a direct member: body {"userId"} or {"groupId"} (exactly one). Adding a group
 * that contains (transitively) this group, or the group itself, is refused with
 * SC_ERR_CONFLICT naming "groupId". Appends group.members. *out (new) is the member
 * entry. Errors: SC_ERR_INVALID (field named), SC_ERR_NOT_FOUND (the group; or the
 * member, field "userId"/"groupId"), SC_ERR_CONFLICT (already a member; cycle). */
enum sc_err directory_group_member_add(struct store *st, const char *id, const json_t *body,
                                       json_t **out, struct sc_error *e);

/* Removes a direct member (user or group id). Appends group.members. Errors:
 * SC_ERR_NOT_FOUND (no such group or not a direct member), SC_ERR_DB. */
enum sc_err directory_group_member_remove(struct store *st, const char *id, const char *member_id,
                                          struct sc_error *e);

/* Every effective user member of a group (direct, through nested groups, dynamic):
 * a new array of {"type": "user", "id", "display"} ordered by user id, at most limit
 * of them with id > after_id (NULL for the start). Errors: SC_ERR_NOT_FOUND, SC_ERR_DB. */
enum sc_err directory_group_effective_members(struct store *st, const char *id,
                                              const char *after_id, int limit, json_t **out,
                                              struct sc_error *e);

/* ---- membership snapshot (for resolving many users) --------------------------- */

struct directory_groups;

/* Loads every group, nesting edge, dynamic filter and direct user membership into
 * memory (a consistent read). *out is new (directory_groups_free); it does not change
 * when the directory does: load a new one after group.* events. Errors: SC_ERR_DB,
 * SC_ERR_NOMEM. */
enum sc_err directory_groups_load(struct store *st, struct directory_groups **out,
                                  struct sc_error *e);

/* Loads the group tree alone: every group, nesting edge and dynamic filter, without the
 * direct user memberships (so its cost follows the groups, not the memberships). *out is
 * new (directory_groups_free); it serves every directory_groups_* function, except that
 * it knows no user's direct groups: directory_groups_of_user and
 * directory_groups_mark_user on it see only dynamic and inherited membership, and
 * directory_groups_mark_user_in takes the user's direct groups from the caller. Reload
 * it after group.* events that change groups or nesting (a user joining or leaving a
 * group does not change it). Errors: SC_ERR_DB, SC_ERR_NOMEM. */
enum sc_err directory_groups_load_tree(struct store *st, struct directory_groups **out,
                                       struct sc_error *e);

/* Frees g. NULL is a no-op. */
void directory_groups_free(struct directory_groups *g);

/* Resolves the effective groups of user (API JSON shape, "id" used for direct
 * membership): direct, dynamic (the group's filter matches), and inherited (a group
 * containing a group the user is in, at any depth). Writes up to max names (borrowed
 * from g, valid while g lives) into names, sorted, and returns how many there are in
 * total (call again with a bigger array when the result exceeds max); 0 also when out
 * of memory. Thread-safe on a shared g. */
size_t directory_groups_of_user(const struct directory_groups *g, const json_t *user,
                                const char **names, size_t max);

/* Returns the number of groups in g. */
size_t directory_groups_count(const struct directory_groups *g);

/* The index (0 .. directory_groups_count - 1) of the group with id in g, or -1. */
long directory_groups_find(const struct directory_groups *g, const char *id);

/* The id and name of group i of g (borrowed from g). */
const char *directory_groups_id_at(const struct directory_groups *g, size_t i);
const char *directory_groups_name_at(const struct directory_groups *g, size_t i);

/* Whether group i of g is dynamic (has a userFilter). */
int directory_groups_dynamic_at(const struct directory_groups *g, size_t i);

/* The indexes of the groups that contain group i directly: *parents (borrowed) gets the
 * array; returns how many. */
size_t directory_groups_parents_at(const struct directory_groups *g, size_t i,
                                   const uint32_t **parents);

/* Marks the effective groups of user (API JSON) by index: member[i] = 1 when the user is
 * a member of group i (directly, dynamically or through nesting), direct[i] (direct may
 * be NULL) = 1 when directly. Both arrays hold directory_groups_count(g) bytes. Returns
 * 0, or -1 when out of memory. */
int directory_groups_mark_user(const struct directory_groups *g, const json_t *user,
                               unsigned char *member, unsigned char *direct);

/* directory_groups_mark_user with the user's direct groups given: direct_ids is a JSON
 * array of group ids (store_user_direct_groups; ids not in g are ignored) and g's own
 * memberships are not looked at (g may be a tree, directory_groups_load_tree). Returns
 * 0, or -1 when out of memory. */
int directory_groups_mark_user_in(const struct directory_groups *g, const json_t *user,
                                  const json_t *direct_ids, unsigned char *member,
                                  unsigned char *direct);

#endif
