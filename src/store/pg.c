/* The PostgreSQL back-end's core (postgresql://USER@HOST:PORT/DATABASE, libpq's URI):
 * connecting (session settings: synchronous_commit by durability, READ COMMITTED, a
 * 10 s lock timeout as SQLite's busy timeout, UTF-8), migrations by component under an
 * advisory lock, statements prepared once per connection, parameters and columns in
 * text format, SQLSTATE to enum sc_err, transactions, the write probe and settings,
 * and the back-end's table (store__pg_backend). The target's store is not here: the
 * built-in target keeps its resources in SQLite or in memory. */
#include "store/pg_internal.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct pg_migration core_migrations[] = {
    {1, "CREATE TABLE settings (key TEXT COLLATE \"C\" PRIMARY KEY, value TEXT NOT NULL);"},
};
const struct pg_component store__pg_core_schema = {"core", core_migrations, 1};

static const struct pg_component *const components[] = {
    &store__pg_core_schema,      &store__pg_events_schema,    &store__pg_directory_schema,
    &store__pg_provision_schema, &store__pg_sync_schema,      &store__pg_admin_schema,
    &store__pg_inbound_schema,   &store__pg_groupsync_schema,
};

/* ---- parameters and columns ---- */

void pg__arg_text(struct pg_args *a, const char *v)
{
    if (a->n >= PG_ARGS_MAX)
        return;
    if (v && !sc_utf8_valid(v, strlen(v))) {
        struct sc_buf b;
        sc_buf_init(&b, 0);
        if (sc_utf8_repair(v, strlen(v), &b) == SC_OK)
            a->owned[a->n] = sc_buf_steal(&b);
        sc_buf_free(&b);
        v = a->owned[a->n] ? a->owned[a->n] : "";
    }
    a->v[a->n++] = v;
}

void pg__arg_int(struct pg_args *a, int64_t v)
{
    if (a->n >= PG_ARGS_MAX)
        return;
    snprintf(a->num[a->n], sizeof a->num[a->n], "%" PRId64, v);
    a->v[a->n] = a->num[a->n];
    a->n++;
}

static void args_free(struct pg_args *a)
{
    if (!a)
        return;
    for (int i = 0; i < a->n; i++) {
        free(a->owned[i]);
        a->owned[i] = NULL;
    }
}

int pg__col_null(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col);
}

int64_t pg__col_int(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    const char *t = PQgetvalue(r, row, col);
    if (t[0] == 't' && !t[1]) /* a boolean */
        return 1;
    int64_t v = 0;
    if (sc_parse_int64(t, INT64_MIN, INT64_MAX, &v))
        return 0;
    return v;
}

const char *pg__col_text(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

char *pg__col_dup(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : sc_strdup(PQgetvalue(r, row, col));
}

void pg__col_copy(const PGresult *r, int row, int col, char *dst, size_t n)
{
    const char *t = pg__col_text(r, row, col);
    sc_strlcpy(dst, t ? t : "", n);
}

/* ---- errors ---- */

/* libpq's message of the connection, without its trailing newline. */
static void conn_message(PGconn *c, char *buf, size_t n)
{
    snprintf(buf, n, "%s", c ? PQerrorMessage(c) : "out of memory");
    size_t len = strlen(buf);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
        buf[--len] = '\0';
}

/* 1 for SQLSTATEs that mean writes fail until something changes on the server. */
static int is_write_failure(const char *state)
{
    return strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
           strncmp(state, "58", 2) == 0 || strcmp(state, "25006") == 0 ||
           strcmp(state, "XX001") == 0 || strcmp(state, "XX002") == 0 ||
           strncmp(state, "57P", 3) == 0;
}

enum sc_err pg__err(struct store *st, const PGresult *r)
{
    PGconn *c = ((struct pg_store *)st)->conn;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char msg[256];
    if (primary)
        snprintf(msg, sizeof msg, "%s", primary);
    else
        conn_message(c, msg, sizeof msg);
    if (!state || PQstatus(c) == CONNECTION_BAD) {
        /* no SQLSTATE: the connection failed */
        char why[300];
        snprintf(why, sizeof why, "the database cannot be reached: %s", msg);
        store__health_fail(why);
        struct pg_store *pg = (struct pg_store *)st;
        if (!pg->down) /* once per outage: the attempts that follow fail the same way */
            SC_WARN("store.unreachable", "message=\"%s\" (retried with back-off)", msg);
        else
            SC_DEBUG("store.error", "sqlstate=%s message=\"%s\"", state ? state : "-", msg);
        pg->down = 1;
        return SC_ERR_DB;
    }
    if (strncmp(state, "23", 2) == 0) {
        if (strcmp(state, "23505") == 0)
            return SC_ERR_CONFLICT;
        if (strcmp(state, "23503") == 0 || strcmp(state, "23502") == 0 ||
            strcmp(state, "23514") == 0)
            return SC_ERR_INVALID;
    }
    SC_WARN("store.error", "sqlstate=%s message=\"%s\"", state, msg);
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0 ||
        strcmp(state, "57014") == 0)
        return SC_ERR_BUSY;
    if (strcmp(state, "53200") == 0)
        return SC_ERR_NOMEM;
    if (is_write_failure(state))
        store__health_fail(msg);
    return SC_ERR_DB;
}

