/* Validation of resources against the schema tables, attribute projection, and the
 * JSON renderings of /Schemas and /ResourceTypes (see schema.h). */
#include "scim/schema.h"
#include "scim/scim_internal.h"
#include "base/buf.h"
#include "base/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- validation ---- */

struct vctx {
    enum scim_validate_mode mode;
    struct scim_error *err;
};

static int base64_ok(const char *s)
{
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '=' || c == '-' || c == '_' || c == '\r' || c == '\n'))
            return 0;
    }
    return 1;
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a decimal number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* Validates one (single) value v of attribute a named by path. *out is a new
 * normalised value, or NULL when the value is to be dropped. */
static enum sc_err check_single(const struct vctx *c, const struct scim_attr *a, const char *path,
                                const json_t *v, json_t **out);

static enum sc_err wrong_type(const struct vctx *c, const struct scim_attr *a, const char *path,
                              const json_t *v)
{
    return scim_error_set(c->err, 400, SCIM_TYPE_INVALID_VALUE, "%.200s must be %s%s, not %s", path,
                          a->multi_valued ? "an array of " : "",
                          a->type == SCIM_T_COMPLEX ? "objects" : scim_type_name(a->type),
                          json_kind(v));
}

/* Writes "path.sub" into out (cut to fit); cheaper than snprintf on the hot path. */
static void join_path(char *out, size_t n, const char *path, const char *sub)
{
    size_t pl = strlen(path), sl = strlen(sub);
    if (pl > n / 2)
        pl = n / 2;
    if (pl + 1 + sl >= n)
        sl = n - pl - 2;
    memcpy(out, path, pl);
    out[pl] = '.';
    memcpy(out + pl + 1, sub, sl);
    out[pl + 1 + sl] = '\0';
}

/* Validates the members of the complex value v of attribute a into o. */
static enum sc_err check_complex_members(const struct vctx *c, const struct scim_attr *a,
                                         const char *path, const json_t *v, json_t *o)
{
    enum sc_err rc = SC_OK;
    const char *k;
    json_t *x;
    char sub_path[2 * SCIM__NAME_MAX];
    json_object_foreach((json_t *)v, k, x)
    {
        const struct scim_attr *sa = scim_attr_sub(a, k);
        join_path(sub_path, sizeof sub_path, path, k);
        if (!sa) {
            rc = scim_error_set(c->err, 400, SCIM_TYPE_INVALID_VALUE,
                                "%.200s is not an attribute of %s (unknown sub-attribute)",
                                sub_path, a->name);
            goto done;
        }
        if (json_is_null(x))
            continue;
        if (json_object_get(o, sa->name)) {
            rc = scim_error_set(c->err, 400, SCIM_TYPE_INVALID_VALUE, "%.200s is given twice",
                                sub_path);
            goto done;
        }
        /* readOnly sub-attributes sent on create or replace are ignored (RFC 7644
         * §3.3, §3.5.1): manager.displayName is the service provider's to fill in */
        if (sa->mutability == SCIM_MUT_READ_ONLY && a->mutability != SCIM_MUT_READ_ONLY &&
            c->mode != SCIM_VALIDATE_PATCHED)
            continue;
        json_t *nv = NULL;
        if ((rc = check_single(c, sa, sub_path, x, &nv)) != SC_OK)
            goto done;
        if (nv && json_object_set_new(o, sa->name, nv) < 0) {
            rc = SC_ERR_NOMEM;
            goto done;
        }
    }
done:
    return rc;
}

static enum sc_err check_complex(const struct vctx *c, const struct scim_attr *a, const char *path,
                                 const json_t *v, json_t **out)
{
    enum sc_err rc = SC_OK;
    json_t *o = NULL, *wrapped = NULL;
    /* a single-valued complex attribute with a `value` sub-attribute given as a bare
     * string is taken as {"value": string}: Entra sends the enterprise manager so */
    if (json_is_string(v) && !a->multi_valued && scim_attr_sub(a, "value")) {
        wrapped = json_pack("{s:O}", "value", v);
        if (!wrapped)
            return SC_ERR_NOMEM;
        v = wrapped;
    }
    if (!json_is_object(v))
        return wrong_type(c, a, path, v);
    o = json_object();
    if (!o) {
        json_decref(wrapped);
        return SC_ERR_NOMEM;
    }
    rc = check_complex_members(c, a, path, v, o);
    if (rc == SC_OK && json_object_size(o) > 0) {
        *out = o;
        o = NULL;
    }
    json_decref(o);
    json_decref(wrapped);
    return rc;
}

