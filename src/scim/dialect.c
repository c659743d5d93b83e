/* SCIM dialects (see dialect.h): the SCIM 1.1 shapes of resources, attribute names,
 * filters, errors, list responses and the schema document, converted from and to the
 * SCIM 2.0 shapes the rest of src/scim works on, and the client-side entry points that
 * take a connection's dialect. The 1.1 PATCH is in dialect_patch.c. */
#include "scim/dialect.h"
#include "scim/filter.h"
#include "scim/patch.h"
#include "scim/scim_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCIM20_URN_PREFIX "urn:ietf:params:scim:"

int scim_dialect_parse(const char *version, enum scim_dialect *out)
{
    if (!version)
        return -1;
    if (strcmp(version, "2.0") == 0)
        *out = SCIM_DIALECT_20;
    else if (strcmp(version, "1.1") == 0)
        *out = SCIM_DIALECT_11;
    else
        return -1;
    return 0;
}

const char *scim_dialect_name(enum scim_dialect d)
{
    return d == SCIM_DIALECT_11 ? "1.1" : "2.0";
}

const char *scim_dialect_service_provider_config_path(enum scim_dialect d)
{
    return d == SCIM_DIALECT_11 ? "/ServiceProviderConfigs" : "/ServiceProviderConfig";
}

/* ---- attribute names ------------------------------------------------------------------ */

/* Non-zero when the first n bytes of s equal urn (case-insensitive, whole). */
static int urn_eq(const char *s, size_t n, const char *urn)
{
    return strlen(urn) == n && sc_strncaseeq(s, urn, n);
}

static enum sc_err name_convert(const char *in, int to11, struct sc_buf *out,
                                struct scim_error *err)
{
    const char *ent_from = to11 ? SCIM_SCHEMA_ENTERPRISE_USER : SCIM11_SCHEMA_ENTERPRISE;
    const char *ent_to = to11 ? SCIM11_SCHEMA_ENTERPRISE : SCIM_SCHEMA_ENTERPRISE_USER;
    const char *prefix = "";
    const char *rest = in;
    int in_ext = 0;
    if (!in || !*in)
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_PATH, "an attribute name is empty");
    if (sc_strcaseeq(in, ent_from))
        return sc_buf_puts(out, ent_to);
    if (sc_strncaseeq(in, "urn:", 4)) {
        const char *colon = strrchr(in, ':');
        size_t n = (size_t)(colon - in);
        if (to11 && (urn_eq(in, n, SCIM_SCHEMA_USER) || urn_eq(in, n, SCIM_SCHEMA_GROUP))) {
            prefix = "";
        } else if (!to11 && urn_eq(in, n, SCIM11_SCHEMA_CORE)) {
            prefix = "";
        } else if (urn_eq(in, n, ent_from)) {
            prefix = ent_to;
            in_ext = 1;
        } else {
            return scim_error_set(err, 400, SCIM_TYPE_INVALID_PATH,
                                  "%.200s: the schema is not one of SCIM %s", in,
                                  to11 ? "2.0 with a SCIM 1.1 counterpart" : "1.1");
        }
        rest = colon + 1;
    }
    const char *dot = strchr(rest, '.');
    size_t alen = dot ? (size_t)(dot - rest) : strlen(rest);
    const char *sub = dot ? dot + 1 : NULL;
    enum sc_err rc = SC_OK;
    if (*prefix && ((rc = sc_buf_puts(out, prefix)) || (rc = sc_buf_puts(out, ":"))))
        return rc;
    if ((rc = sc_buf_append(out, rest, alen)))
        return rc;
    if (!sub)
        return SC_OK;
    int manager = alen == 7 && sc_strncaseeq(rest, "manager", 7) && (in_ext || !*prefix);
    if (manager) {
        const char *from_id = to11 ? "value" : "managerId";
        const char *to_id = to11 ? "managerId" : "value";
        if (sc_strcaseeq(sub, from_id))
            sub = to_id;
        else if (sc_strcaseeq(sub, "$ref") || sc_strcaseeq(sub, to_id))
            return scim_error_set(err, 400, SCIM_TYPE_INVALID_PATH,
                                  "%.200s: SCIM %s names the manager's id manager.%s", in,
                                  to11 ? "2.0" : "1.1", from_id);
    }
    if ((rc = sc_buf_puts(out, ".")))
        return rc;
    return sc_buf_puts(out, sub);
}

