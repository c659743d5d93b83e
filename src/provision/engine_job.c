/* One (rule, user) job of the engine (see engine_internal.h): load the user and its link,
 * plan (provision/planner.c), send the call through its connection, read the answer,
 * plan again until nothing is left to send, and leave the result for the batch commit.
 *
 * What the target answers decides the next step:
 *   - a look-up links only an account whose identifier equals the user's (case-folded
 *     where the attribute is not caseExact); an answer holding only strangers means the
 *     target ignores filters: its pages are searched (bounded) instead, and no stranger
 *     is ever linked;
 *   - a 400 that names a path or value (invalidPath, noTarget, invalidValue, mutability,
 *     invalidSyntax, or no scimType) narrows the write down: the attributes it names are
 *     set aside and the rest is sent, then the set-aside ones are tried on their own,
 *     halving sets the target does not name, until every attribute it accepts is
 *     delivered and each one it refuses alone is recorded as rejected (the user is then
 *     PARTIALLY_SYNCED, and the attribute is tried again only when the user or the
 *     mapping changes);
 *   - a create the target refuses the same way is narrowed to an account with fewer
 *     attributes (an account beats no account), the rest following as updates;
 *   - 409 on create looks the account up again; 404 on update re-creates it;
 *   - errors keep method, status and the target's words (masked, valid UTF-8). */
#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "http/client.h"
#include "provision/caps.h"
#include "provision/connection.h"
#include "provision/engine_internal.h"
#include "provision/rule.h"
#include "scim/dialect.h"
#include "scim/filter.h"
#include "scim/message.h"
#include "scim/path.h"
#include "store/store_directory.h"
#include "store/store_sync.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_TEXT_MAX 600 /* bytes of an error text kept in a link or a log entry */

enum job_read {
    READ_NONE = 0, /* the planned op */
    READ_VERIFY,   /* GET the linked account (drift repair) */
    READ_SEARCH,   /* GET a page of the users resource (a target that ignores filters, or
                      whose look-up misses an account a create conflicts with) */
};

struct job_log {
    const char *action;
    const char *status;
    int http_status;
    char *changes; /* JSON text */
    char *error;
    struct job_log *next;
};

struct job {
    struct call call; /* first: a job is queued on its connection as a call */
    struct provision_engine *eng;
    struct eng_rule *er;
    struct store_sync_item item;
    json_t *user;
    int exists, in_scope, enabled;
    json_t *desired;
    struct store_sync_link link;
    int has_row;
    json_t *sent;
    json_t *rejected; /* {key: {"value","error","httpStatus","method"}} of the link */
    json_t *exclude;  /* keys held back for the current attempt */
    json_t *pending;  /* array of key arrays still to try while narrowing a write */
    struct planner_op op;
    /* the inbound token the user came from and its sourceConnection (loop safety) */
    struct store_user_origin origin;
    enum job_read read;
    int64_t search_start; /* next page of a search (1-based startIndex) */
    int64_t search_seen;
    int steps, max_steps;
    int auth_retried;
    int uncertain;
    int link_dirty;
    int retry; /* finish with a retry at retry_at */
    int64_t retry_at;
    int success;               /* at least one call succeeded */
    uint64_t stamp;            /* the user's source stamp, read before the user (0 = unknown) */
    int unsent;                /* the current call could not be sent (its text says why) */
    int conflicts;             /* creates answered 409 */
    int searched;              /* the target's pages were searched after a conflict */
    int search_after_conflict; /* the search in progress follows a missed look-up */
    char conflict_text[ERR_TEXT_MAX];
    char last_error[ERR_TEXT_MAX];
    int last_status;
    int in_bulk; /* the answer being handled came with a Bulk request: 1 its operation's
                    outcome, 2 the request's failure as a whole (its texts say POST
                    /Bulk); the request counts in the connection's health, not each job */
    struct job_log *logs, *logs_tail;
    json_t *clear;  /* the rule's keys to clear, as the job started (the rule's may change) */
    int preplanned; /* op holds the first step's plan, made when the job was loaded */
    int body_ahead; /* the connection sends writes alone (no Bulk): the loader writes the
                       first call's body text too */
    enum sc_err plan_err;
    struct sc_error plan_e;
    struct job *next;
    struct job *load_next;           /* the loader's queues (engine_load.c) */
    struct job *all_prev, *all_next; /* the engine's list of every live job */
};

static const char *rule_id_of(const struct job *j)
{
    return j->er->sr->rc->rule.id;
}

static const struct connection *conn_of(const struct job *j)
{
    return j->er->sr->rc->conn;
}

/* Takes j out of the engine's list of live jobs (engine thread). */
static void job_forget(struct job *j)
{
    if (j->all_prev)
        j->all_prev->all_next = j->all_next;
    else if (j->eng->all == j)
        j->eng->all = j->all_next;
    if (j->all_next)
        j->all_next->all_prev = j->all_prev;
    j->all_prev = j->all_next = NULL;
}

void engine__job_release(struct job *j)
{
    json_decref(j->user);
    json_decref(j->desired);
    json_decref(j->sent);
    json_decref(j->rejected);
    json_decref(j->exclude);
    json_decref(j->pending);
    json_decref(j->clear);
    store_sync_link_clear(&j->link);
    planner_op_clear(&j->op);
    while (j->logs) {
        struct job_log *l = j->logs;
        j->logs = l->next;
        free(l->changes);
        free(l->error);
        free(l);
    }
    free(j);
}

void engine__job_free(struct job *j)
{
    if (!j)
        return;
    job_forget(j);
    engine__job_release(j);
}

/* Masks the connection's secrets (and its current OAuth token) in s and cuts it to
 * ERR_TEXT_MAX bytes at a character boundary. Texts from a target went through
 * connection_error_text already (masked before cut); this covers the engine's own. */
static void job_clean_text(const struct job *j, char *s)
{
    connection_scrub_with(conn_of(j), engine__current_token(j->eng, &j->call), s);
    sc_utf8_cut(s, ERR_TEXT_MAX - 1);
}

/* Appends l (its changes set) to j's log entries. */
static void job_log_add(struct job *j, struct job_log *l, const char *action, const char *status,
                        int http_status, const char *error)
{
    l->action = action;
    l->status = status;
    l->http_status = http_status;
    if (error) {
        l->error = sc_strdup(error);
        if (l->error)
            job_clean_text(j, l->error);
    }
    if (j->logs_tail)
        j->logs_tail->next = l;
    else
        j->logs = l;
    j->logs_tail = l;
    engine__metrics_op(j->eng, rule_id_of(j), action, status);
}

static void job_log(struct job *j, const char *action, const char *status, int http_status,
                    const json_t *changes, const char *error)
{
    struct job_log *l = calloc(1, sizeof *l);
    if (!l)
        return;
    l->changes = changes ? sc_json_dump(changes) : NULL;
    job_log_add(j, l, action, status, http_status, error);
}

/* job_log with the changes of j's planned op (written from what a create sends, without
 * building them as a tree). */
static void job_log_op(struct job *j, const char *action, const char *status, int http_status,
                       const char *error)
{
    struct job_log *l = calloc(1, sizeof *l);
    if (!l)
        return;
    l->changes = planner_op_take_changes_text(&j->op);
    job_log_add(j, l, action, status, http_status, error);
}

/* Records sent (stolen, may be NULL) as what the target holds; digest is its
 * planner_digest when the caller has it already, else 0 to compute it here. */
static void job_set_sent_digest(struct job *j, json_t *sent, uint64_t digest)
{
    json_decref(j->sent);
    j->sent = sent;
    free(j->link.sent);
    j->link.sent = sent ? sc_json_dump_canonical(sent) : NULL;
    j->link.digest = digest ? digest : planner_digest(sent);
    j->link_dirty = 1;
}

/* Records the planned op's next_sent as what the target holds, taking its canonical
 * text from the planner when it made one (no second dump). */
