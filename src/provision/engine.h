/* The provisioning engine: one thread per `scimitar serve` process that consumes change
 * events, plans per (rule, user) and delivers SCIM calls through a durable outbox.
 * `scimitar serve` starts it and wakes it after API writes. */
#ifndef SC_PROVISION_ENGINE_H
#define SC_PROVISION_ENGINE_H

#include "base/buf.h"
#include "base/err.h"
#include "store/store.h"

#include <jansson.h>

struct provision_engine;

struct provision_engine_options {
    const char *dsn;      /* the database the engine opens its own connection to */
    const char *key_path; /* the secrets key file (see provision/secrets.h), or NULL */
    int64_t lease_ms;     /* how long an outbox item stays leased without renewal (0 = the
                             default: 5 minutes on SQLite, 15 s on PostgreSQL, where a
                             node that stops has its work taken over); the engine renews
                             what it holds every third of it */
    const char *listen;   /* the address this node's API serves, for the node list */
};

/* Starts the engine thread. *out is new; provision_engine_stop frees it. */
enum sc_err provision_engine_start(const struct provision_engine_options *opt,
                                   struct provision_engine **out, struct sc_error *e);

/* Signals that new change events or requests wait. Thread-safe, never blocks. */
void provision_engine_wake(struct provision_engine *eng);

/* The id this node's engine beats with in the node list (GET /api/v1/cluster, the
 * "id" of its item): borrowed, fixed for the engine's life (valid until
 * provision_engine_stop). Thread-safe. NULL when eng is NULL. */
const char *provision_engine_node_id(const struct provision_engine *eng);

/* Sets the address this node's API serves as shown in the node list (once the server
 * has bound it: with port 0 the port it got). Thread-safe; listen is copied. */
void provision_engine_set_listen(struct provision_engine *eng, const char *listen);

/* Appends the engine's Prometheus metrics to out. Thread-safe. */
void provision_engine_metrics(struct provision_engine *eng, struct sc_buf *out);

/* Appends the group provisioning metrics to out (docs/provisioning.md, "Status, per-user
 * state, log, metrics"): scimitar_sync_group_operations_total{connection,action,status}
 * and scimitar_sync_group_members_total{connection,change}. Thread-safe. */
void provision_engine_group_metrics(struct provision_engine *eng, struct sc_buf *out);

/* Plans a full resync of rule_id without sending or writing anything, on the caller's
 * store connection (any thread; with verify it reads the target's accounts, blocking the
 * caller): *out is a new object {"ruleId", "dryRun": true,
 * "creates": [{"userId","username","attributes"}], "updates": [{"userId","username",
 * "targetId","action","changes": [{"attribute","old","new"}]}], "disables" / "deletes":
 * [{"userId","username","targetId"}], "unsynced": [...], "counts": {...}, and "brake":
 * {"held","threshold"} when the removals would stop at the brake, and with verify
 * "drifted": [{"userId","username","targetId","changes"|"gone"}]}. Unlinked users are
 * listed under "creates" (a real run looks them up first and links instead when an
 * account exists). Errors: SC_ERR_NOT_FOUND (no rule), SC_ERR_INVALID (no filter or
 * target), SC_ERR_UNAVAILABLE (eng NULL), SC_ERR_DB. */
enum sc_err provision_engine_dry_run(struct provision_engine *eng, struct store *st,
                                     const char *rule_id, int verify, json_t **out,
                                     struct sc_error *e);

/* Stops the thread (finishing or abandoning in-flight transfers safely: the outbox keeps
 * them) and frees eng. NULL is a no-op. */
void provision_engine_stop(struct provision_engine *eng);

#endif
