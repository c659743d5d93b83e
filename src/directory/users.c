/* Users: create, read, merge-update, delete, list (keyset pages, SCIM-style ?filter,
 * substring search, by population), bulk import, and effective groups. Input is
 * checked by validate.c; the store records each write with its change event. */
#include "directory/directory.h"
#include "directory/directory_internal.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/id.h"
#include "base/json.h"
#include "scim/filter.h"
#include "store/store_directory.h"

#include <stdlib.h>
#include <string.h>

void directory__now(char out[32])
{
    sc_clock_format_iso8601(sc_clock_now_ms(), out, 32);
}

char *directory__cursor_encode(const char *key)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(key);
    char *out = malloc(2 * n + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[(unsigned char)key[i] >> 4];
        out[2 * i + 1] = hex[(unsigned char)key[i] & 15];
    }
    out[2 * n] = '\0';
    return out;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

enum sc_err directory__cursor_decode(const char *cursor, char **key, struct sc_error *e)
{
    *key = NULL;
    if (!cursor || !*cursor)
        return SC_OK;
    size_t n = strlen(cursor);
    if (n % 2 || n > 2048)
        return sc_error_set(e, SC_ERR_INVALID, "cursor", "cursor is not one this server gave");
    char *out = malloc(n / 2 + 1);
    if (!out)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(cursor[2 * i]), lo = hexval(cursor[2 * i + 1]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            return sc_error_set(e, SC_ERR_INVALID, "cursor", "cursor is not one this server gave");
        }
        out[i] = (char)(hi << 4 | lo);
    }
    out[n / 2] = '\0';
    *key = out;
    return SC_OK;
}

enum sc_err directory__store_error(enum sc_err rc, struct sc_error *e, const char *what)
{
    if (rc == SC_ERR_NOT_FOUND)
        return sc_error_set(e, rc, NULL, "no such %s", what);
    if (rc == SC_ERR_NOMEM)
        return sc_error_set(e, rc, NULL, "out of memory");
    if (rc == SC_ERR_BUSY)
        return sc_error_set(e, rc, NULL, "the database is busy; try again");
    return sc_error_set(e, rc, NULL, "the database failed to %s", what);
}

enum sc_err directory__begin(struct store *st, int *own, struct sc_error *e)
{
    *own = !store_in_transaction(st);
    enum sc_err rc = *own ? store_begin(st) : SC_OK;
    return rc ? directory__store_error(rc, e, "start a transaction") : SC_OK;
}

enum sc_err directory__finish(struct store *st, int own, enum sc_err rc, struct sc_error *e)
{
    if (!own)
        return rc;
    if (rc) {
        store_rollback(st);
        return rc;
    }
    rc = store_commit(st);
    return rc ? directory__store_error(rc, e, "commit the change") : SC_OK;
}

enum sc_err directory__update_in_tx(struct store *st, const char *id, const json_t *patch,
                                    json_t **out, struct sc_error *e,
                                    enum sc_err (*update)(struct store *st, const char *id,
                                                          const json_t *patch, json_t **out,
                                                          struct sc_error *e))
{
    int own;
    json_t *res = NULL;
    enum sc_err rc = directory__begin(st, &own, e);
    if (rc)
        return rc;
    rc = directory__finish(st, own, update(st, id, patch, &res, e), e);
    if (rc) {
        json_decref(res);
        return rc;
    }
    *out = res;
    return SC_OK;
}

enum sc_err directory__delete_in_tx(struct store *st, const char *id, struct sc_error *e,
                                    enum sc_err (*del)(struct store *st, const char *id,
                                                       struct sc_error *e))
{
    int own;
    enum sc_err rc = directory__begin(st, &own, e);
    if (rc)
        return rc;
    return directory__finish(st, own, del(st, id, e), e);
}

