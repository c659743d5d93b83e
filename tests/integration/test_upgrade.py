"""Upgrades: `scimitar serve` migrates the schema on start, and refuses to run an older
binary on a database whose schema a newer one has moved past (exit 2, naming the
component and both versions), on SQLite and on PostgreSQL, leaving the database as it
was."""
import os
import subprocess
import tempfile
import unittest

from harness import BIN, Serve


class UpgradeTest(unittest.TestCase):
    def test_newer_schema_refused(self):
        tmp = tempfile.TemporaryDirectory(prefix="scimitar-upgrade-")
        self.addCleanup(tmp.cleanup)
        path = os.path.join(tmp.name, "scimitar.db")  # a database of its own on PostgreSQL
        with Serve(db=path) as srv:
            rows = srv.sql("SELECT component, version FROM schema_version ORDER BY component")
        self.assertGreater(len(rows), 1, rows)
        for component, version in rows:
            with self.subTest(component=component):
                srv.sql("UPDATE schema_version SET version = ? WHERE component = ?",
                        version + 1, component)
                again = Serve(db=path)
                r = subprocess.run([BIN] + again.args, capture_output=True, text=True,
                                   env=again.env, cwd=again.tmp.name,
                                   stdin=subprocess.DEVNULL, timeout=60)
                again.tmp.cleanup()
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("written by a newer scimitar: its schema of %s is at version "
                              "%d, this binary knows up to version %d" % (
                                  component, version + 1, version), r.stderr)
                # nothing changed: the row still says the newer version
                self.assertEqual(srv.sql("SELECT version FROM schema_version WHERE "
                                         "component = ?", component), [[version + 1]])
                srv.sql("UPDATE schema_version SET version = ? WHERE component = ?",
                        version, component)
        # back at the versions this binary knows, it starts
        with Serve(db=path) as srv:
            self.assertEqual(srv.api("GET", "/healthz")[0], 200)


if __name__ == "__main__":
    unittest.main()