/* ---- running statements ---- */

static enum sc_err session_setup(struct pg_store *pg);

/* Re-establishes a broken connection (outside a transaction). 0 when it works again.
 * After a failed attempt the next one waits (100 ms, doubling up to 2 s): until then
 * every use fails at once, so a database that is away costs neither a connection
 * attempt per statement nor a log line per statement. */
static int reconnect(struct pg_store *pg)
{
    int64_t now = sc_clock_mono_ms();
    if (now < pg->retry_at)
        return -1;
    PQreset(pg->conn);
    if (PQstatus(pg->conn) != CONNECTION_OK) {
        pg->backoff_ms = pg->backoff_ms ? pg->backoff_ms * 2 : 100;
        if (pg->backoff_ms > 2000)
            pg->backoff_ms = 2000;
        pg->retry_at = now + pg->backoff_ms;
        return -1;
    }
    pg->retry_at = 0;
    pg->backoff_ms = 0;
    pg->down = 0;
    pg->ncache = 0; /* the server forgot the prepared statements */
    pg->events_locked = 0;
    SC_INFO("store.reconnected", "backend=postgresql");
    if (session_setup(pg) != SC_OK)
        return -1;
    if (pg->listening) /* a new session listens to nothing yet */
        PQclear(PQexec(pg->conn, "LISTEN " PG_CHANNEL));
    return 0;
}

static PGresult *run_once(struct pg_store *pg, const char *sql, struct pg_args *a, int prepare)
{
    int n = a ? a->n : 0;
    const char *const *v = a ? a->v : NULL;
    if (!prepare)
        return n ? PQexecParams(pg->conn, sql, n, NULL, v, NULL, NULL, 0) : PQexec(pg->conn, sql);
    int i = 0;
    while (i < pg->ncache && pg->cache[i] != sql)
        i++;
    char name[16];
    snprintf(name, sizeof name, "s%d", i);
    if (i == pg->ncache && i < PG_STMT_CACHE) {
        PGresult *p = PQprepare(pg->conn, name, sql, 0, NULL);
        if (PQresultStatus(p) != PGRES_COMMAND_OK)
            return p;
        PQclear(p);
        pg->cache[pg->ncache++] = sql;
    }
    if (i < PG_STMT_CACHE)
        return PQexecPrepared(pg->conn, name, n, v, NULL, NULL, 0);
    return PQexecParams(pg->conn, sql, n, NULL, v, NULL, NULL, 0);
}

static PGresult *run(struct store *st, const char *sql, struct pg_args *a, int prepare,
                     enum sc_err *err)
{
    struct pg_store *pg = (struct pg_store *)st;
    PGresult *r = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        PQclear(r);
        r = NULL;
        if (PQstatus(pg->conn) != CONNECTION_OK && (st->in_tx || reconnect(pg)))
            break;
        r = run_once(pg, sql, a, prepare);
        ExecStatusType s = PQresultStatus(r);
        if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK) {
            args_free(a);
            return r;
        }
        if (st->in_tx || PQstatus(pg->conn) == CONNECTION_OK)
            break;
    }
    *err = pg__err(st, r);
    PQclear(r);
    args_free(a);
    return NULL;
}

