/* The user-filter language: compiling the JSON tree into nodes (validated, with error
 * paths like "conditions[1].operator", regexes compiled once) and evaluating it against
 * users in API JSON shape and their effective group names. */
#include "directory/userfilter.h"
#include "directory/fields.h"
#include "base/buf.h"
#include "base/json.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum uf_op {
    UF_EQUALS,
    UF_NOT_EQUALS,
    UF_STARTS_WITH,
    UF_ENDS_WITH,
    UF_CONTAINS,
    UF_IN,
    UF_IS_NULL,
    UF_IS_NOT_NULL,
    UF_MATCHES,
};

/* The operators are directory/fields.h's operator table, in the order of enum uf_op;
 * the attributes a filter may test are the fields of directory/fields.h's table marked
 * DIRECTORY_FIELD_FILTER. */

struct uf_node {
    int is_set;
    int match_all;            /* sets: ALL (1) or ANY (0) */
    struct uf_node *children; /* sets */
    size_t nchildren;
    const char *attribute; /* conditions: canonical name (static) */
    int is_group;
    enum uf_op op;
    char **values; /* one value, or the IN list */
    size_t nvalues;
    regex_t re;
    int has_re;
};

struct userfilter {
    struct uf_node root;
};

struct compile_state {
    size_t count;
    struct sc_error *e;
};

static void node_clear(struct uf_node *n)
{
    if (n->is_set) {
        for (size_t i = 0; i < n->nchildren; i++)
            node_clear(&n->children[i]);
        free(n->children);
    } else {
        for (size_t i = 0; i < n->nvalues; i++)
            free(n->values[i]);
        free(n->values);
        if (n->has_re)
            regfree(&n->re);
    }
    memset(n, 0, sizeof *n);
}

void userfilter_free(struct userfilter *f)
{
    if (!f)
        return;
    node_clear(&f->root);
    free(f);
}

int userfilter_attribute_known(const char *attribute)
{
    return directory_field_find(attribute, 0, DIRECTORY_FIELD_FILTER) != NULL;
}

static const char *canonical_attribute(const char *a)
{
    const struct directory_field *f = directory_field_find(a, 0, DIRECTORY_FIELD_FILTER);
    return f ? f->name : NULL;
}

/* Converts a scalar filter value to a new string; NULL when it is not a scalar. */
static char *scalar_text(const json_t *v)
{
    char tmp[64];
    if (json_is_string(v))
        return sc_strdup(json_string_value(v));
    if (json_is_true(v))
        return sc_strdup("true");
    if (json_is_false(v))
        return sc_strdup("false");
    if (json_is_integer(v)) {
        snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
        return sc_strdup(tmp);
    }
    return NULL;
}

static enum sc_err path_error(struct sc_error *e, enum sc_err code, const char *path,
                              const char *key, const char *msg)
{
    char field[SC_ERROR_FIELD_MAX];
    if (path[0])
        snprintf(field, sizeof field, "%s.%s", path, key);
    else
        snprintf(field, sizeof field, "%s", key);
    return sc_error_set(e, code, field, "%s: %s", field, msg);
}

static enum sc_err compile_node(const json_t *spec, const char *path, int depth, struct uf_node *n,
                                struct compile_state *cs);

