/* The target attribute alias table of SPEC §4 (see alias.h): one row per short name,
 * in the order pick lists show them. */
#include "scim/alias.h"
#include "scim/path.h"
#include "scim/scim_internal.h"
#include "base/buf.h"

#define ENT "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:"

static const struct scim_alias aliases[] = {
    {"userName", "userName", "User name", NULL},
    {"givenName", "name.givenName", "Given name", NULL},
    {"familyName", "name.familyName", "Family name", NULL},
    {"formattedName", "name.formatted", "Formatted name", NULL},
    {"nickName", "nickName", "Nickname", NULL},
    {"title", "title", "Title", NULL},
    {"userType", "userType", "User type", NULL},
    {"externalId", "externalId", "External ID", NULL},
    {"active", "active", "Active", NULL},
    {"workEmail", "emails[type eq \"work\"].value", "Work email", NULL},
    {"workPhone", "phoneNumbers[type eq \"work\"].value", "Work phone", NULL},
    {"workStreetAddress", "addresses[type eq \"work\"].streetAddress", "Work street address", NULL},
    {"workStreetAddeess", "addresses[type eq \"work\"].streetAddress", "Work street address",
     "workStreetAddress"},
    {"workCity", "addresses[type eq \"work\"].locality", "Work city", NULL},
    {"workState", "addresses[type eq \"work\"].region", "Work state", NULL},
    {"workPostalCode", "addresses[type eq \"work\"].postalCode", "Work postal code", NULL},
    {"workCountry", "addresses[type eq \"work\"].country", "Work country", NULL},
    {"department", ENT "department", "Department", NULL},
    {"division", ENT "division", "Division", NULL},
    {"manager", ENT "manager.value", "Manager (id)", NULL},
    {"employeeNumber", ENT "employeeNumber", "Employee number", NULL},
    {"costCenter", ENT "costCenter", "Cost center", NULL},
    {"organization", ENT "organization", "Organization", NULL},
};

#define N_ALIASES (sizeof aliases / sizeof aliases[0])

const struct scim_alias *scim_alias_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < N_ALIASES; i++)
        if (sc_strcaseeq(aliases[i].name, name))
            return &aliases[i];
    return NULL;
}

size_t scim_alias_count(void)
{
    return N_ALIASES;
}

const struct scim_alias *scim_alias_at(size_t i)
{
    return i < N_ALIASES ? &aliases[i] : NULL;
}

const char *scim_alias_resolve(const char *name)
{
    const struct scim_alias *a = scim_alias_find(name);
    return a ? a->path : name;
}

enum sc_err scim_alias_check(const char *name, struct scim_error *err)
{
    struct scim_path *p = NULL;
    enum sc_err rc;
    if (!name || !*name)
        return scim_error_set(err, 400, SCIM_TYPE_INVALID_PATH, "the attribute name is empty");
    if (scim_alias_find(name))
        return SC_OK;
    rc = scim_path_parse(name, &p, err);
    if (rc != SC_OK)
        return rc;
    const struct scim_resource_type *rt = scim_resource_type_user();
    const struct scim_attr *a = NULL;
    if (scim__find_attr(rt, p->schema, p->attr, NULL, &a) < 0 ||
        (p->sub && !scim_attr_sub(a, p->sub))) {
        rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_PATH,
                            "%.200s is neither a target attribute name (workEmail, ...) nor "
                            "an attribute of the SCIM User",
                            name);
    } else if (a->mutability == SCIM_MUT_READ_ONLY) {
        rc = scim_error_set(err, 400, SCIM_TYPE_MUTABILITY,
                            "%.200s is read-only on the target and cannot be mapped", name);
    } else if (p->filter && !a->multi_valued) {
        rc = scim_error_set(err, 400, SCIM_TYPE_INVALID_PATH,
                            "%.200s: a value filter needs a multi-valued attribute", name);
    }
    scim_path_free(p);
    return rc;
}
