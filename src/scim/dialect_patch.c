/* The SCIM 1.1 PATCH (draft-scim-api-01 §3.3.2), both sides (see dialect.h): building the
 * partial resource with meta.attributes and "operation":"delete" entries from the flat
 * attribute sets the mapping produces, and applying such a body to a SCIM 2.0 resource
 * (remove what meta.attributes names, then merge the body), all or nothing. */
#include "scim/alias.h"
#include "scim/dialect.h"
#include "scim/filter.h"
#include "scim/patch.h"
#include "scim/path.h"
#include "scim/scim_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- building ------------------------------------------------------------------------- */

/* Where a name of the flat set lands. */
struct name_info {
    struct scim_path *p; /* owned */
    const struct scim_schema *schema;
    const struct scim_attr *a;  /* the top-level attribute */
    const struct scim_attr *sa; /* its sub-attribute, or NULL */
    int ext;                    /* a is in the enterprise extension */
};

static void name_info_free(struct name_info *ni)
{
    scim_path_free(ni->p);
    ni->p = NULL;
}

static enum sc_err name_info_get(const char *name, struct name_info *ni, struct scim_error *err)
{
    const struct scim_resource_type *ut = scim_resource_type_user();
    struct scim_error perr = {0};
    memset(ni, 0, sizeof *ni);
    if (scim_path_parse(scim_alias_resolve(name), &ni->p, &perr) != SC_OK)
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_PATH,
                              "%.200s is neither a target attribute name nor a SCIM path: %s", name,
                              perr.detail);
    if (scim__find_attr(ut, ni->p->schema, ni->p->attr, &ni->schema, &ni->a) < 0 ||
        (ni->p->sub && !(ni->sa = scim_attr_sub(ni->a, ni->p->sub)))) {
        name_info_free(ni);
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_PATH,
                              "%.200s is not an attribute of the SCIM User", name);
    }
    if (ni->p->filter && !ni->a->multi_valued) {
        name_info_free(ni);
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_PATH,
                              "%.200s: a value filter needs a multi-valued attribute", name);
    }
    if (ni->a->multi_valued && ni->p->sub && !ni->p->filter) {
        name_info_free(ni);
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_PATH,
                              "%.200s: use a value filter to choose which value to change", name);
    }
    ni->ext = scim__is_extension(ut, ni->schema);
    return SC_OK;
}

/* The value of name in attrs, or NULL when absent or null. */
static json_t *flat_get(const json_t *attrs, const char *name)
{
    json_t *v = scim__obj_get(attrs, name, NULL);
    return json_is_null(v) ? NULL : v;
}

struct builder {
    json_t *body;    /* the PATCH body being built */
    json_t *removes; /* meta.attributes */
    int changes;
};

/* The object of the body that holds ni's attribute (created on first use). */
static json_t *body_holder(struct builder *b, const struct name_info *ni)
{
    if (!ni->ext)
        return b->body;
    json_t *o = json_object_get(b->body, SCIM11_SCHEMA_ENTERPRISE);
    if (!o) {
        o = json_object();
        json_object_set_new(b->body, SCIM11_SCHEMA_ENTERPRISE, o);
    }
    return o;
}

/* The 1.1 name of a sub-attribute of attribute a. */
static const char *sub_name_11(const struct scim_attr *a, const char *sub)
{
    if (strcmp(a->name, "manager") == 0 && sc_strcaseeq(sub, "value"))
        return "managerId";
    return sub;
}

