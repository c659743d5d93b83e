/* libFuzzer harness: PATCH bodies parsed and applied to the fixture User and Group. The
 * input resource never changes, and a successful result is itself a valid resource. */
#include "base/json.h"
#include "scim/patch.h"
#include "fuzz_common.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void apply_to(const struct scim_patch *p, const struct scim_resource_type *rt,
                     const json_t *res)
{
    json_t *before = json_deep_copy(res);
    json_t *out = NULL, *again = NULL;
    if (scim_patch_apply(p, rt, res, &out, NULL) == SC_OK) {
        if (scim_resource_validate(rt, out, SCIM_VALIDATE_PATCHED, NULL, &again, NULL) != SC_OK)
            abort();
    }
    if (!json_equal(before, res))
        abort();
    json_decref(again);
    json_decref(out);
    json_decref(before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = NULL, *d = NULL;
    struct scim_patch *p = NULL;
    if (sc_json_parse((const char *)data, size, 0, &body, NULL) != SC_OK)
        return 0;
    if (scim_patch_parse(body, &p, NULL) == SC_OK) {
        apply_to(p, scim_resource_type_user(), fuzz_user());
        apply_to(p, scim_resource_type_group(), fuzz_group());
    }
    /* the same JSON as attribute sets for the client-side builders */
    if (scim_patch_diff(fuzz_user(), body, &d, NULL) == SC_OK)
        json_decref(d);
    d = NULL;
    if (scim_resource_from_attrs(body, &d, NULL) == SC_OK)
        json_decref(d);
    scim_patch_free(p);
    json_decref(body);
    return 0;
}
