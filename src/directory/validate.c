/* Validation of directory input: the user fields of SPEC §2 (known keys, types, sizes,
 * email form, ISO 3166-1 alpha-2 country codes, population reference), with errors
 * naming the dotted field. */
#include "directory/directory.h"
#include "directory/directory_internal.h"
#include "base/buf.h"

#include <string.h>

/* The 249 officially assigned ISO 3166-1 alpha-2 codes, two letters each. */
static const char countries[] =
    "ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZCACCCDCFCGCH"
    "CICKCLCMCNCOCRCUCVCWCXCYCZDEDJDKDMDODZECEEEGEHERESETFIFJFKFMFOFRGAGBGDGEGFGGGHGIGLGMGN"
    "GPGQGRGSGTGUGWGYHKHMHNHRHTHUIDIEILIMINIOIQIRISITJEJMJOJPKEKGKHKIKMKNKPKRKWKYKZLALBLCLI"
    "LKLRLSLTLULVLYMAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMTMUMVMWMXMYMZNANCNENFNGNINLNONPNRNUNZOM"
    "PAPEPFPGPHPKPLPMPNPRPSPTPWPYQARERORSRURWSASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZTCTD"
    "TFTGTHTJTKTLTMTNTOTRTTTVTWTZUAUGUMUSUYUZVAVCVEVGVIVNVUWFWSYEYTZAZMZW";

const struct directory_field directory_user_fields[] = {
    {"username", 1},
    {"name.given", 0},
    {"name.family", 0},
    {"name.formatted", 0},
    {"nickname", 0},
    {"title", 0},
    {"type", 0},
    {"email", 0},
    {"primaryPhone", 0},
    {"externalId", 0},
    {"address.streetAddress", 0},
    {"address.locality", 0},
    {"address.region", 0},
    {"address.postalCode", 0},
    {"address.countryCode", 0},
    {NULL, 0},
};

int directory_country_valid(const char *code)
{
    if (!code || strlen(code) != 2)
        return 0;
    char up[3] = {code[0], code[1], 0};
    for (int i = 0; i < 2; i++) {
        if (up[i] >= 'a' && up[i] <= 'z')
            up[i] = (char)(up[i] - 'a' + 'A');
        if (up[i] < 'A' || up[i] > 'Z')
            return 0;
    }
    for (size_t i = 0; countries[i]; i += 2)
        if (countries[i] == up[0] && countries[i + 1] == up[1])
            return 1;
    return 0;
}

int directory_email_valid(const char *s)
{
    if (!s)
        return 0;
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@'))
        return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == ',' || *p == ';' ||
            *p == '"' || *p == '\\')
            return 0;
    const char *domain = at + 1;
    const char *dot = strrchr(domain, '.');
    if (!dot || dot == domain || dot[1] == '\0' || strstr(domain, "..") || domain[0] == '.' ||
        domain[0] == '-')
        return 0;
    return 1;
}

static int has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 1;
    return 0;
}

/* Checks one string field (value is present and not null). */
static enum sc_err check_text(const char *field, const json_t *v, struct sc_error *e)
{
    if (!json_is_string(v))
        return sc_error_set(e, SC_ERR_INVALID, field, "%s must be a string", field);
    const char *s = json_string_value(v);
    if (json_string_length(v) > DIRECTORY_MAX_FIELD)
        return sc_error_set(e, SC_ERR_TOO_LARGE, field, "%s is too long (at most %d bytes)", field,
                            DIRECTORY_MAX_FIELD);
    if (has_control(s) || strlen(s) != json_string_length(v))
        return sc_error_set(e, SC_ERR_INVALID, field, "%s must not contain control characters",
                            field);
    if (strcmp(field, "username") == 0) {
        if (!*s)
            return sc_error_set(e, SC_ERR_INVALID, field, "username must not be empty");
        if (strchr(s, ' '))
            return sc_error_set(e, SC_ERR_INVALID, field, "username must not contain spaces");
    } else if (strcmp(field, "email") == 0) {
        if (*s && !directory_email_valid(s))
            return sc_error_set(e, SC_ERR_INVALID, field,
                                "email '%.100s' is not an email address (name@example.com)", s);
    } else if (strcmp(field, "address.countryCode") == 0) {
        if (*s && !directory_country_valid(s))
            return sc_error_set(e, SC_ERR_INVALID, field,
                                "address.countryCode '%.20s' is not an ISO 3166-1 alpha-2 code "
                                "(such as US, GB, DE)",
                                s);
    }
    return SC_OK;
}

static int known_field(const char *path)
{
    for (const struct directory_field *f = directory_user_fields; f->path; f++)
        if (strcmp(f->path, path) == 0)
            return 1;
    return 0;
}

