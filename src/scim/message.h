/* SCIM 2.0 protocol messages (RFC 7644) without I/O: the SCIM error (status, scimType,
 * detail) that every function of src/scim reports, and the JSON bodies of Error,
 * ListResponse, PatchOp, BulkRequest / BulkResponse and SearchRequest, plus a
 * resource's `meta` and its weak ETag. Everything here is pure: JSON in, JSON out,
 * ownership as jansson's ("new" references are the caller's to json_decref,
 * "borrowed" ones are not, "stolen" ones are taken over even on failure). */
#ifndef SCIM_MESSAGE_H
#define SCIM_MESSAGE_H

#include "base/buf.h"
#include "base/err.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Schema URNs of the core schemas and of the protocol messages. */
#define SCIM_SCHEMA_USER "urn:ietf:params:scim:schemas:core:2.0:User"
#define SCIM_SCHEMA_GROUP "urn:ietf:params:scim:schemas:core:2.0:Group"
#define SCIM_SCHEMA_ENTERPRISE_USER "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define SCIM_SCHEMA_SCHEMA "urn:ietf:params:scim:schemas:core:2.0:Schema"
#define SCIM_SCHEMA_RESOURCE_TYPE "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
#define SCIM_SCHEMA_SERVICE_PROVIDER_CONFIG                                                        \
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
#define SCIM_MSG_ERROR "urn:ietf:params:scim:api:messages:2.0:Error"
#define SCIM_MSG_LIST_RESPONSE "urn:ietf:params:scim:api:messages:2.0:ListResponse"
#define SCIM_MSG_PATCH_OP "urn:ietf:params:scim:api:messages:2.0:PatchOp"
#define SCIM_MSG_BULK_REQUEST "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
#define SCIM_MSG_BULK_RESPONSE "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
#define SCIM_MSG_SEARCH_REQUEST "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

/* The scimType values of RFC 7644 §3.12 (use these constants, not literals). */
#define SCIM_TYPE_INVALID_FILTER "invalidFilter"
#define SCIM_TYPE_TOO_MANY "tooMany"
#define SCIM_TYPE_UNIQUENESS "uniqueness"
#define SCIM_TYPE_MUTABILITY "mutability"
#define SCIM_TYPE_INVALID_SYNTAX "invalidSyntax"
#define SCIM_TYPE_INVALID_PATH "invalidPath"
#define SCIM_TYPE_NO_TARGET "noTarget"
#define SCIM_TYPE_INVALID_VALUE "invalidValue"
#define SCIM_TYPE_INVALID_VERS "invalidVers"
#define SCIM_TYPE_SENSITIVE "sensitive"

#define SCIM_ERROR_TYPE_MAX 32
#define SCIM_ERROR_DETAIL_MAX 512

/* A SCIM error as the service provider returns it. Zero-initialise it ({0}); status 0
 * means "no error". scim_type is "" when the error has none (e.g. 404, 412). */
struct scim_error {
    int status;                          /* HTTP status: 400, 404, 409, 412, 413, ... */
    char scim_type[SCIM_ERROR_TYPE_MAX]; /* one of SCIM_TYPE_*, or "" */
    char detail[SCIM_ERROR_DETAIL_MAX];  /* human-readable, names the attribute */
};

/* Fills err (when not NULL) with status, scim_type (NULL = none) and a printf-style
 * detail, and returns the enum sc_err that fits status (400 -> SC_ERR_INVALID,
 * 404 -> SC_ERR_NOT_FOUND, 409/412 -> SC_ERR_CONFLICT, 413 -> SC_ERR_TOO_LARGE,
 * 401 -> SC_ERR_AUTH, 403 -> SC_ERR_FORBIDDEN, 405/501 -> SC_ERR_UNSUPPORTED,
 * others -> SC_ERR_INTERNAL), so callers can `return scim_error_set(...)`. */
