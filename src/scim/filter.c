/* SCIM filters (RFC 7644 §3.4.2.2): a recursive-descent parser whose recursion is
 * bounded by SCIM_FILTER_MAX_DEPTH, an evaluator against jansson resources using the
 * schema tables for caseExact and types, a printer, and safe literal rendering. */
#include "scim/filter.h"
#include "scim/scim_internal.h"
#include "base/clock.h"

#include <stdlib.h>
#include <string.h>

struct parser {
    const char *s;
    size_t pos;
    size_t len;
    int depth;
    int nodes;
    int in_brackets;
    struct scim_error *err;
};

static enum sc_err fail(struct parser *p, const char *what)
{
    return scim_error_set(p->err, 400, SCIM_TYPE_INVALID_FILTER,
                          "invalid filter at position %zu: %s", p->pos + 1, what);
}

static void skip_ws(struct parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '$';
}

static int is_path_char(char c)
{
    return is_name_char(c) || c == ':' || c == '.';
}

/* Matches keyword kw (case-insensitive) at the current position, followed by a
 * non-name character; advances past it when it does. */
static int accept_word(struct parser *p, const char *kw)
{
    size_t n = strlen(kw);
    if (p->pos + n > p->len || !sc_strncaseeq(p->s + p->pos, kw, n))
        return 0;
    if (p->pos + n < p->len && is_path_char(p->s[p->pos + n]))
        return 0;
    p->pos += n;
    return 1;
}

static struct scim_filter *node_new(struct parser *p, enum scim_filter_op op)
{
    if (++p->nodes > SCIM_FILTER_MAX_NODES) {
        fail(p, "the filter has too many terms");
        return NULL;
    }
    struct scim_filter *f = calloc(1, sizeof *f);
    if (!f) {
        scim_error_set(p->err, 500, NULL, "out of memory");
        return NULL;
    }
    f->op = op;
    return f;
}

void scim_filter_free(struct scim_filter *f)
{
    while (f) {
        struct scim_filter *next = NULL;
        free(f->attr);
        json_decref(f->value);
        /* free the deeper side iteratively: and/or chains are left-deep */
        if (f->left && f->right) {
            scim_filter_free(f->right);
            next = f->left;
        } else {
            next = f->left ? f->left : f->right;
        }
        free(f);
        f = next;
    }
}

/* Reads an attribute path (URN prefix, name, sub-attribute) into a new string. */
static char *parse_attr_path(struct parser *p)
{
    size_t start = p->pos;
    while (p->pos < p->len && is_path_char(p->s[p->pos]))
        p->pos++;
    size_t n = p->pos - start;
    if (n == 0) {
        fail(p, "expected an attribute name");
        return NULL;
    }
    char *a = malloc(n + 1);
    if (!a) {
        scim_error_set(p->err, 500, NULL, "out of memory");
        return NULL;
    }
    memcpy(a, p->s + start, n);
    a[n] = '\0';
    char urn[2 * SCIM__NAME_MAX], name[SCIM__NAME_MAX], sub[SCIM__NAME_MAX];
    if (scim__split_attr(a, urn, name, sub) < 0) {
        p->pos = start;
        free(a);
        fail(p, "malformed attribute path");
        return NULL;
    }
    return a;
}