static void job_set_sent_planned(struct job *j)
{
    if (!j->op.next_sent_text) {
        job_set_sent_digest(j, json_incref(j->op.next_sent), j->op.next_digest);
        return;
    }
    json_decref(j->sent);
    j->sent = json_incref(j->op.next_sent);
    free(j->link.sent);
    j->link.sent = j->op.next_sent_text;
    j->op.next_sent_text = NULL;
    j->link.digest = j->op.next_digest;
    j->link_dirty = 1;
}

static void job_set_sent(struct job *j, json_t *sent)
{
    job_set_sent_digest(j, sent, 0);
}

static void job_set_target(struct job *j, const char *target_id)
{
    free(j->link.target_id);
    j->link.target_id = sc_strdup(target_id);
    j->link_dirty = 1;
}

static void job_set_state(struct job *j, const char *state, const char *error)
{
    if (strcmp(j->link.state, state) != 0 ||
        (error && (!j->link.last_error || strcmp(j->link.last_error, error) != 0)) ||
        (!error && j->link.last_error))
        j->link_dirty = 1;
    sc_strlcpy(j->link.state, state, sizeof j->link.state);
    free(j->link.last_error);
    j->link.last_error = error ? sc_strdup(error) : NULL;
    if (j->link.last_error)
        job_clean_text(j, j->link.last_error);
}

/* Writes the link's rejected doc from j->rejected (NULL when empty). */
static void job_store_rejected(struct job *j)
{
    char *text = NULL;
    if (j->rejected && json_object_size(j->rejected) > 0) {
        char stamp[24];
        snprintf(stamp, sizeof stamp, "%016" PRIx64, j->stamp);
        json_t *doc = json_pack("{s:s, s:O}", "stamp", stamp, "attributes", j->rejected);
        text = doc ? sc_json_dump_canonical(doc) : NULL;
        json_decref(doc);
    }
    if ((text && j->link.rejected && strcmp(text, j->link.rejected) == 0) ||
        (!text && !j->link.rejected)) {
        free(text);
        return;
    }
    free(j->link.rejected);
    j->link.rejected = text;
    j->link_dirty = 1;
}

/* A readable summary of the rejected attributes for the user's last error. */
static void rejected_summary(const struct job *j, char *out, size_t n)
{
    struct sc_buf b;
    sc_buf_init(&b, 0);
    sc_buf_puts(&b, "the target rejected ");
    const char *k;
    json_t *v;
    int i = 0;
    json_object_foreach(j->rejected, k, v)
    {
        sc_buf_printf(&b, "%s%s", i++ ? ", " : "", k);
    }
    const char *first = NULL;
    json_object_foreach(j->rejected, k, v)
    {
        first = json_string_value(json_object_get(v, "error"));
        break;
    }
    if (first)
        sc_buf_printf(&b, " (%s)", first);
    sc_strlcpy(out, b.data ? b.data : "", n);
    sc_utf8_cut(out, n - 1);
    sc_buf_free(&b);
}

/* Records the outcome of j's call in its connection's health (not for an operation of a
 * Bulk request: the request counts once). */
static void job_health(struct job *j, int failed)
{
    if (!j->in_bulk)
        engine__conn_health(j->eng, j->er->cs, failed);
}

static void job_finish(struct job *j)
{
    struct provision_engine *eng = j->eng;
    eng->leased--;
    if (j->er)
        j->er->cs->leased--;
    j->next = eng->finished;
    eng->finished = j;
    if (eng->nfinished++ == 0)
        eng->finished_at = sc_clock_mono_ms();
    if (j->call.urgent)
        eng->finished_urgent++;
}

static void job_step(struct job *j);

/* ---- reading answers ---- */

/* Writes "<METHOD> answered <status> (<scimType>): <detail>" for an answer (or the
 * transport error), with the target's words repaired to valid UTF-8. */
static void error_text(const struct job *j, const char *method, const struct http_multi_result *res,
                       char *out, size_t n, struct scim_error *se)
{
    memset(se, 0, sizeof *se);
    if (j->in_bulk == 2)
        method = "POST /Bulk"; /* the request that carried the call failed as a whole */
    struct sc_buf full;
    sc_buf_init(&full, 0);
    if (res->status == 0 && j->unsent) {
        sc_buf_puts(&full, res->error); /* nothing was sent: the reason alone */
    } else if (res->status == 0) {
        sc_buf_printf(&full, "%s: no response: %s", method ? method : "call",
                      res->error[0] ? res->error : "transport error");
    } else {
        json_t *body = res->body.len ? json_loadb(res->body.data, res->body.len, 0, NULL) : NULL;
        if (body)
            scim_error_from_json(body, (int)res->status, se);
        /* The target's words whole (scim_error keeps a cut copy): a secret it echoes is
         * masked before anything is cut. */
        const char *words = json_string_value(json_object_get(body, "detail"));
        if (!words)
            words = json_string_value(
                json_object_get(json_array_get(json_object_get(body, "Errors"), 0), "description"));
        size_t wlen = words ? strlen(words) : 0;
        if (!words && !body && res->body.len) {
            words = res->body.data;
            wlen = res->body.len;
        }
        sc_buf_printf(&full, "%s answered %ld", method, res->status);
        if (se->scim_type[0])
            sc_buf_printf(&full, " (%s)", se->scim_type);
        if (wlen) {
            sc_buf_puts(&full, ": ");
            sc_buf_append(&full, words, wlen);
        }
        json_decref(body);
    }
    connection_error_text(conn_of(j), engine__current_token(j->eng, &j->call), full.data, full.len,
                          out, n);
    sc_buf_free(&full);
}

static const char *log_action_of(const struct job *j)
{
    if (j->read == READ_VERIFY)
        return "VERIFY";
    if (j->op.log_action)
        return j->op.log_action;
    return j->op.action == PLANNER_LOOKUP || j->read == READ_SEARCH ? "LINK" : "UPDATE";
}

static const char *method_of(const struct job *j)
{
    if (j->read)
        return "GET";
    return j->op.method ? j->op.method : "GET";
}

/* A failed call: retry later, or give up on this version of the user. */
static void job_failed(struct job *j, const struct http_multi_result *res)
{
    char err[ERR_TEXT_MAX];
    struct scim_error se;
    error_text(j, method_of(j), res, err, sizeof err, &se);
    enum delivery_class cls = delivery_classify(res->status);
    /* A 4xx about this user's data says the target is up and answering: it does not
     * count against the connection's health. */
    job_health(j, cls != DELIVERY_PERMANENT);
    const char *action = log_action_of(j);
    if (cls == DELIVERY_PERMANENT) {
        job_log_op(j, action, "FAILED", (int)res->status, err);
        job_set_state(j, SYNC_STATE_FAILED, err);
        job_finish(j);
        return;
    }
    int64_t now = sc_clock_now_ms();
    int64_t delay = -1;
    if (res->status == 429 || res->status == 503)
        delay = delivery_retry_after_ms(res->retry_after, now);
    if (delay < 0)
        delay = delivery_backoff_ms(j->item.attempts, j->er->cs->health.quarantined,
                                    randombytes_random());
    else if (j->er->cs->health.quarantined && delay < DELIVERY_QUARANTINE_MIN_MS)
        delay = DELIVERY_QUARANTINE_MIN_MS;
    job_log_op(j, action, cls == DELIVERY_AUTH ? "FAILED" : "RETRY", (int)res->status, err);
    job_set_state(j, SYNC_STATE_FAILED, err);
    j->retry = 1;
    j->retry_at = now + delay;
    job_finish(j);
}

void engine__job_unsent(struct provision_engine *eng, struct job *j, const char *why)
{
    (void)eng;
    struct http_multi_result res;
    memset(&res, 0, sizeof res);
    sc_strlcpy(res.error, why, sizeof res.error);
    j->er->cs->inflight--;
    j->unsent = 1;
    job_failed(j, &res);
    j->unsent = 0;
}

static void job_unlink(struct job *j, int absent)
{
    job_set_target(j, NULL);
    job_set_sent(j, NULL);
    j->link.absent = absent;
}