PGresult *pg__run(struct store *st, const char *sql, struct pg_args *a, enum sc_err *err)
{
    return run(st, sql, a, 1, err);
}

PGresult *pg__run_text(struct store *st, const char *sql, struct pg_args *a, enum sc_err *err)
{
    return run(st, sql, a, 0, err);
}

enum sc_err pg__cmd(struct store *st, const char *sql, struct pg_args *a, int64_t *rows)
{
    enum sc_err err = SC_OK;
    PGresult *r = run(st, sql, a, 1, &err);
    if (!r)
        return err;
    if (rows) {
        int64_t n = 0;
        const char *t = PQcmdTuples(r);
        *rows = (t && *t && sc_parse_int64(t, 0, INT64_MAX, &n) == 0) ? n : 0;
    }
    PQclear(r);
    return SC_OK;
}

enum sc_err pg__rows(struct store *st, const char *sql, struct pg_args *a, size_t elem,
                     void (*fill)(const PGresult *r, int row, void *dst), void **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    enum sc_err err = SC_OK;
    PGresult *r = pg__run(st, sql, a, &err);
    if (!r)
        return err;
    int rows = PQntuples(r);
    unsigned char *v = rows ? calloc((size_t)rows, elem) : NULL;
    if (rows && !v) {
        PQclear(r);
        return SC_ERR_NOMEM;
    }
    for (int i = 0; i < rows; i++)
        fill(r, i, v + (size_t)i * elem);
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return SC_OK;
}

enum sc_err pg__row(struct store *st, const char *sql, struct pg_args *a,
                    void (*fill)(const PGresult *r, int row, void *dst), void *dst)
{
    enum sc_err err = SC_OK;
    PGresult *r = pg__run(st, sql, a, &err);
    if (!r)
        return err;
    if (PQntuples(r) == 0)
        err = SC_ERR_NOT_FOUND;
    else
        fill(r, 0, dst);
    PQclear(r);
    return err;
}

enum sc_err pg__text_row(struct store *st, const char *sql, struct pg_args *a, char **out)
{
    enum sc_err err = SC_OK;
    PGresult *r = pg__run(st, sql, a, &err);
    if (!r)
        return err;
    if (PQntuples(r) == 0)
        err = SC_ERR_NOT_FOUND;
    else if (!(*out = pg__col_dup(r, 0, 0)))
        err = SC_ERR_NOMEM;
    PQclear(r);
    return err;
}

enum sc_err pg__run_each(struct store *st, const char *const *sql, size_t n, const char *text)
{
    for (size_t i = 0; i < n; i++) {
        struct pg_args a = {0};
        pg__arg_text(&a, text);
        enum sc_err err = pg__cmd(st, sql[i], &a, NULL);
        if (err)
            return err;
    }
    return SC_OK;
}

enum sc_err pg__exec(struct store *st, const char *sql)
{
    enum sc_err err = SC_OK;
    PGresult *r = run(st, sql, NULL, 0, &err);
    PQclear(r);
    return r ? SC_OK : err;
}

enum sc_err pg__events_lock(struct store *st)
{
    struct pg_store *pg = (struct pg_store *)st;
    if (pg->events_locked)
        return SC_OK;
    struct pg_args a = {0};
    pg__arg_int(&a, PG_LOCK_EVENTS);
    enum sc_err err = pg__cmd(st, "SELECT pg_advisory_xact_lock($1::bigint)", &a, NULL);
    /* and the other processes are told when the transaction commits (once per channel
     * and payload per transaction) */
    if (!err)
        err = pg__cmd(st, "SELECT pg_notify('" PG_CHANNEL "', '')", NULL, NULL);
    if (!err)
        pg->events_locked = 1;
    return err;
}

/* ---- transactions ---- */