static enum sc_err add_remove(struct builder *b, const struct name_info *ni, const char *sub)
{
    struct sc_buf n;
    sc_buf_init(&n, SCIM_PATH_MAX_LEN);
    enum sc_err rc = SC_OK;
    if (ni->ext)
        rc = sc_buf_printf(&n, "%s:", SCIM11_SCHEMA_ENTERPRISE);
    if (!rc)
        rc = sc_buf_puts(&n, ni->a->name);
    if (!rc && sub)
        rc = sc_buf_printf(&n, ".%s", sub_name_11(ni->a, sub));
    if (rc) {
        sc_buf_free(&n);
        return rc;
    }
    size_t i;
    json_t *x;
    json_array_foreach(b->removes, i, x)
    {
        if (sc_strcaseeq(json_string_value(x), n.data)) {
            sc_buf_free(&n);
            return SC_OK;
        }
    }
    rc = json_array_append_new(b->removes, json_string(n.data)) ? SC_ERR_NOMEM : SC_OK;
    sc_buf_free(&n);
    b->changes++;
    return rc;
}

/* Sets body[attr] (or body[attr][sub]) to a copy of v, converted to 1.1 where needed. */
static enum sc_err body_set(struct builder *b, const struct name_info *ni, const char *sub,
                            const json_t *v)
{
    json_t *h = body_holder(b, ni);
    json_t *c = json_deep_copy(v);
    if (!h || !c) {
        json_decref(c);
        return SC_ERR_NOMEM;
    }
    b->changes++;
    if (!sub) {
        if (ni->a->type == SCIM_T_COMPLEX && json_is_object(c) && !ni->a->multi_valued) {
            /* merge with what is there (several names may write one complex value) */
            json_t *cur = json_object_get(h, ni->a->name);
            const char *k;
            json_t *x;
            if (json_is_object(cur)) {
                json_object_foreach(c, k, x)
                {
                    json_object_set(cur, sub_name_11(ni->a, k), x);
                }
                json_decref(c);
                return SC_OK;
            }
            json_t *conv = json_object();
            json_object_foreach(c, k, x)
            {
                json_object_set(conv, sub_name_11(ni->a, k), x);
            }
            json_decref(c);
            c = conv;
        }
        return json_object_set_new(h, ni->a->name, c) ? SC_ERR_NOMEM : SC_OK;
    }
    json_t *cur = json_object_get(h, ni->a->name);
    if (!json_is_object(cur)) {
        cur = json_object();
        if (!cur || json_object_set_new(h, ni->a->name, cur)) {
            json_decref(c);
            return SC_ERR_NOMEM;
        }
    }
    return json_object_set_new(cur, sub_name_11(ni->a, sub), c) ? SC_ERR_NOMEM : SC_OK;
}

/* A name without value filter. */
static enum sc_err diff_plain(struct builder *b, const struct name_info *ni, const json_t *o,
                              const json_t *n, struct scim_error *err)
{
    enum sc_err rc = SC_OK;
    const struct scim_attr *a = ni->a;
    if ((!o && !n) || (o && n && json_equal(o, n)))
        return SC_OK;
    if (a->multi_valued) {
        /* the whole list: old values go, new ones come */
        if (o && (rc = add_remove(b, ni, NULL)) != SC_OK)
            return rc;
        if (!n)
            return SC_OK;
        json_t *arr = json_is_array(n) ? json_deep_copy(n) : json_pack("[O]", n);
        if (!arr)
            return SC_ERR_NOMEM;
        rc = body_set(b, ni, NULL, arr);
        json_decref(arr);
        return rc;
    }
    if (ni->sa) {
        if (!n)
            return add_remove(b, ni, ni->sa->name);
        return body_set(b, ni, ni->sa->name, n);
    }
    if (a->type == SCIM_T_COMPLEX) {
        if (n && !json_is_object(n))
            return scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE,
                                  "%s is complex: its value must be an object", a->name);
        /* a whole complex value: its old sub-attributes that go are named one by one */
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)o, k, x)
        {
            if (json_is_null(x) || flat_get(n, k))
                continue;
            const struct scim_attr *sa = scim_attr_sub(a, k);
            if ((rc = add_remove(b, ni, sa ? sa->name : k)) != SC_OK)
                return rc;
        }
        if (!n)
            return SC_OK;
        json_t *c = json_object();
        json_object_foreach((json_t *)n, k, x)
        {
            if (!json_is_null(x))
                json_object_set(c, k, x);
        }
        rc = json_object_size(c) ? body_set(b, ni, NULL, c) : SC_OK;
        json_decref(c);
        return rc;
    }
    if (!n)
        return add_remove(b, ni, NULL);
    return body_set(b, ni, NULL, n);
}

