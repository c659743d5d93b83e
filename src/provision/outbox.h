/* The engine's side of the outbox: a compiled rule prepared for syncing (its mapping's
 * SCIM paths parsed once, the identifier located), the evaluation of one directory user
 * against it (in scope? enabled? which flat attributes?), the projection of a target
 * account onto those attributes, and the full resync: one pass over the directory and
 * the rule's links, merged in user id order a chunk at a time (its memory does not grow
 * with the directory), that queues only the users whose target account must change (a
 * no-op resync queues nothing), links unlinked users to accounts found in one listing of
 * the target, and applies the mass-removal brake. The same pass, with a plan, returns
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
    struct scim_path **paths;  /* mapping row i's SCIM path, parsed */
    const char **keys;         /* mapping row i's flat key (canonical path, borrowed) */
    unsigned char *case_exact; /* mapping row i's values compare case-sensitively */
    size_t npaths;
    const char *ident_key;        /* the flat key of the connection's user identifier,
                                     or NULL when no row maps it */
    struct scim_path *ident_path; /* the identifier's SCIM path, parsed */
    int ident_case_exact;         /* the identifier compares case-sensitively (RFC 7643
                                     caseExact: false for userName and emails) */
    int uses_groups;              /* the filter tests group membership */
    uint64_t source_seed;         /* digest of the filter and mapping (sync_rule_source) */
    json_t *clear;                /* array of unmapped keys still to clear on the target
                                     (rows removed with clearOnUnmap), or NULL; owned */
    int patch_unsupported;        /* the target says it has no PATCH: updates use PUT */
    int filter_ignored;           /* the target is known to ignore look-up filters: a
                                     resync lists it instead of looking users up */
    int dialect;                  /* enum scim_dialect of the connection's SCIM version */
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

/* sync_rule_eval in two halves, so a user out of scope is never mapped:
 * sync_rule_match writes *in_scope and *enabled; sync_rule_map writes *desired (new). */
enum sc_err sync_rule_match(const struct sync_rule *r, const struct directory_groups *g,
                            const json_t *user, int *in_scope, int *enabled);
enum sc_err sync_rule_map(const struct sync_rule *r, const json_t *user, json_t **desired);

/* The source stamp of a user for r: row_digest (store_user_digest) combined with r's
 * filter and mapping, never 0; 0 when row_digest is 0 or r's filter tests group
 * membership (which the user's row does not show). A link found in sync for one stamp
 * stays in sync while the stamp is unchanged. */
uint64_t sync_rule_source(const struct sync_rule *r, uint64_t row_digest);

/* Returns new flat attributes read from a target account (resource, in the SCIM 2.0
 * shape: see sync_rule_read) for r's paths, with "active" (true when the account does
 * not say). */
json_t *sync_rule_project(const struct sync_rule *r, const json_t *resource);

/* Reads a resource a target returned, in r's dialect, into the SCIM 2.0 shape (new), or
 * NULL when it is not a resource. */
json_t *sync_rule_read(const struct sync_rule *r, const json_t *body);

/* Reads a target's ListResponse, in r's dialect: *total and *resources (a new array of
 * 2.0-shaped resources). Errors: SC_ERR_INVALID when body is not a ListResponse. */
enum sc_err sync_rule_read_list(const struct sync_rule *r, const json_t *body, int64_t *total,
                                json_t **resources);

/* Returns the identifier value in desired (borrowed), or NULL. */
const char *sync_rule_identifier(const struct sync_rule *r, const json_t *desired);

/* Returns non-zero when the target holds what was sent: flat attribute sets (sent, and
 * found: sync_rule_project of the account) equal, or equal but for the ASCII case of
 * values whose attribute is not caseExact (RFC 7643: userName, emails) — a target that
 * lower-cases emails has not drifted. Either may be NULL (then equal only to NULL). */
int sync_rule_holds(const struct sync_rule *r, const json_t *sent, const json_t *found);

/* Returns non-zero when two identifier values are the same account's: equal, or equal
 * but for ASCII case when the identifier is not caseExact. */
int sync_rule_identifier_equal(const struct sync_rule *r, const char *a, const char *b);

/* Returns the identifier value of a target account (borrowed), or NULL. */
const char *sync_rule_resource_identifier(const struct sync_rule *r, const json_t *resource);

/* Lists every account on r's target: *resources is a new JSON array (also on failure,
 * when some pages were read; may be NULL), *complete 1 when every account was read.
 * Implemented with HTTP (the dry run's blocking one; the engine lists over its multi
 * loop instead). */
typedef enum sc_err (*sync_list_fn)(void *arg, const struct sync_rule *r, json_t **resources,
                                    int *complete);

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
    int64_t checked;   /* verify: linked accounts compared with the target's */
    int64_t drifted;   /* verify: of those, accounts that differed or were gone */
};

