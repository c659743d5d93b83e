/* The static schema tables of RFC 7643: core User (§4.1), Group (§4.2), the Enterprise
 * User extension (§4.3), and the common attributes id, externalId and meta (§3.1),
 * with the resource types User and Group. Look-ups by name and URN live here too. */
#include "scim/schema.h"
#include "scim/scim_internal.h"
#include "base/buf.h"

#include <string.h>

static const char *const ref_external[] = {"external", NULL};
static const char *const ref_uri[] = {"uri", NULL};
static const char *const ref_user_group[] = {"User", "Group", NULL};
static const char *const ref_user[] = {"User", NULL};
static const char *const canon_email_type[] = {"work", "home", "other", NULL};
static const char *const canon_phone_type[] = {"work",  "home",  "mobile", "fax",
                                               "pager", "other", NULL};
static const char *const canon_im_type[] = {"aim",   "gtalk", "icq",   "xmpp", "msn",
                                            "skype", "qq",    "yahoo", NULL};
static const char *const canon_photo_type[] = {"photo", "thumbnail", NULL};
static const char *const canon_addr_type[] = {"work", "home", "other", NULL};
static const char *const canon_group_type[] = {"direct", "indirect", NULL};
static const char *const canon_member_type[] = {"User", "Group", NULL};
static const char *const canon_resource_type[] = {"User", "Group", NULL};

#define STR(n, d)                                                                                  \
    {                                                                                              \
        .name = n, .type = SCIM_T_STRING, .description = d                                         \
    }
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define COMPLEX(a) .type = SCIM_T_COMPLEX, .sub_attrs = a, .n_sub_attrs = NELEM(a)

static const struct scim_attr name_subs[] = {
    STR("formatted", "The full name, formatted for display."),
    STR("familyName", "The family name (last name in most Western languages)."),
    STR("givenName", "The given name (first name in most Western languages)."),
    STR("middleName", "The middle name(s)."),
    STR("honorificPrefix", "The honorific prefix(es), e.g. 'Ms.'."),
    STR("honorificSuffix", "The honorific suffix(es), e.g. 'III'."),
};

/* Sub-attributes of the generic multi-valued attributes (value, display, type,
 * primary), one table per canonical-type list. */
#define MULTI_SUBS(var, value_type, value_refs, canon)                                             \
    static const struct scim_attr var[] = {                                                        \
        {.name = "value",                                                                          \
         .type = value_type,                                                                       \
         .reference_types = value_refs,                                                            \
         .description = "The value."},                                                             \
        STR("display", "A human-readable name, primarily used for display."),                      \
        {.name = "type",                                                                           \
         .type = SCIM_T_STRING,                                                                    \
         .canonical_values = canon,                                                                \
         .description = "A label indicating the value's function."},                               \
        {.name = "primary",                                                                        \
         .type = SCIM_T_BOOLEAN,                                                                   \
         .description = "Whether this is the primary value; true at most once."},                  \
    }

MULTI_SUBS(email_subs, SCIM_T_STRING, NULL, canon_email_type);
MULTI_SUBS(phone_subs, SCIM_T_STRING, NULL, canon_phone_type);
MULTI_SUBS(im_subs, SCIM_T_STRING, NULL, canon_im_type);
MULTI_SUBS(photo_subs, SCIM_T_REFERENCE, ref_external, canon_photo_type);
MULTI_SUBS(plain_subs, SCIM_T_STRING, NULL, NULL);
MULTI_SUBS(cert_subs, SCIM_T_BINARY, NULL, NULL);

static const struct scim_attr address_subs[] = {
    STR("formatted", "The full mailing address, formatted for display."),
    STR("streetAddress", "The full street address."),
    STR("locality", "The city or locality."),
    STR("region", "The state or region."),
    STR("postalCode", "The zip code or postal code."),
    STR("country", "The country name (ISO 3166-1 alpha-2)."),
    {.name = "type",
     .type = SCIM_T_STRING,
     .canonical_values = canon_addr_type,
     .description = "A label indicating the address's function."},
    {.name = "primary", .type = SCIM_T_BOOLEAN, .description = "The primary address."},
};

