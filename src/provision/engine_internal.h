/* Internals shared by the engine's files (engine.c: the thread, events, leases and
 * commits; engine_conn.c: per-connection dispatch, limits and OAuth tokens;
 * engine_job.c: one (rule, user) job from plan to recorded result; engine_resync.c:
 * full resyncs, their target listing and drift repair). Nothing outside
 * src/provision/engine*.c includes this file.
 *
 * Everything here runs on the engine thread, except the metrics (behind mlock). libcurl's
 * loop runs on the multi's own I/O thread (http/multi.c), which touches none of these
 * structures: a request is copied into a transfer when it is added, and the callbacks
 * (on_response and the others) run here, from http_multi_poll_fd.
 * Isolation between connections: each connection has its own queues, in-flight count,
 * lease budget and token state, so a connection whose target or token URL is dead or
 * slow holds only its own work; every call goes through the one libcurl multi loop,
 * never a blocking transfer. */
#ifndef SC_PROVISION_ENGINE_INTERNAL_H
#define SC_PROVISION_ENGINE_INTERNAL_H

#include "base/id.h"
#include "http/multi.h"
#include "provision/delivery.h"
#include "provision/engine.h"
#include "provision/outbox.h"
#include "provision/planner.h"
#include "store/store_sync.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define ENGINE_MAX_LEASED 1024  /* jobs at once, all connections */
#define ENGINE_CONN_LEASED 256  /* jobs at once for one connection */
#define ENGINE_LEASE_MS 300000  /* default lease of an outbox item (renewed while held) */
#define ENGINE_EVENT_BATCH 500  /* events per transaction */
#define ENGINE_COMMIT_BATCH 256 /* finished jobs per results transaction */
/* The longest a finished job waits for its batch to be committed: calls of another
 * connection still in flight (a slow target, a token URL that does not answer) must not
 * hold up the results of one that answered. */
#define ENGINE_COMMIT_WAIT_MS 20
#define ENGINE_IDLE_POLL_MS 1000      /* longest sleep when nothing is due */
#define ENGINE_BASE_STEPS 8           /* calls per job before it is judged looping, plus... */
#define ENGINE_STEPS_PER_KEY 3        /* ...this many per mapped attribute (narrowing) */
#define ENGINE_LIST_MAX 1000000       /* accounts read from one target listing */
#define ENGINE_LIST_PAGE 1000         /* accounts asked for per listing page */
#define ENGINE_SEARCH_PAGE 200        /* per page when searching a filter-ignoring target */
#define ENGINE_SEARCH_MAX 20000       /* accounts searched for one user at most */
#define ENGINE_LEASE_BATCH 32         /* free slots worth a lease transaction */
#define ENGINE_PRUNE_EVERY 10000      /* handled events deleted in chunks of this many */
#define ENGINE_CLUSTER_LEASE_MS 15000 /* default lease when nodes share the database */
#define ENGINE_BEAT_MS 2000           /* a node's heartbeat */
#define ENGINE_NODE_DEAD_MS                                                                        \
    10000 /* a node not seen for this long is dead: its work is                                    \
             taken back */
#define ENGINE_GEN_CHECK_MS                                                                        \
    200 /* how often a node looks for configuration another                                        \
           node saw change */
/* SCIM Bulk (engine_bulk.c): at most ENGINE_BULK_OPS operations per request (fewer when
 * the target says so; ENGINE_BULK_DEFAULT_OPS when it offers Bulk without a
 * maxOperations), up to ENGINE_BULK_LEASED jobs for a connection that uses it (four
 * full requests in flight), ENGINE_BULK_TIMEOUT ms for a whole request. */
#define ENGINE_BULK_OPS 250
#define ENGINE_BULK_DEFAULT_OPS 100
#define ENGINE_BULK_LEASED 1024
#define ENGINE_BULK_TIMEOUT 120000
#define ENGINE_TOKEN_TIMEOUT 15000
#define ENGINE_CALL_TIMEOUT 30000
#define ENGINE_LIST_TIMEOUT 60000
#define ENGINE_PASS_SLICE_MS 10   /* a resync pass's steps per round of the loop, at most */
#define ENGINE_TRIM_MS 1000       /* idle memory is given back at most this often */
#define ENGINE_PASS_RETRY_MS 1000 /* a failed pass starts again no sooner */

/* ---- metrics ---- */