/* Users a resync pass reads per chunk (its engine runs a chunk or a few per round). */
#define OUTBOX_CHUNK 500

/* A full resync, run in chunks so that it holds neither memory that grows with the
 * directory nor its thread for long. outbox_resync_begin starts it (reads only the
 * number of r's linked users, the brake's base). Each outbox_pass_step then merges the
 * next chunk of the directory's users (their row digests, in id order) with r's links
 * (in the same order), evaluates the users whose source stamp differs from the one
 * their SYNCED or PARTIALLY_SYNCED link records (every user when r's filter tests
 * groups; a user out of scope is not mapped), and commits what the chunk found in one
 * short transaction: the queue (store_sync_outbox_touch, bulk lane), the stamps of
 * users found in sync, links for unlinked users found in the target's listing (a LINK
 * log entry each; the others are marked absent and created directly; without a
 * listing they are looked up one by one) and drift repair (verify: with a listing,
 * links whose account differs record the target's values and are queued, links whose
 * account is gone from a complete listing are unlinked and queued, each with a VERIFY
 * DRIFTED log entry; without one, every linked user is queued to read its own account
 * first). Links whose user no longer exists count as removals.
 *
 * The listing: a step answers OUTBOX_STEP_LISTING when the pass wants one listing of
 * the target (at once for verify; else when OUTBOX_LIST_THRESHOLD unlinked users in
 * scope were found, or one on a target that ignores filters); the unlinked users found
 * so far wait (at most a chunk's worth past the threshold) until
 * outbox_pass_set_listing gives it, and the steps go on.
 *
 * The brake: removals are counted as the pass goes; with allow they are queued at
 * once, otherwise they are held (at most the brake's threshold of them: past it the
 * pass is braked and holds none) and outbox_resync_finish queues them when the pass
 * did not pass the brake, or records the brake on the rule. finish also ends the
 * request numbered seq (a request made meanwhile stays pending; seq < 0 leaves
 * requests alone) and records the change events the pass saw.
 *
 * With plan non-NULL nothing is written: plan (a JSON object) receives "creates",
 * "updates" (with "changes" old -> new), "disables" or "deletes", "unsynced" arrays,
 * "counts", and with verify "drifted" ([{"userId","username","targetId","changes"} or
 * {..., "gone": true}]). */
struct outbox_pass;

/* What outbox_pass_step leaves to do. */
enum outbox_step {
    OUTBOX_STEP_MORE,    /* more chunks to step */
    OUTBOX_STEP_LISTING, /* give the pass a listing (outbox_pass_set_listing), then step */
    OUTBOX_STEP_DONE     /* every user and link seen: outbox_resync_finish */
};

/* Starts a pass. *out is new (outbox_pass_free); it borrows st, r and plan. */
enum sc_err outbox_resync_begin(struct store *st, const struct sync_rule *r, int allow, int verify,
                                int64_t seq, json_t *plan, struct outbox_pass **out,
                                struct sc_error *e);

/* Steps p by one chunk of at most chunk users (0: OUTBOX_CHUNK), with the groups
 * snapshot g (borrowed for the call; NULL when r's filter does not test groups).
 * *next says what is left. A failed step leaves the pass unusable (free it: its
 * request stays pending). */
enum sc_err outbox_pass_step(struct outbox_pass *p, const struct directory_groups *g, size_t chunk,
                             enum outbox_step *next, struct sc_error *e);

/* Gives p the target's accounts after OUTBOX_STEP_LISTING: resources (borrowed until
 * p is freed; NULL when the listing failed: the unlinked users are then looked up one
 * by one), complete when every account was read. */
void outbox_pass_set_listing(struct outbox_pass *p, const json_t *resources, int complete);

/* Ends a pass stepped to OUTBOX_STEP_DONE: the brake, the rule's sync state, the end of
 * its request, in one transaction (the plan's counts in plan mode). res (may be NULL)
 * gets the figures. */
enum sc_err outbox_resync_finish(struct outbox_pass *p, struct outbox_resync_result *res,
                                 struct sc_error *e);

/* The pass's figures so far. */
const struct outbox_resync_result *outbox_pass_result(const struct outbox_pass *p);

void outbox_pass_free(struct outbox_pass *p);

/* A whole pass on the caller's thread, with list (may be NULL) called when the pass
 * wants a listing; seq as outbox_resync_begin. */
enum sc_err outbox_resync(struct store *st, const struct sync_rule *r,
                          const struct directory_groups *g, int allow, int verify, int64_t seq,
                          sync_list_fn list, void *list_arg, json_t *plan,
                          struct outbox_resync_result *res, struct sc_error *e);

#endif
