/* SCIM PATCH (RFC 7644 §3.5.2): parsing PatchOp bodies, applying them to a copy of a
 * resource (all or nothing, then validated against the schema), and building the
 * PatchOp of what changed between two attribute sets (see patch.h). */
#include "scim/patch.h"
#include "scim/alias.h"
#include "scim/filter.h"
#include "scim/scim_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

void scim_patch_free(struct scim_patch *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->count; i++) {
        scim_path_free(p->ops[i].path);
        json_decref(p->ops[i].value);
    }
    free(p->ops);
    free(p);
}

static int has_schema(const json_t *body, const char *urn)
{
    size_t i;
    json_t *x;
    json_array_foreach(scim__obj_get(body, "schemas", NULL), i, x)
    {
        if (json_is_string(x) && sc_strcaseeq(json_string_value(x), urn))
            return 1;
    }
    return 0;
}

enum sc_err scim_patch_parse(const json_t *body, struct scim_patch **out, struct scim_error *err)
{
    enum sc_err rc = SC_OK;
    struct scim_patch *p = NULL;
    if (!json_is_object(body) || !has_schema(body, SCIM_MSG_PATCH_OP))
        return scim_error_set(
            err, 400, SCIM_TYPE_INVALID_SYNTAX,
            "a PATCH body must be an object whose schemas list " SCIM_MSG_PATCH_OP);
    const json_t *ops = scim__obj_get(body, "Operations", NULL);
    if (!json_is_array(ops) || json_array_size(ops) == 0)
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                              "Operations must be a non-empty array");
    if (json_array_size(ops) > SCIM_PATCH_MAX_OPERATIONS)
        return scim_error_set(err, 400, SCIM_TYPE_TOO_MANY,
                              "a PATCH may carry at most %d operations", SCIM_PATCH_MAX_OPERATIONS);
    p = calloc(1, sizeof *p);
    if (!p || !(p->ops = calloc(json_array_size(ops), sizeof *p->ops))) {
        rc = SC_ERR_NOMEM;
        goto done;
    }
    size_t i;
    json_t *o;
    json_array_foreach(ops, i, o)
    {
        struct scim_patch_op *op = &p->ops[i];
        p->count = i + 1;
        if (!json_is_object(o)) {
            rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                                "Operations[%zu] must be an object", i);
            goto done;
        }
        const char *name = json_string_value(scim__obj_get(o, "op", NULL));
        if (name && sc_strcaseeq(name, "add"))
            op->kind = SCIM_PATCH_ADD;
        else if (name && sc_strcaseeq(name, "replace"))
            op->kind = SCIM_PATCH_REPLACE;
        else if (name && sc_strcaseeq(name, "remove"))
            op->kind = SCIM_PATCH_REMOVE;
        else {
            rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                                "Operations[%zu].op must be add, replace or remove", i);
            goto done;
        }
        const json_t *path = scim__obj_get(o, "path", NULL);
        if (path && !json_is_null(path) && !json_is_string(path)) {
            rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_PATH,
                                "Operations[%zu].path must be a string", i);
            goto done;
        }
        if (json_is_string(path) && json_string_length(path) > 0) {
            struct scim_error perr = {0};
            if (scim_path_parse(json_string_value(path), &op->path, &perr) != SC_OK) {
                rc = scim_error_set(err, perr.status ? perr.status : 400, SCIM_TYPE_INVALID_PATH,
                                    "Operations[%zu]: %s", i, perr.detail);
                goto done;
            }
        }
        json_t *value = scim__obj_get(o, "value", NULL);
        if (op->kind == SCIM_PATCH_REMOVE) {
            if (!op->path) {
                rc = scim_error_set(err, 400, SCIM_TYPE_NO_TARGET,
                                    "Operations[%zu]: remove needs a path", i);
                goto done;
            }
            op->value = (value && !json_is_null(value)) ? json_incref(value) : NULL;
            continue;
        }
        if (!value) {
            rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE,
                                "Operations[%zu]: %s needs a value", i, name);
            goto done;
        }
        if (!op->path && !json_is_object(value)) {
            rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE,
                                "Operations[%zu]: without a path, the value must be an object "
                                "of attributes",
                                i);
            goto done;
        }
        op->value = json_incref(value);
    }
    *out = p;
    p = NULL;
done:
    scim_patch_free(p);
    return rc;
}

/* ---- apply ---- */

