/* The SQLite back-end's core: opening (WAL, foreign keys, busy timeout), migrations by
 * component with a version table, transactions, the statement cache, the write probe
 * and settings, and the back-end's table (store__sqlite_backend). */
#include "store/sqlite_internal.h"
#include "base/buf.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct store_migration core_migrations[] = {
    {1, "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);"},
};
const struct store_component store__core_schema = {"core", core_migrations, 1};

static const struct store_component *const components[] = {
    &store__core_schema,      &store__events_schema,  &store__directory_schema,
    &store__provision_schema, &store__sync_schema,    &store__target_schema,
    &store__admin_schema,     &store__inbound_schema, &store__groupsync_schema,
};

/* Records a failure that means writes fail (full disk, I/O error, read-only, corrupt or
 * missing database) in the process's write health. */
static void health_record(struct store *st, int rc)
{
    int primary = rc & 0xff;
    if (primary != SQLITE_FULL && primary != SQLITE_IOERR && primary != SQLITE_READONLY &&
        primary != SQLITE_CANTOPEN && primary != SQLITE_CORRUPT && primary != SQLITE_NOTADB)
        return;
    store__health_fail(st && sqlite__db(st) ? sqlite3_errmsg(sqlite__db(st)) : sqlite3_errstr(rc));
}

enum sc_err store__err(struct store *st, int rc)
{
    int primary = rc & 0xff;
    health_record(st, rc);
    if (primary != SQLITE_DONE && primary != SQLITE_ROW && primary != SQLITE_OK &&
        primary != SQLITE_CONSTRAINT)
        SC_WARN("store.error", "rc=%d message=\"%s\"", rc,
                st ? sqlite3_errmsg(sqlite__db(st)) : "");
    switch (rc) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return SC_OK;
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return SC_ERR_CONFLICT;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_NOTNULL:
        return SC_ERR_INVALID;
    default:
        break;
    }
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
        return SC_ERR_BUSY;
    if (primary == SQLITE_NOMEM)
        return SC_ERR_NOMEM;
    return SC_ERR_DB;
}

enum sc_err store__exec(struct store *st, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(sqlite__db(st), sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        SC_ERROR("store.exec_failed", "rc=%d message=\"%s\"", rc, msg ? msg : "");
        sqlite3_free(msg);
        return store__err(st, rc);
    }
    return SC_OK;
}

sqlite3_stmt *store__prepare(struct store *base, const char *sql)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    for (int i = 0; i < st->ncache; i++) {
        if (st->cache[i].sql == sql) {
            sqlite3_reset(st->cache[i].stmt);
            sqlite3_clear_bindings(st->cache[i].stmt);
            return st->cache[i].stmt;
        }
    }
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
    if (rc != SQLITE_OK) {
        SC_ERROR("store.prepare_failed", "rc=%d message=\"%s\"", rc, sqlite3_errmsg(st->db));
        return NULL;
    }
    if (st->ncache < STORE_STMT_CACHE) {
        st->cache[st->ncache].sql = sql;
        st->cache[st->ncache].stmt = s;
        st->ncache++;
    } else {
        /* cache full: evict the oldest entry */
        sqlite3_finalize(st->cache[0].stmt);
        memmove(&st->cache[0], &st->cache[1], sizeof st->cache[0] * (STORE_STMT_CACHE - 1));
        st->cache[STORE_STMT_CACHE - 1].sql = sql;
        st->cache[STORE_STMT_CACHE - 1].stmt = s;
    }
    return s;
}

int store__bind_text(sqlite3_stmt *s, int idx, const char *v)
{
    if (!v)
        return sqlite3_bind_null(s, idx);
    return sqlite3_bind_text(s, idx, v, -1, SQLITE_TRANSIENT);
}

enum sc_err store__step_done(struct store *st, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    enum sc_err err = rc == SQLITE_DONE ? SC_OK : store__err(st, rc);
    sqlite3_reset(s);
    return err;
}

enum sc_err store__run_each(struct store *st, const char *const *sql, size_t n, const char *text)
{
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *s = store__prepare(st, sql[i]);
        if (!s)
            return SC_ERR_DB;
        store__bind_text(s, 1, text);
        enum sc_err err = store__step_done(st, s);
        if (err)
            return err;
    }
    return SC_OK;
}

