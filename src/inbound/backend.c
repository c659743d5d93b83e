/* The directory back-end of the shared SCIM handlers (target/service.h) and the /scim/v2
 * edge of scimitar serve. A SCIM User is a directory user: the fields the alias table
 * maps (userName, name.givenName, name.familyName, name.formatted, nickName, title,
 * userType, externalId, active, and the work (else primary, else first) element of
 * emails, phoneNumbers and addresses) are the directory's and are read from it every
 * time; everything else the client sent is kept as sent beside the user and served
 * back (password never: it is dropped). A SCIM Group is a directory group: displayName
 * is its name, members its direct members. ETags are digests of the served document (a
 * group's with its members folded in one by one, so a read that leaves them out, which
 * does not build them, has the same). Updates and removals are one transaction each,
 * written once for both kinds over a table of what each does its own way (kind_ops). */
#include "inbound/inbound.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"
#include "directory/directory.h"
#include "http/server.h"
#include "scim/filter.h"
#include "scim/message.h"
#include "scim/schema.h"
#include "store/store.h"
#include "store/store_directory.h"
#include "store/store_inbound.h"
#include "target/service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

#define PAGE 500
/* Bounds of what is kept beside a user or group (the attributes the directory has no
 * field for): the whole kept JSON, and each string in it. */
#define KEPT_MAX (64 * 1024)
#define KEPT_STRING_MAX (8 * 1024)

struct dir_be {
    struct store *st;
    const struct inbound_auth *auth;
    char base[320];
    int changed;
};

/* ---- helpers ------------------------------------------------------------------------ */

static int db_fail(struct target_result *r, enum sc_err rc, const char *what)
{
    return target_error(r, rc == SC_ERR_BUSY ? 503 : 500, NULL, "cannot %s: %s", what,
                        sc_strerror(rc));
}

/* The element of a multi-valued attribute the directory's one field stands for: the
 * one of type "work", else the primary one, else the first (borrowed; NULL when none). */
static json_t *pick(json_t *arr)
{
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x)
    {
        const char *t = json_string_value(json_object_get(x, "type"));
        if (t && sc_strcaseeq(t, "work"))
            return x;
    }
    json_array_foreach(arr, i, x)
    {
        if (json_is_true(json_object_get(x, "primary")))
            return x;
    }
    return json_array_get(arr, 0);
}

static void set_or_del(json_t *o, const char *key, json_t *v)
{
    if (v && !json_is_null(v))
        json_object_set(o, key, v);
    else
        json_object_del(o, key);
}

static json_t *sub(const json_t *o, const char *a, const char *b)
{
    return json_object_get(json_object_get(o, a), b);
}

/* Applies the directory's value for one multi-valued attribute: the picked element's
 * members (names[i] <- vals[i]) are set, or the element is dropped when every value is
 * null, or an element {type: work, ...} is added when there is none. */
static void apply_multi(json_t *doc, const char *attr, const char *const *names,
                        json_t *const *vals, size_t n, int primary)
{
    json_t *arr = json_object_get(doc, attr);
    int any = 0;
    for (size_t i = 0; i < n; i++)
        if (vals[i] && !json_is_null(vals[i]))
            any = 1;
    json_t *el = pick(arr);
    if (!any) {
        if (el) {
            size_t i;
            json_t *x;
            json_array_foreach(arr, i, x)
            {
                if (x == el) {
                    json_array_remove(arr, i);
                    break;
                }
            }
            if (json_array_size(arr) == 0)
                json_object_del(doc, attr);
        }
        return;
    }
    if (!el) {
        if (!json_is_array(arr)) {
            arr = json_array();
            json_object_set_new(doc, attr, arr);
        }
        el = json_pack("{s:s}", "type", "work");
        if (primary)
            json_object_set_new(el, "primary", json_true());
        json_array_append_new(arr, el);
    }
    for (size_t i = 0; i < n; i++)
        set_or_del(el, names[i], vals[i]);
}

/* Sets doc's meta from directory object dir with version etag (computed already). */
static void put_meta(json_t *doc, const char *type, const json_t *dir, const char *etag)
{
    json_t *meta = json_pack("{s:s}", "resourceType", type);
    set_or_del(meta, "created", json_object_get(dir, "createdAt"));
    set_or_del(meta, "lastModified", json_object_get(dir, "updatedAt"));
    json_object_set_new(meta, "version", json_string(etag));
    json_object_set_new(doc, "meta", meta);
}

/* Sets doc's meta, its version (into etag) the digest of doc without meta. */
static void set_meta(json_t *doc, const char *type, const json_t *dir, char *etag)
{
    json_object_del(doc, "meta");
    scim_etag_of(doc, etag, TARGET_ETAG_MAX);
    put_meta(doc, type, dir, etag);
}

/* What is kept beside a user or group: the document less what is the directory's or
 * the server's. New JSON text or NULL. */
static char *extra_text(const json_t *doc, const char *const *drop)
{
    json_t *c = json_deep_copy(doc);
    if (!c)
        return NULL;
    for (size_t i = 0; drop[i]; i++)
        json_object_del(c, drop[i]);
    char *s = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(c);
    return s;
}

/* Finds a string longer than KEPT_STRING_MAX in v (at path, of length len): writes its
 * path into out (size n) and returns 1, else 0. */
