/* Provisioning connections (SPEC §3): an outbound SCIM target with its authentication,
 * preferences and custom headers. A connection lives in three forms:
 *   - the API JSON of docs/api.md (secrets shown as "********"),
 *   - a normalized "document" (the same JSON, every field present with the seed's
 *     defaults, secrets in clear) used while validating and merging a PATCH,
 *   - struct connection, the typed form the engine and Test Connection send with
 *     (secrets decrypted).
 * In the database the document is stored with its secrets sealed (provision/secrets.h).
 * Validation errors name the dotted field ("scim.baseUrl", "auth.accessToken",
 * "preferences.removeAction", "headers.X-Api-Key") and never quote a secret. */
#ifndef SC_PROVISION_CONNECTION_H
#define SC_PROVISION_CONNECTION_H

#include "base/buf.h"
#include "base/err.h"
#include "base/id.h"
#include "store/store.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct secrets_key;

#define CONNECTION_SECRET_MASK "********"
#define CONNECTION_NAME_MAX 256
#define CONNECTION_DESCRIPTION_MAX 4096
#define CONNECTION_URL_MAX 2048
#define CONNECTION_SECRET_MAX 8192
#define CONNECTION_MAX_HEADERS 32
#define CONNECTION_MAX_RPS 100000
#define CONNECTION_MAX_CONCURRENCY 1024

enum connection_auth_method {
    CONNECTION_AUTH_NONE = 0,
    CONNECTION_AUTH_BEARER,             /* "OAUTH2_BEARER": typeHeader + accessToken */
    CONNECTION_AUTH_BASIC,              /* "BASIC": username + password */
    CONNECTION_AUTH_CLIENT_CREDENTIALS, /* "OAUTH2_CLIENT_CREDENTIALS": tokenUrl, clientId,
                                           clientSecret, scope -> a bearer token */
};

/* How the client authenticates at the token endpoint (RFC 6749 §2.3.1): one of the two,
 * never both ("auth.tokenEndpointAuthMethod"). */
enum connection_token_auth {
    CONNECTION_TOKEN_AUTH_BASIC = 0, /* "client_secret_basic": HTTP Basic (the default) */
    CONNECTION_TOKEN_AUTH_POST,      /* "client_secret_post": client_id and client_secret in
                                        the form body */
};

/* A token endpoint's expires_in is clamped to this (one day): a token is renewed at
 * least daily, and a huge value cannot overflow a lifetime in milliseconds. */
#define CONNECTION_TOKEN_MAX_LIFETIME_S 86400

enum connection_remove_action { CONNECTION_REMOVE_DISABLE = 0, CONNECTION_REMOVE_DELETE };
enum connection_update_method { CONNECTION_UPDATE_PATCH = 0, CONNECTION_UPDATE_PUT };

struct connection_header {
    char *name;
    char *value; /* secret, in clear */
};

/* The typed connection, secrets decrypted. Every string is owned and non-NULL unless
 * noted; free with connection_free. Treat as read-only once loaded. */
struct connection {
    char id[SC_UUID_LEN + 1];
    char *name;
    char *description;
    int enabled;
    /* scim */
    char *base_url;        /* without a trailing '/' */
    char *users_resource;  /* "/Users" */
    char *groups_resource; /* "/Groups" */
    char *version;         /* "2.0" or "1.1" */
    /* auth: strings of other methods are NULL */
    enum connection_auth_method auth_method;
    char *access_token; /* secret; BEARER */
    char *type_header;  /* "Bearer", "OAuth", "Basic" or a custom scheme word; BEARER */
    char *username;     /* BASIC */
    char *password;     /* secret; BASIC */
    char *token_url;    /* CLIENT_CREDENTIALS */
    char *client_id;
    char *client_secret; /* secret */
    char *scope;         /* may be NULL */
    enum connection_token_auth token_auth;
    /* preferences */
    char *user_filter_expression; /* a SCIM filter template with exactly one %s */
    char *user_identifier;        /* a target attribute name as written ("userName") */
    char *user_identifier_path;   /* the SCIM path it stands for ("userName",
                                     "emails[type eq \"work\"].value") */
    enum connection_remove_action remove_action;
    int allow_create, allow_update, allow_disable;
    enum connection_update_method update_method;
    int64_t max_requests_per_second; /* 0 = no limit */
    int64_t max_concurrency;         /* 0 = no limit */
    int use_bulk; /* SCIM Bulk may carry writes where the target offers it ("useBulk") */
    struct connection_header *headers;
    size_t nheaders;
    int64_t created_at, updated_at; /* ms since the epoch */
};

/* Returns a new document holding every field with its default (name "", baseUrl "",
 * auth.method OAUTH2_BEARER, typeHeader Bearer, the seed's preferences, no headers). */
