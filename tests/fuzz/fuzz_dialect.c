/* libFuzzer harness: the SCIM 1.1 dialect, on both sides of the wire. As JSON, the input
 * is a 1.1 body a client sends (strict check, conversion to 2.0: what the 1.1 target
 * accepts converts back to 1.1 and is accepted again), a 1.1 PATCH applied to the fixture
 * User and Group (the input resource never changes, a result is a valid resource), a 1.1
 * answer read as a resource, a list or an error, and {"old":{...},"new":{...}} flat sets
 * for the 1.1 PATCH builder (what it builds passes the strict check). As text, the input
 * is a filter and an attribute name converted both ways: a converted filter converts
 * back to the same text once canonical. */
#include "base/buf.h"
#include "base/json.h"
#include "scim/dialect.h"
#include "scim/filter.h"
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A 1.1 body for create: if the strict check and the 2.0 validation accept it, the
 * validated resource converts to 1.1, passes the check again and validates again. */
static void create_round_trip(const struct scim_resource_type *rt, const json_t *in)
{
    json_t *v20 = NULL, *valid = NULL, *v11 = NULL, *back = NULL, *again = NULL;
    if (scim_dialect_check_11(rt, in, 0, NULL) != SC_OK ||
        scim_dialect_resource_from_11(rt, in, &v20, NULL) != SC_OK)
        goto done;
    if (scim_resource_validate(rt, v20, SCIM_VALIDATE_CREATE, NULL, &valid, NULL) != SC_OK)
        goto done;
    if (scim_dialect_resource_to_11(valid, &v11, NULL) != SC_OK ||
        scim_dialect_check_11(rt, v11, 0, NULL) != SC_OK ||
        scim_dialect_resource_from_11(rt, v11, &back, NULL) != SC_OK ||
        scim_resource_validate(rt, back, SCIM_VALIDATE_CREATE, NULL, &again, NULL) != SC_OK)
        abort();
done:
    json_decref(v20);
    json_decref(valid);
    json_decref(v11);
    json_decref(back);
    json_decref(again);
}

static void patch_to(const struct scim_resource_type *rt, const json_t *res, const json_t *body)
{
    json_t *before = json_deep_copy(res), *out = NULL, *again = NULL, *v11 = NULL;
    if (scim_dialect_patch_apply_11(rt, res, body, &out, NULL) == SC_OK) {
        if (scim_resource_validate(rt, out, SCIM_VALIDATE_PATCHED, NULL, &again, NULL) != SC_OK ||
            scim_dialect_resource_to_11(out, &v11, NULL) != SC_OK)
            abort();
    }
    if (!json_equal(before, res))
        abort();
    json_decref(before);
    json_decref(out);
    json_decref(again);
    json_decref(v11);
}

static void builder(const json_t *in)
{
    const json_t *o = json_object_get(in, "old"), *n = json_object_get(in, "new");
    json_t *body = NULL;
    if (!json_is_object(n) || scim_dialect_patch_diff_11(o, n, &body, NULL) != SC_OK)
        return;
    if (body && scim_dialect_check_11(scim_resource_type_user(), body, 1, NULL) != SC_OK)
        abort();
    if (o && json_equal(o, n) && body)
        abort();
    if (body)
        patch_to(scim_resource_type_user(), fuzz_user(), body);
    json_decref(body);
}

/* Filter text: what converts, converts back to itself once canonical. */
static void filter_round_trip(const char *text, int from11)
{
    struct sc_buf a, b, c;
    sc_buf_init(&a, 0);
    sc_buf_init(&b, 0);
    sc_buf_init(&c, 0);
    enum sc_err (*there)(const char *, struct sc_buf *, struct scim_error *) =
        from11 ? scim_dialect_filter_from_11 : scim_dialect_filter_to_11;
    enum sc_err (*back)(const char *, struct sc_buf *, struct scim_error *) =
        from11 ? scim_dialect_filter_to_11 : scim_dialect_filter_from_11;
    /* (names may grow a little in conversion: stay well within the parser's limit) */
    if (there(text, &a, NULL) == SC_OK && a.data && a.len <= SCIM_FILTER_MAX_LEN / 2) {
        if (back(a.data, &b, NULL) != SC_OK || there(b.data, &c, NULL) != SC_OK ||
            strcmp(a.data, c.data) != 0)
            abort();
    }
    sc_buf_free(&a);
    sc_buf_free(&b);
    sc_buf_free(&c);
}

static void path_round_trip(const char *text)
{
    struct sc_buf a, b, c;
    sc_buf_init(&a, 0);
    sc_buf_init(&b, 0);
    sc_buf_init(&c, 0);
    if (scim_dialect_path_from_11(text, &a, NULL) == SC_OK && a.data) {
        if (scim_dialect_path_to_11(a.data, &b, NULL) != SC_OK ||
            scim_dialect_path_from_11(b.data, &c, NULL) != SC_OK || strcmp(a.data, c.data) != 0)
            abort();
    }
    sc_buf_free(&a);
    sc_buf_free(&b);
    sc_buf_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct scim_resource_type *ut = scim_resource_type_user();
    const struct scim_resource_type *gt = scim_resource_type_group();
    json_t *in = NULL;
    char *text = fuzz_cstr(data, size);
    if (text && strlen(text) == size && sc_utf8_valid(text, size)) {
        filter_round_trip(text, 1);
        filter_round_trip(text, 0);
        if (size < 512)
            path_round_trip(text);
    }
    free(text);
    if (sc_json_parse((const char *)data, size, 0, &in, NULL) != SC_OK)
        return 0;
    create_round_trip(ut, in);
    create_round_trip(gt, in);
    patch_to(ut, fuzz_user(), in);
    patch_to(gt, fuzz_group(), in);
    builder(in);
    json_t *out = NULL;
    if (scim_dialect_resource_read(SCIM_DIALECT_11, ut, in, &out, NULL) == SC_OK)
        json_decref(out);
    out = NULL;
    int64_t total;
    if (scim_dialect_list_read(SCIM_DIALECT_11, ut, in, &total, &out, NULL) == SC_OK)
        json_decref(out);
    out = NULL;
    if (scim_dialect_resource_to_11(in, &out, NULL) == SC_OK)
        json_decref(out);
    struct scim_error err;
    scim_error_from_json(in, 400, &err);
    json_t *e = scim_dialect_error_json(SCIM_DIALECT_11, &err);
    struct scim_error back;
    scim_error_from_json(e, 500, &back);
    if (err.status >= 100 && err.status <= 599 && back.status != err.status)
        abort();
    json_decref(e);
    json_decref(in);
    return 0;
}