/* Reads a comparison value: a JSON string, number, true, false or null. */
static json_t *parse_value(struct parser *p)
{
    size_t start = p->pos;
    if (p->pos >= p->len) {
        fail(p, "expected a value");
        return NULL;
    }
    char c = p->s[p->pos];
    json_error_t jerr;
    json_t *v = NULL;
    if (c == '"') {
        p->pos++;
        while (p->pos < p->len && p->s[p->pos] != '"') {
            if (p->s[p->pos] == '\\')
                p->pos++;
            p->pos++;
        }
        if (p->pos >= p->len) {
            p->pos = start;
            fail(p, "unterminated string");
            return NULL;
        }
        p->pos++;
        /* the common case, no escapes and no control characters, skips the JSON parser
         * (the whole text is already known to be valid UTF-8) */
        int plain = 1;
        for (size_t i = start + 1; i + 1 < p->pos && plain; i++)
            if (p->s[i] == '\\' || (unsigned char)p->s[i] < 0x20)
                plain = 0;
        if (plain) {
            v = json_stringn(p->s + start + 1, p->pos - start - 2);
            if (!v)
                fail(p, "bad string literal");
            return v;
        }
        v = json_loadb(p->s + start, p->pos - start, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (!v) {
            p->pos = start;
            fail(p, "bad string literal (escapes or UTF-8)");
            return NULL;
        }
        return v;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        while (p->pos < p->len && (strchr("0123456789+-.eE", p->s[p->pos]) != NULL))
            p->pos++;
        v = json_loadb(p->s + start, p->pos - start, JSON_DECODE_ANY, &jerr);
        if (!v || !json_is_number(v)) {
            json_decref(v);
            p->pos = start;
            fail(p, "bad number");
            return NULL;
        }
        return v;
    }
    if (accept_word(p, "true"))
        return json_true();
    if (accept_word(p, "false"))
        return json_false();
    if (accept_word(p, "null"))
        return json_null();
    fail(p, "expected a value: a \"string\", a number, true, false or null");
    return NULL;
}

static struct scim_filter *parse_or(struct parser *p);

static const struct {
    const char *name;
    enum scim_filter_op op;
} ops[] = {
    {"eq", SCIM_OP_EQ}, {"ne", SCIM_OP_NE}, {"co", SCIM_OP_CO}, {"sw", SCIM_OP_SW},
    {"ew", SCIM_OP_EW}, {"pr", SCIM_OP_PR}, {"gt", SCIM_OP_GT}, {"ge", SCIM_OP_GE},
    {"lt", SCIM_OP_LT}, {"le", SCIM_OP_LE},
};

/* Parses a parenthesised or bracketed sub-filter, counting the nesting. */
static struct scim_filter *parse_nested(struct parser *p, char close)
{
    if (++p->depth > SCIM_FILTER_MAX_DEPTH) {
        fail(p, "the filter is nested too deeply");
        return NULL;
    }
    struct scim_filter *f = parse_or(p);
    if (!f)
        return NULL;
    skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != close) {
        scim_filter_free(f);
        fail(p, close == ')' ? "expected ')'" : "expected ']'");
        return NULL;
    }
    p->pos++;
    p->depth--;
    return f;
}

/* Reads what follows an attribute path in a comparison: white space, an operator and,
 * unless it is pr, the value; fills f's op and value. */
static enum sc_err parse_compare(struct parser *p, struct scim_filter *f)
{
    size_t before_ws = p->pos;
    skip_ws(p);
    if (p->pos == before_ws)
        return fail(p, "expected a space and an operator after the attribute");
    int found = 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (accept_word(p, ops[i].name)) {
            f->op = ops[i].op;
            found = 1;
            break;
        }
    }
    if (!found)
        return fail(p, "expected an operator (eq ne co sw ew pr gt ge lt le)");
    if (f->op == SCIM_OP_PR)
        return SC_OK;
    skip_ws(p); /* RFC 7644's own examples omit the space before a quote */
    if (!(f->value = parse_value(p)))
        return scim_error_code(p->err->status ? p->err->status : 400);
    return SC_OK;
}

/* Reads `.sub op value` after a value path's ']' (`emails[type eq "work"].value eq
 * "x"`, the form Entra ID sends) into a new comparison node whose attr is the
 * sub-attribute's bare name. */