#define ENGINE_NBOUNDS 11
#define ENGINE_NACTIONS 8
#define ENGINE_NSTATUSES 5

struct rule_metrics {
    char rule_id[STORE_SYNC_ID_MAX];
    uint64_t ops[ENGINE_NACTIONS][ENGINE_NSTATUSES];
    uint64_t lat_buckets[ENGINE_NBOUNDS + 1];
    double lat_sum;
    uint64_t lat_count;
};

/* ---- rules and connections ---- */

struct conn_state;

struct eng_rule {
    struct sync_rule *sr;
    struct conn_state *cs; /* its connection's state */
    int refs;              /* jobs and resyncs using it */
    int retired;           /* replaced by a reload: freed when refs drops to 0 */
    struct eng_rule *next;
};

enum call_kind { CALL_JOB, CALL_LIST, CALL_GROUP };

/* A request waiting for, or holding, a place on its connection: a job's call or a page
 * of a resync's listing. Embedded first in its owner. */
struct call {
    enum call_kind kind;
    struct eng_rule *er; /* the rule whose connection settings it uses (owner holds a ref) */
    struct call *next;   /* in a connection queue */
    int urgent;          /* a live change's: waits ahead of bulk work in the queue */
    int single;          /* sent alone, never in a SCIM Bulk request (set when a Bulk
                            request could not carry it; cleared by its answer) */
};

struct conn_state {
    char id[SC_UUID_LEN + 1];
    int inflight; /* calls on the wire */
    int leased;   /* jobs holding leases of rules that target this connection */
    struct delivery_bucket bucket;
    double rate;              /* this node's share of the connection's rate */
    double rate_conf;         /* the connection's maxRequestsPerSecond */
    int64_t max_concurrency;  /* this node's share */
    int64_t concurrency_conf; /* the connection's maxConcurrency */
    struct delivery_health health;
    int persisted_quarantine;           /* what the store says */
    struct call *wait_head, *wait_tail; /* waiting for a slot or the rate */
    struct call *tok_head, *tok_tail;   /* waiting for an OAuth token */
    struct token_fetch *tok_fetch;      /* the token request on the wire, or NULL */
    int64_t tok_retry_at;               /* no new fetch before (mono ms), after a failure */
    int tok_failures;
    char tok_error[300]; /* why the last fetch failed (no secret in it) */
    int64_t wait_ms;     /* rate-limit wait of the queue's head (0 = none) */
    /* SCIM Bulk (engine_bulk.c): writes waiting in the queue travel together */
    int bulk_ops;      /* most operations per Bulk request; 0: Bulk is not used */
    size_t bulk_bytes; /* the target's maxPayloadSize */
    struct conn_state *next;
};

struct job;
struct resync;
struct token_fetch;
struct bulk;
struct connection;
struct gjob;
struct gcache;
struct store_event;
struct engine_loader;

struct provision_engine {
    pthread_t thread;
    int started;
    atomic_int stop;
    char *dsn;
    char owner[SC_UUID_LEN + 1];
    const struct secrets_key *key;
    struct store *st;
    struct http_multi *multi;
    struct oauth_cache *oauth;
    int64_t lease_ms;
    int64_t renewed_at;     /* mono ms of the last lease renewal */
    int clustered;          /* several nodes may share the database (PostgreSQL) */
    char listen[128];       /* the address this node's API serves (node list; mlock) */
    int64_t started_at;     /* wall ms */
    int worked;             /* busy since the allocator was last trimmed */
    int64_t trimmed_at;     /* mono ms of the last trim */
    int64_t beat_at;        /* mono ms of the last heartbeat */
    int nodes;              /* live nodes sharing the work (1 alone); limits are divided */
    int listen_fd;          /* the database's notification socket, or -1 */
    int reload_failing;     /* the last rules reload failed (logged once until it works) */
    int64_t config_gen;     /* the configuration generation the rules were loaded at */
    int64_t gen_checked_at; /* mono ms */
    struct eng_rule *rules; /* active (not retired) and retired ones */
    struct conn_state *conns;
    struct directory_groups *groups;
    int groups_stale;
    int64_t cursor;
    int64_t pruned;       /* events up to here are deleted */
    int leased;           /* jobs started and not finished */
    struct job *finished; /* jobs whose results wait for the batch commit */
    struct job *all;      /* every live job (freed at stop if still in flight) */
    size_t nfinished;
    size_t finished_urgent;       /* of them, live changes' (committed without waiting) */
    int64_t finished_at;          /* mono ms when the oldest job of the batch finished */
    struct resync *resyncs;       /* running resync passes */
    int64_t resync_pause;         /* mono ms: no pass starts before (one failed) */
    struct bulk *bulks;           /* Bulk requests on the wire */
    struct gjob *gjobs;           /* live group jobs (engine_group.c) */
    struct gcache *gcache;        /* which rules push groups (engine_group.c) */
    int gather;                   /* writes wait in a queue to be gathered into Bulk requests:
                                     dispatch them before sleeping */
    unsigned lease_turn;          /* rotates which rule leases first */
    struct engine_loader *loader; /* loads jobs on a thread of its own (engine_load.c) */
    /* metrics (read by other threads) */
    pthread_mutex_t mlock;
    struct rule_metrics *metrics;
    size_t nmetrics, capmetrics;
    uint64_t events_total, resyncs_total, requests_total;
    uint64_t bulk_requests_total, bulk_operations_total;
    int64_t outbox_pending;
    struct gmetrics *gmetrics; /* group operations by connection (engine_group.c) */
};