static int long_string(const json_t *v, const char *path, char *out, size_t n)
{
    if (json_is_string(v)) {
        if (json_string_length(v) <= KEPT_STRING_MAX)
            return 0;
        snprintf(out, n, "%s", path);
        return 1;
    }
    char sub_path[256];
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            snprintf(sub_path, sizeof sub_path, "%s%s%s", path, *path ? "." : "", k);
            if (long_string(x, sub_path, out, n))
                return 1;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            snprintf(sub_path, sizeof sub_path, "%s[%zu]", path, i);
            if (long_string(x, sub_path, out, n))
                return 1;
        }
    }
    return 0;
}

/* What is kept beside a resource (doc less drop) as JSON text into *out (new), within
 * the bounds: a string longer than KEPT_STRING_MAX, or kept JSON over KEPT_MAX (the
 * largest attribute named), is 400 invalidValue. */
static int kept_text(const json_t *doc, const char *const *drop, char **out,
                     struct target_result *r)
{
    char path[256];
    *out = NULL;
    char *text = extra_text(doc, drop);
    if (!text)
        return target_error(r, 500, NULL, "out of memory");
    json_t *kept = json_loads(text, 0, NULL);
    int bad = long_string(kept, "", path, sizeof path);
    size_t len = strlen(text);
    if (!bad && len > KEPT_MAX) {
        const char *k, *largest = "";
        size_t most = 0;
        json_t *x;
        json_object_foreach(kept, k, x)
        {
            char *one = json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY);
            size_t sz = one ? strlen(one) : 0;
            free(one);
            if (sz >= most) {
                most = sz;
                largest = k;
            }
        }
        target_error(r, 400, SCIM_TYPE_INVALID_VALUE,
                     "%s: the attributes kept beside the resource (those the directory has no "
                     "field for) are %zu bytes of JSON, more than %d",
                     largest, len, KEPT_MAX);
        json_decref(kept);
        free(text);
        return -1;
    }
    json_decref(kept);
    if (bad) {
        free(text);
        goto too_long;
    }
    *out = text;
    return 0;
too_long:
    return target_error(r, 400, SCIM_TYPE_INVALID_VALUE,
                        "%s: a string longer than %d bytes is not kept", path, KEPT_STRING_MAX);
}

static json_t *extra_doc(struct dir_be *b, enum store_inbound_kind k, const char *id)
{
    char *text = NULL;
    json_t *doc = NULL;
    if (store_inbound_extra_get(b->st, k, id, NULL, &text) == SC_OK && text)
        doc = json_loads(text, 0, NULL);
    free(text);
    if (!json_is_object(doc)) {
        json_decref(doc);
        doc = json_object();
    }
    return doc;
}

static void ensure_schemas(json_t *doc, const char *core, const char *ext)
{
    json_t *s = json_array();
    json_array_append_new(s, json_string(core));
    if (ext && json_object_get(doc, ext))
        json_array_append_new(s, json_string(ext));
    json_object_set_new(doc, "schemas", s);
}

/* ---- users -------------------------------------------------------------------------- */

/* The SCIM User for directory user u (API shape); read (TARGET_READ_* flags) changes
 * nothing for users, *hidden (may be NULL) is set to 0. New. */
static json_t *user_doc(struct dir_be *b, const json_t *u, unsigned read, char *etag,
                        int64_t *hidden)
{
    (void)read;
    if (hidden)
        *hidden = 0;
    const char *id = json_string_value(json_object_get(u, "id"));
    json_t *doc = extra_doc(b, STORE_INBOUND_USER, id);
    json_object_set_new(doc, "id", json_string(id));
    set_or_del(doc, "userName", json_object_get(u, "username"));
    json_t *name = json_object_get(doc, "name");
    if (!json_is_object(name)) {
        name = json_object();
        json_object_set_new(doc, "name", name);
    }
    set_or_del(name, "givenName", sub(u, "name", "given"));
    set_or_del(name, "familyName", sub(u, "name", "family"));
    set_or_del(name, "formatted", sub(u, "name", "formatted"));
    if (json_object_size(name) == 0)
        json_object_del(doc, "name");
    set_or_del(doc, "nickName", json_object_get(u, "nickname"));
    set_or_del(doc, "title", json_object_get(u, "title"));
    set_or_del(doc, "userType", json_object_get(u, "type"));
    set_or_del(doc, "externalId", json_object_get(u, "externalId"));
    json_object_set_new(doc, "active", json_boolean(json_is_true(json_object_get(u, "enabled"))));
    static const char *const value[] = {"value"};
    json_t *email = json_object_get(u, "email"), *phone = json_object_get(u, "primaryPhone");
    apply_multi(doc, "emails", value, &email, 1, 1);
    apply_multi(doc, "phoneNumbers", value, &phone, 1, 0);
    static const char *const addr[] = {"streetAddress", "locality", "region", "postalCode",
                                       "country"};
    json_t *av[] = {sub(u, "address", "streetAddress"), sub(u, "address", "locality"),
                    sub(u, "address", "region"), sub(u, "address", "postalCode"),
                    sub(u, "address", "countryCode")};
    apply_multi(doc, "addresses", addr, av, 5, 0);
    ensure_schemas(doc, SCIM_SCHEMA_USER, SCIM_SCHEMA_ENTERPRISE_USER);
    set_meta(doc, "User", u, etag);
    return doc;
}

static json_t *str_or_null(const json_t *v)
{
    return json_is_string(v) && json_string_length(v) ? json_incref((json_t *)v) : json_null();
}