static struct scim_filter *parse_sub_compare(struct parser *p)
{
    p->pos++; /* the '.' */
    size_t start = p->pos;
    while (p->pos < p->len && is_name_char(p->s[p->pos]))
        p->pos++;
    size_t n = p->pos - start;
    if (n == 0 || n >= SCIM__NAME_MAX || !scim__name_valid(p->s + start, n)) {
        p->pos = start;
        fail(p, "expected a sub-attribute name after \"].\"");
        return NULL;
    }
    struct scim_filter *f = node_new(p, SCIM_OP_EQ);
    if (!f)
        return NULL;
    if (!(f->attr = malloc(n + 1))) {
        scim_error_set(p->err, 500, NULL, "out of memory");
        goto fail;
    }
    memcpy(f->attr, p->s + start, n);
    f->attr[n] = '\0';
    if (p->pos < p->len && (p->s[p->pos] == '.' || p->s[p->pos] == ':' || p->s[p->pos] == '[')) {
        fail(p, "expected a space and an operator after the sub-attribute");
        goto fail;
    }
    if (parse_compare(p, f) != SC_OK)
        goto fail;
    return f;
fail:
    scim_filter_free(f);
    return NULL;
}

static struct scim_filter *parse_unary(struct parser *p)
{
    struct scim_filter *f = NULL;
    skip_ws(p);
    if (p->pos >= p->len) {
        fail(p, "unexpected end of filter");
        return NULL;
    }
    if (p->s[p->pos] == '(') {
        p->pos++;
        return parse_nested(p, ')');
    }
    size_t save = p->pos;
    if (accept_word(p, "not")) {
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == '(') {
            p->pos++;
            if (!(f = node_new(p, SCIM_OP_NOT)))
                return NULL;
            if (!(f->left = parse_nested(p, ')'))) {
                scim_filter_free(f);
                return NULL;
            }
            return f;
        }
        p->pos = save; /* an attribute called "not" */
    }
    if (!(f = node_new(p, SCIM_OP_EQ)))
        return NULL;
    if (!(f->attr = parse_attr_path(p)))
        goto fail;
    if (p->pos < p->len && p->s[p->pos] == '[') {
        if (p->in_brackets) {
            fail(p, "value filters cannot be nested");
            goto fail;
        }
        f->op = SCIM_OP_VALUE_PATH;
        p->pos++;
        p->in_brackets = 1;
        f->left = parse_nested(p, ']');
        p->in_brackets = 0;
        if (!f->left)
            goto fail;
        if (p->pos < p->len && p->s[p->pos] == '.' && !(f->right = parse_sub_compare(p)))
            goto fail;
        return f;
    }
    if (parse_compare(p, f) != SC_OK)
        goto fail;
    return f;
fail:
    scim_filter_free(f);
    return NULL;
}

/* Parses a chain of operands joined by word ("and" or "or"), left-associative: "and"
 * chains unary terms and binds tighter; "or" chains "and" chains. */
static struct scim_filter *parse_chain(struct parser *p, int is_or)
{
    struct scim_filter *left = is_or ? parse_chain(p, 0) : parse_unary(p);
    while (left) {
        skip_ws(p);
        if (!accept_word(p, is_or ? "or" : "and"))
            break;
        struct scim_filter *n = node_new(p, is_or ? SCIM_OP_OR : SCIM_OP_AND);
        if (!n) {
            scim_filter_free(left);
            return NULL;
        }
        n->left = left;
        left = n;
        if (!(n->right = is_or ? parse_chain(p, 0) : parse_unary(p))) {
            scim_filter_free(left);
            return NULL;
        }
    }
    return left;
}

static struct scim_filter *parse_or(struct parser *p)
{
    return parse_chain(p, 1);
}

