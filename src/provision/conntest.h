/* Test Connection (SPEC §3): runs the checks an administrator needs before trusting a
 * connection and reports each step: URL, DNS, Connect (TCP), TLS (https only),
 * Authentication (for client credentials the token is fetched first), Users (a GET of
 * the users resource with a filter that matches no one, expecting a ListResponse) and
 * ServiceProviderConfig (PATCH, filter, bulk, ETag, sort and changePassword support,
 * when the target serves it; SCIM 1.1's /ServiceProviderConfigs too). The report stops
 * at the first step that fails; each failure says what to fix. Then the discovery
 * steps, which never fail (a step with "warning": true says what to know):
 * ResourceTypes, Schemas (the User schema's attributes and the extensions'), Filter
 * (whether the query that matched no one answered no one), Listing (GET
 * {users}?startIndex=1&count=1), UserNameCase (an existing account looked up with its
 * userName in swapped case) and Mapping (one warning per mapped attribute of the
 * rules given that the User schema does not declare). The requests after the Users
 * step share CONNTEST_DISCOVERY_MS: past it, a step says what it could not learn
 * (status 0). No detail ever contains a
 * secret: each is masked (connection_error_text) before it is cut. Blocking (uses
 * http/client.h). */
#ifndef SC_PROVISION_CONNTEST_H
#define SC_PROVISION_CONNTEST_H

#include <jansson.h>

struct connection;

/* Step names, stable for clients. */
#define CONNTEST_STEP_URL "URL"
#define CONNTEST_STEP_DNS "DNS"
#define CONNTEST_STEP_CONNECT "Connect"
#define CONNTEST_STEP_TLS "TLS"
#define CONNTEST_STEP_AUTH "Authentication"
#define CONNTEST_STEP_USERS "Users"
#define CONNTEST_STEP_SPC "ServiceProviderConfig"
#define CONNTEST_STEP_RESOURCE_TYPES "ResourceTypes"
#define CONNTEST_STEP_SCHEMAS "Schemas"
#define CONNTEST_STEP_FILTER "Filter"
#define CONNTEST_STEP_LISTING "Listing"
#define CONNTEST_STEP_CASE "UserNameCase"
#define CONNTEST_STEP_MAPPING "Mapping"
#define CONNTEST_STEP_GROUPS "Groups" /* only when a rule pushes groups to the connection */

/* Schema URNs the discovery looks for (SCIM 2.0 and 1.1). */
#define CONNTEST_URN_USER "urn:ietf:params:scim:schemas:core:2.0:User"
#define CONNTEST_URN_USER_11 "urn:scim:schemas:core:1.0"
#define CONNTEST_URN_ENTERPRISE "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define CONNTEST_URN_ENTERPRISE_11 "urn:scim:schemas:extension:enterprise:1.0"

#define CONNTEST_MAX_ATTRS 2000       /* declared attribute paths kept */
#define CONNTEST_MAX_MAPPING_STEPS 20 /* Mapping warnings listed, then a count */
#define CONNTEST_DISCOVERY_MS 20000   /* all requests after the Users step, together */

/* Tests c and returns the report (new): {"ok": bool, "steps": [{"name", "ok",
 * "warning", "detail"}]}. timeout_ms bounds each request (0 = 10000). rules (may be
 * NULL) are the rules targeting the connection, as provision_caps_rules gives them, for
 * the Mapping step, and for the Groups step when one of them has "groups": true (it
 * pushes groups: GET of the Groups resource must answer a ListResponse). When caps_out is not NULL
 * it receives what was learnt of the target (a new capabilities document of provision/caps.h
 * without connectionId, testedAt and learnt) once the test got past the Users step, else NULL. NULL
 * only when out of memory. Frees the calling thread's HTTP client handle when done (it runs on API
 * worker threads, which never exit through the client). */
json_t *conntest_run_caps(const struct connection *c, long timeout_ms, const json_t *rules,
                          json_t **caps_out);

/* conntest_run_caps without rules or capabilities. */
json_t *conntest_run(const struct connection *c, long timeout_ms);

#endif