/* The entry a side's values of one filtered group build, as scim_resource_from_attrs
 * builds it: a new reference, or NULL when that side has no value in the group. */
static enum sc_err group_entry(const json_t *attrs, const json_t *names, const struct name_info *ni,
                               json_t **out, struct scim_error *err)
{
    const struct scim_resource_type *ut = scim_resource_type_user();
    json_t *scratch = json_pack("{s:[s]}", "schemas", SCIM_SCHEMA_USER);
    enum sc_err rc = SC_OK;
    int any = 0;
    *out = NULL;
    if (!scratch)
        return SC_ERR_NOMEM;
    size_t i;
    json_t *x;
    json_array_foreach(names, i, x)
    {
        const json_t *v = flat_get(attrs, json_string_value(x));
        struct name_info one;
        if (!v)
            continue;
        if ((rc = name_info_get(json_string_value(x), &one, err)) != SC_OK)
            goto done;
        rc = scim_path_set(ut, scratch, one.p, json_deep_copy(v), err);
        name_info_free(&one);
        if (rc != SC_OK)
            goto done;
        any = 1;
    }
    if (any) {
        const json_t *cont = scim__container(ut, scratch, ni->p->schema, ni->p->attr);
        json_t *e = json_array_get(scim__obj_get(cont, ni->p->attr, NULL), 0);
        if (e)
            *out = json_incref(e);
    }
done:
    json_decref(scratch);
    return rc;
}

/* One value of a multi-valued attribute chosen by a filter (workEmail, the work address):
 * names are the flat names that write into it. */
static enum sc_err diff_group(struct builder *b, const json_t *old_attrs, const json_t *new_attrs,
                              const json_t *names, const struct name_info *ni,
                              struct scim_error *err)
{
    json_t *oe = NULL, *ne = NULL, *del = NULL;
    enum sc_err rc;
    if ((rc = group_entry(old_attrs, names, ni, &oe, err)) != SC_OK ||
        (rc = group_entry(new_attrs, names, ni, &ne, err)) != SC_OK)
        goto done;
    if ((!oe && !ne) || (oe && ne && json_equal(oe, ne)))
        goto done;
    json_t *h = body_holder(b, ni);
    json_t *arr = json_object_get(h, ni->a->name);
    if (!arr) {
        arr = json_array();
        if (!arr || json_object_set_new(h, ni->a->name, arr)) {
            rc = SC_ERR_NOMEM;
            goto done;
        }
    }
    if (oe) {
        /* Same value and nothing of the old entry gone: the new entry alone merges into
         * it. Otherwise the old entry is deleted (by value, or by all its sub-attributes
         * when it has no value) and the new one added. */
        const json_t *ov = scim__obj_get(oe, "value", NULL);
        const json_t *nv = scim__obj_get(ne, "value", NULL);
        int merge = ne && ov && nv && json_equal(ov, nv);
        const char *k;
        json_t *x;
        json_object_foreach(oe, k, x)
        {
            if (merge && !scim__obj_get(ne, k, NULL))
                merge = 0;
        }
        if (!merge) {
            del = json_deep_copy(oe);
            if (!del || json_object_set_new(del, "operation", json_string("delete")) ||
                json_array_append(arr, del)) {
                rc = SC_ERR_NOMEM;
                goto done;
            }
        }
    }
    if (ne && json_array_append(arr, ne)) {
        rc = SC_ERR_NOMEM;
        goto done;
    }
    b->changes++;
done:
    json_decref(oe);
    json_decref(ne);
    json_decref(del);
    return rc;
}

