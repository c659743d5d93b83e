"""MATCHES patterns in user filters through the real `scimitar serve`: patterns that
glibc's regex crashed on or grew without bound on are refused at save time with the
field named; the same patterns written straight into the database (as an older version
could store them) leave the server up and make the evaluation fail cleanly, after a
restart too; a pattern over its match limit at run time fails only that evaluation."""
import json
import os
import tempfile
import unittest

from harness import Serve, Target, http, wait_until
from seedflow import Flow, started

V1 = "/api/v1"

# A back-reference pattern that made glibc's regexec segfault.
CRASH = r"(x|)(\1\1|t1|\1x)+"
# 35 bytes that grew serve to 22 GB in glibc's regcomp.
HUGE = "a{1,32767}b{1,32767}c{1,32767}"
# Valid, but exponential on a long run of a's that does not end in b.
SLOW = "^(a|aa)*b$"


def title_filter(pattern, population=None):
    conds = [{"attribute": "title", "operator": "MATCHES", "value": pattern}]
    if population:
        conds.insert(0, {"attribute": "population.name", "operator": "EQUALS",
                         "value": population})
    return {"match": "ALL", "conditions": conds}


class RegexFilterTest(unittest.TestCase):
    def test_refused_at_save(self):
        srv = started(self, Serve())
        tgt = started(self, Target(token="t"))
        f = Flow(srv, tgt)
        f.population("P")
        f.connection()
        rule = f.ok("POST", V1 + "/rules", {"name": "R", "target": f.conn})["id"]
        for pattern, words in ((CRASH, "back-references"), (HUGE, "above 255")):
            st, b, _ = srv.api("POST", V1 + "/groups",
                               {"name": "G", "userFilter": title_filter(pattern)})
            self.assertEqual(st, 400, b)
            self.assertEqual(b["error"]["field"], "userFilter.conditions[0].value")
            self.assertIn(words, b["error"]["message"])
            st, b, _ = srv.api("PUT", V1 + "/rules/%s/filter" % rule,
                               title_filter(pattern, "P"))
            self.assertEqual(st, 400, b)
            self.assertEqual(b["error"]["field"], "conditions[1].value")
            self.assertIn(words, b["error"]["message"])
            st, b, _ = srv.api("POST", V1 + "/rules", {
                "name": "R2", "target": f.conn, "filter": title_filter(pattern, "P")})
            self.assertEqual(st, 400, b)
            self.assertEqual(b["error"]["field"], "filter.conditions[1].value")
        st, _, _ = http("GET", srv.base + "/healthz")
        self.assertEqual(st, 200)

    def test_stored_patterns_fail_cleanly(self):
        tmp = tempfile.TemporaryDirectory(prefix="scimitar-regex-")
        self.addCleanup(tmp.cleanup)
        db = os.path.join(tmp.name, "scimitar.db")
        tgt = started(self, Target(token="t", no_delete=True))
        srv = started(self, Serve(db=db))
        f = Flow(srv, tgt)
        f.population("P")
        ada = f.user("ada", "P", title="xt1x")
        f.user("bob", "P", title="Clerk")
        dyn = f.group("Dyn", title_filter("^x"))
        f.setup(user_filter=title_filter("^x", "P"))
        f.wait_target_count(1)
        srv.stop()

        # what an older version let an admin save
        srv.sql("UPDATE dir_groups SET user_filter = ? WHERE id = ?",
                json.dumps(title_filter(CRASH)), dyn)
        srv.sql("UPDATE rules SET filter = ? WHERE id = ?", json.dumps(title_filter(HUGE, "P")),
                f.rule)

        for _ in range(2):  # and again after a restart
            srv = started(self, Serve(db=db))
            f.srv = srv
            st, b, _ = srv.api("GET", V1 + "/groups/%s/members?effective=true" % dyn)
            self.assertEqual(st, 200, b)
            self.assertEqual(b["items"], [])
            st, b, _ = srv.api("GET", V1 + "/users/%s/groups" % ada)
            self.assertEqual(st, 200, b)
            self.assertEqual(b["items"], [])
            # a change the engine must evaluate against the stored rule
            f.patch_user(ada, {"title": "xt1xt1x"})
            wait_until(lambda: "bad_group_filter" in srv.output() and
                       "rule.skipped" in srv.output(), what="the warnings")
            st, b, _ = http("GET", srv.base + "/healthz")
            self.assertEqual(st, 200, b)
            self.assertIsNone(srv.proc.poll())
            srv.stop()

    def test_match_limit_fails_the_evaluation(self):
        srv = started(self, Serve())
        f = Flow(srv, None)
        f.population("P")
        slow = f.user("slow", "P", title="a" * 60 + "b!")
        fast = f.user("fast", "P", title="aab")
        dyn = f.group("Slow", title_filter(SLOW))
        for _ in range(2):
            st, b, _ = srv.api("GET", V1 + "/groups/%s/members?effective=true" % dyn)
            self.assertEqual(st, 200, b)
            self.assertEqual([m["id"] for m in b["items"]], [fast])
        st, b, _ = srv.api("GET", V1 + "/users/%s/groups" % slow)
        self.assertEqual((st, b["items"]), (200, []))
        out = wait_until(lambda: "userfilter.match_failed" in srv.output() and srv.output(),
                         what="the warning")
        self.assertIn("field=conditions[0].value", out)
        self.assertIn("match limit", out)
        self.assertIsNone(srv.proc.poll())


if __name__ == "__main__":
    unittest.main()
