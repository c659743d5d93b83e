/* The directory's routes: /api/v1/populations, /users (list with ?filter= ?q=
 * ?population=, import, effective groups) and /groups (members, effective members).
 * Handlers parse the request, call src/directory (which validates and writes with the
 * change event in one transaction) and wake the engine after every committed write. */
#include "api/api.h"
#include "inbound/inbound.h"
#include "base/json.h"
#include "base/log.h"
#include "directory/directory.h"

#include <stdlib.h>
#include <string.h>

/* Answers a directory result: the object with status, or the error. */
static void reply(struct api_call *c, enum sc_err rc, const struct sc_error *e, int status,
                  json_t *body)
{
    if (rc) {
        json_decref(body);
        api_error_from(c, e);
        return;
    }
    api_json(c, status, body);
}

static void reply_list(struct api_call *c, enum sc_err rc, const struct sc_error *e, json_t *items,
                       char *next)
{
    if (rc) {
        api_error_from(c, e);
        return;
    }
    api_json(c, 200, api_list(items, next));
    free(next);
}

/* A write went through: the engine has events to consume. */
static void written(struct api_call *c, enum sc_err rc)
{
    if (rc == SC_OK)
        api_wake_engine(c);
}

/* The directory's calls, one shape per kind of route, so every handler of a kind answers
 * the same way. */
typedef enum sc_err (*list_fn)(struct store *st, const char *cursor, int limit, json_t **items,
                               char **next, struct sc_error *e);
typedef enum sc_err (*create_fn)(struct store *st, const json_t *in, json_t **out,
                                 struct sc_error *e);
typedef enum sc_err (*get_fn)(struct store *st, const char *id, json_t **out, struct sc_error *e);
typedef enum sc_err (*update_fn)(struct store *st, const char *id, const json_t *in, json_t **out,
                                 struct sc_error *e);
typedef enum sc_err (*delete_fn)(struct store *st, const char *id, struct sc_error *e);

/* GET of a paged collection: ?limit= ?cursor= in, a list with `next` out. */
static void list_with(struct api_call *c, list_fn fn)
{
    int limit;
    const char *cursor;
    if (api_page_params(c, &limit, &cursor))
        return;
    struct sc_error e = {0};
    json_t *items = NULL;
    char *next = NULL;
    enum sc_err rc = fn(c->st, cursor, limit, &items, &next, &e);
    reply_list(c, rc, &e, items, next);
}

/* POST of a JSON object to a collection: 201 with what was created. */
static void create_with(struct api_call *c, create_fn fn)
{
    json_t *in = NULL, *out = NULL;
    if (api_body_object(c, &in))
        return;
    struct sc_error e = {0};
    enum sc_err rc = fn(c->st, in, &out, &e);
    json_decref(in);
    written(c, rc);
    reply(c, rc, &e, 201, out);
}

/* GET of the item named by the route's first parameter. */
static void get_with(struct api_call *c, get_fn fn)
{
    json_t *out = NULL;
    struct sc_error e = {0};
    enum sc_err rc = fn(c->st, c->params[0], &out, &e);
    reply(c, rc, &e, 200, out);
}

/* A JSON object sent to the item named by the route's first parameter (PATCH: 200,
 * adding a member: 201). */
static void update_with(struct api_call *c, update_fn fn, int status)
{
    json_t *in = NULL, *out = NULL;
    if (api_body_object(c, &in))
        return;
    struct sc_error e = {0};
    enum sc_err rc = fn(c->st, c->params[0], in, &out, &e);
    json_decref(in);
    written(c, rc);
    reply(c, rc, &e, status, out);
}

/* DELETE of the item named by the route's first parameter: 204. */
static void delete_with(struct api_call *c, delete_fn fn)
{
    struct sc_error e = {0};
    enum sc_err rc = fn(c->st, c->params[0], &e);
    written(c, rc);
    reply(c, rc, &e, 204, NULL);
}

/* ---- populations -------------------------------------------------------------- */

static void populations_list(struct api_call *c)
{
    list_with(c, directory_population_list);
}

static void populations_create(struct api_call *c)
{
    create_with(c, directory_population_create);
}

static void populations_get(struct api_call *c)
{
    get_with(c, directory_population_get);
}

static void populations_patch(struct api_call *c)
{
    update_with(c, directory_population_update, 200);
}

static void populations_delete(struct api_call *c)
{
    delete_with(c, directory_population_delete);
}

/* ---- users -------------------------------------------------------------------- */

