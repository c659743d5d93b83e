/* Moving an installation from SQLite to PostgreSQL (`scimitar migrate`): the SQLite
 * database read in one snapshot (refused while another process has it open, unless
 * live), the secrets key checked against every stored secret, the PostgreSQL migrations
 * run, and every table copied (store_copy) inside one PostgreSQL transaction, into a
 * database that holds no scimitar data (or whose data replace deletes in that same
 * transaction), then counted again. Leases and resync claims of the engine that ran on
 * SQLite are released and its nodes' heartbeats forgotten: no process holds them any
 * more. Nothing here prints: steps and progress go to the caller's callbacks, the
 * outcome into struct admin_migrate; no secret is ever in either. Runs on the caller's
 * thread with connections of its own. */
#ifndef SC_ADMIN_MIGRATE_H
#define SC_ADMIN_MIGRATE_H

#include "base/err.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define ADMIN_MIGRATE_MAX_TABLES 32 /* tables a copy covers, at most */
#define ADMIN_MIGRATE_DSN_SHOWN 512 /* a DSN as shown, its password hidden */
/* room for a message naming two paths and every table of the copy with its count */
#define ADMIN_MIGRATE_MESSAGE_MAX (2 * PATH_MAX + 2048)
#define ADMIN_MIGRATE_LIVE_NODE_MS 15000 /* a node seen this recently may still run */

/* One table of the copy: its name, a label for people ("users", "log entries"; static)
 * and its rows. */
struct admin_migrate_table {
    const char *table;
    const char *label;
    int64_t rows;
};

/* Where the copy of one table is: done 0 while rows of total are copied, 1 at its end
 * (rows then is what was copied); seconds since admin_migrate_run started. */
struct admin_migrate_progress {
    const char *label;
    int64_t rows;
    int64_t total;
    int done;
    double seconds;
};

/* A step taken that the person running the copy should know of: option is the command
 * line option it concerns ("live", "replace"; "" for none), text what happens. */
typedef void (*admin_migrate_note_fn)(void *arg, const char *option, const char *text);
typedef void (*admin_migrate_progress_fn)(void *arg, const struct admin_migrate_progress *p);

struct admin_migrate {
    /* set by the caller (the strings borrowed for the life of the struct) */
    const char *from;     /* sqlite:PATH */
    const char *to;       /* postgresql://... or postgres://... */
    const char *key_file; /* the secrets key file; NULL: PATH + ".key" */
    int replace;          /* delete the destination's scimitar data in the copy's transaction */
    int live;             /* copy a snapshot although another process has PATH open */
    admin_migrate_note_fn note_fn;         /* may be NULL */
    admin_migrate_progress_fn progress_fn; /* may be NULL */
    void *arg;                             /* passed to both */

    /* written by admin_migrate_check */
    const char *path;                       /* PATH, inside from */
    char to_shown[ADMIN_MIGRATE_DSN_SHOWN]; /* to without its password */

    /* written by admin_migrate_run on success */
    struct admin_migrate_table copied[ADMIN_MIGRATE_MAX_TABLES]; /* in copy order */
    int n_copied;
    double seconds;          /* the whole run */
    int64_t secrets;         /* stored secrets the key opened */
    int key_found;           /* a key was found (else none exists yet: nothing is sealed) */
    int key_env;             /* the key is SCIMITAR_KEY's (else the key file key_path) */
    char key_path[PATH_MAX]; /* the key file, its full path when it exists */

    /* on failure: the option concerned ("from", "to", "key-file", "replace"; "" for
     * none) and a message for people (one line, never a secret) */
    char option[16];
    char message[ADMIN_MIGRATE_MESSAGE_MAX];
};

/* Checks m's from and to without touching a database: from names an existing, non-empty
 * SQLite database file (sqlite:PATH; not in-memory, not a file: URI), to a PostgreSQL
 * database. Sets m->path and m->to_shown. Errors: SC_ERR_INVALID (m->option and
 * m->message say which and why). */
enum sc_err admin_migrate_check(struct admin_migrate *m);

/* Copies the database of m->from into m->to (m checked by admin_migrate_check): refused
 * while another process has the source open unless m->live (a note then), when the
 * source holds no admin token (not a database serve ran on), when the secrets key (as
 * serve finds it: SCIMITAR_KEY, else m->key_file or PATH + ".key"; none at all is fine
 * while no secret is stored) does not open every stored secret, and when the destination
 * holds scimitar data, unless m->replace and no node was seen on it in the last
 * ADMIN_MIGRATE_LIVE_NODE_MS (its data is then deleted in the copy's transaction, with a
 * note). The copy is verified by counting every table again before it commits; a failure
 * leaves the destination as it was. On success fills m's outcome fields. Errors (m->option
 * and m->message say what failed; the destination unchanged): SC_ERR_CONFLICT (the source
 * is in use, the destination holds data or a node), SC_ERR_INVALID (no admin token in the
 * source, a value the destination refuses, the key file's mode or form), SC_ERR_NOT_FOUND
 * (no key file at m->key_file), SC_ERR_CRYPTO (the key does not open a stored secret), the
 * store's (SC_ERR_DB, SC_ERR_UNAVAILABLE, ...), SC_ERR_IO, SC_ERR_NOMEM. */
enum sc_err admin_migrate_run(struct admin_migrate *m);

/* Writes into buf (size n) how messages name the key m->key_* describe: "SCIMITAR_KEY
 * (the value set in this environment)" or "the key file PATH". */
void admin_migrate_key_describe(const struct admin_migrate *m, char *buf, size_t n);

#endif