enum sc_err scim_dialect_path_to_11(const char *path20, struct sc_buf *out, struct scim_error *err)
{
    return name_convert(path20, 1, out, err);
}

enum sc_err scim_dialect_path_from_11(const char *path11, struct sc_buf *out,
                                      struct scim_error *err)
{
    return name_convert(path11, 0, out, err);
}

/* ---- resources ------------------------------------------------------------------------ */

static int schemas_has(const json_t *res, const char *urn)
{
    size_t i;
    json_t *x;
    json_array_foreach(scim__obj_get(res, "schemas", NULL), i, x)
    {
        if (json_is_string(x) && sc_strcaseeq(json_string_value(x), urn))
            return 1;
    }
    return 0;
}

static int array_add_urn(json_t *arr, const char *urn)
{
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x)
    {
        if (sc_strcaseeq(json_string_value(x), urn))
            return 0;
    }
    return json_array_append_new(arr, json_string(urn));
}

/* A copy of the enterprise extension object with manager converted. */
static json_t *ext_convert(const json_t *ext, int to11)
{
    json_t *o = json_deep_copy(ext);
    const char *mkey = NULL;
    json_t *m = scim__obj_get(o, "manager", &mkey);
    if (!json_is_object(m))
        return o;
    const char *from_id = to11 ? "value" : "managerId";
    const char *to_id = to11 ? "managerId" : "value";
    const char *k = NULL;
    json_t *id = scim__obj_get(m, from_id, &k);
    if (id) {
        json_incref(id);
        json_object_del(m, k);
        json_object_set_new(m, to_id, id);
    }
    if (to11 && scim__obj_get(m, "$ref", &k))
        json_object_del(m, k);
    return o;
}

/* A copy of an array of entries without their "$ref" members. */
static json_t *entries_without_ref(const json_t *arr)
{
    json_t *out = json_deep_copy(arr);
    size_t i;
    json_t *e;
    json_array_foreach(out, i, e)
    {
        const char *k = NULL;
        if (scim__obj_get(e, "$ref", &k))
            json_object_del(e, k);
    }
    return out;
}

enum sc_err scim_dialect_resource_to_11(const json_t *res20, json_t **out, struct scim_error *err)
{
    int user = schemas_has(res20, SCIM_SCHEMA_USER);
    int group = !user && schemas_has(res20, SCIM_SCHEMA_GROUP);
    if (!json_is_object(res20) || (!user && !group))
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                              "not a SCIM 2.0 User or Group (schemas names neither)");
    json_t *o = json_object(), *schemas = json_array();
    if (!o || !schemas || json_object_set_new(o, "schemas", schemas) < 0) {
        json_decref(o);
        return SC_ERR_NOMEM;
    }
    json_array_append_new(schemas, json_string(SCIM11_SCHEMA_CORE));
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)res20, k, v)
    {
        json_t *c;
        if (sc_strcaseeq(k, "schemas"))
            continue;
        if (user && sc_strcaseeq(k, SCIM_SCHEMA_ENTERPRISE_USER) && json_is_object(v)) {
            json_object_set_new(o, SCIM11_SCHEMA_ENTERPRISE, ext_convert(v, 1));
            array_add_urn(schemas, SCIM11_SCHEMA_ENTERPRISE);
            continue;
        }
        if (sc_strcaseeq(k, "meta") && json_is_object(v)) {
            c = json_deep_copy(v);
            const char *rk = NULL;
            if (scim__obj_get(c, "resourceType", &rk))
                json_object_del(c, rk);
        } else if (json_is_array(v) &&
                   ((user && sc_strcaseeq(k, "groups")) || (group && sc_strcaseeq(k, "members")))) {
            c = entries_without_ref(v);
        } else {
            c = json_deep_copy(v);
        }
        if (!c || json_object_set_new(o, k, c) < 0) {
            json_decref(o);
            return SC_ERR_NOMEM;
        }
    }
    *out = o;
    return SC_OK;
}