/* The key that groups the names writing into one filtered value: the path without its
 * sub-attribute, printed canonically. */
static enum sc_err group_key(const struct name_info *ni, struct sc_buf *out)
{
    struct scim_path gp = *ni->p;
    gp.sub = NULL;
    return scim_path_format(&gp, out);
}

enum sc_err scim_dialect_patch_diff_11(const json_t *old_attrs, const json_t *new_attrs,
                                       json_t **out, struct scim_error *err)
{
    enum sc_err rc = SC_OK;
    struct builder b = {0};
    json_t *names = NULL, *groups = NULL;
    struct name_info ni = {0};
    struct sc_buf key;
    sc_buf_init(&key, SCIM_PATH_MAX_LEN);
    if (!json_is_object(new_attrs) || (old_attrs && !json_is_object(old_attrs)))
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE,
                              "attribute sets must be JSON objects");
    b.body = json_pack("{s:[s]}", "schemas", SCIM11_SCHEMA_CORE);
    b.removes = json_array();
    names = json_array();
    groups = json_object();
    if (!b.body || !b.removes || !names || !groups) {
        rc = SC_ERR_NOMEM;
        goto done;
    }
    /* every name, new ones first, then those only the old set has */
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)new_attrs, k, v)
    {
        json_array_append_new(names, json_string(k));
    }
    json_object_foreach((json_t *)old_attrs, k, v)
    {
        if (!scim__obj_get(new_attrs, k, NULL))
            json_array_append_new(names, json_string(k));
    }
    /* names that write into one filtered value are handled together */
    size_t i;
    json_t *x;
    json_array_foreach(names, i, x)
    {
        if ((rc = name_info_get(json_string_value(x), &ni, err)) != SC_OK)
            goto done;
        if (ni.p->filter) {
            sc_buf_reset(&key);
            if ((rc = group_key(&ni, &key)) != SC_OK)
                goto done;
            json_t *g = json_object_get(groups, key.data);
            if (!g) {
                g = json_array();
                json_object_set_new(groups, key.data, g);
            }
            json_array_append(g, x);
        }
        name_info_free(&ni);
    }
    json_array_foreach(names, i, x)
    {
        const char *name = json_string_value(x);
        if ((rc = name_info_get(name, &ni, err)) != SC_OK)
            goto done;
        if (ni.p->filter) {
            sc_buf_reset(&key);
            if ((rc = group_key(&ni, &key)) != SC_OK)
                goto done;
            json_t *g = json_object_get(groups, key.data);
            /* the group's first name handles it */
            if (g && sc_strcaseeq(json_string_value(json_array_get(g, 0)), name))
                rc = diff_group(&b, old_attrs, new_attrs, g, &ni, err);
        } else {
            rc = diff_plain(&b, &ni, flat_get(old_attrs, name), flat_get(new_attrs, name), err);
        }
        name_info_free(&ni);
        if (rc != SC_OK)
            goto done;
    }
    if (!b.changes) {
        *out = NULL;
        goto done;
    }
    if (json_object_get(b.body, SCIM11_SCHEMA_ENTERPRISE))
        json_array_append_new(json_object_get(b.body, "schemas"),
                              json_string(SCIM11_SCHEMA_ENTERPRISE));
    if (json_array_size(b.removes))
        json_object_set_new(b.body, "meta", json_pack("{s:O}", "attributes", b.removes));
    *out = b.body;
    b.body = NULL;
done:
    name_info_free(&ni);
    sc_buf_free(&key);
    json_decref(b.body);
    json_decref(b.removes);
    json_decref(names);
    json_decref(groups);
    return rc;
}

/* ---- applying ------------------------------------------------------------------------- */

struct apply {
    const struct scim_resource_type *rt;
    json_t *res;     /* the working copy */
    json_t *removed; /* {"<schema id>:<attr>": true} for whole attributes in meta.attributes */
    size_t budget;   /* names and entries still allowed */
    struct scim_error *err;
};

