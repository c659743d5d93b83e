/* The store's front: store_open chooses the back-end by the DSN's scheme ("sqlite:" or
 * "postgres[ql]://"), every public store_* function calls through the connection's
 * back-end table (backend.h), and what touches no database lives here once: the pool,
 * durability and write health shared by every connection, DSN redaction, freeing
 * results, and the engine cursor kept in settings. */
#include "store/backend.h"
#include "base/buf.h"
#include "base/log.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- back-end choice ---- */

static int is_pg_dsn(const char *dsn)
{
    return strncmp(dsn, "postgres://", 11) == 0 || strncmp(dsn, "postgresql://", 13) == 0;
}

int store_dsn_is_postgresql(const char *dsn)
{
    return dsn && is_pg_dsn(dsn);
}

static const struct store_backend *backend_for(const char *dsn)
{
    if (strncmp(dsn, "sqlite:", 7) == 0)
        return &store__sqlite_backend;
    if (is_pg_dsn(dsn))
        return &store__pg_backend;
    return NULL;
}

void store_dsn_redact(const char *dsn, char *buf, size_t n)
{
    if (!n)
        return;
    buf[0] = '\0';
    if (!dsn)
        return;
    if (!is_pg_dsn(dsn)) {
        snprintf(buf, n, "%s", dsn);
        return;
    }
    struct sc_buf b;
    sc_buf_init(&b, 0);
    const char *p = strstr(dsn, "://") + 3;
    sc_buf_append(&b, dsn, (size_t)(p - dsn));
    size_t auth = strcspn(p, "/?");
    const char *at = NULL;
    for (const char *q = p; q < p + auth; q++)
        if (*q == '@')
            at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            sc_buf_append(&b, p, (size_t)(colon - p));
            sc_buf_puts(&b, ":****");
            p = at;
        }
    }
    /* the rest, with the value of a password= parameter masked */
    while (*p) {
        const char *m = strstr(p, "password=");
        if (!m || (m != p && m[-1] != '?' && m[-1] != '&')) {
            if (!m) {
                sc_buf_puts(&b, p);
                break;
            }
            sc_buf_append(&b, p, (size_t)(m - p) + 9);
            p = m + 9;
            continue;
        }
        sc_buf_append(&b, p, (size_t)(m - p) + 9);
        sc_buf_puts(&b, "****");
        p = m + 9 + strcspn(m + 9, "&");
    }
    snprintf(buf, n, "%s", b.data ? b.data : "");
    sc_buf_free(&b);
}

enum sc_err store_open(const char *dsn, struct store **out, struct sc_error *e)
{
    if (!dsn || !*dsn)
        return sc_error_set(e, SC_ERR_INVALID, "db",
                            "no database given (use sqlite:PATH or postgresql://...)");
    const struct store_backend *be = backend_for(dsn);
    if (!be) {
        char shown[256];
        store_dsn_redact(dsn, shown, sizeof shown);
        return sc_error_set(e, SC_ERR_INVALID, "db",
                            "database '%s' is not of the form sqlite:PATH or "
                            "postgresql://USER@HOST:PORT/DATABASE",
                            shown);
    }
    return be->open(dsn, out, e);
}

void store_close(struct store *st)
{
    if (st)
        st->be->close(st);
}

/* ---- durability and health ---- */

static atomic_int durability = STORE_DURABILITY_FULL;

void store_set_durability(enum store_durability d)
{
    atomic_store(&durability, (int)d);
}

enum store_durability store__durability(void)
{
    return (enum store_durability)atomic_load(&durability);
}

/* The last failed write of this process (disk full, I/O error, read-only database),
 * until a commit succeeds again: what /healthz reports. */
static pthread_mutex_t health_mu = PTHREAD_MUTEX_INITIALIZER;
static int write_failing;
static char write_error[160];

void store__health_fail(const char *why)
{
    pthread_mutex_lock(&health_mu);
    write_failing = 1;
    snprintf(write_error, sizeof write_error, "%s", why ? why : "write failed");
    pthread_mutex_unlock(&health_mu);
}

