/* The SCIM 2.0 service provider's protocol handlers, shared by `scimitar target` (over
 * its own repository) and scimitar serve's /scim/v2 (over the directory): request
 * parsing, validation and PATCH through the SCIM core (src/scim), If-Match and
 * If-None-Match, filters and paging, projection, /Bulk with bulkId references, the
 * discovery documents, and the answer as application/scim+json. What is stored, and how
 * names are kept unique and group members checked, is the back-end's: a table of
 * operations (struct target_backend) on SCIM documents. A back-end's operations may run
 * on several threads at once. */
#ifndef SC_TARGET_SERVICE_H
#define SC_TARGET_SERVICE_H

#include "base/err.h"
#include "scim/dialect.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct http_request;
struct http_response;
struct scim_filter;

enum target_kind { TARGET_USER, TARGET_GROUP, TARGET__KINDS };

enum target_method { TM_GET, TM_POST, TM_PUT, TM_PATCH, TM_DELETE, TM_OTHER, TM__COUNT };

#define TARGET_ETAG_MAX 32

/* The result of one SCIM operation, for HTTP or a /Bulk operation. */
struct target_result {
    int status;
    json_t *body;               /* new: the resource, a ListResponse or a SCIM error; NULL */
    char etag[TARGET_ETAG_MAX]; /* W/"..." or "" */
    char location[320];         /* absolute URL of the resource or "" */
    const char *allow;          /* Allow header for 405 (static) or NULL */
};

