import time, re, sys
from harness import Serve, wait_until
from scimfake import FakeTarget
from seedflow import Flow
def seen(srv):
    st, text, _ = srv.api("GET", "/metrics")
    m = re.search(r"^scimitar_cluster_nodes (\d+)$", text, re.M)
    return int(m.group(1)) if m else 0
for attempt in range(10):
    with FakeTarget() as tgt:
        first = Serve(env={"SCIMITAR_LOG":"debug"}).start(); nodes=[first, Serve(db=first.db, env={"SCIMITAR_LOG":"debug"}).start(), Serve(db=first.db, env={"SCIMITAR_LOG":"debug"}).start()]
        try:
            for s in nodes: wait_until(lambda: seen(s)==3, timeout=60)
            f = Flow(nodes[0], tgt); f.population("P")
            f.import_users([f.person("r%03d" % i, "P") for i in range(60)])
            f.setup(population="P", enable=False, preferences={"maxRequestsPerSecond": 12})
            f.wait_events_handled(); f.enable()
            try:
                wait_until(lambda: len(tgt.calls("POST")) >= 60, timeout=25)
                print("attempt", attempt, "ok"); continue
            except AssertionError:
                print("STUCK", f.status(), {m: len(tgt.calls(m)) for m in ("GET","POST")})
                print(f.srv.sql("SELECT rule_id, resync, resync_owner, resync_until, resync_seq FROM sync_rules"))
                print(f.srv.sql("SELECT count(*), min(lease_owner), max(lease_owner) FROM sync_outbox"))
                print(f.srv.sql("SELECT key, value FROM settings"))
                for s in nodes:
                    print("=====", s.args[2]); print("\n".join(l for l in s.output().splitlines() if "api.request" not in l)[-4000:])
                break
        finally:
            for s in nodes: s.__exit__(None,None,None)