static int removed_has(const struct apply *c, const struct scim_schema *s,
                       const struct scim_attr *a)
{
    char k[3 * SCIM__NAME_MAX];
    snprintf(k, sizeof k, "%s:%s", s->id, a->name);
    return json_object_get(c->removed, k) != NULL;
}

static enum sc_err spend(struct apply *c)
{
    if (c->budget == 0)
        return scim_error_set(c->err, 400, SCIM_TYPE_TOO_MANY,
                              "a PATCH may name and carry at most %d values in all",
                              SCIM_PATCH_MAX_OPERATIONS);
    c->budget--;
    return SC_OK;
}

/* Step 1: removes one meta.attributes name. */
static enum sc_err remove_named(struct apply *c, const char *name11)
{
    char urn[2 * SCIM__NAME_MAX], attr[SCIM__NAME_MAX], sub[SCIM__NAME_MAX];
    const struct scim_schema *s = NULL;
    const struct scim_attr *a = NULL, *sa = NULL;
    struct sc_buf b;
    struct scim_error nerr = {0};
    enum sc_err rc;
    sc_buf_init(&b, SCIM_PATH_MAX_LEN);
    rc = scim_dialect_path_from_11(name11, &b, &nerr);
    if (rc == SC_OK && (!b.data || scim__split_attr(b.data, urn, attr, sub) < 0 ||
                        scim__find_attr(c->rt, urn, attr, &s, &a) < 0 ||
                        (sub[0] && !(sa = scim_attr_sub(a, sub)))))
        rc = scim_error_set(c->err, 400, SCIM_TYPE_INVALID_PATH,
                            "meta.attributes: %.200s is not an attribute", name11);
    else if (rc != SC_OK)
        rc =
            scim_error_set(c->err, 400, SCIM_TYPE_INVALID_PATH, "meta.attributes: %s", nerr.detail);
    sc_buf_free(&b);
    if (rc != SC_OK)
        return rc;
    if (sa && a->multi_valued)
        return scim_error_set(c->err, 400, SCIM_TYPE_INVALID_PATH,
                              "meta.attributes: %.200s: name a multi-valued attribute as a whole",
                              name11);
    if (a->mutability == SCIM_MUT_READ_ONLY || (sa && sa->mutability == SCIM_MUT_READ_ONLY))
        return scim_error_set(c->err, 400, SCIM_TYPE_MUTABILITY,
                              "meta.attributes: %.200s is readOnly", name11);
    struct scim_path p = {.schema = urn[0] ? urn : NULL, .attr = attr, .sub = sub[0] ? sub : NULL};
    scim_path_remove(c->rt, c->res, &p);
    if (!sa) {
        char k[3 * SCIM__NAME_MAX];
        snprintf(k, sizeof k, "%s:%s", s->id, a->name);
        json_object_set_new(c->removed, k, json_true());
    }
    return SC_OK;
}

/* The object of the working copy that holds attributes of schema s (the resource, or
 * the extension object, created with its URN in schemas when create is set). */
static json_t *holder_of(struct apply *c, const struct scim_schema *s, int create)
{
    if (!scim__is_extension(c->rt, s))
        return c->res;
    const char *key = NULL;
    json_t *o = scim__obj_get(c->res, s->id, &key);
    if (o || !create)
        return o;
    o = json_object();
    if (!o || json_object_set_new(c->res, s->id, o))
        return NULL;
    json_t *schemas = scim__obj_get(c->res, "schemas", NULL);
    size_t i;
    json_t *x;
    int listed = 0;
    json_array_foreach(schemas, i, x)
    {
        if (sc_strcaseeq(json_string_value(x), s->id))
            listed = 1;
    }
    if (!listed && json_is_array(schemas))
        json_array_append_new(schemas, json_string(s->id));
    return o;
}

/* Equality of two values of sub-attribute sa (strings case-insensitive unless
 * caseExact). */
