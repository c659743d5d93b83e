/* Fresh databases for the store's unit tests, on the back-end the run asks for: a private
 * SQLite database by default, or a new database of a PostgreSQL server when
 * SCIMITAR_TEST_PG_DSN holds its admin DSN (CTest's unit-pg/store/... tests run through
 * `pgcluster.py run`, which starts the cluster and sets it). The same tests then check
 * both back-ends against one contract. */
#ifndef SC_TESTS_STORETEST_H
#define SC_TESTS_STORETEST_H

#include "store/store.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The admin DSN of the PostgreSQL server under test, or NULL for SQLite. */
static const char *storetest_pg(void)
{
    const char *d = getenv("SCIMITAR_TEST_PG_DSN");
    return d && *d ? d : NULL;
}

/* Runs one statement on the admin database; 0 when it worked. */
static int storetest_admin(const char *sql)
{
    PGconn *c = PQconnectdb(storetest_pg());
    int ok = PQstatus(c) == CONNECTION_OK;
    if (ok) {
        PGresult *r = PQexec(c, sql);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
        if (!ok)
            fprintf(stderr, "storetest: %s: %s", sql, PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
    return ok ? 0 : -1;
}

/* Writes into dsn (size n) the DSN of a new empty database (a SQLite file, or a
 * PostgreSQL database). 0 when it worked. */
static int storetest_dsn_new(char *dsn, size_t n)
{
    static int counter;
    const char *admin = storetest_pg();
    if (!admin) {
        char path[] = "/tmp/scimitar-storetest-XXXXXX";
        int fd = mkstemp(path);
        if (fd < 0)
            return -1;
        close(fd);
        snprintf(dsn, n, "sqlite:%s", path);
        return 0;
    }
    char name[64], sql[128];
    snprintf(name, sizeof name, "u_%d_%d", (int)getpid(), ++counter);
    snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\"", name);
    if (storetest_admin(sql))
        return -1;
    const char *slash = strrchr(admin, '/');
    snprintf(dsn, n, "%.*s/%s", (int)(slash - admin), admin, name);
    return 0;
}

/* Removes the database of a DSN from storetest_dsn_new (no store may use it). */
static void storetest_dsn_drop(const char *dsn)
{
    if (strncmp(dsn, "sqlite:", 7) == 0) {
        char side[512];
        unlink(dsn + 7);
        snprintf(side, sizeof side, "%s-wal", dsn + 7);
        unlink(side);
        snprintf(side, sizeof side, "%s-shm", dsn + 7);
        unlink(side);
        return;
    }
    char sql[160];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", strrchr(dsn, '/') + 1);
    storetest_admin(sql);
}

/* A store on a fresh database for one test, and its DSN (for more connections). */
struct storetest {
    struct store *st;
    char dsn[256];
};

static struct storetest *storetest_open(void)
{
    struct storetest *t = calloc(1, sizeof *t);
    struct sc_error e = {0};
    if (!t)
        return NULL;
    if (!storetest_pg())
        snprintf(t->dsn, sizeof t->dsn, "sqlite::memory:");
    else if (storetest_dsn_new(t->dsn, sizeof t->dsn)) {
        free(t);
        return NULL;
    }
    if (store_open(t->dsn, &t->st, &e)) {
        fprintf(stderr, "storetest: %s\n", e.message);
        free(t);
        return NULL;
    }
    return t;
}

static void storetest_close(struct storetest *t)
{
    if (!t)
        return;
    store_close(t->st);
    if (storetest_pg())
        storetest_dsn_drop(t->dsn);
    free(t);
}

/* cmocka setup and teardown of a test on a fresh store (*state is the store). */
static inline struct storetest **storetest_slot(void)
{
    static struct storetest *current;
    return &current;
}

static inline int storetest_setup(void **state)
{
    struct storetest **slot = storetest_slot();
    if (!(*slot = storetest_open()))
        return -1;
    *state = (*slot)->st;
    return 0;
}

static inline int storetest_teardown(void **state)
{
    (void)state;
    storetest_close(*storetest_slot());
    *storetest_slot() = NULL;
    return 0;
}

#endif
