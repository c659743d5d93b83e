/* The JSON items of a rule's link list and of the provisioning log, built once for both
 * back-ends from the values of a row (backend.h). */
#include "store/backend.h"
#include "base/buf.h"
#include "base/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

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
