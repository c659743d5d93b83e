/* The outbound allow-list (see allow.h): parsing, name and suffix matching, address and
 * CIDR matching, and the URL check used when a connection is saved. */
#include "http/allow_internal.h"
#include "base/buf.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum allow_kind { ALLOW_HOST, ALLOW_SUFFIX, ALLOW_NET4, ALLOW_NET6 };

struct allow_entry {
    enum allow_kind kind;
    char name[256];         /* HOST: the name; SUFFIX: ".example.com" */
    unsigned char addr[16]; /* NET4: 4 bytes, NET6: 16 */
    int prefix;             /* bits */
};

struct allow_list {
    struct allow_entry e[HTTP_ALLOW_MAX];
    size_t n;
    int has_net;
};

static struct allow_list *current; /* set at start, read-only afterwards */

int http_allow_active(void)
{
    return current != NULL;
}

/* Parses one entry (NUL-terminated, trimmed). 0 or -1. */
static int parse_entry(const char *s, struct allow_entry *out)
{
    memset(out, 0, sizeof *out);
    char buf[256];
    if (sc_strlcpy(buf, s, sizeof buf) >= sizeof buf || !buf[0])
        return -1;
    char *slash = strchr(buf, '/');
    long prefix = -1;
    if (slash) {
        char *end = NULL;
        *slash = '\0';
        prefix = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || prefix < 0)
            return -1;
    }
    char *a = buf;
    size_t len = strlen(a);
    if (a[0] == '[' && len > 2 && a[len - 1] == ']') {
        a[len - 1] = '\0';
        a++;
    }
    if (inet_pton(AF_INET, a, out->addr) == 1) {
        out->kind = ALLOW_NET4;
        out->prefix = prefix < 0 ? 32 : (int)prefix;
        return prefix > 32 ? -1 : 0;
    }
    if (inet_pton(AF_INET6, a, out->addr) == 1) {
        out->kind = ALLOW_NET6;
        out->prefix = prefix < 0 ? 128 : (int)prefix;
        return prefix > 128 ? -1 : 0;
    }
    if (slash)
        return -1;
    /* a host name or *.suffix: letters, digits, '-', '.', '_' */
    const char *name = a;
    if (name[0] == '*') {
        if (name[1] != '.' || !name[2])
            return -1;
        out->kind = ALLOW_SUFFIX;
        name++; /* keep the dot */
    } else {
        out->kind = ALLOW_HOST;
    }
    for (const char *p = name; *p; p++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '.' || ch == '_'))
            return -1;
    }
    sc_strlcpy(out->name, name, sizeof out->name);
    sc_str_lower(out->name);
    while (strlen(out->name) > 1 && out->name[strlen(out->name) - 1] == '.')
        out->name[strlen(out->name) - 1] = '\0'; /* "example.com." is example.com */
    return 0;
}

enum sc_err http_allow_targets_set(const char *list, struct sc_error *e)
{
    if (!list || !*list) {
        free(current);
        current = NULL;
        return SC_OK;
    }
    struct allow_list *l = calloc(1, sizeof *l);
    if (!l)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        char item[300];
        if (len == 0 || len >= sizeof item) {
            free(l);
            return sc_error_set(e, SC_ERR_INVALID, "allow-targets",
                                "--allow-targets has an empty or too long entry (entries are "
                                "host names, *.suffixes, addresses and CIDR blocks, separated by "
                                "commas)");
        }
        memcpy(item, p, len);
        item[len] = '\0';
        if (l->n == HTTP_ALLOW_MAX) {
            free(l);
            return sc_error_set(e, SC_ERR_TOO_LARGE, "allow-targets",
                                "--allow-targets has more than %d entries", HTTP_ALLOW_MAX);
        }
        if (parse_entry(item, &l->e[l->n])) {
            free(l);
            return sc_error_set(e, SC_ERR_INVALID, "allow-targets",
                                "--allow-targets: '%s' is not a host name, *.suffix, IPv4 or "
                                "IPv6 address or CIDR block",
                                item);
        }
        if (l->e[l->n].kind == ALLOW_NET4 || l->e[l->n].kind == ALLOW_NET6)
            l->has_net = 1;
        l->n++;
        p += len;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == ',')
            p++;
    }
    free(current);
    current = l;
    return SC_OK;
}

