"""Operating `scimitar serve`: databases it refuses (in-memory: nothing would be
shared), the modes of the files it keeps (database, -wal, -shm and key file readable by
the owner only), and /healthz reporting failing writes."""
import os
import stat
import subprocess
import tempfile
import unittest

from harness import BIN, Serve, free_port, http
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


if __name__ == "__main__":
    unittest.main()