static enum sc_err compile_set(const json_t *spec, const char *path, int depth, struct uf_node *n,
                               struct compile_state *cs)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)spec, key, v)
    {
        if (strcmp(key, "match") != 0 && strcmp(key, "conditions") != 0)
            return path_error(cs->e, SC_ERR_INVALID, path, key,
                              "unknown key (a condition set has match and conditions)");
    }
    n->is_set = 1;
    n->match_all = 1;
    json_t *m = json_object_get(spec, "match");
    if (m && !json_is_null(m)) {
        const char *ms = json_string_value(m);
        if (ms && sc_strcaseeq(ms, "ALL"))
            n->match_all = 1;
        else if (ms && sc_strcaseeq(ms, "ANY"))
            n->match_all = 0;
        else
            return path_error(cs->e, SC_ERR_INVALID, path, "match", "must be \"ALL\" or \"ANY\"");
    }
    json_t *conds = json_object_get(spec, "conditions");
    if (!json_is_array(conds))
        return path_error(cs->e, SC_ERR_INVALID, path, "conditions",
                          "must be an array of conditions");
    size_t count = json_array_size(conds);
    if (count == 0)
        return path_error(cs->e, SC_ERR_INVALID, path, "conditions",
                          "must have at least one condition");
    if (count > USERFILTER_MAX_CONDITIONS || cs->count + count > USERFILTER_MAX_CONDITIONS)
        return path_error(cs->e, SC_ERR_TOO_LARGE, path, "conditions",
                          "too many conditions (at most 256 in one filter)");
    cs->count += count;
    n->children = calloc(count, sizeof *n->children);
    if (!n->children)
        return sc_error_set(cs->e, SC_ERR_NOMEM, NULL, "out of memory");
    n->nchildren = count;
    for (size_t i = 0; i < count; i++) {
        char sub[SC_ERROR_FIELD_MAX];
        if (path[0])
            snprintf(sub, sizeof sub, "%s.conditions[%zu]", path, i);
        else
            snprintf(sub, sizeof sub, "conditions[%zu]", i);
        enum sc_err rc =
            compile_node(json_array_get(conds, i), sub, depth + 1, &n->children[i], cs);
        if (rc)
            return rc;
    }
    return SC_OK;
}

static enum sc_err compile_condition(const json_t *spec, const char *path, struct uf_node *n,
                                     struct compile_state *cs)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)spec, key, v)
    {
        if (strcmp(key, "attribute") != 0 && strcmp(key, "operator") != 0 &&
            strcmp(key, "value") != 0)
            return path_error(cs->e, SC_ERR_INVALID, path, key,
                              "unknown key (a condition has attribute, operator and value)");
    }
    const char *attr = json_string_value(json_object_get(spec, "attribute"));
    if (!attr)
        return path_error(cs->e, SC_ERR_INVALID, path, "attribute",
                          "is required: a user field such as username, population.name or group");
    n->attribute = canonical_attribute(attr);
    if (!n->attribute)
        return path_error(cs->e, SC_ERR_INVALID, path, "attribute",
                          "unknown attribute (use group, population.name or a user field such "
                          "as username, email, name.given, address.countryCode)");
    n->is_group = strcmp(n->attribute, "group") == 0;
    const char *op = json_string_value(json_object_get(spec, "operator"));
    if (!op)
        return path_error(cs->e, SC_ERR_INVALID, path, "operator", "is required");
    size_t k, nops = directory_operator_count();
    for (k = 0; k < nops; k++)
        if (sc_strcaseeq(directory_operator_at(k)->name, op))
            break;
    if (k == nops)
        return path_error(cs->e, SC_ERR_INVALID, path, "operator",
                          "must be one of EQUALS, NOT_EQUALS, STARTS_WITH, ENDS_WITH, CONTAINS, "
                          "IN, IS_NULL, IS_NOT_NULL, MATCHES");
    n->op = (enum uf_op)k;
    json_t *val = json_object_get(spec, "value");
    if (n->op == UF_IS_NULL || n->op == UF_IS_NOT_NULL) {
        if (val && !json_is_null(val))
            return path_error(cs->e, SC_ERR_INVALID, path, "value",
                              "IS_NULL and IS_NOT_NULL take no value");
        return SC_OK;
    }
    if (n->op == UF_IN) {
        if (!json_is_array(val) || json_array_size(val) == 0)
            return path_error(cs->e, SC_ERR_INVALID, path, "value",
                              "IN takes a non-empty array of strings");
        if (json_array_size(val) > USERFILTER_MAX_IN)
            return path_error(cs->e, SC_ERR_TOO_LARGE, path, "value",
                              "IN takes at most 256 values");
    } else if (!val || json_is_null(val)) {
        return path_error(cs->e, SC_ERR_INVALID, path, "value", "is required for this operator");
    }
    size_t nv = n->op == UF_IN ? json_array_size(val) : 1;
    n->values = calloc(nv, sizeof *n->values);
    if (!n->values)
        return sc_error_set(cs->e, SC_ERR_NOMEM, NULL, "out of memory");
    for (size_t i = 0; i < nv; i++) {
        const json_t *item = n->op == UF_IN ? json_array_get(val, i) : val;
        char *s = scalar_text(item);
        if (!s)
            return path_error(cs->e, SC_ERR_INVALID, path, "value",
                              n->op == UF_IN ? "IN values must be strings"
                                             : "must be a string (or true/false, a number)");
        n->values[n->nvalues++] = s;
        if (strlen(s) > USERFILTER_MAX_VALUE)
            return path_error(cs->e, SC_ERR_TOO_LARGE, path, "value",
                              "is too long (at most 1024 bytes)");
    }
    if (n->op == UF_MATCHES) {
        if (strlen(n->values[0]) > USERFILTER_MAX_REGEX)
            return path_error(cs->e, SC_ERR_TOO_LARGE, path, "value",
                              "the pattern is too long (at most 256 bytes)");
        int rc = regcomp(&n->re, n->values[0], REG_EXTENDED | REG_ICASE | REG_NOSUB);
        if (rc != 0) {
            char why[128];
            regerror(rc, &n->re, why, sizeof why);
            regfree(&n->re);
            char msg[200];
            snprintf(msg, sizeof msg, "not a POSIX extended regular expression: %s", why);
            return path_error(cs->e, SC_ERR_INVALID, path, "value", msg);
        }
        n->has_re = 1;
    }
    return SC_OK;
}

