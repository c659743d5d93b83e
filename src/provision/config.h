/* The provisioning configuration's lifecycle (docs/api.md): connections (create, read,
 * list, change, delete, Test Connection and the capabilities it learnt) and rules
 * (create, read, list, change, delete, their user filter and attribute mapping). The
 * admin API only parses, calls these and answers; every business rule lives here:
 *
 *   - validation, in a fixed order, with errors naming the field (struct sc_error:
 *     code INVALID/CONFLICT/NOT_FOUND, field dotted: "scim.baseUrl", "filter.conditions");
 *   - a connection's secrets sealed at rest (provision/secrets.h) and never returned;
 *     its URLs checked against --allow-targets (http/allow.h);
 *   - a rule may be enabled only with a target connection that exists and is enabled and
 *     a user filter naming a population or group (rule_check_enable);
 *   - names unique (409 "name"); a connection a rule targets cannot be deleted (409);
 *   - each write opens and commits its own transaction, with its change event
 *     (connection.changed / rule.changed, detail {"resync", "change", "enabled"}:
 *     "resync" is true when the change must start a full resync of the enabled rules it
 *     concerns (SPEC §5.4), never for a name or description change), and with a rule's
 *     clear-on-unmap bookkeeping (rule_mapping_clears_update); the engine is woken once
 *     the commit went through.
 *
 * Every function runs on the caller's thread with the caller's store connection (no
 * transaction open on it) and, for Test Connection, blocks on the network. JSON given is
 * borrowed; JSON returned through an out-parameter is new and written only on success.
 * Errors always fill e (its code is the one returned); the messages are the API's. */
#ifndef SC_PROVISION_CONFIG_H
#define SC_PROVISION_CONFIG_H

#include "base/err.h"

#include <jansson.h>

struct store;

/* What a configuration call works with. The caller owns it and what it points to; it is
 * only borrowed for the call. */
struct provision_config_ctx {
    struct store *st;        /* the caller's connection: one thread, no transaction open */
    const char *key_path;    /* the secrets key file (secrets_key_shared), or NULL */
    void (*wake)(void *arg); /* tells the engine committed changes wait for it; may be
                                NULL; must be cheap and thread-safe */
    void *wake_arg;
};

/* ---- connections -------------------------------------------------------------- */

/* Lists connections in API shape (secrets masked), a page at a time: *items is a new
 * array, *next a new opaque cursor or NULL on the last page. Errors: SC_ERR_INVALID
 * (field "cursor": not one this server gave out), another code ("cannot list the
 * connections"). */
enum sc_err provision_connection_list(const struct provision_config_ctx *cx, const char *cursor,
                                      int limit, json_t **items, char **next, struct sc_error *e);

/* Creates a connection from body (a POST body: connection_doc_merge's rules, URLs within
 * --allow-targets), secrets sealed, with a connection.changed event ("created", resync
 * and enabled as the connection's enabled). *out is its API JSON (with "id"). Errors:
 * SC_ERR_INVALID (field named), SC_ERR_CONFLICT (field "name": taken), SC_ERR_INTERNAL
 * (the secrets key cannot be loaded), SC_ERR_BUSY / SC_ERR_DB. */
enum sc_err provision_connection_create(const struct provision_config_ctx *cx, const json_t *body,
                                        json_t **out, struct sc_error *e);

/* Reads connection id in API shape (secrets masked) into *out. Errors: SC_ERR_NOT_FOUND,
 * SC_ERR_INTERNAL (the stored row is unreadable), SC_ERR_DB. */
enum sc_err provision_connection_get(const struct provision_config_ctx *cx, const char *id,
                                     json_t **out, struct sc_error *e);

/* Merges patch (a PATCH body; "********" keeps a stored secret) over connection id and
 * stores the result with a connection.changed event ("updated"; resync when the
 * connection is enabled and its target settings changed or it was just enabled). A
 * patch that changes nothing writes nothing. When the stored secrets cannot be decrypted
 * with this server's key, they count as unset (so they must all be sent again, which
 * the error then says). *out is the API JSON after the change. Errors as
 * provision_connection_create, plus SC_ERR_NOT_FOUND, SC_ERR_CRYPTO. */
enum sc_err provision_connection_update(const struct provision_config_ctx *cx, const char *id,
                                        const json_t *patch, json_t **out, struct sc_error *e);

/* Deletes connection id (and its capabilities) with a connection.changed event
 * ("deleted"). Errors: SC_ERR_NOT_FOUND, SC_ERR_CONFLICT (a rule targets it: the message
 * names the rule and the connection), SC_ERR_BUSY / SC_ERR_DB. */
enum sc_err provision_connection_delete(const struct provision_config_ctx *cx, const char *id,
                                        struct sc_error *e);

/* Checks that the saved connection id can be tested: it exists and its secrets decrypt
 * with this server's key. The same checks, in the same order, as the start of
 * provision_connection_test, for a caller that must report them before a problem of
 * its own (a malformed request body). Errors: SC_ERR_INTERNAL (the secrets key cannot
 * be loaded), SC_ERR_NOT_FOUND, SC_ERR_CRYPTO, SC_ERR_DB. */
enum sc_err provision_connection_check(const struct provision_config_ctx *cx, const char *id,
                                       struct sc_error *e);

