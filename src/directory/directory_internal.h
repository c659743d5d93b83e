/* Internals shared by the directory module's files: the table of user text fields,
 * reference and name checks, and the change helpers the service files use. Nothing
 * outside src/directory/ includes this file. */
#ifndef SC_DIRECTORY_INTERNAL_H
#define SC_DIRECTORY_INTERNAL_H

#include "base/err.h"

#include <jansson.h>
#include <stddef.h>

/* One user text field of SPEC §2 by its dotted API name. */
struct directory_field {
    const char *path;
    int required;
};

/* The user text fields, terminated by {NULL, 0}. */
extern const struct directory_field directory_user_fields[];

/* Checks a reference object {"id"} or {"name"} (at least one non-empty string, no other
 * keys); errors name field ("population", "population.id"). */
enum sc_err directory__check_ref(const json_t *ref, const char *field, struct sc_error *e);

#define DIRECTORY__REQUIRED 1 /* absent or null is an error */
#define DIRECTORY__NAME 2     /* a name: non-empty, no control characters */

/* Checks an optional string value v (NULL = absent) of at most max bytes. */
enum sc_err directory__check_name(const json_t *v, const char *field, size_t max, int flags,
                                  struct sc_error *e);

/* Writes the current time as ISO-8601 into out. */
void directory__now(char out[32]);

/* Opaque list cursors: a new string for a keyset key (cursor_encode); the key back from a
 * cursor (*key new, NULL for an empty cursor; SC_ERR_INVALID naming "cursor"). */
char *directory__cursor_encode(const char *key);
enum sc_err directory__cursor_decode(const char *cursor, char **key, struct sc_error *e);

/* Fills e for a store error rc about what ("user": "no such user" for NOT_FOUND) and
 * returns rc. */
enum sc_err directory__store_error(enum sc_err rc, struct sc_error *e, const char *what);

struct store;

/* A transaction around a read-modify-write: directory__begin opens one unless st is in
 * one already (*own says which); directory__finish commits (or rolls back when rc is an
 * error) what it opened and returns rc, or the commit's error. */
enum sc_err directory__begin(struct store *st, int *own, struct sc_error *e);
enum sc_err directory__finish(struct store *st, int own, enum sc_err rc, struct sc_error *e);

/* Runs update(st, id, patch, &res, e) inside directory__begin / directory__finish, so
 * the read and the write of a PATCH see the same row; *out gets res (new) only when
 * the whole transaction succeeded. */
enum sc_err directory__update_in_tx(struct store *st, const char *id, const json_t *patch,
                                    json_t **out, struct sc_error *e,
                                    enum sc_err (*update)(struct store *st, const char *id,
                                                          const json_t *patch, json_t **out,
                                                          struct sc_error *e));

/* Runs del(st, id, e) inside directory__begin / directory__finish. */
enum sc_err directory__delete_in_tx(struct store *st, const char *id, struct sc_error *e,
                                    enum sc_err (*del)(struct store *st, const char *id,
                                                       struct sc_error *e));

struct directory_groups;

/* Marks in mark[] (one byte per group of g, zeroed by the caller) the effective groups of
 * user: DIRECTORY__DIRECT for direct membership, DIRECTORY__MEMBER for any. Returns 0, or
 * -1 when out of memory. */
#define DIRECTORY__MEMBER 1
#define DIRECTORY__DIRECT 2
int directory__groups_mark(const struct directory_groups *g, const json_t *user,
                           unsigned char *mark);

/* The index of the group with id in g, or -1. */
long directory__groups_index(const struct directory_groups *g, const char *id);

/* The id and name of group i of g (borrowed). */
const char *directory__groups_id(const struct directory_groups *g, size_t i);
const char *directory__groups_name(const struct directory_groups *g, size_t i);

#endif