void store__health_clear(void)
{
    pthread_mutex_lock(&health_mu);
    write_failing = 0;
    pthread_mutex_unlock(&health_mu);
}

int store_write_check(struct store *st, char *why, size_t n)
{
    if (!st->in_tx)
        st->be->write_probe(st);
    pthread_mutex_lock(&health_mu);
    int failing = write_failing;
    if (failing)
        snprintf(why, n, "%s", write_error);
    pthread_mutex_unlock(&health_mu);
    return failing ? -1 : 0;
}

/* ---- transactions and settings ---- */

enum sc_err store_begin(struct store *st)
{
    return st->be->begin(st);
}

enum sc_err store_commit(struct store *st)
{
    return st->be->commit(st);
}

void store_rollback(struct store *st)
{
    st->be->rollback(st);
}

int store_in_transaction(const struct store *st)
{
    return st->in_tx;
}

enum sc_err store_setting_get(struct store *st, const char *key, char **out)
{
    return st->be->setting_get(st, key, out);
}

enum sc_err store_setting_set(struct store *st, const char *key, const char *value)
{
    return st->be->setting_set(st, key, value);
}

/* ---- pool ---- */

struct store_pool {
    char *dsn;
    pthread_mutex_t lock;
    struct store *free_list;
    struct store **all;
    int nall, capall;
};

enum sc_err store_pool_new(const char *dsn, struct store_pool **out, struct sc_error *e)
{
    const struct store_backend *be = dsn ? backend_for(dsn) : NULL;
    enum sc_err rc;
    if (be && be->check_shared && (rc = be->check_shared(dsn, e)))
        return rc;
    struct store *first = NULL;
    if ((rc = store_open(dsn, &first, e)))
        return rc;
    struct store_pool *p = calloc(1, sizeof *p);
    struct store **all = calloc(8, sizeof *all);
    char *copy = sc_strdup(dsn);
    if (!p || !all || !copy) {
        free(p);
        free(all);
        free(copy);
        store_close(first);
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    }
    p->dsn = copy;
    pthread_mutex_init(&p->lock, NULL);
    p->all = all;
    p->capall = 8;
    p->all[p->nall++] = first;
    p->free_list = first;
    *out = p;
    return SC_OK;
}

struct store *store_pool_acquire(struct store_pool *p)
{
    pthread_mutex_lock(&p->lock);
    struct store *st = p->free_list;
    if (st) {
        p->free_list = st->next_free;
        st->next_free = NULL;
        pthread_mutex_unlock(&p->lock);
        return st;
    }
    pthread_mutex_unlock(&p->lock);
    struct sc_error e = {0};
    if (store_open(p->dsn, &st, &e)) {
        SC_ERROR("store.open_failed", "message=\"%s\"", e.message);
        return NULL;
    }
    pthread_mutex_lock(&p->lock);
    if (p->nall == p->capall) {
        struct store **n = realloc(p->all, sizeof *n * (size_t)p->capall * 2);
        if (!n) {
            pthread_mutex_unlock(&p->lock);
            store_close(st);
            return NULL;
        }
        p->all = n;
        p->capall *= 2;
    }
    p->all[p->nall++] = st;
    pthread_mutex_unlock(&p->lock);
    return st;
}

void store_pool_release(struct store_pool *p, struct store *st)
{
    if (!st)
        return;
    if (st->in_tx)
        store_rollback(st);
    pthread_mutex_lock(&p->lock);
    st->next_free = p->free_list;
    p->free_list = st;
    pthread_mutex_unlock(&p->lock);
}

void store_pool_free(struct store_pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nall; i++)
        store_close(p->all[i]);
    free(p->all);
    free(p->dsn);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

const char *store_pool_dsn(const struct store_pool *p)
{
    return p->dsn;
}

/* ---- results and the engine cursor (no database of their own) ---- */

