/* scimitar users|populations|groups|connections|rules: the command-line client of the
 * admin REST API (docs/api.md). One table below describes each resource: its REST
 * collection, its subcommands (with their positional arguments and options), the flags
 * that set its fields on create and update (each flag names the JSON path it sets),
 * and the columns of its list table. The same tables drive option parsing, the request
 * bodies and --help, so a field is described once.
 *
 * Output is an aligned table (or a "field value" listing for one object); --json prints
 * the server's JSON instead. Exit status: 0 success, 1 the server refused or could not be
 * reached, 2 bad usage (also a missing SCIMITAR_TOKEN). */
#include "cli/commands.h"
#include "base/buf.h"
#include "base/id.h"
#include "base/json.h"
#include "cli/client.h"
#include "cli/table.h"

#include <ctype.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RES_MAX_FIELDS 64   /* --field and field-flag values per command */
#define RES_MAX_ARGS 3      /* positional arguments */
#define RES_MAX_OPTS 128    /* getopt_long entries */
#define RES_SECRET_MAX 8192 /* bytes of a secret read from a file */

/* Options that are not field flags. */
enum {
    OPT_SERVER = 256,
    OPT_JSON,
    OPT_FILTER,
    OPT_Q,
    OPT_POPULATION,
    OPT_LIMIT,
    OPT_ALL,
    OPT_FIELD,
    OPT_JSON_BODY,
    OPT_USER,
    OPT_GROUP,
    OPT_DRY_RUN,
    OPT_ALLOW,
    OPT_VERIFY,
    OPT_SET_JSON,
    OPT_EFFECTIVE,
    OPT_FIELD_BASE = 1024 /* + field index * 4 + variant */
};

struct opt_def {
    int id;
    const char *name;
    int has_arg;
    const char *meta;
    const char *help;
};

static const struct opt_def opt_defs[] = {
    {OPT_FILTER, "filter", 1, "F",
     "SCIM-style filter on directory fields, e.g. 'email ew \"@example.com\"'"},
    {OPT_Q, "q", 1, "TEXT", "search text (username, name, email)"},
    {OPT_POPULATION, "population", 1, "NAME|ID", "only the users of this population"},
    {OPT_LIMIT, "limit", 1, "N", "at most N items (1..1000); with --all, the page size"},
    {OPT_ALL, "all", 0, NULL, "every item: follow nextCursor through all pages"},
    {OPT_FIELD, "field", 1, "KEY=VALUE",
     "set any field by its dotted API name (repeatable);\n"
     "true, false and null are JSON literals; KEY:=JSON sets raw JSON"},
    {OPT_JSON_BODY, "json-body", 1, "FILE|-", "start from the JSON object in FILE (- = stdin)"},
    {OPT_USER, "user", 1, "ID|USERNAME", "the user to add"},
    {OPT_GROUP, "group", 1, "ID|NAME", "the group to add (groups nest; cycles are refused)"},
    {OPT_DRY_RUN, "dry-run", 0, NULL, "show the plan (creates, updates, disables), send nothing"},
    {OPT_ALLOW, "allow", 0, NULL, "let a resync stopped by the mass-deprovisioning brake go on"},
    {OPT_VERIFY, "verify", 0, NULL,
     "read the accounts on the target and repair drift (with --dry-run:\n"
     "list what differs)"},
    {OPT_SET_JSON, "set-json", 1, "FILE|-",
     "replace it with the JSON in FILE (- = stdin); mappings are\n"
     "a list [{\"target\": \"userName\", \"source\": \"username\"}, ...]"},
    {OPT_EFFECTIVE, "effective", 0, NULL,
     "every user member (direct, dynamic, inherited), not only direct members"},
};

enum field_kind {
    FK_STR,        /* --flag VALUE: a string */
    FK_BOOL,       /* --flag / --neg: true / false */
    FK_INT,        /* --flag N: a non-negative integer */
    FK_SECRET,     /* --flag VALUE, --flag-file FILE|-, --flag-env VAR */
    FK_POPULATION, /* --flag NAME|ID: {"id"} or {"name"} */
    FK_CONNECTION, /* --flag NAME|ID: the connection's id */
    FK_JSON,       /* --flag FILE|-: a JSON document */
    FK_HEADER      /* --flag 'Name: value' (repeatable): one key of an object */
};

struct field_def {
    const char *flag;
    const char *neg; /* FK_BOOL: the flag that sets false */
    const char *path;
    enum field_kind kind;
    const char *help;
};

struct run;

struct sub_def {
    const char *name;
    const char *args; /* positional arguments for usage, "" if none */
    int nargs;
    const int *opts; /* option ids, 0-terminated, or NULL */
    int fields;      /* takes the resource's field flags */
    int (*fn)(struct run *r);
    const char *summary;
};

struct resource {
    const char *name;     /* "users" */
    const char *singular; /* "user" */
    const char *path;     /* "/api/v1/users" */
    const char *about;
    const struct sub_def *subs;
    const struct field_def *fields;
    const struct cli_column *columns;
    size_t ncols;
    void (*decorate)(struct run *r, json_t *item); /* adds derived columns, or NULL */
};

struct field_value {
    int index, variant;
    const char *value;
};

struct run {
    struct cli_client cli;
    const struct resource *res;
    const struct sub_def *sub;
    int json;
    const char *server;
    const char *args[RES_MAX_ARGS];
    int nargs;
    const char *filter, *q, *population, *user, *group, *json_body, *set_json;
    int64_t limit;
    int all, dry_run, allow, verify, effective;
    const char *fields[RES_MAX_FIELDS];
    size_t nfields;
    struct field_value fvals[RES_MAX_FIELDS];
    size_t nfvals;
    char prog[64];
    json_t *cache; /* per-run lookups (connection names), or NULL */
};

/* ---- field tables ---- */

static const struct field_def user_fields[] = {
    {"username", NULL, "username", FK_STR, "username (unique, case-insensitive)"},
    {"email", NULL, "email", FK_STR, "email address"},
    {"given", NULL, "name.given", FK_STR, "given name"},
    {"family", NULL, "name.family", FK_STR, "family name"},
    {"formatted", NULL, "name.formatted", FK_STR, "formatted name"},
    {"nickname", NULL, "nickname", FK_STR, "nickname"},
    {"title", NULL, "title", FK_STR, "title"},
    {"type", NULL, "type", FK_STR, "user type (e.g. Employee)"},
    {"phone", NULL, "primaryPhone", FK_STR, "primary phone"},
    {"external-id", NULL, "externalId", FK_STR, "external id"},
    {"street", NULL, "address.streetAddress", FK_STR, "street address"},
    {"locality", NULL, "address.locality", FK_STR, "locality (city)"},
    {"region", NULL, "address.region", FK_STR, "region (state)"},
    {"postal-code", NULL, "address.postalCode", FK_STR, "postal code"},
    {"country", NULL, "address.countryCode", FK_STR, "country code (ISO 3166-1 alpha-2)"},
    {"population", NULL, "population", FK_POPULATION, "population, by name or id"},
    {"enabled", "disabled", "enabled", FK_BOOL, "enable / disable the user"},
    {NULL, NULL, NULL, 0, NULL},
};

static const struct field_def population_fields[] = {
    {"name", NULL, "name", FK_STR, "name (unique)"},
    {"description", NULL, "description", FK_STR, "description"},
    {NULL, NULL, NULL, 0, NULL},
};

static const struct field_def group_fields[] = {
    {"name", NULL, "name", FK_STR, "name (unique)"},
    {"description", NULL, "description", FK_STR, "description"},
    {"filter-json", NULL, "userFilter", FK_JSON,
     "a user filter (JSON; - = stdin) that makes the group\n"
     "dynamic, e.g. {\"match\":\"ALL\",\"conditions\":[\n"
     "{\"attribute\":\"population.name\",\"operator\":\"EQUALS\",\n"
     "\"value\":\"Sales\"}]}; --field userFilter=null clears it"},
    {NULL, NULL, NULL, 0, NULL},
};

