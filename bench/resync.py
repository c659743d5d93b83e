"""The full resync pass at scale (see bench/resync.sh): import, initial sync of the rule's
population, a change made while it runs, a no-op full resync; serve's memory sampled
all along from /proc/PID/smaps_rollup (anonymous and file-backed apart) and its peak
(VmHWM)."""
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time

ROOT = sys.argv[1]
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "bench"))

from benchlib import KeepAlive, cpu_seconds, machine, peak_rss_mb, target_title, user_body  # noqa
from harness import Serve, Target, wait_until  # noqa: E402
from seedflow import Flow  # noqa: E402

N = int(os.environ.get("RESYNC_USERS", "100000"))
M = N // 2
POP, OTHER = "Synced", "Others"
TOKEN = "bench-token"
EXTRA = os.environ.get("SERVE_EXTRA", "").split()
WRAP = os.environ.get("RESYNC_WRAP", "").split()  # e.g. "heaptrack -o /tmp/serve"
MALLOC = os.environ.get("RESYNC_MALLOC") == "1"
PERF = os.environ.get("RESYNC_PERF")  # perf record serve during the no-op resyncs
T0 = time.monotonic()


def say(*a):
    print("[%7.1f s]" % (time.monotonic() - T0), *a, flush=True)


def rollup(pid):
    """{field: MiB} of /proc/PID/smaps_rollup (Rss, Anonymous, Pss_File, ...)."""
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            m = re.match(r"(\w+):\s+(\d+) kB", line)
            if m:
                out[m.group(1)] = int(m.group(2)) / 1024
    return out


class Sampler(threading.Thread):
    """Samples serve's smaps_rollup every 0.1 s; keeps the maxima of the phase."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.lock = threading.Lock()
        self.reset()
        self.done = False

    def reset(self):
        with self.lock:
            self.max = {"rss": 0.0, "anon": 0.0, "file": 0.0}

    def run(self):
        while not self.done:
            try:
                r = rollup(self.pid)
            except OSError:
                return
            anon = r.get("Anonymous", 0.0)
            file = r.get("Rss", 0.0) - anon
            with self.lock:
                self.max["rss"] = max(self.max["rss"], r.get("Rss", 0.0))
                self.max["anon"] = max(self.max["anon"], anon)
                self.max["file"] = max(self.max["file"], file)
            time.sleep(0.1)

    def take(self):
        with self.lock:
            m = dict(self.max)
        self.reset()
        return m


def malloc_stats(pid, tag):
    """glibc's malloc_stats() of serve (printed into its log), through gdb."""
    if not MALLOC:
        return
    subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex",
                    "call (void)fprintf(stderr, \"malloc_stats %s\\n\")" % tag,
                    "-ex", "call (void)malloc_stats()"],
                   capture_output=True, timeout=120)


def metric(srv, pattern):
    st, text, _ = srv.api("GET", "/metrics")
    assert st == 200, (st, text)
    m = re.search(pattern, text, re.M)
    return int(m.group(1)) if m else 0


def creates(srv, rule):
    return metric(srv, r'^scimitar_sync_operations_total\{rule="%s",action="CREATE",'
                  r'status="SUCCESS"\} (\d+)$' % rule)


def requests_total(srv):
    return metric(srv, r"^scimitar_sync_requests_total (\d+)$")


def pass_ms(srv):
    """The ms= of the engine.resync log lines so far."""
    return [int(x) for x in re.findall(r"engine\.resync .*? ms=(\d+)", srv.output())]


