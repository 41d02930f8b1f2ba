"""The committed stubs are what generate.sh produces from proto/ today."""

import pathlib
import subprocess
import unittest

CLIENT = pathlib.Path(__file__).resolve().parents[1]


class GeneratedStubsTest(unittest.TestCase):
    def test_the_committed_stubs_match_proto(self):
        result = subprocess.run(
            ["bash", str(CLIENT / "generate.sh"), "--check"], capture_output=True, text=True, timeout=120
        )
        self.assertEqual(result.returncode, 0, result.stderr)


if __name__ == "__main__":
    unittest.main()
