#!/usr/bin/env bash
# Bulk-import figures (not a timed test):
#   1. generates N users (default 100,000) as a CSV file across several populations,
#      with a Python stdlib generator that streams the file;
#   2. starts `scimitar serve` on a temporary database on a free loopback port, creates
#      the populations, and imports the file with `scimitar import` (under /usr/bin/time
#      -v): users/s, the client's peak memory, the server's peak memory (VmHWM); the same
#      with N/10 users on a fresh server shows whether memory stays flat in N;
#   3. builds groups: a chain nested 50 deep (a user in the innermost group is in all
#      50), a few groups with direct members and dynamic groups by population, then times
#      the effective-membership query GET /api/v1/users/{id}/groups for that user
#      (median and p95 of 50 calls).
# Prints the figures and records them, with the date and machine, under "## Import" in
# bench/README.md.
#
#   bash bench/import.sh                    # IMPORT_USERS=100000 by default
#   IMPORT_USERS=20000 bash bench/import.sh # a quick run
#   SCIMITAR_BIN=build/scimitar             # the binary (default build/scimitar)
#   SERVE_EXTRA="--durability normal"       # more arguments for `scimitar serve`
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export SCIMITAR_BIN="${SCIMITAR_BIN:-$ROOT/build/scimitar}"
export IMPORT_USERS="${IMPORT_USERS:-100000}"
export IMPORT_BATCH="${IMPORT_BATCH:-1000}"
export IMPORT_DEPTH="${IMPORT_DEPTH:-50}"
export IMPORT_README="${IMPORT_README:-$ROOT/bench/README.md}"

if [ ! -x "$SCIMITAR_BIN" ]; then
    echo "bench/import.sh: $SCIMITAR_BIN is missing: run 'make' first" >&2
    exit 1
fi
if [ ! -x /usr/bin/time ]; then
    echo "bench/import.sh: /usr/bin/time is missing (apt-get install time)" >&2
    exit 1
fi

exec python3 - "$ROOT" <<'PY'
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = sys.argv[1]
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from benchlib import machine, record  # noqa: E402
from harness import BIN, Serve  # noqa: E402

N = int(os.environ["IMPORT_USERS"])
BATCH = int(os.environ["IMPORT_BATCH"])
DEPTH = int(os.environ["IMPORT_DEPTH"])
POPULATIONS = ["Sales", "Engineering", "Support", "Marketing", "Finance", "Operations",
               "Code42 Users", "Contractors"]
COUNTRIES = ["US", "GB", "FR", "DE", "JP", "BR", "IN", "CA"]
GIVEN = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Radia",
         "Dennis", "Frances", "John"]
FAMILY = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton",
          "Thompson", "Perlman", "Ritchie", "Allen", "Backus"]


def generate(path, n):
    """Writes n users as CSV (API and display names mixed in the header, some quoted
    fields), streaming: memory does not grow with n."""
    with open(path, "w", newline="") as f:
        f.write("Username,Given Name,Family Name,Email Address,Population,"
                "address.countryCode,Title,externalId,enabled\r\n")
        for i in range(n):
            g = GIVEN[i % len(GIVEN)]
            fam = FAMILY[(i // len(GIVEN)) % len(FAMILY)]
            title = '"Engineer, level %d"' % (i % 5) if i % 3 == 0 else "Analyst"
            f.write("user%06d,%s,%s,user%06d@example.com,%s,%s,%s,E%06d,%s\r\n" % (
                i, g, fam, i, POPULATIONS[i % len(POPULATIONS)],
                COUNTRIES[i % len(COUNTRIES)], title, i, "false" if i % 50 == 0 else "true"))


def peak_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def timed_import(srv, path):
    """Runs `scimitar import` under /usr/bin/time -v; returns (seconds, client peak KiB,
    stdout, client CPU seconds)."""
    env = dict(os.environ, SCIMITAR_TOKEN=srv.token, SCIMITAR_SERVER=srv.base)
    t0 = time.monotonic()
    r = subprocess.run(["/usr/bin/time", "-v", BIN, "import", "--no-progress", "--batch",
                        str(BATCH), path], capture_output=True, text=True, env=env)
    secs = time.monotonic() - t0
    if r.returncode != 0:
        sys.exit("import failed (%d):\n%s\n%s" % (r.returncode, r.stdout, r.stderr[-3000:]))
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    cpu = sum(float(x) for x in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)",
                                           r.stderr))
    return secs, int(m.group(1)) if m else 0, r.stdout.strip(), cpu


