/* Storage of the directory: populations, users, groups and group members. Objects go
 * in and out in the JSON shapes of docs/api.md (the caller, src/directory, validates
 * them first). Every write function appends its change event (store_events.h) in the
 * same transaction as the write: it joins the caller's open transaction
 * (store_begin ... store_commit) or, when none is open, runs in its own. Lists page by
 * keyset (name or username, case-insensitive; or id) so a page costs the same at any
 * depth. Times are ISO-8601 strings as in the API. */
#ifndef SC_STORE_DIRECTORY_H
#define SC_STORE_DIRECTORY_H

#include "base/err.h"
#include "base/id.h"
#include "store/store.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* ---- populations -------------------------------------------------------------- */

/* Inserts p {"id", "name", "description", "createdAt", "updatedAt"} and appends
 * population.updated. Errors: SC_ERR_CONFLICT (name taken, case-insensitively), SC_ERR_DB. */
enum sc_err store_population_insert(struct store *st, const json_t *p);

/* Reads a population by id, or by name (case-insensitive), with its "userCount".
 * *out is new. Errors: SC_ERR_NOT_FOUND, SC_ERR_DB. */
enum sc_err store_population_get(struct store *st, const char *id, json_t **out);
enum sc_err store_population_find(struct store *st, const char *name, json_t **out);

/* Rewrites name, description and updatedAt of p (by p's "id") and appends
 * population.updated. Errors: SC_ERR_NOT_FOUND, SC_ERR_CONFLICT (name), SC_ERR_DB. */
enum sc_err store_population_update(struct store *st, const json_t *p);

/* Deletes a population and appends population.deleted. Errors: SC_ERR_NOT_FOUND,
 * SC_ERR_CONFLICT while users belong to it, SC_ERR_DB. */
enum sc_err store_population_delete(struct store *st, const char *id);

/* Lists up to limit populations with name > after_name (case-insensitive; NULL for the
 * start) by name. *items is a new array. */
enum sc_err store_population_list(struct store *st, const char *after_name, int limit,
                                  json_t **items);

/* ---- users -------------------------------------------------------------------- */

/* Inserts u (API shape with "id", "population": {"id"}, "createdAt", "updatedAt") and
 * appends user.created. Errors: SC_ERR_CONFLICT (username taken, case-insensitively),
 * SC_ERR_INVALID (population does not exist), SC_ERR_DB. */
enum sc_err store_user_insert(struct store *st, const json_t *u);

/* Inserts many users in one transaction (the caller's, when st is in one: then an
 * error leaves it to the caller to roll back). Each row is inserted
 * on its own: a row that fails (username taken, also by an earlier row; population
 * gone) is skipped and its code written to row_err[i] (SC_OK for stored rows). Every
 * stored row gets its user.created event. *stored counts them. Errors (nothing stored):
 * SC_ERR_DB, SC_ERR_BUSY. */
enum sc_err store_users_insert_many(struct store *st, const json_t *users, enum sc_err *row_err,
                                    size_t *stored);

/* Reads a user in API shape, with "population": {"id", "name"}. *out is new. Errors:
 * SC_ERR_NOT_FOUND, SC_ERR_DB. */
enum sc_err store_user_get(struct store *st, const char *id, json_t **out);

/* Rewrites every field of u (by u's "id") and appends user.updated. Errors:
 * SC_ERR_NOT_FOUND, SC_ERR_CONFLICT (username), SC_ERR_INVALID (population), SC_ERR_DB. */
enum sc_err store_user_update(struct store *st, const json_t *u);

/* Deletes a user (its memberships go with it) and appends user.deleted with detail
 * (JSON text, may be NULL). Errors: SC_ERR_NOT_FOUND, SC_ERR_DB. */
enum sc_err store_user_delete(struct store *st, const char *id, const char *detail);

/* A users listing: ordered by username (case-insensitive), after after_username. */
struct store_user_query {
    const char *after_username; /* keyset cursor, NULL for the start */
    const char *q;              /* substring of username, name.*, email (NULL: any) */
    const char *population_id;  /* NULL: any */
    const char *username;       /* exact username, case-insensitive (NULL: any) */
    int limit;
};

/* Lists users for q. *items is a new array of users in API shape. */
enum sc_err store_user_list(struct store *st, const struct store_user_query *q, json_t **items);

/* Lists up to limit users with id > after_id (NULL for the start) in id order. */
enum sc_err store_users_after_id(struct store *st, const char *after_id, int limit, json_t **items);

/* Where a user came from, as the provisioning engine needs it (loop safety): the name
 * of the inbound token that created it and that token's sourceConnection (the connection
 * that is the token's identity provider's own), kept with the user when it was created
 * and when the token's sourceConnection is set (so after the token is revoked too), each
 * "" when there is none (a user made through the REST API or an import, a token
 * without one). */
struct store_user_origin {
    char token[65];
    char connection[SC_UUID_LEN + 1];
};

/* A user's digest is a 64-bit hash of everything store_user_get returns for it (every
 * column of its row and its population's name): equal digests mean an unchanged user.
 * store_user_get_digest is store_user_get that also writes the digest of the row it
 * read and, when origin is not NULL, the user's origin, from the same query (*out new;
 * SC_ERR_NOT_FOUND, SC_ERR_DB, SC_ERR_NOMEM). store_user_digest_each
 * calls fn for every user's digest in id order, without building JSON (id borrowed,
 * valid during the call); fn returns non-zero to stop (then SC_ERR_INTERNAL). */
