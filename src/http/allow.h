/* Outbound destinations: the operator's allow-list (`scimitar serve --allow-targets`)
 * for every connection the HTTP clients make (SCIM base URLs, OAuth token URLs, Test
 * Connection). Entries are host names ("scim.example.com"), suffixes ("*.example.com":
 * any name below example.com, not example.com itself), IPv4 and IPv6 addresses and
 * CIDR blocks ("10.1.2.3", "192.0.2.0/24", "2001:db8::/32", "[::1]"). A destination
 * is allowed when the URL's host matches a name or suffix, or when the address the
 * connection is about to be made to (after DNS, checked in libcurl's open-socket
 * callback, so a name that resolves somewhere else cannot slip through) is in an
 * address or block. No list (the default) allows everything. The list is set once at
 * start, before any thread connects, and only read afterwards. */
#ifndef SC_HTTP_ALLOW_H
#define SC_HTTP_ALLOW_H

#include "base/err.h"

#include <stddef.h>
#include <sys/socket.h>

#define HTTP_ALLOW_MAX 64 /* entries in one list */

/* Parses list (comma-separated entries, spaces around them ignored) and makes it the
 * process's allow-list; NULL or "" removes it (everything allowed). Errors:
 * SC_ERR_INVALID with e->field "allow-targets" and the offending entry in the message;
 * SC_ERR_TOO_LARGE past HTTP_ALLOW_MAX entries. On error the previous list stays. */
enum sc_err http_allow_targets_set(const char *list, struct sc_error *e);

/* Returns 1 when an allow-list is in force. */
int http_allow_active(void);

/* Save-time check of url: 0 when its host matches a name or suffix, is an address in
 * the list, or is a name while the list has address entries (its addresses are checked
 * when connecting); -1 with why ("destination 10.1.2.3 is not allowed by
 * --allow-targets") otherwise, and for a URL whose host cannot be read. */
int http_allow_check_url(const char *url, char *why, size_t n);

/* Connect-time check: 0 when host (the URL's host, without brackets; may be NULL) or
 * the address sa is allowed, -1 with why otherwise. */
int http_allow_check_addr(const char *host, const struct sockaddr *sa, char *why, size_t n);

#endif
