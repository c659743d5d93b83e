/* Populations and groups: create, read, merge-update, delete, list; group members
 * (direct, add and remove with cycle refusal) and effective members (nested and
 * dynamic); a user's effective groups. */
#include "directory/directory.h"
#include "directory/directory_internal.h"
#include "directory/userfilter.h"
#include "base/buf.h"
#include "base/id.h"
#include "base/json.h"
#include "store/store_directory.h"
#include "store/store_inbound.h"

#include <stdlib.h>
#include <string.h>

/* Refuses keys of in outside allowed (read-only ones with their own message). */
static enum sc_err check_keys(const json_t *in, const char *const *allowed, struct sc_error *e)
{
    if (!json_is_object(in))
        return sc_error_set(e, SC_ERR_INVALID, NULL, "the body must be a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)in, key, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (ok)
            continue;
        if (strcmp(key, "id") == 0 || strcmp(key, "createdAt") == 0 ||
            strcmp(key, "updatedAt") == 0 || strcmp(key, "userCount") == 0)
            return sc_error_set(e, SC_ERR_INVALID, key, "%s is assigned by the server", key);
        return sc_error_set(e, SC_ERR_INVALID, key, "unknown field '%s'", key);
    }
    return SC_OK;
}

/* Sets key of obj from in when in has it (null clears). */
static void take(json_t *obj, const json_t *in, const char *key)
{
    json_t *v = json_object_get(in, key);
    if (v)
        json_object_set(obj, key, v);
}

/* Decodes a list cursor and fixes limit. */
static enum sc_err page_setup(const char *cursor, int *limit, char **after, struct sc_error *e)
{
    if (*limit <= 0)
        *limit = 100;
    if (*limit > 1000)
        *limit = 1000;
    return directory__cursor_decode(cursor, after, e);
}

/* Lists limit+1 rows through fn to learn whether a next page exists. */
static enum sc_err page_finish(json_t *rows, int limit, const char *key_field, json_t **items,
                               char **next, struct sc_error *e)
{
    *next = NULL;
    if ((int)json_array_size(rows) > limit) {
        json_array_remove(rows, (size_t)limit);
        const char *key =
            json_string_value(json_object_get(json_array_get(rows, limit - 1), key_field));
        *next = directory__cursor_encode(key ? key : "");
        if (!*next) {
            json_decref(rows);
            return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
        }
    }
    *items = rows;
    return SC_OK;
}

/* ---- populations -------------------------------------------------------------- */

static const char *const population_keys[] = {"name", "description", NULL};

static enum sc_err population_check(const json_t *in, int partial, struct sc_error *e)
{
    enum sc_err rc = check_keys(in, population_keys, e);
    if (rc)
        return rc;
    json_t *name = json_object_get(in, "name");
    if (partial && name && json_is_null(name))
        return sc_error_set(e, SC_ERR_INVALID, "name", "name cannot be cleared");
    if ((rc = directory__check_name(name, "name", DIRECTORY_MAX_NAME,
                                    DIRECTORY__NAME | (partial ? 0 : DIRECTORY__REQUIRED), e)))
        return rc;
    return directory__check_name(json_object_get(in, "description"), "description",
                                 DIRECTORY_MAX_DESC, 0, e);
}

static enum sc_err name_conflict(enum sc_err rc, const json_t *obj, const char *what,
                                 struct sc_error *e)
{
    if (rc == SC_ERR_CONFLICT)
        return sc_error_set(e, rc, "name", "a %s named '%.100s' already exists", what,
                            json_string_value(json_object_get(obj, "name")));
    return directory__store_error(rc, e, what);
}