def main():
    R = {"users": N, "in_rule": M}
    tgt = Target(token=TOKEN, no_delete=True).start()
    srv = Serve(extra=EXTRA)
    if WRAP:  # serve runs under a tool: the tool's command line, then serve's
        import harness
        srv.args = WRAP[1:] + [harness.BIN] + srv.args
        harness.BIN = WRAP[0]
    srv.start(timeout=60)
    pid = srv.proc.pid
    if WRAP:  # the wrapper's child is serve
        wait_until(lambda: open("/proc/%d/task/%d/children" % (pid, pid)).read().strip(),
                   timeout=30)
        pid = int(open("/proc/%d/task/%d/children" % (pid, pid)).read().split()[0])
    sampler = Sampler(pid)
    sampler.start()
    try:
        f = Flow(srv, tgt)
        f.population(POP)
        f.population(OTHER)
        say("import of %d users (%d in the rule's population)" % (N, M))
        c0, t0 = cpu_seconds(pid), time.monotonic()
        for s in range(0, N, 5000):
            f.ok("POST", "/api/v1/users/import", [user_body(i, POP if i % 2 == 0 else OTHER)
                                                  for i in range(s, min(N, s + 5000))])
        f.wait_events_handled(timeout=3600)
        R["import_s"], R["import_cpu"] = time.monotonic() - t0, cpu_seconds(pid) - c0
        R["import_mem"], R["import_hwm"] = sampler.take(), peak_rss_mb(pid)
        R["db_mb"] = sum(os.path.getsize(srv.db + s) for s in ("", "-wal")
                         if os.path.exists(srv.db + s)) / 2**20
        malloc_stats(pid, "after-import")
        say("imported in %.1f s; peak %.0f MiB" % (R["import_s"], R["import_hwm"]))
        live = f.user_id("user%07d" % (M * 2 - 2))  # the rule's last user by name

        f.setup(population=POP, enable=False)
        f.ok("PATCH", "/api/v1/connections/" + f.conn, {"enabled": True})
        say("initial sync of %d users" % M)
        c0, t0 = cpu_seconds(pid), time.monotonic()
        f.ok("PATCH", "/api/v1/rules/" + f.rule, {"enabled": True})
        first = None
        change_at = None
        cli = KeepAlive(srv)
        poll = http.client.HTTPConnection("127.0.0.1", tgt.port, timeout=30)
        changed_ms = None
        while True:
            n = creates(srv, f.rule)
            now = time.monotonic()
            if n and first is None:
                first = now - t0
                say("first create after %.2f s" % first)
            if change_at is None and now - t0 > 2.0:
                change_at = now
                assert cli.patch(live, {"title": "During"}) == 200
            if change_at is not None and changed_ms is None and \
                    target_title(poll, "user%07d" % (M * 2 - 2), TOKEN) == "During":
                changed_ms = (time.monotonic() - change_at) * 1000
                say("change made during the sync arrived after %.0f ms" % changed_ms)
            if n >= M:
                break
            if now - t0 > 7200:
                raise AssertionError("the initial sync did not finish (%d of %d)" % (n, M))
            time.sleep(0.02 if changed_ms is None else 0.2)
        R["sync_s"], R["sync_cpu"], R["first_s"] = time.monotonic() - t0, cpu_seconds(pid) - c0, first
        f.wait_status(lambda s: s["users"]["success"] >= M and s["pending"] == 0, timeout=3600,
                      what="every user synced and committed")
        if changed_ms is None:
            wait_until(lambda: target_title(poll, "user%07d" % (M * 2 - 2), TOKEN) == "During",
                       timeout=600)
            changed_ms = (time.monotonic() - change_at) * 1000
        R["during_ms"] = changed_ms
        R["committed_s"] = time.monotonic() - t0
        R["sync_mem"], R["sync_hwm"] = sampler.take(), peak_rss_mb(pid)
        R["sync_pass_ms"] = pass_ms(srv)
        malloc_stats(pid, "after-sync")
        say("synced in %.1f s; peak %.0f MiB" % (R["sync_s"], R["sync_hwm"]))

        runs = []
        perf = None
        if PERF:
            perf = subprocess.Popen(["perf", "record", "-F", "499", "--call-graph", "dwarf,16384",
                                     "-p", str(pid), "-o", PERF],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
        for k in range(int(os.environ.get("RESYNC_RUNS", "2"))):
            req0, writes0 = requests_total(srv), f.writes()
            c0, t0 = cpu_seconds(pid), time.monotonic()
            f.resync_and_wait(timeout=3600)
            runs.append({"s": time.monotonic() - t0, "cpu": cpu_seconds(pid) - c0,
                         "requests": requests_total(srv) - req0,
                         "writes": f.writes() - writes0})
            say("no-op resync %d: %.2f s, %.2f CPU-s, %d requests" % (
                k + 1, runs[-1]["s"], runs[-1]["cpu"], runs[-1]["requests"]))
        R["noop"] = runs
        if perf:
            perf.send_signal(2)
            perf.wait(timeout=300)
        R["noop_mem"], R["noop_hwm"] = sampler.take(), peak_rss_mb(pid)
        R["noop_pass_ms"] = pass_ms(srv)[len(R["sync_pass_ms"]):]
        R["rollup_end"] = rollup(pid)
        malloc_stats(pid, "after-resync")
        R["load"] = os.getloadavg()[0]
    finally:
        sampler.done = True
        if MALLOC:
            print("\n".join(l for l in srv.output().splitlines()
                            if "malloc_stats" in l or l.startswith(("Arena", "system bytes",
                                                                    "in use bytes", "Total",
                                                                    "max mmap"))))
        srv.stop()
        tgt.stop()
    print(json.dumps(R, indent=1))
    report(R)


def report(R):
    def mem(m):
        return "%.0f (anon %.0f, file %.0f)" % (m["rss"], m["anon"], m["file"])
    noop = R["noop"]
    text = "\n".join([
        "## Resync pass at scale",
        "",
        "`RESYNC_USERS=%d bash bench/resync.sh` (%s, %s; load average %.1f at the end): "
        "`scimitar serve` (SQLite%s) and `scimitar target --no-delete` on loopback; %d users "
        "imported, %d of them in the rule's population. Memory: the maxima of "
        "/proc/PID/smaps_rollup sampled every 0.1 s (Rss, its anonymous part and the rest, "
        "file-backed: SQLite's memory map) and VmHWM."
        % (R["users"], time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), machine(),
           R["load"], (", " + " ".join(EXTRA)) if EXTRA else "", R["users"], R["in_rule"]),
        "",
        "| figure | value |",
        "|---|---|",
        "| import | %.1f s, serve %.1f CPU-s; database %.0f MiB |" % (
            R["import_s"], R["import_cpu"], R["db_mb"]),
        "| RSS MiB, import | %s; VmHWM %.0f |" % (mem(R["import_mem"]), R["import_hwm"]),
        "| first create after enabling the rule | %.2f s |" % R["first_s"],
        "| initial sync | %.1f s (%.0f users/s), serve %.1f CPU-s; first pass %s ms |" % (
            R["sync_s"], R["in_rule"] / R["sync_s"], R["sync_cpu"],
            ", ".join(str(x) for x in R["sync_pass_ms"][:2])),
        "| a change made 2 s into the initial sync arrived after | %.0f ms |" % R["during_ms"],
        "| RSS MiB, initial sync | %s; VmHWM %.0f |" % (mem(R["sync_mem"]), R["sync_hwm"]),
        "| no-op full resync of %d users | %s |" % (R["users"], "; ".join(
            "%.2f s, %.2f CPU-s, %d requests" % (r["s"], r["cpu"], r["requests"])
            for r in noop)),
        "| RSS MiB, no-op resyncs | %s; VmHWM %.0f |" % (mem(R["noop_mem"]), R["noop_hwm"]),
        "",
    ])
    print(text)

if __name__ == "__main__":
    main()
