/* Growable byte buffers with a cap, and small string helpers that replace the unsafe
 * libc ones (strcpy, sprintf, atoi, strtok are not used in scimitar). A buffer always
 * keeps a terminating NUL after its data, so data can be used as a C string. */
#ifndef SC_BASE_BUF_H
#define SC_BASE_BUF_H

#include "base/err.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct sc_buf {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
    size_t max; /* 0 = no cap; appends past max fail with SC_ERR_TOO_LARGE */
};

/* Initialises b as empty, with an optional cap (0 = none). */
void sc_buf_init(struct sc_buf *b, size_t max);

/* Makes room for extra more bytes (and the terminating NUL) without changing the data:
 * a writer may then fill data[len..len+extra) itself and advance len (and write the NUL).
 * SC_ERR_TOO_LARGE past the cap, SC_ERR_NOMEM. */
enum sc_err sc_buf_reserve(struct sc_buf *b, size_t extra);

/* Appends n bytes. SC_ERR_TOO_LARGE past the cap, SC_ERR_NOMEM. */
enum sc_err sc_buf_append(struct sc_buf *b, const void *data, size_t n);

/* Appends a C string. */
enum sc_err sc_buf_puts(struct sc_buf *b, const char *s);

/* Appends printf-style formatted text. */
enum sc_err sc_buf_printf(struct sc_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
enum sc_err sc_buf_vprintf(struct sc_buf *b, const char *fmt, va_list ap);

/* Empties b, keeping its memory. */
void sc_buf_reset(struct sc_buf *b);

/* Returns b's data (new: the caller frees it) and leaves b empty. Never NULL unless
 * out of memory. */
char *sc_buf_steal(struct sc_buf *b);

/* Frees b's memory; b is empty afterwards. sc_buf_free on an empty buffer is a no-op. */
void sc_buf_free(struct sc_buf *b);

/* Copies src into dst of size n, always NUL-terminated; returns strlen(src) so a
 * result >= n means it was cut. */
size_t sc_strlcpy(char *dst, const char *src, size_t n);

/* Returns a new copy of s (NULL for NULL or out of memory). */
char *sc_strdup(const char *s);

/* Parses a whole base-10 integer in [min, max]. 0 on success, -1 otherwise. */
int sc_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/* ASCII case-insensitive comparisons (locale-free). */
int sc_strcaseeq(const char *a, const char *b);
int sc_strncaseeq(const char *a, const char *b, size_t n);

/* Lower-cases ASCII letters of s in place; returns s. */
char *sc_str_lower(char *s);

/* Returns non-zero when s is valid UTF-8 (n bytes). */
int sc_utf8_valid(const char *s, size_t n);

/* 1 when s holds a control character (below 0x20, or DEL). */
int sc_str_has_control(const char *s);

/* 1 when name is a name people give a thing: 1 to max bytes of valid UTF-8 without
 * control characters and without leading or trailing spaces. */
int sc_name_valid(const char *name, size_t max);

/* Appends s (n bytes) to out as valid UTF-8 without NULs: every byte that does not start
 * a valid sequence (and every NUL) becomes U+FFFD. out holds at least "" afterwards.
 * Errors: those of sc_buf_append. */
enum sc_err sc_utf8_repair(const char *s, size_t n, struct sc_buf *out);

/* Cuts the C string s in place to at most max bytes without splitting a UTF-8
 * sequence; returns the new length. */
size_t sc_utf8_cut(char *s, size_t max);

#endif
