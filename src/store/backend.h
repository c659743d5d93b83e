/* The back-end seam of the store: what a connection of any back-end starts with, and
 * the tables of operations a back-end (SQLite in sqlite*.c, PostgreSQL in pg*.c)
 * implements. store.c chooses the back-end by the DSN's scheme at store_open, and every
 * public store_* function calls through st->be: one indirect call. Functions that touch
 * no database (freeing results, the pool, the engine cursor over settings) live in
 * store.c once for all back-ends. Nothing outside src/store/ includes this file. */
#ifndef SC_STORE_BACKEND_H
#define SC_STORE_BACKEND_H

#include "base/err.h"
#include "base/id.h"
#include "store/store.h"
#include "store/store_admin.h"
#include "store/store_copy.h"
#include "store/store_directory.h"
#include "store/store_events.h"
#include "store/store_inbound.h"
#include "store/store_groupsync.h"
#include "store/store_provision.h"
#include "store/store_sync.h"
#include "store/store_target.h"

#include <stddef.h>
#include <stdint.h>

/* The head of every back-end's connection struct (which embeds it first). */
struct store {
    const struct store_backend *be;
    char *dsn;
    int in_tx;               /* a transaction opened by store_begin is open */
    struct store *next_free; /* pool free list */
};

/* One table per component: each field has the contract of the store_* function of the
 * same name (store_events.h, store_directory.h, store_provision.h, store_sync.h without
 * its "sync_" prefix, store_admin.h without its "admin_" prefix, store_target.h without its
 * "target_" prefix). */
struct store_events_ops {
    enum sc_err (*event_append)(struct store *st, const char *kind, const char *object_id,
                                const char *detail);
    enum sc_err (*events_after)(struct store *st, int64_t after, size_t limit,
                                struct store_event **out, size_t *n);
    enum sc_err (*events_last_seq)(struct store *st, int64_t *seq);
    enum sc_err (*events_prune)(struct store *st, int64_t upto);
};

struct store_directory_ops {
    enum sc_err (*population_insert)(struct store *st, const json_t *p);
    enum sc_err (*population_get)(struct store *st, const char *id, json_t **out);
    enum sc_err (*population_find)(struct store *st, const char *name, json_t **out);
    enum sc_err (*population_update)(struct store *st, const json_t *p);
    enum sc_err (*population_delete)(struct store *st, const char *id);
    enum sc_err (*population_list)(struct store *st, const char *after_name, int limit,
                                   json_t **items);
    enum sc_err (*user_insert)(struct store *st, const json_t *u);
    enum sc_err (*users_insert_many)(struct store *st, const json_t *users, enum sc_err *row_err,
                                     size_t *stored);
    enum sc_err (*user_get)(struct store *st, const char *id, json_t **out);
    enum sc_err (*user_update)(struct store *st, const json_t *u);
    enum sc_err (*user_delete)(struct store *st, const char *id, const char *detail);
    enum sc_err (*user_list)(struct store *st, const struct store_user_query *q, json_t **items);
    enum sc_err (*users_after_id)(struct store *st, const char *after_id, int limit,
                                  json_t **items);
    enum sc_err (*user_get_digest)(struct store *st, const char *id, json_t **out, uint64_t *digest,
                                   struct store_user_origin *origin);
    enum sc_err (*user_digest_each)(struct store *st,
                                    int (*fn)(void *arg, const char *id, uint64_t digest),
                                    void *arg);
    enum sc_err (*user_digest_page)(struct store *st, const char *after_id, size_t max,
                                    int (*fn)(void *arg, const struct store_user_digest *u),
                                    void *arg, size_t *n);
    enum sc_err (*user_count)(struct store *st, long long *n);
    enum sc_err (*user_direct_groups)(struct store *st, const char *user_id, json_t **out);
    enum sc_err (*group_insert)(struct store *st, const json_t *g);
    enum sc_err (*group_get)(struct store *st, const char *id, json_t **out);
    enum sc_err (*group_find)(struct store *st, const char *name, json_t **out);
    enum sc_err (*group_update)(struct store *st, const json_t *g, const char *detail);
    enum sc_err (*group_delete)(struct store *st, const char *id, const char *detail);
    enum sc_err (*group_list)(struct store *st, const char *after_name, int limit, json_t **items);
    enum sc_err (*group_member_add)(struct store *st, const char *group_id, const char *user_id,
                                    const char *member_group_id, int *cycle);
    enum sc_err (*group_member_remove)(struct store *st, const char *group_id,
                                       const char *member_id);
    enum sc_err (*group_members)(struct store *st, const char *group_id, const char *after_type,
                                 const char *after_key, int limit, json_t **out);
    enum sc_err (*group_tree_dynamic)(struct store *st, const char *group_id, int *dynamic);
    enum sc_err (*group_tree_users)(struct store *st, const char *group_id, const char *after_id,
                                    int limit, json_t **out);
    enum sc_err (*directory_scan)(struct store *st, const struct store_directory_scan_fns *fns,
                                  void *arg);
};