static enum sc_err parse_text(const char *text, int in_brackets, struct scim_filter **out,
                              struct scim_error *err)
{
    struct scim_error local = {0};
    struct parser p = {.s = text, .err = err ? err : &local, .in_brackets = in_brackets};
    if (!text)
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_FILTER, "the filter is empty");
    p.len = strlen(text);
    if (p.len > SCIM_FILTER_MAX_LEN)
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_FILTER,
                              "the filter is longer than %d bytes", SCIM_FILTER_MAX_LEN);
    if (!sc_utf8_valid(text, p.len))
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_FILTER, "the filter is not valid UTF-8");
    skip_ws(&p);
    if (p.pos == p.len)
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_FILTER, "the filter is empty");
    struct scim_filter *f = parse_or(&p);
    if (!f)
        return scim_error_code(p.err->status ? p.err->status : 400);
    skip_ws(&p);
    if (p.pos != p.len) {
        scim_filter_free(f);
        return fail(&p, p.s[p.pos] == ')' ? "unbalanced ')'"
                                          : "unexpected text (expected and, or, or the end)");
    }
    *out = f;
    return SC_OK;
}

enum sc_err scim_filter_parse(const char *text, struct scim_filter **out, struct scim_error *err)
{
    return parse_text(text, 0, out, err);
}

enum sc_err scim__filter_parse_inner(const char *text, struct scim_filter **out,
                                     struct scim_error *err)
{
    return parse_text(text, 1, out, err);
}

/* ---- evaluation ---- */

struct ectx {
    const struct scim_resource_type *rt;
    const struct scim_attr *parent; /* inside a value path: the multi-valued attribute */
};

/* Finds the schema definition of a filter's attribute path (NULL when unknown). */
static const struct scim_attr *attr_def(const struct ectx *c, const char *path)
{
    char urn[2 * SCIM__NAME_MAX], name[SCIM__NAME_MAX], sub[SCIM__NAME_MAX];
    if (scim__split_attr(path, urn, name, sub) < 0)
        return NULL;
    const struct scim_attr *a = NULL;
    if (c->parent) {
        a = scim_attr_sub(c->parent, name);
    } else if (c->rt) {
        if (scim__find_attr(c->rt, urn, name, NULL, &a) < 0)
            return NULL;
    } else {
        a = scim_schema_attr(scim_schema_common(), name);
    }
    if (a && sub[0])
        a = scim_attr_sub(a, sub);
    else if (a && a->type == SCIM_T_COMPLEX)
        a = scim_attr_sub(a, "value");
    return a;
}

typedef int (*test_fn)(const json_t *v, const struct scim_attr *a, const struct scim_filter *f);

/* Calls test on each value the path names in root (flattening multi-valued attributes
 * and taking "value" of complex values); returns 1 at the first that passes. */
static int any_value(const struct ectx *c, const json_t *root, const struct scim_filter *f,
                     test_fn test)
{
    char urn[2 * SCIM__NAME_MAX], name[SCIM__NAME_MAX], sub[SCIM__NAME_MAX];
    if (scim__split_attr(f->attr, urn, name, sub) < 0)
        return 0;
    const struct scim_attr *a = attr_def(c, f->attr);
    const json_t *cont = c->parent ? root : scim__container(c->rt, root, urn, name);
    const json_t *v = scim__obj_get(cont, name, NULL);
    if (!v)
        return 0;
    const json_t *items[1] = {v};
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_is_array(v) ? json_array_get(v, i) : items[0];
        const json_t *x;
        if (sub[0]) {
            x = scim__obj_get(e, sub, NULL);
            if (json_is_array(x)) {
                size_t j;
                json_t *y;
                json_array_foreach(x, j, y)
                {
                    if (test(y, a, f))
                        return 1;
                }
                continue;
            }
        } else if (json_is_object(e)) {
            x = scim__obj_get(e, "value", NULL);
            if (!x && f->op == SCIM_OP_PR)
                x = json_object_size(e) ? e : NULL;
        } else {
            x = e;
        }
        if (x && test(x, a, f))
            return 1;
    }
    return 0;
}

static int present(const json_t *v)
{
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v))
        return json_string_length(v) > 0;
    if (json_is_array(v))
        return json_array_size(v) > 0;
    if (json_is_object(v))
        return json_object_size(v) > 0;
    return 1;
}

