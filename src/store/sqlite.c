/* The SQLite back-end's core: opening (WAL, foreign keys, busy timeout), migrations by
 * component with a version table, transactions, the statement cache, the pool and
 * settings. */
#include "store/sqlite_internal.h"
#include "base/buf.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
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
    &store__core_schema,      &store__events_schema, &store__directory_schema,
    &store__provision_schema, &store__sync_schema,   &store__target_schema,
};

static atomic_int durability = STORE_DURABILITY_FULL;

void store_set_durability(enum store_durability d)
{
    atomic_store(&durability, (int)d);
}

/* The last failed write of this process (disk full, I/O error, read-only database),
 * until a commit succeeds again: what /healthz reports. */
static pthread_mutex_t health_mu = PTHREAD_MUTEX_INITIALIZER;
static int write_failing;
static char write_error[160];

static void health_record(struct store *st, int rc)
{
    int primary = rc & 0xff;
    if (primary != SQLITE_FULL && primary != SQLITE_IOERR && primary != SQLITE_READONLY &&
        primary != SQLITE_CANTOPEN && primary != SQLITE_CORRUPT && primary != SQLITE_NOTADB)
        return;
    pthread_mutex_lock(&health_mu);
    write_failing = 1;
    snprintf(write_error, sizeof write_error, "%s",
             st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
    pthread_mutex_unlock(&health_mu);
}

static void health_clear(void)
{
    pthread_mutex_lock(&health_mu);
    write_failing = 0;
    pthread_mutex_unlock(&health_mu);
}

enum sc_err store__err(struct store *st, int rc)
{
    int primary = rc & 0xff;
    health_record(st, rc);
    if (primary != SQLITE_DONE && primary != SQLITE_ROW && primary != SQLITE_OK &&
        primary != SQLITE_CONSTRAINT)
        SC_WARN("store.error", "rc=%d message=\"%s\"", rc, st ? sqlite3_errmsg(st->db) : "");
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
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        SC_ERROR("store.exec_failed", "rc=%d message=\"%s\"", rc, msg ? msg : "");
        sqlite3_free(msg);
        return store__err(st, rc);
    }
    return SC_OK;
}

