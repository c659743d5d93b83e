"""Live changes ahead of bulk work: a change made while a long initial sync runs is
delivered within moments, not after the thousands of users queued before it (they are
in the bulk lane; changes are in the live lane, leased first and queued first)."""
import unittest

from harness import Target, Serve, wait_until
from seedflow import Flow, WAIT, started

POP = "Code42 Users"


class LaneTest(unittest.TestCase):

    def test_a_change_overtakes_the_initial_sync(self):
        tgt = Target(token="t", no_delete=True).start()
        self.addCleanup(tgt.__exit__, None, None, None)
        srv = started(self, Serve())
        f = Flow(srv, tgt)
        n = 300
        # 30 requests/s: the initial sync (a create per user) takes ~10 s
        f.first_resync_only(POP, ["l%04d" % i for i in range(n)],
                            preferences={"maxRequestsPerSecond": 30})
        wait_until(lambda: f.target_count() >= 20, timeout=WAIT, interval=0.05,
                   what="the initial sync under way")
        last = "l%04d" % (n - 1)  # the last user the initial sync would create
        f.patch_user(f.user_id(last), {"title": "Live"})
        f.wait_target(last, lambda u: u is not None and u.get("title") == "Live")
        # it arrived while most of the initial sync was still to come
        self.assertLess(f.target_count(), n // 2)
        f.wait_target_count(n, timeout=300)
        f.wait_status(lambda s: s["users"]["success"] == n and s["pending"] == 0,
                      timeout=WAIT, what="every user SYNCED")
        self.assertEqual(f.stats().get("POST"), n)
        self.assertEqual(f.target_user(last)["title"], "Live")


if __name__ == "__main__":
    unittest.main()
