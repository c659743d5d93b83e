/* scimitar backup PATH and scimitar restore PATH: an online, consistent copy of a SQLite
 * installation's database while serve runs, and its way back into a database file no
 * process has open (admin/backup.h does both). Neither copies the secrets key, which
 * stays apart from the database: backup names the key that goes with the copy, restore
 * the key serve must start with. A PostgreSQL database is refused with the pg_dump /
 * pg_restore procedure to use instead. */
#include "cli/commands.h"
#include "admin/backup.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void backup_usage(FILE *out)
{
    fprintf(out, "usage: scimitar backup PATH [--db sqlite:PATH] [--key-file PATH]\n\n"
                 "Writes a consistent copy of serve's SQLite database to PATH (mode 0600) while\n"
                 "serve runs, with SQLite's online backup API; an existing PATH is replaced once\n"
                 "the copy is complete.\n\n"
                 "  --db DSN         the database (default sqlite:./scimitar.db)\n"
                 "  --key-file PATH  the secrets key serve uses (default: the database path +\n"
                 "                   \".key\"), named in the output: it is not in the copy\n\n"
                 "The secrets key is not in the backup: keep a copy of it, stored apart from\n"
                 "the backups. A PostgreSQL database is backed up with pg_dump.\n");
}

static void restore_usage(FILE *out)
{
    fprintf(out, "usage: scimitar restore PATH --db sqlite:PATH [--replace]\n\n"
                 "Copies the backup at PATH (written by scimitar backup) into the database\n"
                 "file of --db. Stop serve first: a database another process has open is\n"
                 "refused.\n\n"
                 "  --db DSN    the database to restore into (sqlite:PATH; created 0600)\n"
                 "  --replace   overwrite the database --db already holds\n\n"
                 "Then start serve on it with the secrets key of the backed-up installation\n"
                 "(--key-file or SCIMITAR_KEY). A PostgreSQL database is restored with\n"
                 "pg_restore.\n");
}

static void pg_procedure(const char *cmd)
{
    if (strcmp(cmd, "backup") == 0)
        fprintf(stderr, "  pg_dump --format=custom --file=PATH 'postgresql://USER@HOST:PORT/DB'\n"
                        "  (and keep the secrets key: SCIMITAR_KEY or --key-file)\n");
    else
        fprintf(stderr, "  pg_restore --no-owner --dbname='postgresql://USER@HOST:PORT/DB' PATH\n"
                        "  (into an empty database; start serve with the same secrets key)\n");
}

int cli_backup(int argc, char **argv)
{
    const char *dsn = "sqlite:./scimitar.db", *key_file = NULL;
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"key-file", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:k:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dsn = optarg;
            break;
        case 'k':
            key_file = optarg;
            break;
        case 'h':
            backup_usage(stdout);
            return 0;
        default:
            backup_usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "scimitar backup: one backup PATH is required\n\n");
        backup_usage(stderr);
        return 2;
    }
    const char *path = argv[optind];
    struct sc_error e = {0};
    struct admin_backup b;
    enum sc_err err = admin_backup_write(dsn, path, key_file, &b, &e);
    if (err) {
        fprintf(stderr, "scimitar backup: %s\n", e.message);
        if (err == SC_ERR_UNSUPPORTED)
            pg_procedure("backup");
        return err == SC_ERR_INVALID && strcmp(e.field, "db") == 0 ? 2 : 1;
    }
    printf("backup: %s (%lld bytes, mode 0600), a consistent copy of %s\n", path, b.size, dsn + 7);
    if (b.key_env)
        printf("secrets key: SCIMITAR_KEY in serve's environment (not in the backup)\n");
    else
        printf("secrets key: %s (not in the backup)\n", b.key_path);
    printf("Keep a copy of the key, stored apart from the backups: the backup alone does\n"
           "not open the connections' secrets, and the key alone opens nothing.\n");
    return 0;
}

int cli_restore(int argc, char **argv)
{
    const char *dsn = NULL;
    int replace = 0;
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"replace", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:rh", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dsn = optarg;
            break;
        case 'r':
            replace = 1;
            break;
        case 'h':
            restore_usage(stdout);
            return 0;
        default:
            restore_usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1 || !dsn) {
        fprintf(stderr, "scimitar restore: %s\n\n",
                !dsn ? "--db sqlite:PATH is required" : "one backup PATH is required");
        restore_usage(stderr);
        return 2;
    }
    struct sc_error e = {0};
    enum sc_err err = admin_backup_restore(argv[optind], dsn, replace, &e);
    if (err) {
        fprintf(stderr, "scimitar restore: %s\n", e.message);
        if (err == SC_ERR_UNSUPPORTED)
            pg_procedure("restore");
        return err == SC_ERR_INVALID && strcmp(e.field, "db") == 0 ? 2 : 1;
    }
    printf("restored: %s into %s\n", argv[optind], dsn + 7);
    printf("Start serve on it with the secrets key of the installation the backup came\n"
           "from (--key-file PATH or SCIMITAR_KEY).\n");
    return 0;
}
