/* scimitar migrate --from sqlite:PATH --to postgresql://...: moves an installation from
 * SQLite to PostgreSQL without importing or provisioning anything again. It reads the
 * SQLite database in one snapshot (and refuses while another process has it open,
 * unless --live), checks that the secrets key opens every stored secret, runs the
 * PostgreSQL migrations, and copies every table (store_copy: the directory, the
 * configuration with its sealed secrets and the admin token's hash, the sync state with
 * the event cursor, links, digests, pending outbox work and the log) inside one
 * PostgreSQL transaction, into a database that holds no scimitar data (or whose data
 * --replace deletes in that same transaction). Leases and resync claims of the engine
 * that ran on SQLite are released: no process holds them any more. Progress goes to
 * standard error, the counts and the key every node needs to standard output; no
 * secret is ever printed. */
#include "cli/commands.h"
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
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A node whose heartbeat is this recent may still be running (--replace refuses). */
#define MIGRATE_LIVE_NODE_MS 15000

static void migrate_usage(FILE *out)
{
    fprintf(out,
            "usage: scimitar migrate --from sqlite:PATH --to postgresql://USER@HOST:PORT/DATABASE\n"
            "                        [--key-file PATH] [--replace] [--live]\n\n"
            "Copies the SQLite database of a scimitar serve into a PostgreSQL database: the\n"
            "directory, the connections with their sealed secrets, rules, mappings, settings\n"
            "and the admin token's hash, and the sync state (links, digests, the event\n"
            "cursor, pending work, the provisioning log), with their ids, times and numbers.\n"
            "The first sync on PostgreSQL then sends nothing the target already has.\n\n"
            "  --from sqlite:PATH  the database scimitar serve ran on; stop serve first\n"
            "  --to DSN            the PostgreSQL database (postgresql:// or postgres://,\n"
            "                      libpq's URI); its tables are created or migrated, and it\n"
            "                      must hold no scimitar data\n"
            "  --key-file PATH     the secrets key that sealed the stored secrets (default:\n"
            "                      the database path + \".key\"; SCIMITAR_KEY in the\n"
            "                      environment overrides it, as for serve)\n"
            "  --replace           delete the scimitar data the destination holds, in the\n"
            "                      same transaction as the copy (a failed copy keeps it)\n"
            "  --live              copy a snapshot although another process has the SQLite\n"
            "                      database open (a rehearsal: what it writes afterwards is\n"
            "                      not copied)\n\n"
            "Everything is copied in one PostgreSQL transaction: a failure leaves the\n"
            "destination as it was. Exit status 0 when copied, 1 when it failed, 2 for a\n"
            "usage error. Every PostgreSQL node needs the key this command names.\n");
}

/* The counts of the copy, by table, as store_copy reported them. */
#define MIGRATE_MAX_TABLES 32
struct migrate_counts {
    const char *table[MIGRATE_MAX_TABLES];
    const char *label[MIGRATE_MAX_TABLES];
    int64_t rows[MIGRATE_MAX_TABLES];
    int n;
};

static void count_table(void *arg, const char *table, const char *label, int64_t rows)
{
    struct migrate_counts *c = arg;
    if (c->n >= MIGRATE_MAX_TABLES)
        return;
    c->table[c->n] = table;
    c->label[c->n] = label;
    c->rows[c->n++] = rows;
}

struct migrate_run {
    struct migrate_counts copied;
    int64_t started_ms;
};

static void on_progress(void *arg, const struct store_copy_progress *p)
{
    struct migrate_run *r = arg;
    double s = (double)(sc_clock_mono_ms() - r->started_ms) / 1000.0;
    if (p->done) {
        count_table(&r->copied, p->table, p->label, p->rows);
        fprintf(stderr, "scimitar migrate: %s: %" PRId64 " copied (%.1f s)\n", p->label, p->rows,
                s);
    } else if (p->rows > 0) {
        fprintf(stderr, "scimitar migrate: %s: %" PRId64 " of %" PRId64 " (%.0f%%)\n", p->label,
                p->rows, p->total, p->total ? 100.0 * (double)p->rows / (double)p->total : 100.0);
    }
}

/* Where the secrets key comes from, as serve finds it. */
struct migrate_key {
    const char *env;     /* SCIMITAR_KEY when set */
    char path[PATH_MAX]; /* else the key file */
    int exists;          /* the key file is there */
    struct secrets_key *k;
};

