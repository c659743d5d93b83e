/* Attribute mappings: validation and compilation of the rows (targets through the SCIM
 * core's alias table and path parser, sources through provision/expr), and the SCIM
 * User resource built from a directory user with the SCIM core's path setter. */
#include "provision/mapping.h"
#include "base/buf.h"
#include "provision/expr.h"
#include "scim/alias.h"
#include "scim/filter.h"
#include "scim/path.h"
#include "scim/schema.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* mapping_apply's shape cache. The JSON structure the path setter builds depends only
 * on which rows have a value (for mappings whose values cannot steer the setter: see
 * shape_safe), so for each set of present rows the resource is built once with
 * placeholders, the place of each row's value recorded, and later users get a copy of
 * that skeleton with their values put in place: the same JSON as the setter's, several
 * times faster. */
#define SHAPE_CACHE 32
#define SHAPE_MAX_STEPS 8
#define SHAPE_MARK "\x01scimitar-mapping-row-"

struct shape_step {
    const char *key; /* object member (borrowed from the skeleton), or NULL */
    size_t index;    /* array index when key is NULL */
};

struct shape {
    uint64_t mask;
    int usable;       /* 0: build this shape with the setter every time */
    json_t *skeleton; /* placeholders where the values go */
    struct shape_step (*steps)[SHAPE_MAX_STEPS]; /* per row */
    int *nsteps;                                 /* per row; 0 for absent rows */
};

struct mapping_row {
    char *target; /* as written */
    char *path;   /* canonical SCIM path text */
    char *source;
    struct scim_path *parsed;
    struct expr *expr;
    int clear_on_unmap; /* clear the target's value when the row is removed */
};

struct mapping {
    struct mapping_row *rows;
    size_t n;
    int shape_safe; /* the shape cache may be used (see shape_safe) */
    pthread_mutex_t mu;
    struct shape shapes[SHAPE_CACHE];
    size_t nshapes, next_evict;
};

static int shape_safe(const struct mapping *m);

static const char *const default_rows[][2] = {
    {"userName", "username"},
    {"givenName", "name.given"},
    {"familyName", "name.family"},
    {"workPhone", "primaryPhone"},
    {"workEmail", "email"},
    {"externalId", "externalId"},
    {"workCity", "address.locality"},
    {"workStreetAddeess", "address.streetAddress"},
    {"workCountry", "address.countryCode"},
    {"workPostalCode", "address.postalCode"},
    {"userType", "type"},
    {"title", "title"},
    {"nickName", "nickname"},
    {"formattedName", "name.formatted"},
};

json_t *mapping_defaults(void)
{
    json_t *rows = json_array();
    for (size_t i = 0; rows && i < sizeof default_rows / sizeof default_rows[0]; i++)
        json_array_append_new(rows, json_pack("{s:s, s:s}", "target", default_rows[i][0], "source",
                                              default_rows[i][1]));
    return rows;
}

static void shape_clear(struct shape *sh)
{
    json_decref(sh->skeleton);
    free(sh->steps);
    free(sh->nsteps);
    memset(sh, 0, sizeof *sh);
}

void mapping_free(struct mapping *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nshapes; i++)
        shape_clear(&m->shapes[i]);
    pthread_mutex_destroy(&m->mu);
    for (size_t i = 0; i < m->n; i++) {
        free(m->rows[i].target);
        free(m->rows[i].path);
        free(m->rows[i].source);
        scim_path_free(m->rows[i].parsed);
        expr_free(m->rows[i].expr);
    }
    free(m->rows);
    free(m);
}

