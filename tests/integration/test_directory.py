"""The directory through the real `scimitar serve`: populations, users and groups over
REST (CRUD, paging, filters, import with bad rows, nested and dynamic groups), and bad
input (malformed JSON, unknown fields, oversize bodies, tokens, duplicates, unknown ids)."""
import socket
import threading
import unittest
import urllib.parse
import uuid

from harness import Serve, http

V1 = "/api/v1"


class DirectoryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Serve(extra=["--max-body", "2097152"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def api(self, method, path, body=None, **kw):
        return self.srv.api(method, V1 + path, body, **kw)

    def ok(self, method, path, body=None, status=200):
        st, b, _ = self.api(method, path, body)
        self.assertEqual(st, status, b)
        return b

    def err(self, method, path, body=None, status=400, field=None, **kw):
        st, b, _ = self.api(method, path, body, **kw)
        self.assertEqual(st, status, b)
        self.assertIn("error", b)
        self.assertTrue(b["error"]["message"])
        if field is not None:
            self.assertEqual(b["error"].get("field"), field, b)
        return b["error"]

    def population(self, name):
        return self.ok("POST", "/populations", {"name": name}, 201)

    def all_pages(self, path, limit):
        sep = "&" if "?" in path else "?"
        items, cursor, pages = [], None, 0
        while True:
            q = "%slimit=%d" % (sep, limit)
            if cursor:
                q += "&cursor=" + urllib.parse.quote(cursor)
            b = self.ok("GET", path + q)
            items += b["items"]
            pages += 1
            cursor = b["nextCursor"]
            if not cursor:
                return items, pages

    # ---- auth and malformed input ------------------------------------------------

    def test_auth(self):
        st, b, h = http("GET", self.srv.base + V1 + "/users")
        self.assertEqual(st, 401)
        self.assertEqual(b["error"]["code"], "UNAUTHORIZED")
        self.assertIn("bearer", h.get("www-authenticate", "").lower())
        self.err("GET", "/users", status=401, token="wrong-token-wrong-token")
        self.err("GET", "/populations", status=401, token="")

    def test_bad_bodies(self):
        self.population("BadBodies")
        st, b, _ = self.srv.api("POST", V1 + "/users", raw="{\"username\": ",
                                headers={"Content-Type": "application/json"})
        self.assertEqual(st, 400, b)
        self.err("POST", "/users", ["not", "an", "object"], 400)
        self.err("POST", "/users", {"username": "x", "population": {"name": "BadBodies"},
                                    "shoeSize": 44}, 400, "shoeSize")
        self.err("POST", "/users", {"username": "x", "population": {"name": "BadBodies"},
                                    "name": {"middle": "Q"}}, 400, "name.middle")
        self.err("POST", "/users", {"username": "x", "population": {"name": "BadBodies"},
                                    "email": "not-an-email"}, 400, "email")
        self.err("POST", "/users", {"username": "x", "population": {"name": "BadBodies"},
                                    "address": {"countryCode": "UK"}}, 400, "address.countryCode")
        self.err("POST", "/users", {"username": "x", "population": {"name": "BadBodies"},
                                    "title": "t" * 300}, 413, "title")
        self.err("POST", "/users", {"username": "x"}, 400, "population")
        self.err("POST", "/users", {"username": "x", "population": {"name": "Nowhere"}}, 400,
                 "population.name")
        self.err("POST", "/populations", {"name": "P", "colour": "red"}, 400, "colour")
        self.err("POST", "/groups", {"name": "G", "members": []}, 400, "members")
        # a body past the server's cap is refused from its Content-Length, before it is read
        with socket.create_connection(("127.0.0.1", self.srv.port), timeout=30) as sock:
            sock.sendall(("POST /api/v1/users/import HTTP/1.1\r\nHost: x\r\n"
                          "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                          "Content-Length: 3000000\r\n\r\n[" % self.srv.token).encode())
            reply = b""
            while b"\r\n" not in reply:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
        self.assertTrue(reply.startswith(b"HTTP/1.1 413"), reply[:200])

    def test_router_refusals(self):
        """What the router refuses before a handler sees the request: a body that is not
        JSON by its Content-Type or not UTF-8, an unknown route, a method the route does
        not have; each a JSON error naming the problem."""
        st, b, _ = self.srv.api("POST", V1 + "/populations", raw="name=Plain",
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(st, 400, b)
        self.assertEqual(b["error"]["code"], "INVALID_SYNTAX")
        self.assertIn("application/json", b["error"]["message"])
        self.assertIn("x-www-form-urlencoded", b["error"]["message"])
        st, b, _ = self.srv.api("POST", V1 + "/populations", raw=b'{"name": "\xff\xfe"}',
                                headers={"Content-Type": "application/json"})
        self.assertEqual(st, 400, b)
        self.assertEqual(b["error"]["code"], "INVALID_SYNTAX")
        self.assertIn("not valid UTF-8", b["error"]["message"])
        st, b, _ = self.srv.api("GET", V1 + "/nothing-here")
        self.assertEqual(st, 404, b)
        self.assertEqual(b["error"]["code"], "NOT_FOUND")
        self.assertIn("/api/v1/nothing-here", b["error"]["message"])
        st, b, _ = self.srv.api("PUT", V1 + "/populations")
        self.assertEqual(st, 405, b)
        self.assertEqual(b["error"]["code"], "NOT_SUPPORTED")
        self.assertIn("method PUT is not allowed on /api/v1/populations", b["error"]["message"])
        # outside /api/: a file the console does not have, and a method it does not serve
        st, b, _ = http("GET", self.srv.base + "/js/no-such-file.js")
        self.assertEqual(st, 404, b)
        self.assertIn("no such page", b["error"]["message"])
        st, b, _ = http("POST", self.srv.base + "/", raw=b"x")
        self.assertEqual(st, 404, b)
        # none of them wrote anything
        names = [p["name"] for p in self.ok("GET", "/populations")["items"]]
        self.assertNotIn("Plain", names)

    # ---- populations ---------------------------------------------------------------

    def test_population_crud(self):
        p = self.population("Finance")
        self.assertEqual(p["userCount"], 0)
        self.assertIsNone(p["description"])
        self.err("POST", "/populations", {"name": "FINANCE"}, 409, "name")
        p2 = self.ok("PATCH", "/populations/" + p["id"], {"description": "money"})
        self.assertEqual(p2["description"], "money")
        self.assertEqual(p2["name"], "Finance")
        self.assertEqual(self.ok("GET", "/populations/" + p["id"])["description"], "money")
        self.ok("POST", "/users", {"username": "fin1", "population": {"id": p["id"]}}, 201)
        self.assertEqual(self.ok("GET", "/populations/" + p["id"])["userCount"], 1)
        self.err("DELETE", "/populations/" + p["id"], status=409)
        u = self.ok("GET", "/users?population=" + p["id"])["items"][0]
        self.ok("DELETE", "/users/" + u["id"], status=204)
        self.ok("DELETE", "/populations/" + p["id"], status=204)
        self.err("GET", "/populations/" + p["id"], status=404)
        self.err("DELETE", "/populations/" + p["id"], status=404)
        self.err("PATCH", "/populations/" + str(uuid.uuid4()), {"name": "x"}, 404)

    # ---- users ---------------------------------------------------------------------

    def test_user_crud(self):
        pop = self.population("Sales")
        u = self.ok("POST", "/users", {
            "username": "ada", "name": {"given": "Ada", "family": "Lovelace",
                                        "formatted": "Ada Lovelace"},
            "title": "Engineer", "type": "Employee", "email": "ada@example.com",
            "primaryPhone": "+1 555 0100", "externalId": "E100",
            "address": {"streetAddress": "1 Main St", "locality": "Springfield",
                        "region": "IL", "postalCode": "62701", "countryCode": "us"},
            "population": {"name": "sales"}}, 201)
        uuid.UUID(u["id"])
        self.assertEqual(u["population"], {"id": pop["id"], "name": "Sales"})
        self.assertTrue(u["enabled"])
        self.assertEqual(u["address"]["countryCode"], "US")
        self.assertIsNone(u["nickname"])
        self.assertTrue(u["createdAt"].endswith("Z"))
        self.assertEqual(self.ok("GET", "/users/" + u["id"]), u)
        self.err("POST", "/users", {"username": "ADA", "population": {"id": pop["id"]}}, 409,
                 "username")
        u2 = self.ok("PATCH", "/users/" + u["id"], {"title": None, "nickname": "Countess",
                                                     "name": {"family": None},
                                                     "enabled": False})
        self.assertIsNone(u2["title"])
        self.assertEqual(u2["nickname"], "Countess")
        self.assertEqual(u2["name"]["given"], "Ada")
        self.assertIsNone(u2["name"]["family"])
        self.assertFalse(u2["enabled"])
        self.assertEqual(u2["createdAt"], u["createdAt"])
        other = self.population("Sales2")
        u3 = self.ok("PATCH", "/users/" + u["id"], {"population": {"name": "Sales2"}})
        self.assertEqual(u3["population"], {"id": other["id"], "name": "Sales2"})
        self.err("PATCH", "/users/" + u["id"], {"population": {"id": str(uuid.uuid4())}}, 400,
                 "population.id")
        self.err("PATCH", "/users/" + u["id"], {"id": "x"}, 400, "id")
        self.err("PATCH", "/users/" + u["id"], {"username": None}, 400, "username")
        self.ok("DELETE", "/users/" + u["id"], status=204)
        self.err("GET", "/users/" + u["id"], status=404)
        self.err("PATCH", "/users/" + u["id"], {"title": "x"}, 404)
        self.err("DELETE", "/users/" + u["id"], status=404)
        self.err("GET", "/users/" + u["id"] + "/groups", status=404)

    def test_paging_and_filters(self):
        self.population("Paging")
        self.population("Paging2")
        rows = [{"username": "pg%03d" % i, "title": "Engineer" if i % 3 == 0 else "Clerk",
                 "name": {"given": "Given%d" % i},
                 "population": {"name": "Paging2" if i % 5 == 0 else "Paging"}}
                for i in range(57)]
        b = self.ok("POST", "/users/import", rows)
        self.assertEqual(b, {"created": 57, "rejected": []})
        items, pages = self.all_pages("/users?q=pg", 10)
        self.assertEqual([u["username"] for u in items], ["pg%03d" % i for i in range(57)])
        self.assertEqual(pages, 6)
        f = urllib.parse.quote('username sw "pg01"')
        b = self.ok("GET", "/users?filter=" + f)
        self.assertEqual([u["username"] for u in b["items"]], ["pg%03d" % i for i in range(10, 20)])
        f = urllib.parse.quote('population.name eq "Paging2" and title eq "engineer"')
        items, _ = self.all_pages("/users?filter=" + f, 2)
        self.assertEqual([u["username"] for u in items], ["pg000", "pg015", "pg030", "pg045"])
        b = self.ok("GET", "/users?population=Paging2&limit=1000")
        self.assertEqual(len(b["items"]), 12)
        b = self.ok("GET", "/users?q=GIVEN5")
        self.assertEqual(sorted(u["username"] for u in b["items"]),
                         ["pg005", "pg050", "pg051", "pg052", "pg053", "pg054", "pg055", "pg056"])
        self.err("GET", "/users?filter=" + urllib.parse.quote("username zz"), status=400,
                 field="filter")
        self.err("GET", "/users?population=nowhere", status=400, field="population")
        self.err("GET", "/users?limit=0", status=400, field="limit")
        self.err("GET", "/users?cursor=zz", status=400, field="cursor")
        p_items, _ = self.all_pages("/populations", 1)
        self.assertIn("Paging2", [p["name"] for p in p_items])

    def test_import(self):
        self.population("Imports")
        b = self.ok("POST", "/users/import", [
            {"username": "imp1", "population": {"name": "Imports"}},
            {"username": "IMP1", "population": {"name": "Imports"}},
            {"username": "imp2", "email": "nope", "population": {"name": "Imports"}},
            {"username": "imp3", "population": {"name": "Gone"}},
            {"username": "imp4", "colour": "red", "population": {"name": "Imports"}},
            {"username": "imp5", "population": {"name": "Imports"}}])
        self.assertEqual(b["created"], 2)
        self.assertEqual([(r["index"], r["field"]) for r in b["rejected"]],
                         [(1, "username"), (2, "email"), (3, "population.name"), (4, "colour")])
        self.assertEqual(self.ok("GET", "/users?q=imp")["items"][1]["username"], "imp5")
        self.err("POST", "/users/import", {"username": "x"}, 400)
        self.err("POST", "/users/import",
                 [{"username": "x%d" % i} for i in range(5001)], 413)

    def test_concurrent_writes(self):
        """Parallel creates of the same usernames: each name is created exactly once, the
        others get 409, and no request fails on the database lock."""
        self.population("Racers")
        results = []
        lock = threading.Lock()

        def worker(n):
            for i in range(15):
                st, b, _ = self.api("POST", "/users", {"username": "racer%02d" % i,
                                                       "population": {"name": "Racers"}})
                with lock:
                    results.append((i, st, b))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i in range(15):
            codes = sorted(st for j, st, _ in results if j == i)
            self.assertEqual(codes, [201] + [409] * 5, [b for j, _, b in results if j == i])
        b = self.ok("GET", "/users?q=racer&limit=100")
        self.assertEqual(len(b["items"]), 15)

    # ---- groups --------------------------------------------------------------------

    def test_groups(self):
        self.population("Groupies")
        ada = self.ok("POST", "/users", {"username": "g-ada", "title": "Engineer",
                                         "population": {"name": "Groupies"}}, 201)
        bob = self.ok("POST", "/users", {"username": "g-bob", "title": "Clerk",
                                         "population": {"name": "Groupies"}}, 201)
        company = self.ok("POST", "/groups", {"name": "Company", "description": "all"}, 201)
        eng = self.ok("POST", "/groups", {"name": "Eng"}, 201)
        dyn = self.ok("POST", "/groups", {"name": "Engineers", "userFilter": {
            "match": "ALL", "conditions": [
                {"attribute": "title", "operator": "EQUALS", "value": "engineer"},
                {"attribute": "population.name", "operator": "IN", "value": ["Groupies"]}]}},
            201)
        self.assertEqual(dyn["userFilter"]["match"], "ALL")
        self.err("POST", "/groups", {"name": "company"}, 409, "name")
        self.err("POST", "/groups", {"name": "Bad", "userFilter": {"match": "ALL", "conditions": [
            {"attribute": "title", "operator": "SOUNDS_LIKE", "value": "x"}]}}, 400,
            "userFilter.conditions[0].operator")
        m = self.ok("POST", "/groups/%s/members" % company["id"], {"groupId": eng["id"]}, 201)
        self.assertEqual(m, {"type": "group", "id": eng["id"], "display": "Eng"})
        self.ok("POST", "/groups/%s/members" % eng["id"], {"groupId": dyn["id"]}, 201)
        self.ok("POST", "/groups/%s/members" % eng["id"], {"userId": bob["id"]}, 201)
        self.err("POST", "/groups/%s/members" % eng["id"], {"userId": bob["id"]}, 409, "userId")
        e = self.err("POST", "/groups/%s/members" % dyn["id"], {"groupId": company["id"]},
                     409, "groupId")
        self.assertIn("Company", e["message"])
        self.assertIn("cycle", e["message"])
        self.err("PATCH", "/groups/" + eng["id"], {"name": "COMPANY"}, 409, "name")
        self.err("POST", "/groups/%s/members" % eng["id"], {"groupId": eng["id"]}, 409,
                 "groupId")
        self.err("POST", "/groups/%s/members" % eng["id"], {"userId": str(uuid.uuid4())}, 404,
                 "userId")
        self.err("POST", "/groups/%s/members" % eng["id"], {"member": "x"}, 400, "member")
        self.err("POST", "/groups/%s/members" % str(uuid.uuid4()), {"userId": bob["id"]}, 404)

        direct, pages = self.all_pages("/groups/%s/members" % eng["id"], 1)
        self.assertEqual(pages, 2)
        self.assertEqual([(x["type"], x["display"]) for x in direct],
                         [("user", "g-bob"), ("group", "Engineers")])
        eff = self.ok("GET", "/groups/%s/members?effective=true" % company["id"])["items"]
        self.assertEqual(sorted(x["display"] for x in eff), ["g-ada", "g-bob"])
        eff = self.ok("GET", "/groups/%s/members?effective=true" % dyn["id"])["items"]
        self.assertEqual([x["display"] for x in eff], ["g-ada"])
        gs = self.ok("GET", "/users/%s/groups" % ada["id"])["items"]
        self.assertEqual([(g["name"], g["direct"]) for g in gs],
                         [("Company", False), ("Eng", False), ("Engineers", False)])
        gs = self.ok("GET", "/users/%s/groups" % bob["id"])["items"]
        self.assertEqual([(g["name"], g["direct"]) for g in gs],
                         [("Company", False), ("Eng", True)])

        # a user who stops matching leaves the dynamic group and what contains it
        self.ok("PATCH", "/users/" + ada["id"], {"title": "Manager"})
        self.assertEqual(self.ok("GET", "/users/%s/groups" % ada["id"])["items"], [])
        self.ok("DELETE", "/groups/%s/members/%s" % (eng["id"], bob["id"]), status=204)
        self.err("DELETE", "/groups/%s/members/%s" % (eng["id"], bob["id"]), status=404)
        self.assertEqual(self.ok("GET", "/users/%s/groups" % bob["id"])["items"], [])

        g2 = self.ok("PATCH", "/groups/" + dyn["id"], {"userFilter": None,
                                                       "description": "static now"})
        self.assertIsNone(g2["userFilter"])
        self.ok("DELETE", "/groups/" + eng["id"], status=204)
        self.assertEqual(self.ok("GET", "/groups/%s/members" % company["id"])["items"], [])
        self.err("GET", "/groups/" + eng["id"], status=404)
        self.err("GET", "/groups/%s/members" % eng["id"], status=404)
        self.err("GET", "/groups/%s/members?effective=maybe" % company["id"], status=400,
                 field="effective")
        names = [g["name"] for g in self.all_pages("/groups", 1)[0]]
        self.assertIn("Company", names)
        self.assertNotIn("Eng", names)


if __name__ == "__main__":
    unittest.main()
