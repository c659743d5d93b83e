/* The CLI's REST client: the commands `scimitar users|populations|groups|connections|
 * rules|import|logs` talk to `scimitar serve` through it. It finds the server (--server,
 * else SCIMITAR_SERVER, else http://127.0.0.1:8080) and the admin token (SCIMITAR_TOKEN,
 * sent as a bearer token and never printed), sends JSON, and turns every failure into
 * one clear line on stderr that names the field the server complained about.
 *
 * Exit statuses shared by the client commands: CLI_OK 0 (success), CLI_FAIL 1 (the
 * server refused or could not be reached), CLI_USAGE 2 (bad flags or missing token). */
#ifndef SC_CLI_CLIENT_H
#define SC_CLI_CLIENT_H

#include <jansson.h>
#include <stddef.h>

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

#define CLI_DEFAULT_SERVER "http://127.0.0.1:8080"

struct cli_client {
    char server[512];     /* base URL without a trailing slash */
    char auth[600];       /* "Authorization: Bearer <token>" (never printed) */
    char prog[64];        /* "scimitar users list", the prefix of error lines */
    long timeout_ms;      /* per request; 0 = the HTTP client's default */
    long last_status;     /* HTTP status of the last exchange, 0 when none */
    char last_field[128]; /* the "field" of the last error body, "" if none */
    int quiet;            /* set: failures are not printed (optional look-ups) */
};

/* Sets c up: server from server_opt (may be NULL), else SCIMITAR_SERVER, else the
 * default; token from SCIMITAR_TOKEN. prog prefixes error lines. Returns CLI_OK, or
 * CLI_USAGE after printing why (no token, malformed server URL). */
int cli_client_init(struct cli_client *c, const char *server_opt, const char *prog);

/* Sends one request: method on path (starting with "/", may carry a query string) with
 * body (borrowed, may be NULL) as JSON. On a 2xx answer stores the parsed response body
 * in *out (new reference; JSON null when the body was empty) when out is not NULL, and,
 * when raw is not NULL, the body text in *raw (new string; free it). Returns CLI_OK, or
 * CLI_FAIL after printing one line that says what went wrong (the server's error
 * message with its field, an unreachable server, a refused token). */
int cli_client_call(struct cli_client *c, const char *method, const char *path, const json_t *body,
                    json_t **out, char **raw);

/* Like cli_client_call with a ready-made body text (len bytes, not copied). */
int cli_client_call_text(struct cli_client *c, const char *method, const char *path,
                         const char *body, size_t len, json_t **out, char **raw);

/* Prints "PROG: message" on stderr (printf-style), unless c->quiet is set. */
void cli_client_fail(const struct cli_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Percent-encodes s for a path segment or query value. New string (free it); NULL when
 * out of memory. */
char *cli_client_escape(const char *s);

/* Resolves ref, the id or the name of an object of the collection at path
 * ("/api/v1/groups"), to its id: a UUID is taken as it is; anything else is looked up
 * by its "name" (case-insensitive) through the list, or for "/api/v1/users" by
 * username. Writes the id into id_out (size n). Returns CLI_OK, or CLI_FAIL after
 * printing that nothing (or more than one object) has that name. */
int cli_client_resolve(struct cli_client *c, const char *path, const char *ref, char *id_out,
                       size_t n);

/* Reads a whole file (path "-" = stdin) of at most max bytes into a new NUL-terminated
 * string (free it), stripping one trailing newline when strip_newline is set. Returns
 * NULL after printing why (naming what, e.g. "--access-token-file"). */
char *cli_read_file(const struct cli_client *c, const char *what, const char *path, size_t max,
                    int strip_newline);

/* Reads a JSON document from a file (path "-" = stdin) for the option named what.
 * Returns a new reference, or NULL after printing the parse error with its line. */
json_t *cli_read_json(const struct cli_client *c, const char *what, const char *path);

#endif
