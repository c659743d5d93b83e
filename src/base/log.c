/* Structured logging to stderr; one fprintf per line under a lock so lines from the
 * API pool and the engine thread never interleave. */
#include "base/log.h"
#include "base/clock.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_level = -1;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

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
    pthread_mutex_lock(&log_lock);
    fprintf(stderr, "%s level=%s event=%s%s%s\n", when, level_names[level], event,
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
