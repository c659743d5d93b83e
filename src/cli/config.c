/* scimitar config check: validates a configuration file for `scimitar serve --config`
 * (every key, every value, the key file and admin token file with their modes, the
 * database name's form) without starting anything, and prints the effective settings,
 * the database password masked. */
#include "cli/commands.h"

#include <stdio.h>
#include <string.h>

static void config_usage(FILE *out)
{
    fprintf(out, "usage: scimitar config check --config PATH [SERVE FLAGS]\n\n"
                 "Reads PATH as `scimitar serve --config PATH` would (with any serve flags given\n"
                 "after it, which win over the file), checks every setting, the modes of the key\n"
                 "file and the admin token file, and the form of the database name (it does not\n"
                 "open the database), then prints the effective settings, one `key = value` a\n"
                 "line with where each came from; the database password is masked.\n"
                 "Exit status: 0 valid, 2 not (the errors name the file and line).\n");
}

int cli_config(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        config_usage(stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "check") != 0) {
        config_usage(stderr);
        return 2;
    }
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            config_usage(stdout);
            return 0;
        }
    /* argv[1] ("check") stands in for serve's argv[0] */
    return cli_serve_check(argc - 1, argv + 1);
}
