/* Loop safety: an inbound token can name the connection that is its source's own (the
 * identity provider as an outbound target too). Users the token creates join the
 * token's population, so no rule towards that connection may take that population in:
 * a rule whose filter may select its users (userfilter_population_match says all or
 * depends) is refused, whichever comes second, the mark on the token or the rule. */
#include "inbound/inbound.h"
#include "base/buf.h"
#include "directory/userfilter.h"
#include "store/store.h"
#include "store/store_directory.h"
#include "store/store_inbound.h"
#include "store/store_provision.h"

#include <stdlib.h>
#include <string.h>

/* Whether filter (a rule's filter spec, NULL = none) may take in users of population
 * pop_id: 1 may, 0 does not, -1 with e filled when it cannot be told. */
static int may_take(struct store *st, const json_t *filter, const char *pop_id, struct sc_error *e)
{
    struct userfilter *f = NULL;
    json_t *pop = NULL;
    if (!filter || json_is_null(filter))
        return 0;
    if (userfilter_compile(filter, &f, e))
        return 0; /* a filter that does not compile is the rule's own error */
    enum sc_err rc = store_population_get(st, pop_id, &pop);
    if (rc) {
        userfilter_free(f);
        if (rc == SC_ERR_NOT_FOUND)
            return 0;
        sc_error_set(e, rc, NULL, "the population cannot be read");
        return -1;
    }
    int m = userfilter_population_match(f, pop_id, json_string_value(json_object_get(pop, "name")));
    json_decref(pop);
    userfilter_free(f);
    return m != 0;
}

enum sc_err inbound_loop_check_rule(struct store *st, const char *connection_id,
                                    const json_t *filter, const char *field, struct sc_error *e)
{
    struct store_inbound_token *list = NULL;
    size_t n = 0;
    enum sc_err rc;
    if (!connection_id || !*connection_id || !filter)
        return SC_OK;
    if ((rc = store_inbound_token_list(st, &list, &n)))
        return sc_error_set(e, rc, NULL, "the inbound tokens cannot be read");
    for (size_t i = 0; i < n && rc == SC_OK; i++) {
        if (strcmp(list[i].source_connection, connection_id) != 0)
            continue;
        struct sc_error fe = {0};
        int m = may_take(st, filter, list[i].population_id, &fe);
        if (m < 0) {
            *e = fe;
            rc = fe.code;
        } else if (m) {
            rc = sc_error_set(e, SC_ERR_CONFLICT, field,
                              "the connection is the own of inbound token '%s' (its users "
                              "come from there): a rule towards it may not take in their "
                              "population",
                              list[i].name);
        }
    }
    free(list);
    return rc;
}

enum sc_err inbound_loop_check_token(struct store *st, const char *connection_id,
                                     const char *population_id, struct sc_error *e)
{
    char(*ids)[SC_UUID_LEN + 1] = NULL;
    size_t n = 0;
    enum sc_err rc = store_rule_ids_by_target(st, connection_id, &ids, &n);
    if (rc)
        return sc_error_set(e, rc, NULL, "the rules cannot be read");
    for (size_t i = 0; i < n && rc == SC_OK; i++) {
        struct store_rule r;
        memset(&r, 0, sizeof r);
        if ((rc = store_rule_get(st, ids[i], &r))) {
            if (rc == SC_ERR_NOT_FOUND) {
                rc = SC_OK;
                continue;
            }
            sc_error_set(e, rc, NULL, "the rules cannot be read");
            break;
        }
        json_t *filter = r.filter ? json_loads(r.filter, 0, NULL) : NULL;
        struct sc_error fe = {0};
        int m = may_take(st, filter, population_id, &fe);
        json_decref(filter);
        if (m < 0) {
            *e = fe;
            rc = fe.code;
        } else if (m) {
            rc = sc_error_set(e, SC_ERR_CONFLICT, "sourceConnection",
                              "the rule '%s' towards that connection takes in the token's "
                              "population: its users would go back where they came from",
                              r.name ? r.name : r.id);
        }
        store_rule_clear(&r);
    }
    free(ids);
    return rc;
}

enum sc_err inbound_loop_check_rule_change(struct store *st, const char *rule_id,
                                           const json_t *filter, const char *target,
                                           struct sc_error *e)
{
    struct store_rule r;
    memset(&r, 0, sizeof r);
    json_t *stored = NULL;
    enum sc_err rc = SC_OK;
    if (rule_id) {
        rc = store_rule_get(st, rule_id, &r);
        if (rc == SC_ERR_NOT_FOUND)
            return SC_OK; /* the rule's own handler answers 404 */
        if (rc)
            return sc_error_set(e, rc, NULL, "the rule cannot be read");
        if (!filter && r.filter)
            filter = stored = json_loads(r.filter, 0, NULL);
        if (!target)
            target = r.target_id;
    }
    rc = inbound_loop_check_rule(st, target, filter, stored ? "target" : "filter", e);
    json_decref(stored);
    store_rule_clear(&r);
    return rc;
}