struct actx {
    const struct scim_resource_type *rt;
    json_t *res;
    size_t index;
    struct scim_error *err;
};

#define MAX_PRIMARIES 16

/* Remembers which elements of a multi-valued attribute are primary before an
 * operation, so that a newly written primary can win afterwards. */
struct primaries {
    json_t *arr;
    const json_t *old[MAX_PRIMARIES];
    size_t n;
};

static void primaries_before(struct primaries *pr, json_t *arr)
{
    pr->arr = json_is_array(arr) ? arr : NULL;
    pr->n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(pr->arr, i, e)
    {
        if (json_is_true(scim__obj_get(e, "primary", NULL)) && pr->n < MAX_PRIMARIES)
            pr->old[pr->n++] = e;
    }
}

static void primaries_after(const struct primaries *pr, json_t *arr)
{
    size_t count = 0, i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        if (json_is_true(scim__obj_get(e, "primary", NULL)))
            count++;
    }
    if (count <= 1 || arr != pr->arr)
        return;
    json_array_foreach(arr, i, e)
    {
        for (size_t k = 0; k < pr->n && count > 1; k++) {
            if (e == pr->old[k] && json_is_true(scim__obj_get(e, "primary", NULL))) {
                const char *key = NULL;
                scim__obj_get(e, "primary", &key);
                json_object_set_new(e, key, json_false());
                count--;
            }
        }
    }
}

static enum sc_err op_error(struct actx *c, const struct scim_path *p, const char *type,
                            const char *what)
{
    struct sc_buf b;
    sc_buf_init(&b, 512);
    scim_path_format(p, &b);
    enum sc_err rc = scim_error_set(c->err, 400, type, "Operations[%zu] (%s): %s", c->index,
                                    b.data ? b.data : "", what);
    sc_buf_free(&b);
    return rc;
}

/* The object that holds p's attribute in the resource, or NULL when absent. */
static json_t *holder(struct actx *c, const struct scim_path *p)
{
    return (json_t *)scim__container(c->rt, c->res, p->schema, p->attr);
}

/* Appends the values of v (an array, or one value) to the multi-valued attribute of p,
 * skipping exact duplicates. */
static enum sc_err append_values(struct actx *c, const struct scim_path *p,
                                 const struct scim_attr *a, const json_t *v)
{
    json_t *cont = holder(c, p);
    json_t *cur = scim__obj_get(cont, p->attr, NULL);
    if (!json_is_array(cur)) {
        json_t *arr = json_is_array(v) ? json_deep_copy(v) : json_pack("[O]", v);
        return scim_path_set(c->rt, c->res, p, arr, c->err);
    }
    struct primaries pr;
    primaries_before(&pr, cur);
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_is_array(v) ? json_array_get(v, i) : v;
        int dup = 0;
        size_t j;
        json_t *y;
        json_array_foreach(cur, j, y)
        {
            if (json_equal(x, y))
                dup = 1;
        }
        if (!dup && json_array_append_new(cur, json_deep_copy(x)) < 0)
            return SC_ERR_NOMEM;
    }
    primaries_after(&pr, cur);
    (void)a;
    return SC_OK;
}

/* Merges the members of object v into the complex attribute of p. */
static enum sc_err merge_complex(struct actx *c, const struct scim_path *p, const json_t *v)
{
    json_t *cont = holder(c, p);
    json_t *cur = scim__obj_get(cont, p->attr, NULL);
    if (!json_is_object(cur))
        return scim_path_set(c->rt, c->res, p, json_deep_copy(v), c->err);
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        const char *key = NULL;
        if (!scim__obj_get(cur, k, &key))
            key = k;
        if (json_is_null(x))
            json_object_del(cur, key);
        else if (json_object_set_new(cur, key, json_deep_copy(x)) < 0)
            return SC_ERR_NOMEM;
    }
    return SC_OK;
}

/* Removes the elements of a multi-valued attribute whose "value" equals that of one
 * of the given values (Entra's remove of members with a value). */