static const struct field_def connection_fields[] = {
    {"name", NULL, "name", FK_STR, "name (required)"},
    {"description", NULL, "description", FK_STR, "description"},
    {"base-url", NULL, "scim.baseUrl", FK_STR, "SCIM base URL (required)"},
    {"users-resource", NULL, "scim.usersResource", FK_STR, "Users Resource (default /Users)"},
    {"groups-resource", NULL, "scim.groupsResource", FK_STR, "Groups Resource (default /Groups)"},
    {"scim-version", NULL, "scim.version", FK_STR, "SCIM Version: 2.0 (default) or 1.1"},
    {"auth-method", NULL, "auth.method", FK_STR,
     "OAUTH2_BEARER (default), BASIC, OAUTH2_CLIENT_CREDENTIALS or NONE"},
    {"access-token", NULL, "auth.accessToken", FK_SECRET, "OAuth Access Token"},
    {"auth-type-header", NULL, "auth.typeHeader", FK_STR,
     "Auth Type Header: Bearer (default), OAuth, Basic or a custom word"},
    {"basic-user", NULL, "auth.username", FK_STR, "Basic authentication user"},
    {"password", NULL, "auth.password", FK_SECRET, "Basic authentication password"},
    {"token-url", NULL, "auth.tokenUrl", FK_STR, "OAuth client credentials: token URL"},
    {"client-id", NULL, "auth.clientId", FK_STR, "OAuth client credentials: client id"},
    {"client-secret", NULL, "auth.clientSecret", FK_SECRET,
     "OAuth client credentials: client secret"},
    {"scope", NULL, "auth.scope", FK_STR, "OAuth client credentials: scope"},
    {"token-endpoint-auth-method", NULL, "auth.tokenEndpointAuthMethod", FK_STR,
     "OAuth client credentials: client_secret_basic (default)\nor client_secret_post"},
    {"user-filter-expression", NULL, "preferences.userFilterExpression", FK_STR,
     "User Filter Expression (default 'username Eq \"%s\"')"},
    {"user-identifier", NULL, "preferences.userIdentifier", FK_STR,
     "User Identifier (default userName)"},
    {"remove-action", NULL, "preferences.removeAction", FK_STR,
     "Remove Action: DISABLE (default) or DELETE"},
    {"allow-create", "no-allow-create", "preferences.allowCreate", FK_BOOL,
     "Allow users to be created (default yes)"},
    {"allow-update", "no-allow-update", "preferences.allowUpdate", FK_BOOL,
     "Allow users to be updated (default yes)"},
    {"allow-disable", "no-allow-disable", "preferences.allowDisable", FK_BOOL,
     "Allow users to be disabled (default yes)"},
    {"update-method", NULL, "preferences.updateMethod", FK_STR, "PATCH (default) or PUT"},
    {"max-rps", NULL, "preferences.maxRequestsPerSecond", FK_INT,
     "at most N requests per second to the target (0 = no limit)"},
    {"max-concurrency", NULL, "preferences.maxConcurrency", FK_INT,
     "at most N requests in flight to the target (0 = no limit)"},
    {"use-bulk", "no-use-bulk", "preferences.useBulk", FK_BOOL,
     "send writes in SCIM Bulk requests where the target offers\nBulk (default yes)"},
    {"header", NULL, "headers", FK_HEADER,
     "a custom HTTP header sent to the target (repeatable;\nthe value is secret)"},
    {NULL, NULL, NULL, 0, NULL},
};

static const struct field_def rule_fields[] = {
    {"name", NULL, "name", FK_STR, "name (required)"},
    {"description", NULL, "description", FK_STR, "description"},
    {"target", NULL, "target", FK_CONNECTION, "the target connection, by name or id"},
    {NULL, NULL, NULL, 0, NULL},
};

static const struct field_def token_fields[] = {
    {"name", NULL, "name", FK_STR, "name (required, unique), e.g. the tool that uses it"},
    {"expires", NULL, "expiresAt", FK_STR,
     "when it stops working (RFC 3339, e.g. 2027-01-31T00:00:00Z;\ndefault never)"},
    {NULL, NULL, NULL, 0, NULL},
};

static const struct field_def inbound_token_fields[] = {
    {"name", NULL, "name", FK_STR,
     "name (required, unique): the identity provider it is for; the\nsource of the users it "
     "creates"},
    {"population", NULL, "population", FK_STR,
     "the population (id or name) its users join; it sees only them"},
    {"scope", NULL, "scope", FK_STR, "read (read-only) or write (read-write)"},
    {"source-connection", NULL, "sourceConnection", FK_STR,
     "the connection (id) that is the source's own: no rule towards it\nmay take in the "
     "population"},
    {NULL, NULL, NULL, 0, NULL},
};

/* ---- small helpers ---- */

/* Appends "?" or "&" then key=escaped(value) to b. */
static int query_add(struct run *r, struct sc_buf *b, const char *key, const char *value)
{
    char *esc = cli_client_escape(value);
    int rc = esc && sc_buf_printf(b, "%s%s=%s", strchr(b->data ? b->data : "", '?') ? "&" : "?",
                                  key, esc) == SC_OK
                 ? 0
                 : -1;
    free(esc);
    if (rc)
        cli_client_fail(&r->cli, "out of memory");
    return rc;
}

/* Builds "PATH/escaped(id)[suffix]" into b. */
static int item_path(struct run *r, struct sc_buf *b, const char *id, const char *suffix)
{
    char *esc = cli_client_escape(id);
    int rc = esc && sc_buf_printf(b, "%s/%s%s", r->res->path, esc, suffix ? suffix : "") == SC_OK
                 ? 0
                 : -1;
    free(esc);
    if (rc)
        cli_client_fail(&r->cli, "out of memory");
    return rc;
}

/* Resolves the first positional argument (id or name) of the resource into id. */
static int resolve_arg(struct run *r, char *id, size_t n)
{
    return cli_client_resolve(&r->cli, r->res->path, r->args[0], id, n);
}

/* Prints a response: raw JSON with --json, else an object listing. */
static void print_result(struct run *r, const json_t *doc, const char *raw)
{
    if (r->json) {
        fputs(raw, stdout);
        if (!*raw || raw[strlen(raw) - 1] != '\n')
            fputc('\n', stdout);
    } else {
        cli_print_object(doc, stdout);
    }
}

/* Items of a list answer: {"items": [...]} or a bare array. Borrowed. */
static json_t *list_items(json_t *page)
{
    if (json_is_array(page))
        return page;
    json_t *items = json_object_get(page, "items");
    return json_is_array(items) ? items : NULL;
}

/* Lists a collection at path (which may already carry a query) with --limit/--all and
 * prints a table with cols, or the JSON (one page as the server sent it; with --all one
 * {"items": [...], "nextCursor": null} built as the pages stream in). */
static int list_collection(struct run *r, const char *path, const struct cli_column *cols,
                           size_t ncols, void (*decorate)(struct run *, json_t *), const char *noun)
{
    int rc = CLI_FAIL;
    struct sc_buf url;
    char *cursor = NULL;
    struct cli_table *t = NULL;
    const char *headers[16];
    size_t shown = 0;
    int more = 0;
    sc_buf_init(&url, 0);
    for (size_t i = 0; i < ncols && i < 16; i++)
        headers[i] = cols[i].header;
    if (!r->json && !(t = cli_table_new(headers, ncols))) {
        cli_client_fail(&r->cli, "out of memory");
        goto done;
    }
    if (r->json && r->all)
        fputs("{\"items\": [", stdout);
    for (;;) {
        json_t *page = NULL;
        char *raw = NULL;
        sc_buf_reset(&url);
        if (sc_buf_puts(&url, path) != SC_OK) {
            cli_client_fail(&r->cli, "out of memory");
            goto done;
        }
        char lim[32];
        snprintf(lim, sizeof lim, "%lld", (long long)(r->limit ? r->limit : 1000));
        if ((r->limit || r->all) && query_add(r, &url, "limit", lim))
            goto done;
        if (cursor && query_add(r, &url, "cursor", cursor))
            goto done;
        if (cli_client_call(&r->cli, "GET", url.data, NULL, &page, &raw) != CLI_OK)
            goto done;
        json_t *items = list_items(page);
        const char *next = json_string_value(json_object_get(page, "nextCursor"));
        if (r->json && !r->all) {
            print_result(r, page, raw);
        } else if (r->json) {
            size_t i;
            json_t *it;
            json_array_foreach(items, i, it)
            {
                char *text = sc_json_dump(it);
                printf("%s\n  %s", shown++ ? "," : "", text ? text : "null");
                free(text);
            }
        } else {
            size_t i;
            json_t *it;
            json_array_foreach(items, i, it)
            {
                if (decorate)
                    decorate(r, it);
                if (cli_table_add_item(t, cols, it)) {
                    json_decref(page);
                    free(raw);
                    cli_client_fail(&r->cli, "out of memory");
                    goto done;
                }
                shown++;
            }
        }
        free(raw);
        free(cursor);
        cursor = next && *next && r->all ? sc_strdup(next) : NULL;
        more = next && *next && !r->all;
        json_decref(page);
        if (!cursor)
            break;
    }
    if (r->json && r->all)
        fputs("\n], \"nextCursor\": null}\n", stdout);
    if (t) {
        if (shown)
            cli_table_print(t, stdout, 0);
        else
            fprintf(stderr, "no %s found\n", noun);
    }
    if (more && !r->json)
        fprintf(stderr, "(more %s: use --all, or --limit N)\n", noun);
    rc = CLI_OK;
done:
    free(cursor);
    cli_table_free(t);
    sc_buf_free(&url);
    return rc;
}

