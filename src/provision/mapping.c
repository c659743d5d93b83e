/* Attribute mappings: validation and compilation of the rows (targets through the SCIM
 * core's alias table and path parser, sources through provision/expr), and the SCIM
 * User resource built from a directory user with the SCIM core's path setter. */
#include "provision/mapping.h"
#include "base/buf.h"
#include "provision/expr.h"
#include "scim/alias.h"
#include "scim/path.h"
#include "scim/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mapping_row {
    char *target; /* as written */
    char *path;   /* canonical SCIM path text */
    char *source;
    struct scim_path *parsed;
    struct expr *expr;
};

struct mapping {
    struct mapping_row *rows;
    size_t n;
};

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

void mapping_free(struct mapping *m)
{
    if (!m)
        return;
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
        if (strcmp(key, "target") != 0 && strcmp(key, "source") != 0) {
            snprintf(field, sizeof field, "mappings[%zu].%.64s", i, key);
            return sc_error_set(e, SC_ERR_INVALID, field, "unknown field '%s'", field);
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
    *out = m;
    return SC_OK;
}

enum sc_err mapping_apply(const struct mapping *m, const json_t *user, json_t **scim_user_out)
{
    *scim_user_out = NULL;
    const struct scim_resource_type *rt = scim_resource_type_user();
    json_t *res = json_pack("{s:[s]}", "schemas", SCIM_SCHEMA_USER);
    if (!res)
        return SC_ERR_NOMEM;
    for (size_t i = 0; i < m->n; i++) {
        json_t *v = expr_eval(m->rows[i].expr, user);
        if (!v) {
            json_decref(res);
            return SC_ERR_NOMEM;
        }
        if (json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0)) {
            json_decref(v);
            continue;
        }
        struct scim_error serr = {0};
        if (scim_path_set(rt, res, m->rows[i].parsed, v, &serr) != SC_OK) {
            json_decref(res);
            return SC_ERR_INTERNAL;
        }
    }
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
