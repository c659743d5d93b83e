/* One error type for all of scimitar: enum sc_err, and struct sc_error that carries a
 * code with the field it concerns and a human message (used for validation errors that
 * the REST API returns as {"error": {"code", "message", "field"}}). Library codes
 * (CURLcode, SQLite, libmicrohttpd) are converted to these at the module edge only. */
#ifndef SC_BASE_ERR_H
#define SC_BASE_ERR_H

#include <stddef.h>

enum sc_err {
    SC_OK = 0,
    SC_ERR_NOMEM,       /* allocation failed */
    SC_ERR_INVALID,     /* bad input: a field failed validation (400) */
    SC_ERR_PARSE,       /* malformed input: JSON, filter, expression (400) */
    SC_ERR_NOT_FOUND,   /* no such object (404) */
    SC_ERR_CONFLICT,    /* uniqueness or state conflict (409) */
    SC_ERR_TOO_LARGE,   /* a size a peer controls is past its cap (413) */
    SC_ERR_AUTH,        /* missing or wrong credentials (401) */
    SC_ERR_FORBIDDEN,   /* not allowed (403) */
    SC_ERR_UNSUPPORTED, /* operation not supported here (405/501) */
    SC_ERR_IO,          /* file or socket I/O failed */
    SC_ERR_DB,          /* the store failed */
    SC_ERR_BUSY,        /* the store or a peer is busy; try again */
    SC_ERR_HTTP,        /* an HTTP exchange failed */
    SC_ERR_TIMEOUT,     /* a deadline passed */
    SC_ERR_UNAVAILABLE, /* a peer cannot be reached */
    SC_ERR_CRYPTO,      /* encryption or decryption failed */
    SC_ERR_INTERNAL,    /* a bug: an invariant did not hold */
    SC_ERR__COUNT
};

/* Returns a static, lower-case description of code ("not found"). Never NULL. */
const char *sc_strerror(enum sc_err code);

/* Returns the stable upper-case name of code used in API errors ("NOT_FOUND"). */
const char *sc_err_name(enum sc_err code);

/* Returns the HTTP status that fits code (400, 404, 409, 413, 500, ...). */
int sc_err_http_status(enum sc_err code);

#define SC_ERROR_FIELD_MAX 128
#define SC_ERROR_MESSAGE_MAX 512

/* An error with context. Zero-initialise it ({0}); code SC_OK means "no error". */
struct sc_error {
    enum sc_err code;
    char field[SC_ERROR_FIELD_MAX];     /* the input field concerned, "" if none */
    char message[SC_ERROR_MESSAGE_MAX]; /* what went wrong and what to do */
};

/* Fills e (when e is not NULL) with code, field (may be NULL) and a printf-style
 * message, and returns code so callers can write `return sc_error_set(...)`. */
enum sc_err sc_error_set(struct sc_error *e, enum sc_err code, const char *field, const char *fmt,
                         ...) __attribute__((format(printf, 4, 5)));

/* Resets e to "no error". */
void sc_error_clear(struct sc_error *e);

#endif