struct store_provision_ops {
    enum sc_err (*connection_insert)(struct store *st, const struct store_connection *c);
    enum sc_err (*connection_update)(struct store *st, const struct store_connection *c);
    enum sc_err (*connection_get)(struct store *st, const char *id, struct store_connection *out);
    enum sc_err (*connection_list)(struct store *st, const char *cursor, int limit,
                                   struct store_connection **out, size_t *n, char *next_cursor);
    /* the row only: store_connection_delete has checked that no rule targets it */
    enum sc_err (*connection_delete)(struct store *st, const char *id);
    enum sc_err (*rule_targeting)(struct store *st, const char *connection_id, char **name_out);
    enum sc_err (*rule_insert)(struct store *st, const struct store_rule *r);
    enum sc_err (*rule_update)(struct store *st, const struct store_rule *r);
    enum sc_err (*rule_get)(struct store *st, const char *id, struct store_rule *out);
    enum sc_err (*rule_list)(struct store *st, const char *cursor, int limit,
                             struct store_rule **out, size_t *n, char *next_cursor);
    enum sc_err (*rule_delete)(struct store *st, const char *id);
    enum sc_err (*rule_enabled_ids)(struct store *st, char (**ids)[SC_UUID_LEN + 1], size_t *n);
    enum sc_err (*connection_caps_get)(struct store *st, const char *connection_id, char **doc,
                                       int64_t *updated_at);
    enum sc_err (*connection_caps_put)(struct store *st, const char *connection_id, const char *doc,
                                       int64_t updated_at);
    enum sc_err (*rule_ids_by_target)(struct store *st, const char *connection_id,
                                      char (**ids)[SC_UUID_LEN + 1], size_t *n);
};

struct store_groupsync_ops {
    enum sc_err (*config_get)(struct store *st, const char *rule_id, char **out);
    enum sc_err (*config_put)(struct store *st, const char *rule_id, const char *json);
    enum sc_err (*link_get)(struct store *st, const char *rule_id, const char *group_id,
                            struct store_group_link *out);
    enum sc_err (*link_put)(struct store *st, const struct store_group_link *l);
    enum sc_err (*link_delete)(struct store *st, const char *rule_id, const char *group_id);
    enum sc_err (*link_each)(struct store *st, const char *rule_id,
                             int (*fn)(void *arg, const struct store_group_link *l), void *arg);
    enum sc_err (*members_each)(struct store *st, const char *rule_id, const char *group_id,
                                int (*fn)(void *arg, const char *target_member_id,
                                          const char *member_id, const char *kind),
                                void *arg);
    enum sc_err (*member_put)(struct store *st, const char *rule_id, const char *group_id,
                              const char *target_member_id, const char *member_id,
                              const char *kind);
    enum sc_err (*member_delete)(struct store *st, const char *rule_id, const char *group_id,
                                 const char *target_member_id);
    enum sc_err (*members_clear)(struct store *st, const char *rule_id, const char *group_id);
    enum sc_err (*member_groups)(struct store *st, const char *rule_id, const char *member_id,
                                 int (*fn)(void *arg, const char *group_id), void *arg);
    enum sc_err (*user_target)(struct store *st, const char *rule_id, const char *user_id,
                               char *target, size_t cap, int *found);
    enum sc_err (*counts)(struct store *st, const char *rule_id,
                          struct store_groupsync_counts *out);
    enum sc_err (*forget)(struct store *st, const char *rule_id);
};

