/* scimitar serve: the daemon. Opens the database (migrating it), makes sure an admin
 * token exists (printed once at first start, stored only as a hash; the environment
 * variable SCIMITAR_ADMIN_TOKEN sets it), starts the provisioning engine and the HTTP
 * server (REST API + console), and shuts down cleanly on SIGTERM or SIGINT. */
#include "cli/commands.h"
#include "admin/admin.h"
#include "api/api.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/conf.h"
#include "base/log.h"
#include "http/allow.h"
#include "http/server.h"
#include "provision/engine.h"
#include "provision/secrets.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef SCIMITAR_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

static void serve_usage(FILE *out)
{
    fprintf(out,
            "usage: scimitar serve [--config PATH] [--listen ADDR] [--db DSN] [--threads N]\n"
            "                      [--key-file PATH] [--admin-token-file PATH]\n"
            "                      [--durability full|normal] [--allow-targets LIST]\n"
            "                      [--lease-seconds N] [--log-format text|json] [--routes]\n\n"
            "  --config PATH    read settings from a `key = value` file first: each key is\n"
            "                   a flag's name with _ for - (listen, db, threads, key_file,\n"
            "                   admin_token_file, max_body, lease_seconds, durability,\n"
            "                   allow_targets, log_format); flags on the command line win;\n"
            "                   `scimitar config check --config PATH` checks a file\n"
            "  --listen ADDR    address to serve on (default 127.0.0.1:8080; port 0 = any)\n"
            "  --db DSN         database: sqlite:PATH (default sqlite:./scimitar.db) or\n"
            "                   postgresql://USER@HOST:PORT/DATABASE\n"
            "  --threads N      HTTP worker threads (default 4)\n"
            "  --key-file PATH  secrets encryption key (default: DB path + \".key\";\n"
            "                   SCIMITAR_KEY in the environment overrides it; required\n"
            "                   with PostgreSQL unless SCIMITAR_KEY is set)\n"
            "  --max-body N     largest request body in bytes (default 8388608)\n"
            "  --lease-seconds N\n"
            "                   how long a queued change stays claimed by this server\n"
            "                   without renewal (default 300 on SQLite, 15 on PostgreSQL, where\n"
            "                   another node takes over the work of one that stops; renewed\n"
            "                   while held)\n"
            "  --durability full|normal\n"
            "                   full (default): a commit is on disk when it returns, a power\n"
            "                   loss loses nothing committed; normal: faster commits, a\n"
            "                   power loss may lose the last ones (a killed process does not)\n"
            "  --allow-targets LIST\n"
            "                   where connections may go: comma-separated host names,\n"
            "                   *.suffixes, IPv4/IPv6 addresses and CIDR blocks (default:\n"
            "                   anywhere)\n"
            "  --admin-token-file PATH\n"
            "                   read the admin token from PATH (readable by its owner only;\n"
            "                   at least 16 characters; wins over SCIMITAR_ADMIN_TOKEN)\n"
            "  --initial-token-file PATH\n"
            "                   write the token the first start makes to PATH (mode 0600)\n"
            "                   instead of printing it (keeps it out of a service's journal)\n"
            "  --log-format text|json\n"
            "                   text (default): key=value lines; json: one JSON object a\n"
            "                   line. Under systemd (JOURNAL_STREAM) lines start with <N>\n"
            "                   syslog priorities\n"
            "  --routes         print the REST route table and exit\n\n"
            "The first start creates an admin token and prints it once (or writes it to\n"
            "--initial-token-file); only its hash is stored. SCIMITAR_ADMIN_TOKEN sets the token "
            "instead. SCIMITAR_LOG sets the log\n"
            "level (debug, info, warn, error).\n");
}

/* Tells the service manager (systemd's Type=notify, through NOTIFY_SOCKET) how serve
 * stands: "READY=1" once the engine runs and the server accepts requests, "STOPPING=1"
 * when a stop signal came. Without NOTIFY_SOCKET, or in a build without libsystemd, it
 * does nothing. */
static void serve_notify(const char *state)
{
#ifdef SCIMITAR_HAVE_SYSTEMD
    int rc = sd_notify(0, state);
    if (rc < 0)
        SC_WARN("serve.notify_failed", "state=%s errno=%d", state, -rc);
#else
    (void)state;
#endif
}

