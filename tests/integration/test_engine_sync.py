"""The provisioning engine's own behaviours against real `scimitar serve` and `scimitar
target` processes: an account deleted on the target is created again on the next
change, a dry run shows old -> new values and sends nothing, Allow disable off keeps the
account, per-connection rate and concurrency limits measured at the target, /metrics and
the log's filters, and the resync route's errors."""
import re
import unittest

from harness import Serve, Target, wait_until
from scimfake import FakeTarget
from seedflow import Flow, WAIT, started

POP = "Code42 Users"


class EngineTest(unittest.TestCase):

    def flow(self, no_delete=True):
        tgt = started(self, Target(token="engine-token-123", no_delete=no_delete))
        srv = started(self, Serve())
        return Flow(srv, tgt)

    def test_account_deleted_on_the_target_is_created_again(self):
        f = self.flow(no_delete=False)
        uid = f.user("ada", POP)
        f.setup(population=POP)
        first = f.wait_target("ada", lambda u: u is not None)
        st, _, _ = f.tgt.scim("DELETE", "/Users/" + first["id"])
        self.assertEqual(st, 204)
        f.patch_user(uid, {"title": "Came back"})
        again = f.wait_target("ada", lambda u: u and u.get("title") == "Came back")
        self.assertNotEqual(again["id"], first["id"])
        self.assertEqual(f.target_count(), 1)
        f.wait_status(lambda s: s["status"] == "ACTIVE" and s["users"]["success"] == 1,
                      what="synced again")
        self.assertEqual(f.rule_users()[0]["targetId"], again["id"])
        self.assertTrue([e for e in f.logs(action="UPDATE") if e["httpStatus"] == 404])
        self.assertEqual(len([e for e in f.logs(action="CREATE") if e["status"] == "SUCCESS"]),
                         2)

    def test_dry_run_shows_old_and_new_values_and_sends_nothing(self):
        f = self.flow()
        a = f.user("ada", POP)
        b = f.user("bob", POP)
        f.setup(population=POP)
        f.wait_target_count(2)
        f.wait_status(lambda s: s["users"]["success"] == 2, what="both synced")
        f.ok("PATCH", "/api/v1/rules/" + f.rule, {"enabled": False})
        f.patch_user(a, {"title": "Dry Title"})
        f.patch_user(b, {"enabled": False})
        f.user("carol", POP)
        writes = f.writes()
        plan = f.resync("?dryRun=true")
        self.assertTrue(plan["dryRun"])
        self.assertEqual([c["username"] for c in plan["creates"]], ["carol"])
        self.assertEqual([d["username"] for d in plan["disables"]], ["bob"])
        (upd,) = plan["updates"]
        self.assertEqual(upd["username"], "ada")
        self.assertIn({"attribute": "title", "old": "Engineer", "new": "Dry Title"},
                      upd["changes"])
        self.assertEqual(f.writes(), writes)
        self.assertEqual(f.target_user("ada")["title"], "Engineer")
        # A real resync of a disabled rule is refused; an unknown rule is 404.
        st, body, _ = f.srv.api("POST", "/api/v1/rules/%s/resync" % f.rule)
        self.assertEqual(st, 409, body)
        st, body, _ = f.srv.api("POST", "/api/v1/rules/00000000-0000-4000-8000-000000000000"
                                "/resync")
        self.assertEqual(st, 404, body)

    def test_allow_disable_off_keeps_the_account_active(self):
        f = self.flow()
        a = f.user("ada", POP)
        f.setup(population=POP, preferences={"allowDisable": False})
        f.wait_target_count(1)
        f.patch_user(a, {"enabled": False})
        wait_until(lambda: f.rule_users()[0]["state"] == "OUT_OF_SCOPE", timeout=WAIT,
                   what="ada out of scope")
        self.assertTrue(f.target_user("ada")["active"])
        self.assertEqual(f.stats().get("PATCH", 0), 0)
        self.assertTrue(f.logs(action="SKIP"))

    def limited(self, tgt, prefs, n=30):
        """n users provisioned into tgt (a FakeTarget) under the given preferences; every
        one SYNCED and each looked up and created once."""
        srv = started(self, Serve())
        f = Flow(srv, tgt)
        f.population(POP)
        f.import_users([f.person("lim%02d" % i, POP) for i in range(n)])
        f.setup(population=POP, preferences=prefs)
        f.wait_status(lambda s: s["status"] == "ACTIVE" and s["users"]["success"] == n and
                      s["pending"] == 0, what="all %d synced" % n)
        self.assertEqual(len(tgt.user_list()), n)
        self.assertEqual(sorted(m for m, _, _ in tgt.requests), ["GET"] * n + ["POST"] * n)

    def test_the_rate_limit_holds_at_the_target(self):
        rate = 10
        with FakeTarget() as tgt:
            self.limited(tgt, {"maxRequestsPerSecond": rate})
            ts = tgt.times
            # A token bucket of `rate` per second with a burst of `rate` lets at most
            # rate + rate * t calls through in any t seconds. Arrival times carry the
            # loopback's and the fake's scheduling jitter on top of the engine's send
            # times: each window gets JITTER seconds of slack (2 calls' worth; without
            # the limit the 60 calls arrive within about a second and break the bound
            # by dozens).
            jitter = 0.2
            for i in range(len(ts)):
                for j in range(i + 1, len(ts)):
                    calls, span = j - i + 1, ts[j] - ts[i]
                    self.assertLessEqual(calls, rate + rate * (span + jitter),
                                         "%d calls in %.3f s" % (calls, span))
            # and so the 60 calls took at least (60 - burst) / rate seconds
            self.assertGreaterEqual(ts[-1] - ts[0], (len(ts) - rate) / rate - jitter)

    def test_the_concurrency_limit_holds_at_the_target(self):
        # Each call takes 0.2 s at the target; without a limit the engine would have
        # all 30 users' calls on the wire at once.
        with FakeTarget(latency=0.2) as tgt:
            self.limited(tgt, {"maxConcurrency": 2})
            self.assertEqual(tgt.max_inflight, 2)

    def test_metrics_and_log_filters(self):
        f = self.flow()
        f.user("ada", POP)
        f.user("bob", POP)
        f.setup(population=POP)
        f.wait_target_count(2)
        f.wait_status(lambda s: s["users"]["success"] == 2, what="both synced")
        st, text, _ = f.srv.api("GET", "/metrics")
        self.assertEqual(st, 200)
        m = re.search(r'scimitar_sync_operations_total\{rule="%s",action="CREATE",'
                      r'status="SUCCESS"\} (\d+)' % f.rule, text)
        self.assertTrue(m, text)
        self.assertEqual(int(m.group(1)), 2)
        self.assertIn('scimitar_sync_request_duration_seconds_count{rule="%s"}' % f.rule, text)
        # filters are case-insensitive on action and status; bad values are 400
        creates = f.logs(action="create", status="success")
        self.assertEqual(sorted(e["username"] for e in creates), ["ada", "bob"])
        for e in creates:
            self.assertEqual(e["ruleId"], f.rule)
            self.assertEqual(e["httpStatus"], 201)
            self.assertTrue(any(c["attribute"] == "userName" for c in e["changes"]))
        one = f.ok("GET", "/api/v1/logs?limit=1&rule=" + f.rule)
        self.assertEqual(len(one["items"]), 1)
        self.assertTrue(one["nextCursor"])
        st, body, _ = f.srv.api("GET", "/api/v1/logs?action=EXPLODE")
        self.assertEqual(st, 400, body)
        self.assertEqual(body["error"]["field"], "action")


if __name__ == "__main__":
    unittest.main()
