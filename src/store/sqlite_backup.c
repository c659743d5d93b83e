/* The SQLite back-end's online backup and restore (store_copy.h): SQLite's backup API
 * copies every page of one database into another in one read transaction, so the copy
 * is one consistent state while writers in other processes go on (WAL: readers block
 * nobody). A backup goes to a new file beside PATH, created 0600, and takes PATH's
 * place by rename only when it is complete and synced; a restore writes through a
 * connection to the destination, so SQLite replaces its pages and WAL coherently. */
#include "store/sqlite_internal.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How long the source may be locked by a writer before the copy gives up. */
#define BACKUP_BUSY_MS 10000

/* Opens path read-only and checks that it is a scimitar database (a schema_version
 * table with the directory's component). *out is NULL on error. */
static enum sc_err open_checked(const char *path, const char *field, sqlite3 **out,
                                struct sc_error *e)
{
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return sc_error_set(e, SC_ERR_NOT_FOUND, field, "no database file at %s", path);
    if (!S_ISREG(sb.st_mode) || sb.st_size == 0)
        return sc_error_set(e, SC_ERR_INVALID, field, "%s is not a scimitar database", path);
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW, NULL);
    if (rc != SQLITE_OK) {
        enum sc_err err = sc_error_set(e, SC_ERR_IO, field, "cannot open %s: %s", path,
                                       db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return err;
    }
    sqlite3_busy_timeout(db, BACKUP_BUSY_MS);
    sqlite3_stmt *s = NULL;
    int found = 0;
    rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM schema_version WHERE component = 'directory'",
                            -1, &s, NULL);
    if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        found = sqlite3_column_int(s, 0) == 1;
    sqlite3_finalize(s);
    if (!found) {
        sqlite3_close(db);
        return sc_error_set(e, SC_ERR_INVALID, field,
                            "%s is not a scimitar database (no schema version of its directory)",
                            path);
    }
    *out = db;
    return SC_OK;
}

/* Copies every page of src into dst in one step (one read transaction on src). */
static enum sc_err copy_pages(sqlite3 *src, sqlite3 *dst, const char *field, struct sc_error *e)
{
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    if (!b)
        return sc_error_set(e, SC_ERR_DB, field, "cannot start the copy: %s", sqlite3_errmsg(dst));
    int rc = sqlite3_backup_step(b, -1);
    int fin = sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE || fin != SQLITE_OK) {
        int code = rc != SQLITE_DONE ? rc : fin;
        return sc_error_set(e,
                            code == SQLITE_BUSY || code == SQLITE_LOCKED ? SC_ERR_BUSY : SC_ERR_DB,
                            field, "the copy failed: %s", sqlite3_errstr(code));
    }
    return SC_OK;
}

enum sc_err store__sqlite_backup(const char *dsn, const char *path, struct sc_error *e)
{
    enum sc_err err = SC_OK;
    sqlite3 *src = NULL, *dst = NULL;
    char tmp[4096];
    int made = 0;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.part-%ld", path, (long)getpid()) >= sizeof tmp)
        return sc_error_set(e, SC_ERR_INVALID, "path", "the path is too long");
    err = open_checked(dsn + 7, "db", &src, e);
    if (err)
        goto done;
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        err = sc_error_set(e, SC_ERR_IO, "path", "cannot create %s: %s", tmp, strerror(errno));
        goto done;
    }
    made = 1;
    close(fd);
    if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL) !=
        SQLITE_OK) {
        err = sc_error_set(e, SC_ERR_IO, "path", "cannot open %s: %s", tmp,
                           dst ? sqlite3_errmsg(dst) : "out of memory");
        goto done;
    }
    err = copy_pages(src, dst, "db", e);
    if (err)
        goto done;
    /* the copy is one file: no -wal or -shm beside it until it is opened again */
    if (sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK) {
        err = sc_error_set(e, SC_ERR_DB, "path", "cannot finish %s: %s", tmp, sqlite3_errmsg(dst));
        goto done;
    }
    sqlite3_close(dst);
    dst = NULL;
    fd = open(tmp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fsync(fd) != 0 || rename(tmp, path) != 0) {
        err = sc_error_set(e, SC_ERR_IO, "path", "cannot write %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        goto done;
    }
    close(fd);
    made = 0;
done:
    sqlite3_close(dst);
    sqlite3_close(src);
    if (made)
        unlink(tmp);
    return err;
}

enum sc_err store__sqlite_restore(const char *from, const char *dsn, int replace,
                                  struct sc_error *e)
{
    const char *path = dsn + 7;
    enum sc_err err = SC_OK;
    sqlite3 *src = NULL, *dst = NULL;
    err = open_checked(from, "from", &src, e);
    if (err)
        goto done;
    struct stat sb;
    if (lstat(path, &sb) == 0) {
        if (!S_ISREG(sb.st_mode)) {
            err = sc_error_set(e, SC_ERR_INVALID, "db", "%s is not a regular file", path);
            goto done;
        }
        if (sb.st_size > 0 && !replace) {
            err = sc_error_set(e, SC_ERR_CONFLICT, "db",
                               "%s already holds a database; --replace overwrites it", path);
            goto done;
        }
    } else {
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            err = sc_error_set(e, SC_ERR_IO, "db", "cannot create %s: %s", path, strerror(errno));
            goto done;
        }
        close(fd);
    }
    if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL) !=
        SQLITE_OK) {
        err = sc_error_set(e, SC_ERR_IO, "db", "cannot open %s: %s", path,
                           dst ? sqlite3_errmsg(dst) : "out of memory");
        goto done;
    }
    err = copy_pages(src, dst, "db", e);
    if (err)
        goto done;
    if (sqlite3_exec(dst, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK) {
        err = sc_error_set(e, SC_ERR_DB, "db", "cannot finish %s: %s", path, sqlite3_errmsg(dst));
        goto done;
    }
done:
    sqlite3_close(dst);
    sqlite3_close(src);
    if (!err) {
        /* whatever the file's mode was, the restored data is the owner's alone */
        const char *suffix[] = {"", "-wal", "-shm"};
        for (size_t i = 0; i < 3; i++) {
            char p[4096];
            if ((size_t)snprintf(p, sizeof p, "%s%s", path, suffix[i]) < sizeof p)
                (void)chmod(p, 0600);
        }
    }
    return err;
}
