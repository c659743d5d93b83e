"""The database going away while the engine works (PostgreSQL: the server restarting, a
failover, a network cut). Every session of serve is ended and new ones are refused for a
while in the middle of an initial sync: serve stays up, /healthz says the database
cannot be reached, and when it can be again the sync completes with the target exactly
as expected (every user once, no DELETE) and /healthz recovers."""
import os
import time
import unittest

import pgcluster
from harness import ON_POSTGRESQL, Target, Serve, http, wait_until
from seedflow import Flow, WAIT, started

POP = "Code42 Users"


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open("/proc/%d/stat" % pid) as fh:
        f = fh.read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


@unittest.skipUnless(ON_POSTGRESQL, "a database server that goes away: PostgreSQL only")
class DatabaseOutageTest(unittest.TestCase):

    def test_sync_survives_the_database_going_away(self):
        cluster = pgcluster.shared()
        tgt = Target(token="t", no_delete=True).start()
        self.addCleanup(tgt.__exit__, None, None, None)
        srv = started(self, Serve())
        f = Flow(srv, tgt)
        n = 2000
        f.first_resync_only(POP, ["o%04d" % i for i in range(n)])
        wait_until(lambda: f.target_count() >= 200, timeout=WAIT, interval=0.02,
                   what="the initial sync under way")

        db = srv.db
        cluster.psql('ALTER DATABASE "%s" ALLOW_CONNECTIONS false' % db)
        restored = False
        try:
            cluster.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                         "WHERE datname = '%s' AND pid <> pg_backend_pid()" % db)

            seen = []

            def down():
                st, b, _ = http("GET", srv.base + "/healthz")
                seen.append((st, b))
                return st == 503 and "reached" in (b or {}).get("error", "")
            try:
                wait_until(down, timeout=WAIT, what="/healthz: the database unreachable")
            except AssertionError:
                self.fail("/healthz during the outage: %r" % (seen[-1:],))
            at_cut = f.target_count()
            # the engine keeps trying while the database is away; the server stays up
            c0, l0 = cpu_seconds(srv.proc.pid), len(srv.output().splitlines())
            time.sleep(3)
            # ... with back-off: no busy loop, no log line per attempt
            self.assertLess(cpu_seconds(srv.proc.pid) - c0, 1.0)
            self.assertLess(len(srv.output().splitlines()) - l0, 30)
            self.assertIsNone(srv.proc.poll(), "serve exited while the database was away")
            st, b, _ = http("GET", srv.base + "/healthz")
            self.assertEqual(st, 503, b)
            # nothing new can be recorded: what the engine delivered before the cut and
            # could not record is found again by its look-up, never created twice
            self.assertLess(f.target_count() - at_cut, n)
            cluster.psql('ALTER DATABASE "%s" ALLOW_CONNECTIONS true' % db)
            restored = True
        finally:
            if not restored:
                cluster.psql('ALTER DATABASE "%s" ALLOW_CONNECTIONS true' % db)

        f.wait_target_count(n, timeout=300)
        f.wait_status(lambda s: s["users"]["success"] == n and s["pending"] == 0,
                      timeout=300, what="every user SYNCED")
        # every user exactly once (the target refuses a second account of a userName: a
        # create whose outcome was lost with the database ends linked, by look-up or 409)
        self.assertEqual(sorted(f.target_users()), ["o%04d" % i for i in range(n)])
        self.assertEqual(f.stats().get("DELETE", 0), 0)
        wait_until(lambda: http("GET", srv.base + "/healthz")[0] == 200, timeout=WAIT,
                   what="/healthz ok again")
        self.assertIn("store.unreachable", srv.output())
        self.assertIn("store.reconnected", srv.output())
        # a change after the outage still flows
        uid = f.user_id("o0007")
        f.patch_user(uid, {"title": "After"})
        f.wait_target("o0007", lambda u: u.get("title") == "After")


if __name__ == "__main__":
    unittest.main()