/* ---- engine.c ---- */

/* Counts one operation in the metrics (action and status as logged). */
void engine__metrics_op(struct provision_engine *eng, const char *rule_id, const char *action,
                        const char *status);

/* Counts one call's latency, and requests HTTP requests (0 for an operation that
 * travelled in a Bulk request: engine__metrics_bulk counts that request). */
void engine__metrics_latency(struct provision_engine *eng, const char *rule_id, double seconds,
                             int requests);

/* Counts one Bulk request carrying ops operations. */
void engine__metrics_bulk(struct provision_engine *eng, size_t ops);

/* The groups snapshot (reloaded when stale); NULL when it cannot be loaded. */
const struct directory_groups *engine__groups(struct provision_engine *eng);

/* Returns the active rule with that id, or NULL. */
struct eng_rule *engine__rule_find(struct provision_engine *eng, const char *id);

/* With nodes sharing the database: reloads the rules now if another node saw the
 * configuration change (so a rule this node does not run is really not active). */
void engine__config_current(struct provision_engine *eng);

/* Frees retired rules nobody uses any more. */
void engine__rules_collect(struct provision_engine *eng);

/* ---- engine_conn.c ---- */

/* The state of c's connection (created on first use; its rate limit follows c). NULL
 * when out of memory. */
struct conn_state *engine__conn(struct provision_engine *eng, const struct connection *c);

/* Queues call on its connection: sent at once when the connection has a slot, a rate
 * token and (client credentials) an access token, else when it has them. Calls of
 * other connections never wait behind it. */
void engine__dispatch(struct provision_engine *eng, struct call *call);

/* Sends queued calls whose connection now allows it. */
void engine__dispatch_waiting(struct provision_engine *eng);

/* The longest the loop may sleep for the queues (ms; -1 = no wait pending). */
int64_t engine__queue_wait(struct provision_engine *eng);

/* The access token for call's connection when it needs one (client credentials): *token
 * is borrowed until the next cache call. Returns 1 when ready (or none needed), 0 when
 * the call was queued until a token arrives (it is sent then), -1 when no token can be
 * had now (err holds why, no secret in it). */
int engine__token(struct provision_engine *eng, struct call *call, const char **token, char *err,
                  size_t n);

/* The access token cached for call's connection (borrowed), or NULL: for masking it in
 * texts a target sends back. */
const char *engine__current_token(struct provision_engine *eng, const struct call *call);

/* Drops the cached token of call's connection (after a 401). */
void engine__token_invalidate(struct provision_engine *eng, struct call *call);

/* Records a call's outcome in its connection's health; failed: it counts against it. */
void engine__conn_health(struct provision_engine *eng, struct conn_state *cs, int failed);

/* Applies the number of live nodes to every connection's rate and concurrency (each
 * node takes its share, so a limit holds for the cluster as a whole). */
void engine__conns_share(struct provision_engine *eng);

/* Frees every connection state (queued calls are owned elsewhere). */
void engine__conns_free(struct provision_engine *eng);