void store_events_free(struct store_event *ev, size_t n)
{
    if (!ev)
        return;
    for (size_t i = 0; i < n; i++)
        free(ev[i].detail);
    free(ev);
}

void store_connection_clear(struct store_connection *c)
{
    if (!c)
        return;
    free(c->name);
    free(c->config);
    c->name = c->config = NULL;
}

void store_rule_clear(struct store_rule *r)
{
    if (!r)
        return;
    free(r->name);
    free(r->description);
    free(r->filter);
    free(r->mappings);
    r->name = r->description = r->filter = r->mappings = NULL;
}

void store_connections_free(struct store_connection *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        store_connection_clear(&v[i]);
    free(v);
}

void store_rules_free(struct store_rule *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        store_rule_clear(&v[i]);
    free(v);
}

void store_sync_link_clear(struct store_sync_link *l)
{
    if (!l)
        return;
    free(l->username);
    free(l->target_id);
    free(l->sent);
    free(l->last_error);
    free(l->rejected);
    memset(l, 0, sizeof *l);
}

enum sc_err store_sync_cursor_get(struct store *st, int64_t *seq)
{
    char *v = NULL;
    enum sc_err err = store_setting_get(st, "sync.cursor", &v);
    if (err == SC_ERR_NOT_FOUND) {
        *seq = 0;
        return SC_OK;
    }
    if (err)
        return err;
    int64_t n = 0;
    int bad = sc_parse_int64(v, 0, INT64_MAX, &n);
    free(v);
    if (bad)
        return SC_ERR_DB;
    *seq = n;
    return SC_OK;
}

enum sc_err store_sync_cursor_lock(struct store *st, int64_t *seq)
{
    char *v = NULL;
    enum sc_err err = st->be->setting_lock(st, "sync.cursor", &v);
    if (err == SC_ERR_NOT_FOUND) {
        *seq = 0;
        return SC_OK;
    }
    if (err)
        return err;
    int64_t n = 0;
    int bad = sc_parse_int64(v, 0, INT64_MAX, &n);
    free(v);
    if (bad)
        return SC_ERR_DB;
    *seq = n;
    return SC_OK;
}

enum sc_err store_listen(struct store *st, int *fd)
{
    *fd = -1;
    return st->be->listen ? st->be->listen(st, fd) : SC_ERR_UNSUPPORTED;
}

int store_notified(struct store *st)
{
    return st->be->notified ? st->be->notified(st) : 0;
}

enum sc_err store_sync_cursor_set(struct store *st, int64_t seq)
{
    char v[32];
    snprintf(v, sizeof v, "%" PRId64, seq);
    return store_setting_set(st, "sync.cursor", v);
}

/* ---- domain functions: one call through the back-end's table ---- */

enum sc_err store_sync_node_beat(struct store *st, const struct store_node *n)
{
    return st->be->sync->node_beat(st, n);
}

enum sc_err store_sync_node_list(struct store *st, int64_t seen_since, struct store_node **out,
                                 size_t *n)
{
    return st->be->sync->node_list(st, seen_since, out, n);
}

enum sc_err store_sync_node_reap(struct store *st, int64_t seen_before, int64_t *released)
{
    return st->be->sync->node_reap(st, seen_before, released);
}

enum sc_err store_sync_rule_seen(struct store *st, const char *rule_id, int64_t events_seq)
{
    return st->be->sync->rule_seen(st, rule_id, events_seq);
}

enum sc_err store_sync_rule_claim(struct store *st, const char *rule_id, const char *owner,
                                  int64_t now, int64_t until, int *claimed)
{
    return st->be->sync->rule_claim(st, rule_id, owner, now, until, claimed);
}

enum sc_err store_sync_rule_claims_renew(struct store *st, const char *owner, int64_t until)
{
    return st->be->sync->rule_claims_renew(st, owner, until);
}