static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

int engine__scan_top_id(const char *s, size_t n, char *out, size_t cap)
{
    size_t i = skip_ws(s, n, 0);
    int depth = 0, expect_key = 0, found = 0;
    if (i >= n || s[i] != '{')
        return 0;
    while (i < n) {
        char c = s[i];
        if (c == '"') {
            size_t start = ++i;
            int esc = 0;
            while (i < n && s[i] != '"') {
                if (s[i] == '\\') {
                    esc = 1;
                    i++;
                }
                i++;
            }
            if (i >= n)
                return 0;
            size_t end = i++;
            if (depth != 1 || !expect_key)
                continue;
            expect_key = 0;
            if (esc)
                return 0;
            if (end - start != 2 || memcmp(s + start, "id", 2) != 0)
                continue;
            i = skip_ws(s, n, i);
            if (i >= n || s[i] != ':')
                return 0;
            i = skip_ws(s, n, i + 1);
            if (i >= n || s[i] != '"')
                return 0;
            size_t vstart = ++i;
            while (i < n && s[i] != '"') {
                if (s[i] == '\\' || (unsigned char)s[i] < 0x20)
                    return 0;
                i++;
            }
            if (i >= n || i - vstart >= cap || !sc_utf8_valid(s + vstart, i - vstart))
                return 0;
            memcpy(out, s + vstart, i - vstart);
            out[i - vstart] = '\0';
            found = 1;
            i++;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
            if (depth == 1)
                expect_key = 1;
        } else if (c == '}' || c == ']') {
            if (--depth < 0)
                return 0;
            if (depth == 0)
                return skip_ws(s, n, i + 1) == n ? found : 0;
        } else if (c == ',' && depth == 1) {
            expect_key = 1;
        }
        i++;
    }
    return 0;
}

/* The account in resources whose identifier equals the user's (borrowed), or NULL. */
static json_t *exact_match(const struct job *j, json_t *resources)
{
    const struct sync_rule *r = j->er->sr;
    const char *want = sync_rule_identifier(r, j->desired);
    if (!want)
        return NULL;
    for (size_t i = 0; i < json_array_size(resources); i++) {
        json_t *x = json_array_get(resources, i);
        const char *have = sync_rule_resource_identifier(r, x);
        if (have && sync_rule_identifier_equal(r, have, want) &&
            json_string_value(json_object_get(x, "id")))
            return x;
    }
    return NULL;
}

static void job_link_to(struct job *j, const json_t *found, int http_status)
{
    job_set_target(j, json_string_value(json_object_get(found, "id")));
    job_set_sent(j, sync_rule_project(j->er->sr, found));
    j->link.absent = 0;
    job_log(j, "LINK", "SUCCESS", http_status, NULL, NULL);
}

/* ---- narrowing a rejected write down ---- */

/* The mapped flat keys (and "active") the current op changes: what the target holds
 * (j->sent) against what the op records as sent. New array. */
static json_t *job_op_keys(const struct job *j)
{
    json_t *all =
        planner_keys_changed(j->op.action == PLANNER_CREATE ? NULL : j->sent, j->op.next_sent);
    const struct sync_rule *r = j->er->sr;
    json_t *out = json_array();
    size_t i;
    json_t *kv;
    json_array_foreach(all, i, kv)
    {
        const char *k = json_string_value(kv);
        int mapped = strcmp(k, "active") == 0;
        for (size_t p = 0; p < r->npaths && !mapped; p++)
            mapped = strcmp(r->keys[p], k) == 0;
        if (mapped)
            json_array_append(out, kv);
    }
    json_decref(all);
    return out;
}

/* Is this a 400 that says some attribute or value of the write is not acceptable? */
static int isolatable(const struct http_multi_result *res, const struct scim_error *se)
{
    if (res->status != 400)
        return 0;
    static const char *const types[] = {"invalidPath", "noTarget", "invalidValue", "mutability",
                                        "invalidSyntax"};
    if (!se->scim_type[0])
        return 1;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (sc_strcaseeq(se->scim_type, types[i]))
            return 1;
    return 0;
}

static int key_in(const json_t *arr, const char *key)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), key) == 0)
            return 1;
    }
    return 0;
}

/* Case-insensitive search for needle in hay. */
static const char *find_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (!n)
        return NULL;
    for (; *hay; hay++)
        if (sc_strncaseeq(hay, needle, n))
            return hay;
    return NULL;
}

static int ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || c == '-' || c == '.' || c == ':';
}

/* Does text mention name as a whole token? */
static int mentions(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; (p = find_ci(p, name)) != NULL; p++) {
        int before = p == text || !ident_char(p[-1]);
        int after = !ident_char(p[n]) || (p[n] == '.' && !ident_char(p[n + 1]));
        if (before && after)
            return 1;
    }
    return 0;
}

/* The keys of the failed write (in keys) that the target's detail names: by operation
 * index ("Operations[2]"), by path, or by attribute name. New array (maybe empty). */
static json_t *named_keys(const struct job *j, const json_t *keys, const char *detail)
{
    json_t *out = json_array();
    size_t i;
    json_t *ok;
    /* Operations[N] */
    json_array_foreach(j->op.op_keys, i, ok)
    {
        char tag[40];
        snprintf(tag, sizeof tag, "Operations[%zu]", i);
        if (!find_ci(detail, tag))
            continue;
        size_t k;
        json_t *kv;
        json_array_foreach(ok, k, kv)
        {
            if (key_in(keys, json_string_value(kv)) && !key_in(out, json_string_value(kv)))
                json_array_append(out, kv);
        }
    }
    if (json_array_size(out))
        return out;
    json_t *kv;
    json_array_foreach(keys, i, kv)
    {
        const char *key = json_string_value(kv);
        if (!key || strcmp(key, "active") == 0)
            continue;
        struct scim_path *p = NULL;
        struct scim_error pe;
        int hit = mentions(detail, key);
        if (!hit && scim_path_parse(key, &p, &pe) == SC_OK) {
            /* the attribute itself, or a complex one's sub-attribute as a dotted path */
            hit = mentions(detail, p->attr);
            if (!hit && p->sub && !p->filter) {
                char dotted[256];
                snprintf(dotted, sizeof dotted, "%s.%s", p->attr, p->sub);
                hit = mentions(detail, dotted) || mentions(detail, p->sub);
            }
        }
        scim_path_free(p);
        if (hit)
            json_array_append(out, kv);
    }
    return out;
}

/* Marks key rejected with the target's words. */
static void reject_key(struct job *j, const char *key, const char *err, int status)
{
    if (!j->rejected)
        j->rejected = json_object();
    json_t *want = j->desired ? json_object_get(j->desired, key) : NULL;
    json_object_set_new(j->rejected, key,
                        json_pack("{s:O, s:s, s:i, s:s}", "value", want ? want : json_null(),
                                  "error", err, "httpStatus", status, "method", method_of(j)));
    json_t *ch = json_pack("[{s:s, s:O, s:O}]", "attribute", key, "old",
                           j->sent && json_object_get(j->sent, key) ? json_object_get(j->sent, key)
                                                                    : json_null(),
                           "new", want ? want : json_null());
    job_log(j, j->op.log_action ? j->op.log_action : "UPDATE", "FAILED", status, ch, err);
    json_decref(ch);
}

/* Sets the exclusions for the current piece of a narrowed write: pending[0] is the set
 * of keys tried now, every key of the later sets is held back. Returns 0 when nothing is
 * pending (no exclusions then). */
static int narrow_set(struct job *j)
{
    json_decref(j->exclude);
    j->exclude = NULL;
    if (!j->pending || json_array_size(j->pending) == 0)
        return 0;
    size_t i, k;
    json_t *set, *kv;
    json_array_foreach(j->pending, i, set)
    {
        if (i == 0)
            continue;
        if (!j->exclude)
            j->exclude = json_object();
        json_array_foreach(set, k, kv)
        {
            json_object_set(j->exclude, json_string_value(kv), json_true());
        }
    }
    return 1;
}

