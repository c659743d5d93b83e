/* The provision component of the SQLite back-end: its schema migrations and the store
 * functions declared in store/store_provision.h. */
#include "store/sqlite_internal.h"

static const struct store_migration provision_migrations[] = {
    {0, ""},
};
const struct store_component store__provision_schema = {"provision", provision_migrations, 0};
