/* Persistence of the provisioning engine ("sync" component): the links between a rule's
 * users and their target accounts with what was last sent (values and digest), the
 * per-user sync state and last error; the outbox of (rule, user) work items with
 * per-user coalescing and leases (owner + expiry, so several engine processes can share
 * one database: on PostgreSQL the lease query becomes FOR UPDATE SKIP LOCKED); the
 * engine's cursor over change events; pending full resyncs and the safety brake per
 * rule; per-connection health (quarantine); and the provisioning log.
 *
 * An outbox item does not carry a request: it says "bring this user up to date for this
 * rule". The engine plans it when it delivers it, against the latest last-sent state, so
 * several changes to one user collapse into one operation and a user's calls can never
 * overtake each other. */
#ifndef SC_STORE_STORE_SYNC_H
#define SC_STORE_STORE_SYNC_H

#include "base/err.h"
#include "store/store.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_SYNC_ID_MAX 64

/* Per-user states (link.state). */
#define SYNC_STATE_PENDING "PENDING"           /* queued, not yet delivered */
#define SYNC_STATE_SYNCED "SYNCED"             /* target matches what was last sent */
#define SYNC_STATE_UNSYNCED "UNSYNCED"         /* in scope, not on target, create not allowed */
#define SYNC_STATE_PARTIAL "PARTIALLY_SYNCED"  /* linked, differs, update not allowed */
#define SYNC_STATE_FAILED "FAILED"             /* the last call failed (see last_error) */
#define SYNC_STATE_DISABLED "DISABLED"         /* out of scope, disabled on the target */
#define SYNC_STATE_DELETED "DELETED"           /* out of scope, deleted on the target */
#define SYNC_STATE_OUT_OF_SCOPE "OUT_OF_SCOPE" /* out of scope, removal not allowed/needed */

/* A user's link for one rule. Strings are owned (store_sync_link_clear). */
struct store_sync_link {
    char rule_id[STORE_SYNC_ID_MAX];
    char user_id[STORE_SYNC_ID_MAX];
    char *username;  /* last known, for display */
    char *target_id; /* the target account's id, NULL when not linked */
    char state[24];  /* SYNC_STATE_* */
    char *sent;      /* JSON object of the target attributes last sent (or read when
                        linking), NULL when nothing is known */
    uint64_t digest; /* digest of sent (0 when none) */
    int absent;      /* 1: a look-up or a listing found no account (create directly) */
    int inactive;    /* store_sync_link_page only: sent says active false (sent itself
                        is NULL there, to keep the scan light) */
    char *last_error;
    int64_t updated_at;
    uint64_t source; /* the source stamp (sync_rule_source) of the user version that was
                        found in sync with sent, when state is SYNCED; 0 = unknown */
    char *rejected;  /* JSON object of the attributes the target rejected (attribute
                        isolation: {"stamp": "...", "attributes": {key: {"value", "error",
                        "httpStatus", "method"}}}), NULL when none */
};

/* Frees the strings of l (not l itself) and zeroes it. */
void store_sync_link_clear(struct store_sync_link *l);

/* Reads the link of (rule, user) into *out (strings new). SC_ERR_NOT_FOUND when none. */
enum sc_err store_sync_link_get(struct store *st, const char *rule_id, const char *user_id,
                                struct store_sync_link *out);

/* Inserts or replaces a link (values borrowed); updated_at is set to now. */
enum sc_err store_sync_link_put(struct store *st, const struct store_sync_link *l);

/* Inserts l (values borrowed) unless a link row of (rule, user) exists that has a target
 * account or was written after since_ms (by a delivery that finished meanwhile): a full
 * resync links from a listing fetched while deliveries went on, and must not overwrite
 * what they recorded. *written says whether l was stored. */
enum sc_err store_sync_link_put_unlinked(struct store *st, const struct store_sync_link *l,
                                         int64_t since_ms, int *written);

/* Replaces the sent values of (rule, user) by what the target was found to hold (verify):
 * sets sent/digest (and target_id when l->target_id is NULL: the account is gone; absent
 * set), state PENDING, only while the row's digest is still expect_digest (no delivery
 * changed it since it was read). *written says whether it was. */
enum sc_err store_sync_link_set_found(struct store *st, const struct store_sync_link *l,
                                      uint64_t expect_digest, int *written);

/* Sets the source stamp of (rule, user) when its link is still SYNCED with digest
 * (otherwise leaves it alone). */
