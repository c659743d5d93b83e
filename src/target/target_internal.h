/* Internals shared by the files of the SCIM target (the .c files of src/target): the in-memory
 * repository of resources with its indexes, authentication, fault injection and the
 * protocol operations that both the HTTP handler and /Bulk call. Nothing outside
 * src/target/ includes this file. */
#ifndef SC_TARGET_INTERNAL_H
#define SC_TARGET_INTERNAL_H

#include "target/target.h"
#include "target/service.h"
#include "base/err.h"
#include "base/id.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct http_request;
struct http_response;

/* ---- repository (repo.c) ---------------------------------------------------------- */

/* One stored resource. doc is the full representation as served (with schemas, id and
 * meta); it is replaced, never mutated, so a reader holding the read lock sees a
 * consistent value. */
struct target_res {
    char id[SC_UUID_LEN + 1];
    enum target_kind kind;
    json_t *doc;      /* owned */
    int64_t version;  /* the n of the ETag W/"n" */
    char *name_key;   /* lower-cased userName or displayName (owned) */
    char *ext;        /* externalId, case-exact, or NULL (owned) */
    size_t order_pos; /* position in the creation-order array */
    /* users only: the groups that list this user as a direct member (borrowed; kept
     * up to date by the repository as groups are stored, changed and removed) */
    struct target_res **groups;
    size_t ngroups, capgroups;
};

/* A string -> resource multimap with separate chaining (keys borrowed from the
 * resource). */
struct target_map_node {
    uint64_t hash;
    const char *key;
    struct target_res *res;
    struct target_map_node *next;
};

struct target_map {
    struct target_map_node **buckets;
    size_t nbuckets; /* power of two, or 0 before the first insert */
    size_t count;
};

/* Resources of one kind in creation order (for paging). */
struct target_order {
    struct target_res **v;
    size_t n, cap;
};

struct target_repo {
    pthread_rwlock_t lock;
    struct target_map by_id;
    struct target_map by_name[TARGET__KINDS];
    struct target_map by_ext[TARGET__KINDS];
    struct target_order order[TARGET__KINDS];
    struct store *st; /* write-through persistence, or NULL (memory only) */
    int ready;        /* set once initialised */
    int loading;      /* while loading: group memberships are linked at the end */
};

/* Initialises an empty repository; st (borrowed, may be NULL) receives every change.
 * Errors: SC_ERR_NOMEM. */
enum sc_err target_repo_init(struct target_repo *r, struct store *st);

/* Loads every stored resource from r->st (when set). Errors: SC_ERR_DB, SC_ERR_PARSE
 * for a row that is not JSON. Call before serving. */
enum sc_err target_repo_load(struct target_repo *r, struct sc_error *e);

/* Frees every resource and index (not r->st). */
void target_repo_free(struct target_repo *r);

/* Look-ups (caller holds the lock). Borrowed results, NULL when absent. */
struct target_res *target_repo_get(struct target_repo *r, enum target_kind k, const char *id);
struct target_res *target_repo_by_name(struct target_repo *r, enum target_kind k, const char *name);

/* Calls fn for each resource of kind k whose externalId equals ext (case-exact); stops
 * when fn returns non-zero. */
void target_repo_each_ext(struct target_repo *r, enum target_kind k, const char *ext,
                          int (*fn)(void *arg, struct target_res *res), void *arg);

/* Number of resources of kind k and the i-th in creation order (borrowed). */
size_t target_repo_count(const struct target_repo *r, enum target_kind k);
struct target_res *target_repo_at(const struct target_repo *r, enum target_kind k, size_t i);

/* Mutations (caller holds the write lock). target_repo_insert takes a new resource
 * whose id and doc are set (doc stolen even on failure) and indexes it.
 * target_repo_replace swaps res's doc for doc (stolen) and bumps the version.
 * target_repo_remove unindexes and frees res. Each writes through to the store;
 * errors: SC_ERR_NOMEM, SC_ERR_DB (the in-memory change is then undone). */
enum sc_err target_repo_insert(struct target_repo *r, enum target_kind k, const char *id,
                               json_t *doc, struct target_res **out);
enum sc_err target_repo_replace(struct target_repo *r, struct target_res *res, json_t *doc);
enum sc_err target_repo_remove(struct target_repo *r, struct target_res *res);

/* ---- authentication (auth.c) ------------------------------------------------------- */

struct target_token {
    char token[48];
    int64_t expires_ms;
};

struct target_auth {
    char *token;                     /* static bearer token or NULL */
    char *basic_user, *basic_pass;   /* or NULL */
    char *client_id, *client_secret; /* OAuth 2 client credentials or NULL */
    int token_ttl_s;                 /* lifetime of issued tokens */
    pthread_mutex_t mu;              /* guards issued */
    struct target_token *issued;     /* live issued tokens */
    size_t nissued, capissued;
};

/* ---- faults (faults.c) ------------------------------------------------------------- */

#define TARGET_MAX_FAULT_STATUSES 8

struct target_faults {
    int enabled;
    struct {
        int status;
        double p;
    } statuses[TARGET_MAX_FAULT_STATUSES];
    int nstatuses;
    double timeout_p;   /* probability of a hung response */
    int64_t latency_ms; /* added to every response */
    int64_t hang_ms;    /* how long a hung response hangs */
    int retry_after_s;  /* Retry-After sent with 429 and 503 */
};

/* Parses a --faults spec ("429=0.1,500=0.05,timeout=0.01,latency=5ms,hang=30s,
 * retry-after=2") into f. Errors: SC_ERR_INVALID with field "faults" and a message that
 * names the bad item. */
enum sc_err target_faults_parse(const char *spec, struct target_faults *f, struct sc_error *e);

/* Decides this request's fault: returns 0 for none, an HTTP status to answer with, or
 * -1 for a hung response. */
int target_faults_pick(const struct target_faults *f);

/* ---- the target ------------------------------------------------------------------- */

struct target {
    struct target_options opt;
    char base_url[256]; /* http://host:port/scim/v2 (SCIM 1.1: /scim/v1) */
    struct http_server *srv;
    struct store *st;
    struct target_repo repo;
    struct target_auth auth;
    struct target_faults faults;
    struct target_service svc; /* the shared handlers over repo (target_repo_backend) */
    int64_t started_ms;
    atomic_uint_fast64_t requests[TM__COUNT];
    atomic_uint_fast64_t faulted;
    atomic_uint_fast64_t bulk_requests;   /* BulkRequests run (parsed) */
    atomic_uint_fast64_t bulk_operations; /* their operations */
    atomic_uint_fast64_t bulk_largest;    /* the most operations in one of them */
    atomic_int stopping;
    pthread_mutex_t hang_mu;
    pthread_cond_t hang_cv;
};

/* Checks req's credentials against the configured methods. Returns 0 when allowed
 * (or when no method is configured); otherwise fills res with 401, WWW-Authenticate
 * and a SCIM error body and returns -1. */
int target_auth_check(struct target *t, const struct http_request *req, struct http_response *res);

/* Serves POST /oauth/token (client credentials grant). */
void target_auth_token_endpoint(struct target *t, const struct http_request *req,
                                struct http_response *res);

/* Sets up and frees t->auth from t->opt. Errors: SC_ERR_INVALID naming the option. */
enum sc_err target_auth_init(struct target *t, struct sc_error *e);
void target_auth_free(struct target_auth *a);

/* The shared handlers' back-end over struct target's repository (resources.c); its
 * `be` is the struct target. */
extern const struct target_backend target_repo_backend;

#endif