/* Returns non-zero when v has the JSON type a simple (not complex) attribute of type t
 * takes: a string for string, reference, binary and dateTime. */
static int json_type_ok(enum scim_type t, const json_t *v)
{
    switch (t) {
    case SCIM_T_BOOLEAN:
        return json_is_boolean(v);
    case SCIM_T_INTEGER:
        return json_is_integer(v);
    case SCIM_T_DECIMAL:
        return json_is_number(v);
    default:
        return json_is_string(v);
    }
}

static enum sc_err check_single(const struct vctx *c, const struct scim_attr *a, const char *path,
                                const json_t *v, json_t **out)
{
    int64_t ms;
    *out = NULL;
    if (json_is_null(v))
        return SC_OK;
    if (a->type == SCIM_T_COMPLEX)
        return check_complex(c, a, path, v, out);
    /* "True" / "False" in any case stand for a boolean: Entra deactivates with
     * {"op":"Replace","path":"active","value":"False"} */
    if (a->type == SCIM_T_BOOLEAN && json_is_string(v)) {
        const char *b = json_string_value(v);
        if (sc_strcaseeq(b, "true") || sc_strcaseeq(b, "false")) {
            *out = json_boolean(sc_strcaseeq(b, "true"));
            return SC_OK;
        }
    }
    if (!json_type_ok(a->type, v))
        return wrong_type(c, a, path, v);
    if (a->type == SCIM_T_BINARY && !base64_ok(json_string_value(v)))
        return scim_error_set(c->err, 400, SCIM_TYPE_INVALID_VALUE, "%.200s must be base64", path);
    if (a->type == SCIM_T_DATETIME && sc_clock_parse_iso8601(json_string_value(v), &ms) < 0)
        return scim_error_set(c->err, 400, SCIM_TYPE_INVALID_VALUE,
                              "%.200s must be an xsd:dateTime such as "
                              "2026-01-23T04:56:22Z",
                              path);
    if (a->required && json_is_string(v) && json_string_length(v) == 0)
        return scim_error_set(c->err, 400, SCIM_TYPE_INVALID_VALUE, "%.200s must not be empty",
                              path);
    *out = json_deep_copy(v);
    return *out ? SC_OK : SC_ERR_NOMEM;
}

/* Validates the value of attribute a (single or multi-valued); *out new or NULL. */
static enum sc_err check_value(const struct vctx *c, const struct scim_attr *a, const char *path,
                               const json_t *v, json_t **out)
{
    enum sc_err rc = SC_OK;
    json_t *arr = NULL;
    *out = NULL;
    if (!a->multi_valued) {
        if (json_is_array(v))
            return wrong_type(c, a, path, v);
        return check_single(c, a, path, v, out);
    }
    if (!json_is_array(v))
        return wrong_type(c, a, path, v);
    arr = json_array();
    if (!arr)
        return SC_ERR_NOMEM;
    int primaries = 0;
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x)
    {
        json_t *nv = NULL;
        if (json_is_array(x)) {
            rc = wrong_type(c, a, path, x);
            goto done;
        }
        if ((rc = check_single(c, a, path, x, &nv)) != SC_OK)
            goto done;
        if (!nv)
            continue;
        if (json_is_true(json_object_get(nv, "primary")))
            primaries++;
        if (json_array_append_new(arr, nv) < 0) {
            rc = SC_ERR_NOMEM;
            goto done;
        }
    }
    if (primaries > 1) {
        rc = scim_error_set(c->err, 400, SCIM_TYPE_INVALID_VALUE,
                            "%.200s has %d values with primary true; at most one may be", path,
                            primaries);
        goto done;
    }
    if (json_array_size(arr) > 0) {
        *out = arr;
        arr = NULL;
    }