/* Compiles row i (an element of the rows array) into r. */
static enum sc_err compile_row(const json_t *row, size_t i, struct mapping_row *r,
                               struct sc_error *e)
{
    char field[SC_ERROR_FIELD_MAX];
    snprintf(field, sizeof field, "mappings[%zu]", i);
    if (!json_is_object(row))
        return sc_error_set(e, SC_ERR_INVALID, field,
                            "%s must be an object {\"target\": ..., \"source\": ...}", field);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)row, key, v)
    {
        if (strcmp(key, "clearOnUnmap") == 0) {
            if (!json_is_boolean(v)) {
                snprintf(field, sizeof field, "mappings[%zu].clearOnUnmap", i);
                return sc_error_set(e, SC_ERR_INVALID, field, "%s must be true or false", field);
            }
            r->clear_on_unmap = json_is_true(v);
            continue;
        }
        if (strcmp(key, "target") != 0 && strcmp(key, "source") != 0) {
            snprintf(field, sizeof field, "mappings[%zu].%.64s", i, key);
            return sc_error_set(e, SC_ERR_INVALID, field,
                                "unknown field '%s' (a row has target, source and optionally "
                                "clearOnUnmap)",
                                field);
        }
    }
    json_t *t = json_object_get(row, "target");
    snprintf(field, sizeof field, "mappings[%zu].target", i);
    if (!json_is_string(t) || json_string_length(t) == 0)
        return sc_error_set(e, SC_ERR_INVALID, field,
                            "%s is required: a target attribute name such as userName or "
                            "workEmail, or a SCIM path",
                            field);
    const char *target = json_string_value(t);
    if (json_string_length(t) > MAPPING_TARGET_MAX)
        return sc_error_set(e, SC_ERR_INVALID, field, "%s must be at most %d characters", field,
                            MAPPING_TARGET_MAX);
    struct scim_error serr = {0};
    if (scim_alias_check(target, &serr) != SC_OK)
        return sc_error_set(e, SC_ERR_INVALID, field,
                            "'%.128s' is not a target attribute name (such as userName, "
                            "givenName, workEmail) or a SCIM path of the User resource%s%s",
                            target, serr.detail[0] ? ": " : "", serr.detail);
    if (scim_path_parse(scim_alias_resolve(target), &r->parsed, &serr) != SC_OK)
        return sc_error_set(e, SC_ERR_INVALID, field, "'%.128s' is not a SCIM path: %s", target,
                            serr.detail);
    struct sc_buf b;
    sc_buf_init(&b, 0);
    if (scim_path_format(r->parsed, &b) != SC_OK) {
        sc_buf_free(&b);
        return sc_error_set(e, SC_ERR_NOMEM, field, "out of memory");
    }
    r->path = sc_buf_steal(&b);
    r->target = sc_strdup(target);

    json_t *s = json_object_get(row, "source");
    snprintf(field, sizeof field, "mappings[%zu].source", i);
    if (!json_is_string(s) || json_string_length(s) == 0)
        return sc_error_set(e, SC_ERR_INVALID, field,
                            "%s is required: a directory field such as username, or an "
                            "expression",
                            field);
    r->source = sc_strdup(json_string_value(s));
    enum sc_err rc = expr_parse(json_string_value(s), &r->expr, e);
    if (rc) {
        if (e)
            sc_strlcpy(e->field, field, sizeof e->field);
        return rc;
    }
    if (!r->path || !r->target || !r->source)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    return SC_OK;
}

enum sc_err mapping_compile(const json_t *rows, struct mapping **out, struct sc_error *e)
{
    *out = NULL;
    if (!json_is_array(rows))
        return sc_error_set(e, SC_ERR_INVALID, "mappings",
                            "the mapping must be a JSON array of {\"target\", \"source\"}");
    size_t n = json_array_size(rows);
    if (n > MAPPING_MAX_ROWS)
        return sc_error_set(e, SC_ERR_INVALID, "mappings", "at most %d mapping rows",
                            MAPPING_MAX_ROWS);
    struct mapping *m = calloc(1, sizeof *m);
    if (!m || (n && !(m->rows = calloc(n, sizeof *m->rows)))) {
        free(m);
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    }
    pthread_mutex_init(&m->mu, NULL);
    enum sc_err rc = SC_OK;
    int has_username = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        rc = compile_row(json_array_get(rows, i), i, &m->rows[i], e);
        m->n = i + 1;
        if (rc)
            break;
        for (size_t j = 0; j < i; j++) {
            if (sc_strcaseeq(m->rows[j].path, m->rows[i].path)) {
                char field[SC_ERROR_FIELD_MAX];
                snprintf(field, sizeof field, "mappings[%zu].target", i);
                rc = sc_error_set(e, SC_ERR_INVALID, field,
                                  "'%.128s' sets the same attribute as mappings[%zu] "
                                  "('%.128s'): map each target attribute once",
                                  m->rows[i].target, j, m->rows[j].target);
                break;
            }
        }
        if (sc_strcaseeq(m->rows[i].path, "userName"))
            has_username = 1;
    }
    if (!rc && !has_username)
        rc = sc_error_set(e, SC_ERR_INVALID, "mappings",
                          "the mapping must set userName (every SCIM user has one)");
    if (rc) {
        mapping_free(m);
        return rc;
    }
    m->shape_safe = shape_safe(m);
    *out = m;
    return SC_OK;
}

/* Collects into names (up to max) the attributes a filter of `a eq "x" and ...` form
 * compares; returns -1 for any other form. */
static int filter_names(const struct scim_filter *f, const char **names, int *n, int max)
{
    if (!f)
        return 0;
    if (f->op == SCIM_OP_AND)
        return filter_names(f->left, names, n, max) || filter_names(f->right, names, n, max) ? -1
                                                                                             : 0;
    if (f->op != SCIM_OP_EQ || !f->attr || strchr(f->attr, '.') || strchr(f->attr, ':') ||
        *n >= max)
        return -1;
    names[(*n)++] = f->attr;
    return 0;
}

