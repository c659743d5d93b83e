/* Storage of the provisioning configuration: connections (name, enabled, and the
 * configuration document with its secrets already sealed by the caller), what was
 * learnt of each connection's target (its capabilities document, provision/caps.h) and
 * rules (name, description, target connection, enabled, user filter and mapping as JSON
 * text). Names are unique, case-insensitively, among connections and among rules. A
 * connection targeted by a rule cannot be deleted. Lists are ordered by creation and
 * paged with an opaque cursor. */
#ifndef SC_STORE_PROVISION_H
#define SC_STORE_PROVISION_H

#include "base/err.h"
#include "base/id.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

#define STORE_CURSOR_MAX 96

struct store_connection {
    char id[SC_UUID_LEN + 1];
    char *name;
    int enabled;
    char *config; /* JSON text of the sealed document */
    int64_t created_at, updated_at;
};

struct store_rule {
    char id[SC_UUID_LEN + 1];
    char *name;
    char *description;
    char target_id[SC_UUID_LEN + 1]; /* "" when none */
    int enabled;
    char *filter;   /* JSON text, or NULL when none */
    char *mappings; /* JSON text of the rows array */
    int64_t created_at, updated_at;
};

/* Frees what c / r hold (not the struct). */
void store_connection_clear(struct store_connection *c);
void store_rule_clear(struct store_rule *r);

/* Inserts c (every field set by the caller). Errors: SC_ERR_CONFLICT (name taken),
 * SC_ERR_DB. */
enum sc_err store_connection_insert(struct store *st, const struct store_connection *c);

/* Replaces the stored row c->id (name, enabled, config, updated_at). Errors:
 * SC_ERR_NOT_FOUND, SC_ERR_CONFLICT (name taken), SC_ERR_DB. */
enum sc_err store_connection_update(struct store *st, const struct store_connection *c);

/* Reads connection id into *out (filled only on success). Errors: SC_ERR_NOT_FOUND,
 * SC_ERR_DB. */
enum sc_err store_connection_get(struct store *st, const char *id, struct store_connection *out);

/* Reads up to limit connections after cursor (NULL = from the start) in creation order.
 * *out is a new array of *n (store_connections_free); next_cursor (size
 * STORE_CURSOR_MAX) receives the cursor of the next page, or "" when this is the last.
 * Errors: SC_ERR_INVALID (malformed cursor, field "cursor"), SC_ERR_DB. */
enum sc_err store_connection_list(struct store *st, const char *cursor, int limit,
                                  struct store_connection **out, size_t *n, char *next_cursor);
void store_connections_free(struct store_connection *v, size_t n);

/* Deletes connection id. Errors: SC_ERR_NOT_FOUND, SC_ERR_CONFLICT (a rule targets it:
 * check first with store_rule_targeting), SC_ERR_DB. */
enum sc_err store_connection_delete(struct store *st, const char *id);

/* Writes into *name_out (new string) the name of a rule that targets connection_id.
 * Errors: SC_ERR_NOT_FOUND when none does, SC_ERR_DB. */
enum sc_err store_rule_targeting(struct store *st, const char *connection_id, char **name_out);

/* Rules: as the connection functions. insert/update errors also SC_ERR_INVALID when
 * target_id names no connection. */
enum sc_err store_rule_insert(struct store *st, const struct store_rule *r);
enum sc_err store_rule_update(struct store *st, const struct store_rule *r);
enum sc_err store_rule_get(struct store *st, const char *id, struct store_rule *out);
enum sc_err store_rule_list(struct store *st, const char *cursor, int limit,
                            struct store_rule **out, size_t *n, char *next_cursor);
void store_rules_free(struct store_rule *v, size_t n);
enum sc_err store_rule_delete(struct store *st, const char *id);

/* Reads the ids of every enabled rule whose target connection is enabled, in creation
 * order. *ids is a new array of *n ids (free() it). Errors: SC_ERR_DB. */
enum sc_err store_rule_enabled_ids(struct store *st, char (**ids)[SC_UUID_LEN + 1], size_t *n);

/* Capabilities of a connection's target: one JSON text per connection, deleted with the
 * connection. store_connection_caps_get writes a new string into *doc (free it) and
 * the time it was written into *updated_at (may be NULL). Errors: SC_ERR_NOT_FOUND
 * (none stored), SC_ERR_DB. store_connection_caps_put inserts or replaces it. Errors:
 * SC_ERR_NOT_FOUND (no such connection), SC_ERR_DB. */
enum sc_err store_connection_caps_get(struct store *st, const char *connection_id, char **doc,
                                      int64_t *updated_at);
enum sc_err store_connection_caps_put(struct store *st, const char *connection_id, const char *doc,
                                      int64_t updated_at);

/* Reads the ids of every rule that targets connection_id. As store_rule_enabled_ids. */
enum sc_err store_rule_ids_by_target(struct store *st, const char *connection_id,
                                     char (**ids)[SC_UUID_LEN + 1], size_t *n);

#endif
