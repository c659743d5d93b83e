"""The Debian package and `make install`. The package is built from the tree with
Debian's tooling (scripts/build-deb.sh: dpkg-buildpackage, then lintian), installed into
this machine with dpkg -i, checked (the scimitar user, /var/lib/scimitar 0700, the
conffile, the unit, nothing enabled or started), its unit verified and scored by
systemd-analyze, its service run the way systemd runs it, then removed and purged.

systemd cannot run as PID 1 here, so the unit's ExecStart runs as the scimitar user
(setpriv, which execs and so receives the stop signal itself) with NOTIFY_SOCKET set to
a datagram socket the test reads, as systemd's Type=notify would: READY=1 must come
when /healthz already answers, STOPPING=1 at SIGTERM.

Needs root (dpkg -i) on a throwaway machine, as CI is; skipped with the reason when
dpkg-buildpackage is missing, when not root, or when a scimitar package is already
installed (it would be replaced)."""
import glob
import grp
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import free_port, http, wait_until  # noqa: E402

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("SCIMITAR_BUILD_DIR", os.path.join(SRC, "build"))
DEB_OUT = os.path.join(BUILD, "deb")
UNIT = "/lib/systemd/system/scimitar.service"
CONF = "/etc/scimitar/scimitar.conf"
STATE = "/var/lib/scimitar"


def run(*args, check=True, **kw):
    r = subprocess.run(list(args), capture_output=True, text=True, stdin=subprocess.DEVNULL,
                       **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s exited with %d:\n%s%s" % (" ".join(args), r.returncode,
                                                            r.stdout, r.stderr))
    return r


def conf_settings(path):
    """The key = value settings of a configuration file, commented-out ones included
    (`#key = value`), as (key, value, commented)."""
    out = []
    with open(path) as f:
        for line in f:
            m = re.match(r"^\s*(#?)\s*([a-z_]+)\s*=\s*(.*?)\s*$", line)
            if m:
                out.append((m.group(2), m.group(3), m.group(1) == "#"))
    return out


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def processes_of(uid):
    """Pids of the processes running as uid."""
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.stat("/proc/" + d).st_uid == uid:
                    pids.append(int(d))
            except OSError:
                pass
    return pids


class DebianPackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("dpkg-buildpackage"):
            raise unittest.SkipTest("dpkg-buildpackage is missing (scripts/install-deps.sh "
                                    "--test installs it)")
        if os.geteuid() != 0:
            raise unittest.SkipTest("installing the package needs root (dpkg -i)")
        if run("dpkg-query", "-W", "-f=${Status}", "scimitar", check=False).stdout.startswith(
                "install ok"):
            raise unittest.SkipTest("a scimitar package is installed on this machine; the "
                                    "test would replace and purge it")
        r = run("bash", os.path.join(SRC, "scripts", "build-deb.sh"), DEB_OUT, check=False)
        cls.build_output = r.stdout + r.stderr
        if r.returncode != 0:
            raise AssertionError("the package build failed:\n" + cls.build_output[-6000:])
        debs = [d for d in glob.glob(os.path.join(DEB_OUT, "scimitar_*.deb"))]
        if len(debs) != 1:
            raise AssertionError("expected one scimitar_*.deb in %s: %r" % (DEB_OUT, debs))
        cls.deb = debs[0]

    def test_lintian(self):
        tags = [line for line in self.build_output.splitlines()
                if re.match(r"^[EWIPX]: scimitar", line)]
        print("lintian:", *tags, sep="\n  ")
        # docs/operations.md explains each of these; anything else is a new finding
        explained = {"package-supports-alternative-init-but-no-init.d-script",
                     "spelling-error-in-binary"}
        for t in tags:
            self.assertIn(t.split()[2], explained, t)

    def test_install_serve_remove_purge(self):
        self.addCleanup(run, "dpkg", "--purge", "scimitar", check=False)
        run("dpkg", "-i", self.deb)

        # the user, its state folder, the conffile, the unit
        u = pwd.getpwnam("scimitar")
        self.assertLess(u.pw_uid, 1000)
        self.assertEqual(u.pw_dir, STATE)
        self.assertIn(u.pw_shell, ("/usr/sbin/nologin", "/bin/false"))
        self.assertTrue(group_exists("scimitar"))
        st = os.stat(STATE)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o700)
        self.assertEqual((st.st_uid, st.st_gid), (u.pw_uid, u.pw_gid))
        conffiles = run("dpkg-query", "-W", "-f=${Conffiles}", "scimitar").stdout
        self.assertIn(CONF, conffiles)
        self.assertTrue(os.path.isfile(UNIT))
        with open(UNIT) as f:
            unit = f.read()
        self.assertIn("ExecStart=/usr/bin/scimitar serve --config " + CONF, unit)
        self.assertIn("Type=notify", unit)
        self.assertTrue(os.path.isfile("/usr/share/man/man8/scimitar.8.gz"))

        # nothing enabled, nothing started
        self.assertEqual(glob.glob("/etc/systemd/system/*.wants/scimitar.service"), [])
        self.assertEqual(processes_of(u.pw_uid), [])

        # the unit as systemd reads it, and its exposure score
        r = run("systemd-analyze", "verify", UNIT, check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("scimitar.service", r.stderr, r.stderr)
        r = run("systemd-analyze", "security", "--offline=yes", UNIT, check=False)
        m = re.search(r"Overall exposure level for scimitar.service: ([0-9.]+) (\S+)", r.stdout)
        self.assertTrue(m, r.stdout + r.stderr)
        print("systemd-analyze security: %s %s" % (m.group(1), m.group(2)))
        self.assertLessEqual(float(m.group(1)), 2.0, r.stdout)

        # every setting of the example configuration is a flag of serve
        help_text = run("/usr/bin/scimitar", "serve", "--help").stdout
        settings = conf_settings(CONF)
        self.assertEqual({k for k, _, c in settings if not c},
                         {"listen", "db", "key_file", "initial_token_file"})
        for k, _, _ in settings:
            self.assertIn("--" + k.replace("_", "-"), help_text, k)

        self.serve_as_scimitar(u, help_text)

        # remove: the binary and unit go; data, user and configuration stay
        run("dpkg", "--remove", "scimitar")
        self.assertFalse(os.path.exists("/usr/bin/scimitar"))
        self.assertFalse(os.path.exists(UNIT))
        self.assertTrue(os.path.exists(CONF))
        self.assertTrue(os.path.exists(os.path.join(STATE, "scimitar.db")))
        self.assertTrue(user_exists("scimitar"))

        # purge: everything goes
        run("dpkg", "--purge", "scimitar")
        self.assertFalse(os.path.exists(STATE))
        self.assertFalse(os.path.exists("/etc/scimitar"))
        self.assertFalse(user_exists("scimitar"))
        self.assertFalse(group_exists("scimitar"))

    def serve_as_scimitar(self, u, help_text):
        """Runs the unit's ExecStart as the scimitar user with a notify socket."""
        tmp = tempfile.mkdtemp(prefix="scimitar-notify-")
        self.addCleanup(shutil.rmtree, tmp, True)
        os.chmod(tmp, 0o755)
        sock_path = os.path.join(tmp, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(sock_path)
        os.chmod(sock_path, 0o666)
        sock.settimeout(60)

        port = free_port()
        listen = "127.0.0.1:%d" % port
        self.assertIn("--config", help_text)
        args = ["--config", CONF, "--listen", listen]  # the unit's, on a test port
        # no SCIMITAR_ADMIN_TOKEN: the first start makes the token and, as the packaged
        # configuration says, writes it to a file rather than to the journal
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "NOTIFY_SOCKET": sock_path}
        log_path = os.path.join(tmp, "serve.log")
        log = open(log_path, "wb")
        self.addCleanup(log.close)
        proc = subprocess.Popen(
            ["setpriv", "--reuid=scimitar", "--regid=scimitar", "--init-groups",
             "--no-new-privs", "/usr/bin/scimitar", "serve"] + args,
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env, cwd="/",
            preexec_fn=lambda: os.umask(0o077))

        def cleanup():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.addCleanup(cleanup)

        def output():
            with open(log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")

        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            self.fail("no notification from serve:\n" + output())
        self.assertIn("READY=1", msg.split("\n"), msg)
        base = "http://127.0.0.1:%d" % port
        # READY=1 comes once serve answers: no retry
        status, body, _ = http("GET", base + "/healthz")
        self.assertEqual(status, 200, body)
        status, body, h = http("GET", base + "/")
        self.assertEqual(status, 200)
        self.assertIn("text/html", h.get("content-type", ""))
        self.assertIn("<html", body.lower())
        initial = os.path.join(STATE, "initial-admin-token")
        st = os.stat(initial)
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (u.pw_uid, 0o600))
        with open(initial) as f:
            token = f.read().strip()
        self.assertIn("written to %s" % initial, output())
        self.assertNotIn(token, output())
        status, body, _ = http("GET", base + "/api/v1/users",
                               headers={"Authorization": "Bearer " + token})
        self.assertEqual(status, 200, body)

        proc.terminate()
        msg = sock.recv(4096).decode()
        self.assertIn("STOPPING=1", msg.split("\n"), msg)
        self.assertEqual(proc.wait(timeout=60), 0, output())
        for name in ("scimitar.db", "scimitar.key"):
            st = os.stat(os.path.join(STATE, name))
            self.assertEqual(st.st_uid, u.pw_uid, name)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, name)


