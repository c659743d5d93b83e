"""`scimitar target --scim-version 1.1` as a SCIM 1.1 client sees it (draft-scim-api-01,
draft-scim-core-schema-01): the base URL /scim/v1, create / get / filter / PUT / DELETE
with 1.1 bodies, PATCH with meta.attributes and "operation":"delete", list paging, the
1.1 ListResponse and {"Errors":[...]} shapes, /ServiceProviderConfigs and /Schemas/Users,
groups, and the refusal of what only SCIM 2.0 has (PatchOp bodies, 2.0 URNs, manager.value,
$ref, ne / not / [...] filters, /Bulk, /.search, /scim/v2). One real target process on
loopback serves the class."""
import json
import socket
import subprocess
import unittest
import urllib.parse
import uuid

from harness import BIN, Target, http, wait_until

CORE = "urn:scim:schemas:core:1.0"
ENT = "urn:scim:schemas:extension:enterprise:1.0"
USER20 = "urn:ietf:params:scim:schemas:core:2.0:User"
ENT20 = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCHOP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Target11(Target):
    """`scimitar target --scim-version 1.1`, whose SCIM base is /scim/v1."""

    def __init__(self, **kw):
        extra = ["--scim-version", "1.1"] + list(kw.pop("extra", []))
        super().__init__(extra=extra, **kw)
        self.scim_base = self.base + "/scim/v1"


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def q(filter_text):
    return urllib.parse.quote(filter_text, safe="")


