"""Operating `scimitar serve`: databases it refuses (in-memory: nothing would be
shared), the modes of the files it keeps (database, -wal, -shm and key file readable by
the owner only), /healthz reporting failing writes, and on PostgreSQL: the secrets key
it requires, failing writes of a read-only database, connections it re-establishes."""
import os
import resource
import stat
import subprocess
import tempfile
import unittest

import pgcluster
from harness import BIN, ON_POSTGRESQL, Serve, free_port, http, sqlite_only, wait_until
from seedflow import started


def run_serve(*args, env=None, timeout=20):
    """Runs `scimitar serve ARGS` that is expected to exit by itself."""
    e = dict(os.environ, SCIMITAR_ADMIN_TOKEN="test-admin-token", **(env or {}))
    return subprocess.run([BIN, "serve", "--listen", "127.0.0.1:%d" % free_port()] + list(args),
                          capture_output=True, text=True, env=e, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class OpsTest(unittest.TestCase):
    def test_memory_database_refused(self):
        for dsn in ("sqlite::memory:", "sqlite:file::memory:?cache=shared"):
            r = run_serve("--db", dsn)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("in-memory database", r.stderr)
            self.assertIn("sqlite:PATH", r.stderr)

    @sqlite_only("the files of a SQLite database")
    def test_file_modes(self):
        tmp = tempfile.TemporaryDirectory(prefix="scimitar-ops-")
        self.addCleanup(tmp.cleanup)
        db = os.path.join(tmp.name, "s.db")
        # an older version's files, open to everyone who can read the folder
        with open(db, "wb"):
            pass
        os.chmod(db, 0o644)
        old = os.umask(0o022)
        try:
            srv = started(self, Serve(db=db))
        finally:
            os.umask(old)
        st, b, _ = srv.api("POST", "/api/v1/populations", {"name": "Modes"})
        self.assertEqual(st, 201, b)
        for suffix in ("", "-wal", "-shm", ".key"):
            self.assertEqual(mode(db + suffix), 0o600, suffix)
        self.assertIn("store.mode_narrowed", srv.output())
        srv.stop()
        # a key file others can read is refused, naming the fix
        os.chmod(db + ".key", 0o644)
        r = run_serve("--db", "sqlite:" + db)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("chmod 600", r.stderr)
        self.assertIn(db + ".key", r.stderr)

    @sqlite_only("a file size limit on serve fills its disk; PostgreSQL's own test follows")
    def test_healthz_reports_failing_writes(self):
        srv = started(self, Serve())
        st, b, _ = srv.api("POST", "/api/v1/populations", {"name": "Full"})
        self.assertEqual(st, 201, b)
        st, b, _ = http("GET", srv.base + "/healthz")
        self.assertEqual((st, b), (200, {"status": "ok", "database": "ok", "writes": "ok"}))
        # the disk is full for serve: a file size limit of 1 byte makes every write that
        # grows a file fail (EFBIG: SQLite reports a full disk or an I/O error)
        _, hard = resource.prlimit(srv.proc.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(srv.proc.pid, resource.RLIMIT_FSIZE, (1, hard))
        users = [{"username": "full-%04d" % i, "title": "x" * 250,
                  "population": {"name": "Full"}} for i in range(4000)]
        st, b, _ = srv.api("POST", "/api/v1/users/import", users)
        self.assertGreaterEqual(st, 500, str(b)[:300])
        st, b, _ = http("GET", srv.base + "/healthz")
        self.assertEqual(st, 503, b)
        self.assertEqual(b["status"], "unavailable")
        self.assertEqual(b["writes"], "failing")
        self.assertRegex(b["error"], "full|I/O")
        # reads still work, and the server stays up
        st, _, _ = srv.api("GET", "/api/v1/users")
        self.assertEqual(st, 200)
        # room again: the next write that commits makes it healthy
        resource.prlimit(srv.proc.pid, resource.RLIMIT_FSIZE, (hard, hard))
        st, b, _ = srv.api("POST", "/api/v1/populations", {"name": "Room"})
        self.assertEqual(st, 201, b)
        st, b, _ = http("GET", srv.base + "/healthz")
        self.assertEqual((st, b["writes"]), (200, "ok"))



@unittest.skipUnless(ON_POSTGRESQL, "PostgreSQL only (SCIMITAR_TEST_DB=postgresql)")
class PostgresOpsTest(unittest.TestCase):
    def test_key_required(self):
        """No database path to keep a key file beside: serve refuses to start without
        --key-file or SCIMITAR_KEY, saying so."""
        cluster = pgcluster.shared()
        db = cluster.create_db()
        self.addCleanup(cluster.drop_db, db)
        env = {k: v for k, v in os.environ.items() if k != "SCIMITAR_KEY"}
        r = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:%d" % free_port(), "--db",
                            cluster.dsn(db)], capture_output=True, text=True, timeout=20,
                           env=dict(env, SCIMITAR_ADMIN_TOKEN="test-admin-token"),
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--key-file", r.stderr)
        self.assertIn("SCIMITAR_KEY", r.stderr)

    def test_password_not_logged(self):
        """A password in the DSN is masked in what serve logs."""
        cluster = pgcluster.shared()
        srv = Serve()
        dsn = srv.args[srv.args.index("--db") + 1]
        srv.args[srv.args.index("--db") + 1] = dsn.replace(
            "scimitar@", "scimitar:pw-SECRET-9@")
        started(self, srv)
        self.assertEqual(http("GET", srv.base + "/healthz")[0], 200)
        self.assertIn("scimitar:****@", srv.output())
        self.assertNotIn("pw-SECRET-9", srv.output())
        self.assertTrue(cluster)

    def test_healthz_reports_failing_writes(self):
        """A database that turns read-only (here: for new sessions, after the server's
        sessions are ended) fails writes: /healthz says so with PostgreSQL's words, reads
        keep working, and the first write that commits after it is writable again clears
        it. Ended sessions are re-established on their next use."""
        cluster = pgcluster.shared()
        srv = started(self, Serve())
        st, b, _ = srv.api("POST", "/api/v1/populations", {"name": "RO"})
        self.assertEqual(st, 201, b)
        kick = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                "datname = '%s' AND pid <> pg_backend_pid()" % srv.db)
        cluster.psql('ALTER DATABASE "%s" SET default_transaction_read_only = on' % srv.db)
        cluster.psql(kick)
        st, b, _ = srv.api("POST", "/api/v1/populations", {"name": "Refused"})
        self.assertGreaterEqual(st, 500, b)
        st, b, _ = http("GET", srv.base + "/healthz")
        self.assertEqual(st, 503, b)
        self.assertEqual((b["status"], b["writes"]), ("unavailable", "failing"))
        self.assertIn("read-only", b["error"])
        st, b, _ = srv.api("GET", "/api/v1/populations")
        self.assertEqual(st, 200, b)
        self.assertEqual([p["name"] for p in b["items"]], ["RO"])
        cluster.psql('ALTER DATABASE "%s" RESET default_transaction_read_only' % srv.db)
        cluster.psql(kick)
        st, b, _ = srv.api("POST", "/api/v1/populations", {"name": "Again"})
        self.assertEqual(st, 201, b)
        st, b, _ = http("GET", srv.base + "/healthz")
        self.assertEqual((st, b["writes"]), (200, "ok"))
        self.assertIn("store.reconnected", srv.output())
        wait_until(lambda: srv.proc.poll() is None, what="serve still up")


if __name__ == "__main__":
    unittest.main()
