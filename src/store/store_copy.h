/* Copying a whole database to another one, of the same back-end or another (`scimitar
 * migrate` moves a SQLite installation to PostgreSQL): every table of the schema but
 * its version table and the built-in target's resources, in an order that satisfies
 * the foreign keys, row by row and column by column as stored (ids, timestamps, event
 * sequence numbers, digests, sealed secrets), streamed from one connection into the
 * other so that no table is ever held in memory, and the numbering of each table that
 * numbers its rows (events, connections, rules, outbox items, log entries) carried over
 * so that new rows continue after the copied ones. The copy goes through the back-end
 * seam (backend.h): the table list below is written once for both back-ends, which
 * share table and column names; the columns are those of the source's rows. */
#ifndef SC_STORE_STORE_COPY_H
#define SC_STORE_STORE_COPY_H

#include "store/store.h"

#include <stdint.h>

/* Opens a read-only transaction on st that sees one consistent snapshot of the whole
 * database until store_rollback (or store_commit) ends it: on SQLite a read transaction
 * whose snapshot is taken at once (writers in other processes go on in the WAL and are
 * not seen; none is blocked), on PostgreSQL REPEATABLE READ, READ ONLY. Errors:
 * SC_ERR_INVALID (a transaction is already open), SC_ERR_BUSY, SC_ERR_DB. */
enum sc_err store_begin_snapshot(struct store *st);

/* Tells whether another process has the database of dsn open (*elsewhere = 1, else 0).
 * SQLite: every connection holds a shared lock on the WAL index (PATH-shm) while it is
 * open, so a running `scimitar serve` is seen even when idle; a database no process has
 * open has no such lock (or no PATH-shm at all). Call it before this process opens the
 * database: looking at the lock opens and closes PATH-shm, and closing a descriptor of
 * a file drops every POSIX lock this process holds on it. Errors: SC_ERR_INVALID (not a
 * file database: in-memory or a file: URI), SC_ERR_UNSUPPORTED (PostgreSQL: it cannot
 * tell), SC_ERR_IO (the lock cannot be read). */
enum sc_err store_open_elsewhere(const char *dsn, int *elsewhere);

/* Writes a consistent copy of the SQLite database of dsn to path while other processes
 * (a running serve) go on writing it: SQLite's online backup API copies every page in
 * one read transaction. The source is opened read-only (no migration runs) and must be
 * a scimitar database. The copy is written to a new file beside path (mode 0600), synced,
 * and renamed over path; a failure leaves path as it was. The secrets key is not in the
 * copy. Errors: SC_ERR_UNSUPPORTED (PostgreSQL: pg_dump), SC_ERR_INVALID (not a file
 * database, not a scimitar database; e->field "db"), SC_ERR_NOT_FOUND (no such file),
 * SC_ERR_BUSY (a writer held the database too long), SC_ERR_IO, SC_ERR_DB; the message
 * names the file. */
enum sc_err store_backup(const char *dsn, const char *path, struct sc_error *e);

/* Copies the backup at from (a file store_backup wrote, or any scimitar SQLite
 * database) into the SQLite database of dsn, page by page through a connection to the
 * destination. Refused while another process has the destination open, and when it
 * already holds a database unless replace is non-zero. The destination and its -wal
 * and -shm end with mode 0600. Errors: SC_ERR_UNSUPPORTED (PostgreSQL: pg_restore),
 * SC_ERR_INVALID (from is not a scimitar database, e->field "from"; dsn not a file
 * database, "db"), SC_ERR_NOT_FOUND (no file at from), SC_ERR_CONFLICT (the destination
 * is in use or holds a database; "db"), SC_ERR_IO, SC_ERR_DB. */
enum sc_err store_restore(const char *from, const char *dsn, int replace, struct sc_error *e);

/* Calls fn once per table the copy covers, in copy order, with the table's name, a
 * label for people ("users", "log entries", ...; static) and its number of rows.
 * Inside a snapshot or a transaction the counts are those it sees. Errors: SC_ERR_DB. */
enum sc_err store_copy_count(struct store *st,
                             void (*fn)(void *arg, const char *table, const char *label,
                                        int64_t rows),
                             void *arg);

/* Deletes every row of every table the copy covers (in reverse copy order, for the
 * foreign keys); the schema stays. Call it inside a transaction (store_begin), so it
 * takes effect only with what follows. Errors: SC_ERR_DB, SC_ERR_BUSY. */
enum sc_err store_copy_clear(struct store *st);

/* What store_copy reports as it goes: the table (name and label), the rows written so
 * far, the rows the source said it holds when the table began, and done = 1 once the
 * table is finished (rows is then the number copied). */
struct store_copy_progress {
    const char *table, *label;
    int64_t rows, total;
    int done;
};

/* Rows between two progress reports inside one table. */
#define STORE_COPY_PROGRESS_ROWS 10000

/* Copies every table the copy covers from src into dst. src should be inside
 * store_begin_snapshot (so the copy is one consistent state) and dst inside store_begin
 * (so a failure leaves nothing: roll it back), and dst's tables empty (a duplicate key
 * fails the copy). Rows keep every stored value; each table that numbers its rows gets
 * its numbering advanced to the larger of what src had handed out (numbers of deleted
 * rows included) and the largest copied, so new rows continue after them. progress
 * (may be NULL) is called at the start of each table, every STORE_COPY_PROGRESS_ROWS
 * rows and at its end (p borrowed during the call). src and dst must be two
 * connections. Errors: SC_ERR_CONFLICT (a row is already in dst), SC_ERR_INVALID (a
 * value dst refuses: a foreign key, a check), SC_ERR_DB (a column dst lacks, a lost
 * connection, ...), SC_ERR_BUSY, SC_ERR_NOMEM; e's field is "from" or "to" (the side
 * that failed) and its message names the table (the database's words are logged). */
enum sc_err store_copy(struct store *src, struct store *dst,
                       void (*progress)(void *arg, const struct store_copy_progress *p), void *arg,
                       struct sc_error *e);

#endif
