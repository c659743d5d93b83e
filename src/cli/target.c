/* `scimitar target`: runs the built-in SCIM service provider (src/target; SCIM 2.0, or
 * SCIM 1.1 with --scim-version 1.1) until
 * SIGTERM or SIGINT, then shuts down gracefully (in-flight requests finish, hung fault
 * responses are released, the store is closed). Options are parsed with getopt_long
 * and validated before anything starts; errors name the option. */
#include "base/buf.h"
#include "base/log.h"
#include "cli/commands.h"
#include "target/target.h"

#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: scimitar target [OPTIONS]\n"
            "\n"
            "Runs a SCIM 2.0 service provider (RFC 7643/7644), a stand-in for an application\n"
            "such as Code42, at http://HOST:PORT/scim/v2: /Users, /Groups, /Bulk, /.search,\n"
            "/ServiceProviderConfig, /ResourceTypes, /Schemas; and POST /oauth/token.\n"
            "\n"
            "With --scim-version 1.1 it speaks SCIM 1.1 (draft-scim-api-01) instead, at\n"
            "http://HOST:PORT/scim/v1: /Users, /Groups, /ServiceProviderConfigs, /Schemas/Users.\n"
            "\n"
            "options:\n"
            "  --scim-version VERSION    2.0 (default) or 1.1\n"
            "  --listen HOST:PORT        address to listen on (default 127.0.0.1:8081; port 0 =\n"
            "                            any free port)\n"
            "  --base-url URL            public SCIM base URL for meta.location (default from\n"
            "                            --listen)\n"
            "  --token TOKEN             accept this bearer token (Authorization: Bearer TOKEN);\n"
            "                            or set SCIMITAR_TARGET_TOKEN\n"
            "  --basic USER:PASS         accept HTTP Basic authentication\n"
            "  --client-id ID            OAuth 2 client credentials accepted by POST\n"
            "  --client-secret SECRET      /oauth/token, which issues bearer tokens\n"
            "  --token-ttl SECONDS       lifetime of issued tokens (default %d)\n"
            "                            With no --token, --basic or --client-id, no\n"
            "                            authentication is required.\n"
            "  --no-delete               answer DELETE on users with 405, as Code42 does\n"
            "  --db sqlite:PATH          persist resources in SQLite (default: in memory;\n"
            "                            PostgreSQL is not supported here)\n"
            "  --faults SPEC             inject faults, e.g. 429=0.1,500=0.05,timeout=0.01,\n"
            "                            latency=5ms (also hang=60s, retry-after=1)\n"
            "  --max-body BYTES          largest request body, also Bulk maxPayloadSize\n"
            "                            (default %d)\n"
            "  --max-results N           filter maxResults and largest page (default %d)\n"
            "  --bulk-max-operations N   Bulk maxOperations (default %d)\n"
            "  --threads N               HTTP worker threads (default 4)\n"
            "  --log-level LEVEL         debug, info, warn, error or off (default info;\n"
            "                            debug logs one line per request)\n"
            "  -h, --help                show this help\n"
            "\n"
            "GET /scim/v2/_stats (same authentication) returns the requests served by method\n"
            "since start and the resource counts, for tests.\n",
            TARGET_DEFAULT_TOKEN_TTL, TARGET_DEFAULT_MAX_BODY, TARGET_DEFAULT_MAX_RESULTS,
            TARGET_DEFAULT_BULK_MAX_OPS);
}

enum {
    OPT_LISTEN = 1000,
    OPT_BASE_URL,
    OPT_TOKEN,
    OPT_BASIC,
    OPT_CLIENT_ID,
    OPT_CLIENT_SECRET,
    OPT_TOKEN_TTL,
    OPT_NO_DELETE,
    OPT_DB,
    OPT_FAULTS,
    OPT_MAX_BODY,
    OPT_MAX_RESULTS,
    OPT_BULK_MAX_OPS,
    OPT_THREADS,
    OPT_LOG_LEVEL,
    OPT_SCIM_VERSION,
};

static int number(const char *opt, const char *v, int64_t min, int64_t max, int64_t *out)
{
    if (sc_parse_int64(v, min, max, out)) {
        fprintf(stderr,
                "scimitar target: --%s must be a whole number from %lld to %lld, not '%s'\n", opt,
                (long long)min, (long long)max, v);
        return -1;
    }
    return 0;
}

