"""Many API writers at once: every change reaches the engine through its change event, once.

On PostgreSQL the API's transactions run side by side, and a consumer of "events after my
cursor" could skip an event whose number was drawn before another's but committed after
it (the store makes the event order the commit order). Here 8 clients create users at
once and then update them at once, with the rule already synced and no resync allowed
to run in between: a user or an update whose event the engine skipped would never reach
the target, one handled twice would be sent twice."""
import threading
import unittest

from harness import Serve, Target, wait_until
from seedflow import Flow, WAIT, started

POP = "Writers"
CLIENTS = 8
PER_CLIENT = 25


class ConcurrentWritersTest(unittest.TestCase):

    def setUp(self):
        self.tgt = started(self, Target(token="writers-token", no_delete=True))
        self.srv = started(self, Serve(extra=["--threads", str(CLIENTS)]))
        self.f = Flow(self.srv, self.tgt)

    def in_parallel(self, work):
        """Runs work(client) in CLIENTS threads; re-raises the first failure."""
        errors = []

        def run(c):
            try:
                work(c)
            except Exception as e:  # reported below, in the test's thread
                errors.append(e)
        threads = [threading.Thread(target=run, args=(c,)) for c in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]

    def test_every_event_reaches_the_engine_once(self):
        f = self.f
        f.population(POP)
        f.setup(population=POP)
        f.wait_status(lambda s: f.resyncs_total() >= 1 and s["pending"] == 0,
                      what="the first resync of an empty population")
        resyncs = f.resyncs_total()
        n = CLIENTS * PER_CLIENT
        ids = {}
        lock = threading.Lock()

        def create(c):
            for i in range(PER_CLIENT):
                name = "w%02d-%03d" % (c, i)
                uid = f.user(name, POP, title="Before")
                with lock:
                    ids[name] = uid
        self.in_parallel(create)
        f.wait_events_handled()
        f.wait_status(lambda s: s["pending"] == 0, what="the creates delivered")
        self.assertEqual(f.target_count(), n)
        self.assertEqual(f.stats().get("POST", 0), n)

        def update(c):
            for i in range(PER_CLIENT):
                f.patch_user(ids["w%02d-%03d" % (c, i)], {"title": "After"})
        self.in_parallel(update)
        f.wait_events_handled()
        f.wait_status(lambda s: s["pending"] == 0, what="the updates delivered")
        users = f.target_users()
        self.assertEqual(len(users), n)
        self.assertEqual(sorted(u["userName"] for u in users.values() if u["title"] != "After"),
                         [])
        stats = f.stats()
        self.assertEqual((stats.get("POST", 0), stats.get("PATCH", 0), stats.get("PUT", 0)),
                         (n, n, 0))
        # every user came through its own events: no full resync covered for one
        self.assertEqual(f.resyncs_total(), resyncs)
        wait_until(lambda: f.status()["pending"] == 0, timeout=WAIT, what="nothing queued")


if __name__ == "__main__":
    unittest.main()
