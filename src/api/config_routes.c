/* Provisioning configuration routes (connections, rules, filter, mappings). */
#include "api/api.h"

const struct api_route api_config_routes[] = {
    {NULL, NULL, NULL, 0, NULL},
};
