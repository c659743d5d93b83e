/* The scimitar binary: dispatches to a subcommand by its name. The command table below
 * is the one list of subcommands: `scimitar help` prints it. */
#include "cli/commands.h"
#include "base/id.h"
#include "http/client.h"

#include <stdio.h>
#include <string.h>

#ifndef SCIMITAR_VERSION
#define SCIMITAR_VERSION "0.1.0"
#endif

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"serve", cli_serve, "run the daemon: admin REST API, web console, provisioning engine"},
    {"config", cli_config, "check a configuration file: `config check --config PATH`"},
    {"target", cli_target, "run the built-in SCIM 2.0 service provider (a stand-in app)"},
    {"demo", cli_demo, "run the whole seed walkthrough on this machine"},
    {"migrate", cli_migrate, "move a SQLite installation to PostgreSQL (--from, --to)"},
    {"backup", cli_backup, "copy the SQLite database to PATH while serve runs"},
    {"restore", cli_restore, "put a backup back: restore PATH --db sqlite:PATH"},
    {"users", cli_resource, "list, get, create, update, delete directory users"},
    {"populations", cli_resource, "list, get, create, update, delete populations"},
    {"groups", cli_resource, "list, get, create, update, delete groups and members"},
    {"connections", cli_resource, "manage provisioning connections; `connections test ID`"},
    {"rules", cli_resource, "manage provisioning rules; resync, status, filter, mappings"},
    {"tokens", cli_resource, "create, list, revoke named admin tokens"},
    {"inbound-tokens", cli_resource, "create, list, revoke inbound SCIM tokens (/scim/v2)"},
    {"import", cli_import, "bulk load users from FILE.csv or FILE.json (JSON lines)"},
    {"logs", cli_logs, "show the provisioning log"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: scimitar COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-12s %s\n  %-12s %s\n", "help", "show this list", "version",
            "print the version");
    fprintf(out, "\n`scimitar COMMAND --help` describes a command's options.\n"
                 "Client commands talk to --server URL (default http://127.0.0.1:8080,\n"
                 "or SCIMITAR_SERVER) with the admin token from SCIMITAR_TOKEN.\n");
}

int main(int argc, char **argv)
{
    if (sc_crypto_init() != 0) {
        fprintf(stderr, "scimitar: cannot initialise libsodium\n");
        return 1;
    }
    http_client_global_init();
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        if (argc >= 3) {
            char *sub[] = {argv[2], "--help", NULL};
            for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
                if (strcmp(commands[i].name, argv[2]) == 0)
                    return commands[i].fn(2, sub);
        }
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("scimitar %s\n", SCIMITAR_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, argv[1]) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "scimitar: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
