"""`scimitar serve --allow-targets`: SCIM base URLs and OAuth token URLs outside the
list are refused when a connection is saved (the field named), and a destination that
only shows itself after DNS (a name resolving to a refused address) is refused when the
connection is made, with the same words in Test Connection and in the provisioning log."""
import json
import subprocess
import unittest

from harness import BIN, Serve, Target, free_port, wait_until
from seedflow import Flow, started

V1 = "/api/v1"
REFUSED = "destination 127.0.0.1 is not allowed by --allow-targets"


class AllowTargetsTest(unittest.TestCase):
    def test_bad_list_stops_serve(self):
        r = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:%d" % free_port(),
                            "--allow-targets", "10.0.0.0/99"], capture_output=True, text=True,
                           timeout=20, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("10.0.0.0/99", r.stderr)

    def test_refused_at_save_and_at_connect(self):
        tgt = started(self, Target(token="t", no_delete=True))
        srv = started(self, Serve(extra=["--allow-targets", "192.0.2.0/24,*.example.com"]))
        f = Flow(srv, tgt)
        # an address outside the list: refused at save, naming the field
        st, b, _ = srv.api("POST", V1 + "/connections", f.connection_body())
        self.assertEqual(st, 400, b)
        self.assertEqual(b["error"]["field"], "scim.baseUrl")
        self.assertIn(REFUSED, b["error"]["message"])
        st, b, _ = srv.api("POST", V1 + "/connections", f.connection_body(
            scim={"baseUrl": "https://scim.example.com/v2"},
            auth={"method": "OAUTH2_CLIENT_CREDENTIALS", "tokenUrl": "http://10.1.2.3/token",
                  "clientId": "c", "clientSecret": "s", "accessToken": None}))
        self.assertEqual(st, 400, b)
        self.assertEqual(b["error"]["field"], "auth.tokenUrl")
        self.assertIn("destination 10.1.2.3 is not allowed", b["error"]["message"])
        # a name is accepted at save time (the list has blocks), but it resolves to
        # 127.0.0.1: the connection is refused when it is made
        local = tgt.scim_base.replace("127.0.0.1", "localhost")
        cid = f.connection(scim={"baseUrl": local})
        st, r, _ = srv.api("POST", V1 + "/connections/%s/test" % cid)
        self.assertEqual(st, 200, r)
        self.assertIs(r["ok"], False, r)
        connect = [s for s in r["steps"] if s["name"] == "Connect"][0]
        self.assertFalse(connect["ok"], r)
        self.assertRegex(connect["detail"],
                         r"destination (127\.0\.0\.1|::1) is not allowed by --allow-targets")
        # the engine: the provisioning log says why nothing arrives
        f.population("P")
        f.user("ada", "P")
        f.new_rule({"match": "ALL", "conditions": [
            {"attribute": "population.name", "operator": "EQUALS", "value": "P"}]})
        f.enable()
        wait_until(lambda: "not allowed by --allow-targets" in json.dumps(f.logs()),
                   timeout=60, what="the refusal in the provisioning log")
        self.assertEqual(tgt.users(), [])

    def test_allowed_destination_works(self):
        tgt = started(self, Target(token="t", no_delete=True))
        srv = started(self, Serve(extra=["--allow-targets", "127.0.0.1, ::1"]))
        f = Flow(srv, tgt)
        f.population("P")
        f.user("ada", "P")
        f.setup(population="P")
        f.wait_target_count(1)
        st, r, _ = srv.api("POST", V1 + "/connections/%s/test" % f.conn)
        self.assertIs(r["ok"], True, r)


if __name__ == "__main__":
    unittest.main()
