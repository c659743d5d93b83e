/* Persistence for the built-in SCIM target (`scimitar target --db sqlite:PATH`): one row
 * per SCIM resource holding its JSON representation and ETag version. The target keeps
 * everything in memory and writes each change through; at start it loads every row. */
#ifndef SC_STORE_STORE_TARGET_H
#define SC_STORE_STORE_TARGET_H

#include "store/store.h"

#include <stdint.h>

/* Inserts or replaces the resource (kind "User" or "Group", its id, version and JSON
 * text, all borrowed). Errors: SC_ERR_DB, SC_ERR_BUSY. */
enum sc_err store_target_put(struct store *st, const char *kind, const char *id, int64_t version,
                             const char *json);

/* Deletes the resource with this id (no error when absent). Errors: SC_ERR_DB. */
enum sc_err store_target_delete(struct store *st, const char *id);

/* Calls fn for every stored resource in creation order, with borrowed values valid
 * during the call; stops with fn's non-zero return value as SC_ERR_INVALID.
 * Errors: SC_ERR_DB. */
enum sc_err store_target_each(struct store *st,
                              int (*fn)(void *arg, const char *kind, const char *id,
                                        int64_t version, const char *json),
                              void *arg);

#endif