static enum sc_err compile_node(const json_t *spec, const char *path, int depth, struct uf_node *n,
                                struct compile_state *cs)
{
    if (!json_is_object(spec)) {
        const char *where = path[0] ? path : "userFilter";
        return sc_error_set(cs->e, SC_ERR_INVALID, path[0] ? path : NULL,
                            "%s: must be an object (a condition or a condition set)", where);
    }
    if (json_object_get(spec, "conditions") || json_object_get(spec, "match")) {
        if (depth >= USERFILTER_MAX_DEPTH)
            return sc_error_set(cs->e, SC_ERR_TOO_LARGE, path[0] ? path : NULL,
                                "condition sets nest too deeply (at most %d levels)",
                                USERFILTER_MAX_DEPTH);
        return compile_set(spec, path, depth, n, cs);
    }
    if (!path[0])
        return sc_error_set(cs->e, SC_ERR_INVALID, "match",
                            "a filter is a condition set: {\"match\": \"ALL\"|\"ANY\", "
                            "\"conditions\": [...]}");
    return compile_condition(spec, path, n, cs);
}

enum sc_err userfilter_compile(const json_t *spec, struct userfilter **out, struct sc_error *e)
{
    struct userfilter *f = calloc(1, sizeof *f);
    if (!f)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    struct compile_state cs = {.count = 0, .e = e};
    enum sc_err rc = compile_node(spec, "", 0, &f->root, &cs);
    if (rc) {
        userfilter_free(f);
        return rc;
    }
    *out = f;
    return SC_OK;
}

/* ---- evaluation --------------------------------------------------------------- */

static int str_test(const struct uf_node *n, const char *s)
{
    switch (n->op) {
    case UF_EQUALS:
        return sc_strcaseeq(s, n->values[0]);
    case UF_NOT_EQUALS:
        return !sc_strcaseeq(s, n->values[0]);
    case UF_STARTS_WITH:
        return sc_strncaseeq(s, n->values[0], strlen(n->values[0]));
    case UF_ENDS_WITH: {
        size_t ls = strlen(s), lv = strlen(n->values[0]);
        return ls >= lv && sc_strcaseeq(s + ls - lv, n->values[0]);
    }
    case UF_CONTAINS:
        return strcasestr(s, n->values[0]) != NULL;
    case UF_IN:
        for (size_t i = 0; i < n->nvalues; i++)
            if (sc_strcaseeq(s, n->values[i]))
                return 1;
        return 0;
    case UF_MATCHES:
        return regexec(&n->re, s, 0, NULL, 0) == 0;
    case UF_IS_NULL:
        return 0;
    case UF_IS_NOT_NULL:
        return 1;
    }
    return 0;
}

