/* scimitar demo: the seed walkthrough (a directory provisioned to a Code42-like SCIM
 * application) on one machine with no set-up. It makes a temporary folder, starts
 * `scimitar target --no-delete` and `scimitar serve` from this same binary on free
 * loopback ports, loads a sample directory through the REST API, creates the seed's
 * connection, rule, user filter and mapping, enables them, waits for the first sync and
 * shows what reached the target, how fast two live changes arrive, the rule's counters
 * and the console's URL. Without --once it keeps both servers running until Ctrl-C. */
#include "cli/commands.h"
#include "provision/mapping.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/id.h"
#include "base/json.h"
#include "http/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEMO_POPULATION "Code42 Users"
#define DEMO_START_TIMEOUT_MS 60000
#define DEMO_SYNC_TIMEOUT_MS 300000
#define DEMO_CHANGE_TIMEOUT_MS 60000
#define DEMO_TABLE_ROWS 10

struct demo {
    char dir[256];
    char serve_base[64];  /* http://127.0.0.1:PORT */
    char target_base[64]; /* http://127.0.0.1:PORT/scim/v2 */
    char admin_token[80];
    char target_token[80];
    char admin_auth[128]; /* "Authorization: Bearer ..." */
    char target_auth[128];
    pid_t serve_pid;
    pid_t target_pid;
    char conn_id[64];
    char rule_id[64];
    int users;    /* users loaded into the directory */
    int in_scope; /* of which the rule provisions */
};

static volatile sig_atomic_t demo_stop;

static void demo_on_signal(int sig)
{
    (void)sig;
    demo_stop = 1;
}

static void demo_usage(FILE *out)
{
    fprintf(out, "usage: scimitar demo [--once] [--users N] [--keep]\n\n"
                 "Runs the seed walkthrough on this machine: a SCIM target standing in for\n"
                 "Code42, a scimitar server with a sample directory, the seed's connection,\n"
                 "rule, user filter and attribute mapping, then shows what was provisioned.\n\n"
                 "  --once      exit after the first full sync and the live changes\n"
                 "  --users N   sample directory size (20 to 100000, default 300)\n"
                 "  --keep      keep the temporary folder (database and logs) on exit\n");
}

/* ---- processes ------------------------------------------------------------------- */

/* Picks n distinct free loopback ports (bound together, then released). */
static int demo_free_ports(unsigned *ports, int n)
{
    int fds[4] = {-1, -1, -1, -1}, rc = -1;
    for (int i = 0; i < n && i < 4; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
        socklen_t len = sizeof a;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof a) ||
            getsockname(fds[i], (struct sockaddr *)&a, &len))
            goto done;
        ports[i] = ntohs(a.sin_port);
    }
    rc = 0;
done:
    for (int i = 0; i < 4; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return rc;
}

/* Starts this binary with argv (argv[0] = subcommand), output to log_path, in its own
 * process group (Ctrl-C reaches only the demo, which stops it) and dying with the demo.
 * env_name/env_value, when set, is added to the child's environment. */
static pid_t demo_spawn(const char *log_path, char *const argv[], const char *env_name,
                        const char *env_value)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(1);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int in = open("/dev/null", O_RDONLY);
    if (fd < 0 || in < 0)
        _exit(1);
    dup2(in, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    if (env_name)
        setenv(env_name, env_value, 1);
    char *args[16];
    int n = 0;
    args[n++] = "scimitar";
    for (int i = 0; argv[i] && n < 15; i++)
        args[n++] = argv[i];
    args[n] = NULL;
    execv("/proc/self/exe", args);
    _exit(127);
}

/* 1 while pid runs; 0 once it has exited (reaped). */
static int demo_alive(pid_t pid)
{
    if (pid <= 0)
        return 0;
    int st;
    return waitpid(pid, &st, WNOHANG) == 0;
}

static void demo_stop_child(pid_t *pid)
{
    if (*pid <= 0)
        return;
    kill(*pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        int st;
        if (waitpid(*pid, &st, WNOHANG) != 0)
            goto done;
        sc_clock_sleep_ms(50);
    }
    kill(*pid, SIGKILL);
    waitpid(*pid, NULL, 0);
done:
    *pid = -1;
}

