#!/usr/bin/env bash
# Inbound SCIM figures (not a timed test): `scimitar serve` on a fresh SQLite database
# with an inbound token, a rule on the token's population towards `scimitar target`
# (in memory), and:
#   1. POST /scim/v2/Users rate: wrk (bench/post-users.lua) creates users through the
#      inbound token for DURATION seconds; each create is a directory write whose change
#      the engine then provisions to the target;
#   2. PATCH /scim/v2/Users/{id} rate: wrk (bench/patch-title.lua) replaces the title of
#      PATCH_USERS users in turn, a new value every request;
#   3. propagation: once the engine has caught up, SAMPLES single PATCHes of a title
#      through /scim/v2, each timed until the target shows the new title (polled every
#      2 ms): p50, p95, max.
# Prints the figures and records them, with the date and machine, under "## Inbound SCIM"
# in bench/README.md.
#
#   bash bench/inbound.sh
#   DURATION=5 SAMPLES=10 bash bench/inbound.sh   # a quick run
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export SCIMITAR_BIN="${SCIMITAR_BIN:-$ROOT/build/scimitar}"
export DURATION="${DURATION:-10}"
export CONNECTIONS="${CONNECTIONS:-8}"
export SAMPLES="${SAMPLES:-30}"
export PATCH_USERS="${PATCH_USERS:-50}"
export INBOUND_README="${INBOUND_README:-$ROOT/bench/README.md}"

if [ ! -x "$SCIMITAR_BIN" ]; then
    echo "bench/inbound.sh: $SCIMITAR_BIN is missing: run 'make' first" >&2
    exit 2
fi
command -v wrk >/dev/null || { echo "bench/inbound.sh: wrk is needed" >&2; exit 2; }

exec python3 - "$ROOT" <<'PY'
import os
import subprocess
import sys
import time

ROOT = sys.argv[1]
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from benchlib import machine, record, pct  # noqa: E402
from harness import Serve, Target, http, wait_until  # noqa: E402
from seedflow import Flow  # noqa: E402

DURATION = int(os.environ["DURATION"])
CONNS = int(os.environ["CONNECTIONS"])
SAMPLES = int(os.environ["SAMPLES"])
NPATCH = int(os.environ["PATCH_USERS"])
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCHOP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def wrk(script, base, env):
    out = subprocess.run(["wrk", "-t1", "-c%d" % CONNS, "-d%ds" % DURATION, "-s",
                          os.path.join(ROOT, "bench", script), base],
                         capture_output=True, text=True, env=dict(os.environ, **env), check=True)
    line = [x for x in out.stdout.splitlines() if x.startswith("WRKRESULT")][-1].split()
    reqs, bad, errs, us = int(line[1]), int(line[2]), int(line[3]), int(line[4])
    return reqs / (us / 1e6), reqs, bad, errs


with Target(token="out-token") as tgt, Serve() as srv:
    f = Flow(srv, tgt)
    f.population("IdP")
    f.setup(population="IdP")
    st, tok, _ = srv.api("POST", "/api/v1/inbound-tokens",
                         {"name": "bench", "population": "IdP", "scope": "write"})
    assert st == 201, tok
    token = tok["token"]
    base = srv.base + "/scim/v2"

    def scim(method, path, body=None):
        return http(method, base + path, body=body,
                    headers={"Authorization": "Bearer " + token,
                             "Content-Type": "application/scim+json"})

    load0 = os.getloadavg()[0]
    post_rate, posts, post_bad, post_err = wrk("post-users.lua", base, {"WRK_TOKEN": token})
    ids = []
    for i in range(NPATCH):
        st, u, _ = scim("POST", "/Users", {"schemas": [USER], "userName": "patch%d" % i})
        assert st == 201, u
        ids.append(u["id"])
    patch_rate, patches, patch_bad, patch_err = wrk(
        "patch-title.lua", base, {"WRK_TOKEN": token, "WRK_IDS": ",".join(ids)})
    total = posts + NPATCH
    t0 = time.time()
    wait_until(lambda: len(tgt.users()) >= total - post_bad, timeout=900,
               what="every created user on the target")
    catch_up = time.time() - t0
    f.wait_events_handled(timeout=900)

    # propagation of single changes
    st, u, _ = scim("POST", "/Users", {"schemas": [USER], "userName": "probe"})
    assert st == 201, u
    wait_until(lambda: any(a["userName"] == "probe" for a in tgt.users()), timeout=60,
               what="the probe user on the target")
    tid = [a for a in tgt.users() if a["userName"] == "probe"][0]["id"]
    lat = []
    for i in range(SAMPLES):
        want = "probe-%d" % i
        t1 = time.perf_counter()
        st, got, _ = scim("PATCH", "/Users/" + u["id"], {"schemas": [PATCHOP], "Operations": [
            {"op": "Replace", "path": "title", "value": want}]})
        assert st == 200, got
        while True:
            st, acct, _ = tgt.scim("GET", "/Users/" + tid)
            if acct.get("title") == want:
                break
            if time.perf_counter() - t1 > 60:
                raise SystemExit("the change did not arrive in 60 s")
            time.sleep(0.002)
        lat.append((time.perf_counter() - t1) * 1000)
        time.sleep(0.05)

text = """## Inbound SCIM

`bash bench/inbound.sh` (%s, DURATION=%d s, %d connections, wrk -t1); %s.
`scimitar serve` (SQLite, defaults) with an inbound token and an enabled rule on its
population towards `scimitar target` (in memory); wrk, serve, the engine and the target
share the machine's cores (load average %.1f at the start).

| figure | value |
|---|---|
| POST /scim/v2/Users (a new directory user each) | **%.0f req/s** (%d requests, %d non-2xx, %d socket errors) |
| PATCH /scim/v2/Users/{id} (a new title each, %d users in turn) | **%.0f req/s** (%d requests, %d non-2xx, %d socket errors) |
| the engine catching up after both phases (every created user on the target) | %.1f s |
| one inbound PATCH until the target shows it (%d samples, target polled every 2 ms) | p50 %.1f ms, p95 %.1f ms, max %.1f ms |
""" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), DURATION, CONNS, machine(), load0,
       post_rate, posts, post_bad, post_err, NPATCH, patch_rate, patches, patch_bad, patch_err,
       catch_up, SAMPLES, pct(lat, 50), pct(lat, 95), max(lat))
record(os.environ["INBOUND_README"], "Inbound SCIM", text)
PY
