"""Group provisioning at scale (see bench/groups.sh): GROUPS_GROUPS groups (1,000) holding
GROUPS_MEMBERSHIPS direct memberships (100,000) of GROUPS_USERS users (10,000), all
provisioned to `scimitar target`; then the propagation of single membership changes
(a member added or removed through the API until the target's group shows it)."""
import http.client
import json
import os
import sys
import time
import urllib.parse

ROOT = sys.argv[1]
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "bench"))

from benchlib import cpu_seconds, machine, pct, peak_rss_mb, record  # noqa: E402
from harness import Serve, Target, wait_until  # noqa: E402
from seedflow import Flow  # noqa: E402

U = int(os.environ.get("GROUPS_USERS", "10000"))
G = int(os.environ.get("GROUPS_GROUPS", "1000"))
M = int(os.environ.get("GROUPS_MEMBERSHIPS", "100000"))
PER = int(os.environ.get("GROUPS_PER_REQUEST", "100"))
SAMPLES = int(os.environ.get("GROUPS_SAMPLES", "200"))
RECORD = os.environ.get("GROUPS_RECORD", "1") != "0"
POP = "Staff"
T0 = time.monotonic()
MAPPING = [{"target": "userName", "source": "username"},
           {"target": "givenName", "source": "name.given"},
           {"target": "familyName", "source": "name.family"},
           {"target": "workEmail", "source": "email"}]


def say(*a):
    print("[%7.1f s]" % (time.monotonic() - T0), *a, flush=True)


class Api:
    """A keep-alive JSON client of serve's admin API."""

    IDLE_S = 20  # serve closes a keep-alive connection idle for 30 s

    def __init__(self, srv):
        self.srv = srv
        self.conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
        self.used = time.monotonic()

    def call(self, method, path, body=None):
        if time.monotonic() - self.used > self.IDLE_S:  # closed by serve meanwhile
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=60)
        self.used = time.monotonic()
        self.conn.request(method, path, json.dumps(body) if body is not None else None,
                          {"Authorization": "Bearer " + self.srv.token,
                           "Content-Type": "application/json"})
        r = self.conn.getresponse()
        data = r.read()
        if r.status >= 300:
            raise AssertionError("%s %s -> %d %s" % (method, path, r.status, data[:300]))
        return json.loads(data) if data else None


class TargetClient:
    def __init__(self, tgt):
        self.tgt = tgt
        self.conn = http.client.HTTPConnection("127.0.0.1", tgt.port, timeout=60)

    def get(self, path):
        self.conn.request("GET", "/scim/v2" + path,
                          headers={"Authorization": "Bearer " + self.tgt.token})
        r = self.conn.getresponse()
        return json.loads(r.read() or b"{}")


def main():
    tgt = Target(token="bench-token")
    tgt.start()
    srv = Serve()
    srv.start()
    try:
        run(tgt, srv)
    finally:
        srv.stop()
        tgt.stop()
        srv.tmp.cleanup()


