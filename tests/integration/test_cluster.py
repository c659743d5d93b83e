"""Several `scimitar serve` nodes on one PostgreSQL database sharing the engine's work
(PostgreSQL only: on SQLite one process serves a database). Three nodes: each serves the
API and runs an engine; changes made through any node arrive; the node list; a
connection's rate limit holds for the cluster as a whole; a node killed with kill -9 in
the middle of an initial sync has its work taken over, and the target ends exactly as
expected (no duplicate create, no DELETE under Disable); a restarted node rejoins. On
either back-end: the node list's items and "self", the node that answers."""
import re
import subprocess
import time
import unittest

from harness import BIN, ON_POSTGRESQL, Serve, Target, wait_until
from scimfake import FakeTarget
from seedflow import Flow, WAIT

POP = "Code42 Users"


ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class NodeListTest(unittest.TestCase):
    """GET /api/v1/cluster: one node on SQLite; on PostgreSQL two nodes share the
    database, and each marks its own item, and only it, with "self": true."""

    def live(self, srv):
        st, body, _ = srv.api("GET", "/api/v1/cluster")
        self.assertEqual(st, 200, body)
        self.assertEqual(list(body), ["items"])
        return body["items"]

    def test_each_node_marks_itself(self):
        a = Serve().start()
        self.addCleanup(a.__exit__, None, None, None)
        nodes = [a]
        if ON_POSTGRESQL:
            b = Serve(db=a.db).start()
            self.addCleanup(b.__exit__, None, None, None)
            nodes.append(b)
        for srv in nodes:
            wait_until(lambda: len(self.live(srv)) == len(nodes), timeout=WAIT,
                       what="%d live nodes seen from %s" % (len(nodes), srv.args[2]))
        ids = set()
        for srv in nodes:
            items = self.live(srv)
            for x in items:
                self.assertEqual(sorted(x), ["id", "lastSeenAt", "leased", "listen", "self",
                                             "startedAt"], x)
                self.assertRegex(x["id"], r"^[0-9a-f-]{36}$")
                self.assertRegex(x["startedAt"], ISO)
                self.assertRegex(x["lastSeenAt"], ISO)
                self.assertLessEqual(x["startedAt"], x["lastSeenAt"])
                self.assertIs(type(x["leased"]), int)
                self.assertEqual(x["leased"], 0)  # nothing to send
                self.assertIs(type(x["self"]), bool)
            mine = [x for x in items if x["self"]]
            self.assertEqual(len(mine), 1, items)
            self.assertEqual(mine[0]["listen"], srv.args[2])
            ids.add(mine[0]["id"])
            self.assertEqual(sorted(x["listen"] for x in items),
                             sorted(s.args[2] for s in nodes))
        self.assertEqual(len(ids), len(nodes))  # each node is another item

    def test_any_free_port_is_listed_as_bound(self):
        """--listen 127.0.0.1:0: the node list shows the port the server got, not 0."""
        srv = Serve()
        srv.args[2] = "127.0.0.1:0"
        srv.log = open(srv.log_path, "ab")
        srv.proc = subprocess.Popen([BIN] + srv.args, stdout=srv.log, stderr=srv.log,
                                    stdin=subprocess.DEVNULL, env=srv.env, cwd=srv.tmp.name)
        self.addCleanup(srv.__exit__, None, None, None)
        m = wait_until(lambda: re.search(r"event=serve\.listening .*port=(\d+)", srv.output()),
                       timeout=WAIT, what="serve listening")
        srv.port = int(m.group(1))
        srv.base = "http://127.0.0.1:%d" % srv.port
        want = "127.0.0.1:%d" % srv.port
        wait_until(lambda: [x["listen"] for x in self.live(srv) if x["self"]] == [want],
                   timeout=WAIT, what="the node listed at " + want)