enum sc_err scim_error_set(struct scim_error *err, int status, const char *scim_type,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Resets err to "no error". */
void scim_error_clear(struct scim_error *err);

/* Returns the enum sc_err that fits an HTTP status (see scim_error_set). */
enum sc_err scim_error_code(int status);

/* Copies a SCIM error into the project's struct sc_error (code from the status,
 * field = the scimType, message = the detail). */
void scim_error_to_sc(const struct scim_error *err, struct sc_error *out);

/* Returns a new Error body: {"schemas":[Error URN], "status":"400", "scimType":...,
 * "detail":...}; status is a string as RFC 7644 §3.12 shows it. NULL when out of
 * memory. */
json_t *scim_error_json(const struct scim_error *err);

/* Reads an Error body a service provider returned (any of: status as string or number,
 * scimType, detail; also SCIM 1.1's {"Errors":[{"description","code"}]}, its first
 * entry, code as a string "404" or a number) into err. http_status is used when the body
 * has no status (nor 1.1 code). Never fails: a body that is not an Error leaves detail
 * empty. */
void scim_error_from_json(const json_t *body, int http_status, struct scim_error *err);

/* Returns a new ListResponse body with totalResults, startIndex, itemsPerPage (the
 * size of resources) and Resources (stolen; NULL = empty array). NULL when out of
 * memory. */
json_t *scim_list_response_new(json_t *resources, int64_t total_results, int64_t start_index);

/* Reads a ListResponse, SCIM 2.0's or SCIM 1.1's (the same members; `schemas` is not
 * looked at): *total = totalResults (or the size of Resources when absent),
 * *resources = the Resources array (borrowed from body; an empty array is returned as
 * NULL). Error 400 invalidSyntax when body is not a ListResponse. */
enum sc_err scim_list_response_parse(const json_t *body, int64_t *total, json_t **resources,
                                     struct scim_error *err);

/* Returns a new, empty PatchOp body {"schemas":[PatchOp URN],"Operations":[]}. */
json_t *scim_patch_body_new(void);

/* Appends {"op": op, "path": path, "value": value} to a PatchOp body; path may be NULL
 * (then omitted), value may be NULL (then omitted; stolen otherwise). op is "add",
 * "replace" or "remove". 0, or -1 when out of memory. */
int scim_patch_body_add(json_t *body, const char *op, const char *path, json_t *value);

/* Limits of a SearchRequest / list query. */
#define SCIM_SEARCH_MAX_COUNT 1000
#define SCIM_SEARCH_MAX_ATTRS_LEN 4096

/* A search, from query parameters (GET /Users?filter=...) or a /.search body. All
 * strings are owned (free with scim_search_free); NULL when not given. */
struct scim_search {
    char *filter;
    char *attributes;          /* comma-separated attribute paths */
    char *excluded_attributes; /* comma-separated attribute paths */
    char *sort_by;
    int sort_descending; /* sortOrder=descending */
    int64_t start_index; /* 1-based; values < 1 are taken as 1 (RFC 7644 §3.4.2.4) */
    int64_t count;       /* -1 = not given; negative values are taken as 0 */
};

/* Initialises s to defaults (no filter, start_index 1, count -1). */
void scim_search_init(struct scim_search *s);

/* Sets one query parameter by name (filter, startIndex, count, attributes,
 * excludedAttributes, sortBy, sortOrder; names case-insensitive). Unknown names are
 * ignored (returns SC_OK). A count past SCIM_SEARCH_MAX_COUNT is clamped to it, as RFC
 * 7644 §3.4.2.4 allows. Errors: 400 invalidValue for a non-numeric startIndex or count,
 * or a sortOrder other than ascending/descending; 400 invalidFilter for a filter longer
 * than SCIM_FILTER_MAX_LEN; 400 invalidValue for attributes past
 * SCIM_SEARCH_MAX_ATTRS_LEN. */
enum sc_err scim_search_set_param(struct scim_search *s, const char *name, const char *value,
                                  struct scim_error *err);

/* Parses a /.search body (SearchRequest): schemas must list the SearchRequest URN;
 * attributes / excludedAttributes are arrays of strings (joined with commas into s).
 * s must have been initialised. Errors: 400 invalidSyntax for a wrong shape, 400
 * invalidValue for wrong member types. On failure s keeps what it had (free it). */
enum sc_err scim_search_parse_json(const json_t *body, struct scim_search *s,
                                   struct scim_error *err);

/* Frees s's strings; s can be reused after scim_search_init. */
void scim_search_free(struct scim_search *s);

/* Writes a weak ETag for a version string ("W/\"<version>\"") into out (n >= the
 * version's length + 5). Returns out. */
const char *scim_etag_format(const char *version, char *out, size_t n);

/* Computes a resource's version as W/"<16 hex digits>" from the digest of its canonical
 * JSON without "meta", into out (n >= 24). Returns out. */
const char *scim_etag_of(const json_t *resource, char *out, size_t n);

/* Returns non-zero when an If-Match / If-None-Match header value matches etag:
 * "*" matches anything; lists ("a", "b") are searched; weak and strong forms compare
 * equal (weak comparison). */
int scim_etag_match(const char *header, const char *etag);

/* Sets resource.meta = {resourceType, created, lastModified, location, version} (times
 * in ms since the epoch, written ISO-8601; location and version omitted when NULL).
 * 0, or -1 when out of memory. */
int scim_meta_set(json_t *resource, const char *resource_type, int64_t created_ms,
                  int64_t last_modified_ms, const char *location, const char *version);

/* BulkRequest limits the target advertises by default. */
#define SCIM_BULK_MAX_OPERATIONS 1000
#define SCIM_BULK_MAX_PAYLOAD (1024 * 1024)

/* One operation of a BulkRequest. Strings are owned; data is a new reference or NULL. */
struct scim_bulk_op {
    char method[8]; /* POST, PUT, PATCH or DELETE (upper-cased) */
    char *bulk_id;  /* required for POST, else optional */
    char *path;     /* "/Users", "/Users/<id>", "/Groups/bulkId:x", ... */
    char *version;  /* If-Match ETag, or NULL */
    json_t *data;   /* body for POST/PUT/PATCH, NULL for DELETE */
};

struct scim_bulk_request {
    int64_t fail_on_errors; /* 0 = not given (run everything) */
    struct scim_bulk_op *ops;
    size_t count;
};

/* Parses a BulkRequest body. max_operations (0 = SCIM_BULK_MAX_OPERATIONS) past which
 * the answer is 413 (RFC 7644 §3.7.4). Errors: 400 invalidSyntax for the wrong shape
 * (schemas, Operations array, method, path), 400 invalidValue for a missing bulkId on
 * POST, duplicate bulkIds, or missing data on POST/PUT/PATCH, 413 past max_operations.
 * On success *out is new (scim_bulk_request_free). */
enum sc_err scim_bulk_parse(const json_t *body, size_t max_operations,
                            struct scim_bulk_request **out, struct scim_error *err);

/* Frees a parsed request; NULL is a no-op. */
void scim_bulk_request_free(struct scim_bulk_request *req);

/* Returns a new BulkRequest body with failOnErrors (<= 0 = omitted) and no operations. */
json_t *scim_bulk_request_new(int64_t fail_on_errors);

/* Appends an operation to a BulkRequest body; bulk_id, version may be NULL; data is
 * stolen (NULL for DELETE). 0, or -1 when out of memory. */
int scim_bulk_request_add(json_t *body, const char *method, const char *bulk_id, const char *path,
                          const char *version, json_t *data);

/* The client side of Bulk: a BulkRequest's text written operation by operation, so a
 * client can stay under the target's maxPayloadSize (RFC 7644 §3.7: the request as a
 * whole, in bytes). Zero-initialise, or scim_bulk_writer_init. */
struct scim_bulk_writer {
    struct sc_buf text; /* the request so far (closed by scim_bulk_writer_finish) */
    size_t count;       /* operations written */
    int closed;
};

/* Starts a BulkRequest with failOnErrors (<= 0 = omitted: the target runs every
 * operation). 0, or -1 when out of memory. */
int scim_bulk_writer_init(struct scim_bulk_writer *w, int64_t fail_on_errors);

/* Appends one operation (method, bulk_id, path as for scim_bulk_request_add; version may
 * be NULL; data borrowed, NULL for DELETE) unless the closed request would then be
 * longer than max_bytes (0 = no limit). Returns 1 when appended, 0 when it would not
 * fit (w is unchanged), -1 when out of memory. */
int scim_bulk_writer_add(struct scim_bulk_writer *w, const char *method, const char *bulk_id,
                         const char *path, const char *version, const json_t *data,
                         size_t max_bytes);

/* Closes the request and returns its text (owned by w; *len its length), or NULL when
 * out of memory. Nothing may be appended after. */
const char *scim_bulk_writer_finish(struct scim_bulk_writer *w, size_t *len);

/* Frees what w holds and zeroes it. */
void scim_bulk_writer_free(struct scim_bulk_writer *w);

/* One operation's outcome in a BulkResponse, as read by scim_bulk_response_read.
 * Strings and response are borrowed from the body read. */
struct scim_bulk_result {
    char method[8];       /* POST, PUT, PATCH, DELETE as answered (upper-cased), or "" */
    const char *bulk_id;  /* or NULL */
    const char *location; /* the resource's URL, or NULL (a failed POST has none) */
    const char *version;  /* or NULL */
    int status;           /* the operation's HTTP status, 100 to 599 */
    json_t *response;     /* the body: an Error for a failure, the resource or nothing
                             (NULL) for a success */
};

/* Reads a BulkResponse body (borrowed; the results borrow from it) into *out (new
 * array, free() it; NULL when *n is 0) of *n results in the answer's order. "status" is
 * taken as RFC 7644 writes it (a string of digits) or as a number, and SCIM 1.1's
 * {"code": ...}. Errors: SC_ERR_INVALID with err filled (status 0) when body is not a
 * BulkResponse: not an object, a "schemas" that does not name the BulkResponse URN, no
 * "Operations" array, an operation that is not an object or has no status from 100 to
 * 599; SC_ERR_NOMEM. */
enum sc_err scim_bulk_response_read(const json_t *body, struct scim_bulk_result **out, size_t *n,
                                    struct scim_error *err);

/* Matches the results of a BulkResponse (res, nres) to the operations of its request,
 * which had the bulkIds bulk_ids[0..nops) (all given and distinct) and the methods
 * methods[0..nops): idx[i] is the index in res of operation i's result, or -1 when the
 * answer holds none for it. A result is matched by its bulkId (an unknown or repeated
 * one is ignored); results without a bulkId are matched in order to the operations left
 * only when they are as many and their methods (where answered) agree, as a target that
 * omits bulkIds lists its results in the request's order. Linear when the answer keeps
 * the request's order. */
void scim_bulk_response_match(const struct scim_bulk_result *res, size_t nres,
                              const char *const *bulk_ids, const char *const *methods, size_t nops,
                              long *idx);

/* Writes into out (cap bytes) the resource id a location URL ends with: its last
 * non-empty path segment (query and fragment ignored), percent-decoded. Returns 1, or 0
 * when there is none, it does not fit, or it decodes to a NUL or invalid UTF-8. */
int scim_bulk_location_id(const char *location, char *out, size_t cap);

/* Returns a new, empty BulkResponse body. */
json_t *scim_bulk_response_new(void);

/* Appends a result to a BulkResponse: method, bulkId (NULL = omitted), location and
 * version (NULL = omitted), status (written as a string), and for failures the Error
 * body in "response" (stolen; NULL = omitted). 0, or -1 when out of memory. */
int scim_bulk_response_add(json_t *body, const char *method, const char *bulk_id,
                           const char *location, const char *version, int status, json_t *response);

/* Replaces, anywhere inside v, every string "bulkId:<bulk_id>" with id (RFC 7644
 * §3.7.2). Returns how many were replaced, or -1 when out of memory. */
int scim_bulk_replace_ref(json_t *v, const char *bulk_id, const char *id);

/* Returns the bulkId named by the first "bulkId:<x>" string found inside v (borrowed
 * from v, pointing past "bulkId:"), or NULL when there is none. */
const char *scim_bulk_find_ref(const json_t *v);

#endif
