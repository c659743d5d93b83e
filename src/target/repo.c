/* The target's repository: every User and Group in memory, indexed by id, by lower-cased
 * userName/displayName and by externalId in hash tables (so `eq` look-ups never scan),
 * kept in creation order for paging, and written through to the store when the target
 * persists. Callers hold repo->lock (read for look-ups, write for changes). */
#include "target/target_internal.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"
#include "store/store_target.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static const char *const kind_names[TARGET__KINDS] = {"User", "Group"};

/* ---- the multimap -------------------------------------------------------------------- */

static uint64_t map_hash(const char *key)
{
    return XXH3_64bits(key, strlen(key));
}

static int map_grow(struct target_map *m)
{
    size_t n = m->nbuckets ? m->nbuckets * 2 : 64;
    struct target_map_node **b = calloc(n, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct target_map_node *node = m->buckets[i];
        while (node) {
            struct target_map_node *next = node->next;
            size_t j = node->hash & (n - 1);
            node->next = b[j];
            b[j] = node;
            node = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
    return 0;
}

static int map_add(struct target_map *m, const char *key, struct target_res *res)
{
    if (m->count >= m->nbuckets && map_grow(m))
        return -1;
    struct target_map_node *node = malloc(sizeof *node);
    if (!node)
        return -1;
    node->hash = map_hash(key);
    node->key = key;
    node->res = res;
    size_t j = node->hash & (m->nbuckets - 1);
    node->next = m->buckets[j];
    m->buckets[j] = node;
    m->count++;
    return 0;
}

static void map_del(struct target_map *m, const char *key, const struct target_res *res)
{
    if (!m->nbuckets)
        return;
    uint64_t h = map_hash(key);
    struct target_map_node **pp = &m->buckets[h & (m->nbuckets - 1)];
    while (*pp) {
        if ((*pp)->res == res) {
            struct target_map_node *dead = *pp;
            *pp = dead->next;
            free(dead);
            m->count--;
            return;
        }
        pp = &(*pp)->next;
    }
}

/* Calls fn for each resource stored under key; stops when fn returns non-zero. */
static void map_each(const struct target_map *m, const char *key,
                     int (*fn)(void *arg, struct target_res *res), void *arg)
{
    if (!m->nbuckets)
        return;
    uint64_t h = map_hash(key);
    for (struct target_map_node *n = m->buckets[h & (m->nbuckets - 1)]; n; n = n->next)
        if (n->hash == h && strcmp(n->key, key) == 0 && fn(arg, n->res))
            return;
}

static struct target_res *map_first(const struct target_map *m, const char *key, enum target_kind k)
{
    if (!m->nbuckets)
        return NULL;
    uint64_t h = map_hash(key);
    for (struct target_map_node *n = m->buckets[h & (m->nbuckets - 1)]; n; n = n->next)
        if (n->hash == h && n->res->kind == k && strcmp(n->key, key) == 0)
            return n->res;
    return NULL;
}

static void map_free(struct target_map *m)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct target_map_node *n = m->buckets[i];
        while (n) {
            struct target_map_node *next = n->next;
            free(n);
            n = next;
        }
    }
    free(m->buckets);
    memset(m, 0, sizeof *m);
}

/* ---- resources ----------------------------------------------------------------------- */

static void res_free(struct target_res *res)
{
    if (!res)
        return;
    free(res->groups);
    json_decref(res->doc);
    free(res->name_key);
    free(res->ext);
    free(res);
}

/* Computes the index keys of doc for kind k into new strings. 0 or -1 (no memory). */
static int res_keys(enum target_kind k, const json_t *doc, char **name_key, char **ext)
{
    const char *name =
        json_string_value(json_object_get(doc, k == TARGET_USER ? "userName" : "displayName"));
    const char *x = json_string_value(json_object_get(doc, "externalId"));
    *name_key = name ? sc_str_lower(sc_strdup(name)) : NULL;
    *ext = x ? sc_strdup(x) : NULL;
    if ((name && !*name_key) || (x && !*ext)) {
        free(*name_key);
        free(*ext);
        return -1;
    }
    return 0;
}

/* Adds (add != 0) or removes group g in the membership lists of the users g lists. */
static void link_members(struct target_repo *r, struct target_res *g, int add)
{
    json_t *members = json_object_get(g->doc, "members");
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m)
    {
        const char *v = json_string_value(json_object_get(m, "value"));
        struct target_res *u = v ? map_first(&r->by_id, v, TARGET_USER) : NULL;
        if (!u)
            continue;
        size_t j = 0;
        while (j < u->ngroups && u->groups[j] != g)
            j++;
        if (!add) {
            if (j < u->ngroups)
                memmove(&u->groups[j], &u->groups[j + 1], (u->ngroups - j - 1) * sizeof g);
            if (j < u->ngroups)
                u->ngroups--;
            continue;
        }
        if (j < u->ngroups)
            continue;
        if (u->ngroups == u->capgroups) {
            size_t cap = u->capgroups ? u->capgroups * 2 : 4;
            struct target_res **v2 = realloc(u->groups, cap * sizeof *v2);
            if (!v2) {
                SC_WARN("target.nomem", "what=membership user=%s", u->id);
                continue;
            }
            u->groups = v2;
            u->capgroups = cap;
        }
        u->groups[u->ngroups++] = g;
    }
}