/* Resolves a population reference {"id"} or {"name"} to the stored population (new). */
static enum sc_err resolve_population(struct store *st, const json_t *ref, json_t **pop,
                                      struct sc_error *e)
{
    const char *id = json_string_value(json_object_get(ref, "id"));
    const char *name = json_string_value(json_object_get(ref, "name"));
    enum sc_err rc;
    if (id) {
        rc = store_population_get(st, id, pop);
        if (rc == SC_ERR_NOT_FOUND)
            return sc_error_set(e, SC_ERR_INVALID, "population.id", "no population with id '%.64s'",
                                id);
        if (rc)
            return directory__store_error(rc, e, "read the population");
        if (name && !sc_strcaseeq(name, json_string_value(json_object_get(*pop, "name")))) {
            json_decref(*pop);
            *pop = NULL;
            return sc_error_set(e, SC_ERR_INVALID, "population.name",
                                "population.name does not match the population with that id");
        }
        return SC_OK;
    }
    rc = store_population_find(st, name, pop);
    if (rc == SC_ERR_NOT_FOUND)
        return sc_error_set(e, SC_ERR_INVALID, "population.name", "no population named '%.100s'",
                            name);
    if (rc)
        return directory__store_error(rc, e, "read the population");
    return SC_OK;
}

/* Upper-cases the country code of rec (an object we own; its "address" may be shared
 * with the caller's input, so a changed address is copied first). */
static void normalise(json_t *rec)
{
    json_t *addr = json_object_get(rec, "address");
    const char *cc = json_string_value(json_object_get(addr, "countryCode"));
    if (!cc || strlen(cc) != 2 || ((cc[0] < 'a' || cc[0] > 'z') && (cc[1] < 'a' || cc[1] > 'z')))
        return;
    char up[3] = {cc[0], cc[1], 0};
    for (int i = 0; i < 2; i++)
        if (up[i] >= 'a' && up[i] <= 'z')
            up[i] = (char)(up[i] - 'a' + 'A');
    json_t *copy = json_copy(addr);
    if (!copy)
        return;
    json_object_set_new(copy, "countryCode", json_string(up));
    json_object_set_new(rec, "address", copy);
}

/* Builds the record to store for a new user from checked input and its population
 * (the stored population object: "id" and "name" are used). New. */
static json_t *build_record(const json_t *in, const json_t *pop)
{
    json_t *rec = json_copy((json_t *)in); /* shallow: nested objects are only read */
    if (!rec)
        return NULL;
    char id[SC_UUID_LEN + 1], now[32];
    sc_uuid_v7(id); /* in creation order: a resync's scans by id read the rows in order */
    directory__now(now);
    json_object_set_new(rec, "id", json_string(id));
    if (!json_object_get(rec, "enabled"))
        json_object_set_new(rec, "enabled", json_true());
    json_object_set_new(rec, "population",
                        json_pack("{s:O, s:O}", "id", json_object_get(pop, "id"), "name",
                                  json_object_get(pop, "name")));
    json_object_set_new(rec, "createdAt", json_string(now));
    json_object_set_new(rec, "updatedAt", json_string(now));
    normalise(rec);
    return rec;
}

/* Resolves the population of checked input and builds its record. *out is new. */
static enum sc_err prepare_new(struct store *st, const json_t *in, json_t **out, struct sc_error *e)
{
    json_t *pop = NULL;
    enum sc_err rc = resolve_population(st, json_object_get(in, "population"), &pop, e);
    if (rc)
        return rc;
    *out = build_record(in, pop);
    json_decref(pop);
    return *out ? SC_OK : sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
}

static enum sc_err write_error(enum sc_err rc, const json_t *rec, struct sc_error *e)
{
    if (rc == SC_ERR_CONFLICT)
        return sc_error_set(e, rc, "username", "username '%.100s' is already taken",
                            json_string_value(json_object_get(rec, "username")));
    if (rc == SC_ERR_INVALID)
        return sc_error_set(e, rc, "population", "the population no longer exists");
    return directory__store_error(rc, e, "store the user");
}

enum sc_err directory_user_create(struct store *st, const json_t *in, json_t **out,
                                  struct sc_error *e)
{
    json_t *rec = NULL;
    enum sc_err rc = directory_user_check(in, 0, e);
    if (rc || (rc = prepare_new(st, in, &rec, e)))
        return rc;
    rc = store_user_insert(st, rec);
    if (rc) {
        rc = write_error(rc, rec, e);
        goto done;
    }
    rc = store_user_get(st, json_string_value(json_object_get(rec, "id")), out);
    if (rc)
        rc = directory__store_error(rc, e, "read the user back");
done:
    json_decref(rec);
    return rc;
}

enum sc_err directory_user_get(struct store *st, const char *id, json_t **out, struct sc_error *e)
{
    enum sc_err rc = store_user_get(st, id, out);
    return rc ? directory__store_error(rc, e, "user") : SC_OK;
}