/* Sets how cs uses SCIM Bulk from its connection (useBulk, the SCIM version), caps (its
 * capabilities document: bulk supported with maxOperations and maxPayloadSize, and a
 * refusal the engine learnt). */
void engine__conn_bulk(struct conn_state *cs, const struct connection *c, int dialect,
                       const json_t *caps);

/* Whether call is one that cs gathers into Bulk requests (a job's write of a user). */
int engine__conn_gathers(const struct conn_state *cs, struct call *call);

/* Sends a call now (its connection granted a slot and a rate token). */
void engine__call_send(struct provision_engine *eng, struct call *call);

/* The access token call's connection needs now (client credentials; NULL when none is
 * needed), borrowed: 1 when ready, 0 when it must be fetched first (the caller then
 * sends the call alone, which fetches it). */
int engine__token_ready(struct provision_engine *eng, struct call *call, const char **token);

/* ---- engine_job.c ---- */

/* Starts a job for a leased item, or appends it to *to_load for the loader
 * (engine__loader_push). */
void engine__job_start(struct provision_engine *eng, const struct store_sync_item *it,
                       struct job **to_load);

/* Reads what j's item needs with st, evaluates the user (groups from g, NULL when the
 * rule's filter needs none) and plans the first step. Touches only j and the rule's
 * read-only parts: safe on the loader's thread. A failed read sets a retry. */
void engine__job_load(struct job *j, struct store *st, const struct directory_groups *g);

/* Carries on with a loaded job on the engine thread: its first step, or its retry. */
void engine__job_loaded(struct job *j);

/* The link of j in the loader's queues. */
struct job **engine__job_load_next(struct job *j);

/* Sends a job's call (its connection granted a slot). */
void engine__job_send(struct provision_engine *eng, struct job *j);

/* A job's call could not be sent (no token): handled as a call without an answer. */
void engine__job_unsent(struct provision_engine *eng, struct job *j, const char *why);

/* Whether a job's call is a write of a user (POST, PUT, PATCH, DELETE), which a Bulk
 * request may carry. */
int engine__job_is_write(const struct job *j);

/* The write a job's call makes, for a Bulk request: *method, the path below the SCIM base
 * URL ("/Users", "/Users/<id>" percent-encoded) appended to path, and *body (borrowed;
 * NULL for DELETE). Returns 0 when the call must go alone: a read or a look-up, or a
 * write whose path or body holds a "bulkId:" string (a target would take it for a
 * reference to another operation, RFC 7644 §3.7.2). */
int engine__job_write(struct job *j, const char **method, struct sc_buf *path, const json_t **body);

/* Sends j's call alone after a Bulk request could not carry it (its next write may go
 * in a Bulk request again). maybe_done: the target may have run it (it answered 2xx
 * without this operation's outcome), so a create looks the account up first. */
void engine__job_alone(struct provision_engine *eng, struct job *j, int maybe_done);

/* Hands j the answer to its call, as on_response does but without the in-flight count
 * (a Bulk request holds the connection's slot): one operation's outcome of a Bulk
 * request, or (whole) the Bulk request's failure as a whole, which its texts then name
 * ("POST /Bulk answered 503: ..."). The job records nothing in the connection's health
 * (the Bulk request counts once). res->total_ms: the request's duration. */
void engine__job_answer(struct provision_engine *eng, struct job *j,
                        const struct http_multi_result *res, int whole);

/* Copies the top-level "id" string of the JSON object s[0..n) into out (cap bytes) without
 * building the document: a create's answer is the whole resource and only its id is kept.
 * Returns 1 when found (the last one when repeated, as the parser keeps), 0 when the caller
 * must parse the body instead: not an object, an id that is not a plain string (escapes,
 * control characters, invalid UTF-8, too long), an escaped top-level key, or unbalanced
 * text. */
int engine__scan_top_id(const char *s, size_t n, char *out, size_t cap);

/* Commits the finished jobs' results in one transaction (fenced by their leases). */
void engine__flush(struct provision_engine *eng);

/* Frees a job (its list links too). */
void engine__job_free(struct job *j);

/* Frees what a job holds and the job, which is in no list of the engine's any more (any
 * thread: what it holds is its own, or shared by reference counts). */
void engine__job_release(struct job *j);

/* ---- engine_load.c ---- */

/* Starts the loader: a thread with its own store connection (opened on dsn) that loads
 * jobs (engine__job_load) off the engine thread. Without it (an error, logged), jobs
 * load on the engine thread. */
