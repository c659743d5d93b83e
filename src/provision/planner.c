/* The provisioning planner (see planner.h): decisions only, no I/O. */
#include "provision/planner.h"
#include "base/json.h"
#include "scim/message.h"
#include "scim/patch.h"
#include "store/store_sync.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

uint64_t planner_digest(const json_t *flat)
{
    return flat ? sc_json_digest(flat) : 0;
}

void planner_op_clear(struct planner_op *op)
{
    if (!op)
        return;
    json_decref(op->body);
    json_decref(op->next_sent);
    json_decref(op->changes);
    free(op->next_sent_text);
    memset(op, 0, sizeof *op);
}

const char *planner_action_name(enum planner_action a)
{
    switch (a) {
    case PLANNER_NOOP:
        return "NOOP";
    case PLANNER_LOOKUP:
        return "LOOKUP";
    case PLANNER_CREATE:
        return "CREATE";
    case PLANNER_UPDATE:
        return "UPDATE";
    case PLANNER_ENABLE:
        return "ENABLE";
    case PLANNER_DISABLE:
        return "DISABLE";
    case PLANNER_DELETE:
        return "DELETE";
    case PLANNER_UNSYNCED:
        return "UNSYNCED";
    case PLANNER_PARTIAL:
        return "PARTIALLY_SYNCED";
    case PLANNER_OUT_OF_SCOPE:
        return "OUT_OF_SCOPE";
    }
    return "NOOP";
}

/* Returns a new copy of flat (or {}) with "active" set to active. */
static json_t *with_active(const json_t *flat, int active)
{
    json_t *c = flat ? json_deep_copy(flat) : json_object();
    if (c)
        json_object_set_new(c, "active", json_boolean(active));
    return c;
}

/* Is the account disabled according to what was last sent? */
static int sent_inactive(const json_t *sent)
{
    json_t *a = sent ? json_object_get(sent, "active") : NULL;
    return a && json_is_false(a);
}

/* Appends {"attribute","old","new"} for each key whose value differs between old and
 * new (either may be NULL), in new's order, then keys only in old. */
static json_t *changes_of(const json_t *old, const json_t *new)
{
    json_t *out = json_array();
    const char *k;
    json_t *v;
    if (new) {
        json_object_foreach((json_t *)new, k, v)
        {
            json_t *o = old ? json_object_get(old, k) : NULL;
            if (o && json_equal(o, v))
                continue;
            if (!o && json_is_null(v))
                continue;
            json_array_append_new(out, json_pack("{s:s, s:O, s:O}", "attribute", k, "old",
                                                 o ? o : json_null(), "new", v));
        }
    }
    if (old) {
        json_object_foreach((json_t *)old, k, v)
        {
            if (new &&json_object_get(new, k))
                continue;
            if (json_is_null(v))
                continue;
            json_array_append_new(out,
                                  json_pack("{s:s, s:O, s:n}", "attribute", k, "old", v, "new"));
        }
    }
    return out;
}

/* A whole resource for POST or PUT from flat attributes; for PUT with the id. */
static enum sc_err resource_body(const json_t *flat, const char *id, json_t **out,
                                 struct sc_error *e)
{
    struct scim_error se = {0};
    json_t *r = NULL;
    if (scim_resource_from_attrs(flat, &r, &se)) {
        scim_error_to_sc(&se, e);
        return sc_error_set(e, SC_ERR_INVALID, "mappings", "cannot build the SCIM resource: %s",
                            se.detail);
    }
    if (id)
        json_object_set_new(r, "id", json_string(id));
    *out = r;
    return SC_OK;
}

static enum sc_err plan_removal(const struct planner_input *in, struct planner_op *op,
                                struct sc_error *e)
{
    if (!in->target_id) {
        /* Nothing on the target to remove. A user we had counted keeps a row that says
         * it is out of scope; one we never saw needs nothing. */
        op->action = PLANNER_NOOP;
        op->state = SYNC_STATE_OUT_OF_SCOPE;
        return SC_OK;
    }
    if (!in->remove_delete && sent_inactive(in->sent)) {
        op->action = PLANNER_NOOP;
        op->state = SYNC_STATE_DISABLED;
        return SC_OK;
    }
    if (!in->allow_disable) {
        op->action = PLANNER_OUT_OF_SCOPE;
        op->state = SYNC_STATE_OUT_OF_SCOPE;
        op->log_action = "SKIP";
        return SC_OK;
    }
    if (in->remove_delete) {
        op->action = PLANNER_DELETE;
        op->method = "DELETE";
        op->with_id = 1;
        op->state = SYNC_STATE_DELETED;
        op->log_action = "DELETE";
        op->changes = json_array();
        return SC_OK;
    }
    op->action = PLANNER_DISABLE;
    op->with_id = 1;
    op->state = SYNC_STATE_DISABLED;
    op->log_action = "DISABLE";
    const json_t *base = in->sent ? in->sent : in->desired;
    op->next_sent = with_active(base, 0);
    op->next_digest = planner_digest(op->next_sent);
    op->changes = json_pack("[{s:s, s:b, s:b}]", "attribute", "active", "old", 1, "new", 0);
    if (in->update_put) {
        /* PUT replaces the whole resource: send everything we know, inactive. */
        json_t *full = with_active(in->desired ? in->desired : in->sent, 0);
        enum sc_err err = resource_body(full, in->target_id, &op->body, e);
        json_decref(full);
        if (err)
            return err;
        op->method = "PUT";
    } else {
        op->body = scim_patch_body_new();
        scim_patch_body_add(op->body, "replace", "active", json_false());
        op->method = "PATCH";
    }
    return SC_OK;
}

