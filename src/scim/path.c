/* SCIM attribute paths: parsing, printing, and getting / setting / removing the value a
 * path names in a resource (see path.h). */
#include "scim/path.h"
#include "scim/filter.h"
#include "scim/scim_internal.h"

#include <stdlib.h>
#include <string.h>

void scim_path_free(struct scim_path *p)
{
    if (!p)
        return;
    free(p->schema);
    free(p->attr);
    free(p->sub);
    scim_filter_free(p->filter);
    free(p);
}

static enum sc_err bad_path(struct scim_error *err, const char *text, const char *why)
{
    return scim_error_set(err, 400, SCIM_TYPE_INVALID_PATH, "invalid path \"%.200s\": %s", text,
                          why);
}

enum sc_err scim_path_parse(const char *text, struct scim_path **out, struct scim_error *err)
{
    enum sc_err rc = SC_OK;
    struct scim_path *p = NULL;
    char *head = NULL, *inner = NULL;
    char urn[2 * SCIM__NAME_MAX], name[SCIM__NAME_MAX], sub[SCIM__NAME_MAX];
    if (!text || !*text)
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_PATH, "the path is empty");
    size_t len = strlen(text);
    if (len > SCIM_PATH_MAX_LEN)
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_PATH, "the path is longer than %d bytes",
                              SCIM_PATH_MAX_LEN);
    p = calloc(1, sizeof *p);
    if (!p)
        return SC_ERR_NOMEM;
    const char *br = strchr(text, '[');
    size_t hlen = br ? (size_t)(br - text) : len;
    head = malloc(hlen + 1);
    if (!head) {
        rc = SC_ERR_NOMEM;
        goto done;
    }
    memcpy(head, text, hlen);
    head[hlen] = '\0';
    if (scim__split_attr(head, urn, name, sub) < 0) {
        rc = bad_path(err, text, "expected [urn:...:]attribute[.subAttribute]");
        goto done;
    }
    if (br) {
        if (sub[0]) {
            rc = bad_path(err, text, "a value filter must follow the attribute name");
            goto done;
        }
        /* find the closing bracket outside string literals */
        const char *q = br + 1;
        int in_str = 0;
        while (*q && (in_str || *q != ']')) {
            if (in_str && *q == '\\' && q[1])
                q++;
            else if (*q == '"')
                in_str = !in_str;
            q++;
        }
        if (*q != ']') {
            rc = bad_path(err, text, "missing ']'");
            goto done;
        }
        size_t ilen = (size_t)(q - br - 1);
        inner = malloc(ilen + 1);
        if (!inner) {
            rc = SC_ERR_NOMEM;
            goto done;
        }
        memcpy(inner, br + 1, ilen);
        inner[ilen] = '\0';
        struct scim_error ferr = {0};
        if (scim__filter_parse_inner(inner, &p->filter, &ferr) != SC_OK) {
            rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_PATH,
                                "invalid value filter in path \"%.200s\": %s", text, ferr.detail);
            goto done;
        }
        q++;
        if (*q == '.') {
            size_t slen = strlen(q + 1);
            if (slen >= SCIM__NAME_MAX || !scim__name_valid(q + 1, slen)) {
                rc = bad_path(err, text, "bad sub-attribute after ']'");
                goto done;
            }
            memcpy(sub, q + 1, slen + 1);
        } else if (*q) {
            rc = bad_path(err, text, "unexpected text after ']'");
            goto done;
        }
    }
    p->attr = sc_strdup(name);
    p->schema = urn[0] ? sc_strdup(urn) : NULL;
    p->sub = sub[0] ? sc_strdup(sub) : NULL;
    if (!p->attr || (urn[0] && !p->schema) || (sub[0] && !p->sub)) {
        rc = SC_ERR_NOMEM;
        goto done;
    }
    *out = p;
    p = NULL;
done:
    free(head);
    free(inner);
    scim_path_free(p);
    return rc;
}

enum sc_err scim_path_format(const struct scim_path *p, struct sc_buf *out)
{
    enum sc_err rc = SC_OK;
    if (p->schema && ((rc = sc_buf_puts(out, p->schema)) || (rc = sc_buf_puts(out, ":"))))
        return rc;
    if ((rc = sc_buf_puts(out, p->attr)))
        return rc;
    if (p->filter && ((rc = sc_buf_puts(out, "[")) || (rc = scim_filter_format(p->filter, out)) ||
                      (rc = sc_buf_puts(out, "]"))))
        return rc;
    if (p->sub && ((rc = sc_buf_puts(out, ".")) || (rc = sc_buf_puts(out, p->sub))))
        return rc;
    return SC_OK;
}

