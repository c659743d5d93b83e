/* scimitar logs: the provisioning log (GET /api/v1/logs), one line per operation with
 * its time, action, status, HTTP status, user, rule and what changed or went wrong,
 * oldest first so the newest is at the bottom. Filters by rule (name or id), user
 * (username or id), action and status; --follow keeps polling and prints new entries
 * as they arrive, like `tail -f`. --json prints the entries as JSON (one object per
 * line with --follow). */
#include "cli/commands.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "cli/client.h"
#include "cli/table.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOGS_DEFAULT_LIMIT 50
#define LOGS_POLL_MS 1000
#define LOGS_FOLLOW_PAGES 20 /* pages read per poll to catch up after a burst */

struct logs {
    struct cli_client cli;
    const char *rule, *user, *action, *status;
    char rule_id[128], user_id[128];
    int64_t limit;
    int follow, json;
    json_t *rule_names; /* rule id -> name */
};

static const char *const log_headers[] = {"TIME", "ACTION", "STATUS", "HTTP",
                                          "USER", "RULE",   "DETAIL"};

/* The numeric id of an entry (ids are decimal, as a number or a string); -1 if none. */
static int64_t entry_id(const json_t *e)
{
    json_t *id = json_object_get(e, "id");
    int64_t v = -1;
    if (json_is_integer(id))
        return json_integer_value(id);
    if (json_is_string(id) && sc_parse_int64(json_string_value(id), 0, INT64_MAX, &v) == 0)
        return v;
    return -1;
}

/* The text of a changed value: strings as they are, null as "-", other values as JSON.
 * New string. */
static char *change_text(const json_t *v)
{
    if (!v || json_is_null(v))
        return sc_strdup("-");
    if (json_is_string(v))
        return sc_strdup(json_string_value(v));
    return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

/* "attr: old → new; ..." or the error text. New string. */
static char *entry_detail(const json_t *e)
{
    struct sc_buf b;
    sc_buf_init(&b, 4096);
    const char *err = json_string_value(json_object_get(e, "error"));
    if (err && *err)
        sc_buf_puts(&b, err);
    size_t i;
    json_t *ch;
    json_array_foreach(json_object_get(e, "changes"), i, ch)
    {
        char *old = change_text(json_object_get(ch, "old"));
        char *new = change_text(json_object_get(ch, "new"));
        sc_buf_printf(&b, "%s%s: %s → %s", b.len ? "; " : "",
                      json_string_value(json_object_get(ch, "attribute"))
                          ? json_string_value(json_object_get(ch, "attribute"))
                          : "?",
                      old ? old : "-", new ? new : "-");
        free(old);
        free(new);
    }
    char *out = b.len ? sc_buf_steal(&b) : sc_strdup("");
    sc_buf_free(&b);
    return out;
}

/* Names of the rules, for the RULE column (best effort). */
static void load_rule_names(struct logs *lg)
{
    json_t *page = NULL;
    struct cli_client quiet = lg->cli;
    quiet.quiet = 1;
    lg->rule_names = json_object();
    if (!lg->rule_names ||
        cli_client_call(&quiet, "GET", "/api/v1/rules?limit=1000", NULL, &page, NULL) != CLI_OK)
        return;
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(page, "items"), i, r)
    {
        const char *id = json_string_value(json_object_get(r, "id"));
        if (id)
            json_object_set(lg->rule_names, id, json_object_get(r, "name"));
    }
    json_decref(page);
}

static int add_entry(struct logs *lg, struct cli_table *t, const json_t *e)
{
    char *cells[7] = {0};
    static const char *const paths[] = {"time", "action", "status", "httpStatus"};
    int rc = -1;
    for (int i = 0; i < 4; i++)
        if (!(cells[i] = cli_value_text(json_object_get(e, paths[i]))))
            goto done;
    json_t *user = json_object_get(e, "username");
    cells[4] = cli_value_text(user && !json_is_null(user) ? user : json_object_get(e, "userId"));
    const char *rid = json_string_value(json_object_get(e, "ruleId"));
    json_t *rname = rid ? json_object_get(lg->rule_names, rid) : NULL;
    cells[5] = cli_value_text(rname ? rname : json_object_get(e, "ruleId"));
    cells[6] = entry_detail(e);
    if (!cells[4] || !cells[5] || !cells[6])
        goto done;
    if (strcmp(cells[3], "0") == 0) {
        free(cells[3]);
        cells[3] = sc_strdup("-");
    }
    rc = cells[3] ? cli_table_add(t, (const char *const *)cells) : -1;
done:
    for (int i = 0; i < 7; i++)
        free(cells[i]);
    return rc;
}