static void pg_rollback(struct store *st)
{
    struct pg_store *pg = (struct pg_store *)st;
    PGTransactionStatusType ts = PQtransactionStatus(pg->conn);
    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)
        PQclear(PQexec(pg->conn, "ROLLBACK"));
    st->in_tx = 0;
    pg->events_locked = 0;
}

static enum sc_err pg_begin(struct store *st)
{
    enum sc_err rc = pg__exec(st, "BEGIN");
    if (rc == SC_OK) {
        st->in_tx = 1;
        ((struct pg_store *)st)->events_locked = 0;
    }
    return rc;
}

static enum sc_err pg_commit(struct store *st)
{
    struct pg_store *pg = (struct pg_store *)st;
    PGresult *r = PQexec(pg->conn, "COMMIT");
    enum sc_err rc = SC_OK;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pg__err(st, r);
    else if (strcmp(PQcmdStatus(r), "COMMIT") != 0) {
        /* a statement of the transaction failed: PostgreSQL rolled it back */
        SC_WARN("store.commit_rolled_back", "backend=postgresql");
        rc = SC_ERR_DB;
    }
    PQclear(r);
    if (rc)
        pg_rollback(st);
    else
        store__health_clear();
    st->in_tx = 0;
    pg->events_locked = 0;
    return rc;
}

enum sc_err pg__tx_open(struct store *st, int *own)
{
    *own = !st->in_tx;
    return *own ? pg_begin(st) : SC_OK;
}

enum sc_err pg__tx_close(struct store *st, int own, enum sc_err rc)
{
    if (!own)
        return rc;
    if (rc) {
        pg_rollback(st);
        return rc;
    }
    return pg_commit(st);
}

/* ---- opening and migrations ---- */