enum sc_err store__group_deleted_events(struct store *st, const char *id, const json_t *parents,
                                        const char *detail)
{
    size_t i;
    json_t *p;
    json_array_foreach(parents, i, p)
    {
        enum sc_err rc = store_event_append(st, "group.members", json_string_value(p), NULL);
        if (rc)
            return rc;
    }
    return store_event_append(st, "group.deleted", id, detail);
}

enum sc_err store_event_append(struct store *st, const char *kind, const char *object_id,
                               const char *detail)
{
    return st->be->events->event_append(st, kind, object_id, detail);
}

enum sc_err store_events_after(struct store *st, int64_t after, size_t limit,
                               struct store_event **out, size_t *n)
{
    return st->be->events->events_after(st, after, limit, out, n);
}

enum sc_err store_events_last_seq(struct store *st, int64_t *seq)
{
    return st->be->events->events_last_seq(st, seq);
}

enum sc_err store_events_prune(struct store *st, int64_t upto)
{
    return st->be->events->events_prune(st, upto);
}

enum sc_err store_population_insert(struct store *st, const json_t *p)
{
    return st->be->directory->population_insert(st, p);
}

enum sc_err store_population_get(struct store *st, const char *id, json_t **out)
{
    return st->be->directory->population_get(st, id, out);
}

enum sc_err store_population_find(struct store *st, const char *name, json_t **out)
{
    return st->be->directory->population_find(st, name, out);
}

enum sc_err store_population_update(struct store *st, const json_t *p)
{
    return st->be->directory->population_update(st, p);
}

enum sc_err store_population_delete(struct store *st, const char *id)
{
    return st->be->directory->population_delete(st, id);
}

enum sc_err store_population_list(struct store *st, const char *after_name, int limit,
                                  json_t **items)
{
    return st->be->directory->population_list(st, after_name, limit, items);
}

enum sc_err store_user_insert(struct store *st, const json_t *u)
{
    return st->be->directory->user_insert(st, u);
}

enum sc_err store_users_insert_many(struct store *st, const json_t *users, enum sc_err *row_err,
                                    size_t *stored)
{
    return st->be->directory->users_insert_many(st, users, row_err, stored);
}

enum sc_err store_user_get(struct store *st, const char *id, json_t **out)
{
    return st->be->directory->user_get(st, id, out);
}

enum sc_err store_user_update(struct store *st, const json_t *u)
{
    return st->be->directory->user_update(st, u);
}

enum sc_err store_user_delete(struct store *st, const char *id, const char *detail)
{
    return st->be->directory->user_delete(st, id, detail);
}

enum sc_err store_user_list(struct store *st, const struct store_user_query *q, json_t **items)
{
    return st->be->directory->user_list(st, q, items);
}

enum sc_err store_users_after_id(struct store *st, const char *after_id, int limit, json_t **items)
{
    return st->be->directory->users_after_id(st, after_id, limit, items);
}

enum sc_err store_user_get_digest(struct store *st, const char *id, json_t **out, uint64_t *digest,
                                  struct store_user_origin *origin)
{
    return st->be->directory->user_get_digest(st, id, out, digest, origin);
}

enum sc_err store_user_digest_each(struct store *st,
                                   int (*fn)(void *arg, const char *id, uint64_t digest), void *arg)
{
    return st->be->directory->user_digest_each(st, fn, arg);
}

enum sc_err store_user_digest_page(struct store *st, const char *after_id, size_t max,
                                   int (*fn)(void *arg, const struct store_user_digest *u),
                                   void *arg, size_t *n)
{
    return st->be->directory->user_digest_page(st, after_id, max, fn, arg, n);
}

enum sc_err store_user_count(struct store *st, long long *n)
{
    return st->be->directory->user_count(st, n);
}

enum sc_err store_user_direct_groups(struct store *st, const char *user_id, json_t **out)
{
    return st->be->directory->user_direct_groups(st, user_id, out);
}

enum sc_err store_group_insert(struct store *st, const json_t *g)
{
    return st->be->directory->group_insert(st, g);
}