/* Builds the list URL for one page. */
static int logs_url(struct logs *lg, struct sc_buf *url, int64_t limit, const char *cursor)
{
    const char *keys[] = {"rule", "user", "action", "status", "cursor"};
    const char *vals[] = {lg->rule ? lg->rule_id : NULL, lg->user ? lg->user_id : NULL, lg->action,
                          lg->status, cursor};
    sc_buf_reset(url);
    if (sc_buf_printf(url, "/api/v1/logs?limit=%lld", (long long)limit) != SC_OK)
        return -1;
    for (int i = 0; i < 5; i++) {
        if (!vals[i])
            continue;
        char *esc = cli_client_escape(vals[i]);
        enum sc_err e = esc ? sc_buf_printf(url, "&%s=%s", keys[i], esc) : SC_ERR_NOMEM;
        free(esc);
        if (e != SC_OK)
            return -1;
    }
    return 0;
}

/* Fetches entries newer than *last_id (all of the first page when *last_id < 0), and
 * prints them oldest first. Updates *last_id. */
static int fetch_and_print(struct logs *lg, struct cli_table *t, int64_t *last_id, int no_header)
{
    struct sc_buf url;
    json_t *fresh = json_array(); /* newest first, as the server sends them */
    char *cursor = NULL;
    int rc = CLI_FAIL;
    sc_buf_init(&url, 0);
    int pages = *last_id < 0 ? 1 : LOGS_FOLLOW_PAGES;
    for (int p = 0; p < pages; p++) {
        json_t *page = NULL;
        if (logs_url(lg, &url, *last_id < 0 ? lg->limit : 100, cursor)) {
            cli_client_fail(&lg->cli, "out of memory");
            goto done;
        }
        if (cli_client_call(&lg->cli, "GET", url.data, NULL, &page, NULL) != CLI_OK)
            goto done;
        int reached = 0;
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(page, "items"), i, e)
        {
            if (*last_id >= 0 && entry_id(e) <= *last_id) {
                reached = 1;
                break;
            }
            json_array_append(fresh, e);
        }
        free(cursor);
        const char *next = json_string_value(json_object_get(page, "nextCursor"));
        cursor = next && *next && !reached ? sc_strdup(next) : NULL;
        json_decref(page);
        if (!cursor)
            break;
    }
    size_t n = json_array_size(fresh);
    for (size_t k = n; k-- > 0;) {
        json_t *e = json_array_get(fresh, k);
        int64_t id = entry_id(e);
        if (id > *last_id)
            *last_id = id;
        if (lg->json) {
            char *text = sc_json_dump(e);
            printf("%s\n", text ? text : "null");
            free(text);
        } else if (add_entry(lg, t, e)) {
            cli_client_fail(&lg->cli, "out of memory");
            goto done;
        }
    }
    if (*last_id < 0)
        *last_id = 0;
    if (!lg->json) {
        if (cli_table_rows(t) || (lg->follow && !no_header))
            cli_table_print(t, stdout, no_header);
        else if (!lg->follow)
            fprintf(stderr, "no log entries\n");
    }
    fflush(stdout);
    rc = CLI_OK;
done:
    free(cursor);
    json_decref(fresh);
    sc_buf_free(&url);
    return rc;
}

static void logs_usage(FILE *out)
{
    fprintf(out,
            "usage: scimitar logs [--rule ID|NAME] [--user ID|USERNAME] [--action A]\n"
            "                     [--status S] [--limit N] [--follow] [--json] [--server URL]\n\n"
            "The provisioning log: one line per operation sent to a target (oldest first).\n\n"
            "options:\n"
            "  --rule ID|NAME       only this rule's entries\n"
            "  --user ID|USERNAME   only this user's entries\n"
            "  --action A           CREATE, UPDATE, DISABLE, DELETE, LINK, SKIP or ENABLE\n"
            "  --status S           SUCCESS, FAILED, RETRY or UNSYNCED\n"
            "  --limit N            the latest N entries (1..1000, default %d)\n"
            "  --follow             keep printing new entries as they arrive (Ctrl-C stops)\n"
            "  --json               print the server's JSON (with --follow: one entry a line)\n"
            "  --server URL         the scimitar server (default SCIMITAR_SERVER, else %s)\n"
            "  -h, --help           this help\n\n"
            "The admin token is read from SCIMITAR_TOKEN. Exit status: 0 success, 1 the server\n"
            "refused or could not be reached, 2 bad usage or SCIMITAR_TOKEN unset.\n",
            LOGS_DEFAULT_LIMIT, CLI_DEFAULT_SERVER);
}