static const struct scim_attr user_group_subs[] = {
    {.name = "value",
     .type = SCIM_T_STRING,
     .mutability = SCIM_MUT_READ_ONLY,
     .description = "The identifier of the group."},
    {.name = "$ref",
     .type = SCIM_T_REFERENCE,
     .reference_types = ref_user_group,
     .mutability = SCIM_MUT_READ_ONLY,
     .description = "The URI of the group."},
    {.name = "display",
     .type = SCIM_T_STRING,
     .mutability = SCIM_MUT_READ_ONLY,
     .description = "The group's display name."},
    {.name = "type",
     .type = SCIM_T_STRING,
     .canonical_values = canon_group_type,
     .mutability = SCIM_MUT_READ_ONLY,
     .description = "direct or indirect membership."},
};

static const struct scim_attr user_attrs[] = {
    {.name = "userName",
     .type = SCIM_T_STRING,
     .required = 1,
     .uniqueness = SCIM_UNIQ_SERVER,
     .description = "Unique identifier for the User, used to authenticate."},
    {.name = "name", COMPLEX(name_subs), .description = "The components of the user's name."},
    STR("displayName", "The name of the User, suitable for display."),
    STR("nickName", "The casual way to address the user."),
    {.name = "profileUrl",
     .type = SCIM_T_REFERENCE,
     .reference_types = ref_external,
     .description = "A URI of the User's online profile."},
    STR("title", "The user's title, such as 'Vice President'."),
    STR("userType", "The relationship to the organization, e.g. 'Employee'."),
    STR("preferredLanguage", "The preferred written or spoken language."),
    STR("locale", "The default location, for localising."),
    STR("timezone", "The time zone in the IANA format, e.g. 'Europe/Paris'."),
    {.name = "active", .type = SCIM_T_BOOLEAN, .description = "The user's administrative status."},
    {.name = "password",
     .type = SCIM_T_STRING,
     .mutability = SCIM_MUT_WRITE_ONLY,
     .returned = SCIM_RET_NEVER,
     .description = "The user's cleartext password, write-only."},
    {.name = "emails",
     .multi_valued = 1,
     COMPLEX(email_subs),
     .description = "Email addresses for the user."},
    {.name = "phoneNumbers",
     .multi_valued = 1,
     COMPLEX(phone_subs),
     .description = "Phone numbers for the user."},
    {.name = "ims",
     .multi_valued = 1,
     COMPLEX(im_subs),
     .description = "Instant messaging addresses."},
    {.name = "photos", .multi_valued = 1, COMPLEX(photo_subs), .description = "URLs of photos."},
    {.name = "addresses",
     .multi_valued = 1,
     COMPLEX(address_subs),
     .description = "A physical mailing address for this user."},
    {.name = "groups",
     .multi_valued = 1,
     .mutability = SCIM_MUT_READ_ONLY,
     COMPLEX(user_group_subs),
     .description = "The groups the user belongs to (direct or indirect)."},
    {.name = "entitlements",
     .multi_valued = 1,
     COMPLEX(plain_subs),
     .description = "Entitlements for the user."},
    {.name = "roles", .multi_valued = 1, COMPLEX(plain_subs), .description = "Roles."},
    {.name = "x509Certificates",
     .multi_valued = 1,
     COMPLEX(cert_subs),
     .description = "DER-encoded X.509 certificates (base64)."},
};

static const struct scim_attr member_subs[] = {
    {.name = "value",
     .type = SCIM_T_STRING,
     .mutability = SCIM_MUT_IMMUTABLE,
     .description = "The identifier of the member."},
    {.name = "$ref",
     .type = SCIM_T_REFERENCE,
     .reference_types = ref_user_group,
     .mutability = SCIM_MUT_IMMUTABLE,
     .description = "The URI of the member."},
    {.name = "type",
     .type = SCIM_T_STRING,
     .canonical_values = canon_member_type,
     .mutability = SCIM_MUT_IMMUTABLE,
     .description = "User or Group."},
    STR("display", "The member's display name."),
};

static const struct scim_attr group_attrs[] = {
    {.name = "displayName",
     .type = SCIM_T_STRING,
     .required = 1,
     .description = "A human-readable name for the Group."},
    {.name = "members",
     .multi_valued = 1,
     COMPLEX(member_subs),
     .description = "A list of members of the Group."},
};

