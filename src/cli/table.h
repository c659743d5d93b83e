/* Readable output for the CLI's client commands: aligned tables (columns as wide as
 * their widest cell, counted in characters, not bytes), "key  value" listings of one
 * object with dotted names for nested fields, and the text form of a JSON value in a
 * cell. Control characters in values are shown as '?' so that data from the server can
 * never drive the terminal. `--json` bypasses all of this and prints the server's JSON. */
#ifndef SC_CLI_TABLE_H
#define SC_CLI_TABLE_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/* A column: its header and the dotted path of the value in each item. */
struct cli_column {
    const char *header;
    const char *path;
};

struct cli_table;

/* Creates a table with ncols columns titled headers[i] (borrowed; they must outlive
 * the table). Returns a new table (free with cli_table_free), NULL when out of memory. */
struct cli_table *cli_table_new(const char *const *headers, size_t ncols);

/* Appends a row of ncols cells (copied; NULL cells print as "-"). 0, or -1 when out of
 * memory. */
int cli_table_add(struct cli_table *t, const char *const *cells);

/* Appends a row taken from item: one cell per column of cols (ncols as at creation),
 * each the text of the value at the column's path. 0 or -1. */
int cli_table_add_item(struct cli_table *t, const struct cli_column *cols, const json_t *item);

/* Fixes the width of column i (cells are cut to it with "…"; 0 = as wide as needed). */
void cli_table_set_width(struct cli_table *t, size_t i, size_t width);

/* Returns the number of rows added so far. */
size_t cli_table_rows(const struct cli_table *t);

/* Prints the header (unless no_header) and the rows, columns separated by two spaces,
 * then forgets the rows (the widths stay). */
void cli_table_print(struct cli_table *t, FILE *out, int no_header);

/* Frees t and its rows; NULL is a no-op. */
void cli_table_free(struct cli_table *t);

/* Returns the text of v for a cell: strings as they are, true/false as yes/no, numbers
 * in decimal, null or absent as "-", arrays and objects as compact JSON. New string
 * (free it); NULL when out of memory. */
char *cli_value_text(const json_t *v);

/* Prints obj as aligned "key  value" lines, nested objects flattened into dotted keys
 * ("address.locality"), arrays as compact JSON; null (absent) fields are left out. */
void cli_print_object(const json_t *obj, FILE *out);

/* Prints v as indented JSON followed by a newline. */
void cli_print_json(const json_t *v, FILE *out);

#endif