/* Returns 1 when no row's value can change where another row's value goes: every value
 * filter is a conjunction of `attr eq literal`, no row sets one of the attributes a
 * filter on the same attribute compares (or `primary`, which moves the primary flag),
 * and no row sets a whole multi-valued attribute that another row filters. */
static int shape_safe(const struct mapping *m)
{
    if (m->n > 64)
        return 0;
    for (size_t i = 0; i < m->n; i++) {
        const struct scim_path *p = m->rows[i].parsed;
        if (p->sub && sc_strcaseeq(p->sub, "primary"))
            return 0;
        if (!p->filter)
            continue;
        const char *names[16];
        int nn = 0;
        if (filter_names(p->filter, names, &nn, 16))
            return 0;
        for (size_t j = 0; j < m->n; j++) {
            const struct scim_path *q = m->rows[j].parsed;
            if (!sc_strcaseeq(q->attr, p->attr))
                continue;
            if (!q->sub && !q->filter)
                return 0;
            for (int k = 0; k < nn && q->sub; k++)
                if (sc_strcaseeq(q->sub, names[k]))
                    return 0;
        }
    }
    return 1;
}

/* Finds the placeholders in v (depth-first), recording each row's steps. -1 when a
 * placeholder is found twice, too deep, or malformed. */
static int shape_walk(struct shape *sh, json_t *v, struct shape_step *path, int depth, size_t n)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t ml = strlen(SHAPE_MARK);
        if (strncmp(s, SHAPE_MARK, ml) != 0)
            return 0;
        int64_t row;
        if (sc_parse_int64(s + ml, 0, (int64_t)n - 1, &row) || sh->nsteps[row] || depth == 0)
            return -1;
        memcpy(sh->steps[row], path, (size_t)depth * sizeof *path);
        sh->nsteps[row] = depth;
        return 0;
    }
    if (depth >= SHAPE_MAX_STEPS)
        return json_is_object(v) || json_is_array(v) ? -1 : 0;
    if (json_is_object(v)) {
        const char *key;
        json_t *child;
        json_object_foreach(v, key, child)
        {
            path[depth].key = key;
            path[depth].index = 0;
            if (shape_walk(sh, child, path, depth + 1, n))
                return -1;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child)
        {
            path[depth].key = NULL;
            path[depth].index = i;
            if (shape_walk(sh, child, path, depth + 1, n))
                return -1;
        }
    }
    return 0;
}

/* Builds the resource with the path setter; values[i] (stolen, NULL = absent) for each
 * row. */
static enum sc_err build_slow(const struct mapping *m, json_t **values, json_t **out)
{
    const struct scim_resource_type *rt = scim_resource_type_user();
    json_t *res = json_pack("{s:[s]}", "schemas", SCIM_SCHEMA_USER);
    enum sc_err rc = res ? SC_OK : SC_ERR_NOMEM;
    for (size_t i = 0; i < m->n; i++) {
        json_t *v = values[i];
        values[i] = NULL;
        if (!v || rc)
            continue;
        struct scim_error serr = {0};
        if (scim_path_set(rt, res, m->rows[i].parsed, v, &serr) != SC_OK)
            rc = SC_ERR_INTERNAL;
    }
    if (rc) {
        json_decref(res);
        return rc;
    }
    *out = res;
    return SC_OK;
}

/* Builds the shape for mask into sh (under m->mu). */
static void shape_build(const struct mapping *m, uint64_t mask, struct shape *sh)
{
    memset(sh, 0, sizeof *sh);
    sh->mask = mask;
    json_t *values[64] = {0};
    sh->steps = calloc(m->n ? m->n : 1, sizeof *sh->steps);
    sh->nsteps = calloc(m->n ? m->n : 1, sizeof *sh->nsteps);
    if (!sh->steps || !sh->nsteps)
        return;
    for (size_t i = 0; i < m->n; i++) {
        if (mask & ((uint64_t)1 << i)) {
            char mark[64];
            snprintf(mark, sizeof mark, "%s%zu", SHAPE_MARK, i);
            values[i] = json_string(mark);
        }
    }
    if (build_slow(m, values, &sh->skeleton) != SC_OK)
        return;
    struct shape_step path[SHAPE_MAX_STEPS];
    if (shape_walk(sh, sh->skeleton, path, 0, m->n))
        return;
    for (size_t i = 0; i < m->n; i++)
        if (!!(mask & ((uint64_t)1 << i)) != !!sh->nsteps[i])
            return;
    sh->usable = 1;
}

/* A deep copy of a skeleton (json_deep_copy's loop detection costs more than the copy
 * itself here). NULL when out of memory. */
