/* Provisioning rules (SPEC §4): name, description, source (the directory), target
 * connection, enabled, user filter (directory/userfilter.h) and attribute mapping
 * (provision/mapping.h); the rules that decide when a rule may be enabled; and the
 * compiled form the engine runs: a rule with its connection (secrets decrypted), its
 * compiled filter and its compiled mapping. */
#ifndef SC_PROVISION_RULE_H
#define SC_PROVISION_RULE_H

#include "base/err.h"
#include "base/id.h"
#include "store/store.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct connection;
struct mapping;
struct secrets_key;
struct userfilter;

#define RULE_NAME_MAX 256
#define RULE_DESCRIPTION_MAX 4096

/* A rule as stored. Strings owned; free with rule_clear. */
struct rule {
    char id[SC_UUID_LEN + 1];
    char *name;
    char *description;            /* "" when none */
    char target[SC_UUID_LEN + 1]; /* the connection id, "" when none */
    int enabled;
    json_t *filter;   /* the user filter JSON, or NULL when none is set */
    json_t *mappings; /* the mapping rows (a JSON array) */
    int64_t created_at, updated_at;
};

/* A rule ready to run. Everything owned by it; immutable once loaded. */
struct rule_compiled {
    struct rule rule;
    struct connection *conn;   /* the target connection, secrets decrypted */
    struct userfilter *filter; /* compiled user filter (never NULL for an enabled rule) */
    struct mapping *mapping;   /* compiled mapping */
};

/* Frees what r holds (not r itself). */
void rule_clear(struct rule *r);

/* Returns the API JSON (new) of r: {"id","name","description","source":"directory",
 * "target": id or null,"enabled","createdAt","updatedAt"}. */
json_t *rule_to_api(const struct rule *r);

/* Loads a rule. Errors: SC_ERR_NOT_FOUND, SC_ERR_DB. r is filled only on success. */
enum sc_err rule_get(struct store *st, const char *id, struct rule *r, struct sc_error *e);

/* Checks that r may be (or stay) enabled: a target is set (400 "target"), the target
 * connection exists and is enabled (409 naming the connection by name, field
 * "enabled"), and the filter is set, valid and names a population or group (400
 * "filter"). Errors as said, SC_ERR_DB. */
enum sc_err rule_check_enable(struct store *st, const struct rule *r, struct sc_error *e);

/* Compiles one rule: loads its connection with decrypted secrets, compiles the filter
 * and the mapping. The rule's enabled flag is not checked (the engine decides).
 * *out is new (rule_compiled_free). Errors: SC_ERR_NOT_FOUND (no such rule, or no
 * target connection: message says which), SC_ERR_INVALID (no filter; a stored filter or
 * mapping that no longer compiles), SC_ERR_CRYPTO, SC_ERR_DB. */
enum sc_err rule_compile(struct store *st, const struct secrets_key *k, const char *id,
                         struct rule_compiled **out, struct sc_error *e);

/* Loads and compiles every rule that is enabled and whose connection is enabled. A rule
 * that fails to compile is skipped with a warning in the log (and counted in
 * *skipped when not NULL). *out is a new array of *n pointers (rule_compiled_free_all);
 * possibly empty (*out NULL, *n 0). Errors: SC_ERR_DB, SC_ERR_NOMEM. */
enum sc_err rule_load_enabled(struct store *st, const struct secrets_key *k,
                              struct rule_compiled ***out, size_t *n, size_t *skipped,
                              struct sc_error *e);

/* A rule's mapping goes from old_rows to new_rows (both valid): rows of old_rows marked
 * clearOnUnmap whose SCIM path new_rows no longer maps join the rule's list of
 * attributes to clear on the target (the engine removes them from each linked account
 * once), and paths new_rows maps leave it. Call in the transaction that saves the rule.
 * Errors: SC_ERR_DB, SC_ERR_NOMEM. */
enum sc_err rule_mapping_clears_update(struct store *st, const char *rule_id,
                                       const json_t *old_rows, const json_t *new_rows,
                                       struct sc_error *e);

/* Frees rc. NULL is a no-op. */
void rule_compiled_free(struct rule_compiled *rc);

/* Frees an array from rule_load_enabled and its rules. */
void rule_compiled_free_all(struct rule_compiled **v, size_t n);

#endif