struct store_sync_ops {
    enum sc_err (*link_get)(struct store *st, const char *rule_id, const char *user_id,
                            struct store_sync_link *out);
    enum sc_err (*link_put)(struct store *st, const struct store_sync_link *l);
    enum sc_err (*link_put_unlinked)(struct store *st, const struct store_sync_link *l,
                                     int64_t since_ms, int *written);
    enum sc_err (*link_set_found)(struct store *st, const struct store_sync_link *l,
                                  uint64_t expect_digest, int *written);
    enum sc_err (*link_set_source)(struct store *st, const char *rule_id, const char *user_id,
                                   uint64_t digest, uint64_t source);
    enum sc_err (*link_page)(struct store *st, const char *rule_id, const char *after_user_id,
                             size_t max, int (*fn)(void *arg, const struct store_sync_link *l),
                             void *arg, size_t *n);
    enum sc_err (*link_list)(struct store *st, const char *rule_id, int limit, const char *cursor,
                             json_t *items, char **next);
    enum sc_err (*link_counts)(struct store *st, const char *rule_id,
                               struct store_sync_counts *out);
    enum sc_err (*outbox_touch)(struct store *st, const char *rule_id, const char *user_id,
                                int flags, int lane, int64_t not_before);
    enum sc_err (*outbox_lease)(struct store *st, const char *owner, const char *rule_id,
                                int64_t now, int64_t lease_ms, size_t max,
                                struct store_sync_item **out, size_t *n);
    enum sc_err (*outbox_renew)(struct store *st, const char *owner, int64_t until);
    enum sc_err (*outbox_held)(struct store *st, const char *owner,
                               const struct store_sync_item *it, int *held);
    enum sc_err (*outbox_done)(struct store *st, const struct store_sync_item *it, int *held);
    enum sc_err (*outbox_retry)(struct store *st, const struct store_sync_item *it,
                                int64_t not_before, int *held);
    enum sc_err (*outbox_release_all)(struct store *st, const char *owner);
    enum sc_err (*outbox_next_due)(struct store *st, const char *rule_id, int64_t *ms);
    enum sc_err (*outbox_count)(struct store *st, const char *rule_id, int64_t *n);
    enum sc_err (*outbox_drop_rule)(struct store *st, const char *rule_id);
    enum sc_err (*tune)(struct store *st);
    enum sc_err (*checkpoint)(struct store *st);
    enum sc_err (*rule_get)(struct store *st, const char *rule_id, struct store_sync_rule *out);
    enum sc_err (*rule_put)(struct store *st, const struct store_sync_rule *r);
    enum sc_err (*rule_request_resync)(struct store *st, const char *rule_id, int allow,
                                       int verify);
    enum sc_err (*rule_resync_done)(struct store *st, const char *rule_id, int64_t seq);
    enum sc_err (*rule_seen)(struct store *st, const char *rule_id, int64_t events_seq);
    enum sc_err (*rule_add_drift)(struct store *st, const char *rule_id, int64_t checked,
                                  int64_t drifted, int64_t at);
    enum sc_err (*rule_clears_get)(struct store *st, const char *rule_id, char **out);
    enum sc_err (*rule_clears_set)(struct store *st, const char *rule_id, const char *json);
    enum sc_err (*rule_pending)(struct store *st, size_t max, char (**out)[STORE_SYNC_ID_MAX],
                                size_t *n);
    enum sc_err (*rule_touch)(struct store *st, const char *rule_id, int64_t ms);
    enum sc_err (*rule_forget)(struct store *st, const char *rule_id);
    enum sc_err (*quarantine_set)(struct store *st, const char *connection_id, int on,
                                  const char *reason);
    enum sc_err (*quarantine_get)(struct store *st, const char *connection_id, int *on,
                                  char *reason, size_t n);
    enum sc_err (*log_append)(struct store *st, const struct store_sync_log_entry *le);
    enum sc_err (*log_list)(struct store *st, const char *rule_id, const char *user_id,
                            const char *action, const char *status, int limit, const char *cursor,
                            json_t *items, char **next);
    enum sc_err (*node_beat)(struct store *st, const struct store_node *n);
    enum sc_err (*node_list)(struct store *st, int64_t seen_since, struct store_node **out,
                             size_t *n);
    enum sc_err (*node_reap)(struct store *st, int64_t seen_before, int64_t *released);
    enum sc_err (*rule_claim)(struct store *st, const char *rule_id, const char *owner, int64_t now,
                              int64_t until, int *claimed);
    enum sc_err (*rule_claims_renew)(struct store *st, const char *owner, int64_t until);
};