static void notice_ignore(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static enum sc_err session_setup(struct pg_store *pg)
{
    PQsetNoticeProcessor(pg->conn, notice_ignore, NULL);
    return pg__exec(&pg->base,
                    store__durability() == STORE_DURABILITY_NORMAL
                        ? "SET synchronous_commit TO off; SET client_encoding TO 'UTF8';"
                          "SET default_transaction_isolation TO 'read committed';"
                          "SET standard_conforming_strings TO on; SET lock_timeout TO '10s';"
                          "SET client_min_messages TO warning; SET jit TO off"
                        : "SET synchronous_commit TO on; SET client_encoding TO 'UTF8';"
                          "SET default_transaction_isolation TO 'read committed';"
                          "SET standard_conforming_strings TO on; SET lock_timeout TO '10s';"
                          "SET client_min_messages TO warning; SET jit TO off");
}

/* 1 when every component is at its latest version (no lock, no DDL needed). */
static int schema_current(struct store *st)
{
    enum sc_err err = SC_OK;
    PGresult *r = pg__run(st, "SELECT to_regclass('schema_version') IS NOT NULL", NULL, &err);
    int exists = r && PQntuples(r) == 1 && pg__col_int(r, 0, 0);
    PQclear(r);
    if (!exists)
        return 0;
    r = pg__run(st, "SELECT component, version FROM schema_version", NULL, &err);
    if (!r)
        return 0;
    int current = 1;
    for (size_t i = 0; i < sizeof components / sizeof components[0] && current; i++) {
        const struct pg_component *c = components[i];
        int found = 0;
        for (int row = 0; row < PQntuples(r); row++)
            if (strcmp(PQgetvalue(r, row, 0), c->name) == 0)
                found = pg__col_int(r, row, 1) == c->migrations[c->count - 1].version;
        current = found;
    }
    PQclear(r);
    return current;
}

static enum sc_err migrate_component(struct store *st, const struct pg_component *c,
                                     struct sc_error *e)
{
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_text(&a, c->name);
    PGresult *r = pg__run(st, "SELECT version FROM schema_version WHERE component = $1", &a, &err);
    if (!r)
        return sc_error_set(e, err, "db", "cannot read the schema version of %s", c->name);
    int64_t current = PQntuples(r) ? pg__col_int(r, 0, 0) : 0;
    PQclear(r);
    if (c->count > 0 && current > c->migrations[c->count - 1].version)
        return store__schema_too_new(c->name, current, c->migrations[c->count - 1].version, e);
    for (int i = 0; i < c->count; i++) {
        const struct pg_migration *m = &c->migrations[i];
        if (m->version <= current)
            continue;
        PGresult *x = PQexec(((struct pg_store *)st)->conn, m->sql);
        if (PQresultStatus(x) != PGRES_COMMAND_OK && PQresultStatus(x) != PGRES_TUPLES_OK) {
            const char *msg = PQresultErrorField(x, PG_DIAG_MESSAGE_PRIMARY);
            err = sc_error_set(e, SC_ERR_DB, "db", "schema migration %s/%d failed: %s", c->name,
                               m->version, msg ? msg : "");
            PQclear(x);
            return err;
        }
        PQclear(x);
        struct pg_args v = {0};
        pg__arg_text(&v, c->name);
        pg__arg_int(&v, m->version);
        if ((err = pg__cmd(st,
                           "INSERT INTO schema_version(component, version) VALUES($1, $2) "
                           "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                           &v, NULL)))
            return sc_error_set(e, err, "db", "cannot record the schema version");
        current = m->version;
    }
    return SC_OK;
}

/* Brings every component up to date. The version check and the migrations run in one
 * transaction under an advisory lock, so several processes starting together apply
 * each migration once (DDL is transactional in PostgreSQL). */
static enum sc_err migrate(struct store *st, struct sc_error *e)
{
    if (schema_current(st))
        return SC_OK;
    enum sc_err rc = pg_begin(st);
    if (rc)
        return sc_error_set(e, rc, "db", "cannot start the schema migrations");
    struct pg_args a = {0};
    pg__arg_int(&a, PG_LOCK_MIGRATE);
    if ((rc = pg__cmd(st, "SELECT pg_advisory_xact_lock($1::bigint)", &a, NULL)) ||
        (rc =
             pg__exec(st, "CREATE TABLE IF NOT EXISTS schema_version ("
                          "component TEXT COLLATE \"C\" PRIMARY KEY, version INTEGER NOT NULL)"))) {
        pg_rollback(st);
        return sc_error_set(e, rc, "db", "cannot lock the database to migrate it");
    }
    for (size_t i = 0; i < sizeof components / sizeof components[0]; i++) {
        if ((rc = migrate_component(st, components[i], e))) {
            pg_rollback(st);
            return rc;
        }
    }
    if ((rc = pg_commit(st)))
        return sc_error_set(e, rc, "db", "cannot commit the schema migrations");
    return SC_OK;
}

static void pg_close(struct store *st)
{
    struct pg_store *pg = (struct pg_store *)st;
    PQfinish(pg->conn);
    free(st->dsn);
    free(pg);
}

static enum sc_err pg_open(const char *dsn, struct store **out, struct sc_error *e)
{
    char shown[512];
    store_dsn_redact(dsn, shown, sizeof shown);
    struct pg_store *pg = calloc(1, sizeof *pg);
    if (!pg)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    struct store *st = &pg->base;
    st->be = &store__pg_backend;
    st->dsn = sc_strdup(dsn);
    /* defaults first: what the DSN says (dbname, expanded) overrides them */
    static const char *const keys[] = {"fallback_application_name", "connect_timeout", "dbname",
                                       NULL};
    const char *values[] = {"scimitar", "10", dsn, NULL};
    pg->conn = PQconnectdbParams(keys, values, 1);
    enum sc_err err = SC_OK;
    if (!st->dsn || PQstatus(pg->conn) != CONNECTION_OK) {
        char msg[400];
        conn_message(pg->conn, msg, sizeof msg);
        err = sc_error_set(e, SC_ERR_DB, "db", "cannot connect to %s: %s", shown, msg);
        goto fail;
    }
    if (PQserverVersion(pg->conn) < 120000) {
        err = sc_error_set(e, SC_ERR_UNSUPPORTED, "db",
                           "%s runs PostgreSQL %d.%d: version 12 or later is needed", shown,
                           PQserverVersion(pg->conn) / 10000, PQserverVersion(pg->conn) % 10000);
        goto fail;
    }
    if ((err = session_setup(pg))) {
        sc_error_set(e, err, "db", "cannot configure the session on %s", shown);
        goto fail;
    }
    if ((err = migrate(st, e)))
        goto fail;
    *out = st;
    return SC_OK;
fail:
    pg_close(st);
    return err;
}

/* ---- health ---- */

static void pg_write_probe(struct store *st)
{
    /* a write that is rolled back, waiting at most a second for a lock held elsewhere
     * (not a failure): catches a read-only or full database and a lost connection */
    struct pg_store *pg = (struct pg_store *)st;
    if (PQstatus(pg->conn) != CONNECTION_OK && reconnect(pg)) {
        pg__err(st, NULL);
        return;
    }
    PGresult *r = PQexec(pg->conn, "BEGIN; SET LOCAL lock_timeout TO '1s'; "
                                   "INSERT INTO settings(key, value) VALUES('health.probe', '1') "
                                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        pg__err(st, r);
    PQclear(r);
    pg_rollback(st);
}

/* ---- settings ---- */

static enum sc_err pg_setting_get(struct store *st, const char *key, char **out)
{
    struct pg_args a = {0};
    pg__arg_text(&a, key);
    return pg__text_row(st, "SELECT value FROM settings WHERE key = $1", &a, out);
}

static enum sc_err pg_setting_lock(struct store *st, const char *key, char **out)
{
    /* the row must exist to be locked */
    struct pg_args a = {0};
    pg__arg_text(&a, key);
    enum sc_err err = pg__cmd(st,
                              "INSERT INTO settings(key, value) VALUES($1, '0') ON CONFLICT(key) "
                              "DO NOTHING",
                              &a, NULL);
    if (err)
        return err;
    struct pg_args b = {0};
    pg__arg_text(&b, key);
    return pg__text_row(st, "SELECT value FROM settings WHERE key = $1 FOR UPDATE", &b, out);
}

static enum sc_err pg_listen(struct store *st, int *fd)
{
    struct pg_store *pg = (struct pg_store *)st;
    enum sc_err err = pg__exec(st, "LISTEN " PG_CHANNEL);
    if (err)
        return err;
    pg->listening = 1;
    *fd = PQsocket(pg->conn);
    return *fd >= 0 ? SC_OK : SC_ERR_UNAVAILABLE;
}

static int pg_notified(struct store *st)
{
    struct pg_store *pg = (struct pg_store *)st;
    int n = 0;
    if (PQstatus(pg->conn) != CONNECTION_OK || !PQconsumeInput(pg->conn))
        return -1; /* a broken connection: the next statement re-opens it (and listens) */
    PGnotify *x;
    while ((x = PQnotifies(pg->conn)) != NULL) {
        n++;
        PQfreemem(x);
    }
    return n;
}

static enum sc_err pg_setting_set(struct store *st, const char *key, const char *value)
{
    struct pg_args a = {0};
    pg__arg_text(&a, key);
    pg__arg_text(&a, value);
    return pg__cmd(st,
                   "INSERT INTO settings(key, value) VALUES($1, $2) "
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                   &a, NULL);
}

const struct store_backend store__pg_backend = {
    .name = "postgresql",
    .open = pg_open,
    .check_shared = NULL,
    .close = pg_close,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .begin_snapshot = store__pg_begin_snapshot,
    .open_elsewhere = NULL,
    .backup = NULL, /* pg_dump and pg_restore (docs/operations.md) */
    .restore = NULL,
    .write_probe = pg_write_probe,
    .setting_get = pg_setting_get,
    .setting_set = pg_setting_set,
    .setting_lock = pg_setting_lock,
    .listen = pg_listen,
    .notified = pg_notified,
    .events = &store__pg_events_ops,
    .directory = &store__pg_directory_ops,
    .provision = &store__pg_provision_ops,
    .sync = &store__pg_sync_ops,
    .target = NULL,
    .table = &store__pg_table_ops,
    .admin = &store__pg_admin_ops,
    .inbound = &store__pg_inbound_ops,
    .groupsync = &store__pg_groupsync_ops,
};