static int remove_by_value(struct actx *c, const struct scim_path *p, const json_t *v)
{
    json_t *cont = holder(c, p);
    const char *key = NULL;
    json_t *cur = scim__obj_get(cont, p->attr, &key);
    int n = 0;
    if (!json_is_array(cur))
        return 0;
    size_t nv = json_is_array(v) ? json_array_size(v) : 1;
    for (size_t i = json_array_size(cur); i > 0; i--) {
        json_t *e = json_array_get(cur, i - 1);
        for (size_t k = 0; k < nv; k++) {
            const json_t *x = json_is_array(v) ? json_array_get(v, k) : v;
            const json_t *xv = json_is_object(x) ? scim__obj_get(x, "value", NULL) : x;
            const json_t *ev = json_is_object(e) ? scim__obj_get(e, "value", NULL) : e;
            if ((xv && ev && json_equal(xv, ev)) || json_equal(x, e)) {
                json_array_remove(cur, i - 1);
                n++;
                break;
            }
        }
    }
    if (json_array_size(cur) == 0)
        json_object_del(cont, key);
    return n;
}

static int filter_matches_any(const struct actx *c, const struct scim_path *p,
                              const struct scim_attr *a, const json_t *whole)
{
    size_t n = json_is_array(whole) ? json_array_size(whole) : (whole ? 1 : 0);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_is_array(whole) ? json_array_get(whole, i) : whole;
        if (scim__filter_match_element(p->filter, c->rt, a, e))
            return 1;
    }
    return 0;
}

static enum sc_err apply_path(struct actx *c, enum scim_patch_kind kind, const struct scim_path *p,
                              const json_t *value);

/* Returns the extension of rt that a bare URN path ("urn:...:enterprise:2.0:User",
 * parsed as schema "urn:...:2.0" and attribute "User") names, or NULL. */
static const struct scim_schema *whole_extension(const struct actx *c, const struct scim_path *p)
{
    if (!p->schema || p->filter || p->sub)
        return NULL;
    size_t sl = strlen(p->schema);
    for (size_t i = 0; i < c->rt->n_extensions; i++) {
        const char *id = c->rt->extensions[i]->id;
        if (strlen(id) == sl + 1 + strlen(p->attr) && sc_strncaseeq(id, p->schema, sl) &&
            id[sl] == ':' && sc_strcaseeq(id + sl + 1, p->attr))
            return c->rt->extensions[i];
    }
    return NULL;
}

/* Applies an operation on a whole extension: each member of the value (or, for
 * remove, of the stored extension object) as its own path. */
static enum sc_err apply_extension(struct actx *c, enum scim_patch_kind kind,
                                   const struct scim_schema *ext, const json_t *value)
{
    enum sc_err rc = SC_OK;
    json_t *names = NULL;
    if (kind == SCIM_PATCH_REMOVE) {
        const json_t *cur = scim__obj_get(c->res, ext->id, NULL);
        names = json_object();
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)cur, k, v)
        {
            json_object_set_new(names, k, json_null());
        }
        value = names;
    } else if (!json_is_object(value)) {
        return scim_error_set(c->err, 400, SCIM_TYPE_INVALID_VALUE,
                              "Operations[%zu]: the value for %s must be an object", c->index,
                              ext->id);
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)value, k, v)
    {
        struct scim_path ep = {.schema = (char *)ext->id, .attr = (char *)k};
        if (!scim__name_valid(k, strlen(k))) {
            rc = scim_error_set(c->err, 400, SCIM_TYPE_INVALID_PATH,
                                "Operations[%zu]: %.200s is not an attribute name", c->index, k);
            break;
        }
        if ((rc = apply_path(c, kind, &ep, kind == SCIM_PATCH_REMOVE ? NULL : v)) != SC_OK)
            break;
    }
    json_decref(names);
    return rc;
}

