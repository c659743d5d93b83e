"""The figures of bench/sync.sh (which checks the tools and runs this file); see the
comment at the top of bench/sync.sh for what is measured and the variables that change it.

Every run of the engine is timed against a capacity measured in the same run, because
this machine is shared and absolute times vary with whatever else runs:

  - `scimitar target` (the kind of target the engine syncs into) with wrk, 1 thread and
    16 connections, bench/post-users.lua (each request a new user), before and after;
  - a null target (Debian's nginx with bench/null-target.conf, canned SCIM answers) with
    the same wrk, before and after.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = sys.argv[1]
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from benchlib import (KeepAlive, cpu_seconds, latencies, machine, one_change,  # noqa: E402
                      peak_rss_mb, pct, record, thread_cpu_seconds)
from harness import Serve, Target, free_port, wait_until  # noqa: E402
from seedflow import Flow  # noqa: E402

N = int(os.environ["SYNC_USERS"])
# Users in the rule's population: all of them, or half from 1,000,000 users on.
M = int(os.environ.get("SYNC_IN_RULE") or (N if N < 1000000 else N // 2))
NULL_RUNS = int(os.environ.get("SYNC_NULL_RUNS") or (2 if M <= 200000 else 1))
WRK_SECONDS = int(os.environ.get("SYNC_WRK_SECONDS") or 10)
PROFILE = os.environ.get("SYNC_PROFILE", "")
# "first": the profile stops at the engine's first create (what comes before it)
PROFILE_UNTIL = os.environ.get("SYNC_PROFILE_UNTIL", "")
TARGET_RUN = os.environ.get("SYNC_TARGET_RUN", "1") != "0"
RECORD = os.environ.get("SYNC_RECORD", "1") != "0"
SERVE_EXTRA = os.environ.get("SERVE_EXTRA", "").split()
POP, OTHER = "Code42 Users", "Other Users"
TOKEN = "bench-target-token"
LUA = os.path.join(ROOT, "bench", "post-users.lua")
NGINX_CONF = os.path.join(ROOT, "bench", "null-target.conf")
LOADS = []


def say(*args):
    print("[%s load %.2f]" % (time.strftime("%H:%M:%S"), os.getloadavg()[0]), *args,
          flush=True)


def mark(phase):
    """Notes the 1-minute load average at the start of a phase (printed and reported)."""
    LOADS.append((phase, os.getloadavg()[0]))
    say(phase)


# ---- process figures ----------------------------------------------------------------

def status_mb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"%s:\s+(\d+) kB" % key, f.read())
    return int(m.group(1)) / 1024 if m else float("nan")


def rss_mb(pid):
    return status_mb(pid, "VmRSS")


# ---- the directory ------------------------------------------------------------------

def in_rule(i):
    """Whether user i is in the rule's population: M of the N, spread evenly."""
    return (i + 1) * M // N > i * M // N


def user_body(i):
    return {"username": "user%07d" % i, "name": {"given": "Given%d" % i, "family": "Family",
                                                 "formatted": "Given%d Family" % i},
            "nickname": "g%d" % i, "title": "Engineer", "type": "Employee",
            "email": "user%07d@example.com" % i, "primaryPhone": "+1 555 %07d" % i,
            "externalId": "E%07d" % i,
            "address": {"streetAddress": "%d Main St" % i, "locality": "Springfield",
                        "region": "IL", "postalCode": "62701", "countryCode": "US"},
            "population": {"name": POP if in_rule(i) else OTHER}}


def import_directory(f, chunk=5000):
    for start in range(0, N, chunk):
        f.ok("POST", "/api/v1/users/import",
             [user_body(i) for i in range(start, min(N, start + chunk))])


def backup_db(src, dst):
    """A consistent copy of serve's SQLite database (and its key file) while it runs."""
    s = sqlite3.connect(src, timeout=60)
    d = sqlite3.connect(dst)
    with d:
        s.backup(d)
    d.close()
    s.close()
    if os.path.exists(src + ".key"):
        shutil.copy(src + ".key", dst + ".key")