enum sc_err directory_population_create(struct store *st, const json_t *in, json_t **out,
                                        struct sc_error *e)
{
    enum sc_err rc = population_check(in, 0, e);
    if (rc)
        return rc;
    char id[SC_UUID_LEN + 1], now[32];
    sc_uuid_v4(id);
    directory__now(now);
    json_t *p = json_pack(
        "{s:s, s:O, s:O, s:s, s:s}", "id", id, "name", json_object_get(in, "name"), "description",
        json_object_get(in, "description") ? json_object_get(in, "description") : json_null(),
        "createdAt", now, "updatedAt", now);
    if (!p)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    rc = store_population_insert(st, p);
    if (rc)
        rc = name_conflict(rc, p, "population", e);
    else if ((rc = store_population_get(st, id, out)))
        rc = directory__store_error(rc, e, "population");
    json_decref(p);
    return rc;
}

enum sc_err directory_population_get(struct store *st, const char *id, json_t **out,
                                     struct sc_error *e)
{
    enum sc_err rc = store_population_get(st, id, out);
    return rc ? directory__store_error(rc, e, "population") : SC_OK;
}

static enum sc_err population_update(struct store *st, const char *id, const json_t *patch,
                                     json_t **out, struct sc_error *e)
{
    json_t *cur = NULL;
    enum sc_err rc = store_population_get(st, id, &cur);
    if (rc)
        return directory__store_error(rc, e, "population");
    if ((rc = population_check(patch, 1, e)))
        goto done;
    take(cur, patch, "name");
    take(cur, patch, "description");
    char now[32];
    directory__now(now);
    json_object_set_new(cur, "updatedAt", json_string(now));
    if ((rc = store_population_update(st, cur))) {
        rc = name_conflict(rc, cur, "population", e);
        goto done;
    }
    if ((rc = store_population_get(st, id, out)))
        rc = directory__store_error(rc, e, "population");
done:
    json_decref(cur);
    return rc;
}

enum sc_err directory_population_update(struct store *st, const char *id, const json_t *patch,
                                        json_t **out, struct sc_error *e)
{
    return directory__update_in_tx(st, id, patch, out, e, population_update);
}

/* Refuses (SC_ERR_CONFLICT, naming them) while inbound tokens are bound to population
 * id: their users would join a population that is gone. */
static enum sc_err population_tokens_check(struct store *st, const char *id, struct sc_error *e)
{
    struct store_inbound_token *t = NULL;
    size_t n = 0, hits = 0;
    enum sc_err rc = store_inbound_token_list(st, &t, &n);
    if (rc)
        return directory__store_error(rc, e, "list inbound tokens");
    struct sc_buf b;
    sc_buf_init(&b, 0);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(t[i].population_id, id) != 0)
            continue;
        if (hits++ < 5)
            sc_buf_printf(&b, "%s'%s'", hits > 1 ? ", " : "", t[i].name);
    }
    free(t);
    if (hits > 5)
        sc_buf_printf(&b, " and %zu more", hits - 5);
    char *names = sc_buf_steal(&b);
    if (hits)
        rc = sc_error_set(e, SC_ERR_CONFLICT, NULL,
                          "inbound SCIM tokens are bound to the population (%s): revoke them "
                          "first",
                          names ? names : "");
    free(names);
    return rc;
}

enum sc_err directory_population_delete(struct store *st, const char *id, struct sc_error *e)
{
    int own = !store_in_transaction(st);
    enum sc_err rc = own ? store_begin(st) : SC_OK;
    if (rc)
        return directory__store_error(rc, e, "population");
    if ((rc = population_tokens_check(st, id, e)))
        goto done;
    rc = store_population_delete(st, id);
    if (rc == SC_ERR_CONFLICT)
        sc_error_set(e, rc, NULL, "the population still has users: move or delete them first");
    else if (rc)
        directory__store_error(rc, e, "population");
    if (!rc && own && (rc = store_commit(st)))
        directory__store_error(rc, e, "population");
done:
    if (rc && own)
        store_rollback(st);
    return rc;
}

/* Lists a collection paged by name with list (a store_*_list); what names it in a
 * database error ("list groups"). */