static int eval_group(const struct uf_node *n, const char *const *groups, size_t ngroups)
{
    if (n->op == UF_IS_NULL)
        return ngroups == 0;
    if (n->op == UF_IS_NOT_NULL)
        return ngroups > 0;
    if (n->op == UF_NOT_EQUALS) {
        for (size_t i = 0; i < ngroups; i++)
            if (sc_strcaseeq(groups[i], n->values[0]))
                return 0;
        return 1;
    }
    for (size_t i = 0; i < ngroups; i++)
        if (str_test(n, groups[i]))
            return 1;
    return 0;
}

static int eval_node(const struct uf_node *n, const json_t *user, const char *const *groups,
                     size_t ngroups)
{
    if (n->is_set) {
        for (size_t i = 0; i < n->nchildren; i++) {
            int r = eval_node(&n->children[i], user, groups, ngroups);
            if (n->match_all && !r)
                return 0;
            if (!n->match_all && r)
                return 1;
        }
        return n->match_all;
    }
    if (n->is_group)
        return eval_group(n, groups, ngroups);
    const json_t *v = sc_json_get_path(user, n->attribute);
    const char *s = NULL;
    char tmp[32];
    if (json_is_string(v))
        s = json_string_value(v);
    else if (json_is_boolean(v))
        s = json_is_true(v) ? "true" : "false";
    else if (json_is_integer(v)) {
        snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
        s = tmp;
    }
    if (s && !*s)
        s = NULL;
    if (!s)
        return n->op == UF_IS_NULL || n->op == UF_NOT_EQUALS;
    return str_test(n, s);
}

int userfilter_match(const struct userfilter *f, const json_t *user, const char *const *groups,
                     size_t ngroups)
{
    if (!f)
        return 0;
    return eval_node(&f->root, user, groups, ngroups);
}

/* ---- introspection ------------------------------------------------------------ */

static int any_node(const struct uf_node *n, int (*pred)(const struct uf_node *, const void *),
                    const void *arg)
{
    if (n->is_set) {
        for (size_t i = 0; i < n->nchildren; i++)
            if (any_node(&n->children[i], pred, arg))
                return 1;
        return 0;
    }
    return pred(n, arg);
}

static int is_scope(const struct uf_node *n, const void *arg)
{
    (void)arg;
    return n->is_group || strncmp(n->attribute, "population.", 11) == 0;
}

static int is_group_cond(const struct uf_node *n, const void *arg)
{
    (void)arg;
    return n->is_group;
}

static int uses_group(const struct uf_node *n, const void *arg)
{
    const char *name = arg;
    if (!n->is_group)
        return 0;
    if (n->op == UF_IS_NULL || n->op == UF_IS_NOT_NULL)
        return 1;
    if (n->op == UF_NOT_EQUALS)
        return sc_strcaseeq(name, n->values[0]);
    return str_test(n, name);
}

int userfilter_names_scope(const struct userfilter *f)
{
    return f ? any_node(&f->root, is_scope, NULL) : 0;
}

int userfilter_uses_groups(const struct userfilter *f)
{
    return f ? any_node(&f->root, is_group_cond, NULL) : 0;
}

int userfilter_uses_group(const struct userfilter *f, const char *name)
{
    return f && name ? any_node(&f->root, uses_group, name) : 0;
}

static int collect(const struct uf_node *n, const char *attribute, json_t *out)
{
    if (n->is_set) {
        for (size_t i = 0; i < n->nchildren; i++)
            if (collect(&n->children[i], attribute, out))
                return -1;
        return 0;
    }
    if (strcmp(n->attribute, attribute) != 0 || n->op == UF_MATCHES)
        return 0;
    for (size_t i = 0; i < n->nvalues; i++) {
        int seen = 0;
        for (size_t j = 0; j < json_array_size(out) && !seen; j++)
            seen = sc_strcaseeq(json_string_value(json_array_get(out, j)), n->values[i]);
        if (!seen && json_array_append_new(out, json_string(n->values[i])))
            return -1;
    }
    return 0;
}

static json_t *names_of(const struct userfilter *f, const char *attribute)
{
    json_t *out = json_array();
    if (out && f && collect(&f->root, attribute, out)) {
        json_decref(out);
        return NULL;
    }
    return out;
}

json_t *userfilter_group_names(const struct userfilter *f)
{
    return names_of(f, "group");
}

json_t *userfilter_population_names(const struct userfilter *f)
{
    return names_of(f, "population.name");
}
