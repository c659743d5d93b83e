/* The user-filter language: compiling the JSON tree into nodes (validated, with error
 * paths like "conditions[1].operator", regexes compiled once) and evaluating it against
 * users in API JSON shape and their effective group names.
 *
 * MATCHES patterns are POSIX extended regular expressions. They are translated here into
 * PCRE2 syntax (refusing back-references and repetition counts above
 * USERFILTER_MAX_REPEAT) and compiled by PCRE2 with a cap on nesting and compiled size;
 * every match runs under PCRE2's match, depth and heap limits, so an admin's pattern can
 * neither crash the process nor take unbounded time or memory. */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "directory/userfilter.h"
#include "directory/fields.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"

#include <ctype.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdatomic.h>
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
    pcre2_code *re;    /* MATCHES */
    char *path;        /* MATCHES: "conditions[i].value", for the run-time warning */
    atomic_int warned; /* MATCHES: a failed match was logged for this compiled filter */
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
        pcre2_code_free(n->re);
        free(n->path);
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

/* ---- MATCHES: POSIX ERE to PCRE2 ---------------------------------------------- */

#define UF_RE_MAX_NEST 32         /* parentheses in one pattern */
#define UF_RE_MAX_COMPILED 16384  /* bytes of one compiled pattern */
#define UF_RE_MAX_TRANSLATED 4096 /* bytes of the PCRE2 text of one pattern */
#define UF_RE_MATCH_LIMIT 100000  /* backtracking steps of one match */
#define UF_RE_DEPTH_LIMIT 5000    /* nested backtracking points of one match */
#define UF_RE_HEAP_LIMIT_KIB 1024 /* heap of one match */

/* The translation of one pattern: out is the PCRE2 text; atom is where the last
 * quantifiable item starts in out (or -1 when nothing may be repeated here). */
struct ere {
    const char *p;
    struct sc_buf out;
    long atom;
    int atom_quantified;
    int full; /* an append failed */
    char why[160];
};

static int ere_fail(struct ere *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int ere_fail(struct ere *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->why, sizeof x->why, fmt, ap);
    va_end(ap);
    return -1;
}

/* Appends formatted text to x->out; a failed append (past the cap, out of memory) is
 * remembered and reported at the end. */