static int value_eq(const struct scim_attr *sa, const json_t *x, const json_t *y)
{
    if (json_is_string(x) && json_is_string(y) && !(sa && sa->case_exact))
        return sc_strcaseeq(json_string_value(x), json_string_value(y));
    return json_equal(x, y);
}

/* Every member of want (but "operation") is in entry with an equal value. */
static int entry_has(const struct scim_attr *a, const json_t *entry, const json_t *want)
{
    const char *k;
    json_t *v;
    if (!json_is_object(want))
        return value_eq(NULL, entry, want);
    if (!json_is_object(entry))
        return 0;
    json_object_foreach((json_t *)want, k, v)
    {
        if (sc_strcaseeq(k, "operation"))
            continue;
        const json_t *ev = scim__obj_get(entry, k, NULL);
        if (!ev || !value_eq(scim_attr_sub(a, k), ev, v))
            return 0;
    }
    return 1;
}

static void clear_primaries(json_t *arr, const json_t *keep)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        const char *k = NULL;
        if (e != keep && json_is_true(scim__obj_get(e, "primary", &k)))
            json_object_set_new(e, k, json_false());
    }
}

/* Deletes the value of a multi-valued attribute that want names. */
static enum sc_err delete_entry(struct apply *c, const struct scim_attr *a, json_t *arr,
                                const json_t *want, const char *name)
{
    const json_t *wv = json_is_object(want) ? scim__obj_get(want, "value", NULL) : want;
    const struct scim_attr *vsa = scim_attr_sub(a, "value");
    size_t n = json_array_size(arr), hits = 0, at = 0, members = 0;
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)want, k, x)
    {
        if (!sc_strcaseeq(k, "operation"))
            members++;
    }
    if (json_is_object(want) && members == 0)
        return scim_error_set(c->err, 400, SCIM_TYPE_INVALID_VALUE,
                              "%s: a value to delete must say which (its value, or its "
                              "sub-attributes)",
                              name);
    /* by value first; narrowed by the other sub-attributes when several share it */
    for (int pass = 0; pass < 2; pass++) {
        hits = 0;
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(arr, i);
            int m;
            if (wv && pass == 0)
                m = value_eq(vsa, json_is_object(e) ? scim__obj_get(e, "value", NULL) : e, wv);
            else
                m = entry_has(a, e, want);
            if (m) {
                hits++;
                at = i;
            }
        }
        if (hits <= 1 || !wv)
            break;
    }
    if (hits > 1)
        return scim_error_set(c->err, 400, SCIM_TYPE_INVALID_VALUE,
                              "%s: the value to delete matches %zu values", name, hits);
    if (hits == 1)
        json_array_remove(arr, at);
    return SC_OK;
}

/* Adds one value to a multi-valued attribute, merging it into the value with the same
 * "value" when there is one. */
static enum sc_err add_entry(const struct scim_attr *a, json_t *arr, const json_t *e)
{
    const struct scim_attr *vsa = scim_attr_sub(a, "value");
    const json_t *ev = json_is_object(e) ? scim__obj_get(e, "value", NULL) : NULL;
    json_t *into = NULL;
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x)
    {
        if (json_equal(x, e))
            return SC_OK; /* already there */
        if (!into && ev && json_is_object(x) && value_eq(vsa, scim__obj_get(x, "value", NULL), ev))
            into = x;
    }
    if (into) {
        const char *k;
        json_object_foreach((json_t *)e, k, x)
        {
            const char *key = NULL;
            if (!scim__obj_get(into, k, &key))
                key = k;
            if (json_is_null(x))
                json_object_del(into, key);
            else if (json_object_set(into, key, x))
                return SC_ERR_NOMEM;
        }
    } else {
        into = json_deep_copy(e);
        if (!into || json_array_append_new(arr, into))
            return SC_ERR_NOMEM;
    }
    if (json_is_true(scim__obj_get(into, "primary", NULL)))
        clear_primaries(arr, into);
    return SC_OK;
}

