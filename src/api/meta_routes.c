/* Read-only metadata and previews for editors: GET /api/v1/meta/attributes publishes
 * the one tables the server validates with (the SCIM target alias table of scim/alias.h,
 * the directory fields and filter operators of directory/fields.h, the expression
 * functions of provision/expr.h and the default mapping of provision/mapping.h), so
 * the console never keeps a copy; POST /api/v1/mappings/preview evaluates a mapping
 * source (or a whole mapping) against one directory user without saving or sending
 * anything. */
#include "api/api.h"
#include "directory/directory.h"
#include "directory/fields.h"
#include "provision/expr.h"
#include "provision/mapping.h"
#include "scim/alias.h"

#include <string.h>

static json_t *meta_target_attributes(void)
{
    json_t *a = json_array();
    for (size_t i = 0; i < scim_alias_count(); i++) {
        const struct scim_alias *s = scim_alias_at(i);
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:o}", "name", s->name, "path", s->path,
                                           "label", s->label, "aliasOf",
                                           s->alias_of ? json_string(s->alias_of) : json_null()));
    }
    return a;
}

static json_t *meta_directory_fields(void)
{
    json_t *a = json_array();
    for (size_t i = 0; i < directory_field_count(); i++) {
        const struct directory_field *f = directory_field_at(i);
        json_array_append_new(a,
                              json_pack("{s:s, s:s, s:b, s:b, s:b}", "name", f->name, "label",
                                        f->label, "source", (f->uses & DIRECTORY_FIELD_SOURCE) != 0,
                                        "filter", (f->uses & DIRECTORY_FIELD_FILTER) != 0, "scope",
                                        (f->uses & DIRECTORY_FIELD_SCOPE) != 0));
    }
    return a;
}

static json_t *meta_operators(void)
{
    json_t *a = json_array();
    for (size_t i = 0; i < directory_operator_count(); i++) {
        const struct directory_operator *o = directory_operator_at(i);
        json_array_append_new(a, json_pack("{s:s, s:s, s:b}", "name", o->name, "label", o->label,
                                           "takesValue", o->takes_value != 0));
    }
    return a;
}

static json_t *meta_functions(void)
{
    json_t *a = json_array();
    const char *name, *usage = NULL;
    size_t mn = 0, mx = 0;
    for (size_t i = 0; (name = expr_function_at(i, &usage, &mn, &mx)) != NULL; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:o}", "name", name, "usage", usage,
                                           "minArgs", (json_int_t)mn, "maxArgs",
                                           mx ? json_integer((json_int_t)mx) : json_null()));
    return a;
}

static void meta_attributes(struct api_call *c)
{
    api_json(c, 200,
             json_pack("{s:o, s:o, s:o, s:o, s:o}", "targetAttributes", meta_target_attributes(),
                       "directoryFields", meta_directory_fields(), "filterOperators",
                       meta_operators(), "expressionFunctions", meta_functions(), "defaultMappings",
                       mapping_defaults()));
}

/* The 1-based position in an expression error message "... at position N: ...", or 0. */
static long error_position(const char *msg)
{
    const char *p = strstr(msg, "at position ");
    long n = 0;
    if (!p)
        return 0;
    for (p += strlen("at position "); *p >= '0' && *p <= '9' && n < 1000000; p++)
        n = n * 10 + (*p - '0');
    return n;
}

/* Responds with the error shape plus "position" when e's message carries one. */
static void preview_error(struct api_call *c, const struct sc_error *e, const char *field)
{
    enum sc_err code = e->code ? e->code : SC_ERR_INTERNAL;
    json_t *err = json_pack("{s:s, s:s, s:s}", "code", sc_err_name(code), "message",
                            e->message[0] ? e->message : sc_strerror(code), "field",
                            field ? field : e->field);
    long pos = error_position(e->message);
    if (pos > 0)
        json_object_set_new(err, "position", json_integer(pos));
    api_json(c, sc_err_http_status(code), json_pack("{s:o}", "error", err));
}

static void mappings_preview(struct api_call *c)
{
    static const char *const keys[] = {"userId", "source", "mappings", NULL};
    json_t *body = NULL, *user = NULL, *out = NULL;
    struct expr *x = NULL;
    struct mapping *m = NULL;
    struct sc_error e = {0};
    if (api_body_object(c, &body) || api_reject_unknown(c, body, keys))
        goto done;
    const json_t *src = json_object_get(body, "source");
    const json_t *rows = json_object_get(body, "mappings");
    const char *uid = json_string_value(json_object_get(body, "userId"));
    if ((src != NULL) == (rows != NULL)) {
        api_error(c, SC_ERR_INVALID, "source",
                  "send either source (one expression or field) or mappings (a whole list)");
        goto done;
    }
    if (src && (!json_is_string(src) || !json_string_length(src))) {
        api_error(c, SC_ERR_INVALID, "source",
                  "source must be a directory field or an expression (a non-empty string)");
        goto done;
    }
    if (!uid || !*uid) {
        api_error(c, SC_ERR_INVALID, "userId", "userId is required: the user to preview with");
        goto done;
    }
    /* Validate the expression before looking the user up: its errors do not depend on
     * the user. */
    if (src && expr_parse(json_string_value(src), &x, &e)) {
        preview_error(c, &e, "source");
        goto done;
    }
    if (rows && mapping_compile(rows, &m, &e)) {
        preview_error(c, &e, NULL);
        goto done;
    }
    if (directory_user_get(c->st, uid, &user, &e)) {
        if (e.code == SC_ERR_NOT_FOUND)
            api_error(c, SC_ERR_NOT_FOUND, "userId", "no user has the id %.64s", uid);
        else
            api_error_from(c, &e);
        goto done;
    }
    if (x) {
        out = expr_eval(x, user);
        api_json(c, 200, json_pack("{s:o}", "value", out ? out : json_null()));
        goto done;
    }
    if (mapping_apply(m, user, &out)) {
        api_error(c, SC_ERR_INTERNAL, "mappings", "the mapping could not be applied");
        goto done;
    }
    /* What the engine sends: active follows the user's enabled flag unless mapped. */
    if (!json_object_get(out, "active"))
        json_object_set_new(out, "active",
                            json_boolean(!json_is_false(json_object_get(user, "enabled"))));
    api_json(c, 200, json_pack("{s:o}", "resource", out));
done:
    expr_free(x);
    mapping_free(m);
    json_decref(user);
    json_decref(body);
}

const struct api_route api_meta_routes[] = {
    {"GET", "/api/v1/meta/attributes", meta_attributes, 0,
     "the attribute tables: target aliases, directory fields, operators, functions", NULL, NULL,
     200, "AttributeTables"},
    {"POST", "/api/v1/mappings/preview", mappings_preview, 0,
     "evaluate a mapping source (or a whole mapping) for one user, nothing saved", NULL,
     "PreviewInput", 200, "PreviewResult"},
    {0},
};