static int demo_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* ---- HTTP ----------------------------------------------------------------------- */

/* One JSON exchange. *out (new, may be NULL) gets the parsed body; returns the HTTP
 * status, or 0 when no response arrived (reason in err). */
static long demo_http(const char *method, const char *url, const char *auth, json_t *body,
                      json_t **out, char *err, size_t errlen)
{
    char *text = body ? sc_json_dump(body) : NULL;
    const char *headers[] = {auth, "Content-Type: application/json", "Accept: application/json",
                             NULL};
    struct http_client_request rq = {
        .method = method,
        .url = url,
        .headers = headers,
        .body = text,
        .body_len = text ? strlen(text) : 0,
        .timeout_ms = 30000,
    };
    struct http_client_response rs;
    long status = 0;
    if (out)
        *out = NULL;
    if (http_client_do(&rq, &rs) != SC_OK) {
        snprintf(err, errlen, "%s", rs.error[0] ? rs.error : "no response");
        goto done;
    }
    status = rs.status;
    if (out && rs.body.len) {
        struct sc_error e = {0};
        if (sc_json_parse(rs.body.data, rs.body.len, 0, out, &e) != SC_OK)
            *out = NULL;
    }
    if (status >= 400) {
        const char *msg = NULL;
        json_t *parsed = NULL;
        struct sc_error e = {0};
        if (rs.body.len && sc_json_parse(rs.body.data, rs.body.len, 0, &parsed, &e) == SC_OK) {
            msg = sc_json_get_string(parsed, "error.message");
            if (!msg)
                msg = sc_json_get_string(parsed, "detail");
        }
        snprintf(err, errlen, "HTTP %ld%s%s", status, msg ? ": " : "", msg ? msg : "");
        json_decref(parsed);
    }
done:
    http_client_response_free(&rs);
    free(text);
    return status;
}

/* A call to the admin API that must succeed (2xx). body is stolen. *out as demo_http.
 * Prints what failed and returns -1 otherwise. */
static int demo_api(struct demo *d, const char *method, const char *path, json_t *body,
                    json_t **out)
{
    char url[512], err[512] = "";
    snprintf(url, sizeof url, "%s%s", d->serve_base, path);
    json_t *res = NULL;
    long st = demo_http(method, url, d->admin_auth, body, &res, err, sizeof err);
    json_decref(body);
    if (st < 200 || st > 299) {
        fprintf(stderr, "scimitar demo: %s %s failed: %s\n", method, path, err);
        json_decref(res);
        if (out)
            *out = NULL;
        return -1;
    }
    if (out)
        *out = res;
    else
        json_decref(res);
    return 0;
}

/* GET on the target's SCIM API; the parsed body (new) or NULL. */
static json_t *demo_scim_get(struct demo *d, const char *path_and_query)
{
    char url[1024], err[256];
    json_t *res = NULL;
    snprintf(url, sizeof url, "%s%s", d->target_base, path_and_query);
    if (demo_http("GET", url, d->target_auth, NULL, &res, err, sizeof err) != 200) {
        json_decref(res);
        return NULL;
    }
    return res;
}

/* The target's user with this userName (new reference), or NULL. */
static json_t *demo_target_user(struct demo *d, const char *username)
{
    char filter[256], path[1024];
    snprintf(filter, sizeof filter, "userName eq \"%s\"", username);
    char *q = http_client_escape(filter);
    if (!q)
        return NULL;
    snprintf(path, sizeof path, "/Users?filter=%s", q);
    free(q);
    json_t *list = demo_scim_get(d, path);
    json_t *u = json_incref(json_array_get(json_object_get(list, "Resources"), 0));
    json_decref(list);
    return u;
}

static long demo_target_count(struct demo *d)
{
    json_t *list = demo_scim_get(d, "/Users?count=0");
    long n = list ? (long)json_integer_value(json_object_get(list, "totalResults")) : -1;
    json_decref(list);
    return n;
}

/* ---- steps ---------------------------------------------------------------------- */