int cli_target(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"base-url", required_argument, NULL, OPT_BASE_URL},
        {"token", required_argument, NULL, OPT_TOKEN},
        {"basic", required_argument, NULL, OPT_BASIC},
        {"client-id", required_argument, NULL, OPT_CLIENT_ID},
        {"client-secret", required_argument, NULL, OPT_CLIENT_SECRET},
        {"token-ttl", required_argument, NULL, OPT_TOKEN_TTL},
        {"no-delete", no_argument, NULL, OPT_NO_DELETE},
        {"db", required_argument, NULL, OPT_DB},
        {"faults", required_argument, NULL, OPT_FAULTS},
        {"max-body", required_argument, NULL, OPT_MAX_BODY},
        {"max-results", required_argument, NULL, OPT_MAX_RESULTS},
        {"bulk-max-operations", required_argument, NULL, OPT_BULK_MAX_OPS},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"scim-version", required_argument, NULL, OPT_SCIM_VERSION},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct target_options o = {.listen = "127.0.0.1:8081"};
    int64_t n;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_LISTEN:
            o.listen = optarg;
            break;
        case OPT_BASE_URL:
            if (strncmp(optarg, "http://", 7) != 0 && strncmp(optarg, "https://", 8) != 0) {
                fprintf(stderr, "scimitar target: --base-url must be an http(s) URL\n");
                return 2;
            }
            o.base_url = optarg;
            break;
        case OPT_TOKEN:
            o.token = optarg;
            break;
        case OPT_BASIC:
            o.basic = optarg;
            break;
        case OPT_CLIENT_ID:
            o.client_id = optarg;
            break;
        case OPT_CLIENT_SECRET:
            o.client_secret = optarg;
            break;
        case OPT_TOKEN_TTL:
            if (number("token-ttl", optarg, 1, 86400 * 30, &n))
                return 2;
            o.token_ttl_s = (int)n;
            break;
        case OPT_NO_DELETE:
            o.no_delete = 1;
            break;
        case OPT_DB:
            o.db = optarg;
            break;
        case OPT_FAULTS:
            o.faults = optarg;
            break;
        case OPT_MAX_BODY:
            if (number("max-body", optarg, 1024, 256 * 1024 * 1024, &n))
                return 2;
            o.max_body = (size_t)n;
            break;
        case OPT_MAX_RESULTS:
            if (number("max-results", optarg, 1, 1000, &n))
                return 2;
            o.max_results = (int)n;
            break;
        case OPT_BULK_MAX_OPS:
            if (number("bulk-max-operations", optarg, 1, 100000, &n))
                return 2;
            o.bulk_max_ops = (int)n;
            break;
        case OPT_THREADS:
            if (number("threads", optarg, 1, 256, &n))
                return 2;
            o.threads = (unsigned)n;
            break;
        case OPT_LOG_LEVEL: {
            int level = sc_log_level_parse(optarg);
            if (level < 0) {
                fprintf(stderr, "scimitar target: --log-level must be debug, info, warn, error "
                                "or off\n");
                return 2;
            }
            sc_log_set_level((enum sc_log_level)level);
            break;
        }
        case OPT_SCIM_VERSION:
            if (scim_dialect_parse(optarg, &o.dialect)) {
                fprintf(stderr, "scimitar target: --scim-version must be 2.0 or 1.1, not '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            if (optopt && optopt < OPT_LISTEN && optopt != 'h')
                fprintf(stderr, "scimitar target: unknown option '-%c'\n", optopt);
            else if (optind > 0 && optind <= argc)
                fprintf(stderr,
                        "scimitar target: bad option '%s' (unknown, or missing its "
                        "value)\n",
                        argv[optind - 1]);
            fprintf(stderr, "`scimitar target --help` lists the options.\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "scimitar target: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!o.token) {
        const char *env = getenv("SCIMITAR_TARGET_TOKEN");
        if (env && *env)
            o.token = env;
    }

    /* Block the stop signals before any thread starts, so every thread inherits the
     * mask and only sigwait below receives them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    struct sc_error e = {0};
    struct target *t = NULL;
    if (target_start(&o, &t, &e)) {
        fprintf(stderr, "scimitar target: %s%s%s\n", e.field[0] ? "--" : "", e.field,
                e.field[0] ? ": " : "");
        fprintf(stderr, "  %s\n", e.message);
        return e.code == SC_ERR_INVALID ? 2 : 1;
    }
    char auth[64] = "";
    if (o.token)
        sc_strlcpy(auth, "bearer", sizeof auth);
    if (o.basic) {
        if (auth[0])
            strncat(auth, ",", sizeof auth - strlen(auth) - 1);
        strncat(auth, "basic", sizeof auth - strlen(auth) - 1);
    }
    if (o.client_id) {
        if (auth[0])
            strncat(auth, ",", sizeof auth - strlen(auth) - 1);
        strncat(auth, "oauth2", sizeof auth - strlen(auth) - 1);
    }
    SC_INFO("target.listening",
            "url=%s scim_version=%s auth=%s store=%s no_delete=%s faults=%s port=%u",
            target_base_url(t), scim_dialect_name(o.dialect), auth[0] ? auth : "none",
            o.db ? "sqlite" : "memory", o.no_delete ? "true" : "false",
            o.faults && *o.faults ? "on" : "off", target_port(t));

    int sig = 0;
    while (sigwait(&stop, &sig) != 0)
        ;
    SC_INFO("target.stopping", "signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
    target_stop(t);
    SC_INFO("target.stopped", NULL);
    return 0;
}
