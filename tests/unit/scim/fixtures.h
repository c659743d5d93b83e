/* Shared fixtures for the src/scim unit tests: a full User (RFC 7643 §8.2's Barbara
 * Jensen, with a few extra attributes to exercise escapes and numbers) and a Group. */
#ifndef TEST_SCIM_FIXTURES_H
#define TEST_SCIM_FIXTURES_H

#include <jansson.h>
#include <stdlib.h>

#define FIX_USER                                                                                   \
    "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\","                                \
    "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"],"                             \
    "\"id\":\"2819c223-7f76-453a-919d-413861904646\","                                             \
    "\"externalId\":\"bjensen\","                                                                  \
    "\"userName\":\"bjensen\","                                                                    \
    "\"name\":{\"formatted\":\"Ms. Barbara J Jensen III\",\"familyName\":\"O'Malley\","            \
    "\"givenName\":\"Barbara\"},"                                                                  \
    "\"displayName\":\"Babs \\\"The\\\" Jensen\\\\\","                                             \
    "\"title\":\"Tour Guide\","                                                                    \
    "\"userType\":\"Employee\","                                                                   \
    "\"active\":true,"                                                                             \
    "\"level\":5,"                                                                                 \
    "\"emails\":[{\"value\":\"bjensen@example.com\",\"type\":\"work\",\"primary\":true},"          \
    "{\"value\":\"babs@jensen.org\",\"type\":\"home\"}],"                                          \
    "\"ims\":[{\"value\":\"someaimhandle\",\"type\":\"aim\"}],"                                    \
    "\"addresses\":[{\"type\":\"work\",\"streetAddress\":\"100 Universal City Plaza\","            \
    "\"locality\":\"Hollywood\",\"region\":\"CA\",\"postalCode\":\"91608\","                       \
    "\"country\":\"USA\",\"primary\":true}],"                                                      \
    "\"meta\":{\"resourceType\":\"User\",\"created\":\"2010-01-23T04:56:22Z\","                    \
    "\"lastModified\":\"2011-05-13T04:42:34Z\",\"version\":\"W/\\\"3694e05e9dff591\\\"\","         \
    "\"location\":\"https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646\"},"         \
    "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":{"                             \
    "\"employeeNumber\":\"701984\",\"department\":\"Tour Operations\","                            \
    "\"manager\":{\"value\":\"26118915-6090-4610-87e4-49d8ca9f808d\","                             \
    "\"displayName\":\"John Smith\"}}}"

#define FIX_GROUP                                                                                  \
    "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],"                              \
    "\"id\":\"e9e30dba-f08f-4109-8486-d5c6a331660a\","                                             \
    "\"displayName\":\"Tour Guides\","                                                             \
    "\"members\":[{\"value\":\"2819c223-7f76-453a-919d-413861904646\","                            \
    "\"$ref\":\"https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646\","              \
    "\"display\":\"Babs Jensen\"},"                                                                \
    "{\"value\":\"902c246b-6245-4190-8e05-00816be7344a\","                                         \
    "\"$ref\":\"https://example.com/v2/Users/902c246b-6245-4190-8e05-00816be7344a\","              \
    "\"display\":\"Mandy Pepperidge\"}],"                                                          \
    "\"meta\":{\"resourceType\":\"Group\",\"created\":\"2010-01-23T04:56:22Z\","                   \
    "\"lastModified\":\"2011-05-13T04:42:34Z\",\"version\":\"W/\\\"3694e05e9dff592\\\"\"}}"

/* Parses a JSON text that the test knows to be valid (NULL on a test bug). */
static inline json_t *fix_json(const char *text)
{
    json_error_t e;
    return json_loads(text, JSON_DECODE_ANY, &e);
}

#endif