const struct scim_schema *scim_path_schema(const struct scim_resource_type *rt,
                                           const struct scim_path *p)
{
    const struct scim_schema *s = NULL;
    if (p->schema)
        return scim_schema_find(p->schema);
    if (scim__find_attr(rt, NULL, p->attr, &s, NULL) < 0)
        return NULL;
    return s;
}

/* The attribute definition of p (NULL when unknown to rt). */
static const struct scim_attr *path_attr(const struct scim_resource_type *rt,
                                         const struct scim_path *p)
{
    const struct scim_attr *a = NULL;
    if (rt && scim__find_attr(rt, p->schema, p->attr, NULL, &a) == 0)
        return a;
    return NULL;
}

int scim_path_case_exact(const struct scim_resource_type *rt, const struct scim_path *p)
{
    const struct scim_attr *a = path_attr(rt, p);
    if (a && p->sub) {
        const struct scim_attr *s = scim_attr_sub(a, p->sub);
        return s ? s->case_exact : 0;
    }
    return a ? a->case_exact : 0;
}

json_t *scim_path_get(const struct scim_resource_type *rt, const json_t *resource,
                      const struct scim_path *p)
{
    const json_t *cont = scim__container(rt, resource, p->schema, p->attr);
    json_t *v = scim__obj_get(cont, p->attr, NULL);
    if (!v)
        return NULL;
    if (p->filter) {
        const struct scim_attr *a = path_attr(rt, p);
        size_t n = json_is_array(v) ? json_array_size(v) : 1;
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
            if (scim__filter_match_element(p->filter, rt, a, e))
                return p->sub ? scim__obj_get(e, p->sub, NULL) : e;
        }
        return NULL;
    }
    if (!p->sub)
        return v;
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            json_t *x = scim__obj_get(e, p->sub, NULL);
            if (x)
                return x;
        }
        return NULL;
    }
    return scim__obj_get(v, p->sub, NULL);
}

/* Adds urn to resource.schemas when it is not there. */
static int schemas_add(json_t *resource, const char *urn)
{
    const char *key = NULL;
    json_t *schemas = scim__obj_get(resource, "schemas", &key);
    if (!json_is_array(schemas)) {
        schemas = json_array();
        if (!schemas || json_object_set_new(resource, "schemas", schemas) < 0)
            return -1;
    }
    size_t i;
    json_t *x;
    json_array_foreach(schemas, i, x)
    {
        if (json_is_string(x) && sc_strcaseeq(json_string_value(x), urn))
            return 0;
    }
    return json_array_append_new(schemas, json_string(urn));
}

static void schemas_remove(json_t *resource, const char *urn)
{
    json_t *schemas = scim__obj_get(resource, "schemas", NULL);
    for (size_t i = json_array_size(schemas); i > 0; i--) {
        json_t *x = json_array_get(schemas, i - 1);
        if (json_is_string(x) && sc_strcaseeq(json_string_value(x), urn))
            json_array_remove(schemas, i - 1);
    }
}

/* The extension schema URN p belongs to ("" for core and common attributes). */
static const char *ext_urn(const struct scim_resource_type *rt, const struct scim_path *p)
{
    if (p->schema) {
        if (sc_strcaseeq(p->schema, SCIM_SCHEMA_USER) || sc_strcaseeq(p->schema, SCIM_SCHEMA_GROUP))
            return "";
        const struct scim_schema *s = scim_schema_find(p->schema);
        return s ? s->id : p->schema;
    }
    const struct scim_schema *s = NULL;
    if (rt && scim__find_attr(rt, NULL, p->attr, &s, NULL) == 0 && scim__is_extension(rt, s))
        return s->id;
    return "";
}

/* Returns the object that holds p's attribute, creating an extension object (and
 * listing its URN in schemas) when create is set. Borrowed. */