/* The current piece was delivered: move on to the next. Returns 0 when none is left. */
static int narrow_next(struct job *j)
{
    if (j->pending && json_array_size(j->pending) > 0)
        json_array_remove(j->pending, 0);
    return narrow_set(j);
}

static json_t *keys_without(const json_t *keys, const json_t *minus)
{
    json_t *out = json_array();
    size_t i;
    json_t *kv;
    json_array_foreach(keys, i, kv)
    {
        if (!key_in(minus, json_string_value(kv)))
            json_array_append(out, kv);
    }
    return out;
}

/* A PATCH or PUT was answered with an isolatable 400: split its keys into the sets to try
 * next (named keys last, or two halves), or record a lone key as rejected. The current
 * set is pending[0] (pushed when narrowing starts). Returns 0 when the write cannot be
 * narrowed (the job then fails as usual). */
static int narrow_update(struct job *j, const char *err, const char *detail, int status)
{
    json_t *keys = job_op_keys(j);
    size_t n = json_array_size(keys);
    if (n == 0 || (n == 1 && key_in(keys, "active"))) {
        json_decref(keys);
        return 0;
    }
    if (!j->pending) {
        j->pending = json_array();
        json_array_append(j->pending, keys);
    }
    json_t *named = named_keys(j, keys, detail);
    json_t *parts = json_array();
    if (n == 1) {
        reject_key(j, json_string_value(json_array_get(keys, 0)), err, status);
    } else if (json_array_size(named) > 0 && json_array_size(named) < n) {
        json_array_append_new(parts, keys_without(keys, named));
        json_array_append(parts, named);
    } else {
        json_t *a = json_array(), *b = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append(i < (n + 1) / 2 ? a : b, json_array_get(keys, i));
        json_array_append_new(parts, a);
        json_array_append_new(parts, b);
    }
    json_decref(named);
    /* replace the current set (pending[0]) by its parts, in order; try the first */
    json_array_remove(j->pending, 0);
    for (size_t i = json_array_size(parts); i > 0; i--)
        json_array_insert(j->pending, 0, json_array_get(parts, i - 1));
    json_decref(parts);
    json_decref(keys);
    narrow_set(j);
    return 1;
}

/* The keys a create must carry whatever else it leaves out. */
static int required_key(const struct job *j, const char *key)
{
    const struct sync_rule *r = j->er->sr;
    return strcmp(key, "active") == 0 || sc_strcaseeq(key, "userName") ||
           (r->ident_key && strcmp(key, r->ident_key) == 0);
}

/* A create was answered with an isolatable 400: leave out what the target names, or half
 * of the optional attributes, and create again (what is left out follows as updates).
 * Returns 0 when nothing optional is left to leave out. */
static int narrow_create(struct job *j, const char *err, const char *detail, int status)
{
    json_t *optional = json_array();
    json_t *keys = job_op_keys(j);
    size_t i;
    json_t *kv;
    json_array_foreach(keys, i, kv)
    {
        if (!required_key(j, json_string_value(kv)))
            json_array_append(optional, kv);
    }
    json_decref(keys);
    size_t n = json_array_size(optional);
    if (n == 0) {
        json_decref(optional);
        return 0;
    }
    if (n == 1) {
        reject_key(j, json_string_value(json_array_get(optional, 0)), err, status);
        json_decref(optional);
        return 1;
    }
    json_t *named = named_keys(j, optional, detail);
    if (!j->exclude)
        j->exclude = json_object();
    if (json_array_size(named) > 0 && json_array_size(named) < n) {
        json_array_foreach(named, i, kv)
        {
            json_object_set(j->exclude, json_string_value(kv), json_true());
        }
    } else {
        for (i = n / 2; i < n; i++)
            json_object_set(j->exclude, json_string_value(json_array_get(optional, i)),
                            json_true());
    }
    json_decref(named);
    json_decref(optional);
    return 1;
}

/* A write succeeded or nothing was left to send: the rejections that still hold (as the
 * plan says) are what the link keeps, and the state is the plan's, with a summary of
 * what the target refused when some attribute was held back. */
static void job_settle(struct job *j)
{
    json_decref(j->rejected);
    j->rejected = json_incref(j->op.rejected);
    job_store_rejected(j);
    char summary[ERR_TEXT_MAX] = "";
    if (j->rejected && j->op.state && strcmp(j->op.state, SYNC_STATE_PARTIAL) == 0)
        rejected_summary(j, summary, sizeof summary);
    job_set_state(j, j->op.state, summary[0] ? summary : NULL);
}

/* ---- answers ---- */

static void fail_conflict_loop(struct job *j);

static void on_lookup(struct job *j, const struct http_multi_result *res, long st)
{
    json_t *body = res->body.len ? json_loadb(res->body.data, res->body.len, 0, NULL) : NULL;
    int64_t total = 0;
    json_t *resources = NULL;
    if (sync_rule_read_list(j->er->sr, body, &total, &resources) != SC_OK) {
        json_decref(body);
        const char *msg = "the look-up's answer is not a SCIM ListResponse";
        job_log(j, "LINK", "FAILED", (int)st, NULL, msg);
        job_set_state(j, SYNC_STATE_FAILED, msg);
        job_finish(j);
        return;
    }
    json_t *found = exact_match(j, resources);
    if (found) {
        if (j->search_after_conflict) {
            /* the filtered look-up missed an account a search found: its userName (or
             * identifier) comparison is case-sensitive */
            provision_caps_learn(j->eng->st, j->er->cs->id, "userNameCaseInsensitive",
                                 json_false());
            j->search_after_conflict = 0;
        }
        job_link_to(j, found, (int)st);
        j->read = READ_NONE;
    } else if (j->read == READ_SEARCH) {
        size_t got = json_array_size(resources);
        j->search_seen += (int64_t)got;
        j->search_start += (int64_t)got;
        if (got == 0 || j->search_start > total) {
            j->read = READ_NONE;
            if (j->searched) {
                /* searched after a 409: no account has this identifier in any case */
                json_decref(resources);
                json_decref(body);
                fail_conflict_loop(j);
                return;
            }
            j->link.absent = 1; /* every account was seen: none is this user's */
            j->link_dirty = 1;
        } else if (j->search_seen >= ENGINE_SEARCH_MAX) {
            char msg[ERR_TEXT_MAX];
            snprintf(msg, sizeof msg,
                     "the target ignores the look-up filter and holds more than %d accounts: "
                     "cannot tell whether this user already has one, so none is created (a "
                     "full resync lists the target and links what it finds)",
                     ENGINE_SEARCH_MAX);
            json_decref(resources);
            json_decref(body);
            job_log(j, "LINK", "FAILED", (int)st, NULL, msg);
            job_set_state(j, SYNC_STATE_FAILED, msg);
            job_finish(j);
            return;
        }
    } else if (json_array_size(resources) > 0) {
        /* Only strangers: the target ignores the filter. Search its pages instead, and
         * remember it (resyncs then list the target instead of looking users up). */
        SC_INFO("engine.filter_ignored", "rule=%s connection=%s", rule_id_of(j), j->er->cs->id);
        if (!j->er->sr->filter_ignored) {
            j->er->sr->filter_ignored = 1;
            provision_caps_learn(j->eng->st, j->er->cs->id, "filterHonoured", json_false());
        }
        j->read = READ_SEARCH;
        j->search_start = 1;
        j->search_seen = 0;
    } else if (j->conflicts > 0 && !j->searched) {
        /* A create conflicts but the look-up finds nothing: the target's filter may
         * compare case-sensitively (userName is caseExact: false). Search its pages. */
        SC_INFO("engine.lookup_missed", "rule=%s connection=%s (searching the pages)",
                rule_id_of(j), j->er->cs->id);
        j->search_after_conflict = 1;
        j->read = READ_SEARCH;
        j->searched = 1;
        j->search_start = 1;
        j->search_seen = 0;
    } else {
        j->link.absent = 1;
        j->link_dirty = 1;
    }
    j->uncertain = 0;
    json_decref(resources);
    json_decref(body);
    planner_op_clear(&j->op);
    job_step(j);
}