done:
    json_decref(arr);
    return rc;
}

/* Validates the members of src (the resource or an extension object) against schema s
 * (and, for the core schema, the common attributes) into dst. */
static enum sc_err check_members(const struct vctx *c, const struct scim_resource_type *rt,
                                 const struct scim_schema *s, const json_t *src,
                                 const json_t *existing, const json_t *schemas, json_t *dst)
{
    enum sc_err rc = SC_OK;
    const char *k;
    json_t *v;
    int core = s == rt->schema;
    json_object_foreach((json_t *)src, k, v)
    {
        if (core && sc_strcaseeq(k, "schemas"))
            continue;
        const struct scim_schema *ext = NULL;
        for (size_t i = 0; core && i < rt->n_extensions; i++)
            if (sc_strcaseeq(k, rt->extensions[i]->id))
                ext = rt->extensions[i];
        if (ext) {
            if (json_is_null(v))
                continue;
            int listed = 0;
            size_t i;
            json_t *x;
            json_array_foreach(schemas, i, x)
            {
                if (sc_strcaseeq(json_string_value(x), ext->id))
                    listed = 1;
            }
            if (!listed)
                return scim_error_set(c->err, 400, SCIM_TYPE_INVALID_VALUE,
                                      "the extension %s is used but not listed in schemas",
                                      ext->id);
            if (!json_is_object(v))
                return scim_error_set(c->err, 400, SCIM_TYPE_INVALID_VALUE,
                                      "%s must be an object, not %s", ext->id, json_kind(v));
            json_t *eo = json_object();
            if (!eo)
                return SC_ERR_NOMEM;
            rc = check_members(c, rt, ext, v, scim__obj_get(existing, ext->id, NULL), schemas, eo);
            if (rc == SC_OK && json_object_size(eo) > 0 &&
                json_object_set_new(dst, ext->id, json_incref(eo)) < 0)
                rc = SC_ERR_NOMEM;
            json_decref(eo);
            if (rc != SC_OK)
                return rc;
            continue;
        }
        const struct scim_attr *a = scim_schema_attr(s, k);
        if (!a && core)
            a = scim_schema_attr(scim_schema_common(), k);
        if (!a) {
            if (!core || strchr(k, ':') == NULL)
                return scim_error_set(c->err, 400, SCIM_TYPE_INVALID_VALUE,
                                      "%.200s is not an attribute of %s", k, s->id);
            return scim_error_set(c->err, 400, SCIM_TYPE_INVALID_VALUE,
                                  "%.200s is not a schema extension of %s", k, rt->name);
        }
        if (json_object_get(dst, a->name))
            return scim_error_set(c->err, 400, SCIM_TYPE_INVALID_VALUE,
                                  "%s is given twice (attribute names are case-insensitive)",
                                  a->name);
        if (json_is_null(v))
            continue;
        const json_t *old = scim__obj_get(existing, a->name, NULL);
        if (a->mutability == SCIM_MUT_READ_ONLY) {
            /* RFC 7644 §3.3: readOnly attributes in a create SHALL be ignored (Entra
             * sends meta.resourceType, Okta "groups": []) */
            if (c->mode == SCIM_VALIDATE_CREATE)
                continue;
            if (c->mode == SCIM_VALIDATE_REPLACE) {
                if (sc_strcaseeq(a->name, "id") && old && !json_equal(old, v))
                    return scim_error_set(c->err, 400, SCIM_TYPE_MUTABILITY,
                                          "id is readOnly: it cannot change from the stored "
                                          "resource's id");
                continue;
            }
        }
        json_t *nv = NULL;
        if ((rc = check_value(c, a, a->name, v, &nv)) != SC_OK)
            return rc;
        if (!nv)
            continue;
        if (a->mutability == SCIM_MUT_IMMUTABLE && c->mode == SCIM_VALIDATE_REPLACE && old &&
            !json_equal(old, nv)) {
            json_decref(nv);
            return scim_error_set(c->err, 400, SCIM_TYPE_MUTABILITY,
                                  "%s is immutable: it cannot change once set", a->name);
        }
        if (json_object_set_new(dst, a->name, nv) < 0)
            return SC_ERR_NOMEM;
    }
    for (size_t i = 0; i < s->n_attrs; i++) {
        const struct scim_attr *a = &s->attrs[i];
        if (a->required && !json_object_get(dst, a->name))
            return scim_error_set(c->err, 400, SCIM_TYPE_INVALID_VALUE,
                                  "%s is required and missing", a->name);
    }
    return SC_OK;
}

