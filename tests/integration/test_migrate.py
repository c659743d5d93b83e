"""`scimitar migrate`: a synced installation moves from SQLite to PostgreSQL and goes on
as if nothing happened. On SQLite: users in a population, groups (static, nested,
dynamic), the seed's connection to a `scimitar target` and its rule, the initial sync,
a few updates and a disabled user; serve stopped, the database migrated, serve started
on PostgreSQL with the key migrate names and without the admin token in its
environment: the old token works, the directory and the configuration read back the
same, a full resync sends the target nothing, and one changed title is one PATCH. Bad
input is refused with the reason and leaves the destination as it was.

Needs both back-ends: the checks of the command line run in every tier; the rest runs
in the PostgreSQL tier (integration-pg/test_migrate), which has the test cluster."""
import os
import sqlite3
import subprocess
import threading
import unittest
import urllib.parse

import pgcluster
from harness import BIN, ON_POSTGRESQL, Serve, Target, wait_until
from scimfake import ERROR, FakeTarget
from seedflow import Flow, WAIT, started

POP = "Code42 Users"
TOKEN = "code42-token-123"


def migrate(*args, env=None):
    """Runs `scimitar migrate` with args; returns CompletedProcess (text)."""
    e = dict(os.environ)
    e.pop("SCIMITAR_KEY", None)
    e.update(env or {})
    return subprocess.run([BIN, "migrate"] + list(args), capture_output=True, text=True,
                          env=e, timeout=300)


class MigrateArguments(unittest.TestCase):
    """What is refused before any database is touched (exit status 2)."""

    def refused(self, args, words):
        r = migrate(*args)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(words, r.stderr)
        self.assertEqual(r.stdout, "")

    def test_usage(self):
        r = migrate("--help")
        self.assertEqual(r.returncode, 0)
        for word in ("--from sqlite:PATH", "--to", "--key-file", "--replace", "--live"):
            self.assertIn(word, r.stdout)
        r = subprocess.run([BIN, "help"], capture_output=True, text=True, timeout=30)
        self.assertIn("migrate", r.stdout)

    def test_refused_arguments(self):
        pg = "postgresql://scimitar@127.0.0.1:1/none"
        self.refused(["--to", pg], "--from sqlite:PATH is required")
        self.refused(["--from", "sqlite:/tmp/x.db"], "--to postgresql://... is required")
        self.refused(["--from", pg, "--to", pg], "--from must be sqlite:PATH")
        self.refused(["--from", "sqlite::memory:", "--to", pg], "--from must name a database file")
        self.refused(["--from", "sqlite:/tmp/x.db", "--to", "sqlite:/tmp/y.db"],
                     "--to must be a PostgreSQL database")
        self.refused(["--from", "sqlite:/tmp/x.db", "--to", "mysql://u@h/db"],
                     "--to must be a PostgreSQL database")
        self.refused(["--from", "sqlite:/nonexistent/scimitar.db", "--to", pg],
                     "--from: no database file at /nonexistent/scimitar.db")
        self.refused(["--from", "sqlite:/tmp/x.db", "--to", pg, "extra"],
                     "unexpected argument 'extra'")
        # a password in a PostgreSQL DSN is never shown
        self.refused(["--from", "postgresql://u:hunter2@127.0.0.1:1/db", "--to", pg],
                     "(not 'postgresql://u:****@127.0.0.1:1/db')")

    def test_empty_file(self):
        with open(os.path.join(self.tmp(), "empty.db"), "w") as f:
            path = f.name
        self.refused(["--from", "sqlite:" + path, "--to", "postgres://u@127.0.0.1:1/db"],
                     "is empty, not a database scimitar serve ran on")

    def tmp(self):
        import tempfile
        d = tempfile.TemporaryDirectory(prefix="scimitar-migrate-")
        self.addCleanup(d.cleanup)
        return d.name


@unittest.skipUnless(ON_POSTGRESQL, "needs the PostgreSQL test cluster: runs as "
                     "integration-pg/test_migrate")
