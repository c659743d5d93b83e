/* The provisioning planner: a pure function from (a directory user's situation for one
 * rule, the connection's preferences, what was last sent to the target) to the one
 * operation that brings the target account up to date: look it up, create it, update it
 * (PATCH with only the changed attributes, or PUT of the whole resource), disable it,
 * delete it, re-enable it, or nothing. It does no I/O and keeps no state: the engine
 * feeds it from the store and the directory, sends what it returns, records the result
 * and asks again (so a look-up is followed by a second plan that creates or links).
 *
 * Attributes are "flat": a JSON object of target attribute names or SCIM paths (as the
 * mapping's rows write them) to values, plus "active". Its canonical digest tells a
 * no-op from a change without comparing values. */
#ifndef SC_PROVISION_PLANNER_H
#define SC_PROVISION_PLANNER_H

#include "base/err.h"

#include <jansson.h>
#include <stdint.h>

enum planner_action {
    PLANNER_NOOP = 0,     /* nothing to send; state says why (SYNCED, DISABLED, ...) */
    PLANNER_LOOKUP,       /* GET users?filter=<identifier> before creating */
    PLANNER_CREATE,       /* POST */
    PLANNER_UPDATE,       /* PATCH (changed attributes) or PUT (whole resource) */
    PLANNER_ENABLE,       /* as UPDATE, bringing a disabled account back (active: true) */
    PLANNER_DISABLE,      /* active: false by PATCH or PUT */
    PLANNER_DELETE,       /* DELETE */
    PLANNER_UNSYNCED,     /* in scope, not on the target, creation not allowed */
    PLANNER_PARTIAL,      /* linked and different, update not allowed */
    PLANNER_OUT_OF_SCOPE, /* left scope, removal not allowed: no call */
    PLANNER_LOOP_BACK,    /* the user came from this connection: nothing is written to it */
};

/* What the planner knows. Borrowed values. */
struct planner_input {
    /* the directory side */
    int exists;            /* the user exists */
    int in_scope;          /* the rule's filter matches the user */
    int enabled;           /* the user is enabled */
    const json_t *desired; /* flat attributes the mapping gives (without "active"), or
                              NULL when the user no longer exists */
    /* the link */
    const char *target_id;     /* the linked account, NULL when not linked */
    const json_t *sent;        /* flat attributes last sent (or read when linking), or NULL */
    uint64_t sent_digest;      /* digest of sent (0 when none) */
    int absent;                /* a look-up or a listing found no account */
    int uncertain;             /* an earlier attempt may have reached the target without its
                                  result being recorded: look up before creating */
    int has_link_row;          /* a link row exists (even without target id) */
    const json_t *rejected;    /* attribute isolation: {key: {"value": v, ...}} of values the
                                  target rejected; while the user still wants exactly v for a
                                  key, the key is held at what the target has (NULL = none) */
    const json_t *exclude;     /* keys held at what the target has for this one attempt (the
                                  engine narrows a rejected write down), or NULL */
    const char *const *mapped; /* the flat keys of the rule's current mapping rows (nmapped
                                  of them); keys last sent that are no longer mapped stop
                                  flowing: dropped from what is tracked, never removed on
                                  the target (unless listed in clear). NULL = every key of
                                  sent counts as mapped */
    size_t nmapped;
    const json_t *clear; /* array of unmapped keys to clear on the target (rows removed
                            with clearOnUnmap), or NULL */
    int dialect11;       /* build SCIM 1.1 bodies (no PatchOp) */
    /* loop safety: the connection the user came from (the sourceConnection of the inbound
       token that created it; NULL or "" when none) and the rule's target connection. When
       they are the same, whatever would be sent (a look-up, create, update, enable,
       disable or delete) or refused (UNSYNCED, PARTIAL) is PLANNER_LOOP_BACK instead:
       no call, state UNSYNCED */
    const char *origin_connection;
    const char *connection_id;
    /* the connection's preferences */
    int allow_create, allow_update, allow_disable;
    int remove_delete; /* Remove Action DELETE (else DISABLE) */
    int update_put;    /* Update method PUT (else PATCH) */
};

