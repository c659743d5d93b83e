#!/usr/bin/env bash
# Provisioning figures against `scimitar target` on loopback (not a timed test):
#   1. initial sync of N users (default 100,000): users/s, CPU seconds of `scimitar serve`
#      per 1,000 operations (from /proc/PID/stat), its peak memory (VmHWM);
#   2. the target's own capacity for the same POSTs, measured with wrk in the same run
#      (the engine's rate divided by it is the figure that matters);
#   3. propagation latency p50/p99 of single changes, idle and under 500 changes/s;
#   4. a no-op full resync of the N users: time, and the requests it sent (must be 0).
# Prints the figures and records them, with the date and machine, under "## Sync" in
# bench/README.md.
#
#   bash bench/sync.sh                 # SYNC_USERS=100000 by default
#   SYNC_USERS=5000 bash bench/sync.sh # a quick run
#   SCIMITAR_BIN=build/scimitar        # the binary (default build/scimitar: a release build)
#   SERVE_EXTRA="--durability normal"  # more arguments for `scimitar serve`
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export SCIMITAR_BIN="${SCIMITAR_BIN:-$ROOT/build/scimitar}"
export SYNC_USERS="${SYNC_USERS:-100000}"
export SYNC_README="${SYNC_README:-$ROOT/bench/README.md}"

if [ ! -x "$SCIMITAR_BIN" ]; then
    echo "bench/sync.sh: $SCIMITAR_BIN is missing: run 'make' first" >&2
    exit 1
fi
if ! command -v wrk >/dev/null 2>&1; then
    echo "bench/sync.sh: installing wrk" >&2
    apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi

exec python3 - "$ROOT" <<'PY'
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = sys.argv[1]
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from benchlib import (KeepAlive, cpu_seconds, latencies, machine, pct,  # noqa: E402
                      peak_rss_mb, record, user_body, user_ids)
from harness import Serve, Target, wait_until  # noqa: E402
from seedflow import Flow, pop_filter  # noqa: E402

N = int(os.environ["SYNC_USERS"])
POP = "Code42 Users"
TOKEN = "bench-target-token"
WRK_LUA = r'''
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end
function init(args) n = 0 end
function request()
  n = n + 1
  local u = string.format("wrk%d.%d", tid, n)
  local body = string.format('{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],' ..
    '"userName":"%s","name":{"givenName":"Given","familyName":"Family","formatted":"Given Family"},' ..
    '"nickName":"g","title":"Engineer","userType":"Employee","externalId":"%s","active":true,' ..
    '"emails":[{"type":"work","value":"%s@example.com","primary":true}],' ..
    '"phoneNumbers":[{"type":"work","value":"+1 555 0100"}],' ..
    '"addresses":[{"type":"work","streetAddress":"1 Main St","locality":"Springfield",' ..
    '"postalCode":"62701","country":"US"}]}', u, u, u)
  return wrk.format("POST", "/scim/v2/Users", {["Content-Type"] = "application/scim+json",
    ["Authorization"] = "Bearer TOKEN"}, body)
end
function done(summary, latency, requests)
  io.write(string.format("WRKRESULT %d %d %d\n", summary.requests, summary.errors.status,
    summary.duration))
end
'''


def target_capacity():
    """POSTs/s the target alone sustains for the same kind of user (wrk, 2 threads)."""
    with Target(token=TOKEN, no_delete=True) as tgt, \
            tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(WRK_LUA.replace("TOKEN", TOKEN))
        lua.flush()
        out = subprocess.run(["wrk", "-t2", "-c32", "-d10s", "-s", lua.name, tgt.base],
                             capture_output=True, text=True, timeout=120).stdout
        os.unlink(lua.name)
    m = re.search(r"WRKRESULT (\d+) (\d+) (\d+)", out)
    reqs, bad, dur_us = (int(x) for x in m.groups())
    return (reqs - bad) / (dur_us / 1e6), bad


