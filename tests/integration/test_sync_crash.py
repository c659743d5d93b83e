"""Durability: `scimitar serve` killed with SIGKILL in the middle of a 10,000-user initial
sync, restarted on the same database and port, ends in exactly the same state as an
uninterrupted run: 10,000 users on the target, each created by exactly one POST."""
import os
import unittest

from harness import Serve, Target, wait_until
from seedflow import Flow, WAIT_LONG, started

POP = "Code42 Users"
N = int(os.environ.get("SCIMITAR_CRASH_USERS", "10000"))


class CrashTest(unittest.TestCase):

    def test_kill9_mid_sync_then_restart_gives_the_same_end_state(self):
        tgt = started(self, Target(token="code42-token-123", no_delete=True))
        first = Serve()
        self.addCleanup(first.tmp.cleanup)
        first.start()
        f = Flow(first, tgt)
        f.population(POP)
        f.import_users([{"username": "user%05d" % i, "email": "user%05d@example.com" % i,
                         "name": {"given": "U%d" % i, "family": "Crash"},
                         "population": {"name": POP}} for i in range(N)])
        f.setup(population=POP)
        wait_until(lambda: f.target_count() >= N // 10, timeout=WAIT_LONG, interval=0.05,
                   what="the sync to be under way")
        first.kill9()
        if first.log:
            first.log.close()
            first.log = None
        at_kill = f.target_count()

        again = started(self, Serve(db=first.db, port=first.port))
        f.srv = again
        f.wait_target_count(N, timeout=WAIT_LONG)
        f.wait_status(lambda s: s["users"]["success"] == N, timeout=WAIT_LONG,
                      what="every user linked")
        users = f.target_users()
        self.assertEqual(len(users), N)
        self.assertEqual(f.target_count(), N)
        self.assertTrue(all(u.get("active", True) for u in users.values()))
        self.assertEqual(f.stats().get("POST", 0), N,
                         "duplicate or missing POSTs (killed at %d)" % at_kill)
        linked = f.rule_users()
        self.assertEqual(len(linked), N)
        self.assertEqual(len({r["targetId"] for r in linked}), N)


if __name__ == "__main__":
    unittest.main()