class MigrateToPostgres(unittest.TestCase):

    def setUp(self):
        self.cluster = pgcluster.shared()
        self.tgt = started(self, Target(token=TOKEN, no_delete=True))

    def new_db(self):
        name = self.cluster.create_db()
        self.addCleanup(self.cluster.drop_db, name)
        return name

    def rows(self, db, table):
        """Rows of a scimitar table of db (0 when the table does not exist)."""
        exists = self.cluster.query(db, "SELECT to_regclass(?) IS NOT NULL", (table,))[0][0]
        if not exists:
            return 0
        return self.cluster.query(db, "SELECT count(*) FROM %s" % table)[0][0]

    def sqlite_install(self):
        """A synced installation on SQLite, stopped; returns (serve, flow, ids)."""
        srv = started(self, Serve(backend="sqlite"))
        f = Flow(srv, self.tgt)
        f.population(POP)
        f.population("Elsewhere")
        f.import_users([f.person("user%02d" % i, POP) for i in range(12)] +
                       [f.person("outsider", "Elsewhere")])
        ids = {"u%d" % i: f.user_id("user%02d" % i) for i in (1, 2, 3, 4)}
        admins = f.group("Admins")
        f.add_member(admins, user_id=ids["u1"])
        f.add_member(admins, user_id=ids["u2"])
        nested = f.group("Nested")
        f.add_member(nested, user_id=ids["u3"])
        f.add_member(admins, group_id=nested)
        f.group("Engineers", user_filter={"match": "ALL", "conditions": [
            {"attribute": "title", "operator": "EQUALS", "value": "Engineer"}]})
        f.wait_events_handled()
        f.setup(population=POP)
        f.wait_status(lambda s: s["users"]["success"] == 12 and s["pending"] == 0,
                      what="the initial sync")
        # a few updates and a disabled user, delivered
        f.patch_user(ids["u1"], {"title": "Manager"})
        f.patch_user(ids["u2"], {"nickname": "twice"})
        f.patch_user(ids["u4"], {"enabled": False})
        f.wait_target("user04", lambda u: u and u["active"] is False)
        f.wait_target("user01", lambda u: u and u.get("title") == "Manager")
        f.wait_status(lambda s: s["pending"] == 0, what="the updates delivered")
        f.wait_events_handled()
        self.assertEqual(f.target_count(), 12)
        return srv, f, ids

    def snapshot(self, f):
        """What the API shows of the directory, the configuration and the sync state."""
        def every(path):
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
        snap = {
            "users": every("/api/v1/users"),
            "populations": every("/api/v1/populations"),
            "groups": every("/api/v1/groups"),
            "connections": every("/api/v1/connections"),
            "rules": every("/api/v1/rules"),
            "rule users": f.rule_users(),
            "logs": f.logs(),
        }
        for g in snap["groups"]:
            snap["members " + g["name"]] = every("/api/v1/groups/%s/members" % g["id"])
            snap["effective " + g["name"]] = every(
                "/api/v1/groups/%s/members?effective=true" % g["id"])
        for c in snap["connections"]:
            snap["connection " + c["id"]] = f.ok("GET", "/api/v1/connections/" + c["id"])
        for r in snap["rules"]:
            for part in ("", "/filter", "/mappings"):
                snap["rule %s%s" % (r["id"], part)] = f.ok("GET", "/api/v1/rules/" + r["id"] + part)
        status = f.status()
        snap["status users"] = status["users"]
        return snap

    def test_moved_installation_sends_nothing_and_goes_on(self):
        srv, f, ids = self.sqlite_install()
        before = self.snapshot(f)
        writes_before = f.stats()
        srv.stop()
        db = self.new_db()
        r = migrate("--from", "sqlite:" + srv.db, "--to", self.cluster.dsn(db))
        self.assertEqual(r.returncode, 0, r.stderr)
        key_file = os.path.realpath(srv.db + ".key")
        self.assertIn("--key-file " + key_file, r.stdout)
        self.assertRegex(r.stdout, r"users +13\n")
        self.assertRegex(r.stdout, r"sync links +12\n")
        self.assertIn("1 stored secret was checked", r.stdout)
        self.assertIn("users: 13 copied", r.stderr)
        self.assertNotIn(TOKEN, r.stdout + r.stderr)
        self.assertEqual(self.rows(db, "sync_nodes"), 0)  # the SQLite engine is gone
        self.assertEqual(
            self.cluster.query(db, "SELECT count(*) FROM sync_outbox WHERE lease_owner IS NOT "
                               "NULL")[0][0], 0)

        # serve on PostgreSQL with the key, without SCIMITAR_ADMIN_TOKEN: the copied hash
        pg = started(self, Serve(backend="postgresql", db=db, extra=["--key-file", key_file],
                                 env={"SCIMITAR_ADMIN_TOKEN": ""}))
        g = Flow(pg, self.tgt)
        g.conn, g.rule = f.conn, f.rule
        g.wait_events_handled()
        self.assertNotIn("Admin token", pg.output())
        self.assertEqual(self.snapshot(g), before)

        # a full resync after the move: nothing to send
        g.resync_and_wait()
        after = g.stats()
        self.assertEqual({m: after.get(m, 0) - writes_before.get(m, 0)
                          for m in ("POST", "PUT", "PATCH", "DELETE")},
                         {"POST": 0, "PUT": 0, "PATCH": 0, "DELETE": 0})
        self.assertEqual(after, writes_before)  # no request of any kind either
        self.assertEqual(g.logs(), before["logs"])  # and nothing to log

        # later changes flow: one title, one PATCH
        g.patch_user(ids["u3"], {"title": "Director"})
        g.wait_target("user03", lambda u: u and u.get("title") == "Director")
        g.wait_status(lambda s: s["pending"] == 0, what="the change delivered")
        last = g.stats()
        self.assertEqual({m: last.get(m, 0) - after.get(m, 0)
                          for m in ("POST", "PUT", "PATCH", "DELETE")},
                         {"POST": 0, "PUT": 0, "PATCH": 1, "DELETE": 0})
        self.assertEqual(self.tgt_user_active("user04"), False)
        # new log entries continue the copied numbering
        copied = {e["id"] for e in before["logs"]}
        new = [e for e in g.logs() if e["id"] not in copied]
        self.assertEqual([(e["username"], e["action"]) for e in new], [("user03", "UPDATE")])
        self.assertGreater(int(new[0]["id"]), max(int(i) for i in copied))

    def test_refusals_leave_the_destination_as_it_was(self):
        srv = started(self, Serve(backend="sqlite"))
        f = Flow(srv, self.tgt)
        f.population(POP)
        f.user("ada", POP)
        f.connection()  # its access token sealed with the key beside the database
        f.wait_events_handled()  # the settings: token hash, event cursor, config generation
        src = "sqlite:" + srv.db
        tmp = os.path.dirname(srv.db)

        def refused(r, words, db=None):
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn(words, r.stderr)
            self.assertNotIn(TOKEN, r.stdout + r.stderr)
            if db:  # nothing was written there
                self.assertEqual(self.rows(db, "settings"), 0)
                self.assertEqual(self.rows(db, "dir_users"), 0)

        # a server still has the database open: refused, unless a rehearsal is asked for
        db1 = self.new_db()
        refused(migrate("--from", src, "--to", self.cluster.dsn(db1)),
                "another process has %s open" % srv.db, db1)
        r = migrate("--from", src, "--to", self.cluster.dsn(db1), "--live")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("--live: another process has", r.stderr)
        srv.stop()

        # a destination with scimitar data: refused, named; --replace takes its place
        refused(migrate("--from", src, "--to", self.cluster.dsn(db1)),
                "the destination already holds scimitar data (3 settings, 1 populations, "
                "1 users")
        self.assertEqual(self.rows(db1, "dir_users"), 1)
        self.cluster.query(db1, "INSERT INTO sync_nodes(id, listen, started_at, last_seen_at) "
                           "VALUES('n1', '10.0.0.9:8080', 1, "
                           "(extract(epoch from now()) * 1000)::bigint)")
        refused(migrate("--from", src, "--to", self.cluster.dsn(db1), "--replace"),
                "a scimitar serve (node n1, 10.0.0.9:8080) used the destination")
        self.assertEqual(self.rows(db1, "sync_nodes"), 1)
        self.cluster.query(db1, "DELETE FROM sync_nodes")
        r = migrate("--from", src, "--to",
                    self.cluster.dsn(db1).replace("postgresql://", "postgres://"), "--replace")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("--replace: deleting what the destination held", r.stderr)
        self.assertEqual(self.rows(db1, "dir_users"), 1)

        # keys that do not open the stored secrets, or no key at all
        db2 = self.new_db()
        other = os.path.join(tmp, "other.key")
        with open(os.open(other, os.O_WRONLY | os.O_CREAT, 0o600), "w") as k:
            k.write("A" * 43 + "=\n")
        refused(migrate("--from", src, "--to", self.cluster.dsn(db2), "--key-file", other),
                "the key file %s does not open the stored secrets of connection 'Code42'"
                % other, db2)
        refused(migrate("--from", src, "--to", self.cluster.dsn(db2),
                        env={"SCIMITAR_KEY": "11" * 32}),
                "SCIMITAR_KEY (the value set in this environment) does not open the stored "
                "secrets of connection 'Code42'", db2)
        refused(migrate("--from", src, "--to", self.cluster.dsn(db2), "--key-file",
                        os.path.join(tmp, "none.key")), "--key-file: no key file at", db2)
        os.chmod(other, 0o644)
        refused(migrate("--from", src, "--to", self.cluster.dsn(db2), "--key-file", other),
                "chmod 600", db2)
        alone = os.path.join(tmp, "alone")
        os.mkdir(alone)
        bare = os.path.join(alone, "scimitar.db")  # the database without its key beside it
        a, b = sqlite3.connect(srv.db), sqlite3.connect(bare)
        a.backup(b)
        a.close()  # (an open connection would make migrate refuse: another process)
        b.close()
        refused(migrate("--from", "sqlite:" + bare, "--to", self.cluster.dsn(db2)),
                "has stored secrets, and there is no key to open them", db2)
        self.assertFalse(os.path.exists(bare + ".key"))  # and none was made up

        # not a database serve ran on; a destination that cannot be reached
        stray = os.path.join(alone, "stray.db")
        s = sqlite3.connect(stray)
        s.execute("CREATE TABLE mine (x)")
        s.close()
        refused(migrate("--from", "sqlite:" + stray, "--to", self.cluster.dsn(db2)),
                "holds no admin token: it is not a database scimitar serve ran on", db2)
        refused(migrate("--from", src, "--to", "postgresql://scimitar@127.0.0.1:1/x"),
                "--to: cannot connect to postgresql://scimitar@127.0.0.1:1/x")

    def test_pending_work_is_delivered_once_after_the_move(self):
        hold = threading.Event()
        held = []

        def unavailable(path, body):
            if not hold.is_set():
                return None
            held.append(path)
            return 503, {"schemas": [ERROR], "status": "503", "detail": "busy"}, \
                {"Retry-After": "2"}

        fake = FakeTarget(token=TOKEN, hooks={"PATCH": unavailable})
        fake.start()
        self.addCleanup(fake.stop)
        srv = started(self, Serve(backend="sqlite"))
        f = Flow(srv, fake)
        f.population(POP)
        f.import_users([f.person("user%d" % i, POP) for i in range(3)])
        f.wait_events_handled()
        f.setup(population=POP)
        f.wait_status(lambda s: s["users"]["success"] == 3 and s["pending"] == 0,
                      what="the initial sync")
        # a change the target does not take yet: it waits in the outbox
        hold.set()
        f.patch_user(f.user_id("user1"), {"title": "Pending"})
        wait_until(lambda: held and f.logs(action="UPDATE", status="RETRY"), timeout=WAIT,
                   what="a refused PATCH recorded as a retry")
        srv.stop()
        self.assertEqual(srv.sql("SELECT count(*) FROM sync_outbox"), [[1]])
        db = self.new_db()
        r = migrate("--from", "sqlite:" + srv.db, "--to", self.cluster.dsn(db))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"outbox items +1\n")
        self.assertEqual(self.cluster.query(
            db, "SELECT count(*) AS n, count(lease_owner) AS leased FROM sync_outbox"),
            [[1, 0]])

        hold.clear()
        moved = len(fake.requests)
        pg = started(self, Serve(backend="postgresql", db=db,
                                 extra=["--key-file", srv.db + ".key"]))
        g = Flow(pg, fake)
        g.conn, g.rule = f.conn, f.rule
        g.wait_target("user1", lambda u: u and u.get("title") == "Pending")
        g.wait_status(lambda s: s["pending"] == 0, what="the pending change delivered")
        sent = [(m, p.split("?")[0].rsplit("/", 1)[0]) for m, p, _ in fake.requests[moved:]
                if m != "GET"]
        self.assertEqual(sent, [("PATCH", "/scim/v2/Users")])
        # and nothing more on a full resync
        g.resync_and_wait()
        self.assertEqual([m for m, _, _ in fake.requests[moved:] if m != "GET"], ["PATCH"])

    def tgt_user_active(self, username):
        return Flow(None, self.tgt).target_user(username)["active"]


if __name__ == "__main__":
    unittest.main()
