"""Entra ID's and Okta's documented SCIM request sequences (idp_sequences.py) replayed
step by step against `scimitar target`: every step must answer the status and body the
IdP needs."""
import unittest

import idp_sequences
from harness import Target


class TargetReplayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tgt = Target(token="tok")
        cls.tgt.start()

    @classmethod
    def tearDownClass(cls):
        cls.tgt.__exit__(None, None, None)

    def test_entra_sequence(self):
        n = idp_sequences.replay(self, self.tgt.scim, idp_sequences.entra())
        self.assertEqual(n, 26)

    def test_okta_sequence(self):
        n = idp_sequences.replay(self, self.tgt.scim, idp_sequences.okta())
        self.assertEqual(n, 19)


if __name__ == "__main__":
    unittest.main()
