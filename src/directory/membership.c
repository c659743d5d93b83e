/* The membership snapshot: every group (with its compiled dynamic filter), nesting edge
 * and direct user membership loaded once into memory, so that the effective groups of
 * many users (a full resync over the whole directory) cost no database round trips.
 * Resolution: direct groups, then every group containing them at any depth, then
 * dynamic groups whose filter matches (given the groups found so far), repeated to a
 * fixed point; cycles cannot be stored but the walk guards against them anyway. */
#include "directory/directory.h"
#include "directory/directory_internal.h"
#include "directory/userfilter.h"
#include "base/buf.h"
#include "base/log.h"
#include "store/store_directory.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct dg_group {
    char *id;
    char *name;
    struct userfilter *filter; /* dynamic groups only */
    uint32_t *parents;         /* indexes of groups that contain this one directly */
    size_t nparents, capparents;
};

struct dg_member {
    char user_id[40];
    uint32_t group;
};

struct directory_groups {
    struct dg_group *groups;
    size_t n, cap;
    uint32_t *by_id;   /* group indexes sorted by id */
    uint32_t *by_name; /* group indexes sorted by name, case-insensitively */
    uint32_t *dynamic; /* indexes of dynamic groups */
    size_t ndynamic;
    struct dg_member *members; /* direct user memberships sorted by user id */
    size_t nmembers, capmembers;
    int sorted;
};

/* qsort has no context argument: the array being sorted is passed through this. */
static _Thread_local const struct directory_groups *sorting;

static int cmp_id(const void *a, const void *b)
{
    return strcmp(sorting->groups[*(const uint32_t *)a].id,
                  sorting->groups[*(const uint32_t *)b].id);
}

static int cmp_name(const void *a, const void *b)
{
    return strcasecmp(sorting->groups[*(const uint32_t *)a].name,
                      sorting->groups[*(const uint32_t *)b].name);
}

static int cmp_member(const void *a, const void *b)
{
    return strcmp(((const struct dg_member *)a)->user_id, ((const struct dg_member *)b)->user_id);
}

/* Builds the id and name indexes once all groups are in. */
static int index_groups(struct directory_groups *g)
{
    if (g->sorted)
        return 0;
    size_t n = g->n ? g->n : 1;
    g->by_id = malloc(n * sizeof *g->by_id);
    g->by_name = malloc(n * sizeof *g->by_name);
    g->dynamic = malloc(n * sizeof *g->dynamic);
    if (!g->by_id || !g->by_name || !g->dynamic)
        return -1;
    for (size_t i = 0; i < g->n; i++) {
        g->by_id[i] = g->by_name[i] = (uint32_t)i;
        if (g->groups[i].filter)
            g->dynamic[g->ndynamic++] = (uint32_t)i;
    }
    sorting = g;
    qsort(g->by_id, g->n, sizeof *g->by_id, cmp_id);
    qsort(g->by_name, g->n, sizeof *g->by_name, cmp_name);
    sorting = NULL;
    g->sorted = 1;
    return 0;
}