struct store_target_ops {
    enum sc_err (*put)(struct store *st, const char *kind, const char *id, int64_t version,
                       const char *json);
    enum sc_err (*delete)(struct store *st, const char *id);
    enum sc_err (*each)(struct store *st,
                        int (*fn)(void *arg, const char *kind, const char *id, int64_t version,
                                  const char *json),
                        void *arg);
};

struct store_admin_ops {
    enum sc_err (*token_insert)(struct store *st, const struct store_admin_token *t);
    enum sc_err (*token_put_named)(struct store *st, const struct store_admin_token *t);
    enum sc_err (*token_find_hash)(struct store *st, const char *hash,
                                   struct store_admin_token *out);
    enum sc_err (*token_list)(struct store *st, struct store_admin_token **out, size_t *n);
    enum sc_err (*token_delete)(struct store *st, const char *id, int *last);
    enum sc_err (*token_touch)(struct store *st, const char *id, int64_t now, int64_t min_age_ms);
};

struct store_inbound_ops {
    enum sc_err (*token_insert)(struct store *st, const struct store_inbound_token *t);
    enum sc_err (*token_find_hash)(struct store *st, const char *hash,
                                   struct store_inbound_token *out);
    enum sc_err (*token_list)(struct store *st, struct store_inbound_token **out, size_t *n);
    enum sc_err (*token_delete)(struct store *st, const char *id);
    enum sc_err (*token_touch)(struct store *st, const char *id, int64_t now, int64_t min_age_ms);
    enum sc_err (*token_set_source)(struct store *st, const char *id, const char *connection_id);
    enum sc_err (*extra_get)(struct store *st, enum store_inbound_kind k, const char *id,
                             char **source, char **extra);
    enum sc_err (*extra_put)(struct store *st, enum store_inbound_kind k, const char *id,
                             const char *source, const char *extra);
    enum sc_err (*user_imported)(struct store *st, const char *user_id, int *imported);
    enum sc_err (*mark_imported)(struct store *st, const char *user_id);
};

/* Raw rows of the schema's tables, for store_copy (store_copy.c). Table, order and
 * column names are identifiers from store_copy.c's table list or from the database's own
 * schema, never input; a back-end still refuses a column name that is not made of
 * lower-case letters, digits and '_'. Values travel as text (integers in decimal), NULL
 * for SQL NULL. */
struct store_table_writer; /* one back-end's state while writing rows into one table */
struct store_table_ops {
    /* *n = the number of rows of table. */
    enum sc_err (*count)(struct store *st, const char *table, int64_t *n);
    /* Calls fn for every row of table ("SELECT * ... ORDER BY order") with the number of
     * columns, their names and the row's values (all borrowed, valid during the call);
     * fn returns non-zero to stop (then SC_ERR_INTERNAL). Rows are read one at a time,
     * never the whole table at once; fn must not use st. */
    enum sc_err (*each)(struct store *st, const char *table, const char *order,
                        int (*fn)(void *arg, int ncols, const char *const *names,
                                  const char *const *values),
                        void *arg);
    /* Starts writing rows into the named columns of table: *out is new, ended by
     * write_end. st may not be used for anything else until then. */
    enum sc_err (*write_begin)(struct store *st, const char *table, int ncols,
                               const char *const *names, struct store_table_writer **out);
    /* Writes one row (ncols values as given to write_begin, borrowed). A back-end may
     * buffer rows: an error (a duplicate key, a refused value) can show here or at
     * write_end. */
    enum sc_err (*write_row)(struct store_table_writer *w, const char *const *values);
    /* Ends the writing and frees w: abandon = 0 stores every row written (or fails),
     * 1 gives up (the caller rolls its transaction back). */
    enum sc_err (*write_end)(struct store_table_writer *w, int abandon);
    /* *hwm = the highest number the table's numbering (column, an integer key the
     * database assigns) has handed out: the larger of the largest in the table and what
     * the numbering remembers of deleted rows; 0 when none. */
    enum sc_err (*serial_get)(struct store *st, const char *table, const char *column,
                              int64_t *hwm);
    /* Makes the numbering of table's column continue after the larger of hwm and the
     * largest number in the table. */
    enum sc_err (*serial_set)(struct store *st, const char *table, const char *column, int64_t hwm);
    /* Deletes every row of table. */
    enum sc_err (*clear)(struct store *st, const char *table);
};

