/* A SQLite installation copied into PostgreSQL: the checks before (source in use, admin
 * token, secrets key, destination empty or replaceable), the copy in one destination
 * transaction, and the count after it. */
#include "admin/migrate.h"
#include "admin/admin.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "provision/connection.h"
#include "provision/secrets.h"
#include "store/store.h"
#include "store/store_copy.h"
#include "store/store_provision.h"
#include "store/store_sync.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static enum sc_err fail(struct admin_migrate *m, enum sc_err rc, const char *option,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Records why the run stopped and returns rc. */
static enum sc_err fail(struct admin_migrate *m, enum sc_err rc, const char *option,
                        const char *fmt, ...)
{
    sc_strlcpy(m->option, option, sizeof m->option);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->message, sizeof m->message, fmt, ap);
    va_end(ap);
    return rc;
}

static void note(struct admin_migrate *m, const char *option, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Tells the caller of a step taken. */
static void note(struct admin_migrate *m, const char *option, const char *fmt, ...)
{
    if (!m->note_fn)
        return;
    struct sc_buf b;
    sc_buf_init(&b, 0);
    va_list ap;
    va_start(ap, fmt);
    sc_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    m->note_fn(m->arg, option, b.data ? b.data : "");
    sc_buf_free(&b);
}

/* The tables of a copy with their rows, as store_copy_count or the copy reports them. */
struct table_counts {
    struct admin_migrate_table t[ADMIN_MIGRATE_MAX_TABLES];
    int n;
};

static void count_table(void *arg, const char *table, const char *label, int64_t rows)
{
    struct table_counts *c = arg;
    if (c->n >= ADMIN_MIGRATE_MAX_TABLES)
        return;
    c->t[c->n++] = (struct admin_migrate_table){.table = table, .label = label, .rows = rows};
}

enum sc_err admin_migrate_check(struct admin_migrate *m)
{
    m->path = NULL;
    store_dsn_redact(m->to, m->to_shown, sizeof m->to_shown);
    if (strncmp(m->from, "sqlite:", 7) != 0) {
        char shown[ADMIN_MIGRATE_DSN_SHOWN];
        store_dsn_redact(m->from, shown, sizeof shown);
        return fail(m, SC_ERR_INVALID, "",
                    "--from must be sqlite:PATH, the database scimitar serve ran on (not '%s')",
                    shown);
    }
    const char *path = m->from + 7;
    if (!*path || strncmp(path, "file:", 5) == 0 || strcmp(path, ":memory:") == 0)
        return fail(m, SC_ERR_INVALID, "", "--from must name a database file: sqlite:PATH");
    if (!store_dsn_is_postgresql(m->to))
        return fail(m, SC_ERR_INVALID, "",
                    "--to must be a PostgreSQL database, postgresql://USER@HOST:PORT/DATABASE or "
                    "postgres://... (not '%s')",
                    m->to_shown);
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return fail(m, SC_ERR_INVALID, "from", "no database file at %s (%s)", path,
                    stat(path, &sb) != 0 ? strerror(errno) : "not a regular file");
    if (sb.st_size == 0)
        return fail(m, SC_ERR_INVALID, "from", "%s is empty, not a database scimitar serve ran on",
                    path);
    m->path = path;
    return SC_OK;
}

void admin_migrate_key_describe(const struct admin_migrate *m, char *buf, size_t n)
{
    if (m->key_env)
        snprintf(buf, n, "SCIMITAR_KEY (the value set in this environment)");
    else
        snprintf(buf, n, "the key file %s", m->key_path);
}

/* Finds the key as serve does, without creating a key file, and loads it into *k (NULL
 * when there is none: fine only while no secret is stored). */
static enum sc_err key_find(struct admin_migrate *m, struct secrets_key **k)
{
    const char *env = getenv("SCIMITAR_KEY");
    m->key_env = env && *env;
    if (m->key_file)
        sc_strlcpy(m->key_path, m->key_file, sizeof m->key_path);
    else
        snprintf(m->key_path, sizeof m->key_path, "%s.key", m->path);
    char full[PATH_MAX];
    if (realpath(m->key_path, full))
        sc_strlcpy(m->key_path, full, sizeof m->key_path);
    struct stat sb;
    int exists = stat(m->key_path, &sb) == 0;
    if (!m->key_env && !exists) {
        if (m->key_file)
            return fail(m, SC_ERR_NOT_FOUND, "key-file", "no key file at %s", m->key_path);
        return SC_OK;
    }
    struct sc_error e = {0};
    enum sc_err rc = secrets_key_load(m->key_env ? NULL : m->key_path, k, &e);
    if (rc)
        return fail(m, rc, "", "%s", e.message);
    m->key_found = 1;
    return SC_OK;
}

/* Checks that k (NULL: no key) opens every stored secret of every connection in src;
 * m->secrets gets how many there are. */
static enum sc_err key_check(struct admin_migrate *m, struct store *src,
                             const struct secrets_key *k)
{
    char cursor[STORE_CURSOR_MAX] = "", next[STORE_CURSOR_MAX] = "";
    struct secrets_key *none = NULL;
    enum sc_err rc = SC_OK;
    if (!k) { /* no key: any secret found is one no key at hand opens (a key of zeros
                 stands in, so that finding one fails) */
        unsigned char raw[SECRETS_KEY_BYTES] = {0};
        if (secrets_key_from_bytes(raw, &none))
            return fail(m, SC_ERR_NOMEM, "", "out of memory");
        k = none;
    }
    char what[PATH_MAX + 64];
    admin_migrate_key_describe(m, what, sizeof what);
    m->secrets = 0;
    do {
        struct store_connection *v = NULL;
        size_t nv = 0;
        rc = store_connection_list(src, cursor[0] ? cursor : NULL, 100, &v, &nv, next);
        if (rc) {
            fail(m, rc, "from", "cannot read the connections (%s)", sc_strerror(rc));
            goto done;
        }
        for (size_t i = 0; i < nv; i++) {
            json_t *sealed = NULL;
            size_t n = 0;
            struct sc_error e = {0};
            rc = sc_json_parse(v[i].config, strlen(v[i].config), 0, &sealed, &e);
            if (!rc)
                rc = connection_check_sealed(k, sealed, &n, &e);
            json_decref(sealed);
            if (rc == SC_ERR_CRYPTO && !m->key_found)
                fail(m, rc, "",
                     "connection '%s' (%s) has stored secrets, and there is no key to open "
                     "them: neither SCIMITAR_KEY nor the key file %s; give the key that sealed "
                     "them with --key-file PATH or SCIMITAR_KEY",
                     v[i].name, v[i].id, m->key_path);
            else if (rc == SC_ERR_CRYPTO)
                fail(m, rc, "",
                     "%s does not open the stored secrets of connection '%s' (%s): give the "
                     "key that sealed them (--key-file PATH or SCIMITAR_KEY); nothing was "
                     "copied",
                     what, v[i].name, v[i].id);
            else if (rc)
                fail(m, rc, "", "the stored document of connection '%s' (%s) cannot be read (%s)",
                     v[i].name, v[i].id, sc_strerror(rc));
            if (rc) {
                store_connections_free(v, nv);
                goto done;
            }
            m->secrets += (int64_t)n;
        }
        store_connections_free(v, nv);
        sc_strlcpy(cursor, next, sizeof cursor);
    } while (cursor[0]);
done:
    secrets_key_free(none);
    return rc;
}

/* Refuses a destination that holds scimitar data, or with m->replace deletes it (unless
 * a node may still be running on it). */
static enum sc_err destination_prepare(struct admin_migrate *m, struct store *dst)
{
    struct table_counts have = {0};
    enum sc_err rc = store_copy_count(dst, count_table, &have);
    if (rc)
        return fail(m, rc, "to", "cannot read the destination (%s)", sc_strerror(rc));
    struct sc_buf found;
    sc_buf_init(&found, 0);
    for (int i = 0; i < have.n; i++)
        if (have.t[i].rows > 0)
            sc_buf_printf(&found, "%s%" PRId64 " %s", found.len ? ", " : "", have.t[i].rows,
                          have.t[i].label);
    struct store_node *nodes = NULL;
    size_t n = 0;
    if (found.len && !m->replace) {
        rc = fail(m, SC_ERR_CONFLICT, "to",
                  "the destination already holds scimitar data (%s): migrate into an empty "
                  "database, or pass --replace to delete that data in the same transaction as "
                  "the copy",
                  found.data);
    } else if (found.len) {
        int64_t now = sc_clock_now_ms();
        rc = store_sync_node_list(dst, now - ADMIN_MIGRATE_LIVE_NODE_MS, &nodes, &n);
        if (rc)
            fail(m, rc, "to", "cannot read the destination's nodes (%s)", sc_strerror(rc));
        else if (n > 0)
            rc = fail(m, SC_ERR_CONFLICT, "replace",
                      "a scimitar serve (node %s, %s) used the destination %" PRId64
                      " s ago: stop every server on it first",
                      nodes[0].id, nodes[0].listen[0] ? nodes[0].listen : "address unknown",
                      (now - nodes[0].last_seen_at) / 1000);
        else if ((rc = store_copy_clear(dst)))
            fail(m, rc, "to", "cannot delete the destination's data (%s)", sc_strerror(rc));
        else
            note(m, "replace", "deleting what the destination held (%s)", found.data);
    }
    free(nodes);
    sc_buf_free(&found);
    return rc;
}

/* What the copy left that belonged to the processes that ran on the source: leases of
 * outbox items and resync claims (released: no process holds them now) and the nodes'
 * heartbeats (forgotten). */
static enum sc_err release_source_runtime(struct store *dst)
{
    enum sc_err rc = store_sync_node_reap(dst, INT64_MAX, NULL);
    if (!rc)
        rc = store_sync_outbox_release_all(dst, NULL);
    return rc;
}

/* Checks that dst holds as many rows per table as the copy wrote. */
static enum sc_err destination_verify(struct admin_migrate *m, struct store *dst)
{
    struct table_counts have = {0};
    enum sc_err rc = store_copy_count(dst, count_table, &have);
    if (rc)
        return fail(m, rc, "to", "cannot count the copy (%s)", sc_strerror(rc));
    for (int i = 0; i < have.n && i < m->n_copied; i++)
        if (strcmp(have.t[i].table, m->copied[i].table) != 0 || have.t[i].rows != m->copied[i].rows)
            return fail(m, SC_ERR_DB, "to",
                        "the destination holds %" PRId64 " %s after the copy of %" PRId64
                        ": nothing was copied",
                        have.t[i].rows, have.t[i].label, m->copied[i].rows);
    if (have.n != m->n_copied)
        return fail(m, SC_ERR_DB, "to", "not every table was copied");
    return SC_OK;
}

struct copy_run {
    struct admin_migrate *m;
    int64_t started_ms;
};

static void on_copy_progress(void *arg, const struct store_copy_progress *p)
{
    struct copy_run *r = arg;
    struct admin_migrate *m = r->m;
    if (p->done && m->n_copied < ADMIN_MIGRATE_MAX_TABLES)
        m->copied[m->n_copied++] =
            (struct admin_migrate_table){.table = p->table, .label = p->label, .rows = p->rows};
    if (m->progress_fn && (p->done || p->rows > 0)) {
        struct admin_migrate_progress q = {
            .label = p->label,
            .rows = p->rows,
            .total = p->total,
            .done = p->done,
            .seconds = (double)(sc_clock_mono_ms() - r->started_ms) / 1000.0,
        };
        m->progress_fn(m->arg, &q);
    }
}

enum sc_err admin_migrate_run(struct admin_migrate *m)
{
    struct store *src = NULL, *dst = NULL;
    struct secrets_key *key = NULL;
    struct copy_run run = {.m = m, .started_ms = sc_clock_mono_ms()};
    struct sc_error e = {0};
    const char *path = m->path;
    m->n_copied = 0;
    m->secrets = 0;
    m->key_found = m->key_env = 0;
    m->key_path[0] = '\0';
    m->option[0] = m->message[0] = '\0';
    /* before this process opens it: see store_open_elsewhere */
    int elsewhere = 0;
    enum sc_err rc = store_open_elsewhere(m->from, &elsewhere);
    if (rc) {
        fail(m, rc, "from", "cannot tell whether %s is in use (%s)", path, sc_strerror(rc));
        goto done;
    }
    if (elsewhere && !m->live) {
        rc = fail(m, SC_ERR_CONFLICT, "from",
                  "another process has %s open (a running scimitar serve?): stop it first, so "
                  "that nothing changes after the copy (--live copies a snapshot anyway, for a "
                  "rehearsal)",
                  path);
        goto done;
    }
    if (elsewhere)
        note(m, "live",
             "another process has %s open; copying a snapshot: what it writes from now on is "
             "not copied",
             path);
    if ((rc = store_open(m->from, &src, &e))) {
        fail(m, rc, "from", "%s", e.message);
        goto done;
    }
    if ((rc = store_begin_snapshot(src))) {
        fail(m, rc, "from", "cannot read %s in one snapshot (%s)", path, sc_strerror(rc));
        goto done;
    }
    int has_token = 0;
    if ((rc = admin_token_stored(src, &has_token))) {
        fail(m, rc, "from", "cannot read the settings of %s (%s)", path, sc_strerror(rc));
        goto done;
    }
    if (!has_token) {
        rc = fail(m, SC_ERR_INVALID, "from",
                  "%s holds no admin token: it is not a database scimitar serve ran on", path);
        goto done;
    }
    if ((rc = key_find(m, &key)) || (rc = key_check(m, src, key)))
        goto done;

    if ((rc = store_open(m->to, &dst, &e))) {
        fail(m, rc, "to", "%s", e.message);
        goto done;
    }
    if ((rc = store_begin(dst))) {
        fail(m, rc, "to", "cannot start a transaction on %s (%s)", m->to_shown, sc_strerror(rc));
        goto done;
    }
    if ((rc = destination_prepare(m, dst)))
        goto done;
    note(m, "", "copying %s into %s", path, m->to_shown);
    if ((rc = store_copy(src, dst, on_copy_progress, &run, &e))) {
        fail(m, rc, e.field, "%s; nothing was copied", e.message);
        goto done;
    }
    if ((rc = destination_verify(m, dst)))
        goto done;
    if ((rc = release_source_runtime(dst))) {
        fail(m, rc, "to", "cannot release the source's leases (%s)", sc_strerror(rc));
        goto done;
    }
    if ((rc = store_commit(dst))) {
        fail(m, rc, "to", "the copy did not commit (%s); nothing was copied", sc_strerror(rc));
        goto done;
    }
    store_rollback(src);
    m->seconds = (double)(sc_clock_mono_ms() - run.started_ms) / 1000.0;
done:
    if (dst && store_in_transaction(dst))
        store_rollback(dst);
    if (src && store_in_transaction(src))
        store_rollback(src);
    store_close(dst);
    store_close(src);
    secrets_key_free(key);
    return rc;
}
