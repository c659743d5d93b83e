/* JSON parsing with limits, dotted paths, canonical dumps and digests. */
#include "base/json.h"
#include "base/clock.h"
#include "base/buf.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

int sc_json_depth(const json_t *v)
{
    int max = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach((json_t *)v, k, c)
        {
            int d = sc_json_depth(c);
            if (d > max)
                max = d;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
        {
            int d = sc_json_depth(c);
            if (d > max)
                max = d;
        }
    }
    return max + 1;
}

/* Counts bracket nesting before parsing so a hostile body cannot make jansson recurse
 * deeply at all. Strings are skipped with their escapes. */
static int scan_depth_ok(const char *data, size_t len, int max_depth)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max_depth)
                return 0;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 1;
}

enum sc_err sc_json_parse(const char *data, size_t len, int max_depth, json_t **out,
                          struct sc_error *e)
{
    if (max_depth <= 0)
        max_depth = SC_JSON_MAX_DEPTH;
    if (!data || len == 0)
        return sc_error_set(e, SC_ERR_PARSE, NULL, "the request body is empty; send JSON");
    if (!scan_depth_ok(data, len, max_depth))
        return sc_error_set(e, SC_ERR_TOO_LARGE, NULL, "JSON is nested deeper than %d levels",
                            max_depth);
    json_error_t jerr;
    json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!v)
        return sc_error_set(e, SC_ERR_PARSE, NULL, "malformed JSON at line %d column %d: %s",
                            jerr.line, jerr.column, jerr.text);
    *out = v;
    return SC_OK;
}

json_t *sc_json_get_path(const json_t *obj, const char *path)
{
    const json_t *cur = obj;
    const char *p = path;
    char key[256];
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof key || !json_is_object(cur))
            return NULL;
        memcpy(key, p, n);
        key[n] = '\0';
        cur = json_object_get(cur, key);
        p = dot ? dot + 1 : p + n;
    }
    return (json_t *)cur;
}

const char *sc_json_get_string(const json_t *obj, const char *path)
{
    return json_string_value(sc_json_get_path(obj, path));
}

int sc_json_set_path(json_t *obj, const char *path, json_t *value)
{
    json_t *cur = obj;
    const char *p = path;
    char key[256];
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n == 0 || n >= sizeof key || !json_is_object(cur)) {
            json_decref(value);
            return -1;
        }
        memcpy(key, p, n);
        key[n] = '\0';
        if (!dot)
            return json_object_set_new(cur, key, value);
        json_t *next = json_object_get(cur, key);
        if (!json_is_object(next)) {
            next = json_object();
            if (json_object_set_new(cur, key, next)) {
                json_decref(value);
                return -1;
            }
        }
        cur = next;
        p = dot + 1;
    }
}

/* ---- writing JSON text ---- */

#define WRITE_MAX_DEPTH 512 /* deeper is a cycle or an abuse: refused as jansson refuses cycles */

static const char hex_upper[] = "0123456789ABCDEF";

/* Appends s[0..n) as a JSON string the way jansson's compact dump writes it: '"' and '\\'
 * escaped, \b \f \n \r \t by name, other control characters as \u00XX (upper-case hex),
 * everything else (non-ASCII too) as it is. Invalid UTF-8 is refused, as jansson does. */
static enum sc_err write_string(struct sc_buf *out, const char *s, size_t n)
{
    /* the escapes' extra bytes first, so the text is written in one go */
    size_t extra = 0;
    int high = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80)
            high = 1;
        else if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' ||
                 c == '\t')
            extra += 1;
        else if (c < 0x20)
            extra += 5;
    }
    if (high && !sc_utf8_valid(s, n))
        return SC_ERR_INVALID;
    if (n > SIZE_MAX / 2 - extra)
        return SC_ERR_TOO_LARGE;
    enum sc_err rc = sc_buf_reserve(out, n + extra + 2);
    if (rc)
        return rc;
    char *d = out->data + out->len;
    *d++ = '"';
    if (!extra) {
        memcpy(d, s, n);
        d += n;
    } else {
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c >= 0x20 && c != '"' && c != '\\') {
                *d++ = (char)c;
                continue;
            }
            *d++ = '\\';
            switch (c) {
            case '"':
            case '\\':
                *d++ = (char)c;
                break;
            case '\b':
                *d++ = 'b';
                break;
            case '\f':
                *d++ = 'f';
                break;
            case '\n':
                *d++ = 'n';
                break;
            case '\r':
                *d++ = 'r';
                break;
            case '\t':
                *d++ = 't';
                break;
            default:
                *d++ = 'u';
                *d++ = '0';
                *d++ = '0';
                *d++ = hex_upper[c >> 4];
                *d++ = hex_upper[c & 15];
                break;
            }
        }
    }
    *d++ = '"';
    *d = '\0';
    out->len = (size_t)(d - out->data);
    return SC_OK;
}