/* Writes a new admin token to path (created or replaced, mode 0600, not through a
 * symbolic link). Prints the error and returns -1. */
static int write_initial_token(const char *path, const char *token)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "scimitar serve: cannot write the initial admin token to %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    size_t len = strlen(token);
    int ok = fchmod(fd, 0600) == 0 && write(fd, token, len) == (ssize_t)len &&
             write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        saved = errno;
    }
    if (!ok) {
        fprintf(stderr, "scimitar serve: cannot write the initial admin token to %s: %s\n", path,
                strerror(saved));
        unlink(path);
        return -1;
    }
    return 0;
}

/* Makes sure the database holds an admin token hash. A token made now (the first start)
 * is shown once: written to initial_file when one is set (so that it does not stay in a
 * service's journal), else printed (also when the file cannot be written: the token
 * would be lost otherwise). */
static int ensure_admin_token(struct store *st, const char *chosen, const char *initial_file,
                              char hash_out[ADMIN_TOKEN_HASH_SIZE])
{
    char token[ADMIN_TOKEN_NEW_SIZE];
    struct sc_error e = {0};
    enum sc_err rc = admin_token_setup(st, chosen, hash_out, token, &e);
    if (rc == SC_ERR_INVALID)
        fprintf(stderr, "scimitar serve: %s\n", e.message);
    if (rc)
        return -1;
    if (token[0] && initial_file && write_initial_token(initial_file, token) == 0) {
        printf("Admin token made at this first start: written to %s (mode 0600). Read it,\n"
               "keep it (e.g. export SCIMITAR_TOKEN=...), then delete the file.\n",
               initial_file);
        fflush(stdout);
    } else if (token[0]) {
        printf("Admin token (shown once; store it now, e.g. export SCIMITAR_TOKEN=...):\n  %s\n",
               token);
        fflush(stdout);
    }
    explicit_bzero(token, sizeof token);
    return 0;
}

static struct store *pool_acquire(void *pool)
{
    return store_pool_acquire(pool);
}

static void pool_release(void *pool, struct store *st)
{
    store_pool_release(pool, st);
}

static void engine_wake(void *arg)
{
    provision_engine_wake(arg);
}

static void engine_metrics(void *arg, struct sc_buf *out)
{
    provision_engine_metrics(arg, out);
    provision_engine_group_metrics(arg, out);
}

/* The options of serve. Each one with an argument, --config aside, is also a key of the
 * configuration file (its name with _ for -). */
static const struct option serve_opts[] = {
    {"listen", required_argument, NULL, 'l'},
    {"db", required_argument, NULL, 'd'},
    {"threads", required_argument, NULL, 't'},
    {"key-file", required_argument, NULL, 'k'},
    {"max-body", required_argument, NULL, 'm'},
    {"routes", no_argument, NULL, 'r'},
    {"help", no_argument, NULL, 'h'},
    {"durability", required_argument, NULL, 'D'},
    {"allow-targets", required_argument, NULL, 'A'},
    {"lease-seconds", required_argument, NULL, 'L'},
    {"admin-token-file", required_argument, NULL, 'T'},
    {"initial-token-file", required_argument, NULL, 'I'},
    {"log-format", required_argument, NULL, 'F'},
    {"config", required_argument, NULL, 'C'},
    {NULL, 0, NULL, 0},
};

/* The argument list getopt reads: argv[0], one "--name=value" per entry of the file
 * named by --config (in file order), then the rest of argv, so that a flag given on the
 * command line comes later and wins. origin[i] is "PATH:LINE" for an argument from the
 * file, NULL for one from the command line. */
struct serve_args {
    int argc;
    char **argv;
    char **origin;
};

static void serve_args_free(struct serve_args *a)
{
    for (int i = 0; a->origin && i < a->argc; i++)
        if (a->origin[i]) {
            free(a->argv[i]);
            free(a->origin[i]);
        }
    free(a->argv);
    free(a->origin);
}

/* Fills a from argv and the file --config names (if any). Returns 0, or 2 after
 * printing the error (the file cannot be read, a malformed line, an unknown key). */