static int rt_has_enterprise(const struct scim_resource_type *rt)
{
    for (size_t i = 0; rt && i < rt->n_extensions; i++)
        if (sc_strcaseeq(rt->extensions[i]->id, SCIM_SCHEMA_ENTERPRISE_USER))
            return 1;
    return 0;
}

enum sc_err scim_dialect_resource_from_11(const struct scim_resource_type *rt, const json_t *res11,
                                          json_t **out, struct scim_error *err)
{
    if (!json_is_object(res11))
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                              "a SCIM 1.1 resource must be a JSON object");
    if (!rt)
        rt = scim_resource_type_user();
    int ent = rt_has_enterprise(rt);
    json_t *o = json_object(), *schemas = json_array();
    if (!o || !schemas || json_object_set_new(o, "schemas", schemas) < 0) {
        json_decref(o);
        return SC_ERR_NOMEM;
    }
    json_array_append_new(schemas, json_string(rt->schema->id));
    size_t i;
    json_t *x;
    json_array_foreach(scim__obj_get(res11, "schemas", NULL), i, x)
    {
        const char *s = json_string_value(x);
        if (!s || sc_strcaseeq(s, SCIM11_SCHEMA_CORE))
            continue;
        array_add_urn(schemas, ent && sc_strcaseeq(s, SCIM11_SCHEMA_ENTERPRISE)
                                   ? SCIM_SCHEMA_ENTERPRISE_USER
                                   : s);
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)res11, k, v)
    {
        json_t *c;
        if (sc_strcaseeq(k, "schemas"))
            continue;
        if (ent && sc_strcaseeq(k, SCIM11_SCHEMA_ENTERPRISE) && json_is_object(v)) {
            json_object_set_new(o, SCIM_SCHEMA_ENTERPRISE_USER, ext_convert(v, 0));
            array_add_urn(schemas, SCIM_SCHEMA_ENTERPRISE_USER);
            continue;
        }
        c = json_deep_copy(v);
        if (c && sc_strcaseeq(k, "meta") && json_is_object(c) &&
            !scim__obj_get(c, "resourceType", NULL))
            json_object_set_new(c, "resourceType", json_string(rt->name));
        if (!c || json_object_set_new(o, k, c) < 0) {
            json_decref(o);
            return SC_ERR_NOMEM;
        }
    }
    *out = o;
    return SC_OK;
}

/* Checks the entries of a multi-valued attribute (or a complex value) of a 1.1 body. */
static enum sc_err check_entries(const char *name, const json_t *v, int multi, int patch,
                                 struct scim_error *err)
{
    size_t n = multi && json_is_array(v) ? json_array_size(v) : 1;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = multi && json_is_array(v) ? json_array_get(v, i) : v;
        if (!json_is_object(e))
            continue;
        if (scim__obj_get(e, "$ref", NULL))
            return scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE,
                                  "%.200s: $ref is SCIM 2.0; SCIM 1.1 has no $ref", name);
        const json_t *op = scim__obj_get(e, "operation", NULL);
        if (!op)
            continue;
        if (!patch)
            return scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE,
                                  "%.200s: \"operation\" belongs in a PATCH only", name);
        if (!multi)
            return scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE,
                                  "%.200s: \"operation\" applies to the values of a "
                                  "multi-valued attribute only",
                                  name);
        if (!json_is_string(op) || strcmp(json_string_value(op), "delete") != 0)
            return scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE,
                                  "%.200s: the only \"operation\" is \"delete\"", name);
    }
    return SC_OK;
}

static enum sc_err check_member(const struct scim_resource_type *rt, const struct scim_schema *s,
                                const char *k, const json_t *v, int patch, struct scim_error *err)
{
    const struct scim_attr *a = NULL;
    if (scim__find_attr(rt, s ? s->id : NULL, k, NULL, &a) < 0 || !a)
        return SC_OK; /* the 2.0 validation names unknown attributes */
    if (s && sc_strcaseeq(k, "manager") && json_is_object(v) &&
        (scim__obj_get(v, "value", NULL) || scim__obj_get(v, "$ref", NULL)))
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE,
                              "manager.value and manager.$ref are SCIM 2.0; SCIM 1.1 names the "
                              "manager's id manager.managerId");
    if (a->type != SCIM_T_COMPLEX)
        return SC_OK;
    return check_entries(k, v, a->multi_valued, patch, err);
}

