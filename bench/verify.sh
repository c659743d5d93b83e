#!/usr/bin/env bash
# Drift repair figures against `scimitar target` on loopback (not a timed test):
#   1. a verifying full resync (POST .../resync {"verify": true}) of N linked users
#      (default 100,000) with no drift: time, pages read, requests sent (must be only
#      the listing's GETs);
#   2. the same after D accounts (default 1% of N) were edited and D/10 deleted directly
#      on the target: time until every one is repaired, the figures in status.verify,
#      and the requests sent (one PATCH per edited account, one POST per deleted one);
#   3. the dry run of a verify over the same drift (POST .../resync?dryRun=true&verify=true).
# Prints the figures and records them under "## Verify" in bench/README.md.
#
#   bash bench/verify.sh                   # VERIFY_USERS=100000
#   VERIFY_USERS=5000 bash bench/verify.sh # a quick run
#   SCIMITAR_BIN=build/scimitar            # the binary (default build/scimitar)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export SCIMITAR_BIN="${SCIMITAR_BIN:-$ROOT/build/scimitar}"
export VERIFY_USERS="${VERIFY_USERS:-100000}"
export VERIFY_README="${VERIFY_README:-$ROOT/bench/README.md}"

if [ ! -x "$SCIMITAR_BIN" ]; then
    echo "bench/verify.sh: $SCIMITAR_BIN is missing: run 'make' first" >&2
    exit 1
fi

exec python3 - "$ROOT" <<'PY'
import concurrent.futures
import os
import sys
import time

ROOT = sys.argv[1]
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from benchlib import machine, record  # noqa: E402
from harness import Serve, Target, wait_until  # noqa: E402
from seedflow import Flow  # noqa: E402

N = int(os.environ["VERIFY_USERS"])
D = max(10, N // 100)
POP = "Code42 Users"


def user_body(i):
    n = "user%06d" % i
    return {"username": n, "name": {"given": "G%d" % i, "family": "F%d" % i},
            "email": n + "@example.com", "title": "Engineer",
            "population": {"name": POP}}




def main():
    R = {"load_before": os.getloadavg()[0]}
    # deletes allowed: the bench deletes accounts behind the engine's back (the
    # connection's Remove Action stays Disable, so the engine never does)
    tgt = Target(token="bench-verify-token").start()
    srv = Serve().start()
    try:
        f = Flow(srv, tgt)
        f.population(POP)
        f.import_users([user_body(i) for i in range(N)])
        f.setup(population=POP, mapping=[
            {"target": "userName", "source": "username"},
            {"target": "givenName", "source": "name.given"},
            {"target": "familyName", "source": "name.family"},
            {"target": "workEmail", "source": "email"},
            {"target": "title", "source": "title"}])
        f.wait_status(lambda s: s["users"]["success"] >= N and s["pending"] == 0,
                      timeout=3600, what="the initial sync")

        def verify(what):
            prev = (f.status().get("verify") or {}).get("lastVerifyAt")
            before = f.stats()
            t0 = time.monotonic()
            f.ok("POST", "/api/v1/rules/%s/resync" % f.rule, {"verify": True})
            v = wait_until(lambda: (lambda s: s if (s.get("verify") or {}).get(
                "lastVerifyAt") not in (None, prev) else None)(f.status()),
                timeout=3600, interval=0.1, what=what)["verify"]
            return t0, before, v

        # 1. no drift
        t0, before, v = verify("a verify without drift")
        R["clean_s"] = time.monotonic() - t0
        after = f.stats()
        R["clean_gets"] = after.get("GET", 0) - before.get("GET", 0) - 1
        R["clean_writes"] = sum(after.get(m, 0) - before.get(m, 0)
                                for m in ("POST", "PUT", "PATCH", "DELETE"))
        R["clean_checked"], R["clean_drifted"] = v["checked"], v["drifted"]

        # 2. drift: D accounts edited, D/10 deleted, directly on the target
        accounts = []
        start = 1
        while len(accounts) < D + D // 10:
            page = f.read("/Users?startIndex=%d&count=1000&attributes=id" % start)
            accounts += [r["id"] for r in page["Resources"]]
            start += len(page["Resources"])
        edited, deleted = accounts[:D], accounts[D:D + D // 10]

        def edit(i):
            st, body, _ = tgt.scim("PATCH", "/Users/" + i, {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "title", "value": "Drifted"}]})
            assert st == 200, (st, body)

        def delete(i):
            st, body, _ = tgt.scim("DELETE", "/Users/" + i)
            assert st == 204, (st, body)
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            list(ex.map(edit, edited))
            list(ex.map(delete, deleted))
        R["edited"], R["deleted"] = len(edited), len(deleted)

        # 3. the dry run sees it (reads only)
        t0 = time.monotonic()
        plan = f.ok("POST", "/api/v1/rules/%s/resync?dryRun=true&verify=true" % f.rule)
        R["dry_s"] = time.monotonic() - t0
        R["dry_drifted"] = plan["counts"]["drifted"]

        # 2. the verify repairs it
        t0, before, v = verify("a verify with drift")
        R["verify_s"] = time.monotonic() - t0
        R["checked"], R["drifted"] = v["checked"], v["drifted"]
        f.wait_status(lambda s: s["pending"] == 0 and s["users"]["success"] >= N,
                      timeout=3600, what="the drift repaired")
        R["repair_s"] = time.monotonic() - t0
        after = f.stats()
        R["patches"] = after.get("PATCH", 0) - before.get("PATCH", 0)
        R["posts"] = after.get("POST", 0) - before.get("POST", 0)
        assert f.target_count() == N, f.target_count()
        left = f.read('/Users?filter=%s&count=0' % 'title%20eq%20%22Drifted%22')
        R["left"] = left["totalResults"]
    finally:
        srv.__exit__(None, None, None)
        tgt.__exit__(None, None, None)
    R["load_after"] = os.getloadavg()[0]
    report(R)


def report(R):
    lines = [
        "## Verify",
        "",
        "`bench/verify.sh` provisions N users (a 5-row mapping) into `scimitar target` on",
        "loopback, then runs a verifying full resync (`{\"verify\": true}`) with no drift, edits",
        "1% of the accounts (title) and deletes a tenth of that number directly on the target,",
        "runs the dry run of a verify, and a verifying resync that repairs them. Requests are",
        "counted by the target's _stats. `VERIFY_USERS` (default 100000) changes N.",
        "",
        "`bash bench/verify.sh` (%s, %d users); %s; load average %.1f before, %.1f after." % (
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), N, machine(),
            R["load_before"], R["load_after"]),
        "",
        "| figure | value |",
        "|---|---|",
        "| verify, no drift | %.1f s: %d accounts checked, %d drifted; %d listing GETs, "
        "%d writes |" % (R["clean_s"], R["clean_checked"], R["clean_drifted"],
                         R["clean_gets"], R["clean_writes"]),
        "| dry run of a verify (%d edited, %d deleted) | %.1f s, %d drifted listed |" % (
            R["edited"], R["deleted"], R["dry_s"], R["dry_drifted"]),
        "| verify with that drift | figures after %.1f s (%d checked, %d drifted); every "
        "account repaired after %.1f s |" % (R["verify_s"], R["checked"], R["drifted"],
                                             R["repair_s"]),
        "| requests of the repair | %d PATCH (edited), %d POST (deleted, created again); "
        "%d accounts left drifted |" % (R["patches"], R["posts"], R["left"]),
        "",
    ]
    record(os.environ["VERIFY_README"], "Verify", "\n".join(lines))


main()
PY