enum sc_err store_sync_link_set_source(struct store *st, const char *rule_id, const char *user_id,
                                       uint64_t digest, uint64_t source);

/* Links of rule_id in one page, borrowed during the call with sent left NULL and
 * inactive set: fn gets up to max links of rule_id whose user id
 * sorts after after_user_id (NULL or "": from the first), in user id order (the order
 * of store_user_digest_page, so a pass can merge the two); *n says how many it got
 * (fewer than max: the last page). fn must not use st. */
enum sc_err store_sync_link_page(struct store *st, const char *rule_id, const char *after_user_id,
                                 size_t max, int (*fn)(void *arg, const struct store_sync_link *l),
                                 void *arg, size_t *n);

/* Lists a rule's users ordered by user id after cursor (a user id, or NULL), at most
 * limit: every user with a link row, and every user with a queued item but no link row
 * yet. Appends new JSON objects {"userId","username","targetId","state","lastError",
 * "updatedAt","rejected","queued"} to items: "rejected" is an array of
 * {"attribute","error","httpStatus","method"} (empty when none); "queued" is true while
 * an item waits; a user without a link row has "state": null (the caller decides whether
 * it is in scope). Text is returned as valid UTF-8 whatever was stored. *next is a new
 * cursor string or NULL at the end. */
enum sc_err store_sync_link_list(struct store *st, const char *rule_id, int limit,
                                 const char *cursor, json_t *items, char **next);

/* Counts a rule's links by state. */
struct store_sync_counts {
    int64_t impacted, success, unsynced, partial, failed, linked;
};
enum sc_err store_sync_link_counts(struct store *st, const char *rule_id,
                                   struct store_sync_counts *out);

/* ---- the outbox ---- */

/* Item flags. */
#define SYNC_ITEM_ALLOW_REMOVE 1 /* removal approved past the brake */
#define SYNC_ITEM_VERIFY                                                                           \
    2 /* read the account from the target before planning (drift                                   \
         repair where the target cannot be listed) */

struct store_sync_item {
    int64_t id;
    char rule_id[STORE_SYNC_ID_MAX];
    char user_id[STORE_SYNC_ID_MAX];
    int flags;
    int attempts;        /* leases taken so far, this one included */
    int64_t generation;  /* bumped by every store_sync_outbox_touch */
    int64_t not_before;  /* ms since the epoch */
    int64_t lease_token; /* fencing token of this lease: bumped by every lease, so an
                            outcome is applied only while the lease it came from holds */
    int lane;            /* STORE_SYNC_LANE_LIVE or STORE_SYNC_LANE_BULK */
};

/* An item's lane: live changes are leased before bulk work (a resync pass, an initial
 * sync), so one change made during a long sync is not queued behind it. */
#define STORE_SYNC_LANE_LIVE 0
#define STORE_SYNC_LANE_BULK 1

/* Marks (rule, user) as needing work no earlier than not_before in lane
 * (STORE_SYNC_LANE_*): inserts an item, or bumps the existing one's generation (so an
 * in-flight delivery knows to plan again), ORs flags in, moves not_before earlier and
 * the item to the live lane when lane is live. Call inside the transaction that moves
 * the event cursor. */
enum sc_err store_sync_outbox_touch(struct store *st, const char *rule_id, const char *user_id,
                                    int flags, int lane, int64_t not_before);

/* Leases up to max due items (not_before <= now, not leased or lease expired) of rule_id
 * (any rule when NULL) to owner until now + lease_ms, incrementing their attempts and
 * lease tokens: the live lane's items first, then bulk ones, each oldest first. *out is
 * a new array of *n items (free()), possibly empty.
 * Runs its own transaction unless one is open. */
enum sc_err store_sync_outbox_lease(struct store *st, const char *owner, const char *rule_id,
                                    int64_t now, int64_t lease_ms, size_t max,
                                    struct store_sync_item **out, size_t *n);

/* Extends every lease held by owner to until (a live engine renews what it holds, so
 * a job that waits in a rate-limit queue keeps its lease). */
enum sc_err store_sync_outbox_renew(struct store *st, const char *owner, int64_t until);

/* *held = 1 when it->id is still leased to owner with it->lease_token (the outcome of
 * the job that leased it may be applied), else 0. */
enum sc_err store_sync_outbox_held(struct store *st, const char *owner,
                                   const struct store_sync_item *it, int *held);

