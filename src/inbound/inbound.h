/* Inbound SCIM: scimitar serve as a SCIM 2.0 service provider for its own directory
 * (/scim/v2), so an identity provider (Entra ID, Okta, ...) provisions users and groups
 * into scimitar and the rules fan them out. The protocol is the shared handlers of
 * `scimitar target` (target/service.h) over a back-end on the directory: SCIM Users are
 * directory users (the same rows the REST API and the rules see), mapped by the inverse
 * of the alias table; SCIM Groups are directory groups with their direct members. The
 * attributes the directory has no field for are kept as sent beside the user or group
 * (store/store_inbound.h) and served back. Access is by inbound tokens, stored as
 * SHA-256 hashes, each bound to a population (users created through it join it; it sees
 * and changes only users of it) and a scope (read or write). Runs on the caller's thread
 * with the caller's store connection. */
#ifndef SC_INBOUND_INBOUND_H
#define SC_INBOUND_INBOUND_H

#include "base/err.h"
#include "base/id.h"

#include <jansson.h>
#include <stdint.h>

struct store;
struct http_request;
struct http_response;

#define INBOUND_PREFIX "/scim/v2"
#define INBOUND_TOKEN_TOUCH_MS 60000 /* a token's last use is written at most this often */
#define INBOUND_TOKENS_MAX 100

/* Who is calling: the token that authenticated the request. */
struct inbound_auth {
    char token_id[SC_UUID_LEN + 1];
    char name[65];                       /* the token's name: the source of users it makes */
    char population_id[SC_UUID_LEN + 1]; /* the population it sees and creates users in */
    int write;                           /* scope "write": it may change things */
};

/* Creates the inbound token name (1 to 64 printable characters, unique; field "name")
 * for population (a population id or name; field "population") with scope "read" or
 * "write" (field "scope"), and source_connection (NULL: none), the connection that is the
 * source's own (see inbound_token_set_source). *out is new: {"id", "name", "population":
 * {"id", "name"}, "scope", "sourceConnection", "createdAt", "lastUsedAt", "prefix",
 * "token"}; "token" is its only copy (only
 * its hash is stored). Errors: SC_ERR_INVALID (field named), SC_ERR_CONFLICT (name taken;
 * INBOUND_TOKENS_MAX tokens exist), the store's. */
enum sc_err inbound_token_create(struct store *st, const char *name, const char *population,
                                 const char *scope, const char *source_connection, int64_t now,
                                 json_t **out, struct sc_error *e);

/* *out = a new array of every inbound token, oldest first, without the token or its
 * hash. Errors: the store's. */
enum sc_err inbound_token_list(struct store *st, json_t **out, struct sc_error *e);

/* Revokes inbound token id. Errors: SC_ERR_NOT_FOUND, the store's. */
enum sc_err inbound_token_revoke(struct store *st, const char *id, struct sc_error *e);

/* Checks an Authorization header value ("Bearer <token>") against the stored inbound
 * tokens (by SHA-256 hash) at now, filling *a. Returns 0 when it names one, -1 when not
 * (or when the database cannot say: *db_down = 1 then). The token's last use is written
 * at most once per INBOUND_TOKEN_TOUCH_MS. */
int inbound_token_check(struct store *st, const char *authorization, int64_t now,
                        struct inbound_auth *a, int *db_down);

/* Serves one request below /scim/v2 (path is what follows it, "/" at least) for the
 * caller a, on st: Users and Groups over the directory, /Bulk, the discovery documents.
 * A token of scope "read" gets 403 for writes. *changed is set to 1 when the directory
 * was changed (the caller wakes the engine). */
void inbound_serve(struct store *st, const struct inbound_auth *a, const struct http_request *req,
                   const char *path, struct http_response *res, int *changed);

/* Sets (connection_id a connection's id) or clears (NULL or "") the connection that is
 * token id's source's own. Errors: SC_ERR_INVALID ("sourceConnection": no such
 * connection), SC_ERR_CONFLICT ("sourceConnection": a rule towards it takes in the
 * token's population, see inbound_loop_check_token), SC_ERR_NOT_FOUND, the store's. */
enum sc_err inbound_token_set_source(struct store *st, const char *id, const char *connection_id,
                                     struct sc_error *e);

/* Loop safety. A connection that is an inbound token's source's own may not be the
 * target of a rule whose filter may take in the token's population.
 * inbound_loop_check_rule: filter (a rule's filter spec) towards connection_id;
 * SC_ERR_CONFLICT naming field when some token forbids it.
 * inbound_loop_check_token: every rule towards connection_id against population_id;
 * SC_ERR_CONFLICT naming "sourceConnection".
 * inbound_loop_check_rule_change: the rule rule_id (NULL for a new rule) with its filter
 * or target replaced (NULL = the stored one); SC_OK when the rule does not exist.
 * Errors also: the store's. */
enum sc_err inbound_loop_check_rule(struct store *st, const char *connection_id,
                                    const json_t *filter, const char *field, struct sc_error *e);
enum sc_err inbound_loop_check_token(struct store *st, const char *connection_id,
                                     const char *population_id, struct sc_error *e);
enum sc_err inbound_loop_check_rule_change(struct store *st, const char *rule_id,
                                           const json_t *filter, const char *target,
                                           struct sc_error *e);

/* Sets "source" on a directory user in API shape: {"kind": "scim", "token": name} for a
 * user an inbound token created, {"kind": "import"} for one an import made (POST
 * /api/v1/users/import), {"kind": "api"} for the others (made through the REST API or
 * the console, or whose source cannot be read). inbound_user_sources does it for every
 * user of an array. */
void inbound_user_source(struct store *st, json_t *user);
void inbound_user_sources(struct store *st, json_t *users);

/* Imports users (POST /api/v1/users/import): directory_users_import, and the import
 * recorded as the source of every user it stores, in one transaction: the users are
 * stored with their source or not at all. *created and *rejected (new) as
 * directory_users_import. Errors: directory_users_import's (e filled; nothing stored),
 * and the store's when the source cannot be recorded (nothing stored). */
enum sc_err inbound_users_import(struct store *st, const json_t *users, size_t *created,
                                 json_t **rejected, struct sc_error *e);

/* Answers res with a SCIM 401 (WWW-Authenticate: Bearer) or, when db_down, a 503. */
void inbound_refuse(struct http_response *res, int db_down);

#endif
