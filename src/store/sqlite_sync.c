/* The sync component of the SQLite back-end: its schema migrations and the store
 * functions declared in store/store_sync.h. */
#include "store/sqlite_internal.h"

static const struct store_migration sync_migrations[] = {
    {0, ""},
};
const struct store_component store__sync_schema = {"sync", sync_migrations, 0};
