"""Delivery and safety: PUT as the update method, Remove Action DELETE, a target that goes
down and comes back, a faulty target (429 / 500 / latency) that still ends exactly in
the expected state, the mass-deprovisioning brake, dry runs, and a no-op full resync
that sends nothing."""
import os
import tempfile
import unittest

from harness import Serve, Target, wait_until
from seedflow import Flow, WAIT, WAIT_LONG, pop_filter, started, work

POP = "Code42 Users"


class DeliveryTest(unittest.TestCase):

    def flow(self, no_delete=True, extra=None, token="code42-token-123"):
        tgt = started(self, Target(token=token, no_delete=no_delete, extra=extra))
        srv = started(self, Serve())
        return Flow(srv, tgt)

    def test_put_update_method(self):
        f = self.flow()
        uid = f.user("ada", POP)
        f.setup(population=POP, preferences={"updateMethod": "PUT"})
        f.wait_target_count(1)
        f.patch_user(uid, {"title": "Put Title"})
        u = f.wait_target("ada", lambda u: u and u.get("title") == "Put Title")
        # A PUT replaces: the other mapped attributes must still be there.
        self.assertEqual(work(u.get("emails")), f.person("ada", POP)["email"])
        f.patch_user(uid, {"enabled": False})
        f.wait_target("ada", lambda u: u and u.get("active") is False)
        s = f.stats()
        self.assertGreaterEqual(s.get("PUT", 0), 2)
        self.assertEqual(s.get("PATCH", 0), 0)

    def test_remove_action_delete(self):
        f = self.flow(no_delete=False)
        a = f.user("ada", POP)
        f.user("bob", POP)
        f.setup(population=POP, preferences={"removeAction": "DELETE"})
        f.wait_target_count(2)
        f.patch_user(a, {"enabled": False})
        f.wait_target_count(1)
        self.assertIsNone(f.target_user("ada"))
        self.assertEqual(f.stats().get("DELETE", 0), 1)
        wait_until(lambda: [e for e in f.logs(action="DELETE") if e["status"] == "SUCCESS"],
                   timeout=WAIT, what="the DELETE log entry")

    def test_account_vanished_on_target_is_created_again(self):
        f = self.flow(no_delete=False)
        uid = f.user("ada", POP)
        f.setup(population=POP)
        f.wait_target_count(1)
        old = f.target_user("ada")["id"]
        st, _, _ = f.tgt.scim("DELETE", "/Users/" + old)
        self.assertEqual(st, 204)
        f.patch_user(uid, {"title": "After vanishing"})
        u = f.wait_target("ada", lambda u: u and u.get("title") == "After vanishing")
        self.assertNotEqual(u["id"], old)
        self.assertEqual(f.target_count(), 1)
        wait_until(lambda: [r for r in f.rule_users() if r["targetId"] == u["id"]],
                   timeout=WAIT, what="the new account linked")

    def test_deleting_a_group_used_by_the_filter_resyncs(self):
        f = self.flow()
        a = f.user("ada", POP)
        b = f.user("bob", POP)
        g = f.group("Code42 Access")
        f.add_member(g, user_id=a)
        f.add_member(g, user_id=b)
        f.setup(user_filter={"match": "ALL", "conditions": [
            {"attribute": "group", "operator": "EQUALS", "value": "Code42 Access"}]})
        f.wait_target_count(2)
        f.ok("DELETE", "/api/v1/groups/" + g)
        for n in ("ada", "bob"):
            f.wait_target(n, lambda u: u and u.get("active") is False,
                          what="%s disabled once the group is gone" % n)
        self.assertEqual(f.stats().get("DELETE", 0), 0)

    def test_target_down_then_back_converges(self):
        tmp = tempfile.TemporaryDirectory(prefix="scimitar-tgtdb-")
        self.addCleanup(tmp.cleanup)
        db = ["--db", "sqlite:" + os.path.join(tmp.name, "target.db")]
        tgt = Target(token="code42-token-123", no_delete=True, extra=db).start()
        srv = started(self, Serve())
        f = Flow(srv, tgt)
        a = f.user("ada", POP)
        b = f.user("bob", POP)
        f.setup(population=POP)
        f.wait_target_count(2)
        tgt.__exit__(None, None, None)
        f.patch_user(a, {"title": "While down"})
        f.patch_user(b, {"enabled": False})
        f.user("carol", POP)
        # Every call fails while the target is down and the three jobs keep retrying:
        # once 8 calls are in the health window, all failed, the connection is in
        # quarantine, and the status says so with the reason.
        s = f.wait_status(lambda s: s["status"] == "QUARANTINED", timeout=WAIT,
                          what="the connection quarantined")
        self.assertEqual(s["quarantineReason"], "most calls fail")
        retries = [e for e in f.logs() if e["status"] == "RETRY"]
        self.assertGreaterEqual(len(retries), 8)
        self.assertTrue(all(e["httpStatus"] is None and "no response" in e["error"]
                            for e in retries), retries)
        tgt2 = started(self, Target(token="code42-token-123", no_delete=True, extra=db,
                                    port=tgt.port))
        f.tgt = tgt2
        f.wait_target_count(3, timeout=WAIT_LONG)
        f.wait_target("ada", lambda u: u and u.get("title") == "While down", timeout=WAIT_LONG)
        f.wait_target("bob", lambda u: u and u.get("active") is False, timeout=WAIT_LONG)
        self.assertTrue(f.target_user("carol")["active"])
        # the first call that succeeds lifts the quarantine
        s = f.wait_status(lambda s: s["status"] == "ACTIVE" and s["pending"] == 0,
                          timeout=WAIT_LONG, what="ACTIVE again")
        self.assertNotIn("quarantineReason", s)
        self.assertEqual((s["users"]["success"], s["users"]["failed"]), (3, 0))

    def test_faulty_target_ends_in_the_exact_expected_state(self):
        f = self.flow(extra=["--faults", "429=0.15,500=0.1,latency=3ms,retry-after=1"])
        f.population(POP)
        f.population("Elsewhere")
        people = [f.person("user%03d" % i, POP) for i in range(60)]
        f.import_users(people)
        f.setup(population=POP)
        f.wait_target_count(60, timeout=WAIT_LONG)
        ids = {u["username"]: u["id"] for u in f.ok("GET", "/api/v1/users?limit=1000")["items"]}
        for i in range(0, 20):
            f.patch_user(ids["user%03d" % i], {"title": "Title %d" % i})
        for i in range(20, 30):
            f.patch_user(ids["user%03d" % i], {"enabled": False})
        for i in range(30, 35):
            f.patch_user(ids["user%03d" % i], {"population": {"name": "Elsewhere"}})

        def expected(name):
            i = int(name[4:])
            return {"title": "Title %d" % i if i < 20 else "Engineer",
                    "active": not (20 <= i < 35)}

        def exact():
            got = f.target_users()
            if len(got) != 60:
                return False
            return all({"title": u.get("title"), "active": u.get("active")} == expected(n)
                       for n, u in got.items())
        wait_until(exact, timeout=WAIT_LONG, interval=0.5, what="the exact expected state")
        self.assertEqual(f.target_count(), 60)
        self.assertEqual(f.stats().get("DELETE", 0), 0)

    def test_hung_requests_end_in_the_exact_expected_state(self):
        # 5% of requests hang for a second and then get 503: the engine cannot know
        # whether those reached the target, and must still neither duplicate nor lose.
        f = self.flow(extra=["--faults", "timeout=0.05,hang=1s,500=0.05,retry-after=1"])
        f.population(POP)
        f.import_users([f.person("hung%02d" % i, POP) for i in range(30)])
        f.setup(population=POP)
        f.wait_target_count(30, timeout=WAIT_LONG)
        ids = {u["username"]: u["id"] for u in f.ok("GET", "/api/v1/users?limit=1000")["items"]}
        for i in range(10):
            f.patch_user(ids["hung%02d" % i], {"enabled": False})

        def exact():
            got = f.target_users()
            return len(got) == 30 and all(
                u.get("active") is (int(n[4:]) >= 10) for n, u in got.items())
        wait_until(exact, timeout=WAIT_LONG, interval=0.5, what="the exact expected state")
        self.assertEqual(len({u["id"] for u in f.target_users().values()}), 30)

    def test_mass_deprovisioning_brake(self):
        f = self.flow()
        f.population("Keep")
        f.population("Drop")
        f.import_users([f.person("keep%02d" % i, "Keep") for i in range(5)]
                       + [f.person("drop%02d" % i, "Drop") for i in range(25)])
        f.setup(user_filter=pop_filter("Keep", "Drop"))
        f.wait_target_count(30)
        f.wait_status(lambda s: s["users"]["success"] == 30, what="30 linked")
        # Narrowing the filter starts a full resync that would disable 25 of 30.
        f.ok("PUT", "/api/v1/rules/%s/filter" % f.rule, pop_filter("Keep"))
        s = f.wait_status(lambda s: "brake" in s, what="the brake in the status")
        # 25 removals of 30 linked users: past max(10% of 30, 20)
        self.assertEqual((s["brake"]["held"], s["brake"]["threshold"]), (25, 20))
        self.assertIn("allow=true", s["brake"]["message"])
        self.assertEqual(sum(1 for u in f.target_users().values() if u["active"]), 30)
        self.assertEqual(f.stats().get("PATCH", 0), 0)
        # a dry run of the same pass shows the brake and what it holds back
        plan = f.resync("?dryRun=true")
        self.assertEqual(plan["brake"], {"held": 25, "threshold": 20})
        self.assertEqual(plan["counts"], {"users": 30, "creates": 0, "updates": 0,
                                          "removals": 25})
        self.assertEqual(sorted(d["username"] for d in plan["disables"]),
                         ["drop%02d" % i for i in range(25)])
        self.assertTrue(all(d["targetId"] for d in plan["disables"]))
        self.assertEqual((plan["creates"], plan["updates"], plan["deletes"]), ([], [], []))
        self.assertEqual(f.stats().get("PATCH", 0), 0)
        f.resync("?allow=true")
        wait_until(lambda: sum(1 for u in f.target_users().values() if not u["active"]) == 25,
                   timeout=WAIT, interval=0.3, what="25 disabled after allow")
        self.assertTrue(all(u["active"] for n, u in f.target_users().items()
                            if n.startswith("keep")))
        self.assertEqual(f.stats().get("DELETE", 0), 0)

    def test_dry_run_returns_the_plan_and_sends_nothing(self):
        f = self.flow()
        f.user("ada", POP)
        f.user("bob", POP)
        f.setup(population=POP, enable=False)
        f.patch_connection({"enabled": True})
        plan = f.resync("?dryRun=true")
        self.assertEqual((plan["ruleId"], plan["dryRun"]), (f.rule, True))
        self.assertEqual(plan["counts"], {"users": 2, "creates": 2, "updates": 0,
                                          "removals": 0})
        self.assertNotIn("brake", plan)
        creates = sorted(plan["creates"], key=lambda c: c["username"])
        self.assertEqual([c["username"] for c in creates], ["ada", "bob"])
        for c in creates:
            self.assertTrue(c["userId"])
            person = f.person(c["username"], POP)
            self.assertEqual(c["attributes"]["userName"], c["username"])
            self.assertEqual(c["attributes"]["title"], "Engineer")
            self.assertEqual(c["attributes"]["nickName"], person["nickname"])
            self.assertNotIn("active", c["attributes"])
        for empty in ("updates", "disables", "deletes", "unsynced"):
            self.assertEqual(plan[empty], [], empty)
        self.assertEqual(f.writes(), 0)
        self.assertEqual(f.target_count(), 0)

    def test_noop_full_resync_sends_nothing(self):
        f = self.flow()
        f.population(POP)
        f.import_users([f.person("user%02d" % i, POP) for i in range(20)])
        f.setup(population=POP)
        f.wait_status(lambda s: s["users"]["success"] == 20 and s["pending"] == 0,
                      what="first sync done")
        self.assertEqual(f.target_count(), 20)
        base = f.stats()  # _stats does not count itself: nothing else reads the target now
        f.resync_and_wait()
        self.assertEqual(f.stats(), base)


if __name__ == "__main__":
    unittest.main()
