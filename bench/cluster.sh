#!/usr/bin/env bash
# Several `scimitar serve` nodes on one PostgreSQL database against `scimitar target` on
# loopback (not a timed test). A throwaway PostgreSQL cluster is started for the run
# (tests/integration/pgcluster.py: initdb under /tmp, loopback, fsync off) and stopped at
# exit, also when the script is interrupted. For 1, 2 and 3 nodes on a fresh database:
#   1. the initial sync of N users (default 20,000) into a fresh target: users/s, and the
#      target's POST count must equal N exactly (no duplicate create) with no DELETE;
#      CPU seconds of the nodes, of PostgreSQL (postmaster and its backends) and of the
#      target during it;
#   2. propagation p50/p99 of single title changes when idle, change k written through
#      node k mod n (API call until a GET on the target shows it, as bench/sync.sh);
#   3. with 2 and 3 nodes, another initial sync in which the node holding the most leases
#      is killed with kill -9 once the target holds KILL_AT of the users: how long until its
#      leases are released, until the items it held leased are delivered (their outbox
#      rows gone: the result recorded by a survivor), and until the sync completes; the
#      end state must again be exactly N POSTs and no DELETE.
# The same run measures the initial sync on SQLite with one node (as bench/sync.sh does)
# for comparison. Every configuration runs RUNS times, interleaved; the figures are
# medians (propagation: percentiles of every run's samples together). Prints the figures
# and records them, with the date and machine, under "## Several nodes on PostgreSQL" in
# bench/README.md.
#
#   bash bench/cluster.sh                    # SYNC_USERS=20000, RUNS=3
#   SYNC_USERS=2000 RUNS=1 bash bench/cluster.sh   # a quick run
#   SCIMITAR_BIN=build/scimitar              # the binary (default: build/scimitar, a release build)
#   SAMPLES=200                              # propagation samples per run and node count
#   KILL_AT=0.3                              # share of the users on the target at the kill
#   SERVE_EXTRA="--lease-seconds 15"         # more arguments for every `scimitar serve`
#   CLUSTER_KEEP_LOGS=1                      # keep the nodes' logs even when every check passed
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export SCIMITAR_BIN="${SCIMITAR_BIN:-$ROOT/build/scimitar}"
export SYNC_USERS="${SYNC_USERS:-20000}"
export RUNS="${RUNS:-3}"
export SAMPLES="${SAMPLES:-200}"
export KILL_AT="${KILL_AT:-0.3}"
export CLUSTER_README="${CLUSTER_README:-$ROOT/bench/README.md}"
# the SQLite node and the PostgreSQL nodes are set up here, not by the test tier's switches
unset SCIMITAR_TEST_DB SCIMITAR_TEST_PG_STATE SCIMITAR_KEY

if [ ! -x "$SCIMITAR_BIN" ]; then
    echo "bench/cluster.sh: $SCIMITAR_BIN is missing: run 'make' first" >&2
    exit 1
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "bench/cluster.sh: PostgreSQL is missing: scripts/install-deps.sh --test" >&2
    exit 1
fi