static enum sc_err list_by_name(struct store *st,
                                enum sc_err (*list)(struct store *st, const char *after_name,
                                                    int limit, json_t **items),
                                const char *what, const char *cursor, int limit, json_t **items,
                                char **next, struct sc_error *e)
{
    char *after = NULL;
    json_t *rows = NULL;
    enum sc_err rc = page_setup(cursor, &limit, &after, e);
    if (rc)
        return rc;
    rc = list(st, after, limit + 1, &rows);
    free(after);
    if (rc)
        return directory__store_error(rc, e, what);
    return page_finish(rows, limit, "name", items, next, e);
}

enum sc_err directory_population_list(struct store *st, const char *cursor, int limit,
                                      json_t **items, char **next, struct sc_error *e)
{
    return list_by_name(st, store_population_list, "list populations", cursor, limit, items, next,
                        e);
}

/* ---- groups ------------------------------------------------------------------- */

static const char *const group_keys[] = {"name", "description", "userFilter", NULL};

/* Checks a group body; the filter (when not null) must compile and must not name the
 * group itself (name is the group's name after the change). */
static enum sc_err group_check(const json_t *in, int partial, const char *name, struct sc_error *e)
{
    enum sc_err rc = check_keys(in, group_keys, e);
    if (rc)
        return rc;
    json_t *nv = json_object_get(in, "name");
    if (partial && nv && json_is_null(nv))
        return sc_error_set(e, SC_ERR_INVALID, "name", "name cannot be cleared");
    if ((rc = directory__check_name(nv, "name", DIRECTORY_MAX_NAME,
                                    DIRECTORY__NAME | (partial ? 0 : DIRECTORY__REQUIRED), e)) ||
        (rc = directory__check_name(json_object_get(in, "description"), "description",
                                    DIRECTORY_MAX_DESC, 0, e)))
        return rc;
    json_t *fv = json_object_get(in, "userFilter");
    if (fv && !json_is_null(fv)) {
        struct userfilter *f = NULL;
        struct sc_error fe = {0};
        if ((rc = userfilter_compile(fv, &f, &fe))) {
            struct sc_buf field;
            sc_buf_init(&field, 0);
            sc_buf_printf(&field, "userFilter%s%s", fe.field[0] ? "." : "", fe.field);
            rc = sc_error_set(e, rc, field.data, "userFilter.%s", fe.message);
            sc_buf_free(&field);
            return rc;
        }
        json_t *names = userfilter_group_names(f);
        int self = 0;
        for (size_t i = 0; name && i < json_array_size(names); i++)
            self |= sc_strcaseeq(json_string_value(json_array_get(names, i)), name);
        json_decref(names);
        userfilter_free(f);
        if (self)
            return sc_error_set(e, SC_ERR_INVALID, "userFilter",
                                "a group's userFilter cannot test membership of the group itself");
    }
    return SC_OK;
}

enum sc_err directory_group_create(struct store *st, const json_t *in, json_t **out,
                                   struct sc_error *e)
{
    enum sc_err rc = group_check(in, 0, json_string_value(json_object_get(in, "name")), e);
    if (rc)
        return rc;
    char id[SC_UUID_LEN + 1], now[32];
    sc_uuid_v4(id);
    directory__now(now);
    json_t *g = json_pack("{s:s, s:O, s:o, s:o, s:s, s:s}", "id", id, "name",
                          json_object_get(in, "name"), "description", json_null(), "userFilter",
                          json_null(), "createdAt", now, "updatedAt", now);
    if (!g)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    take(g, in, "description");
    take(g, in, "userFilter");
    rc = store_group_insert(st, g);
    if (rc)
        rc = name_conflict(rc, g, "group", e);
    else if ((rc = store_group_get(st, id, out)))
        rc = directory__store_error(rc, e, "group");
    json_decref(g);
    return rc;
}

enum sc_err directory_group_get(struct store *st, const char *id, json_t **out, struct sc_error *e)
{
    enum sc_err rc = store_group_get(st, id, out);
    return rc ? directory__store_error(rc, e, "group") : SC_OK;
}

