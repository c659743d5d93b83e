"""`scimitar backup` and `scimitar restore`. A synced installation on SQLite is backed up
while serve runs and a writer goes on creating users (outside the rule's scope, so the
target's state does not move); the backup is restored into a new database file, serve
starts on it with the same secrets key, and a full resync sends the target nothing: the
restored sync state matches what the target holds. The restored directory reads back
the same through the API, and the writer's users in it are exactly a prefix of those it
created (one consistent snapshot, not a torn copy). Refusals: a database in use, a
file that is not a scimitar database, an existing database without --replace, and a
PostgreSQL DSN (pg_dump / pg_restore instead)."""
import os
import stat
import subprocess
import threading
import unittest
import urllib.parse

from harness import BIN, Serve, Target, sqlite_only, wait_until
from seedflow import Flow, started

POP = "Code42 Users"
TOKEN = "code42-token-123"


def scimitar(*args):
    e = dict(os.environ)
    e.pop("SCIMITAR_KEY", None)
    return subprocess.run([BIN] + list(args), capture_output=True, text=True, env=e,
                          timeout=300, stdin=subprocess.DEVNULL)


def every(f, path):
    out, cursor = [], None
    while True:
        sep = "&" if "?" in path else "?"
        p = path + sep + "limit=1000"
        if cursor:
            p += "&cursor=" + urllib.parse.quote(cursor)
        page = f.ok("GET", p)
        out += page["items"]
        cursor = page.get("nextCursor")
        if not cursor:
            return out


class Writer(threading.Thread):
    """Creates users w0000, w0001, ... one after the other until stopped."""

    def __init__(self, f):
        super().__init__(daemon=True)
        self.f = f
        self.made = 0
        self.stop = threading.Event()
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                self.f.user("w%04d" % self.made, "Elsewhere")
                self.made += 1
        except Exception as exc:  # reported by the test
            self.error = exc


class BackupArguments(unittest.TestCase):
    def test_usage_and_postgresql(self):
        for cmd, words in (("backup", "--db"), ("restore", "--replace")):
            r = scimitar(cmd, "--help")
            self.assertEqual(r.returncode, 0)
            self.assertIn(words, r.stdout)
        r = scimitar("backup")
        self.assertEqual(r.returncode, 2)
        self.assertIn("one backup PATH is required", r.stderr)
        r = scimitar("restore", "/tmp/x.db")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--db sqlite:PATH is required", r.stderr)
        r = scimitar("backup", "/tmp/x.db", "--db", "postgresql://u:hunter2@127.0.0.1:1/db")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("a PostgreSQL database is backed up with pg_dump", r.stderr)
        self.assertIn("pg_dump --format=custom", r.stderr)
        self.assertNotIn("hunter2", r.stderr)
        r = scimitar("restore", "/tmp/x.db", "--db", "postgresql://u@127.0.0.1:1/db")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("pg_restore", r.stderr)
        r = scimitar("backup", "/tmp/x.db", "--db", "sqlite::memory:")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("the database must be sqlite:PATH", r.stderr)