static int test_present(const json_t *v, const struct scim_attr *a, const struct scim_filter *f)
{
    (void)a;
    (void)f;
    return present(v);
}

static int cmp_result(enum scim_filter_op op, int c)
{
    switch (op) {
    case SCIM_OP_EQ:
        return c == 0;
    case SCIM_OP_GT:
        return c > 0;
    case SCIM_OP_GE:
        return c >= 0;
    case SCIM_OP_LT:
        return c < 0;
    case SCIM_OP_LE:
        return c <= 0;
    default:
        return 0;
    }
}

static int str_cmp(const char *a, size_t an, const char *b, size_t bn, int case_exact)
{
    size_t n = an < bn ? an : bn;
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (!case_exact) {
            x = (x >= 'A' && x <= 'Z') ? (unsigned char)(x + 32) : x;
            y = (y >= 'A' && y <= 'Z') ? (unsigned char)(y + 32) : y;
        }
        if (x != y)
            return x < y ? -1 : 1;
    }
    return an == bn ? 0 : (an < bn ? -1 : 1);
}

/* Compares one resource value with the filter's literal for eq co sw ew gt ge lt le. */
static int test_compare(const json_t *v, const struct scim_attr *a, const struct scim_filter *f)
{
    const json_t *lit = f->value;
    enum scim_filter_op op = f->op == SCIM_OP_NE ? SCIM_OP_EQ : f->op;
    if (json_is_string(lit) && json_is_string(v)) {
        const char *vs = json_string_value(v), *ls = json_string_value(lit);
        size_t vn = json_string_length(v), ln = json_string_length(lit);
        int ce = a ? a->case_exact : 0;
        if (a && a->type == SCIM_T_DATETIME && op != SCIM_OP_CO && op != SCIM_OP_SW &&
            op != SCIM_OP_EW) {
            int64_t x, y;
            if (sc_clock_parse_iso8601(vs, &x) == 0 && sc_clock_parse_iso8601(ls, &y) == 0)
                return cmp_result(op, x < y ? -1 : (x > y ? 1 : 0));
        }
        switch (op) {
        case SCIM_OP_CO:
            return scim__contains(vs, vn, ls, ln, ce);
        case SCIM_OP_SW:
            return ln <= vn && str_cmp(vs, ln, ls, ln, ce) == 0;
        case SCIM_OP_EW:
            return ln <= vn && str_cmp(vs + vn - ln, ln, ls, ln, ce) == 0;
        default:
            return cmp_result(op, str_cmp(vs, vn, ls, ln, ce));
        }
    }
    if (json_is_number(lit) && json_is_number(v)) {
        if (op == SCIM_OP_CO || op == SCIM_OP_SW || op == SCIM_OP_EW)
            return 0;
        if (json_is_integer(lit) && json_is_integer(v)) {
            json_int_t x = json_integer_value(v), y = json_integer_value(lit);
            return cmp_result(op, x < y ? -1 : (x > y ? 1 : 0));
        }
        double x = json_number_value(v), y = json_number_value(lit);
        return cmp_result(op, x < y ? -1 : (x > y ? 1 : 0));
    }
    if (json_is_boolean(lit) && json_is_boolean(v))
        return op == SCIM_OP_EQ && json_is_true(lit) == json_is_true(v);
    return 0;
}

static int match(const struct ectx *c, const struct scim_filter *f, const json_t *res);

/* One element of a value path matches when the bracketed filter does and, for
 * `attr[filter].sub op value`, the comparison on its sub-attribute does too. */
static int match_element(const struct ectx *inner, const struct scim_filter *f, const json_t *e)
{
    return json_is_object(e) && match(inner, f->left, e) &&
           (!f->right || match(inner, f->right, e));
}