/* The directory fields of a validated SCIM User (every mapped field, null where
 * absent). New. */
static json_t *user_fields(const json_t *doc)
{
    json_t *name = json_object_get(doc, "name");
    json_t *emails = json_object_get(doc, "emails"), *phones = json_object_get(doc, "phoneNumbers");
    json_t *addrs = json_object_get(doc, "addresses");
    json_t *e = pick(emails), *p = pick(phones), *a = pick(addrs);
    json_t *active = json_object_get(doc, "active");
    return json_pack(
        "{s:o, s:{s:o, s:o, s:o}, s:o, s:o, s:o, s:o, s:o, s:o, s:{s:o, s:o, s:o, s:o, s:o}, s:b}",
        "username", str_or_null(json_object_get(doc, "userName")), "name", "given",
        str_or_null(json_object_get(name, "givenName")), "family",
        str_or_null(json_object_get(name, "familyName")), "formatted",
        str_or_null(json_object_get(name, "formatted")), "nickname",
        str_or_null(json_object_get(doc, "nickName")), "title",
        str_or_null(json_object_get(doc, "title")), "type",
        str_or_null(json_object_get(doc, "userType")), "externalId",
        str_or_null(json_object_get(doc, "externalId")), "email",
        str_or_null(json_object_get(e, "value")), "primaryPhone",
        str_or_null(json_object_get(p, "value")), "address", "streetAddress",
        str_or_null(json_object_get(a, "streetAddress")), "locality",
        str_or_null(json_object_get(a, "locality")), "region",
        str_or_null(json_object_get(a, "region")), "postalCode",
        str_or_null(json_object_get(a, "postalCode")), "countryCode",
        str_or_null(json_object_get(a, "country")), "enabled", active ? json_is_true(active) : 1);
}

static const char *const user_drop[] = {"id", "meta", "password", "groups", NULL};

/* The SCIM path of a directory field named in an error. */
static const char *scim_path_of(const char *field)
{
    static const char *const map[][2] = {
        {"username", "userName"},
        {"name.given", "name.givenName"},
        {"name.family", "name.familyName"},
        {"name.formatted", "name.formatted"},
        {"nickname", "nickName"},
        {"title", "title"},
        {"type", "userType"},
        {"externalId", "externalId"},
        {"email", "emails[type eq \"work\"].value"},
        {"primaryPhone", "phoneNumbers[type eq \"work\"].value"},
        {"address.streetAddress", "addresses[type eq \"work\"].streetAddress"},
        {"address.locality", "addresses[type eq \"work\"].locality"},
        {"address.region", "addresses[type eq \"work\"].region"},
        {"address.postalCode", "addresses[type eq \"work\"].postalCode"},
        {"address.countryCode", "addresses[type eq \"work\"].country"},
        {"enabled", "active"},
    };
    for (size_t i = 0; field && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i][0], field) == 0)
            return map[i][1];
    return field ? field : "the resource";
}

/* Answers a directory error as SCIM. */
static int dir_fail(struct target_result *r, const struct sc_error *e, const char *what)
{
    switch (e->code) {
    case SC_ERR_INVALID:
    case SC_ERR_TOO_LARGE:
        return target_error(r, 400, SCIM_TYPE_INVALID_VALUE, "%s: %s",
                            scim_path_of(e->field[0] ? e->field : NULL), e->message);
    case SC_ERR_CONFLICT:
        return target_error(r, 409, SCIM_TYPE_UNIQUENESS, "%s: %s",
                            scim_path_of(e->field[0] ? e->field : NULL), e->message);
    case SC_ERR_NOT_FOUND:
        return target_error(r, 404, NULL, "%s", e->message);
    default:
        return db_fail(r, e->code, what);
    }
}

static int user_not_found(struct target_result *r, const char *id)
{
    return target_error(r, 404, NULL, "User %s not found", id);
}

/* Reads directory user id when it is in the caller's population. */
static int read_user(struct dir_be *b, const char *id, json_t **u, struct target_result *r)
{
    struct sc_error e = {0};
    enum sc_err rc = directory_user_get(b->st, id, u, &e);
    if (rc == SC_ERR_NOT_FOUND)
        return user_not_found(r, id);
    if (rc)
        return db_fail(r, rc, "read the user");
    const char *pop = json_string_value(sub(*u, "population", "id"));
    if (!pop || strcmp(pop, b->auth->population_id) != 0) {
        json_decref(*u);
        *u = NULL;
        return user_not_found(r, id);
    }
    return 0;
}

static int user_get(struct dir_be *b, const char *id, json_t **doc, char *etag,
                    struct target_result *r)
{
    json_t *u = NULL;
    if (read_user(b, id, &u, r))
        return -1;
    *doc = user_doc(b, u, 0, etag, NULL);
    json_decref(u);
    return 0;
}

static int commit(struct dir_be *b, struct target_result *r)
{
    enum sc_err rc = store_commit(b->st);
    if (rc) {
        store_rollback(b->st);
        return db_fail(r, rc, "commit the change");
    }
    b->changed = 1;
    return 0;
}

static int begin(struct dir_be *b, struct target_result *r)
{
    enum sc_err rc = store_begin(b->st);
    return rc ? db_fail(r, rc, "start a transaction") : 0;
}