struct store_backend {
    const char *name; /* "sqlite", "postgresql" */
    /* Opens and migrates one connection (the contract of store_open). */
    enum sc_err (*open)(const char *dsn, struct store **out, struct sc_error *e);
    /* Refuses a DSN whose connections could not share one database (a pool's check);
     * NULL when every DSN can be shared. */
    enum sc_err (*check_shared)(const char *dsn, struct sc_error *e);
    void (*close)(struct store *st);
    enum sc_err (*begin)(struct store *st);
    enum sc_err (*commit)(struct store *st);
    void (*rollback)(struct store *st);
    /* store_begin_snapshot: a read-only transaction on one consistent snapshot. */
    enum sc_err (*begin_snapshot)(struct store *st);
    /* store_open_elsewhere for a DSN of this back-end; NULL when it cannot tell. */
    enum sc_err (*open_elsewhere)(const char *dsn, int *elsewhere);
    /* store_backup and store_restore for a DSN of this back-end; NULL when it has none. */
    enum sc_err (*backup)(const char *dsn, const char *path, struct sc_error *e);
    enum sc_err (*restore)(const char *from, const char *dsn, int replace, struct sc_error *e);
    /* The write probe of store_write_check: records a failure with store__health_fail. */
    void (*write_probe)(struct store *st);
    enum sc_err (*setting_get)(struct store *st, const char *key, char **out);
    enum sc_err (*setting_set)(struct store *st, const char *key, const char *value);
    /* setting_get that, inside a transaction, also locks the setting's row until it ends
     * (SQLite's write transaction locks everything already); SC_ERR_NOT_FOUND as get. */
    enum sc_err (*setting_lock)(struct store *st, const char *key, char **out);
    /* store_listen / store_notified; NULL when the back-end has no notifications */
    enum sc_err (*listen)(struct store *st, int *fd);
    int (*notified)(struct store *st);
    const struct store_events_ops *events;
    const struct store_directory_ops *directory;
    const struct store_provision_ops *provision;
    const struct store_sync_ops *sync;
    const struct store_target_ops *target; /* NULL: the back-end does not hold the target */
    const struct store_table_ops *table;
    const struct store_admin_ops *admin;         /* store_admin.h: the named admin tokens */
    const struct store_inbound_ops *inbound;     /* store_inbound.h: inbound SCIM */
    const struct store_groupsync_ops *groupsync; /* store_groupsync.h: group provisioning */
};

/* The back-ends: SQLite (sqlite.c) and PostgreSQL (pg.c). */
extern const struct store_backend store__sqlite_backend;
extern const struct store_backend store__pg_backend;

/* 1 when s is a plain SQL identifier (lower-case letters, digits, '_'; not empty, not
 * starting with a digit), the only names the table operations put into SQL. */
int store__ident_ok(const char *s);

/* Sets e to the refusal to run on a schema newer than this binary: component's version
 * in the database (found) is above the last migration this binary has (known). Returns
 * SC_ERR_UNSUPPORTED (field "db"); the message names the component and both versions. */
enum sc_err store__schema_too_new(const char *component, long long found, long long known,
                                  struct sc_error *e);

/* The durability set by store_set_durability. */
enum store_durability store__durability(void);

/* Appends the events of group id's deletion (inside its transaction): "group.members" for
 * each group that held it (parents, an array of ids), then "group.deleted" with detail. */