static int match_value_path(const struct ectx *c, const struct scim_filter *f, const json_t *res)
{
    char urn[2 * SCIM__NAME_MAX], name[SCIM__NAME_MAX], sub[SCIM__NAME_MAX];
    if (scim__split_attr(f->attr, urn, name, sub) < 0)
        return 0;
    const struct scim_attr *a = NULL;
    if (c->rt)
        scim__find_attr(c->rt, urn, name, NULL, &a);
    const json_t *cont = scim__container(c->rt, res, urn, name);
    const json_t *v = scim__obj_get(cont, name, NULL);
    if (sub[0] && json_is_object(v)) {
        /* name.sub[filter]: the multi-valued sub-attribute of a complex one */
        v = scim__obj_get(v, sub, NULL);
        a = a ? scim_attr_sub(a, sub) : NULL;
    }
    struct ectx inner = {.rt = c->rt, .parent = a};
    static const struct scim_attr generic = {.name = "", .type = SCIM_T_COMPLEX};
    if (!inner.parent)
        inner.parent = &generic;
    if (json_is_object(v))
        return match_element(&inner, f, v);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        if (match_element(&inner, f, e))
            return 1;
    }
    return 0;
}

static int match(const struct ectx *c, const struct scim_filter *f, const json_t *res)
{
    switch (f->op) {
    case SCIM_OP_AND:
        return match(c, f->left, res) && match(c, f->right, res);
    case SCIM_OP_OR:
        return match(c, f->left, res) || match(c, f->right, res);
    case SCIM_OP_NOT:
        return !match(c, f->left, res);
    case SCIM_OP_VALUE_PATH:
        return match_value_path(c, f, res);
    case SCIM_OP_PR:
        return any_value(c, res, f, test_present);
    case SCIM_OP_EQ:
    case SCIM_OP_NE: {
        int eq;
        if (json_is_null(f->value))
            eq = !any_value(c, res, f, test_present);
        else
            eq = any_value(c, res, f, test_compare);
        return f->op == SCIM_OP_EQ ? eq : !eq;
    }
    default:
        if (json_is_null(f->value))
            return 0;
        return any_value(c, res, f, test_compare);
    }
}

int scim_filter_match(const struct scim_filter *f, const struct scim_resource_type *rt,
                      const json_t *resource)
{
    if (!f || !json_is_object(resource))
        return 0;
    struct ectx c = {.rt = rt, .parent = NULL};
    return match(&c, f, resource);
}

static enum sc_err check(const struct ectx *c, const struct scim_filter *f, int depth,
                         struct scim_error *err)
{
    enum sc_err rc;
    if (depth > SCIM_FILTER_MAX_DEPTH * 2 + SCIM_FILTER_MAX_NODES)
        return SC_OK;
    switch (f->op) {
    case SCIM_OP_AND:
    case SCIM_OP_OR:
        if ((rc = check(c, f->left, depth + 1, err)) != SC_OK)
            return rc;
        return check(c, f->right, depth + 1, err);
    case SCIM_OP_NOT:
        return check(c, f->left, depth + 1, err);
    case SCIM_OP_VALUE_PATH: {
        const struct scim_attr *a = NULL;
        if (c->rt && scim_schema_resolve(c->rt, f->attr, NULL, &a, NULL) == 0) {
            struct ectx inner = {.rt = c->rt, .parent = a};
            if ((rc = check(&inner, f->left, depth + 1, err)) != SC_OK || !f->right)
                return rc;
            return check(&inner, f->right, depth + 1, err);
        }
        return SC_OK;
    }
    case SCIM_OP_PR:
    case SCIM_OP_EQ:
    case SCIM_OP_NE:
        return SC_OK;
    default:
        break;
    }
    const struct scim_attr *a = attr_def(c, f->attr);
    if (!a)
        return SC_OK;
    int ordering =
        f->op == SCIM_OP_GT || f->op == SCIM_OP_GE || f->op == SCIM_OP_LT || f->op == SCIM_OP_LE;
    if (ordering && (a->type == SCIM_T_BOOLEAN || a->type == SCIM_T_BINARY))
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_FILTER,
                              "%s cannot be compared with %s: it is a %s", f->attr,
                              scim_filter_op_name(f->op), scim_type_name(a->type));
    if (!ordering &&
        (a->type == SCIM_T_BOOLEAN || a->type == SCIM_T_INTEGER || a->type == SCIM_T_DECIMAL))
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_FILTER,
                              "%s cannot be used with %s: it is a %s", f->attr,
                              scim_filter_op_name(f->op), scim_type_name(a->type));
    return SC_OK;
}