/* ---- request bodies from flags ---- */

static int set_path(struct run *r, json_t *body, const char *path, json_t *v)
{
    if (!v || sc_json_set_path(body, path, v) != 0) {
        cli_client_fail(&r->cli, "cannot set %s", path);
        return -1;
    }
    return 0;
}

/* Applies one --field KEY=VALUE or KEY:=JSON. */
static int apply_field_arg(struct run *r, json_t *body, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || (eq == arg + 1 && arg[0] == ':')) {
        cli_client_fail(&r->cli, "--field wants KEY=VALUE or KEY:=JSON, not '%s'", arg);
        return CLI_USAGE;
    }
    int raw_json = eq[-1] == ':';
    size_t klen = (size_t)(eq - arg) - (raw_json ? 1 : 0);
    char key[256];
    if (klen >= sizeof key) {
        cli_client_fail(&r->cli, "--field: the key of '%s' is too long", arg);
        return CLI_USAGE;
    }
    memcpy(key, arg, klen);
    key[klen] = '\0';
    const char *val = eq + 1;
    json_t *v = NULL;
    if (raw_json) {
        struct sc_error e = {0};
        if (sc_json_parse(val, strlen(val), 0, &v, &e) != SC_OK) {
            cli_client_fail(&r->cli, "--field %s: not JSON: %s", key, e.message);
            return CLI_USAGE;
        }
    } else if (strcmp(val, "true") == 0) {
        v = json_true();
    } else if (strcmp(val, "false") == 0) {
        v = json_false();
    } else if (strcmp(val, "null") == 0) {
        v = json_null();
    } else {
        v = json_string(val);
        if (!v) {
            cli_client_fail(&r->cli, "--field %s: the value is not valid UTF-8", key);
            return CLI_USAGE;
        }
    }
    return set_path(r, body, key, v) ? CLI_FAIL : CLI_OK;
}

/* Applies one field-flag value to body. */
static int apply_flag(struct run *r, json_t *body, const struct field_value *fv)
{
    const struct field_def *f = &r->res->fields[fv->index];
    const char *v = fv->value;
    switch (f->kind) {
    case FK_STR: {
        json_t *s = json_string(v);
        if (!s) {
            cli_client_fail(&r->cli, "--%s: the value is not valid UTF-8", f->flag);
            return CLI_USAGE;
        }
        return set_path(r, body, f->path, s) ? CLI_FAIL : CLI_OK;
    }
    case FK_BOOL:
        return set_path(r, body, f->path, json_boolean(fv->variant == 0)) ? CLI_FAIL : CLI_OK;
    case FK_INT: {
        int64_t n;
        if (sc_parse_int64(v, 0, 1000000000, &n)) {
            cli_client_fail(&r->cli, "--%s must be a whole number from 0 to 1000000000", f->flag);
            return CLI_USAGE;
        }
        return set_path(r, body, f->path, json_integer(n)) ? CLI_FAIL : CLI_OK;
    }
    case FK_SECRET: {
        char *secret = NULL;
        char what[96];
        if (fv->variant == 0) {
            secret = sc_strdup(v);
        } else if (fv->variant == 1) {
            snprintf(what, sizeof what, "--%s-file", f->flag);
            secret = cli_read_file(&r->cli, what, v, RES_SECRET_MAX, 1);
            if (!secret)
                return CLI_FAIL;
        } else {
            const char *env = getenv(v);
            if (!env) {
                cli_client_fail(&r->cli, "--%s-env: the environment variable %s is not set",
                                f->flag, v);
                return CLI_USAGE;
            }
            secret = sc_strdup(env);
        }
        json_t *s = secret ? json_string(secret) : NULL;
        if (secret)
            sodium_memzero(secret, strlen(secret));
        free(secret);
        if (!s) {
            cli_client_fail(&r->cli, "--%s: the secret is not valid UTF-8", f->flag);
            return CLI_USAGE;
        }
        return set_path(r, body, f->path, s) ? CLI_FAIL : CLI_OK;
    }
    case FK_POPULATION: {
        json_t *pop = json_pack("{s:s}", sc_uuid_valid(v) ? "id" : "name", v);
        return set_path(r, body, f->path, pop) ? CLI_FAIL : CLI_OK;
    }
    case FK_CONNECTION: {
        char id[128];
        if (cli_client_resolve(&r->cli, "/api/v1/connections", v, id, sizeof id) != CLI_OK)
            return CLI_FAIL;
        return set_path(r, body, f->path, json_string(id)) ? CLI_FAIL : CLI_OK;
    }
    case FK_JSON: {
        json_t *doc = cli_read_json(&r->cli, f->flag, v);
        if (!doc)
            return CLI_FAIL;
        return set_path(r, body, f->path, doc) ? CLI_FAIL : CLI_OK;
    }
    case FK_HEADER: {
        const char *colon = strchr(v, ':');
        if (!colon || colon == v) {
            cli_client_fail(&r->cli, "--%s wants 'Name: value', not '%s'", f->flag, v);
            return CLI_USAGE;
        }
        char name[128];
        size_t nlen = (size_t)(colon - v);
        if (nlen >= sizeof name) {
            cli_client_fail(&r->cli, "--%s: the header name is too long", f->flag);
            return CLI_USAGE;
        }
        memcpy(name, v, nlen);
        name[nlen] = '\0';
        const char *val = colon + 1;
        while (*val == ' ' || *val == '\t')
            val++;
        json_t *headers = json_object_get(body, f->path);
        if (!json_is_object(headers)) {
            headers = json_object();
            if (set_path(r, body, f->path, headers))
                return CLI_FAIL;
        }
        json_t *s = json_string(val);
        if (!s || json_object_set_new(headers, name, s) != 0) {
            cli_client_fail(&r->cli, "--%s: the header is not valid UTF-8", f->flag);
            return CLI_USAGE;
        }
        return CLI_OK;
    }
    }
    return CLI_FAIL;
}