def run_import(tmp, n):
    path = os.path.join(tmp, "users-%d.csv" % n)
    t0 = time.monotonic()
    generate(path, n)
    gen_s = time.monotonic() - t0
    srv = Serve(extra=os.environ.get("SERVE_EXTRA", "").split())
    srv.start()
    try:
        for p in POPULATIONS:
            st, body, _ = srv.api("POST", "/api/v1/populations", {"name": p})
            assert st == 201, (st, body)
        cpu0 = cpu_seconds(srv.proc.pid)
        load = os.getloadavg()[0]
        secs, client_kb, out, client_cpu = timed_import(srv, path)
        server_cpu = cpu_seconds(srv.proc.pid) - cpu0
        server_kb = peak_kb(srv.proc.pid)
        st, body, _ = srv.api("GET", "/api/v1/users?limit=1")
        assert st == 200, (st, body)
        return {"n": n, "secs": secs, "rate": n / secs, "client_kb": client_kb,
                "server_kb": server_kb, "gen_s": gen_s, "size": os.path.getsize(path),
                "out": out, "client_cpu": client_cpu, "server_cpu": server_cpu,
                "load": load}, srv
    except BaseException:
        srv.__exit__(None, None, None)
        raise


def membership(srv):
    """Builds a DEPTH-deep chain of nested groups and times a user's effective groups."""
    def api(method, path, body=None):
        st, b, _ = srv.api(method, path, body)
        assert 200 <= st < 300, (method, path, st, b)
        return b

    chain = []
    for level in range(DEPTH):
        chain.append(api("POST", "/api/v1/groups", {"name": "level-%02d" % level})["id"])
        if level:
            api("POST", "/api/v1/groups/%s/members" % chain[level - 1], {"groupId": chain[-1]})
    users = api("GET", "/api/v1/users?limit=200")["items"]
    deep = users[0]
    api("POST", "/api/v1/groups/%s/members" % chain[-1], {"userId": deep["id"]})
    for k in range(10):  # a few ordinary groups with direct members
        gid = api("POST", "/api/v1/groups", {"name": "team-%d" % k})["id"]
        for u in users[k * 10:(k + 1) * 10]:
            api("POST", "/api/v1/groups/%s/members" % gid, {"userId": u["id"]})
    for p in POPULATIONS[:4]:  # dynamic groups
        api("POST", "/api/v1/groups", {"name": "all-" + p, "userFilter": {
            "match": "ALL", "conditions": [
                {"attribute": "population.name", "operator": "EQUALS", "value": p}]}})
    path = "/api/v1/users/%s/groups" % deep["id"]
    groups = api("GET", path)["items"]
    times = []
    for _ in range(50):
        t0 = time.monotonic()
        api("GET", path)
        times.append((time.monotonic() - t0) * 1000)
    times.sort()
    return {"groups": len(groups), "p50": statistics.median(times),
            "p95": times[int(len(times) * 0.95) - 1], "groups_total": DEPTH + 10 + 4}




def main():
    with tempfile.TemporaryDirectory(prefix="scimitar-bench-import-") as tmp:
        small_n = max(N // 10, 1)
        small, srv = run_import(tmp, small_n)
        srv.__exit__(None, None, None)
        big, srv = run_import(tmp, N)
        try:
            mem = membership(srv)
        finally:
            srv.__exit__(None, None, None)
    print(big["out"])
    lines = [
        "## Import",
        "",
        "`bash bench/import.sh` (%s, %d users, batches of %d); %s." % (
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), N, BATCH, machine()),
        "A CSV file (%.1f MiB, %d populations, quoted fields) imported with `scimitar import` "
        "into `scimitar serve` on a fresh SQLite database; both share this machine with "
        "whatever else runs (see the load average)." % (
            big["size"] / 1048576.0, len(POPULATIONS)),
        "",
        "| figure | value | aim |",
        "|---|---|---|",
        "| import of %d users | %.2f s = **%.0f users/s** | < 10 s |" % (
            N, big["secs"], big["rate"]),
        "| CPU time of the %d-user import | serve %.2f s, import %.2f s (%.0f users per "
        "CPU-second of serve) | |" % (N, big["server_cpu"], big["client_cpu"],
                                      N / big["server_cpu"] if big["server_cpu"] else 0),
        "| load average (1 min) when the import started | %.1f | |" % big["load"],
        "| serve + import CPU time (what the import would take if nothing else ran: an "
        "estimate, not a measurement) | %.2f s | < 10 s |" % (
            big["server_cpu"] + big["client_cpu"]),
        "| import of %d users (for comparison) | %.2f s = %.0f users/s | |" % (
            small["n"], small["secs"], small["rate"]),
        "| peak memory of `scimitar import` (max RSS) | %.1f MiB at %d users, %.1f MiB at %d "
        "| flat in users |" % (big["client_kb"] / 1024.0, N, small["client_kb"] / 1024.0,
                               small["n"]),
        "| peak memory of `scimitar serve` (VmHWM) | %.1f MiB at %d users, %.1f MiB at %d "
        "| flat in users |" % (big["server_kb"] / 1024.0, N, small["server_kb"] / 1024.0,
                               small["n"]),
        "| effective groups of a user %d levels deep (GET /api/v1/users/{id}/groups, %d groups "
        "in the directory, 50 calls) | p50 %.2f ms, p95 %.2f ms (%d groups returned) | |" % (
            DEPTH, mem["groups_total"], mem["p50"], mem["p95"], mem["groups"]),
        "",
    ]
    record(os.environ["IMPORT_README"], "Import", "\n".join(lines))


main()
PY
