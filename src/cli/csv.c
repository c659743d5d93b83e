/* Streaming RFC 4180 CSV reader (see csv.h): a small state machine over getc_unlocked
 * that keeps only the current record in memory. */
#include "cli/csv.h"
#include "base/buf.h"

#include <stdlib.h>
#include <string.h>

struct cli_csv {
    FILE *f;
    int64_t line;   /* current line (1-based) */
    int started;    /* the byte-order mark check was done */
    int at_eof;     /* the input ended */
    int pending[4]; /* pushed-back bytes, last pushed first out */
    size_t npending;
    struct sc_buf data;                 /* the record's fields, each NUL-terminated */
    size_t offsets[CLI_CSV_MAX_FIELDS]; /* where each field starts in data */
};

struct cli_csv *cli_csv_open(FILE *f)
{
    struct cli_csv *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->f = f;
    r->line = 1;
    sc_buf_init(&r->data, 0);
    return r;
}

void cli_csv_free(struct cli_csv *r)
{
    if (!r)
        return;
    sc_buf_free(&r->data);
    free(r);
}

/* The next byte: pushed-back bytes first, then the file. */
static int getch(struct cli_csv *r)
{
    if (r->npending)
        return r->pending[--r->npending];
    return getc_unlocked(r->f);
}

/* Pushes c back (at most 4 bytes). */
static void ungetch(struct cli_csv *r, int c)
{
    if (c != EOF && r->npending < sizeof r->pending / sizeof r->pending[0])
        r->pending[r->npending++] = c;
}

/* Skips a UTF-8 byte-order mark at the very start of the input. */
static void skip_bom(struct cli_csv *r)
{
    int c0 = getch(r);
    if (c0 != 0xEF) {
        ungetch(r, c0);
        return;
    }
    int c1 = getch(r);
    if (c1 != 0xBB) {
        ungetch(r, c1);
        ungetch(r, c0);
        return;
    }
    int c2 = getch(r);
    if (c2 != 0xBF) {
        ungetch(r, c2);
        ungetch(r, c1);
        ungetch(r, c0);
    }
}

int cli_csv_next(struct cli_csv *r, struct cli_csv_record *rec, char *err, size_t n)
{
    enum { FIELD_START, UNQUOTED, QUOTED, AFTER_QUOTE } state = FIELD_START;
    size_t nf = 0;
    size_t field_len = 0;
    int bad = 0; /* 1: field too long, 2: too many fields */
    int64_t quote_line = 0;
    int any = 0; /* the record consumed at least one byte */

    sc_buf_reset(&r->data);
    if (!r->started) {
        r->started = 1;
        skip_bom(r);
    }
    if (r->at_eof)
        return 0;
    rec->line = r->line;
    r->offsets[0] = 0;
    for (;;) {
        int c = getch(r);
        if (c == EOF) {
            if (ferror(r->f)) {
                snprintf(err, n, "read error");
                return -2;
            }
            r->at_eof = 1;
            if (state == QUOTED) {
                snprintf(err, n, "the quoted field opened on line %lld is never closed",
                         (long long)quote_line);
                return -1;
            }
            if (!any)
                return 0;
            break;
        }
        any = 1;
        if (state == QUOTED) {
            if (c == '"') {
                int d = getch(r);
                if (d == '"') {
                    c = '"';
                } else {
                    ungetch(r, d);
                    state = AFTER_QUOTE;
                    continue;
                }
            } else if (c == '\n') {
                r->line++;
            }
        } else if (c == ',' || c == '\n' || c == '\r') {
            if (c == '\r') {
                int d = getch(r);
                if (d != '\n')
                    ungetch(r, d);
            }
            if (sc_buf_append(&r->data, "", 1) != SC_OK) {
                snprintf(err, n, "out of memory");
                return -2;
            }
            if (c == ',') {
                if (nf + 1 >= CLI_CSV_MAX_FIELDS) {
                    bad = 2;
                } else {
                    nf++;
                    r->offsets[nf] = r->data.len;
                }
                state = FIELD_START;
                field_len = 0;
                continue;
            }
            r->line++;
            if (nf == 0 && field_len == 0 && r->data.len == 1 && state == FIELD_START) {
                /* a blank line: skip it */
                sc_buf_reset(&r->data);
                rec->line = r->line;
                any = 0;
                continue;
            }
            break;
        } else if (state == FIELD_START && c == '"') {
            state = QUOTED;
            quote_line = r->line;
            continue;
        } else if (state == FIELD_START) {
            state = UNQUOTED;
        }
        /* append c to the current field (AFTER_QUOTE and UNQUOTED keep stray bytes) */
        if (++field_len > CLI_CSV_MAX_FIELD) {
            bad = bad ? bad : 1;
            continue;
        }
        char ch = (char)c;
        if (!bad && sc_buf_append(&r->data, &ch, 1) != SC_OK) {
            snprintf(err, n, "out of memory");
            return -2;
        }
    }
    if (r->data.len == 0 || r->data.data[r->data.len - 1] != '\0' ||
        r->offsets[nf] == r->data.len) {
        if (sc_buf_append(&r->data, "", 1) != SC_OK) {
            snprintf(err, n, "out of memory");
            return -2;
        }
    }
    if (bad == 1) {
        snprintf(err, n, "a field is longer than %d bytes", CLI_CSV_MAX_FIELD);
        return -1;
    }
    if (bad == 2) {
        snprintf(err, n, "more than %d fields", CLI_CSV_MAX_FIELDS);
        return -1;
    }
    rec->nfields = nf + 1;
    for (size_t i = 0; i <= nf; i++)
        rec->fields[i] = r->data.data + r->offsets[i];
    return 1;
}