/* Builds the create/update body from --json-body, field flags and --field. */
static int build_body(struct run *r, json_t **out)
{
    json_t *body = NULL;
    int rc = CLI_FAIL;
    if (r->json_body) {
        body = cli_read_json(&r->cli, "--json-body", r->json_body);
        if (!body)
            goto done;
        if (!json_is_object(body)) {
            cli_client_fail(&r->cli, "--json-body: a JSON object is expected");
            goto done;
        }
    } else if (!(body = json_object())) {
        cli_client_fail(&r->cli, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < r->nfvals; i++)
        if ((rc = apply_flag(r, body, &r->fvals[i])) != CLI_OK)
            goto done;
    for (size_t i = 0; i < r->nfields; i++)
        if ((rc = apply_field_arg(r, body, r->fields[i])) != CLI_OK)
            goto done;
    *out = body;
    body = NULL;
    rc = CLI_OK;
done:
    json_decref(body);
    return rc;
}

/* ---- subcommands ---- */

static int do_list(struct run *r)
{
    struct sc_buf path;
    int rc = CLI_FAIL;
    sc_buf_init(&path, 0);
    if (sc_buf_puts(&path, r->res->path) != SC_OK)
        goto done;
    if (r->filter && query_add(r, &path, "filter", r->filter))
        goto done;
    if (r->q && query_add(r, &path, "q", r->q))
        goto done;
    if (r->population) {
        char id[128];
        if (cli_client_resolve(&r->cli, "/api/v1/populations", r->population, id, sizeof id) !=
                CLI_OK ||
            query_add(r, &path, "population", id))
            goto done;
    }
    rc = list_collection(r, path.data, r->res->columns, r->res->ncols, r->res->decorate,
                         r->res->name);
done:
    sc_buf_free(&path);
    return rc;
}

/* GET, PATCH or DELETE of the item named by the first argument, with an optional
 * path suffix and body; prints the answer unless quiet. */
static int item_call(struct run *r, const char *method, const char *suffix, const json_t *body,
                     json_t **out, char **raw)
{
    char id[128];
    struct sc_buf path;
    int rc = CLI_FAIL;
    sc_buf_init(&path, 0);
    if (resolve_arg(r, id, sizeof id) != CLI_OK || item_path(r, &path, id, suffix))
        goto done;
    rc = cli_client_call(&r->cli, method, path.data, body, out, raw);
done:
    sc_buf_free(&path);
    return rc;
}

static int do_get(struct run *r)
{
    json_t *doc = NULL;
    char *raw = NULL;
    int rc = item_call(r, "GET", NULL, NULL, &doc, &raw);
    if (rc == CLI_OK)
        print_result(r, doc, raw);
    json_decref(doc);
    free(raw);
    return rc;
}

/* Sends the body built from the flags: POST to the collection (create) or PATCH of the
 * item named by the first argument; an empty body is a usage error. */
static int send_body(struct run *r, int create)
{
    json_t *body = NULL, *doc = NULL;
    char *raw = NULL;
    int rc = build_body(r, &body);
    if (rc == CLI_OK && json_object_size(body) == 0) {
        if (create)
            cli_client_fail(&r->cli, "give the new %s's fields (see --help)", r->res->singular);
        else
            cli_client_fail(&r->cli, "nothing to change: give at least one field (see --help)");
        rc = CLI_USAGE;
    }
    if (rc == CLI_OK)
        rc = create ? cli_client_call(&r->cli, "POST", r->res->path, body, &doc, &raw)
                    : item_call(r, "PATCH", NULL, body, &doc, &raw);
    if (rc == CLI_OK)
        print_result(r, doc, raw);
    json_decref(body);
    json_decref(doc);
    free(raw);
    return rc;
}

static int do_create(struct run *r)
{
    return send_body(r, 1);
}

static int do_update(struct run *r)
{
    return send_body(r, 0);
}

static int do_delete(struct run *r)
{
    int rc = item_call(r, "DELETE", NULL, NULL, NULL, NULL);
    if (rc == CLI_OK && !r->json)
        printf("deleted %s %s\n", r->res->singular, r->args[0]);
    else if (rc == CLI_OK)
        printf("{\"deleted\": true}\n");
    return rc;
}

/* Creates an admin token and prints it: the only time the server shows it. */
static int do_token_create(struct run *r)
{
    int rc = send_body(r, 1);
    if (rc == CLI_OK && !r->json)
        fprintf(stderr,
                "%s: copy the token now: it is shown this once (only its hash is "
                "stored)\n",
                r->prog);
    return rc;
}

static int do_revoke(struct run *r)
{
    int rc = item_call(r, "DELETE", NULL, NULL, NULL, NULL);
    if (rc == CLI_OK && !r->json)
        printf("revoked %s %s\n", r->res->singular, r->args[0]);
    else if (rc == CLI_OK)
        printf("{\"revoked\": true}\n");
    return rc;
}

static int set_enabled(struct run *r, int on)
{
    json_t *body = json_pack("{s:b}", "enabled", on), *doc = NULL;
    char *raw = NULL;
    int rc = body ? item_call(r, "PATCH", NULL, body, &doc, &raw) : CLI_FAIL;
    if (rc == CLI_OK && r->json)
        print_result(r, doc, raw);
    else if (rc == CLI_OK)
        printf("%s %s %s\n", r->res->singular, r->args[0], on ? "enabled" : "disabled");
    json_decref(body);
    json_decref(doc);
    free(raw);
    return rc;
}

static int do_enable(struct run *r)
{
    return set_enabled(r, 1);
}

static int do_disable(struct run *r)
{
    return set_enabled(r, 0);
}

static int do_test(struct run *r)
{
    json_t *doc = NULL;
    char *raw = NULL;
    struct cli_table *t = NULL;
    static const char *const headers[] = {"", "STEP", "DETAIL"};
    r->cli.timeout_ms = 120000;
    int rc = item_call(r, "POST", "/test", NULL, &doc, &raw);
    if (rc != CLI_OK)
        goto done;
    json_t *ok = json_object_get(doc, "ok");
    if (r->json) {
        print_result(r, doc, raw);
    } else {
        if (!(t = cli_table_new(headers, 3))) {
            rc = CLI_FAIL;
            goto done;
        }
        size_t i;
        json_t *step;
        json_array_foreach(json_object_get(doc, "steps"), i, step)
        {
            char *detail = cli_value_text(json_object_get(step, "detail"));
            const char *cells[3] = {json_is_true(json_object_get(step, "ok")) ? "✓" : "✗",
                                    json_string_value(json_object_get(step, "name")), detail};
            cli_table_add(t, cells);
            free(detail);
        }
        cli_table_print(t, stdout, 1);
        printf("%s\n", json_is_true(ok) ? "Connection test passed."
                                        : "Connection test failed: fix the step marked ✗.");
    }
    if (!json_is_true(ok))
        rc = CLI_FAIL;
done:
    cli_table_free(t);
    json_decref(doc);
    free(raw);
    return rc;
}

/* A capability's text: "unknown" for null, yes/no, numbers, strings. New string. */
static char *caps_text(const json_t *v)
{
    if (!v || json_is_null(v))
        return sc_strdup("unknown");
    return cli_value_text(v);
}

static int do_capabilities(struct run *r)
{
    json_t *doc = NULL;
    char *raw = NULL;
    struct cli_table *t = NULL;
    static const char *const headers[] = {"CAPABILITY", "VALUE"};
    static const char *const rows[][2] = {
        {"testedAt", "testedAt"},
        {"scimVersion", "scimVersion"},
        {"serviceProviderConfig", "serviceProviderConfig"},
        {"patch", "patch"},
        {"bulk", "bulk.supported"},
        {"bulk.maxOperations", "bulk.maxOperations"},
        {"bulk.maxPayloadSize", "bulk.maxPayloadSize"},
        {"filter", "filter.supported"},
        {"filter.maxResults", "filter.maxResults"},
        {"filter.honoured", "filter.honoured"},
        {"etag", "etag"},
        {"sort", "sort"},
        {"changePassword", "changePassword"},
        {"listing", "listing"},
        {"userNameCaseInsensitive", "userNameCaseInsensitive"},
        {"resourceTypes", "resourceTypes"},
        {"usersEndpoint", "usersEndpoint"},
        {"schemas", "schemas"},
    };
    int rc = item_call(r, "GET", "/capabilities", NULL, &doc, &raw);
    if (rc != CLI_OK)
        goto done;
    if (r->json) {
        print_result(r, doc, raw);
        goto done;
    }
    if (!(t = cli_table_new(headers, 2))) {
        cli_client_fail(&r->cli, "out of memory");
        rc = CLI_FAIL;
        goto done;
    }
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        json_t *v = sc_json_get_path(doc, rows[i][1]);
        char *text = !v && strchr(rows[i][1], '.') ? sc_strdup("unknown") : caps_text(v);
        if (strcmp(rows[i][0], "testedAt") == 0 && json_is_null(v)) {
            free(text);
            text = sc_strdup("never: run `connections test` on it");
        }
        const char *cells[2] = {rows[i][0], text};
        cli_table_add(t, cells);
        free(text);
    }
    json_t *attrs = json_object_get(doc, "userAttributes");
    char count[64];
    if (json_is_array(attrs))
        snprintf(count, sizeof count, "%zu declared", json_array_size(attrs));
    else
        snprintf(count, sizeof count, "unknown");
    cli_table_add(t, (const char *const[]){"userAttributes", count});
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(doc, "learnt"), key, v)
    {
        char name[160];
        snprintf(name, sizeof name, "learnt.%s", key);
        char *text = caps_text(v);
        cli_table_add(t, (const char *const[]){name, text});
        free(text);
    }
    cli_table_print(t, stdout, 0);
    size_t i;
    json_array_foreach(json_object_get(doc, "warnings"), i, v)
    {
        char *text = cli_value_text(json_object_get(v, "message"));
        printf("warning: %s\n", text ? text : "");
        free(text);
    }
done:
    cli_table_free(t);
    json_decref(doc);
    free(raw);
    return rc;
}

static const struct cli_column group_ref_columns[] = {
    {"ID", "id"}, {"NAME", "name"}, {"MEMBERSHIP", "_membership"}};

/* "direct", or "inherited/dynamic" for a membership through a nested or dynamic group. */
static void decorate_membership(struct run *r, json_t *item)
{
    (void)r;
    json_t *direct = json_object_get(item, "direct");
    json_object_set_new(item, "_membership",
                        json_is_boolean(direct)
                            ? json_string(json_is_true(direct) ? "direct" : "inherited/dynamic")
                            : json_null());
}

/* Lists the collection at SUFFIX under the item named by the first argument. */
static int list_item_collection(struct run *r, const char *suffix, const struct cli_column *cols,
                                size_t ncols, void (*decorate)(struct run *, json_t *),
                                const char *noun)
{
    char id[128];
    struct sc_buf path;
    int rc = CLI_FAIL;
    sc_buf_init(&path, 0);
    if (resolve_arg(r, id, sizeof id) == CLI_OK && !item_path(r, &path, id, suffix))
        rc = list_collection(r, path.data, cols, ncols, decorate, noun);
    sc_buf_free(&path);
    return rc;
}

