"""Group provisioning against `scimitar target`: a rule's group section pushes the chosen
directory groups (flattened or nested) with the members the rule provisions, looks a
group up before creating it, renames by PATCH, keeps memberships in step with PATCH
add/remove batches, removes per onRemove, and brakes mass member removals."""
import os
import re
import unittest
import urllib.parse

from harness import Serve, Target, wait_until
from seedflow import Flow, WAIT_LONG, started

POP = "Staff"


class GroupFlow(Flow):
    """Flow with the group helpers."""

    def groups_put(self, body, expect=(200,)):
        return self.ok("PUT", "/api/v1/rules/%s/groups" % self.rule, body, expect=expect)

    def target_groups(self):
        """{displayName: resource} of every group on the target."""
        out, start = {}, 1
        while True:
            body = self.read("/Groups?startIndex=%d&count=100" % start)
            res = body.get("Resources", [])
            for g in res:
                out[g["displayName"]] = g
            start += len(res)
            if not res or start > body["totalResults"]:
                return out

    def target_group(self, name):
        q = urllib.parse.quote('displayName eq "%s"' % name)
        res = self.read("/Groups?filter=" + q).get("Resources", [])
        return res[0] if res else None

    def member_names(self, name):
        """userNames (lower-case) of the users in the target group name, or None."""
        g = self.target_group(name)
        if g is None:
            return None
        users = {u["id"]: n for n, u in self.target_users().items()}
        return sorted(users.get(m["value"], "group:" + m["value"]) for m in g.get("members", []))

    def wait_members(self, name, want, timeout=60):
        box = {}

        def check():
            box["m"] = self.member_names(name)
            return box["m"] == sorted(want)
        try:
            wait_until(check, timeout=timeout, interval=0.1,
                       what="target group %r to hold %r" % (name, sorted(want)))
        except AssertionError:
            raise AssertionError("target group %r holds %r, want %r" %
                                 (name, box.get("m"), sorted(want)))


