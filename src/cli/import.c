/* scimitar import FILE.csv|FILE.json: bulk load of users through POST
 * /api/v1/users/import. The file is streamed: rows are read one at a time (CSV with a
 * header row naming user fields by their API names or the seed's display names, or
 * JSON lines with one user object per line), turned into JSON and sent in batches, so
 * memory stays flat however many rows there are. The server keeps good rows and answers
 * which ones it refused ({"created": n, "rejected": [{"index", "field", "message"}]});
 * rows refused here (a malformed CSV record, a bad boolean) and there are reported at
 * the end with their line in the file. A progress bar is drawn on a terminal, plain
 * progress lines otherwise. Exit status 1 when any row was rejected. */
#include "cli/commands.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/id.h"
#include "base/json.h"
#include "cli/client.h"
#include "cli/csv.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMPORT_DEFAULT_BATCH 1000
#define IMPORT_MAX_BATCH 10000
#define IMPORT_MAX_LINE (1024 * 1024) /* longest JSON line */
#define IMPORT_TTY_MS 100             /* progress bar refresh */
#define IMPORT_PLAIN_MS 2000          /* plain progress line period */

/* The user fields a CSV header may name: the API's dotted name first, then other
 * spellings (the seed's display names among them). Compared case-insensitively with
 * spaces, '_' and '-' removed. */
static const struct {
    const char *path;
    const char *aliases; /* '|'-separated, already normalised */
} csv_fields[] = {
    {"username", "username|user"},
    {"name.given", "name.given|givenname|firstname|given"},
    {"name.family", "name.family|familyname|lastname|surname|family"},
    {"name.formatted", "name.formatted|formatted|formattedname|fullname|displayname"},
    {"nickname", "nickname"},
    {"title", "title|jobtitle"},
    {"type", "type|usertype"},
    {"email", "email|emailaddress|mail"},
    {"primaryPhone", "primaryphone|phone|phonenumber"},
    {"externalId", "externalid"},
    {"address.streetAddress", "address.streetaddress|streetaddress|street"},
    {"address.locality", "address.locality|locality|city"},
    {"address.region", "address.region|region|state"},
    {"address.postalCode", "address.postalcode|postalcode|zip|zipcode"},
    {"address.countryCode", "address.countrycode|countrycode|country"},
    {"enabled", "enabled|active"},
    {"population.name", "population.name|populationname|population"},
    {"population.id", "population.id|populationid"},
};
#define CSV_NFIELDS (sizeof csv_fields / sizeof csv_fields[0])

enum import_format { FORMAT_AUTO, FORMAT_CSV, FORMAT_JSONL };

struct import {
    struct cli_client cli;
    const char *file;
    FILE *in;
    FILE *rejects; /* temporary: "line\tfield\tmessage\n" per rejected row */
    int64_t size;  /* file size in bytes, 0 when unknown */
    int64_t batch_max;
    int json_out, tty, quiet;
    /* the batch being built: a JSON array text and the line of each row */
    struct sc_buf body;
    int64_t *lines;
    size_t nbatch;
    /* counters */
    int64_t rows, created, rejected;
    int64_t started_ms, last_progress_ms;
    int aborted;
};