void engine__loader_start(struct provision_engine *eng, const char *dsn);

/* Stops and joins the loader; jobs still in its queues stay in the engine's list of live
 * jobs (freed at stop). Safe when it never started. */
void engine__loader_stop(struct provision_engine *eng);

/* Whether the loader runs. */
int engine__loader_runs(const struct provision_engine *eng);

/* Hands the chain of jobs (linked by engine__job_load_next) to the loader, which hands
 * them back together once loaded (so the writes of one lease batch can be gathered into
 * Bulk requests as before). The loader must run. */
void engine__loader_push(struct provision_engine *eng, struct job *chain);

/* Hands the chain of finished jobs (linked by engine__job_load_next, out of every list
 * of the engine's) to the loader to free (engine__job_release). The loader must run. */
void engine__loader_trash(struct provision_engine *eng, struct job *chain);

/* Carries on with the jobs the loader finished (engine__job_loaded). Returns how many. */
int engine__loader_drain(struct provision_engine *eng);

/* ---- engine_bulk.c ---- */

/* Gathers the writes waiting in cs's queue, first first (cs granted a slot and a rate
 * token; first was popped from the queue), into one SCIM Bulk request and sends it, or
 * sends first alone when no other write can join it. */
void engine__bulk_send(struct provision_engine *eng, struct conn_state *cs, struct call *first);

/* Frees the Bulk requests still on the wire (at stop: their jobs are freed apart). */
void engine__bulks_free(struct provision_engine *eng);

/* ---- engine_resync.c ---- */

/* Starts the pending full resyncs (claims them and begins their passes). */
void engine__resyncs(struct provision_engine *eng);

/* Steps the running passes for at most ENGINE_PASS_SLICE_MS (a pass waiting for its
 * listing, read over the multi loop, is not stepped); a pass that is done is finished.
 * Returns non-zero when a pass was stepped (the loop then does not sleep). */
int engine__resyncs_step(struct provision_engine *eng);

/* Sends a listing page (its connection granted a slot). */
void engine__list_send(struct provision_engine *eng, struct call *call);

/* A listing page could not be sent (no token). */
void engine__list_unsent(struct provision_engine *eng, struct call *call, const char *why);

/* Abandons resyncs in progress (at stop): their requests stay, so they run again. */
void engine__resyncs_free(struct provision_engine *eng);

/* ---- engine_group.c ---- */

/* Whether a leased item is a group's ("group:<id>") rather than a user's. */
int engine__group_item(const struct store_sync_item *it);

/* Starts a group job for a leased group item. */
void engine__group_start(struct provision_engine *eng, const struct store_sync_item *it);

/* Sends a group job's call (its connection granted a slot). */
void engine__group_send(struct provision_engine *eng, struct call *call);

/* A group job's call could not be sent (no token). */
void engine__group_unsent(struct provision_engine *eng, struct call *call, const char *why);

/* Derives group work from a batch of change events (inside the events transaction): the
 * groups a group.* event concerns (with their ancestors, and their descendants for a
 * structural change), every group of a rule whose group section, configuration or
 * resync request changed; forgets the groups of deleted rules. */
enum sc_err engine__group_events(struct provision_engine *eng, const struct store_event *ev,
                                 size_t n, int64_t now);

/* After a user's job of rule_id was recorded (inside the results transaction; user: the
 * user as the job read it, NULL when gone): touches the groups whose recorded membership
 * of the user no longer matches the directory and the user's account. */
enum sc_err engine__group_user_done(struct provision_engine *eng, const char *rule_id,
                                    const char *user_id, const json_t *user);

/* A dry run's plan of rule_id's groups (nothing sent or written), set as plan's "groups":
 * {"creates": [{"groupId","name","attributes","members"}], "renames": [{"groupId","name",
 * "targetId","changes"}], "members": [{"groupId","name","targetId","add","remove",
 * "braked"}], "removals": [{"groupId","name","targetId","action","remove"}], "counts"}.
 * Unlinked groups are listed under creates (a real run looks them up first). */
enum sc_err engine__group_plan(struct store *st, const char *rule_id, json_t *plan,
                               struct sc_error *e);

/* Frees the group jobs still live (at stop: their leases are taken back later). */
void engine__groups_jobs_free(struct provision_engine *eng);

#endif