json_t *connection_doc_defaults(void);

/* Validates input (a POST body when current is NULL, else a PATCH body merged over the
 * document current) and returns the resulting full document in *out (new; secrets in
 * clear). Merge rules: nested objects (scim, auth, preferences) merge key by key; a
 * key set to null is reset to its default (auth strings: cleared); "headers" replaces
 * the whole map. A secret sent as "********" keeps current's value (refused on create
 * with no stored value). Unknown fields, wrong types, values out of range, missing
 * method-specific fields (accessToken for OAUTH2_BEARER, username+password for BASIC,
 * tokenUrl+clientId+clientSecret for OAUTH2_CLIENT_CREDENTIALS), a baseUrl that is not
 * an http(s) URL, a userFilterExpression without exactly one %s or that does not parse
 * as a SCIM filter once filled, a userIdentifier that is not a target attribute name:
 * SC_ERR_INVALID with e->field dotted. Stored secrets are bound to the origin (scheme,
 * host, port) they were entered for: when input moves scim.baseUrl to another origin,
 * every stored secret that would be sent there (the access token, the password, the
 * client secret whose token goes there, every header value) must be sent again, and
 * when it moves auth.tokenUrl the client secret must; one kept instead (sent as the
 * mask or left out) is SC_ERR_INVALID naming it ("the SCIM base URL's host changed:
 * enter the OAuth Access Token again"). "id", "type", "createdAt", "updatedAt" in input
 * are accepted when they equal the stored values (so a GET body can be sent back), and
 * "enabled" is applied. */
enum sc_err connection_doc_merge(const json_t *current, const json_t *input, json_t **out,
                                 struct sc_error *e);

/* Returns the API JSON (new) of a document: id, type, timestamps added, every secret
 * that is set replaced by "********". id may be NULL (unsaved connection). */
json_t *connection_doc_to_api(const json_t *doc, const char *id, int64_t created_at,
                              int64_t updated_at);

/* Returns non-zero when changing from doc a to doc b must start a full resync of the
 * rules that target the connection (SPEC §5.4): scim, auth, preferences or headers
 * differ, or enabled went from false to true. Name and description do not count. */
int connection_doc_needs_resync(const json_t *a, const json_t *b);

/* Copies the document into a new struct connection (*out; connection_free). id may be
 * NULL. Errors: SC_ERR_INVALID when doc is not a valid document, SC_ERR_NOMEM. */
enum sc_err connection_from_doc(const json_t *doc, const char *id, struct connection **out,
                                struct sc_error *e);

/* Frees c, wiping its secrets. NULL is a no-op. */
void connection_free(struct connection *c);

/* Storage with sealed secrets. connection_seal_doc returns a new copy of doc with every
 * secret replaced by its sealed form; connection_open_doc the reverse (a new document
 * with secrets in clear). Errors: those of secrets_seal / secrets_open. */
enum sc_err connection_seal_doc(const struct secrets_key *k, const json_t *doc, json_t **out,
                                struct sc_error *e);
enum sc_err connection_open_doc(const struct secrets_key *k, const json_t *sealed, json_t **out,
                                struct sc_error *e);

/* Checks that k opens every sealed secret of the stored document sealed (each is
 * decrypted and wiped at once; nothing is kept or shown). *n gets how many there are
 * (0: none, so nothing could be checked). Errors: those of secrets_open (SC_ERR_CRYPTO:
 * k is not the key that sealed them; SC_ERR_PARSE: a value is not sealed), SC_ERR_NOMEM. */
enum sc_err connection_check_sealed(const struct secrets_key *k, const json_t *sealed, size_t *n,
                                    struct sc_error *e);

/* Loads the stored connection id with its secrets decrypted. *doc_out (may be NULL) is
 * the new document; *conn_out (may be NULL) the new typed form. Errors:
 * SC_ERR_NOT_FOUND, SC_ERR_CRYPTO (wrong key), SC_ERR_DB. */
enum sc_err connection_load(struct store *st, const struct secrets_key *k, const char *id,
                            json_t **doc_out, struct connection **conn_out, struct sc_error *e);

/* Names of the secret fields, as dotted document paths ("auth.accessToken", ...);
 * NULL-terminated, static. Header values are secret too. */
extern const char *const connection_secret_fields[];

/* Helpers for sending. */

/* Appends the URL of the users resource: base_url + users_resource (+ "/" + id when id
 * is not NULL, percent-encoded). */
enum sc_err connection_users_url(const struct connection *c, const char *id, struct sc_buf *out);

/* Appends the Authorization header line for c to out ("Authorization: Bearer x"):
 * BEARER: "<typeHeader> <accessToken>"; CLIENT_CREDENTIALS: "Bearer <token>" with the
 * token given (fetched with connection_fetch_token; NULL: no line); BASIC: "Basic
 * base64(user:pass)"; NONE: appends nothing. The line holds a secret: wipe it after use. */