WORK="$(mktemp -d /tmp/scimitar-cluster-bench.XXXXXX)"
STATE="$WORK/pgcluster.json"
PYPID=""
cleanup() {
    if [ -n "$PYPID" ]; then
        kill -TERM "$PYPID" 2>/dev/null || true
        wait "$PYPID" 2>/dev/null || true
    fi
    python3 "$ROOT/tests/integration/pgcluster.py" stop "$STATE" || true
    rm -f "$STATE"
    rmdir "$WORK" 2>/dev/null || echo "bench/cluster.sh: the nodes' logs are in $WORK" >&2
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

python3 "$ROOT/tests/integration/pgcluster.py" start "$STATE"

python3 - "$ROOT" "$STATE" "$WORK" <<'PY' &
import calendar
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

ROOT, STATE, WORK = sys.argv[1:4]
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from benchlib import cpu_seconds, latencies, machine, pct, record, user_body, user_ids  # noqa: E402
import harness  # noqa: E402
from harness import Serve, Target, free_port, wait_until  # noqa: E402
from pgcluster import Cluster  # noqa: E402
from seedflow import Flow  # noqa: E402

N = int(os.environ["SYNC_USERS"])
RUNS = int(os.environ["RUNS"])
SAMPLES = int(os.environ["SAMPLES"])
KILL_AT = float(os.environ["KILL_AT"])
EXTRA = os.environ.get("SERVE_EXTRA", "").split()
KEEP_LOGS = os.environ.get("CLUSTER_KEEP_LOGS", "") not in ("", "0")
POP = "Code42 Users"
TOKEN = "bench-target-token"
ADMIN = "bench-admin-token"
NODES = (1, 2, 3)
# one node on SQLite for comparison: as bench/sync.sh (its default --durability full: an
# fsync per commit) and, since the bench's PostgreSQL runs with fsync off, without the
# fsync per commit (--durability normal) unless SERVE_EXTRA chooses
SQLITE = [("sqlite", [], "SQLite, 1 node")]
if "--durability" not in EXTRA:
    SQLITE.append(("sqlite-normal", ["--durability", "normal"],
                   "SQLite, 1 node, `--durability normal`"))
KILLS = (2, 3)
with open(STATE) as fh:
    CLUSTER = Cluster.from_state(json.load(fh))
KEYS = os.path.join(WORK, "keys")
LOGS = os.path.join(WORK, "logs")
LIVE = []          # every process started and not stopped yet
ANOMALIES = []     # failed checks, with where their logs are


def on_term(signum, frame):
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, on_term)


class Node(Serve):
    """`scimitar serve` on database db of the bench's cluster, with the key every node of
    that database shares."""

    def __init__(self, db):
        port = free_port()
        harness.Process.__init__(self, [], port=port, env={"SCIMITAR_ADMIN_TOKEN": ADMIN})
        self.token = ADMIN
        self.db = db
        self.pg_drop = False
        self.listen = "127.0.0.1:%d" % port
        self.args = ["serve", "--listen", self.listen, "--db", CLUSTER.dsn(db),
                     "--key-file", os.path.join(KEYS, db + ".key")] + EXTRA

    def sql(self, query, *params):
        return CLUSTER.query(self.db, query, params)


def started(proc):
    LIVE.append(proc)
    return proc.start()


def stop(proc, keep_as=None):
    """Stops proc (SIGTERM, or already killed) and keeps its log as LOGS/keep_as."""
    proc.stop()
    if keep_as:
        os.makedirs(LOGS, exist_ok=True)
        shutil.copyfile(proc.log_path, os.path.join(LOGS, keep_as))
    proc.__exit__(None, None, None)
    if proc in LIVE:
        LIVE.remove(proc)


def postmaster_pid():
    with open(os.path.join(CLUSTER.dir, "data", "postmaster.pid")) as fh:
        return int(fh.readline())


