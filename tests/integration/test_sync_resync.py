"""A full resync skips the users whose directory row and rule are unchanged since their
link was last found in sync (a digest of the row, no mapping), and still finds every
change: here rows are edited in the database directly, with no change event, so only the
resync can notice them."""
import unittest

from harness import Serve, Target, wait_until
from seedflow import Flow, WAIT, WAIT_LONG, started

POP = "Code42 Users"


class ResyncSkipTest(unittest.TestCase):

    def setUp(self):
        self.tgt = started(self, Target(token="code42-token-123", no_delete=True))
        self.srv = started(self, Serve())
        self.f = Flow(self.srv, self.tgt)

    def synced(self, n):
        """n users provisioned by the rule's first resync, and nothing left to send."""
        f = self.f
        f.population(POP)
        f.import_users([f.person("user%04d" % i, POP) for i in range(n)])
        f.setup(population=POP)
        f.wait_status(lambda s: s["users"]["success"] == n and s["pending"] == 0,
                      timeout=WAIT_LONG, what="every user synced")
        self.assertEqual(f.target_count(), n)

    def resync(self):
        """One full resync, run and delivered; returns the writes the target saw."""
        f = self.f
        before = f.stats()
        f.resync_and_wait(timeout=WAIT_LONG)
        after = f.stats()
        return {m: after.get(m, 0) - before.get(m, 0) for m in ("POST", "PUT", "PATCH", "DELETE")}

    def quiet_edit(self, sql, *args):
        """Edits the directory behind the server's back (no change event)."""
        self.srv.sql(sql, *args)

    def test_unchanged_users_send_nothing_and_a_quiet_change_is_found(self):
        f = self.f
        self.synced(30)
        self.assertEqual(self.resync(), {"POST": 0, "PUT": 0, "PATCH": 0, "DELETE": 0})
        self.quiet_edit("UPDATE dir_users SET title = 'Quiet Title' WHERE username = ?",
                        "user0007")
        sent = self.resync()
        self.assertEqual(sent, {"POST": 0, "PUT": 0, "PATCH": 1, "DELETE": 0})
        self.assertEqual(f.target_user("user0007")["title"], "Quiet Title")
        # found in sync again at the new row: the next resync skips it
        self.assertEqual(self.resync(), {"POST": 0, "PUT": 0, "PATCH": 0, "DELETE": 0})

    def test_many_quiet_changes_are_all_found(self):
        f = self.f
        n = 2100  # more than the resync reads one by one
        self.synced(n)
        self.quiet_edit("UPDATE dir_users SET title = 'Everyone' || substr(username, 5)")
        sent = self.resync()
        self.assertEqual(sent["PATCH"], n)
        self.assertEqual(sent["POST"] + sent["PUT"] + sent["DELETE"], 0)
        users = f.target_users()
        self.assertEqual(len(users), n)
        self.assertTrue(all(u.get("title") == "Everyone" + name[4:] for name, u in users.items()))
        self.assertEqual(self.resync(), {"POST": 0, "PUT": 0, "PATCH": 0, "DELETE": 0})

    def test_population_rename_is_seen_without_a_user_change(self):
        f = self.f
        self.synced(5)
        # the rename reaches the users only through the population's name in their row
        self.quiet_edit("UPDATE dir_populations SET name = 'Elsewhere' WHERE name = ?", POP)
        sent = self.resync()
        self.assertEqual(sent["PATCH"], 5)
        wait_until(lambda: all(u.get("active") is False for u in f.target_users().values()),
                   timeout=WAIT, interval=0.2, what="every account disabled")


if __name__ == "__main__":
    unittest.main()