static enum sc_err merge_multi(struct apply *c, const struct scim_schema *s,
                               const struct scim_attr *a, const json_t *v, const char *name)
{
    enum sc_err rc;
    if (!json_is_array(v))
        return scim_error_set(c->err, 400, SCIM_TYPE_INVALID_VALUE,
                              "%s is multi-valued: send its values as an array", name);
    json_t *h = holder_of(c, s, json_array_size(v) > 0);
    if (!h)
        return json_array_size(v) ? SC_ERR_NOMEM : SC_OK;
    const char *key = NULL;
    json_t *arr = scim__obj_get(h, a->name, &key);
    if (!json_is_array(arr)) {
        arr = json_array();
        if (!arr || json_object_set_new(h, key ? key : a->name, arr))
            return SC_ERR_NOMEM;
        scim__obj_get(h, a->name, &key);
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        if ((rc = spend(c)) != SC_OK)
            return rc;
        const char *ok = NULL;
        const json_t *op = json_is_object(e) ? scim__obj_get(e, "operation", &ok) : NULL;
        if (op) {
            if (removed_has(c, s, a))
                continue; /* the whole attribute went first */
            if ((rc = delete_entry(c, a, arr, e, name)) != SC_OK)
                return rc;
            continue;
        }
        if ((rc = add_entry(a, arr, e)) != SC_OK)
            return rc;
    }
    if (json_array_size(arr) == 0)
        json_object_del(h, key ? key : a->name);
    return SC_OK;
}

/* Step 2: merges one member of the body (an attribute of schema s, or found by name). */
static enum sc_err merge_member(struct apply *c, const struct scim_schema *in, const char *k,
                                const json_t *v)
{
    const struct scim_schema *s = NULL;
    const struct scim_attr *a = NULL;
    char name[3 * SCIM__NAME_MAX];
    snprintf(name, sizeof name, "%s%s%s", in ? SCIM11_SCHEMA_ENTERPRISE : "", in ? ":" : "", k);
    if (scim__find_attr(c->rt, in ? in->id : NULL, k, &s, &a) < 0)
        return scim_error_set(c->err, 400, SCIM_TYPE_INVALID_VALUE, "unknown attribute %.200s",
                              name);
    json_t *h = holder_of(c, s, 0);
    const char *key = NULL;
    json_t *cur = scim__obj_get(h, a->name, &key);
    if (a->mutability == SCIM_MUT_READ_ONLY) {
        if (cur && json_equal(cur, v))
            return SC_OK; /* sending back what is there is harmless */
        return scim_error_set(c->err, 400, SCIM_TYPE_MUTABILITY, "%.200s is readOnly", name);
    }
    if (json_is_null(v)) {
        if (cur)
            json_object_del(h, key);
        return SC_OK;
    }
    if (a->multi_valued)
        return merge_multi(c, s, a, v, name);
    if (!(h = holder_of(c, s, 1)))
        return SC_ERR_NOMEM;
    if (a->type == SCIM_T_COMPLEX) {
        if (!json_is_object(v))
            return scim_error_set(c->err, 400, SCIM_TYPE_INVALID_VALUE,
                                  "%.200s is complex: its value must be an object", name);
        cur = scim__obj_get(h, a->name, &key);
        if (!json_is_object(cur)) {
            cur = json_object();
            if (!cur || json_object_set_new(h, a->name, cur))
                return SC_ERR_NOMEM;
        }
        const char *sk;
        json_t *sv;
        json_object_foreach((json_t *)v, sk, sv)
        {
            const struct scim_attr *sa = scim_attr_sub(a, sk);
            const char *skey = NULL;
            if (!scim__obj_get(cur, sk, &skey))
                skey = sa ? sa->name : sk;
            if (sa && sa->mutability == SCIM_MUT_READ_ONLY) {
                const json_t *old = scim__obj_get(cur, skey, NULL);
                if (!(old && json_equal(old, sv)))
                    return scim_error_set(c->err, 400, SCIM_TYPE_MUTABILITY,
                                          "%.200s.%.100s is readOnly", name, sk);
                continue;
            }
            if (json_is_null(sv))
                json_object_del(cur, skey);
            else if (json_object_set(cur, skey, (json_t *)sv))
                return SC_ERR_NOMEM;
        }
        if (json_object_size(cur) == 0)
            json_object_del(h, a->name);
        return SC_OK;
    }
    return json_object_set_new(h, key ? key : a->name, json_deep_copy(v)) ? SC_ERR_NOMEM : SC_OK;
}