static int index_add(struct target_repo *r, struct target_res *res)
{
    if (map_add(&r->by_id, res->id, res))
        return -1;
    if (res->name_key && map_add(&r->by_name[res->kind], res->name_key, res)) {
        map_del(&r->by_id, res->id, res);
        return -1;
    }
    if (res->ext && map_add(&r->by_ext[res->kind], res->ext, res)) {
        map_del(&r->by_id, res->id, res);
        if (res->name_key)
            map_del(&r->by_name[res->kind], res->name_key, res);
        return -1;
    }
    if (res->kind == TARGET_GROUP && !r->loading)
        link_members(r, res, 1);
    return 0;
}

static void index_del(struct target_repo *r, struct target_res *res)
{
    if (res->kind == TARGET_GROUP)
        link_members(r, res, 0);
    map_del(&r->by_id, res->id, res);
    if (res->name_key)
        map_del(&r->by_name[res->kind], res->name_key, res);
    if (res->ext)
        map_del(&r->by_ext[res->kind], res->ext, res);
}

static enum sc_err persist(struct target_repo *r, const struct target_res *res)
{
    if (!r->st)
        return SC_OK;
    char *text = sc_json_dump(res->doc);
    if (!text)
        return SC_ERR_NOMEM;
    enum sc_err err = store_target_put(r->st, kind_names[res->kind], res->id, res->version, text);
    free(text);
    if (err)
        SC_ERROR("target.store_failed", "id=%s error=\"%s\"", res->id, sc_strerror(err));
    return err;
}

static int order_push(struct target_repo *r, struct target_res *res)
{
    struct target_order *o = &r->order[res->kind];
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 256;
        struct target_res **v = realloc(o->v, cap * sizeof *v);
        if (!v)
            return -1;
        o->v = v;
        o->cap = cap;
    }
    res->order_pos = o->n;
    o->v[o->n++] = res;
    return 0;
}

static void order_remove(struct target_repo *r, struct target_res *res)
{
    struct target_order *o = &r->order[res->kind];
    size_t i = res->order_pos;
    memmove(&o->v[i], &o->v[i + 1], (o->n - i - 1) * sizeof o->v[0]);
    o->n--;
    for (; i < o->n; i++)
        o->v[i]->order_pos = i;
}

/* Builds and indexes a resource without persisting it. doc is stolen. */
static enum sc_err add_resource(struct target_repo *r, enum target_kind k, const char *id,
                                int64_t version, json_t *doc, struct target_res **out)
{
    struct target_res *res = calloc(1, sizeof *res);
    if (!res) {
        json_decref(doc);
        return SC_ERR_NOMEM;
    }
    res->doc = doc;
    res->kind = k;
    res->version = version;
    sc_strlcpy(res->id, id, sizeof res->id);
    if (res_keys(k, doc, &res->name_key, &res->ext)) {
        res_free(res);
        return SC_ERR_NOMEM;
    }
    if (index_add(r, res)) {
        res_free(res);
        return SC_ERR_NOMEM;
    }
    if (order_push(r, res)) {
        index_del(r, res);
        res_free(res);
        return SC_ERR_NOMEM;
    }
    *out = res;
    return SC_OK;
}

/* ---- the interface ------------------------------------------------------------------- */

enum sc_err target_repo_init(struct target_repo *r, struct store *st)
{
    memset(r, 0, sizeof *r);
    if (pthread_rwlock_init(&r->lock, NULL))
        return SC_ERR_NOMEM;
    r->st = st;
    r->ready = 1;
    return SC_OK;
}

struct load_ctx {
    struct target_repo *r;
    struct sc_error *e;
    size_t n;
};

static int load_row(void *arg, const char *kind, const char *id, int64_t version, const char *json)
{
    struct load_ctx *lc = arg;
    enum target_kind k = strcmp(kind, "Group") == 0 ? TARGET_GROUP : TARGET_USER;
    json_t *doc = NULL;
    if (!id || !json || sc_json_parse(json, strlen(json), 0, &doc, lc->e)) {
        sc_error_set(lc->e, SC_ERR_PARSE, "db", "stored resource %s is not valid JSON",
                     id ? id : "?");
        return -1;
    }
    struct target_res *res = NULL;
    if (add_resource(lc->r, k, id, version, doc, &res)) {
        sc_error_set(lc->e, SC_ERR_NOMEM, NULL, "out of memory loading resource %s", id);
        return -1;
    }
    lc->n++;
    return 0;
}

