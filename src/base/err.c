/* Error codes, their messages, API names and HTTP statuses. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *text;
    const char *name;
    int status;
} err_table[SC_ERR__COUNT] = {
    [SC_OK] = {"success", "OK", 200},
    [SC_ERR_NOMEM] = {"out of memory", "NO_MEMORY", 500},
    [SC_ERR_INVALID] = {"invalid value", "INVALID_VALUE", 400},
    [SC_ERR_PARSE] = {"malformed input", "INVALID_SYNTAX", 400},
    [SC_ERR_NOT_FOUND] = {"not found", "NOT_FOUND", 404},
    [SC_ERR_CONFLICT] = {"conflict", "CONFLICT", 409},
    [SC_ERR_TOO_LARGE] = {"too large", "TOO_LARGE", 413},
    [SC_ERR_AUTH] = {"authentication required", "UNAUTHORIZED", 401},
    [SC_ERR_FORBIDDEN] = {"forbidden", "FORBIDDEN", 403},
    [SC_ERR_UNSUPPORTED] = {"not supported", "NOT_SUPPORTED", 405},
    [SC_ERR_IO] = {"input/output error", "IO_ERROR", 500},
    [SC_ERR_DB] = {"database error", "DATABASE_ERROR", 500},
    [SC_ERR_BUSY] = {"busy, try again", "BUSY", 503},
    [SC_ERR_HTTP] = {"HTTP error", "HTTP_ERROR", 502},
    [SC_ERR_TIMEOUT] = {"timed out", "TIMEOUT", 504},
    [SC_ERR_UNAVAILABLE] = {"unavailable", "UNAVAILABLE", 503},
    [SC_ERR_CRYPTO] = {"encryption error", "CRYPTO_ERROR", 500},
    [SC_ERR_INTERNAL] = {"internal error", "INTERNAL", 500},
};

static int err_valid(enum sc_err code)
{
    return (int)code >= 0 && code < SC_ERR__COUNT;
}

const char *sc_strerror(enum sc_err code)
{
    return err_valid(code) ? err_table[code].text : "unknown error";
}

const char *sc_err_name(enum sc_err code)
{
    return err_valid(code) ? err_table[code].name : "UNKNOWN";
}

int sc_err_http_status(enum sc_err code)
{
    return err_valid(code) ? err_table[code].status : 500;
}

enum sc_err sc_error_set(struct sc_error *e, enum sc_err code, const char *field, const char *fmt,
                         ...)
{
    if (!e)
        return code;
    e->code = code;
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return code;
}

void sc_error_clear(struct sc_error *e)
{
    if (e)
        memset(e, 0, sizeof *e);
}
