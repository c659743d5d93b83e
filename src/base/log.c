/* Structured logging to stderr; one fprintf per line under a lock so lines from the
 * API pool and the engine thread never interleave. Lines are key=value text or JSON
 * objects (sc_log_set_format); when stderr is the systemd journal (JOURNAL_STREAM names
 * its device and inode) each line starts with its syslog priority, "<6>", which journald
 * takes for the entry's level (sd-daemon(3)). */
#include "base/log.h"
#include "base/buf.h"
#include "base/clock.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_level = -1;
static int log_format = SC_LOG_FORMAT_TEXT;
static int log_journal = -1; /* -1: not looked at yet */

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};
/* syslog priorities: LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR */
static const int level_priorities[] = {7, 6, 4, 3, 3};

int sc_log_level_parse(const char *name)
{
    for (int i = 0; name && i <= SC_LOG_OFF; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

static int current_level(void)
{
    int lvl = __atomic_load_n(&log_level, __ATOMIC_RELAXED);
    if (lvl < 0) {
        lvl = sc_log_level_parse(getenv("SCIMITAR_LOG"));
        if (lvl < 0)
            lvl = SC_LOG_INFO;
        __atomic_store_n(&log_level, lvl, __ATOMIC_RELAXED);
    }
    return lvl;
}

void sc_log_set_level(enum sc_log_level level)
{
    __atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
}

int sc_log_enabled(enum sc_log_level level)
{
    return (int)level >= current_level() && level != SC_LOG_OFF;
}

void sc_log_set_format(enum sc_log_format format)
{
    __atomic_store_n(&log_format, (int)format, __ATOMIC_RELAXED);
}

int sc_log_stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    if (!js || !*js)
        return 0;
    char *end = NULL;
    unsigned long long dev = strtoull(js, &end, 10);
    if (end == js || *end != ':')
        return 0;
    const char *ino_s = end + 1;
    unsigned long long ino = strtoull(ino_s, &end, 10);
    if (end == ino_s || *end)
        return 0;
    struct stat sb;
    if (fstat(2, &sb) != 0)
        return 0;
    return (unsigned long long)sb.st_dev == dev && (unsigned long long)sb.st_ino == ino;
}

static int journal_prefix(void)
{
    int j = __atomic_load_n(&log_journal, __ATOMIC_RELAXED);
    if (j < 0) {
        j = sc_log_stderr_is_journal();
        __atomic_store_n(&log_journal, j, __ATOMIC_RELAXED);
    }
    return j;
}

static void buf_putc(struct sc_buf *b, char c)
{
    sc_buf_append(b, &c, 1);
}

static void json_string(struct sc_buf *b, const char *s, size_t n)
{
    buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            buf_putc(b, '\\');
            buf_putc(b, (char)ch);
        } else if (ch == '\n') {
            sc_buf_puts(b, "\\n");
        } else if (ch < 0x20 || ch == 0x7f) {
            sc_buf_printf(b, "\\u%04x", ch);
        } else {
            buf_putc(b, (char)ch);
        }
    }
    buf_putc(b, '"');
}

/* 1 when the n bytes at s are a JSON number (integer or decimal) or true/false, written
 * the way JSON writes them (no leading zeros, no '+'). */
static int json_literal(const char *s, size_t n)
{
    if ((n == 4 && memcmp(s, "true", 4) == 0) || (n == 5 && memcmp(s, "false", 5) == 0))
        return 1;
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    size_t int_start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    size_t digits = i - int_start;
    if (digits == 0 || digits > 18 || (digits > 1 && s[int_start] == '0'))
        return 0;
    if (i < n && s[i] == '.') {
        size_t f = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == f)
            return 0;
    }
    return i == n;
}

/* Appends the key=value pairs of rest (as the text format writes them, values bare or
 * quoted by sc_log_quote) as JSON members; from the first word that is not a pair on,
 * the rest goes into "text" as it is. */
