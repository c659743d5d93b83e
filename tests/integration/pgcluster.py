"""A throwaway PostgreSQL cluster for the tests (Debian's postgresql package): initdb into a
temporary folder, a free loopback port and its unix socket in that folder, trust
authentication for the superuser "scimitar", durability off (fsync, WAL for recovery
only), stopped and removed at the end. As root (CI), the server runs as the unprivileged
user "nobody", since PostgreSQL refuses to run as root.

Used three ways:
  - by CTest's fixture: `python3 pgcluster.py start STATE` starts a cluster for the whole
    ctest run and writes where it is into the file STATE; `python3 pgcluster.py stop
    STATE` stops and removes it. Tests find it through SCIMITAR_TEST_PG_STATE.
  - by the integration harness: shared() gives that cluster, or starts one for this
    process when the variable is not set (stopped at exit).
  - by the C unit tests, through the admin DSN (SCIMITAR_TEST_PG_DSN) the fixture's
    wrapper `python3 pgcluster.py run STATE -- COMMAND` puts in their environment.
"""
import atexit
import glob
import itertools
import json
import os
import pwd
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SUPERUSER = "scimitar"


def bindir():
    """The newest installed PostgreSQL server's bin folder."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[-3]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (scripts/install-deps.sh --test)")
    return os.path.dirname(found[-1])


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(cmd):
    """cmd run as the user the server runs as: "nobody" when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "nobody", "--"] + cmd
    return cmd


class Cluster:
    def __init__(self, dir, port, bin):
        self.dir = dir
        self.port = port
        self.bin = bin
        self._names = itertools.count(1)

    # ---- life cycle ----

    @classmethod
    def start(cls):
        bin = bindir()
        d = tempfile.mkdtemp(prefix="scimitar-pg-")
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(d, nobody.pw_uid, nobody.pw_gid)
        data = os.path.join(d, "data")
        subprocess.run(_as_server_user([
            os.path.join(bin, "initdb"), "-D", data, "-U", SUPERUSER, "--auth=trust",
            "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]),
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=d)
        last = None
        for _ in range(5):
            port = free_port()
            opts = ("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s "
                    "-c fsync=off -c full_page_writes=off -c synchronous_commit=off "
                    "-c wal_level=minimal -c max_wal_senders=0 -c max_connections=400 "
                    "-c shared_buffers=64MB" % (port, d))
            r = subprocess.run(_as_server_user([
                os.path.join(bin, "pg_ctl"), "-D", data, "-l", os.path.join(d, "server.log"),
                "-w", "-t", "60", "-o", opts, "start"]),
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=d)
            if r.returncode == 0:
                return cls(d, port, bin)
            last = r.stderr.decode(errors="replace")
            time.sleep(0.2)
        shutil.rmtree(d, ignore_errors=True)
        raise RuntimeError("cannot start PostgreSQL: %s" % last)

    def stop(self):
        subprocess.run(_as_server_user([
            os.path.join(self.bin, "pg_ctl"), "-D", os.path.join(self.dir, "data"), "-m",
            "immediate", "-w", "stop"]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)

    def state(self):
        return {"dir": self.dir, "port": self.port, "bin": self.bin}

    @classmethod
    def from_state(cls, st):
        return cls(st["dir"], st["port"], st["bin"])

    # ---- databases ----

    def dsn(self, db="postgres"):
        """The URI scimitar is given: TCP on loopback, as an operator would write it."""
        return "postgresql://%s@127.0.0.1:%d/%s" % (SUPERUSER, self.port, db)

    def psql(self, sql, db="postgres", check=True):
        r = subprocess.run([os.path.join(self.bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                            "-h", self.dir, "-p", str(self.port), "-U", SUPERUSER, "-d", db,
                            "-At", "-c", sql], capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise RuntimeError("psql failed: %s" % r.stderr)
        return r.stdout

    def create_db(self):
        """A new empty database; returns its name."""
        name = "t_%d_%d_%04x" % (os.getpid(), next(self._names), random.getrandbits(16))
        self.psql('CREATE DATABASE "%s"' % name)
        return name

    def ensure_db(self, name):
        if not self.psql("SELECT 1 FROM pg_database WHERE datname = '%s'" % name).strip():
            self.psql('CREATE DATABASE "%s"' % name)

    def drop_db(self, name):
        self.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name, check=False)

    def query(self, db, sql, params=()):
        """Runs sql (with ? placeholders) in db; returns its rows as lists of JSON values
        (a statement without rows returns [])."""
        sql = _bind(sql, params)
        head = sql.lstrip().split(None, 1)[0].upper()
        if head in ("SELECT", "WITH"):
            out = self.psql("SELECT COALESCE(json_agg(row_to_json(q)), '[]') FROM (%s) q" % sql,
                            db=db)
            return [list(r.values()) for r in json.loads(out or "[]")]
        self.psql(sql, db=db)
        return []


def _literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, int):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def _bind(sql, params):
    """Replaces each ? outside quotes with the next parameter as an SQL literal."""
    out, it, quoted = [], iter(params), False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
        if ch == "?" and not quoted:
            out.append(_literal(next(it)))
        else:
            out.append(ch)
    return "".join(out)


_shared = None


def shared():
    """The cluster of this test run (SCIMITAR_TEST_PG_STATE), else one started for this
    process and stopped at its exit."""
    global _shared
    if _shared is None:
        path = os.environ.get("SCIMITAR_TEST_PG_STATE")
        if path and os.path.exists(path):
            with open(path) as f:
                _shared = Cluster.from_state(json.load(f))
        else:
            _shared = Cluster.start()
            atexit.register(_shared.stop)
    return _shared


def enabled():
    """Whether the tests run against PostgreSQL (SCIMITAR_TEST_DB=postgresql)."""
    return os.environ.get("SCIMITAR_TEST_DB", "") in ("postgresql", "postgres", "pg")


def main(argv):
    if len(argv) < 3 or argv[1] not in ("start", "stop", "run"):
        sys.stderr.write("usage: pgcluster.py start|stop STATE | run STATE -- COMMAND...\n")
        return 2
    path = argv[2]
    if argv[1] == "start":
        if os.path.exists(path):  # left by an interrupted run
            with open(path) as f:
                Cluster.from_state(json.load(f)).stop()
            os.unlink(path)
        c = Cluster.start()
        with open(path, "w") as f:
            json.dump(c.state(), f)
        print("PostgreSQL on 127.0.0.1:%d in %s" % (c.port, c.dir))
        return 0
    if argv[1] == "stop":
        if os.path.exists(path):
            with open(path) as f:
                Cluster.from_state(json.load(f)).stop()
            os.unlink(path)
        return 0
    # run: COMMAND with SCIMITAR_TEST_PG_DSN (admin DSN) in its environment
    cmd = argv[argv.index("--") + 1:]
    own = None
    if os.path.exists(path):
        with open(path) as f:
            c = Cluster.from_state(json.load(f))
    else:
        c = own = Cluster.start()
    try:
        env = dict(os.environ, SCIMITAR_TEST_PG_DSN=c.dsn(),
                   SCIMITAR_TEST_PG_PSQL=os.path.join(c.bin, "psql"))
        return subprocess.run(cmd, env=env).returncode
    finally:
        if own:
            own.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
