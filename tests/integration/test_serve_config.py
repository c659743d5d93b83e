"""Running `scimitar serve` from a configuration file (--config): settings from the file,
flags that win over it, errors naming the file and line, the admin token read from a
file with its mode checked, `scimitar config check`; and its logs: --log-format json (one
JSON object a line) and syslog priorities when stderr is the systemd journal."""
import json
import os
import stat
import subprocess
import tempfile
import unittest

from harness import BIN, Process, free_port, http, wait_until

TOKEN = "file-admin-token-0123456789"


class ConfigFileTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="scimitar-conf-")
        self.addCleanup(self.tmp.cleanup)
        self.dir = self.tmp.name

    def write(self, name, text, mode=0o600):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def conf(self, port, extra=""):
        return self.write("scimitar.conf",
                          "# scimitar test configuration\n\n"
                          "listen = 127.0.0.1:%d\n"
                          "db = \"sqlite:%s/my data.db\"\n"
                          "threads = 2\n"
                          "admin_token_file = %s\n%s" % (
                              port, self.dir, self.write("admin.token", TOKEN + "\n"), extra))

    def serve(self, args, env=None):
        p = Process(["serve"] + args, port=self.port, env=env)
        p.args = ["serve"] + args
        self.addCleanup(p.__exit__, None, None, None)
        return p.start()

    def run_bin(self, *args, env=None):
        e = dict(os.environ)
        e.pop("SCIMITAR_ADMIN_TOKEN", None)
        e.update(env or {})
        return subprocess.run([BIN] + list(args), capture_output=True, text=True, env=e,
                              timeout=60, stdin=subprocess.DEVNULL, cwd=self.dir)

    def test_serve_from_file(self):
        self.port = free_port()
        path = self.conf(self.port)
        srv = self.serve(["--config", path])
        status, body, _ = http("GET", srv.base + "/api/v1/users",
                               headers={"Authorization": "Bearer " + TOKEN})
        self.assertEqual(status, 200, body)
        self.assertEqual(http("GET", srv.base + "/api/v1/users",
                              headers={"Authorization": "Bearer wrong-token-0123456789"})[0],
                         401)
        self.assertTrue(os.path.exists(os.path.join(self.dir, "my data.db")))
        # the token came from the file, never printed
        self.assertNotIn(TOKEN, srv.output())

    def test_flag_overrides_file(self):
        file_port, self.port = free_port(), free_port()
        path = self.conf(file_port)
        srv = self.serve(["--conf=" + path, "--listen", "127.0.0.1:%d" % self.port])
        self.assertEqual(http("GET", srv.base + "/healthz")[0], 200)
        self.assertIn("port=%d" % self.port, srv.output())
        # the rest came from the file (getopt's --conf for --config too)
        self.assertTrue(os.path.exists(os.path.join(self.dir, "my data.db")))

    def test_errors_name_file_and_line(self):
        port = free_port()
        cases = [
            ("threads = 2\n\n# c\ncolour = blue\n", "%s:4: unknown key 'colour'"),
            ("listen 127.0.0.1:1\n", "%s:1: expected `key = value`"),
            ("threads = 2\nthreads = 3\n", "%s:2: threads is given twice (first on line 1)"),
            ("routes = 1\n", "%s:1: unknown key 'routes'"),
            ("config = x\n", "%s:1: unknown key 'config'"),
            ("\nthreads = 99\n", "%s:2: --threads must be 1 to 64"),
            ("durability = sometimes\n", "%s:1: --durability must be full or normal"),
            ("log_format = xml\n", "%s:1: --log-format must be text or json"),
        ]
        for text, want in cases:
            with self.subTest(text=text):
                path = self.write("bad.conf", text)
                for cmd in (["serve", "--listen", "127.0.0.1:%d" % port], ["config", "check"]):
                    r = self.run_bin(*cmd, "--config", path)
                    self.assertEqual(r.returncode, 2, r.stderr)
                    self.assertIn(want % path, r.stderr)
        r = self.run_bin("serve", "--config", os.path.join(self.dir, "missing.conf"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot read %s/missing.conf" % self.dir, r.stderr)

    def test_admin_token_file_mode(self):
        port = free_port()
        path = self.conf(port)
        token = os.path.join(self.dir, "admin.token")
        os.chmod(token, 0o644)
        for cmd in (["serve"], ["config", "check"]):
            r = self.run_bin(*cmd, "--config", path)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("the admin token file %s is open to group or others (mode 0644)"
                          % token, r.stderr)
            self.assertIn("chmod 600 %s" % token, r.stderr)
            self.assertNotIn(TOKEN, r.stderr + r.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "my data.db")))
        os.chmod(token, 0o600)
        self.write("short.token", "short\n")
        r = self.run_bin("config", "check", "--config", path, "--admin-token-file",
                         os.path.join(self.dir, "short.token"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("shorter than 16 characters", r.stderr)

    def test_initial_token_file(self):
        """The token a first start makes goes to initial_token_file (0600), never to the
        output (a service's journal); it opens the API; a second start makes none."""
        self.port = free_port()
        initial = os.path.join(self.dir, "initial-admin-token")
        path = self.write("scimitar.conf",
                          "listen = 127.0.0.1:%d\ndb = sqlite:%s/first.db\n"
                          "initial_token_file = %s\n" % (self.port, self.dir, initial))
        env = dict(os.environ)
        env.pop("SCIMITAR_ADMIN_TOKEN", None)
        p = Process(["serve", "--config", path], port=self.port)
        p.env = env
        self.addCleanup(p.__exit__, None, None, None)
        srv = p.start()
        wait_until(lambda: "written to %s" % initial in srv.output(), what="the token's file")
        self.assertEqual(stat.S_IMODE(os.stat(initial).st_mode), 0o600)
        with open(initial) as f:
            token = f.read().strip()
        self.assertGreaterEqual(len(token), 16)
        self.assertNotIn(token, srv.output())
        self.assertEqual(http("GET", srv.base + "/api/v1/users",
                              headers={"Authorization": "Bearer " + token})[0], 200)
        srv.__exit__(None, None, None)
        os.unlink(initial)
        # the second start makes no token and writes no file
        srv = Process(["serve", "--config", path], port=self.port)
        srv.env = env
        self.addCleanup(srv.__exit__, None, None, None)
        srv.start()
        self.assertEqual(http("GET", srv.base + "/api/v1/users",
                              headers={"Authorization": "Bearer " + token})[0], 200)
        self.assertFalse(os.path.exists(initial))
        self.assertNotIn("Admin token", srv.output())
        # a file that cannot be written: the token is printed rather than lost
        self.port = free_port()
        path = self.write("other.conf",
                          "listen = 127.0.0.1:%d\ndb = sqlite:%s/second.db\n"
                          "initial_token_file = %s/no/such/dir/token\n" % (self.port, self.dir,
                                                                           self.dir))
        srv = Process(["serve", "--config", path], port=self.port)
        srv.env = env
        self.addCleanup(srv.__exit__, None, None, None)
        srv.start()
        wait_until(lambda: "Admin token (shown once" in srv.output(), what="the printed token")
        self.assertIn("cannot write the initial admin token to %s/no/such/dir/token" % self.dir,
                      srv.output())

    def test_config_check(self):
        port = free_port()
        path = self.conf(port, "allow_targets = 127.0.0.1,*.example.com\n"
                               "durability = normal\nlog_format = json\n")
        r = self.run_bin("config", "check", "--config", path, "--max-body", "4096")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()

        def setting(key):
            for line in lines:
                if line.startswith(key + " = "):
                    return line
            self.fail("no %s in %s" % (key, r.stdout))
        self.assertRegex(setting("listen"), r"^listen = 127\.0\.0\.1:%d +# %s:3$" % (port, path))
        self.assertIn('db = "sqlite:%s/my data.db"' % self.dir, setting("db"))
        self.assertRegex(setting("threads"), r"# %s:5$" % path)
        self.assertRegex(setting("max_body"), r"^max_body = 4096 +# command line$")
        self.assertRegex(setting("lease_seconds"), r"^lease_seconds = 300 +# default$")
        self.assertIn("durability = normal", setting("durability"))
        self.assertIn("allow_targets = 127.0.0.1,*.example.com", setting("allow_targets"))
        self.assertIn("log_format = json", setting("log_format"))
        self.assertIn("admin_token_file = %s/admin.token" % self.dir,
                      setting("admin_token_file"))
        self.assertIn("created at the first start", setting("key_file"))
        self.assertIn("initial_token_file is not set", r.stdout)
        self.assertNotIn(TOKEN, r.stdout)
        # nothing was created: the database is not opened
        self.assertEqual(sorted(os.listdir(self.dir)), ["admin.token", "scimitar.conf"])
        # a PostgreSQL password is masked; the key file is then required
        r = self.run_bin("config", "check", "--config", path, "--db",
                         "postgresql://scim:s3cret-pw@127.0.0.1:5432/scim")
        self.assertEqual(r.returncode, 2)
        self.assertIn("the secrets key must be given", r.stderr)
        key = self.write("pg.key", "00" * 32)
        r = self.run_bin("config", "check", "--config", path, "--db",
                         "postgresql://scim:s3cret-pw@127.0.0.1:5432/scim", "--key-file", key)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("s3cret-pw", r.stdout + r.stderr)
        self.assertIn("postgresql://scim:", r.stdout)
        # a key file open to others, a bad DSN, a bad listen address
        os.chmod(key, 0o640)
        r = self.run_bin("config", "check", "--config", path, "--db", "mysql://x",
                         "--listen", "nowhere", "--key-file", key)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--db must be sqlite:PATH or postgresql://", r.stderr)
        self.assertIn("--listen must be", r.stderr)
        self.assertIn("chmod 600 %s" % key, r.stderr)
        r = self.run_bin("config", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("config check --config PATH", r.stdout)
        self.assertEqual(self.run_bin("config").returncode, 2)


class LogFormatTest(unittest.TestCase):
    def start(self, extra, env=None):
        self.port = free_port()
        tmp = tempfile.TemporaryDirectory(prefix="scimitar-log-")
        self.addCleanup(tmp.cleanup)
        e = {"SCIMITAR_ADMIN_TOKEN": TOKEN, "SCIMITAR_LOG": "debug"}
        e.update(env or {})
        p = Process(["serve", "--listen", "127.0.0.1:%d" % self.port, "--db",
                     "sqlite:%s/s.db" % tmp.name] + extra, port=self.port, env=e)
        self.addCleanup(p.__exit__, None, None, None)
        return p.start()

    def test_json_lines(self):
        srv = self.start(["--log-format", "json"])
        self.assertEqual(http("GET", srv.base + "/api/v1/users",
                              headers={"Authorization": "Bearer " + TOKEN})[0], 200)

        def events():
            out = [json.loads(line) for line in srv.output().splitlines() if line]
            names = {o["event"] for o in out}
            return out if {"serve.listening", "api.request", "engine.rules_loaded"} <= names \
                else None
        out = wait_until(events, what="start, request and engine lines")
        for o in out:
            self.assertEqual(list(o)[:3], ["time", "level", "event"])
            self.assertRegex(o["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        listening = next(o for o in out if o["event"] == "serve.listening")
        self.assertEqual(listening["port"], self.port)  # a number, not a string
        self.assertEqual(listening["level"], "info")
        request = next(o for o in out if o["event"] == "api.request")
        self.assertEqual(request["method"], "GET")
        self.assertEqual(request["status"], 200)
        self.assertEqual(request["route"], "/api/v1/users")
        self.assertNotIn(TOKEN, srv.output())
        rules = next(o for o in out if o["event"] == "engine.rules_loaded")
        self.assertEqual(rules["level"], "debug")
        self.assertEqual(rules["rules"], 0)

    def test_journal_priorities(self):
        # stderr is a file here: JOURNAL_STREAM names that file's device and inode
        tmp = tempfile.TemporaryDirectory(prefix="scimitar-journal-")
        self.addCleanup(tmp.cleanup)
        self.port = free_port()
        p = Process(["serve", "--listen", "127.0.0.1:%d" % self.port, "--db",
                     "sqlite:%s/s.db" % tmp.name], port=self.port,
                    env={"SCIMITAR_ADMIN_TOKEN": TOKEN, "SCIMITAR_LOG": "debug"})
        # the log file is created before the start so its inode is known
        open(p.log_path, "ab").close()
        st = os.stat(p.log_path)
        p.env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
        self.addCleanup(p.__exit__, None, None, None)
        p.start()
        line = wait_until(lambda: next((x for x in p.output().splitlines()
                                        if "event=serve.listening" in x), None))
        self.assertTrue(line.startswith("<6>"), line)
        # a debug line may come after the listening one (the engine's start): wait for it
        debug = wait_until(lambda: next((x for x in p.output().splitlines()
                                         if "level=debug" in x), None),
                           what="a debug line")
        self.assertTrue(debug.startswith("<7>"), debug)
        # JSON too; and a JOURNAL_STREAM naming another file changes nothing
        srv = self.start(["--log-format", "json"], env={
            "JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)})
        line = wait_until(lambda: next((x for x in srv.output().splitlines()
                                        if "serve.listening" in x), None))
        self.assertTrue(line.startswith("{"), line)
        self.assertEqual(json.loads(line)["event"], "serve.listening")


if __name__ == "__main__":
    unittest.main()