static void users_list(struct api_call *c)
{
    struct directory_user_query q = {0};
    if (api_page_params(c, &q.limit, &q.cursor))
        return;
    q.filter = http_request_query(c->req, "filter");
    q.q = http_request_query(c->req, "q");
    q.population_id = http_request_query(c->req, "population");
    struct sc_error e = {0};
    json_t *items = NULL;
    char *next = NULL;
    enum sc_err rc = directory_user_list(c->st, &q, &items, &next, &e);
    if (rc == SC_OK)
        inbound_user_sources(c->st, items);
    reply_list(c, rc, &e, items, next);
}

/* A user written through the REST API, answered with its source as GET gives it. */
static void user_written(struct api_call *c, enum sc_err rc, const struct sc_error *e, int status,
                         json_t *out)
{
    written(c, rc);
    if (rc == SC_OK)
        inbound_user_source(c->st, out);
    reply(c, rc, e, status, out);
}

static void users_create(struct api_call *c)
{
    json_t *in = NULL, *out = NULL;
    if (api_body_object(c, &in))
        return;
    struct sc_error e = {0};
    enum sc_err rc = directory_user_create(c->st, in, &out, &e);
    json_decref(in);
    user_written(c, rc, &e, 201, out);
}

static void users_import(struct api_call *c)
{
    const char *ct = http_request_header(c->req, "Content-Type");
    if (ct && !strstr(ct, "json")) {
        api_error(c, SC_ERR_PARSE, NULL, "send the body as application/json, not %s", ct);
        return;
    }
    struct sc_error e = {0};
    json_t *in = NULL, *rejected = NULL;
    if (!sc_utf8_valid(c->req->body, c->req->body_len)) {
        api_error(c, SC_ERR_PARSE, NULL, "the request body is not valid UTF-8");
        return;
    }
    if (sc_json_parse(c->req->body, c->req->body_len, SC_JSON_MAX_DEPTH, &in, &e)) {
        api_error_from(c, &e);
        return;
    }
    if (!json_is_array(in)) {
        json_decref(in);
        api_error(c, SC_ERR_PARSE, NULL, "the request body must be a JSON array of users");
        return;
    }
    size_t created = 0;
    /* the users with their source (the import), in one transaction */
    enum sc_err rc = inbound_users_import(c->st, in, &created, &rejected, &e);
    json_decref(in);
    if (rc) {
        api_error_from(c, &e);
        return;
    }
    if (created > 0)
        api_wake_engine(c);
    api_json(c, 200, json_pack("{s:I, s:o}", "created", (json_int_t)created, "rejected", rejected));
}

static void users_get(struct api_call *c)
{
    json_t *out = NULL;
    struct sc_error e = {0};
    enum sc_err rc = directory_user_get(c->st, c->params[0], &out, &e);
    if (rc == SC_OK)
        inbound_user_source(c->st, out);
    reply(c, rc, &e, 200, out);
}

static void users_patch(struct api_call *c)
{
    json_t *in = NULL, *out = NULL;
    if (api_body_object(c, &in))
        return;
    struct sc_error e = {0};
    enum sc_err rc = directory_user_update(c->st, c->params[0], in, &out, &e);
    json_decref(in);
    user_written(c, rc, &e, 200, out);
}

static void users_delete(struct api_call *c)
{
    delete_with(c, directory_user_delete);
}

static void users_groups(struct api_call *c)
{
    json_t *out = NULL;
    struct sc_error e = {0};
    enum sc_err rc = directory_user_groups(c->st, c->params[0], &out, &e);
    if (rc) {
        api_error_from(c, &e);
        return;
    }
    api_json(c, 200, api_list(out, NULL));
}

/* ---- groups ------------------------------------------------------------------- */

static void groups_list(struct api_call *c)
{
    list_with(c, directory_group_list);
}

static void groups_create(struct api_call *c)
{
    create_with(c, directory_group_create);
}

static void groups_get(struct api_call *c)
{
    get_with(c, directory_group_get);
}

static void groups_patch(struct api_call *c)
{
    update_with(c, directory_group_update, 200);
}

static void groups_delete(struct api_call *c)
{
    delete_with(c, directory_group_delete);
}