static enum sc_err apply_path(struct actx *c, enum scim_patch_kind kind, const struct scim_path *p,
                              const json_t *value)
{
    const struct scim_attr *a = NULL, *sa = NULL;
    const struct scim_schema *ext = whole_extension(c, p);
    if (ext)
        return apply_extension(c, kind, ext, value);
    if (scim__find_attr(c->rt, p->schema, p->attr, NULL, &a) < 0)
        return op_error(c, p, SCIM_TYPE_INVALID_PATH, "no such attribute");
    if (p->sub && !(sa = scim_attr_sub(a, p->sub)))
        return op_error(c, p, SCIM_TYPE_INVALID_PATH, "no such sub-attribute");
    if (p->filter && !a->multi_valued)
        return op_error(c, p, SCIM_TYPE_INVALID_PATH,
                        "a value filter needs a multi-valued attribute");
    if (p->sub && !p->filter && a->multi_valued && kind != SCIM_PATCH_REMOVE)
        return op_error(c, p, SCIM_TYPE_INVALID_PATH,
                        "use a value filter to choose which value to change");
    json_t *cur = scim_path_get(c->rt, c->res, p);
    const struct scim_attr *target = sa ? sa : a;
    if (a->mutability == SCIM_MUT_READ_ONLY || target->mutability == SCIM_MUT_READ_ONLY) {
        if (kind != SCIM_PATCH_REMOVE && cur && value && json_equal(cur, value))
            return SC_OK; /* writing back what is there is harmless */
        return op_error(c, p, SCIM_TYPE_MUTABILITY, "the attribute is readOnly");
    }
    if (target->mutability == SCIM_MUT_IMMUTABLE && cur && !(value && json_equal(cur, value)))
        return op_error(c, p, SCIM_TYPE_MUTABILITY,
                        "the attribute is immutable and already has a value");
    if (kind == SCIM_PATCH_REMOVE) {
        if (value && a->multi_valued && !p->filter && !p->sub) {
            remove_by_value(c, p, value);
            return SC_OK;
        }
        scim_path_remove(c->rt, c->res, p);
        return SC_OK;
    }
    if (json_is_null(value)) {
        scim_path_remove(c->rt, c->res, p);
        return SC_OK;
    }
    json_t *cont = holder(c, p);
    json_t *whole = scim__obj_get(cont, p->attr, NULL);
    struct primaries pr;
    primaries_before(&pr, whole);
    enum sc_err rc = SC_OK;
    if (!p->filter && !p->sub) {
        if (a->multi_valued && kind == SCIM_PATCH_ADD)
            return append_values(c, p, a, value);
        if (a->multi_valued) {
            json_t *arr = json_is_array(value) ? json_deep_copy(value) : json_pack("[O]", value);
            return scim_path_set(c->rt, c->res, p, arr, c->err);
        }
        if (a->type == SCIM_T_COMPLEX && json_is_object(value))
            return merge_complex(c, p, value);
        return scim_path_set(c->rt, c->res, p, json_deep_copy(value), c->err);
    }
    if (p->filter && kind == SCIM_PATCH_REPLACE && !filter_matches_any(c, p, a, whole))
        return op_error(c, p, SCIM_TYPE_NO_TARGET, "no value matches the filter");
    rc = scim_path_set(c->rt, c->res, p, json_deep_copy(value), c->err);
    if (rc == SC_OK)
        primaries_after(&pr, scim__obj_get(holder(c, p), p->attr, NULL));
    return rc;
}

static enum sc_err apply_no_path(struct actx *c, enum scim_patch_kind kind, const json_t *value)
{
    const char *k;
    json_t *v;
    enum sc_err rc = SC_OK;
    json_object_foreach((json_t *)value, k, v)
    {
        if (sc_strcaseeq(k, "schemas"))
            continue;
        const struct scim_schema *ext = NULL;
        for (size_t i = 0; i < c->rt->n_extensions; i++)
            if (sc_strcaseeq(k, c->rt->extensions[i]->id))
                ext = c->rt->extensions[i];
        if (ext) {
            if ((rc = apply_extension(c, kind, ext, v)) != SC_OK)
                return rc;
            continue;
        }
        struct scim_path *p = NULL;
        struct scim_error perr = {0};
        if (scim_path_parse(k, &p, &perr) != SC_OK)
            return scim_error_set(c->err, 400, SCIM_TYPE_INVALID_PATH, "Operations[%zu]: %s",
                                  c->index, perr.detail);
        rc = apply_path(c, kind, p, v);
        scim_path_free(p);
        if (rc != SC_OK)
            return rc;
    }
    return SC_OK;
}

enum sc_err scim_patch_apply(const struct scim_patch *p, const struct scim_resource_type *rt,
                             const json_t *resource, json_t **out, struct scim_error *err)
{
    enum sc_err rc = SC_OK;
    json_t *work = NULL, *norm = NULL;
    struct scim_error verr = {0};
    if (!p || !rt || !json_is_object(resource))
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX, "nothing to patch");
    work = json_deep_copy(resource);
    if (!work)
        return SC_ERR_NOMEM;
    struct actx c = {.rt = rt, .res = work, .err = err};
    for (size_t i = 0; i < p->count; i++) {
        const struct scim_patch_op *op = &p->ops[i];
        c.index = i;
        if (op->path)
            rc = apply_path(&c, op->kind, op->path, op->value);
        else
            rc = apply_no_path(&c, op->kind, op->value);
        if (rc != SC_OK)
            goto done;
    }
    if (scim_resource_validate(rt, work, SCIM_VALIDATE_PATCHED, resource, &norm, &verr) != SC_OK) {
        rc = scim_error_set(err, verr.status ? verr.status : 400, verr.scim_type,
                            "after the PATCH: %s", verr.detail);
        goto done;
    }
    *out = norm;
    norm = NULL;