enum sc_err scim_dialect_check_11(const struct scim_resource_type *rt, const json_t *body,
                                  int patch, struct scim_error *err)
{
    if (!rt)
        rt = scim_resource_type_user();
    int ent = rt_has_enterprise(rt);
    if (!json_is_object(body))
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                              "the request body must be a JSON object");
    if (scim__obj_get(body, "Operations", NULL))
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                              "Operations is SCIM 2.0's PatchOp; this service speaks SCIM 1.1, "
                              "whose PATCH body is a partial resource (schemas " SCIM11_SCHEMA_CORE
                              ", meta.attributes to remove, \"operation\":\"delete\" on values)");
    const json_t *schemas = scim__obj_get(body, "schemas", NULL);
    if (!json_is_array(schemas) || json_array_size(schemas) == 0)
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                              "schemas must be an array that lists " SCIM11_SCHEMA_CORE);
    int core = 0, listed_ent = 0;
    size_t i;
    json_t *x;
    json_array_foreach(schemas, i, x)
    {
        const char *s = json_string_value(x);
        if (!s)
            return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                                  "schemas[%zu] must be a string", i);
        if (sc_strcaseeq(s, SCIM11_SCHEMA_CORE))
            core = 1;
        else if (ent && sc_strcaseeq(s, SCIM11_SCHEMA_ENTERPRISE))
            listed_ent = 1;
        else if (sc_strncaseeq(s, SCIM20_URN_PREFIX, strlen(SCIM20_URN_PREFIX)))
            return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                                  "schemas: %.200s is a SCIM 2.0 URN; this service speaks SCIM "
                                  "1.1 (" SCIM11_SCHEMA_CORE ")",
                                  s);
        else
            return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                                  "schemas: %.200s is not a schema of this service", s);
    }
    if (!core)
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                              "schemas must list " SCIM11_SCHEMA_CORE);
    const char *k;
    json_t *v;
    enum sc_err rc;
    json_object_foreach((json_t *)body, k, v)
    {
        if (sc_strcaseeq(k, "schemas"))
            continue;
        if (ent && sc_strcaseeq(k, SCIM11_SCHEMA_ENTERPRISE)) {
            if (!json_is_object(v))
                return scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE, "%s must be an object",
                                      SCIM11_SCHEMA_ENTERPRISE);
            if (!listed_ent)
                return scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE,
                                      "%s is used but not listed in schemas",
                                      SCIM11_SCHEMA_ENTERPRISE);
            const struct scim_schema *es = scim_schema_enterprise_user();
            const char *ek;
            json_t *ev;
            json_object_foreach(v, ek, ev)
            {
                if ((rc = check_member(rt, es, ek, ev, patch, err)) != SC_OK)
                    return rc;
            }
            continue;
        }
        if (sc_strncaseeq(k, "urn:", 4))
            return scim_error_set(
                err, 400, SCIM_TYPE_INVALID_VALUE, "%.200s is %s; this service speaks SCIM 1.1%s",
                k,
                sc_strncaseeq(k, SCIM20_URN_PREFIX, strlen(SCIM20_URN_PREFIX))
                    ? "a SCIM 2.0 schema"
                    : "not a schema of this service",
                ent ? " (the enterprise extension is " SCIM11_SCHEMA_ENTERPRISE ")" : "");
        if (patch && sc_strcaseeq(k, "meta")) {
            const char *mk;
            json_t *mv;
            if (!json_is_object(v))
                return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX, "meta must be an object");
            json_object_foreach(v, mk, mv)
            {
                if (!sc_strcaseeq(mk, "attributes"))
                    return scim_error_set(err, 400, SCIM_TYPE_MUTABILITY,
                                          "meta.%.100s is readOnly; a PATCH may carry only "
                                          "meta.attributes",
                                          mk);
                if (!json_is_array(mv))
                    return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                                          "meta.attributes must be an array of strings");
                if (json_array_size(mv) > SCIM_PATCH_MAX_OPERATIONS)
                    return scim_error_set(err, 400, SCIM_TYPE_TOO_MANY,
                                          "meta.attributes lists more than %d names",
                                          SCIM_PATCH_MAX_OPERATIONS);
                json_array_foreach(mv, i, x)
                {
                    if (!json_is_string(x))
                        return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX,
                                              "meta.attributes[%zu] must be a string", i);
                }
            }
            continue;
        }
        if ((rc = check_member(rt, NULL, k, v, patch, err)) != SC_OK)
            return rc;
    }
    return SC_OK;
}

