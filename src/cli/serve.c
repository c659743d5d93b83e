/* scimitar serve: the daemon. Opens the database (migrating it), makes sure an admin
 * token exists (printed once at first start, stored only as a hash; the environment
 * variable SCIMITAR_ADMIN_TOKEN sets it), starts the provisioning engine and the HTTP
 * server (REST API + console), and shuts down cleanly on SIGTERM or SIGINT. */
#include "cli/commands.h"
#include "admin/admin.h"
#include "api/api.h"
#include "base/clock.h"
#include "base/log.h"
#include "http/allow.h"
#include "http/server.h"
#include "provision/engine.h"
#include "store/store.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef SCIMITAR_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

static void serve_usage(FILE *out)
{
    fprintf(out,
            "usage: scimitar serve [--listen ADDR] [--db DSN] [--threads N] [--key-file PATH]\n"
            "                      [--durability full|normal] [--allow-targets LIST]\n"
            "                      [--lease-seconds N] [--routes]\n\n"
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
            "  --routes         print the REST route table and exit\n\n"
            "The first start creates an admin token and prints it once; only its hash is\n"
            "stored. SCIMITAR_ADMIN_TOKEN sets the token instead. SCIMITAR_LOG sets the log\n"
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

/* Makes sure the database holds an admin token hash; prints a new token once. */
static int ensure_admin_token(struct store *st, char hash_out[ADMIN_TOKEN_HASH_SIZE])
{
    char token[ADMIN_TOKEN_NEW_SIZE];
    struct sc_error e = {0};
    enum sc_err rc = admin_token_setup(st, getenv("SCIMITAR_ADMIN_TOKEN"), hash_out, token, &e);
    if (rc == SC_ERR_INVALID)
        fprintf(stderr, "scimitar serve: %s\n", e.message);
    if (rc)
        return -1;
    if (token[0]) {
        printf("Admin token (shown once; store it now, e.g. export SCIMITAR_TOKEN=...):\n  %s\n",
               token);
        fflush(stdout);
    }
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
}

int cli_serve(int argc, char **argv)
{
    const char *listen = "127.0.0.1:8080";
    const char *dsn = "sqlite:./scimitar.db";
    const char *key_file = NULL;
    int64_t threads = 4, max_body = 8 * 1024 * 1024, lease_s = 0;
    static const struct option opts[] = {
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
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "l:d:t:k:m:L:rh", opts, NULL)) != -1) {
        switch (c) {
        case 'A': {
            struct sc_error ae = {0};
            if (http_allow_targets_set(optarg, &ae)) {
                fprintf(stderr, "scimitar serve: %s\n", ae.message);
                return 2;
            }
            break;
        }
        case 'D':
            if (strcmp(optarg, "full") == 0) {
                store_set_durability(STORE_DURABILITY_FULL);
            } else if (strcmp(optarg, "normal") == 0) {
                store_set_durability(STORE_DURABILITY_NORMAL);
            } else {
                fprintf(stderr, "scimitar serve: --durability must be full or normal\n");
                return 2;
            }
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
        case 't':
            if (sc_parse_int64(optarg, 1, 64, &threads)) {
                fprintf(stderr, "scimitar serve: --threads must be 1 to 64\n");
                return 2;
            }
            break;
        case 'm':
            if (sc_parse_int64(optarg, 1024, 1024LL * 1024 * 1024, &max_body)) {
                fprintf(stderr, "scimitar serve: --max-body must be 1024 to 1073741824\n");
                return 2;
            }
            break;
        case 'L':
            if (sc_parse_int64(optarg, 1, 86400, &lease_s)) {
                fprintf(stderr, "scimitar serve: --lease-seconds must be 1 to 86400\n");
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
        goto done;
    }
    struct store *st = store_pool_acquire(pool);
    int tok = st ? ensure_admin_token(st, ctx->admin_token_hash) : -1;
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
    return status;
}