static void on_verify(struct job *j, const struct http_multi_result *res, long st)
{
    j->read = READ_NONE;
    j->item.flags &= ~SYNC_ITEM_VERIFY;
    if (st == 404) {
        job_log(j, "VERIFY", "DRIFTED", (int)st, NULL,
                "the account no longer exists on the target; creating it again");
        job_unlink(j, 1);
        job_step(j);
        return;
    }
    json_t *body = res->body.len ? json_loadb(res->body.data, res->body.len, 0, NULL) : NULL;
    if (!json_is_object(body)) {
        json_decref(body);
        job_log(j, "VERIFY", "FAILED", (int)st, NULL, "the account's answer is not a resource");
        job_step(j);
        return;
    }
    json_t *res20 = sync_rule_read(j->er->sr, body);
    json_decref(body);
    json_t *found = sync_rule_project(j->er->sr, res20);
    json_decref(res20);
    if (!j->sent ||
        (planner_digest(found) != j->link.digest && !sync_rule_holds(j->er->sr, j->sent, found))) {
        json_t *ch = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(j->sent, k, v)
        {
            json_t *t = json_object_get(found, k);
            if (!t || !json_equal(t, v))
                json_array_append_new(ch, json_pack("{s:s, s:O, s:O}", "attribute", k, "old",
                                                    t ? t : json_null(), "new", v));
        }
        json_object_foreach(found, k, v)
        {
            if (!j->sent || !json_object_get(j->sent, k))
                json_array_append_new(
                    ch, json_pack("{s:s, s:O, s:n}", "attribute", k, "old", v, "new"));
        }
        job_log(j, "VERIFY", "DRIFTED", (int)st, ch, NULL);
        json_decref(ch);
        job_set_sent(j, found);
    } else {
        json_decref(found);
    }
    job_step(j);
}

/* A create that keeps meeting 409 while the look-up finds nothing. */
static void fail_conflict_loop(struct job *j)
{
    const char *ident = sync_rule_identifier(j->er->sr, j->desired);
    char msg[ERR_TEXT_MAX];
    snprintf(msg, sizeof msg,
             "POST answered 409 %d time%s and the look-up by %s \"%.100s\" finds nothing%s: "
             "the target holds a value of this user (e.g. the email) under another account; "
             "%s",
             j->conflicts, j->conflicts == 1 ? "" : "s",
             conn_of(j)->user_identifier ? conn_of(j)->user_identifier : "userName",
             ident ? ident : "", j->searched ? ", nor does a search of the target's accounts" : "",
             j->conflict_text);
    job_log_op(j, "CREATE", "FAILED", 409, msg);
    job_set_state(j, SYNC_STATE_FAILED, msg);
    job_finish(j);
}

/* The keys a create sent that the target's answer does not show (a target that drops
 * what its schema lacks, silently): new array, or NULL when none or when the answer is
 * not a whole resource (then nothing can be told). A quick scan of the text first: only
 * when some attribute name is absent from it is the answer parsed. */
/* Does a changes array ([{"attribute",...}]) name attribute k? */
static int changes_name(const json_t *changes, const char *k)
{
    size_t i;
    json_t *c;
    json_array_foreach(changes, i, c)
    {
        const char *a = json_string_value(json_object_get(c, "attribute"));
        if (a && strcmp(a, k) == 0)
            return 1;
    }
    return 0;
}

static json_t *dropped_keys(const struct job *j, const struct http_multi_result *res,
                            const json_t *changed)
{
    const char *text = res->body.data;
    if (!text || !res->body.len || !memmem(text, res->body.len, "\"userName\"", 10))
        return NULL;
    const struct sync_rule *r = j->er->sr;
    int missing = 0;
    for (size_t i = 0; i < r->npaths && !missing; i++) {
        if (!json_object_get(j->op.next_sent, r->keys[i]) ||
            (changed && !changes_name(changed, r->keys[i])))
            continue;
        char quoted[160];
        int n = snprintf(quoted, sizeof quoted, "\"%s\"", r->paths[i]->attr);
        if (n > 0 && (size_t)n < sizeof quoted && !memmem(text, res->body.len, quoted, (size_t)n))
            missing = 1;
    }
    if (!missing)
        return NULL;
    json_t *body = json_loadb(text, res->body.len, 0, NULL);
    json_t *res20 = body ? sync_rule_read(r, body) : NULL;
    json_decref(body);
    if (!res20)
        return NULL;
    json_t *found = sync_rule_project(r, res20);
    json_decref(res20);
    json_t *out = NULL;
    const char *k;
    json_t *v;
    size_t considered = 0;
    json_object_foreach(j->op.next_sent, k, v)
    {
        if (strcmp(k, "active") == 0 || (changed && !changes_name(changed, k)))
            continue;
        considered++;
        if (json_object_get(found, k))
            continue;
        if (!out)
            out = json_array();
        json_array_append_new(out, json_string(k));
    }
    json_decref(found);
    if (changed && considered > 1 && json_array_size(out) == considered) {
        /* nothing it was sent shows: a short representation, not a judgement */
        json_decref(out);
        out = NULL;
    }
    return out;
}

/* After a successful update: the attributes the answer shows the account does not hold
 * although they were sent (a target that silently drops what its schema lacks, even from
 * a PUT) are recorded as rejected, in the target's absence of words. Returns 1 when
 * there were some (what the target holds is corrected), else 0. */
static int job_dropped(struct job *j, const struct http_multi_result *res, long st)
{
    json_t *dropped = dropped_keys(j, res, planner_op_changes(&j->op));
    if (!dropped)
        return 0;
    json_t *held = json_deep_copy(j->sent);
    size_t i;
    json_t *kv;
    json_array_foreach(dropped, i, kv)
    {
        const char *k = json_string_value(kv);
        char msg[ERR_TEXT_MAX];
        snprintf(msg, sizeof msg,
                 "%s answered %ld but the account does not hold %s: the target does not keep "
                 "it (its schema may lack it)",
                 method_of(j), st, k);
        reject_key(j, k, msg, (int)st);
        json_object_del(held, k);
    }
    job_set_sent(j, held);
    json_decref(dropped);
    return 1;
}

static void on_created(struct job *j, const struct http_multi_result *res, long st)
{
    char idbuf[1024];
    const char *tid = NULL;
    json_t *body = NULL;
    if (engine__scan_top_id(res->body.data, res->body.len, idbuf, sizeof idbuf))
        tid = idbuf;
    else if (res->body.len && (body = json_loadb(res->body.data, res->body.len, 0, NULL)) != NULL)
        tid = json_string_value(json_object_get(body, "id"));
    if (!tid) {
        json_decref(body);
        const char *msg = "POST answered without an id: the account may exist; it will be "
                          "looked up before any new create";
        job_log_op(j, "CREATE", "FAILED", (int)st, msg);
        job_set_state(j, SYNC_STATE_FAILED, msg);
        j->uncertain = 1;
        j->link.absent = 0;
        j->link_dirty = 1;
        job_finish(j);
        return;
    }
    job_set_target(j, tid);
    job_set_sent_planned(j);
    j->link.absent = 0;
    job_log_op(j, "CREATE", "SUCCESS", (int)st, NULL);
    json_decref(body);
    json_decref(j->rejected);
    j->rejected = json_incref(j->op.rejected);
    json_t *dropped = dropped_keys(j, res, NULL);
    if (dropped) {
        /* The account does not hold them: what is sent next says so to the target (a
         * PATCH the target either takes or refuses in its own words). */
        json_t *held = json_deep_copy(j->sent);
        size_t i;
        json_t *kv;
        json_array_foreach(dropped, i, kv) json_object_del(held, json_string_value(kv));
        job_set_sent(j, held);
        json_decref(dropped);
        planner_op_clear(&j->op);
        job_step(j);
        return;
    }
    if (j->exclude) {
        /* Created without some attributes: send them now as updates. */
        json_decref(j->exclude);
        j->exclude = NULL;
        planner_op_clear(&j->op);
        job_step(j);
        return;
    }
    job_settle(j);
    job_finish(j);
}