enum sc_err store_group_get(struct store *st, const char *id, json_t **out)
{
    return st->be->directory->group_get(st, id, out);
}

enum sc_err store_group_find(struct store *st, const char *name, json_t **out)
{
    return st->be->directory->group_find(st, name, out);
}

enum sc_err store_group_update(struct store *st, const json_t *g, const char *detail)
{
    return st->be->directory->group_update(st, g, detail);
}

enum sc_err store_group_delete(struct store *st, const char *id, const char *detail)
{
    return st->be->directory->group_delete(st, id, detail);
}

enum sc_err store_group_list(struct store *st, const char *after_name, int limit, json_t **items)
{
    return st->be->directory->group_list(st, after_name, limit, items);
}

enum sc_err store_group_member_add(struct store *st, const char *group_id, const char *user_id,
                                   const char *member_group_id, int *cycle)
{
    return st->be->directory->group_member_add(st, group_id, user_id, member_group_id, cycle);
}

enum sc_err store_group_member_remove(struct store *st, const char *group_id, const char *member_id)
{
    return st->be->directory->group_member_remove(st, group_id, member_id);
}

enum sc_err store_group_members(struct store *st, const char *group_id, const char *after_type,
                                const char *after_key, int limit, json_t **out)
{
    return st->be->directory->group_members(st, group_id, after_type, after_key, limit, out);
}

enum sc_err store_group_tree_dynamic(struct store *st, const char *group_id, int *dynamic)
{
    return st->be->directory->group_tree_dynamic(st, group_id, dynamic);
}

enum sc_err store_group_tree_users(struct store *st, const char *group_id, const char *after_id,
                                   int limit, json_t **out)
{
    return st->be->directory->group_tree_users(st, group_id, after_id, limit, out);
}

enum sc_err store_directory_scan(struct store *st, const struct store_directory_scan_fns *fns,
                                 void *arg)
{
    return st->be->directory->directory_scan(st, fns, arg);
}

enum sc_err store_connection_insert(struct store *st, const struct store_connection *c)
{
    return st->be->provision->connection_insert(st, c);
}

enum sc_err store_connection_update(struct store *st, const struct store_connection *c)
{
    return st->be->provision->connection_update(st, c);
}

enum sc_err store_connection_get(struct store *st, const char *id, struct store_connection *out)
{
    return st->be->provision->connection_get(st, id, out);
}

enum sc_err store_connection_list(struct store *st, const char *cursor, int limit,
                                  struct store_connection **out, size_t *n, char *next_cursor)
{
    return st->be->provision->connection_list(st, cursor, limit, out, n, next_cursor);
}

enum sc_err store_connection_delete(struct store *st, const char *id)
{
    char *rule = NULL;
    enum sc_err err = store_rule_targeting(st, id, &rule);
    free(rule);
    if (err == SC_OK)
        return SC_ERR_CONFLICT; /* a rule still targets it */
    if (err != SC_ERR_NOT_FOUND)
        return err;
    return st->be->provision->connection_delete(st, id);
}

enum sc_err store_rule_targeting(struct store *st, const char *connection_id, char **name_out)
{
    return st->be->provision->rule_targeting(st, connection_id, name_out);
}

enum sc_err store_rule_insert(struct store *st, const struct store_rule *r)
{
    return st->be->provision->rule_insert(st, r);
}

enum sc_err store_rule_update(struct store *st, const struct store_rule *r)
{
    return st->be->provision->rule_update(st, r);
}

enum sc_err store_rule_get(struct store *st, const char *id, struct store_rule *out)
{
    return st->be->provision->rule_get(st, id, out);
}

enum sc_err store_rule_list(struct store *st, const char *cursor, int limit,
                            struct store_rule **out, size_t *n, char *next_cursor)
{
    return st->be->provision->rule_list(st, cursor, limit, out, n, next_cursor);
}

enum sc_err store_rule_delete(struct store *st, const char *id)
{
    return st->be->provision->rule_delete(st, id);
}