/* Finishes a leased item (fenced by its lease token: nothing happens when the lease
 * was taken over): deletes it when its generation is still it->generation, else
 * (touched meanwhile) releases the lease so it is planned again at once. *held (may be
 * NULL) says whether the lease still held (so the outcome may be applied). */
enum sc_err store_sync_outbox_done(struct store *st, const struct store_sync_item *it, int *held);

/* Releases a leased item (fenced as store_sync_outbox_done) for a later attempt no
 * earlier than not_before (or at once when it was touched meanwhile). */
enum sc_err store_sync_outbox_retry(struct store *st, const struct store_sync_item *it,
                                    int64_t not_before, int *held);

/* Releases every lease held by owner, or every lease when owner is NULL (a SQLite
 * database is served by one engine: at start it takes back what a crashed one held). */
enum sc_err store_sync_outbox_release_all(struct store *st, const char *owner);

/* Writes the earliest not_before among unleased items of rule_id (any rule when NULL)
 * into *ms, or INT64_MAX when none. */
enum sc_err store_sync_outbox_next_due(struct store *st, const char *rule_id, int64_t *ms);

/* Number of items waiting for rule_id (all rules when NULL). */
enum sc_err store_sync_outbox_count(struct store *st, const char *rule_id, int64_t *n);

/* Deletes every item of rule_id (rule disabled or deleted). */
enum sc_err store_sync_outbox_drop_rule(struct store *st, const char *rule_id);

/* Tunes st for the engine's long scans (a 16 MiB page cache, no memory map) and its
 * commits (SQLite: the connection copies its write-ahead log into the database only
 * once it holds 4,000 pages, 16 MiB; store_sync_checkpoint does it sooner from another
 * thread). Call once on the engine's own connection. */
enum sc_err store_sync_tune(struct store *st);

/* Copies what the write-ahead log holds into the database without waiting for readers
 * or writers (SQLite: a passive checkpoint, on st's own connection: so the engine's
 * commits need not); nothing on PostgreSQL. */
enum sc_err store_sync_checkpoint(struct store *st);

/* ---- the nodes sharing the database (several `scimitar serve` on PostgreSQL) ---- */

struct store_node {
    char id[STORE_SYNC_ID_MAX]; /* the engine's lease owner id */
    char listen[128];           /* the address its API serves */
    int64_t started_at, last_seen_at;
    int64_t leased; /* jobs it held at its last heartbeat */
};

/* Records n's heartbeat (inserts or replaces the node's row). */
enum sc_err store_sync_node_beat(struct store *st, const struct store_node *n);

/* The nodes seen since seen_since (ms), in order of id: *out new array (free()) of *n. */
enum sc_err store_sync_node_list(struct store *st, int64_t seen_since, struct store_node **out,
                                 size_t *n);

/* Takes back the work of nodes not seen since seen_before: releases the outbox leases and
 * the resync claims they hold (their late outcomes are fenced off), and forgets nodes
 * not seen for an hour before that. *released (may be NULL) gets the leases released. */
enum sc_err store_sync_node_reap(struct store *st, int64_t seen_before, int64_t *released);

/* Claims the pending resync of rule_id for owner until `until` (ms), unless another
 * owner's claim runs past now: *claimed says whether owner holds it. */
enum sc_err store_sync_rule_claim(struct store *st, const char *rule_id, const char *owner,
                                  int64_t now, int64_t until, int *claimed);

/* Extends every resync claim owner holds to until. */
enum sc_err store_sync_rule_claims_renew(struct store *st, const char *owner, int64_t until);

/* ---- engine cursor ---- */

/* Inside a transaction: locks the engine cursor until the transaction ends (another
 * engine that consumes events waits for it: the events are derived into work once) and
 * reads it into *seq. */
enum sc_err store_sync_cursor_lock(struct store *st, int64_t *seq);

/* The last change-event sequence the engine fully handled (0 when none). */
enum sc_err store_sync_cursor_get(struct store *st, int64_t *seq);
enum sc_err store_sync_cursor_set(struct store *st, int64_t seq);

/* ---- per-rule sync state ---- */

