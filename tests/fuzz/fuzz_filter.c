/* libFuzzer harness: SCIM filter parsing, printing, evaluation and templates. Checks
 * invariants, not just crashes: a parsed filter prints to text that parses again and
 * prints the same, and a template filled with any valid UTF-8 value stays one `eq`
 * comparison whose value is exactly the input. */
#include "scim/filter.h"
#include "fuzz_common.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    struct scim_filter *f = NULL, *g = NULL;
    struct sc_buf a, b, t;
    sc_buf_init(&a, 0);
    sc_buf_init(&b, 0);
    sc_buf_init(&t, 0);
    if (!text)
        goto done;
    if (scim_filter_parse(text, &f, NULL) == SC_OK) {
        scim_filter_match(f, scim_resource_type_user(), fuzz_user());
        scim_filter_match(f, scim_resource_type_group(), fuzz_group());
        scim_filter_match(f, NULL, fuzz_user());
        scim_filter_check(f, scim_resource_type_user(), NULL);
        scim_filter_simple_eq(f, NULL, NULL);
        if (scim_filter_format(f, &a) != SC_OK)
            abort();
        if (scim_filter_parse(a.data, &g, NULL) != SC_OK) {
            if (a.len <= SCIM_FILTER_MAX_LEN)
                abort(); /* only spacing past the length limit may stop a re-parse */
        } else {
            if (scim_filter_format(g, &b) != SC_OK || strcmp(a.data, b.data) != 0)
                abort();
            if (scim_filter_match(f, scim_resource_type_user(), fuzz_user()) !=
                scim_filter_match(g, scim_resource_type_user(), fuzz_user()))
                abort();
        }
    }
    if (sc_utf8_valid(text, strlen(text))) {
        const char *attr = NULL, *value = NULL;
        struct scim_filter *h = NULL;
        struct sc_buf esc;
        sc_buf_init(&esc, 0);
        if (scim_filter_escape(text, &esc) != SC_OK)
            abort();
        size_t need = esc.len + strlen("username Eq \"\"");
        sc_buf_free(&esc);
        if (scim_filter_template("username Eq \"%s\"", text, &t, NULL) != SC_OK) {
            if (need <= SCIM_FILTER_MAX_LEN)
                abort(); /* only a value too long for any filter may fail */
            goto done;
        }
        if (scim_filter_parse(t.data, &h, NULL) != SC_OK)
            abort();
        if (!scim_filter_simple_eq(h, &attr, &value) || strcmp(value, text) != 0)
            abort();
        scim_filter_free(h);
    }
done:
    scim_filter_free(f);
    scim_filter_free(g);
    sc_buf_free(&a);
    sc_buf_free(&b);
    sc_buf_free(&t);
    free(text);
    return 0;
}