sqlite3_stmt *store__prepare(struct store *st, const char *sql)
{
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

char *store__column_dup(sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    return t ? sc_strdup((const char *)t) : NULL;
}

static enum sc_err migrate_component(struct store *st, const struct store_component *c,
                                     struct sc_error *e)
{
    sqlite3_stmt *q = NULL;
    int current = 0;
    if (sqlite3_prepare_v2(st->db, "SELECT version FROM schema_version WHERE component = ?", -1, &q,
                           NULL) != SQLITE_OK)
        return sc_error_set(e, SC_ERR_DB, "db", "cannot read schema version: %s",
                            sqlite3_errmsg(st->db));
    sqlite3_bind_text(q, 1, c->name, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW)
        current = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    for (int i = 0; i < c->count; i++) {
        const struct store_migration *m = &c->migrations[i];
        if (m->version <= current)
            continue;
        char *msg = NULL;
        if (sqlite3_exec(st->db, m->sql, NULL, NULL, &msg) != SQLITE_OK) {
            enum sc_err rc = sc_error_set(e, SC_ERR_DB, "db", "schema migration %s/%d failed: %s",
                                          c->name, m->version, msg ? msg : "");
            sqlite3_free(msg);
            return rc;
        }
        sqlite3_stmt *u = NULL;
        sqlite3_prepare_v2(st->db,
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

enum sc_err store_open(const char *dsn, struct store **out, struct sc_error *e)
{
    if (!dsn || !*dsn)
        return sc_error_set(e, SC_ERR_INVALID, "db", "no database given (use sqlite:PATH)");
    if (strncmp(dsn, "postgres://", 11) == 0 || strncmp(dsn, "postgresql://", 13) == 0)
        return sc_error_set(e, SC_ERR_UNSUPPORTED, "db",
                            "the PostgreSQL back-end is not part of this build; use sqlite:PATH");
    if (strncmp(dsn, "sqlite:", 7) != 0 || !dsn[7])
        return sc_error_set(e, SC_ERR_INVALID, "db", "database '%s' is not of the form sqlite:PATH",
                            dsn);
    const char *path = dsn + 7;
    if (!is_memory_path(path) && strncmp(path, "file:", 5) != 0) {
        enum sc_err prc = protect_files(path, e);
        if (prc)
            return prc;
    }
    struct store *st = calloc(1, sizeof *st);
    if (!st)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    st->dsn = sc_strdup(dsn);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &st->db, flags, NULL);
    if (rc != SQLITE_OK) {
        sc_error_set(e, SC_ERR_DB, "db", "cannot open database %s: %s", path,
                     st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        store_close(st);
        return SC_ERR_DB;
    }
    sqlite3_busy_timeout(st->db, 10000);
    sqlite3_extended_result_codes(st->db, 1);
    enum sc_err err = store__exec(st, atomic_load(&durability) == STORE_DURABILITY_NORMAL
                                          ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                            "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;"
                                          : "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                            "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;");
    if (err) {
        sc_error_set(e, err, "db", "cannot configure database %s: %s", path,
                     sqlite3_errmsg(st->db));
        store_close(st);
        return err;
    }
    if ((err = migrate(st, e))) {
        store_close(st);
        return err;
    }
    *out = st;
    return SC_OK;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    for (int i = 0; i < st->ncache; i++)
        sqlite3_finalize(st->cache[i].stmt);
    sqlite3_close(st->db);
    free(st->dsn);
    free(st);
}

enum sc_err store_begin(struct store *st)
{
    enum sc_err rc = store__exec(st, "BEGIN IMMEDIATE");
    if (rc == SC_OK)
        st->in_tx = 1;
    return rc;
}

enum sc_err store_commit(struct store *st)
{
    enum sc_err rc = store__exec(st, "COMMIT");
    if (rc == SC_OK) {
        st->in_tx = 0;
        health_clear();
    } else
        store_rollback(st);
    return rc;
}

void store_rollback(struct store *st)
{
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    st->in_tx = 0;
}

int store_in_transaction(const struct store *st)
{
    return st->in_tx;
}

/* ---- pool ---- */

struct store_pool {
    char *dsn;
    pthread_mutex_t lock;
    struct store *free_list;
    struct store **all;
    int nall, capall;
};

enum sc_err store_pool_new(const char *dsn, struct store_pool **out, struct sc_error *e)
{
    if (dsn && strncmp(dsn, "sqlite:", 7) == 0 && is_memory_path(dsn + 7))
        return sc_error_set(e, SC_ERR_INVALID, "db",
                            "an in-memory database (%s) cannot be shared: every connection of "
                            "the server and its engine would see its own empty database; use "
                            "sqlite:PATH",
                            dsn);
    struct store *first = NULL;
    enum sc_err rc = store_open(dsn, &first, e);
    if (rc)
        return rc;
    struct store_pool *p = calloc(1, sizeof *p);
    if (!p) {
        store_close(first);
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    }
    p->dsn = sc_strdup(dsn);
    pthread_mutex_init(&p->lock, NULL);
    p->all = calloc(8, sizeof *p->all);
    p->capall = 8;
    p->all[p->nall++] = first;
    p->free_list = first;
    *out = p;
    return SC_OK;
}

struct store *store_pool_acquire(struct store_pool *p)
{
    pthread_mutex_lock(&p->lock);
    struct store *st = p->free_list;
    if (st) {
        p->free_list = st->next_free;
        st->next_free = NULL;
        pthread_mutex_unlock(&p->lock);
        return st;
    }
    pthread_mutex_unlock(&p->lock);
    struct sc_error e = {0};
    if (store_open(p->dsn, &st, &e)) {
        SC_ERROR("store.open_failed", "message=\"%s\"", e.message);
        return NULL;
    }
    pthread_mutex_lock(&p->lock);
    if (p->nall == p->capall) {
        struct store **n = realloc(p->all, sizeof *n * (size_t)p->capall * 2);
        if (!n) {
            pthread_mutex_unlock(&p->lock);
            store_close(st);
            return NULL;
        }
        p->all = n;
        p->capall *= 2;
    }
    p->all[p->nall++] = st;
    pthread_mutex_unlock(&p->lock);
    return st;
}

void store_pool_release(struct store_pool *p, struct store *st)
{
    if (!st)
        return;
    if (st->in_tx)
        store_rollback(st);
    pthread_mutex_lock(&p->lock);
    st->next_free = p->free_list;
    p->free_list = st;
    pthread_mutex_unlock(&p->lock);
}

void store_pool_free(struct store_pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nall; i++)
        store_close(p->all[i]);
    free(p->all);
    free(p->dsn);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

const char *store_pool_dsn(const struct store_pool *p)
{
    return p->dsn;
}

/* ---- health ---- */

int store_write_check(struct store *st, char *why, size_t n)
{
    int rc = SQLITE_OK;
    if (!st->in_tx) {
        /* the write lock and a write that is rolled back: catches a database that
         * became read-only; a lock held elsewhere for a second is not a failure */
        sqlite3_busy_timeout(st->db, 1000);
        rc = sqlite3_exec(st->db,
                          "BEGIN IMMEDIATE; INSERT INTO settings(key, value) "
                          "VALUES('health.probe', '1') ON CONFLICT(key) DO UPDATE SET value = "
                          "excluded.value",
                          NULL, NULL, NULL);
        if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
            health_record(st, rc);
        if (!sqlite3_get_autocommit(st->db))
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_busy_timeout(st->db, 10000);
    }
    pthread_mutex_lock(&health_mu);
    int failing = write_failing;
    if (failing)
        snprintf(why, n, "%s", write_error);
    pthread_mutex_unlock(&health_mu);
    return failing ? -1 : 0;
}

/* ---- settings ---- */

enum sc_err store_setting_get(struct store *st, const char *key, char **out)
{
    sqlite3_stmt *s = store__prepare(st, "SELECT value FROM settings WHERE key = ?");
    if (!s)
        return SC_ERR_DB;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        char *v = store__column_dup(s, 0);
        sqlite3_reset(s);
        if (!v)
            return SC_ERR_NOMEM;
        *out = v;
        return SC_OK;
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SC_ERR_NOT_FOUND : store__err(st, rc);
}

enum sc_err store_setting_set(struct store *st, const char *key, const char *value)
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