static int demo_start_servers(struct demo *d)
{
    unsigned ports[2];
    char listen_t[32], listen_s[32], db[512], log_t[300], log_s[300];
    if (demo_free_ports(ports, 2)) {
        fprintf(stderr, "scimitar demo: cannot find free loopback ports\n");
        return -1;
    }
    snprintf(listen_t, sizeof listen_t, "127.0.0.1:%u", ports[0]);
    snprintf(listen_s, sizeof listen_s, "127.0.0.1:%u", ports[1]);
    snprintf(d->target_base, sizeof d->target_base, "http://%s/scim/v2", listen_t);
    snprintf(d->serve_base, sizeof d->serve_base, "http://%s", listen_s);
    snprintf(db, sizeof db, "sqlite:%s/scimitar.db", d->dir);
    snprintf(log_t, sizeof log_t, "%s/target.log", d->dir);
    snprintf(log_s, sizeof log_s, "%s/serve.log", d->dir);
    /* Tokens go through the environment, not the command line (ps shows that). */
    char *targ[] = {"target", "--listen", listen_t, "--no-delete", NULL};
    char *sarg[] = {"serve", "--listen", listen_s, "--db", db, NULL};
    d->target_pid = demo_spawn(log_t, targ, "SCIMITAR_TARGET_TOKEN", d->target_token);
    d->serve_pid = demo_spawn(log_s, sarg, "SCIMITAR_ADMIN_TOKEN", d->admin_token);
    if (d->target_pid < 0 || d->serve_pid < 0) {
        fprintf(stderr, "scimitar demo: cannot start the servers: %s\n", strerror(errno));
        return -1;
    }
    int64_t t0 = sc_clock_mono_ms();
    int target_up = 0, serve_up = 0;
    while (!(target_up && serve_up)) {
        char url[128], err[256];
        if (demo_stop)
            return -1;
        if (!demo_alive(d->target_pid) || !demo_alive(d->serve_pid)) {
            fprintf(stderr, "scimitar demo: the %s exited at start; see %s\n",
                    demo_alive(d->target_pid) ? "server" : "target",
                    demo_alive(d->target_pid) ? log_s : log_t);
            return -1;
        }
        if (sc_clock_mono_ms() - t0 > DEMO_START_TIMEOUT_MS) {
            fprintf(stderr, "scimitar demo: the servers did not answer; see %s\n", d->dir);
            return -1;
        }
        if (!target_up) {
            snprintf(url, sizeof url, "%s/ServiceProviderConfig", d->target_base);
            target_up = demo_http("GET", url, d->target_auth, NULL, NULL, err, sizeof err) > 0;
        }
        if (!serve_up) {
            snprintf(url, sizeof url, "%s/healthz", d->serve_base);
            serve_up = demo_http("GET", url, d->admin_auth, NULL, NULL, err, sizeof err) == 200;
        }
        if (!(target_up && serve_up))
            sc_clock_sleep_ms(50);
    }
    printf("Started a SCIM target standing in for Code42 (deletion off, as Code42):\n"
           "  %s  (Bearer token %s)\n"
           "and the scimitar server at %s\n\n",
           d->target_base, d->target_token, d->serve_base);
    return 0;
}

static const char *const demo_given[] = {
    "Ada",  "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken",  "Frances", "Alan",  "Edsger",
    "Hedy", "Tim",   "Radia", "Donald",   "Sophie", "John",    "Mary", "Niklaus", "Karen", "Guido",
};
static const char *const demo_family[] = {
    "Lovelace", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov",  "Thompson",
    "Allen",    "Turing", "Dijkstra", "Lamarr",   "Lee",     "Perlman", "Knuth",
    "Wilson",   "Backus", "Keller",   "Wirth",    "Jones",   "Rossum",
};
static const char *const demo_titles[] = {"Engineer", "Sales Representative", "Designer",
                                          "Support Engineer", "Sales Lead"};
static const char *const demo_cities[] = {"Minneapolis", "Denver", "Austin", "Portland"};