long directory__groups_index(const struct directory_groups *g, const char *id)
{
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(g->groups[g->by_id[mid]].id, id);
        if (c == 0)
            return (long)g->by_id[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

const char *directory__groups_id(const struct directory_groups *g, size_t i)
{
    return g->groups[i].id;
}

const char *directory__groups_name(const struct directory_groups *g, size_t i)
{
    return g->groups[i].name;
}

static int on_group(void *arg, const char *id, const char *name, const char *filter_json)
{
    struct directory_groups *g = arg;
    if (g->n == g->cap) {
        size_t ncap = g->cap ? g->cap * 2 : 16;
        struct dg_group *grown = realloc(g->groups, ncap * sizeof *grown);
        if (!grown)
            return -1;
        g->groups = grown;
        g->cap = ncap;
    }
    struct dg_group *gr = &g->groups[g->n];
    memset(gr, 0, sizeof *gr);
    gr->id = sc_strdup(id);
    gr->name = sc_strdup(name);
    g->n++;
    if (!gr->id || !gr->name)
        return -1;
    if (filter_json) {
        json_t *spec = json_loads(filter_json, 0, NULL);
        struct sc_error e = {0};
        if (!spec || userfilter_compile(spec, &gr->filter, &e))
            SC_WARN("directory.bad_group_filter", "group=%s message=\"%s\"", id, e.message);
        json_decref(spec);
    }
    return 0;
}

static int on_nesting(void *arg, const char *parent_id, const char *child_id)
{
    struct directory_groups *g = arg;
    if (index_groups(g))
        return -1;
    long p = directory__groups_index(g, parent_id), c = directory__groups_index(g, child_id);
    if (p < 0 || c < 0)
        return 0;
    struct dg_group *child = &g->groups[c];
    if (child->nparents == child->capparents) {
        size_t ncap = child->capparents ? child->capparents * 2 : 4;
        uint32_t *grown = realloc(child->parents, ncap * sizeof *grown);
        if (!grown)
            return -1;
        child->parents = grown;
        child->capparents = ncap;
    }
    child->parents[child->nparents++] = (uint32_t)p;
    return 0;
}

static int on_membership(void *arg, const char *group_id, const char *user_id)
{
    struct directory_groups *g = arg;
    if (index_groups(g))
        return -1;
    long gi = directory__groups_index(g, group_id);
    if (gi < 0)
        return 0;
    if (g->nmembers == g->capmembers) {
        size_t ncap = g->capmembers ? g->capmembers * 2 : 256;
        struct dg_member *grown = realloc(g->members, ncap * sizeof *grown);
        if (!grown)
            return -1;
        g->members = grown;
        g->capmembers = ncap;
    }
    struct dg_member *m = &g->members[g->nmembers++];
    sc_strlcpy(m->user_id, user_id, sizeof m->user_id);
    m->group = (uint32_t)gi;
    return 0;
}

/* Loads the groups and nesting, and the direct memberships when members. */
static enum sc_err load(struct store *st, int members, struct directory_groups **out,
                        struct sc_error *e)
{
    struct directory_groups *g = calloc(1, sizeof *g);
    if (!g)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    struct store_directory_scan_fns fns = {on_group, on_nesting, members ? on_membership : NULL};
    enum sc_err rc = store_directory_scan(st, &fns, g);
    if (!rc && index_groups(g))
        rc = SC_ERR_NOMEM;
    if (rc) {
        directory_groups_free(g);
        return directory__store_error(rc, e, "load the groups");
    }
    if (g->nmembers > 1)
        qsort(g->members, g->nmembers, sizeof *g->members, cmp_member);
    *out = g;
    return SC_OK;
}

enum sc_err directory_groups_load(struct store *st, struct directory_groups **out,
                                  struct sc_error *e)
{
    return load(st, 1, out, e);
}

enum sc_err directory_groups_load_tree(struct store *st, struct directory_groups **out,
                                       struct sc_error *e)
{
    return load(st, 0, out, e);
}

void directory_groups_free(struct directory_groups *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++) {
        free(g->groups[i].id);
        free(g->groups[i].name);
        free(g->groups[i].parents);
        userfilter_free(g->groups[i].filter);
    }
    free(g->groups);
    free(g->by_id);
    free(g->by_name);
    free(g->dynamic);
    free(g->members);
    free(g);
}

size_t directory_groups_count(const struct directory_groups *g)
{
    return g ? g->n : 0;
}

/* Marks group i and every group containing it (iteratively, each group once). */
static int mark_up(const struct directory_groups *g, uint32_t i, unsigned char *mark,
                   uint32_t *stack)
{
    size_t top = 0;
    int added = 0;
    if (!(mark[i] & DIRECTORY__MEMBER)) {
        mark[i] |= DIRECTORY__MEMBER;
        added = 1;
    }
    stack[top++] = i;
    while (top > 0) {
        const struct dg_group *gr = &g->groups[stack[--top]];
        for (size_t k = 0; k < gr->nparents; k++) {
            uint32_t p = gr->parents[k];
            if (mark[p] & DIRECTORY__MEMBER)
                continue; /* seen: this also stops any cycle */
            mark[p] |= DIRECTORY__MEMBER;
            added = 1;
            stack[top++] = p; /* each group is pushed at most once: top < n */
        }
    }
    return added;
}

/* Marks the effective groups of user from its direct groups: seeds[0..nseeds) (group
 * indexes) when given, else its memberships in g. */
static int mark_from(const struct directory_groups *g, const json_t *user, const uint32_t *seeds,
                     size_t nseeds, unsigned char *mark)
{
    if (g->n == 0)
        return 0;
    uint32_t *stack = malloc(g->n * sizeof *stack);
    const char **names = malloc(g->n * sizeof *names);
    int rc = -1;
    if (!stack || !names)
        goto done;
    const char *uid = json_string_value(json_object_get(user, "id"));
    if (seeds) {
        for (size_t k = 0; k < nseeds; k++) {
            mark[seeds[k]] |= DIRECTORY__DIRECT;
            mark_up(g, seeds[k], mark, stack);
        }
    } else if (uid) {
        struct dg_member key;
        sc_strlcpy(key.user_id, uid, sizeof key.user_id);
        size_t lo = 0, hi = g->nmembers;
        while (lo < hi) { /* first membership of uid */
            size_t mid = (lo + hi) / 2;
            if (cmp_member(&g->members[mid], &key) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t k = lo; k < g->nmembers && cmp_member(&g->members[k], &key) == 0; k++) {
            mark[g->members[k].group] |= DIRECTORY__DIRECT;
            mark_up(g, g->members[k].group, mark, stack);
        }
    }
    /* Dynamic groups, to a fixed point: a filter on `group` sees the groups found so far.
     * Each round adds at least one group, so there are at most ndynamic rounds. */
    for (size_t round = 0; round <= g->ndynamic; round++) {
        size_t nn = 0;
        for (size_t i = 0; i < g->n; i++)
            if (mark[i] & DIRECTORY__MEMBER)
                names[nn++] = g->groups[i].name;
        int changed = 0;
        for (size_t d = 0; d < g->ndynamic; d++) {
            uint32_t gi = g->dynamic[d];
            if (mark[gi] & DIRECTORY__MEMBER)
                continue;
            if (userfilter_match(g->groups[gi].filter, user, names, nn))
                changed |= mark_up(g, gi, mark, stack);
        }
        if (!changed)
            break;
    }
    rc = 0;
done:
    free(stack);
    free(names);
    return rc;
}

int directory__groups_mark(const struct directory_groups *g, const json_t *user,
                           unsigned char *mark)
{
    return mark_from(g, user, NULL, 0, mark);
}

size_t directory_groups_of_user(const struct directory_groups *g, const json_t *user,
                                const char **names, size_t max)
{
    if (!g || g->n == 0)
        return 0;
    unsigned char *mark = calloc(g->n, 1);
    if (!mark || directory__groups_mark(g, user, mark)) {
        free(mark);
        return 0;
    }
    size_t count = 0;
    for (size_t k = 0; k < g->n; k++) {
        uint32_t i = g->by_name[k];
        if (!(mark[i] & DIRECTORY__MEMBER))
            continue;
        if (count < max)
            names[count] = g->groups[i].name;
        count++;
    }
    free(mark);
    return count;
}

long directory_groups_find(const struct directory_groups *g, const char *id)
{
    return g && id ? directory__groups_index(g, id) : -1;
}

const char *directory_groups_id_at(const struct directory_groups *g, size_t i)
{
    return g->groups[i].id;
}

const char *directory_groups_name_at(const struct directory_groups *g, size_t i)
{
    return g->groups[i].name;
}

int directory_groups_dynamic_at(const struct directory_groups *g, size_t i)
{
    return g->groups[i].filter != NULL;
}

size_t directory_groups_parents_at(const struct directory_groups *g, size_t i,
                                   const uint32_t **parents)
{
    *parents = g->groups[i].parents;
    return g->groups[i].nparents;
}

int directory_groups_mark_user(const struct directory_groups *g, const json_t *user,
                               unsigned char *member, unsigned char *direct)
{
    size_t n = directory_groups_count(g);
    if (n == 0)
        return 0;
    unsigned char *mark = calloc(n, 1);
    if (!mark || directory__groups_mark(g, user, mark)) {
        free(mark);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        member[i] = (mark[i] & DIRECTORY__MEMBER) != 0;
        if (direct)
            direct[i] = (mark[i] & DIRECTORY__DIRECT) != 0;
    }
    free(mark);
    return 0;
}

int directory_groups_mark_user_in(const struct directory_groups *g, const json_t *user,
                                  const json_t *direct_ids, unsigned char *member,
                                  unsigned char *direct)
{
    size_t n = directory_groups_count(g);
    if (n == 0)
        return 0;
    size_t nd = json_array_size(direct_ids);
    unsigned char *mark = calloc(n, 1);
    uint32_t *seeds = malloc((nd ? nd : 1) * sizeof *seeds);
    int rc = -1;
    if (!mark || !seeds)
        goto done;
    size_t ns = 0;
    for (size_t k = 0; k < nd; k++) {
        long i = directory__groups_index(g, json_string_value(json_array_get(direct_ids, k)));
        if (i >= 0)
            seeds[ns++] = (uint32_t)i;
    }
    if (mark_from(g, user, seeds, ns, mark))
        goto done;
    for (size_t i = 0; i < n; i++) {
        member[i] = (mark[i] & DIRECTORY__MEMBER) != 0;
        if (direct)
            direct[i] = (mark[i] & DIRECTORY__DIRECT) != 0;
    }
    rc = 0;
done:
    free(mark);
    free(seeds);
    return rc;
}