def pg_cpu():
    """CPU seconds of PostgreSQL so far: the postmaster, its live children (the backends
    serve's connections keep open) and its children that exited (cutime + cstime)."""
    pm = postmaster_pid()
    with open("/proc/%d/stat" % pm) as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    total = sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as fh:
                f = fh.read().rsplit(")", 1)[1].split()
            if int(f[1]) == pm:
                total += (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            pass  # exited meanwhile
    return total


def pg_pids():
    """The postmaster and its live children (the backends of serve's connections)."""
    pm = postmaster_pid()
    out = [pm]
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == pm:
                        out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


def runq_wait(pids):
    """Seconds the threads of pids have spent runnable but waiting for a CPU so far
    (/proc/PID/task/TID/schedstat, second field), summed."""
    total = 0
    for pid in pids:
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for tid in tids:
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as fh:
                    total += int(fh.read().split()[1])
            except (OSError, ValueError, IndexError):
                pass
    return total / 1e9


def cpu_pressure():
    """The machine's CPU pressure so far: seconds during which some task waited for a CPU
    (/proc/pressure/cpu, "some" total; 0 without PSI)."""
    try:
        with open("/proc/pressure/cpu") as fh:
            return int(fh.readline().split("total=")[1]) / 1e6
    except (OSError, IndexError, ValueError):
        return 0.0


class Probe:
    """CPU time, run-queue wait and the machine's CPU pressure of a sync, from start() to
    stop(): pids are serve's and the target's; pg adds PostgreSQL's."""

    def __init__(self, pids, pg):
        self.pids, self.pg = list(pids), pg

    def read(self):
        pgp = pg_pids() if self.pg else []
        return ([cpu_seconds(p) for p in self.pids], pg_cpu() if self.pg else 0.0,
                runq_wait(self.pids + pgp), cpu_pressure(), time.monotonic())

    def start(self):
        self.a = self.read()
        return self

    def stop(self, out):
        b = self.read()
        wall = b[4] - self.a[4]
        cpu = [y - x for x, y in zip(self.a[0], b[0])]
        out["wall"] = wall
        out["rate"] = N / wall
        out["serve_cpu"] = sum(cpu[:-1])
        out["target_cpu"] = cpu[-1]
        out["pg_cpu"] = b[1] - self.a[1]
        out["runq"] = (b[2] - self.a[2]) / wall
        out["pressure"] = (b[3] - self.a[3]) / wall


def failed(tag, e):
    """Records run tag's failure unless a check recorded it already (its logs are kept)."""
    if not any(a.startswith(tag + ":") for a in ANOMALIES):
        ANOMALIES.append("%s: %s" % (tag, e))


def wait_synced(f, tag, want, interval=0.25, stall=120):
    """Waits until the target holds want users; a target that gains none for stall
    seconds is a stalled sync: recorded as an anomaly (the run's logs are kept) and
    raised."""
    last, since = -1, time.monotonic()
    while True:
        have = f.target_count()
        if have >= want:
            return
        if have != last:
            last, since = have, time.monotonic()
        elif time.monotonic() - since > stall:
            msg = "%s: the sync stalled at %d users (no progress for %d s)" % (tag, have, stall)
            ANOMALIES.append(msg)
            raise AssertionError(msg)
        time.sleep(interval)


def check_end(f, tag):
    """The end state every sync must reach: N users on the target, N POSTs, no DELETE,
    every user SYNCED and nothing pending. Returns (POSTs, DELETEs); records a failed
    check as an anomaly."""
    try:
        f.wait_status(lambda s: s["users"]["success"] == N and s["pending"] == 0,
                      timeout=600, what="every user SYNCED (%s)" % tag)
    except AssertionError as e:
        ANOMALIES.append("%s: %s" % (tag, e))
    st = f.stats()
    posts, deletes, count = st.get("POST", 0), st.get("DELETE", 0), f.target_count()
    if posts != N or deletes != 0 or count != N:
        ANOMALIES.append("%s: %d POSTs, %d DELETEs, %d users on the target (want %d, 0, %d)"
                         % (tag, posts, deletes, count, N, N))
    return posts, deletes


def prepare(srv, tgt):
    """Directory users, connection and rule (disabled) through srv; waits until the
    engine has handled the import's events, so the initial sync is the rule's first
    resync alone."""
    f = Flow(srv, tgt)
    f.population(POP)
    t0 = time.monotonic()
    f.import_users([user_body(i, POP) for i in range(N)])
    import_s = time.monotonic() - t0
    f.setup(population=POP, enable=False)
    f.wait_events_handled(timeout=600)
    f.ok("PATCH", "/api/v1/connections/" + f.conn, {"enabled": True})
    return f, import_s


def propagation(f, nodes, tgt):
    ids = user_ids(f, 100)
    return latencies(nodes, tgt, ids, sorted(ids)[:100], SAMPLES, "idle")


def sqlite_run(r, extra, name):
    """One node on SQLite, as bench/sync.sh: initial sync, then idle propagation."""
    tgt = started(Target(token=TOKEN, no_delete=True))
    srv = started(Serve(token=ADMIN, extra=EXTRA + extra))
    tag = "%s-run%d" % (name, r)
    out = {}
    try:
        f, out["import_s"] = prepare(srv, tgt)
        probe = Probe([srv.proc.pid, tgt.proc.pid], pg=False).start()
        f.ok("PATCH", "/api/v1/rules/" + f.rule, {"enabled": True})
        wait_synced(f, tag, N)
        probe.stop(out)
        out["posts"], out["deletes"] = check_end(f, tag)
        out["requests"] = [requests_sent(srv)]
        out["lat"] = propagation(f, [srv], tgt)
        return out
    except Exception as e:
        failed(tag, e)
        raise
    finally:
        keep = KEEP_LOGS or any(a.startswith(tag + ":") for a in ANOMALIES)
        stop(srv, tag + ".log" if keep else None)
        stop(tgt)


def requests_sent(srv):
    """How many SCIM requests srv's engine has sent (scimitar_sync_requests_total)."""
    st, text, _ = srv.api("GET", "/metrics")
    m = re.search(r"^scimitar_sync_requests_total (\d+)$", text or "", re.M)
    return int(m.group(1)) if st == 200 and m else 0


def node_ids(nodes):
    """{listen address: engine id} of the nodes' heartbeats, once every node has beaten."""
    rows = {}

    def beaten():
        rows.clear()
        for nid, listen in nodes[0].sql("SELECT id, listen FROM sync_nodes"):
            rows[listen] = nid
        return all(n.listen in rows for n in nodes)
    wait_until(beaten, timeout=60, what="every node's heartbeat")
    return dict(rows)


def pg_run(n, r, kill):
    """n nodes on a fresh PostgreSQL database: an initial sync, then idle propagation
    through each node in turn; or (kill) an initial sync in which the node holding the
    most leases is killed with SIGKILL."""
    tag = "pg-%d%s-run%d" % (n, "-kill" if kill else "", r)
    tgt = started(Target(token=TOKEN, no_delete=True))
    db = CLUSTER.create_db()
    nodes = []
    out = {}
    try:
        for _ in range(n):
            nodes.append(started(Node(db)))
        ids = node_ids(nodes)
        f, out["import_s"] = prepare(nodes[0], tgt)
        probe = Probe([x.proc.pid for x in nodes] + [tgt.proc.pid], pg=True).start()
        t0 = time.monotonic()
        f.ok("PATCH", "/api/v1/rules/" + f.rule, {"enabled": True})
        if not kill:
            wait_synced(f, tag, N)
            probe.stop(out)
            out["posts"], out["deletes"] = check_end(f, tag)
            out["requests"] = [requests_sent(x) for x in nodes]
            out["lat"] = propagation(f, nodes, tgt)
            return out
        wait_synced(f, tag, KILL_AT * N, interval=0.02)
        # the node holding the most leases now (ties: the last), so that the kill leaves
        # work to take over; the others go on through a survivor's API
        held_by = dict(nodes[0].sql("SELECT lease_owner, count(*) FROM sync_outbox WHERE "
                                    "lease_owner IS NOT NULL GROUP BY lease_owner"))
        victim = max(reversed(nodes), key=lambda x: held_by.get(ids[x.listen], 0))
        vid = ids[victim.listen]
        t_kill, wall_kill = time.monotonic(), time.time()
        victim.kill9()
        survivors = [x for x in nodes if x is not victim]
        f.srv = survivors[0]
        out["victim"] = nodes.index(victim) + 1
        out["at_kill"] = f.target_count()
        held = [row[0] for row in survivors[0].sql(
            "SELECT id FROM sync_outbox WHERE lease_owner = ?", vid)]
        out["held"] = len(held)
        out["claim"] = bool(survivors[0].sql(
            "SELECT 1 FROM sync_rules WHERE resync_owner = ?", vid))
        held_sql = ",".join(str(int(h)) for h in held) or "NULL"
        q = ("SELECT (SELECT count(*) FROM sync_outbox WHERE lease_owner = '%s') AS leased, "
             "(SELECT count(*) FROM sync_outbox WHERE id IN (%s)) AS held" % (vid, held_sql))
        marks = {}
        deadline = t_kill + 600
        while len(marks) < 3:
            now = time.monotonic()
            if now > deadline:
                msg = "%s: not over 600 s after the kill (reached: %s)" % (tag, marks)
                ANOMALIES.append(msg)
                raise AssertionError(msg)
            leased, left = survivors[0].sql(q)[0]
            if leased == 0:
                marks.setdefault("released", now - t_kill)
            if left == 0:
                marks.setdefault("held_done", now - t_kill)
            if f.target_count() >= N:
                marks.setdefault("complete", now - t_kill)
            time.sleep(0.05)
        out.update(marks)
        out["wall"] = t_kill - t0 + marks["complete"]
        out["posts"], out["deletes"] = check_end(f, tag)
        out["takeovers"] = []
        for x in survivors:
            for line in x.output().splitlines():
                if "event=engine.takeover" in line:
                    when = calendar.timegm(time.strptime(line[:19], "%Y-%m-%dT%H:%M:%S")) + \
                        int(line[20:23]) / 1000
                    out["takeovers"].append((when - wall_kill, line.split("released=")[1]
                                             .split()[0]))
        return out
    except Exception as e:
        failed(tag, e)
        raise
    finally:
        keep = kill or KEEP_LOGS or any(a.startswith(tag + ":") for a in ANOMALIES)
        for i, x in enumerate(nodes):
            stop(x, "%s-node%d.log" % (tag, i + 1) if keep else None)
        stop(tgt)
        CLUSTER.drop_db(db)


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def spread(rs, key, fmt="%.0f"):
    """median (min to max) of key over runs rs."""
    xs = [x[key] for x in rs if key in x]
    if not xs:
        return "none"
    if len(xs) == 1:
        return fmt % xs[0]
    return (fmt + " (" + fmt + " to " + fmt + ")") % (med(xs), min(xs), max(xs))


def main():
    os.makedirs(KEYS, exist_ok=True)
    load0 = os.getloadavg()
    pgver = subprocess.run([os.path.join(CLUSTER.bin, "postgres"), "--version"],
                           capture_output=True, text=True).stdout.strip()
    print("bench/cluster.sh: %d users, %d runs; %s; load average %.2f %.2f %.2f; %s"
          % (N, RUNS, machine(), load0[0], load0[1], load0[2], pgver), flush=True)
    R = {"sqlite": {k: [] for k, _, _ in SQLITE}, "pg": {n: [] for n in NODES},
         "kill": {n: [] for n in KILLS}}
    t_start = time.monotonic()
    for r in range(1, RUNS + 1):
        for key, extra, _ in SQLITE:
            res = sqlite_run(r, extra, key)
            R["sqlite"][key].append(res)
            print("run %d %s: %.0f users/s (%d POSTs, %d DELETEs); propagation p50 %.1f ms "
                  "p99 %.1f ms" % (r, key, res["rate"], res["posts"], res["deletes"],
                                   pct(res["lat"], 50), pct(res["lat"], 99)), flush=True)
        for n in NODES:
            res = pg_run(n, r, kill=False)
            R["pg"][n].append(res)
            print("run %d postgresql %d node(s): %.0f users/s (%d POSTs, %d DELETEs); "
                  "propagation p50 %.1f ms p99 %.1f ms" % (
                      r, n, res["rate"], res["posts"], res["deletes"], pct(res["lat"], 50),
                      pct(res["lat"], 99)), flush=True)
        for n in KILLS:
            res = pg_run(n, r, kill=True)
            R["kill"][n].append(res)
            print("run %d postgresql %d nodes, kill -9 of node %d at %d users (it held %d "
                  "leases%s): released %s s, held work delivered %s s, sync complete %s s "
                  "after the kill; whole sync %.1f s (%d POSTs, %d DELETEs); takeover log "
                  "lines: %s" % (
                      r, n, res["victim"], res["at_kill"], res["held"],
                      " and the resync claim" if res["claim"] else "", mark(res, "released"),
                      mark(res, "held_done"), mark(res, "complete"), res["wall"],
                      res["posts"], res["deletes"],
                      ", ".join("%.1f s released=%s" % t for t in res["takeovers"]) or "none"),
                  flush=True)
    R["minutes"] = (time.monotonic() - t_start) / 60
    R["load0"], R["load1"], R["pgver"] = load0, os.getloadavg(), pgver
    report(R)
    if ANOMALIES:
        sys.exit(1)


def mark(res, key):
    return "%.1f" % res[key] if key in res else "never"


def sync_row(label, rs):
    cpu = lambda k: med([x[k] / (N / 1000) for x in rs])  # noqa: E731
    busy = med([(x["serve_cpu"] + x["pg_cpu"] + x["target_cpu"]) / (x["wall"] * os.cpu_count())
                for x in rs])
    lat = [v for x in rs for v in x["lat"]]
    sent = [sum(x["requests"][i] for x in rs) for i in range(len(rs[0]["requests"]))]
    share = "/".join("%.0f" % (100 * v / sum(sent)) for v in sent) + "%" if sum(sent) else "-"
    return ("| %s | **%s** | %s | %s | %s | %.3f / %s / %.3f | %.0f%% | %.2f | %.0f%% | "
            "%.1f / %.1f ms |" % (
                label, spread(rs, "rate"), spread(rs, "wall", "%.1f"),
                "/".join(sorted({"%d/%d" % (x["posts"], x["deletes"]) for x in rs})), share,
                cpu("serve_cpu"), "%.3f" % cpu("pg_cpu") if rs[0]["pg_cpu"] else "-",
                cpu("target_cpu"), busy * 100, med([x["runq"] for x in rs]),
                med([x["pressure"] for x in rs]) * 100, pct(lat, 50), pct(lat, 99)))


def kill_row(n, rs, base):
    return ("| %d | %s | %s | %s s | **%s s** | %s s | %s s (without the kill: %s s) | %s |" % (
        n, spread(rs, "at_kill"), spread(rs, "held"), spread(rs, "released", "%.1f"),
        spread(rs, "held_done", "%.1f"), spread(rs, "complete", "%.1f"),
        spread(rs, "wall", "%.1f"), "%.1f" % med([x["wall"] for x in base]),
        "/".join(sorted({"%d/%d" % (x["posts"], x["deletes"]) for x in rs}))))


def command_env():
    """The settings of this run that differ from the defaults, as a command line prefix."""
    out = ""
    for k, default in (("SYNC_USERS", "20000"), ("RUNS", "3"), ("SAMPLES", "200"),
                       ("KILL_AT", "0.3"), ("SERVE_EXTRA", "")):
        v = os.environ.get(k, "")
        if v != default:
            out += "%s=%s " % (k, "'%s'" % v if " " in v else v)
    return out


def report(R):
    cores = os.cpu_count()
    lines = [
        "## Several nodes on PostgreSQL",
        "",
        "`bench/cluster.sh` starts a throwaway PostgreSQL cluster (tests/integration/pgcluster.py:",
        "initdb under /tmp, loopback, `fsync` off) and, for 1, 2 and 3 `scimitar serve` nodes on",
        "a fresh database of it, a fresh `scimitar target --no-delete`: imports the users",
        "through the first node, creates the seed's connection and a rule on their population",
        "there, waits until the import's events are handled, and enables the rule. It measures",
        "the initial sync (until the target holds every user; the target's POSTs must equal the",
        "users and no DELETE may be sent), then the propagation of single title changes when",
        "idle, change k written through node k mod n (API call until a GET on the target shows",
        "it, polled every 2 ms, as `bench/sync.sh`). With 2 and 3 nodes another initial sync",
        "kills the node holding the most leases with `kill -9` once the target holds %d%% of the"
        % round(KILL_AT * 100),
        "users, and times from the kill: until no outbox item is leased to the killed node any",
        "more (*released*: a survivor's heartbeat finds it silent for 10 s, or its leases run",
        "out), until every item it held leased at the kill has its result recorded by a",
        "survivor (its outbox row gone: *held work delivered*, the takeover time), and until",
        "the target holds every user (*sync complete*). The same run measures one node on",
        "SQLite the way `bench/sync.sh` does (and with `--durability normal`, since this",
        "PostgreSQL never waits for the disk), for comparison.",
        "",
        "During each initial sync: *CPU used* is the CPU seconds of the nodes, PostgreSQL (the",
        "postmaster and its backends) and the target over the wall time of %d cores; *waiting"
        % cores,
        "for a CPU* is how many of their threads were, on average, runnable but not running",
        "(run-queue time from /proc/PID/task/TID/schedstat per second of sync); the *machine's",
        "CPU pressure* is the share of the time in which some task on the machine, ours or",
        "another's, waited for a CPU (/proc/pressure/cpu). Each configuration ran %d times," % RUNS,
        "interleaved; figures are medians with the range over the runs; propagation",
        "percentiles are over the samples of every run together. `SYNC_USERS` (default 20000),",
        "`RUNS` (3), `SAMPLES` (200), `KILL_AT` (0.3), `SERVE_EXTRA` and `SCIMITAR_BIN` change it.",
        "",
        "`%sbash bench/cluster.sh` (%s, %d users, %d runs, %.0f minutes); %s; %s." % (
            command_env(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), N, RUNS,
            R["minutes"], machine(), R["pgver"]),
        "Load average %.2f %.2f %.2f at the start, %.2f %.2f %.2f at the end (1, 5, 15 min): "
        "other work shared the machine." % (tuple(R["load0"]) + tuple(R["load1"])),
        "",
        "| back-end, nodes | initial sync (users/s) | wall (s) | POSTs/DELETEs | SCIM requests "
        "sent by each node | CPU-s per 1,000 users: nodes / PostgreSQL / target | CPU used "
        "of %d cores | waiting for a CPU (threads) | machine's CPU pressure | propagation "
        "idle p50 / p99 (%d changes) |" % (cores, SAMPLES * RUNS),
        "|---|---|---|---|---|---|---|---|---|---|",
    ] + [sync_row(label, R["sqlite"][key]) for key, _, label in SQLITE] + [
        sync_row("PostgreSQL, %d node%s" % (n, "s" if n > 1 else ""), R["pg"][n])
        for n in NODES] + [
        "",
        "| nodes | users on the target at the kill | items the killed node held leased | "
        "released after | held work delivered after | sync complete after | whole sync with "
        "the kill | POSTs/DELETEs |",
        "|---|---|---|---|---|---|---|---|",
    ] + [kill_row(n, R["kill"][n], R["pg"][n]) for n in KILLS] + [""]
    record(os.environ["CLUSTER_README"], "Several nodes on PostgreSQL", "\n".join(lines))


try:
    main()
finally:
    for p in list(LIVE):
        try:
            stop(p)
        except Exception as e:  # keep stopping the others
            print("bench/cluster.sh: stopping %s: %s" % (p.args[0], e), file=sys.stderr)
    shutil.rmtree(KEYS, ignore_errors=True)
    if ANOMALIES:
        print("\nFAILED CHECKS (the nodes' logs are in %s):" % LOGS)
        for a in ANOMALIES:
            print("  " + a)
    if not ANOMALIES and not KEEP_LOGS:
        shutil.rmtree(LOGS, ignore_errors=True)
PY
PYPID=$!
rc=0
wait "$PYPID" || rc=$?
PYPID=""
exit "$rc"
