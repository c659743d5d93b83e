/* The mapping expression language: a small recursive-descent parser (depth-bounded)
 * into a tree of literals, field references, concatenations, comparisons and function
 * calls, and an evaluator over jansson values. See expr.h for the language. */
#include "provision/expr.h"
#include "base/buf.h"
#include "base/json.h"
#include "directory/fields.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum expr_kind { EXPR_LIT, EXPR_FIELD, EXPR_CONCAT, EXPR_EQ, EXPR_NE, EXPR_CALL };

enum expr_fn {
    FN_LOWER,
    FN_UPPER,
    FN_TRIM,
    FN_COALESCE,
    FN_REPLACE,
    FN_SUBSTRING,
    FN_JOIN,
    FN_IF,
    FN_SWITCH,
};

static const struct {
    const char *name;
    enum expr_fn fn;
    size_t min_args, max_args; /* max 0 = any number */
    const char *usage;
} expr_functions[] = {
    {"lower", FN_LOWER, 1, 1, "lower(s)"},
    {"upper", FN_UPPER, 1, 1, "upper(s)"},
    {"trim", FN_TRIM, 1, 1, "trim(s)"},
    {"coalesce", FN_COALESCE, 1, 0, "coalesce(a, b, ...)"},
    {"replace", FN_REPLACE, 3, 3, "replace(s, from, to)"},
    {"substring", FN_SUBSTRING, 2, 3, "substring(s, start[, len])"},
    {"join", FN_JOIN, 2, 0, "join(sep, a, b, ...)"},
    {"if", FN_IF, 3, 3, "if(cond, a, b)"},
    {"switch", FN_SWITCH, 3, 0, "switch(v, k1, r1, ..., [default])"},
};

struct expr {
    enum expr_kind kind;
    json_t *lit;       /* EXPR_LIT */
    const char *field; /* EXPR_FIELD: a name of directory/fields.h's table */
    char seg[2][32];   /* EXPR_FIELD: its dotted parts ("name", "given"), the second may
                          be "" */
    enum expr_fn fn;   /* EXPR_CALL */
    struct expr **args;
    size_t nargs;
};

struct parser {
    const char *text;
    size_t pos; /* byte offset */
    int depth;
    int nodes;
    struct sc_error *e;
    enum sc_err err;
};

void expr_free(struct expr *x)
{
    if (!x)
        return;
    json_decref(x->lit);
    for (size_t i = 0; i < x->nargs; i++)
        expr_free(x->args[i]);
    free(x->args);
    free(x);
}

/* The 1-based character position of byte offset off. */
static size_t char_position(const char *text, size_t off)
{
    size_t n = 1;
    for (size_t i = 0; i < off && text[i]; i++)
        if (((unsigned char)text[i] & 0xC0) != 0x80)
            n++;
    return n;
}

