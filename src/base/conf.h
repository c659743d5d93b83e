/* Configuration files of `key = value` lines (scimitar serve --config):
 *
 *   # a comment (a line whose first non-blank character is '#')
 *   listen = 127.0.0.1:8080
 *   db = "sqlite:/var/lib/scimitar/scimitar.db"     (quotes keep spaces; \" and \\)
 *
 * Keys are lower-case letters, digits and '_'; blank lines are skipped; a key given twice
 * is an error. Which keys exist is the caller's business (sc_conf_find, and the line of
 * each entry for its errors). Every error message starts with "PATH:LINE: ". */
#ifndef SC_BASE_CONF_H
#define SC_BASE_CONF_H

#include "base/err.h"

#include <stddef.h>

#define SC_CONF_MAX_BYTES (1024 * 1024) /* the largest file read */
#define SC_CONF_MAX_LINE 4096           /* the longest line */
#define SC_CONF_MAX_KEY 64              /* the longest key */

struct sc_conf_entry {
    char *key;
    char *value;
    int line; /* 1-based */
};

struct sc_conf {
    char *path; /* as given, for messages */
    struct sc_conf_entry *entries;
    size_t count;
};

/* Parses len bytes of text read from path (used in messages only) into *out (new;
 * sc_conf_free frees it), entries in file order. Errors: SC_ERR_PARSE (a malformed
 * line: no '=', a bad key, an empty value, an unterminated quote, text after a closing
 * quote, a control character or NUL byte; a key given twice), SC_ERR_TOO_LARGE (text
 * past SC_CONF_MAX_BYTES or a line past SC_CONF_MAX_LINE), SC_ERR_NOMEM; e->field is
 * the key when one is known, and the message names path and line. */
enum sc_err sc_conf_parse(const char *text, size_t len, const char *path, struct sc_conf **out,
                          struct sc_error *e);

/* Reads and parses the file at path (errors as sc_conf_parse, and SC_ERR_IO when it
 * cannot be read: the message names the path and the reason). */
enum sc_err sc_conf_load(const char *path, struct sc_conf **out, struct sc_error *e);

/* The entry of key in conf, or NULL (borrowed). */
const struct sc_conf_entry *sc_conf_find(const struct sc_conf *conf, const char *key);

/* Frees conf; NULL is a no-op. */
void sc_conf_free(struct sc_conf *conf);

#endif