class GroupProvisioningTest(unittest.TestCase):

    def setUp(self):
        self.tgt = started(self, Target(token="code42-token-123"))
        self.srv = started(self, Serve())
        self.f = GroupFlow(self.srv, self.tgt)
        self.f.population(POP)

    def users(self, *names):
        self.f.import_users([self.f.person(n, POP) for n in names])
        return {n: self.f.user_id(n) for n in names}

    def test_section_validation_names_the_field(self):
        f = self.f
        f.setup(population=POP, enable=False)
        got = f.ok("GET", "/api/v1/rules/%s/groups" % f.rule)
        self.assertEqual(got, {"enabled": False, "select": {"names": []}, "nested": "flatten",
                               "onRemove": "removeMembers", "membersPerRequest": 100,
                               "mappings": [{"target": "displayName", "source": "name"},
                                            {"target": "externalId", "source": "id"}]})
        cases = [
            ({"enabled": "yes"}, "enabled"),
            ({"select": {"names": ["a", 3]}}, "select.names[1]"),
            ({"select": {"names": ["a", "A"]}}, "select.names[1]"),
            ({"select": {"filter": {"operator": "LIKE", "value": "x"}}},
             "select.filter.operator"),
            ({"select": {"filter": {"operator": "EQUALS", "value": ""}}}, "select.filter.value"),
            ({"select": {"under": 5}}, "select.under"),
            ({"select": {"names": [], "under": "x"}}, "select"),
            ({"select": {"bogus": 1}}, "select.bogus"),
            ({"nested": "deep"}, "nested"),
            ({"onRemove": "disable"}, "onRemove"),
            ({"membersPerRequest": 0}, "membersPerRequest"),
            ({"membersPerRequest": 1001}, "membersPerRequest"),
            ({"mappings": [{"target": "members", "source": "name"}]}, "mappings[0].target"),
            ({"mappings": [{"target": "displayName", "source": "owner"}]},
             "mappings[0].source"),
            ({"mappings": [{"target": "externalId", "source": "id"}]}, "mappings"),
            ({"enabled": True}, "select"),
            ({"color": "red"}, "color"),
        ]
        for body, field in cases:
            st, data, _ = self.srv.api("PUT", "/api/v1/rules/%s/groups" % f.rule, body)
            self.assertEqual(st, 400, (body, data))
            self.assertEqual(data["error"]["field"], field, (body, data))
        st, data, _ = self.srv.api("PUT", "/api/v1/rules/nope/groups", {"enabled": False})
        self.assertEqual(st, 404, data)
        body = {"enabled": True, "select": {"filter": {"operator": "STARTS_WITH",
                                                       "value": "eng"}},
                "nested": "nested", "onRemove": "delete", "membersPerRequest": 7,
                "mappings": [{"target": "displayName", "source": "name"}]}
        got = f.groups_put(body)
        self.assertEqual(got["select"], {"filter": {"attribute": "name",
                                                    "operator": "STARTS_WITH",
                                                    "value": "eng"}})
        self.assertEqual(got["membersPerRequest"], 7)
        self.assertEqual(f.ok("GET", "/api/v1/rules/%s/groups" % f.rule), got)

    def test_flattened_groups_renames_membership_and_scope(self):
        f = self.f
        ids = self.users(*["u%d" % i for i in range(8)])
        eng = f.group("Engineering")
        backend = f.group("Eng Backend")
        sales = f.group("Sales")
        f.add_member(eng, group_id=backend)
        for n in ("u0", "u1", "u2"):
            f.add_member(eng, user_id=ids[n])
        for n in ("u3", "u4"):
            f.add_member(backend, user_id=ids[n])
        f.add_member(sales, user_id=ids["u7"])
        f.setup(population=POP)
        f.groups_put({"enabled": True, "select": {"under": "Engineering"},
                      "membersPerRequest": 2})
        f.wait_members("Engineering", ["u0", "u1", "u2", "u3", "u4"])
        f.wait_members("Eng Backend", ["u3", "u4"])
        self.assertIsNone(f.target_group("Sales"))
        tg = f.target_group("Engineering")
        self.assertEqual(tg["externalId"], eng)

        # rename: PATCH on the same target group
        before = f.target_group("Eng Backend")["id"]
        f.ok("PATCH", "/api/v1/groups/" + backend, {"name": "Backend"})
        wait_until(lambda: f.target_group("Backend") is not None, timeout=30,
                   what="the rename on the target")
        self.assertEqual(f.target_group("Backend")["id"], before)
        self.assertIsNone(f.target_group("Eng Backend"))

        # membership changes: a removal, an addition, a disabled user
        f.remove_member(eng, ids["u0"])
        f.add_member(backend, user_id=ids["u5"])
        f.patch_user(ids["u1"], {"enabled": False})
        f.wait_members("Engineering", ["u2", "u3", "u4", "u5"])
        f.wait_members("Backend", ["u3", "u4", "u5"])

        # a user provisioned later joins once its account exists
        late = f.user("late", POP)
        f.add_member(backend, user_id=late)
        f.wait_members("Backend", ["late", "u3", "u4", "u5"])
        f.wait_members("Engineering", ["late", "u2", "u3", "u4", "u5"])

        # status and log
        st = f.status()
        self.assertEqual(st["groups"]["linked"], 2, st)
        wait_until(lambda: f.status()["groups"]["synced"] == 2, timeout=30,
                   what="both groups synced")
        logs = f.logs(kind="group")
        self.assertTrue(logs)
        self.assertTrue(all(e["kind"] == "group" for e in logs))
        actions = {e["action"] for e in logs}
        self.assertTrue({"CREATE", "UPDATE", "MEMBERS_ADD", "MEMBERS_REMOVE"} <= actions, actions)
        self.assertTrue(all(e["kind"] == "user" for e in f.logs(kind="user")))
        st, data, _ = self.srv.api("GET", "/api/v1/logs?kind=robots")
        self.assertEqual(st, 400)
        self.assertEqual(data["error"]["field"], "kind")

        # leaving scope: removeMembers empties the group and keeps it
        f.groups_put({"enabled": True, "select": {"names": ["Engineering"]}})
        f.wait_members("Backend", [])
        f.wait_members("Engineering", ["late", "u2", "u3", "u4", "u5"])
        # onRemove delete: a group leaving scope is deleted
        f.groups_put({"enabled": True, "select": {"names": ["Sales"]}, "onRemove": "delete"})
        wait_until(lambda: f.target_group("Engineering") is None, timeout=30,
                   what="Engineering deleted on the target")
        f.wait_members("Sales", ["u7"])

    def test_lookup_links_an_existing_group(self):
        f = self.f
        ids = self.users("a", "b")
        g = f.group("Support")
        f.add_member(g, user_id=ids["a"])
        # the group exists on the target already, with a member the directory does not hold
        f.setup(population=POP)
        wait_until(lambda: len(f.target_users()) == 2, timeout=30, what="users synced")
        b_target = f.target_users()["b"]["id"]
        st, made, _ = self.tgt.scim("POST", "/Groups", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Support", "members": [{"value": b_target}]})
        self.assertEqual(st, 201, made)
        f.groups_put({"enabled": True, "select": {"names": ["Support"]}})
        f.wait_members("Support", ["a"])
        self.assertEqual(f.target_group("Support")["id"], made["id"])
        self.assertEqual(len(f.target_groups()), 1)
        self.assertEqual(f.stats().get("POST", 0), 3)  # two users and the test's group
        self.assertIn("LINK", {e["action"] for e in f.logs(kind="group")})

    def test_a_user_joins_its_groups_when_its_account_is_made_and_leaves_when_out_of_scope(self):
        f = self.f
        ids = self.users("in1")
        f.population("Outside")
        out = f.user("out1", "Outside")
        g = f.group("Crew")
        f.add_member(g, user_id=ids["in1"])
        f.add_member(g, user_id=out)
        f.setup(population=POP)
        f.groups_put({"enabled": True, "select": {"names": ["Crew"]}})
        f.wait_members("Crew", ["in1"])
        # no group event: the user's own job (its account made) brings it into the group
        f.patch_user(out, {"population": {"name": POP}})
        f.wait_members("Crew", ["in1", "out1"])
        # and out of scope again: disabled on the target, removed from the group
        f.patch_user(out, {"population": {"name": "Outside"}})
        f.wait_members("Crew", ["in1"])
        self.assertFalse(f.target_user("out1")["active"])

    def test_lookup_links_a_group_whose_name_differs_in_case(self):
        f = self.f
        ids = self.users("k")
        g = f.group("Finance")
        f.add_member(g, user_id=ids["k"])
        st, made, _ = self.tgt.scim("POST", "/Groups", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "FINANCE"})
        self.assertEqual(st, 201, made)
        f.setup(population=POP)
        f.groups_put({"enabled": True, "select": {"names": ["finance"]}})
        f.wait_members("Finance", ["k"])  # renamed to the directory's spelling
        self.assertEqual(f.target_group("Finance")["id"], made["id"])
        self.assertEqual(f.target_group("Finance")["displayName"], "Finance")
        self.assertEqual(len(f.target_groups()), 1)

    def test_nested_groups_push_child_groups_as_members(self):
        f = self.f
        ids = self.users("p", "q")
        parent = f.group("Parent")
        child = f.group("Child")
        f.add_member(parent, user_id=ids["p"])
        f.add_member(parent, group_id=child)
        f.add_member(child, user_id=ids["q"])
        f.setup(population=POP)
        f.groups_put({"enabled": True, "select": {"under": "Parent"}, "nested": "nested"})
        f.wait_members("Child", ["q"])
        child_id = None
        wait_until(lambda: f.target_group("Child") is not None, timeout=30, what="child")
        child_id = f.target_group("Child")["id"]
        f.wait_members("Parent", ["group:" + child_id, "p"])

    def test_group_operations_are_counted_in_metrics_by_connection(self):
        f = self.f
        ids = self.users("m1", "m2", "m3")
        g = f.group("Metrics")
        f.add_member(g, user_id=ids["m1"])
        f.add_member(g, user_id=ids["m2"])
        f.setup(population=POP)
        f.groups_put({"enabled": True, "select": {"names": ["Metrics", "Renamed"]},
                      "membersPerRequest": 1})
        f.wait_members("Metrics", ["m1", "m2"])
        f.add_member(g, user_id=ids["m3"])
        f.wait_members("Metrics", ["m1", "m2", "m3"])
        f.remove_member(g, ids["m1"])
        f.wait_members("Metrics", ["m2", "m3"])
        f.ok("PATCH", "/api/v1/groups/" + g, {"name": "Renamed"})
        f.wait_members("Renamed", ["m2", "m3"])
        conn = f.conn

        def count(text, action, status):
            m = re.search(r'scimitar_sync_group_operations_total\{connection="%s",'
                          r'action="%s",status="%s"\} (\d+)' % (conn, action, status), text)
            return int(m.group(1)) if m else 0

        def members(text, change):
            m = re.search(r'scimitar_sync_group_members_total\{connection="%s",change="%s"\} '
                          r'(\d+)' % (conn, change), text)
            return int(m.group(1)) if m else 0

        def metrics():
            st, text, _ = self.srv.api("GET", "/metrics")
            self.assertEqual(st, 200)
            return text
        # the rename is committed just after the target shows it
        wait_until(lambda: count(metrics(), "UPDATE", "SUCCESS") == 1, timeout=30,
                   what="the rename counted")
        text = metrics()
        self.assertIn("# TYPE scimitar_sync_group_operations_total counter", text)
        self.assertEqual(count(text, "CREATE", "SUCCESS"), 1, text)
        self.assertEqual(count(text, "MEMBERS_ADD", "SUCCESS"), 3, text)  # one per request
        self.assertEqual(count(text, "MEMBERS_REMOVE", "SUCCESS"), 1, text)
        self.assertEqual(members(text, "add"), 3, text)
        self.assertEqual(members(text, "remove"), 1, text)
        self.assertEqual(count(text, "UNLINK", "SUCCESS"), 0, text)
        # out of scope: its members removed, then unlinked
        f.groups_put({"enabled": True, "select": {"names": ["Other"]}, "membersPerRequest": 1})
        wait_until(lambda: count(metrics(), "UNLINK", "SUCCESS") == 1, timeout=30,
                   what="the unlink counted")
        text = metrics()
        self.assertEqual(count(text, "MEMBERS_REMOVE", "SUCCESS"), 3, text)
        self.assertEqual(members(text, "remove"), 3, text)
        # a failure: the target is gone when the group is looked up again
        self.tgt.stop()
        f.groups_put({"enabled": True, "select": {"names": ["Renamed"]}})
        wait_until(lambda: count(metrics(), "LINK", "FAILED") >= 1, timeout=30,
                   what="the failed look-up counted")

    def test_a_membership_change_does_not_reload_the_group_tree(self):
        f = self.f
        srv = started(self, Serve(env={"SCIMITAR_LOG": "debug"}))
        self.srv, f = srv, GroupFlow(srv, self.tgt)
        f.population(POP)
        f.import_users([f.person(n, POP) for n in ("t1", "t2", "t3")])
        ids = {n: f.user_id(n) for n in ("t1", "t2", "t3")}
        top, sub = f.group("Top"), f.group("Sub")
        f.add_member(top, group_id=sub)
        f.add_member(sub, user_id=ids["t1"])
        f.setup(population=POP)
        f.groups_put({"enabled": True, "select": {"under": "Top"}})
        f.wait_members("Top", ["t1"])
        f.wait_members("Sub", ["t1"])

        def loads():
            with open(srv.log_path, "rb") as fh:
                return fh.read().count(b"engine.group_tree_loaded")
        before = loads()
        self.assertGreaterEqual(before, 1)
        # users joining and leaving: the tree stays, the groups' members follow
        f.add_member(sub, user_id=ids["t2"])
        f.wait_members("Sub", ["t1", "t2"])
        f.wait_members("Top", ["t1", "t2"])
        f.remove_member(sub, ids["t1"])
        f.wait_members("Top", ["t2"])
        f.wait_members("Sub", ["t2"])
        self.assertEqual(loads(), before, srv.output())
        # a change of nesting reloads it, and the selection under Top follows
        inner = f.group("Inner")
        f.add_member(inner, user_id=ids["t3"])
        f.add_member(sub, group_id=inner)
        f.wait_members("Inner", ["t3"])
        f.wait_members("Top", ["t2", "t3"])
        self.assertGreater(loads(), before)

    def test_nested_dynamic_group_over_children_of_many_members(self):
        # a dynamic group's own matches leave out the users its child groups bring: the
        # children's effective members (300 here, past the first allocation) are listed
        # one child after another
        f = self.f
        names = ["c%03d" % i for i in range(300)] + ["x%d" % i for i in range(5)]
        f.import_users([f.person(n, POP) for n in names])
        ids = {u["username"]: u["id"] for u in f.ok("GET", "/api/v1/users?limit=1000")["items"]}
        a, b = f.group("ChildA"), f.group("ChildB")
        for i in range(300):
            f.add_member(a if i < 200 else b, user_id=ids["c%03d" % i])
        dyn = f.group("Everyone", user_filter={"match": "ALL", "conditions": [
            {"attribute": "title", "operator": "EQUALS", "value": "Engineer"}]})
        f.add_member(dyn, group_id=a)
        f.add_member(dyn, group_id=b)
        f.setup(population=POP)
        f.groups_put({"enabled": True, "select": {"under": "Everyone"}, "nested": "nested"})
        wait_until(lambda: f.target_group("ChildA") and f.target_group("ChildB"), timeout=60,
                   what="the child groups")
        ga, gb = f.target_group("ChildA")["id"], f.target_group("ChildB")["id"]
        f.wait_members("Everyone", ["group:" + ga, "group:" + gb] +
                       ["x%d" % i for i in range(5)], timeout=120)

    def test_dry_run_lists_group_creates_renames_and_member_changes(self):
        f = self.f
        ids = self.users(*["d%d" % i for i in range(4)])
        a = f.group("Alpha")
        b = f.group("Beta")
        for n in ("d0", "d1"):
            f.add_member(a, user_id=ids[n])
        f.setup(population=POP)
        f.groups_put({"enabled": True, "select": {"names": ["Alpha", "Gamma"]}})
        f.wait_members("Alpha", ["d0", "d1"])
        wait_until(lambda: f.status()["groups"]["synced"] == 1, timeout=30, what="synced")
        f.ok("PATCH", "/api/v1/rules/" + f.rule, {"enabled": False})
        f.wait_events_handled()
        writes = f.writes()
        f.ok("PATCH", "/api/v1/groups/" + a, {"name": "Alpha One"})
        f.remove_member(a, ids["d0"])
        f.add_member(a, user_id=ids["d2"])
        f.add_member(a, user_id=ids["d3"])
        f.ok("PATCH", "/api/v1/groups/" + b, {"name": "Gamma"})
        f.groups_put({"enabled": True, "select": {"names": ["Alpha One", "Gamma"]}})
        plan = f.ok("POST", "/api/v1/rules/%s/resync?dryRun=true" % f.rule)
        g = plan["groups"]
        self.assertEqual([c["name"] for c in g["creates"]], ["Gamma"])
        self.assertEqual(g["renames"][0]["changes"],
                         [{"attribute": "displayName", "old": "Alpha", "new": "Alpha One"}])
        self.assertEqual([(m["name"], m["add"], m["remove"]) for m in g["members"]],
                         [("Alpha One", 2, 1)])
        self.assertEqual(g["counts"]["memberAdds"], 2)
        self.assertEqual(g["counts"]["memberRemoves"], 1)
        self.assertEqual(f.writes(), writes, "a dry run sends nothing")
        f.ok("PATCH", "/api/v1/rules/" + f.rule, {"enabled": True})
        f.wait_members("Alpha One", ["d1", "d2", "d3"])
        f.wait_members("Gamma", [])

    def test_test_connection_checks_the_groups_resource_when_groups_are_pushed(self):
        f = self.f
        f.setup(population=POP, enable=False)

        def steps():
            rep = f.ok("POST", "/api/v1/connections/%s/test" % f.conn)
            return rep, {s["name"]: s for s in rep["steps"]}
        rep, by = steps()
        self.assertNotIn("Groups", by, "no Groups step while no rule pushes groups")
        f.groups_put({"enabled": True, "select": {"names": ["Any"]}})
        rep, by = steps()
        self.assertTrue(by["Groups"]["ok"], by["Groups"])
        self.assertTrue(rep["ok"])
        f.patch_connection({"scim": {"groupsResource": "/Teams"}})
        rep, by = steps()
        self.assertFalse(by["Groups"]["ok"])
        self.assertIn("/Teams", by["Groups"]["detail"])
        self.assertIn("scim.groupsResource", by["Groups"]["detail"])
        self.assertFalse(rep["ok"])

    def test_cli_sets_and_shows_the_section_and_group_counters(self):
        f = self.f
        ids = self.users("c1")
        g = f.group("Ops")
        f.add_member(g, user_id=ids["c1"])
        f.setup(population=POP)
        r = self.srv.cli("rules", "groups", "Code42 rule", "--set-json", "-",
                         input='{"enabled": true, "select": {"names": ["Ops"]}}', check=True)
        self.assertIn("Ops", r.stdout)
        f.wait_members("Ops", ["c1"])
        wait_until(lambda: f.status()["groups"]["synced"] == 1, timeout=30, what="synced")
        r = self.srv.cli("rules", "status", "Code42 rule", check=True)
        self.assertRegex(r.stdout, r"Groups synced\s+1")
        self.assertRegex(r.stdout, r"Group memberships\s+1")
        r = self.srv.cli("rules", "groups", "Code42 rule", "--set-json", "-",
                         input='{"membersPerRequest": 0}')
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("membersPerRequest", r.stderr)


