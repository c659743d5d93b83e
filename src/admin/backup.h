/* Backups of a SQLite installation (`scimitar backup`, `scimitar restore`): an online,
 * consistent copy of the database while serve runs (SQLite's backup API), and its way
 * back into a database file no process has open. Neither copies the secrets key, which
 * stays apart from the database: a backup names the key that goes with it. A PostgreSQL
 * database is refused (SC_ERR_UNSUPPORTED): pg_dump and pg_restore do it. Nothing here
 * prints; runs on the caller's thread with connections of its own. */
#ifndef SC_ADMIN_BACKUP_H
#define SC_ADMIN_BACKUP_H

#include "base/err.h"

#include <limits.h>

/* What a backup wrote and the key that goes with it. */
struct admin_backup {
    long long size;              /* bytes of the copy; -1 when it cannot be read back */
    int key_env;                 /* the key is SCIMITAR_KEY's (key_path then "") */
    char key_path[PATH_MAX + 8]; /* else the key file (its full path when it exists) */
};

/* Writes a consistent copy of the SQLite database of dsn (sqlite:PATH) to path (mode
 * 0600; an existing path is replaced once the copy is complete, a failure leaves it as
 * it was) and fills *out: the copy's size and the secrets key serve uses with that
 * database, as serve finds it (SCIMITAR_KEY when set, else key_file, NULL for PATH +
 * ".key"). Errors: those of store_backup (SC_ERR_UNSUPPORTED: PostgreSQL;
 * SC_ERR_INVALID with e->field "db": not a file database or not a scimitar database;
 * SC_ERR_NOT_FOUND, SC_ERR_IO, SC_ERR_DB). */
enum sc_err admin_backup_write(const char *dsn, const char *path, const char *key_file,
                               struct admin_backup *out, struct sc_error *e);

/* Copies the backup at from into the SQLite database of dsn (sqlite:PATH; mode 0600),
 * refused while another process has it open, and when it already holds a database
 * unless replace is non-zero. Errors: those of store_restore (SC_ERR_UNSUPPORTED:
 * PostgreSQL; SC_ERR_INVALID: from is not a scimitar database, e->field "from", or dsn
 * not a file database, "db"; SC_ERR_NOT_FOUND; SC_ERR_CONFLICT, "db"; SC_ERR_IO;
 * SC_ERR_DB). */
enum sc_err admin_backup_restore(const char *from, const char *dsn, int replace,
                                 struct sc_error *e);

#endif