/* Fills buf with user i's username ("ada.lovelace", then "ada.lovelace2" ...). */
static void demo_username(int i, char *buf, size_t n)
{
    int g = i % 20, f = (i / 20) % 20, round = i / 400;
    char base[64];
    snprintf(base, sizeof base, "%s.%s", demo_given[g], demo_family[f]);
    for (char *p = base; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    if (round)
        snprintf(buf, n, "%s%d", base, round + 1);
    else
        snprintf(buf, n, "%s", base);
}

static const char *demo_population_of(int i)
{
    int k = i % 10;
    return k < 6 ? DEMO_POPULATION : k < 8 ? "Contractors" : "Interns";
}

static json_t *demo_sample_user(int i)
{
    char username[80], email[128], formatted[80], phone[32], ext[16], street[48];
    int g = i % 20, f = (i / 20) % 20;
    demo_username(i, username, sizeof username);
    snprintf(email, sizeof email, "%s@example.com", username);
    snprintf(formatted, sizeof formatted, "%s %s", demo_given[g], demo_family[f]);
    snprintf(phone, sizeof phone, "+1 612 555 %04d", i % 10000);
    snprintf(ext, sizeof ext, "E%05d", i + 1);
    snprintf(street, sizeof street, "%d Washington Ave", 100 + i % 900);
    const char *pop = demo_population_of(i);
    return json_pack("{s:s, s:{s:s, s:s, s:s}, s:s, s:s, s:s, s:s, s:s, s:s,"
                     " s:{s:s, s:s, s:s, s:s, s:s}, s:{s:s}}",
                     "username", username, "name", "given", demo_given[g], "family", demo_family[f],
                     "formatted", formatted, "nickname", demo_given[g], "title", demo_titles[i % 5],
                     "type", strcmp(pop, "Contractors") == 0 ? "Contractor" : "Employee", "email",
                     email, "primaryPhone", phone, "externalId", ext, "address", "streetAddress",
                     street, "locality", demo_cities[i % 4], "region", "MN", "postalCode", "55401",
                     "countryCode", "US", "population", "name", pop);
}

/* Looks a directory user up by username; writes its id. */
static int demo_user_id(struct demo *d, const char *username, char *id, size_t n)
{
    char filter[128], path[512];
    snprintf(filter, sizeof filter, "username eq \"%s\"", username);
    char *q = http_client_escape(filter);
    if (!q)
        return -1;
    snprintf(path, sizeof path, "/api/v1/users?filter=%s", q);
    free(q);
    json_t *list = NULL;
    int rc = -1;
    if (demo_api(d, "GET", path, NULL, &list))
        goto done;
    const char *s = sc_json_get_string(json_array_get(json_object_get(list, "items"), 0), "id");
    if (!s) {
        fprintf(stderr, "scimitar demo: user %s not found in the directory\n", username);
        goto done;
    }
    snprintf(id, n, "%s", s);
    rc = 0;
done:
    json_decref(list);
    return rc;
}

static int demo_load_directory(struct demo *d)
{
    static const char *const pops[][2] = {
        {DEMO_POPULATION, "Employees who use Code42"},
        {"Contractors", "External staff (not provisioned)"},
        {"Interns", "Summer interns (not provisioned)"},
    };
    int rc = -1;
    json_t *group = NULL;
    char gid_eng[64] = "", gid_comp[64] = "", uid[64], name[80], path[256];
    for (size_t i = 0; i < sizeof pops / sizeof pops[0]; i++)
        if (demo_api(d, "POST", "/api/v1/populations",
                     json_pack("{s:s, s:s}", "name", pops[i][0], "description", pops[i][1]), NULL))
            goto done;
    d->in_scope = 0;
    for (int start = 0; start < d->users; start += 1000) {
        json_t *batch = json_array();
        for (int i = start; i < d->users && i < start + 1000; i++) {
            json_array_append_new(batch, demo_sample_user(i));
            if (strcmp(demo_population_of(i), DEMO_POPULATION) == 0)
                d->in_scope++;
        }
        if (demo_api(d, "POST", "/api/v1/users/import", batch, NULL))
            goto done;
    }
    /* Groups: Engineering with Compilers nested in it (static), Sales (dynamic). */
    if (demo_api(d, "POST", "/api/v1/groups",
                 json_pack("{s:s, s:s}", "name", "Engineering", "description", "All engineers"),
                 &group))
        goto done;
    snprintf(gid_eng, sizeof gid_eng, "%s", sc_json_get_string(group, "id"));
    json_decref(group);
    group = NULL;
    if (demo_api(d, "POST", "/api/v1/groups",
                 json_pack("{s:s, s:s}", "name", "Compilers", "description", "Compiler team"),
                 &group))
        goto done;
    snprintf(gid_comp, sizeof gid_comp, "%s", sc_json_get_string(group, "id"));
    snprintf(path, sizeof path, "/api/v1/groups/%s/members", gid_eng);
    if (demo_api(d, "POST", path, json_pack("{s:s}", "groupId", gid_comp), NULL))
        goto done;
    for (int i = 0; i < 6 && i < d->users; i++) {
        demo_username(i * 5, name, sizeof name);
        if (demo_user_id(d, name, uid, sizeof uid))
            goto done;
        snprintf(path, sizeof path, "/api/v1/groups/%s/members", i < 3 ? gid_comp : gid_eng);
        if (demo_api(d, "POST", path, json_pack("{s:s}", "userId", uid), NULL))
            goto done;
    }
    if (demo_api(d, "POST", "/api/v1/groups",
                 json_pack("{s:s, s:s, s:{s:s, s:[{s:s, s:s, s:s}]}}", "name", "Sales",
                           "description", "Everyone whose title starts with Sales", "userFilter",
                           "match", "ALL", "conditions", "attribute", "title", "operator",
                           "STARTS_WITH", "value", "Sales"),
                 NULL))
        goto done;
    printf("Loaded a sample directory: %d users in 3 populations (%d in \"%s\"),\n"
           "groups Engineering > Compilers (nested) and Sales (dynamic: title starts with "
           "\"Sales\").\n\n",
           d->users, d->in_scope, DEMO_POPULATION);
    rc = 0;
done:
    json_decref(group);
    return rc;
}

static int demo_connection(struct demo *d)
{
    json_t *conn = NULL, *test = NULL;
    int rc = -1;
    char path[256];
    if (demo_api(d, "POST", "/api/v1/connections",
                 json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s},"
                           " s:{s:s, s:s, s:s}}",
                           "name", "Code42", "description", "Code42 SCIM provider", "type",
                           "SCIM_OUTBOUND", "scim", "baseUrl", d->target_base, "usersResource",
                           "/Users", "version", "2.0", "auth", "method", "OAUTH2_BEARER",
                           "accessToken", d->target_token, "typeHeader", "Bearer", "preferences",
                           "userFilterExpression", "username Eq \"%s\"", "userIdentifier",
                           "userName", "removeAction", "DISABLE"),
                 &conn))
        goto done;
    snprintf(d->conn_id, sizeof d->conn_id, "%s", sc_json_get_string(conn, "id"));
    printf("Connection \"Code42\" (SCIM Outbound):\n"
           "  SCIM base URL           %s\n"
           "  Users Resource          /Users\n"
           "  SCIM Version            2.0\n"
           "  Authentication Method   OAuth 2 Bearer Token (Auth Type Header: Bearer)\n"
           "  User Filter Expression  username Eq \"%%s\"\n"
           "  User Identifier         userName\n"
           "  Remove Action           Disable (Code42 doesn't support user deletion)\n\n",
           d->target_base);
    snprintf(path, sizeof path, "/api/v1/connections/%s/test", d->conn_id);
    if (demo_api(d, "POST", path, NULL, &test))
        goto done;
    printf("Test Connection:\n");
    json_t *steps = json_object_get(test, "steps");
    size_t i;
    json_t *s;
    json_array_foreach(steps, i, s)
    {
        const char *name = sc_json_get_string(s, "name");
        const char *detail = sc_json_get_string(s, "detail");
        printf("  %-4s %-22s %s\n", json_is_true(json_object_get(s, "ok")) ? "ok" : "FAIL",
               name ? name : "", detail ? detail : "");
    }
    if (!json_is_true(json_object_get(test, "ok"))) {
        fprintf(stderr, "scimitar demo: Test Connection failed\n");
        goto done;
    }
    printf("\n");
    snprintf(path, sizeof path, "/api/v1/connections/%s", d->conn_id);
    if (demo_api(d, "PATCH", path, json_pack("{s:b}", "enabled", 1), NULL))
        goto done;
    rc = 0;