/* Merges src object into dst object one level deep for "name"/"address". */
static void merge_user(json_t *dst, const json_t *patch)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)patch, key, v)
    {
        if (strcmp(key, "name") == 0 || strcmp(key, "address") == 0) {
            json_t *sub = json_object_get(dst, key);
            if (!json_is_object(sub)) {
                sub = json_object();
                json_object_set_new(dst, key, sub);
            }
            if (json_is_null(v)) {
                json_object_clear(sub);
                continue;
            }
            const char *k2;
            json_t *v2;
            json_object_foreach(v, k2, v2)
            {
                json_object_set(sub, k2, v2);
            }
        } else if (strcmp(key, "population") != 0) {
            json_object_set(dst, key, v);
        }
    }
}

static enum sc_err user_update(struct store *st, const char *id, const json_t *patch, json_t **out,
                               struct sc_error *e)
{
    json_t *cur = NULL, *pop = NULL;
    enum sc_err rc = store_user_get(st, id, &cur);
    if (rc)
        return directory__store_error(rc, e, "user");
    if ((rc = directory_user_check(patch, 1, e)))
        goto done;
    merge_user(cur, patch);
    json_t *ref = json_object_get(patch, "population");
    if (ref) {
        if ((rc = resolve_population(st, ref, &pop, e)))
            goto done;
        json_object_set_new(cur, "population",
                            json_pack("{s:O, s:O}", "id", json_object_get(pop, "id"), "name",
                                      json_object_get(pop, "name")));
    }
    normalise(cur);
    char now[32];
    directory__now(now);
    json_object_set_new(cur, "updatedAt", json_string(now));
    rc = store_user_update(st, cur);
    if (rc) {
        rc = rc == SC_ERR_NOT_FOUND ? directory__store_error(rc, e, "user")
                                    : write_error(rc, cur, e);
        goto done;
    }
    rc = store_user_get(st, id, out);
    if (rc)
        rc = directory__store_error(rc, e, "read the user back");
done:
    json_decref(cur);
    json_decref(pop);
    return rc;
}

static enum sc_err user_delete(struct store *st, const char *id, struct sc_error *e)
{
    json_t *cur = NULL;
    char *detail = NULL;
    enum sc_err rc = store_user_get(st, id, &cur);
    if (rc)
        return directory__store_error(rc, e, "user");
    detail = sc_json_dump(cur);
    rc = store_user_delete(st, id, detail);
    if (rc)
        rc = directory__store_error(rc, e, rc == SC_ERR_NOT_FOUND ? "user" : "delete the user");
    free(detail);
    json_decref(cur);
    return rc;
}

/* Reading the user and writing the merged result happen in one transaction, so two
 * concurrent PATCHes cannot lose each other's changes. */
enum sc_err directory_user_update(struct store *st, const char *id, const json_t *patch,
                                  json_t **out, struct sc_error *e)
{
    return directory__update_in_tx(st, id, patch, out, e, user_update);
}

enum sc_err directory_user_delete(struct store *st, const char *id, struct sc_error *e)
{
    return directory__delete_in_tx(st, id, e, user_delete);
}

/* Resolves ?population= given as an id or a name to the population id (new). */
static enum sc_err population_param(struct store *st, const char *p, char **id, struct sc_error *e)
{
    json_t *pop = NULL;
    enum sc_err rc = store_population_get(st, p, &pop);
    if (rc == SC_ERR_NOT_FOUND)
        rc = store_population_find(st, p, &pop);
    if (rc == SC_ERR_NOT_FOUND)
        return sc_error_set(e, SC_ERR_INVALID, "population",
                            "no population with id or name '%.100s'", p);
    if (rc)
        return directory__store_error(rc, e, "read the population");
    *id = sc_strdup(json_string_value(json_object_get(pop, "id")));
    json_decref(pop);
    return *id ? SC_OK : sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
}

static char *lower_dup(const char *s)
{
    char *c = sc_strdup(s);
    return c ? sc_str_lower(c) : NULL;
}

