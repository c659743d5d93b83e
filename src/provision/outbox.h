/* The engine's side of the outbox: a compiled rule prepared for syncing (its mapping's
 * SCIM paths parsed once, the identifier located), the evaluation of one directory user
 * against it (in scope? enabled? which flat attributes?), the projection of a target
 * account onto those attributes, and the full resync: one pass over the directory and
 * the rule's links that queues only the users whose target account must change (a
 * no-op resync queues nothing), links unlinked users to accounts found in one listing of
 * the target, and applies the mass-removal brake. The same pass, with dry_run, returns
 * the plan instead. Runs on any thread with its own store connection. */
#ifndef SC_PROVISION_OUTBOX_H
#define SC_PROVISION_OUTBOX_H

#include "base/err.h"
#include "directory/directory.h"
#include "provision/rule.h"
#include "store/store.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct scim_path;

/* A rule ready for syncing. Read-only once built; may be shared by threads. */
struct sync_rule {
    struct rule_compiled *rc;
    struct scim_path **paths; /* mapping row i's SCIM path, parsed */
    const char **keys;        /* mapping row i's flat key (canonical path, borrowed) */
    size_t npaths;
    const char *ident_key;        /* the flat key of the connection's user identifier,
                                     or NULL when no row maps it */
    struct scim_path *ident_path; /* the identifier's SCIM path, parsed */
    int uses_groups;              /* the filter tests group membership */
    uint64_t source_seed;         /* digest of the filter and mapping (sync_rule_source) */
};

/* Prepares rc (stolen, even on failure). *out is new (sync_rule_free). Errors:
 * SC_ERR_INVALID (a mapping path or the identifier path does not parse). */
enum sc_err sync_rule_new(struct rule_compiled *rc, struct sync_rule **out, struct sc_error *e);

/* Frees r and its compiled rule. NULL is a no-op. */
void sync_rule_free(struct sync_rule *r);

/* Evaluates user (API JSON) for r: *in_scope (the filter matches, with groups from g
 * when the filter needs them; g may be NULL), *enabled, and *desired (new: the flat
 * attributes the mapping gives, without "active"). */
enum sc_err sync_rule_eval(const struct sync_rule *r, const struct directory_groups *g,
                           const json_t *user, int *in_scope, int *enabled, json_t **desired);

/* The source stamp of a user for r: row_digest (store_user_digest) combined with r's
 * filter and mapping, never 0; 0 when row_digest is 0 or r's filter tests group
 * membership (which the user's row does not show). A link found in sync for one stamp
 * stays in sync while the stamp is unchanged. */
uint64_t sync_rule_source(const struct sync_rule *r, uint64_t row_digest);

/* Returns new flat attributes read from a target account (resource) for r's paths,
 * with "active" (true when the account does not say). */
json_t *sync_rule_project(const struct sync_rule *r, const json_t *resource);

/* Returns the identifier value in desired (borrowed), or NULL. */
const char *sync_rule_identifier(const struct sync_rule *r, const json_t *desired);

/* Returns the identifier value of a target account (borrowed), or NULL. */
const char *sync_rule_resource_identifier(const struct sync_rule *r, const json_t *resource);

/* Lists every account on r's target: *resources is a new JSON array. Implemented by
 * the engine (HTTP); NULL means "cannot list" (look users up one by one). */
typedef enum sc_err (*sync_list_fn)(void *arg, const struct sync_rule *r, json_t **resources);

/* Smallest number of unlinked users in scope for which one listing of the target is
 * used instead of per-user look-ups. */
#define OUTBOX_LIST_THRESHOLD 50

/* The brake: a resync may remove at most max(OUTBOX_BRAKE_PERCENT% of the linked
 * users, OUTBOX_BRAKE_MIN) without approval. */
#define OUTBOX_BRAKE_PERCENT 10
#define OUTBOX_BRAKE_MIN 20

struct outbox_resync_result {
    int64_t users;     /* directory users looked at */
    int64_t queued;    /* (rule, user) items queued */
    int64_t creates;   /* unlinked users in scope (create or link) */
    int64_t linked;    /* of those, linked from the listing */
    int64_t updates;   /* linked users whose attributes differ */
    int64_t removals;  /* linked users to disable or delete */
    int64_t held;      /* removals held back by the brake (0 = not braked) */
    int64_t limit;     /* the brake's threshold */
    int64_t unchanged; /* of users, skipped: in sync at an unchanged source stamp */
};

/* Runs a full resync of r: reads every user's digest and r's links, then evaluates the
 * users whose source stamp differs from the one their SYNCED link records (and records
 * the stamp of those found in sync); queues
 * (store_sync_outbox_touch) the users that need a call or a state change; with list
 * (may be NULL) and at least OUTBOX_LIST_THRESHOLD unlinked users in scope, lists the
 * target once and links those it finds (a LINK log entry each) or marks them absent.
 * When removals pass the brake and allow is 0, they are not queued and the rule's
 * brake state records them; otherwise the brake is cleared. Opens and commits its own
 * transaction. With plan non-NULL nothing is written or sent: plan (a JSON object)
 * receives "creates", "updates" (with "changes" old -> new), "disables" or "deletes",
 * "unsynced" arrays and "counts". */
enum sc_err outbox_resync(struct store *st, const struct sync_rule *r,
                          const struct directory_groups *g, int allow, sync_list_fn list,
                          void *list_arg, json_t *plan, struct outbox_resync_result *res,
                          struct sc_error *e);

#endif