static int do_user_groups(struct run *r)
{
    return list_item_collection(r, "/groups", group_ref_columns, 3, decorate_membership, "groups");
}

static const struct cli_column member_columns[] = {
    {"TYPE", "type"}, {"ID", "id"}, {"DISPLAY", "display"}};

static int do_members(struct run *r)
{
    return list_item_collection(r, r->effective ? "/members?effective=true" : "/members",
                                member_columns, 3, NULL, "members");
}

static int do_add_member(struct run *r)
{
    char member[128];
    json_t *body = NULL, *doc = NULL;
    char *raw = NULL;
    int rc = CLI_USAGE;
    if (!r->user == !r->group) {
        cli_client_fail(&r->cli, "give exactly one of --user ID|USERNAME and --group ID|NAME");
        goto done;
    }
    rc = CLI_FAIL;
    if (cli_client_resolve(&r->cli, r->user ? "/api/v1/users" : "/api/v1/groups",
                           r->user ? r->user : r->group, member, sizeof member) != CLI_OK)
        goto done;
    body = json_pack("{s:s}", r->user ? "userId" : "groupId", member);
    if (!body || (rc = item_call(r, "POST", "/members", body, &doc, &raw)) != CLI_OK)
        goto done;
    if (r->json)
        print_result(r, doc, raw);
    else
        printf("added %s %s to group %s\n", r->user ? "user" : "group",
               r->user ? r->user : r->group, r->args[0]);
done:
    json_decref(body);
    json_decref(doc);
    free(raw);
    return rc;
}

static int do_remove_member(struct run *r)
{
    char gid[128];
    struct sc_buf path;
    char *esc = NULL;
    int rc = CLI_FAIL;
    sc_buf_init(&path, 0);
    if (resolve_arg(r, gid, sizeof gid) != CLI_OK)
        goto done;
    const char *member = r->args[1];
    char found[128] = "";
    if (!sc_uuid_valid(member)) {
        /* a username or group name: find it among the direct members */
        json_t *list = NULL;
        int matches = 0;
        if (item_path(r, &path, gid, "/members") ||
            cli_client_call(&r->cli, "GET", path.data, NULL, &list, NULL) != CLI_OK)
            goto done;
        size_t i;
        json_t *m;
        json_array_foreach(list_items(list), i, m)
        {
            const char *d = json_string_value(json_object_get(m, "display"));
            const char *id = json_string_value(json_object_get(m, "id"));
            if (d && id && sc_strcaseeq(d, member)) {
                sc_strlcpy(found, id, sizeof found);
                matches++;
            }
        }
        json_decref(list);
        if (matches != 1) {
            cli_client_fail(&r->cli,
                            matches ? "several members are named '%s': give the id"
                                    : "'%s' is not a direct member of the group",
                            member);
            goto done;
        }
        member = found;
        sc_buf_reset(&path);
    }
    esc = cli_client_escape(member);
    if (!esc || item_path(r, &path, gid, "/members/") || sc_buf_puts(&path, esc) != SC_OK)
        goto done;
    rc = cli_client_call(&r->cli, "DELETE", path.data, NULL, NULL, NULL);
    if (rc == CLI_OK && r->json)
        printf("{\"removed\": true}\n");
    else if (rc == CLI_OK)
        printf("removed member %s from group %s\n", r->args[1], r->args[0]);
done:
    free(esc);
    sc_buf_free(&path);
    return rc;
}

/* Prints a user-filter tree as indented lines. */
static void print_filter(const json_t *f, int depth)
{
    const char *match = json_string_value(json_object_get(f, "match"));
    json_t *conds = json_object_get(f, "conditions");
    if (match || json_is_array(conds)) {
        printf("%*s%s of:\n", depth * 2, "", match ? match : "ALL");
        size_t i;
        json_t *c;
        json_array_foreach(conds, i, c) print_filter(c, depth + 1);
        return;
    }
    char *attr = cli_value_text(json_object_get(f, "attribute"));
    char *op = cli_value_text(json_object_get(f, "operator"));
    json_t *v = json_object_get(f, "value");
    char *val = v ? sc_json_dump(v) : NULL;
    char *texts[3] = {attr, op, val};
    for (int k = 0; k < 3; k++)
        for (char *p = texts[k]; p && *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7F)
                *p = '?';
    printf("%*s%s %s%s%s\n", depth * 2, "", attr ? attr : "?", op ? op : "?", val ? " " : "",
           val ? val : "");
    free(attr);
    free(op);
    free(val);
}

/* GET …/SUFFIX, or PUT it from --set-json; prints with show(). */
static int get_or_put(struct run *r, const char *suffix, void (*show)(const json_t *))
{
    json_t *body = NULL, *doc = NULL;
    char *raw = NULL;
    int rc = CLI_FAIL;
    if (r->set_json && !(body = cli_read_json(&r->cli, "--set-json", r->set_json)))
        goto done;
    rc = item_call(r, body ? "PUT" : "GET", suffix, body, &doc, &raw);
    if (rc != CLI_OK)
        goto done;
    if (r->json)
        print_result(r, doc, raw);
    else
        show(doc);
done:
    json_decref(body);
    json_decref(doc);
    free(raw);
    return rc;
}

static void show_filter(const json_t *doc)
{
    if (json_is_null(doc) || (json_is_object(doc) && json_object_size(doc) == 0))
        printf("no user filter: the rule provisions no one until it has one\n");
    else
        print_filter(doc, 0);
}

static void show_mappings(const json_t *doc)
{
    static const char *const headers[] = {"TARGET", "SOURCE"};
    static const struct cli_column cols[] = {{"TARGET", "target"}, {"SOURCE", "source"}};
    json_t *items = list_items((json_t *)doc);
    struct cli_table *t = cli_table_new(headers, 2);
    if (!t)
        return;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) cli_table_add_item(t, cols, it);
    if (cli_table_rows(t))
        cli_table_print(t, stdout, 0);
    else
        fprintf(stderr, "no attribute mappings\n");
    cli_table_free(t);
}

static int do_filter(struct run *r)
{
    return get_or_put(r, "/filter", show_filter);
}

static int do_mappings(struct run *r)
{
    return get_or_put(r, "/mappings", show_mappings);
}

static void show_groups(const json_t *doc)
{
    cli_print_object(doc, stdout);
}

static int do_groups(struct run *r)
{
    return get_or_put(r, "/groups", show_groups);
}

/* One line for an entry of a resync plan. */
static void print_plan_entry(const json_t *e)
{
    if (!json_is_object(e)) {
        char *t = cli_value_text(e);
        printf("  - %s\n", t ? t : "?");
        free(t);
        return;
    }
    const char *who = json_string_value(json_object_get(e, "username"));
    if (!who)
        who = json_string_value(json_object_get(e, "userName"));
    if (!who)
        who = json_string_value(json_object_get(e, "userId"));
    char *rest = sc_json_dump(e);
    printf("  - %s%s%s\n", who ? who : "", who ? "  " : "", rest ? rest : "");
    free(rest);
}

static int do_resync(struct run *r)
{
    char id[128];
    struct sc_buf path;
    json_t *doc = NULL;
    char *raw = NULL;
    int rc = CLI_FAIL;
    sc_buf_init(&path, 0);
    r->cli.timeout_ms = 600000;
    if (resolve_arg(r, id, sizeof id) != CLI_OK || item_path(r, &path, id, "/resync") ||
        (r->dry_run && query_add(r, &path, "dryRun", "true")) ||
        (r->allow && query_add(r, &path, "allow", "true")) ||
        (r->verify && query_add(r, &path, "verify", "true")))
        goto done;
    rc = cli_client_call(&r->cli, "POST", path.data, NULL, &doc, &raw);
    if (rc != CLI_OK)
        goto done;
    if (r->json) {
        print_result(r, doc, raw);
    } else if (!r->dry_run) {
        printf("resync of rule %s started\n", r->args[0]);
        if (json_is_object(doc) && json_object_size(doc))
            cli_print_object(doc, stdout);
    } else if (json_is_object(doc)) {
        printf("dry run of rule %s: nothing was sent\n", r->args[0]);
        const char *key;
        json_t *v;
        json_object_foreach(doc, key, v)
        {
            if (json_is_array(v)) {
                printf("%s: %zu\n", key, json_array_size(v));
                size_t i;
                json_t *e;
                json_array_foreach(v, i, e) print_plan_entry(e);
            } else {
                char *t = json_is_object(v) ? sc_json_dump(v) : cli_value_text(v);
                printf("%s: %s\n", key, t ? t : "?");
                free(t);
            }
        }
    } else {
        cli_print_json(doc, stdout);
    }
done:
    json_decref(doc);
    free(raw);
    sc_buf_free(&path);
    return rc;
}