int cli_logs(int argc, char **argv)
{
    struct logs lg;
    const char *server = NULL;
    struct cli_table *t = NULL;
    int rc = CLI_USAGE;
    char action[32], status[32];
    memset(&lg, 0, sizeof lg);
    lg.limit = LOGS_DEFAULT_LIMIT;
    static const struct option opts[] = {
        {"rule", required_argument, NULL, 'r'},   {"user", required_argument, NULL, 'u'},
        {"action", required_argument, NULL, 'a'}, {"status", required_argument, NULL, 's'},
        {"limit", required_argument, NULL, 'n'},  {"follow", no_argument, NULL, 'f'},
        {"json", no_argument, NULL, 'j'},         {"server", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    int c;
    optind = 0;
    opterr = 1;
    while ((c = getopt_long(argc, argv, "hf", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            lg.rule = optarg;
            break;
        case 'u':
            lg.user = optarg;
            break;
        case 'a':
        case 's': {
            char *dst = c == 'a' ? action : status;
            if (sc_strlcpy(dst, optarg, 32) >= 32) {
                fprintf(stderr, "scimitar logs: --%s is too long\n",
                        c == 'a' ? "action" : "status");
                return CLI_USAGE;
            }
            for (char *p = dst; *p; p++)
                if (*p >= 'a' && *p <= 'z')
                    *p = (char)(*p - 'a' + 'A');
            if (c == 'a')
                lg.action = action;
            else
                lg.status = status;
            break;
        }
        case 'n':
            if (sc_parse_int64(optarg, 1, 1000, &lg.limit)) {
                fprintf(stderr, "scimitar logs: --limit must be a whole number from 1 to 1000\n");
                return CLI_USAGE;
            }
            break;
        case 'f':
            lg.follow = 1;
            break;
        case 'j':
            lg.json = 1;
            break;
        case 'S':
            server = optarg;
            break;
        case 'h':
            logs_usage(stdout);
            return CLI_OK;
        default:
            fputc('\n', stderr);
            logs_usage(stderr);
            return CLI_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "scimitar logs: unexpected argument '%s'\n\n", argv[optind]);
        logs_usage(stderr);
        return CLI_USAGE;
    }
    if ((rc = cli_client_init(&lg.cli, server, "scimitar logs")) != CLI_OK)
        return rc;
    rc = CLI_FAIL;
    if (lg.rule && cli_client_resolve(&lg.cli, "/api/v1/rules", lg.rule, lg.rule_id,
                                      sizeof lg.rule_id) != CLI_OK)
        goto done;
    if (lg.user && cli_client_resolve(&lg.cli, "/api/v1/users", lg.user, lg.user_id,
                                      sizeof lg.user_id) != CLI_OK)
        goto done;
    if (!lg.json)
        load_rule_names(&lg);
    if (!(t = cli_table_new(log_headers, 7))) {
        cli_client_fail(&lg.cli, "out of memory");
        goto done;
    }
    if (lg.follow) {
        /* fixed widths so that lines printed at different times stay aligned */
        static const size_t widths[] = {24, 7, 8, 4, 20, 16, 0};
        for (size_t i = 0; i < 7; i++)
            cli_table_set_width(t, i, widths[i]);
    }
    int64_t last_id = -1;
    if (lg.json && !lg.follow) {
        /* the server's page as it is */
        struct sc_buf url;
        char *raw = NULL;
        sc_buf_init(&url, 0);
        int got = logs_url(&lg, &url, lg.limit, NULL) == 0
                      ? cli_client_call(&lg.cli, "GET", url.data, NULL, NULL, &raw)
                      : CLI_FAIL;
        if (got == CLI_OK)
            printf("%s%s", raw, *raw && raw[strlen(raw) - 1] == '\n' ? "" : "\n");
        free(raw);
        sc_buf_free(&url);
        if (got != CLI_OK)
            goto done;
        rc = CLI_OK;
        goto done;
    }
    if (fetch_and_print(&lg, t, &last_id, 0) != CLI_OK)
        goto done;
    while (lg.follow) {
        sc_clock_sleep_ms(LOGS_POLL_MS);
        if (fetch_and_print(&lg, t, &last_id, 1) != CLI_OK)
            goto done;
    }
    rc = CLI_OK;
done:
    cli_table_free(t);
    json_decref(lg.rule_names);
    return rc;
}