enum sc_err store__rows(struct store *st, sqlite3_stmt *s, size_t elem,
                        void (*fill)(sqlite3_stmt *s, void *dst), void **out, size_t *n)
{
    unsigned char *v = NULL;
    size_t count = 0, cap = 0;
    enum sc_err err = SC_OK;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            unsigned char *grown = realloc(v, ncap * elem);
            if (!grown) {
                err = SC_ERR_NOMEM;
                break;
            }
            v = grown;
            cap = ncap;
        }
        memset(v + count * elem, 0, elem);
        fill(s, v + count * elem);
        count++;
    }
    if (!err && rc != SQLITE_DONE)
        err = store__err(st, rc);
    sqlite3_reset(s);
    *out = v;
    *n = count;
    return err;
}

enum sc_err store__rows_plain(struct store *st, sqlite3_stmt *s, size_t elem,
                              void (*fill)(sqlite3_stmt *s, void *dst), void **out, size_t *n)
{
    enum sc_err err = store__rows(st, s, elem, fill, out, n);
    if (err) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return err;
}

enum sc_err store__row(struct store *st, sqlite3_stmt *s, void (*fill)(sqlite3_stmt *s, void *dst),
                       void *dst)
{
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        fill(s, dst);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return SC_OK;
    return rc == SQLITE_DONE ? SC_ERR_NOT_FOUND : store__err(st, rc);
}

enum sc_err store__text_row(struct store *st, sqlite3_stmt *s, char **out)
{
    int rc = sqlite3_step(s);
    enum sc_err err = SC_OK;
    if (rc == SQLITE_ROW)
        err = (*out = store__column_dup(s, 0)) ? SC_OK : SC_ERR_NOMEM;
    else
        err = rc == SQLITE_DONE ? SC_ERR_NOT_FOUND : store__err(st, rc);
    sqlite3_reset(s);
    return err;
}

char *store__column_dup(sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    return t ? sc_strdup((const char *)t) : NULL;
}

void store__column_copy(sqlite3_stmt *s, int col, char *dst, size_t n)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    sc_strlcpy(dst, t ? (const char *)t : "", n);
}