enum sc_err scim_resource_validate(const struct scim_resource_type *rt, const json_t *resource,
                                   enum scim_validate_mode mode, const json_t *existing,
                                   json_t **out, struct scim_error *err)
{
    enum sc_err rc = SC_OK;
    json_t *res = NULL, *schemas = NULL;
    struct vctx c = {.mode = mode, .err = err};
    if (!json_is_object(resource))
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX, "a %s must be a JSON object",
                              rt->name);
    const json_t *in_schemas = scim__obj_get(resource, "schemas", NULL);
    if (!json_is_array(in_schemas) || json_array_size(in_schemas) == 0)
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                              "schemas is required: a non-empty array listing %s", rt->schema->id);
    schemas = json_array();
    res = json_object();
    if (!schemas || !res) {
        rc = SC_ERR_NOMEM;
        goto done;
    }
    int has_core = 0;
    size_t i;
    json_t *x;
    json_array_foreach(in_schemas, i, x)
    {
        const char *u = json_string_value(x);
        const struct scim_schema *s = u ? scim_schema_find(u) : NULL;
        if (!u) {
            rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                                "schemas must be an array of strings");
            goto done;
        }
        if (!s && !scim__obj_get(resource, u, NULL))
            continue; /* an unknown URN that carries no attributes (Entra's ADSCIM
                         group schema) says nothing: ignored */
        if (!s || (s != rt->schema && !scim__is_extension(rt, s))) {
            rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                                "schemas lists %.200s, which is not a schema of %s", u, rt->name);
            goto done;
        }
        if (s == rt->schema)
            has_core = 1;
        int dup = 0;
        size_t j;
        json_t *y;
        json_array_foreach(schemas, j, y)
        {
            if (strcmp(json_string_value(y), s->id) == 0)
                dup = 1;
        }
        if (!dup && json_array_append_new(schemas, json_string(s->id)) < 0) {
            rc = SC_ERR_NOMEM;
            goto done;
        }
    }
    if (!has_core) {
        rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX, "schemas must list %s",
                            rt->schema->id);
        goto done;
    }
    if (json_object_set(res, "schemas", schemas) < 0) {
        rc = SC_ERR_NOMEM;
        goto done;
    }
    rc = check_members(&c, rt, rt->schema, resource, existing, schemas, res);
    if (rc != SC_OK)
        goto done;
    for (size_t e = 0; e < rt->n_extensions; e++) {
        const struct scim_schema *ext = rt->extensions[e];
        int listed = 0;
        json_array_foreach(schemas, i, x)
        {
            if (strcmp(json_string_value(x), ext->id) == 0)
                listed = 1;
        }
        if (rt->extension_required[e] && !json_object_get(res, ext->id)) {
            rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE, "the extension %s is required",
                                ext->id);
            goto done;
        }
        /* required attributes of an extension that is used */
        const json_t *eo = json_object_get(res, ext->id);
        for (size_t k = 0; listed && eo && k < ext->n_attrs; k++) {
            if (ext->attrs[k].required && !json_object_get(eo, ext->attrs[k].name)) {
                rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE,
                                    "%s:%s is required and missing", ext->id, ext->attrs[k].name);
                goto done;
            }
        }
    }
    *out = res;
    res = NULL;
done:
    json_decref(schemas);
    json_decref(res);
    return rc;
}