static const struct scim_attr manager_subs[] = {
    {.name = "value", .type = SCIM_T_STRING, .description = "The id of the manager's User."},
    {.name = "$ref",
     .type = SCIM_T_REFERENCE,
     .reference_types = ref_user,
     .description = "The URI of the manager's User."},
    {.name = "displayName",
     .type = SCIM_T_STRING,
     .mutability = SCIM_MUT_READ_ONLY,
     .description = "The manager's display name."},
};

static const struct scim_attr enterprise_attrs[] = {
    STR("employeeNumber", "A string identifier assigned by the organization."),
    STR("costCenter", "The name of a cost center."),
    STR("organization", "The name of an organization."),
    STR("division", "The name of a division."),
    STR("department", "The name of a department."),
    {.name = "manager", COMPLEX(manager_subs), .description = "The user's manager."},
};

static const struct scim_attr meta_subs[] = {
    {.name = "resourceType",
     .type = SCIM_T_STRING,
     .case_exact = 1,
     .canonical_values = canon_resource_type,
     .mutability = SCIM_MUT_READ_ONLY,
     .description = "The name of the resource type."},
    {.name = "created",
     .type = SCIM_T_DATETIME,
     .mutability = SCIM_MUT_READ_ONLY,
     .description = "When the resource was added."},
    {.name = "lastModified",
     .type = SCIM_T_DATETIME,
     .mutability = SCIM_MUT_READ_ONLY,
     .description = "When the resource was last changed."},
    {.name = "location",
     .type = SCIM_T_REFERENCE,
     .case_exact = 1,
     .reference_types = ref_uri,
     .mutability = SCIM_MUT_READ_ONLY,
     .description = "The URI of the resource."},
    {.name = "version",
     .type = SCIM_T_STRING,
     .case_exact = 1,
     .mutability = SCIM_MUT_READ_ONLY,
     .description = "The version (ETag) of the resource."},
};

static const struct scim_attr common_attrs[] = {
    {.name = "id",
     .type = SCIM_T_STRING,
     .case_exact = 1,
     .mutability = SCIM_MUT_READ_ONLY,
     .returned = SCIM_RET_ALWAYS,
     .uniqueness = SCIM_UNIQ_SERVER,
     .description = "The service provider's unique identifier of the resource."},
    {.name = "externalId",
     .type = SCIM_T_STRING,
     .case_exact = 1,
     .description = "The client's identifier of the resource."},
    {.name = "meta",
     .mutability = SCIM_MUT_READ_ONLY,
     COMPLEX(meta_subs),
     .description = "Resource metadata."},
};

static const struct scim_schema user_schema = {
    .id = SCIM_SCHEMA_USER,
    .name = "User",
    .description = "User Account",
    .attrs = user_attrs,
    .n_attrs = NELEM(user_attrs),
};

static const struct scim_schema group_schema = {
    .id = SCIM_SCHEMA_GROUP,
    .name = "Group",
    .description = "Group",
    .attrs = group_attrs,
    .n_attrs = NELEM(group_attrs),
};

static const struct scim_schema enterprise_schema = {
    .id = SCIM_SCHEMA_ENTERPRISE_USER,
    .name = "EnterpriseUser",
    .description = "Enterprise User",
    .attrs = enterprise_attrs,
    .n_attrs = NELEM(enterprise_attrs),
};

static const struct scim_schema common_schema = {
    .id = "urn:ietf:params:scim:schemas:common:2.0",
    .name = "Common",
    .description = "Attributes every resource has",
    .attrs = common_attrs,
    .n_attrs = NELEM(common_attrs),
};

static const struct scim_schema *const user_extensions[] = {&enterprise_schema};
static const int user_extension_required[] = {0};

static const struct scim_resource_type user_type = {
    .id = "User",
    .name = "User",
    .endpoint = "/Users",
    .description = "User Account",
    .schema = &user_schema,
    .extensions = user_extensions,
    .extension_required = user_extension_required,
    .n_extensions = 1,
};

static const struct scim_resource_type group_type = {
    .id = "Group",
    .name = "Group",
    .endpoint = "/Groups",
    .description = "Group",
    .schema = &group_schema,
    .extensions = NULL,
    .extension_required = NULL,
    .n_extensions = 0,
};