enum sc_err connection_auth_header(const struct connection *c, const char *token,
                                   struct sc_buf *out);

/* Builds the NULL-terminated header line array for a request to c: Accept and
 * Content-Type (application/scim+json), Authorization (see connection_auth_header), and
 * the custom headers. *out is new: free with connection_headers_free (it wipes). */
enum sc_err connection_request_headers(const struct connection *c, const char *token, char ***out);
void connection_headers_free(char **lines);

/* OAuth 2 client credentials (RFC 6749 §4.4), in two halves so a caller with its own
 * event loop (the engine's libcurl multi) can send the request without blocking. */

/* A token request ready to send: POST body (application/x-www-form-urlencoded) to url
 * with the header lines. Everything owned; the headers and the body may hold the client
 * secret (connection_token_req_clear wipes them). */
struct connection_token_req {
    char *url;      /* c->token_url */
    char **headers; /* NULL-terminated "Name: value" lines: Content-Type, Accept, and with
                       client_secret_basic "Authorization: Basic base64(id:secret)" */
    char *body;     /* grant_type=client_credentials[&scope=...], and with
                       client_secret_post &client_id=...&client_secret=... */
    size_t body_len;
};

/* Builds the token request of c (auth method OAUTH2_CLIENT_CREDENTIALS): the client
 * authenticates with HTTP Basic (client_secret_basic, the default) or in the form body
 * (client_secret_post), as c->token_auth says, never both. *out is filled on success
 * (connection_token_req_clear); zeroed on failure. Errors: SC_ERR_INVALID (field
 * "auth.method": not client credentials), SC_ERR_NOMEM. */
enum sc_err connection_token_request(const struct connection *c, struct connection_token_req *out,
                                     struct sc_error *e);

/* Wipes and frees what r holds (not r itself) and zeroes it. NULL is a no-op. */
void connection_token_req_clear(struct connection_token_req *r);

/* Interprets the token endpoint's answer: status (0 when no answer arrived; then
 * transport_error, may be NULL, says why) and body (len bytes, may be NULL). On success
 * *token is the new access token (new; secrets_wipe_free it) and *expires_in_s its
 * lifetime in seconds (0 when the server did not say; expires_in as a number or a
 * string of digits, clamped to CONNECTION_TOKEN_MAX_LIFETIME_S). Errors (never with a
 * secret in e): SC_ERR_UNAVAILABLE (status 0: "cannot reach the token URL"),
 * SC_ERR_AUTH (400/401/403, field "auth.clientSecret": check the Client ID and Client
 * Secret), SC_ERR_HTTP (another status, or no access_token in the answer; field
 * "auth.tokenUrl"), SC_ERR_NOMEM. */
enum sc_err connection_token_parse(long status, const char *body, size_t len,
                                   const char *transport_error, char **token, int64_t *expires_in_s,
                                   struct sc_error *e);

/* Fetches a token with the blocking client: connection_token_request, one POST, then
 * connection_token_parse (whose results and errors it gives, and SC_ERR_TIMEOUT when
 * the token URL did not answer in time). timeout_ms 0 = 15000. */
enum sc_err connection_fetch_token(const struct connection *c, long timeout_ms, char **token,
                                   int64_t *expires_in_s, struct sc_error *e);

/* Masking credentials in texts a target sent back (error bodies, Test Connection
 * details). Masked are c's stored secrets (access token, password, client secret,
 * custom header values), the credentials derived from them (the HTTP Basic "user:pass"
 * and its base64, for BASIC and for the client credentials' token request), the
 * fetched access token given as token (may be NULL), and the forms each takes inside
 * a JSON string or a URL. Secrets shorter than 4 bytes are not masked. c may be NULL
 * (only token then). Each stretch of masked bytes becomes "********" (or as many '*'
 * as it had bytes when shorter), so the text never grows. */

/* Masks in s (in place, NUL-terminated). NULL s is a no-op. */
void connection_scrub_with(const struct connection *c, const char *token, char *s);

/* connection_scrub_with without a fetched token. */
void connection_scrub(const struct connection *c, char *s);

/* Writes into out (cap bytes, cap > 0) the text of in (in_len bytes, any bytes) made
 * safe to show or store: valid UTF-8 (an invalid sequence or a NUL becomes U+FFFD),
 * masked as connection_scrub_with says, and only then cut to at most cap - 1 bytes at
 * a character boundary, so a secret cut in two by the limit never shows. Always
 * NUL-terminates out. The whole input is scanned (linear in in_len). */
void connection_error_text(const struct connection *c, const char *token, const char *in,
                           size_t in_len, char *out, size_t cap);

#endif