done:
    json_decref(work);
    json_decref(norm);
    return rc;
}

/* ---- building ---- */

static enum sc_err check_name(const char *name, struct scim_path **out, struct scim_error *err)
{
    struct scim_error perr = {0};
    if (scim_path_parse(scim_alias_resolve(name), out, &perr) != SC_OK)
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_PATH,
                              "%.200s is neither a target attribute name nor a SCIM path: %s", name,
                              perr.detail);
    return SC_OK;
}

/* One attribute of a diff: its flat name, parsed path, the entry it belongs to (the
 * path without sub-attribute, for a filtered multi-valued element or a complex
 * attribute; NULL for a plain one), its old and new values (NULL when absent). */
struct diff_key {
    const char *name;
    struct scim_path *path;
    char *entry;  /* canonical text of the entry path: emails[type eq "work"], name */
    int filtered; /* the entry is an element of a multi-valued attribute */
    const json_t *oldv, *newv;
    int done;
};

struct diff {
    struct diff_key *v;
    size_t n, cap;
};

static void diff_free(struct diff *d)
{
    for (size_t i = 0; i < d->n; i++) {
        scim_path_free(d->v[i].path);
        free(d->v[i].entry);
    }
    free(d->v);
}

static const json_t *present(const json_t *v)
{
    return v && !json_is_null(v) ? v : NULL;
}

static enum sc_err diff_add_key(struct diff *d, const char *name, const json_t *oldv,
                                const json_t *newv, struct scim_error *err)
{
    if (d->n == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 16;
        struct diff_key *g = realloc(d->v, ncap * sizeof *g);
        if (!g)
            return SC_ERR_NOMEM;
        d->v = g;
        d->cap = ncap;
    }
    struct diff_key *k = &d->v[d->n];
    memset(k, 0, sizeof *k);
    enum sc_err rc = check_name(name, &k->path, err);
    if (rc != SC_OK)
        return rc;
    d->n++;
    k->name = name;
    k->oldv = present(oldv);
    k->newv = present(newv);
    if (k->path->sub || k->path->filter) {
        struct scim_path e = *k->path;
        e.sub = NULL;
        struct sc_buf b;
        sc_buf_init(&b, 0);
        if (scim_path_format(&e, &b) != SC_OK || !b.data) {
            sc_buf_free(&b);
            return SC_ERR_NOMEM;
        }
        k->entry = sc_buf_steal(&b);
        k->filtered = k->path->filter != NULL;
    }
    return SC_OK;
}

/* Does some key of entry have a value on the old (side 0) or new (side 1) side? */
static int entry_has(const struct diff *d, const char *entry, int side)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].entry && strcmp(d->v[i].entry, entry) == 0 &&
            (side ? d->v[i].newv : d->v[i].oldv))
            return 1;
    return 0;
}

/* The path of an entry's attribute itself (with its URN, without filter or sub):
 * "emails", "name", "urn:...:User:manager". New string. */
static char *attr_path(const struct scim_path *p)
{
    struct scim_path e = {.schema = p->schema, .attr = p->attr};
    struct sc_buf b;
    sc_buf_init(&b, 0);
    if (scim_path_format(&e, &b) != SC_OK || !b.data) {
        sc_buf_free(&b);
        return NULL;
    }
    return sc_buf_steal(&b);
}

/* Appends one operation and the names it covers. */
static enum sc_err diff_emit(json_t *body, json_t *op_keys, const char *op, const char *path,
                             json_t *value, json_t *names)
{
    if (scim_patch_body_add(body, op, path, value) < 0) {
        json_decref(names);
        return SC_ERR_NOMEM;
    }
    if (op_keys)
        json_array_append(op_keys, names);
    json_decref(names);
    return SC_OK;
}

/* A whole new entry: every new value of entry's keys set into an empty resource, then
 * the attribute taken out of it (an array with the one element, or the complex object). */