const struct scim_schema *scim_schema_user(void)
{
    return &user_schema;
}

const struct scim_schema *scim_schema_group(void)
{
    return &group_schema;
}

const struct scim_schema *scim_schema_enterprise_user(void)
{
    return &enterprise_schema;
}

const struct scim_schema *scim_schema_common(void)
{
    return &common_schema;
}

const struct scim_resource_type *scim_resource_type_user(void)
{
    return &user_type;
}

const struct scim_resource_type *scim_resource_type_group(void)
{
    return &group_type;
}

const struct scim_schema *scim_schema_find(const char *urn)
{
    static const struct scim_schema *const all[] = {&user_schema, &group_schema,
                                                    &enterprise_schema};
    if (!urn)
        return NULL;
    for (size_t i = 0; i < NELEM(all); i++)
        if (sc_strcaseeq(all[i]->id, urn))
            return all[i];
    return NULL;
}

const struct scim_resource_type *scim_resource_type_find(const char *name)
{
    static const struct scim_resource_type *const all[] = {&user_type, &group_type};
    if (!name)
        return NULL;
    for (size_t i = 0; i < NELEM(all); i++)
        if (sc_strcaseeq(all[i]->name, name) || sc_strcaseeq(all[i]->endpoint, name))
            return all[i];
    return NULL;
}

static const struct scim_attr *find_in(const struct scim_attr *attrs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (sc_strcaseeq(attrs[i].name, name))
            return &attrs[i];
    return NULL;
}

const struct scim_attr *scim_schema_attr(const struct scim_schema *s, const char *name)
{
    if (!s || !name)
        return NULL;
    return find_in(s->attrs, s->n_attrs, name);
}

const struct scim_attr *scim_attr_sub(const struct scim_attr *a, const char *name)
{
    if (!a || !name || a->type != SCIM_T_COMPLEX)
        return NULL;
    return find_in(a->sub_attrs, a->n_sub_attrs, name);
}

const char *scim_type_name(enum scim_type t)
{
    switch (t) {
    case SCIM_T_STRING:
        return "string";
    case SCIM_T_BOOLEAN:
        return "boolean";
    case SCIM_T_DECIMAL:
        return "decimal";
    case SCIM_T_INTEGER:
        return "integer";
    case SCIM_T_DATETIME:
        return "dateTime";
    case SCIM_T_REFERENCE:
        return "reference";
    case SCIM_T_COMPLEX:
        return "complex";
    case SCIM_T_BINARY:
        return "binary";
    }
    return "string";
}

/* ---- helpers shared by the module (scim_internal.h) ---- */

json_t *scim__obj_get(const json_t *obj, const char *name, const char **key_out)
{
    if (!json_is_object(obj) || !name)
        return NULL;
    void *it = json_object_iter_at((json_t *)obj, name);
    if (it) {
        if (key_out)
            *key_out = json_object_iter_key(it);
        return json_object_iter_value(it);
    }
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)obj, k, x)
    {
        if (sc_strcaseeq(k, name)) {
            if (key_out)
                *key_out = k;
            return x;
        }
    }
    return NULL;
}

int scim__name_valid(const char *name, size_t n)
{
    if (n == 0)
        return 0;
    unsigned char c0 = (unsigned char)name[0];
    if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z') || c0 == '$'))
        return 0;
    for (size_t i = 1; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '$'))
            return 0;
    }
    return 1;
}

int scim__split_attr(const char *text, char *urn, char *name, char *sub)
{
    urn[0] = name[0] = sub[0] = '\0';
    if (!text || !*text)
        return -1;
    const char *rest = text;
    if (sc_strncaseeq(text, "urn:", 4)) {
        const char *colon = strrchr(text, ':');
        size_t ulen = (size_t)(colon - text);
        if (ulen >= 2 * SCIM__NAME_MAX || ulen < 5)
            return -1;
        memcpy(urn, text, ulen);
        urn[ulen] = '\0';
        rest = colon + 1;
    }
    const char *dot = strchr(rest, '.');
    size_t nlen = dot ? (size_t)(dot - rest) : strlen(rest);
    if (nlen >= SCIM__NAME_MAX || !scim__name_valid(rest, nlen))
        return -1;
    memcpy(name, rest, nlen);
    name[nlen] = '\0';
    if (dot) {
        const char *s = dot + 1;
        size_t slen = strlen(s);
        if (slen >= SCIM__NAME_MAX || !scim__name_valid(s, slen))
            return -1;
        memcpy(sub, s, slen + 1);
    }
    return 0;
}

