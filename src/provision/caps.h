/* What scimitar knows of a connection's target (its capabilities): what Test Connection
 * read from /ServiceProviderConfig, /ResourceTypes and /Schemas and found by probing
 * (filters honoured, userName look-up case, listing in pages), and facts the engine
 * learnt while sending ("learnt"). One JSON document per connection, in the store
 * (store_connection_caps_*), deleted with the connection:
 *
 *   {"connectionId", "testedAt": ISO-8601 | null, "scimVersion": "2.0" | "1.1" | null,
 *    "serviceProviderConfig": bool (served), "patch": bool | null,
 *    "bulk": {"supported", "maxOperations", "maxPayloadSize"} | null,
 *    "filter": {"supported", "maxResults", "honoured": bool | null} | null,
 *    "etag", "sort", "changePassword": bool | null, "listing": bool | null,
 *    "userNameCaseInsensitive": bool | null, "resourceTypes": bool (served),
 *    "usersEndpoint": "/Users" | null, "schemas": bool (served),
 *    "userAttributes": ["userName", "name.givenName", "emails.value",
 *                       "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
 *                       ...] | null,
 *    "learnt": {"<key>": <value>, ...}}
 *
 * Facts learnt: "filterHonoured": false (a look-up answered only other accounts),
 * "userNameCaseInsensitive": false (a look-up missed an account a search found), "bulk":
 * {"supported": false, "status", "reason"} (the target refused a Bulk request or left
 * operations out of its answer: the engine sends writes alone until a test finds Bulk
 * offered again).
 *
 * null means unknown. The API adds "warnings": the mapped target attributes of the
 * rules targeting the connection that userAttributes does not declare, computed from
 * the current mappings each time it is read. */
#ifndef SC_PROVISION_CAPS_H
#define SC_PROVISION_CAPS_H

#include "base/err.h"
#include "store/store.h"

#include <jansson.h>
#include <stdint.h>

/* Returns a new document with every field unknown (null; "serviceProviderConfig",
 * "resourceTypes" and "schemas" false; "learnt" {}), for connection_id (may be NULL:
 * "connectionId" null). NULL only when out of memory. */
json_t *provision_caps_empty(const char *connection_id);

/* Reads the capabilities of connection_id into *out (new): the stored document (with
 * any field it lacks added as unknown), or provision_caps_empty's when none is stored
 * (also for an id no connection has: check the connection first when that matters).
 * No "warnings". Errors: SC_ERR_DB, SC_ERR_NOMEM. */
enum sc_err provision_caps_get(struct store *st, const char *connection_id, json_t **out);

/* Merges one fact into the document's "learnt" object: learnt[key] = value (borrowed;
 * value NULL or JSON null removes the key), creating the document when none is stored.
 * Runs inside the caller's transaction when one is open on st, else in its own. Writes
 * no change event. Errors: SC_ERR_INVALID (key empty or longer than 128 bytes),
 * SC_ERR_NOT_FOUND (no such connection), SC_ERR_BUSY, SC_ERR_DB, SC_ERR_NOMEM. */
enum sc_err provision_caps_learn(struct store *st, const char *connection_id, const char *key,
                                 json_t *value);

/* Stores what a Test Connection found (found: a document shaped as above; its
 * "connectionId", "testedAt" and "learnt" are ignored) as connection_id's capabilities,
 * tested at now_ms, keeping the stored "learnt" except a learnt "bulk" (the engine's
 * record that the target refused Bulk requests) when found says Bulk is supported: that
 * one is dropped, so the engine tries Bulk again. Sets *changed (may be NULL) to 1 when
 * anything but testedAt differs from the stored document (or none was stored), or the
 * learnt "bulk" was dropped. Must run
 * inside the caller's transaction (with the change event it writes when *changed).
 * Errors: SC_ERR_NOT_FOUND (no such connection), SC_ERR_DB, SC_ERR_NOMEM. */
enum sc_err provision_caps_store(struct store *st, const char *connection_id, const json_t *found,
                                 int64_t now_ms, int *changed);

/* Reads the rules that target connection_id as a new array *out of {"id", "name",
 * "mappings", "groups"} (their current mapping rows; groups: whether the rule pushes groups), in
 * creation order. Errors: SC_ERR_DB, SC_ERR_NOMEM. */
enum sc_err provision_caps_rules(struct store *st, const char *connection_id, json_t **out);

/* Returns a new array of warnings, one per mapping row of rules (as from
 * provision_caps_rules) whose target attribute user_attributes (the "userAttributes"
 * of a document) does not declare: {"ruleId", "ruleName", "row" (0-based), "target"
 * (as written), "path" (the declared form looked for, e.g. "addresses.locality"),
 * "message"}. Common attributes (id, externalId, meta) are never reported: a target
 * does not list them in its User schema. A complex attribute declared without any
 * sub-attribute counts as declaring them all. user_attributes not an array: none. */
json_t *provision_caps_warnings(const json_t *user_attributes, const json_t *rules);

/* Returns the API form (new) of connection_id's capabilities: provision_caps_get's
 * document with "warnings" computed from the current mappings of the rules targeting
 * the connection. Errors as provision_caps_get and provision_caps_rules. */
enum sc_err provision_caps_api(struct store *st, const char *connection_id, json_t **out);

#endif
