/* What both back-ends make of a row the same way (backend.h): a directory user's JSON, its
 * digest and the values it is written with, and the JSON items of a rule's link list and
 * of the provisioning log, and a rule's link counts. */
#include "store/backend.h"
#include "base/buf.h"
#include "base/json.h"

#include <inttypes.h>
#include <xxhash.h>
#include <stdio.h>
#include <string.h>

const char *const store__user_paths[STORE__USER_NTEXT] = {"username",
                                                          "name.given",
                                                          "name.family",
                                                          "name.formatted",
                                                          "nickname",
                                                          "title",
                                                          "type",
                                                          "email",
                                                          "primaryPhone",
                                                          "externalId",
                                                          "address.streetAddress",
                                                          "address.locality",
                                                          "address.region",
                                                          "address.postalCode",
                                                          "address.countryCode"};

static json_t *col_string(const struct store__user_row *r, int col)
{
    return r->text[col] ? json_string(r->text[col]) : json_null();
}

json_t *store__user_json(const struct store__user_row *r)
{
    json_t *u = json_object();
    if (!u)
        return NULL;
    json_object_set_new(u, "id", col_string(r, 0));
    for (int i = 0; i < STORE__USER_NTEXT; i++)
        sc_json_set_path(u, store__user_paths[i], col_string(r, i + 1));
    json_object_set_new(u, "enabled", json_boolean(r->num[STORE__USER_COL_ENABLED]));
    json_object_set_new(u, "population",
                        json_pack("{s:o, s:o}", "id", col_string(r, STORE__USER_COL_POPULATION),
                                  "name", col_string(r, STORE__USER_COL_POPULATION_NAME)));
    json_object_set_new(u, "createdAt", col_string(r, 19));
    json_object_set_new(u, "updatedAt", col_string(r, 20));
    return u;
}

uint64_t store__user_digest(const struct store__user_row *r)
{
    uint64_t h = 0x5343494d49544152ULL;
    for (int i = 0; i < STORE__USER_NCOLS; i++) {
        uint64_t seed = h + (uint64_t)(8 * i + r->type[i]);
        if (r->type[i] == 1)
            h = XXH3_64bits_withSeed(&r->num[i], sizeof r->num[i], seed);
        else if (r->type[i] == 5 || !r->text[i])
            h = XXH3_64bits_withSeed("", 0, seed);
        else
            h = XXH3_64bits_withSeed(r->text[i], r->len[i], seed);
    }
    return h;
}

void store__user_values(const json_t *u, struct store__user_values *v)
{
    v->id = json_string_value(json_object_get(u, "id"));
    for (int i = 0; i < STORE__USER_NTEXT; i++) {
        const char *t = sc_json_get_string(u, store__user_paths[i]);
        v->text[i] = t && *t ? t : (i == 0 ? t : NULL);
    }
    json_t *en = json_object_get(u, "enabled");
    v->enabled = en ? json_is_true(en) : 1;
    v->population_id = sc_json_get_string(u, "population.id");
    v->created_at = json_string_value(json_object_get(u, "createdAt"));
    v->updated_at = json_string_value(json_object_get(u, "updatedAt"));
}

/* A JSON string of s (NULL gives null); text that is not valid UTF-8 (an old row, a
 * target's bytes) is repaired rather than dropped, so no entry vanishes from a list. */
static json_t *text_or_null(const char *s)
{
    if (!s)
        return json_null();
    json_t *v = json_string(s);
    if (v)
        return v;
    struct sc_buf b;
    sc_buf_init(&b, 0);
    if (sc_utf8_repair(s, strlen(s), &b) == SC_OK)
        v = json_string(b.data);
    sc_buf_free(&b);
    return v ? v : json_string("");
}

/* The rejected attributes of a link as an array of {"attribute","error","httpStatus",
 * "method"}. */
static json_t *rejected_list(const char *text)
{
    json_t *out = json_array();
    json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
    json_t *attrs = json_object_get(doc, "attributes");
    const char *k;
    json_t *v;
    json_object_foreach(attrs, k, v)
    {
        json_t *hs = json_object_get(v, "httpStatus");
        json_array_append_new(
            out,
            json_pack("{s:s, s:o, s:o, s:o}", "attribute", k, "error",
                      text_or_null(json_string_value(json_object_get(v, "error"))), "httpStatus",
                      json_is_integer(hs) ? json_incref(hs) : json_null(), "method",
                      text_or_null(json_string_value(json_object_get(v, "method")))));
    }
    json_decref(doc);
    return out;
}

void store__link_counts_add(struct store_sync_counts *out, const char *state, int64_t n,
                            int64_t linked)
{
    out->linked += linked;
    if (strcmp(state, SYNC_STATE_OUT_OF_SCOPE) == 0)
        return;
    out->impacted += n;
    if (!strcmp(state, SYNC_STATE_SYNCED) || !strcmp(state, SYNC_STATE_DISABLED) ||
        !strcmp(state, SYNC_STATE_DELETED))
        out->success += n;
    else if (!strcmp(state, SYNC_STATE_UNSYNCED))
        out->unsynced += n;
    else if (!strcmp(state, SYNC_STATE_PARTIAL))
        out->partial += n;
    else if (!strcmp(state, SYNC_STATE_FAILED))
        out->failed += n;
}

json_t *store__link_item(const struct store__link_row *r)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b}", "userId", text_or_null(r->user_id),
                     "username", text_or_null(r->username), "targetId", text_or_null(r->target_id),
                     "state", text_or_null(r->state), "lastError", text_or_null(r->last_error),
                     "updatedAt", r->has_link ? sc_json_time(r->updated_at) : json_null(),
                     "rejected", rejected_list(r->rejected), "queued", r->queued);
}

json_t *store__log_item(const struct store__log_row *r)
{
    char id[32];
    snprintf(id, sizeof id, "%" PRId64, r->id);
    json_t *changes = r->changes ? json_loads(r->changes, 0, NULL) : NULL;
    if (!changes)
        changes = json_array();
    return json_pack("{s:s, s:o, s:o, s:o, s:o, s:s, s:s, s:o, s:o, s:o}", "id", id, "time",
                     sc_json_time(r->time), "ruleId", text_or_null(r->rule_id), "userId",
                     text_or_null(r->user_id), "username", text_or_null(r->username), "action",
                     r->action, "status", r->status, "httpStatus",
                     r->http_status ? json_integer(r->http_status) : json_null(), "changes",
                     changes, "error", text_or_null(r->error));
}