static int user_create(struct dir_be *b, const json_t *doc, json_t **out, char *etag,
                       struct target_result *r)
{
    struct sc_error e = {0};
    json_t *fields = user_fields(doc), *u = NULL;
    char *extra = NULL;
    int rc = -1;
    if (kept_text(doc, user_drop, &extra, r))
        goto done;
    if (!fields) {
        target_error(r, 500, NULL, "out of memory");
        goto done;
    }
    json_object_set_new(fields, "population", json_pack("{s:s}", "id", b->auth->population_id));
    if (begin(b, r))
        goto done;
    if (directory_user_create(b->st, fields, &u, &e)) {
        store_rollback(b->st);
        dir_fail(r, &e, "create the user");
        goto done;
    }
    enum sc_err sr =
        store_inbound_extra_put(b->st, STORE_INBOUND_USER,
                                json_string_value(json_object_get(u, "id")), b->auth->name, extra);
    if (sr) {
        store_rollback(b->st);
        db_fail(r, sr, "keep the user's attributes");
        goto done;
    }
    if (commit(b, r))
        goto done;
    *out = user_doc(b, u, 0, etag, NULL);
    rc = 0;
done:
    json_decref(fields);
    json_decref(u);
    free(extra);
    return rc;
}

static int same_content(const json_t *a, const json_t *b)
{
    json_t *ca = json_copy((json_t *)a), *cb = json_copy((json_t *)b);
    int same = 0;
    if (ca && cb) {
        json_object_del(ca, "meta");
        json_object_del(cb, "meta");
        same = json_equal(ca, cb);
    }
    json_decref(ca);
    json_decref(cb);
    return same;
}

/* Writes next (a validated SCIM User) over directory user id in the open transaction;
 * *written is the directory user after it (new). */
static int user_write(struct dir_be *b, const char *id, const json_t *cur, const json_t *next,
                      int patch, int64_t hidden, json_t **written, struct target_result *r)
{
    (void)cur;
    (void)patch;
    (void)hidden;
    struct sc_error e = {0};
    json_t *fields = user_fields(next);
    if (!fields)
        return target_error(r, 500, NULL, "out of memory");
    enum sc_err rc = directory_user_update(b->st, id, fields, written, &e);
    json_decref(fields);
    return rc ? dir_fail(r, &e, "update the user") : 0;
}

/* Deletes directory user id in the open transaction. */
static int user_delete(struct dir_be *b, const char *id, int64_t hidden, struct target_result *r)
{
    (void)hidden;
    struct sc_error e = {0};
    return directory_user_delete(b->st, id, &e) ? dir_fail(r, &e, "delete the user") : 0;
}

static json_t *group_doc(struct dir_be *b, const json_t *g, unsigned read, char *etag,
                         int64_t *hidden);

static void consider(struct target_page *pg, enum target_kind k, json_t *doc,
                     const struct scim_filter *f)
{
    if (f && !scim_filter_match(f, target_rt(k), doc))
        return;
    pg->total++;
    if (pg->skip > 0) {
        pg->skip--;
        return;
    }
    if (pg->want > 0) {
        json_array_append_new(pg->docs, json_pack("[i, O]", (int)k, doc));
        pg->want--;
    }
}

/* Counts one listed directory user or group (item) into the page. Its SCIM document is
 * built only when the filter f needs it or the item falls in the page: an unfiltered
 * listing reads the kept attributes and the members of the page's resources alone. */
static void consider_item(struct dir_be *b, struct target_page *pg, enum target_kind k,
                          const json_t *item, const struct scim_filter *f)
{
    if (!f) {
        pg->total++;
        if (pg->skip > 0) {
            pg->skip--;
            return;
        }
        if (pg->want <= 0)
            return;
    }
    char etag[TARGET_ETAG_MAX];
    json_t *doc = k == TARGET_USER ? user_doc(b, item, 0, etag, NULL)
                                   : group_doc(b, item, pg->read, etag, NULL);
    if (!doc)
        return;
    if (f) {
        consider(pg, k, doc, f);
    } else {
        json_array_append_new(pg->docs, json_pack("[i, O]", (int)k, doc));
        pg->want--;
    }
    json_decref(doc);
}

/* A directory filter equal to `field eq "value"` (value JSON-quoted). New or NULL. */
static char *eq_filter(const char *field, const char *value)
{
    json_t *v = json_string(value);
    char *q = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    if (!q)
        return NULL;
    struct sc_buf b;
    sc_buf_init(&b, 0);
    sc_buf_printf(&b, "%s eq %s", field, q);
    free(q);
    return sc_buf_steal(&b);
}

static int user_list(struct dir_be *b, const struct scim_filter *f, struct target_page *pg,
                     struct target_result *r)
{
    const char *attr = NULL, *value = NULL;
    char *dfilter = NULL, *cursor = NULL;
    int rc = 0;
    if (f && scim_filter_simple_eq(f, &attr, &value)) {
        if (sc_strcaseeq(attr, "id")) {
            json_t *u = NULL;
            struct target_result ignore = {0};
            if (read_user(b, value, &u, &ignore) == 0) {
                char etag[TARGET_ETAG_MAX];
                json_t *doc = user_doc(b, u, 0, etag, NULL);
                consider(pg, TARGET_USER, doc, f);
                json_decref(doc);
            }
            json_decref(u);
            json_decref(ignore.body);
            return 0;
        }
        if (sc_strcaseeq(attr, "userName"))
            dfilter = eq_filter("username", value);
        else if (sc_strcaseeq(attr, "externalId"))
            dfilter = eq_filter("externalId", value);
    }
    for (;;) {
        struct directory_user_query q = {.filter = dfilter,
                                         .population_id = b->auth->population_id,
                                         .cursor = cursor,
                                         .limit = PAGE};
        json_t *items = NULL;
        char *next = NULL;
        struct sc_error e = {0};
        if (directory_user_list(b->st, &q, &items, &next, &e)) {
            rc = db_fail(r, e.code, "list the users");
            break;
        }
        size_t i;
        json_t *u;
        json_array_foreach(items, i, u) consider_item(b, pg, TARGET_USER, u, f);
        json_decref(items);
        free(cursor);
        cursor = next;
        if (!cursor)
            break;
    }
    free(cursor);
    free(dfilter);
    return rc;
}