/* ---- projection ---- */

#define MAX_LIST 64

struct item {
    char urn[2 * SCIM__NAME_MAX];
    char name[SCIM__NAME_MAX];
    char sub[SCIM__NAME_MAX];
    int whole_schema; /* the item is a bare schema URN */
};

struct list {
    struct item *items;
    size_t n;
};

static enum sc_err parse_list(const char *text, const char *what, struct list *l,
                              struct scim_error *err)
{
    l->items = NULL;
    l->n = 0;
    if (!text || !*text)
        return SC_OK;
    if (strlen(text) > SCIM_SEARCH_MAX_ATTRS_LEN)
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE, "%s is longer than %d bytes", what,
                              SCIM_SEARCH_MAX_ATTRS_LEN);
    size_t cap = 1;
    for (const char *p = text; *p; p++)
        if (*p == ',')
            cap++;
    l->items = calloc(cap, sizeof *l->items);
    if (!l->items)
        return SC_ERR_NOMEM;
    const char *p = text;
    char tok[SCIM_SEARCH_MAX_ATTRS_LEN + 1];
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            n--;
        }
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n > 0) {
            memcpy(tok, p, n);
            tok[n] = '\0';
            struct item *it = &l->items[l->n];
            if (scim_schema_find(tok)) {
                sc_strlcpy(it->urn, scim_schema_find(tok)->id, sizeof it->urn);
                it->whole_schema = 1;
                l->n++;
            } else if (scim__split_attr(tok, it->urn, it->name, it->sub) == 0) {
                l->n++;
            } else {
                free(l->items);
                l->items = NULL;
                l->n = 0;
                return scim_error_set(err, 400, SCIM_TYPE_INVALID_PATH,
                                      "%s: \"%.200s\" is not an attribute path", what, tok);
            }
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return SC_OK;
}

/* How list l names attribute `name` of schema s: 0 not at all, 1 whole, 2 some
 * sub-attributes (then sub-attribute names are found with names_sub). */
static int names_attr(const struct list *l, const struct scim_schema *s, int core, const char *name)
{
    int r = 0;
    for (size_t i = 0; i < l->n; i++) {
        const struct item *it = &l->items[i];
        if (it->whole_schema) {
            if (s && sc_strcaseeq(it->urn, s->id))
                return 1;
            continue;
        }
        if (it->urn[0] && !(s && sc_strcaseeq(it->urn, s->id)) &&
            !(core && (sc_strcaseeq(it->urn, SCIM_SCHEMA_USER) ||
                       sc_strcaseeq(it->urn, SCIM_SCHEMA_GROUP))))
            continue;
        if (!sc_strcaseeq(it->name, name))
            continue;
        if (!it->sub[0])
            return 1;
        r = 2;
    }
    return r;
}

static int names_sub(const struct list *l, const char *name, const char *sub)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->items[i].sub[0] && sc_strcaseeq(l->items[i].name, name) &&
            sc_strcaseeq(l->items[i].sub, sub))
            return 1;
    return 0;
}

/* Keeps (keep=1) or drops (keep=0) the sub-attributes of v listed for name. New. */
static json_t *filter_subs(const struct list *l, const char *name, const json_t *v, int keep)
{
    if (json_is_array(v)) {
        json_t *arr = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            json_t *x = filter_subs(l, name, e, keep);
            if (x && (!json_is_object(x) || json_object_size(x) > 0))
                json_array_append_new(arr, x);
            else
                json_decref(x);
        }
        return arr;
    }
    if (!json_is_object(v))
        return json_deep_copy(v);
    json_t *o = json_object();
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        if (names_sub(l, name, k) == keep)
            json_object_set_new(o, k, json_deep_copy(x));
    }
    return o;
}