static enum sc_err migrate_component(struct store *st, const struct store_component *c,
                                     struct sc_error *e)
{
    sqlite3_stmt *q = NULL;
    int current = 0;
    if (sqlite3_prepare_v2(sqlite__db(st), "SELECT version FROM schema_version WHERE component = ?",
                           -1, &q, NULL) != SQLITE_OK)
        return sc_error_set(e, SC_ERR_DB, "db", "cannot read schema version: %s",
                            sqlite3_errmsg(sqlite__db(st)));
    sqlite3_bind_text(q, 1, c->name, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW)
        current = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    if (c->count > 0 && current > c->migrations[c->count - 1].version)
        return store__schema_too_new(c->name, current, c->migrations[c->count - 1].version, e);
    for (int i = 0; i < c->count; i++) {
        const struct store_migration *m = &c->migrations[i];
        if (m->version <= current)
            continue;
        char *msg = NULL;
        if (sqlite3_exec(sqlite__db(st), m->sql, NULL, NULL, &msg) != SQLITE_OK) {
            enum sc_err rc = sc_error_set(e, SC_ERR_DB, "db", "schema migration %s/%d failed: %s",
                                          c->name, m->version, msg ? msg : "");
            sqlite3_free(msg);
            return rc;
        }
        sqlite3_stmt *u = NULL;
        sqlite3_prepare_v2(sqlite__db(st),
                           "INSERT INTO schema_version(component, version) VALUES(?, ?) "
                           "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                           -1, &u, NULL);
        sqlite3_bind_text(u, 1, c->name, -1, SQLITE_STATIC);
        sqlite3_bind_int(u, 2, m->version);
        int rc = sqlite3_step(u);
        sqlite3_finalize(u);
        if (rc != SQLITE_DONE)
            return sc_error_set(e, SC_ERR_DB, "db", "cannot record schema version");
        current = m->version;
    }
    return SC_OK;
}

static enum sc_err migrate(struct store *st, struct sc_error *e)
{
    enum sc_err rc = store__exec(st, "CREATE TABLE IF NOT EXISTS schema_version ("
                                     "component TEXT PRIMARY KEY, version INTEGER NOT NULL)");
    if (rc)
        return sc_error_set(e, rc, "db", "cannot create the schema version table");
    /* The version check and the migrations run under one write lock, so two processes
     * starting together never apply the same migration twice. */
    if ((rc = store_begin(st)))
        return sc_error_set(e, rc, "db", "cannot lock the database to migrate it");
    for (size_t i = 0; i < sizeof components / sizeof components[0]; i++) {
        if ((rc = migrate_component(st, components[i], e))) {
            store_rollback(st);
            return rc;
        }
    }
    if ((rc = store_commit(st)))
        return sc_error_set(e, rc, "db", "cannot commit the schema migrations");
    return SC_OK;
}

/* 1 when path names an in-memory database (":memory:", "file::memory:", "mode=memory"),
 * which every connection would see as its own empty database. */
static int is_memory_path(const char *path)
{
    return strcmp(path, ":memory:") == 0 ||
           (strncmp(path, "file:", 5) == 0 &&
            (strstr(path, ":memory:") || strstr(path, "mode=memory")));
}

/* The database file and its -wal and -shm hold personal data and the admin token's
 * hash: the file is created 0600 before SQLite opens it (SQLite gives -wal and -shm the
 * database file's mode), and files left more open by an older version are narrowed. */
static enum sc_err protect_files(const char *path, struct sc_error *e)
{
    /* O_EXCL: only a file this call creates is opened and closed here. Closing any
     * descriptor of a database file would drop the POSIX locks that this process's
     * other SQLite connections hold on it. */
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno != EEXIST && errno != ELOOP)
        return sc_error_set(e, SC_ERR_DB, "db", "cannot open database %s: %s", path,
                            strerror(errno));
    if (fd >= 0)
        close(fd);
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char f[4096];
        struct stat sb;
        if ((size_t)snprintf(f, sizeof f, "%s%s", path, suffixes[i]) >= sizeof f)
            continue;
        if (stat(f, &sb) != 0 || !S_ISREG(sb.st_mode) || !(sb.st_mode & 077))
            continue;
        if (chmod(f, sb.st_mode & 0700) == 0)
            SC_WARN("store.mode_narrowed", "file=%s was=%04o now=%04o", f,
                    (unsigned)(sb.st_mode & 07777), (unsigned)(sb.st_mode & 0700));
        else
            SC_WARN("store.mode_open", "file=%s mode=%04o error=\"%s\"", f,
                    (unsigned)(sb.st_mode & 07777), strerror(errno));
    }
    return SC_OK;
}

static void sqlite_close(struct store *base);
static enum sc_err sqlite_begin(struct store *st);
static enum sc_err sqlite_commit(struct store *st);
static void sqlite_rollback(struct store *st);

static enum sc_err sqlite_open(const char *dsn, struct store **out, struct sc_error *e)
{
    if (strncmp(dsn, "sqlite:", 7) != 0 || !dsn[7])
        return sc_error_set(e, SC_ERR_INVALID, "db", "database '%s' is not of the form sqlite:PATH",
                            dsn);
    const char *path = dsn + 7;
    if (!is_memory_path(path) && strncmp(path, "file:", 5) != 0) {
        enum sc_err prc = protect_files(path, e);
        if (prc)
            return prc;
    }
    struct sqlite_store *sq = calloc(1, sizeof *sq);
    if (!sq)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    struct store *st = &sq->base;
    st->be = &store__sqlite_backend;
    st->dsn = sc_strdup(dsn);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &sq->db, flags, NULL);
    if (rc != SQLITE_OK) {
        sc_error_set(e, SC_ERR_DB, "db", "cannot open database %s: %s", path,
                     sq->db ? sqlite3_errmsg(sq->db) : sqlite3_errstr(rc));
        sqlite_close(st);
        return SC_ERR_DB;
    }
    sqlite3_busy_timeout(sq->db, 10000);
    sqlite3_extended_result_codes(sq->db, 1);
    enum sc_err err = store__exec(st, store__durability() == STORE_DURABILITY_NORMAL
                                          ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                            "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;"
                                          : "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                            "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;");
    if (err) {
        sc_error_set(e, err, "db", "cannot configure database %s: %s", path,
                     sqlite3_errmsg(sq->db));
        sqlite_close(st);
        return err;
    }
    if ((err = migrate(st, e))) {
        sqlite_close(st);
        return err;
    }
    *out = st;
    return SC_OK;
}

