/* JSON parsing with limits, dotted paths, canonical dumps and digests. */
#include "base/json.h"
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

char *sc_json_dump_canonical(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

char *sc_json_dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

uint64_t sc_json_digest(const json_t *v)
{
    if (!v)
        return 0;
    char *s = sc_json_dump_canonical(v);
    if (!s)
        return 0;
    uint64_t h = XXH3_64bits(s, strlen(s));
    free(s);
    return h;
}
