/* The target component of the SQLite back-end: its schema migrations and the store
 * functions declared in store/store_target.h. */
#include "store/sqlite_internal.h"

static const struct store_migration target_migrations[] = {
    {0, ""},
};
const struct store_component store__target_schema = {"target", target_migrations, 0};