/* ---- groups ------------------------------------------------------------------------- */

/* Folds string v (NULL as "") into the digest h. */
static uint64_t digest_str(uint64_t h, const char *v)
{
    v = v ? v : "";
    return XXH3_64bits_withSeed(v, strlen(v) + 1, h);
}

/* The SCIM Group for directory group g: its members are the groups and the users of the
 * caller's population (a token sees no other users; the population comes with each page
 * of members, not from one look-up per member), left out when read says
 * TARGET_READ_NO_MEMBERS (they are read all the same, for the version). The version is
 * the digest of the document without members and meta, folded with each member's id,
 * type and display, so it is the same with or without them. *hidden (may be NULL) is
 * set to the number of direct members the token does not see, or -1 when the members
 * could not be read. New. */
static json_t *group_doc(struct dir_be *b, const json_t *g, unsigned read, char *etag,
                         int64_t *hidden)
{
    const char *id = json_string_value(json_object_get(g, "id"));
    json_t *doc = extra_doc(b, STORE_INBOUND_GROUP, id);
    json_object_set_new(doc, "id", json_string(id));
    set_or_del(doc, "displayName", json_object_get(g, "name"));
    json_object_del(doc, "members");
    json_object_del(doc, "meta");
    ensure_schemas(doc, SCIM_SCHEMA_GROUP, NULL);
    uint64_t h = sc_json_digest(doc);
    json_t *members = read & TARGET_READ_NO_MEMBERS ? NULL : json_array();
    char *cursor = NULL;
    int64_t unseen = 0;
    for (;;) {
        json_t *items = NULL;
        char *next = NULL;
        struct sc_error e = {0};
        if (directory_group_members(b->st, id, cursor, 1000, &items, &next, &e)) {
            unseen = -1;
            break;
        }
        size_t i;
        json_t *m;
        json_array_foreach(items, i, m)
        {
            const char *mid = json_string_value(json_object_get(m, "id"));
            int user = strcmp(json_string_value(json_object_get(m, "type")), "user") == 0;
            const char *pop = json_string_value(json_object_get(m, "populationId"));
            if (user && (!pop || strcmp(pop, b->auth->population_id) != 0)) {
                unseen++;
                continue;
            }
            const char *display = json_string_value(json_object_get(m, "display"));
            h = digest_str(digest_str(digest_str(h, mid), user ? "User" : "Group"), display);
            if (!members)
                continue;
            char loc[400];
            target_location(b->base, user ? TARGET_USER : TARGET_GROUP, mid, loc, sizeof loc);
            json_t *one = json_pack("{s:s, s:s, s:s}", "value", mid, "type",
                                    user ? "User" : "Group", "$ref", loc);
            set_or_del(one, "display", json_object_get(m, "display"));
            json_array_append_new(members, one);
        }
        json_decref(items);
        free(cursor);
        cursor = next;
        if (!cursor)
            break;
    }
    free(cursor);
    if (hidden)
        *hidden = unseen;
    if (json_array_size(members))
        json_object_set_new(doc, "members", members);
    else
        json_decref(members);
    snprintf(etag, TARGET_ETAG_MAX, "W/\"%016llx\"", (unsigned long long)h);
    put_meta(doc, "Group", g, etag);
    return doc;
}

/* Refuses (403) a change to group id that would reach members the token cannot see:
 * the users of other populations among its direct members (hidden, from group_doc).
 * what says the change ("renamed", "deleted"). */
static int group_shared(int64_t hidden, const char *id, const char *what, struct target_result *r)
{
    if (hidden < 0)
        return target_error(r, 500, NULL, "cannot read the members of group %s", id);
    if (hidden == 0)
        return 0;
    return target_error(r, 403, NULL,
                        "Group %s holds %lld direct members this token cannot see (users of "
                        "other populations); it cannot be %s through this token while they are "
                        "members",
                        id, (long long)hidden, what);
}

static const char *const group_drop[] = {"id", "meta", "members", "displayName", NULL};

static int group_not_found(struct target_result *r, const char *id)
{
    return target_error(r, 404, NULL, "Group %s not found", id);
}

static int read_group(struct dir_be *b, const char *id, json_t **g, struct target_result *r)
{
    struct sc_error e = {0};
    enum sc_err rc = directory_group_get(b->st, id, g, &e);
    if (rc == SC_ERR_NOT_FOUND)
        return group_not_found(r, id);
    return rc ? db_fail(r, rc, "read the group") : 0;
}

static int group_get(struct dir_be *b, const char *id, unsigned read, json_t **doc, char *etag,
                     struct target_result *r)
{
    json_t *g = NULL;
    if (read_group(b, id, &g, r))
        return -1;
    *doc = group_doc(b, g, read, etag, NULL);
    json_decref(g);
    return 0;
}

