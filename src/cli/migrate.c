/* scimitar migrate --from sqlite:PATH --to postgresql://...: moves an installation from
 * SQLite to PostgreSQL without importing or provisioning anything again (admin/migrate.h
 * does the work: the checks, the copy in one PostgreSQL transaction, the count after it).
 * Here the options are parsed and the outcome printed: progress to standard error, the
 * counts and the key every node needs to standard output; no secret is ever printed. */
#include "cli/commands.h"
#include "admin/migrate.h"

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>

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

static void on_note(void *arg, const char *option, const char *text)
{
    (void)arg;
    if (*option)
        fprintf(stderr, "scimitar migrate: --%s: %s\n", option, text);
    else
        fprintf(stderr, "scimitar migrate: %s\n", text);
}

static void on_progress(void *arg, const struct admin_migrate_progress *p)
{
    (void)arg;
    if (p->done)
        fprintf(stderr, "scimitar migrate: %s: %" PRId64 " copied (%.1f s)\n", p->label, p->rows,
                p->seconds);
    else
        fprintf(stderr, "scimitar migrate: %s: %" PRId64 " of %" PRId64 " (%.0f%%)\n", p->label,
                p->rows, p->total, p->total ? 100.0 * (double)p->rows / (double)p->total : 100.0);
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
    struct admin_migrate m = {
        .from = from,
        .to = to,
        .key_file = key_file,
        .replace = replace,
        .live = live,
        .note_fn = on_note,
        .progress_fn = on_progress,
    };
    if (admin_migrate_check(&m)) { /* nothing touched: a usage error */
        on_note(NULL, m.option, m.message);
        return 2;
    }
    if (admin_migrate_run(&m)) {
        on_note(NULL, m.option, m.message);
        return 1;
    }
    const char *to_shown = m.to_shown;
    printf("Copied %s into %s in %.1f s:\n", m.path, to_shown, m.seconds);
    for (int i = 0; i < m.n_copied; i++)
        printf("  %-24s %" PRId64 "\n", m.copied[i].label, m.copied[i].rows);
    printf("The admin token is the same (its hash was copied). The leases, resync claims and\n"
           "heartbeat of the server that ran on SQLite were released.\n");
    if (m.key_found) {
        char what[PATH_MAX + 64];
        admin_migrate_key_describe(&m, what, sizeof what);
        if (m.secrets > 0)
            printf("Secrets: %" PRId64 " stored secret%s checked with %s.\n", m.secrets,
                   m.secrets == 1 ? " was" : "s were", what);
        else
            printf("Secrets: none is stored yet; those made from now on are sealed with %s.\n",
                   what);
        if (m.key_env)
            printf("Give every PostgreSQL node the same SCIMITAR_KEY:\n"
                   "  SCIMITAR_KEY=... scimitar serve --db %s\n",
                   to_shown);
        else
            printf("Give every PostgreSQL node this key file (copy it to each, mode 0600):\n"
                   "  scimitar serve --db %s --key-file %s\n",
                   to_shown, m.key_path);
    } else {
        printf("Secrets: none are stored, and there is no key yet. Give every PostgreSQL node "
               "the same new key:\n  scimitar serve --db %s --key-file PATH  (created at the "
               "first start; copy it to the other nodes) or SCIMITAR_KEY\n",
               to_shown);
    }
    return 0;
}
