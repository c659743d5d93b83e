/* The subcommands of the scimitar binary. Each takes argc/argv starting at its own name
 * (argv[0] = "serve", ...) and returns the process exit status: 0 success, 1 failure,
 * 2 usage error. main.c's table drives dispatch and `scimitar help`. */
#ifndef SC_CLI_COMMANDS_H
#define SC_CLI_COMMANDS_H

int cli_serve(int argc, char **argv);  /* cli/serve.c */
int cli_config(int argc, char **argv); /* cli/config.c: config check */
/* serve's settings from the same arguments (--config PATH, flags) checked and printed
 * instead of starting: 0 valid, 2 not (errors on stderr). cli/serve.c */
int cli_serve_check(int argc, char **argv);
int cli_target(int argc, char **argv);   /* cli/target.c */
int cli_demo(int argc, char **argv);     /* cli/demo.c */
int cli_resource(int argc, char **argv); /* cli/resource.c: users, populations, groups,
                                            connections, rules */
int cli_import(int argc, char **argv);   /* cli/import.c */
int cli_logs(int argc, char **argv);     /* cli/logs.c */
int cli_migrate(int argc, char **argv);  /* cli/migrate.c */
int cli_backup(int argc, char **argv);   /* cli/backup.c */
int cli_restore(int argc, char **argv);  /* cli/backup.c */

#endif
