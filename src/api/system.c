/* /healthz and /metrics: liveness (the database's health from admin/) and Prometheus
 * text. */
#include "api/api.h"
#include "admin/admin.h"
#include "base/clock.h"

#include <stdio.h>
#include <stdlib.h>

/* 200 when the database reads and takes writes; 503 naming what fails otherwise. */
static void get_healthz(struct api_call *c)
{
    char why[160] = "";
    switch (admin_health_check(c->st, why, sizeof why)) {
    case ADMIN_HEALTH_UNREADABLE:
        api_json(c, 503,
                 json_pack("{s:s, s:s, s:s}", "status", "unavailable", "database", "error", "error",
                           *why ? why : "the database cannot be read"));
        return;
    case ADMIN_HEALTH_WRITES_FAIL:
        api_json(c, 503,
                 json_pack("{s:s, s:s, s:s, s:s}", "status", "unavailable", "database", "ok",
                           "writes", "failing", "error", why));
        return;
    case ADMIN_HEALTH_OK:
        break;
    }
    api_json(c, 200,
             json_pack("{s:s, s:s, s:s}", "status", "ok", "database", "ok", "writes", "ok"));
}

static void get_metrics(struct api_call *c)
{
    struct sc_buf out;
    sc_buf_init(&out, 0);
    sc_buf_printf(&out,
                  "# HELP scimitar_uptime_seconds Seconds since the server started.\n"
                  "# TYPE scimitar_uptime_seconds gauge\n"
                  "scimitar_uptime_seconds %.3f\n",
                  (double)(sc_clock_now_ms() - c->ctx->started_ms) / 1000.0);
    if (c->ctx->metrics)
        c->ctx->metrics(c->ctx->metrics_arg, &out);
    http_response_text(c->res, 200, "text/plain; version=0.0.4; charset=utf-8",
                       out.data ? out.data : "");
    sc_buf_free(&out);
}

const struct api_route api_system_routes[] = {
    {"GET", "/healthz", get_healthz, 1,
     "liveness: the server and its database answer and take writes", NULL, NULL, 200, "Health"},
    {"GET", "/metrics", get_metrics, 1, "Prometheus metrics", NULL, NULL, 200, NULL},
    {0},
};
