"""Capability discovery in Test Connection against fake SCIM targets that differ the way
real ones do (filters ignored, no /Schemas, SCIM 1.1's /ServiceProviderConfigs, a
case-sensitive userName, a listing that ignores count, a schema without nickName), and
GET /api/v1/connections/{id}/capabilities: unknowns before any test, what a test of
the saved connection learnt (not a test of other settings), warnings that follow the
current mappings, the change event written when the capabilities change, the row
deleted with the connection; and `scimitar connections capabilities`."""
import json
import unittest
import urllib.parse

from harness import Serve, Target
from scimfake import ENTERPRISE, USER, FakeServer, list_response, scim_error
from seedflow import SEED_MAPPING, pop_filter, started

SPC = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"

# The core attributes a typical target declares (no nickName), and the enterprise
# extension without costCenter.
CORE_ATTRS = [
    {"name": "userName"}, {"name": "title"}, {"name": "userType"}, {"name": "active"},
    {"name": "name", "subAttributes": [{"name": "givenName"}, {"name": "familyName"},
                                       {"name": "formatted"}]},
    {"name": "emails", "subAttributes": [{"name": "value"}, {"name": "type"},
                                         {"name": "primary"}]},
    {"name": "phoneNumbers", "subAttributes": [{"name": "value"}, {"name": "type"}]},
    {"name": "addresses"},  # declared without sub-attributes: all count as declared
]
ENTERPRISE_ATTRS = [{"name": "department"}, {"name": "employeeNumber"}]


class FakeTarget:
    """A SCIM service whose quirks are chosen per test. users: the userNames it holds."""

    def __init__(self, users=(), honour_filter=True, case_insensitive=True, page=True,
                 spc="2.0", resource_types=True, schemas=True, user_endpoint="/Users"):
        self.users = [{"schemas": [USER], "id": "id-%d" % i, "userName": u}
                      for i, u in enumerate(users)]
        self.honour_filter = honour_filter
        self.case_insensitive = case_insensitive
        self.page = page
        self.spc = spc
        self.resource_types = resource_types
        self.schemas = schemas
        self.user_endpoint = user_endpoint

    def handle(self, req):
        p = req.path[len("/scim/v2"):] if req.path.startswith("/scim/v2") else None
        if p is None:
            return 404, "not found"
        if p == "/Users":
            found = self.users
            f = req.query.get("filter")
            if f and self.honour_filter:
                want = f.split('"')[1]
                if self.case_insensitive:
                    found = [u for u in found if u["userName"].lower() == want.lower()]
                else:
                    found = [u for u in found if u["userName"] == want]
            start = int(req.query.get("startIndex", 1))
            count = int(req.query.get("count", 100))
            page = found[start - 1:start - 1 + count] if self.page else found
            return 200, list_response(page, total=len(found), start=start)
        spc_doc = {"schemas": [SPC], "patch": {"supported": True},
                   "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
                   "filter": {"supported": True, "maxResults": 50},
                   "changePassword": {"supported": True}, "sort": {"supported": True},
                   "etag": {"supported": False}}
        if p == "/ServiceProviderConfig" and self.spc == "2.0":
            return 200, spc_doc
        if p == "/ServiceProviderConfigs" and self.spc == "1.1":
            return 200, spc_doc
        if p == "/ResourceTypes" and self.resource_types:
            return 200, list_response([{"id": "User", "name": "User",
                                        "endpoint": self.user_endpoint, "schema": USER,
                                        "schemaExtensions": [{"schema": ENTERPRISE,
                                                              "required": False}]}])
        if p == "/Schemas" and self.schemas:
            return 200, list_response([{"id": USER, "attributes": CORE_ATTRS},
                                       {"id": ENTERPRISE, "attributes": ENTERPRISE_ATTRS}])
        return scim_error(404, "no such endpoint")