enum sc_err directory_user_list(struct store *st, const struct directory_user_query *q,
                                json_t **items, char **next, struct sc_error *e)
{
    int limit = q->limit > 0 ? q->limit : 100;
    char *after = NULL, *pop_id = NULL, *last = NULL;
    struct scim_filter *filter = NULL;
    json_t *out = NULL, *batch = NULL;
    int more = 0;
    enum sc_err rc;
    if (limit > 1000)
        limit = 1000;
    if ((rc = directory__cursor_decode(q->cursor, &after, e)))
        return rc;
    if (q->population_id && *q->population_id &&
        (rc = population_param(st, q->population_id, &pop_id, e)))
        goto done;
    if (q->filter && *q->filter) {
        struct scim_error se = {0};
        if (scim_filter_parse(q->filter, &filter, &se)) {
            rc = sc_error_set(e, SC_ERR_INVALID, "filter", "filter: %s", se.detail);
            goto done;
        }
    }
    /* `username eq "x"` and `population.name eq "x"` narrow the query in the store;
     * the filter is still applied to every row, so the result is the same. */
    const char *eq_path = NULL, *eq_value = NULL, *username = NULL;
    if (filter && scim_filter_simple_eq(filter, &eq_path, &eq_value)) {
        if (sc_strcaseeq(eq_path, "username")) {
            username = eq_value;
        } else if (sc_strcaseeq(eq_path, "population.name") && !pop_id) {
            json_t *pop = NULL;
            enum sc_err r = store_population_find(st, eq_value, &pop);
            if (r == SC_OK)
                pop_id = sc_strdup(json_string_value(json_object_get(pop, "id")));
            json_decref(pop);
            if (r == SC_ERR_NOT_FOUND) { /* no such population: nobody matches */
                *items = json_array();
                *next = NULL;
                rc = *items ? SC_OK : sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
                goto done;
            }
            if (r) {
                rc = directory__store_error(r, e, "read the population");
                goto done;
            }
        }
    }
    if (q->q && strlen(q->q) > DIRECTORY_MAX_FIELD) {
        rc = sc_error_set(e, SC_ERR_TOO_LARGE, "q", "q is too long (at most %d bytes)",
                          DIRECTORY_MAX_FIELD);
        goto done;
    }
    out = json_array();
    if (!out) {
        rc = sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
        goto done;
    }
    /* Without a filter one query of limit+1 rows tells whether a next page exists; with
     * one, rows are fetched in batches and tested here until the page is full. */
    for (;;) {
        int want = filter ? 500 : limit + 1;
        struct store_user_query sq = {.after_username = after,
                                      .q = q->q && *q->q ? q->q : NULL,
                                      .population_id = pop_id,
                                      .username = username,
                                      .limit = want};
        if ((rc = store_user_list(st, &sq, &batch))) {
            rc = directory__store_error(rc, e, "list users");
            goto done;
        }
        size_t n = json_array_size(batch), i;
        for (i = 0; i < n; i++) {
            json_t *u = json_array_get(batch, i);
            if ((int)json_array_size(out) == limit) {
                more = 1;
                break;
            }
            free(last);
            last = lower_dup(json_string_value(json_object_get(u, "username")));
            if (!filter || scim_filter_match(filter, NULL, u))
                json_array_append(out, u);
        }
        if (more || (int)n < want)
            break;
        free(after);
        after = last;
        last = NULL;
        json_decref(batch);
        batch = NULL;
    }
    if (more && (int)json_array_size(out) == limit) {
        /* the cursor is the last row returned (rows tested after it are read again) */
        json_t *tail = json_array_get(out, json_array_size(out) - 1);
        char *key = lower_dup(json_string_value(json_object_get(tail, "username")));
        *next = key ? directory__cursor_encode(key) : NULL;
        free(key);
    } else {
        *next = NULL;
    }
    *items = out;
    out = NULL;
    rc = SC_OK;
done:
    json_decref(out);
    json_decref(batch);
    scim_filter_free(filter);
    free(after);
    free(pop_id);
    free(last);
    return rc;
}

enum sc_err directory_users_page(struct store *st, const char *after_id, int limit, json_t **items,
                                 struct sc_error *e)
{
    if (limit < 1 || limit > 1000)
        limit = 1000;
    enum sc_err rc = store_users_after_id(st, after_id, limit, items);
    return rc ? directory__store_error(rc, e, "list users") : SC_OK;
}

enum sc_err directory_user_count(struct store *st, long long *n, struct sc_error *e)
{
    enum sc_err rc = store_user_count(st, n);
    return rc ? directory__store_error(rc, e, "count users") : SC_OK;
}