static enum sc_err group_update(struct store *st, const char *id, const json_t *patch, json_t **out,
                                struct sc_error *e)
{
    json_t *cur = NULL, *old_name = NULL;
    char *detail = NULL;
    enum sc_err rc = store_group_get(st, id, &cur);
    if (rc)
        return directory__store_error(rc, e, "group");
    old_name = json_incref(json_object_get(cur, "name"));
    const char *new_name = json_string_value(json_object_get(patch, "name"));
    if ((rc = group_check(patch, 1, new_name ? new_name : json_string_value(old_name), e)))
        goto done;
    take(cur, patch, "name");
    take(cur, patch, "description");
    take(cur, patch, "userFilter");
    char now[32];
    directory__now(now);
    json_object_set_new(cur, "updatedAt", json_string(now));
    json_t *d = json_pack("{s:O, s:O}", "name", json_object_get(cur, "name"), "oldName", old_name);
    detail = d ? sc_json_dump(d) : NULL;
    json_decref(d);
    if ((rc = store_group_update(st, cur, detail))) {
        rc = name_conflict(rc, cur, "group", e);
        goto done;
    }
    if ((rc = store_group_get(st, id, out)))
        rc = directory__store_error(rc, e, "group");
done:
    free(detail);
    json_decref(old_name);
    json_decref(cur);
    return rc;
}

enum sc_err directory_group_update(struct store *st, const char *id, const json_t *patch,
                                   json_t **out, struct sc_error *e)
{
    return directory__update_in_tx(st, id, patch, out, e, group_update);
}

static enum sc_err group_delete(struct store *st, const char *id, struct sc_error *e)
{
    json_t *cur = NULL;
    enum sc_err rc = store_group_get(st, id, &cur);
    if (rc)
        return directory__store_error(rc, e, "group");
    json_t *d = json_pack("{s:O}", "name", json_object_get(cur, "name"));
    char *detail = d ? sc_json_dump(d) : NULL;
    json_decref(d);
    rc = store_group_delete(st, id, detail);
    free(detail);
    json_decref(cur);
    return rc ? directory__store_error(rc, e, "group") : SC_OK;
}

enum sc_err directory_group_delete(struct store *st, const char *id, struct sc_error *e)
{
    return directory__delete_in_tx(st, id, e, group_delete);
}

enum sc_err directory_group_list(struct store *st, const char *cursor, int limit, json_t **items,
                                 char **next, struct sc_error *e)
{
    return list_by_name(st, store_group_list, "list groups", cursor, limit, items, next, e);
}

enum sc_err directory_group_members(struct store *st, const char *id, const char *cursor, int limit,
                                    json_t **items, char **next, struct sc_error *e)
{
    json_t *g = NULL, *rows = NULL;
    char *after = NULL;
    enum sc_err rc = store_group_get(st, id, &g);
    json_decref(g);
    if (rc)
        return directory__store_error(rc, e, "group");
    if ((rc = page_setup(cursor, &limit, &after, e)))
        return rc;
    /* the cursor is "user\x1fkey" or "group\x1fkey" */
    char *key = after ? strchr(after, '\x1f') : NULL;
    if (after && (!key || (strncmp(after, "user", 4) != 0 && strncmp(after, "group", 5) != 0))) {
        free(after);
        return sc_error_set(e, SC_ERR_INVALID, "cursor", "cursor is not one this server gave");
    }
    if (key)
        *key++ = '\0';
    rc = store_group_members(st, id, after, key, limit + 1, &rows);
    free(after);
    if (rc)
        return directory__store_error(rc, e, "list members");
    *next = NULL;
    if ((int)json_array_size(rows) > limit) {
        json_array_remove(rows, (size_t)limit);
        json_t *last = json_array_get(rows, limit - 1);
        struct sc_buf b;
        sc_buf_init(&b, 0);
        sc_buf_printf(&b, "%s\x1f%s", json_string_value(json_object_get(last, "type")),
                      json_string_value(json_object_get(last, "display")));
        char *text = sc_buf_steal(&b);
        *next = text ? directory__cursor_encode(sc_str_lower(text)) : NULL;
        free(text);
        if (!*next) {
            json_decref(rows);
            return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
        }
    }
    *items = rows;
    return SC_OK;
}