static int serve_args_build(int argc, char **argv, struct serve_args *a)
{
    const char *path = NULL;
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        /* --config, or a prefix of it getopt takes for it (--conf) */
        size_t n = strcspn(argv[i], "=");
        if (n < 3 || strncmp(argv[i], "--config", n) != 0)
            continue;
        if (argv[i][n] == '=')
            path = argv[i] + n + 1;
        else if (i + 1 < argc)
            path = argv[++i];
    }
    struct sc_conf *conf = NULL;
    struct sc_error e = {0};
    if (path && sc_conf_load(path, &conf, &e)) {
        fprintf(stderr, "scimitar serve: %s\n", e.message);
        return 2;
    }
    size_t n = conf ? conf->count : 0;
    a->argc = 0;
    a->argv = calloc((size_t)argc + n + 1, sizeof *a->argv);
    a->origin = calloc((size_t)argc + n + 1, sizeof *a->origin);
    int status = 0;
    if (!a->argv || !a->origin) {
        status = 1;
        goto done;
    }
    a->argv[a->argc++] = argv[0];
    for (size_t i = 0; i < n; i++) {
        const struct sc_conf_entry *en = &conf->entries[i];
        char flag[SC_CONF_MAX_KEY + 1];
        snprintf(flag, sizeof flag, "%s", en->key);
        for (char *p = flag; *p; p++)
            if (*p == '_')
                *p = '-';
        int known = 0;
        for (const struct option *o = serve_opts; o->name && !known; o++)
            known = o->has_arg == required_argument && strcmp(o->name, "config") != 0 &&
                    strcmp(o->name, flag) == 0;
        if (!known) {
            fprintf(stderr,
                    "scimitar serve: %s:%d: unknown key '%s' (known: listen, db, threads, "
                    "key_file, admin_token_file, initial_token_file, max_body, lease_seconds, "
                    "durability, allow_targets, log_format)\n",
                    conf->path, en->line, en->key);
            status = 2;
            goto done;
        }
        struct sc_buf arg, from;
        sc_buf_init(&arg, 0);
        sc_buf_init(&from, 0);
        if (sc_buf_printf(&arg, "--%s=%s", flag, en->value) ||
            sc_buf_printf(&from, "%s:%d", conf->path, en->line)) {
            sc_buf_free(&arg);
            sc_buf_free(&from);
            status = 1;
            goto done;
        }
        a->origin[a->argc] = sc_buf_steal(&from);
        a->argv[a->argc++] = sc_buf_steal(&arg);
    }
    for (int i = 1; i < argc; i++)
        a->argv[a->argc++] = argv[i];
done:
    sc_conf_free(conf);
    return status;
}

/* Reads the admin token from path into out (size n): the file's first line, without
 * surrounding blanks. Refuses a file open to group or others, like the key file. Prints
 * the error and returns -1. */
static int read_token_file(const char *path, char *out, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "scimitar serve: cannot read the admin token file %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) == 0 && (sb.st_mode & 077)) {
        close(fd);
        fprintf(stderr,
                "scimitar serve: the admin token file %s is open to group or others (mode "
                "%04o): it must be readable by its owner only (chmod 600 %s)\n",
                path, (unsigned)(sb.st_mode & 07777), path);
        return -1;
    }
    ssize_t got = read(fd, out, n - 1);
    int saved = errno;
    close(fd);
    if (got < 0) {
        fprintf(stderr, "scimitar serve: cannot read the admin token file %s: %s\n", path,
                strerror(saved));
        return -1;
    }
    out[got] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    size_t len = strlen(out);
    while (len > 0 && (out[len - 1] == ' ' || out[len - 1] == '\t'))
        out[--len] = '\0';
    size_t lead = strspn(out, " \t");
    memmove(out, out + lead, len - lead + 1);
    if (!out[0] || (size_t)got == n - 1) {
        fprintf(stderr,
                "scimitar serve: the admin token file %s must hold the token on its first "
                "line (%d to %zu characters)\n",
                path, ADMIN_TOKEN_MIN, n - 2);
        return -1;
    }
    return 0;
}

/* Prints "key = value" (quoted when the value needs it) and where it came from; an
 * empty value prints as a comment saying why the key is not set. */
static void print_setting(const char *key, const char *value, const char *from)
{
    struct sc_buf b;
    sc_buf_init(&b, 0);
    if (!value[0]) {
        printf("# %s is not set: %s\n", key, from);
        return;
    }
    sc_buf_printf(&b, "%s = ", key);
    if (strpbrk(value, " \t\"#\\")) {
        sc_buf_puts(&b, "\"");
        for (const char *p = value; *p; p++)
            sc_buf_printf(&b, "%s%c", *p == '"' || *p == '\\' ? "\\" : "", *p);
        sc_buf_puts(&b, "\"");
    } else {
        sc_buf_puts(&b, value);
    }
    printf("%-44s # %s\n", b.data ? b.data : "", from);
    sc_buf_free(&b);
}