def main():
    R = {"load_before": os.getloadavg()[0]}
    tgt = Target(token=TOKEN, no_delete=True).start()
    srv = Serve(extra=os.environ.get("SERVE_EXTRA", "").split()).start()
    try:
        f = Flow(srv, tgt)
        f.population(POP)
        t0 = time.monotonic()
        f.import_users([user_body(i, POP) for i in range(N)])
        R["import_s"] = time.monotonic() - t0
        f.setup(population=POP, enable=False)
        f.ok("PATCH", "/api/v1/connections/" + f.conn, {"enabled": True})
        pid = srv.proc.pid
        tpid = tgt.proc.pid
        cpu0, tcpu0, t0 = cpu_seconds(pid), cpu_seconds(tpid), time.monotonic()
        f.ok("PATCH", "/api/v1/rules/" + f.rule, {"enabled": True})
        wait_until(lambda: f.target_count() >= N, timeout=3600, interval=0.25,
                   what="the initial sync")
        sync_s = time.monotonic() - t0
        cpu = cpu_seconds(pid) - cpu0
        R["target_cpu_per_1000"] = (cpu_seconds(tpid) - tcpu0) / (N / 1000)
        R["sync_s"], R["sync_rate"] = sync_s, N / sync_s
        R["cpu_per_1000"] = cpu / (N / 1000)
        R["peak_mb"] = peak_rss_mb(pid)
        R["posts"] = f.stats().get("POST", 0)
        f.wait_status(lambda s: s["users"]["success"] >= N, timeout=600, what="all linked")

        ids = user_ids(f, 2000)
        names = sorted(ids)
        idle = latencies([srv], tgt, ids, names[:100], 200, "idle")
        R["idle_p50"], R["idle_p99"] = pct(idle, 50), pct(idle, 99)

        # Background load: 500 changes/s on other users, paced, over keep-alive.
        stop = threading.Event()
        sent = [0]
        bg = names[100:2000]

        def load(worker, workers=8):
            cli = KeepAlive(srv)
            rate = 500 / workers
            start, k = time.monotonic(), 0
            while not stop.is_set():
                name = bg[(k * workers + worker) % len(bg)]
                cli.patch(ids[name], {"nickname": "load%d" % k})
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
        loaded = latencies([srv], tgt, ids, names[:100], 200, "loaded")
        stop.set()
        for t in threads:
            t.join()
        R["load_rate"] = sent[0] / (time.monotonic() - lt0)
        R["load_p50"], R["load_p99"] = pct(loaded, 50), pct(loaded, 99)
        f.wait_status(lambda s: s["pending"] == 0, timeout=600, what="the load delivered")

        before = f.stats()
        t0 = time.monotonic()
        f.resync_and_wait(timeout=600)
        R["resync_s"] = time.monotonic() - t0
        after = f.stats()
        R["resync_requests"] = sum(after.get(m, 0) - before.get(m, 0)
                                   for m in ("POST", "PUT", "PATCH", "DELETE")) + \
            max(0, after.get("GET", 0) - before.get("GET", 0) - 1)
    finally:
        srv.__exit__(None, None, None)
        tgt.__exit__(None, None, None)
    R["wrk_rate"], R["wrk_bad"] = target_capacity()
    R["load_after"] = os.getloadavg()[0]
    report(R)




def report(R):
    ratio = R["sync_rate"] / R["wrk_rate"] if R["wrk_rate"] else float("nan")
    lines = [
        "## Sync",
        "",
        "`bench/sync.sh` starts `scimitar target --no-delete` and `scimitar serve` on loopback,",
        "bulk-imports the users, creates the seed's connection and a rule on their population,",
        "and measures: the initial sync (enable the rule until the target holds every user;",
        "CPU from /proc/PID/stat of serve, peak memory from VmHWM); the target's own capacity",
        "for the same POSTs with wrk on a fresh target (2 threads, 32 connections, 10 s);",
        "propagation of single title changes (API call until a GET on the target shows it,",
        "polled every 2 ms) idle and while 8 keep-alive clients send 500 other changes/s;",
        "and a no-op full resync (POST .../resync until it has run and nothing is pending;",
        "requests counted",
        "by the target's _stats). `SYNC_USERS` (default 100000) and `SCIMITAR_BIN` change it.",
        "",
        "`bash bench/sync.sh` (%s, %d users); %s." % (
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), N, machine()),
        "`scimitar serve`, `scimitar target --no-delete`, wrk and the load generator share "
        "this machine (load average %.1f before, %.1f after: other work ran too)." % (
            R["load_before"], R["load_after"]),
        "",
        "| figure | value | aim |",
        "|---|---|---|",
        "| initial sync | %d users in %.1f s = **%.0f users/s** (%d POSTs) | |" % (
            N, R["sync_s"], R["sync_rate"], R["posts"]),
        "| target alone (wrk, same POSTs, 2 threads x 32 connections) | %.0f POSTs/s "
        "(%d non-2xx) | |" % (R["wrk_rate"], R["wrk_bad"]),
        "| engine / target capacity | **%.0f%%** | >= 80%% |" % (ratio * 100),
        "| CPU of serve per 1,000 operations | %.3f s | |" % R["cpu_per_1000"],
        "| CPU of the target per 1,000 of those operations | %.3f s | |" % (
            R["target_cpu_per_1000"]),
        "| peak memory of serve (VmHWM) | %.0f MiB | |" % R["peak_mb"],
        "| propagation, idle (200 changes) | p50 %.1f ms, p99 %.1f ms | p99 < 250 ms |" % (
            R["idle_p50"], R["idle_p99"]),
        "| propagation under %.0f changes/s (200 changes) | p50 %.1f ms, p99 %.1f ms | |" % (
            R["load_rate"], R["load_p50"], R["load_p99"]),
        "| no-op full resync of %d users | %.2f s, %d requests sent | < 3 s, 0 |" % (
            N, R["resync_s"], R["resync_requests"]),
        "| bulk import of the users (for reference) | %.1f s | |" % R["import_s"],
        "",
    ]
    record(os.environ["SYNC_README"], "Sync", "\n".join(lines))


main()
PY