struct write_key {
    const char *key;
    size_t len;
    json_t *value;
};

/* jansson's order for sorted keys: bytes, then length. */
static int write_key_cmp(const void *a, const void *b)
{
    const struct write_key *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->key, y->key, n);
    if (r)
        return r;
    return x->len < y->len ? -1 : x->len > y->len;
}

static enum sc_err write_value(struct sc_buf *out, const json_t *v, int sorted, int depth);

static enum sc_err write_object(struct sc_buf *out, const json_t *v, int sorted, int depth)
{
    size_t n = json_object_size(v);
    enum sc_err rc = sc_buf_append(out, "{", 1);
    if (!sorted || n < 2) {
        int first = 1;
        for (void *it = json_object_iter((json_t *)v); it && !rc;
             it = json_object_iter_next((json_t *)v, it)) {
            if (!first)
                rc = sc_buf_append(out, ",", 1);
            first = 0;
            if (!rc)
                rc = write_string(out, json_object_iter_key(it), json_object_iter_key_len(it));
            if (!rc)
                rc = sc_buf_append(out, ":", 1);
            if (!rc)
                rc = write_value(out, json_object_iter_value(it), sorted, depth + 1);
        }
    } else {
        struct write_key small[32];
        struct write_key *keys = n <= 32 ? small : malloc(n * sizeof *keys);
        if (!keys)
            return SC_ERR_NOMEM;
        size_t k = 0;
        for (void *it = json_object_iter((json_t *)v); it && k < n;
             it = json_object_iter_next((json_t *)v, it), k++) {
            keys[k].key = json_object_iter_key(it);
            keys[k].len = json_object_iter_key_len(it);
            keys[k].value = json_object_iter_value(it);
        }
        qsort(keys, k, sizeof *keys, write_key_cmp);
        for (size_t i = 0; i < k && !rc; i++) {
            if (i)
                rc = sc_buf_append(out, ",", 1);
            if (!rc)
                rc = write_string(out, keys[i].key, keys[i].len);
            if (!rc)
                rc = sc_buf_append(out, ":", 1);
            if (!rc)
                rc = write_value(out, keys[i].value, sorted, depth + 1);
        }
        if (keys != small)
            free(keys);
    }
    if (!rc)
        rc = sc_buf_append(out, "}", 1);
    return rc;
}

static enum sc_err write_value(struct sc_buf *out, const json_t *v, int sorted, int depth)
{
    if (!v || depth > WRITE_MAX_DEPTH)
        return SC_ERR_INVALID;
    switch (json_typeof(v)) {
    case JSON_NULL:
        return sc_buf_append(out, "null", 4);
    case JSON_TRUE:
        return sc_buf_append(out, "true", 4);
    case JSON_FALSE:
        return sc_buf_append(out, "false", 5);
    case JSON_INTEGER:
        return sc_buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case JSON_REAL: {
        /* rare in SCIM: jansson's own formatting of doubles */
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        enum sc_err rc = t ? sc_buf_puts(out, t) : SC_ERR_NOMEM;
        free(t);
        return rc;
    }
    case JSON_STRING:
        return write_string(out, json_string_value(v), json_string_length(v));
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        enum sc_err rc = sc_buf_append(out, "[", 1);
        for (size_t i = 0; i < n && !rc; i++) {
            if (i)
                rc = sc_buf_append(out, ",", 1);
            if (!rc)
                rc = write_value(out, json_array_get(v, i), sorted, depth + 1);
        }
        return rc ? rc : sc_buf_append(out, "]", 1);
    }
    case JSON_OBJECT:
        return write_object(out, v, sorted, depth);
    }
    return SC_ERR_INVALID;
}

enum sc_err sc_json_write_string(struct sc_buf *out, const char *s, size_t n)
{
    return write_string(out, s, n);
}

enum sc_err sc_json_write(struct sc_buf *out, const json_t *v, int sorted)
{
    return write_value(out, v, sorted, 0);
}

static char *dump_with(const json_t *v, int sorted)
{
    struct sc_buf b;
    sc_buf_init(&b, 0);
    if (sc_json_write(&b, v, sorted)) {
        sc_buf_free(&b);
        return NULL;
    }
    return sc_buf_steal(&b);
}

char *sc_json_dump_canonical(const json_t *v)
{
    return dump_with(v, 1);
}

char *sc_json_dump(const json_t *v)
{
    return dump_with(v, 0);
}

uint64_t sc_json_digest(const json_t *v)
{
    if (!v)
        return 0;
    struct sc_buf b;
    sc_buf_init(&b, 0);
    uint64_t h = sc_json_write(&b, v, 1) ? 0 : XXH3_64bits(b.data, b.len);
    sc_buf_free(&b);
    return h;
}

json_t *sc_json_time(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char t[40];
    return json_string(sc_clock_format_iso8601(ms, t, sizeof t));
}
