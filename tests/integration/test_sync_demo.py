"""`scimitar demo --once`: the seed walkthrough on one machine exits 0 after the first full
sync and the live changes, and prints each section a person needs to see."""
import os
import subprocess
import unittest

from harness import BIN


class DemoTest(unittest.TestCase):

    def test_demo_once(self):
        r = subprocess.run([BIN, "demo", "--once"], capture_output=True, text=True,
                           timeout=600, stdin=subprocess.DEVNULL,
                           env=dict(os.environ, NO_COLOR="1"))
        out = r.stdout
        self.assertEqual(r.returncode, 0, "stdout:\n%s\nstderr:\n%s" % (out, r.stderr))
        for section in ("Test Connection", "Users on the target", "Live changes",
                        "Rule counters", "Console"):
            self.assertIn(section, out)
        self.assertIn("userName", out)
        self.assertIn("active:false", out.replace(" ", ""))
        self.assertIn("http://127.0.0.1:", out)
        self.assertNotIn("FAILED", out)
        # --once cleans up its temporary folder.
        for line in out.splitlines():
            if "Logs:" in line:
                path = line.split("Logs:", 1)[1].strip().split()[0]
                self.assertFalse(os.path.exists(path), path)


if __name__ == "__main__":
    unittest.main()
