/* Change events (the transactional outbox) in PostgreSQL.
 *
 * Consumers read "events after my cursor", so the order of sequence numbers must be the
 * order in which events become visible. A PostgreSQL sequence does not give that by
 * itself: a transaction can take number 10, another take 11 and commit first, a consumer
 * read 11 and move its cursor past 10, which then commits and is never read. So every
 * transaction that appends events first takes one transaction-level advisory lock
 * (PG_LOCK_EVENTS, held until it commits or rolls back) and only then draws its numbers:
 * a number drawn under the lock is higher than every number of a committed transaction,
 * and no other appender can commit until this one has. The identity's CACHE 1 keeps
 * numbers from being drawn ahead by a session. The cost: transactions that append events
 * (directory and configuration writes) commit one at a time, as every write does on
 * SQLite; transactions that only read events or write the outbox, links and the log
 * (the engine's) never take the lock. */
#include "store/pg_internal.h"
#include "store/store_events.h"
#include "base/buf.h"
#include "base/clock.h"

#include <stdlib.h>
#include <string.h>

static const struct pg_migration events_migrations[] = {
    {1, "CREATE TABLE change_events ("
        " seq BIGINT GENERATED ALWAYS AS IDENTITY (CACHE 1) PRIMARY KEY,"
        " kind TEXT NOT NULL,"
        " object_id TEXT COLLATE \"C\" NOT NULL,"
        " detail TEXT,"
        " created_at BIGINT NOT NULL);"},
};
const struct pg_component store__pg_events_schema = {"events", events_migrations, 1};

static enum sc_err pg_event_append(struct store *st, const char *kind, const char *object_id,
                                   const char *detail)
{
    int own;
    enum sc_err rc = pg__tx_open(st, &own);
    if (rc)
        return rc;
    if ((rc = pg__events_lock(st)))
        goto done;
    struct pg_args a = {0};
    pg__arg_text(&a, kind);
    pg__arg_text(&a, object_id);
    pg__arg_text(&a, detail);
    pg__arg_int(&a, sc_clock_now_ms());
    rc = pg__cmd(st,
                 "INSERT INTO change_events(kind, object_id, detail, created_at) "
                 "VALUES($1, $2, $3, $4)",
                 &a, NULL);
done:
    return pg__tx_close(st, own, rc);
}

static enum sc_err pg_events_after(struct store *st, int64_t after, size_t limit,
                                   struct store_event **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (limit == 0)
        return SC_OK;
    enum sc_err err = SC_OK;
    struct pg_args a = {0};
    pg__arg_int(&a, after);
    pg__arg_int(&a, (int64_t)limit);
    PGresult *r = pg__run(st,
                          "SELECT seq, kind, object_id, detail, created_at FROM change_events "
                          "WHERE seq > $1 ORDER BY seq LIMIT $2",
                          &a, &err);
    if (!r)
        return err;
    int rows = PQntuples(r);
    struct store_event *ev = rows ? calloc((size_t)rows, sizeof *ev) : NULL;
    if (rows && !ev) {
        PQclear(r);
        return SC_ERR_NOMEM;
    }
    for (int i = 0; i < rows; i++) {
        struct store_event *e = &ev[i];
        e->seq = pg__col_int(r, i, 0);
        sc_strlcpy(e->kind, PQgetvalue(r, i, 1), sizeof e->kind);
        sc_strlcpy(e->object_id, PQgetvalue(r, i, 2), sizeof e->object_id);
        e->detail = pg__col_dup(r, i, 3);
        e->created_at = pg__col_int(r, i, 4);
    }
    PQclear(r);
    *out = ev;
    *n = (size_t)rows;
    return SC_OK;
}

static enum sc_err pg_events_last_seq(struct store *st, int64_t *seq)
{
    enum sc_err err = SC_OK;
    PGresult *r = pg__run(st, "SELECT COALESCE(MAX(seq), 0) FROM change_events", NULL, &err);
    if (!r)
        return err;
    *seq = pg__col_int(r, 0, 0);
    PQclear(r);
    return SC_OK;
}

static enum sc_err pg_events_prune(struct store *st, int64_t upto)
{
    struct pg_args a = {0};
    pg__arg_int(&a, upto);
    return pg__cmd(st, "DELETE FROM change_events WHERE seq <= $1", &a, NULL);
}

const struct store_events_ops store__pg_events_ops = {
    .event_append = pg_event_append,
    .events_after = pg_events_after,
    .events_last_seq = pg_events_last_seq,
    .events_prune = pg_events_prune,
};