def run(tgt, srv):
    f = Flow(srv, tgt)
    api = Api(srv)
    tc = TargetClient(tgt)
    f.population(POP)
    say("importing %d users" % U)
    f.import_users([{"username": "user%06d" % i, "email": "user%06d@example.com" % i,
                     "name": {"given": "G%d" % i, "family": "Bench"},
                     "population": {"name": POP}} for i in range(U)])
    ids = []
    cursor = None
    while True:
        page = api.call("GET", "/api/v1/users?limit=1000" +
                        ("&cursor=" + urllib.parse.quote(cursor) if cursor else ""))
        ids += [u["id"] for u in page["items"]]
        cursor = page.get("nextCursor")
        if not cursor:
            break
    say("creating %d groups with %d memberships" % (G, M))
    per_group = M // G
    gids = []
    members = []
    for k in range(G):
        gid = api.call("POST", "/api/v1/groups", {"name": "bench-%04d" % k})["id"]
        gids.append(gid)
        mine = set()
        for j in range(per_group):
            u = ids[(k * 7919 + j * 13) % len(ids)]
            if u in mine:
                continue
            api.call("POST", "/api/v1/groups/%s/members" % gid, {"userId": u})
            mine.add(u)
        members.append(mine)
    total = sum(len(m) for m in members)
    say("groups made; users' initial sync")
    f.setup(population=POP, mapping=MAPPING)
    f.wait_target_count(U, timeout=3600)
    f.wait_events_handled(timeout=3600)
    stats0 = f.stats()
    cpu0 = cpu_seconds(srv.proc.pid)
    say("users synced; enabling group provisioning (%d members per PATCH)" % PER)
    t0 = time.monotonic()
    f.ok("PUT", "/api/v1/rules/%s/groups" % f.rule,
         {"enabled": True, "select": {"filter": {"operator": "STARTS_WITH", "value": "bench-"}},
          "membersPerRequest": PER})

    def done():
        g = f.status()["groups"]
        return g["synced"] == G and g["members"] == total
    wait_until(done, timeout=3600, interval=0.2, what="every group and membership provisioned")
    took = time.monotonic() - t0
    cpu = cpu_seconds(srv.proc.pid) - cpu0
    stats1 = f.stats()
    reqs = {k: stats1.get(k, 0) - stats0.get(k, 0) for k in ("GET", "POST", "PATCH", "PUT")}
    say("provisioned in %.1f s (%.0f memberships/s), serve %.1f CPU-s, requests %s" % (
        took, total / took, cpu, reqs))

    # propagation of one membership change: add a user to a group, then remove it
    say("propagation: %d single membership changes" % SAMPLES)
    targets = {}
    lat = []
    for s in range(SAMPLES):
        k = s % G
        gid = gids[k]
        if gid not in targets:
            q = urllib.parse.quote('displayName eq "bench-%04d"' % k)
            targets[gid] = tc.get("/Groups?filter=" + q)["Resources"][0]["id"]
        uid = next(ids[(k * 31 + s + i) % len(ids)] for i in range(len(ids))
                   if ids[(k * 31 + s + i) % len(ids)] not in members[k])
        user = f.ok("GET", "/api/v1/users/" + uid)
        q = urllib.parse.quote('userName eq "%s"' % user["username"])
        utid = tc.get("/Users?filter=" + q)["Resources"][0]["id"]
        for add in (True, False):
            t = time.monotonic()
            if add:
                api.call("POST", "/api/v1/groups/%s/members" % gid, {"userId": uid})
            else:
                api.call("DELETE", "/api/v1/groups/%s/members/%s" % (gid, uid))
            while True:
                held = {m["value"] for m in tc.get("/Groups/" + targets[gid]).get("members", [])}
                if (utid in held) == add:
                    break
                if time.monotonic() - t > 60:
                    raise AssertionError("a membership change never arrived")
                time.sleep(0.002)
            lat.append((time.monotonic() - t) * 1000)
    p50, p90, p99 = pct(lat, 50), pct(lat, 90), pct(lat, 99)
    say("propagation p50 %.1f ms, p90 %.1f ms, p99 %.1f ms" % (p50, p90, p99))
    peak = peak_rss_mb(srv.proc.pid)
    load = open("/proc/loadavg").read().split()[:3]
    text = ("## Groups\n\n"
            "`bench/groups.sh` on %s, %s UTC, load average %s, RelWithDebInfo build,\n"
            "SQLite, `scimitar serve` and `scimitar target` on loopback:\n\n"
            "| what | figure |\n|---|---|\n"
            "| %d groups with %d memberships of %d users (already provisioned), from the "
            "group section's PUT until every group is synced | %.1f s (%.0f memberships/s); "
            "serve %.1f CPU-s; requests GET %d, POST %d, PATCH %d, PUT %d |\n"
            "| one membership change (an add or a removal through the API until the "
            "target's group shows it), %d samples | p50 %.1f ms, p90 %.1f ms, p99 %.1f ms |\n"
            "| serve's peak memory (VmHWM) | %.0f MiB |\n" % (
                machine(), time.strftime("%Y-%m-%d %H:%M", time.gmtime()), " ".join(load),
                G, total, U, took, total / took, cpu, reqs["GET"],
                reqs["POST"], reqs["PATCH"], reqs["PUT"], len(lat), p50, p90, p99, peak))
    if RECORD:
        record(os.path.join(ROOT, "bench", "README.md"), "Groups", text)
    else:
        print(text)


main()