enum sc_err directory_group_member_add(struct store *st, const char *id, const json_t *body,
                                       json_t **out, struct sc_error *e)
{
    static const char *const keys[] = {"userId", "groupId", NULL};
    json_t *g = NULL, *m = NULL;
    enum sc_err rc = check_keys(body, keys, e);
    if (rc)
        return rc;
    json_t *uv = json_object_get(body, "userId"), *gv = json_object_get(body, "groupId");
    if ((uv != NULL) == (gv != NULL))
        return sc_error_set(e, SC_ERR_INVALID, uv ? "groupId" : "userId",
                            "send exactly one of userId and groupId");
    const char *field = uv ? "userId" : "groupId";
    const char *mid = json_string_value(uv ? uv : gv);
    if (!mid || !*mid || strlen(mid) > 64)
        return sc_error_set(e, SC_ERR_INVALID, field, "%s must be an id string", field);
    if ((rc = store_group_get(st, id, &g)))
        return directory__store_error(rc, e, "group");
    int cycle = 0;
    rc = store_group_member_add(st, id, uv ? mid : NULL, gv ? mid : NULL, &cycle);
    if (rc == SC_ERR_NOT_FOUND)
        rc = sc_error_set(e, rc, field, "no %s with id '%.64s'", uv ? "user" : "group", mid);
    else if (rc == SC_ERR_CONFLICT && cycle) {
        json_t *child = NULL;
        store_group_get(st, mid, &child);
        const char *cn = json_string_value(json_object_get(child, "name"));
        const char *pn = json_string_value(json_object_get(g, "name"));
        if (strcmp(mid, id) == 0)
            rc = sc_error_set(e, rc, field, "a group cannot be a member of itself");
        else
            rc = sc_error_set(e, rc, field,
                              "group '%.100s' contains '%.100s': nesting it there would make a "
                              "cycle",
                              cn ? cn : mid, pn ? pn : id);
        json_decref(child);
    } else if (rc == SC_ERR_CONFLICT)
        rc = sc_error_set(e, rc, field, "'%.64s' is already a direct member", mid);
    else if (rc)
        rc = directory__store_error(rc, e, "add the member");
    if (rc)
        goto done;
    if (uv)
        rc = store_user_get(st, mid, &m);
    else
        rc = store_group_get(st, mid, &m);
    if (rc) {
        rc = directory__store_error(rc, e, "member");
        goto done;
    }
    *out = json_pack("{s:s, s:s, s:O}", "type", uv ? "user" : "group", "id", mid, "display",
                     json_object_get(m, uv ? "username" : "name"));
done:
    json_decref(g);
    json_decref(m);
    return rc;
}

enum sc_err directory_group_member_remove(struct store *st, const char *id, const char *member_id,
                                          struct sc_error *e)
{
    json_t *g = NULL;
    enum sc_err rc = store_group_get(st, id, &g);
    json_decref(g);
    if (rc)
        return directory__store_error(rc, e, "group");
    rc = store_group_member_remove(st, id, member_id);
    if (rc == SC_ERR_NOT_FOUND)
        return sc_error_set(e, rc, "memberId", "'%.64s' is not a direct member of the group",
                            member_id);
    return rc ? directory__store_error(rc, e, "remove the member") : SC_OK;
}