/* Prints an error about the value of an option to stderr, prefixed with the file and
 * line it came from when it came from the configuration file. */
static void serve_bad(const char *from, const char *msg)
{
    fprintf(stderr, "scimitar serve: %s%s%s\n", from ? from : "", from ? ": " : "", msg);
}

/* serve's settings after the file and the command line, for `scimitar config check`. */
struct serve_settings {
    const char *listen, *dsn, *key_file, *token_file, *initial_file, *durability, *allow_targets,
        *log_format;
    int64_t threads, max_body, lease_s;
};

/* Checks what serve would check before opening the database (the listen address, the
 * DSN's form, the key file and the admin token file with their modes), without opening
 * it, and prints the effective settings with the database password masked. */
static int serve_check(const struct serve_settings *s, const char *const *from)
{
    int bad = 0;
    char host[256], shown[512], num[32];
    unsigned port = 0;
    if (http_parse_listen(s->listen, host, sizeof host, &port)) {
        serve_bad(from['l'], "--listen must be HOST:PORT, [IPv6]:PORT or :PORT");
        bad = 1;
    }
    int pg = store_dsn_is_postgresql(s->dsn);
    if (!pg && (strncmp(s->dsn, "sqlite:", 7) != 0 || !s->dsn[7])) {
        serve_bad(from['d'], "--db must be sqlite:PATH or postgresql://USER@HOST:PORT/DATABASE");
        bad = 1;
    }
    char key_buf[1024];
    const char *key_file = s->key_file;
    const char *env_key = getenv("SCIMITAR_KEY");
    if (!key_file && !pg && strncmp(s->dsn, "sqlite:", 7) == 0) {
        snprintf(key_buf, sizeof key_buf, "%s.key", s->dsn + 7);
        key_file = key_buf;
    }
    if (pg && !key_file && !(env_key && *env_key)) {
        serve_bad(NULL, "with a PostgreSQL database the secrets key must be given: key_file "
                        "(--key-file) or SCIMITAR_KEY");
        bad = 1;
    }
    if (key_file && access(key_file, F_OK) == 0) {
        struct secrets_key *k = NULL;
        struct sc_error e = {0};
        if (secrets_key_load(key_file, &k, &e)) {
            serve_bad(from['k'], e.message);
            bad = 1;
        }
        secrets_key_free(k);
    }
    if (s->token_file) {
        char token[1024];
        if (read_token_file(s->token_file, token, sizeof token))
            bad = 1;
        else if (strlen(token) < ADMIN_TOKEN_MIN) {
            fprintf(stderr, "scimitar serve: the admin token in %s is shorter than %d characters\n",
                    s->token_file, ADMIN_TOKEN_MIN);
            bad = 1;
        }
        memset(token, 0, sizeof token);
    }
    if (bad)
        return 2;
#define FROM(ch) (from[ch] ? from[ch] : "default")
    print_setting("listen", s->listen, FROM('l'));
    store_dsn_redact(s->dsn, shown, sizeof shown);
    print_setting("db", shown, FROM('d'));
    snprintf(num, sizeof num, "%lld", (long long)s->threads);
    print_setting("threads", num, FROM('t'));
    if (key_file)
        print_setting("key_file", key_file,
                      from['k'] ? from['k']
                      : access(key_file, F_OK) == 0
                          ? "default: beside the database"
                          : "default: beside the database, created at the first start");
    else
        print_setting("key_file", "", "SCIMITAR_KEY is the key");
    if (env_key && *env_key)
        printf("# SCIMITAR_KEY is set in the environment: it is the key, not key_file\n");
    print_setting("admin_token_file", s->token_file ? s->token_file : "",
                  s->token_file ? from['T']
                  : getenv("SCIMITAR_ADMIN_TOKEN")
                      ? "SCIMITAR_ADMIN_TOKEN sets the token"
                      : "the token stored in the database (made at the first start)");
    print_setting("initial_token_file", s->initial_file ? s->initial_file : "",
                  s->initial_file ? from['I'] : "a token made at the first start is printed");
    snprintf(num, sizeof num, "%lld", (long long)s->max_body);
    print_setting("max_body", num, FROM('m'));
    if (s->lease_s)
        snprintf(num, sizeof num, "%lld", (long long)s->lease_s);
    else
        snprintf(num, sizeof num, "%d", pg ? 15 : 300);
    print_setting("lease_seconds", num, FROM('L'));
    print_setting("durability", s->durability, FROM('D'));
    print_setting("allow_targets", s->allow_targets ? s->allow_targets : "",
                  s->allow_targets ? from['A'] : "connections may go anywhere");
    print_setting("log_format", s->log_format, FROM('F'));
#undef FROM
    return 0;
}