static void ere_put(struct ere *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void ere_put(struct ere *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (sc_buf_vprintf(&x->out, fmt, ap) != SC_OK)
        x->full = 1;
    va_end(ap);
}

/* Appends byte c as a literal (letters and digits as themselves, the rest as \x{hh}, so
 * nothing in the output is a PCRE2 metacharacter by accident). */
static void ere_literal(struct ere *x, unsigned char c)
{
    if (c < 0x80 && isalnum(c))
        ere_put(x, "%c", c);
    else
        ere_put(x, "\\x{%02x}", c);
}

static void ere_atom(struct ere *x, size_t start)
{
    x->atom = (long)start;
    x->atom_quantified = 0;
}

/* Appends the quantifier q to the last atom; a second quantifier on the same atom
 * (POSIX "a**", "a+?") wraps it in a group first, as POSIX means (a*)* and (a+)?. */
static int ere_quantify(struct ere *x, const char *q, const char *shown)
{
    if (x->atom < 0)
        return ere_fail(x, "'%s' has nothing to repeat before it", shown);
    if (x->atom_quantified) {
        size_t at = (size_t)x->atom, tail = x->out.len - at;
        if (sc_buf_puts(&x->out, "(?:)") != SC_OK)
            return ere_fail(x, "the pattern is too complex");
        memmove(x->out.data + at + 3, x->out.data + at, tail);
        memcpy(x->out.data + at, "(?:", 3);
        x->out.data[x->out.len - 1] = ')';
    }
    ere_put(x, "%s", q);
    x->atom_quantified = 1;
    return 0;
}

/* Reads an interval "{n}", "{n,}", "{n,m}" or "{,m}" at x->p (on the '{'). */
static int ere_interval(struct ere *x)
{
    const char *p = x->p + 1;
    long lo = 0, hi = -1;
    int has_lo = 0, comma = 0;
    while (isdigit((unsigned char)*p)) {
        lo = lo * 10 + (*p++ - '0');
        has_lo = 1;
        if (lo > 100000)
            break;
    }
    if (*p == ',') {
        comma = 1;
        p++;
        if (isdigit((unsigned char)*p)) {
            hi = 0;
            while (isdigit((unsigned char)*p)) {
                hi = hi * 10 + (*p++ - '0');
                if (hi > 100000)
                    break;
            }
        }
    } else {
        hi = lo;
    }
    if (*p != '}' || (!has_lo && (!comma || hi < 0)))
        return ere_fail(x, "'{' starts a repetition such as {2}, {2,} or {2,5}");
    if (lo > USERFILTER_MAX_REPEAT || hi > USERFILTER_MAX_REPEAT)
        return ere_fail(x, "repetition counts above %d are not supported", USERFILTER_MAX_REPEAT);
    if (hi >= 0 && hi < lo)
        return ere_fail(x, "the repetition's bounds are in the wrong order");
    char q[32];
    if (!comma)
        snprintf(q, sizeof q, "{%ld}", lo);
    else if (hi < 0)
        snprintf(q, sizeof q, "{%ld,}", lo);
    else
        snprintf(q, sizeof q, "{%ld,%ld}", lo, hi);
    if (ere_quantify(x, q, "{"))
        return -1;
    x->p = p + 1;
    return 0;
}

/* Reads one bracket-expression element at *pp: a character, "[=c=]" or "[.c.]" (one
 * character), or "[:class:]" (written to out at once; *c set to -1). */
static int ere_bracket_element(struct ere *x, const char **pp, int *c)
{
    static const char *const classes[] = {"alpha", "upper", "lower", "digit", "xdigit", "alnum",
                                          "punct", "space", "blank", "cntrl", "graph",  "print"};
    const char *p = *pp;
    if (p[0] == '[' && (p[1] == ':' || p[1] == '=' || p[1] == '.')) {
        char kind = p[1];
        const char *end = p + 2;
        while (*end && !(end[0] == kind && end[1] == ']'))
            end++;
        if (!*end)
            return ere_fail(x, "'[%c' is not closed", kind);
        size_t len = (size_t)(end - (p + 2));
        if (kind == ':') {
            for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
                if (strlen(classes[i]) == len && strncmp(classes[i], p + 2, len) == 0) {
                    ere_put(x, "[:%s:]", classes[i]);
                    *c = -1;
                    *pp = end + 2;
                    return 0;
                }
            }
            return ere_fail(x, "unknown character class (use [:alpha:], [:digit:], ...)");
        }
        if (len != 1)
            return ere_fail(x, "collating elements of more than one character are not "
                               "supported");
        *c = (unsigned char)p[2];
        *pp = end + 2;
        return 0;
    }
    if (!*p)
        return ere_fail(x, "'[' is not closed by ']'");
    *c = (unsigned char)*p;
    *pp = p + 1;
    return 0;
}

/* Translates a bracket expression at x->p (on the '['). In POSIX a backslash in a
 * bracket expression is an ordinary character, and ']' first is a member. */
static int ere_bracket(struct ere *x)
{
    size_t start = x->out.len;
    const char *p = x->p + 1;
    ere_put(x, "%s", "[");
    if (*p == '^') {
        ere_put(x, "%s", "^");
        p++;
    }
    int first = 1;
    while (first || *p != ']') {
        if (!*p)
            return ere_fail(x, "'[' is not closed by ']'");
        int lo;
        if (first && *p == ']') {
            lo = ']';
            p++;
        } else if (ere_bracket_element(x, &p, &lo)) {
            return -1;
        }
        first = 0;
        if (lo >= 0 && p[0] == '-' && p[1] && p[1] != ']') {
            p++;
            int hi;
            if (ere_bracket_element(x, &p, &hi))
                return -1;
            if (hi < 0)
                return ere_fail(x, "a range cannot end with a character class");
            if (hi < lo)
                return ere_fail(x, "a range in [...] is in the wrong order");
            ere_put(x, "\\x{%02x}-\\x{%02x}", lo, hi);
        } else if (lo >= 0) {
            ere_put(x, "\\x{%02x}", lo);
        }
    }
    ere_put(x, "%s", "]");
    x->p = p + 1;
    ere_atom(x, start);
    return 0;
}

/* Translates the POSIX extended regular expression src into PCRE2 syntax in x->out.
 * Besides POSIX, glibc's \w \W \s \S \b \B \< \> \` \' are kept; \1 to \9
 * (back-references) are refused. 0, or -1 with x->why set. */
