/* What the admin API asks of provisioning state, answered here so the HTTP layer only
 * parses, calls and answers: requesting a full resync (with the brake's allow, or drift
 * repair), a rule's sync status and counters, its users' links and states (a user in
 * scope is listed as PENDING from the moment it is queued), and the provisioning log.
 * Runs on any thread with the caller's store connection. */
#ifndef SC_PROVISION_SYNCVIEW_H
#define SC_PROVISION_SYNCVIEW_H

#include "base/err.h"
#include "store/store.h"

#include <jansson.h>

/* Requests a full resync of rule_id through a `rule.resync` change event (so it survives
 * a restart): allow lets removals past the brake, verify reads the target's accounts and
 * repairs drift. Errors: SC_ERR_NOT_FOUND (no rule), SC_ERR_CONFLICT (the rule is
 * disabled; field "enabled"), SC_ERR_DB. */
enum sc_err provision_resync_request(struct store *st, const char *rule_id, int allow, int verify,
                                     struct sc_error *e);

/* The sync status of rule_id (new object): {"status": ACTIVE|INACTIVE|FAILED|QUARANTINED,
 * "lastSyncAt", "users": {"impacted","success","unsynced","partiallySynced","failed"},
 * "pending", and when they apply "brake": {"held","threshold","message"},
 * "quarantineReason", "verify": {"lastVerifyAt","checked","drifted"}}. Errors:
 * SC_ERR_NOT_FOUND, SC_ERR_DB. */
enum sc_err provision_rule_status(struct store *st, const char *rule_id, json_t **out,
                                  struct sc_error *e);

/* A page of rule_id's users (after cursor, at most limit): items (new array) of
 * {"userId","username","targetId","state","lastError","updatedAt","rejected"}; a user
 * queued for the rule without a link yet appears as PENDING when the rule's filter takes
 * it in. *next is a new cursor or NULL. Errors: SC_ERR_NOT_FOUND, SC_ERR_DB. */
enum sc_err provision_rule_users(struct store *st, const char *rule_id, int limit,
                                 const char *cursor, json_t **items, char **next,
                                 struct sc_error *e);

/* A page of the provisioning log, newest first, filtered by the non-NULL arguments
 * (action and status upper-case; see docs/api.md), ids below cursor: items (new array),
 * *next a new cursor or NULL. Errors: SC_ERR_INVALID (field "cursor": a cursor this
 * server did not give out), SC_ERR_DB. */
enum sc_err provision_log_list(struct store *st, const char *rule_id, const char *user_id,
                               const char *action, const char *status, int limit,
                               const char *cursor, json_t **items, char **next, struct sc_error *e);

/* The live nodes sharing the database (each `scimitar serve` beats every 2 s; a node
 * not seen for 10 s has dropped out): *out new {"items": [{"id","listen","startedAt",
 * "lastSeenAt","leased","self"}]} in order of id; "self" is true on the item whose id is
 * self_id (the node answering; NULL: none). Errors: SC_ERR_DB. */
enum sc_err provision_cluster_list(struct store *st, const char *self_id, json_t **out,
                                   struct sc_error *e);

#endif