class MakeInstallTest(unittest.TestCase):
    """cmake --install (what `make install` runs) into a DESTDIR, and what `make
    uninstall` removes: the files of the install manifest (listed without DESTDIR)."""

    def test_install_uninstall(self):
        if not os.path.exists(os.path.join(BUILD, "cmake_install.cmake")):
            self.skipTest("no configured build in " + BUILD)
        dest = tempfile.mkdtemp(prefix="scimitar-destdir-")
        self.addCleanup(shutil.rmtree, dest, True)
        prefix = run("cmake", "-L", "-N", BUILD).stdout
        prefix = re.search(r"^CMAKE_INSTALL_PREFIX:PATH=(.*)$", prefix, re.M).group(1)
        env = dict(os.environ, DESTDIR=dest)
        run("cmake", "--install", BUILD, env=env)
        root = dest + prefix
        etc = dest + ("/etc" if prefix == "/usr" else prefix + "/etc")
        for rel in ("bin/scimitar", "share/man/man8/scimitar.8", "lib/systemd/system/scimitar.service"):
            self.assertTrue(os.path.isfile(os.path.join(root, rel)), rel)
        self.assertTrue(os.access(os.path.join(root, "bin/scimitar"), os.X_OK))
        with open(os.path.join(root, "lib/systemd/system/scimitar.service")) as f:
            self.assertIn("ExecStart=%s/bin/scimitar serve --config %s/scimitar/scimitar.conf"
                          % (prefix, etc[len(dest):]), f.read())
        conf = os.path.join(etc, "scimitar", "scimitar.conf")
        self.assertEqual(conf_settings(conf), conf_settings(os.path.join(SRC, "dist", "scimitar.conf")))
        # an edited configuration survives a second install
        with open(conf, "a") as f:
            f.write("threads = 8\n")
        run("cmake", "--install", BUILD, env=env)
        self.assertIn(("threads", "8", False), conf_settings(conf))
        # uninstall: what the manifest lists goes, the configuration stays
        with open(os.path.join(BUILD, "install_manifest.txt")) as f:
            listed = [line.strip() for line in f if line.strip()]
        self.assertEqual(len(listed), 3, listed)
        for p in listed:
            self.assertTrue(p.startswith(prefix + "/"), p)
            os.remove(dest + p)
        left = [os.path.join(d, n) for d, _, ns in os.walk(dest) for n in ns]
        self.assertEqual(left, [conf])


if __name__ == "__main__":
    unittest.main()