static int ere_translate(struct ere *x, const char *src)
{
    long stack[UF_RE_MAX_NEST];
    int depth = 0;
    x->p = src;
    x->atom = -1;
    while (*x->p) {
        unsigned char c = (unsigned char)*x->p;
        size_t here = x->out.len;
        switch (c) {
        case '\\': {
            unsigned char n = (unsigned char)x->p[1];
            if (!n)
                return ere_fail(x, "the pattern ends with a lone backslash");
            if (n >= '1' && n <= '9')
                return ere_fail(x, "back-references (\\1 to \\9) are not supported");
            x->p += 2;
            if (strchr("wWsS", n)) {
                ere_put(x, "\\%c", n);
                ere_atom(x, here);
            } else if (n == 'b' || n == 'B') {
                ere_put(x, "\\%c", n);
                x->atom = -1;
            } else if (n == '<' || n == '>' || n == '`' || n == '\'') {
                ere_put(x, "%s",
                        n == '<'   ? "\\b(?=\\w)"
                        : n == '>' ? "\\b(?<=\\w)"
                        : n == '`' ? "\\A"
                                   : "\\z");
                x->atom = -1;
            } else {
                ere_literal(x, n);
                ere_atom(x, here);
            }
            continue;
        }
        case '[':
            if (ere_bracket(x))
                return -1;
            continue;
        case '(':
            if (depth == UF_RE_MAX_NEST)
                return ere_fail(x, "parentheses nest too deeply (at most 32 levels)");
            stack[depth++] = (long)here;
            ere_put(x, "%s", "(?:");
            x->atom = -1;
            break;
        case ')':
            if (depth == 0) { /* POSIX: an unmatched ')' is an ordinary character */
                ere_literal(x, c);
                ere_atom(x, here);
                break;
            }
            ere_put(x, "%s", ")");
            ere_atom(x, (size_t)stack[--depth]);
            break;
        case '|':
            ere_put(x, "%s", "|");
            x->atom = -1;
            break;
        case '*':
        case '+':
        case '?':
            if (ere_quantify(x,
                             c == '*'   ? "*"
                             : c == '+' ? "+"
                                        : "?",
                             c == '*'   ? "*"
                             : c == '+' ? "+"
                                        : "?"))
                return -1;
            break;
        case '{':
            if (ere_interval(x))
                return -1;
            continue;
        case '^':
        case '$':
            ere_put(x, "%c", c);
            x->atom = -1;
            break;
        case '.':
            ere_put(x, "%s", ".");
            ere_atom(x, here);
            break;
        default:
            ere_literal(x, c);
            ere_atom(x, here);
            break;
        }
        x->p++;
    }
    if (depth)
        return ere_fail(x, "'(' is not closed by ')'");
    if (x->full || x->out.len > UF_RE_MAX_TRANSLATED)
        return ere_fail(x, "the pattern is too complex");
    return 0;
}

/* Compiles the MATCHES pattern of n (its values[0]) into n->re. */
static enum sc_err compile_regex(struct uf_node *n, const char *path, struct compile_state *cs)
{
    struct ere x;
    memset(&x, 0, sizeof x);
    sc_buf_init(&x.out, UF_RE_MAX_TRANSLATED + 64);
    enum sc_err rc = SC_OK;
    pcre2_compile_context *cc = NULL;
    char msg[SC_ERROR_MESSAGE_MAX];
    if (ere_translate(&x, n->values[0])) {
        snprintf(msg, sizeof msg, "not a supported POSIX extended regular expression: %s", x.why);
        rc = path_error(cs->e, SC_ERR_INVALID, path, "value", msg);
        goto done;
    }
    cc = pcre2_compile_context_create(NULL);
    if (!cc) {
        rc = sc_error_set(cs->e, SC_ERR_NOMEM, NULL, "out of memory");
        goto done;
    }
    pcre2_set_max_pattern_length(cc, UF_RE_MAX_TRANSLATED);
    pcre2_set_parens_nest_limit(cc, UF_RE_MAX_NEST + 8);
    int code = 0;
    PCRE2_SIZE off = 0;
    n->re = pcre2_compile((PCRE2_SPTR)(x.out.data ? x.out.data : ""), x.out.len,
                          PCRE2_CASELESS | PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_UTF |
                              PCRE2_NEVER_UCP | PCRE2_NEVER_BACKSLASH_C | PCRE2_NO_AUTO_CAPTURE,
                          &code, &off, cc);
    if (!n->re) {
        PCRE2_UCHAR why[120];
        if (pcre2_get_error_message(code, why, sizeof why) < 0)
            snprintf((char *)why, sizeof why, "error %d", code);
        snprintf(msg, sizeof msg, "the pattern cannot be compiled: %s", (const char *)why);
        rc = path_error(cs->e, SC_ERR_INVALID, path, "value", msg);
        goto done;
    }
    uint32_t backrefs = 0;
    size_t size = 0;
    pcre2_pattern_info(n->re, PCRE2_INFO_BACKREFMAX, &backrefs);
    pcre2_pattern_info(n->re, PCRE2_INFO_SIZE, &size);
    if (backrefs) {
        rc = path_error(cs->e, SC_ERR_INVALID, path, "value",
                        "back-references (\\1 to \\9) are not supported");
        goto done;
    }
    if (size > UF_RE_MAX_COMPILED) {
        rc = path_error(cs->e, SC_ERR_TOO_LARGE, path, "value",
                        "the pattern is too complex (its repetitions make it too large)");
        goto done;
    }
    size_t plen = strlen(path) + sizeof ".value";
    n->path = malloc(plen);
    if (n->path)
        snprintf(n->path, plen, "%s.value", path);
    else
        rc = sc_error_set(cs->e, SC_ERR_NOMEM, NULL, "out of memory");
done:
    pcre2_compile_context_free(cc);
    sc_buf_free(&x.out);
    return rc;
}

