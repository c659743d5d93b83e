"""The command-line client (`scimitar users|populations|groups|import|…`) driven as a
real process against a real `scimitar serve` on loopback: happy paths, --json output,
errors (missing or wrong token, unknown ids, bad flags) and bulk import of CSV and JSON
lines with bad rows reported by line."""
import json
import os
import subprocess
import tempfile
import unittest

from harness import BIN, Serve


def run(args, env=None, input=None):
    """Runs the scimitar binary with exactly env (plus PATH); returns CompletedProcess."""
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            e[k] = os.environ[k]
    e.update(env or {})
    return subprocess.run([BIN] + list(args), capture_output=True, text=True, env=e,
                          input=input, timeout=120)


class CliTestCase(unittest.TestCase):
    srv = None

    @classmethod
    def setUpClass(cls):
        cls.srv = Serve()
        cls.srv.start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="scimitar-cli-")

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)
        cls.tmp.cleanup()

    def cli(self, *args, input=None):
        return self.srv.cli(*args, input=input)

    def ok(self, *args, input=None):
        r = self.cli(*args, input=input)
        self.assertEqual(r.returncode, 0, "scimitar %s: %s%s" % (" ".join(args), r.stdout,
                                                                  r.stderr))
        return r

    def js(self, *args, input=None):
        return json.loads(self.ok(*(list(args) + ["--json"]), input=input).stdout)

    def fails(self, code, *args, input=None):
        r = self.cli(*args, input=input)
        self.assertEqual(r.returncode, code, "scimitar %s: %s%s" % (" ".join(args), r.stdout,
                                                                     r.stderr))
        return r

    def write(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w", newline="") as f:
            f.write(text)
        return path

    def population(self, name):
        st, body, _ = self.srv.api("POST", "/api/v1/populations", {"name": name})
        self.assertIn(st, (201, 409), body)
        return name


class TestUsage(CliTestCase):
    def test_help_lists_subcommands_and_options(self):
        r = self.ok("users", "--help")
        for sub in ("list", "get", "create", "update", "delete", "groups"):
            self.assertIn(sub, r.stdout)
        r = self.ok("users", "create", "--help")
        for opt in ("--username", "--email", "--given", "--family", "--population", "--field",
                    "--json-body"):
            self.assertIn(opt, r.stdout)
        r = self.ok("connections", "create", "--help")
        for opt in ("--base-url", "--access-token-file", "--access-token-env",
                    "--auth-type-header", "--user-filter-expression", "--remove-action",
                    "--no-allow-create"):
            self.assertIn(opt, r.stdout)
        r = self.ok("import", "--help")
        self.assertIn("Exit status", r.stdout)
        self.assertIn("rejected", r.stdout)
        self.ok("rules", "resync", "--help")
        self.assertIn("add-member", self.ok("help", "groups").stdout)
        self.ok("logs", "--help")

    def test_bad_flags_exit_2_with_usage(self):
        for args in (["users", "list", "--bogus"], ["users", "frobnicate"], ["users"],
                     ["users", "get"], ["users", "get", "a", "b"],
                     ["users", "list", "--limit", "0"], ["groups", "add-member"],
                     ["import"], ["import", "x.csv", "--batch", "0"], ["import", "x.txt"],
                     ["logs", "--limit", "abc"], ["logs", "extra"],
                     ["connections", "create", "--max-rps", "fast", "--name", "x"]):
            r = self.cli(*args)
            self.assertEqual(r.returncode, 2, "%s: %s%s" % (args, r.stdout, r.stderr))
            self.assertTrue(r.stderr.strip(), args)
        r = self.cli("users", "list", "--bogus")
        self.assertIn("usage: scimitar users list", r.stderr)
        self.assertIn("--bogus", r.stderr)

    def test_missing_token_exits_2(self):
        r = run(["users", "list"], env={"SCIMITAR_SERVER": self.srv.base})
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("SCIMITAR_TOKEN", r.stderr)
        r = run(["import", "x.csv"], env={"SCIMITAR_SERVER": self.srv.base})
        self.assertEqual(r.returncode, 2, r.stderr)

    def test_wrong_token_exits_1_and_is_never_printed(self):
        secret = "definitely-the-wrong-token-4242"
        r = run(["users", "list"], env={"SCIMITAR_SERVER": self.srv.base,
                                        "SCIMITAR_TOKEN": secret})
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("401", r.stderr)
        self.assertNotIn(secret, r.stderr + r.stdout)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_unreachable_server_exits_1(self):
        from harness import free_port
        r = run(["users", "list", "--server", "http://127.0.0.1:%d" % free_port()],
                env={"SCIMITAR_TOKEN": "whatever-token-value"})
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("cannot reach", r.stderr)
        r = run(["users", "list", "--server", "ftp://x"], env={"SCIMITAR_TOKEN": "t" * 20})
        self.assertEqual(r.returncode, 2, r.stderr)


class TestPopulationsAndUsers(CliTestCase):
    def test_population_lifecycle(self):
        r = self.ok("populations", "create", "--name", "Research", "--description", "R&D")
        self.assertIn("Research", r.stdout)
        pops = self.js("populations", "list")
        self.assertIn("Research", [p["name"] for p in pops["items"]])
        pid = [p["id"] for p in pops["items"] if p["name"] == "Research"][0]
        self.assertEqual(self.js("populations", "get", "research")["id"], pid)
        self.assertEqual(self.js("populations", "update", pid, "--description", "Labs")
                         ["description"], "Labs")
        r = self.fails(1, "populations", "create", "--name", "Research")
        self.assertIn("name", r.stderr)
        self.assertIn("409", r.stderr)
        table = self.ok("populations", "list").stdout
        self.assertIn("NAME", table.splitlines()[0])
        self.assertIn("Labs", table)
        self.ok("populations", "delete", "Research")
        self.fails(1, "populations", "get", pid)

    def test_user_lifecycle(self):
        self.population("Sales")
        r = self.ok("users", "create", "--username", "ada", "--email", "ada@example.com",
                    "--given", "Ada", "--family", "Lovelace", "--population", "Sales",
                    "--title", "Countess", "--country", "GB", "--field", "nickname=Ada")
        self.assertIn("ada@example.com", r.stdout)
        user = self.js("users", "get", "ada")
        self.assertEqual(user["name"]["given"], "Ada")
        self.assertEqual(user["population"]["name"], "Sales")
        self.assertEqual(user["address"]["countryCode"], "GB")
        self.assertEqual(user["nickname"], "Ada")
        self.assertTrue(user["enabled"])
        # table: a header row and the useful columns
        table = self.ok("users", "list", "--q", "ada").stdout.splitlines()
        self.assertEqual(table[0].split()[:3], ["ID", "USERNAME", "NAME"])
        row = [ln for ln in table if " ada " in ln][0]
        for cell in ("Ada Lovelace", "ada@example.com", "Sales", "yes"):
            self.assertIn(cell, row)
        # update by username and by id
        upd = self.js("users", "update", "ada", "--disabled", "--title", "Analyst")
        self.assertFalse(upd["enabled"])
        self.assertEqual(upd["title"], "Analyst")
        upd = self.js("users", "update", user["id"], "--field", "title=null")
        self.assertIsNone(upd["title"])
        self.fails(2, "users", "update", "ada")  # nothing to change
        # --json-body from stdin
        body = json.dumps({"username": "grace", "email": "grace@example.com",
                           "population": {"name": "Sales"}})
        made = self.js("users", "create", "--json-body", "-", input=body)
        self.assertEqual(made["username"], "grace")
        # filter
        found = self.js("users", "list", "--filter", 'username eq "grace"')
        self.assertEqual([u["username"] for u in found["items"]], ["grace"])
        self.ok("users", "delete", "grace")
        r = self.fails(1, "users", "get", "grace")
        self.assertIn("grace", r.stderr)

    def test_user_errors_name_the_field(self):
        self.population("Sales")
        r = self.fails(1, "users", "create", "--username", "bademail", "--email", "nope",
                       "--population", "Sales")
        self.assertIn("email", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        r = self.fails(1, "users", "create", "--username", "nopop", "--email", "n@example.com",
                       "--population", "No Such Population")
        self.assertIn("population", r.stderr)
        r = self.fails(1, "users", "get", "00000000-0000-4000-8000-000000000000")
        self.assertIn("404", r.stderr)
        self.fails(1, "users", "delete", "00000000-0000-4000-8000-000000000000")

    def test_list_all_follows_cursor(self):
        self.population("Paging")
        for i in range(7):
            self.ok("users", "create", "--username", "page%d" % i, "--email",
                    "page%d@example.com" % i, "--population", "Paging")
        one = self.js("users", "list", "--population", "Paging", "--limit", "3")
        self.assertEqual(len(one["items"]), 3)
        self.assertTrue(one["nextCursor"])
        every = self.js("users", "list", "--population", "Paging", "--limit", "3", "--all")
        self.assertEqual(sorted(u["username"] for u in every["items"]),
                         ["page%d" % i for i in range(7)])
        table = self.ok("users", "list", "--population", "Paging", "--limit", "2", "--all")
        self.assertEqual(sum(1 for ln in table.stdout.splitlines() if "page" in ln), 7)
        partial = self.ok("users", "list", "--population", "Paging", "--limit", "2")
        self.assertIn("--all", partial.stderr)


class TestGroups(CliTestCase):
    def test_groups_members_and_effective_membership(self):
        self.population("Eng")
        self.ok("users", "create", "--username", "linus", "--email", "linus@example.com",
                "--population", "Eng")
        self.ok("groups", "create", "--name", "Kernel", "--description", "core")
        self.ok("groups", "create", "--name", "Engineering")
        self.ok("groups", "add-member", "Kernel", "--user", "linus")
        self.ok("groups", "add-member", "Engineering", "--group", "Kernel")
        members = self.js("groups", "members", "Engineering")
        self.assertEqual([(m["type"], m["display"]) for m in members["items"]],
                         [("group", "Kernel")])
        eff = self.js("groups", "members", "Engineering", "--effective")
        self.assertEqual([m["display"] for m in eff["items"]], ["linus"])
        groups = self.js("users", "groups", "linus")
        self.assertEqual(sorted(g["name"] for g in groups["items"]), ["Engineering", "Kernel"])
        table = self.ok("users", "groups", "linus").stdout
        self.assertIn("direct", table)
        # a cycle is refused with the field named
        r = self.fails(1, "groups", "add-member", "Kernel", "--group", "Engineering")
        self.assertIn("groupId", r.stderr)
        self.fails(2, "groups", "add-member", "Kernel")
        self.fails(2, "groups", "add-member", "Kernel", "--user", "linus", "--group", "x")
        # dynamic group from a filter file
        flt = self.write("f.json", json.dumps({"match": "ALL", "conditions": [
            {"attribute": "population.name", "operator": "EQUALS", "value": "Eng"}]}))
        dyn = self.js("groups", "create", "--name", "EngDynamic", "--filter-json", flt)
        self.assertEqual(dyn["userFilter"]["match"], "ALL")
        listing = self.ok("groups", "list").stdout
        self.assertRegex(listing, r"EngDynamic\s+dynamic")
        self.assertRegex(listing, r"Kernel\s+static")
        self.ok("groups", "remove-member", "Engineering", "Kernel")
        self.assertEqual(self.js("groups", "members", "Engineering")["items"], [])
        self.fails(1, "groups", "remove-member", "Engineering", "Kernel")
        self.ok("groups", "delete", "EngDynamic")
        self.fails(1, "groups", "get", "EngDynamic")


class TestImport(CliTestCase):
    def test_csv_with_quotes_and_bad_rows(self):
        self.population("Imported")
        csv_text = (
            '\ufeffUsername,Given Name,Family Name,Email Address,Population,'
            'address.countryCode,enabled,Title\r\n'
            'imp1,"Smith, Jr",Doe,imp1@example.com,Imported,US,true,"Says ""hi"""\r\n'
            'imp2,Bad,Email,not-an-email,Imported,US,yes,\r\n'
            'imp3,"Multi\nLine",Name,imp3@example.com,Imported,GB,no,"a\r\nb"\r\n'
            'imp4,Bad,Bool,imp4@example.com,Imported,US,maybe,\r\n'
            '\r\n'
            'imp5,Short,Row,imp5@example.com\r\n'
            'imp6,No,Pop,imp6@example.com,Nowhere,US,1,\r\n'
            'imp7,Good,Row,imp7@example.com,Imported,FR,,CTO\r\n')
        path = self.write("users.csv", csv_text)
        r = self.fails(1, "import", path)
        out = r.stdout
        self.assertIn("2 created", out)
        self.assertIn("5 rejected", out)
        self.assertRegex(out, r"line 3: email")
        # the record with line breaks inside quotes is one row (lines 4-6); the server
        # refuses control characters in names, and the lines after it keep their numbers
        self.assertRegex(out, r"line 4: name.given")
        self.assertRegex(out, r"line 7: enabled")
        self.assertRegex(out, r"line 9: .*fields")
        self.assertRegex(out, r"line 10: population")
        # good rows are kept, quoted values intact
        u1 = self.js("users", "get", "imp1")
        self.assertEqual(u1["name"]["given"], "Smith, Jr")
        self.assertEqual(u1["title"], 'Says "hi"')
        self.assertTrue(u1["enabled"])
        self.assertEqual(self.js("users", "get", "imp7")["title"], "CTO")
        self.fails(1, "users", "get", "imp2")
        # --json report
        rep = json.loads(self.fails(1, "import", "--json", path).stdout)
        self.assertEqual(rep["created"], 0)  # the good usernames are taken now
        self.assertEqual([x["line"] for x in rep["rejected"]], [2, 3, 4, 7, 9, 10, 11])
        self.assertEqual(rep["rejected"][0]["field"], "username")

    def test_csv_limits_and_unterminated_quote(self):
        self.population("Limits")
        text = ("username,email,population\n"
                "lim1,lim1@example.com,Limits\n"
                "lim2,%s,Limits\n"
                "lim3,lim3@example.com,Limits\n"
                'lim4,"lim4@example.com,Limits\n'
                "never,closed,row\n") % ("x" * 70000)
        r = self.fails(1, "import", self.write("limits.csv", text))
        self.assertIn("2 created", r.stdout)
        self.assertRegex(r.stdout, r"line 3: .*longer than")
        self.assertRegex(r.stdout, r"line 5: .*never closed")
        self.ok("users", "get", "lim3")

    def test_clean_csv_exits_0_in_batches(self):
        self.population("Batch")
        rows = ["username,email,population.name"] + [
            "batch%03d,batch%03d@example.com,Batch" % (i, i) for i in range(25)]
        path = self.write("batch.csv", "\n".join(rows) + "\n")
        r = self.ok("import", "--batch", "7", path)
        self.assertIn("25 created", r.stdout)
        self.assertIn("0 rejected", r.stdout)
        got = self.js("users", "list", "--population", "Batch", "--all")
        self.assertEqual(len(got["items"]), 25)

    def test_json_lines(self):
        self.population("Jsonl")
        lines = [
            json.dumps({"username": "jl1", "email": "jl1@example.com",
                        "population": {"name": "Jsonl"}, "name": {"given": "J"}}),
            "",
            "{not json",
            json.dumps([1, 2]),
            json.dumps({"username": "jl2", "email": "jl2@example.com",
                        "population": {"name": "Jsonl"}}),
            json.dumps({"username": "jl3", "email": "bad", "population": {"name": "Jsonl"}}),
        ]
        path = self.write("users.json", "\n".join(lines))
        r = self.fails(1, "import", path)
        self.assertIn("2 created", r.stdout)
        self.assertRegex(r.stdout, r"line 3: .*JSON")
        self.assertRegex(r.stdout, r"line 4: .*object")
        self.assertRegex(r.stdout, r"line 6: email")
        self.assertEqual(self.js("users", "get", "jl1")["name"]["given"], "J")
        # stdin with --format
        more = json.dumps({"username": "jl4", "email": "jl4@example.com",
                           "population": {"name": "Jsonl"}}) + "\n"
        self.ok("import", "--format", "jsonl", "-", input=more)
        self.ok("users", "get", "jl4")

    def test_refused_batch_stops_the_import(self):
        path = self.write("stop.csv", "username,email,population\nstop1,s@example.com,X\n")
        r = run(["import", path], env={"SCIMITAR_SERVER": self.srv.base,
                                       "SCIMITAR_TOKEN": "a-wrong-token-for-import"})
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("401", r.stderr)
        self.assertIn("stopped", r.stdout)
        self.assertNotIn("a-wrong-token-for-import", r.stdout + r.stderr)

    def test_unusable_header_exits_2(self):
        path = self.write("bad.csv", "username,shoe size\nx,42\n")
        r = self.fails(2, "import", path)
        self.assertIn("shoe size", r.stderr)
        path = self.write("nouser.csv", "email\nx@example.com\n")
        r = self.fails(2, "import", path)
        self.assertIn("username", r.stderr)
        path = self.write("array.json", json.dumps([{"username": "arr"}]))
        r = self.fails(2, "import", path)
        self.assertIn("JSON lines", r.stderr)
        r = self.fails(1, "import", os.path.join(self.tmp.name, "missing.csv"))
        self.assertIn("missing.csv", r.stderr)


if __name__ == "__main__":
    unittest.main()
