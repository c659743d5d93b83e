/* The directory component of the SQLite back-end: its schema migrations and the store
 * functions declared in store/store_directory.h. */
#include "store/sqlite_internal.h"

static const struct store_migration directory_migrations[] = {
    {0, ""},
};
const struct store_component store__directory_schema = {"directory", directory_migrations, 0};