class CapabilitiesTest(unittest.TestCase):

    def setUp(self):
        self.srv = started(self, Serve())

    def api_ok(self, method, path, body=None, status=None):
        st, b, _ = self.srv.api(method, "/api/v1" + path, body)
        expected = status or (201 if method == "POST" and not path.endswith("/test")
                              else 204 if method == "DELETE" else 200)
        self.assertEqual(st, expected, b)
        return b

    def connection(self, base, name="Code42", **extra):
        body = {"name": name, "scim": {"baseUrl": base}, "auth": {"accessToken": "tok-SECRET"}}
        body.update(extra)
        return self.api_ok("POST", "/connections", body)["id"]

    def rule(self, cid, name="Code42 users", mapping=None):
        rid = self.api_ok("POST", "/rules", {"name": name, "target": cid})["id"]
        if mapping is not None:
            self.api_ok("PUT", "/rules/%s/mappings" % rid, mapping)
        return rid

    def run_test(self, cid, body=None):
        r = self.api_ok("POST", "/connections/%s/test" % cid, body)
        self.assertNotIn("tok-SECRET", json.dumps(r))
        return r

    def caps(self, cid):
        return self.api_ok("GET", "/connections/%s/capabilities" % cid)

    def step(self, report, name):
        found = [s for s in report["steps"] if s["name"] == name]
        self.assertEqual(len(found), 1, (name, report))
        return found[0]

    def events(self, cid):
        rows = self.srv.sql("SELECT kind, detail FROM change_events WHERE object_id = ? "
                            "ORDER BY seq", cid)
        return [(k, json.loads(d)) for k, d in rows]

    def test_built_in_target_before_and_after_a_test(self):
        tgt = started(self, Target(token="tok-SECRET", no_delete=True))
        st, _, _ = tgt.scim("POST", "/Users", {"schemas": [USER], "userName": "Ada.Lovelace"})
        self.assertEqual(st, 201)
        cid = self.connection(tgt.scim_base)
        st, err, _ = self.srv.api("GET", "/api/v1/connections/%s/capabilities" % ("0" * 36))
        self.assertEqual(st, 404, err)
        before = self.caps(cid)
        self.assertEqual(before["connectionId"], cid)
        for key in ("testedAt", "scimVersion", "patch", "bulk", "filter", "etag", "sort",
                    "changePassword", "listing", "userNameCaseInsensitive", "userAttributes"):
            self.assertIsNone(before[key], key)
        self.assertIs(before["serviceProviderConfig"], False)
        self.assertIs(before["schemas"], False)
        self.assertEqual(before["warnings"], [])
        self.assertEqual(before["learnt"], {})

        self.rule(cid)
        r = self.run_test(cid)
        self.assertIs(r["ok"], True, r)
        after = self.caps(cid)
        self.assertIsNotNone(after["testedAt"])
        self.assertEqual(after["scimVersion"], "2.0")
        self.assertIs(after["serviceProviderConfig"], True)
        self.assertIs(after["patch"], True)
        self.assertEqual(after["bulk"], {"supported": True, "maxOperations": 1000,
                                         "maxPayloadSize": 1048576})
        self.assertEqual(after["filter"], {"supported": True, "maxResults": 200,
                                           "honoured": True})
        self.assertIs(after["etag"], True)
        self.assertIs(after["sort"], False)
        self.assertIs(after["changePassword"], False)
        self.assertIs(after["listing"], True)
        self.assertIs(after["userNameCaseInsensitive"], True)
        self.assertIs(after["schemas"], True)
        for path in ("userName", "name.givenName", "emails.value", "nickName",
                     ENTERPRISE + ":department"):
            self.assertIn(path, after["userAttributes"])
        self.assertEqual(after["warnings"], [])
        # the capabilities changed: one event that reloads the connection, no resync
        caps_events = [d for k, d in self.events(cid) if d.get("change") == "capabilities"]
        self.assertEqual(caps_events, [{"resync": False, "change": "capabilities",
                                        "enabled": False}])
        # the same answers again: only testedAt moves, and no event
        self.run_test(cid)
        again = self.caps(cid)
        self.assertEqual(dict(again, testedAt=None), dict(after, testedAt=None))
        self.assertEqual(len([1 for k, d in self.events(cid)
                              if d.get("change") == "capabilities"]), 1)
        # the CLI prints it
        out = self.srv.cli("connections", "capabilities", "Code42", check=True).stdout
        self.assertIn("listing", out)
        self.assertIn("userNameCaseInsensitive", out)
        js = json.loads(self.srv.cli("connections", "capabilities", cid, "--json",
                                     check=True).stdout)
        self.assertEqual(js["connectionId"], cid)
        # deleted with the connection
        self.api_ok("DELETE", "/rules/" + self.api_ok("GET", "/rules")["items"][0]["id"])
        self.api_ok("DELETE", "/connections/" + cid)
        left = self.srv.sql("SELECT count(*) FROM connection_capabilities")[0][0]
        self.assertEqual(left, 0)

    def test_target_that_ignores_filters(self):
        fake = FakeTarget(users=["ada", "bob"], honour_filter=False)
        with FakeServer(fake.handle) as srv:
            cid = self.connection(srv.base + "/scim/v2")
            r = self.run_test(cid)
            self.assertIs(r["ok"], True, r)
            f = self.step(r, "Filter")
            self.assertIs(f["warning"], True)
            self.assertIn("ignores filters", f["detail"])
            self.assertIn("look-ups cannot be trusted", f["detail"])
            self.assertIn("unknown", self.step(r, "UserNameCase")["detail"])
            caps = self.caps(cid)
            self.assertIs(caps["filter"]["honoured"], False)
            self.assertEqual(caps["filter"]["maxResults"], 50)
            self.assertIsNone(caps["userNameCaseInsensitive"])

    def test_case_sensitive_and_unpaged_target(self):
        fake = FakeTarget(users=["Ada", "Bob"], case_insensitive=False, page=False)
        with FakeServer(fake.handle) as srv:
            cid = self.connection(srv.base + "/scim/v2")
            r = self.run_test(cid)
            self.assertIs(r["ok"], True, r)
            self.assertIs(self.step(r, "Listing")["warning"], True)
            self.assertIn("case-sensitive", self.step(r, "UserNameCase")["detail"])
            caps = self.caps(cid)
            self.assertIs(caps["listing"], False)
            self.assertIs(caps["userNameCaseInsensitive"], False)
            self.assertIs(caps["filter"]["honoured"], True)
            # the look-up went out with the userName's case swapped
            looked = [q.query.get("filter") for q in srv.seen(lambda q: "filter" in q.query)]
            self.assertIn('userName eq "aDA"', looked)

    def test_scim_11_target_without_schemas(self):
        fake = FakeTarget(users=[], spc="1.1", resource_types=False, schemas=False)
        with FakeServer(fake.handle) as srv:
            cid = self.connection(srv.base + "/scim/v2")
            self.rule(cid)
            r = self.run_test(cid)
            self.assertIs(r["ok"], True, r)
            self.assertIn("PATCH supported", self.step(r, "ServiceProviderConfig")["detail"])
            self.assertIn("not served", self.step(r, "ResourceTypes")["detail"])
            self.assertIn("not served", self.step(r, "Schemas")["detail"])
            self.assertIn("not checked", self.step(r, "Mapping")["detail"])
            self.assertIn("no account", self.step(r, "UserNameCase")["detail"])
            caps = self.caps(cid)
            self.assertIs(caps["serviceProviderConfig"], True)
            self.assertIs(caps["changePassword"], True)
            self.assertIs(caps["schemas"], False)
            self.assertIsNone(caps["userAttributes"])
            self.assertEqual(caps["warnings"], [])
            self.assertIsNone(caps["userNameCaseInsensitive"])
            # 2.0's name was asked first, then 1.1's
            paths = [q.path for q in srv.seen(lambda q: "ServiceProviderConfig" in q.path)]
            self.assertEqual(paths, ["/scim/v2/ServiceProviderConfig",
                                     "/scim/v2/ServiceProviderConfigs"])
            # a connection that says 1.1 asks 1.1's name first
            self.api_ok("PATCH", "/connections/" + cid, {"scim": {"version": "1.1"}})
            n = len(srv.seen())
            self.run_test(cid)
            paths = [q.path for q in srv.seen()[n:] if "ServiceProviderConfig" in q.path]
            self.assertEqual(paths, ["/scim/v2/ServiceProviderConfigs"])
            self.assertEqual(self.caps(cid)["scimVersion"], "1.1")

    def test_mapped_attributes_the_schema_does_not_declare(self):
        fake = FakeTarget(users=["ada"], user_endpoint="/Accounts")
        with FakeServer(fake.handle) as srv:
            cid = self.connection(srv.base + "/scim/v2")
            mapping = SEED_MAPPING + [{"target": "costCenter", "source": "externalId"},
                                      {"target": "department", "source": "title"}]
            rid = self.rule(cid, mapping=mapping)
            r = self.run_test(cid)
            self.assertIs(r["ok"], True, r)
            rt = self.step(r, "ResourceTypes")
            self.assertIs(rt["warning"], True)
            self.assertIn("scim.usersResource", rt["detail"])
            warned = [s for s in r["steps"] if s["name"] == "Mapping"]
            self.assertTrue(all(s["warning"] and s["ok"] for s in warned), warned)
            details = [s["detail"] for s in warned]
            self.assertIn("the target's schema does not declare nickName (mapping row 13 of "
                          "rule 'Code42 users')", details)
            self.assertEqual(len(details), 2, details)
            caps = self.caps(cid)
            self.assertEqual(caps["usersEndpoint"], "/Accounts")
            by_target = {w["target"]: w for w in caps["warnings"]}
            self.assertEqual(sorted(by_target), ["costCenter", "nickName"])
            self.assertEqual(by_target["nickName"], {
                "ruleId": rid, "ruleName": "Code42 users", "row": 12, "target": "nickName",
                "path": "nickName",
                "message": "the target's schema does not declare nickName (mapping row 13 of "
                           "rule 'Code42 users')"})
            self.assertEqual(by_target["costCenter"]["path"], ENTERPRISE + ":costCenter")
            self.assertEqual(by_target["costCenter"]["row"], 14)
            # warnings follow the current mapping, without another test
            self.api_ok("PUT", "/rules/%s/mappings" % rid,
                        [m for m in mapping if m["target"] != "nickName"])
            self.assertEqual([w["target"] for w in self.caps(cid)["warnings"]], ["costCenter"])

    def test_only_a_test_of_the_saved_settings_is_stored(self):
        fake = FakeTarget(users=["ada"])
        other = FakeTarget(users=["ada"], honour_filter=False)
        with FakeServer(fake.handle) as srv, FakeServer(other.handle) as srv2:
            cid = self.connection(srv.base + "/scim/v2")
            # an unsaved body, and unsaved edits: nothing stored
            r = self.api_ok("POST", "/connections/test", {
                "scim": {"baseUrl": srv.base + "/scim/v2"}, "auth": {"accessToken": "x-tok"}})
            self.assertIs(r["ok"], True, r)
            self.run_test(cid, {"scim": {"baseUrl": srv2.base + "/scim/v2"},
                            "auth": {"accessToken": "tok-SECRET"}})
            self.assertIsNone(self.caps(cid)["testedAt"])
            # the console's edit wizard sends the saved values back: stored
            conn = self.api_ok("GET", "/connections/" + cid)
            self.run_test(cid, conn)
            self.assertIsNotNone(self.caps(cid)["testedAt"])
            self.assertIs(self.caps(cid)["filter"]["honoured"], True)
            # /connections/test with the id and the saved values: stored too
            r = self.api_ok("POST", "/connections/test", dict(conn, description="changed"))
            self.assertIs(r["ok"], True, r)

    def test_learnt_facts_are_kept_across_tests(self):
        fake = FakeTarget(users=["ada"])
        with FakeServer(fake.handle) as srv:
            cid = self.connection(srv.base + "/scim/v2")
            self.run_test(cid)
            # what the engine learns is merged into "learnt" (provision_caps_learn); here
            # written the way it stores it, then a new test must keep it
            doc = json.loads(self.srv.sql("SELECT doc FROM connection_capabilities WHERE "
                                          "connection_id = ?", cid)[0][0])
            doc["learnt"] = {"filterHonoured": False}
            self.srv.sql("UPDATE connection_capabilities SET doc = ? WHERE connection_id = ?",
                         json.dumps(doc), cid)
            self.run_test(cid)
            self.assertEqual(self.caps(cid)["learnt"], {"filterHonoured": False})


if __name__ == "__main__":
    unittest.main()