/* Fills r with a SCIM error (status, optional scimType, detail) and returns -1. */
int target_error(struct target_result *r, int status, const char *scim_type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A request to one resource endpoint, independent of HTTP. */
struct target_call {
    enum target_method method;
    const char *path;     /* below the base: "/Users", "/Users/ID", "/Groups/.search" */
    json_t *body;         /* borrowed parsed body or NULL */
    const char *if_match; /* or NULL */
    const char *if_none_match;
    /* query parameters for GET */
    const char *filter, *attributes, *excluded, *start_index, *count;
};

/* Computes a changed resource from the current one (for PUT and PATCH): cur is the
 * stored document (borrowed), etag its version. On success *next is the new document
 * (new, validated; id and meta are the back-end's to set) and 0 is returned; otherwise
 * r is filled with the error and -1 is returned. */
typedef int (*target_update_fn)(void *arg, const json_t *cur, const char *etag, json_t **next,
                                struct target_result *r);

/* Whether fn (handed to a back-end's update) applies a PATCH (1) rather than a PUT's
 * replace (0): in a PATCH the members of the result are the stored ones merged with the
 * request's, in a PUT they are the request's. */
int target_update_is_patch(target_update_fn fn);

/* What a read will show, so a back-end may leave out what it would build for nothing
 * (flags of `read` below). TARGET_READ_NO_MEMBERS: a group's members are neither shown
 * (the request's attributes / excludedAttributes leave them out) nor filtered on; the
 * documents handed out may lack them, with the ETag and meta.version of the whole
 * resource all the same. A back-end may ignore the flags. */
#define TARGET_READ_NO_MEMBERS 0x1u

/* A page of a listing: skip matches, then collect up to want served documents into
 * docs (appended, each a pair [kind, doc]); total counts every match; read holds
 * TARGET_READ_* flags. */
struct target_page {
    int64_t skip, want, total;
    json_t *docs;
    unsigned read;
};

/* Whether a response projected by attributes and excludedAttributes (RFC 7644
 * §3.4.2.5; either may be NULL) shows a group's members: TARGET_READ_NO_MEMBERS when it
 * does not and filter f (may be NULL) does not test them, else 0. */
unsigned target_read_flags(const char *attributes, const char *excluded,
                           const struct scim_filter *f);

/* A back-end's operations on SCIM documents. Each returns 0, or -1 with r filled with
 * the SCIM error (404 for an unknown id, 409 uniqueness, 400 for a document the store
 * cannot take, naming the attribute, 500). Documents handed out are served documents
 * (with id and meta, and for users the readOnly groups) as new references; etag is
 * written as W/"..." (size TARGET_ETAG_MAX). */
struct target_backend {
    /* read: TARGET_READ_* flags */
    int (*get)(void *be, enum target_kind k, const char *id, unsigned read, json_t **doc,
               char *etag, struct target_result *r);
    /* doc (borrowed) is validated for create, without id and meta */
    int (*create)(void *be, enum target_kind k, const json_t *doc, json_t **out, char *etag,
                  struct target_result *r);
    /* calls fn once with the stored document, atomically with the write of its result;
     * a result with the same content leaves the resource (and its version) as it was */
    int (*update)(void *be, enum target_kind k, const char *id, target_update_fn fn, void *arg,
                  json_t **out, char *etag, struct target_result *r);
    /* if_match (or NULL) is checked against the stored version (412) */
    int (*remove)(void *be, enum target_kind k, const char *id, const char *if_match,
                  struct target_result *r);
    /* the resources of kind k that f (NULL = all) matches, in a stable order */
    int (*list)(void *be, enum target_kind k, const struct scim_filter *f, struct target_page *pg,
                struct target_result *r);
};

#define TARGET_AUTH_BEARER 0x1u /* a static bearer token */
#define TARGET_AUTH_OAUTH 0x2u  /* bearer tokens from /oauth/token */
#define TARGET_AUTH_BASIC 0x4u

/* One SCIM service: a back-end and what the protocol says of it. */
struct target_service {
    const struct target_backend *ops;
    void *be;
    const char *base_url; /* http://host:port/scim/v2, no trailing slash (borrowed) */
    int max_results;      /* filter maxResults and the largest page */
    size_t max_body;      /* Bulk maxPayloadSize */
    int bulk_max_ops;     /* Bulk maxOperations */
    enum scim_dialect dialect;
    int no_delete;                /* DELETE on /Users answers 405 */
    unsigned auth;                /* TARGET_AUTH_* advertised in /ServiceProviderConfig */
    const char *auth_bearer_text; /* its description, or NULL for the default */
    /* counters of /Bulk (may be NULL) */
    atomic_uint_fast64_t *bulk_requests, *bulk_operations, *bulk_largest;
    /* runs a /Users or /Groups call (NULL = target_service_run): a dialect's edge */
    void (*run)(void *arg, const struct target_call *c, struct target_result *r);
    void *run_arg;
};

/* Runs one operation on /Users, /Groups and their ids, /.search. */
void target_service_run(const struct target_service *s, const struct target_call *c,
                        struct target_result *r);

/* Serves POST /Bulk (body borrowed) into r. */
void target_service_bulk(const struct target_service *s, json_t *body, struct target_result *r);

/* Discovery documents: /ServiceProviderConfig, /ResourceTypes[/name],
 * /Schemas[/urn]; in SCIM 1.1 /ServiceProviderConfigs and /Schemas/Users|Groups.
 * Returns 0 when path was one of them (r filled), -1 otherwise. */
int target_service_discovery(const struct target_service *s, const char *path,
                             struct target_result *r);

/* Serves one HTTP request below the SCIM base (path is what follows the base, "/" at
 * least): the body checked (Content-Type, JSON) and parsed, /Bulk, the discovery
 * documents, then the call (s->run or target_service_run); writes the answer into res
 * (ETag, Location, Allow, 304 without body; SCIM 1.1 error bodies in that dialect). */
void target_service_http(const struct target_service *s, const struct http_request *req,
                         const char *path, struct http_response *res);

/* Writes r (its body stolen) into res as application/scim+json with its headers. */
void target_service_write(const struct target_service *s, struct http_response *res,
                          struct target_result *r);

/* Returns the method of an HTTP method name (TM_OTHER when none). */
enum target_method target_method_of(const char *m);

/* Returns 0 when if_match (NULL = none) matches etag, else fills r with 412 and
 * returns -1. */
int target_check_if_match(const char *if_match, const char *etag, struct target_result *r);

/* Writes base/Users/id or base/Groups/id into out (size n). */
void target_location(const char *base, enum target_kind k, const char *id, char *out, size_t n);

/* The resource type of kind k (the SCIM core's table). */
const struct scim_resource_type *target_rt(enum target_kind k);

#endif
