"""SCIM Bulk (RFC 7644 3.7) for the engine's writes: where Test Connection found the
target offering Bulk, the connection's useBulk preference allows it and it speaks SCIM
2.0, writes travel in Bulk requests of at most the target's maxOperations; each
operation's outcome reaches its user as the answer to its own call would (a 409 links,
a 400 naming an attribute narrows the write down); a target that refuses Bulk requests
(or leaves operations out of its answer) is learnt and the writes go alone; a failure of
the whole request is each user's call failing (retried, never a duplicate)."""
import threading
import unittest

from harness import Target, Serve, wait_until
from scimfake import FakeTarget
from seedflow import Flow, WAIT, WAIT_LONG, started

POP = "Code42 Users"


def bulk_stats(f):
    """The target's Bulk counters: {"requests", "operations", "largest"} (scimitar
    target's _stats, or a FakeTarget's)."""
    return f.read("/_stats").get("bulk") or {"requests": 0, "operations": 0, "largest": 0}


def tested(f):
    """Runs Test Connection on the saved connection (it stores the capabilities)."""
    r = f.ok("POST", "/api/v1/connections/%s/test" % f.conn)
    assert r["ok"], r
    return f.ok("GET", "/api/v1/connections/%s/capabilities" % f.conn)


def initial_sync(f, names, **setup):
    """Imports names, configures the connection and rule (setup: connection fields),
    tests the connection (so the engine knows whether the target offers Bulk), and
    enables the rule once the import's events are handled: the initial sync alone works
    on them. Returns the capabilities."""
    f.population(POP)
    f.import_users([f.person(n, POP) for n in names])
    f.setup(population=POP, enable=False, **setup)
    caps = tested(f)
    f.wait_events_handled()
    f.enable()
    return caps


def all_synced(f, n, timeout=WAIT):
    return f.wait_status(lambda s: s["users"]["success"] == n and s["pending"] == 0,
                         timeout=timeout, what="%d users SYNCED" % n)