done:
    json_decref(conn);
    json_decref(test);
    return rc;
}

static int demo_rule(struct demo *d)
{
    json_t *rule = NULL, *rows = NULL;
    int rc = -1;
    char path[256];
    if (demo_api(d, "POST", "/api/v1/rules",
                 json_pack("{s:s, s:s, s:s}", "name", "Code42 provisioning", "description",
                           "Provision the " DEMO_POPULATION " population to Code42", "target",
                           d->conn_id),
                 &rule))
        goto done;
    snprintf(d->rule_id, sizeof d->rule_id, "%s", sc_json_get_string(rule, "id"));
    snprintf(path, sizeof path, "/api/v1/rules/%s/filter", d->rule_id);
    if (demo_api(d, "PUT", path,
                 json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "match", "ALL", "conditions", "attribute",
                           "population.name", "operator", "EQUALS", "value", DEMO_POPULATION),
                 NULL))
        goto done;
    snprintf(path, sizeof path, "/api/v1/rules/%s/mappings", d->rule_id);
    if (demo_api(d, "GET", path, NULL, &rows))
        goto done;
    /* A new rule starts with the seed's Code42 mapping; put it back if it was changed. */
    size_t have = json_array_size(rows);
    json_t *defaults = mapping_defaults();
    if (!json_equal(rows, defaults)) {
        have = json_array_size(defaults);
        if (demo_api(d, "PUT", path, defaults, NULL))
            goto done;
    } else {
        json_decref(defaults);
    }
    printf("Rule \"Code42 provisioning\": source the directory, target Code42,\n"
           "  User Filter: All of [Population Name Equals \"%s\"]\n"
           "  Attribute Mapping: %zu rows (the seed's Code42 defaults: userName <- Username,\n"
           "  givenName <- Given Name, familyName <- Family Name, workEmail <- Email Address, "
           "...)\n\n",
           DEMO_POPULATION, have);
    snprintf(path, sizeof path, "/api/v1/rules/%s", d->rule_id);
    if (demo_api(d, "PATCH", path, json_pack("{s:b}", "enabled", 1), NULL))
        goto done;
    rc = 0;
