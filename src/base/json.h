/* JSON helpers over jansson (ownership follows jansson: "new" references are the
 * caller's to json_decref, "borrowed" ones are not). */
#ifndef SC_BASE_JSON_H
#define SC_BASE_JSON_H

#include "base/buf.h"
#include "base/err.h"

#include <jansson.h>
#include <stdint.h>

#define SC_JSON_MAX_DEPTH 32

/* Parses len bytes as one JSON value, refusing invalid UTF-8, duplicate-free rules of
 * jansson, and nesting deeper than max_depth (0 = SC_JSON_MAX_DEPTH). On success *out
 * is a new reference. Errors: SC_ERR_PARSE with the line/column in e->message,
 * SC_ERR_TOO_LARGE when too deep. */
enum sc_err sc_json_parse(const char *data, size_t len, int max_depth, json_t **out,
                          struct sc_error *e);

/* Returns the depth of v (a scalar is 1). */
int sc_json_depth(const json_t *v);

/* Follows a dotted path ("address.locality") through nested objects; borrowed value
 * or NULL. */
json_t *sc_json_get_path(const json_t *obj, const char *path);

/* Returns the string at a dotted path, or NULL when absent or not a string. */
const char *sc_json_get_string(const json_t *obj, const char *path);

/* Sets value (stolen) at a dotted path, creating intermediate objects. 0 or -1. */
int sc_json_set_path(json_t *obj, const char *path, json_t *value);

/* Appends v's compact JSON text to out, byte for byte what json_dumps(v, JSON_COMPACT |
 * JSON_ENCODE_ANY, with JSON_SORT_KEYS when sorted) writes, without jansson's allocations
 * per object and array (its cycle check). Errors: SC_ERR_INVALID for a string that is not
 * valid UTF-8 or nesting deeper than 512 (a cycle), SC_ERR_NOMEM, SC_ERR_TOO_LARGE past
 * out's cap; out then holds part of the text. */
enum sc_err sc_json_write(struct sc_buf *out, const json_t *v, int sorted);

/* Appends s[0..n) as a JSON string, as sc_json_write writes a string value (SC_ERR_INVALID
 * for invalid UTF-8). */
enum sc_err sc_json_write_string(struct sc_buf *out, const char *s, size_t n);

/* Serialises v compactly with sorted keys (stable: usable for digests). New string,
 * free() it; NULL on failure. */
char *sc_json_dump_canonical(const json_t *v);

/* Serialises v compactly in insertion order. New string, free() it. */
char *sc_json_dump(const json_t *v);

/* 64-bit xxHash of the canonical form of v (0 for NULL). */
uint64_t sc_json_digest(const json_t *v);

/* A new JSON string of the time ms (ms since the epoch) in RFC 3339 with milliseconds, UTC
 * (sc_clock_format_iso8601), or JSON null when ms <= 0 (no time). */
json_t *sc_json_time(int64_t ms);

#endif
