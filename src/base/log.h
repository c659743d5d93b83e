/* Levelled, structured logging: one line per event on stderr,
 *   2026-11-29T10:00:00.123Z level=info event=user.created id=... username=...
 * Callers pass the key=value part as a printf format. Never pass a secret, a bearer
 * token or a full filter query string at info level: log its length or a digest. */
#ifndef SC_BASE_LOG_H
#define SC_BASE_LOG_H

enum sc_log_level { SC_LOG_DEBUG, SC_LOG_INFO, SC_LOG_WARN, SC_LOG_ERROR, SC_LOG_OFF };

enum sc_log_format {
    SC_LOG_FORMAT_TEXT, /* time level=... event=... key=value ... */
    SC_LOG_FORMAT_JSON  /* {"time":...,"level":...,"event":...,"key":value,...} a line */
};

/* Sets how lines are written (default text). In JSON, each key=value pair of the
 * format becomes a member: a bare integer, decimal, true or false as a JSON number or
 * boolean, anything else (and every quoted value) as a string; from the first word that
 * is not a pair on, the rest of the line is kept as it is in "text". Thread-safe. */
void sc_log_set_format(enum sc_log_format format);

/* 1 when stderr is the systemd journal: JOURNAL_STREAM is "DEVICE:INODE" of stderr.
 * Then every line starts with its syslog priority (<7> debug, <6> info, <4> warn,
 * <3> error), the sd-daemon(3) convention journald reads the level from. Looked at by
 * the first log call. */
int sc_log_stderr_is_journal(void);

/* Sets the lowest level written (default info; SCIMITAR_LOG=debug|info|warn|error|off
 * in the environment sets it at the first log call). Thread-safe. */
void sc_log_set_level(enum sc_log_level level);

/* Parses "debug", "info", "warn", "error", "off"; returns -1 when unknown. */
int sc_log_level_parse(const char *name);

/* Returns non-zero when level would be written. */
int sc_log_enabled(enum sc_log_level level);

/* Writes one line: time, level, event, then the formatted key=value pairs (may be NULL).
 * Values with spaces should be quoted by the caller with sc_log_quote(). */
void sc_log(enum sc_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define SC_DEBUG(ev, ...) sc_log(SC_LOG_DEBUG, ev, __VA_ARGS__)
#define SC_INFO(ev, ...) sc_log(SC_LOG_INFO, ev, __VA_ARGS__)
#define SC_WARN(ev, ...) sc_log(SC_LOG_WARN, ev, __VA_ARGS__)
#define SC_ERROR(ev, ...) sc_log(SC_LOG_ERROR, ev, __VA_ARGS__)

/* Writes s into out (size n) as a log value: bare when it has no space, quote, equals
 * sign or control character, else double-quoted with \" \\ and \n escapes; cut to fit.
 * Returns out. */
const char *sc_log_quote(const char *s, char *out, unsigned long n);

#endif