done:
    json_decref(rule);
    json_decref(rows);
    return rc;
}

static json_t *demo_status(struct demo *d)
{
    char path[256];
    json_t *st = NULL;
    snprintf(path, sizeof path, "/api/v1/rules/%s/status", d->rule_id);
    return demo_api(d, "GET", path, NULL, &st) ? NULL : st;
}

static long demo_status_count(const json_t *st, const char *key)
{
    return (long)json_integer_value(json_object_get(json_object_get(st, "users"), key));
}

static int demo_wait_sync(struct demo *d)
{
    int64_t t0 = sc_clock_mono_ms();
    long n = 0;
    printf("Rule and connection enabled: the first full sync runs.\n");
    fflush(stdout);
    for (;;) {
        if (demo_stop)
            return -1;
        n = demo_target_count(d);
        if (n >= d->in_scope) {
            json_t *st = demo_status(d);
            long done = demo_status_count(st, "success") + demo_status_count(st, "failed") +
                        demo_status_count(st, "unsynced");
            json_decref(st);
            if (done >= d->in_scope)
                break;
        }
        if (!demo_alive(d->serve_pid) || !demo_alive(d->target_pid)) {
            fprintf(stderr, "scimitar demo: a server exited during the sync; see %s\n", d->dir);
            return -1;
        }
        if (sc_clock_mono_ms() - t0 > DEMO_SYNC_TIMEOUT_MS) {
            fprintf(stderr,
                    "scimitar demo: the sync did not finish (%ld of %d users on the "
                    "target); see %s/serve.log\n",
                    n, d->in_scope, d->dir);
            return -1;
        }
        sc_clock_sleep_ms(20);
    }
    double s = (double)(sc_clock_mono_ms() - t0) / 1000.0;
    printf("Provisioned %ld users in %.2f s (%.0f users/s).\n\n", n, s,
           s > 0 ? (double)n / s : 0.0);
    return 0;
}