/* Test Connection on the saved connection id, or with edits (may be NULL: unsaved
 * changes of a PATCH body) merged over it: *report is the new report of
 * provision/conntest.h ({"ok", "steps"}). A merge refused for its base URL (field
 * "scim.baseUrl") is a report whose URL step failed, not an error. When the tested settings are
 * the saved ones, what the test learnt is stored as the connection's capabilities
 * (unless the connection changed meanwhile), with a connection.changed event
 * ("capabilities") when they differ from the stored ones; failing to store them is
 * only logged. Blocks for the test. Errors: those of provision_connection_check, then
 * SC_ERR_INVALID (field named: edits that do not merge), SC_ERR_NOMEM. */
enum sc_err provision_connection_test(const struct provision_config_ctx *cx, const char *id,
                                      const json_t *edits, json_t **report, struct sc_error *e);

/* Test Connection on an unsaved connection body (a POST body; it needs no name). When
 * body has the "id" of a saved connection, body is merged over it as a PATCH (so
 * "********" keeps the stored secrets) and what the test learns is stored as in
 * provision_connection_test when the settings are the saved ones. *report as
 * provision_connection_test's. Errors as provision_connection_test. */
enum sc_err provision_connection_test_unsaved(const struct provision_config_ctx *cx,
                                              const json_t *body, json_t **report,
                                              struct sc_error *e);

/* What Test Connection learnt of connection id's target, with the warnings of the rules
 * targeting it (provision_caps_api) into *out. Errors: SC_ERR_NOT_FOUND, SC_ERR_DB. */
enum sc_err provision_connection_capabilities(const struct provision_config_ctx *cx, const char *id,
                                              json_t **out, struct sc_error *e);

/* ---- rules -------------------------------------------------------------------- */

/* Lists rules in API shape (rule_to_api), a page at a time; cursor, *items and *next as
 * provision_connection_list. Errors: SC_ERR_INVALID (field "cursor"), another code
 * ("cannot list the rules"). */
enum sc_err provision_rule_list(const struct provision_config_ctx *cx, const char *cursor,
                                int limit, json_t **items, char **next, struct sc_error *e);

/* Creates a rule from body ({"name" (required), "description", "source": "directory",
 * "target", "enabled", "filter", "mappings" (default: mapping_defaults)}; "id",
 * "createdAt", "updatedAt" ignored when strings or null), checked in that order, the
 * enable conditions last when enabled; with a rule.changed event ("created", resync and
 * enabled as the rule's enabled). *out is its API JSON (rule_to_api, with "id").
 * Errors: SC_ERR_INVALID (field named; an unknown field names itself), SC_ERR_CONFLICT
 * (field "name": taken; field "enabled": the target connection is disabled),
 * SC_ERR_BUSY / SC_ERR_DB. */
enum sc_err provision_rule_create(const struct provision_config_ctx *cx, const json_t *body,
                                  json_t **out, struct sc_error *e);

/* Reads rule id in API shape (rule_to_api) into *out. Errors: SC_ERR_NOT_FOUND,
 * SC_ERR_DB. */
enum sc_err provision_rule_get(const struct provision_config_ctx *cx, const char *id, json_t **out,
                               struct sc_error *e);

/* Applies patch (the fields of provision_rule_create) to rule id. The enable conditions
 * are checked when the rule gets enabled, or its target or filter change while it is (a
 * rename never fails because its connection was disabled). A patch that changes nothing
 * writes nothing; otherwise the rule is stored with a rule.changed event ("updated";
 * resync when the rule is enabled and its target, filter or mapping changed or it was
 * just enabled) and, when the mapping changed, the clear-on-unmap bookkeeping. *out is
 * the API JSON after the change. Errors as provision_rule_create, plus
 * SC_ERR_NOT_FOUND. */
enum sc_err provision_rule_update(const struct provision_config_ctx *cx, const char *id,
                                  const json_t *patch, json_t **out, struct sc_error *e);

/* Deletes rule id with a rule.changed event ("deleted"). Errors: SC_ERR_NOT_FOUND,
 * SC_ERR_BUSY / SC_ERR_DB. */
enum sc_err provision_rule_delete(const struct provision_config_ctx *cx, const char *id,
                                  struct sc_error *e);

/* Reads rule id's user filter into *out (JSON null when none is set). Errors as
 * provision_rule_get. */
enum sc_err provision_rule_filter_get(const struct provision_config_ctx *cx, const char *id,
                                      json_t **out, struct sc_error *e);

/* Sets rule id's user filter to filter (checked: it must compile and name a population
 * or group; fields "conditions[0].value"-style), as provision_rule_update does with
 * {"filter": filter}. *out is the filter stored. Errors as provision_rule_update. */
enum sc_err provision_rule_filter_put(const struct provision_config_ctx *cx, const char *id,
                                      const json_t *filter, json_t **out, struct sc_error *e);

/* Reads rule id's mapping rows (a JSON array) into *out. Errors as provision_rule_get. */
enum sc_err provision_rule_mappings_get(const struct provision_config_ctx *cx, const char *id,
                                        json_t **out, struct sc_error *e);

/* Replaces rule id's mapping with rows (any JSON value; checked by mapping_compile,
 * fields "mappings[2].source"-style), as provision_rule_update does with {"mappings": rows}.
 * *out is the mapping stored. Errors as provision_rule_update. */
enum sc_err provision_rule_mappings_put(const struct provision_config_ctx *cx, const char *id,
                                        const json_t *rows, json_t **out, struct sc_error *e);

#endif
