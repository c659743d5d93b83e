/* The directory's routes (populations, users, groups, members). */
#include "api/api.h"

const struct api_route api_directory_routes[] = {
    {NULL, NULL, NULL, 0, NULL},
};