/* Handles the answer to j's call (requests: the HTTP requests it counts, 0 for an
 * operation of a Bulk request). */
static void job_answer(struct job *j, const struct http_multi_result *res, int requests)
{
    struct provision_engine *eng = j->eng;
    engine__metrics_latency(eng, rule_id_of(j), res->total_ms / 1000.0, requests);
    long st = res->status;
    const struct connection *c = conn_of(j);
    if (st < 200 || st > 299) {
        struct scim_error se;
        error_text(j, method_of(j), res, j->last_error, sizeof j->last_error, &se);
        j->last_status = (int)st;
    }

    if (st == 401 && c->auth_method == CONNECTION_AUTH_CLIENT_CREDENTIALS && !j->auth_retried) {
        /* The token may have been revoked or expired early: one fresh token, one retry. */
        engine__token_invalidate(eng, &j->call);
        j->auth_retried = 1;
        j->steps--;
        engine__dispatch(eng, &j->call);
        return;
    }
    enum delivery_class cls = delivery_classify(st);
    if (j->read == READ_VERIFY) {
        if (cls == DELIVERY_OK || st == 404) {
            job_health(j, 0);
            j->success = 1;
            on_verify(j, res, st);
        } else {
            job_failed(j, res);
        }
        return;
    }
    if (j->read == READ_SEARCH || j->op.action == PLANNER_LOOKUP) {
        if (cls == DELIVERY_OK) {
            job_health(j, 0);
            j->success = 1;
            on_lookup(j, res, st);
        } else {
            job_failed(j, res);
        }
        return;
    }
    int handled_404 = st == 404 && j->op.action != PLANNER_CREATE;
    int handled_409 = st == 409 && j->op.action == PLANNER_CREATE;
    if (cls == DELIVERY_PERMANENT && !handled_404 && !handled_409) {
        char err[ERR_TEXT_MAX];
        struct scim_error se;
        error_text(j, method_of(j), res, err, sizeof err, &se);
        if (isolatable(res, &se)) {
            int narrowed = j->op.action == PLANNER_CREATE
                               ? narrow_create(j, err, se.detail[0] ? se.detail : err, (int)st)
                               : narrow_update(j, err, se.detail[0] ? se.detail : err, (int)st);
            if (narrowed) {
                job_health(j, 0);
                planner_op_clear(&j->op);
                job_step(j);
                return;
            }
        }
    }
    if (cls != DELIVERY_OK && !handled_404 && !handled_409) {
        job_failed(j, res);
        return;
    }
    job_health(j, 0);
    j->success = 1;
    switch (j->op.action) {
    case PLANNER_CREATE:
        if (st == 409) {
            /* Someone created it meanwhile (or an earlier attempt did): look up, link. */
            sc_strlcpy(j->conflict_text, j->last_error, sizeof j->conflict_text);
            j->conflicts++;
            j->link.absent = 0;
            j->uncertain = 1;
            j->link_dirty = 1;
            break;
        }
        on_created(j, res, st);
        return;
    case PLANNER_UPDATE:
    case PLANNER_ENABLE:
    case PLANNER_DISABLE:
        if (st == 404) {
            if (j->op.action == PLANNER_DISABLE) {
                job_unlink(j, 1);
                job_log(j, "DISABLE", "SUCCESS", (int)st, NULL,
                        "the account no longer exists on the target");
                job_set_state(j, SYNC_STATE_OUT_OF_SCOPE, NULL);
                job_finish(j);
                return;
            }
            /* The account vanished on the target: unlink and create it again. */
            job_log(j, log_action_of(j), "FAILED", (int)st, NULL,
                    "the account no longer exists on the target; creating it again");
            job_unlink(j, 1);
            json_decref(j->pending);
            j->pending = NULL;
            json_decref(j->exclude);
            j->exclude = NULL;
            break;
        }
        job_set_sent_planned(j);
        job_log_op(j, j->op.log_action, "SUCCESS", (int)st, NULL);
        json_decref(j->rejected);
        j->rejected = json_incref(j->op.rejected);
        if (j->op.action != PLANNER_DISABLE && job_dropped(j, res, st))
            break; /* the target did not keep some of it: plan again without */
        if (j->pending && narrow_next(j))
            break; /* the next piece of a narrowed write */
        job_settle(j);
        if (j->exclude || j->pending) {
            json_decref(j->exclude);
            j->exclude = NULL;
            json_decref(j->pending);
            j->pending = NULL;
            break; /* plan once more: what was held back, or a final no-op */
        }
        job_finish(j);
        return;
    case PLANNER_DELETE:
        job_unlink(j, 0);
        job_log(j, "DELETE", "SUCCESS", (int)st, NULL, st == 404 ? "already gone" : NULL);
        job_set_state(j, SYNC_STATE_DELETED, NULL);
        job_finish(j);
        return;
    default:
        break;
    }
    planner_op_clear(&j->op);
    job_step(j);
}

static void on_response(void *arg, const struct http_multi_result *res)
{
    struct job *j = arg;
    j->er->cs->inflight--;
    j->call.single = 0; /* its next write may travel in a Bulk request again */
    job_answer(j, res, 1);
}

void engine__job_answer(struct provision_engine *eng, struct job *j,
                        const struct http_multi_result *res, int whole)
{
    (void)eng;
    j->in_bulk = whole ? 2 : 1;
    job_answer(j, res, 0);
    j->in_bulk = 0;
}

void engine__job_alone(struct provision_engine *eng, struct job *j, int maybe_done)
{
    j->call.single = 1;
    if (maybe_done && j->op.action == PLANNER_CREATE) {
        /* the account may exist now: look it up before creating it */
        j->uncertain = 1;
        planner_op_clear(&j->op);
        job_step(j);
        return;
    }
    engine__dispatch(eng, &j->call);
}

/* ---- sending ---- */

int engine__job_is_write(const struct job *j)
{
    return !j->read && j->op.method && j->op.action != PLANNER_LOOKUP &&
           strcmp(j->op.method, "GET") != 0;
}

int engine__job_write(struct job *j, const char **method, struct sc_buf *path, const json_t **body)
{
    if (!engine__job_is_write(j) || (j->op.with_id && !j->link.target_id))
        return 0;
    if (sc_buf_puts(path, conn_of(j)->users_resource))
        return 0;
    if (j->op.with_id) {
        char *esc = http_client_escape(j->link.target_id);
        enum sc_err rc = esc ? sc_buf_printf(path, "/%s", esc) : SC_ERR_NOMEM;
        free(esc);
        if (rc || strstr(path->data, "bulkId:"))
            return 0;
    }
    if (j->op.body && scim_bulk_find_ref(j->op.body))
        return 0;
    *method = j->op.method;
    *body = j->op.body;
    return 1;
}