/* A pool cannot share an in-memory database: each connection would open its own. */
static enum sc_err sqlite_check_shared(const char *dsn, struct sc_error *e)
{
    if (strncmp(dsn, "sqlite:", 7) == 0 && is_memory_path(dsn + 7))
        return sc_error_set(e, SC_ERR_INVALID, "db",
                            "an in-memory database (%s) cannot be shared: every connection of "
                            "the server and its engine would see its own empty database; use "
                            "sqlite:PATH",
                            dsn);
    return SC_OK;
}

static void sqlite_close(struct store *base)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    for (int i = 0; i < st->ncache; i++)
        sqlite3_finalize(st->cache[i].stmt);
    sqlite3_close(st->db);
    free(st->base.dsn);
    free(st);
}

static enum sc_err sqlite_begin(struct store *st)
{
    enum sc_err rc = store__exec(st, "BEGIN IMMEDIATE");
    if (rc == SC_OK)
        st->in_tx = 1;
    return rc;
}

static enum sc_err sqlite_commit(struct store *st)
{
    enum sc_err rc = store__exec(st, "COMMIT");
    if (rc == SC_OK) {
        st->in_tx = 0;
        store__health_clear();
    } else
        sqlite_rollback(st);
    return rc;
}

static void sqlite_rollback(struct store *st)
{
    if (!sqlite3_get_autocommit(sqlite__db(st)))
        sqlite3_exec(sqlite__db(st), "ROLLBACK", NULL, NULL, NULL);
    st->in_tx = 0;
}

/* ---- health ---- */

static void sqlite_write_probe(struct store *st)
{
    /* the write lock and a write that is rolled back: catches a database that became
     * read-only; a lock held elsewhere for a second is not a failure */
    sqlite3 *db = sqlite__db(st);
    sqlite3_busy_timeout(db, 1000);
    int rc = sqlite3_exec(db,
                          "BEGIN IMMEDIATE; INSERT INTO settings(key, value) "
                          "VALUES('health.probe', '1') ON CONFLICT(key) DO UPDATE SET value = "
                          "excluded.value",
                          NULL, NULL, NULL);
    if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
        health_record(st, rc);
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_busy_timeout(db, 10000);
}

/* ---- settings ---- */

static enum sc_err sqlite_setting_get(struct store *st, const char *key, char **out)
{
    sqlite3_stmt *s = store__prepare(st, "SELECT value FROM settings WHERE key = ?");
    if (!s)
        return SC_ERR_DB;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    return store__text_row(st, s, out);
}

static enum sc_err sqlite_setting_set(struct store *st, const char *key, const char *value)
{
    sqlite3_stmt *s = store__prepare(st, "INSERT INTO settings(key, value) VALUES(?, ?) "
                                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    if (!s)
        return SC_ERR_DB;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SC_OK : store__err(st, rc);
}

const struct store_backend store__sqlite_backend = {
    .name = "sqlite",
    .open = sqlite_open,
    .check_shared = sqlite_check_shared,
    .close = sqlite_close,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .begin_snapshot = store__sqlite_begin_snapshot,
    .open_elsewhere = store__sqlite_open_elsewhere,
    .backup = store__sqlite_backup,
    .restore = store__sqlite_restore,
    .write_probe = sqlite_write_probe,
    .setting_get = sqlite_setting_get,
    .setting_set = sqlite_setting_set,
    .setting_lock = sqlite_setting_get, /* a write transaction already locks the database */
    .listen = NULL,
    .notified = NULL,
    .events = &store__sqlite_events_ops,
    .directory = &store__sqlite_directory_ops,
    .provision = &store__sqlite_provision_ops,
    .sync = &store__sqlite_sync_ops,
    .target = &store__sqlite_target_ops,
    .table = &store__sqlite_table_ops,
    .admin = &store__sqlite_admin_ops,
    .inbound = &store__sqlite_inbound_ops,
    .groupsync = &store__sqlite_groupsync_ops,
};