static int do_status(struct run *r)
{
    json_t *doc = NULL;
    char *raw = NULL;
    int rc = item_call(r, "GET", "/status", NULL, &doc, &raw);
    if (rc != CLI_OK)
        goto done;
    if (r->json) {
        print_result(r, doc, raw);
        goto done;
    }
    static const char *const headers[] = {"", ""};
    static const struct {
        const char *label, *path;
    } rows[] = {
        {"Sync status", "status"},
        {"Last sync", "lastSyncAt"},
        {"Impacted", "users.impacted"},
        {"Success", "users.success"},
        {"Unsynced", "users.unsynced"},
        {"Partially synced", "users.partiallySynced"},
        {"Failed", "users.failed"},
        {"Groups provisioned", "groups.enabled"},
        {"Groups linked", "groups.linked"},
        {"Groups synced", "groups.synced"},
        {"Groups failed", "groups.failed"},
        {"Groups braked", "groups.braked"},
        {"Group memberships", "groups.members"},
    };
    struct cli_table *t = cli_table_new(headers, 2);
    for (size_t i = 0; t && i < sizeof rows / sizeof rows[0]; i++) {
        char *v = cli_value_text(sc_json_get_path(doc, rows[i].path));
        const char *cells[2] = {rows[i].label, v};
        cli_table_add(t, cells);
        free(v);
    }
    if (t)
        cli_table_print(t, stdout, 1);
    cli_table_free(t);
done:
    json_decref(doc);
    free(raw);
    return rc;
}

static const struct cli_column rule_user_columns[] = {{"USERNAME", "username"},
                                                      {"STATE", "state"},
                                                      {"TARGET ID", "targetId"},
                                                      {"UPDATED", "updatedAt"},
                                                      {"LAST ERROR", "lastError"}};

static int do_rule_users(struct run *r)
{
    return list_item_collection(r, "/users", rule_user_columns, 5, NULL, "users");
}

/* ---- derived columns ---- */

static void decorate_user(struct run *r, json_t *item)
{
    (void)r;
    const char *f = sc_json_get_string(item, "name.formatted");
    const char *g = sc_json_get_string(item, "name.given");
    const char *fam = sc_json_get_string(item, "name.family");
    struct sc_buf b;
    sc_buf_init(&b, 0);
    if (f && *f)
        sc_buf_puts(&b, f);
    else if (g || fam)
        sc_buf_printf(&b, "%s%s%s", g ? g : "", g && fam ? " " : "", fam ? fam : "");
    json_object_set_new(item, "_name", b.data ? json_string(b.data) : json_null());
    sc_buf_free(&b);
}

static void decorate_group(struct run *r, json_t *item)
{
    (void)r;
    json_t *f = json_object_get(item, "userFilter");
    json_object_set_new(item, "_type", json_string(f && !json_is_null(f) ? "dynamic" : "static"));
}

/* Adds the target connection's name and the rule's sync status. */
static void decorate_rule(struct run *r, json_t *item)
{
    const char *target = json_string_value(json_object_get(item, "target"));
    const char *id = json_string_value(json_object_get(item, "id"));
    if (!r->cache) {
        json_t *page = NULL;
        r->cache = json_object();
        struct cli_client quiet = r->cli;
        quiet.quiet = 1;
        if (r->cache && cli_client_call(&quiet, "GET", "/api/v1/connections?limit=1000", NULL,
                                        &page, NULL) == CLI_OK) {
            size_t i;
            json_t *c;
            json_array_foreach(list_items(page), i, c)
            {
                const char *cid = json_string_value(json_object_get(c, "id"));
                if (cid)
                    json_object_set(r->cache, cid, json_object_get(c, "name"));
            }
        }
        json_decref(page);
    }
    json_t *name = target ? json_object_get(r->cache, target) : NULL;
    json_object_set(item, "_target", name ? name : json_object_get(item, "target"));
    if (id) {
        struct sc_buf path;
        json_t *st = NULL;
        sc_buf_init(&path, 0);
        struct cli_client quiet = r->cli;
        quiet.quiet = 1;
        if (!item_path(r, &path, id, "/status") &&
            cli_client_call(&quiet, "GET", path.data, NULL, &st, NULL) == CLI_OK) {
            json_object_set(item, "_status", json_object_get(st, "status"));
            json_object_set(item, "_lastSync", json_object_get(st, "lastSyncAt"));
            json_object_set(item, "_failed", sc_json_get_path(st, "users.failed"));
        }
        json_decref(st);
        sc_buf_free(&path);
    }
}

/* ---- the resource tables ---- */

static const int o_list_users[] = {OPT_FILTER, OPT_Q, OPT_POPULATION, OPT_LIMIT, OPT_ALL, 0};
static const int o_list[] = {OPT_LIMIT, OPT_ALL, 0};
static const int o_write[] = {OPT_FIELD, OPT_JSON_BODY, 0};
static const int o_members[] = {OPT_EFFECTIVE, OPT_LIMIT, OPT_ALL, 0};
static const int o_add_member[] = {OPT_USER, OPT_GROUP, 0};
static const int o_set[] = {OPT_SET_JSON, 0};
static const int o_resync[] = {OPT_DRY_RUN, OPT_ALLOW, OPT_VERIFY, 0};

#define SUB_GET(what)                                                                              \
    {                                                                                              \
        "get", "ID|NAME", 1, NULL, 0, do_get, "show one " what                                     \
    }
#define SUB_CREATE(what)                                                                           \
    {                                                                                              \
        "create", "", 0, o_write, 1, do_create, "create a " what                                   \
    }
#define SUB_UPDATE(what)                                                                           \
    {                                                                                              \
        "update", "ID|NAME", 1, o_write, 1, do_update, "change a " what "'s fields (others keep)"  \
    }
#define SUB_DELETE(what)                                                                           \
    {                                                                                              \
        "delete", "ID|NAME", 1, NULL, 0, do_delete, "delete a " what                               \
    }
#define SUB_END                                                                                    \
    {                                                                                              \
        NULL, NULL, 0, NULL, 0, NULL, NULL                                                         \
    }

static const struct sub_def user_subs[] = {
    {"list", "", 0, o_list_users, 0, do_list, "list users"},
    {"get", "ID|USERNAME", 1, NULL, 0, do_get, "show one user"},
    SUB_CREATE("user"),
    {"update", "ID|USERNAME", 1, o_write, 1, do_update, "change a user's fields (others keep)"},
    {"delete", "ID|USERNAME", 1, NULL, 0, do_delete, "delete a user"},
    {"groups", "ID|USERNAME", 1, o_list, 0, do_user_groups,
     "the user's effective groups (direct, dynamic, inherited)"},
    SUB_END,
};

static const struct sub_def population_subs[] = {
    {"list", "", 0, o_list, 0, do_list, "list populations"},
    SUB_GET("population"),
    SUB_CREATE("population"),
    SUB_UPDATE("population"),
    {"delete", "ID|NAME", 1, NULL, 0, do_delete,
     "delete a population (refused while it has users)"},
    SUB_END,
};

static const struct sub_def group_subs[] = {
    {"list", "", 0, o_list, 0, do_list, "list groups"},
    SUB_GET("group"),
    SUB_CREATE("group"),
    SUB_UPDATE("group"),
    SUB_DELETE("group"),
    {"members", "ID|NAME", 1, o_members, 0, do_members, "list a group's members"},
    {"add-member", "ID|NAME", 1, o_add_member, 0, do_add_member,
     "add a user or a group to a group (--user or --group)"},
    {"remove-member", "ID|NAME MEMBER", 2, NULL, 0, do_remove_member,
     "remove a direct member (its id, username or group name)"},
    SUB_END,
};

static const struct sub_def connection_subs[] = {
    {"list", "", 0, o_list, 0, do_list, "list provisioning connections"},
    SUB_GET("connection"),
    SUB_CREATE("SCIM outbound connection (disabled until enabled)"),
    SUB_UPDATE("connection"),
    SUB_DELETE("connection"),
    {"enable", "ID|NAME", 1, NULL, 0, do_enable, "turn the connection on"},
    {"disable", "ID|NAME", 1, NULL, 0, do_disable, "turn the connection off"},
    {"test", "ID|NAME", 1, NULL, 0, do_test,
     "Test Connection: each step with ✓/✗; exit status 1 when a step fails"},
    {"capabilities", "ID|NAME", 1, NULL, 0, do_capabilities,
     "what Test Connection learnt of the target, and mapping warnings"},
    SUB_END,
};