/* Checks the keys of a nested object ("name" or "address") of a user body. */
static enum sc_err check_nested(const char *prefix, const json_t *obj, struct sc_error *e)
{
    if (!json_is_object(obj))
        return sc_error_set(e, SC_ERR_INVALID, prefix, "%s must be an object", prefix);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        char path[SC_ERROR_FIELD_MAX];
        snprintf(path, sizeof path, "%s.%s", prefix, key);
        if (!known_field(path))
            return sc_error_set(e, SC_ERR_INVALID, path, "unknown field '%s'", path);
        if (json_is_null(v))
            continue;
        enum sc_err rc = check_text(path, v, e);
        if (rc)
            return rc;
    }
    return SC_OK;
}

enum sc_err directory_user_check(const json_t *in, int partial, struct sc_error *e)
{
    if (!json_is_object(in))
        return sc_error_set(e, SC_ERR_INVALID, NULL, "a user must be a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)in, key, v)
    {
        enum sc_err rc = SC_OK;
        if (strcmp(key, "name") == 0 || strcmp(key, "address") == 0) {
            if (json_is_null(v))
                continue;
            rc = check_nested(key, v, e);
        } else if (strcmp(key, "enabled") == 0) {
            if (!json_is_boolean(v))
                rc = sc_error_set(e, SC_ERR_INVALID, key, "enabled must be true or false");
        } else if (strcmp(key, "population") == 0) {
            if (!json_is_object(v))
                rc = sc_error_set(e, SC_ERR_INVALID, key,
                                  "population must be an object with \"id\" or \"name\"");
            else
                rc = directory__check_ref(v, "population", e);
        } else if (strcmp(key, "id") == 0 || strcmp(key, "createdAt") == 0 ||
                   strcmp(key, "updatedAt") == 0) {
            rc = sc_error_set(e, SC_ERR_INVALID, key, "%s is assigned by the server", key);
        } else if (known_field(key)) {
            if (json_is_null(v) && strcmp(key, "username") != 0)
                continue;
            rc = check_text(key, v, e);
        } else {
            rc = sc_error_set(e, SC_ERR_INVALID, key, "unknown field '%s'", key);
        }
        if (rc)
            return rc;
    }
    if (!partial) {
        if (!json_object_get(in, "username"))
            return sc_error_set(e, SC_ERR_INVALID, "username", "username is required");
        if (!json_object_get(in, "population"))
            return sc_error_set(e, SC_ERR_INVALID, "population",
                                "population is required: {\"id\": ...} or {\"name\": ...}");
    }
    return SC_OK;
}

enum sc_err directory__check_ref(const json_t *ref, const char *field, struct sc_error *e)
{
    const char *key;
    json_t *v;
    int n = 0;
    json_object_foreach((json_t *)ref, key, v)
    {
        char path[SC_ERROR_FIELD_MAX];
        snprintf(path, sizeof path, "%s.%s", field, key);
        if (strcmp(key, "id") != 0 && strcmp(key, "name") != 0)
            return sc_error_set(e, SC_ERR_INVALID, path, "unknown field '%s'", path);
        if (json_is_null(v))
            continue;
        if (!json_is_string(v) || json_string_length(v) == 0)
            return sc_error_set(e, SC_ERR_INVALID, path, "%s must be a non-empty string", path);
        if (json_string_length(v) > DIRECTORY_MAX_NAME)
            return sc_error_set(e, SC_ERR_TOO_LARGE, path, "%s is too long", path);
        n++;
    }
    if (n == 0)
        return sc_error_set(e, SC_ERR_INVALID, field, "%s needs \"id\" or \"name\"", field);
    return SC_OK;
}

enum sc_err directory__check_name(const json_t *v, const char *field, size_t max, int flags,
                                  struct sc_error *e)
{
    int required = flags & DIRECTORY__REQUIRED;
    if (!v || json_is_null(v)) {
        if (required)
            return sc_error_set(e, SC_ERR_INVALID, field, "%s is required", field);
        return SC_OK;
    }
    if (!json_is_string(v))
        return sc_error_set(e, SC_ERR_INVALID, field, "%s must be a string", field);
    if (json_string_length(v) > max)
        return sc_error_set(e, SC_ERR_TOO_LARGE, field, "%s is too long (at most %zu bytes)", field,
                            max);
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v) || ((flags & DIRECTORY__NAME) && has_control(s)))
        return sc_error_set(e, SC_ERR_INVALID, field, "%s must not contain control characters",
                            field);
    if ((flags & DIRECTORY__NAME) && !*s)
        return sc_error_set(e, SC_ERR_INVALID, field, "%s must not be empty", field);
    return SC_OK;
}
