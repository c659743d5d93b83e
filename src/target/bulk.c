/* POST /Bulk (RFC 7644 §3.7): runs the operations of a BulkRequest one by one through
 * the same code as single requests, resolves "bulkId:x" references (in paths and in
 * data, e.g. a new group's members naming users created in the same request) by
 * running an operation only once the operations it refers to have created their
 * resources, stops after failOnErrors errors, and answers a BulkResponse. Operations
 * whose references never resolve (unknown, failed or circular bulkIds) fail with 409. */
#include "target/service.h"
#include "base/id.h"
#include "base/buf.h"
#include "scim/message.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bulk_ref {
    const char *bulk_id; /* borrowed from the parsed request */
    char id[SC_UUID_LEN + 1];
};

static const char *lookup(const struct bulk_ref *refs, size_t n, const char *bulk_id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(refs[i].bulk_id, bulk_id) == 0)
            return refs[i].id;
    return NULL;
}

/* Resolves every reference of op against refs: rewrites op->data in place and the path
 * into path (size n). Returns 1 when all resolved, 0 when one is still unknown. */
static int resolve(struct scim_bulk_op *op, const struct bulk_ref *refs, size_t nrefs, char *path,
                   size_t n)
{
    const char *p = op->path;
    const char *mark = strstr(p, "bulkId:");
    if (mark) {
        const char *id = lookup(refs, nrefs, mark + 7);
        if (!id)
            return 0;
        snprintf(path, n, "%.*s%s", (int)(mark - p), p, id);
    } else {
        sc_strlcpy(path, p, n);
    }
    if (op->data) {
        const char *ref;
        while ((ref = scim_bulk_find_ref(op->data)) != NULL) {
            char want[256];
            sc_strlcpy(want, ref, sizeof want);
            const char *id = lookup(refs, nrefs, want);
            if (!id || scim_bulk_replace_ref(op->data, want, id) <= 0)
                return 0;
        }
    }
    return 1;
}

static int bulk_path_ok(const char *path)
{
    return strncmp(path, "/Users", 6) == 0 || strncmp(path, "/Groups", 7) == 0;
}

void target_service_bulk(const struct target_service *s, json_t *body, struct target_result *r)
{
    struct scim_error err = {0};
    struct scim_bulk_request *req = NULL;
    struct bulk_ref *refs = NULL;
    char *done_ops = NULL;
    json_t *out = NULL;
    size_t nrefs = 0;
    if (scim_bulk_parse(body, (size_t)s->bulk_max_ops, &req, &err)) {
        target_error(r, err.status ? err.status : 400, err.scim_type[0] ? err.scim_type : NULL,
                     "%s", err.detail);
        goto done;
    }
    if (s->bulk_requests)
        (*s->bulk_requests)++;
    if (s->bulk_operations)
        *s->bulk_operations += req->count;
    if (s->bulk_largest) {
        uint_fast64_t seen = atomic_load(s->bulk_largest);
        while (req->count > seen &&
               !atomic_compare_exchange_weak(s->bulk_largest, &seen, req->count))
            ;
    }
    refs = calloc(req->count + 1, sizeof *refs);
    done_ops = calloc(req->count + 1, 1);
    out = scim_bulk_response_new();
    if (!refs || !done_ops || !out) {
        target_error(r, 500, NULL, "out of memory");
        goto done;
    }
    int64_t errors = 0;
    int stop = 0;
    size_t remaining = req->count;
    while (remaining && !stop) {
        int progress = 0;
        for (size_t i = 0; i < req->count && !stop; i++) {
            if (done_ops[i])
                continue;
            struct scim_bulk_op *op = &req->ops[i];
            char path[512];
            if (!resolve(op, refs, nrefs, path, sizeof path))
                continue;
            done_ops[i] = 1;
            remaining--;
            progress = 1;
            struct target_result one = {0};
            if (!bulk_path_ok(path)) {
                target_error(&one, 400, SCIM_TYPE_INVALID_PATH,
                             "bulk operation path '%s' must name /Users or /Groups", op->path);
            } else {
                struct target_call c = {
                    .method = target_method_of(op->method),
                    .path = path,
                    .body = op->data,
                    .if_match = op->version,
                };
                if (s->run)
                    s->run(s->run_arg, &c, &one);
                else
                    target_service_run(s, &c, &one);
            }
            int ok = one.status >= 200 && one.status < 300;
            if (ok && op->bulk_id && strcmp(op->method, "POST") == 0) {
                const char *id = json_string_value(json_object_get(one.body, "id"));
                if (id) {
                    refs[nrefs].bulk_id = op->bulk_id;
                    sc_strlcpy(refs[nrefs].id, id, sizeof refs[nrefs].id);
                    nrefs++;
                }
            }
            scim_bulk_response_add(out, op->method, op->bulk_id,
                                   one.location[0] && op->method[0] != 'D' ? one.location : NULL,
                                   one.etag[0] ? one.etag : NULL, one.status,
                                   ok ? NULL : json_incref(one.body));
            json_decref(one.body);
            if (!ok && ++errors >= req->fail_on_errors && req->fail_on_errors > 0)
                stop = 1;
        }
        if (!progress)
            break;
    }
    /* what is left refers to bulkIds that never produced a resource */
    for (size_t i = 0; i < req->count && !stop; i++) {
        if (done_ops[i])
            continue;
        struct target_result one = {0};
        target_error(&one, 409, SCIM_TYPE_INVALID_VALUE,
                     "operation %zu refers to a bulkId that was not created in this request "
                     "(unknown, failed or circular)",
                     i);
        scim_bulk_response_add(out, req->ops[i].method, req->ops[i].bulk_id, NULL, NULL, 409,
                               one.body);
        if (++errors >= req->fail_on_errors && req->fail_on_errors > 0)
            stop = 1;
    }
    r->status = 200;
    r->body = out;
    out = NULL;
done:
    json_decref(out);
    free(refs);
    free(done_ops);
    scim_bulk_request_free(req);
}