/* Runs n's pattern on s: 1 match, 0 no match, -1 when the match failed (a limit hit);
 * the first failure of a compiled filter's condition is logged. */
static int regex_test(const struct uf_node *n, const char *s)
{
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    int rc = PCRE2_ERROR_NOMEMORY;
    if (md && mc) {
        pcre2_set_match_limit(mc, UF_RE_MATCH_LIMIT);
        pcre2_set_depth_limit(mc, UF_RE_DEPTH_LIMIT);
        pcre2_set_heap_limit(mc, UF_RE_HEAP_LIMIT_KIB);
        rc = pcre2_match(n->re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, mc);
    }
    pcre2_match_context_free(mc);
    pcre2_match_data_free(md);
    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (!atomic_exchange(&((struct uf_node *)n)->warned, 1)) {
        PCRE2_UCHAR why[120];
        if (pcre2_get_error_message(rc, why, sizeof why) < 0)
            snprintf((char *)why, sizeof why, "error %d", rc);
        SC_WARN("userfilter.match_failed",
                "field=%s reason=\"%s\" effect=\"the user is treated as not matching; not "
                "logged again for this filter\"",
                n->path ? n->path : "?", (const char *)why);
    }
    return -1;
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
        return compile_regex(n, path, cs);
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

/* Tests one value: 1 it passes, 0 it does not, -1 the test failed (MATCHES over its
 * limits). */
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
        return regex_test(n, s);
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
    for (size_t i = 0; i < ngroups; i++) {
        int r = str_test(n, groups[i]);
        if (r)
            return r;
    }
    return 0;
}

/* 1 match, 0 no match, -1 the evaluation failed (a MATCHES over its limits). */
static int eval_node(const struct uf_node *n, const json_t *user, const char *const *groups,
                     size_t ngroups)
{
    if (n->is_set) {
        for (size_t i = 0; i < n->nchildren; i++) {
            int r = eval_node(&n->children[i], user, groups, ngroups);
            if (r < 0)
                return r;
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
    return eval_node(&f->root, user, groups, ngroups) > 0;
}

/* What a node says of every user of one population: 1 all match, 0 none does, -1 it
 * depends on more than the population (or a test failed: then the user is evaluated). */
static int eval_population(const struct uf_node *n, const char *id, const char *name)
{
    if (n->is_set) {
        int unknown = 0;
        for (size_t i = 0; i < n->nchildren; i++) {
            int r = eval_population(&n->children[i], id, name);
            if (r < 0)
                unknown = 1;
            else if (n->match_all && !r)
                return 0;
            else if (!n->match_all && r)
                return 1;
        }
        return unknown ? -1 : n->match_all;
    }
    const char *s;
    if (strcmp(n->attribute, "population.name") == 0)
        s = name;
    else if (strcmp(n->attribute, "population.id") == 0)
        s = id;
    else
        return -1;
    if (s && !*s)
        s = NULL;
    if (!s)
        return n->op == UF_IS_NULL || n->op == UF_NOT_EQUALS;
    return str_test(n, s);
}

int userfilter_population_match(const struct userfilter *f, const char *population_id,
                                const char *population_name)
{
    return f ? eval_population(&f->root, population_id, population_name) : 0;
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
    return str_test(n, name) != 0; /* a failed test counts as a use: resync rather than miss */
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