enum sc_err store_rule_enabled_ids(struct store *st, char (**ids)[SC_UUID_LEN + 1], size_t *n)
{
    return st->be->provision->rule_enabled_ids(st, ids, n);
}

enum sc_err store_connection_caps_get(struct store *st, const char *connection_id, char **doc,
                                      int64_t *updated_at)
{
    return st->be->provision->connection_caps_get(st, connection_id, doc, updated_at);
}

enum sc_err store_connection_caps_put(struct store *st, const char *connection_id, const char *doc,
                                      int64_t updated_at)
{
    return st->be->provision->connection_caps_put(st, connection_id, doc, updated_at);
}

enum sc_err store_rule_ids_by_target(struct store *st, const char *connection_id,
                                     char (**ids)[SC_UUID_LEN + 1], size_t *n)
{
    return st->be->provision->rule_ids_by_target(st, connection_id, ids, n);
}

enum sc_err store_sync_link_get(struct store *st, const char *rule_id, const char *user_id,
                                struct store_sync_link *out)
{
    return st->be->sync->link_get(st, rule_id, user_id, out);
}

enum sc_err store_sync_link_put(struct store *st, const struct store_sync_link *l)
{
    return st->be->sync->link_put(st, l);
}

enum sc_err store_sync_link_put_unlinked(struct store *st, const struct store_sync_link *l,
                                         int64_t since_ms, int *written)
{
    return st->be->sync->link_put_unlinked(st, l, since_ms, written);
}

enum sc_err store_sync_link_set_found(struct store *st, const struct store_sync_link *l,
                                      uint64_t expect_digest, int *written)
{
    return st->be->sync->link_set_found(st, l, expect_digest, written);
}

enum sc_err store_sync_link_set_source(struct store *st, const char *rule_id, const char *user_id,
                                       uint64_t digest, uint64_t source)
{
    return st->be->sync->link_set_source(st, rule_id, user_id, digest, source);
}

enum sc_err store_sync_link_page(struct store *st, const char *rule_id, const char *after_user_id,
                                 size_t max, int (*fn)(void *arg, const struct store_sync_link *l),
                                 void *arg, size_t *n)
{
    return st->be->sync->link_page(st, rule_id, after_user_id, max, fn, arg, n);
}

enum sc_err store_sync_link_list(struct store *st, const char *rule_id, int limit,
                                 const char *cursor, json_t *items, char **next)
{
    return st->be->sync->link_list(st, rule_id, limit, cursor, items, next);
}

enum sc_err store_sync_link_counts(struct store *st, const char *rule_id,
                                   struct store_sync_counts *out)
{
    return st->be->sync->link_counts(st, rule_id, out);
}

enum sc_err store_sync_outbox_touch(struct store *st, const char *rule_id, const char *user_id,
                                    int flags, int lane, int64_t not_before)
{
    return st->be->sync->outbox_touch(st, rule_id, user_id, flags, lane, not_before);
}

enum sc_err store_sync_outbox_lease(struct store *st, const char *owner, const char *rule_id,
                                    int64_t now, int64_t lease_ms, size_t max,
                                    struct store_sync_item **out, size_t *n)
{
    return st->be->sync->outbox_lease(st, owner, rule_id, now, lease_ms, max, out, n);
}

enum sc_err store_sync_outbox_renew(struct store *st, const char *owner, int64_t until)
{
    return st->be->sync->outbox_renew(st, owner, until);
}

enum sc_err store_sync_outbox_held(struct store *st, const char *owner,
                                   const struct store_sync_item *it, int *held)
{
    return st->be->sync->outbox_held(st, owner, it, held);
}

enum sc_err store_sync_outbox_done(struct store *st, const struct store_sync_item *it, int *held)
{
    return st->be->sync->outbox_done(st, it, held);
}