/* Finds and loads the key without creating a key file. 0, or 1 with a message printed. */
static int key_find(const char *key_file, const char *db_path, struct migrate_key *key)
{
    const char *env = getenv("SCIMITAR_KEY");
    key->env = env && *env ? env : NULL;
    if (key_file)
        sc_strlcpy(key->path, key_file, sizeof key->path);
    else
        snprintf(key->path, sizeof key->path, "%s.key", db_path);
    char full[PATH_MAX];
    if (realpath(key->path, full))
        sc_strlcpy(key->path, full, sizeof key->path);
    struct stat sb;
    key->exists = stat(key->path, &sb) == 0;
    if (!key->env && !key->exists) {
        if (key_file) {
            fprintf(stderr, "scimitar migrate: --key-file: no key file at %s\n", key->path);
            return 1;
        }
        return 0; /* no key at all: fine only while no secret is stored */
    }
    struct sc_error e = {0};
    if (secrets_key_load(key->env ? NULL : key->path, &key->k, &e)) {
        fprintf(stderr, "scimitar migrate: %s\n", e.message);
        return 1;
    }
    return 0;
}

static void key_describe(const struct migrate_key *key, char *buf, size_t n)
{
    if (key->env)
        snprintf(buf, n, "SCIMITAR_KEY (the value set in this environment)");
    else
        snprintf(buf, n, "the key file %s", key->path);
}

/* Checks that the key opens every stored secret of every connection in src; *secrets
 * gets how many there are. 0, or 1 with a message printed. */
static int key_check(struct store *src, const struct migrate_key *key, int64_t *secrets)
{
    char cursor[STORE_CURSOR_MAX] = "", next[STORE_CURSOR_MAX] = "";
    struct secrets_key *none = NULL;
    const struct secrets_key *k = key->k;
    int status = 1;
    if (!k) { /* no key: any secret found is one no key at hand opens (a key of zeros
                 stands in, so that finding one fails) */
        unsigned char raw[SECRETS_KEY_BYTES] = {0};
        if (secrets_key_from_bytes(raw, &none)) {
            fprintf(stderr, "scimitar migrate: out of memory\n");
            return 1;
        }
        k = none;
    }
    char what[PATH_MAX + 64];
    key_describe(key, what, sizeof what);
    *secrets = 0;
    do {
        struct store_connection *v = NULL;
        size_t nv = 0;
        enum sc_err rc = store_connection_list(src, cursor[0] ? cursor : NULL, 100, &v, &nv, next);
        if (rc) {
            fprintf(stderr, "scimitar migrate: --from: cannot read the connections (%s)\n",
                    sc_strerror(rc));
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
            if (rc == SC_ERR_CRYPTO && !key->k)
                fprintf(stderr,
                        "scimitar migrate: connection '%s' (%s) has stored secrets, and there "
                        "is no key to open them: neither SCIMITAR_KEY nor the key file %s; "
                        "give the key that sealed them with --key-file PATH or SCIMITAR_KEY\n",
                        v[i].name, v[i].id, key->path);
            else if (rc == SC_ERR_CRYPTO)
                fprintf(stderr,
                        "scimitar migrate: %s does not open the stored secrets of connection "
                        "'%s' (%s): give the key that sealed them (--key-file PATH or "
                        "SCIMITAR_KEY); nothing was copied\n",
                        what, v[i].name, v[i].id);
            else if (rc)
                fprintf(stderr,
                        "scimitar migrate: the stored document of connection '%s' (%s) cannot "
                        "be read (%s)\n",
                        v[i].name, v[i].id, sc_strerror(rc));
            if (rc) {
                store_connections_free(v, nv);
                goto done;
            }
            *secrets += (int64_t)n;
        }
        store_connections_free(v, nv);
        sc_strlcpy(cursor, next, sizeof cursor);
    } while (cursor[0]);
    status = 0;
done:
    secrets_key_free(none);
    return status;
}

/* Refuses a destination that holds scimitar data, or with replace deletes it (unless a
 * node may still be running on it). 0, or 1 with a message printed. */
