/* libFuzzer harness: SCIM attribute paths and aliases. A parsed path prints to text that
 * parses again; get, set and remove on a copy of the fixture User never crash, and a
 * successful set leaves a value that get finds (unless it was removed by null). */
#include "scim/alias.h"
#include "scim/path.h"
#include "fuzz_common.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    struct scim_path *p = NULL, *q = NULL;
    json_t *copy = NULL;
    struct sc_buf a;
    sc_buf_init(&a, 0);
    if (!text)
        goto done;
    scim_alias_check(text, NULL);
    scim_alias_resolve(text);
    if (scim_path_parse(text, &p, NULL) != SC_OK)
        goto done;
    const struct scim_resource_type *rt = scim_resource_type_user();
    if (scim_path_format(p, &a) != SC_OK)
        abort();
    /* the canonical text re-parses, unless spacing made it longer than the limit */
    if (scim_path_parse(a.data, &q, NULL) != SC_OK && a.len <= SCIM_PATH_MAX_LEN)
        abort();
    scim_path_schema(rt, p);
    scim_path_get(rt, fuzz_user(), p);
    copy = json_deep_copy(fuzz_user());
    if (scim_path_set(rt, copy, p, json_string("fuzz"), NULL) == SC_OK &&
        !scim_path_get(rt, copy, p))
        abort();
    scim_path_remove(rt, copy, p);
    scim_path_remove(rt, copy, p);
    json_decref(copy);
    copy = json_pack("{s:[s]}", "schemas", SCIM_SCHEMA_USER);
    scim_path_set(rt, copy, p, json_pack("{s:s}", "value", "v"), NULL);
    scim_path_set(scim_resource_type_group(), copy, p, json_true(), NULL);
done:
    json_decref(copy);
    scim_path_free(p);
    scim_path_free(q);
    sc_buf_free(&a);
    free(text);
    return 0;
}