static void project_members(const struct scim_resource_type *rt, const struct scim_schema *s,
                            const json_t *src, const struct list *inc, const struct list *exc,
                            json_t *dst)
{
    int core = s == rt->schema;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)src, k, v)
    {
        if (core && sc_strcaseeq(k, "schemas")) {
            json_object_set_new(dst, k, json_deep_copy(v));
            continue;
        }
        const struct scim_schema *ext = NULL;
        for (size_t i = 0; core && i < rt->n_extensions; i++)
            if (sc_strcaseeq(k, rt->extensions[i]->id))
                ext = rt->extensions[i];
        if (ext) {
            if (!json_is_object(v))
                continue;
            json_t *eo = json_object();
            if (inc->n && names_attr(inc, ext, 0, "") == 1) {
                json_decref(eo);
                json_object_set_new(dst, k, json_deep_copy(v));
                continue;
            }
            if (!inc->n && names_attr(exc, ext, 0, "") == 1) {
                json_decref(eo);
                continue;
            }
            project_members(rt, ext, v, inc, exc, eo);
            if (json_object_size(eo) > 0)
                json_object_set_new(dst, k, eo);
            else
                json_decref(eo);
            continue;
        }
        const struct scim_attr *a = scim_schema_attr(s, k);
        const struct scim_schema *as = s;
        if (!a && core) {
            a = scim_schema_attr(scim_schema_common(), k);
            as = scim_schema_common();
        }
        enum scim_returned ret = a ? a->returned : SCIM_RET_DEFAULT;
        if (ret == SCIM_RET_NEVER)
            continue;
        if (ret == SCIM_RET_ALWAYS) {
            json_object_set_new(dst, k, json_deep_copy(v));
            continue;
        }
        if (inc->n) {
            int how = names_attr(inc, as == scim_schema_common() ? s : as, core, k);
            if (how == 1)
                json_object_set_new(dst, k, json_deep_copy(v));
            else if (how == 2)
                json_object_set_new(dst, k, filter_subs(inc, k, v, 1));
            continue;
        }
        if (ret == SCIM_RET_REQUEST)
            continue;
        int how = names_attr(exc, as == scim_schema_common() ? s : as, core, k);
        if (how == 1)
            continue;
        if (how == 2)
            json_object_set_new(dst, k, filter_subs(exc, k, v, 0));
        else
            json_object_set_new(dst, k, json_deep_copy(v));
    }
}

enum sc_err scim_resource_project(const struct scim_resource_type *rt, const json_t *resource,
                                  const char *attributes, const char *excluded, json_t **out,
                                  struct scim_error *err)
{
    struct list inc = {0}, exc = {0};
    enum sc_err rc;
    json_t *o = NULL;
    if (!json_is_object(resource))
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX, "the resource is not an object");
    if ((rc = parse_list(attributes, "attributes", &inc, err)) != SC_OK)
        goto done;
    if ((rc = parse_list(excluded, "excludedAttributes", &exc, err)) != SC_OK)
        goto done;
    o = json_object();
    if (!o) {
        rc = SC_ERR_NOMEM;
        goto done;
    }
    project_members(rt, rt->schema, resource, &inc, &exc, o);
    *out = o;
done:
    free(inc.items);
    free(exc.items);
    return rc;
}

/* ---- /Schemas and /ResourceTypes ---- */

/* The RFC 7643 names of the attribute characteristics, indexed by their enum value;
 * the first (the enum's 0) is also the answer for a value out of range. */
static const char *const mutability_names[] = {[SCIM_MUT_READ_WRITE] = "readWrite",
                                               [SCIM_MUT_READ_ONLY] = "readOnly",
                                               [SCIM_MUT_IMMUTABLE] = "immutable",
                                               [SCIM_MUT_WRITE_ONLY] = "writeOnly"};
static const char *const returned_names[] = {[SCIM_RET_DEFAULT] = "default",
                                             [SCIM_RET_ALWAYS] = "always",
                                             [SCIM_RET_NEVER] = "never",
                                             [SCIM_RET_REQUEST] = "request"};
static const char *const uniqueness_names[] = {
    [SCIM_UNIQ_NONE] = "none", [SCIM_UNIQ_SERVER] = "server", [SCIM_UNIQ_GLOBAL] = "global"};

