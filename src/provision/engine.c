/* Provisioning engine: placeholder thread until the planner and delivery land. */
#include "provision/engine.h"

#include <stdlib.h>

struct provision_engine {
    int unused;
};

enum sc_err provision_engine_start(const struct provision_engine_options *opt,
                                   struct provision_engine **out, struct sc_error *e)
{
    (void)opt;
    (void)e;
    *out = calloc(1, sizeof **out);
    return *out ? SC_OK : SC_ERR_NOMEM;
}

void provision_engine_wake(struct provision_engine *eng)
{
    (void)eng;
}

void provision_engine_metrics(struct provision_engine *eng, struct sc_buf *out)
{
    (void)eng;
    (void)out;
}

void provision_engine_stop(struct provision_engine *eng)
{
    free(eng);
}
