"""The full resync pass at scale, run in chunks: the engine serves a live change while a
rule's first resync of thousands of users is still under way (here: waiting for its
listing of the target, read at one page a second), and the mass-deprovisioning brake
holds over a pass of many chunks (its removals are held to the end, none is sent), then
lets every one of them go with allow=true."""
import unittest

from harness import Serve, Target, wait_until
from seedflow import Flow, WAIT, WAIT_LONG, pop_filter, started

POP = "Code42 Users"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
BULK_REQ = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


class PassTest(unittest.TestCase):

    def setUp(self):
        self.tgt = started(self, Target(token="pass-token", no_delete=True))
        self.srv = started(self, Serve())
        self.f = Flow(self.srv, self.tgt)

    def accounts(self, names):
        """Creates accounts on the target directly (in Bulk requests of 1000)."""
        for i in range(0, len(names), 1000):
            ops = [{"method": "POST", "path": "/Users", "bulkId": "b%d" % k,
                    "data": {"schemas": [USER], "userName": n}}
                   for k, n in enumerate(names[i:i + 1000])]
            st, body, _ = self.tgt.scim("POST", "/Bulk", {"schemas": [BULK_REQ],
                                                           "Operations": ops})
            self.assertEqual(st, 200, body)

    def test_a_change_arrives_while_the_first_resync_runs(self):
        f = self.f
        n = 8000
        names = ["p%05d" % i for i in range(n)]
        # the accounts exist: the first resync links them from one listing of the target,
        # read at one call a second (eight pages of 1000)
        self.accounts(names)
        f.first_resync_only(POP, names, preferences={"maxRequestsPerSecond": 1})
        wait_until(lambda: f.stats().get("GET", 0) >= 1, timeout=WAIT, interval=0.05,
                   what="the first resync reading the target's listing")
        last = names[-1]
        f.patch_user(f.user_id(last), {"title": "Live"})
        f.wait_target(last, lambda u: u is not None and u.get("title") == "Live")
        # the pass has not ended: the change did not wait for it
        self.assertEqual(f.resyncs_total(), 0)

    def test_the_brake_holds_over_a_pass_of_many_chunks(self):
        f = self.f
        keep, drop = 200, 1100  # more users than one chunk of the pass
        f.population("Keep")
        f.population("Drop")
        f.import_users([f.person("keep%04d" % i, "Keep") for i in range(keep)]
                       + [f.person("drop%04d" % i, "Drop") for i in range(drop)])
        f.setup(user_filter=pop_filter("Keep", "Drop"))
        f.wait_status(lambda s: s["users"]["success"] == keep + drop and s["pending"] == 0,
                      timeout=WAIT_LONG, what="every user synced")
        # narrowing the filter starts a pass that would disable 1100 of 1300
        f.ok("PUT", "/api/v1/rules/%s/filter" % f.rule, pop_filter("Keep"))
        s = f.wait_status(lambda s: "brake" in s, timeout=WAIT_LONG,
                          what="the brake in the status")
        self.assertEqual((s["brake"]["held"], s["brake"]["threshold"]), (drop, 130))
        self.assertEqual(f.stats().get("PATCH", 0), 0)
        self.assertEqual(f.status()["pending"], 0)
        plan = f.resync("?dryRun=true")
        self.assertEqual(plan["brake"], {"held": drop, "threshold": 130})
        self.assertEqual(len(plan["disables"]), drop)
        f.resync("?allow=true")
        f.wait_status(lambda s: "brake" not in s and s["pending"] == 0
                      and s["users"]["success"] == keep + drop, timeout=WAIT_LONG,
                      what="the removals approved and delivered")
        wait_until(lambda: sum(1 for u in f.target_users().values() if not u["active"]) == drop,
                   timeout=WAIT, interval=0.5, what="%d accounts disabled" % drop)
        self.assertTrue(all(u["active"] for n, u in f.target_users().items()
                            if n.startswith("keep")))
        self.assertEqual(f.stats().get("PATCH", 0), drop)


if __name__ == "__main__":
    unittest.main()
