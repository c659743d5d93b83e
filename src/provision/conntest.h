/* Test Connection (SPEC §3): runs the checks an administrator needs before trusting a
 * connection and reports each step: URL, DNS, Connect (TCP), TLS (https only),
 * Authentication (for client credentials the token is fetched first), Users (a GET of
 * the users resource with a filter that matches no one, expecting a ListResponse) and
 * ServiceProviderConfig (PATCH, filter and bulk support, when the target serves it).
 * The report stops at the first step that fails; each failure says what to fix. No
 * detail ever contains a secret. Blocking (uses http/client.h). */
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

/* Tests c and returns the report (new): {"ok": bool, "steps": [{"name", "ok",
 * "detail"}]}. timeout_ms bounds each request (0 = 10000). NULL only when out of
 * memory. Frees the calling thread's HTTP client handle when done (it runs on API
 * worker threads, which never exit through the client). */
json_t *conntest_run(const struct connection *c, long timeout_ms);

#endif