static json_t *copy_tree(const json_t *v)
{
    json_t *out = NULL;
    if (json_is_object(v)) {
        out = json_object();
        const char *key;
        json_t *child;
        json_object_foreach((json_t *)v, key, child)
        {
            json_t *c = copy_tree(child);
            if (!out || !c || json_object_set_new_nocheck(out, key, c)) {
                json_decref(out);
                return NULL;
            }
        }
    } else if (json_is_array(v)) {
        out = json_array();
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child)
        {
            json_t *c = copy_tree(child);
            if (!out || !c || json_array_append_new(out, c)) {
                json_decref(out);
                return NULL;
            }
        }
    } else {
        out = json_copy((json_t *)v);
    }
    return out;
}

/* Puts v (stolen) at the place steps name in res. */
static int shape_put(json_t *res, const struct shape_step *steps, int n, json_t *v)
{
    json_t *cur = res;
    for (int i = 0; i < n - 1 && cur; i++)
        cur =
            steps[i].key ? json_object_get(cur, steps[i].key) : json_array_get(cur, steps[i].index);
    const struct shape_step *last = &steps[n - 1];
    if (!cur) {
        json_decref(v);
        return -1;
    }
    return last->key ? json_object_set_new(cur, last->key, v)
                     : json_array_set_new(cur, last->index, v);
}

enum sc_err mapping_apply(const struct mapping *m, const json_t *user, json_t **scim_user_out)
{
    *scim_user_out = NULL;
    json_t *stack_values[64];
    json_t **values = m->n <= 64 ? stack_values : calloc(m->n, sizeof *values);
    if (!values)
        return SC_ERR_NOMEM;
    enum sc_err rc = SC_OK;
    uint64_t mask = 0;
    for (size_t i = 0; i < m->n; i++) {
        json_t *v = expr_eval(m->rows[i].expr, user);
        if (!v)
            rc = SC_ERR_NOMEM;
        if (v && (json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))) {
            json_decref(v);
            v = NULL;
        }
        values[i] = v;
        if (v && i < 64)
            mask |= (uint64_t)1 << i;
    }
    json_t *res = NULL;
    if (!rc && m->shape_safe) {
        /* the cache is internal state of an otherwise immutable mapping */
        struct mapping *mm = (struct mapping *)m;
        pthread_mutex_lock(&mm->mu);
        struct shape *sh = NULL;
        for (size_t i = 0; i < mm->nshapes && !sh; i++)
            if (mm->shapes[i].mask == mask)
                sh = &mm->shapes[i];
        if (!sh) {
            if (mm->nshapes < SHAPE_CACHE) {
                sh = &mm->shapes[mm->nshapes++];
            } else {
                sh = &mm->shapes[mm->next_evict];
                mm->next_evict = (mm->next_evict + 1) % SHAPE_CACHE;
                shape_clear(sh);
            }
            shape_build(mm, mask, sh);
        }
        if (sh->usable)
            res = copy_tree(sh->skeleton);
        int usable = sh->usable;
        for (size_t i = 0; res && i < m->n; i++) {
            if (!values[i])
                continue;
            if (shape_put(res, sh->steps[i], sh->nsteps[i], values[i])) {
                json_decref(res);
                res = NULL;
                rc = SC_ERR_NOMEM;
            }
            values[i] = NULL;
        }
        pthread_mutex_unlock(&mm->mu);
        if (usable && !res && !rc)
            rc = SC_ERR_NOMEM;
    }
    if (!rc && !res)
        rc = build_slow(m, values, &res);
    for (size_t i = 0; i < m->n; i++)
        json_decref(values[i]);
    if (values != stack_values)
        free(values);
    if (rc)
        return rc;
    *scim_user_out = res;
    return SC_OK;
}

size_t mapping_count(const struct mapping *m)
{
    return m ? m->n : 0;
}

const char *mapping_target_name(const struct mapping *m, size_t i)
{
    return m && i < m->n ? m->rows[i].target : NULL;
}

const char *mapping_target_path(const struct mapping *m, size_t i)
{
    return m && i < m->n ? m->rows[i].path : NULL;
}

const char *mapping_source(const struct mapping *m, size_t i)
{
    return m && i < m->n ? m->rows[i].source : NULL;
}

int mapping_clear_on_unmap(const struct mapping *m, size_t i)
{
    return m && i < m->n ? m->rows[i].clear_on_unmap : 0;
}

const char *mapping_path_for(const struct mapping *m, const char *name)
{
    if (!m || !name)
        return NULL;
    struct scim_path *p = NULL;
    struct scim_error serr = {0};
    if (scim_path_parse(scim_alias_resolve(name), &p, &serr) != SC_OK)
        return NULL;
    struct sc_buf b;
    sc_buf_init(&b, 0);
    const char *found = NULL;
    if (scim_path_format(p, &b) == SC_OK && b.data)
        for (size_t i = 0; i < m->n && !found; i++)
            if (sc_strcaseeq(m->rows[i].path, b.data))
                found = m->rows[i].path;
    sc_buf_free(&b);
    scim_path_free(p);
    return found;
}
