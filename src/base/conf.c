/* The `key = value` configuration file parser (see conf.h): bounded, line by line, every
 * error naming the file and the line. */
#include "base/conf.h"
#include "base/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static int is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* Parses one line (no newline; len bytes) into key and value; a blank or comment line
 * leaves *key NULL. */
static enum sc_err parse_line(const char *s, size_t len, const char *path, int line, char **key_out,
                              char **value_out, struct sc_error *e)
{
    char *key = NULL, *value = NULL;
    enum sc_err rc = SC_OK;
    size_t i = 0, end = len;
    if (end > 0 && s[end - 1] == '\r')
        end--;
    for (size_t k = 0; k < end; k++)
        if ((unsigned char)s[k] < 0x20 && s[k] != '\t')
            return sc_error_set(e, SC_ERR_PARSE, NULL, "%s:%d: a control character or NUL byte",
                                path, line);
    while (i < end && is_blank(s[i]))
        i++;
    if (i == end || s[i] == '#')
        goto done;
    size_t ks = i;
    while (i < end && is_key_char(s[i]))
        i++;
    size_t klen = i - ks;
    while (i < end && is_blank(s[i]))
        i++;
    if (klen == 0 || i == end || s[i] != '=') {
        rc = sc_error_set(e, SC_ERR_PARSE, NULL,
                          "%s:%d: expected `key = value` (keys are lower-case letters, digits "
                          "and _)",
                          path, line);
        goto done;
    }
    if (klen > SC_CONF_MAX_KEY) {
        rc = sc_error_set(e, SC_ERR_PARSE, NULL, "%s:%d: the key is longer than %d characters",
                          path, line, SC_CONF_MAX_KEY);
        goto done;
    }
    key = malloc(klen + 1);
    value = malloc(end - i + 1);
    if (!key || !value) {
        rc = sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
        goto done;
    }
    memcpy(key, s + ks, klen);
    key[klen] = '\0';
    i++; /* '=' */
    while (i < end && is_blank(s[i]))
        i++;
    while (end > i && is_blank(s[end - 1]))
        end--;
    size_t o = 0;
    if (i < end && s[i] == '"') {
        int closed = 0;
        for (i++; i < end; i++) {
            if (s[i] == '"') {
                closed = 1;
                i++;
                break;
            }
            if (s[i] == '\\' && i + 1 < end && (s[i + 1] == '"' || s[i + 1] == '\\'))
                i++;
            value[o++] = s[i];
        }
        if (!closed) {
            rc = sc_error_set(e, SC_ERR_PARSE, key, "%s:%d: %s: the quoted value has no closing \"",
                              path, line, key);
            goto done;
        }
        if (i < end) {
            rc = sc_error_set(e, SC_ERR_PARSE, key,
                              "%s:%d: %s: text after the closing quote (comments go on lines "
                              "of their own)",
                              path, line, key);
            goto done;
        }
    } else {
        memcpy(value, s + i, end - i);
        o = end - i;
    }
    value[o] = '\0';
    if (o == 0) {
        rc = sc_error_set(e, SC_ERR_PARSE, key, "%s:%d: %s: the value is empty", path, line, key);
        goto done;
    }
    *key_out = key;
    *value_out = value;
    key = value = NULL;
done:
    free(key);
    free(value);
    return rc;
}

enum sc_err sc_conf_parse(const char *text, size_t len, const char *path, struct sc_conf **out,
                          struct sc_error *e)
{
    enum sc_err rc = SC_OK;
    struct sc_conf *conf = NULL;
    if (len > SC_CONF_MAX_BYTES)
        return sc_error_set(e, SC_ERR_TOO_LARGE, NULL, "%s: larger than %d bytes", path,
                            SC_CONF_MAX_BYTES);
    conf = calloc(1, sizeof *conf);
    if (!conf || !(conf->path = sc_strdup(path))) {
        rc = sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
        goto done;
    }
    size_t cap = 0;
    int line = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t llen = nl ? (size_t)(nl - (text + pos)) : len - pos;
        line++;
        if (llen > SC_CONF_MAX_LINE) {
            rc = sc_error_set(e, SC_ERR_TOO_LARGE, NULL, "%s:%d: longer than %d bytes", path, line,
                              SC_CONF_MAX_LINE);
            goto done;
        }
        char *key = NULL, *value = NULL;
        if ((rc = parse_line(text + pos, llen, path, line, &key, &value, e)))
            goto done;
        pos += llen + 1;
        if (!key)
            continue;
        const struct sc_conf_entry *dup = sc_conf_find(conf, key);
        if (dup) {
            rc = sc_error_set(e, SC_ERR_PARSE, key, "%s:%d: %s is given twice (first on line %d)",
                              path, line, key, dup->line);
            free(key);
            free(value);
            goto done;
        }
        if (conf->count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct sc_conf_entry *n = realloc(conf->entries, ncap * sizeof *n);
            if (!n) {
                free(key);
                free(value);
                rc = sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
                goto done;
            }
            conf->entries = n;
            cap = ncap;
        }
        conf->entries[conf->count++] = (struct sc_conf_entry){key, value, line};
    }
    *out = conf;
    conf = NULL;
done:
    sc_conf_free(conf);
    return rc;
}

enum sc_err sc_conf_load(const char *path, struct sc_conf **out, struct sc_error *e)
{
    enum sc_err rc = SC_OK;
    char *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return sc_error_set(e, SC_ERR_IO, NULL, "cannot read %s: %s", path, strerror(errno));
    text = malloc(SC_CONF_MAX_BYTES + 1);
    if (!text) {
        rc = sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
        goto done;
    }
    size_t n = fread(text, 1, SC_CONF_MAX_BYTES + 1, f);
    if (ferror(f)) {
        rc = sc_error_set(e, SC_ERR_IO, NULL, "cannot read %s: %s", path, strerror(errno));
        goto done;
    }
    rc = sc_conf_parse(text, n, path, out, e);
done:
    free(text);
    fclose(f);
    return rc;
}

const struct sc_conf_entry *sc_conf_find(const struct sc_conf *conf, const char *key)
{
    for (size_t i = 0; conf && i < conf->count; i++)
        if (strcmp(conf->entries[i].key, key) == 0)
            return &conf->entries[i];
    return NULL;
}

void sc_conf_free(struct sc_conf *conf)
{
    if (!conf)
        return;
    for (size_t i = 0; i < conf->count; i++) {
        free(conf->entries[i].key);
        free(conf->entries[i].value);
    }
    free(conf->entries);
    free(conf->path);
    free(conf);
}