static void members_list(struct api_call *c)
{
    struct sc_error e = {0};
    json_t *out = NULL;
    const char *eff = http_request_query(c->req, "effective");
    enum sc_err rc;
    if (eff && strcmp(eff, "true") == 0) {
        int limit;
        const char *cursor;
        if (api_page_params(c, &limit, &cursor))
            return;
        if (cursor && strlen(cursor) > 64) {
            api_error(c, SC_ERR_INVALID, "cursor", "cursor is not one this server gave");
            return;
        }
        rc = directory_group_effective_members(c->st, c->params[0], cursor, limit + 1, &out, &e);
        if (rc) {
            api_error_from(c, &e);
            return;
        }
        const char *next = NULL;
        if ((int)json_array_size(out) > limit) {
            json_array_remove(out, (size_t)limit);
            next = json_string_value(json_object_get(json_array_get(out, limit - 1), "id"));
        }
        api_json(c, 200, api_list(out, next));
        return;
    }
    if (eff && strcmp(eff, "false") != 0) {
        api_error(c, SC_ERR_INVALID, "effective", "effective must be true or false");
        return;
    }
    int limit;
    const char *cursor;
    if (api_page_params(c, &limit, &cursor))
        return;
    char *next = NULL;
    rc = directory_group_members(c->st, c->params[0], cursor, limit, &out, &next, &e);
    reply_list(c, rc, &e, out, next);
}

static void members_add(struct api_call *c)
{
    update_with(c, directory_group_member_add, 201);
}

static void members_remove(struct api_call *c)
{
    struct sc_error e = {0};
    enum sc_err rc = directory_group_member_remove(c->st, c->params[0], c->params[1], &e);
    written(c, rc);
    reply(c, rc, &e, 204, NULL);
}

const struct api_route api_directory_routes[] = {
    {"GET", "/api/v1/populations", populations_list, 0, "list populations", "limit cursor", NULL,
     200, "Population[]"},
    {"POST", "/api/v1/populations", populations_create, 0, "create a population", NULL,
     "PopulationInput", 201, "Population"},
    {"GET", "/api/v1/populations/{id}", populations_get, 0, "read a population", NULL, NULL, 200,
     "Population"},
    {"PATCH", "/api/v1/populations/{id}", populations_patch, 0, "change a population", NULL,
     "PopulationInput", 200, "Population"},
    {"DELETE", "/api/v1/populations/{id}", populations_delete, 0,
     "delete a population (409 while users remain)", NULL, NULL, 204, NULL},
    {"GET", "/api/v1/users", users_list, 0,
     "list users (?filter= ?q= ?population= ?limit= ?cursor=)", "filter q population limit cursor",
     NULL, 200, "User[]"},
    {"POST", "/api/v1/users", users_create, 0, "create a user", NULL, "UserInput", 201, "User"},
    {"POST", "/api/v1/users/import", users_import, 0,
     "bulk create: a JSON array of users; good rows kept, bad rows reported", NULL, "UserImport",
     200, "ImportResult"},
    {"GET", "/api/v1/users/{id}", users_get, 0, "read a user", NULL, NULL, 200, "User"},
    {"PATCH", "/api/v1/users/{id}", users_patch, 0, "change a user (null clears a field)", NULL,
     "UserInput", 200, "User"},
    {"DELETE", "/api/v1/users/{id}", users_delete, 0, "delete a user", NULL, NULL, 204, NULL},
    {"GET", "/api/v1/users/{id}/groups", users_groups, 0,
     "the user's effective groups (direct, dynamic, inherited)", NULL, NULL, 200, "UserGroup[]"},
    {"GET", "/api/v1/groups", groups_list, 0, "list groups", "limit cursor", NULL, 200, "Group[]"},
    {"POST", "/api/v1/groups", groups_create, 0, "create a group", NULL, "GroupInput", 201,
     "Group"},
    {"GET", "/api/v1/groups/{id}", groups_get, 0, "read a group", NULL, NULL, 200, "Group"},
    {"PATCH", "/api/v1/groups/{id}", groups_patch, 0, "change a group", NULL, "GroupInput", 200,
     "Group"},
    {"DELETE", "/api/v1/groups/{id}", groups_delete, 0, "delete a group", NULL, NULL, 204, NULL},
    {"GET", "/api/v1/groups/{id}/members", members_list, 0,
     "direct members (?effective=true: every user member)", "effective limit cursor", NULL, 200,
     "Member[]"},
    {"POST", "/api/v1/groups/{id}/members", members_add, 0,
     "add a member: {\"userId\"} or {\"groupId\"}", NULL, "MemberInput", 201, "Member"},
    {"DELETE", "/api/v1/groups/{id}/members/{memberId}", members_remove, 0,
     "remove a direct member", NULL, NULL, 204, NULL},
    {0},
};