/* The value of a work-typed entry of a SCIM multi-valued attribute, or "". */
static const char *demo_work(const json_t *u, const char *attr, const char *key)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(u, attr), i, v)
    {
        const char *type = sc_json_get_string(v, "type");
        if (type && strcmp(type, "work") == 0) {
            const char *s = sc_json_get_string(v, key);
            return s ? s : "";
        }
    }
    return "";
}

static const char *demo_str(const json_t *u, const char *path)
{
    const char *s = sc_json_get_string(u, path);
    return s ? s : "";
}

static int demo_table(struct demo *d)
{
    char path[64];
    snprintf(path, sizeof path, "/Users?startIndex=1&count=%d", DEMO_TABLE_ROWS);
    json_t *list = demo_scim_get(d, path);
    if (!list) {
        fprintf(stderr, "scimitar demo: cannot list the target's users\n");
        return -1;
    }
    long total = (long)json_integer_value(json_object_get(list, "totalResults"));
    printf("Users on the target (%s/Users), first %d of %ld:\n", d->target_base, DEMO_TABLE_ROWS,
           total);
    printf("  %-20s %-9s %-10s %-30s %-16s %-20s %-11s %s\n", "userName", "givenName", "familyName",
           "workEmail", "workPhone", "title", "workCity", "active");
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(list, "Resources"), i, u)
    {
        json_t *active = json_object_get(u, "active");
        printf("  %-20s %-9s %-10s %-30s %-16s %-20s %-11s %s\n", demo_str(u, "userName"),
               demo_str(u, "name.givenName"), demo_str(u, "name.familyName"),
               demo_work(u, "emails", "value"), demo_work(u, "phoneNumbers", "value"),
               demo_str(u, "title"), demo_work(u, "addresses", "locality"),
               !active || json_is_true(active) ? "true" : "false");
    }
    if (total > DEMO_TABLE_ROWS)
        printf("  ... and %ld more\n", total - DEMO_TABLE_ROWS);
    printf("\n");
    json_decref(list);
    return 0;
}

/* Applies body (stolen) to the directory user, then times until the target shows it:
 * the target user's `attr` equals want (a string), or its active flag is false when
 * want is NULL. */
static int demo_live_change(struct demo *d, const char *username, json_t *body, const char *attr,
                            const char *want, const char *label)
{
    char uid[64], path[256];
    if (demo_user_id(d, username, uid, sizeof uid)) {
        json_decref(body);
        return -1;
    }
    snprintf(path, sizeof path, "/api/v1/users/%s", uid);
    int64_t t0 = sc_clock_mono_ns();
    if (demo_api(d, "PATCH", path, body, NULL))
        return -1;
    for (;;) {
        json_t *u = demo_target_user(d, username);
        int seen = 0;
        if (u && want) {
            const char *v = sc_json_get_string(u, attr);
            seen = v && strcmp(v, want) == 0;
        } else if (u) {
            seen = json_is_false(json_object_get(u, "active"));
        }
        json_decref(u);
        if (seen)
            break;
        if (demo_stop)
            return -1;
        if ((sc_clock_mono_ns() - t0) / 1000000 > DEMO_CHANGE_TIMEOUT_MS) {
            fprintf(stderr, "scimitar demo: the change to %s did not reach the target\n", username);
            return -1;
        }
        sc_clock_sleep_ms(2);
    }
    double ms = (double)(sc_clock_mono_ns() - t0) / 1e6;
    printf("  %-58s %7.1f ms\n", label, ms);
    return 0;
}

static int demo_live_changes(struct demo *d)
{
    char a[80], b[80], label[160];
    /* Users 0 and 1 are in the provisioned population (i % 10 < 6). */
    demo_username(0, a, sizeof a);
    demo_username(1, b, sizeof b);
    printf("Live changes (time from the REST API call until the target shows it):\n");
    snprintf(label, sizeof label, "update   %-20s title -> \"Principal Engineer\"", a);
    if (demo_live_change(d, a, json_pack("{s:s}", "title", "Principal Engineer"), "title",
                         "Principal Engineer", label))
        return -1;
    snprintf(label, sizeof label, "disable  %-20s active:false", b);
    if (demo_live_change(d, b, json_pack("{s:b}", "enabled", 0), NULL, NULL, label))
        return -1;
    printf("  (the account stays on the target, disabled: Remove Action is Disable)\n\n");
    return 0;
}

