#!/usr/bin/env bash
# Provisioning figures of the engine on loopback (not a timed test), every rate next to a
# capacity measured in the same run (this machine is shared: compare figures of one run):
#   1. the POST /Users capacity of `scimitar target` and of a null target (Debian's nginx
#      with bench/null-target.conf: canned SCIM answers at once), with wrk (1 thread, 16
#      connections, 10 s, bench/post-users.lua), before and after the engine's runs;
#   2. import of SYNC_USERS users (default 100,000; from 1,000,000 on, half of them in the
#      rule's population), then the initial sync of the rule's users into `scimitar target`:
#      users/s and its ratio to the target's capacity, CPU seconds of `scimitar serve` per
#      1,000 users (utime+stime from /proc/PID/stat), serve's peak memory (VmHWM), and
#      single changes made while that sync runs (until the target shows them);
#   3. propagation p50/p99 of single title changes, idle and under 500 changes/s;
#   4. a no-op full resync: time, serve CPU, requests sent (must be 0);
#   5. the same initial sync into the null target from a copy of the imported directory,
#      in a serve of its own (SYNC_NULL_RUNS times: 2 up to 200,000 users, else 1), with
#      its CPU per 1,000 users, peak memory and a no-op resync.
# Prints the load average at each phase and the figures, and records them under "## Sync"
# ("## Sync at a million users" from 1,000,000 users on) in bench/README.md.
#
#   bash bench/sync.sh                        # 100,000 users
#   SYNC_USERS=5000 bash bench/sync.sh        # a quick run
#   SYNC_USERS=1000000 bash bench/sync.sh     # 1,000,000 users, 500,000 synced (long)
#   SYNC_IN_RULE=N                            # users in the rule's population instead
#   SYNC_NULL_RUNS=N                          # initial syncs into the null target
#   SYNC_PROFILE=bench/profile-initial-sync.txt
#                                             # perf record serve during the first null
#                                             # run; a text summary there (the data in
#                                             # $TMPDIR/scimitar-sync-profile.data)
#   SYNC_PROFILE_UNTIL=first                  # ... only until the engine's first create
#   SYNC_TARGET_RUN=0                         # import, then only the null runs
#   SYNC_RECORD=0                             # print the figures, leave README.md alone
#   SYNC_WRK_SECONDS=10                       # length of each wrk run
#   SCIMITAR_BIN=build/scimitar               # the binary (default build/scimitar)
#   SERVE_EXTRA="--durability normal"         # more arguments for `scimitar serve`
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export SCIMITAR_BIN="${SCIMITAR_BIN:-$ROOT/build/scimitar}"
export SYNC_USERS="${SYNC_USERS:-100000}"
export SYNC_README="${SYNC_README:-$ROOT/bench/README.md}"
unset SCIMITAR_TEST_DB # SQLite: the figures are the default back-end's

if [ ! -x "$SCIMITAR_BIN" ]; then
    echo "bench/sync.sh: $SCIMITAR_BIN is missing: run 'make' first" >&2
    exit 1
fi
need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
if [ -n "${SYNC_PROFILE:-}" ] && ! command -v perf >/dev/null 2>&1; then need+=(linux-perf); fi
if [ ${#need[@]} -gt 0 ]; then
    echo "bench/sync.sh: installing ${need[*]} (scripts/install-deps.sh --bench)" >&2
    bash "$ROOT/scripts/install-deps.sh" --bench
fi
export PATH="$PATH:/usr/sbin"

exec python3 "$ROOT/bench/syncbench.py" "$ROOT"