static json_t *container_for(const struct scim_resource_type *rt, json_t *resource,
                             const struct scim_path *p, int create)
{
    const char *urn = ext_urn(rt, p);
    if (!*urn)
        return resource;
    json_t *ext = scim__obj_get(resource, urn, NULL);
    if (json_is_object(ext) || !create)
        return json_is_object(ext) ? ext : NULL;
    ext = json_object();
    if (!ext || json_object_set_new(resource, urn, ext) < 0 || schemas_add(resource, urn) < 0)
        return NULL;
    return ext;
}

/* Sets obj[name] = value (stolen), keeping an existing key's spelling, or using the
 * schema's spelling (canon, may be NULL) for a new key. */
static int set_member(json_t *obj, const char *name, const char *canon, json_t *value)
{
    const char *key = NULL;
    if (scim__obj_get(obj, name, &key))
        return json_object_set_new(obj, key, value);
    return json_object_set_new(obj, canon ? canon : name, value);
}

static int del_member(json_t *obj, const char *name)
{
    const char *key = NULL;
    if (!scim__obj_get(obj, name, &key))
        return 0;
    return json_object_del(obj, key) == 0 ? 1 : 0;
}

/* Collects the `attr eq value` terms of a conjunction into obj. -1 when f is not a
 * conjunction of such terms (so the element cannot be built from it). */
static int terms_of(const struct scim_filter *f, const struct scim_attr *parent, json_t *obj,
                    int depth)
{
    if (depth > SCIM_FILTER_MAX_NODES)
        return -1;
    if (f->op == SCIM_OP_AND)
        return terms_of(f->left, parent, obj, depth + 1) < 0 ||
                       terms_of(f->right, parent, obj, depth + 1) < 0
                   ? -1
                   : 0;
    if (f->op != SCIM_OP_EQ || json_is_null(f->value) || strchr(f->attr, '.') ||
        strchr(f->attr, ':'))
        return -1;
    const struct scim_attr *sa = scim_attr_sub(parent, f->attr);
    return set_member(obj, f->attr, sa ? sa->name : NULL, json_incref(f->value));
}

/* Clears primary on every element of arr except keep. */
static void clear_primary(json_t *arr, const json_t *keep)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        if (e != keep && json_is_true(scim__obj_get(e, "primary", NULL)))
            set_member(e, "primary", "primary", json_false());
    }
}

static int any_primary(const json_t *arr)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        if (json_is_true(scim__obj_get(e, "primary", NULL)))
            return 1;
    }
    return 0;
}