class TargetScim11Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tgt = Target11(token="tok")
        cls.tgt.start()

    @classmethod
    def tearDownClass(cls):
        cls.tgt.__exit__(None, None, None)

    def scim(self, *a, **kw):
        return self.tgt.scim(*a, **kw)

    def create(self, user_name, **extra):
        body = {"schemas": [CORE], "userName": user_name}
        if ENT in extra:
            body["schemas"].append(ENT)
        body.update(extra)
        st, got, h = self.scim("POST", "/Users", body)
        self.assertEqual(st, 201, got)
        return got, h

    def assertError11(self, st, body, status, words=None):
        """A SCIM 1.1 error: {"Errors":[{"description","code"}]}, code as a string."""
        self.assertEqual(st, status, body)
        self.assertEqual(set(body), {"Errors"}, body)
        self.assertEqual(len(body["Errors"]), 1, body)
        err = body["Errors"][0]
        self.assertEqual(err["code"], str(status), body)
        self.assertTrue(err["description"], body)
        if words:
            self.assertIn(words, err["description"])
        self.assertNotIn("urn:ietf:params:scim", json.dumps(body))

    def assertNo20(self, body):
        text = json.dumps(body)
        self.assertNotIn("urn:ietf:params:scim", text)
        self.assertNotIn("$ref", text)
        self.assertNotIn("resourceType", text)

    # ---- resources ---------------------------------------------------------------------

    def test_crud_cycle(self):
        name = unique("crud")
        st, body, h = self.scim("POST", "/Users", {
            "schemas": [CORE, ENT], "userName": name, "externalId": "ext-" + name,
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"type": "work", "value": name + "@example.com", "primary": True}],
            "addresses": [{"type": "work", "locality": "London", "country": "GB"}],
            ENT: {"department": "Engines", "manager": {"managerId": "m-1"}},
            "active": True})
        self.assertEqual(st, 201, body)
        self.assertTrue(h["content-type"].startswith("application/scim+json"))
        uid = body["id"]
        self.assertEqual(body["schemas"], [CORE, ENT])
        self.assertEqual(body[ENT], {"department": "Engines", "manager": {"managerId": "m-1"}})
        self.assertEqual(h["etag"], 'W/"1"')
        self.assertEqual(body["meta"]["version"], 'W/"1"')
        self.assertEqual(h["location"], self.tgt.scim_base + "/Users/" + uid)
        self.assertEqual(body["meta"]["location"], h["location"])
        self.assertTrue(body["meta"]["created"])
        self.assertNo20(body)

        st, got, h = self.scim("GET", "/Users/" + uid)
        self.assertEqual(st, 200, got)
        self.assertEqual(got, body)
        st, got, _ = self.scim("GET", "/Users/" + uid + "?attributes=userName," + ENT +
                               ":manager.managerId")
        self.assertEqual(st, 200, got)
        self.assertEqual(got[ENT], {"manager": {"managerId": "m-1"}})
        self.assertNotIn("emails", got)
        self.assertEqual(got["id"], uid)

        # PUT replaces the whole resource (1.1 §3.3.1)
        st, got, h = self.scim("PUT", "/Users/" + uid, {
            "schemas": [CORE], "userName": name, "name": {"givenName": "Ada", "familyName": "King"},
            "active": True})
        self.assertEqual(st, 200, got)
        self.assertEqual(got["name"]["familyName"], "King")
        self.assertNotIn("emails", got)
        self.assertNotIn(ENT, got)
        self.assertEqual(got["schemas"], [CORE])
        self.assertEqual(got["meta"]["created"], body["meta"]["created"])
        self.assertEqual(h["etag"], 'W/"2"')

        # DELETE answers 200 OK in SCIM 1.1
        st, got, _ = self.scim("DELETE", "/Users/" + uid)
        self.assertEqual(st, 200, got)
        self.assertIsNone(got)
        st, got, _ = self.scim("GET", "/Users/" + uid)
        self.assertError11(st, got, 404, uid)
        st, got, _ = self.scim("DELETE", "/Users/" + uid)
        self.assertError11(st, got, 404)

    def test_patch_meta_attributes_and_operation_delete(self):
        name = unique("patch")
        body, h = self.create(
            name, title="Engineer", nickName="Addie",
            name={"givenName": "Ada", "familyName": "Lovelace"},
            emails=[{"type": "work", "value": "a@x.example", "primary": True},
                    {"type": "home", "value": "a@home.example"}],
            addresses=[{"type": "work", "streetAddress": "1 Main St", "locality": "London"},
                       {"type": "home", "locality": "Oxford"}],
            phoneNumbers=[{"type": "work", "value": "+44 1"}],
            **{ENT: {"department": "Engines", "costCenter": "42"}})
        uid = body["id"]
        # what the engine sends when the work email, the work city and the department
        # change and the title goes: removals first, then the body
        patch = {
            "schemas": [CORE, ENT],
            "emails": [{"type": "work", "value": "a@x.example", "primary": True,
                        "operation": "delete"},
                       {"type": "work", "value": "b@x.example", "primary": True}],
            "addresses": [{"type": "work", "streetAddress": "1 Main St", "locality": "London",
                           "operation": "delete"},
                          {"type": "work", "streetAddress": "1 Main St", "locality": "Paris"}],
            "name": {"givenName": "Augusta"},
            ENT: {"department": "Looms"},
            "meta": {"attributes": ["title", "name.familyName", ENT + ":costCenter"]}}
        st, got, h2 = self.scim("PATCH", "/Users/" + uid, patch,
                                headers={"If-Match": h["etag"]})
        self.assertEqual(st, 200, got)
        self.assertEqual(h2["etag"], 'W/"2"')
        self.assertNo20(got)
        self.assertNotIn("title", got)
        self.assertEqual(got["name"], {"givenName": "Augusta"})
        self.assertEqual(got["nickName"], "Addie")
        self.assertEqual(sorted((e["type"], e["value"]) for e in got["emails"]),
                         [("home", "a@home.example"), ("work", "b@x.example")])
        self.assertEqual(sorted((a["type"], a["locality"]) for a in got["addresses"]),
                         [("home", "Oxford"), ("work", "Paris")])
        self.assertEqual(got["phoneNumbers"], [{"type": "work", "value": "+44 1"}])
        self.assertEqual(got[ENT], {"department": "Looms"})
        # the GET agrees, and a stale If-Match is refused
        st, again, _ = self.scim("GET", "/Users/" + uid)
        self.assertEqual(again, got)
        st, err, _ = self.scim("PATCH", "/Users/" + uid, {"schemas": [CORE], "title": "x"},
                               headers={"If-Match": h["etag"]})
        self.assertError11(st, err, 412)

        # a value matched by value: made primary; the old primary is primary no more
        st, got, _ = self.scim("PATCH", "/Users/" + uid, {
            "schemas": [CORE], "emails": [{"value": "a@home.example", "primary": True}]})
        self.assertEqual(st, 200, got)
        prim = {e["value"]: e.get("primary", False) for e in got["emails"]}
        self.assertEqual(prim, {"a@home.example": True, "b@x.example": False})
        # a delete that matches nothing changes nothing (the version stays)
        st, same, h3 = self.scim("PATCH", "/Users/" + uid, {
            "schemas": [CORE], "phoneNumbers": [{"value": "+1 nope", "operation": "delete"}]})
        self.assertEqual(st, 200, same)
        self.assertEqual(same, got)
        self.assertEqual(h3["etag"], 'W/"3"')
        # a whole multi-valued attribute removed and set again
        st, got, _ = self.scim("PATCH", "/Users/" + uid, {
            "schemas": [CORE], "meta": {"attributes": ["emails", "phoneNumbers"]},
            "emails": [{"value": "only@x.example", "type": "work"}]})
        self.assertEqual(st, 200, got)
        self.assertEqual(got["emails"], [{"value": "only@x.example", "type": "work"}])
        self.assertNotIn("phoneNumbers", got)
        # the extension emptied: its URN leaves schemas
        st, got, _ = self.scim("PATCH", "/Users/" + uid, {
            "schemas": [CORE], "meta": {"attributes": [ENT + ":department"]}})
        self.assertEqual(st, 200, got)
        self.assertNotIn(ENT, got)
        self.assertEqual(got["schemas"], [CORE])

    def test_patch_errors(self):
        body, _ = self.create(unique("perr"), emails=[
            {"type": "work", "value": "same@x.example"}, {"type": "home", "value": "same@x.example"}])
        uid = body["id"]
        cases = [
            ({"schemas": [PATCHOP], "Operations": [{"op": "replace", "path": "title",
                                                    "value": "x"}]}, "PatchOp"),
            ({"schemas": [USER20], "title": "x"}, "SCIM 2.0 URN"),
            ({"schemas": [CORE], ENT20: {"department": "x"}}, "SCIM 2.0 schema"),
            ({"schemas": [CORE], "nope": 1}, "unknown attribute nope"),
            ({"schemas": [CORE], "meta": {"attributes": ["nope"]}}, "nope is not an attribute"),
            ({"schemas": [CORE], "meta": {"attributes": ["emails.value"]}}, "as a whole"),
            ({"schemas": [CORE], "meta": {"attributes": ["userName"]}}, "userName"),
            ({"schemas": [CORE], "meta": {"version": 'W/"1"'}}, "readOnly"),
            ({"schemas": [CORE], "id": "other"}, "id is readOnly"),
            ({"schemas": [CORE], "emails": {"value": "x@y"}}, "array"),
            ({"schemas": [CORE], "emails": [{"value": "x@y", "operation": "remove"}]},
             '"delete"'),
            ({"schemas": [CORE], "emails": [{"value": "same@x.example",
                                             "operation": "delete"}]}, "matches 2 values"),
            ({"schemas": [CORE, ENT], ENT: {"manager": {"value": "m"}}}, "managerId"),
            ({"schemas": [CORE], "active": "yes"}, "active"),
        ]
        for patch, words in cases:
            st, got, _ = self.scim("PATCH", "/Users/" + uid, patch)
            self.assertError11(st, got, 400, words)
        st, got, _ = self.scim("GET", "/Users/" + uid)
        self.assertEqual(got["meta"]["version"], 'W/"1"')  # nothing was applied
        # narrowed by its type, one of the two goes
        st, got, _ = self.scim("PATCH", "/Users/" + uid, {
            "schemas": [CORE], "emails": [{"value": "same@x.example", "type": "home",
                                           "operation": "delete"}]})
        self.assertEqual(st, 200, got)
        self.assertEqual(got["emails"], [{"type": "work", "value": "same@x.example"}])
        st, got, _ = self.scim("PATCH", "/Users/nope", {"schemas": [CORE], "title": "x"})
        self.assertError11(st, got, 404)

    def test_refuses_scim20_bodies(self):
        name = unique("strict")
        cases = [
            ({"schemas": [USER20], "userName": name}, "SCIM 2.0 URN"),
            ({"schemas": [CORE, ENT20], "userName": name}, "SCIM 2.0 URN"),
            ({"userName": name}, "schemas"),
            ({"schemas": [CORE], "userName": name, ENT20: {"department": "d"}},
             "SCIM 2.0 schema"),
            ({"schemas": [CORE], "userName": name, ENT: {"department": "d"}},
             "not listed in schemas"),
            ({"schemas": [CORE, ENT], "userName": name, ENT: {"manager": {"value": "m"}}},
             "managerId"),
            ({"schemas": [CORE], "userName": name,
              "emails": [{"value": "a@x", "operation": "delete"}]}, "PATCH only"),
            ({"schemas": [CORE], "userName": name, "nope": 1}, "nope"),
            ({"schemas": [CORE]}, "userName"),
        ]
        for body, words in cases:
            st, got, _ = self.scim("POST", "/Users", body)
            self.assertError11(st, got, 400, words)
        # readOnly attributes on create are ignored, as RFC 7644 §3.3 says for 2.0
        st, got, _ = self.scim("POST", "/Users", {"schemas": [CORE], "userName": unique("ro"),
                                                  "groups": [{"value": "g"}]})
        self.assertEqual(st, 201, got)
        self.assertNotIn("groups", got)
        created, _ = self.create(name)
        st, got, _ = self.scim("PUT", "/Users/" + created["id"],
                               {"schemas": [USER20], "userName": name})
        self.assertError11(st, got, 400, "SCIM 2.0 URN")
        st, got, _ = self.scim("POST", "/Users", raw="{not json")
        self.assertError11(st, got, 400)
        st, got, _ = self.scim("POST", "/Users", raw="{}", headers={"Content-Type": "text/plain"})
        self.assertError11(st, got, 415)

    def test_uniqueness_is_409(self):
        name = unique("dup")
        self.create(name)
        st, got, _ = self.scim("POST", "/Users", {"schemas": [CORE], "userName": name.upper()})
        self.assertError11(st, got, 409, "already taken")

    # ---- list, filter, paging ------------------------------------------------------------

    def test_list_paging(self):
        prefix = unique("page")
        ids = {self.create("%s-%02d" % (prefix, i))[0]["id"] for i in range(12)}
        flt = q('userName sw "%s-"' % prefix)
        seen, start = [], 1
        while True:
            st, body, _ = self.scim("GET", "/Users?filter=%s&startIndex=%d&count=5" % (flt, start))
            self.assertEqual(st, 200, body)
            self.assertEqual(set(body), {"schemas", "totalResults", "itemsPerPage", "startIndex",
                                         "Resources"})
            self.assertEqual(body["schemas"], [CORE])
            self.assertEqual(body["totalResults"], 12)
            self.assertEqual(body["startIndex"], start)
            self.assertEqual(body["itemsPerPage"], len(body["Resources"]))
            for r in body["Resources"]:
                self.assertEqual(r["schemas"], [CORE])
                self.assertNo20(r)
            seen += [r["id"] for r in body["Resources"]]
            if not body["Resources"]:
                break
            start += len(body["Resources"])
        self.assertEqual(len(seen), 12)
        self.assertEqual(set(seen), ids)
        st, body, _ = self.scim("GET", "/Users?filter=%s&count=0" % flt)
        self.assertEqual((body["totalResults"], body["Resources"]), (12, []))

    def test_filters(self):
        a = unique("fa")
        ua, _ = self.create(a, title="Engineer", userType="Employee",
                            emails=[{"type": "work", "value": a + "@example.com"}],
                            **{ENT: {"department": "Engines", "manager": {"managerId": "boss"}}})
        b = unique("fb")
        ub, _ = self.create(b, userType="Intern", emails=[{"type": "work", "value": b + "@example.org"}])

        def ids(flt):
            st, body, _ = self.scim("GET", "/Users?filter=" + q(flt))
            self.assertEqual(st, 200, (flt, body))
            return {r["id"] for r in body["Resources"]} & {ua["id"], ub["id"]}

        self.assertEqual(ids('userName eq "%s"' % a), {ua["id"]})
        self.assertEqual(ids('USERNAME Eq "%s"' % a.upper()), {ua["id"]})  # the seed's spelling
        self.assertEqual(ids(CORE + ':userName eq "%s"' % b), {ub["id"]})
        self.assertEqual(ids('title pr and userName sw "%s"' % a[:5]), {ua["id"]})
        self.assertEqual(ids('(userName eq "%s" or userName eq "%s") and userType eq "Intern"'
                             % (a, b)), {ub["id"]})
        self.assertEqual(ids('emails co "%s@example.org"' % b), {ub["id"]})
        self.assertEqual(ids(ENT + ':department eq "Engines" and userName eq "%s"' % a), {ua["id"]})
        self.assertEqual(ids('manager.managerId eq "boss" and userName eq "%s"' % a), {ua["id"]})
        self.assertEqual(ids('meta.created gt "2000-01-01T00:00:00Z" and userName eq "%s"' % a),
                         {ua["id"]})
        self.assertEqual(ids('id eq "%s"' % ub["id"]), {ub["id"]})
        for flt, words in [('userName ne "%s"' % a, "'ne'"),
                           ('userName ew "x"', "'ew'"),
                           ('not (userName eq "x")', "'not'"),
                           ('emails[type eq "work"]', "'[]'"),
                           ('emails[type eq "work"].value eq "x"', "'[]'"),
                           (ENT20 + ':department eq "x"', "SCIM 1.1"),
                           ('manager.value eq "boss"', "managerId"),
                           ('userName eq', None)]:
            st, body, _ = self.scim("GET", "/Users?filter=" + q(flt))
            self.assertError11(st, body, 400, words)
        st, body, _ = self.scim("GET", "/Users?filter=userName%20eq%20%22" + a + "%22&attributes=" +
                                q(ENT20 + ":department"))
        self.assertError11(st, body, 400, "SCIM 1.1")

    # ---- groups ------------------------------------------------------------------------

    def test_groups(self):
        u1, _ = self.create(unique("m1"))
        u2, _ = self.create(unique("m2"))
        gname = unique("group")
        st, g, _ = self.scim("POST", "/Groups", {
            "schemas": [CORE], "displayName": gname, "members": [{"value": u1["id"]}]})
        self.assertEqual(st, 201, g)
        self.assertEqual(g["schemas"], [CORE])
        self.assertEqual(g["members"], [{"value": u1["id"], "type": "User",
                                         "display": u1["userName"]}])
        self.assertNo20(g)
        st, u, _ = self.scim("GET", "/Users/" + u1["id"])
        self.assertEqual(u["groups"], [{"value": g["id"], "display": gname, "type": "direct"}])
        st, g2, _ = self.scim("PATCH", "/Groups/" + g["id"], {
            "schemas": [CORE], "members": [{"value": u1["id"], "operation": "delete"},
                                           {"value": u2["id"]}]})
        self.assertEqual(st, 200, g2)
        self.assertEqual([m["value"] for m in g2["members"]], [u2["id"]])
        st, g3, _ = self.scim("PATCH", "/Groups/" + g["id"], {
            "schemas": [CORE], "meta": {"attributes": ["members"]}})
        self.assertEqual(st, 200, g3)
        self.assertNotIn("members", g3)
        st, body, _ = self.scim("GET", "/Groups?filter=" + q('displayName eq "%s"' % gname))
        self.assertEqual([x["id"] for x in body["Resources"]], [g["id"]])
        for bad, words in [({"schemas": [CORE], "displayName": unique("g"),
                             "members": [{"value": u1["id"], "$ref": "x"}]}, "$ref"),
                           ({"schemas": [CORE, ENT], "displayName": unique("g")}, "not a schema"),
                           ({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                             "displayName": unique("g")}, "SCIM 2.0 URN")]:
            st, got, _ = self.scim("POST", "/Groups", bad)
            self.assertError11(st, got, 400, words)
        st, got, _ = self.scim("DELETE", "/Groups/" + g["id"])
        self.assertEqual(st, 200, got)

    # ---- discovery and endpoints ----------------------------------------------------------

    def test_discovery(self):
        st, spc, _ = self.scim("GET", "/ServiceProviderConfigs")
        self.assertEqual(st, 200, spc)
        self.assertEqual(spc["schemas"], [CORE])
        self.assertTrue(spc["patch"]["supported"])
        self.assertFalse(spc["bulk"]["supported"])
        self.assertTrue(spc["filter"]["supported"])
        self.assertEqual(spc["filter"]["maxResults"], 200)
        self.assertTrue(spc["etag"]["supported"])
        self.assertFalse(spc["xmlDataFormat"]["supported"])
        self.assertEqual([a["name"] for a in spc["authenticationSchemes"]], ["OAuth Bearer Token"])
        self.assertNo20(spc)
        st, s, _ = self.scim("GET", "/Schemas/Users")
        self.assertEqual(st, 200, s)
        self.assertEqual((s["id"], s["schema"], s["endpoint"]), (CORE + ":User", CORE, "/Users"))
        names = {a["name"]: a for a in s["attributes"]}
        self.assertTrue({"id", "userName", "emails", "addresses", "department", "manager"} <=
                        set(names))
        self.assertEqual(names["department"]["schema"], ENT)
        self.assertEqual(names["emails"]["multiValuedAttributeChildName"], "email")
        self.assertIn("managerId", [x["name"] for x in names["manager"]["subAttributes"]])
        self.assertNo20(s)
        st, s, _ = self.scim("GET", "/Schemas/Groups")
        self.assertEqual((st, s["id"]), (200, CORE + ":Group"))
        for path in ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas/" + USER20, "/Schemas",
                     "/Users/.search", "/.search", "/Me"]:
            st, got, _ = self.scim("GET", path)
            self.assertError11(st, got, 404)
        st, got, _ = self.scim("POST", "/Users/.search", {"schemas": [CORE]})
        self.assertError11(st, got, 404, "/.search")
        st, got, _ = self.scim("POST", "/Bulk", {"schemas": [CORE], "Operations": []})
        self.assertError11(st, got, 501, "Bulk")
        st, got, h = self.scim("PUT", "/ServiceProviderConfigs", {"schemas": [CORE]})
        self.assertError11(st, got, 405)
        self.assertEqual(h["allow"], "GET")

    def test_other_base_and_auth(self):
        st, got, _ = http("GET", self.tgt.base + "/scim/v2/Users",
                          headers={"Authorization": "Bearer tok"})
        self.assertError11(st, got, 404, "/scim/v1")
        st, got, h = self.scim("GET", "/Users", token="wrong")
        self.assertError11(st, got, 401)
        self.assertIn("Bearer", h["www-authenticate"])
        # a body past the cap, announced by Content-Length: refused before it is sent
        with socket.create_connection(("127.0.0.1", self.tgt.port), timeout=30) as s:
            s.sendall(b"POST /scim/v1/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok\r\n"
                      b"Content-Type: application/scim+json\r\nContent-Length: 2000000\r\n"
                      b"Connection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        hdr, _, rest = data.partition(b"\r\n\r\n")
        self.assertTrue(hdr.startswith(b"HTTP/1.1 413"), hdr)
        self.assertError11(413, json.loads(rest.decode()), 413)
        st, stats, _ = self.scim("GET", "/_stats")
        self.assertEqual(st, 200, stats)
        self.assertGreater(stats["requests"]["GET"], 0)


class TargetVersionOptionTest(unittest.TestCase):
    def test_bad_version_refused(self):
        r = subprocess.run([BIN, "target", "--scim-version", "1.0"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--scim-version must be 2.0 or 1.1", r.stderr)

    def test_default_is_20_and_refuses_v1(self):
        with Target(token="t") as tgt:
            st, got, _ = http("GET", tgt.base + "/scim/v1/Users",
                              headers={"Authorization": "Bearer t"})
            self.assertEqual(st, 404, got)
            self.assertIn("urn:ietf:params:scim:api:messages:2.0:Error", got["schemas"])
            self.assertIn("SCIM 2.0 base", got["detail"])
        with Target11(token="t") as tgt:
            wait_until(lambda: "event=target.listening" in tgt.output(), what="the start line")
            self.assertIn("url=%s scim_version=1.1" % tgt.scim_base, tgt.output())


if __name__ == "__main__":
    unittest.main()