/* Runs serve, or with check only validates its settings and prints them. */
static int serve_main(int argc, char **argv, char **origin, int check)
{
    const char *listen = "127.0.0.1:8080";
    const char *dsn = "sqlite:./scimitar.db";
    const char *key_file = NULL, *token_file = NULL, *initial_file = NULL, *durability = "full",
               *allow_targets = NULL, *log_format = "text";
    int64_t threads = 4, max_body = 8 * 1024 * 1024, lease_s = 0;
    const char *from[128] = {0}; /* where each option's value came from, by its letter */
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "l:d:t:k:m:L:rh", serve_opts, NULL)) != -1) {
        const char *at = origin && optind > 0 ? origin[optind - 1] : NULL;
        if (c > 0 && c < 128)
            from[c] = at ? at : "command line";
        switch (c) {
        case 'C':
            break; /* read before getopt */
        case 'A': {
            struct sc_error ae = {0};
            if (http_allow_targets_set(optarg, &ae)) {
                serve_bad(at, ae.message);
                return 2;
            }
            allow_targets = optarg;
            break;
        }
        case 'D':
            if (strcmp(optarg, "full") == 0) {
                store_set_durability(STORE_DURABILITY_FULL);
            } else if (strcmp(optarg, "normal") == 0) {
                store_set_durability(STORE_DURABILITY_NORMAL);
            } else {
                serve_bad(at, "--durability must be full or normal");
                return 2;
            }
            durability = optarg;
            break;
        case 'F':
            if (strcmp(optarg, "text") == 0) {
                sc_log_set_format(SC_LOG_FORMAT_TEXT);
            } else if (strcmp(optarg, "json") == 0) {
                sc_log_set_format(SC_LOG_FORMAT_JSON);
            } else {
                serve_bad(at, "--log-format must be text or json");
                return 2;
            }
            log_format = optarg;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'd':
            dsn = optarg;
            break;
        case 'k':
            key_file = optarg;
            break;
        case 'T':
            token_file = optarg;
            break;
        case 'I':
            initial_file = optarg;
            break;
        case 't':
            if (sc_parse_int64(optarg, 1, 64, &threads)) {
                serve_bad(at, "--threads must be 1 to 64");
                return 2;
            }
            break;
        case 'm':
            if (sc_parse_int64(optarg, 1024, 1024LL * 1024 * 1024, &max_body)) {
                serve_bad(at, "--max-body must be 1024 to 1073741824");
                return 2;
            }
            break;
        case 'L':
            if (sc_parse_int64(optarg, 1, 86400, &lease_s)) {
                serve_bad(at, "--lease-seconds must be 1 to 86400");
                return 2;
            }
            break;
        case 'r': {
            struct sc_buf b;
            sc_buf_init(&b, 0);
            api_routes_describe(&b);
            fputs(b.data ? b.data : "", stdout);
            sc_buf_free(&b);
            return 0;
        }
        case 'h':
            serve_usage(stdout);
            return 0;
        default:
            serve_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "scimitar serve: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (check)
        return serve_check(&(struct serve_settings){listen, dsn, key_file, token_file, initial_file,
                                                    durability, allow_targets, log_format, threads,
                                                    max_body, lease_s},
                           from);

    /* Every thread started below inherits a mask that blocks SIGTERM and SIGINT, so
     * the main thread alone receives them, in sigwait. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* past a file size limit, writes fail with EFBIG (SQLite: disk full, shown by
     * /healthz) instead of the signal ending the server */
    signal(SIGXFSZ, SIG_IGN);

    /* The key file sits beside a SQLite database by default; a PostgreSQL database has no
     * path to put it beside, and a key made up at each start would lose every stored
     * secret at the next one. */
    const char *env_key = getenv("SCIMITAR_KEY");
    if (store_dsn_is_postgresql(dsn) && !key_file && !(env_key && *env_key)) {
        fprintf(stderr, "scimitar serve: with a PostgreSQL database the secrets key must be "
                        "given: --key-file PATH (created with mode 0600 if missing) or "
                        "SCIMITAR_KEY (base64 or hex of 32 bytes); keep the same key for "
                        "every server sharing the database\n");
        return 2;
    }

    char file_token[1024] = "";
    if (token_file && read_token_file(token_file, file_token, sizeof file_token))
        return 2;

    int status = 1;
    struct sc_error e = {0};
    struct store_pool *pool = NULL;
    struct provision_engine *engine = NULL;
    struct http_server *server = NULL;
    struct api_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        goto done;
    if (store_pool_new(dsn, &pool, &e)) {
        fprintf(stderr, "scimitar serve: %s\n", e.message);
        if (e.code == SC_ERR_UNSUPPORTED) /* a schema newer than this binary, ... */
            status = 2;
        goto done;
    }
    struct store *st = store_pool_acquire(pool);
    int tok = st ? ensure_admin_token(st, token_file ? file_token : getenv("SCIMITAR_ADMIN_TOKEN"),
                                      initial_file, ctx->admin_token_hash)
                 : -1;
    store_pool_release(pool, st);
    if (tok) {
        fprintf(stderr, "scimitar serve: cannot set up the admin token\n");
        goto done;
    }

    char key_buf[1024];
    if (!key_file && strncmp(dsn, "sqlite:", 7) == 0 && strcmp(dsn + 7, ":memory:") != 0) {
        snprintf(key_buf, sizeof key_buf, "%s.key", dsn + 7);
        key_file = key_buf;
    }
    struct provision_engine_options eo = {
        .dsn = dsn, .key_path = key_file, .lease_ms = lease_s * 1000, .listen = listen};
    if (provision_engine_start(&eo, &engine, &e)) {
        fprintf(stderr, "scimitar serve: cannot start the provisioning engine: %s\n", e.message);
        goto done;
    }
    ctx->store_acquire = pool_acquire;
    ctx->store_release = pool_release;
    ctx->store_arg = pool;
    ctx->wake = engine_wake;
    ctx->wake_arg = engine;
    ctx->metrics = engine_metrics;
    ctx->metrics_arg = engine;
    ctx->engine = engine;
    ctx->key_path = key_file;
    ctx->started_ms = sc_clock_now_ms();

    struct http_server_options ho = {
        .listen = listen,
        .max_body = (size_t)max_body,
        .threads = (unsigned)threads,
        .handler = api_handle,
        .early = api_early,
        .ctx = ctx,
    };
    if (http_server_start(&ho, &server, &e)) {
        fprintf(stderr, "scimitar serve: %s\n", e.message);
        goto done;
    }
    char host[256], bound[300];
    unsigned want = 0;
    if (http_parse_listen(listen, host, sizeof host, &want) == 0 && want == 0) {
        /* the node list shows the port the server got, not 0 */
        snprintf(bound, sizeof bound, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
                 http_server_port(server));
        provision_engine_set_listen(engine, bound);
    }
    char shown[512];
    store_dsn_redact(dsn, shown, sizeof shown);
    SC_INFO("serve.listening", "url=http://%s port=%u db=%s", listen, http_server_port(server),
            shown);
    serve_notify("READY=1");
    int sig = 0;
    sigwait(&stop_signals, &sig);
    SC_INFO("serve.stopping", "signal=%d", sig);
    serve_notify("STOPPING=1");
    status = 0;
done:
    http_server_stop(server);
    provision_engine_stop(engine);
    store_pool_free(pool);
    free(ctx);
    memset(file_token, 0, sizeof file_token);
    return status;
}

static int serve_run(int argc, char **argv, int check)
{
    struct serve_args a = {0};
    int status = serve_args_build(argc, argv, &a);
    if (status == 0)
        status = serve_main(a.argc, a.argv, a.origin, check);
    serve_args_free(&a);
    return status;
}

int cli_serve(int argc, char **argv)
{
    return serve_run(argc, argv, 0);
}

int cli_serve_check(int argc, char **argv)
{
    return serve_run(argc, argv, 1);
}
