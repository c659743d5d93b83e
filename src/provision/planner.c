/* The provisioning planner (see planner.h): decisions only, no I/O. */
#include "provision/planner.h"
#include "base/json.h"
#include "scim/dialect.h"
#include "scim/message.h"
#include "scim/patch.h"
#include "store/store_sync.h"

#include <stdio.h>
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
    json_decref(op->op_keys);
    json_decref(op->rejected);
    free(op->next_sent_text);
    free(op->changes_text);
    free(op->body_text);
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
    case PLANNER_LOOP_BACK:
        return "LOOP_BACK";
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

const json_t *planner_op_changes(struct planner_op *op)
{
    if (!op->changes && op->changes_all_new && op->next_sent)
        op->changes = changes_of(NULL, op->next_sent);
    return op->changes;
}

char *planner_op_changes_text(const struct planner_op *op)
{
    if (op->changes || !op->changes_all_new || !op->next_sent)
        return op->changes ? sc_json_dump(op->changes) : NULL;
    /* [{"attribute":k,"old":null,"new":v},...] as changes_of(NULL, next_sent) dumps */
    struct sc_buf b;
    sc_buf_init(&b, 0);
    enum sc_err rc = sc_buf_append(&b, "[", 1);
    int first = 1;
    const char *k;
    json_t *v;
    json_object_foreach(op->next_sent, k, v)
    {
        if (rc || json_is_null(v))
            continue;
        rc = sc_buf_puts(&b, first ? "{\"attribute\":" : ",{\"attribute\":");
        if (!rc)
            rc = sc_json_write_string(&b, k, strlen(k));
        if (!rc)
            rc = sc_buf_puts(&b, ",\"old\":null,\"new\":");
        if (!rc)
            rc = sc_json_write(&b, v, 0);
        if (!rc)
            rc = sc_buf_append(&b, "}", 1);
        first = 0;
    }
    if (!rc)
        rc = sc_buf_append(&b, "]", 1);
    if (rc) {
        sc_buf_free(&b);
        return NULL;
    }
    return sc_buf_steal(&b);
}

void planner_op_write_changes(struct planner_op *op)
{
    if (op->changes_all_new && !op->changes && !op->changes_text)
        op->changes_text = planner_op_changes_text(op);
}

char *planner_op_take_changes_text(struct planner_op *op)
{
    char *t = op->changes_text;
    op->changes_text = NULL;
    return t ? t : planner_op_changes_text(op);
}

static enum scim_dialect dialect_of(const struct planner_input *in)
{
    return in->dialect11 ? SCIM_DIALECT_11 : SCIM_DIALECT_20;
}

/* A whole resource for POST or PUT from flat attributes; for PUT with the id. */
static enum sc_err resource_body(const struct planner_input *in, const json_t *flat, const char *id,
                                 json_t **out, struct sc_error *e)
{
    struct scim_error se = {0};
    json_t *r = NULL;
    if (scim_dialect_resource_from_attrs(dialect_of(in), flat, &r, &se)) {
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
        enum sc_err err = resource_body(in, full, in->target_id, &op->body, e);
        json_decref(full);
        if (err)
            return err;
        op->method = "PUT";
    } else {
        op->body = scim_dialect_patch_active(dialect_of(in), 0);
        op->method = "PATCH";
    }
    return SC_OK;
}

/* Is key one of the rule's current mapping keys (or "active")? */
static int is_mapped(const struct planner_input *in, const char *key)
{
    if (!in->mapped || strcmp(key, "active") == 0)
        return 1;
    for (size_t i = 0; i < in->nmapped; i++)
        if (strcmp(in->mapped[i], key) == 0)
            return 1;
    return 0;
}

static int in_clear(const struct planner_input *in, const char *key)
{
    size_t i;
    json_t *v;
    json_array_foreach(in->clear, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), key) == 0)
            return 1;
    }
    return 0;
}

/* What the target holds as far as the rule still cares: sent without the keys of rows
 * that are no longer mapped (unless they are to be cleared). New reference; *changed
 * says whether a key was dropped. */
