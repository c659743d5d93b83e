"""`scimitar target` as a SCIM 2.0 client sees it: the whole CRUD cycle, list paging,
filters (the seed's `username Eq "%s"` included), attribute projection, PATCH (Entra's
"Replace"), ETags with If-Match / If-None-Match, /.search, /Bulk with bulkId references
and failOnErrors, groups, strict validation and the discovery endpoints. One real
target process on loopback serves the whole class."""
import http.client
import json
import unittest
import uuid

from harness import Target

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCHOP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_REQ = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RES = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def user(user_name, **extra):
    u = {"schemas": [USER], "userName": user_name}
    u.update(extra)
    return u


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


class TargetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tgt = Target(token="tok")
        cls.tgt.start()

    @classmethod
    def tearDownClass(cls):
        cls.tgt.__exit__(None, None, None)

    def scim(self, *a, **kw):
        return self.tgt.scim(*a, **kw)

    def create(self, user_name, **extra):
        st, body, h = self.scim("POST", "/Users", user(user_name, **extra))
        self.assertEqual(st, 201, body)
        return body, h

    def assertScimError(self, st, body, status, scim_type=None):
        self.assertEqual(st, status, body)
        self.assertIn(ERROR, body["schemas"])
        self.assertEqual(str(body["status"]), str(status))
        if scim_type is not None:
            self.assertEqual(body.get("scimType"), scim_type, body)
        self.assertTrue(body.get("detail"), body)

    def test_refusals_of_writes_and_reads(self):
        """Bodies that are not objects, unknown ids, bad group members, bad projections:
        each a SCIM error with the right status and scimType, nothing stored."""
        u, _ = self.create(unique("refuse"))
        uid = u["id"]
        missing = "00000000-0000-4000-8000-000000000000"
        for method in ("PUT", "PATCH"):
            st, b, _ = self.scim(method, "/Users/" + uid, raw="[1, 2]")
            self.assertScimError(st, b, 400, "invalidSyntax")
        st, b, _ = self.scim("PUT", "/Users/" + missing, user(unique("ghost")))
        self.assertScimError(st, b, 404)
        st, b, _ = self.scim("PATCH", "/Users/" + missing, {
            "schemas": [PATCHOP], "Operations": [{"op": "replace", "path": "title",
                                                  "value": "x"}]})
        self.assertScimError(st, b, 404)
        st, b, _ = self.scim("DELETE", "/Groups/" + missing)
        self.assertScimError(st, b, 404)
        st, b, _ = self.scim("GET", "/Users/%s?attributes=%s" % (uid, "emails[type"))
        self.assertEqual(st, 400, b)
        # group members must name existing users or groups, of the type they say
        name = unique("grp")
        cases = [
            ([{"display": "no value"}], "has no value"),
            ([{"value": missing}], "is not the id of a user or group"),
            ([{"value": uid, "type": "Group"}], "is a User, not a Group"),
        ]
        for members, words in cases:
            st, b, _ = self.scim("POST", "/Groups", {"schemas": [GROUP], "displayName": name,
                                                     "members": members})
            self.assertScimError(st, b, 400, "invalidValue")
            self.assertIn(words, b["detail"])
        st, g, _ = self.scim("POST", "/Groups", {"schemas": [GROUP], "displayName": name,
                                                 "members": [{"value": uid}]})
        self.assertEqual(st, 201, g)
        self.assertEqual(g["members"][0]["type"], "User")
        st, b, _ = self.scim("PUT", "/Groups/" + g["id"], {
            "schemas": [GROUP], "displayName": name, "members": [{"value": g["id"]}]})
        self.assertScimError(st, b, 400, "invalidValue")
        self.assertIn("cannot be a member of itself", b["detail"])
        # a second group of the same name, in another case, is a conflict
        st, b, _ = self.scim("POST", "/Groups", {"schemas": [GROUP],
                                                 "displayName": name.upper()})
        self.assertScimError(st, b, 409, "uniqueness")
        # deleting the user takes it out of the group
        st, _, _ = self.scim("DELETE", "/Users/" + uid)
        self.assertEqual(st, 204)
        st, g2, _ = self.scim("GET", "/Groups/" + g["id"])
        self.assertEqual(st, 200, g2)
        self.assertEqual(g2.get("members", []), [])
        st, _, _ = self.scim("DELETE", "/Groups/" + g["id"])
        self.assertEqual(st, 204)

    # ---- CRUD ------------------------------------------------------------------------

    def test_crud_cycle(self):
        name = unique("crud")
        st, body, h = self.scim("POST", "/Users", user(
            name, name={"givenName": "Ada", "familyName": "Lovelace"},
            emails=[{"type": "work", "value": name + "@example.com", "primary": True}],
            externalId="ext-" + name, active=True))
        self.assertEqual(st, 201, body)
        self.assertTrue(h["content-type"].startswith("application/scim+json"))
        uid = body["id"]
        self.assertEqual(body["userName"], name)
        self.assertEqual(h["etag"], 'W/"1"')
        self.assertEqual(body["meta"]["version"], 'W/"1"')
        self.assertEqual(body["meta"]["resourceType"], "User")
        self.assertTrue(body["meta"]["created"])
        self.assertTrue(body["meta"]["lastModified"])
        self.assertEqual(h["location"], self.tgt.scim_base + "/Users/" + uid)
        self.assertEqual(body["meta"]["location"], h["location"])

        st, got, h = self.scim("GET", "/Users/" + uid)
        self.assertEqual(st, 200, got)
        self.assertEqual(got["name"]["familyName"], "Lovelace")
        self.assertEqual(h["etag"], 'W/"1"')

        put = user(name, name={"givenName": "Ada", "familyName": "King"}, active=True)
        st, got, h = self.scim("PUT", "/Users/" + uid, put)
        self.assertEqual(st, 200, got)
        self.assertEqual(got["name"]["familyName"], "King")
        self.assertNotIn("emails", got)  # PUT replaces the whole resource
        self.assertEqual(got["id"], uid)
        self.assertEqual(got["meta"]["created"], body["meta"]["created"])
        self.assertEqual(h["etag"], 'W/"2"')

        patch = {"schemas": [PATCHOP], "Operations": [
            {"op": "replace", "path": "active", "value": False}]}
        st, got, h = self.scim("PATCH", "/Users/" + uid, patch)
        self.assertEqual(st, 200, got)
        self.assertIs(got["active"], False)
        self.assertEqual(h["etag"], 'W/"3"')

        st, got, _ = self.scim("DELETE", "/Users/" + uid)
        self.assertEqual(st, 204, got)
        st, got, _ = self.scim("GET", "/Users/" + uid)
        self.assertScimError(st, got, 404)
        st, got, _ = self.scim("PATCH", "/Users/" + uid, patch)
        self.assertScimError(st, got, 404)

    def test_unchanged_put_keeps_version(self):
        body, h = self.create(unique("same"), title="Engineer")
        st, got, h2 = self.scim("PUT", "/Users/" + body["id"],
                                user(body["userName"], title="Engineer"))
        self.assertEqual(st, 200, got)
        self.assertEqual(h2["etag"], h["etag"])

    # ---- list, filter, paging, projection -----------------------------------------------

    def test_list_paging(self):
        prefix = unique("page")
        ids = {self.create("%s-%02d" % (prefix, i))[0]["id"] for i in range(25)}
        flt = 'userName sw "%s-"' % prefix
        seen = []
        start = 1
        while True:
            st, body, _ = self.scim("GET", "/Users?filter=%s&startIndex=%d&count=10" % (
                quote(flt), start))
            self.assertEqual(st, 200, body)
            self.assertIn(LIST, body["schemas"])
            self.assertEqual(body["totalResults"], 25)
            self.assertEqual(body["startIndex"], start)
            self.assertEqual(body["itemsPerPage"], len(body["Resources"]))
            if not body["Resources"]:
                break
            seen += [r["id"] for r in body["Resources"]]
            start += len(body["Resources"])
        self.assertEqual(len(seen), 25)
        self.assertEqual(set(seen), ids)
        st, body, _ = self.scim("GET", "/Users?filter=%s&count=0" % quote(flt))
        self.assertEqual((st, body["totalResults"], body.get("Resources", [])), (200, 25, []))

    def test_filters(self):
        name = unique("Filter.User")
        body, _ = self.create(name, externalId="X-" + name, title="Boss",
                              emails=[{"type": "work", "value": name + "@corp.test"},
                                      {"type": "home", "value": "home-" + name + "@home.test"}])
        uid = body["id"]
        cases = [
            'username Eq "%s"' % name,          # the seed's form: any case of attr and op
            'userName eq "%s"' % name.lower(),  # userName is caseExact false
            'USERNAME EQ "%s"' % name.upper(),
            'externalId eq "X-%s"' % name,
            'id eq "%s"' % uid,
            'emails[type eq "work" and value co "%s"]' % name.lower(),
            'title eq "Boss" and userName sw "%s"' % name[:12],
            '(userName eq "nobody-at-all") or (externalId eq "X-%s")' % name,
            'not (title ne "Boss") and userName eq "%s"' % name,
            '%s:userName eq "%s"' % (USER, name),
            # Entra ID's form: a sub-attribute compared after the value path's brackets
            'emails[type eq "work"].value eq "%s@corp.test"' % name,
            'emails[type eq "work"].value eq "%s@CORP.test"' % name.upper(),
            'emails[type eq "work"].value pr and userName eq "%s"' % name,
            'emails[type eq "home"].value sw "home-%s"' % name,
        ]
        for f in cases:
            st, got, _ = self.scim("GET", "/Users?filter=" + quote(f))
            self.assertEqual(st, 200, (f, got))
            self.assertEqual([r["id"] for r in got["Resources"]], [uid], f)
        st, got, _ = self.scim("GET", "/Users?filter=" + quote('externalId eq "x-%s"' % name))
        self.assertEqual((st, got["totalResults"]), (200, 0), "externalId is caseExact")
        # the type and the value must hold for the same element
        for f in ['emails[type eq "home"].value eq "%s@corp.test"' % name,
                  'emails[type eq "work"].value eq "home-%s@home.test"' % name]:
            st, got, _ = self.scim("GET", "/Users?filter=" + quote(f))
            self.assertEqual((st, got["totalResults"]), (200, 0), f)
        for bad in ['emails[type eq "work"].', 'emails[type eq "work"].value',
                    'emails[type eq "work"].value eq', 'emails[type eq "work"].primary gt true']:
            st, got, _ = self.scim("GET", "/Users?filter=" + quote(bad))
            self.assertScimError(st, got, 400, "invalidFilter")
        for bad in ['userName eq', 'userName zz "a"', '(userName eq "a"', 'userName eq "a" junk']:
            st, got, _ = self.scim("GET", "/Users?filter=" + quote(bad))
            self.assertScimError(st, got, 400, "invalidFilter")

    def test_attributes_projection(self):
        body, _ = self.create(unique("proj"), title="T", name={"givenName": "G"})
        uid = body["id"]
        st, got, _ = self.scim("GET", "/Users/%s?attributes=title" % uid)
        self.assertEqual(st, 200, got)
        self.assertEqual(got["title"], "T")
        self.assertEqual(got["id"], uid)        # returned always
        self.assertNotIn("name", got)
        st, got, _ = self.scim("GET", "/Users/%s?excludedAttributes=name,title" % uid)
        self.assertEqual(st, 200, got)
        self.assertNotIn("name", got)
        self.assertNotIn("title", got)
        self.assertEqual(got["userName"], body["userName"])
        st, got, _ = self.scim("GET", "/Users?filter=%s&attributes=name.givenName" %
                               quote('id eq "%s"' % uid))
        self.assertEqual(st, 200, got)
        r = got["Resources"][0]
        self.assertEqual(r["name"], {"givenName": "G"})
        self.assertNotIn("title", r)

    def test_search_endpoints(self):
        name = unique("search")
        body, _ = self.create(name)
        req = {"schemas": [SEARCH], "filter": 'userName eq "%s"' % name,
               "attributes": ["userName"], "startIndex": 1, "count": 5}
        st, got, _ = self.scim("POST", "/Users/.search", req)
        self.assertEqual(st, 200, got)
        self.assertEqual([r["id"] for r in got["Resources"]], [body["id"]])
        st, got, _ = self.scim("POST", "/.search", req)
        self.assertEqual(st, 200, got)
        self.assertEqual([r["id"] for r in got["Resources"]], [body["id"]])
        st, got, _ = self.scim("GET", "/Users/.search")
        self.assertScimError(st, got, 405)

    # ---- PATCH --------------------------------------------------------------------------

    def test_patch_operations(self):
        body, _ = self.create(unique("patch"), active=True)
        uid = body["id"]
        ops = {"schemas": [PATCHOP], "Operations": [
            {"op": "Replace", "path": "active", "value": False},          # Entra's spelling
            {"op": "Add", "path": 'emails[type eq "work"].value', "value": "w@corp.test"},
            {"op": "replace", "value": {"title": "Lead", "name": {"familyName": "F"}}},
        ]}
        st, got, h = self.scim("PATCH", "/Users/" + uid, ops)
        self.assertEqual(st, 200, got)
        self.assertIs(got["active"], False)
        self.assertEqual(got["title"], "Lead")
        self.assertEqual(got["name"]["familyName"], "F")
        work = [e for e in got["emails"] if e.get("type") == "work"]
        self.assertEqual(work[0]["value"], "w@corp.test")
        st, got, _ = self.scim("PATCH", "/Users/" + uid, {"schemas": [PATCHOP], "Operations": [
            {"op": "remove", "path": "title"}]})
        self.assertEqual(st, 200, got)
        self.assertNotIn("title", got)
        # errors
        st, got, _ = self.scim("PATCH", "/Users/" + uid, {"schemas": [PATCHOP], "Operations": [
            {"op": "jump", "path": "title", "value": "x"}]})
        self.assertScimError(st, got, 400, "invalidSyntax")
        st, got, _ = self.scim("PATCH", "/Users/" + uid, {"schemas": [PATCHOP], "Operations": [
            {"op": "replace", "path": "id", "value": "x"}]})
        self.assertScimError(st, got, 400, "mutability")
        st, got, _ = self.scim("PATCH", "/Users/" + uid, {"schemas": [PATCHOP], "Operations": [
            {"op": "replace", "path": 'emails[type eq "home"].value', "value": "x"}]})
        self.assertEqual(st, 400, got)
        st, got, _ = self.scim("PATCH", "/Users/" + uid, {"schemas": [PATCHOP], "Operations": [
            {"op": "replace", "path": "active", "value": "yes"}]})
        self.assertScimError(st, got, 400, "invalidValue")

    def test_patch_that_takes_a_taken_username(self):
        a, _ = self.create(unique("pa"))
        b, _ = self.create(unique("pb"))
        st, got, _ = self.scim("PATCH", "/Users/" + b["id"], {"schemas": [PATCHOP], "Operations": [
            {"op": "replace", "path": "userName", "value": a["userName"].upper()}]})
        self.assertScimError(st, got, 409, "uniqueness")

    # ---- ETags --------------------------------------------------------------------------

    def test_etags(self):
        body, h = self.create(unique("etag"))
        uid = body["id"]
        v1 = h["etag"]
        st, got, h = self.scim("GET", "/Users/" + uid, headers={"If-None-Match": v1})
        self.assertEqual(st, 304)
        self.assertEqual(h["etag"], v1)
        patch = {"schemas": [PATCHOP], "Operations": [
            {"op": "replace", "path": "title", "value": "A"}]}
        st, got, h = self.scim("PATCH", "/Users/" + uid, patch, headers={"If-Match": v1})
        self.assertEqual(st, 200, got)
        v2 = h["etag"]
        self.assertNotEqual(v1, v2)
        # a stale version is refused and changes nothing
        patch["Operations"][0]["value"] = "B"
        st, got, _ = self.scim("PATCH", "/Users/" + uid, patch, headers={"If-Match": v1})
        self.assertScimError(st, got, 412)
        st, got, _ = self.scim("PUT", "/Users/" + uid, user(body["userName"]),
                               headers={"If-Match": v1})
        self.assertScimError(st, got, 412)
        st, got, _ = self.scim("DELETE", "/Users/" + uid, headers={"If-Match": v1})
        self.assertScimError(st, got, 412)
        st, got, _ = self.scim("GET", "/Users/" + uid)
        self.assertEqual(got["title"], "A")
        st, got, _ = self.scim("GET", "/Users/" + uid, headers={"If-None-Match": v1})
        self.assertEqual(st, 200)
        st, got, _ = self.scim("PATCH", "/Users/" + uid, patch, headers={"If-Match": "*"})
        self.assertEqual(st, 200, got)

    # ---- strictness ---------------------------------------------------------------------

    def test_uniqueness_is_case_insensitive(self):
        name = unique("Uniq")
        self.create(name)
        st, got, _ = self.scim("POST", "/Users", user(name.upper()))
        self.assertScimError(st, got, 409, "uniqueness")

    def test_concurrent_creates_of_one_name(self):
        import threading
        name = unique("race")
        statuses = []
        lock = threading.Lock()

        def post(i):
            st, _, _ = self.scim("POST", "/Users", user(name if i % 2 else name.upper()))
            with lock:
                statuses.append(st)
        threads = [threading.Thread(target=post, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(statuses), [201] + [409] * 11)
        st, got, _ = self.scim("GET", "/Users?filter=" + quote('userName eq "%s"' % name))
        self.assertEqual(got["totalResults"], 1)

    def test_strict_validation(self):
        st, got, _ = self.scim("POST", "/Users", {"schemas": [USER], "title": "no name"})
        self.assertScimError(st, got, 400, "invalidValue")
        st, got, _ = self.scim("POST", "/Users", user(unique("u"), favouriteColour="red"))
        self.assertScimError(st, got, 400, "invalidValue")
        st, got, _ = self.scim("POST", "/Users", user(unique("u"), active="yes"))
        self.assertScimError(st, got, 400, "invalidValue")
        st, got, _ = self.scim("POST", "/Users", user(unique("u"), emails="a@b"))
        self.assertScimError(st, got, 400, "invalidValue")
        # readOnly attributes on create are ignored (RFC 7644 §3.3)
        st, got, _ = self.scim("POST", "/Users", user(unique("u"), groups=[{"value": "x"}]))
        self.assertEqual(st, 201, got)
        self.assertNotIn("groups", got)
        st, got, _ = self.scim("POST", "/Users", {"userName": unique("noschemas")})
        self.assertScimError(st, got, 400, "invalidSyntax")
        st, got, _ = self.scim("POST", "/Users", raw='{"schemas": ["%s"], "userName": ' % USER)
        self.assertScimError(st, got, 400, "invalidSyntax")
        st, got, _ = self.scim("POST", "/Users", raw='[1, 2]')
        self.assertScimError(st, got, 400, "invalidSyntax")
        st, got, _ = self.scim("POST", "/Users", raw='{"a": 1}',
                               headers={"Content-Type": "text/plain"})
        self.assertScimError(st, got, 415)

    def test_unknown_paths_and_methods(self):
        st, got, _ = self.scim("GET", "/Widgets")
        self.assertScimError(st, got, 404)
        st, got, h = self.scim("DELETE", "/Users")
        self.assertScimError(st, got, 405)
        self.assertIn("GET", h["allow"])
        st, got, _ = self.scim("POST", "/Users/" + str(uuid.uuid4()), user("x"))
        self.assertScimError(st, got, 405)

    # ---- groups ---------------------------------------------------------------------------

    def test_groups(self):
        a, _ = self.create(unique("ga"))
        b, _ = self.create(unique("gb"))
        gname = unique("Group")
        st, g, h = self.scim("POST", "/Groups", {"schemas": [GROUP], "displayName": gname,
                                                 "members": [{"value": a["id"]}]})
        self.assertEqual(st, 201, g)
        self.assertEqual([m["value"] for m in g["members"]], [a["id"]])
        self.assertEqual(g["members"][0].get("type", "User"), "User")
        st, got, _ = self.scim("POST", "/Groups", {"schemas": [GROUP],
                                                   "displayName": gname.lower()})
        self.assertScimError(st, got, 409, "uniqueness")
        st, got, _ = self.scim("POST", "/Groups", {"schemas": [GROUP], "displayName": unique("g"),
                                                   "members": [{"value": str(uuid.uuid4())}]})
        self.assertScimError(st, got, 400, "invalidValue")
        st, got, _ = self.scim("PATCH", "/Groups/" + g["id"], {"schemas": [PATCHOP], "Operations": [
            {"op": "add", "path": "members", "value": [{"value": b["id"]}]}]})
        self.assertEqual(st, 200, got)
        self.assertEqual(sorted(m["value"] for m in got["members"]), sorted([a["id"], b["id"]]))
        # a user shows its groups (readOnly, computed), and cannot be given any
        st, ua, _ = self.scim("GET", "/Users/" + a["id"])
        self.assertEqual([(x["value"], x.get("display")) for x in ua["groups"]],
                         [(g["id"], gname)])
        st, got, _ = self.scim("PATCH", "/Users/" + a["id"], {"schemas": [PATCHOP], "Operations": [
            {"op": "add", "path": "groups", "value": [{"value": g["id"]}]}]})
        self.assertScimError(st, got, 400, "mutability")
        st, got, _ = self.scim("PUT", "/Users/" + a["id"], ua)  # echoing groups back is fine
        self.assertEqual(st, 200, got)
        self.assertEqual([x["value"] for x in got["groups"]], [g["id"]])
        st, got, _ = self.scim("PATCH", "/Groups/" + g["id"], {"schemas": [PATCHOP], "Operations": [
            {"op": "remove", "path": 'members[value eq "%s"]' % a["id"]}]})
        self.assertEqual(st, 200, got)
        self.assertEqual([m["value"] for m in got["members"]], [b["id"]])
        st, ua, _ = self.scim("GET", "/Users/" + a["id"])
        self.assertNotIn("groups", ua)
        st, got, _ = self.scim("GET", "/Groups?filter=" + quote('displayName eq "%s"' % gname))
        self.assertEqual([r["id"] for r in got["Resources"]], [g["id"]])
        # deleting a user removes it from its groups
        st, _, _ = self.scim("DELETE", "/Users/" + b["id"])
        self.assertEqual(st, 204)
        st, got, _ = self.scim("GET", "/Groups/" + g["id"])
        self.assertEqual(got.get("members", []), [])
        st, _, _ = self.scim("DELETE", "/Groups/" + g["id"])
        self.assertEqual(st, 204)

    # ---- bulk -----------------------------------------------------------------------------

    def test_bulk_with_references(self):
        n1, n2, gname = unique("bulk1"), unique("bulk2"), unique("bulkgroup")
        req = {"schemas": [BULK_REQ], "Operations": [
            # the group comes first and refers to users created later in the request
            {"method": "POST", "path": "/Groups", "bulkId": "g",
             "data": {"schemas": [GROUP], "displayName": gname,
                      "members": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": user(n1)},
            {"method": "POST", "path": "/Users", "bulkId": "u2", "data": user(n2)},
            {"method": "PATCH", "path": "/Users/bulkId:u1", "data": {
                "schemas": [PATCHOP], "Operations": [
                    {"op": "replace", "path": "title", "value": "via bulk"}]}},
        ]}
        st, got, _ = self.scim("POST", "/Bulk", req)
        self.assertEqual(st, 200, got)
        self.assertIn(BULK_RES, got["schemas"])
        by = {o.get("bulkId", o["method"]): o for o in got["Operations"]}
        self.assertEqual(len(got["Operations"]), 4)
        for k in ("g", "u1", "u2"):
            self.assertEqual(str(by[k]["status"]), "201", got)
            self.assertTrue(by[k]["location"].startswith(self.tgt.scim_base))
        self.assertEqual(str(by["PATCH"]["status"]), "200", got)
        gid = by["g"]["location"].rsplit("/", 1)[1]
        u1 = by["u1"]["location"].rsplit("/", 1)[1]
        u2 = by["u2"]["location"].rsplit("/", 1)[1]
        st, g, _ = self.scim("GET", "/Groups/" + gid)
        self.assertEqual(sorted(m["value"] for m in g["members"]), sorted([u1, u2]))
        st, u, _ = self.scim("GET", "/Users/" + u1)
        self.assertEqual(u["title"], "via bulk")

    def test_bulk_fail_on_errors(self):
        dup = unique("bulkdup")
        self.create(dup)
        req = {"schemas": [BULK_REQ], "failOnErrors": 1, "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": user(dup)},
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": user(dup + "x")},
        ]}
        st, got, _ = self.scim("POST", "/Bulk", req)
        self.assertEqual(st, 200, got)
        self.assertEqual(len(got["Operations"]), 1, got)
        self.assertEqual(str(got["Operations"][0]["status"]), "409")
        self.assertEqual(got["Operations"][0]["response"]["scimType"], "uniqueness")
        st, got, _ = self.scim("GET", "/Users?filter=" + quote('userName eq "%sx"' % dup))
        self.assertEqual(got["totalResults"], 0)
        # without failOnErrors, every operation runs
        req.pop("failOnErrors")
        st, got, _ = self.scim("POST", "/Bulk", req)
        self.assertEqual([str(o["status"]) for o in got["Operations"]], ["409", "201"])
        # an unknown reference fails that operation only
        req = {"schemas": [BULK_REQ], "Operations": [
            {"method": "PATCH", "path": "/Users/bulkId:nope", "data": {
                "schemas": [PATCHOP], "Operations": [{"op": "replace", "path": "title",
                                                      "value": "x"}]}}]}
        st, got, _ = self.scim("POST", "/Bulk", req)
        self.assertEqual(st, 200, got)
        self.assertEqual(str(got["Operations"][0]["status"]), "409")

    def test_bulk_put_and_delete_and_unresolved_references_stop_on_errors(self):
        name = unique("bulkput")
        u, _ = self.create(name)
        patch = {"schemas": [PATCHOP], "Operations": [{"op": "replace", "path": "title",
                                                       "value": "x"}]}
        req = {"schemas": [BULK_REQ], "failOnErrors": 1, "Operations": [
            {"method": "PUT", "path": "/Users/" + u["id"],
             "data": user(name, title="put by bulk")},
            {"method": "PATCH", "path": "/Users/bulkId:never", "data": patch},
            {"method": "PATCH", "path": "/Users/bulkId:nowhere", "data": patch},
        ]}
        st, got, _ = self.scim("POST", "/Bulk", req)
        self.assertEqual(st, 200, got)
        # operations waiting for a reference that never resolves run last; the first
        # of them to fail ends the request
        self.assertEqual([str(o["status"]) for o in got["Operations"]], ["200", "409"])
        st, got, _ = self.scim("GET", "/Users/" + u["id"])
        self.assertEqual(got["title"], "put by bulk")
        req = {"schemas": [BULK_REQ], "failOnErrors": 1, "Operations": [
            {"method": "DELETE", "path": "/Users/" + u["id"]},
            {"method": "DELETE", "path": "/Users/" + u["id"]},
            {"method": "POST", "path": "/Users", "bulkId": "late", "data": user(name + "z")},
        ]}
        st, got, _ = self.scim("POST", "/Bulk", req)
        self.assertEqual([str(o["status"]) for o in got["Operations"]], ["204", "404"])
        st, got, _ = self.scim("GET", "/Users?filter=" + quote('userName eq "%sz"' % name))
        self.assertEqual(got["totalResults"], 0)

    def test_requests_without_content_type_or_with_other_methods(self):
        # a JSON body without Content-Type is read as JSON; OPTIONS is not a SCIM method
        conn = http.client.HTTPConnection("127.0.0.1", self.tgt.port, timeout=30)
        body = json.dumps(user(unique("noct"))).encode()
        conn.request("POST", "/scim/v2/Users", body=body,
                     headers={"Authorization": "Bearer tok"})
        r = conn.getresponse()
        got = json.loads(r.read())
        self.assertEqual(r.status, 201, got)
        conn.request("OPTIONS", "/scim/v2/Users", headers={"Authorization": "Bearer tok"})
        r = conn.getresponse()
        got = json.loads(r.read())
        self.assertEqual(r.status, 405, got)
        self.assertIn("GET", r.getheader("Allow"))
        conn.close()
        st, stats, _ = self.scim("GET", "/_stats")
        self.assertGreaterEqual(stats["requests"]["OTHER"], 1)

    def test_bulk_limits(self):
        st, spc, _ = self.scim("GET", "/ServiceProviderConfig")
        max_ops = spc["bulk"]["maxOperations"]
        ops = [{"method": "DELETE", "path": "/Users/%d" % i} for i in range(max_ops + 1)]
        st, got, _ = self.scim("POST", "/Bulk", {"schemas": [BULK_REQ], "Operations": ops})
        self.assertScimError(st, got, 413)
        st, got, _ = self.scim("POST", "/Bulk", {"schemas": [BULK_REQ]})
        self.assertScimError(st, got, 400, "invalidSyntax")

    # ---- discovery and the test aid ----------------------------------------------------

    def test_discovery(self):
        st, spc, h = self.scim("GET", "/ServiceProviderConfig")
        self.assertEqual(st, 200, spc)
        self.assertTrue(h["content-type"].startswith("application/scim+json"))
        self.assertTrue(spc["patch"]["supported"])
        self.assertTrue(spc["filter"]["supported"])
        self.assertGreater(spc["filter"]["maxResults"], 0)
        self.assertTrue(spc["bulk"]["supported"])
        self.assertGreater(spc["bulk"]["maxOperations"], 0)
        self.assertGreater(spc["bulk"]["maxPayloadSize"], 0)
        self.assertTrue(spc["etag"]["supported"])
        self.assertFalse(spc["changePassword"]["supported"])
        self.assertFalse(spc["sort"]["supported"])
        self.assertEqual([a["type"] for a in spc["authenticationSchemes"]], ["oauthbearertoken"])
        st, rts, _ = self.scim("GET", "/ResourceTypes")
        self.assertEqual(st, 200, rts)
        self.assertEqual(sorted(r["name"] for r in rts["Resources"]), ["Group", "User"])
        st, rt, _ = self.scim("GET", "/ResourceTypes/User")
        self.assertEqual((st, rt["endpoint"]), (200, "/Users"))
        st, schemas, _ = self.scim("GET", "/Schemas")
        ids = {s["id"] for s in schemas["Resources"]}
        self.assertTrue({USER, GROUP}.issubset(ids), ids)
        st, s, _ = self.scim("GET", "/Schemas/" + USER)
        self.assertEqual(st, 200, s)
        self.assertIn("userName", [a["name"] for a in s["attributes"]])
        st, s, _ = self.scim("GET", "/Schemas/urn:nope")
        self.assertScimError(st, s, 404)

    def test_stats_counts_requests_by_method(self):
        _, before, _ = self.scim("GET", "/_stats")
        self.create(unique("stats"))
        self.create(unique("stats"))
        self.scim("GET", "/Users?count=1")
        _, after, _ = self.scim("GET", "/_stats")
        self.assertEqual(after["requests"]["POST"] - before["requests"]["POST"], 2)
        self.assertEqual(after["requests"]["GET"] - before["requests"]["GET"], 1)
        self.assertEqual(after["users"] - before["users"], 2)
        st, got, _ = self.scim("GET", "/_stats", token="wrong")
        self.assertEqual(st, 401)


def quote(s):
    from urllib.parse import quote as q
    return q(s, safe="")


if __name__ == "__main__":
    unittest.main()