@unittest.skipUnless(ON_POSTGRESQL, "several nodes share a PostgreSQL database only")
class ClusterTest(unittest.TestCase):

    def nodes(self, tgt, n=3, extra=None):
        first = Serve(extra=extra).start()
        self.addCleanup(first.__exit__, None, None, None)
        out = [first]
        for _ in range(n - 1):
            s = Serve(db=first.db, extra=extra).start()
            self.addCleanup(s.__exit__, None, None, None)
            out.append(s)
        return out

    def live(self, srv):
        st, body, _ = srv.api("GET", "/api/v1/cluster")
        self.assertEqual(st, 200, body)
        return body["items"]

    def test_three_nodes_share_the_work_and_survive_a_kill(self):
        tgt = Target(token="t", no_delete=True).start()
        self.addCleanup(tgt.__exit__, None, None, None)
        a, b, c = self.nodes(tgt)
        wait_until(lambda: len(self.live(a)) == 3, timeout=WAIT, what="three live nodes")
        listens = sorted(x["listen"] for x in self.live(b))
        self.assertEqual(listens, sorted(s.args[2] for s in (a, b, c)))

        # the configuration through one node, the directory through the others
        f = Flow(a, tgt)
        f.population(POP)
        n = 3000
        fb = Flow(b, tgt)
        fb.pops = dict(f.pops)
        fb.import_users([f.person("u%04d" % i, POP) for i in range(n)])
        f.setup(population=POP, enable=False)
        f.wait_events_handled()
        f.enable()
        # kill -9 one node while the initial sync runs
        wait_until(lambda: f.target_count() >= 300, timeout=WAIT, interval=0.02,
                   what="the initial sync under way")
        t_kill = time.monotonic()
        c.kill9()
        f.wait_target_count(n, timeout=300)
        took = time.monotonic() - t_kill
        f.wait_status(lambda s: s["users"]["success"] == n and s["pending"] == 0,
                      timeout=300, what="every user SYNCED")
        stats = f.stats()
        self.assertEqual(stats.get("POST"), n)  # no duplicate create
        self.assertEqual(stats.get("DELETE", 0), 0)
        self.assertEqual(len(f.target_users()), n)
        self.assertLess(took, 120)
        wait_until(lambda: len(self.live(a)) == 2, timeout=WAIT, what="the killed node gone")

        # a change through each live node arrives
        for srv, title in ((a, "Alpha"), (b, "Beta")):
            uid = Flow(srv, tgt).user_id("u0007")
            Flow(srv, tgt).patch_user(uid, {"title": title})
            wait_until(lambda: f.target_user("u0007")["title"] == title, timeout=WAIT,
                       interval=0.02, what="title %s" % title)

        # the killed node restarts and rejoins
        c2 = Serve(db=a.db, port=c.port).start()
        self.addCleanup(c2.__exit__, None, None, None)
        wait_until(lambda: len(self.live(a)) == 3, timeout=WAIT, what="the node back")
        uid = Flow(c2, tgt).user_id("u0008")
        Flow(c2, tgt).patch_user(uid, {"title": "Gamma"})
        wait_until(lambda: f.target_user("u0008")["title"] == "Gamma", timeout=WAIT,
                   interval=0.02, what="a change through the restarted node")
        self.assertEqual(f.stats().get("POST"), n)

    def seen_nodes(self, srv):
        """How many live nodes srv's engine counts (its share of every limit follows)."""
        st, text, _ = srv.api("GET", "/metrics")
        m = re.search(r"^scimitar_cluster_nodes (\d+)$", text, re.M)
        return int(m.group(1)) if m else 0

    def test_a_rate_limit_holds_for_the_cluster(self):
        with FakeTarget() as tgt:
            nodes = self.nodes(tgt)
            for s in nodes:
                wait_until(lambda: self.seen_nodes(s) == 3, timeout=WAIT,
                           what="each node counting three")
            f = Flow(nodes[0], tgt)
            n = 60
            rate = 12
            f.first_resync_only(POP, ["r%03d" % i for i in range(n)],
                                preferences={"maxRequestsPerSecond": rate})
            wait_until(lambda: len(tgt.calls("POST")) >= n, timeout=300,
                       what="every user created (POSTs: %d)" % len(tgt.calls("POST")))
            self.assertEqual(len(tgt.calls("POST")), n)
            self.assertEqual(len(tgt.user_list()), n)
            # a token bucket of `rate` per second with a burst of one second's worth lets
            # at most rate + rate * t calls through in any t seconds, whatever the number
            # of nodes (each takes a third); 0.2 s allow for the clocks' jitter
            ts = sorted(tgt.times)
            for i in range(len(ts)):
                for j in range(i, len(ts)):
                    t = ts[j] - ts[i]
                    self.assertLessEqual(j - i + 1, rate + rate * (t + 0.2),
                                         "%d calls in %.2f s" % (j - i + 1, t))

    def test_a_stopped_node_hands_its_work_over_at_once(self):
        """SIGTERM: the node releases its leases and leaves the node list as it stops,
        so the others go on at once instead of after the 10 s a dead node is given."""
        with FakeTarget(latency=0.02) as tgt:
            a, b = self.nodes(tgt, n=2)
            wait_until(lambda: len(self.live(a)) == 2, timeout=WAIT, what="two live nodes")
            b_id = [x["id"] for x in self.live(b) if x["self"]][0]
            f = Flow(a, tgt)
            n = 200
            f.first_resync_only(POP, ["s%03d" % i for i in range(n)],
                                preferences={"maxRequestsPerSecond": 30})

            def b_leased():
                return a.sql("SELECT count(*) FROM sync_outbox WHERE lease_owner = ?",
                             b_id)[0][0]
            wait_until(lambda: b_leased() > 0, timeout=WAIT, interval=0.02,
                       what="the second node working")
            self.assertEqual(b.stop(), 0)
            self.assertEqual(b_leased(), 0)
            self.assertEqual([x["id"] for x in self.live(a)], [x["id"] for x in self.live(a)
                                                                if x["self"]])
            self.assertIn("engine.left", b.output())
            wait_until(lambda: len(tgt.user_list()) == n, timeout=300,
                       what="every user created by the node left")
            f.wait_status(lambda s: s["users"]["success"] == n and s["pending"] == 0,
                          timeout=WAIT, what="every user SYNCED")
            self.assertEqual(len(tgt.user_list()), n)
            self.assertEqual(len(tgt.calls("DELETE")), 0)


if __name__ == "__main__":
    unittest.main()