/* Lower-cases s and drops spaces, '_' and '-' into out (size n). */
static void normalise(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s && k + 1 < n; s++) {
        char c = *s;
        if (c == ' ' || c == '_' || c == '-' || c == '\t')
            continue;
        out[k++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[k] = '\0';
}

/* Index of the user field a header cell names, or -1. */
static int header_field(const char *cell)
{
    char norm[128];
    normalise(cell, norm, sizeof norm);
    size_t len = strlen(norm);
    if (len == 0)
        return -1;
    for (size_t i = 0; i < CSV_NFIELDS; i++) {
        const char *a = csv_fields[i].aliases;
        while (*a) {
            const char *bar = strchr(a, '|');
            size_t alen = bar ? (size_t)(bar - a) : strlen(a);
            if (alen == len && memcmp(a, norm, len) == 0)
                return (int)i;
            a += alen + (bar ? 1 : 0);
        }
    }
    return -1;
}

/* Writes one rejected row to the temporary rejects file (tabs and line breaks in the
 * texts become spaces so that each rejection stays one line). */
static void reject(struct import *im, int64_t line, const char *field, const char *msg)
{
    im->rejected++;
    fprintf(im->rejects, "%lld\t", (long long)line);
    for (const char *p = field ? field : ""; *p; p++)
        fputc((*p == '\t' || *p == '\n' || *p == '\r') ? ' ' : *p, im->rejects);
    fputc('\t', im->rejects);
    for (const char *p = msg ? msg : ""; *p; p++)
        fputc((*p == '\t' || *p == '\n' || *p == '\r') ? ' ' : *p, im->rejects);
    fputc('\n', im->rejects);
}

/* Position in the input for the progress percentage (-1 when unknown). */
static int64_t position(struct import *im)
{
    if (!im->size)
        return -1;
    off_t pos = ftello(im->in);
    return pos < 0 ? -1 : (int64_t)pos;
}

static void progress(struct import *im, int final)
{
    if (im->quiet || im->json_out)
        return;
    int64_t now = sc_clock_mono_ms();
    if (!final && now - im->last_progress_ms < (im->tty ? IMPORT_TTY_MS : IMPORT_PLAIN_MS))
        return;
    im->last_progress_ms = now;
    double secs = (double)(now - im->started_ms) / 1000.0;
    double rate = secs > 0 ? (double)(im->created + im->rejected) / secs : 0;
    int64_t pos = position(im);
    int pct = -1;
    if (final && im->size)
        pct = 100;
    else if (pos >= 0 && im->size > 0)
        pct = (int)(pos * 100 / im->size);
    if (im->tty) {
        char bar[31];
        int fill = pct >= 0 ? pct * 30 / 100 : 0;
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        if (pct >= 0)
            fprintf(stderr, "\r[%s] %3d%%  %lld rows  %lld created  %lld rejected  %.0f rows/s  ",
                    bar, pct, (long long)im->rows, (long long)im->created, (long long)im->rejected,
                    rate);
        else
            fprintf(stderr, "\r%lld rows  %lld created  %lld rejected  %.0f rows/s  ",
                    (long long)im->rows, (long long)im->created, (long long)im->rejected, rate);
        if (final)
            fputc('\n', stderr);
    } else {
        fprintf(stderr, "import: %lld rows read", (long long)im->rows);
        if (pct >= 0)
            fprintf(stderr, " (%d%%)", pct);
        fprintf(stderr, ", %lld created, %lld rejected, %.0f rows/s\n", (long long)im->created,
                (long long)im->rejected, rate);
    }
    fflush(stderr);
}

/* Sends the batch being built; records created and rejected rows. CLI_OK or CLI_FAIL
 * (the whole batch was refused or the server is gone: the import stops). */
static int flush_batch(struct import *im)
{
    if (im->nbatch == 0)
        return CLI_OK;
    json_t *ans = NULL;
    int rc = CLI_FAIL;
    if (sc_buf_puts(&im->body, "]") != SC_OK) {
        cli_client_fail(&im->cli, "out of memory");
        goto done;
    }
    if (cli_client_call_text(&im->cli, "POST", "/api/v1/users/import", im->body.data, im->body.len,
                             &ans, NULL) != CLI_OK) {
        if (im->cli.last_status == 413)
            cli_client_fail(&im->cli,
                            "the batch of %zu rows is too large for the server: "
                            "try a smaller --batch",
                            im->nbatch);
        goto done;
    }
    json_t *created = json_object_get(ans, "created");
    json_t *rejected = json_object_get(ans, "rejected");
    size_t nrej = json_array_size(rejected);
    if (json_is_integer(created))
        im->created += json_integer_value(created);
    else
        im->created += (int64_t)(im->nbatch - nrej);
    size_t i;
    json_t *r;
    json_array_foreach(rejected, i, r)
    {
        json_t *idx = json_object_get(r, "index");
        int64_t line = -1;
        if (json_is_integer(idx) && json_integer_value(idx) >= 0 &&
            (size_t)json_integer_value(idx) < im->nbatch)
            line = im->lines[json_integer_value(idx)];
        reject(im, line, json_string_value(json_object_get(r, "field")),
               json_string_value(json_object_get(r, "message")));
    }
    rc = CLI_OK;
done:
    json_decref(ans);
    sc_buf_reset(&im->body);
    im->nbatch = 0;
    return rc;
}

/* Adds one row's JSON text (len bytes) to the batch, sending it when full. */
static int add_row(struct import *im, int64_t line, const char *json, size_t len)
{
    if (sc_buf_puts(&im->body, im->nbatch ? "," : "[") != SC_OK ||
        sc_buf_append(&im->body, json, len) != SC_OK) {
        cli_client_fail(&im->cli, "out of memory");
        return CLI_FAIL;
    }
    im->lines[im->nbatch++] = line;
    if ((int64_t)im->nbatch >= im->batch_max)
        return flush_batch(im);
    return CLI_OK;
}

/* Parses a boolean cell. 0 or -1. */
static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "y", "1", "on"};
    static const char *const no[] = {"false", "no", "n", "0", "off"};
    for (size_t i = 0; i < 5; i++) {
        if (sc_strcaseeq(s, yes[i])) {
            *out = 1;
            return 0;
        }
        if (sc_strcaseeq(s, no[i])) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static int import_csv(struct import *im)
{
    struct cli_csv *csv = cli_csv_open(im->in);
    struct cli_csv_record rec;
    int cols[CLI_CSV_MAX_FIELDS];
    size_t ncols = 0;
    char err[256];
    int rc = CLI_FAIL;
    if (!csv) {
        cli_client_fail(&im->cli, "out of memory");
        return CLI_FAIL;
    }
    int got = cli_csv_next(csv, &rec, err, sizeof err);
    if (got != 1) {
        cli_client_fail(&im->cli, "%s: %s", im->file,
                        got == 0 ? "the file is empty: a header row naming user fields is expected"
                                 : err);
        goto done;
    }
    int seen[CSV_NFIELDS] = {0};
    ncols = rec.nfields;
    for (size_t i = 0; i < ncols; i++) {
        cols[i] = header_field(rec.fields[i]);
        if (cols[i] < 0) {
            cli_client_fail(&im->cli,
                            "%s line %lld: column %zu '%s' is not a user field (use the API "
                            "names, e.g. username, name.given, name.family, email, "
                            "population.name, address.countryCode, or the display names "
                            "Username, Given Name, Family Name, Email Address, Population)",
                            im->file, (long long)rec.line, i + 1, rec.fields[i]);
            rc = CLI_USAGE;
            goto done;
        }
        if (seen[cols[i]]++) {
            cli_client_fail(&im->cli, "%s line %lld: column %zu '%s' names %s a second time",
                            im->file, (long long)rec.line, i + 1, rec.fields[i],
                            csv_fields[cols[i]].path);
            rc = CLI_USAGE;
            goto done;
        }
    }
    if (!seen[0]) {
        cli_client_fail(&im->cli, "%s line %lld: the header has no username column", im->file,
                        (long long)rec.line);
        rc = CLI_USAGE;
        goto done;
    }
    for (;;) {
        got = cli_csv_next(csv, &rec, err, sizeof err);
        if (got == 0)
            break;
        if (got == -2) {
            cli_client_fail(&im->cli, "%s: %s", im->file, err);
            goto done;
        }
        im->rows++;
        if (got == -1) {
            reject(im, rec.line, "", err);
            continue;
        }
        if (rec.nfields != ncols) {
            snprintf(err, sizeof err, "the row has %zu fields, the header has %zu", rec.nfields,
                     ncols);
            reject(im, rec.line, "", err);
            continue;
        }
        json_t *user = json_object();
        const char *bad_field = NULL, *bad_msg = NULL;
        for (size_t i = 0; user && i < ncols && !bad_field; i++) {
            const char *v = rec.fields[i];
            if (!*v)
                continue;
            const char *path = csv_fields[cols[i]].path;
            json_t *jv = NULL;
            if (strcmp(path, "population.name") == 0 && sc_uuid_valid(v))
                path = "population.id"; /* a "population" column may hold ids */
            if (strcmp(path, "enabled") == 0) {
                int b;
                if (parse_bool(v, &b)) {
                    bad_field = path;
                    bad_msg = "must be true or false (or yes/no, 1/0)";
                    break;
                }
                jv = json_boolean(b);
            } else if (!(jv = json_string(v))) {
                bad_field = path;
                bad_msg = "is not valid UTF-8";
                break;
            }
            sc_json_set_path(user, path, jv);
        }
        if (!user) {
            cli_client_fail(&im->cli, "out of memory");
            goto done;
        }
        if (bad_field) {
            reject(im, rec.line, bad_field, bad_msg);
            json_decref(user);
            continue;
        }
        char *text = sc_json_dump(user);
        json_decref(user);
        if (!text) {
            cli_client_fail(&im->cli, "out of memory");
            goto done;
        }
        int sent = add_row(im, rec.line, text, strlen(text));
        free(text);
        if (sent != CLI_OK)
            goto done;
        progress(im, 0);
    }
    rc = flush_batch(im);
done:
    cli_csv_free(csv);
    return rc;
}

static int import_jsonl(struct import *im)
{
    struct sc_buf line;
    int64_t lineno = 0;
    int rc = CLI_FAIL;
    sc_buf_init(&line, 0);
    for (;;) {
        int c = 0, too_long = 0;
        sc_buf_reset(&line);
        lineno++;
        while ((c = getc_unlocked(im->in)) != EOF && c != '\n') {
            if (line.len >= IMPORT_MAX_LINE) {
                too_long = 1;
                continue;
            }
            char ch = (char)c;
            if (sc_buf_append(&line, &ch, 1) != SC_OK) {
                cli_client_fail(&im->cli, "out of memory");
                goto done;
            }
        }
        if (ferror(im->in)) {
            cli_client_fail(&im->cli, "%s: read error: %s", im->file, strerror(errno));
            goto done;
        }
        while (line.len && (line.data[line.len - 1] == '\r' || line.data[line.len - 1] == ' '))
            line.data[--line.len] = '\0';
        size_t skip = 0;
        while (skip < line.len && (line.data[skip] == ' ' || line.data[skip] == '\t'))
            skip++;
        if (line.len == skip && !too_long) {
            if (c == EOF)
                break;
            continue;
        }
        if (im->rows == 0 && line.data[skip] == '[') {
            cli_client_fail(&im->cli,
                            "%s line %lld: the file holds a JSON array; give JSON lines "
                            "instead (one user object per line, e.g. jq -c '.[]' FILE)",
                            im->file, (long long)lineno);
            rc = CLI_USAGE;
            goto done;
        }
        im->rows++;
        if (too_long) {
            char msg[96];
            snprintf(msg, sizeof msg, "the line is longer than %d bytes", IMPORT_MAX_LINE);
            reject(im, lineno, "", msg);
        } else {
            json_t *doc = NULL;
            struct sc_error e = {0};
            if (sc_json_parse(line.data + skip, line.len - skip, 0, &doc, &e) != SC_OK) {
                char msg[SC_ERROR_MESSAGE_MAX + 32];
                snprintf(msg, sizeof msg, "not valid JSON: %s", e.message);
                reject(im, lineno, "", msg);
            } else if (!json_is_object(doc)) {
                reject(im, lineno, "", "a JSON object (one user) is expected on each line");
            } else if (add_row(im, lineno, line.data + skip, line.len - skip) != CLI_OK) {
                json_decref(doc);
                goto done;
            }
            json_decref(doc);
        }
        progress(im, 0);
        if (c == EOF)
            break;
    }
    rc = flush_batch(im);
done:
    sc_buf_free(&line);
    return rc;
}

/* qsort order of rejects-file lines: by their leading line number. */
static int by_line(const void *a, const void *b)
{
    long long x = strtoll(*(char *const *)a, NULL, 10);
    long long y = strtoll(*(char *const *)b, NULL, 10);
    return (x > y) - (x < y);
}

/* Prints the final report from the counters and the rejects file. */
static void report(struct import *im)
{
    double secs = (double)(sc_clock_mono_ms() - im->started_ms) / 1000.0;
    char *ln = NULL;
    size_t cap = 0;
    ssize_t got;
    rewind(im->rejects);
    if (im->json_out) {
        printf("{\"file\": ");
        json_t *f = json_string(im->file);
        char *t = f ? json_dumps(f, JSON_ENCODE_ANY) : NULL;
        printf("%s, \"rows\": %lld, \"created\": %lld, \"rejected\": [", t ? t : "null",
               (long long)im->rows, (long long)im->created);
        free(t);
        json_decref(f);
    } else {
        printf("%s: %lld rows, %lld created, %lld rejected in %.1f s (%.0f rows/s)%s\n", im->file,
               (long long)im->rows, (long long)im->created, (long long)im->rejected, secs,
               secs > 0 ? (double)(im->created + im->rejected) / secs : 0.0,
               im->aborted ? "; the import stopped early (see the error above)" : "");
        if (im->rejected)
            printf("Rejected rows (every other row was kept):\n");
    }
    /* the rejections in line order (they were recorded batch by batch, the ones found
     * here before the server's) */
    char **all = NULL;
    size_t n = 0, cap_all = 0;
    while ((got = getline(&ln, &cap, im->rejects)) > 0) {
        if (n == cap_all) {
            size_t nc = cap_all ? cap_all * 2 : 64;
            char **grown = realloc(all, nc * sizeof *grown);
            if (!grown)
                break;
            all = grown;
            cap_all = nc;
        }
        all[n++] = ln;
        ln = NULL;
        cap = 0;
    }
    if (n)
        qsort(all, n, sizeof *all, by_line);
    int first = 1;
    for (size_t k = 0; k < n; k++) {
        char *entry = all[k];
        size_t elen = strlen(entry);
        if (elen && entry[elen - 1] == '\n')
            entry[--elen] = '\0';
        char *tab1 = strchr(entry, '\t');
        char *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
        if (!tab2)
            continue;
        *tab1 = *tab2 = '\0';
        const char *line = entry, *field = tab1 + 1, *msg = tab2 + 1;
        if (im->json_out) {
            json_t *o = json_pack("{s:I,s:s?,s:s?}", "line", (json_int_t)strtoll(line, NULL, 10),
                                  "field", *field ? field : NULL, "message", msg);
            char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
            printf("%s\n  %s", first ? "" : ",", t ? t : "null");
            free(t);
            json_decref(o);
        } else if (strcmp(line, "-1") == 0) {
            printf("  line ?: %s%s%s\n", field, *field ? ": " : "", msg);
        } else {
            printf("  line %s: %s%s%s\n", line, field, *field ? ": " : "", msg);
        }
        first = 0;
    }
    for (size_t k = 0; k < n; k++)
        free(all[k]);
    free(all);
    if (im->json_out)
        printf("%s], \"aborted\": %s}\n", first ? "" : "\n", im->aborted ? "true" : "false");
    free(ln);
}

static void import_usage(FILE *out)
{
    fprintf(out,
            "usage: scimitar import [--batch N] [--format csv|jsonl] [--json] [--no-progress]\n"
            "                       [--server URL] FILE.csv|FILE.json|-\n\n"
            "Bulk load of users into the directory through POST /api/v1/users/import.\n\n"
            "FILE.csv   a header row naming user fields, by their API names (username,\n"
            "           name.given, name.family, name.formatted, nickname, title, type, email,\n"
            "           primaryPhone, externalId, address.streetAddress, address.locality,\n"
            "           address.region, address.postalCode, address.countryCode, enabled,\n"
            "           population.name or population, population.id) or the display names\n"
            "           (Username, Given Name, Family Name, Email Address, Population Name,\n"
            "           Country Code, ...), case-insensitive; then one user per row. RFC 4180\n"
            "           quoting: \"a, b\", doubled quotes \"\" and line breaks inside quotes.\n"
            "           An empty cell leaves the field out.\n"
            "FILE.json  JSON lines: one user object per line, as in the REST API\n"
            "           (.jsonl and .ndjson too; - reads stdin and needs --format).\n\n"
            "options:\n"
            "  --batch N          rows per request (1..%d, default %d)\n"
            "  --format F         csv or jsonl (default: from the file name)\n"
            "  --json             print the report as JSON\n"
            "  --no-progress      no progress bar or progress lines on stderr\n"
            "  --server URL       the scimitar server (default SCIMITAR_SERVER, else %s)\n"
            "  -h, --help         this help\n\n"
            "The file is streamed and sent in batches; good rows are kept. A progress bar is\n"
            "shown on a terminal (plain progress lines otherwise), then a report: rows\n"
            "created and every rejected row with its line in the file, field and reason.\n\n"
            "Exit status: 0 every row was imported, 1 some row was rejected (the others were\n"
            "kept) or the import stopped, 2 bad usage, an unusable header row or\n"
            "SCIMITAR_TOKEN unset. The admin token is read from SCIMITAR_TOKEN.\n",
            IMPORT_MAX_BATCH, IMPORT_DEFAULT_BATCH, CLI_DEFAULT_SERVER);
}

int cli_import(int argc, char **argv)
{
    struct import im;
    const char *server = NULL;
    enum import_format format = FORMAT_AUTO;
    int rc = CLI_USAGE;
    memset(&im, 0, sizeof im);
    sc_buf_init(&im.body, 0);
    im.batch_max = IMPORT_DEFAULT_BATCH;
    static const struct option opts[] = {
        {"batch", required_argument, NULL, 'b'},
        {"format", required_argument, NULL, 'f'},
        {"json", no_argument, NULL, 'j'},
        {"no-progress", no_argument, NULL, 'q'},
        {"server", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 0;
    opterr = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (sc_parse_int64(optarg, 1, IMPORT_MAX_BATCH, &im.batch_max)) {
                fprintf(stderr, "scimitar import: --batch must be a whole number from 1 to %d\n",
                        IMPORT_MAX_BATCH);
                return CLI_USAGE;
            }
            break;
        case 'f':
            if (sc_strcaseeq(optarg, "csv")) {
                format = FORMAT_CSV;
            } else if (sc_strcaseeq(optarg, "jsonl") || sc_strcaseeq(optarg, "json")) {
                format = FORMAT_JSONL;
            } else {
                fprintf(stderr, "scimitar import: --format must be csv or jsonl\n");
                return CLI_USAGE;
            }
            break;
        case 'j':
            im.json_out = 1;
            break;
        case 'q':
            im.quiet = 1;
            break;
        case 's':
            server = optarg;
            break;
        case 'h':
            import_usage(stdout);
            return CLI_OK;
        default:
            fputc('\n', stderr);
            import_usage(stderr);
            return CLI_USAGE;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "scimitar import: %s\n\n",
                optind >= argc ? "missing FILE" : "give exactly one FILE");
        import_usage(stderr);
        return CLI_USAGE;
    }
    im.file = argv[optind];
    if (format == FORMAT_AUTO) {
        const char *dot = strrchr(im.file, '.');
        if (dot && sc_strcaseeq(dot, ".csv"))
            format = FORMAT_CSV;
        else if (dot && (sc_strcaseeq(dot, ".json") || sc_strcaseeq(dot, ".jsonl") ||
                         sc_strcaseeq(dot, ".ndjson")))
            format = FORMAT_JSONL;
        else {
            fprintf(stderr,
                    "scimitar import: cannot tell the format of '%s' from its name: "
                    "give --format csv or --format jsonl\n",
                    im.file);
            return CLI_USAGE;
        }
    }
    if ((rc = cli_client_init(&im.cli, server, "scimitar import")) != CLI_OK)
        return rc;
    im.cli.timeout_ms = 600000;
    rc = CLI_FAIL;
    im.in = strcmp(im.file, "-") == 0 ? stdin : fopen(im.file, "rb");
    if (!im.in) {
        cli_client_fail(&im.cli, "cannot open %s: %s", im.file, strerror(errno));
        goto done;
    }
    struct stat sb;
    if (fstat(fileno(im.in), &sb) == 0 && S_ISREG(sb.st_mode))
        im.size = (int64_t)sb.st_size;
    im.rejects = tmpfile();
    im.lines = calloc((size_t)im.batch_max, sizeof *im.lines);
    if (!im.rejects || !im.lines) {
        cli_client_fail(&im.cli, "cannot create a temporary file: %s", strerror(errno));
        goto done;
    }
    im.tty = isatty(STDERR_FILENO);
    im.started_ms = sc_clock_mono_ms();
    im.last_progress_ms = im.started_ms;
    int got = format == FORMAT_CSV ? import_csv(&im) : import_jsonl(&im);
    if (got == CLI_USAGE && im.rows == 0) {
        rc = CLI_USAGE;
        goto done;
    }
    im.aborted = got != CLI_OK;
    progress(&im, 1);
    report(&im);
    rc = im.aborted || im.rejected ? CLI_FAIL : CLI_OK;
done:
    if (im.in && im.in != stdin)
        fclose(im.in);
    if (im.rejects)
        fclose(im.rejects);
    free(im.lines);
    sc_buf_free(&im.body);
    fflush(stdout);
    return rc;
}