/* ---- filters -------------------------------------------------------------------------- */

/* Rewrites the attribute names of f (a tree this module parsed; the names are owned by
 * its nodes) into the other dialect, refusing what 1.1's grammar lacks. */
static enum sc_err filter_rewrite(struct scim_filter *f, int to11, struct scim_error *err)
{
    enum sc_err rc;
    switch (f->op) {
    case SCIM_OP_NE:
    case SCIM_OP_EW:
    case SCIM_OP_NOT:
    case SCIM_OP_VALUE_PATH:
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_FILTER,
                              "SCIM 1.1 filters have no '%s' (only eq, co, sw, pr, gt, ge, lt, "
                              "le, and, or and parentheses)",
                              scim_filter_op_name(f->op));
    case SCIM_OP_AND:
    case SCIM_OP_OR:
        if ((rc = filter_rewrite(f->left, to11, err)) != SC_OK)
            return rc;
        return filter_rewrite(f->right, to11, err);
    default:
        break;
    }
    struct sc_buf b;
    struct scim_error nerr = {0};
    sc_buf_init(&b, SCIM_FILTER_MAX_LEN);
    rc = name_convert(f->attr, to11, &b, &nerr);
    if (rc == SC_OK && !b.data)
        rc = SC_ERR_NOMEM;
    if (rc == SC_OK) {
        free(f->attr);
        f->attr = sc_buf_steal(&b);
        if (!f->attr)
            rc = SC_ERR_NOMEM;
    } else if (nerr.status) {
        rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_FILTER, "%s", nerr.detail);
    }
    sc_buf_free(&b);
    return rc;
}

static enum sc_err filter_convert(const char *text, int to11, struct sc_buf *out,
                                  struct scim_error *err)
{
    struct scim_filter *f = NULL;
    enum sc_err rc = scim_filter_parse(text, &f, err);
    if (rc == SC_OK)
        rc = filter_rewrite(f, to11, err);
    if (rc == SC_OK)
        rc = scim_filter_format(f, out);
    scim_filter_free(f);
    return rc;
}

enum sc_err scim_dialect_filter_to_11(const char *filter20, struct sc_buf *out,
                                      struct scim_error *err)
{
    return filter_convert(filter20, 1, out, err);
}

enum sc_err scim_dialect_filter_from_11(const char *filter11, struct sc_buf *out,
                                        struct scim_error *err)
{
    return filter_convert(filter11, 0, out, err);
}

/* ---- client side ---------------------------------------------------------------------- */

enum sc_err scim_dialect_resource_from_attrs(enum scim_dialect d, const json_t *attrs, json_t **out,
                                             struct scim_error *err)
{
    json_t *r = NULL;
    enum sc_err rc = scim_resource_from_attrs(attrs, &r, err);
    if (rc != SC_OK || d != SCIM_DIALECT_11) {
        if (rc == SC_OK)
            *out = r;
        return rc;
    }
    rc = scim_dialect_resource_to_11(r, out, err);
    json_decref(r);
    return rc;
}

enum sc_err scim_dialect_patch_diff(enum scim_dialect d, const json_t *old_attrs,
                                    const json_t *new_attrs, json_t **out, struct scim_error *err)
{
    if (d == SCIM_DIALECT_11)
        return scim_dialect_patch_diff_11(old_attrs, new_attrs, out, err);
    return scim_patch_diff(old_attrs, new_attrs, out, err);
}

json_t *scim_dialect_patch_active(enum scim_dialect d, int active)
{
    if (d == SCIM_DIALECT_11)
        return json_pack("{s:[s], s:b}", "schemas", SCIM11_SCHEMA_CORE, "active", active);
    json_t *b = scim_patch_body_new();
    if (b && scim_patch_body_add(b, "replace", "active", json_boolean(active)) < 0) {
        json_decref(b);
        return NULL;
    }
    return b;
}

