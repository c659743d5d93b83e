"""Shared helpers for the integration tests: start real scimitar processes on free
loopback ports in a temporary folder, wait until they answer, talk HTTP to them with
the standard library, and stop them (also when a test fails).

    from harness import Serve, Target, http
    with Target(token="t", no_delete=True) as tgt, Serve() as srv:
        status, body, headers = srv.api("GET", "/api/v1/users")

With SCIMITAR_TEST_DB=postgresql, every Serve gets a fresh database of the test run's
PostgreSQL cluster (pgcluster.py) instead of a SQLite file, and a secrets key file of its
own (kept per database, so a server restarted on the same database reads its secrets).
"""
import atexit
import hashlib
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import pgcluster

BIN = os.environ.get("SCIMITAR_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "scimitar")
BIN = os.path.abspath(BIN)


def free_port():
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None, raw=None, timeout=30):
    """One HTTP exchange. body is JSON-encoded unless raw (bytes/str) is given.
    Returns (status, parsed JSON or text or None, headers dict with lower-case keys)."""
    data = None
    hdrs = dict(headers or {})
    if raw is not None:
        data = raw.encode() if isinstance(raw, str) else raw
    elif body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, payload, rh = r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        status, payload, rh = e.code, e.read(), e.headers
    h = {k.lower(): v for k, v in rh.items()}
    if not payload:
        return status, None, h
    text = payload.decode("utf-8", "replace")
    try:
        return status, json.loads(text), h
    except ValueError:
        return status, text, h