class GroupProvisioningScim11Test(unittest.TestCase):
    """A SCIM 1.1 target (`scimitar target --scim-version 1.1`, strict: it refuses 2.0
    URNs and PatchOp bodies) gets 1.1 group messages: a create with the 1.1 core schema,
    members added and removed with 1.1 PATCH ("operation": "delete"), a rename as a 1.1
    PATCH of displayName."""

    def setUp(self):
        self.tgt = started(self, Target(token="t11", extra=["--scim-version", "1.1"]))
        self.tgt.scim_base = self.tgt.base + "/scim/v1"
        self.srv = started(self, Serve())
        self.f = GroupFlow(self.srv, self.tgt)
        self.f.population(POP)

    def test_groups_in_scim_11(self):
        f = self.f
        f.import_users([f.person(n, POP) for n in ("a1", "a2", "a3")])
        ids = {n: f.user_id(n) for n in ("a1", "a2", "a3")}
        team = f.group("Team")
        for n in ("a1", "a2"):
            f.add_member(team, user_id=ids[n])
        f.setup(population=POP, scim={"version": "1.1"})
        # both names chosen, so that the rename keeps the group in scope
        f.groups_put({"enabled": True, "select": {"names": ["Team", "Crew"]}})
        f.wait_members("Team", ["a1", "a2"])
        tg = f.target_group("Team")
        self.assertEqual(tg["schemas"], ["urn:scim:schemas:core:1.0"])
        self.assertEqual(tg["externalId"], team)
        # a removal and an addition, then a rename: same target group
        f.remove_member(team, ids["a1"])
        f.add_member(team, user_id=ids["a3"])
        f.wait_members("Team", ["a2", "a3"])
        f.ok("PATCH", "/api/v1/groups/" + team, {"name": "Crew"})
        wait_until(lambda: f.target_group("Crew") is not None, timeout=30,
                   what="the rename on the 1.1 target")
        self.assertEqual(f.target_group("Crew")["id"], tg["id"])
        wait_until(lambda: f.status()["groups"]["synced"] == 1, timeout=30,
                   what="the group synced")
        self.assertFalse([e for e in f.logs(kind="group") if e["status"] == "FAILED"])


if __name__ == "__main__":
    unittest.main()