/* The operation. Owned JSON (planner_op_clear). */
struct planner_op {
    enum planner_action action;
    const char *method; /* "GET", "POST", "PATCH", "PUT", "DELETE", or NULL (no call) */
    int with_id;        /* the URL names the linked account (target_id) */
    json_t *body;       /* the request body (POST/PUT resource, PATCH PatchOp), or NULL */
    json_t *next_sent;  /* the flat attributes recorded as sent when the call succeeds */
    uint64_t next_digest;
    char *next_sent_text;   /* next_sent's canonical JSON when the planner made it (the
                               digest is of it), else NULL; a caller may take it */
    json_t *changes;        /* [{"attribute","old","new"}] for the log; for a create NULL
                               until planner_op_changes builds it (changes_all_new) */
    int changes_all_new;    /* the changes are every non-null key of next_sent, from no
                               value (a create): planner_op_changes_text writes them from
                               next_sent without building the array */
    char *body_text;        /* body as JSON text written ahead by the caller (who may take
                               it), or NULL; freed with op */
    char *changes_text;     /* the changes as text written ahead (planner_op_write_changes)
                               for planner_op_take_changes_text, or NULL */
    const char *state;      /* the link state to record when the call succeeds (or at once
                               when there is no call): a SYNC_STATE_* string */
    json_t *op_keys;        /* PATCH: array parallel to the body's Operations, each the
                               array of flat keys that operation carries; NULL otherwise */
    json_t *rejected;       /* the entries of in->rejected that still hold (the user still
                               wants the rejected value), or NULL when none */
    const char *log_action; /* "CREATE", "UPDATE", ... for the log, NULL for no entry */
};

/* Returns the digest planner decisions compare: of the canonical form of flat. 0 for
 * NULL. */
uint64_t planner_digest(const json_t *flat);

/* Plans one user. On success *op is filled (owned JSON inside). Errors: SC_ERR_INVALID
 * when a body cannot be built (an attribute name that is neither an alias nor a SCIM
 * path; e says which), SC_ERR_NOMEM. */
enum sc_err planner_plan(const struct planner_input *in, struct planner_op *op, struct sc_error *e);

/* Returns a new array of the flat keys whose value differs between a and b (either may
 * be NULL): what a write from a to b changes (for narrowing a rejected write down). */
json_t *planner_keys_changed(const json_t *a, const json_t *b);

/* The changes of op for the log ([{"attribute","old","new"}], borrowed from op), built
 * on first use for a create; NULL when op has none. */
const json_t *planner_op_changes(struct planner_op *op);

/* The changes of op as compact JSON text (what sc_json_dump of planner_op_changes gives,
 * byte for byte), written from next_sent for a create. New string, or NULL when op has
 * no changes (or out of memory). */
char *planner_op_changes_text(const struct planner_op *op);

/* Writes op's changes text ahead (planner_op_changes_text) when op is a create, so the
 * thread that logs the outcome does not (the engine plans on its loader thread). */
void planner_op_write_changes(struct planner_op *op);

/* The text planner_op_changes_text gives, taken from op when written ahead (op holds it
 * no more) or written now. New string or NULL. */
char *planner_op_take_changes_text(struct planner_op *op);

/* Writes into out (n bytes) why a user is not provisioned to the connection it came
 * from (PLANNER_LOOP_BACK): token is the name of the inbound token that made it. */
void planner_loop_reason(const char *token, char *out, size_t n);

/* Frees what op holds and zeroes it. */
void planner_op_clear(struct planner_op *op);

/* Returns the upper-case name of an action ("CREATE", "NOOP", ...). */
const char *planner_action_name(enum planner_action a);

#endif