static enum sc_err diff_entry_add(struct diff *d, size_t first, json_t *body, json_t *op_keys,
                                  struct scim_error *err)
{
    const struct scim_resource_type *rt = scim_resource_type_user();
    const char *entry = d->v[first].entry;
    json_t *res = json_object();
    json_t *names = json_array();
    char *apath = attr_path(d->v[first].path);
    enum sc_err rc = res && names && apath ? SC_OK : SC_ERR_NOMEM;
    for (size_t i = first; i < d->n && rc == SC_OK; i++) {
        struct diff_key *k = &d->v[i];
        if (!k->entry || strcmp(k->entry, entry) != 0)
            continue;
        k->done = 1;
        if (!k->newv)
            continue;
        rc = scim_path_set(rt, res, k->path, json_deep_copy(k->newv), err);
        if (rc == SC_OK)
            json_array_append_new(names, json_string(k->name));
    }
    if (rc == SC_OK) {
        /* the attribute sits at the top, or under its extension's URN */
        const json_t *holder = res;
        if (d->v[first].path->schema)
            holder = scim__obj_get(res, d->v[first].path->schema, NULL);
        json_t *value = (json_t *)scim__obj_get(holder, d->v[first].path->attr, NULL);
        if (!value)
            rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_PATH, "cannot build %s", entry);
        else
            rc = diff_emit(body, op_keys, "add", apath, json_deep_copy(value), names);
        names = NULL;
    }
    json_decref(names);
    json_decref(res);
    free(apath);
    return rc;
}

enum sc_err scim_patch_diff_ops(const json_t *old_attrs, const json_t *new_attrs, json_t **out,
                                json_t **op_keys_out, struct scim_error *err)
{
    enum sc_err rc = SC_OK;
    json_t *body = NULL, *op_keys = NULL;
    struct diff d = {0};
    if (!json_is_object(new_attrs) || (old_attrs && !json_is_object(old_attrs)))
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE,
                              "attribute sets must be JSON objects");
    body = scim_patch_body_new();
    op_keys = op_keys_out ? json_array() : NULL;
    if (!body || (op_keys_out && !op_keys)) {
        rc = SC_ERR_NOMEM;
        goto done;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)new_attrs, k, v)
    {
        if ((rc = diff_add_key(&d, k, scim__obj_get(old_attrs, k, NULL), v, err)) != SC_OK)
            goto done;
    }
    json_object_foreach((json_t *)old_attrs, k, v)
    {
        if (json_is_null(v) || scim__obj_get(new_attrs, k, NULL))
            continue;
        if ((rc = diff_add_key(&d, k, v, NULL, err)) != SC_OK)
            goto done;
    }
    for (size_t i = 0; i < d.n && rc == SC_OK; i++) {
        struct diff_key *x = &d.v[i];
        if (x->done)
            continue;
        if (x->oldv && x->newv && json_equal(x->oldv, x->newv))
            continue;
        if (!x->oldv && !x->newv)
            continue;
        if (x->entry && !entry_has(&d, x->entry, 0) && x->newv) {
            /* The entry is not on the target: add it whole (a value filter would match
             * nothing there, and strict servers answer noTarget). */
            rc = diff_entry_add(&d, i, body, op_keys, err);
            continue;
        }
        if (x->entry && x->filtered && !entry_has(&d, x->entry, 1)) {
            /* Every mapped value of the element is gone: remove the element. */
            json_t *names = json_array();
            for (size_t j = i; j < d.n; j++)
                if (d.v[j].entry && strcmp(d.v[j].entry, x->entry) == 0) {
                    d.v[j].done = 1;
                    if (d.v[j].oldv)
                        json_array_append_new(names, json_string(d.v[j].name));
                }
            rc = diff_emit(body, op_keys, "remove", x->entry, NULL, names);
            continue;
        }
        const char *path = scim_alias_resolve(x->name);
        const char *op = !x->newv ? "remove" : !x->oldv ? "add" : "replace";
        rc = diff_emit(body, op_keys, op, path, x->newv ? json_deep_copy(x->newv) : NULL,
                       json_pack("[s]", x->name));
    }
    if (rc != SC_OK)
        goto done;
    if (json_array_size(json_object_get(body, "Operations")) > 0) {
        *out = body;
        body = NULL;
        if (op_keys_out) {
            *op_keys_out = op_keys;
            op_keys = NULL;
        }
    } else {
        *out = NULL;
        if (op_keys_out)
            *op_keys_out = NULL;
    }