static void json_members(struct sc_buf *b, const char *rest)
{
    const char *p = rest, *tok = rest;
    size_t start = b->len;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        tok = p;
        start = b->len;
        const char *k = p;
        while (*p && *p != '=' && *p != ' ' && *p != '"')
            p++;
        if (*p != '=' || p == k)
            goto raw;
        size_t klen = (size_t)(p - k);
        p++;
        buf_putc(b, ',');
        json_string(b, k, klen);
        buf_putc(b, ':');
        if (*p == '"') {
            struct sc_buf v;
            sc_buf_init(&v, 0);
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1]) {
                    p++;
                    buf_putc(&v, *p == 'n' ? '\n' : *p);
                } else {
                    buf_putc(&v, *p);
                }
            }
            if (*p != '"') {
                sc_buf_free(&v);
                goto raw;
            }
            p++;
            json_string(b, v.data ? v.data : "", v.len);
            sc_buf_free(&v);
        } else {
            const char *v = p;
            while (*p && *p != ' ')
                p++;
            size_t vlen = (size_t)(p - v);
            if (json_literal(v, vlen))
                sc_buf_printf(b, "%.*s", (int)vlen, v);
            else
                json_string(b, v, vlen);
        }
        if (*p && *p != ' ')
            goto raw;
    }
    return;
raw:
    b->len = start;
    if (b->data)
        b->data[start] = '\0';
    sc_buf_puts(b, ",\"text\":");
    json_string(b, tok, strlen(tok));
}

void sc_log(enum sc_log_level level, const char *event, const char *fmt, ...)
{
    if (!sc_log_enabled(level))
        return;
    char when[40];
    sc_clock_format_iso8601(sc_clock_now_ms(), when, sizeof when);
    char rest[2048] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rest, sizeof rest, fmt, ap);
        va_end(ap);
    }
    char prio[8] = "";
    if (journal_prefix())
        snprintf(prio, sizeof prio, "<%d>", level_priorities[level]);
    if (__atomic_load_n(&log_format, __ATOMIC_RELAXED) == SC_LOG_FORMAT_JSON) {
        struct sc_buf b;
        sc_buf_init(&b, 0);
        sc_buf_puts(&b, "{\"time\":");
        json_string(&b, when, strlen(when));
        sc_buf_printf(&b, ",\"level\":\"%s\",\"event\":", level_names[level]);
        json_string(&b, event, strlen(event));
        json_members(&b, rest);
        buf_putc(&b, '}');
        pthread_mutex_lock(&log_lock);
        fprintf(stderr, "%s%s\n", prio, b.data ? b.data : "{}");
        pthread_mutex_unlock(&log_lock);
        sc_buf_free(&b);
        return;
    }
    pthread_mutex_lock(&log_lock);
    fprintf(stderr, "%s%s level=%s event=%s%s%s\n", prio, when, level_names[level], event,
            rest[0] ? " " : "", rest);
    pthread_mutex_unlock(&log_lock);
}

const char *sc_log_quote(const char *s, char *out, unsigned long n)
{
    if (n == 0)
        return out;
    if (!s)
        s = "";
    int bare = s[0] != '\0';
    for (const char *p = s; *p && bare; p++)
        if (*p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20)
            bare = 0;
    unsigned long o = 0;
    if (bare) {
        snprintf(out, n, "%s", s);
        return out;
    }
    if (o + 1 < n)
        out[o++] = '"';
    for (const char *p = s; *p && o + 3 < n; p++) {
        if (*p == '"' || *p == '\\') {
            out[o++] = '\\';
            out[o++] = *p;
        } else if (*p == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else if ((unsigned char)*p < 0x20) {
            out[o++] = '?';
        } else {
            out[o++] = *p;
        }
    }
    if (o + 1 < n)
        out[o++] = '"';
    out[o] = '\0';
    return out;
}
