"""The seed's walkthrough end to end against a Code42-like `scimitar target --no-delete`:
each row of the seed's settings tables (Users Resource /Users, SCIM Version 2.0, OAuth 2
Bearer Token with Auth Type Header Bearer or another word, User Filter Expression
`username Eq "%s"`, User Identifier userName, Remove Action Disable), the fourteen mapped
attributes, and the basic create / update / disable cycle."""
import unittest

from harness import Serve, Target, wait_until
from seedflow import Flow, WAIT, started, work

POP = "Code42 Users"


class SeedFlowTest(unittest.TestCase):

    def setUp(self):
        self.tgt = started(self, Target(token="code42-token-123", no_delete=True))
        self.srv = started(self, Serve())
        self.f = Flow(self.srv, self.tgt)

    def test_connection_defaults_are_the_seeds(self):
        f = self.f
        c = f.ok("POST", "/api/v1/connections", {
            "name": "Code42", "type": "SCIM_OUTBOUND",
            "scim": {"baseUrl": self.tgt.scim_base},
            "auth": {"method": "OAUTH2_BEARER", "accessToken": self.tgt.token}})
        self.assertFalse(c["enabled"])
        self.assertEqual(c["scim"]["usersResource"], "/Users")
        self.assertEqual(c["scim"]["version"], "2.0")
        self.assertEqual(c["auth"]["typeHeader"], "Bearer")
        self.assertEqual(c["auth"]["accessToken"], "********")
        p = c["preferences"]
        self.assertEqual(p["userFilterExpression"], 'username Eq "%s"')
        self.assertEqual(p["userIdentifier"], "userName")
        self.assertEqual(p["removeAction"], "DISABLE")
        self.assertTrue(p["allowCreate"] and p["allowUpdate"] and p["allowDisable"])
        self.assertEqual(p["updateMethod"], "PATCH")
        got = f.ok("GET", "/api/v1/connections/" + c["id"])
        self.assertNotIn(self.tgt.token, str(got))

    def test_new_rule_starts_with_the_seeds_mapping(self):
        f = self.f
        f.connection()
        rule = f.ok("POST", "/api/v1/rules", {"name": "r", "target": f.conn})
        self.assertEqual(rule["source"], "directory")
        self.assertFalse(rule["enabled"])
        rows = f.ok("GET", "/api/v1/rules/%s/mappings" % rule["id"])
        targets = {r["target"] for r in rows}
        for t in ("userName", "givenName", "familyName", "workPhone", "workEmail", "externalId",
                  "workCity", "workCountry", "workPostalCode", "userType", "title", "nickName",
                  "formattedName"):
            self.assertIn(t, targets)
        self.assertTrue(targets & {"workStreetAddress", "workStreetAddeess"})

    def test_test_connection_reports_steps_and_a_failing_one_can_be_saved(self):
        f = self.f
        f.connection()
        r = f.ok("POST", "/api/v1/connections/%s/test" % f.conn)
        self.assertTrue(r["ok"], r)
        self.assertGreaterEqual(len(r["steps"]), 3)
        self.assertTrue(all(s["ok"] for s in r["steps"]), r)
        # Users Resource is used as given: a wrong one fails the GET step, yet saves.
        bad = f.ok("POST", "/api/v1/connections",
                   f.connection_body(name="wrong resource", scim={"usersResource": "/Nobody"}))
        r = f.ok("POST", "/api/v1/connections/%s/test" % bad["id"])
        self.assertFalse(r["ok"], r)
        self.assertTrue(any(not s["ok"] and s["detail"] for s in r["steps"]), r)

    def test_create_maps_all_fourteen_attributes_and_skips_other_populations(self):
        f = self.f
        f.population(POP)
        f.population("Contractors")
        f.import_users([f.person("ada", POP), f.person("grace", POP), f.person("linus", POP),
                        f.person("outsider", "Contractors")])
        f.setup(population=POP)
        f.wait_target_count(3)
        f.wait_status(lambda s: s["users"]["success"] == 3, what="3 successes")
        self.assertIsNone(f.target_user("outsider"))
        want = f.person("ada", POP)
        u = f.target_user("ada")
        self.assertEqual(u["userName"], "ada")
        self.assertIn("urn:ietf:params:scim:schemas:core:2.0:User", u["schemas"])  # SCIM 2.0
        self.assertTrue(u.get("active", True))
        self.assertEqual(u["name"]["givenName"], want["name"]["given"])
        self.assertEqual(u["name"]["familyName"], want["name"]["family"])
        self.assertEqual(u["name"]["formatted"], want["name"]["formatted"])
        self.assertEqual(work(u.get("emails")), want["email"])
        self.assertEqual(work(u.get("phoneNumbers")), want["primaryPhone"])
        self.assertEqual(u["externalId"], want["externalId"])
        self.assertEqual(u["nickName"], want["nickname"])
        self.assertEqual(u["title"], want["title"])
        self.assertEqual(u["userType"], want["type"])
        a = want["address"]
        self.assertEqual(work(u.get("addresses"), "streetAddress"), a["streetAddress"])
        self.assertEqual(work(u.get("addresses"), "locality"), a["locality"])
        self.assertEqual(work(u.get("addresses"), "postalCode"), a["postalCode"])
        self.assertEqual(work(u.get("addresses"), "country"), a["countryCode"])
        st = f.status()
        self.assertEqual(st["status"], "ACTIVE")
        self.assertIsNotNone(st["lastSyncAt"])
        linked = {r["username"]: r for r in f.rule_users()}
        self.assertEqual(linked["ada"]["targetId"], u["id"])
        creates = [e for e in f.logs(action="CREATE") if e["status"] == "SUCCESS"]
        self.assertEqual(sorted(e["username"] for e in creates), ["ada", "grace", "linus"])
        self.assertNotIn(self.tgt.token, self.srv.output())  # secrets never logged

    def test_mapping_change_resyncs_every_user(self):
        f = self.f
        f.population(POP)
        f.import_users([f.person("user%d" % i, POP) for i in range(5)])
        f.setup(population=POP)
        f.wait_target_count(5)
        rows = [r for r in f.ok("GET", "/api/v1/rules/%s/mappings" % f.rule)
                if r["target"] != "title"] + [{"target": "title", "source": "nickname"}]
        f.ok("PUT", "/api/v1/rules/%s/mappings" % f.rule, rows)
        want = {"user%d" % i: f.person("user%d" % i, POP)["nickname"] for i in range(5)}
        wait_until(lambda: all(f.target_user(n)["title"] == t for n, t in want.items()),
                   timeout=WAIT, interval=0.2, what="every title re-mapped")
        self.assertEqual(f.target_count(), 5)

    def test_update_sends_only_the_change_with_patch(self):
        f = self.f
        uid = f.user("ada", POP)
        f.setup(population=POP)
        f.wait_target_count(1)
        before = f.stats()
        f.patch_user(uid, {"title": "Chief Engineer", "email": "ada@new.example.com"})
        u = f.wait_target("ada", lambda u: u and u.get("title") == "Chief Engineer")
        self.assertEqual(work(u.get("emails")), "ada@new.example.com")
        after = f.stats()
        self.assertGreater(after.get("PATCH", 0), before.get("PATCH", 0))
        self.assertEqual(after.get("POST", 0), before.get("POST", 0))
        self.assertEqual(after.get("PUT", 0), 0)
        # the target answers before the engine records the result: wait for the log
        upd = wait_until(lambda: [e for e in f.logs(action="UPDATE") if e["status"] == "SUCCESS"],
                         timeout=WAIT, what="the UPDATE log entry")
        self.assertTrue(upd)
        changed = {c["attribute"] for e in upd for c in e.get("changes") or []}
        self.assertTrue(any("title" in c for c in changed), changed)

    def test_remove_action_disable_never_deletes(self):
        f = self.f
        a = f.user("ada", POP)
        b = f.user("bob", POP)
        f.setup(population=POP)
        f.wait_target_count(2)
        f.patch_user(a, {"enabled": False})
        f.wait_target("ada", lambda u: u and u.get("active") is False, what="ada active:false")
        f.ok("DELETE", "/api/v1/users/" + b)
        f.wait_target("bob", lambda u: u and u.get("active") is False, what="bob active:false")
        self.assertEqual(f.target_count(), 2)
        self.assertEqual(f.stats().get("DELETE", 0), 0)
        def disables():
            d = [e for e in f.logs(action="DISABLE") if e["status"] == "SUCCESS"]
            return d if len(d) >= 2 else None
        dis = wait_until(disables, timeout=WAIT, what="two DISABLE log entries")
        self.assertEqual(sorted(e["username"] for e in dis), ["ada", "bob"])

    def test_filter_expression_links_an_existing_account(self):
        f = self.f
        st, pre, _ = self.tgt.scim("POST", "/Users", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "Ada", "title": "Old title", "active": True})
        self.assertEqual(st, 201, pre)
        f.user("ada", POP)
        f.setup(population=POP)
        f.wait_target("ada", lambda u: u and u.get("title") == "Engineer",
                      what="the existing account updated")
        self.assertEqual(f.target_count(), 1)
        self.assertEqual(f.target_user("ada")["id"], pre["id"])
        self.assertEqual(f.stats().get("POST", 0), 1)  # only this test's own
        wait_until(lambda: [r for r in f.rule_users() if r["targetId"] == pre["id"]],
                   timeout=WAIT, what="the link to the existing account")
        wait_until(lambda: [e for e in f.logs(action="LINK") if e["status"] == "SUCCESS"],
                   timeout=WAIT, what="the LINK log entry")

    def test_usernames_with_quotes_and_backslashes_stay_literal(self):
        f = self.f
        # An account whose name an unescaped filter would match.
        st, victim, _ = self.tgt.scim("POST", "/Users", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "victim", "title": "untouched"})
        self.assertEqual(st, 201, victim)
        st, q, _ = self.tgt.scim("POST", "/Users", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": 'o"brien', "title": "pre-existing"})
        self.assertEqual(st, 201, q)
        names = ['o"brien', "back\\slash", '"victim"', 'tail\\', 'q\\"mix']
        f.population(POP)
        f.import_users([f.person(n, POP) for n in names])
        f.setup(population=POP)
        f.wait_target_count(len(names) + 1)
        f.wait_status(lambda s: s["users"]["success"] == len(names), what="all linked")
        got = f.target_users()
        for n in names:
            self.assertIn(n.lower(), got)
            self.assertEqual(got[n.lower()]["userName"], n)
        self.assertEqual(got["victim"]["title"], "untouched")
        self.assertEqual(got['o"brien']["id"], q["id"])
        self.assertEqual(got['o"brien']["title"], "Engineer")
        links = {r["username"]: r["targetId"] for r in f.rule_users()}
        self.assertNotIn(victim["id"], links.values())

    def test_custom_auth_type_header_word_is_sent(self):
        # The strict target only takes "Bearer": a connection set to another word fails
        # (with the target's error in the log), and switching back to Bearer recovers.
        f = self.f
        f.user("ada", POP)
        f.setup(population=POP, auth={"typeHeader": "Token"})
        self.assertEqual(f.ok("GET", "/api/v1/connections/" + f.conn)["auth"]["typeHeader"],
                         "Token")
        test = f.ok("POST", "/api/v1/connections/%s/test" % f.conn)
        self.assertFalse(test["ok"], test)
        wait_until(lambda: [e for e in f.logs() if e["status"] == "FAILED"
                            and e.get("httpStatus") == 401], timeout=WAIT,
                   what="a FAILED log entry with 401")
        self.assertEqual(f.target_count(), 0)
        f.patch_connection({"auth": {"typeHeader": "Bearer"}})
        f.wait_target_count(1)
        self.assertTrue(f.ok("POST", "/api/v1/connections/%s/test" % f.conn)["ok"])


if __name__ == "__main__":
    unittest.main()
