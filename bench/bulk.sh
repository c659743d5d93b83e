#!/usr/bin/env bash
# SCIM Bulk against single requests, in one run (not a timed test): the initial sync of N
# users (default 20,000) into `scimitar target`, once with the connection's useBulk on
# (the target offers Bulk: Test Connection reads it) and once off, ROUNDS times each
# (default 2, alternating); and the target's own capacity for single POSTs of the same
# kind of user (wrk, 1 thread, 16 connections, bench/post-users.lua, as bench/sync.sh).
# Prints users/s, the requests the target saw, and CPU seconds of serve and the target per
# 1,000 users, and records them under "## SCIM Bulk" in bench/README.md.
#
#   bash bench/bulk.sh                  # BULK_USERS=20000, ROUNDS=2
#   BULK_USERS=5000 ROUNDS=1 bash bench/bulk.sh
#   SCIMITAR_BIN=build-release/scimitar # the binary (default build/scimitar)
#   TARGET_EXTRA="--bulk-max-operations 100"   # more arguments for `scimitar target`
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export SCIMITAR_BIN="${SCIMITAR_BIN:-$ROOT/build/scimitar}"
export BULK_USERS="${BULK_USERS:-20000}"
export ROUNDS="${ROUNDS:-2}"
export BULK_README="${BULK_README:-$ROOT/bench/README.md}"
unset SCIMITAR_TEST_DB # SQLite: the figures are the default back-end's

if [ ! -x "$SCIMITAR_BIN" ]; then
    echo "bench/bulk.sh: $SCIMITAR_BIN is missing: build it first" >&2
    exit 1
fi
if ! command -v wrk >/dev/null 2>&1; then
    echo "bench/bulk.sh: installing wrk (scripts/install-deps.sh --bench)" >&2
    bash "$ROOT/scripts/install-deps.sh" --bench
fi

exec python3 - "$ROOT" <<'PY'
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = sys.argv[1]
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from benchlib import cpu_seconds, machine, record, user_body  # noqa: E402
from harness import Serve, Target, wait_until  # noqa: E402
from seedflow import Flow  # noqa: E402

N = int(os.environ["BULK_USERS"])
ROUNDS = int(os.environ["ROUNDS"])
POP = "Code42 Users"
TOKEN = "bench-target-token"
TARGET_EXTRA = os.environ.get("TARGET_EXTRA", "").split()
LUA = os.path.join(ROOT, "bench", "post-users.lua")


def post_capacity():
    """Single POST /Users a fresh `scimitar target` answers per second (wrk, 1 thread, 16
    connections, 10 s, bench/post-users.lua): (rate of 2xx, non-2xx)."""
    with Target(token=TOKEN, no_delete=True) as tgt:
        out = subprocess.run(["wrk", "-t1", "-c16", "-d10s", "-s", LUA, tgt.scim_base],
                             capture_output=True, text=True, timeout=120,
                             env=dict(os.environ, WRK_TOKEN=TOKEN)).stdout
    m = re.search(r"WRKRESULT (\d+) (\d+) (\d+) (\d+)", out)
    if not m:
        raise AssertionError("wrk printed no result: %s" % out)
    reqs, bad, _, dur_us = (int(x) for x in m.groups())
    return (reqs - bad) / (dur_us / 1e6), bad