enum sc_err scim_dialect_patch_apply_11(const struct scim_resource_type *rt, const json_t *res20,
                                        const json_t *patch11, json_t **out, struct scim_error *err)
{
    enum sc_err rc;
    json_t *conv = NULL, *norm = NULL;
    struct scim_error verr = {0};
    struct apply c = {.rt = rt, .err = err, .budget = SCIM_PATCH_MAX_OPERATIONS};
    if (!rt || !json_is_object(res20))
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX, "nothing to patch");
    if ((rc = scim_dialect_check_11(rt, patch11, 1, err)) != SC_OK)
        return rc;
    if ((rc = scim_dialect_resource_from_11(rt, patch11, &conv, err)) != SC_OK)
        return rc;
    c.res = json_deep_copy(res20);
    c.removed = json_object();
    if (!c.res || !c.removed) {
        rc = SC_ERR_NOMEM;
        goto done;
    }
    /* 1. meta.attributes */
    const json_t *names = scim__obj_get(scim__obj_get(patch11, "meta", NULL), "attributes", NULL);
    size_t i;
    json_t *x;
    json_array_foreach(names, i, x)
    {
        if ((rc = spend(&c)) != SC_OK || (rc = remove_named(&c, json_string_value(x))) != SC_OK)
            goto done;
    }
    /* 2. the body */
    const char *k;
    json_t *v;
    json_object_foreach(conv, k, v)
    {
        if (sc_strcaseeq(k, "schemas") || sc_strcaseeq(k, "meta"))
            continue;
        const struct scim_schema *ext = NULL;
        for (size_t e = 0; e < rt->n_extensions; e++)
            if (sc_strcaseeq(k, rt->extensions[e]->id))
                ext = rt->extensions[e];
        if (!ext) {
            if ((rc = merge_member(&c, NULL, k, v)) != SC_OK)
                goto done;
            continue;
        }
        const char *ek;
        json_t *ev;
        json_object_foreach(v, ek, ev)
        {
            if ((rc = merge_member(&c, ext, ek, ev)) != SC_OK)
                goto done;
        }
    }
    /* an extension object left empty goes, with its URN */
    for (size_t e = 0; e < rt->n_extensions; e++) {
        const char *ekey = NULL;
        json_t *eo = scim__obj_get(c.res, rt->extensions[e]->id, &ekey);
        if (json_is_object(eo) && json_object_size(eo) == 0) {
            json_object_del(c.res, ekey);
            json_t *schemas = scim__obj_get(c.res, "schemas", NULL);
            for (size_t j = json_array_size(schemas); j > 0; j--)
                if (sc_strcaseeq(json_string_value(json_array_get(schemas, j - 1)),
                                 rt->extensions[e]->id))
                    json_array_remove(schemas, j - 1);
        }
    }
    if (scim_resource_validate(rt, c.res, SCIM_VALIDATE_PATCHED, res20, &norm, &verr) != SC_OK) {
        rc = scim_error_set(err, verr.status ? verr.status : 400, verr.scim_type,
                            "after the PATCH: %s", verr.detail);
        goto done;
    }
    *out = norm;
    norm = NULL;
done:
    json_decref(conv);
    json_decref(norm);
    json_decref(c.res);
    json_decref(c.removed);
    return rc;
}