done:
    diff_free(&d);
    json_decref(body);
    json_decref(op_keys);
    return rc;
}

enum sc_err scim_patch_diff(const json_t *old_attrs, const json_t *new_attrs, json_t **out,
                            struct scim_error *err)
{
    return scim_patch_diff_ops(old_attrs, new_attrs, out, NULL, err);
}

/* Parsed attribute names for scim_resource_from_attrs, which the engine calls for every
 * create with the same few mapping keys: parsing them (alias look-up, path and filter
 * parser) was a tenth of its thread. Entries are added, never changed or removed (up to
 * PATH_CACHE_SLOTS, then names are parsed each time), so a path handed out stays valid
 * and unchanged for the process's life and threads share it read-only; path_cache_lock
 * orders the writes of an entry before any read of it. */
#define PATH_CACHE_SLOTS 256
#define PATH_CACHE_NAME_MAX 256

static struct {
    char *name;
    struct scim_path *path;
} path_cache[PATH_CACHE_SLOTS];
static size_t path_cache_used;
static pthread_mutex_t path_cache_lock = PTHREAD_MUTEX_INITIALIZER;

/* *p is name's parsed path: from the cache (*owned NULL) or parsed now (*owned = *p, the
 * caller's to free). Errors as check_name. */
static enum sc_err cached_name(const char *name, const struct scim_path **p,
                               struct scim_path **owned, struct scim_error *err)
{
    *owned = NULL;
    size_t len = strlen(name);
    size_t slot = len < PATH_CACHE_NAME_MAX ? (size_t)XXH3_64bits(name, len) % PATH_CACHE_SLOTS
                                            : PATH_CACHE_SLOTS;
    if (slot < PATH_CACHE_SLOTS) {
        pthread_mutex_lock(&path_cache_lock);
        for (size_t i = 0; i < PATH_CACHE_SLOTS && path_cache[slot].name; i++) {
            if (strcmp(path_cache[slot].name, name) == 0) {
                *p = path_cache[slot].path;
                pthread_mutex_unlock(&path_cache_lock);
                return SC_OK;
            }
            slot = (slot + 1) % PATH_CACHE_SLOTS;
        }
        pthread_mutex_unlock(&path_cache_lock);
    }
    struct scim_path *parsed = NULL;
    enum sc_err rc = check_name(name, &parsed, err);
    if (rc != SC_OK)
        return rc;
    *p = parsed;
    *owned = parsed;
    if (slot >= PATH_CACHE_SLOTS)
        return SC_OK;
    char *copy = malloc(len + 1);
    if (!copy)
        return SC_OK;
    memcpy(copy, name, len + 1);
    pthread_mutex_lock(&path_cache_lock);
    int kept = 0;
    if (path_cache_used < PATH_CACHE_SLOTS / 2) { /* half full at most: probes stay short */
        while (path_cache[slot].name && strcmp(path_cache[slot].name, name) != 0)
            slot = (slot + 1) % PATH_CACHE_SLOTS;
        if (!path_cache[slot].name) {
            path_cache[slot].name = copy;
            path_cache[slot].path = parsed;
            path_cache_used++;
            kept = 1;
        }
    }
    pthread_mutex_unlock(&path_cache_lock);
    if (kept)
        *owned = NULL; /* the cache's now */
    else
        free(copy);
    return SC_OK;
}

enum sc_err scim_resource_from_attrs(const json_t *attrs, json_t **out, struct scim_error *err)
{
    enum sc_err rc = SC_OK;
    const struct scim_path *p = NULL;
    struct scim_path *owned = NULL;
    json_t *res = NULL;
    if (!json_is_object(attrs))
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE,
                              "the attribute set must be a JSON object");
    res = json_pack("{s:[s]}", "schemas", SCIM_SCHEMA_USER);
    if (!res)
        return SC_ERR_NOMEM;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)attrs, k, v)
    {
        if (json_is_null(v))
            continue;
        if ((rc = cached_name(k, &p, &owned, err)) != SC_OK)
            goto done;
        rc = scim_path_set(scim_resource_type_user(), res, p, json_deep_copy(v), err);
        scim_path_free(owned);
        owned = NULL;
        if (rc != SC_OK)
            goto done;
    }
    *out = res;
    res = NULL;
done:
    scim_path_free(owned);
    json_decref(res);
    return rc;
}