static const char *enum_name(const char *const *names, size_t n, int v)
{
    return v >= 0 && (size_t)v < n ? names[v] : names[0];
}

#define ENUM_NAME(names, v) enum_name(names, sizeof names / sizeof names[0], (int)(v))

static json_t *strings_json(const char *const *v)
{
    json_t *a = json_array();
    for (; v && *v; v++)
        json_array_append_new(a, json_string(*v));
    return a;
}

static json_t *attr_json(const struct scim_attr *a)
{
    json_t *o =
        json_pack("{s:s,s:s,s:b,s:s,s:b,s:b,s:s,s:s,s:s}", "name", a->name, "type",
                  scim_type_name(a->type), "multiValued", a->multi_valued, "description",
                  a->description ? a->description : "", "required", a->required, "caseExact",
                  a->case_exact, "mutability", ENUM_NAME(mutability_names, a->mutability),
                  "returned", ENUM_NAME(returned_names, a->returned), "uniqueness",
                  ENUM_NAME(uniqueness_names, a->uniqueness));
    if (!o)
        return NULL;
    if (a->canonical_values)
        json_object_set_new(o, "canonicalValues", strings_json(a->canonical_values));
    if (a->reference_types)
        json_object_set_new(o, "referenceTypes", strings_json(a->reference_types));
    if (a->type == SCIM_T_COMPLEX) {
        json_t *subs = json_array();
        for (size_t i = 0; i < a->n_sub_attrs; i++)
            json_array_append_new(subs, attr_json(&a->sub_attrs[i]));
        json_object_set_new(o, "subAttributes", subs);
    }
    return o;
}

static json_t *meta_json(const char *type, const char *base_url, const char *kind, const char *id)
{
    json_t *m = json_pack("{s:s}", "resourceType", type);
    if (m && base_url) {
        struct sc_buf b;
        sc_buf_init(&b, 0);
        if (sc_buf_printf(&b, "%s/%s/%s", base_url, kind, id) == SC_OK)
            json_object_set_new(m, "location", json_string(b.data));
        sc_buf_free(&b);
    }
    return m;
}

json_t *scim_schema_to_json(const struct scim_schema *s, const char *base_url)
{
    json_t *attrs = json_array();
    for (size_t i = 0; attrs && i < s->n_attrs; i++)
        json_array_append_new(attrs, attr_json(&s->attrs[i]));
    return json_pack("{s:[s],s:s,s:s,s:s,s:o,s:o}", "schemas", SCIM_SCHEMA_SCHEMA, "id", s->id,
                     "name", s->name, "description", s->description ? s->description : "",
                     "attributes", attrs, "meta", meta_json("Schema", base_url, "Schemas", s->id));
}

json_t *scim_resource_type_to_json(const struct scim_resource_type *rt, const char *base_url)
{
    json_t *exts = json_array();
    for (size_t i = 0; exts && i < rt->n_extensions; i++)
        json_array_append_new(exts, json_pack("{s:s,s:b}", "schema", rt->extensions[i]->id,
                                              "required", rt->extension_required[i]));
    return json_pack("{s:[s],s:s,s:s,s:s,s:s,s:s,s:o,s:o}", "schemas", SCIM_SCHEMA_RESOURCE_TYPE,
                     "id", rt->id, "name", rt->name, "endpoint", rt->endpoint, "description",
                     rt->description ? rt->description : "", "schema", rt->schema->id,
                     "schemaExtensions", exts, "meta",
                     meta_json("ResourceType", base_url, "ResourceTypes", rt->id));
}

json_t *scim_schemas_all_json(const char *base_url)
{
    return json_pack("[o,o,o]", scim_schema_to_json(scim_schema_user(), base_url),
                     scim_schema_to_json(scim_schema_group(), base_url),
                     scim_schema_to_json(scim_schema_enterprise_user(), base_url));
}

json_t *scim_resource_types_all_json(const char *base_url)
{
    return json_pack("[o,o]", scim_resource_type_to_json(scim_resource_type_user(), base_url),
                     scim_resource_type_to_json(scim_resource_type_group(), base_url));
}
