/* A streaming CSV reader (RFC 4180) for `scimitar import`: one record at a time from a
 * FILE, so memory stays flat however long the file is. Fields are separated by commas
 * and records by LF or CRLF; a quoted field may hold commas, doubled quotes ("") and
 * line breaks. Each record carries the line number it starts on, for error reports.
 * Lenient where it is safe: a UTF-8 byte-order mark is skipped, blank lines are skipped,
 * a quote inside an unquoted field and text after a closing quote are kept as they are.
 * Bounded: a field longer than CLI_CSV_MAX_FIELD bytes or a record with more than
 * CLI_CSV_MAX_FIELDS fields is an error for that record only; reading goes on with the
 * next one. */
#ifndef SC_CLI_CSV_H
#define SC_CLI_CSV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_CSV_MAX_FIELD (64 * 1024)
#define CLI_CSV_MAX_FIELDS 256

struct cli_csv;

/* One record. fields[i] are NUL-terminated and borrowed: valid until the next
 * cli_csv_next() or cli_csv_free(). */
struct cli_csv_record {
    size_t nfields;
    const char *fields[CLI_CSV_MAX_FIELDS];
    int64_t line; /* 1-based line on which the record starts */
};

/* Creates a reader over f (borrowed: the caller closes it after cli_csv_free). Returns a
 * new reader, NULL when out of memory. */
struct cli_csv *cli_csv_open(FILE *f);

/* Reads the next record into rec. Returns 1 for a record, 0 at the end of the input,
 * -1 when this record is malformed (rec->line and the message in err, of size n, say
 * why; the next call reads the record after it), -2 on a read error or out of memory. */
int cli_csv_next(struct cli_csv *r, struct cli_csv_record *rec, char *err, size_t n);

/* Frees r; NULL is a no-op. */
void cli_csv_free(struct cli_csv *r);

#endif