class ScimitarTargetBulk(unittest.TestCase):
    """Against `scimitar target`, which offers Bulk (--bulk-max-operations)."""

    def test_initial_sync_in_bulk_requests(self):
        tgt = started(self, Target(token="t", extra=["--bulk-max-operations", "50"]))
        srv = started(self, Serve())
        f = Flow(srv, tgt)
        n = 500
        names = ["b%04d" % i for i in range(n)]
        caps = initial_sync(f, names)
        self.assertEqual(caps["bulk"], {"supported": True, "maxOperations": 50,
                                        "maxPayloadSize": 1048576})
        f.wait_target_count(n, timeout=WAIT_LONG)
        all_synced(f, n)
        users = f.target_users()
        self.assertEqual(sorted(users), names)
        b = bulk_stats(f)
        # every create travelled in a Bulk request, none over maxOperations
        self.assertEqual(b["operations"], n)
        self.assertLessEqual(b["largest"], 50)
        self.assertGreaterEqual(b["requests"], n // 50)
        # far fewer requests than users: the Bulk requests (POSTs) and the test's reads
        self.assertEqual(f.stats().get("POST"), b["requests"])
        self.assertLess(b["requests"], n // 5)
        # each user linked to its own account
        links = {u["username"]: u["targetId"] for u in f.rule_users()}
        for name in names:
            self.assertEqual(links[name], users[name]["id"])
        caps = f.ok("GET", "/api/v1/connections/%s/capabilities" % f.conn)
        self.assertNotIn("bulk", caps["learnt"])
        _, metrics, _ = srv.api("GET", "/metrics")
        self.assertIn("scimitar_sync_bulk_operations_total %d" % n, metrics)
        # a live change still arrives (alone: one write waiting)
        before = bulk_stats(f)["requests"]
        f.patch_user(f.user_id("b0007"), {"title": "Live"})
        f.wait_target("b0007", lambda u: u and u.get("title") == "Live")
        # many changes at once: all arrive, through Bulk requests or alone
        for name in names[100:160]:
            f.patch_user(f.user_id(name), {"title": "Batch"})
        wait_until(lambda: all(u.get("title") == "Batch" for k, u in f.target_users().items()
                               if k in names[100:160]), timeout=WAIT, interval=0.2,
                   what="60 titles changed on the target")
        all_synced(f, n)
        self.assertGreaterEqual(bulk_stats(f)["requests"], before)

    def test_a_change_overtakes_a_bulk_initial_sync(self):
        # 2 requests/s of 10 operations each: the initial sync of 300 users takes ~15 s
        tgt = started(self, Target(token="t", extra=["--bulk-max-operations", "10"]))
        srv = started(self, Serve())
        f = Flow(srv, tgt)
        n = 300
        names = ["l%04d" % i for i in range(n)]
        initial_sync(f, names, preferences={"maxRequestsPerSecond": 2})
        wait_until(lambda: f.target_count() >= 20, timeout=WAIT, interval=0.05,
                   what="the initial sync under way")
        last = names[-1]  # the last user the initial sync would create
        f.patch_user(f.user_id(last), {"title": "Live"})
        f.wait_target(last, lambda u: u is not None and u.get("title") == "Live")
        # it arrived while most of the initial sync was still to come
        self.assertLess(f.target_count(), n // 2)
        f.wait_target_count(n, timeout=WAIT_LONG)
        all_synced(f, n, timeout=WAIT)
        b = bulk_stats(f)
        self.assertEqual(b["largest"], 10)
        self.assertGreaterEqual(b["operations"], n - 1)  # the creates, in Bulk requests
        self.assertEqual(f.target_user(last)["title"], "Live")

    def test_use_bulk_false_sends_each_write_alone(self):
        tgt = started(self, Target(token="t"))
        srv = started(self, Serve())
        f = Flow(srv, tgt)
        n = 60
        initial_sync(f, ["s%03d" % i for i in range(n)], preferences={"useBulk": False})
        f.wait_target_count(n)
        all_synced(f, n)
        self.assertEqual(bulk_stats(f)["requests"], 0)
        self.assertEqual(f.stats().get("POST"), n)
        # turned on: the next writes go in Bulk requests
        f.patch_connection({"preferences": {"useBulk": True}})
        for i in range(0, n, 2):
            f.patch_user(f.user_id("s%03d" % i), {"title": "On"})
        wait_until(lambda: sum(u.get("title") == "On" for u in f.target_users().values())
                   == n // 2, timeout=WAIT, interval=0.2, what="30 titles changed")
        all_synced(f, n)


class FakeTargetBulk(unittest.TestCase):
    """Against scimfake.FakeTarget offering Bulk, with the behaviours scimitar target
    never shows: per-operation failures, refusals, answers without bulkIds or lacking
    operations, a failure of the whole request."""

    def start(self, n, prefix="u", **fake):
        tgt = started(self, FakeTarget(token="t", **fake))
        srv = started(self, Serve())
        f = Flow(srv, tgt)
        names = ["%s%03d" % (prefix, i) for i in range(n)]
        caps = initial_sync(f, names)
        self.assertTrue(caps["bulk"]["supported"])
        return tgt, f, names

    def single_posts(self, tgt):
        return [r for r in tgt.seen() if r.method == "POST" and r.path.endswith("/Users")]

    def bulk_posts(self, tgt):
        return [r for r in tgt.seen() if r.method == "POST" and r.path.endswith("/Bulk")]

    def test_a_409_in_a_bulk_links_and_a_400_narrows(self):
        # "u005" exists on the target as "U005" but the listing hides it, so the initial
        # sync creates it in a Bulk request: that operation is answered 409
        box = {}

        def hide(path, body):
            if "startIndex" in path and "filter" not in path and "tgt" in box:
                st, out, _ = box["tgt"].scim("GET", path[len("/scim/v2"):])
                out["Resources"] = [u for u in out["Resources"] if u["userName"] != "U005"]
                out["totalResults"] -= 1
                return st, out, {}
            return None
        tgt = started(self, FakeTarget(token="t", lacks={"nickName"}, hooks={"GET": hide},
                                       bulk={"maxOperations": 20, "resources": True}))
        box["tgt"] = tgt
        existing = tgt.add_user({"userName": "U005"})
        srv = started(self, Serve())
        f = Flow(srv, tgt)
        n = 60
        names = ["u%03d" % i for i in range(n)]
        initial_sync(f, names)
        f.wait_status(lambda s: s["users"]["partiallySynced"] == n and s["pending"] == 0,
                      what="every user PARTIALLY_SYNCED (nickName refused)")
        self.assertEqual(len(tgt.user_list()), n)
        # the creates (and the PATCHes of nickName) travelled in Bulk requests, at most 20
        # operations each
        self.assertLessEqual(tgt.bulk_counts["largest"], 20)
        posts = [x for x in tgt.bulk_log if x[0] == "POST"]
        self.assertEqual(sorted(s for _, _, s in posts), [201] * (n - 1) + [409])
        self.assertEqual(self.single_posts(tgt), [])
        # the 409: looked up and linked to the existing account, no duplicate
        users = {u["username"]: u for u in f.rule_users()}
        self.assertEqual(users["u005"]["targetId"], existing["id"])
        self.assertEqual([x["action"] for x in f.logs(status="SUCCESS")
                          if x["username"] == "u005" and x["action"] == "LINK"], ["LINK"])
        # each create answered with the resource without nickName: the PATCH that sends it
        # is refused per operation and the attribute recorded as rejected
        patches = [x for x in tgt.bulk_log if x[0] == "PATCH" and x[2] == 400]
        self.assertGreaterEqual(len(patches), n - 1)
        for u in users.values():
            self.assertEqual([r["attribute"] for r in u["rejected"]], ["nickName"], u)
            self.assertIn("invalidPath", u["rejected"][0]["error"])

    def test_refused_bulk_is_learnt_and_writes_go_alone(self):
        for answer in (501, "malformed"):
            with self.subTest(answer=answer):
                tgt, f, names = self.start(60, bulk={"answer": answer})
                all_synced(f, 60)
                self.assertEqual(sorted(u["userName"] for u in tgt.user_list()), names)
                self.assertEqual(len(self.bulk_posts(tgt)), 1)
                learnt = f.ok("GET", "/api/v1/connections/%s/capabilities" % f.conn)["learnt"]
                self.assertIs(learnt["bulk"]["supported"], False)
                self.assertEqual(learnt["bulk"]["status"], 501 if answer == 501 else 200)
                self.assertIn("POST /Bulk answered", learnt["bulk"]["reason"])
                # what the Bulk request carried went alone; nothing failed. A 501 ran
                # nothing: 60 creates. A 2xx may have run it all (this one did): each
                # account is looked up first, found and linked, never created twice
                self.assertEqual(f.logs(status="FAILED"), [])
                links = [x for x in f.logs(status="SUCCESS") if x["action"] == "LINK"]
                if answer == 501:
                    self.assertEqual(len(self.single_posts(tgt)), 60)
                    self.assertEqual(links, [])
                else:
                    self.assertEqual(self.single_posts(tgt), [])
                    self.assertEqual(len(links), 60)
                # a new test finds Bulk offered: the learnt refusal is dropped
                caps = tested(f)
                self.assertNotIn("bulk", caps["learnt"])

    def test_answers_without_bulk_ids_match_in_order(self):
        tgt, f, names = self.start(60, bulk={"answer": "no_ids", "maxOperations": 25})
        all_synced(f, 60)
        ids = {u["userName"]: u["id"] for u in tgt.user_list()}
        self.assertEqual(sorted(ids), names)
        for u in f.rule_users():
            self.assertEqual(u["targetId"], ids[u["username"]])
        self.assertEqual(self.single_posts(tgt), [])
        self.assertGreaterEqual(len(self.bulk_posts(tgt)), 3)

    def test_an_answer_lacking_an_operation_sends_it_alone(self):
        tgt, f, names = self.start(60, bulk={"answer": "drop_last"})
        all_synced(f, 60)
        self.assertEqual(sorted(u["userName"] for u in tgt.user_list()), names)
        self.assertEqual(len(self.bulk_posts(tgt)), 1)
        self.assertEqual(len(self.single_posts(tgt)), 1)  # the one left out
        learnt = f.ok("GET", "/api/v1/connections/%s/capabilities" % f.conn)["learnt"]
        self.assertIn("holds the outcome of 59", learnt["bulk"]["reason"])

    def test_a_failed_bulk_request_is_each_call_failing(self):
        fails = {"left": 1}
        lock = threading.Lock()

        def unavailable(path, body):
            if path.endswith("/Bulk"):
                with lock:
                    if fails["left"] > 0:
                        fails["left"] -= 1
                        return 503, {"detail": "busy"}, {}
            return None
        tgt, f, names = self.start(60, hooks={"POST": unavailable}, bulk={})
        all_synced(f, 60)
        self.assertEqual(sorted(u["userName"] for u in tgt.user_list()), names)
        retries = [x for x in f.logs(status="RETRY") if x["action"] == "CREATE"]
        self.assertEqual(len(retries), 60)
        self.assertEqual({x["httpStatus"] for x in retries}, {503})
        self.assertEqual({x["error"] for x in retries}, {"POST /Bulk answered 503: busy"})
        # each retry looked its account up first (the create was maybe done) and created
        # it once, alone or in a Bulk request as the retries came due together or not
        self.assertGreaterEqual(len(tgt.calls("GET", "filter=")), 60)
        bulk_creates = [x for x in tgt.bulk_log if x[0] == "POST"]
        self.assertEqual(len(self.single_posts(tgt)) + len(bulk_creates), 60)
        learnt = f.ok("GET", "/api/v1/connections/%s/capabilities" % f.conn)["learnt"]
        self.assertNotIn("bulk", learnt)


if __name__ == "__main__":
    unittest.main()