enum sc_err store__group_deleted_events(struct store *st, const char *id, const json_t *parents,
                                        const char *detail);

/* ---- rows both back-ends read and write the same way (store_rows.c) ---- */

/* The columns a directory user is read with (u: dir_users joined with its population p),
 * in this order: id, the STORE__USER_NTEXT text fields of store__user_paths, enabled,
 * population id and name, createdAt, updatedAt. */
#define STORE__USER_COLS                                                                           \
    "u.id, u.username, u.given_name, u.family_name, u.formatted_name, u.nickname, u.title, "       \
    "u.user_type, u.email, u.primary_phone, u.external_id, u.street_address, u.locality, "         \
    "u.region, u.postal_code, u.country_code, u.enabled, u.population_id, p.name, u.created_at, "  \
    "u.updated_at "
#define STORE__USER_FROM "FROM dir_users u JOIN dir_populations p ON p.id = u.population_id "
#define STORE__USER_NTEXT 15
#define STORE__USER_NCOLS 21
#define STORE__USER_COL_ENABLED 16 /* the one integer column */
#define STORE__USER_COL_POPULATION 17
#define STORE__USER_COL_POPULATION_NAME 18

/* The API paths of the user's text fields, in column order (after the id). */
extern const char *const store__user_paths[STORE__USER_NTEXT];

/* A user row as read with STORE__USER_COLS: per column the SQLite type code of its value
 * (1 integer, 3 text, 5 NULL; a PostgreSQL row gets the codes its SQLite twin would have),
 * the text (NUL-terminated, borrowed from the row; NULL for SQL NULL) and its length, and
 * the value of integer columns. */
struct store__user_row {
    int type[STORE__USER_NCOLS];
    const char *text[STORE__USER_NCOLS];
    size_t len[STORE__USER_NCOLS];
    int64_t num[STORE__USER_NCOLS];
};

/* A new JSON user of the row (the directory's shape); NULL when out of memory. */
json_t *store__user_json(const struct store__user_row *r);

/* The digest of the row: each column's bytes (an integer's 8 bytes), seeded with the
 * previous columns' hash, its index and its type code. The same on both back-ends and
 * across versions: links keep it as their source stamp. */
uint64_t store__user_digest(const struct store__user_row *r);

/* The values a user is written with: its id, the text fields in store__user_paths order
 * (an empty one as NULL, but the username as it is), enabled (1 when absent), population id
 * and times (strings borrowed from u). */
struct store__user_values {
    const char *id;
    const char *text[STORE__USER_NTEXT];
    int enabled;
    const char *population_id, *created_at, *updated_at;
};
void store__user_values(const json_t *u, struct store__user_values *v);

/* Adds to *out the n links of a rule in state (linked of them with a target id): every
 * state but OUT_OF_SCOPE counts as impacted, and SYNCED, DISABLED and DELETED as success. */
void store__link_counts_add(struct store_sync_counts *out, const char *state, int64_t n,
                            int64_t linked);

/* A row of a rule's link list (store_sync_link_list) or of the provisioning log
 * (store_sync_log_list) as a back-end reads it (strings borrowed; NULL for SQL NULL), and
 * the JSON item both back-ends answer with: texts that are not valid UTF-8 repaired, times
 * as RFC 3339 (null when 0), a link's rejected attributes as a list. */
struct store__link_row {
    const char *user_id, *username, *target_id, *state, *last_error, *rejected;
    int has_link; /* a sync_links row exists (else the user only has work queued) */
    int64_t updated_at;
    int queued;
};
struct store__log_row {
    int64_t id, time;
    const char *rule_id, *user_id, *username, *action, *status, *changes, *error;
    int http_status; /* 0: none */
};

/* New JSON items for a row; NULL when out of memory (or action or status is NULL). */
json_t *store__link_item(const struct store__link_row *r);
json_t *store__log_item(const struct store__log_row *r);

/* Write health shared by every connection of the process (what /healthz reports):
 * store__health_fail records a failed write with its text (no secret in it);
 * store__health_clear forgets it after a commit that succeeded. */
void store__health_fail(const char *why);
void store__health_clear(void);

#endif