static const struct sub_def rule_subs[] = {
    {"list", "", 0, o_list, 0, do_list, "list provisioning rules with their sync status"},
    SUB_GET("rule"),
    SUB_CREATE("provisioning rule (disabled until enabled)"),
    SUB_UPDATE("rule"),
    SUB_DELETE("rule"),
    {"enable", "ID|NAME", 1, NULL, 0, do_enable,
     "turn the rule on (needs an enabled connection); full resync"},
    {"disable", "ID|NAME", 1, NULL, 0, do_disable, "turn the rule off"},
    {"filter", "ID|NAME", 1, o_set, 0, do_filter, "show the user filter, or set it (--set-json)"},
    {"mappings", "ID|NAME", 1, o_set, 0, do_mappings,
     "show the attribute mapping, or replace it (--set-json)"},
    {"groups", "ID|NAME", 1, o_set, 0, do_groups,
     "show the group provisioning section, or set it (--set-json)"},
    {"resync", "ID|NAME", 1, o_resync, 0, do_resync,
     "start a full resync (--dry-run: only the plan; --verify: repair drift)"},
    {"status", "ID|NAME", 1, NULL, 0, do_status, "sync status and user counters"},
    {"users", "ID|NAME", 1, o_list, 0, do_rule_users, "each user's link, state and last error"},
    SUB_END,
};

static const struct sub_def token_subs[] = {
    {"list", "", 0, o_list, 0, do_list,
     "list admin tokens: name, prefix, created, last used, expiry"},
    {"create", "", 0, o_write, 1, do_token_create,
     "create a named admin token (printed once: copy it then)"},
    {"revoke", "ID|NAME", 1, NULL, 0, do_revoke,
     "revoke an admin token at once (not the last one)"},
    SUB_END,
};

static const struct sub_def inbound_token_subs[] = {
    {"list", "", 0, o_list, 0, do_list,
     "list inbound SCIM tokens: name, population, scope, source connection"},
    {"create", "", 0, o_write, 1, do_token_create,
     "create an inbound SCIM token for /scim/v2 (printed once: copy it then)"},
    {"update", "ID|NAME", 1, o_write, 1, do_update,
     "set (--source-connection ID) the connection that is the source's own"},
    {"revoke", "ID|NAME", 1, NULL, 0, do_revoke, "revoke an inbound SCIM token at once"},
    SUB_END,
};

static const struct cli_column user_columns[] = {
    {"ID", "id"},       {"USERNAME", "username"},          {"NAME", "_name"},
    {"EMAIL", "email"}, {"POPULATION", "population.name"}, {"ENABLED", "enabled"}};
static const struct cli_column population_columns[] = {
    {"ID", "id"}, {"NAME", "name"}, {"USERS", "userCount"}, {"DESCRIPTION", "description"}};
static const struct cli_column group_columns[] = {
    {"ID", "id"}, {"NAME", "name"}, {"TYPE", "_type"}, {"DESCRIPTION", "description"}};
static const struct cli_column connection_columns[] = {{"ID", "id"},
                                                       {"NAME", "name"},
                                                       {"ENABLED", "enabled"},
                                                       {"BASE URL", "scim.baseUrl"},
                                                       {"AUTH", "auth.method"},
                                                       {"REMOVE", "preferences.removeAction"}};
static const struct cli_column rule_columns[] = {{"ID", "id"},          {"NAME", "name"},
                                                 {"TARGET", "_target"}, {"ENABLED", "enabled"},
                                                 {"STATUS", "_status"}, {"LAST SYNC", "_lastSync"},
                                                 {"FAILED", "_failed"}};

static const struct cli_column token_columns[] = {{"ID", "id"},
                                                  {"NAME", "name"},
                                                  {"PREFIX", "prefix"},
                                                  {"CREATED", "createdAt"},
                                                  {"LAST USED", "lastUsedAt"},
                                                  {"EXPIRES", "expiresAt"}};

static const struct cli_column inbound_token_columns[] = {{"ID", "id"},
                                                          {"NAME", "name"},
                                                          {"POPULATION", "population.name"},
                                                          {"SCOPE", "scope"},
                                                          {"SOURCE", "sourceConnection"},
                                                          {"PREFIX", "prefix"},
                                                          {"LAST USED", "lastUsedAt"}};

#define NCOLS(a) (sizeof a / sizeof a[0])

static const struct resource resources[] = {
    {"users", "user", "/api/v1/users", "Directory users.", user_subs, user_fields, user_columns,
     NCOLS(user_columns), decorate_user},
    {"populations", "population", "/api/v1/populations",
     "Populations: every user belongs to exactly one.", population_subs, population_fields,
     population_columns, NCOLS(population_columns), NULL},
    {"groups", "group", "/api/v1/groups",
     "Groups: direct members (users and nested groups), or dynamic by a user filter.", group_subs,
     group_fields, group_columns, NCOLS(group_columns), decorate_group},
    {"connections", "connection", "/api/v1/connections",
     "Provisioning connections (SCIM outbound). Secrets are write-only: give them with\n"
     "--NAME-file FILE (- = stdin) or --NAME-env VAR to keep them out of shell history.",
     connection_subs, connection_fields, connection_columns, NCOLS(connection_columns), NULL},
    {"rules", "rule", "/api/v1/rules",
     "Provisioning rules: a target connection, a user filter and an attribute mapping.", rule_subs,
     rule_fields, rule_columns, NCOLS(rule_columns), decorate_rule},
    {"tokens", "token", "/api/v1/tokens",
     "Admin tokens: each a name for one tool or person, revocable on its own. The server\n"
     "keeps only their hashes, so a new token is shown once, when it is created.",
     token_subs, token_fields, token_columns, NCOLS(token_columns), NULL},
    {"inbound-tokens", "inbound token", "/api/v1/inbound-tokens",
     "Inbound SCIM tokens: an identity provider provisions users and groups into the\n"
     "directory at /scim/v2 with one. Each is bound to a population and a scope (read or\n"
     "write); the server keeps only their hashes, so a new token is shown once.",
     inbound_token_subs, inbound_token_fields, inbound_token_columns, NCOLS(inbound_token_columns),
     NULL},
};

/* ---- help and option parsing ---- */

static const char common_help[] =
    "common options:\n"
    "  --server URL        the scimitar server (default SCIMITAR_SERVER, else " CLI_DEFAULT_SERVER
    ")\n"
    "  --json              print the server's JSON instead of a table\n"
    "  -h, --help          this help\n\n"
    "The admin token is read from SCIMITAR_TOKEN (never printed). Exit status: 0 success,\n"
    "1 the server refused the request or could not be reached (one line on stderr says\n"
    "why, naming the field at fault), 2 bad usage or SCIMITAR_TOKEN unset.\n";

static void resource_usage(const struct resource *res, FILE *out)
{
    fprintf(out, "usage: scimitar %s SUBCOMMAND [ARGS] [OPTIONS]\n\n%s\n\nsubcommands:\n",
            res->name, res->about);
    for (const struct sub_def *s = res->subs; s->name; s++) {
        char head[48];
        snprintf(head, sizeof head, "%s %s", s->name, s->args);
        fprintf(out, "  %-28s %s\n", head, s->summary);
    }
    fprintf(out, "\n`scimitar %s SUBCOMMAND --help` describes its options.\n\n%s", res->name,
            common_help);
}

static const struct opt_def *find_opt(int id)
{
    for (size_t i = 0; i < sizeof opt_defs / sizeof opt_defs[0]; i++)
        if (opt_defs[i].id == id)
            return &opt_defs[i];
    return NULL;
}

/* Prints an option line: "  --name META   help" with continuation lines indented. */
static void print_opt(FILE *out, const char *name, const char *meta, const char *help)
{
    char head[64];
    snprintf(head, sizeof head, "--%s%s%s", name, meta ? " " : "", meta ? meta : "");
    fprintf(out, "  %-32s ", head);
    for (const char *p = help; *p; p++) {
        fputc(*p, out);
        if (*p == '\n')
            fprintf(out, "  %-32s ", "");
    }
    fputc('\n', out);
}