int scim__filter_match_element(const struct scim_filter *f, const struct scim_resource_type *rt,
                               const struct scim_attr *parent, const json_t *element)
{
    static const struct scim_attr generic = {.name = "", .type = SCIM_T_COMPLEX};
    struct ectx c = {.rt = rt, .parent = parent ? parent : &generic};
    if (!f || !json_is_object(element))
        return 0;
    return match(&c, f, element);
}

enum sc_err scim_filter_check(const struct scim_filter *f, const struct scim_resource_type *rt,
                              struct scim_error *err)
{
    if (!f)
        return SC_OK;
    struct ectx c = {.rt = rt, .parent = NULL};
    return check(&c, f, 0, err);
}

/* ---- printing and literals ---- */

const char *scim_filter_op_name(enum scim_filter_op op)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (ops[i].op == op)
            return ops[i].name;
    switch (op) {
    case SCIM_OP_AND:
        return "and";
    case SCIM_OP_OR:
        return "or";
    case SCIM_OP_NOT:
        return "not";
    default:
        return "[]";
    }
}

/* Appends `attr op` and, unless op is pr, ` value`. */
static enum sc_err format_compare(const struct scim_filter *f, struct sc_buf *out)
{
    enum sc_err rc;
    if ((rc = sc_buf_puts(out, f->attr)) || (rc = sc_buf_puts(out, " ")) ||
        (rc = sc_buf_puts(out, scim_filter_op_name(f->op))))
        return rc;
    if (f->op == SCIM_OP_PR)
        return SC_OK;
    char *lit = json_dumps(f->value, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!lit)
        return SC_ERR_NOMEM;
    rc = sc_buf_puts(out, " ");
    if (!rc)
        rc = sc_buf_puts(out, lit);
    free(lit);
    return rc;
}

static enum sc_err format(const struct scim_filter *f, struct sc_buf *out)
{
    enum sc_err rc;
    switch (f->op) {
    case SCIM_OP_AND:
    case SCIM_OP_OR: {
        for (int side = 0; side < 2; side++) {
            const struct scim_filter *c = side ? f->right : f->left;
            /* an or inside an and needs parentheses; so does a right operand of the
             * same operator, to keep the tree's shape */
            int paren =
                (f->op == SCIM_OP_AND && c->op == SCIM_OP_OR) || (side == 1 && c->op == f->op);
            if (side && (rc = sc_buf_puts(out, f->op == SCIM_OP_AND ? " and " : " or ")))
                return rc;
            if (paren && (rc = sc_buf_puts(out, "(")))
                return rc;
            if ((rc = format(c, out)))
                return rc;
            if (paren && (rc = sc_buf_puts(out, ")")))
                return rc;
        }
        return SC_OK;
    }
    case SCIM_OP_NOT:
        if ((rc = sc_buf_puts(out, "not (")) || (rc = format(f->left, out)))
            return rc;
        return sc_buf_puts(out, ")");
    case SCIM_OP_VALUE_PATH:
        if ((rc = sc_buf_puts(out, f->attr)) || (rc = sc_buf_puts(out, "[")) ||
            (rc = format(f->left, out)) || (rc = sc_buf_puts(out, "]")))
            return rc;
        if (!f->right)
            return SC_OK;
        if ((rc = sc_buf_puts(out, ".")))
            return rc;
        return format_compare(f->right, out);
    default:
        return format_compare(f, out);
    }
}

