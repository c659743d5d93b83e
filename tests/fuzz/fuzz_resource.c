/* libFuzzer harness: resources and protocol messages as a client sends them: validation
 * for create / replace / after PATCH against User and Group, projection of what was
 * accepted, and the SearchRequest and BulkRequest parsers. A validated resource must
 * validate again to the same JSON (normalisation is idempotent). */
#include "base/json.h"
#include "scim/message.h"
#include "scim/schema.h"
#include "fuzz_common.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void validate(const struct scim_resource_type *rt, const json_t *in,
                     enum scim_validate_mode mode, const json_t *existing)
{
    json_t *out = NULL, *again = NULL, *proj = NULL;
    if (scim_resource_validate(rt, in, mode, existing, &out, NULL) != SC_OK)
        return;
    if (scim_resource_validate(rt, out, SCIM_VALIDATE_PATCHED, NULL, &again, NULL) != SC_OK ||
        !json_equal(out, again))
        abort();
    if (scim_resource_project(rt, out, "userName,name.givenName,emails.value", NULL, &proj, NULL) ==
        SC_OK)
        json_decref(proj);
    proj = NULL;
    if (scim_resource_project(rt, out, NULL, "emails,meta," SCIM_SCHEMA_ENTERPRISE_USER, &proj,
                              NULL) == SC_OK)
        json_decref(proj);
    json_decref(again);
    json_decref(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *in = NULL;
    if (sc_json_parse((const char *)data, size, 0, &in, NULL) != SC_OK)
        return 0;
    const struct scim_resource_type *ut = scim_resource_type_user();
    const struct scim_resource_type *gt = scim_resource_type_group();
    validate(ut, in, SCIM_VALIDATE_CREATE, NULL);
    validate(ut, in, SCIM_VALIDATE_REPLACE, fuzz_user());
    validate(ut, in, SCIM_VALIDATE_PATCHED, NULL);
    validate(gt, in, SCIM_VALIDATE_CREATE, NULL);
    validate(gt, in, SCIM_VALIDATE_REPLACE, fuzz_group());
    struct scim_search s;
    scim_search_init(&s);
    scim_search_parse_json(in, &s, NULL);
    scim_search_free(&s);
    struct scim_bulk_request *req = NULL;
    if (scim_bulk_parse(in, 0, &req, NULL) == SC_OK) {
        for (size_t i = 0; i < req->count; i++) {
            const char *ref = scim_bulk_find_ref(req->ops[i].data);
            if (ref)
                scim_bulk_replace_ref(req->ops[i].data, ref, "id");
        }
        scim_bulk_request_free(req);
    }
    struct scim_error err;
    scim_error_from_json(in, 400, &err);
    int64_t total;
    json_t *res;
    scim_list_response_parse(in, &total, &res, NULL);
    json_decref(in);
    return 0;
}