static json_t *tracked_sent(const struct planner_input *in, int *changed)
{
    *changed = 0;
    if (!in->sent)
        return NULL;
    const char *k;
    json_t *v;
    int drop = 0;
    json_object_foreach((json_t *)in->sent, k, v)
    {
        if (!is_mapped(in, k) && !in_clear(in, k))
            drop = 1;
    }
    if (!drop) /* the common case: no copy */
        return json_incref((json_t *)in->sent);
    json_t *base = json_deep_copy(in->sent);
    if (!base)
        return NULL;
    void *tmp;
    json_object_foreach_safe(base, tmp, k, v)
    {
        if (!is_mapped(in, k) && !in_clear(in, k)) {
            json_object_del(base, k);
            *changed = 1;
        }
    }
    return base;
}

/* Holds key at what base (the target) has: copies base's value into eff, or removes the
 * key from eff when base has none. */
static void hold_key(json_t *eff, const json_t *base, const char *key)
{
    json_t *b = base ? json_object_get(base, key) : NULL;
    if (b)
        json_object_set(eff, key, b);
    else
        json_object_del(eff, key);
}

/* Applies the rejections that still hold and the exclusions to eff (the attributes the
 * user wants), holding those keys at base. Returns the rejections that still hold (new
 * object) or NULL when none. */
static json_t *apply_holds(const struct planner_input *in, json_t *eff, const json_t *base)
{
    json_t *still = NULL;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)in->rejected, k, v)
    {
        json_t *rv = json_object_get(v, "value");
        json_t *wv = json_object_get(eff, k);
        int same = (!wv && (!rv || json_is_null(rv))) || (wv && rv && json_equal(wv, rv));
        if (!same || !is_mapped(in, k))
            continue;
        if (!still)
            still = json_object();
        json_object_set(still, k, v);
        hold_key(eff, base, k);
    }
    json_object_foreach((json_t *)in->exclude, k, v)
    {
        hold_key(eff, base, k);
    }
    return still;
}

json_t *planner_keys_changed(const json_t *a, const json_t *b)
{
    json_t *out = json_array();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)b, k, v)
    {
        json_t *o = a ? json_object_get(a, k) : NULL;
        if (!o || !json_equal(o, v))
            json_array_append_new(out, json_string(k));
    }
    json_object_foreach((json_t *)a, k, v)
    {
        if (!b || !json_object_get(b, k))
            json_array_append_new(out, json_string(k));
    }
    return out;
}

/* Takes text (a canonical dump of want) into op's next_sent_text when want is what is
 * recorded. */
static void op_record(struct planner_op *op, json_t **want, char **text, uint64_t digest)
{
    op->next_sent = *want;
    op->next_digest = digest;
    op->next_sent_text = *text;
    *want = NULL;
    *text = NULL;
}

static enum sc_err plan_user(const struct planner_input *in, struct planner_op *op,
                             struct sc_error *e)
{
    memset(op, 0, sizeof *op);
    enum sc_err err = SC_OK;
    json_t *want = NULL, *base = NULL;
    char *want_text = NULL;

    if (!in->exists || !in->in_scope || !in->enabled || !in->desired) {
        err = plan_removal(in, op, e);
        if (err)
            planner_op_clear(op); /* a failed plan holds nothing */
        return err;
    }