enum sc_err directory_group_effective_members(struct store *st, const char *id,
                                              const char *after_id, int limit, json_t **out,
                                              struct sc_error *e)
{
    json_t *g = NULL, *page = NULL, *res = NULL;
    struct directory_groups *dg = NULL;
    unsigned char *mark = NULL;
    char *after = NULL;
    int dynamic = 0;
    if (limit <= 0 || limit > 1000)
        limit = 1000;
    enum sc_err rc = store_group_get(st, id, &g);
    json_decref(g);
    if (rc)
        return directory__store_error(rc, e, "group");
    if ((rc = store_group_tree_dynamic(st, id, &dynamic)))
        return directory__store_error(rc, e, "read the group");
    if (!dynamic) {
        rc = store_group_tree_users(st, id, after_id, limit, out);
        return rc ? directory__store_error(rc, e, "list members") : SC_OK;
    }
    /* A dynamic group inside: test every user against the snapshot. */
    if ((rc = directory_groups_load(st, &dg, e)))
        return rc;
    long gi = directory__groups_index(dg, id);
    res = json_array();
    mark = calloc(directory_groups_count(dg) ? directory_groups_count(dg) : 1, 1);
    after = sc_strdup(after_id ? after_id : "");
    if (gi < 0 || !res || !mark || !after) {
        rc = sc_error_set(e, gi < 0 ? SC_ERR_NOT_FOUND : SC_ERR_NOMEM, NULL,
                          gi < 0 ? "no such group" : "out of memory");
        goto done;
    }
    while ((int)json_array_size(res) < limit) {
        json_decref(page);
        page = NULL;
        if ((rc = store_users_after_id(st, after, 1000, &page))) {
            rc = directory__store_error(rc, e, "list users");
            goto done;
        }
        size_t i, n = json_array_size(page);
        json_t *u;
        json_array_foreach(page, i, u)
        {
            memset(mark, 0, directory_groups_count(dg));
            if (directory__groups_mark(dg, u, mark)) {
                rc = sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
                goto done;
            }
            if (mark[gi] & DIRECTORY__MEMBER)
                json_array_append_new(res, json_pack("{s:s, s:O, s:O}", "type", "user", "id",
                                                     json_object_get(u, "id"), "display",
                                                     json_object_get(u, "username")));
            if ((int)json_array_size(res) == limit)
                break;
        }
        if (n < 1000)
            break;
        free(after);
        after = sc_strdup(json_string_value(json_object_get(json_array_get(page, n - 1), "id")));
        if (!after) {
            rc = sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
            goto done;
        }
    }
    *out = res;
    res = NULL;
    rc = SC_OK;
done:
    json_decref(page);
    json_decref(res);
    free(mark);
    free(after);
    directory_groups_free(dg);
    return rc;
}

enum sc_err directory_user_groups(struct store *st, const char *id, json_t **out,
                                  struct sc_error *e)
{
    json_t *u = NULL, *res = NULL;
    struct directory_groups *dg = NULL;
    unsigned char *mark = NULL;
    enum sc_err rc = store_user_get(st, id, &u);
    if (rc)
        return directory__store_error(rc, e, "user");
    if ((rc = directory_groups_load(st, &dg, e)))
        goto done;
    size_t n = directory_groups_count(dg);
    res = json_array();
    mark = calloc(n ? n : 1, 1);
    if (!res || !mark || directory__groups_mark(dg, u, mark)) {
        rc = sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
        goto done;
    }
    /* in name order: directory_groups_of_user gives the names sorted */
    const char **names = malloc((n ? n : 1) * sizeof *names);
    if (!names) {
        rc = sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
        goto done;
    }
    size_t count = directory_groups_of_user(dg, u, names, n);
    for (size_t k = 0; k < count && k < n; k++) {
        for (size_t i = 0; i < n; i++) {
            if (directory__groups_name(dg, i) != names[k])
                continue;
            json_array_append_new(res, json_pack("{s:s, s:s, s:b}", "id",
                                                 directory__groups_id(dg, i), "name", names[k],
                                                 "direct", (mark[i] & DIRECTORY__DIRECT) != 0));
            break;
        }
    }
    free(names);
    *out = res;
    res = NULL;
done:
    json_decref(u);
    json_decref(res);
    free(mark);
    directory_groups_free(dg);
    return rc;
}