void engine__job_send(struct provision_engine *eng, struct job *j)
{
    const struct connection *c = conn_of(j);
    struct sc_buf url;
    sc_buf_init(&url, 0);
    char **headers = NULL;
    char *body = NULL;
    const char *token = NULL;
    char why[300];
    int t = engine__token(eng, &j->call, &token, why, sizeof why);
    if (t == 0) {
        j->er->cs->inflight--; /* queued until the token arrives */
        goto done;
    }
    if (t < 0) {
        engine__job_unsent(eng, j, why);
        goto done;
    }
    int with_id = j->read == READ_VERIFY || (!j->read && j->op.with_id);
    connection_users_url(c, with_id ? j->link.target_id : NULL, &url);
    if (j->read == READ_SEARCH) {
        sc_buf_printf(&url, "?startIndex=%" PRId64 "&count=%d", j->search_start,
                      ENGINE_SEARCH_PAGE);
    } else if (!j->read && j->op.action == PLANNER_LOOKUP) {
        const char *ident = sync_rule_identifier(j->er->sr, j->desired);
        struct sc_buf f;
        sc_buf_init(&f, 0);
        struct scim_error se = {0};
        if (!ident || scim_filter_template(c->user_filter_expression, ident, &f, &se)) {
            /* Nothing to look up by: treat as absent. */
            sc_buf_free(&f);
            j->er->cs->inflight--;
            j->link.absent = 1;
            j->uncertain = 0;
            planner_op_clear(&j->op);
            job_step(j);
            goto done;
        }
        struct sc_buf f11;
        sc_buf_init(&f11, 0);
        const char *ftext = f.data;
        if (j->er->sr->dialect == SCIM_DIALECT_11 &&
            scim_dialect_filter(SCIM_DIALECT_11, f.data, &f11, &se) == SC_OK)
            ftext = f11.data;
        char *q = http_client_escape(ftext);
        sc_buf_printf(&url, "?filter=%s", q ? q : "");
        free(q);
        sc_buf_free(&f11);
        sc_buf_free(&f);
    }
    enum sc_err err = connection_request_headers(c, token, &headers);
    if (!err && !j->read && j->op.body) {
        body = j->op.body_text ? j->op.body_text : sc_json_dump(j->op.body);
        j->op.body_text = NULL; /* (written ahead when the job was loaded) */
    }
    struct http_multi_request req = {.method = j->read ? "GET" : j->op.method,
                                     .url = url.data,
                                     .headers = (const char *const *)headers,
                                     .body = body,
                                     .body_len = body ? strlen(body) : 0,
                                     .timeout_ms = ENGINE_CALL_TIMEOUT};
    if (!err)
        err = http_multi_add(eng->multi, &req, on_response, j);
    if (err) {
        snprintf(why, sizeof why, "cannot start the request: %s", sc_strerror(err));
        engine__job_unsent(eng, j, why);
    }
done:
    connection_headers_free(headers);
    free(body);
    sc_buf_free(&url);
}

/* ---- planning ---- */

/* Logs and records why j's user is not provisioned: it came from the rule's target
 * connection through an inbound token (loop safety, PLANNER_LOOP_BACK). */
static void job_refuse_loop(struct job *j)
{
    char msg[ERR_TEXT_MAX];
    planner_loop_reason(j->origin.token, msg, sizeof msg);
    job_log(j, "SKIP", "UNSYNCED", 0, NULL, msg);
    job_set_state(j, SYNC_STATE_UNSYNCED, msg);
}

/* Does the job's next step read the linked account back (a verify) instead of planning? */
static int job_verifies(const struct job *j)
{
    return (j->item.flags & SYNC_ITEM_VERIFY) && j->link.target_id && j->exists && j->in_scope &&
           j->enabled;
}

/* Plans the job's next call into j->op from what it knows of the user and the target.
 * Reads only the job and the rule's read-only parts (any thread). */
static enum sc_err job_plan(struct job *j, struct sc_error *e)
{
    const struct sync_rule *r = j->er->sr;
    const struct connection *c = conn_of(j);
    struct planner_input in = {
        .exists = j->exists,
        .in_scope = j->in_scope,
        .enabled = j->enabled,
        .desired = j->desired,
        .target_id = j->link.target_id,
        .sent = j->sent,
        .sent_digest = j->link.digest,
        .absent = j->link.absent,
        .uncertain = j->uncertain,
        .has_link_row = j->has_row,
        .rejected = j->rejected,
        .exclude = j->exclude,
        .mapped = r->keys,
        .nmapped = r->npaths,
        .clear = j->clear,
        .allow_create = c->allow_create,
        .allow_update = c->allow_update,
        .allow_disable = c->allow_disable,
        .remove_delete = c->remove_action == CONNECTION_REMOVE_DELETE,
        .update_put = c->update_method == CONNECTION_UPDATE_PUT || r->patch_unsupported,
        .dialect11 = r->dialect == SCIM_DIALECT_11,
        .origin_connection = j->origin.connection,
        .connection_id = c->id,
    };
    planner_op_clear(&j->op);
    return planner_plan(&in, &j->op, e);
}

/* Plans and either finishes j (no call) or dispatches its call. */
static void job_step(struct job *j)
{
    if (j->read == READ_SEARCH) {
        /* pages of a search are bounded by ENGINE_SEARCH_MAX, not by the steps */
        engine__dispatch(j->eng, &j->call);
        return;
    }
    if (++j->steps > j->max_steps) {
        if (j->conflicts >= 2 && !j->link.target_id) {
            fail_conflict_loop(j);
            return;
        }
        char msg[ERR_TEXT_MAX];
        snprintf(msg, sizeof msg,
                 "the target keeps answering in a way that does not settle this user after %d "
                 "calls; the last: %s",
                 j->steps - 1, j->last_error[0] ? j->last_error : "none");
        job_log(j, log_action_of(j), "FAILED", j->last_status, NULL, msg);
        job_set_state(j, SYNC_STATE_FAILED, msg);
        job_finish(j);
        return;
    }
    if (j->conflicts >= 3 && !j->link.target_id && j->link.absent) {
        fail_conflict_loop(j);
        return;
    }
    if (job_verifies(j)) {
        j->preplanned = 0;
        planner_op_clear(&j->op);
        j->read = READ_VERIFY;
        engine__dispatch(j->eng, &j->call);
        return;
    }
    struct sc_error e = {0};
    enum sc_err err;
    if (j->preplanned) {
        j->preplanned = 0;
        err = j->plan_err;
        e = j->plan_e;
    } else {
        err = job_plan(j, &e);
    }
    if (err) {
        job_log(j, "SKIP", "FAILED", 0, NULL, e.message);
        job_set_state(j, SYNC_STATE_FAILED, e.message);
        job_finish(j);
        return;
    }
    if (!j->op.method && j->pending && narrow_next(j)) {
        /* this piece of a narrowed write turned out to change nothing: the next one */
        j->steps--;
        job_step(j);
        return;
    }
    if (!j->op.method) {
        /* Nothing to send. */
        int changed = strcmp(j->link.state, j->op.state) != 0;
        if (j->op.next_sent)
            job_set_sent_planned(j);
        if (changed &&
            (j->has_row || j->link_dirty || strcmp(j->op.state, SYNC_STATE_OUT_OF_SCOPE) != 0)) {
            if (j->op.action == PLANNER_UNSYNCED)
                job_log_op(j, "CREATE", "UNSYNCED", 0,
                           "creating users is not allowed on this connection");
            else if (j->op.action == PLANNER_PARTIAL)
                job_log_op(j, "UPDATE", "UNSYNCED", 0,
                           "updating users is not allowed on this connection");
            else if (j->op.action == PLANNER_OUT_OF_SCOPE)
                job_log(j, "SKIP", "UNSYNCED", 0, NULL,
                        "left scope; disabling users is not allowed on this connection");
            job_settle(j);
            if (j->op.action == PLANNER_LOOP_BACK)
                job_refuse_loop(j);
        } else if (j->op.action == PLANNER_NOOP &&
                   (j->link.last_error || j->op.rejected || j->rejected)) {
            job_settle(j);
        }
        job_finish(j);
        return;
    }
    engine__dispatch(j->eng, &j->call);
}

/* Reads what j's item needs with st (the user, its source stamp, the link), evaluates the
 * user for the rule (groups from g when the rule's filter tests them), and, when the first
 * step plans, plans it. Touches only j and the rule's read-only parts (the clears come
 * from j->clear), so it runs on the engine thread or on the loader's (engine_load.c) with
 * the loader's own store connection. A failed read asks for a retry (j->retry). */