enum sc_err scim_dialect_resource_read(enum scim_dialect d, const struct scim_resource_type *rt,
                                       const json_t *body, json_t **out, struct scim_error *err)
{
    if (!json_is_object(body))
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_SYNTAX, "a resource must be an object");
    if (d == SCIM_DIALECT_11)
        return scim_dialect_resource_from_11(rt, body, out, err);
    *out = json_incref((json_t *)body);
    return SC_OK;
}

enum sc_err scim_dialect_list_read(enum scim_dialect d, const struct scim_resource_type *rt,
                                   const json_t *body, int64_t *total, json_t **resources,
                                   struct scim_error *err)
{
    int64_t t = 0;
    json_t *res = NULL;
    enum sc_err rc = scim_list_response_parse(body, &t, &res, err);
    if (rc != SC_OK)
        return rc;
    json_t *arr = json_array();
    if (!arr)
        return SC_ERR_NOMEM;
    size_t i;
    json_t *x;
    json_array_foreach(res, i, x)
    {
        json_t *one = NULL;
        if ((rc = scim_dialect_resource_read(d, rt, x, &one, err)) != SC_OK) {
            json_decref(arr);
            return rc;
        }
        json_array_append_new(arr, one);
    }
    if (total)
        *total = t;
    *resources = arr;
    return SC_OK;
}

enum sc_err scim_dialect_filter(enum scim_dialect d, const char *filter20, struct sc_buf *out,
                                struct scim_error *err)
{
    if (d == SCIM_DIALECT_11)
        return scim_dialect_filter_to_11(filter20, out, err);
    return sc_buf_puts(out, filter20 ? filter20 : "");
}

/* ---- messages ------------------------------------------------------------------------- */

/* Appends text with every SCIM 2.0 schema URN replaced by its 1.1 counterpart. */
static void text_to_11(const char *text, struct sc_buf *out)
{
    static const char *const from[] = {SCIM_SCHEMA_ENTERPRISE_USER, SCIM_SCHEMA_USER,
                                       SCIM_SCHEMA_GROUP};
    static const char *const to[] = {SCIM11_SCHEMA_ENTERPRISE, SCIM11_SCHEMA_CORE,
                                     SCIM11_SCHEMA_CORE};
    const char *p = text;
    while (*p) {
        size_t i, n = sizeof from / sizeof from[0];
        for (i = 0; i < n; i++)
            if (strncmp(p, from[i], strlen(from[i])) == 0)
                break;
        if (i < n) {
            sc_buf_puts(out, to[i]);
            p += strlen(from[i]);
        } else {
            sc_buf_append(out, p, 1);
            p++;
        }
    }
}

json_t *scim_dialect_error_json(enum scim_dialect d, const struct scim_error *err)
{
    if (d != SCIM_DIALECT_11)
        return scim_error_json(err);
    int status = err && err->status ? err->status : 500;
    char code[16];
    snprintf(code, sizeof code, "%d", status);
    struct sc_buf b;
    sc_buf_init(&b, 2 * SCIM_ERROR_DETAIL_MAX);
    if (err && err->detail[0])
        text_to_11(err->detail, &b);
    else
        sc_buf_printf(&b, "HTTP %d", status);
    json_t *o =
        json_pack("{s:[{s:s, s:s}]}", "Errors", "description", b.data ? b.data : "", "code", code);
    sc_buf_free(&b);
    return o;
}

json_t *scim_dialect_list_response_new(enum scim_dialect d, json_t *resources,
                                       int64_t total_results, int64_t start_index)
{
    if (d != SCIM_DIALECT_11)
        return scim_list_response_new(resources, total_results, start_index);
    if (!resources)
        resources = json_array();
    if (!json_is_array(resources)) {
        json_decref(resources);
        return NULL;
    }
    return json_pack("{s:[s],s:I,s:I,s:I,s:o}", "schemas", SCIM11_SCHEMA_CORE, "totalResults",
                     (json_int_t)total_results, "itemsPerPage",
                     (json_int_t)json_array_size(resources), "startIndex",
                     (json_int_t)(start_index < 1 ? 1 : start_index), "Resources", resources);
}

/* ---- the 1.1 schema document ---------------------------------------------------------- */

