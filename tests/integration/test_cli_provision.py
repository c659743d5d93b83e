"""The command-line client for provisioning (`scimitar connections|rules|logs`) driven as
a real process against `scimitar serve` and the built-in `scimitar target`: the seed's
connection made from flags with its token kept out of the output, Test Connection's
step report and exit status, a rule with filter and mapping, the enable rule, dry run,
status, per-user state and the log (also followed as it grows)."""
import json
import os
import queue
import subprocess
import tempfile
import threading
import time
import unittest

from harness import BIN, Serve, Target, wait_until

TOKEN = "cli-target-token-0123456789"


class TestProvisioningCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tgt = Target(token=TOKEN, no_delete=True)
        cls.tgt.start()
        cls.srv = Serve()
        cls.srv.start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="scimitar-cli-prov-")

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)
        cls.tgt.__exit__(None, None, None)
        cls.tmp.cleanup()

    def cli(self, *args, input=None, env=None):
        if env:
            e = dict(os.environ, SCIMITAR_TOKEN=self.srv.token, SCIMITAR_SERVER=self.srv.base)
            e.update(env)
            return subprocess.run([BIN] + list(args), capture_output=True, text=True, env=e,
                                  input=input, timeout=120)
        return self.srv.cli(*args, input=input)

    def ok(self, *args, **kw):
        r = self.cli(*args, **kw)
        self.assertEqual(r.returncode, 0, "scimitar %s: %s%s" % (" ".join(args), r.stdout,
                                                                  r.stderr))
        return r

    def js(self, *args, **kw):
        return json.loads(self.ok(*(list(args) + ["--json"]), **kw).stdout)

    def fails(self, code, *args, **kw):
        r = self.cli(*args, **kw)
        self.assertEqual(r.returncode, code, "scimitar %s: %s%s" % (" ".join(args), r.stdout,
                                                                     r.stderr))
        return r

    def connection(self, name, token=TOKEN):
        path = os.path.join(self.tmp.name, name + ".token")
        with open(path, "w") as f:
            f.write(token + "\n")
        r = self.ok("connections", "create", "--name", name, "--description", "Code42 SCIM",
                    "--base-url", self.tgt.scim_base, "--users-resource", "/Users",
                    "--scim-version", "2.0", "--auth-method", "OAUTH2_BEARER",
                    "--access-token-file", path, "--auth-type-header", "Bearer",
                    "--user-filter-expression", 'username Eq "%s"',
                    "--user-identifier", "userName", "--remove-action", "DISABLE",
                    "--allow-create", "--allow-update", "--allow-disable")
        self.assertNotIn(token, r.stdout + r.stderr)
        return r

    def test_connection_flags_secrets_and_test(self):
        self.connection("Code42")
        conn = self.js("connections", "get", "Code42")
        self.assertEqual(conn["scim"]["baseUrl"], self.tgt.scim_base)
        self.assertEqual(conn["auth"]["accessToken"], "********")
        self.assertEqual(conn["preferences"]["userFilterExpression"], 'username Eq "%s"')
        self.assertEqual(conn["preferences"]["removeAction"], "DISABLE")
        self.assertFalse(conn["enabled"])
        shown = self.ok("connections", "get", "Code42").stdout
        self.assertIn("********", shown)
        self.assertNotIn(TOKEN, shown)
        table = self.ok("connections", "list").stdout
        self.assertIn("Code42", table)
        self.assertIn(self.tgt.scim_base, table)
        # Test Connection: every step ticked, exit 0
        r = self.ok("connections", "test", "Code42")
        self.assertIn("✓", r.stdout)
        self.assertNotIn("✗", r.stdout)
        rep = self.js("connections", "test", "Code42")
        self.assertTrue(rep["ok"])
        # flags that change preferences, the token from the environment
        upd = self.js("connections", "update", "Code42", "--no-allow-create", "--max-rps", "50",
                      "--header", "X-Api-Key: gateway-secret")
        self.assertFalse(upd["preferences"]["allowCreate"])
        self.assertEqual(upd["preferences"]["maxRequestsPerSecond"], 50)
        self.assertEqual(upd["headers"]["X-Api-Key"], "********")
        r = self.cli("connections", "update", "Code42", "--access-token-env", "WRONG_TOKEN",
                     env={"WRONG_TOKEN": "not-the-token"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("not-the-token", r.stdout + r.stderr)
        # a failing test marks the step and exits 1
        r = self.fails(1, "connections", "test", "Code42")
        self.assertIn("✗", r.stdout)
        self.fails(2, "connections", "update", "Code42", "--access-token-env", "UNSET_VAR_X")
        # a bad value names its field
        r = self.fails(1, "connections", "update", "Code42", "--remove-action", "EXPLODE")
        self.assertIn("removeAction", r.stderr)
        self.ok("connections", "enable", "Code42")
        self.assertTrue(self.js("connections", "get", "Code42")["enabled"])
        self.ok("connections", "disable", "Code42")
        self.ok("connections", "delete", "Code42")
        self.fails(1, "connections", "get", "Code42")

    def test_rule_filter_mapping_sync_status_and_logs(self):
        self.connection("Code42 rules")
        st, body, _ = self.srv.api("POST", "/api/v1/populations", {"name": "Code42 Users"})
        self.assertEqual(st, 201, body)
        self.ok("users", "create", "--username", "alice", "--email", "alice@example.com",
                "--given", "Alice", "--family", "Liddell", "--population", "Code42 Users")
        rule = self.js("rules", "create", "--name", "To Code42", "--description", "seed",
                       "--target", "Code42 rules")
        self.assertFalse(rule["enabled"])
        # the rule cannot be enabled while its connection is disabled
        r = self.fails(1, "rules", "enable", "To Code42")
        self.assertIn("409", r.stderr)
        self.ok("connections", "enable", "Code42 rules")
        flt = {"match": "ALL", "conditions": [
            {"attribute": "population.name", "operator": "EQUALS", "value": "Code42 Users"}]}
        self.ok("rules", "filter", "To Code42", "--set-json", "-", input=json.dumps(flt))
        shown = self.ok("rules", "filter", "To Code42").stdout
        self.assertIn("ALL of:", shown)
        self.assertIn('population.name EQUALS "Code42 Users"', shown)
        maps = self.js("rules", "mappings", "To Code42")
        self.assertEqual(len(maps), 14)
        table = self.ok("rules", "mappings", "To Code42").stdout
        self.assertIn("workEmail", table)
        plan = self.js("rules", "resync", "To Code42", "--dry-run")
        self.assertEqual(self.tgt.users(), [])
        self.assertIn("creates", plan)
        self.ok("rules", "enable", "To Code42")
        wait_until(lambda: [u for u in self.tgt.users() if u["userName"] == "alice"],
                   timeout=60, what="alice on the target")
        wait_until(lambda: self.js("rules", "status", "To Code42")["users"]["success"] >= 1,
                   timeout=60, what="the rule's success counter")
        status = self.ok("rules", "status", "To Code42").stdout
        self.assertIn("ACTIVE", status)
        listing = self.ok("rules", "list").stdout
        self.assertRegex(listing, r"To Code42\s+Code42 rules\s+yes\s+ACTIVE")
        users = self.js("rules", "users", "To Code42")
        self.assertEqual([u["username"] for u in users["items"]], ["alice"])
        # the log, filtered and as JSON
        wait_until(lambda: "alice" in self.ok("logs", "--rule", "To Code42").stdout,
                   timeout=60, what="a log entry for alice")
        logs = self.ok("logs", "--action", "create", "--user", "alice").stdout
        self.assertIn("CREATE", logs)
        self.assertIn("SUCCESS", logs)
        entries = json.loads(self.ok("logs", "--json", "--status", "SUCCESS").stdout)
        self.assertTrue(any(e["username"] == "alice" for e in entries["items"]))
        self.assertEqual(self.ok("logs", "--action", "DELETE").stdout, "")
        # --follow prints new entries as they arrive
        env = dict(os.environ, SCIMITAR_TOKEN=self.srv.token, SCIMITAR_SERVER=self.srv.base)
        proc = subprocess.Popen([BIN, "logs", "--follow", "--rule", "To Code42"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env)
        lines = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(ln) for ln in proc.stdout],
                                  daemon=True)
        reader.start()
        try:
            self.ok("users", "create", "--username", "bruno", "--email", "bruno@example.com",
                    "--population", "Code42 Users")
            deadline = time.monotonic() + 60
            seen = ""
            while "bruno" not in seen and time.monotonic() < deadline:
                try:
                    seen += lines.get(timeout=1)
                except queue.Empty:
                    pass
            self.assertIn("bruno", seen)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            reader.join(timeout=10)
            proc.stdout.close()
            proc.stderr.close()
        self.ok("rules", "disable", "To Code42")
        self.assertFalse(self.js("rules", "get", "To Code42")["enabled"])
        self.fails(2, "rules", "resync")
        self.ok("rules", "delete", "To Code42")
        self.fails(1, "rules", "status", "To Code42")


if __name__ == "__main__":
    unittest.main()