void engine__job_load(struct job *j, struct store *st, const struct directory_groups *g)
{
    const struct sync_rule *r = j->er->sr;
    const struct store_sync_item *it = &j->item;
    /* The user, its source stamp (none for a rule on groups) and its origin from one
     * read. */
    uint64_t row = 0;
    enum sc_err err = store_user_get_digest(st, it->user_id, &j->user, &row, &j->origin);
    j->stamp = err == SC_OK ? sync_rule_source(r, row) : 0;
    j->exists = err == SC_OK;
    if ((err && err != SC_ERR_NOT_FOUND) ||
        (j->exists &&
         sync_rule_eval(r, g, j->user, &j->in_scope, &j->enabled, &j->desired) != SC_OK)) {
        j->retry = 1;
        j->retry_at = sc_clock_now_ms() + 1000;
        return;
    }
    err = store_sync_link_get(st, it->rule_id, it->user_id, &j->link);
    if (err == SC_OK) {
        j->has_row = 1;
        if (j->link.sent)
            j->sent = json_loads(j->link.sent, 0, NULL);
        if (j->link.rejected) {
            json_t *doc = json_loads(j->link.rejected, 0, NULL);
            const char *stamp = json_string_value(json_object_get(doc, "stamp"));
            char now[24];
            snprintf(now, sizeof now, "%016" PRIx64, j->stamp);
            /* A change of the user or the mapping (a new stamp) tries the rejected
             * attributes again; without stamps, a changed value does (planner). */
            if (!j->stamp || !stamp || strcmp(stamp, "0000000000000000") == 0 ||
                strcmp(stamp, now) == 0)
                j->rejected = json_incref(json_object_get(doc, "attributes"));
            json_decref(doc);
        }
    } else if (err == SC_ERR_NOT_FOUND) {
        memset(&j->link, 0, sizeof j->link);
        sc_strlcpy(j->link.rule_id, it->rule_id, sizeof j->link.rule_id);
        sc_strlcpy(j->link.user_id, it->user_id, sizeof j->link.user_id);
        sc_strlcpy(j->link.state, "", sizeof j->link.state);
    } else {
        memset(&j->link, 0, sizeof j->link);
        j->retry = 1;
        j->retry_at = sc_clock_now_ms() + 1000;
        return;
    }
    if (j->user) {
        const char *un = json_string_value(json_object_get(j->user, "username"));
        if (un && (!j->link.username || strcmp(j->link.username, un) != 0)) {
            free(j->link.username);
            j->link.username = sc_strdup(un);
            if (j->has_row)
                j->link_dirty = 1;
        }
    }
    if (!job_verifies(j)) {
        j->preplanned = 1;
        j->plan_err = job_plan(j, &j->plan_e);
        if (!j->plan_err)
            planner_op_write_changes(&j->op); /* a create's log entry, written here */
        if (!j->plan_err && j->body_ahead && j->op.body)
            j->op.body_text = sc_json_dump(j->op.body);
    }
}

void engine__job_loaded(struct job *j)
{
    if (j->retry)
        job_finish(j);
    else
        job_step(j);
}

struct job **engine__job_load_next(struct job *j)
{
    return &j->load_next;
}

/* Starts a job for a leased item: appended to *to_load for the loader's thread when it
 * runs (and the rule's filter needs no groups, which only the engine thread holds),
 * loaded here otherwise. */
void engine__job_start(struct provision_engine *eng, const struct store_sync_item *it,
                       struct job **to_load)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->eng = eng;
    j->item = *it;
    j->call.kind = CALL_JOB;
    j->call.urgent = it->lane == STORE_SYNC_LANE_LIVE;
    eng->leased++;
    j->all_next = eng->all;
    if (eng->all)
        eng->all->all_prev = j;
    eng->all = j;
    j->er = engine__rule_find(eng, it->rule_id);
    if (!j->er) {
        /* The rule is no longer enabled: drop the item. */
        job_finish(j);
        return;
    }
    j->er->refs++;
    j->er->cs->leased++;
    j->call.er = j->er;
    const struct sync_rule *r = j->er->sr;
    j->max_steps = ENGINE_BASE_STEPS + ENGINE_STEPS_PER_KEY * (int)r->npaths;
    j->clear = json_incref(r->clear);
    j->body_ahead = j->er->cs->bulk_ops < 2;
    /* A lease taken before (by this or a crashed process) may have sent a create whose
     * answer was never recorded: look up before creating again. */
    j->uncertain = it->attempts > 1;
    if (!r->uses_groups && engine__loader_runs(eng)) {
        j->load_next = *to_load;
        *to_load = j;
        return;
    }
    engine__job_load(j, eng->st, r->uses_groups ? engine__groups(eng) : NULL);
    engine__job_loaded(j);
}

/* ---- committing results ---- */

void engine__flush(struct provision_engine *eng)
{
    if (!eng->finished)
        return;
    struct job *list = eng->finished;
    eng->finished = NULL;
    eng->nfinished = 0;
    eng->finished_urgent = 0;
    int64_t now = sc_clock_now_ms();
    enum sc_err err = store_begin(eng->st);
    for (struct job *j = list; j && !err; j = j->next) {
        /* The item first: its fenced update says whether the lease still holds. */
        int held = 0;
        if (j->retry)
            err = store_sync_outbox_retry(eng->st, &j->item, j->retry_at, &held);
        else
            err = store_sync_outbox_done(eng->st, &j->item, &held);
        if (err)
            break;
        if (!held) {
            /* The lease was taken over (it expired): another delivery owns the user now,
             * and this outcome must not overwrite what it records. */
            SC_WARN("engine.lease_lost", "rule=%s user=%s (outcome not applied)", j->item.rule_id,
                    j->item.user_id);
            continue;
        }
        if (j->er && j->link_dirty) {
            if (!j->link.state[0])
                sc_strlcpy(j->link.state, SYNC_STATE_PENDING, sizeof j->link.state);
            /* SYNCED (or PARTIALLY_SYNCED with what was held back recorded): what was sent
             * is what this version of the user maps to */
            j->link.source = strcmp(j->link.state, SYNC_STATE_SYNCED) == 0 ||
                                     strcmp(j->link.state, SYNC_STATE_PARTIAL) == 0
                                 ? j->stamp
                                 : 0;
            err = store_sync_link_put(eng->st, &j->link);
        }
        for (struct job_log *l = j->logs; l && !err; l = l->next) {
            struct store_sync_log_entry le = {.rule_id = j->item.rule_id,
                                              .user_id = j->item.user_id,
                                              .username = j->link.username,
                                              .action = l->action,
                                              .status = l->status,
                                              .http_status = l->http_status,
                                              .changes = l->changes,
                                              .error = l->error};
            err = store_sync_log_append(eng->st, &le);
        }
        if (!err && j->er)
            err = engine__group_user_done(eng, j->item.rule_id, j->item.user_id, j->user);
        if (!err && j->success) {
            /* once per rule per batch */
            int seen = 0;
            for (struct job *k = list; k != j && !seen; k = k->next)
                seen = k->success && strcmp(k->item.rule_id, j->item.rule_id) == 0;
            if (!seen)
                err = store_sync_rule_touch(eng->st, j->item.rule_id, now);
        }
    }
    /* quarantine changes */
    for (struct conn_state *cs = eng->conns; cs && !err; cs = cs->next) {
        if (cs->health.quarantined != cs->persisted_quarantine) {
            err = store_sync_quarantine_set(eng->st, cs->id, cs->health.quarantined,
                                            cs->health.quarantined ? "most calls fail" : NULL);
            if (!err)
                cs->persisted_quarantine = cs->health.quarantined;
        }
    }
    if (!err)
        err = store_commit(eng->st);
    else
        store_rollback(eng->st);
    if (err)
        SC_ERROR("engine.commit_failed", "error=%s (the items stay leased and are retried)",
                 sc_err_name(err));
    /* what the jobs hold is freed on the loader's thread when it runs */
    struct job *trash = NULL;
    while (list) {
        struct job *j = list;
        list = j->next;
        if (j->er)
            j->er->refs--;
        job_forget(j);
        if (engine__loader_runs(eng)) {
            j->load_next = trash;
            trash = j;
        } else {
            engine__job_release(j);
        }
    }
    if (trash)
        engine__loader_trash(eng, trash);
    engine__rules_collect(eng);
}