static void sub_usage(const struct resource *res, const struct sub_def *s, FILE *out)
{
    fprintf(out, "usage: scimitar %s %s%s%s [OPTIONS]\n\n%c%s.\n", res->name, s->name,
            *s->args ? " " : "", s->args, toupper((unsigned char)s->summary[0]), s->summary + 1);
    if (s->fields || s->opts)
        fprintf(out, "\noptions:\n");
    if (s->fields) {
        for (const struct field_def *f = res->fields; f->flag; f++) {
            char help[256], name[64];
            switch (f->kind) {
            case FK_BOOL:
                print_opt(out, f->flag, NULL, f->help);
                snprintf(help, sizeof help, "(sets %s false)", f->path);
                print_opt(out, f->neg, NULL, help);
                break;
            case FK_SECRET:
                print_opt(out, f->flag, "VALUE", f->help);
                snprintf(name, sizeof name, "%s-file", f->flag);
                snprintf(help, sizeof help, "the same, read from FILE (- = stdin)");
                print_opt(out, name, "FILE", help);
                snprintf(name, sizeof name, "%s-env", f->flag);
                snprintf(help, sizeof help, "the same, read from the environment variable VAR");
                print_opt(out, name, "VAR", help);
                break;
            case FK_JSON:
                print_opt(out, f->flag, "FILE", f->help);
                break;
            case FK_INT:
                print_opt(out, f->flag, "N", f->help);
                break;
            case FK_HEADER:
                print_opt(out, f->flag, "'NAME: VALUE'", f->help);
                break;
            default:
                print_opt(out, f->flag, "VALUE", f->help);
                break;
            }
        }
    }
    for (const int *o = s->opts; o && *o; o++) {
        const struct opt_def *d = find_opt(*o);
        if (d)
            print_opt(out, d->name, d->meta, d->help);
    }
    if (s->fields)
        fprintf(out, "\nOnly the fields given are sent; the server applies its defaults and "
                     "names the field\nit refuses.\n");
    fprintf(out, "\n%s", common_help);
}

/* Static storage for generated option names (--access-token-file ...). */
struct names {
    char buf[RES_MAX_OPTS][64];
    size_t n;
};

static const char *name_make(struct names *nm, const char *flag, const char *suffix)
{
    if (nm->n >= RES_MAX_OPTS)
        return NULL;
    snprintf(nm->buf[nm->n], sizeof nm->buf[0], "%s%s", flag, suffix);
    return nm->buf[nm->n++];
}

static int opt_add(struct option *opts, size_t *n, const char *name, int has_arg, int val)
{
    if (!name || *n + 1 >= RES_MAX_OPTS)
        return -1;
    opts[*n] = (struct option){name, has_arg ? required_argument : no_argument, NULL, val};
    (*n)++;
    opts[*n] = (struct option){NULL, 0, NULL, 0};
    return 0;
}

/* Parses the subcommand's options (argv[0] = the subcommand). Returns CLI_OK, CLI_USAGE,
 * or -1 when --help was printed. */
static int parse_sub(struct run *r, int argc, char **argv)
{
    static struct option opts[RES_MAX_OPTS];
    static struct names names;
    size_t n = 0;
    names.n = 0;
    opts[0] = (struct option){NULL, 0, NULL, 0};
    opt_add(opts, &n, "server", 1, OPT_SERVER);
    opt_add(opts, &n, "json", 0, OPT_JSON);
    opt_add(opts, &n, "help", 0, 'h');
    for (const int *o = r->sub->opts; o && *o; o++) {
        const struct opt_def *d = find_opt(*o);
        if (d)
            opt_add(opts, &n, d->name, d->has_arg, d->id);
    }
    if (r->sub->fields) {
        for (int i = 0; r->res->fields[i].flag; i++) {
            const struct field_def *f = &r->res->fields[i];
            int base = OPT_FIELD_BASE + i * 4;
            int has_arg = f->kind != FK_BOOL;
            opt_add(opts, &n, f->flag, has_arg, base);
            if (f->kind == FK_BOOL)
                opt_add(opts, &n, f->neg, 0, base + 1);
            if (f->kind == FK_SECRET) {
                opt_add(opts, &n, name_make(&names, f->flag, "-file"), 1, base + 1);
                opt_add(opts, &n, name_make(&names, f->flag, "-env"), 1, base + 2);
            }
        }
    }
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            sub_usage(r->res, r->sub, stdout);
            return -1;
        case OPT_SERVER:
            r->server = optarg;
            break;
        case OPT_JSON:
            r->json = 1;
            break;
        case OPT_FILTER:
            r->filter = optarg;
            break;
        case OPT_Q:
            r->q = optarg;
            break;
        case OPT_POPULATION:
            r->population = optarg;
            break;
        case OPT_LIMIT:
            if (sc_parse_int64(optarg, 1, 1000, &r->limit)) {
                fprintf(stderr, "%s: --limit must be a whole number from 1 to 1000\n", r->prog);
                return CLI_USAGE;
            }
            break;
        case OPT_ALL:
            r->all = 1;
            break;
        case OPT_FIELD:
            if (r->nfields >= RES_MAX_FIELDS) {
                fprintf(stderr, "%s: at most %d --field options\n", r->prog, RES_MAX_FIELDS);
                return CLI_USAGE;
            }
            r->fields[r->nfields++] = optarg;
            break;
        case OPT_JSON_BODY:
            r->json_body = optarg;
            break;
        case OPT_USER:
            r->user = optarg;
            break;
        case OPT_GROUP:
            r->group = optarg;
            break;
        case OPT_DRY_RUN:
            r->dry_run = 1;
            break;
        case OPT_ALLOW:
            r->allow = 1;
            break;
        case OPT_VERIFY:
            r->verify = 1;
            break;
        case OPT_SET_JSON:
            r->set_json = optarg;
            break;
        case OPT_EFFECTIVE:
            r->effective = 1;
            break;
        case '?':
        case ':':
            if (optopt && optopt < 256 && optopt != '?')
                fprintf(stderr, "%s: unknown option '-%c'\n\n", r->prog, optopt);
            else if (optopt >= 256)
                fprintf(stderr, "%s: option '%s' needs a value\n\n", r->prog, argv[optind - 1]);
            else
                fprintf(stderr, "%s: unknown option '%s'\n\n", r->prog, argv[optind - 1]);
            sub_usage(r->res, r->sub, stderr);
            return CLI_USAGE;
        default:
            if (c >= OPT_FIELD_BASE) {
                if (r->nfvals >= RES_MAX_FIELDS) {
                    fprintf(stderr, "%s: too many field options\n", r->prog);
                    return CLI_USAGE;
                }
                r->fvals[r->nfvals++] = (struct field_value){(c - OPT_FIELD_BASE) / 4,
                                                             (c - OPT_FIELD_BASE) % 4, optarg};
            }
            break;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (r->nargs >= r->sub->nargs) {
            fprintf(stderr, "%s: unexpected argument '%s'\n\n", r->prog, argv[i]);
            sub_usage(r->res, r->sub, stderr);
            return CLI_USAGE;
        }
        r->args[r->nargs++] = argv[i];
    }
    if (r->nargs < r->sub->nargs) {
        fprintf(stderr, "%s: missing %s\n\n", r->prog, r->sub->args);
        sub_usage(r->res, r->sub, stderr);
        return CLI_USAGE;
    }
    return CLI_OK;
}

int cli_resource(int argc, char **argv)
{
    const struct resource *res = NULL;
    for (size_t i = 0; i < sizeof resources / sizeof resources[0]; i++)
        if (strcmp(resources[i].name, argv[0]) == 0)
            res = &resources[i];
    if (!res) {
        fprintf(stderr, "scimitar: unknown resource '%s'\n", argv[0]);
        return CLI_USAGE;
    }
    struct run r;
    memset(&r, 0, sizeof r);
    r.res = res;
    /* options before the subcommand: --server, --json, --help */
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            resource_usage(res, stdout);
            return CLI_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            r.json = 1;
        } else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc) {
            r.server = argv[++i];
        } else if (strncmp(argv[i], "--server=", 9) == 0) {
            r.server = argv[i] + 9;
        } else {
            fprintf(stderr, "scimitar %s: unknown option '%s'\n\n", res->name, argv[i]);
            resource_usage(res, stderr);
            return CLI_USAGE;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "scimitar %s: missing SUBCOMMAND\n\n", res->name);
        resource_usage(res, stderr);
        return CLI_USAGE;
    }
    for (const struct sub_def *s = res->subs; s->name; s++)
        if (strcmp(s->name, argv[i]) == 0)
            r.sub = s;
    if (!r.sub) {
        fprintf(stderr, "scimitar %s: unknown subcommand '%s'\n\n", res->name, argv[i]);
        resource_usage(res, stderr);
        return CLI_USAGE;
    }
    snprintf(r.prog, sizeof r.prog, "scimitar %s %s", res->name, r.sub->name);
    int rc = parse_sub(&r, argc - i, argv + i);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    rc = cli_client_init(&r.cli, r.server, r.prog);
    if (rc != CLI_OK)
        return rc;
    rc = r.sub->fn(&r);
    json_decref(r.cache);
    fflush(stdout);
    return rc;
}