def initial_sync(use_bulk):
    """One initial sync of N users into a fresh target; its figures."""
    with Target(token=TOKEN, no_delete=True, extra=TARGET_EXTRA) as tgt, Serve() as srv:
        f = Flow(srv, tgt)
        f.population(POP)
        f.import_users([user_body(i, POP) for i in range(N)])
        f.setup(population=POP, enable=False, preferences={"useBulk": use_bulk})
        assert f.ok("POST", "/api/v1/connections/%s/test" % f.conn)["ok"]
        f.ok("PATCH", "/api/v1/connections/" + f.conn, {"enabled": True})
        f.wait_events_handled(timeout=600)
        pid, tpid = srv.proc.pid, tgt.proc.pid
        cpu0, tcpu0, t0 = cpu_seconds(pid), cpu_seconds(tpid), time.monotonic()
        f.ok("PATCH", "/api/v1/rules/" + f.rule, {"enabled": True})
        wait_until(lambda: f.target_count() >= N, timeout=3600, interval=0.1,
                   what="the initial sync")
        secs = time.monotonic() - t0
        out = {"s": secs, "rate": N / secs,
               "cpu": (cpu_seconds(pid) - cpu0) / (N / 1000),
               "tcpu": (cpu_seconds(tpid) - tcpu0) / (N / 1000)}
        f.wait_status(lambda s: s["users"]["success"] >= N, timeout=600, what="all linked")
        stats = f.read("/_stats")
        out["posts"] = stats["requests"].get("POST", 0)
        out["bulk"] = stats.get("bulk", {})
        return out


def main():
    load_before = os.getloadavg()[0]
    runs = {True: [], False: []}
    for _ in range(ROUNDS):
        for mode in (True, False):
            r = initial_sync(mode)
            print("useBulk=%s: %d users in %.2f s = %.0f users/s; %d POSTs; serve %.3f CPU-s, "
                  "target %.3f CPU-s per 1,000 users" % (mode, N, r["s"], r["rate"], r["posts"],
                                                         r["cpu"], r["tcpu"]), flush=True)
            runs[mode].append(r)
    cap, bad = post_capacity()
    load_after = os.getloadavg()[0]

    def med(mode, k):
        return statistics.median(r[k] for r in runs[mode])
    b, s = runs[True][-1], runs[False][-1]
    lines = [
        "## SCIM Bulk",
        "",
        "`bench/bulk.sh` runs the initial sync of the seed's users into `scimitar target`",
        "(bulk-imported, the seed's connection tested so the engine knows the target offers",
        "Bulk, then the rule enabled, until the target holds every user) with the",
        "connection's `useBulk` on and off, alternating, and measures the target's own",
        "capacity for single POSTs of the same kind of user with wrk (1 thread, 16",
        "connections, 10 s, bench/post-users.lua). CPU from /proc/PID/stat. `BULK_USERS`,",
        "`ROUNDS`, `SCIMITAR_BIN`, `TARGET_EXTRA` change it.",
        "",
        "`bash bench/bulk.sh` (%s, %d users, %d rounds, `%s`); %s. Load average %.1f "
        "before, %.1f after (other work shared the machine)." % (
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), N, ROUNDS,
            os.path.relpath(os.environ["SCIMITAR_BIN"], ROOT), machine(), load_before,
            load_after),
        "",
        "| figure (median of the rounds) | with Bulk | single requests |",
        "|---|---|---|",
        "| initial sync | **%.0f users/s** (%s) | **%.0f users/s** (%s) |" % (
            med(True, "rate"), ", ".join("%.0f" % r["rate"] for r in runs[True]),
            med(False, "rate"), ", ".join("%.0f" % r["rate"] for r in runs[False])),
        "| requests the target saw (last round) | %d POSTs: %d Bulk requests of %d operations "
        "(at most %d in one) | %d POSTs |" % (b["posts"], b["bulk"].get("requests", 0),
                                              b["bulk"].get("operations", 0),
                                              b["bulk"].get("largest", 0), s["posts"]),
        "| CPU of serve per 1,000 users | %.3f s | %.3f s |" % (med(True, "cpu"),
                                                             med(False, "cpu")),
        "| CPU of the target per 1,000 users | %.3f s | %.3f s |" % (med(True, "tcpu"),
                                                                   med(False, "tcpu")),
        "| target alone, single POSTs (wrk) | %.0f POSTs/s (%d non-2xx) | |" % (cap, bad),
        "| initial sync / target's single-POST capacity | **%.2f** | %.2f |" % (
            med(True, "rate") / cap, med(False, "rate") / cap),
        "",
    ]
    record(os.environ["BULK_README"], "SCIM Bulk", "\n".join(lines))


main()
PY