/* Adds member i (value v) to group gid: a user of the caller's population or a group. */
static int member_add(struct dir_be *b, const char *gid, size_t i, const char *v,
                      struct target_result *r)
{
    json_t *u = NULL, *body = NULL, *out = NULL;
    struct sc_error e = {0};
    int user = 0;
    if (directory_user_get(b->st, v, &u, &e) == SC_OK) {
        const char *pop = json_string_value(sub(u, "population", "id"));
        int mine = pop && strcmp(pop, b->auth->population_id) == 0;
        json_decref(u);
        if (!mine)
            return target_error(r, 400, SCIM_TYPE_INVALID_VALUE,
                                "members[%zu] value '%s' is not the id of a user or group", i, v);
        user = 1;
    } else {
        json_t *g = NULL;
        if (directory_group_get(b->st, v, &g, &e) != SC_OK)
            return target_error(r, 400, SCIM_TYPE_INVALID_VALUE,
                                "members[%zu] value '%s' is not the id of a user or group", i, v);
        json_decref(g);
    }
    body = json_pack("{s:s}", user ? "userId" : "groupId", v);
    memset(&e, 0, sizeof e);
    enum sc_err rc = directory_group_member_add(b->st, gid, body, &out, &e);
    json_decref(body);
    json_decref(out);
    if (rc == SC_OK)
        return 0;
    if (rc == SC_ERR_CONFLICT && strstr(e.message, "already"))
        return 0;
    if (rc == SC_ERR_CONFLICT || rc == SC_ERR_INVALID || rc == SC_ERR_NOT_FOUND)
        return target_error(r, 400, SCIM_TYPE_INVALID_VALUE, "members[%zu] value '%s': %s", i, v,
                            e.message);
    return db_fail(r, rc, "add the member");
}

static int has_member(const json_t *members, const char *v)
{
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m)
    {
        const char *x = json_string_value(json_object_get(m, "value"));
        if (x && strcmp(x, v) == 0)
            return 1;
    }
    return 0;
}

/* Makes gid's direct members those of want (cur: the members now). An error names the
 * member by its index in the request: in want for a create or a PUT (want is the
 * request's list), among the members want adds for a PATCH (want is cur merged with the
 * request's). */
static int set_members(struct dir_be *b, const char *gid, const json_t *cur, const json_t *want,
                       int patch, struct target_result *r)
{
    size_t added = 0;
    size_t i;
    json_t *m;
    json_array_foreach(cur, i, m)
    {
        const char *v = json_string_value(json_object_get(m, "value"));
        if (v && !has_member(want, v)) {
            struct sc_error e = {0};
            enum sc_err rc = directory_group_member_remove(b->st, gid, v, &e);
            if (rc && rc != SC_ERR_NOT_FOUND)
                return db_fail(r, rc, "remove the member");
        }
    }
    json_array_foreach(want, i, m)
    {
        const char *v = json_string_value(json_object_get(m, "value"));
        size_t at = patch ? added : i;
        if (!v)
            return target_error(r, 400, SCIM_TYPE_INVALID_VALUE,
                                "members[%zu] has no value (the member's id)", at);
        if (has_member(cur, v))
            continue;
        if (member_add(b, gid, at, v, r))
            return -1;
        added++;
    }
    return 0;
}

static int group_create(struct dir_be *b, const json_t *doc, json_t **out, char *etag,
                        struct target_result *r)
{
    struct sc_error e = {0};
    json_t *in = json_pack("{s:O}", "name", json_object_get(doc, "displayName")), *g = NULL;
    char *extra = NULL;
    int rc = -1;
    if (kept_text(doc, group_drop, &extra, r))
        goto done;
    if (!in) {
        target_error(r, 500, NULL, "out of memory");
        goto done;
    }
    if (begin(b, r))
        goto done;
    if (directory_group_create(b->st, in, &g, &e)) {
        if (e.code == SC_ERR_CONFLICT)
            target_error(r, 409, SCIM_TYPE_UNIQUENESS,
                         "displayName: a group of that name exists (compared case-insensitively)");
        else
            dir_fail(r, &e, "create the group");
        goto fail;
    }
    const char *gid = json_string_value(json_object_get(g, "id"));
    if (set_members(b, gid, NULL, json_object_get(doc, "members"), 0, r))
        goto fail;
    enum sc_err sr = store_inbound_extra_put(b->st, STORE_INBOUND_GROUP, gid, NULL, extra);
    if (sr) {
        db_fail(r, sr, "keep the group's attributes");
        goto fail;
    }
    if (commit(b, r))
        goto done;
    *out = group_doc(b, g, 0, etag, NULL);
    rc = 0;
    goto done;
fail:
    store_rollback(b->st);
done:
    json_decref(in);
    json_decref(g);
    free(extra);
    return rc;
}

/* Writes next (a validated SCIM Group) over directory group id in the open transaction
 * (cur: the group's document now; hidden: its direct members the caller cannot see):
 * its name, then its members (patch: next's members are cur's merged with the
 * request's); *written is the directory group after it (new). */