static const char *type_11(enum scim_type t)
{
    return t == SCIM_T_REFERENCE ? "string" : scim_type_name(t);
}

/* The singular of a plural attribute name (emails -> email, addresses -> address). */
static void child_name(const char *name, char *out, size_t n)
{
    size_t len = strlen(name);
    if (len > 4 && strcmp(name + len - 4, "sses") == 0)
        len -= 2;
    else if (len > 1 && name[len - 1] == 's')
        len -= 1;
    if (len >= n)
        len = n - 1;
    memcpy(out, name, len);
    out[len] = '\0';
}

static json_t *attr_11(const struct scim_attr *a, const char *schema, const char *parent);

static json_t *sub_attrs_11(const struct scim_attr *a, const char *schema)
{
    json_t *subs = json_array();
    for (size_t i = 0; subs && i < a->n_sub_attrs; i++) {
        const struct scim_attr *s = &a->sub_attrs[i];
        if (strcmp(s->name, "$ref") == 0 || strcmp(s->name, "resourceType") == 0)
            continue;
        json_array_append_new(subs, attr_11(s, schema, a->name));
    }
    if (subs && strcmp(a->name, "meta") == 0)
        json_array_append_new(
            subs, json_pack("{s:s, s:s, s:b, s:s, s:s, s:b, s:b, s:b}", "name", "attributes",
                            "type", "string", "multiValued", 1, "description",
                            "The names of the attributes a PATCH removes", "schema", schema,
                            "readOnly", 0, "required", 0, "caseExact", 0));
    return subs;
}

static json_t *attr_11(const struct scim_attr *a, const char *schema, const char *parent)
{
    const char *name = a->name;
    if (parent && strcmp(parent, "manager") == 0 && strcmp(name, "value") == 0)
        name = "managerId";
    json_t *o = json_pack("{s:s, s:s, s:b}", "name", name, "type", type_11(a->type), "multiValued",
                          a->multi_valued);
    if (!o)
        return NULL;
    if (a->multi_valued) {
        char child[SCIM__NAME_MAX];
        child_name(a->name, child, sizeof child);
        json_object_set_new(o, "multiValuedAttributeChildName", json_string(child));
    }
    json_object_set_new(o, "description", json_string(a->description ? a->description : ""));
    json_object_set_new(o, "schema", json_string(schema));
    json_object_set_new(o, "readOnly", json_boolean(a->mutability == SCIM_MUT_READ_ONLY));
    json_object_set_new(o, "required", json_boolean(a->required));
    json_object_set_new(o, "caseExact", json_boolean(a->case_exact));
    if (a->type == SCIM_T_COMPLEX && a->n_sub_attrs)
        json_object_set_new(o, "subAttributes", sub_attrs_11(a, schema));
    return o;
}

static void attrs_11(json_t *arr, const struct scim_schema *s, const char *schema)
{
    for (size_t i = 0; i < s->n_attrs; i++)
        json_array_append_new(arr, attr_11(&s->attrs[i], schema, NULL));
}

json_t *scim_dialect_schema_11_json(const struct scim_resource_type *rt, const char *base_url)
{
    char id[128];
    snprintf(id, sizeof id, "%s:%s", SCIM11_SCHEMA_CORE, rt->name);
    json_t *attrs = json_array();
    if (!attrs)
        return NULL;
    attrs_11(attrs, scim_schema_common(), SCIM11_SCHEMA_CORE);
    attrs_11(attrs, rt->schema, SCIM11_SCHEMA_CORE);
    for (size_t i = 0; i < rt->n_extensions; i++)
        if (sc_strcaseeq(rt->extensions[i]->id, SCIM_SCHEMA_ENTERPRISE_USER))
            attrs_11(attrs, rt->extensions[i], SCIM11_SCHEMA_ENTERPRISE);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "id", id, "name", rt->name,
                          "description", rt->description ? rt->description : rt->name, "schema",
                          SCIM11_SCHEMA_CORE, "endpoint", rt->endpoint, "attributes", attrs);
    if (o && base_url) {
        char loc[512];
        snprintf(loc, sizeof loc, "%s/Schemas%s", base_url, rt->endpoint);
        json_object_set_new(o, "meta", json_pack("{s:s}", "location", loc));
    }
    return o;
}