enum sc_err scim_filter_format(const struct scim_filter *f, struct sc_buf *out)
{
    if (!f)
        return SC_ERR_INVALID;
    return format(f, out);
}

enum sc_err scim_filter_escape(const char *value, struct sc_buf *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = value ? strlen(value) : 0;
    if (n && !sc_utf8_valid(value, n))
        return SC_ERR_INVALID;
    size_t mark = out->len;
    enum sc_err rc = SC_OK;
    for (size_t i = 0; i < n && rc == SC_OK; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            rc = sc_buf_append(out, e, 2);
        } else if (c < 0x20 || c == 0x7f) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            rc = sc_buf_append(out, e, 6);
        } else {
            rc = sc_buf_append(out, &value[i], 1);
        }
    }
    if (rc != SC_OK && out->data) {
        out->len = mark;
        out->data[mark] = '\0';
    }
    return rc;
}

enum sc_err scim_filter_quote(const char *value, struct sc_buf *out)
{
    size_t mark = out->len;
    enum sc_err rc = sc_buf_puts(out, "\"");
    if (rc == SC_OK)
        rc = scim_filter_escape(value, out);
    if (rc == SC_OK)
        rc = sc_buf_puts(out, "\"");
    if (rc != SC_OK && out->data) {
        out->len = mark;
        out->data[mark] = '\0';
    }
    return rc;
}

enum sc_err scim_filter_template(const char *tmpl, const char *value, struct sc_buf *out,
                                 struct scim_error *err)
{
    struct sc_buf b;
    struct scim_filter *f = NULL;
    enum sc_err rc = SC_OK;
    int in_quote = 0, subs = 0;
    sc_buf_init(&b, out->max ? out->max : SCIM_FILTER_MAX_LEN * 2);
    if (!tmpl) {
        rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_FILTER, "the filter template is empty");
        goto done;
    }
    for (const char *p = tmpl; *p && rc == SC_OK; p++) {
        if (*p == '%' && p[1] == 's') {
            rc = in_quote ? scim_filter_escape(value, &b) : scim_filter_quote(value, &b);
            if (rc == SC_ERR_INVALID) {
                scim_error_set(err, 400, SCIM_TYPE_INVALID_VALUE,
                               "the value to put in the filter is not valid UTF-8");
                goto done;
            }
            subs++;
            p++;
            continue;
        }
        if (*p == '%' && p[1] == '%') {
            rc = sc_buf_puts(&b, "%");
            p++;
            continue;
        }
        if (in_quote && *p == '\\' && p[1]) {
            rc = sc_buf_append(&b, p, 2);
            p++;
            continue;
        }
        if (*p == '"')
            in_quote = !in_quote;
        rc = sc_buf_append(&b, p, 1);
    }
    if (rc != SC_OK) {
        scim_error_set(err, 400, SCIM_TYPE_INVALID_FILTER, "the filter is too long");
        goto done;
    }
    if (subs == 0) {
        rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_FILTER,
                            "the filter template has no %%s for the value");
        goto done;
    }
    if (scim_filter_parse(b.data, &f, err) != SC_OK) {
        rc = SC_ERR_PARSE;
        goto done;
    }
    rc = sc_buf_append(out, b.data, b.len);
done:
    scim_filter_free(f);
    sc_buf_free(&b);
    return rc;
}

int scim_filter_simple_eq(const struct scim_filter *f, const char **attr_path, const char **value)
{
    static const char *const prefixes[] = {SCIM_SCHEMA_USER ":", SCIM_SCHEMA_GROUP ":"};
    if (!f || f->op != SCIM_OP_EQ || !json_is_string(f->value))
        return 0;
    const char *a = f->attr;
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(prefixes[i]);
        if (sc_strncaseeq(a, prefixes[i], n)) {
            a += n;
            break;
        }
    }
    if (attr_path)
        *attr_path = a;
    if (value)
        *value = json_string_value(f->value);
    return 1;
}
