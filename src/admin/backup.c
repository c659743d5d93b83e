/* Backup and restore of a SQLite installation over store_backup and store_restore, with
 * the secrets key a backup goes with. */
#include "admin/backup.h"
#include "base/buf.h"
#include "store/store_copy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum sc_err admin_backup_write(const char *dsn, const char *path, const char *key_file,
                               struct admin_backup *out, struct sc_error *e)
{
    enum sc_err rc = store_backup(dsn, path, e);
    if (rc)
        return rc;
    struct stat sb;
    out->size = stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
    const char *env_key = getenv("SCIMITAR_KEY");
    out->key_env = env_key && *env_key;
    out->key_path[0] = '\0';
    if (!out->key_env) {
        char guess[PATH_MAX + 8];
        if (!key_file) { /* store_backup took dsn as sqlite:PATH */
            snprintf(guess, sizeof guess, "%s.key", dsn + 7);
            key_file = guess;
        }
        char real[PATH_MAX];
        sc_strlcpy(out->key_path, realpath(key_file, real) ? real : key_file, sizeof out->key_path);
    }
    return SC_OK;
}

enum sc_err admin_backup_restore(const char *from, const char *dsn, int replace, struct sc_error *e)
{
    return store_restore(from, dsn, replace, e);
}