    want = with_active(in->desired, 1);
    if (!want)
        return SC_ERR_NOMEM;
    int dropped = 0;
    base = tracked_sent(in, &dropped);
    op->rejected = apply_holds(in, want, base);
    /* One canonical dump serves the digest and, when want is sent, the stored text. */
    want_text = sc_json_dump_canonical(want);
    if (!want_text) {
        err = SC_ERR_NOMEM;
        goto done;
    }
    uint64_t want_digest = XXH3_64bits(want_text, strlen(want_text));
    const char *ok_state = op->rejected ? SYNC_STATE_PARTIAL : SYNC_STATE_SYNCED;

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
        op->state = ok_state;
        op->log_action = "CREATE";
        op->changes_all_new = 1; /* changes_of(NULL, want) when asked for */
        if ((err = resource_body(in, want, NULL, &op->body, e)))
            goto done;
        op_record(op, &want, &want_text, want_digest);
        goto done;
    }

    uint64_t base_digest = dropped ? planner_digest(base) : in->sent_digest;
    if (base && base_digest == want_digest) {
        op->action = PLANNER_NOOP;
        op->state = ok_state;
        if (dropped) /* unmapped keys stop being tracked: nothing to send */
            op_record(op, &want, &want_text, want_digest);
        goto done;
    }

    int reenable = sent_inactive(base);
    if (!in->allow_update) {
        if (reenable && in->allow_disable) {
            /* Re-enabling belongs with disabling: send active only, the rest waits. */
            json_t *next = base ? json_deep_copy(base) : json_object();
            json_object_set_new(next, "active", json_true());
            op->action = PLANNER_ENABLE;
            op->with_id = 1;
            op->log_action = "ENABLE";
            op->changes = json_pack("[{s:s, s:b, s:b}]", "attribute", "active", "old", 0, "new", 1);
            if (in->update_put) {
                if ((err = resource_body(in, next, in->target_id, &op->body, e))) {
                    json_decref(next);
                    goto done;
                }
                op->method = "PUT";
            } else {
                op->body = scim_dialect_patch_active(dialect_of(in), 1);
                if (!in->dialect11)
                    op->op_keys = json_pack("[[s]]", "active");
                op->method = "PATCH";
            }
            op->next_digest = planner_digest(next);
            op->next_sent = next;
            op->state = op->next_digest == want_digest ? ok_state : SYNC_STATE_PARTIAL;
            goto done;
        }
        op->action = PLANNER_PARTIAL;
        op->state = SYNC_STATE_PARTIAL;
        op->log_action = "UPDATE";
        op->changes = changes_of(base, want);
        goto done;
    }

    op->action = reenable ? PLANNER_ENABLE : PLANNER_UPDATE;
    op->log_action = reenable ? "ENABLE" : "UPDATE";
    op->with_id = 1;
    op->state = ok_state;
    op->changes = changes_of(base, want);
    if (in->update_put) {
        if ((err = resource_body(in, want, in->target_id, &op->body, e)))
            goto done;
        op->method = "PUT";
    } else {
        struct scim_error se = {0};
        json_t *patch = NULL;
        enum sc_err derr = in->dialect11
                               ? scim_dialect_patch_diff(SCIM_DIALECT_11, base, want, &patch, &se)
                               : scim_patch_diff_ops(base, want, &patch, &op->op_keys, &se);
        if (derr) {
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
            op_record(op, &want, &want_text, want_digest);
            goto done;
        }
        op->body = patch;
        op->method = "PATCH";
    }
    op_record(op, &want, &want_text, want_digest);
done:
    json_decref(want);
    json_decref(base);
    free(want_text);
    if (err)
        planner_op_clear(op);
    return err;
}

/* Loop safety: whether the user came from the rule's target connection (the
 * sourceConnection of the inbound token that created it). */
void planner_loop_reason(const char *token, char *out, size_t n)
{
    snprintf(out, n,
             "not provisioned to this connection: the user came from it (inbound token '%s' "
             "names it as its sourceConnection), so writing the user back would loop",
             token);
}

static int loops_back(const struct planner_input *in)
{
    return in->origin_connection && in->origin_connection[0] && in->connection_id &&
           strcmp(in->origin_connection, in->connection_id) == 0;
}

enum sc_err planner_plan(const struct planner_input *in, struct planner_op *op, struct sc_error *e)
{
    enum sc_err err = plan_user(in, op, e);
    if (err || !loops_back(in))
        return err;
    /* Nothing goes back where the user came from: neither a call (not even the look-up
     * that would lead to a link and updates) nor a refusal that would say it should. */
    if (op->method || op->action == PLANNER_UNSYNCED || op->action == PLANNER_PARTIAL) {
        planner_op_clear(op);
        op->action = PLANNER_LOOP_BACK;
        op->state = SYNC_STATE_UNSYNCED;
        op->log_action = "SKIP";
    }
    return SC_OK;
}
