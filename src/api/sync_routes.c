/* Provisioning sync routes (resync, status, per-user state, logs). */
#include "api/api.h"

const struct api_route api_sync_routes[] = {
    {NULL, NULL, NULL, 0, NULL},
};