@sqlite_only("backup and restore of a SQLite file (PostgreSQL: pg_dump)")
class BackupRestore(unittest.TestCase):
    def test_restored_installation_sends_nothing(self):
        tgt = started(self, Target(token=TOKEN, no_delete=True))
        srv = started(self, Serve())
        f = Flow(srv, tgt)
        f.population(POP)
        f.population("Elsewhere")
        f.import_users([f.person("user%02d" % i, POP) for i in range(10)])
        f.setup(population=POP)
        f.wait_status(lambda s: s["users"]["success"] == 10 and s["pending"] == 0,
                      what="the initial sync")
        u1 = f.user_id("user01")
        f.patch_user(u1, {"title": "Manager"})
        f.wait_target("user01", lambda u: u and u.get("title") == "Manager")
        f.wait_status(lambda s: s["pending"] == 0, what="the update delivered")
        f.wait_events_handled()
        writes_before = f.stats()
        source = {"users": [u for u in every(f, "/api/v1/users")
                            if not u["username"].startswith("w")],
                  "populations": every(f, "/api/v1/populations"),
                  "connections": every(f, "/api/v1/connections"),
                  "rules": every(f, "/api/v1/rules"),
                  "rule users": f.rule_users()}

        # the backup, while a writer goes on
        w = Writer(f)
        w.start()
        self.addCleanup(w.stop.set)
        wait_until(lambda: w.made >= 3 or w.error, what="the writer's first users")
        made_before = w.made
        tmp = os.path.dirname(srv.db)
        backup = os.path.join(tmp, "backup.db")
        r = scimitar("backup", backup, "--db", "sqlite:" + srv.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        made_after = w.made
        wait_until(lambda: w.made >= made_after + 3 or w.error, what="writes after the backup")
        w.stop.set()
        w.join(timeout=30)
        self.assertIsNone(w.error)
        self.assertEqual(stat.S_IMODE(os.stat(backup).st_mode), 0o600)
        key = os.path.realpath(srv.db + ".key")
        self.assertIn("secrets key: %s (not in the backup)" % key, r.stdout)
        self.assertIn("stored apart from the backups", r.stdout)
        self.assertFalse([n for n in os.listdir(tmp) if ".part-" in n])

        # restoring into the database serve has open is refused
        r = scimitar("restore", backup, "--db", "sqlite:" + srv.db, "--replace")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("another process has %s open: stop scimitar serve first" % srv.db,
                      r.stderr)
        srv.stop()
        tgt_writes = f.stats()
        self.assertEqual(tgt_writes, writes_before)  # the writer's users never reached the target

        # restore into a new file; serve on it with the same key
        restored = os.path.join(tmp, "restored", "scimitar.db")
        os.makedirs(os.path.dirname(restored))
        r = scimitar("restore", backup, "--db", "sqlite:" + restored)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("secrets key", r.stdout)
        self.assertEqual(stat.S_IMODE(os.stat(restored).st_mode), 0o600)
        r = scimitar("restore", backup, "--db", "sqlite:" + restored)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("already holds a database; --replace overwrites it", r.stderr)
        r = scimitar("restore", key, "--db", "sqlite:" + os.path.join(tmp, "other.db"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("is not a scimitar database", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(tmp, "other.db")))

        new = started(self, Serve(db=restored, extra=["--key-file", key]))
        g = Flow(new, tgt)
        g.conn, g.rule = f.conn, f.rule
        g.wait_events_handled()
        users = every(g, "/api/v1/users")
        mine = [u for u in users if not u["username"].startswith("w")]
        self.assertEqual(mine, source["users"])
        theirs = sorted(u["username"] for u in users if u["username"].startswith("w"))
        self.assertEqual(theirs, ["w%04d" % i for i in range(len(theirs))])  # a prefix
        self.assertGreaterEqual(len(theirs), made_before)
        self.assertLessEqual(len(theirs), made_after + 1)  # one may have been in flight
        for k in ("connections", "rules"):
            self.assertEqual(every(g, "/api/v1/" + k), source[k], k)
        # the populations, but for the count of the writer's one as of the snapshot
        pops = every(g, "/api/v1/populations")
        self.assertEqual([p["userCount"] for p in pops if p["name"] == "Elsewhere"],
                         [len(theirs)])
        for p in pops + source["populations"]:
            if p["name"] == "Elsewhere":
                del p["userCount"]
        self.assertEqual(pops, source["populations"])
        self.assertEqual(g.rule_users(), source["rule users"])

        # a full resync: the restored sync state matches the target, nothing is written
        g.resync_and_wait()
        after = g.stats()
        self.assertEqual({m: after.get(m, 0) - tgt_writes.get(m, 0)
                          for m in ("POST", "PUT", "PATCH", "DELETE")},
                         {"POST": 0, "PUT": 0, "PATCH": 0, "DELETE": 0})
        # and later changes flow with the restored secrets: one title, one PATCH
        g.patch_user(u1, {"title": "Director"})
        g.wait_target("user01", lambda u: u and u.get("title") == "Director")
        last = g.stats()
        self.assertEqual(last.get("PATCH", 0) - after.get("PATCH", 0), 1)


if __name__ == "__main__":
    unittest.main()