enum sc_err store_sync_outbox_retry(struct store *st, const struct store_sync_item *it,
                                    int64_t not_before, int *held)
{
    return st->be->sync->outbox_retry(st, it, not_before, held);
}

enum sc_err store_sync_outbox_release_all(struct store *st, const char *owner)
{
    return st->be->sync->outbox_release_all(st, owner);
}

enum sc_err store_sync_outbox_next_due(struct store *st, const char *rule_id, int64_t *ms)
{
    return st->be->sync->outbox_next_due(st, rule_id, ms);
}

enum sc_err store_sync_outbox_count(struct store *st, const char *rule_id, int64_t *n)
{
    return st->be->sync->outbox_count(st, rule_id, n);
}

enum sc_err store_sync_outbox_drop_rule(struct store *st, const char *rule_id)
{
    return st->be->sync->outbox_drop_rule(st, rule_id);
}

enum sc_err store_sync_tune(struct store *st)
{
    return st->be->sync->tune(st);
}

enum sc_err store_sync_checkpoint(struct store *st)
{
    return st->be->sync->checkpoint(st);
}

enum sc_err store_sync_rule_get(struct store *st, const char *rule_id, struct store_sync_rule *out)
{
    return st->be->sync->rule_get(st, rule_id, out);
}

enum sc_err store_sync_rule_put(struct store *st, const struct store_sync_rule *r)
{
    return st->be->sync->rule_put(st, r);
}

enum sc_err store_sync_rule_request_resync(struct store *st, const char *rule_id, int allow,
                                           int verify)
{
    return st->be->sync->rule_request_resync(st, rule_id, allow, verify);
}

enum sc_err store_sync_rule_resync_done(struct store *st, const char *rule_id, int64_t seq)
{
    return st->be->sync->rule_resync_done(st, rule_id, seq);
}

enum sc_err store_sync_rule_add_drift(struct store *st, const char *rule_id, int64_t checked,
                                      int64_t drifted, int64_t at)
{
    return st->be->sync->rule_add_drift(st, rule_id, checked, drifted, at);
}

enum sc_err store_sync_rule_clears_get(struct store *st, const char *rule_id, char **out)
{
    return st->be->sync->rule_clears_get(st, rule_id, out);
}

enum sc_err store_sync_rule_clears_set(struct store *st, const char *rule_id, const char *json)
{
    return st->be->sync->rule_clears_set(st, rule_id, json);
}

enum sc_err store_sync_rule_pending(struct store *st, size_t max, char (**out)[STORE_SYNC_ID_MAX],
                                    size_t *n)
{
    return st->be->sync->rule_pending(st, max, out, n);
}

enum sc_err store_sync_rule_touch(struct store *st, const char *rule_id, int64_t ms)
{
    return st->be->sync->rule_touch(st, rule_id, ms);
}

enum sc_err store_sync_rule_forget(struct store *st, const char *rule_id)
{
    return st->be->sync->rule_forget(st, rule_id);
}

enum sc_err store_sync_quarantine_set(struct store *st, const char *connection_id, int on,
                                      const char *reason)
{
    return st->be->sync->quarantine_set(st, connection_id, on, reason);
}

enum sc_err store_sync_quarantine_get(struct store *st, const char *connection_id, int *on,
                                      char *reason, size_t n)
{
    return st->be->sync->quarantine_get(st, connection_id, on, reason, n);
}

enum sc_err store_sync_log_append(struct store *st, const struct store_sync_log_entry *le)
{
    return st->be->sync->log_append(st, le);
}

enum sc_err store_sync_log_list(struct store *st, const char *rule_id, const char *user_id,
                                const char *action, const char *status, int limit,
                                const char *cursor, json_t *items, char **next)
{
    return st->be->sync->log_list(st, rule_id, user_id, action, status, limit, cursor, items, next);
}

enum sc_err store_target_put(struct store *st, const char *kind, const char *id, int64_t version,
                             const char *json)
{
    if (!st->be->target)
        return SC_ERR_UNSUPPORTED;
    return st->be->target->put(st, kind, id, version, json);
}