enum sc_err scim_path_set(const struct scim_resource_type *rt, json_t *resource,
                          const struct scim_path *p, json_t *value, struct scim_error *err)
{
    enum sc_err rc = SC_OK;
    json_t *elem = NULL;
    if (!value)
        return SC_ERR_NOMEM;
    if (json_is_null(value)) {
        json_decref(value);
        scim_path_remove(rt, resource, p);
        return SC_OK;
    }
    if (!json_is_object(resource)) {
        rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_PATH, "the resource is not an object");
        goto done;
    }
    const struct scim_attr *a = path_attr(rt, p);
    const struct scim_attr *sa = p->sub ? scim_attr_sub(a, p->sub) : NULL;
    const char *canon = a ? a->name : NULL;
    const char *scanon = sa ? sa->name : NULL;
    json_t *cont = container_for(rt, resource, p, 1);
    if (!cont) {
        rc = SC_ERR_NOMEM;
        goto done;
    }
    json_t *cur = scim__obj_get(cont, p->attr, NULL);
    if (!p->filter) {
        if (!p->sub) {
            if (set_member(cont, p->attr, canon, value) < 0)
                rc = SC_ERR_NOMEM;
            value = NULL;
            goto done;
        }
        if (!cur) {
            cur = json_object();
            if (!cur || set_member(cont, p->attr, canon, cur) < 0) {
                rc = SC_ERR_NOMEM;
                goto done;
            }
        }
        if (!json_is_object(cur)) {
            rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_PATH,
                                "%s is not a complex attribute; use a value filter to "
                                "choose among its values",
                                p->attr);
            goto done;
        }
        if (set_member(cur, p->sub, scanon, value) < 0)
            rc = SC_ERR_NOMEM;
        value = NULL;
        goto done;
    }
    /* filtered: set in every matching element, or build the element */
    if (!cur) {
        cur = json_array();
        if (!cur || set_member(cont, p->attr, canon, cur) < 0) {
            rc = SC_ERR_NOMEM;
            goto done;
        }
    }
    if (!json_is_array(cur)) {
        rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_PATH,
                            "%s is not multi-valued: a value filter cannot apply", p->attr);
        goto done;
    }
    if (!p->sub && !json_is_object(value)) {
        rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE, "%s[...] needs an object value",
                            p->attr);
        goto done;
    }
    int matched = 0;
    size_t i;
    json_t *e;
    json_array_foreach(cur, i, e)
    {
        if (!scim__filter_match_element(p->filter, rt, a, e))
            continue;
        matched++;
        if (p->sub) {
            if (set_member(e, p->sub, scanon, json_deep_copy(value)) < 0) {
                rc = SC_ERR_NOMEM;
                goto done;
            }
        } else if (json_array_set_new(cur, i, json_deep_copy(value)) < 0) {
            rc = SC_ERR_NOMEM;
            goto done;
        }
    }
    if (matched)
        goto done;
    elem = json_object();
    if (!elem) {
        rc = SC_ERR_NOMEM;
        goto done;
    }
    if (p->sub) {
        if (set_member(elem, p->sub, scanon, value) < 0) {
            rc = SC_ERR_NOMEM;
            goto done;
        }
        value = NULL;
    } else {
        json_object_update(elem, value);
    }
    if (terms_of(p->filter, a, elem, 0) < 0) {
        rc = scim_error_set(err, 400, SCIM_TYPE_NO_TARGET,
                            "no value of %s matches the filter, and a new one cannot be "
                            "built from it (only `sub eq value` terms joined by and can)",
                            p->attr);
        goto done;
    }
    if (!scim__filter_match_element(p->filter, rt, a, elem)) {
        rc = scim_error_set(err, 400, SCIM_TYPE_NO_TARGET,
                            "no value of %s matches the filter, and the value built from it "
                            "would not match it either",
                            p->attr);
        goto done;
    }
    if (sc_strcaseeq(p->attr, "emails") && !scim__obj_get(elem, "primary", NULL) &&
        !any_primary(cur))
        json_object_set_new(elem, "primary", json_true());
    if (json_is_true(scim__obj_get(elem, "primary", NULL)))
        clear_primary(cur, NULL);
    if (json_array_append_new(cur, elem) < 0)
        rc = SC_ERR_NOMEM;
    elem = NULL;
done:
    json_decref(elem);
    json_decref(value);
    return rc;
}

/* Drops an extension object left empty, and its URN from schemas. */
static void tidy_extension(const struct scim_resource_type *rt, json_t *resource,
                           const struct scim_path *p)
{
    const char *urn = ext_urn(rt, p);
    if (!*urn)
        return;
    const char *key = NULL;
    json_t *ext = scim__obj_get(resource, urn, &key);
    if (json_is_object(ext) && json_object_size(ext) == 0) {
        json_object_del(resource, key);
        schemas_remove(resource, urn);
    }
}

int scim_path_remove(const struct scim_resource_type *rt, json_t *resource,
                     const struct scim_path *p)
{
    int n = 0;
    json_t *cont = container_for(rt, resource, p, 0);
    const char *key = NULL;
    json_t *cur = scim__obj_get(cont, p->attr, &key);
    if (!cur)
        return 0;
    if (!p->filter && !p->sub) {
        n = del_member(cont, p->attr);
    } else if (!p->filter) {
        if (json_is_object(cur)) {
            n = del_member(cur, p->sub);
            if (json_object_size(cur) == 0)
                json_object_del(cont, key);
        } else if (json_is_array(cur)) {
            size_t i;
            json_t *e;
            json_array_foreach(cur, i, e) n += del_member(e, p->sub);
        }
    } else if (json_is_array(cur)) {
        const struct scim_attr *a = path_attr(rt, p);
        for (size_t i = json_array_size(cur); i > 0; i--) {
            json_t *e = json_array_get(cur, i - 1);
            if (!scim__filter_match_element(p->filter, rt, a, e))
                continue;
            if (p->sub) {
                n += del_member(e, p->sub);
                if (json_object_size(e) == 0)
                    json_array_remove(cur, i - 1);
            } else {
                json_array_remove(cur, i - 1);
                n++;
            }
        }
        if (json_array_size(cur) == 0)
            json_object_del(cont, key);
    }
    tidy_extension(rt, resource, p);
    return n;
}
