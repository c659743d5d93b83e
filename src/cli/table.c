/* Aligned text tables and object listings for the CLI (see table.h). Widths count
 * UTF-8 characters; a cell wider than a fixed width is cut and ends with "…". */
#include "cli/table.h"
#include "base/buf.h"
#include "base/json.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_MAX_COLS 16

struct cli_table {
    const char *const *headers;
    size_t ncols;
    size_t width[TABLE_MAX_COLS]; /* current width of each column */
    size_t fixed[TABLE_MAX_COLS]; /* fixed width, 0 = natural */
    char **cells;                 /* rows * ncols strings, owned */
    size_t rows, cap;
};

/* Number of characters (not bytes) in s. */
static size_t text_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/* A copy of s in which control characters (and DEL) are '?'. */
static char *clean_copy(const char *s)
{
    char *d = sc_strdup(s ? s : "-");
    if (!d)
        return NULL;
    for (char *p = d; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7F)
            *p = '?';
    return d;
}

struct cli_table *cli_table_new(const char *const *headers, size_t ncols)
{
    if (ncols == 0 || ncols > TABLE_MAX_COLS)
        return NULL;
    struct cli_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->headers = headers;
    t->ncols = ncols;
    for (size_t i = 0; i < ncols; i++)
        t->width[i] = text_width(headers[i]);
    return t;
}

int cli_table_add(struct cli_table *t, const char *const *cells)
{
    if (t->rows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **grown = realloc(t->cells, cap * t->ncols * sizeof *grown);
        if (!grown)
            return -1;
        t->cells = grown;
        t->cap = cap;
    }
    char **row = t->cells + t->rows * t->ncols;
    for (size_t i = 0; i < t->ncols; i++) {
        row[i] = clean_copy(cells[i]);
        if (!row[i]) {
            for (size_t j = 0; j < i; j++)
                free(row[j]);
            return -1;
        }
        size_t w = text_width(row[i]);
        if (w > t->width[i])
            t->width[i] = w;
    }
    t->rows++;
    return 0;
}

int cli_table_add_item(struct cli_table *t, const struct cli_column *cols, const json_t *item)
{
    char *cells[TABLE_MAX_COLS] = {0};
    int rc = -1;
    for (size_t i = 0; i < t->ncols; i++) {
        cells[i] = cli_value_text(sc_json_get_path(item, cols[i].path));
        if (!cells[i])
            goto done;
    }
    rc = cli_table_add(t, (const char *const *)cells);
done:
    for (size_t i = 0; i < t->ncols; i++)
        free(cells[i]);
    return rc;
}

void cli_table_set_width(struct cli_table *t, size_t i, size_t width)
{
    if (i < t->ncols)
        t->fixed[i] = width;
}

size_t cli_table_rows(const struct cli_table *t)
{
    return t->rows;
}

/* Prints s padded (or cut) to width characters; last columns get no padding. */
static void print_cell(FILE *out, const char *s, size_t width, int cut, int last)
{
    size_t w = text_width(s);
    if (cut && w > width && width > 0) {
        size_t chars = 0;
        const char *p = s;
        while (*p && chars < width - 1) {
            p++;
            while (((unsigned char)*p & 0xC0) == 0x80)
                p++;
            chars++;
        }
        fwrite(s, 1, (size_t)(p - s), out);
        fputs("…", out);
        w = width;
    } else {
        fputs(s, out);
    }
    if (!last)
        for (; w < width; w++)
            fputc(' ', out);
}

void cli_table_print(struct cli_table *t, FILE *out, int no_header)
{
    size_t width[TABLE_MAX_COLS];
    for (size_t i = 0; i < t->ncols; i++)
        width[i] = t->fixed[i] ? t->fixed[i] : t->width[i];
    if (!no_header) {
        for (size_t i = 0; i < t->ncols; i++) {
            print_cell(out, t->headers[i], width[i], t->fixed[i] != 0, i + 1 == t->ncols);
            if (i + 1 < t->ncols)
                fputs("  ", out);
        }
        fputc('\n', out);
    }
    for (size_t r = 0; r < t->rows; r++) {
        for (size_t i = 0; i < t->ncols; i++) {
            char *cell = t->cells[r * t->ncols + i];
            print_cell(out, cell, width[i], t->fixed[i] != 0, i + 1 == t->ncols);
            if (i + 1 < t->ncols)
                fputs("  ", out);
            free(cell);
        }
        fputc('\n', out);
    }
    t->rows = 0;
}

void cli_table_free(struct cli_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->rows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

char *cli_value_text(const json_t *v)
{
    char num[64];
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        return sc_strdup(json_string_value(v));
    case JSON_TRUE:
        return sc_strdup("yes");
    case JSON_FALSE:
        return sc_strdup("no");
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return sc_strdup(num);
    case JSON_REAL:
        snprintf(num, sizeof num, "%g", json_real_value(v));
        return sc_strdup(num);
    case JSON_NULL:
        return sc_strdup("-");
    default:
        return sc_json_dump(v);
    }
}

/* Collects (key, value) rows of obj into t, nested objects as prefix.key. */
static int flatten(struct cli_table *t, const char *prefix, const json_t *obj)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val)
    {
        struct sc_buf k;
        sc_buf_init(&k, 0);
        int rc = prefix ? (sc_buf_printf(&k, "%s.%s", prefix, key) == SC_OK ? 0 : -1)
                        : (sc_buf_puts(&k, key) == SC_OK ? 0 : -1);
        if (rc == 0 && json_is_null(val)) {
            /* absent fields are not shown */
        } else if (rc == 0 && json_is_object(val) && json_object_size(val) > 0) {
            rc = flatten(t, k.data, val);
        } else if (rc == 0) {
            char *text = cli_value_text(val);
            const char *cells[2] = {k.data, text};
            rc = text ? cli_table_add(t, cells) : -1;
            free(text);
        }
        sc_buf_free(&k);
        if (rc)
            return rc;
    }
    return 0;
}

void cli_print_object(const json_t *obj, FILE *out)
{
    static const char *const headers[] = {"FIELD", "VALUE"};
    if (!json_is_object(obj)) {
        cli_print_json(obj, out);
        return;
    }
    struct cli_table *t = cli_table_new(headers, 2);
    if (!t)
        return;
    if (flatten(t, NULL, obj) == 0)
        cli_table_print(t, out, 1);
    cli_table_free(t);
}

void cli_print_json(const json_t *v, FILE *out)
{
    char *text = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    if (text) {
        fputs(text, out);
        fputc('\n', out);
        free(text);
    }
}