static int host_allowed(const struct allow_list *l, const char *host)
{
    if (!host || !*host)
        return 0;
    char h[256];
    if (sc_strlcpy(h, host, sizeof h) >= sizeof h)
        return 0;
    sc_str_lower(h);
    size_t hl = strlen(h);
    while (hl > 1 && h[hl - 1] == '.')
        h[--hl] = '\0';
    for (size_t i = 0; i < l->n; i++) {
        const struct allow_entry *a = &l->e[i];
        if (a->kind == ALLOW_HOST && strcmp(a->name, h) == 0)
            return 1;
        if (a->kind == ALLOW_SUFFIX) {
            size_t sl = strlen(a->name); /* ".example.com" */
            if (hl > sl && strcmp(h + hl - sl, a->name) == 0)
                return 1;
        }
    }
    return 0;
}

static int prefix_equal(const unsigned char *a, const unsigned char *b, int bits)
{
    int bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)bytes) != 0)
        return 0;
    if (!rest)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

/* family AF_INET (4 bytes) or AF_INET6 (16). An IPv4-mapped IPv6 address counts as
 * its IPv4 address. */
static int addr_allowed(const struct allow_list *l, int family, const unsigned char *addr)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (family == AF_INET6 && memcmp(addr, mapped, 12) == 0) {
        family = AF_INET;
        addr += 12;
    }
    for (size_t i = 0; i < l->n; i++) {
        const struct allow_entry *a = &l->e[i];
        if ((a->kind == ALLOW_NET4 && family == AF_INET) ||
            (a->kind == ALLOW_NET6 && family == AF_INET6))
            if (prefix_equal(a->addr, addr, a->prefix))
                return 1;
    }
    return 0;
}

int http_allow_check_addr(const char *host, const struct sockaddr *sa, char *why, size_t n)
{
    const struct allow_list *l = current;
    if (!l || host_allowed(l, host))
        return 0;
    char text[INET6_ADDRSTRLEN] = "?";
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        if (addr_allowed(l, AF_INET, (const unsigned char *)&s4->sin_addr))
            return 0;
        inet_ntop(AF_INET, &s4->sin_addr, text, sizeof text);
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        if (addr_allowed(l, AF_INET6, s6->sin6_addr.s6_addr))
            return 0;
        inet_ntop(AF_INET6, &s6->sin6_addr, text, sizeof text);
    }
    snprintf(why, n, "destination %s is not allowed by --allow-targets", text);
    return -1;
}

int http_allow_check_url(const char *url, char *why, size_t n)
{
    const struct allow_list *l = current;
    if (!l)
        return 0;
    int rc = -1;
    char *host = NULL;
    CURLU *u = curl_url();
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host) {
        snprintf(why, n, "the URL has no host, so it is not allowed by --allow-targets");
        goto done;
    }
    char h[256];
    sc_strlcpy(h, host, sizeof h);
    size_t hl = strlen(h);
    if (h[0] == '[' && hl > 2 && h[hl - 1] == ']') {
        memmove(h, h + 1, hl - 2);
        h[hl - 2] = '\0';
    }
    char *pct = strchr(h, '%'); /* an IPv6 zone id */
    if (pct)
        *pct = '\0';
    unsigned char addr[16];
    if (host_allowed(l, h)) {
        rc = 0;
    } else if (inet_pton(AF_INET, h, addr) == 1) {
        rc = addr_allowed(l, AF_INET, addr) ? 0 : -1;
    } else if (inet_pton(AF_INET6, h, addr) == 1) {
        rc = addr_allowed(l, AF_INET6, addr) ? 0 : -1;
    } else {
        rc = l->has_net ? 0 : -1; /* its addresses are checked when connecting */
    }
    if (rc)
        snprintf(why, n, "destination %s is not allowed by --allow-targets", h);
done:
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

/* libcurl's open-socket callback: the last point before connect(), with the address
 * DNS gave. */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct http__allow_ctx *ctx = clientp;
    if (purpose == CURLSOCKTYPE_IPCXN &&
        http_allow_check_addr(ctx->host, &a->addr, ctx->why, sizeof ctx->why)) {
        ctx->refused = 1;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

void http__allow_setup(void *easy, struct http__allow_ctx *ctx, const char *url)
{
    memset(ctx, 0, sizeof *ctx);
    if (!current)
        return;
    char *host = NULL;
    CURLU *u = curl_url();
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host) {
        const char *h = host;
        size_t hl = strlen(h);
        if (h[0] == '[' && hl > 2) {
            h++;
            hl -= 2;
        }
        if (hl >= sizeof ctx->host)
            hl = 0; /* too long to be a name the list holds */
        memcpy(ctx->host, h, hl);
        ctx->host[hl] = '\0';
    }
    curl_free(host);
    curl_url_cleanup(u);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, ctx);
}
