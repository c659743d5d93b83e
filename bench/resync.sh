#!/usr/bin/env bash
# The full resync pass at scale (not a timed test): imports RESYNC_USERS users (default
# 100,000; the even ones in the rule's population), enables a rule on that population
# against `scimitar target --no-delete`, and prints: the import's time and serve's
# memory; the time from enabling the rule to its first create; the initial sync's time,
# CPU and the engine's pass times (its engine.resync log lines); how long a title change
# made 2 s into the initial sync took to reach the target; RESYNC_RUNS (2) no-op full
# resyncs (time, serve CPU, requests: must be 0); serve's memory per phase, the maxima of
# /proc/PID/smaps_rollup sampled every 0.1 s (anonymous apart from file-backed: SQLite's
# memory map) and VmHWM. The figures are kept by hand in bench/README.md ("Resync pass
# at scale").
#
#   bash bench/resync.sh
#   RESYNC_USERS=1000000 bash bench/resync.sh     # 500,000 synced (long)
#   RESYNC_MALLOC=1                               # glibc malloc_stats() per phase (gdb)
#   RESYNC_WRAP="heaptrack -o /tmp/serve"         # run serve under a tool
#   RESYNC_PERF=/tmp/noop.data                    # perf record serve over the no-op resyncs
#   SERVE_EXTRA="--durability normal"             # more arguments for `scimitar serve`
#   SCIMITAR_BIN=build/scimitar
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export SCIMITAR_BIN="${SCIMITAR_BIN:-$ROOT/build/scimitar}"
unset SCIMITAR_TEST_DB # SQLite
exec python3 "$ROOT/bench/resync.py" "$ROOT"