static int demo_counters(struct demo *d)
{
    json_t *st = demo_status(d);
    if (!st)
        return -1;
    const char *last = sc_json_get_string(st, "lastSyncAt");
    printf("Rule counters:\n"
           "  Sync status %s, last sync %s\n"
           "  Impacted %ld  Success %ld  Unsynced %ld  Partially synced %ld  Failed %ld\n\n",
           demo_str(st, "status"), last ? last : "-", demo_status_count(st, "impacted"),
           demo_status_count(st, "success"), demo_status_count(st, "unsynced"),
           demo_status_count(st, "partiallySynced"), demo_status_count(st, "failed"));
    json_decref(st);
    return 0;
}

int cli_demo(int argc, char **argv)
{
    int once = 0, keep = 0, rc = 1;
    int64_t users = 300;
    static const struct option opts[] = {
        {"once", no_argument, NULL, 'o'},
        {"users", required_argument, NULL, 'u'},
        {"keep", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "ou:kh", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            once = 1;
            break;
        case 'k':
            keep = 1;
            break;
        case 'u':
            if (sc_parse_int64(optarg, 20, 100000, &users)) {
                fprintf(stderr, "scimitar demo: --users must be 20 to 100000\n");
                return 2;
            }
            break;
        case 'h':
            demo_usage(stdout);
            return 0;
        default:
            demo_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "scimitar demo: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }

    struct demo d = {.serve_pid = -1, .target_pid = -1, .users = (int)users};
    struct sigaction sa = {.sa_handler = demo_on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    http_client_global_init();

    const char *tmp = getenv("TMPDIR");
    snprintf(d.dir, sizeof d.dir, "%s/scimitar-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(d.dir)) {
        fprintf(stderr, "scimitar demo: cannot make a temporary folder: %s\n", strerror(errno));
        return 1;
    }
    if (sc_random_token(24, d.admin_token, sizeof d.admin_token) ||
        sc_random_token(24, d.target_token, sizeof d.target_token)) {
        fprintf(stderr, "scimitar demo: cannot make random tokens\n");
        goto done;
    }
    snprintf(d.admin_auth, sizeof d.admin_auth, "Authorization: Bearer %s", d.admin_token);
    snprintf(d.target_auth, sizeof d.target_auth, "Authorization: Bearer %s", d.target_token);
    printf("scimitar demo: the Code42 provisioning walkthrough on this machine.\n"
           "Logs: %s (serve.log, target.log; removed at exit unless --keep)\n\n",
           d.dir);
    fflush(stdout);

    if (demo_start_servers(&d) || demo_load_directory(&d) || demo_connection(&d) || demo_rule(&d) ||
        demo_wait_sync(&d) || demo_table(&d) || demo_live_changes(&d) || demo_counters(&d))
        goto done;
    printf("Console: %s/  (sign in with the admin token %s)\n", d.serve_base, d.admin_token);
    printf("CLI:     SCIMITAR_SERVER=%s SCIMITAR_TOKEN=%s scimitar rules status %s\n", d.serve_base,
           d.admin_token, d.rule_id);
    fflush(stdout);
    if (!once) {
        printf("\nRunning: change users in the console or the API and watch them reach the "
               "target.\nPress Ctrl-C to stop.\n");
        fflush(stdout);
        while (!demo_stop) {
            if (!demo_alive(d.serve_pid) || !demo_alive(d.target_pid)) {
                fprintf(stderr, "scimitar demo: a server exited; see %s\n", d.dir);
                keep = 1;
                goto done;
            }
            sc_clock_sleep_ms(200);
        }
        printf("\nStopping.\n");
    }
    rc = 0;
done:
    demo_stop_child(&d.serve_pid);
    demo_stop_child(&d.target_pid);
    if (rc != 0 && !demo_stop)
        keep = 1;
    if (keep)
        printf("Kept %s (database and logs).\n", d.dir);
    else
        nftw(d.dir, demo_rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    http_client_thread_cleanup();
    return rc;
}