__attribute__((format(printf, 4, 5))) static struct expr *fail(struct parser *p, enum sc_err code,
                                                               size_t at, const char *fmt, ...)
{
    if (p->err)
        return NULL;
    char msg[SC_ERROR_MESSAGE_MAX - 32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->err = code;
    sc_error_set(p->e, code, NULL, "at position %zu: %s", char_position(p->text, at), msg);
    return NULL;
}

static struct expr *node_new(struct parser *p, enum expr_kind kind)
{
    if (++p->nodes > EXPR_MAX_NODES)
        return fail(p, SC_ERR_TOO_LARGE, p->pos, "the expression has more than %d parts",
                    EXPR_MAX_NODES);
    struct expr *x = calloc(1, sizeof *x);
    if (!x) {
        p->err = SC_ERR_NOMEM;
        sc_error_set(p->e, SC_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    x->kind = kind;
    return x;
}

static int add_arg(struct parser *p, struct expr *x, struct expr *arg)
{
    struct expr **grown = realloc(x->args, (x->nargs + 1) * sizeof *grown);
    if (!grown) {
        expr_free(arg);
        p->err = SC_ERR_NOMEM;
        sc_error_set(p->e, SC_ERR_NOMEM, NULL, "out of memory");
        return -1;
    }
    x->args = grown;
    x->args[x->nargs++] = arg;
    return 0;
}

static void skip_ws(struct parser *p)
{
    while (p->text[p->pos] == ' ' || p->text[p->pos] == '\t' || p->text[p->pos] == '\n' ||
           p->text[p->pos] == '\r')
        p->pos++;
}

static int is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_ident_char(char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

/* Describes the character at p->pos for an error message. */
static const char *describe_here(struct parser *p, char *buf, size_t n)
{
    char c = p->text[p->pos];
    if (!c)
        return "the end";
    if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x80)
        snprintf(buf, n, "a character that has no meaning here");
    else
        snprintf(buf, n, "'%c'", c);
    return buf;
}

static struct expr *parse_expr(struct parser *p);

static struct expr *parse_string(struct parser *p)
{
    size_t start = p->pos;
    char quote = p->text[p->pos++];
    struct sc_buf b;
    sc_buf_init(&b, EXPR_MAX_LEN);
    for (;;) {
        char c = p->text[p->pos];
        if (!c) {
            sc_buf_free(&b);
            return fail(p, SC_ERR_PARSE, start, "unterminated string: expected %c", quote);
        }
        p->pos++;
        if (c == quote)
            break;
        if (c == '\\') {
            char esc = p->text[p->pos];
            const char *out = NULL;
            switch (esc) {
            case '"':
                out = "\"";
                break;
            case '\'':
                out = "'";
                break;
            case '\\':
                out = "\\";
                break;
            case 'n':
                out = "\n";
                break;
            case 't':
                out = "\t";
                break;
            case 'r':
                out = "\r";
                break;
            default:
                sc_buf_free(&b);
                return fail(p, SC_ERR_PARSE, p->pos - 1,
                            "unknown escape: use \\\" \\' \\\\ \\n \\t or \\r");
            }
            p->pos++;
            sc_buf_puts(&b, out);
        } else {
            sc_buf_append(&b, &c, 1);
        }
    }
    struct expr *x = node_new(p, EXPR_LIT);
    if (x)
        x->lit = json_stringn(b.data ? b.data : "", b.len);
    sc_buf_free(&b);
    if (x && !x->lit) {
        expr_free(x);
        return fail(p, SC_ERR_PARSE, start, "the string is not valid UTF-8");
    }
    return x;
}

static struct expr *parse_number(struct parser *p)
{
    size_t start = p->pos;
    if (p->text[p->pos] == '-')
        p->pos++;
    while (p->text[p->pos] >= '0' && p->text[p->pos] <= '9')
        p->pos++;
    int is_real = 0;
    if (p->text[p->pos] == '.') {
        is_real = 1;
        p->pos++;
        if (!(p->text[p->pos] >= '0' && p->text[p->pos] <= '9'))
            return fail(p, SC_ERR_PARSE, p->pos, "expected a digit after '.'");
        while (p->text[p->pos] >= '0' && p->text[p->pos] <= '9')
            p->pos++;
    }
    size_t len = p->pos - start;
    char num[64];
    if (len >= sizeof num)
        return fail(p, SC_ERR_PARSE, start, "the number is too long");
    memcpy(num, p->text + start, len);
    num[len] = '\0';
    struct expr *x = node_new(p, EXPR_LIT);
    if (!x)
        return NULL;
    int64_t iv;
    if (!is_real && sc_parse_int64(num, INT64_MIN / 2, INT64_MAX / 2, &iv) == 0)
        x->lit = json_integer(iv);
    else
        x->lit = json_real(strtod(num, NULL));
    if (!x->lit || (json_is_real(x->lit) && !isfinite(json_real_value(x->lit)))) {
        expr_free(x);
        return fail(p, SC_ERR_PARSE, start, "the number is out of range");
    }
    return x;
}

static struct expr *parse_call(struct parser *p, const char *name, size_t name_len, size_t name_pos)
{
    size_t k;
    size_t nfn = sizeof expr_functions / sizeof expr_functions[0];
    for (k = 0; k < nfn; k++)
        if (strlen(expr_functions[k].name) == name_len &&
            sc_strncaseeq(expr_functions[k].name, name, name_len))
            break;
    if (k == nfn)
        return fail(p, SC_ERR_PARSE, name_pos,
                    "unknown function '%.*s': use lower, upper, trim, coalesce, replace, "
                    "substring, join, if or switch",
                    (int)(name_len > 64 ? 64 : name_len), name);
    if (++p->depth > EXPR_MAX_DEPTH)
        return fail(p, SC_ERR_TOO_LARGE, name_pos, "nested more than %d deep", EXPR_MAX_DEPTH);
    struct expr *x = node_new(p, EXPR_CALL);
    if (!x)
        return NULL;
    x->fn = expr_functions[k].fn;
    p->pos++; /* '(' */
    skip_ws(p);
    if (p->text[p->pos] != ')') {
        for (;;) {
            struct expr *arg = parse_expr(p);
            if (!arg || add_arg(p, x, arg)) {
                expr_free(x);
                return NULL;
            }
            skip_ws(p);
            if (p->text[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (p->text[p->pos] == ')')
                break;
            char d[48];
            expr_free(x);
            return fail(p, SC_ERR_PARSE, p->pos, "expected ',' or ')' but found %s",
                        describe_here(p, d, sizeof d));
        }
    }
    p->pos++; /* ')' */
    p->depth--;
    size_t mn = expr_functions[k].min_args, mx = expr_functions[k].max_args;
    if (x->nargs < mn || (mx && x->nargs > mx)) {
        const char *fname = expr_functions[k].name;
        size_t got = x->nargs;
        expr_free(x);
        if (mx == mn)
            return fail(p, SC_ERR_PARSE, name_pos, "%s takes %zu argument%s, not %zu", fname, mn,
                        mn == 1 ? "" : "s", got);
        if (mx)
            return fail(p, SC_ERR_PARSE, name_pos, "%s takes %zu to %zu arguments", fname, mn, mx);
        return fail(p, SC_ERR_PARSE, name_pos, "%s takes at least %zu argument%s", fname, mn,
                    mn == 1 ? "" : "s");
    }
    return x;
}

static struct expr *parse_primary(struct parser *p)
{
    skip_ws(p);
    char c = p->text[p->pos];
    char d[48];
    if (c == '"' || c == '\'')
        return parse_string(p);
    if ((c >= '0' && c <= '9') ||
        (c == '-' && p->text[p->pos + 1] >= '0' && p->text[p->pos + 1] <= '9'))
        return parse_number(p);
    if (c == '(') {
        size_t open = p->pos++;
        if (++p->depth > EXPR_MAX_DEPTH)
            return fail(p, SC_ERR_TOO_LARGE, open, "nested more than %d deep", EXPR_MAX_DEPTH);
        struct expr *x = parse_expr(p);
        if (!x)
            return NULL;
        skip_ws(p);
        if (p->text[p->pos] != ')') {
            expr_free(x);
            return fail(p, SC_ERR_PARSE, p->pos, "expected ')' but found %s",
                        describe_here(p, d, sizeof d));
        }
        p->pos++;
        p->depth--;
        return x;
    }
    if (is_ident_start(c)) {
        size_t start = p->pos;
        int dotted = 0;
        while (is_ident_char(p->text[p->pos]) ||
               (p->text[p->pos] == '.' && is_ident_start(p->text[p->pos + 1]))) {
            if (p->text[p->pos] == '.')
                dotted = 1;
            p->pos++;
        }
        size_t len = p->pos - start;
        const char *name = p->text + start;
        size_t after = p->pos;
        skip_ws(p);
        if (!dotted && p->text[p->pos] == '(')
            return parse_call(p, name, len, start);
        p->pos = after;
        static const char *const kw[] = {"true", "false", "null"};
        for (int i = 0; i < 3; i++) {
            if (len == strlen(kw[i]) && strncmp(name, kw[i], len) == 0) {
                struct expr *x = node_new(p, EXPR_LIT);
                if (x)
                    x->lit = i == 0 ? json_true() : i == 1 ? json_false() : json_null();
                return x;
            }
        }
        const struct directory_field *df = directory_field_find(name, len, DIRECTORY_FIELD_SOURCE);
        if (df) {
            const char *f = df->name;
            struct expr *x = node_new(p, EXPR_FIELD);
            if (x) {
                x->field = f;
                const char *dot = strchr(f, '.');
                size_t n0 = dot ? (size_t)(dot - f) : strlen(f);
                memcpy(x->seg[0], f, n0);
                x->seg[0][n0] = '\0';
                sc_strlcpy(x->seg[1], dot ? dot + 1 : "", sizeof x->seg[1]);
            }
            return x;
        }
        return fail(p, SC_ERR_PARSE, start,
                    "unknown field '%.*s': use a directory field such as username, "
                    "name.given, email or population.name, or quote a literal text",
                    (int)(len > 64 ? 64 : len), name);
    }
    if (!c)
        return fail(p, SC_ERR_PARSE, p->pos, "expected a value but found the end");
    return fail(p, SC_ERR_PARSE, p->pos, "expected a value but found %s",
                describe_here(p, d, sizeof d));
}

static struct expr *parse_concat(struct parser *p)
{
    struct expr *first = parse_primary(p);
    if (!first)
        return NULL;
    skip_ws(p);
    if (p->text[p->pos] != '+')
        return first;
    struct expr *x = node_new(p, EXPR_CONCAT);
    if (!x || add_arg(p, x, first)) {
        if (!x)
            expr_free(first);
        expr_free(x);
        return NULL;
    }
    while (p->text[p->pos] == '+') {
        p->pos++;
        struct expr *next = parse_primary(p);
        if (!next || add_arg(p, x, next)) {
            expr_free(x);
            return NULL;
        }
        skip_ws(p);
    }
    return x;
}

static struct expr *parse_expr(struct parser *p)
{
    struct expr *left = parse_concat(p);
    if (!left)
        return NULL;
    skip_ws(p);
    const char *s = p->text + p->pos;
    if (!((s[0] == '=' || s[0] == '!') && s[1] == '='))
        return left;
    struct expr *x = node_new(p, s[0] == '=' ? EXPR_EQ : EXPR_NE);
    if (!x || add_arg(p, x, left)) {
        if (!x)
            expr_free(left);
        expr_free(x);
        return NULL;
    }
    p->pos += 2;
    struct expr *right = parse_concat(p);
    if (!right || add_arg(p, x, right)) {
        expr_free(x);
        return NULL;
    }
    return x;
}

enum sc_err expr_parse(const char *text, struct expr **out, struct sc_error *e)
{
    *out = NULL;
    if (!text)
        text = "";
    size_t len = strlen(text);
    if (len > EXPR_MAX_LEN)
        return sc_error_set(e, SC_ERR_TOO_LARGE, NULL,
                            "at position %d: the expression is longer than %d bytes",
                            EXPR_MAX_LEN + 1, EXPR_MAX_LEN);
    if (!sc_utf8_valid(text, len))
        return sc_error_set(e, SC_ERR_PARSE, NULL, "at position 1: the text is not valid UTF-8");
    struct parser p = {.text = text, .e = e};
    struct expr *x = parse_expr(&p);
    if (x) {
        skip_ws(&p);
        if (text[p.pos]) {
            char d[48];
            const char *what = describe_here(&p, d, sizeof d);
            expr_free(x);
            x = NULL;
            if (text[p.pos] == ')')
                fail(&p, SC_ERR_PARSE, p.pos, "unexpected ')': there is no '(' to close");
            else
                fail(&p, SC_ERR_PARSE, p.pos, "expected '+', '==', '!=' or the end but found %s",
                     what);
        }
    }
    if (!x)
        return p.err ? p.err : SC_ERR_PARSE;
    *out = x;
    return SC_OK;
}

const char *expr_field(const struct expr *x)
{
    return x && x->kind == EXPR_FIELD ? x->field : NULL;
}

int expr_field_known(const char *name)
{
    return directory_field_find(name, 0, DIRECTORY_FIELD_SOURCE) != NULL;
}

size_t expr_function_count(void)
{
    return sizeof expr_functions / sizeof expr_functions[0];
}

const char *expr_function_at(size_t i, const char **usage, size_t *min_args, size_t *max_args)
{
    if (i >= expr_function_count())
        return NULL;
    if (usage)
        *usage = expr_functions[i].usage;
    if (min_args)
        *min_args = expr_functions[i].min_args;
    if (max_args)
        *max_args = expr_functions[i].max_args;
    return expr_functions[i].name;
}

/* Evaluation. */

/* Appends v's text form to b (null appends nothing). */
static void append_text(struct sc_buf *b, const json_t *v)
{
    char num[64];
    switch (json_typeof(v)) {
    case JSON_STRING:
        sc_buf_append(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        sc_buf_puts(b, num);
        break;
    case JSON_REAL:
        snprintf(num, sizeof num, "%.15g", json_real_value(v));
        sc_buf_puts(b, num);
        break;
    case JSON_TRUE:
        sc_buf_puts(b, "true");
        break;
    case JSON_FALSE:
        sc_buf_puts(b, "false");
        break;
    default:
        break;
    }
}

/* Makes a JSON string of b's data cut to EXPR_MAX_RESULT bytes at a character
 * boundary. */
static json_t *string_of(struct sc_buf *b)
{
    size_t n = b->len;
    if (n > EXPR_MAX_RESULT) {
        n = EXPR_MAX_RESULT;
        while (n > 0 && ((unsigned char)b->data[n] & 0xC0) == 0x80)
            n--;
    }
    json_t *s = json_stringn(b->data ? b->data : "", n);
    sc_buf_free(b);
    return s;
}

static json_t *as_string(const json_t *v)
{
    if (json_is_string(v))
        return json_incref((json_t *)v);
    struct sc_buf b;
    sc_buf_init(&b, 0);
    append_text(&b, v);
    return string_of(&b);
}

static int empty(const json_t *v)
{
    return !v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0);
}

static int truthy(const json_t *v)
{
    if (empty(v) || json_is_false(v))
        return 0;
    if (json_is_integer(v))
        return json_integer_value(v) != 0;
    if (json_is_real(v))
        return json_real_value(v) != 0.0;
    return 1;
}

static int64_t as_int(const json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_real(v)) {
        double d = json_real_value(v);
        return d > 1e15 ? (int64_t)1e15 : d < -1e15 ? (int64_t)-1e15 : (int64_t)d;
    }
    int64_t n = 0;
    if (json_is_string(v) &&
        sc_parse_int64(json_string_value(v), -1000000000000000LL, 1000000000000000LL, &n) == 0)
        return n;
    return 0;
}

/* Equality as text; null equals only null. */
static int values_equal(const json_t *a, const json_t *b)
{
    int an = !a || json_is_null(a), bn = !b || json_is_null(b);
    if (an || bn)
        return an && bn;
    json_t *sa = as_string(a), *sb = as_string(b);
    int eq = sa && sb && json_string_length(sa) == json_string_length(sb) &&
             memcmp(json_string_value(sa), json_string_value(sb), json_string_length(sa)) == 0;
    json_decref(sa);
    json_decref(sb);
    return eq;
}

static json_t *map_chars(json_t *v, int upper)
{
    if (empty(v))
        return v;
    json_t *s = as_string(v);
    json_decref(v);
    if (!s)
        return NULL;
    size_t n = json_string_length(s);
    char *t = malloc(n + 1);
    if (!t) {
        json_decref(s);
        return NULL;
    }
    memcpy(t, json_string_value(s), n + 1);
    for (size_t i = 0; i < n; i++) {
        if (upper && t[i] >= 'a' && t[i] <= 'z')
            t[i] = (char)(t[i] - 'a' + 'A');
        else if (!upper && t[i] >= 'A' && t[i] <= 'Z')
            t[i] = (char)(t[i] - 'A' + 'a');
    }
    json_t *r = json_stringn(t, n);
    free(t);
    json_decref(s);
    return r;
}

static json_t *fn_trim(json_t *v)
{
    if (empty(v))
        return v;
    json_t *s = as_string(v);
    json_decref(v);
    if (!s)
        return NULL;
    const char *t = json_string_value(s);
    size_t a = 0, b = json_string_length(s);
    while (a < b && (t[a] == ' ' || t[a] == '\t' || t[a] == '\n' || t[a] == '\r'))
        a++;
    while (b > a && (t[b - 1] == ' ' || t[b - 1] == '\t' || t[b - 1] == '\n' || t[b - 1] == '\r'))
        b--;
    json_t *r = json_stringn(t + a, b - a);
    json_decref(s);
    return r;
}

static json_t *fn_replace(json_t *sv, json_t *fromv, json_t *tov)
{
    if (empty(sv))
        return json_incref(sv);
    json_t *s = as_string(sv), *from = as_string(fromv), *to = as_string(tov);
    json_t *r = NULL;
    if (!s || !from || !to)
        goto done;
    size_t flen = json_string_length(from);
    if (flen == 0) {
        r = json_incref(s);
        goto done;
    }
    struct sc_buf b;
    sc_buf_init(&b, 0);
    const char *t = json_string_value(s), *end = t + json_string_length(s);
    while (t < end) {
        const char *hit = memmem(t, (size_t)(end - t), json_string_value(from), flen);
        if (!hit) {
            sc_buf_append(&b, t, (size_t)(end - t));
            break;
        }
        sc_buf_append(&b, t, (size_t)(hit - t));
        append_text(&b, to);
        t = hit + flen;
        if (b.len > EXPR_MAX_RESULT)
            break;
    }
    r = string_of(&b);
done:
    json_decref(s);
    json_decref(from);
    json_decref(to);
    return r;
}

/* Byte offset of the character index ci in t (n bytes), clamped to n. */
static size_t char_offset(const char *t, size_t n, int64_t ci)
{
    size_t off = 0;
    while (off < n && ci > 0) {
        off++;
        while (off < n && ((unsigned char)t[off] & 0xC0) == 0x80)
            off++;
        ci--;
    }
    return off;
}

static json_t *fn_substring(json_t *sv, const json_t *startv, const json_t *lenv)
{
    if (empty(sv))
        return json_incref(sv);
    json_t *s = as_string(sv);
    if (!s)
        return NULL;
    const char *t = json_string_value(s);
    size_t n = json_string_length(s);
    int64_t start = as_int(startv);
    if (start < 0)
        start = 0;
    size_t a = char_offset(t, n, start);
    size_t b = n;
    if (lenv) {
        int64_t len = as_int(lenv);
        if (len < 0)
            len = 0;
        b = a + char_offset(t + a, n - a, len);
    }
    json_t *r = json_stringn(t + a, b - a);
    json_decref(s);
    return r;
}

static json_t *eval(const struct expr *x, const json_t *user);

static json_t *eval_call(const struct expr *x, const json_t *user)
{
    json_t *r = NULL, *a = NULL, *b = NULL, *c = NULL;
    switch (x->fn) {
    case FN_LOWER:
    case FN_UPPER:
        return map_chars(eval(x->args[0], user), x->fn == FN_UPPER);
    case FN_TRIM:
        return fn_trim(eval(x->args[0], user));
    case FN_COALESCE:
        for (size_t i = 0; i < x->nargs; i++) {
            a = eval(x->args[i], user);
            if (!a || !empty(a))
                return a;
            json_decref(a);
        }
        return json_null();
    case FN_REPLACE:
        a = eval(x->args[0], user);
        b = eval(x->args[1], user);
        c = eval(x->args[2], user);
        r = a && b && c ? fn_replace(a, b, c) : NULL;
        break;
    case FN_SUBSTRING:
        a = eval(x->args[0], user);
        b = eval(x->args[1], user);
        c = x->nargs > 2 ? eval(x->args[2], user) : NULL;
        r = a && b && (x->nargs < 3 || c) ? fn_substring(a, b, c) : NULL;
        break;
    case FN_JOIN: {
        a = eval(x->args[0], user);
        if (!a)
            return NULL;
        struct sc_buf buf;
        sc_buf_init(&buf, 0);
        int first = 1;
        for (size_t i = 1; i < x->nargs && buf.len <= EXPR_MAX_RESULT; i++) {
            json_t *v = eval(x->args[i], user);
            if (!v) {
                sc_buf_free(&buf);
                json_decref(a);
                return NULL;
            }
            if (!empty(v)) {
                if (!first)
                    append_text(&buf, a);
                append_text(&buf, v);
                first = 0;
            }
            json_decref(v);
        }
        json_decref(a);
        return string_of(&buf);
    }
    case FN_IF:
        a = eval(x->args[0], user);
        if (!a)
            return NULL;
        r = eval(x->args[truthy(a) ? 1 : 2], user);
        break;
    case FN_SWITCH: {
        a = eval(x->args[0], user);
        if (!a)
            return NULL;
        size_t i = 1;
        for (; i + 1 < x->nargs; i += 2) {
            json_t *k = eval(x->args[i], user);
            if (!k) {
                json_decref(a);
                return NULL;
            }
            int eq = values_equal(a, k);
            json_decref(k);
            if (eq) {
                json_decref(a);
                return eval(x->args[i + 1], user);
            }
        }
        json_decref(a);
        return i < x->nargs ? eval(x->args[i], user) : json_null();
    }
    }
    json_decref(a);
    json_decref(b);
    json_decref(c);
    return r;
}

static json_t *eval(const struct expr *x, const json_t *user)
{
    switch (x->kind) {
    case EXPR_LIT:
        return json_incref(x->lit);
    case EXPR_FIELD: {
        json_t *v = json_object_get(user, x->seg[0]);
        if (x->seg[1][0])
            v = json_object_get(v, x->seg[1]);
        if (!v || json_is_object(v) || json_is_array(v))
            return json_null();
        return json_incref(v);
    }
    case EXPR_CONCAT: {
        struct sc_buf b;
        sc_buf_init(&b, 0);
        for (size_t i = 0; i < x->nargs && b.len <= EXPR_MAX_RESULT; i++) {
            json_t *v = eval(x->args[i], user);
            if (!v) {
                sc_buf_free(&b);
                return NULL;
            }
            append_text(&b, v);
            json_decref(v);
        }
        return string_of(&b);
    }
    case EXPR_EQ:
    case EXPR_NE: {
        json_t *a = eval(x->args[0], user), *b = eval(x->args[1], user);
        json_t *r = NULL;
        if (a && b) {
            int eq = values_equal(a, b);
            r = json_boolean(x->kind == EXPR_EQ ? eq : !eq);
        }
        json_decref(a);
        json_decref(b);
        return r;
    }
    case EXPR_CALL:
        return eval_call(x, user);
    }
    return json_null();
}

json_t *expr_eval(const struct expr *x, const json_t *user)
{
    return eval(x, user);
}