enum sc_err planner_plan(const struct planner_input *in, struct planner_op *op, struct sc_error *e)
{
    memset(op, 0, sizeof *op);
    enum sc_err err = SC_OK;
    json_t *want = NULL;

    if (!in->exists || !in->in_scope || !in->enabled || !in->desired)
        return plan_removal(in, op, e);

    want = with_active(in->desired, 1);
    /* One canonical dump serves the digest and, when want is sent, the stored text. */
    char *want_text = want ? sc_json_dump_canonical(want) : NULL;
    if (!want_text) {
        json_decref(want);
        return SC_ERR_NOMEM;
    }
    uint64_t want_digest = XXH3_64bits(want_text, strlen(want_text));

    if (!in->target_id) {
        if (!in->absent || in->uncertain) {
            op->action = PLANNER_LOOKUP;
            op->method = "GET";
            goto done;
        }
        if (!in->allow_create) {
            op->action = PLANNER_UNSYNCED;
            op->state = SYNC_STATE_UNSYNCED;
            op->log_action = "CREATE";
            goto done;
        }
        op->action = PLANNER_CREATE;
        op->method = "POST";
        op->state = SYNC_STATE_SYNCED;
        op->log_action = "CREATE";
        op->changes = changes_of(NULL, want);
        if ((err = resource_body(want, NULL, &op->body, e)))
            goto done;
        op->next_sent = want;
        op->next_digest = want_digest;
        op->next_sent_text = want_text;
        want_text = NULL;
        want = NULL;
        goto done;
    }

    if (in->sent && in->sent_digest == want_digest) {
        op->action = PLANNER_NOOP;
        op->state = SYNC_STATE_SYNCED;
        goto done;
    }

    int reenable = sent_inactive(in->sent);
    if (!in->allow_update) {
        if (reenable && in->allow_disable) {
            /* Re-enabling belongs with disabling: send active only, the rest waits. */
            json_t *next = in->sent ? json_deep_copy(in->sent) : json_object();
            json_object_set_new(next, "active", json_true());
            op->action = PLANNER_ENABLE;
            op->with_id = 1;
            op->log_action = "ENABLE";
            op->changes = json_pack("[{s:s, s:b, s:b}]", "attribute", "active", "old", 0, "new", 1);
            if (in->update_put) {
                if ((err = resource_body(next, in->target_id, &op->body, e))) {
                    json_decref(next);
                    goto done;
                }
                op->method = "PUT";
            } else {
                op->body = scim_patch_body_new();
                scim_patch_body_add(op->body, "replace", "active", json_true());
                op->method = "PATCH";
            }
            op->next_digest = planner_digest(next);
            op->next_sent = next;
            op->state = op->next_digest == want_digest ? SYNC_STATE_SYNCED : SYNC_STATE_PARTIAL;
            goto done;
        }
        op->action = PLANNER_PARTIAL;
        op->state = SYNC_STATE_PARTIAL;
        op->log_action = "UPDATE";
        op->changes = changes_of(in->sent, want);
        goto done;
    }

    op->action = reenable ? PLANNER_ENABLE : PLANNER_UPDATE;
    op->log_action = reenable ? "ENABLE" : "UPDATE";
    op->with_id = 1;
    op->state = SYNC_STATE_SYNCED;
    op->changes = changes_of(in->sent, want);
    if (in->update_put) {
        if ((err = resource_body(want, in->target_id, &op->body, e)))
            goto done;
        op->method = "PUT";
    } else {
        struct scim_error se = {0};
        json_t *patch = NULL;
        if (scim_patch_diff(in->sent, want, &patch, &se)) {
            err = sc_error_set(e, SC_ERR_INVALID, "mappings", "cannot build the PATCH: %s",
                               se.detail);
            goto done;
        }
        if (!patch) {
            /* Equal values, different digest (e.g. key order of an older record):
             * nothing to send, just record the canonical state. */
            op->action = PLANNER_NOOP;
            op->log_action = NULL;
            op->with_id = 0;
            json_decref(op->changes);
            op->changes = NULL;
            op->next_sent = want;
            op->next_digest = want_digest;
            op->next_sent_text = want_text;
            want_text = NULL;
            want = NULL;
            goto done;
        }
        op->body = patch;
        op->method = "PATCH";
    }
    op->next_sent = want;
    op->next_digest = want_digest;
    op->next_sent_text = want_text;
    want_text = NULL;
    want = NULL;
done:
    json_decref(want);
    free(want_text);
    if (err)
        planner_op_clear(op);
    return err;
}