enum sc_err target_repo_load(struct target_repo *r, struct sc_error *e)
{
    if (!r->st)
        return SC_OK;
    struct load_ctx lc = {r, e, 0};
    r->loading = 1;
    enum sc_err err = store_target_each(r->st, load_row, &lc);
    r->loading = 0;
    /* a group may list users stored after it: link memberships once all are loaded */
    for (size_t i = 0; i < r->order[TARGET_GROUP].n; i++)
        link_members(r, r->order[TARGET_GROUP].v[i], 1);
    if (err == SC_ERR_INVALID)
        return e->code ? e->code : err;
    if (err)
        return sc_error_set(e, err, "db", "cannot read the stored resources");
    SC_INFO("target.loaded", "resources=%zu", lc.n);
    return SC_OK;
}

void target_repo_free(struct target_repo *r)
{
    for (int k = 0; k < TARGET__KINDS; k++) {
        for (size_t i = 0; i < r->order[k].n; i++)
            res_free(r->order[k].v[i]);
        free(r->order[k].v);
        map_free(&r->by_name[k]);
        map_free(&r->by_ext[k]);
    }
    map_free(&r->by_id);
    if (r->ready)
        pthread_rwlock_destroy(&r->lock);
    r->ready = 0;
}

struct target_res *target_repo_get(struct target_repo *r, enum target_kind k, const char *id)
{
    return map_first(&r->by_id, id, k);
}

struct target_res *target_repo_by_name(struct target_repo *r, enum target_kind k, const char *name)
{
    char key[1024];
    if (sc_strlcpy(key, name, sizeof key) >= sizeof key) {
        /* longer than any stored key can match through the stack buffer: use the heap */
        char *big = sc_str_lower(sc_strdup(name));
        if (!big)
            return NULL;
        struct target_res *res = map_first(&r->by_name[k], big, k);
        free(big);
        return res;
    }
    return map_first(&r->by_name[k], sc_str_lower(key), k);
}

void target_repo_each_ext(struct target_repo *r, enum target_kind k, const char *ext,
                          int (*fn)(void *arg, struct target_res *res), void *arg)
{
    map_each(&r->by_ext[k], ext, fn, arg);
}

size_t target_repo_count(const struct target_repo *r, enum target_kind k)
{
    return r->order[k].n;
}

struct target_res *target_repo_at(const struct target_repo *r, enum target_kind k, size_t i)
{
    return i < r->order[k].n ? r->order[k].v[i] : NULL;
}

enum sc_err target_repo_insert(struct target_repo *r, enum target_kind k, const char *id,
                               json_t *doc, struct target_res **out)
{
    struct target_res *res = NULL;
    enum sc_err err = add_resource(r, k, id, 1, doc, &res);
    if (err)
        return err;
    if ((err = persist(r, res))) {
        index_del(r, res);
        order_remove(r, res);
        res_free(res);
        return err;
    }
    *out = res;
    return SC_OK;
}

enum sc_err target_repo_replace(struct target_repo *r, struct target_res *res, json_t *doc)
{
    char *name_key = NULL, *ext = NULL;
    if (res_keys(res->kind, doc, &name_key, &ext)) {
        json_decref(doc);
        return SC_ERR_NOMEM;
    }
    index_del(r, res);
    json_t *old_doc = res->doc;
    char *old_name = res->name_key, *old_ext = res->ext;
    res->doc = doc;
    res->name_key = name_key;
    res->ext = ext;
    res->version++;
    enum sc_err err = SC_OK;
    if (index_add(r, res))
        err = SC_ERR_NOMEM;
    else if ((err = persist(r, res)))
        index_del(r, res);
    if (err) {
        /* put the old state back */
        res->doc = old_doc;
        res->name_key = old_name;
        res->ext = old_ext;
        res->version--;
        index_add(r, res);
        json_decref(doc);
        free(name_key);
        free(ext);
        return err;
    }
    json_decref(old_doc);
    free(old_name);
    free(old_ext);
    return SC_OK;
}

enum sc_err target_repo_remove(struct target_repo *r, struct target_res *res)
{
    if (r->st) {
        enum sc_err err = store_target_delete(r->st, res->id);
        if (err) {
            SC_ERROR("target.store_failed", "id=%s error=\"%s\"", res->id, sc_strerror(err));
            return err;
        }
    }
    index_del(r, res);
    order_remove(r, res);
    res_free(res);
    return SC_OK;
}