int scim__is_extension(const struct scim_resource_type *rt, const struct scim_schema *s)
{
    if (!rt || !s)
        return 0;
    for (size_t i = 0; i < rt->n_extensions; i++)
        if (rt->extensions[i] == s)
            return 1;
    return 0;
}

int scim__find_attr(const struct scim_resource_type *rt, const char *urn, const char *name,
                    const struct scim_schema **schema, const struct scim_attr **attr)
{
    const struct scim_attr *a = NULL;
    const struct scim_schema *s = NULL;
    if (!rt)
        return -1;
    if (urn && *urn) {
        if (sc_strcaseeq(urn, rt->schema->id)) {
            s = rt->schema;
            a = scim_schema_attr(s, name);
            if (!a) {
                s = &common_schema;
                a = scim_schema_attr(s, name);
            }
        } else {
            for (size_t i = 0; i < rt->n_extensions && !a; i++) {
                if (sc_strcaseeq(urn, rt->extensions[i]->id)) {
                    s = rt->extensions[i];
                    a = scim_schema_attr(s, name);
                }
            }
        }
    } else {
        s = rt->schema;
        a = scim_schema_attr(s, name);
        if (!a) {
            s = &common_schema;
            a = scim_schema_attr(s, name);
        }
        for (size_t i = 0; i < rt->n_extensions && !a; i++) {
            s = rt->extensions[i];
            a = scim_schema_attr(s, name);
        }
    }
    if (!a)
        return -1;
    if (schema)
        *schema = s;
    if (attr)
        *attr = a;
    return 0;
}

int scim_schema_resolve(const struct scim_resource_type *rt, const char *path,
                        const struct scim_schema **schema, const struct scim_attr **attr,
                        const struct scim_attr **sub)
{
    char urn[2 * SCIM__NAME_MAX], name[SCIM__NAME_MAX], subname[SCIM__NAME_MAX];
    const struct scim_schema *s = NULL;
    const struct scim_attr *a = NULL, *sa = NULL;
    if (scim__split_attr(path, urn, name, subname) < 0)
        return -1;
    if (scim__find_attr(rt, urn, name, &s, &a) < 0)
        return -1;
    if (subname[0]) {
        sa = scim_attr_sub(a, subname);
        if (!sa)
            return -1;
    }
    if (schema)
        *schema = s;
    if (attr)
        *attr = a;
    if (sub)
        *sub = sa;
    return 0;
}

const json_t *scim__container(const struct scim_resource_type *rt, const json_t *resource,
                              const char *urn, const char *name)
{
    if (!json_is_object(resource))
        return NULL;
    if (urn && *urn) {
        if (sc_strcaseeq(urn, SCIM_SCHEMA_USER) || sc_strcaseeq(urn, SCIM_SCHEMA_GROUP))
            return resource;
        return scim__obj_get(resource, urn, NULL);
    }
    if (!rt)
        return resource;
    const struct scim_schema *s = NULL;
    if (scim__find_attr(rt, NULL, name, &s, NULL) < 0)
        return resource; /* unknown attribute: look at the top level */
    if (scim__is_extension(rt, s))
        return scim__obj_get(resource, s->id, NULL);
    return resource;
}

static unsigned char fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

int scim__contains(const char *hay, size_t hn, const char *needle, size_t nn, int case_exact)
{
    if (nn == 0)
        return 1;
    if (nn > hn)
        return 0;
    for (size_t i = 0; i + nn <= hn; i++) {
        size_t j = 0;
        if (case_exact) {
            if (memcmp(hay + i, needle, nn) == 0)
                return 1;
            continue;
        }
        while (j < nn && fold((unsigned char)hay[i + j]) == fold((unsigned char)needle[j]))
            j++;
        if (j == nn)
            return 1;
    }
    return 0;
}