static int group_write(struct dir_be *b, const char *id, const json_t *cur, const json_t *next,
                       int patch, int64_t hidden, json_t **written, struct target_result *r)
{
    struct sc_error e = {0};
    const char *name = json_string_value(json_object_get(next, "displayName"));
    if (name && strcmp(name, json_string_value(json_object_get(cur, "displayName"))) != 0) {
        if (group_shared(hidden, id, "renamed", r))
            return -1;
        json_t *p = json_pack("{s:s}", "name", name), *tmp = NULL;
        enum sc_err ur = directory_group_update(b->st, id, p, &tmp, &e);
        json_decref(p);
        json_decref(tmp);
        if (ur) {
            if (e.code == SC_ERR_CONFLICT)
                return target_error(r, 409, SCIM_TYPE_UNIQUENESS,
                                    "displayName '%s' is already taken (compared "
                                    "case-insensitively)",
                                    name);
            return dir_fail(r, &e, "rename the group");
        }
    }
    if (set_members(b, id, json_object_get(cur, "members"), json_object_get(next, "members"), patch,
                    r))
        return -1;
    return read_group(b, id, written, r);
}

/* Deletes directory group id in the open transaction, unless it holds members the
 * caller cannot see (hidden). */
static int group_delete(struct dir_be *b, const char *id, int64_t hidden, struct target_result *r)
{
    struct sc_error e = {0};
    if (group_shared(hidden, id, "deleted", r))
        return -1;
    return directory_group_delete(b->st, id, &e) ? dir_fail(r, &e, "delete the group") : 0;
}

static int group_list(struct dir_be *b, const struct scim_filter *f, struct target_page *pg,
                      struct target_result *r)
{
    const char *attr = NULL, *value = NULL;
    char *cursor = NULL;
    int rc = 0;
    if (f && scim_filter_simple_eq(f, &attr, &value) &&
        (sc_strcaseeq(attr, "id") || sc_strcaseeq(attr, "displayName"))) {
        json_t *g = NULL;
        enum sc_err fr = sc_strcaseeq(attr, "id") ? store_group_get(b->st, value, &g)
                                                  : store_group_find(b->st, value, &g);
        if (fr == SC_OK) {
            consider_item(b, pg, TARGET_GROUP, g, f);
        } else if (fr != SC_ERR_NOT_FOUND) {
            rc = db_fail(r, fr, "read the group");
        }
        json_decref(g);
        return rc;
    }
    for (;;) {
        json_t *items = NULL;
        char *next = NULL;
        struct sc_error e = {0};
        if (directory_group_list(b->st, cursor, PAGE, &items, &next, &e)) {
            rc = db_fail(r, e.code, "list the groups");
            break;
        }
        size_t i;
        json_t *g;
        json_array_foreach(items, i, g) consider_item(b, pg, TARGET_GROUP, g, f);
        json_decref(items);
        free(cursor);
        cursor = next;
        if (!cursor)
            break;
    }
    free(cursor);
    return rc;
}

/* ---- updates and removals, the same for users and groups ------------------------------- */

/* What an update or a removal does in its own way for a kind of resource. */
struct kind_ops {
    const char *noun;                /* "user", "group" */
    enum store_inbound_kind kept_as; /* where its kept attributes are */
    const char *const *drop;         /* what is not kept beside it (kept_text) */
    /* reads the directory object id the caller sees (404 otherwise) */
    int (*read)(struct dir_be *b, const char *id, json_t **dir, struct target_result *r);
    /* its served document (as user_doc and group_doc) */
    json_t *(*doc)(struct dir_be *b, const json_t *dir, unsigned read, char *etag, int64_t *hidden);
    int (*write)(struct dir_be *b, const char *id, const json_t *cur, const json_t *next, int patch,
                 int64_t hidden, json_t **written, struct target_result *r);
    int (*remove)(struct dir_be *b, const char *id, int64_t hidden, struct target_result *r);
};

static const struct kind_ops kinds[TARGET__KINDS] = {
    [TARGET_USER] = {"user", STORE_INBOUND_USER, user_drop, read_user, user_doc, user_write,
                     user_delete},
    [TARGET_GROUP] = {"group", STORE_INBOUND_GROUP, group_drop, read_group, group_doc, group_write,
                      group_delete},
};

/* The backend's update (target_backend.update) of resource id of kind k, in one
 * transaction: fn computes the new document from the served one; a result with the same
 * content leaves the resource (and its version) as it was. */
static int update_with(struct dir_be *b, const struct kind_ops *k, const char *id,
                       target_update_fn fn, void *arg, json_t **out, char *etag,
                       struct target_result *r)
{
    json_t *dir = NULL, *cur = NULL, *next = NULL, *written = NULL;
    char *kept = NULL;
    char cur_etag[TARGET_ETAG_MAX];
    int64_t hidden = 0;
    int rc = -1;
    if (begin(b, r))
        return -1;
    if (k->read(b, id, &dir, r))
        goto fail;
    cur = k->doc(b, dir, 0, cur_etag, &hidden);
    if (fn(arg, cur, cur_etag, &next, r))
        goto fail;
    json_object_set_new(next, "id", json_string(id));
    json_object_set(next, "meta", json_object_get(cur, "meta"));
    /* the never-stored attributes (a user's password) do not make a change */
    json_object_del(next, "password");
    if (same_content(cur, next)) {
        store_rollback(b->st);
        *out = json_incref(cur);
        sc_strlcpy(etag, cur_etag, TARGET_ETAG_MAX);
        rc = 0;
        goto done;
    }
    if (kept_text(next, k->drop, &kept, r) ||
        k->write(b, id, cur, next, target_update_is_patch(fn), hidden, &written, r))
        goto fail;
    enum sc_err sr = store_inbound_extra_put(b->st, k->kept_as, id, NULL, kept);
    if (sr) {
        char what[64];
        snprintf(what, sizeof what, "keep the %s's attributes", k->noun);
        db_fail(r, sr, what);
        goto fail;
    }
    if (commit(b, r))
        goto done;
    *out = k->doc(b, written, 0, etag, NULL);
    rc = 0;
    goto done;
fail:
    store_rollback(b->st);
done:
    json_decref(dir);
    json_decref(cur);
    json_decref(next);
    json_decref(written);
    free(kept);
    return rc;
}

