/* The directory attribute and filter operator tables (see fields.h). Labels are the
 * seed's display names where it has one (SPEC §2); the others follow its style. */
#include "directory/fields.h"
#include "base/buf.h"

#include <string.h>

#define SRC DIRECTORY_FIELD_SOURCE
#define FLT DIRECTORY_FIELD_FILTER
#define SCOPE DIRECTORY_FIELD_SCOPE

static const struct directory_field fields[] = {
    {"username", "Username", SRC | FLT},
    {"name.given", "Given Name", SRC | FLT},
    {"name.family", "Family Name", SRC | FLT},
    {"name.formatted", "Formatted", SRC | FLT},
    {"nickname", "Nickname", SRC | FLT},
    {"title", "Title", SRC | FLT},
    {"type", "Type", SRC | FLT},
    {"email", "Email Address", SRC | FLT},
    {"primaryPhone", "Primary Phone", SRC | FLT},
    {"externalId", "External ID", SRC | FLT},
    {"address.streetAddress", "Street Address", SRC | FLT},
    {"address.locality", "Locality", SRC | FLT},
    {"address.region", "Region", SRC | FLT},
    {"address.postalCode", "Postal Code", SRC | FLT},
    {"address.countryCode", "Country Code", SRC | FLT},
    {"enabled", "Enabled", SRC | FLT},
    {"id", "User ID", SRC | FLT},
    {"createdAt", "Created At", SRC | FLT},
    {"updatedAt", "Updated At", SRC | FLT},
    {"population.name", "Population Name", SRC | FLT | SCOPE},
    {"group", "Group", FLT | SCOPE},
    {"population.id", "Population ID", SRC | FLT | SCOPE},
};

#define N_FIELDS (sizeof fields / sizeof fields[0])

static const struct directory_operator operators[] = {
    {"EQUALS", "Equals", 1},
    {"NOT_EQUALS", "Does not equal", 1},
    {"STARTS_WITH", "Starts with", 1},
    {"ENDS_WITH", "Ends with", 1},
    {"CONTAINS", "Contains", 1},
    {"IN", "Is one of (comma separated)", 1},
    {"IS_NULL", "Is empty", 0},
    {"IS_NOT_NULL", "Is not empty", 0},
    {"MATCHES", "Matches (regular expression)", 1},
};

#define N_OPERATORS (sizeof operators / sizeof operators[0])

size_t directory_field_count(void)
{
    return N_FIELDS;
}

const struct directory_field *directory_field_at(size_t i)
{
    return i < N_FIELDS ? &fields[i] : NULL;
}

const struct directory_field *directory_field_find(const char *name, size_t len, unsigned uses)
{
    if (!name)
        return NULL;
    if (len == 0)
        len = strlen(name);
    for (size_t i = 0; i < N_FIELDS; i++) {
        if ((fields[i].uses & uses) != uses)
            continue;
        if (strlen(fields[i].name) == len && sc_strncaseeq(fields[i].name, name, len))
            return &fields[i];
    }
    return NULL;
}

size_t directory_operator_count(void)
{
    return N_OPERATORS;
}

const struct directory_operator *directory_operator_at(size_t i)
{
    return i < N_OPERATORS ? &operators[i] : NULL;
}