enum sc_err store_target_delete(struct store *st, const char *id)
{
    if (!st->be->target)
        return SC_ERR_UNSUPPORTED;
    return st->be->target->delete (st, id);
}

enum sc_err store_target_each(struct store *st,
                              int (*fn)(void *arg, const char *kind, const char *id,
                                        int64_t version, const char *json),
                              void *arg)
{
    if (!st->be->target)
        return SC_ERR_UNSUPPORTED;
    return st->be->target->each(st, fn, arg);
}

enum sc_err store__schema_too_new(const char *component, long long found, long long known,
                                  struct sc_error *e)
{
    return sc_error_set(e, SC_ERR_UNSUPPORTED, "db",
                        "the database was written by a newer scimitar: its schema of %s is at "
                        "version %lld, this binary knows up to version %lld; run the newer "
                        "scimitar (or restore a backup taken before the upgrade)",
                        component, found, known);
}

/* ---- admin tokens ---- */

enum sc_err store_admin_token_insert(struct store *st, const struct store_admin_token *t)
{
    return st->be->admin->token_insert(st, t);
}

enum sc_err store_admin_token_put_named(struct store *st, const struct store_admin_token *t)
{
    return st->be->admin->token_put_named(st, t);
}

enum sc_err store_admin_token_find_hash(struct store *st, const char *hash,
                                        struct store_admin_token *out)
{
    return st->be->admin->token_find_hash(st, hash, out);
}

enum sc_err store_admin_token_list(struct store *st, struct store_admin_token **out, size_t *n)
{
    return st->be->admin->token_list(st, out, n);
}

enum sc_err store_admin_token_delete(struct store *st, const char *id, int *last)
{
    return st->be->admin->token_delete(st, id, last);
}

enum sc_err store_admin_token_touch(struct store *st, const char *id, int64_t now,
                                    int64_t min_age_ms)
{
    return st->be->admin->token_touch(st, id, now, min_age_ms);
}

/* ---- inbound SCIM ---- */

enum sc_err store_inbound_token_insert(struct store *st, const struct store_inbound_token *t)
{
    return st->be->inbound->token_insert(st, t);
}

enum sc_err store_inbound_token_find_hash(struct store *st, const char *hash,
                                          struct store_inbound_token *out)
{
    return st->be->inbound->token_find_hash(st, hash, out);
}

enum sc_err store_inbound_token_list(struct store *st, struct store_inbound_token **out, size_t *n)
{
    return st->be->inbound->token_list(st, out, n);
}

enum sc_err store_inbound_token_set_source(struct store *st, const char *id,
                                           const char *connection_id)
{
    return st->be->inbound->token_set_source(
        st, id, connection_id && *connection_id ? connection_id : NULL);
}

enum sc_err store_inbound_token_delete(struct store *st, const char *id)
{
    return st->be->inbound->token_delete(st, id);
}

enum sc_err store_inbound_token_touch(struct store *st, const char *id, int64_t now,
                                      int64_t min_age_ms)
{
    return st->be->inbound->token_touch(st, id, now, min_age_ms);
}

enum sc_err store_inbound_extra_get(struct store *st, enum store_inbound_kind k, const char *id,
                                    char **source, char **extra)
{
    if (source)
        *source = NULL;
    if (extra)
        *extra = NULL;
    return st->be->inbound->extra_get(st, k, id, source, extra);
}

enum sc_err store_inbound_extra_put(struct store *st, enum store_inbound_kind k, const char *id,
                                    const char *source, const char *extra)
{
    return st->be->inbound->extra_put(st, k, id, source, extra);
}

enum sc_err store_inbound_user_imported(struct store *st, const char *user_id, int *imported)
{
    return st->be->inbound->user_imported(st, user_id, imported);
}

enum sc_err store_inbound_mark_imported(struct store *st, const char *user_id)
{
    return st->be->inbound->mark_imported(st, user_id);
}