struct store_sync_rule {
    char rule_id[STORE_SYNC_ID_MAX];
    int resync;          /* 0 none, 1 full resync requested, 2 requested with allow */
    int verify;          /* the requested resync reads the target's accounts (drift repair) */
    int64_t brake_hold;  /* removals a braked resync holds back (0 = not braked) */
    int64_t brake_limit; /* the threshold it passed */
    int64_t last_sync_at;
    int64_t last_resync_at;
    int64_t last_verify_at;    /* the last verifying resync (0 = never) */
    int64_t verify_checked;    /* linked accounts it compared */
    int64_t verify_drifted;    /* of those, accounts that differed or were gone */
    int64_t resync_seq;        /* numbers resync requests (each request adds one) */
    int64_t resync_events_seq; /* the last change event committed when the latest resync
                                  pass began: it saw the effect of every event up to this
                                  one, so such an event needs no resync of its own */
    char last_error[256];
};

/* Reads rule_id's state; a rule never seen gives zeros (SC_OK). */
enum sc_err store_sync_rule_get(struct store *st, const char *rule_id, struct store_sync_rule *out);

/* Inserts or replaces rule_id's state (r->rule_id names it). */
enum sc_err store_sync_rule_put(struct store *st, const struct store_sync_rule *r);

/* Requests a full resync of rule_id (allow: approve removals past the brake; verify:
 * read the target's accounts and repair drift). Requests merge: allow and verify stay
 * set until the resync runs. */
enum sc_err store_sync_rule_request_resync(struct store *st, const char *rule_id, int allow,
                                           int verify);

/* Ends the resync request numbered seq: clears resync and verify unless a newer request
 * came meanwhile (then it stays pending), and releases the claim on it. */
enum sc_err store_sync_rule_resync_done(struct store *st, const char *rule_id, int64_t seq);

/* Records that a resync pass of rule_id saw every change event up to events_seq (kept
 * as the larger of this and what was recorded). */
enum sc_err store_sync_rule_seen(struct store *st, const char *rule_id, int64_t events_seq);

/* Adds to rule_id's drift figures (accounts read one by one by a verify) and sets
 * last_verify_at to at. */
enum sc_err store_sync_rule_add_drift(struct store *st, const char *rule_id, int64_t checked,
                                      int64_t drifted, int64_t at);

/* The unmapped attributes still to clear on rule_id's target (mapping rows removed with
 * clearOnUnmap): *out is new JSON array text, or NULL when none. */
enum sc_err store_sync_rule_clears_get(struct store *st, const char *rule_id, char **out);

/* Replaces that list (json: array text, or NULL for none). */
enum sc_err store_sync_rule_clears_set(struct store *st, const char *rule_id, const char *json);

/* Writes a new array of up to max rule ids (char[STORE_SYNC_ID_MAX] each) with a
 * pending resync into *out, *n of them. */
enum sc_err store_sync_rule_pending(struct store *st, size_t max, char (**out)[STORE_SYNC_ID_MAX],
                                    size_t *n);

/* Sets last_sync_at of rule_id to ms. */
enum sc_err store_sync_rule_touch(struct store *st, const char *rule_id, int64_t ms);

/* Forgets a rule's links, items and state (the rule was deleted). */
enum sc_err store_sync_rule_forget(struct store *st, const char *rule_id);

/* ---- per-connection health ---- */

/* Sets or clears the quarantine of connection_id (reason borrowed, may be NULL). */
enum sc_err store_sync_quarantine_set(struct store *st, const char *connection_id, int on,
                                      const char *reason);

/* *on = 1 when connection_id is quarantined; reason (size n, may be NULL) gets why. */
enum sc_err store_sync_quarantine_get(struct store *st, const char *connection_id, int *on,
                                      char *reason, size_t n);

/* ---- provisioning log ---- */

struct store_sync_log_entry {
    const char *rule_id, *user_id, *username;
    const char *action;  /* CREATE UPDATE DISABLE DELETE LINK SKIP ENABLE */
    const char *status;  /* SUCCESS FAILED RETRY UNSYNCED */
    int http_status;     /* 0 when no call was made */
    const char *changes; /* JSON array text [{"attribute","old","new"}] or NULL */
    const char *error;   /* target error text or NULL */
};

/* Appends an entry (values borrowed) stamped with the current time. */
enum sc_err store_sync_log_append(struct store *st, const struct store_sync_log_entry *le);

/* Lists entries newest first, filtered by the non-NULL arguments (exact match), with
 * id < cursor when cursor is given (a decimal id). Appends new JSON objects of the
 * docs/api.md log shape to items; *next is a new cursor string or NULL at the end.
 * SC_ERR_INVALID for a malformed cursor. */
enum sc_err store_sync_log_list(struct store *st, const char *rule_id, const char *user_id,
                                const char *action, const char *status, int limit,
                                const char *cursor, json_t *items, char **next);

#endif