/* The backend's remove of resource id of kind k, in one transaction: if_match (or NULL)
 * checked against its version. */
static int remove_with(struct dir_be *b, const struct kind_ops *k, const char *id,
                       const char *if_match, struct target_result *r)
{
    json_t *dir = NULL, *cur = NULL;
    char cur_etag[TARGET_ETAG_MAX];
    int64_t hidden = 0;
    int rc = -1;
    if (begin(b, r))
        return -1;
    if (k->read(b, id, &dir, r))
        goto fail;
    cur = k->doc(b, dir, TARGET_READ_NO_MEMBERS, cur_etag, &hidden);
    if (target_check_if_match(if_match, cur_etag, r) || k->remove(b, id, hidden, r))
        goto fail;
    rc = commit(b, r);
    goto done;
fail:
    store_rollback(b->st);
done:
    json_decref(dir);
    json_decref(cur);
    return rc;
}

/* ---- the back-end table --------------------------------------------------------------- */

static int be_get(void *be, enum target_kind k, const char *id, unsigned read, json_t **doc,
                  char *etag, struct target_result *r)
{
    return k == TARGET_USER ? user_get(be, id, doc, etag, r)
                            : group_get(be, id, read, doc, etag, r);
}

static int be_create(void *be, enum target_kind k, const json_t *doc, json_t **out, char *etag,
                     struct target_result *r)
{
    return k == TARGET_USER ? user_create(be, doc, out, etag, r)
                            : group_create(be, doc, out, etag, r);
}

static int be_update(void *be, enum target_kind k, const char *id, target_update_fn fn, void *arg,
                     json_t **out, char *etag, struct target_result *r)
{
    return update_with(be, &kinds[k], id, fn, arg, out, etag, r);
}

static int be_remove(void *be, enum target_kind k, const char *id, const char *if_match,
                     struct target_result *r)
{
    return remove_with(be, &kinds[k], id, if_match, r);
}

static int be_list(void *be, enum target_kind k, const struct scim_filter *f,
                   struct target_page *pg, struct target_result *r)
{
    return k == TARGET_USER ? user_list(be, f, pg, r) : group_list(be, f, pg, r);
}

static const struct target_backend directory_backend = {
    .get = be_get,
    .create = be_create,
    .update = be_update,
    .remove = be_remove,
    .list = be_list,
};

/* ---- the edge ---------------------------------------------------------------------- */

/* The base URL from the request's Host header ("http://HOST/scim/v2"); a Host with
 * characters a host name and port do not have gives 127.0.0.1. Behind a TLS-terminating
 * proxy that says so (X-Forwarded-Proto: https) the scheme is https. */
static void base_of(const struct http_request *req, char *out, size_t n)
{
    const char *host = http_request_header(req, "Host");
    const char *proto = http_request_header(req, "X-Forwarded-Proto");
    int ok = host && *host && strlen(host) < 256;
    for (const char *p = host; ok && *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == ':' || *p == '[' || *p == ']'))
            ok = 0;
    snprintf(out, n, "%s://%s%s", proto && strcasecmp(proto, "https") == 0 ? "https" : "http",
             ok ? host : "127.0.0.1", INBOUND_PREFIX);
}

void inbound_refuse(struct http_response *res, int db_down)
{
    struct target_result r = {0};
    struct target_service s = {.dialect = SCIM_DIALECT_20};
    if (db_down) {
        target_error(&r, 503, NULL, "the database cannot be read to check the token");
    } else {
        http_response_header(res, "WWW-Authenticate", "Bearer realm=\"scimitar-scim\"");
        target_error(
            &r, 401, NULL,
            "send an inbound token (Integrations > Inbound SCIM) as 'Authorization: Bearer "
            "<token>'");
    }
    target_service_write(&s, res, &r);
}

void inbound_serve(struct store *st, const struct inbound_auth *a, const struct http_request *req,
                   const char *path, struct http_response *res, int *changed)
{
    struct dir_be b = {.st = st, .auth = a};
    base_of(req, b.base, sizeof b.base);
    struct target_service s = {
        .ops = &directory_backend,
        .be = &b,
        .base_url = b.base,
        .max_results = 200,
        .max_body = 1024 * 1024,
        .bulk_max_ops = 1000,
        .dialect = SCIM_DIALECT_20,
        .auth = TARGET_AUTH_BEARER,
        .auth_bearer_text = "An inbound token (Integrations > Inbound SCIM), bound to a population",
    };
    enum target_method m = target_method_of(req->method);
    int search = m == TM_POST && strstr(path, "/.search") != NULL;
    if (!a->write && m != TM_GET && !search) {
        struct target_result r = {0};
        target_error(&r, 403, NULL, "the inbound token '%s' is read-only (scope read)", a->name);
        target_service_write(&s, res, &r);
        return;
    }
    target_service_http(&s, req, path, res);
    if (b.changed)
        *changed = 1;
}
