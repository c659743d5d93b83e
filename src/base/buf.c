/* Growable buffers and safe string helpers. */
#include "base/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sc_buf_init(struct sc_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

static enum sc_err buf_reserve(struct sc_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return SC_ERR_TOO_LARGE;
    size_t need = b->len + extra + 1;
    if (b->max && need > b->max + 1)
        return SC_ERR_TOO_LARGE;
    if (need <= b->cap)
        return SC_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return SC_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return SC_OK;
}

enum sc_err sc_buf_reserve(struct sc_buf *b, size_t extra)
{
    return buf_reserve(b, extra);
}

enum sc_err sc_buf_append(struct sc_buf *b, const void *data, size_t n)
{
    enum sc_err rc = buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return SC_OK;
}

enum sc_err sc_buf_puts(struct sc_buf *b, const char *s)
{
    return sc_buf_append(b, s, strlen(s));
}

enum sc_err sc_buf_vprintf(struct sc_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return SC_ERR_INVALID;
    enum sc_err rc = buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return SC_OK;
}

enum sc_err sc_buf_printf(struct sc_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum sc_err rc = sc_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void sc_buf_reset(struct sc_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *sc_buf_steal(struct sc_buf *b)
{
    char *p = b->data;
    if (!p)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void sc_buf_free(struct sc_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

size_t sc_strlcpy(char *dst, const char *src, size_t n)
{
    size_t len = strlen(src);
    if (n) {
        size_t c = len < n - 1 ? len : n - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return len;
}

char *sc_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

int sc_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s || !*s)
        return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s || v < min || v > max)
        return -1;
    *out = (int64_t)v;
    return 0;
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

int sc_strcaseeq(const char *a, const char *b)
{
    while (*a && *b && lower((unsigned char)*a) == lower((unsigned char)*b)) {
        a++;
        b++;
    }
    return *a == '\0' && *b == '\0';
}

int sc_strncaseeq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return 0;
        if (!a[i])
            return 1;
    }
    return 1;
}

char *sc_str_lower(char *s)
{
    for (char *p = s; p && *p; p++)
        *p = (char)lower((unsigned char)*p);
    return s;
}

/* Length of the valid UTF-8 sequence at p[i] (1 to 4), or 0 when the bytes there are not
 * one (a stray continuation byte, an overlong form, a surrogate, a cut sequence). */
static size_t utf8_seq_len(const unsigned char *p, size_t n, size_t i)
{
    unsigned c = p[i];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        len = 2;
        min = 0x80;
        c &= 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3;
        min = 0x800;
        c &= 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4;
        min = 0x10000;
        c &= 0x07;
    } else {
        return 0;
    }
    if (i + len > n)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((p[i + k] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (p[i + k] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    return len;
}

int sc_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq_len(p, n, i);
        if (!len)
            return 0;
        i += len;
    }
    return 1;
}

enum sc_err sc_utf8_repair(const char *s, size_t n, struct sc_buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;
    enum sc_err err = SC_OK;
    while (i < n && !err) {
        size_t len = p[i] ? utf8_seq_len(p, n, i) : 0;
        if (len) {
            i += len;
            continue;
        }
        if (i > run)
            err = sc_buf_append(out, s + run, i - run);
        if (!err)
            err = sc_buf_append(out, "\xEF\xBF\xBD", 3); /* U+FFFD */
        run = ++i;
    }
    if (!err && i > run)
        err = sc_buf_append(out, s + run, i - run);
    if (!err && !out->data)
        err = sc_buf_append(out, "", 0);
    return err;
}

size_t sc_utf8_cut(char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return n;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < max) {
        size_t len = utf8_seq_len(p, n, i);
        if (!len)
            len = 1;
        if (i + len > max)
            break;
        i += len;
    }
    s[i] = '\0';
    return i;
}

int sc_str_has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 1;
    return 0;
}

int sc_name_valid(const char *name, size_t max)
{
    size_t len = strlen(name);
    if (len == 0 || len > max || name[0] == ' ' || name[len - 1] == ' ')
        return 0;
    return !sc_str_has_control(name) && sc_utf8_valid(name, len);
}