def wait_until(pred, timeout=15.0, interval=0.05, what="condition"):
    """Polls pred() until it returns a truthy value; returns it, or raises."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


class Process:
    """A scimitar subcommand run as a child process on a free loopback port."""

    def __init__(self, args, port=None, env=None, health="/healthz"):
        self.port = port or free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.args = args
        self.env = dict(os.environ, **(env or {}))
        self.health = health
        self.proc = None
        self.tmp = tempfile.TemporaryDirectory(prefix="scimitar-test-")
        self.log_path = os.path.join(self.tmp.name, "process.log")

    def start(self, timeout=20):
        """Starts the process and waits until it listens. The port was free when it was
        chosen, but another process may take it before this one binds it: then this one
        exits ("address in use") and is started again on another port (a connection
        that succeeds is not enough: it may be the other process answering, so the
        process's own log line saying it listens is waited for too, where logs allow)."""
        for attempt in range(5):
            self.log = open(self.log_path, "ab")
            mark = os.path.getsize(self.log_path)
            self.proc = subprocess.Popen([BIN] + self.args, stdout=self.log, stderr=self.log,
                                         stdin=subprocess.DEVNULL, env=self.env,
                                         cwd=self.tmp.name)
            if self._wait_up(timeout, mark):
                return self
            self.log.close()
            self._move_to(free_port())
        raise AssertionError("%s found no free port" % self.args[0])

    def _own_line(self, mark):
        """Whether the process logged that it listens on self.port (True when the log
        level hides info lines: nothing to check then)."""
        level = self.env.get("SCIMITAR_LOG", "info")
        if level not in ("info", "debug"):
            return True
        with open(self.log_path, "rb") as f:
            f.seek(mark)
            text = f.read().decode("utf-8", "replace")
        # text or JSON log lines: the event's name, then the port in its url or field
        return re.search(r"(serve|target)\.listening\W.*\b%d\b" % self.port, text)

    def _wait_up(self, timeout, mark):
        """True once the process listens; False when it exited because the port was
        taken meanwhile; raises when it exited otherwise or timed out."""
        def up():
            if self.proc.poll() is not None:
                out = self.output()
                if "address in use" in out[-400:]:
                    return "taken"
                raise AssertionError("%s exited with %s:\n%s" % (
                    self.args[0], self.proc.returncode, out))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
            except OSError:
                return False
            return bool(self._own_line(mark))
        return wait_until(up, timeout=timeout, what="%s to listen" % self.args[0]) is True

    def _move_to(self, port):
        """Uses port instead of self.port in the arguments and addresses."""
        old = "127.0.0.1:%d" % self.port
        self.args = [a.replace(old, "127.0.0.1:%d" % port) if isinstance(a, str) else a
                     for a in self.args]
        self.base = self.base.replace(old, "127.0.0.1:%d" % port)
        if hasattr(self, "scim_base"):
            self.scim_base = self.scim_base.replace(old, "127.0.0.1:%d" % port)
        self.port = port

    def output(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, sig=None):
        if self.proc and self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
            self.log = None
        return self.proc.returncode if self.proc else None

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        code = self.stop()
        # A sanitizer report makes the process exit non-zero; surface it.
        out = self.output()
        if "ERROR: AddressSanitizer" in out or "runtime error:" in out or \
                "ERROR: LeakSanitizer" in out:
            raise AssertionError("sanitizer report from %s:\n%s" % (self.args[0], out))
        self.tmp.cleanup()
        return False


ON_POSTGRESQL = pgcluster.enabled()


def sqlite_only(reason):
    """Skips a test (or class) when the suite runs against PostgreSQL."""
    return unittest.skipIf(ON_POSTGRESQL, "SQLite only: " + reason)


_pg_keys = None
_pg_named = set()


def _pg_key_file(name):
    """The secrets key file of PostgreSQL database name (one folder per process)."""
    global _pg_keys
    if _pg_keys is None:
        _pg_keys = tempfile.mkdtemp(prefix="scimitar-keys-")
        atexit.register(shutil.rmtree, _pg_keys, True)
    return os.path.join(_pg_keys, name + ".key")


def _drop_named():
    for name in _pg_named:
        pgcluster.shared().drop_db(name)


class Serve(Process):
    """`scimitar serve` on a fresh database (SQLite, or PostgreSQL with
    SCIMITAR_TEST_DB=postgresql) with a known admin token. db names an existing database
    to reuse: a SQLite path, or the db of another Serve. backend ("sqlite" or
    "postgresql") chooses the back-end whatever the run's (tests that need both)."""

    def __init__(self, token="test-admin-token", db=None, extra=None, env=None, port=None,
                 backend=None):
        self.token = token
        port = port or free_port()
        e = {"SCIMITAR_ADMIN_TOKEN": token}
        e.update(env or {})
        super().__init__([], port=port, env=e)
        extra = list(extra or [])
        self.pg_drop = False
        self.on_pg = ON_POSTGRESQL if backend is None else backend == "postgresql"
        if self.on_pg:
            cluster = pgcluster.shared()
            if db is None:
                self.db = cluster.create_db()
                self.pg_drop = True
            else:
                # a path names a database of its own, dropped when this process ends
                self.db = db if "/" not in db else \
                    "p_" + hashlib.sha1(db.encode()).hexdigest()[:20]
                cluster.ensure_db(self.db)
                if "/" in db:
                    if not _pg_named:
                        atexit.register(_drop_named)
                    _pg_named.add(self.db)
            dsn = cluster.dsn(self.db)
            if "--key-file" not in extra and "SCIMITAR_KEY" not in self.env:
                extra += ["--key-file", _pg_key_file(self.db)]
        else:
            self.db = db or os.path.join(self.tmp.name, "scimitar.db")
            dsn = "sqlite:" + self.db
        self.args = ["serve", "--listen", "127.0.0.1:%d" % port, "--db", dsn] + extra

    def __exit__(self, *exc):
        try:
            return super().__exit__(*exc)
        finally:
            if self.pg_drop:
                self.pg_drop = False
                pgcluster.shared().drop_db(self.db)

    def sql(self, query, *params):
        """Runs query (with ? placeholders) on this server's database behind its back;
        returns the rows as lists (a write is committed at once)."""
        if self.on_pg:
            return pgcluster.shared().query(self.db, query, params)
        db = sqlite3.connect(self.db, timeout=30)
        try:
            with db:
                return [list(r) for r in db.execute(query, params).fetchall()]
        finally:
            db.close()

    def api(self, method, path, body=None, token=None, raw=None, headers=None):
        h = {"Authorization": "Bearer " + (token if token is not None else self.token)}
        h.update(headers or {})
        return http(method, self.base + path, body=body, headers=h, raw=raw)

    def cli(self, *args, input=None, check=False):
        """Runs a scimitar client command against this server; returns CompletedProcess."""
        env = dict(os.environ, SCIMITAR_TOKEN=self.token, SCIMITAR_SERVER=self.base)
        r = subprocess.run([BIN] + list(args), capture_output=True, text=True, env=env,
                           input=input, timeout=120)
        if check and r.returncode != 0:
            raise AssertionError("scimitar %s failed (%d): %s%s" % (
                " ".join(args), r.returncode, r.stdout, r.stderr))
        return r


class Target(Process):
    """`scimitar target` (the built-in SCIM service provider)."""

    def __init__(self, token="target-token", no_delete=False, extra=None, port=None):
        port = port or free_port()
        super().__init__([], port=port)
        self.token = token
        self.args = ["target", "--listen", "127.0.0.1:%d" % port]
        if token:
            self.args += ["--token", token]
        if no_delete:
            self.args.append("--no-delete")
        self.args += list(extra or [])
        self.scim_base = self.base + "/scim/v2"

    def scim(self, method, path, body=None, raw=None, headers=None, token=None):
        h = {"Accept": "application/scim+json"}
        t = token if token is not None else self.token
        if t:
            h["Authorization"] = "Bearer " + t
        if body is not None or raw is not None:
            h["Content-Type"] = "application/scim+json"
        h.update(headers or {})
        return http(method, self.scim_base + path, body=body, raw=raw, headers=h)

    def users(self):
        """Every user on the target (follows paging)."""
        out, start = [], 1
        while True:
            st, body, _ = self.scim("GET", "/Users?startIndex=%d&count=500" % start)
            assert st == 200, (st, body)
            out += body.get("Resources", [])
            if len(out) >= body["totalResults"] or not body.get("Resources"):
                return out
            start += len(body["Resources"])