static json_t *reject_entry(size_t i, const struct sc_error *re)
{
    return json_pack("{s:I, s:s, s:s}", "index", (json_int_t)i, "field", re->field, "message",
                     re->message);
}

enum sc_err directory_users_import(struct store *st, const json_t *users, size_t *created,
                                   json_t **rejected, json_t **ids, struct sc_error *e)
{
    if (!json_is_array(users))
        return sc_error_set(e, SC_ERR_INVALID, NULL, "send a JSON array of users");
    size_t n = json_array_size(users);
    if (n > DIRECTORY_MAX_IMPORT)
        return sc_error_set(e, SC_ERR_TOO_LARGE, NULL,
                            "at most %d users per import request (got %zu); send batches",
                            DIRECTORY_MAX_IMPORT, n);
    json_t *good = json_array(), *pops = json_object(), *rej = NULL, *made = NULL;
    size_t *index = calloc(n ? n : 1, sizeof *index);
    enum sc_err *row_err = calloc(n ? n : 1, sizeof *row_err);
    json_t **slot = calloc(n ? n : 1, sizeof *slot); /* the rejection of row i, or NULL */
    enum sc_err rc = SC_OK;
    size_t stored = 0;
    if (!good || !pops || !index || !row_err || !slot) {
        rc = sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *in = json_array_get(users, i);
        struct sc_error re = {0};
        json_t *rec = NULL;
        if (!directory_user_check(in, 0, &re)) {
            /* each population named in a batch is looked up once */
            const json_t *ref = json_object_get(in, "population");
            const char *id = json_string_value(json_object_get(ref, "id"));
            const char *name = json_string_value(json_object_get(ref, "name"));
            char key[DIRECTORY_MAX_NAME * 2 + 8];
            snprintf(key, sizeof key, "%s\x1f%s", id ? id : "", name ? name : "");
            sc_str_lower(key);
            json_t *known = json_object_get(pops, key);
            if (json_is_object(known)) {
                rec = build_record(in, known);
                if (!rec)
                    sc_error_set(&re, SC_ERR_NOMEM, NULL, "out of memory");
            } else if (known) {
                sc_error_set(&re, SC_ERR_INVALID, json_string_value(json_array_get(known, 0)), "%s",
                             json_string_value(json_array_get(known, 1)));
            } else if (!prepare_new(st, in, &rec, &re)) {
                json_object_set(pops, key, json_object_get(rec, "population"));
            } else if (re.code == SC_ERR_INVALID) {
                json_object_set_new(pops, key, json_pack("[s,s]", re.field, re.message));
            }
        }
        if (rec) {
            index[json_array_size(good)] = i;
            json_array_append_new(good, rec);
        } else if (re.code == SC_ERR_INVALID || re.code == SC_ERR_TOO_LARGE) {
            slot[i] = reject_entry(i, &re);
        } else {
            rc = sc_error_set(e, re.code, re.field, "%s", re.message);
            goto done;
        }
    }
    if (json_array_size(good) > 0) {
        rc = store_users_insert_many(st, good, row_err, &stored);
        if (rc) {
            rc = directory__store_error(rc, e, "store the users");
            goto done;
        }
        for (size_t j = 0; j < json_array_size(good); j++) {
            if (row_err[j] == SC_OK)
                continue;
            struct sc_error re = {0};
            write_error(row_err[j], json_array_get(good, j), &re);
            slot[index[j]] = reject_entry(index[j], &re);
        }
    }
    rej = json_array();
    made = json_array();
    if (!rej || !made) {
        rc = sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
        goto done;
    }
    for (size_t j = 0; j < json_array_size(good); j++)
        if (row_err[j] == SC_OK)
            json_array_append(made, json_object_get(json_array_get(good, j), "id"));
    for (size_t i = 0; i < n; i++) {
        if (slot[i]) {
            json_array_append_new(rej, slot[i]);
            slot[i] = NULL;
        }
    }
    *created = stored;
    *rejected = rej;
    rej = NULL;
    if (ids) {
        *ids = made;
        made = NULL;
    }
done:
    json_decref(made);
    for (size_t i = 0; slot && i < n; i++)
        json_decref(slot[i]);
    free(slot);
    json_decref(good);
    json_decref(rej);
    json_decref(pops);
    free(index);
    free(row_err);
    return rc;
}
