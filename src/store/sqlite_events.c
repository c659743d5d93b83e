/* Change events (the transactional outbox) in SQLite. */
#include "store/sqlite_internal.h"
#include "store/store_events.h"
#include "base/buf.h"
#include "base/clock.h"

#include <stdlib.h>
#include <string.h>

static const struct store_migration events_migrations[] = {
    {1, "CREATE TABLE change_events ("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " kind TEXT NOT NULL,"
        " object_id TEXT NOT NULL,"
        " detail TEXT,"
        " created_at INTEGER NOT NULL);"},
};
const struct store_component store__events_schema = {"events", events_migrations, 1};

static enum sc_err sqlite_event_append(struct store *st, const char *kind, const char *object_id,
                                       const char *detail)
{
    sqlite3_stmt *s = store__prepare(st, "INSERT INTO change_events(kind, object_id, detail, "
                                         "created_at) VALUES(?, ?, ?, ?)");
    if (!s)
        return SC_ERR_DB;
    store__bind_text(s, 1, kind);
    store__bind_text(s, 2, object_id);
    store__bind_text(s, 3, detail);
    sqlite3_bind_int64(s, 4, sc_clock_now_ms());
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SC_OK : store__err(st, rc);
}

/* An event row into dst (a struct store_event; store__rows' fill). */
static void event_from_row(sqlite3_stmt *s, void *dst)
{
    struct store_event *e = dst;
    e->seq = sqlite3_column_int64(s, 0);
    sc_strlcpy(e->kind, (const char *)sqlite3_column_text(s, 1), sizeof e->kind);
    sc_strlcpy(e->object_id, (const char *)sqlite3_column_text(s, 2), sizeof e->object_id);
    e->detail = store__column_dup(s, 3);
    e->created_at = sqlite3_column_int64(s, 4);
}

static enum sc_err sqlite_events_after(struct store *st, int64_t after, size_t limit,
                                       struct store_event **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (limit == 0)
        return SC_OK;
    sqlite3_stmt *s = store__prepare(st, "SELECT seq, kind, object_id, detail, created_at "
                                         "FROM change_events WHERE seq > ? ORDER BY seq LIMIT ?");
    if (!s)
        return SC_ERR_DB;
    sqlite3_bind_int64(s, 1, after);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)limit);
    void *v = NULL;
    enum sc_err err = store__rows(st, s, sizeof **out, event_from_row, &v, n);
    if (err) {
        store_events_free(v, *n);
        *n = 0;
        return err;
    }
    *out = v;
    return SC_OK;
}

static enum sc_err sqlite_events_last_seq(struct store *st, int64_t *seq)
{
    sqlite3_stmt *s = store__prepare(st, "SELECT COALESCE(MAX(seq), 0) FROM change_events");
    if (!s)
        return SC_ERR_DB;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *seq = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? SC_OK : store__err(st, rc);
}

static enum sc_err sqlite_events_prune(struct store *st, int64_t upto)
{
    sqlite3_stmt *s = store__prepare(st, "DELETE FROM change_events WHERE seq <= ?");
    if (!s)
        return SC_ERR_DB;
    sqlite3_bind_int64(s, 1, upto);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SC_OK : store__err(st, rc);
}

const struct store_events_ops store__sqlite_events_ops = {
    .event_append = sqlite_event_append,
    .events_after = sqlite_events_after,
    .events_last_seq = sqlite_events_last_seq,
    .events_prune = sqlite_events_prune,
};