def rule_user_ids(f, pop_id, count):
    """{username: id} of up to count users of the rule's population."""
    out, cursor = {}, None
    while len(out) < count:
        path = "/api/v1/users?limit=1000&population=" + pop_id
        if cursor:
            path += "&cursor=" + urllib.parse.quote(cursor)
        page = f.ok("GET", path)
        for u in page["items"]:
            out[u["username"]] = u["id"]
        cursor = page.get("nextCursor")
        if not cursor:
            break
    return dict(sorted(out.items())[:count])


# ---- targets and wrk -----------------------------------------------------------------

class NullTarget:
    """Debian's nginx with bench/null-target.conf on a free loopback port, run from a
    temporary folder; stopped (and the folder removed) by stop()."""

    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="scimitar-null-")
        os.chmod(self.dir, 0o755)  # nginx's workers run as nobody when started as root
        self.base = "http://127.0.0.1:%d" % self.port
        self.scim_base = self.base + "/scim/v2"
        self.token = TOKEN
        self.proc = None

    def start(self):
        conf = open(NGINX_CONF).read().replace("@PORT@", str(self.port)).replace(
            "@DIR@", self.dir)
        path = os.path.join(self.dir, "nginx.conf")
        with open(path, "w") as out:
            out.write(conf)
        self.log = open(os.path.join(self.dir, "stderr.log"), "ab")
        self.proc = subprocess.Popen(["nginx", "-p", self.dir, "-c", path],
                                     stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("nginx exited with %s: %s" % (
                    self.proc.returncode, open(os.path.join(self.dir, "error.log")).read()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                return False
        wait_until(up, timeout=20, what="nginx to listen")
        return self

    def requests(self):
        """Requests nginx has served so far (stub_status; this request included)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", "/_nginx_status")
        text = c.getresponse().read().decode()
        c.close()
        return int(text.splitlines()[2].split()[2])

    def pids(self):
        """The master and its worker (for CPU seconds)."""
        out = [self.proc.pid]
        try:
            kids = open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)).read()
            out += [int(x) for x in kids.split()]
        except OSError:
            pass
        return out

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: the workers finish, then exit
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def wrk_post(scim_base, token):
    """POST /Users capacity of a target: (requests/s answered 2xx, non-2xx, socket errors)
    with wrk, 1 thread, 16 connections, bench/post-users.lua."""
    env = dict(os.environ, WRK_TOKEN=token or "")
    out = subprocess.run(["wrk", "-t1", "-c16", "-d%ds" % WRK_SECONDS, "-s", LUA, scim_base],
                         capture_output=True, text=True, timeout=WRK_SECONDS + 60, env=env)
    m = re.search(r"WRKRESULT (\d+) (\d+) (\d+) (\d+)", out.stdout)
    if not m:
        raise AssertionError("wrk printed no result: %s %s" % (out.stdout, out.stderr))
    reqs, bad, errs, dur_us = (int(x) for x in m.groups())
    return (reqs - bad) / (dur_us / 1e6), bad, errs


def target_capacity():
    """wrk against a fresh `scimitar target --no-delete` (the kind the engine syncs into)."""
    with Target(token=TOKEN, no_delete=True) as tgt:
        return wrk_post(tgt.scim_base, TOKEN)


def null_capacity():
    nt = NullTarget().start()
    try:
        return wrk_post(nt.scim_base, None)
    finally:
        nt.stop()


# ---- the engine ----------------------------------------------------------------------

def creates_done(srv, rule):
    """Users the engine has created on the target for rule (its /metrics counter)."""
    st, text, _ = srv.api("GET", "/metrics")
    assert st == 200, (st, text)
    m = re.search(r'^scimitar_sync_operations_total\{rule="%s",action="CREATE",'
                  r'status="SUCCESS"\} (\d+)$' % re.escape(rule), text, re.M)
    return int(m.group(1)) if m else 0


def requests_total(srv):
    st, text, _ = srv.api("GET", "/metrics")
    m = re.search(r"^scimitar_sync_requests_total (\d+)$", text, re.M)
    return int(m.group(1)) if m else 0


class DuringSync(threading.Thread):
    """Single title changes made while the initial sync runs: once a tenth of the users
    are on the target, one change at a time (to a user the target already holds, so it
    is an update), timed until the target shows it (polled every 5 ms), 1 s apart, up to
    `samples`, while the sync runs. Each result: (ms, whether the sync was still running
    when the change arrived)."""

    def __init__(self, f, progress, samples=5):
        super().__init__(daemon=True)
        self.f, self.progress, self.samples = f, progress, samples
        self.results, self.error, self.polls = [], None, 0

    def run(self):
        try:
            while self.progress["created"] < max(100, M // 10):
                if self.progress["done"]:
                    return
                time.sleep(0.05)
            body = self.f.read("/Users?startIndex=1&count=%d&attributes=userName" %
                               self.samples)
            names = [u["userName"] for u in body.get("Resources", [])]
            ids = {n: self.f.user_id(n) for n in names}
            cli = KeepAlive(self.f.srv)
            poll = http.client.HTTPConnection("127.0.0.1", self.f.tgt.port, timeout=30)
            for k, name in enumerate(names):
                if self.progress["done"]:
                    return
                ms = one_change(cli, poll, TOKEN, ids[name], name, "during %d" % k, 0.005)
                self.results.append((ms, not self.progress["done"]))
                time.sleep(1)
        except Exception as e:  # reported with the figures, not fatal to the run
            self.error = repr(e)


def initial_sync(f, srv, run, during=None, profile=None):
    """Enables the rule and times its initial sync of the M users until the engine has
    created them all (its metrics), then until the rule's status shows every user
    synced and nothing pending (results committed). Fills run (a dict)."""
    pid = srv.proc.pid
    progress = {"created": 0, "done": False}
    perf = None
    if during:
        during = DuringSync(f, progress)
        during.start()
    req0 = requests_total(srv)
    run["rss_before_mb"] = rss_mb(pid)
    if profile:
        perf = subprocess.Popen(["perf", "record", "-F", "499", "-g", "--call-graph",
                                 "dwarf,16384", "-p", str(pid), "-o", profile],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1)
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    threads0 = thread_cpu_seconds(pid)
    f.ok("PATCH", "/api/v1/rules/" + f.rule, {"enabled": True})
    first = None
    while True:
        created = creates_done(srv, f.rule)
        progress["created"] = created
        now = time.monotonic()
        if created and first is None:
            first = now - t0
            if perf and PROFILE_UNTIL == "first":
                run["profile_cpu_s"] = cpu_seconds(pid) - cpu0
                perf.send_signal(signal.SIGINT)
                perf.wait(timeout=300)
                perf = None
        if created >= M:
            break
        if now - t0 > 7200:
            raise AssertionError("the initial sync did not finish (%d of %d)" % (created, M))
        time.sleep(0.1)
    run["sync_s"] = time.monotonic() - t0
    run["cpu_s"] = cpu_seconds(pid) - cpu0
    threads1 = thread_cpu_seconds(pid)
    # CPU per 1,000 users of each named thread of serve's: the engine thread's bounds the
    # rate however busy the machine is
    run["thread_cpu_per_1000"] = {
        name: (threads1[name] - threads0.get(name, 0.0)) / (M / 1000)
        for name in sorted(threads1) if name.startswith("sc-")}
    progress["done"] = True
    if perf:
        perf.send_signal(signal.SIGINT)
        perf.wait(timeout=120)
    run["first_s"] = first
    run["rate"] = M / run["sync_s"]
    run["cpu_per_1000"] = run["cpu_s"] / (M / 1000)
    f.wait_status(lambda s: s["users"]["success"] >= M and s["pending"] == 0, timeout=3600,
                  what="every user synced and committed")
    run["committed_s"] = time.monotonic() - t0
    run["requests"] = requests_total(srv) - req0
    run["peak_mb"] = peak_rss_mb(pid)
    run["rss_mb"] = rss_mb(pid)
    if during:
        during.join(timeout=120)
        run["during"] = during.results
        run["during_error"] = during.error
    return run


def noop_resync(f, srv, count_requests):
    """A full resync with nothing to change: seconds, serve CPU seconds, requests sent."""
    pid = srv.proc.pid
    before = count_requests()
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    f.resync_and_wait(timeout=3600)
    return time.monotonic() - t0, cpu_seconds(pid) - cpu0, count_requests() - before


def connect(f, tgt):
    f.tgt = tgt
    f.setup(population=POP, enable=False)
    f.ok("PATCH", "/api/v1/connections/" + f.conn, {"enabled": True})


# ---- the runs -------------------------------------------------------------------------

def diagnose(srv, tgt):
    """What a failed run leaves to look at: whether serve and the target still run, and
    the end of serve's output."""
    code = srv.proc.poll() if srv.proc else None
    say("run failed; serve %s; target %s" % (
        "exited with %s" % code if code is not None else "still runs (pid %d, RSS %.0f MiB)"
        % (srv.proc.pid, rss_mb(srv.proc.pid)),
        "exited" if tgt.proc and tgt.proc.poll() is not None else "still runs"))
    print("---- the last lines of serve's output ----")
    print("\n".join(srv.output().splitlines()[-40:]), flush=True)


def directory(R, work, f):
    """Imports the directory through f's serve, waits until the engine has handled its
    events, and keeps a copy of the database for the null runs. Returns the rule's
    population id."""
    srv = f.srv
    pop = f.population(POP)
    f.population(OTHER)
    pid = srv.proc.pid
    mark("import of %d users (%d in the rule's population)" % (N, M))
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    import_directory(f)
    R["import_s"] = time.monotonic() - t0
    R["import_cpu_s"] = cpu_seconds(pid) - cpu0
    t0 = time.monotonic()
    f.wait_events_handled(timeout=3600)
    R["events_s"] = time.monotonic() - t0
    R["import_peak_mb"] = peak_rss_mb(pid)
    R["import_rss_mb"] = rss_mb(pid)
    R["db_mb"] = sum(os.path.getsize(srv.db + s) for s in ("", "-wal")
                     if os.path.exists(srv.db + s)) / 2**20
    backup_db(srv.db, os.path.join(work, "directory.db"))
    return pop


def directory_only(R, work):
    """The import alone (SYNC_TARGET_RUN=0: only the null runs follow)."""
    srv = Serve(extra=SERVE_EXTRA).start()
    try:
        directory(R, work, Flow(srv, None))
    finally:
        srv.__exit__(None, None, None)


def target_run(R, work):
    """Import, initial sync into `scimitar target`, propagation, no-op resync: one serve."""
    tgt = Target(token=TOKEN, no_delete=True).start()
    srv = Serve(extra=SERVE_EXTRA).start()
    try:
        f = Flow(srv, tgt)
        pop = directory(R, work, f)
        pid = srv.proc.pid
        connect(f, tgt)
        mark("initial sync of %d users into scimitar target" % M)
        run = initial_sync(f, srv, {}, during=True)
        run["posts"] = f.stats().get("POST", 0)
        R["target_run"] = run
        say("initial sync into scimitar target: %.0f users/s, %.3f CPU-s per 1,000" % (
            run["rate"], run["cpu_per_1000"]))

        ids = rule_user_ids(f, pop, 2000)
        names = sorted(ids)
        resyncs0 = f.resyncs_total()
        mark("propagation, idle")
        idle_api, load_api, bg_api = [], [], []
        idle = latencies([f.srv], f.tgt, ids, names[:100], 200, "idle", idle_api)
        R["idle_p50"], R["idle_p99"] = pct(idle, 50), pct(idle, 99)

        # Background load: 500 changes/s on other users, paced, over keep-alive.
        mark("propagation under 500 changes/s")
        stop = threading.Event()
        sent = [0]
        bg = names[100:2000]

        def load(worker, workers=8):
            cli = KeepAlive(srv)
            rate = 500 / workers
            start, k = time.monotonic(), 0
            while not stop.is_set():
                name = bg[(k * workers + worker) % len(bg)]
                t1 = time.monotonic()
                cli.patch(ids[name], {"nickname": "load%d" % k})
                bg_api.append((time.monotonic() - t1) * 1000)
                sent[0] += 1
                k += 1
                delay = start + k / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        threads = [threading.Thread(target=load, args=(w,), daemon=True) for w in range(8)]
        lt0 = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(2)
        loaded = latencies([f.srv], f.tgt, ids, names[:100], 200, "loaded", load_api)
        stop.set()
        for t in threads:
            t.join()
        R["load_rate"] = sent[0] / (time.monotonic() - lt0)
        R["load_p50"], R["load_p99"] = pct(loaded, 50), pct(loaded, 99)
        R["api"] = {"idle": (pct(idle_api, 50), pct(idle_api, 99)),
                    "loaded": (pct(load_api, 50), pct(load_api, 99)),
                    "background": (pct(bg_api, 50), pct(bg_api, 99), max(bg_api or [0]))}
        say("API call (PATCH /api/v1/users/{id}) p50/p99 ms: idle %.1f/%.1f, measured "
            "changes under load %.1f/%.1f, the load's own %.1f/%.1f (max %.0f)" % (
                R["api"]["idle"] + R["api"]["loaded"] + R["api"]["background"]))
        R["idle_slow"] = sorted(idle)[-5:]
        R["load_slow"] = sorted(loaded)[-5:]
        R["load_over_100"] = sum(1 for x in loaded if x > 100)
        say("slowest idle changes (ms):", " ".join("%.0f" % x for x in R["idle_slow"]))
        say("slowest loaded changes (ms):", " ".join("%.0f" % x for x in R["load_slow"]),
            "- %d of 200 over 100 ms" % R["load_over_100"])
        f.wait_status(lambda s: s["pending"] == 0, timeout=600, what="the load delivered")
        R["prop_peak_mb"] = peak_rss_mb(pid)
        R["prop_resyncs"] = f.resyncs_total() - resyncs0
        say("full resyncs that ran during the propagation phases:", R["prop_resyncs"])

        mark("no-op full resync (scimitar target)")

        def sent():
            s = f.stats()  # _stats does not count itself
            return sum(s.get(m, 0) for m in ("POST", "PUT", "PATCH", "DELETE", "GET"))
        R["resync_s"], R["resync_cpu_s"], R["resync_requests"] = noop_resync(f, srv, sent)
        R["resync_peak_mb"] = peak_rss_mb(pid)
        R["resync_rss_mb"] = rss_mb(pid)
    except BaseException:
        diagnose(srv, tgt)
        raise
    finally:
        srv.__exit__(None, None, None)
        tgt.__exit__(None, None, None)


def threads_text(run):
    """serve's threads' CPU per 1,000 users, as text."""
    return ", ".join("%s %.3f" % (name, s) for name, s in run["thread_cpu_per_1000"].items())


def null_run(R, work, k):
    """Initial sync into the null target from a copy of the imported directory, in a serve
    of its own (its peak memory is the sync's alone), and a no-op resync."""
    db = os.path.join(work, "null%d.db" % k)
    backup_db(os.path.join(work, "directory.db"), db)
    nt = NullTarget().start()
    srv = Serve(db=db, extra=SERVE_EXTRA).start()
    try:
        f = Flow(srv, nt)
        f.wait_events_handled(timeout=3600)
        connect(f, nt)
        prof = os.path.join(tempfile.gettempdir(), "scimitar-sync-profile.data") \
            if PROFILE and k == 0 else None
        mark("initial sync of %d users into the null target (run %d)%s" % (
            M, k + 1, ", under perf" if prof else ""))
        req0 = nt.requests()
        ncpu0 = sum(cpu_seconds(p) for p in nt.pids())
        run = initial_sync(f, srv, {}, profile=prof)
        run["nginx_requests"] = nt.requests() - req0 - 1
        run["nginx_cpu_per_1000"] = (sum(cpu_seconds(p) for p in nt.pids()) - ncpu0) / (M / 1000)
        run["profiled"] = bool(prof)
        say("initial sync into the null target: %.0f users/s, %.3f CPU-s per 1,000 (%s)" % (
            run["rate"], run["cpu_per_1000"], threads_text(run)))
        if prof:
            summarize_profile(prof, PROFILE, run)
        mark("no-op full resync (null target)")
        req = nt.requests
        run["resync_s"], run["resync_cpu_s"], n = noop_resync(f, srv, req)
        run["resync_requests"] = n - 1
        R.setdefault("null_runs", []).append(run)
    except BaseException:
        diagnose(srv, nt)
        raise
    finally:
        srv.__exit__(None, None, None)
        nt.stop()
        for suffix in ("", "-wal", "-shm", ".key"):
            if os.path.exists(db + suffix):
                os.unlink(db + suffix)


def summarize_profile(data, out, run):
    """A text summary of the profiled sync at out: bench/perfsummary.py's tables (stage,
    owner, JSON, SQLite, scimitar functions), then perf report's flat profile by symbol
    (self) and with children."""
    from perfsummary import summarize
    if "profile_cpu_s" in run:
        window = ("from enabling the rule until the engine's first create (SYNC_PROFILE_UNTIL="
                  "first): %.1f s, serve %.1f CPU-s; the whole sync then took %.1f s = %.0f "
                  "users/s" % (run["first_s"], run["profile_cpu_s"], run["sync_s"],
                               run["rate"]))
    else:
        window = ("over the sync: %.1f s = %.0f users/s under perf, serve %.3f CPU-s per "
                  "1,000 users" % (run["sync_s"], run["rate"], run["cpu_per_1000"]))
    text = ["perf profile of `scimitar serve` during an initial sync of %d users (%d in the "
            "directory) into the null target (bench/sync.sh with SYNC_PROFILE); %s; %s; "
            "RelWithDebInfo build." % (
                M, N, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), machine()),
            "perf record -F 499 -g --call-graph dwarf,16384 -p <serve> %s. jansson's and "
            "part of SQLite's internal functions have no symbols here (no debug packages): "
            "they show as addresses, and are counted for their callers below." % window, ""]
    text += [summarize(data).rstrip(), ""]
    for title, args in [("perf report: by symbol (self), >= 0.7%",
                         ["--no-children", "--sort", "dso,symbol"]),
                        ("perf report: by symbol with children, >= 2%",
                         ["--children", "--sort", "symbol"])]:
        r = subprocess.run(["perf", "report", "-i", data, "--stdio", "-g", "none",
                            "--percent-limit", "0.7" if "self" in title else "2"] + args,
                           capture_output=True, text=True, timeout=1200)
        lines = [re.sub(r"\s+-\s+-\s*$", "", ln.rstrip()) for ln in r.stdout.splitlines()
                 if ln.strip() and not ln.startswith("#")]
        text += ["## " + title, ""] + lines[:60] + [""]
    with open(out, "w") as fh:
        fh.write("\n".join(text).rstrip() + "\n")
    say("profile summary written to", out, "(perf data in", data + ")")


def main():
    R = {"load_before": os.getloadavg()[0], "started": time.gmtime()}
    work = tempfile.mkdtemp(prefix="scimitar-syncbench-")
    try:
        if TARGET_RUN:
            mark("wrk: scimitar target's POST capacity (before)")
            R["wrk_target"] = [target_capacity()]
        mark("wrk: the null target's POST capacity (before)")
        R["wrk_null"] = [null_capacity()]
        if TARGET_RUN:
            target_run(R, work)
            mark("wrk: scimitar target's POST capacity (after)")
            R["wrk_target"].append(target_capacity())
        else:
            directory_only(R, work)
        for k in range(NULL_RUNS):
            null_run(R, work, k)
        mark("wrk: the null target's POST capacity (after)")
        R["wrk_null"].append(null_capacity())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    R["load_after"] = os.getloadavg()[0]
    report(R)


def fmt_during(run):
    d = run.get("during") or []
    if not d:
        return "no sample (%s)" % (run.get("during_error") or "the sync ended first")
    while_running = [ms for ms, running in d if running]
    after = len(d) - len(while_running)
    s = ", ".join("%.0f" % ms for ms, _ in d) + " ms"
    if after:
        s += " (%d arrived after the sync ended)" % after
    if run.get("during_error"):
        s += "; then: %s" % run["during_error"]
    return s


def report(R):
    ncap = statistics.mean(r[0] for r in R["wrk_null"])
    t = R.get("target_run")
    nulls = R.get("null_runs", [])
    title = "Sync at a million users" if N >= 1000000 else "Sync"
    loads = ", ".join("%.1f" % load for _, load in LOADS)
    env = "".join("%s=%s " % (k, os.environ[k]) for k in (
        "SYNC_USERS", "SYNC_IN_RULE", "SYNC_NULL_RUNS", "SYNC_TARGET_RUN", "SYNC_PROFILE",
        "SYNC_PROFILE_UNTIL", "SYNC_WRK_SECONDS") if os.environ.get(k) and not (
            k == "SYNC_USERS" and N == 100000))
    lines = [
        "## " + title,
        "",
        "`bench/sync.sh` measures the engine's initial sync into `scimitar target` and into a "
        "null target (nginx with bench/null-target.conf answering every SCIM request at once "
        "with a canned answer), each next to that target's own POST /Users capacity measured "
        "in the same run with wrk (1 thread, 16 connections, bench/post-users.lua), before "
        "and after the engine's runs; serve's CPU seconds per 1,000 users (utime+stime of "
        "/proc/PID/stat over the sync) and peak RSS (VmHWM); propagation of single title "
        "changes (API call until a GET on `scimitar target` shows it) idle, under 500 other "
        "changes/s and made while the initial sync runs; and no-op full resyncs (requests "
        "counted by the target's _stats and nginx's stub_status). The sync's time runs from "
        "enabling the rule until the engine's metrics count every create; the null runs "
        "start a serve of their own on a copy of the imported directory. See the comment at "
        "the top of bench/sync.sh for the variables.",
        "",
        "`%sbash bench/sync.sh` (%s, %d users in the directory, %d in the rule's population); "
        "%s; `scimitar serve %s`. Load average (1 min) at each phase: %s (the machine is "
        "shared: compare figures of the same run)." % (
            env, time.strftime("%Y-%m-%d %H:%M UTC", R["started"]), N, M, machine(),
            " ".join(SERVE_EXTRA) or "(default: --durability full)", loads),
        "",
        "| figure | value | goal |",
        "|---|---|---|",
    ]
    if t:
        tcap = statistics.mean(r[0] for r in R["wrk_target"])
        lines += [
            "| `scimitar target` POST capacity (wrk -t1 -c16, %d s, before / after) | %s "
            "POSTs/s | |" % (WRK_SECONDS, " / ".join("%.0f" % r[0] for r in R["wrk_target"])),
            "| initial sync into `scimitar target` | %d users in %.1f s = **%.0f users/s** "
            "(%d requests, %d of them POSTs; first create after %.1f s; all committed after "
            "%.1f s) | |" % (M, t["sync_s"], t["rate"], t["requests"], t["posts"],
                             t["first_s"] or 0, t["committed_s"]),
            "| engine / target capacity | **%.2f** | >= 0.8 |" % (t["rate"] / tcap),
            "| serve CPU per 1,000 users (target run) | %.3f s | |" % t["cpu_per_1000"],
        ]
    lines.append("| null target (nginx) POST capacity (wrk -t1 -c16, before / after) | %s "
                 "POSTs/s | |" % " / ".join("%.0f" % r[0] for r in R["wrk_null"]))
    for k, n in enumerate(nulls):
        lines.append(
            "| initial sync into the null target, run %d%s | %d users in %.1f s = **%.0f "
            "users/s** (%d requests; first create after %.1f s); engine / null capacity "
            "%.2f | >= 30,000 users/s |" % (
                k + 1, " (under perf)" if n["profiled"] else "", M, n["sync_s"], n["rate"],
                n["nginx_requests"], n["first_s"] or 0, n["rate"] / ncap))
        lines.append("| serve CPU per 1,000 users (null run %d) | **%.3f s** (nginx %.3f s) "
                     "| <= 0.03 s |" % (k + 1, n["cpu_per_1000"], n["nginx_cpu_per_1000"]))
        lines.append("| of which by serve's thread (null run %d; the engine thread's bounds the "
                     "rate) | %s | |" % (k + 1, threads_text(n)))
        lines.append("| serve peak RSS (null run %d: sync alone, fresh serve) | %.0f MiB "
                     "(%.0f MiB before the sync) | |" % (k + 1, n["peak_mb"],
                                                         n["rss_before_mb"]))
    if t:
        lines += [
            "| serve peak RSS, target run (VmHWM: after import / after the sync / after "
            "propagation / after the resync) | %.0f / %.0f / %.0f / %.0f MiB | < 200 MiB |" % (
                R["import_peak_mb"], t["peak_mb"], R["prop_peak_mb"], R["resync_peak_mb"]),
            "| propagation, idle (200 changes) | p50 %.1f ms, p99 %.1f ms (max %.1f ms) "
            "| p99 < 20 ms |" % (R["idle_p50"], R["idle_p99"], R["idle_slow"][-1]),
            "| propagation under %.0f changes/s (200 changes) | p50 %.1f ms, p99 %.1f ms (%d "
            "over 100 ms; max %.1f ms; %d full resyncs ran during the idle and loaded phases) "
            "| p99 < 100 ms |" % (
                R["load_rate"], R["load_p50"], R["load_p99"], R["load_over_100"],
                R["load_slow"][-1], R["prop_resyncs"]),
            "| of which the API call (PATCH /api/v1/users/{id} until its answer) | idle p50 "
            "%.1f / p99 %.1f ms; under load p50 %.1f / p99 %.1f ms (the load's own calls: "
            "p50 %.1f / p99 %.1f ms, max %.0f ms) | |" % (
                R["api"]["idle"] + R["api"]["loaded"] + R["api"]["background"]),
            "| propagation of single changes made during the initial sync of %d users | %s "
            "| < 250 ms |" % (M, fmt_during(t)),
            "| no-op full resync of %d users (scimitar target) | %.2f s, serve %.2f CPU-s, "
            "%d requests | < 5 s at 1,000,000, 0 |" % (
                N, R["resync_s"], R["resync_cpu_s"], R["resync_requests"]),
        ]
    else:
        lines.append("| serve peak RSS through the import (VmHWM) | %.0f MiB | < 200 MiB |"
                     % R["import_peak_mb"])
    for k, n in enumerate(nulls):
        lines.append("| no-op full resync of %d users (null run %d) | %.2f s, serve %.2f CPU-s, "
                     "%d requests | |" % (N, k + 1, n["resync_s"], n["resync_cpu_s"],
                                          n["resync_requests"]))
    lines += [
        "| import of %d users (POST /users/import, 5,000 a call) | %.1f s = %.0f users/s, "
        "serve %.1f CPU-s; engine caught up with its events %.1f s later; database %.0f MiB "
        "| |" % (N, R["import_s"], N / R["import_s"], R["import_cpu_s"], R["events_s"],
                 R["db_mb"]),
        "",
    ]
    text = "\n".join(lines)
    if RECORD:
        record(os.environ["SYNC_README"], title, text)
    else:
        print(text)


main()