enum sc_err store_user_get_digest(struct store *st, const char *id, json_t **out, uint64_t *digest,
                                  struct store_user_origin *origin);
enum sc_err store_user_digest_each(struct store *st,
                                   int (*fn)(void *arg, const char *id, uint64_t digest),
                                   void *arg);

/* A user as store_user_digest_page reads it (strings borrowed, valid during the call). */
struct store_user_digest {
    const char *id;
    uint64_t digest; /* as store_user_get_digest */
    const char *population_id, *population_name;
    const char *username;
    int enabled;
};

/* store_user_digest_each over one page, with each user's population, username and
 * enabled flag (what decides a population rule's scope): fn gets up to max
 * users whose id sorts after after_id (NULL or "": from the first), in id order; *n says
 * how many it got (fewer than max: the last page). fn must not use st; it returns
 * non-zero to stop (then SC_ERR_INTERNAL). */
enum sc_err store_user_digest_page(struct store *st, const char *after_id, size_t max,
                                   int (*fn)(void *arg, const struct store_user_digest *u),
                                   void *arg, size_t *n);

/* Counts all users. */
enum sc_err store_user_count(struct store *st, long long *n);

/* Ids of the groups user_id is a direct member of: a new array of strings. */
enum sc_err store_user_direct_groups(struct store *st, const char *user_id, json_t **out);

/* ---- groups ------------------------------------------------------------------- */

/* Inserts g {"id", "name", "description", "userFilter" (JSON or null), "createdAt",
 * "updatedAt"} and appends group.created. Errors: SC_ERR_CONFLICT (name), SC_ERR_DB. */
enum sc_err store_group_insert(struct store *st, const json_t *g);

/* Reads a group by id, or by name (case-insensitive). *out is new. Errors:
 * SC_ERR_NOT_FOUND, SC_ERR_DB. */
enum sc_err store_group_get(struct store *st, const char *id, json_t **out);
enum sc_err store_group_find(struct store *st, const char *name, json_t **out);

/* Rewrites name, description, userFilter, updatedAt of g (by id) and appends
 * group.updated with detail (JSON text, may be NULL). Errors: SC_ERR_NOT_FOUND,
 * SC_ERR_CONFLICT (name), SC_ERR_DB. */
enum sc_err store_group_update(struct store *st, const json_t *g, const char *detail);

/* Deletes a group; appends group.members for each group it was a direct member of, then
 * group.deleted with detail (may be NULL). Errors: SC_ERR_NOT_FOUND, SC_ERR_DB. */
enum sc_err store_group_delete(struct store *st, const char *id, const char *detail);

/* Lists up to limit groups with name > after_name (NULL for the start) by name. */
enum sc_err store_group_list(struct store *st, const char *after_name, int limit, json_t **items);

/* Adds a direct member to group_id: a user (user_id) or a group (member_group_id);
 * exactly one is non-NULL. Refuses a group that is group_id itself or contains group_id
 * at any depth (SC_ERR_CONFLICT, cycle), a member that is already there
 * (SC_ERR_CONFLICT). Appends group.members. Errors: SC_ERR_NOT_FOUND (group_id or the
 * member does not exist), SC_ERR_CONFLICT, SC_ERR_DB. *cycle (may be NULL) is set to 1
 * when the conflict is a cycle. */
enum sc_err store_group_member_add(struct store *st, const char *group_id, const char *user_id,
                                   const char *member_group_id, int *cycle);

/* Removes the direct member member_id (a user or group id) of group_id and appends
 * group.members. Errors: SC_ERR_NOT_FOUND, SC_ERR_DB. */
enum sc_err store_group_member_remove(struct store *st, const char *group_id,
                                      const char *member_id);

/* Direct members: a new array of up to limit {"type": "user"|"group", "id", "display"},
 * users first by username, then groups by name (case-insensitive), after the member
 * (after_type "user"|"group", after_key its lower-cased display; both NULL for the
 * start). */
enum sc_err store_group_members(struct store *st, const char *group_id, const char *after_type,
                                const char *after_key, int limit, json_t **out);

/* Whether group_id or a group nested in it (any depth) has a userFilter: *dynamic 0/1. */
enum sc_err store_group_tree_dynamic(struct store *st, const char *group_id, int *dynamic);

/* Users that are direct members of group_id or of a group nested in it, id > after_id
 * (NULL: start), by id, up to limit: new array of {"type": "user", "id", "display"}. */
enum sc_err store_group_tree_users(struct store *st, const char *group_id, const char *after_id,
                                   int limit, json_t **out);

/* Callbacks of store_directory_scan; return 0 to go on, non-zero to stop with
 * SC_ERR_NOMEM. Strings are borrowed for the call. */
struct store_directory_scan_fns {
    int (*group)(void *arg, const char *id, const char *name, const char *user_filter_json);
    int (*nesting)(void *arg, const char *parent_id, const char *child_id);
    int (*membership)(void *arg, const char *group_id, const char *user_id);
};

/* Reads every group, nesting edge and direct user membership in one read transaction
 * (when st is not already in one), calling fns (each may be NULL). Errors: SC_ERR_DB,
 * SC_ERR_NOMEM (a callback stopped). */
enum sc_err store_directory_scan(struct store *st, const struct store_directory_scan_fns *fns,
                                 void *arg);

#endif