static int destination_prepare(struct store *dst, int replace)
{
    struct migrate_counts have = {0};
    enum sc_err rc = store_copy_count(dst, count_table, &have);
    if (rc) {
        fprintf(stderr, "scimitar migrate: --to: cannot read the destination (%s)\n",
                sc_strerror(rc));
        return 1;
    }
    struct sc_buf found;
    sc_buf_init(&found, 0);
    for (int i = 0; i < have.n; i++)
        if (have.rows[i] > 0)
            sc_buf_printf(&found, "%s%" PRId64 " %s", found.len ? ", " : "", have.rows[i],
                          have.label[i]);
    int status = 0;
    if (found.len && !replace) {
        fprintf(stderr,
                "scimitar migrate: --to: the destination already holds scimitar data (%s): "
                "migrate into an empty database, or pass --replace to delete that data in the "
                "same transaction as the copy\n",
                found.data);
        status = 1;
    } else if (found.len) {
        struct store_node *nodes = NULL;
        size_t n = 0;
        int64_t now = sc_clock_now_ms();
        rc = store_sync_node_list(dst, now - MIGRATE_LIVE_NODE_MS, &nodes, &n);
        if (rc) {
            fprintf(stderr, "scimitar migrate: --to: cannot read the destination's nodes (%s)\n",
                    sc_strerror(rc));
            status = 1;
        } else if (n > 0) {
            fprintf(stderr,
                    "scimitar migrate: --replace: a scimitar serve (node %s, %s) used the "
                    "destination %" PRId64 " s ago: stop every server on it first\n",
                    nodes[0].id, nodes[0].listen[0] ? nodes[0].listen : "address unknown",
                    (now - nodes[0].last_seen_at) / 1000);
            status = 1;
        } else if ((rc = store_copy_clear(dst))) {
            fprintf(stderr, "scimitar migrate: --to: cannot delete the destination's data (%s)\n",
                    sc_strerror(rc));
            status = 1;
        } else {
            fprintf(stderr,
                    "scimitar migrate: --replace: deleting what the destination held (%s)\n",
                    found.data);
        }
        free(nodes);
    }
    sc_buf_free(&found);
    return status;
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
static int destination_verify(struct store *dst, const struct migrate_counts *copied)
{
    struct migrate_counts have = {0};
    enum sc_err rc = store_copy_count(dst, count_table, &have);
    if (rc) {
        fprintf(stderr, "scimitar migrate: --to: cannot count the copy (%s)\n", sc_strerror(rc));
        return 1;
    }
    for (int i = 0; i < have.n && i < copied->n; i++)
        if (strcmp(have.table[i], copied->table[i]) != 0 || have.rows[i] != copied->rows[i]) {
            fprintf(stderr,
                    "scimitar migrate: --to: the destination holds %" PRId64 " %s after the copy "
                    "of %" PRId64 ": nothing was copied\n",
                    have.rows[i], have.label[i], copied->rows[i]);
            return 1;
        }
    if (have.n != copied->n) {
        fprintf(stderr, "scimitar migrate: --to: not every table was copied\n");
        return 1;
    }
    return 0;
}

int cli_migrate(int argc, char **argv)
{
    const char *from = NULL, *to = NULL, *key_file = NULL;
    int replace = 0, live = 0;
    static const struct option opts[] = {
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"key-file", required_argument, NULL, 'k'},
        {"replace", no_argument, NULL, 'R'},
        {"live", no_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            from = optarg;
            break;
        case 't':
            to = optarg;
            break;
        case 'k':
            key_file = optarg;
            break;
        case 'R':
            replace = 1;
            break;
        case 'L':
            live = 1;
            break;
        case 'h':
            migrate_usage(stdout);
            return 0;
        default:
            migrate_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "scimitar migrate: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!from || !to) {
        fprintf(stderr, "scimitar migrate: %s is required\n\n",
                !from ? "--from sqlite:PATH" : "--to postgresql://...");
        migrate_usage(stderr);
        return 2;
    }
    char to_shown[512];
    store_dsn_redact(to, to_shown, sizeof to_shown);
    if (strncmp(from, "sqlite:", 7) != 0) {
        char shown[512];
        store_dsn_redact(from, shown, sizeof shown);
        fprintf(stderr,
                "scimitar migrate: --from must be sqlite:PATH, the database scimitar serve ran "
                "on (not '%s')\n",
                shown);
        return 2;
    }
    const char *path = from + 7;
    if (!*path || strncmp(path, "file:", 5) == 0 || strcmp(path, ":memory:") == 0) {
        fprintf(stderr, "scimitar migrate: --from must name a database file: sqlite:PATH\n");
        return 2;
    }
    if (!store_dsn_is_postgresql(to)) {
        fprintf(stderr,
                "scimitar migrate: --to must be a PostgreSQL database, "
                "postgresql://USER@HOST:PORT/DATABASE or postgres://... (not '%s')\n",
                to_shown);
        return 2;
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fprintf(stderr, "scimitar migrate: --from: no database file at %s (%s)\n", path,
                stat(path, &sb) != 0 ? strerror(errno) : "not a regular file");
        return 2;
    }
    if (sb.st_size == 0) {
        fprintf(stderr,
                "scimitar migrate: --from: %s is empty, not a database scimitar serve ran on\n",
                path);
        return 2;
    }

    int status = 1;
    struct store *src = NULL, *dst = NULL;
    struct migrate_key key = {0};
    struct migrate_run run = {.started_ms = sc_clock_mono_ms()};
    struct sc_error e = {0};
    /* before this process opens it: see store_open_elsewhere */
    int elsewhere = 0;
    enum sc_err rc = store_open_elsewhere(from, &elsewhere);
    if (rc) {
        fprintf(stderr, "scimitar migrate: --from: cannot tell whether %s is in use (%s)\n", path,
                sc_strerror(rc));
        goto done;
    }
    if (elsewhere && !live) {
        fprintf(stderr,
                "scimitar migrate: --from: another process has %s open (a running scimitar "
                "serve?): stop it first, so that nothing changes after the copy (--live copies "
                "a snapshot anyway, for a rehearsal)\n",
                path);
        goto done;
    }
    if (elsewhere)
        fprintf(stderr,
                "scimitar migrate: --live: another process has %s open; copying a "
                "snapshot: what it writes from now on is not copied\n",
                path);
    if ((rc = store_open(from, &src, &e))) {
        fprintf(stderr, "scimitar migrate: --from: %s\n", e.message);
        goto done;
    }
    if ((rc = store_begin_snapshot(src))) {
        fprintf(stderr, "scimitar migrate: --from: cannot read %s in one snapshot (%s)\n", path,
                sc_strerror(rc));
        goto done;
    }
    int has_token = 0;
    if ((rc = admin_token_stored(src, &has_token))) {
        fprintf(stderr, "scimitar migrate: --from: cannot read the settings of %s (%s)\n", path,
                sc_strerror(rc));
        goto done;
    }
    if (!has_token) {
        fprintf(stderr,
                "scimitar migrate: --from: %s holds no admin token: it is not a database "
                "scimitar serve ran on\n",
                path);
        goto done;
    }
    int64_t secrets = 0;
    if (key_find(key_file, path, &key) || key_check(src, &key, &secrets))
        goto done;

    if ((rc = store_open(to, &dst, &e))) {
        fprintf(stderr, "scimitar migrate: --to: %s\n", e.message);
        goto done;
    }
    if ((rc = store_begin(dst))) {
        fprintf(stderr, "scimitar migrate: --to: cannot start a transaction on %s (%s)\n", to_shown,
                sc_strerror(rc));
        goto done;
    }
    if (destination_prepare(dst, replace))
        goto done;
    fprintf(stderr, "scimitar migrate: copying %s into %s\n", path, to_shown);
    if ((rc = store_copy(src, dst, on_progress, &run, &e))) {
        fprintf(stderr, "scimitar migrate: --%s: %s; nothing was copied\n", e.field, e.message);
        goto done;
    }
    if (destination_verify(dst, &run.copied))
        goto done;
    if ((rc = release_source_runtime(dst))) {
        fprintf(stderr, "scimitar migrate: --to: cannot release the source's leases (%s)\n",
                sc_strerror(rc));
        goto done;
    }
    if ((rc = store_commit(dst))) {
        fprintf(stderr,
                "scimitar migrate: --to: the copy did not commit (%s); nothing was "
                "copied\n",
                sc_strerror(rc));
        goto done;
    }
    store_rollback(src);

    printf("Copied %s into %s in %.1f s:\n", path, to_shown,
           (double)(sc_clock_mono_ms() - run.started_ms) / 1000.0);
    for (int i = 0; i < run.copied.n; i++)
        printf("  %-24s %" PRId64 "\n", run.copied.label[i], run.copied.rows[i]);
    printf("The admin token is the same (its hash was copied). The leases, resync claims and\n"
           "heartbeat of the server that ran on SQLite were released.\n");
    if (key.k) {
        char what[PATH_MAX + 64];
        key_describe(&key, what, sizeof what);
        if (secrets > 0)
            printf("Secrets: %" PRId64 " stored secret%s checked with %s.\n", secrets,
                   secrets == 1 ? " was" : "s were", what);
        else
            printf("Secrets: none is stored yet; those made from now on are sealed with %s.\n",
                   what);
        if (key.env)
            printf("Give every PostgreSQL node the same SCIMITAR_KEY:\n"
                   "  SCIMITAR_KEY=... scimitar serve --db %s\n",
                   to_shown);
        else
            printf("Give every PostgreSQL node this key file (copy it to each, mode 0600):\n"
                   "  scimitar serve --db %s --key-file %s\n",
                   to_shown, key.path);
    } else {
        printf("Secrets: none are stored, and there is no key yet. Give every PostgreSQL node "
               "the same new key:\n  scimitar serve --db %s --key-file PATH  (created at the "
               "first start; copy it to the other nodes) or SCIMITAR_KEY\n",
               to_shown);
    }
    status = 0;
done:
    if (dst && store_in_transaction(dst))
        store_rollback(dst);
    if (src && store_in_transaction(src))
        store_rollback(src);
    store_close(dst);
    store_close(src);
    secrets_key_free(key.k);
    return status;
}
