"""test_hdf5_hostile.py - a corrupted weights file whose compact dataset CNN/W_cnn_1
([1, 2, 4, 8]) stores 0 bytes (this used to crash the host in H5Dread) gives a clear SQL
error from elmo_load, in Python's sqlite3 and in the sqlite3 CLI, and the process exits 0
(CLI: 1, an SQL error) with nothing else on stderr. The file is written by the C test
binary $B/tests/test_hdf5_hostile --write-compact-short."""
import os
import subprocess
import sys
import unittest

from elmo_sql import B, ROOT, TINY_OPTIONS, TINY_WEIGHTS, ElmoTestCase, run_cli, temp_dir

WRITER = os.path.join(ROOT, B, "tests", "test_hdf5_hostile")


def message(weights):
    return ("elmo_load: cannot load model 'bad': weights file '%s': dataset 'CNN/W_cnn_1' "
            "stores 0 bytes for its 64 values (256 bytes expected); the file is truncated or "
            "corrupted; download it again" % weights)


# Runs in a fresh Python: the load must fail with an SQL error and the process exit 0.
CHILD = r"""
import sqlite3, sys
con = sqlite3.connect(":memory:")
con.enable_load_extension(True)
con.load_extension(sys.argv[1])
try:
    con.execute("SELECT elmo_load('bad', ?, ?)", (sys.argv[2], sys.argv[3])).fetchall()
    print("loaded")
except sqlite3.Error as e:
    print(e)
con.close()
"""


class CrashingFile(ElmoTestCase):
    def setUp(self):
        self.dir = temp_dir()
        self.weights = os.path.join(self.dir.name, "weights.hdf5")
        subprocess.run([WRITER, "--write-compact-short", TINY_WEIGHTS, self.weights],
                       check=True, timeout=60)

    def tearDown(self):
        self.dir.cleanup()

    def test_python_process(self):
        p = subprocess.run([sys.executable, "-c", CHILD, os.path.join(ROOT, B, "elmo"),
                            TINY_OPTIONS, self.weights],
                           capture_output=True, text=True, cwd=ROOT, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, message(self.weights) + "\n")
        self.assertEqual(p.stderr, "")

    def test_sqlite3_cli(self):
        rc, out, err = run_cli("SELECT elmo_load('bad', '%s', '%s');\n"
                               % (TINY_OPTIONS, self.weights))
        self.assertEqual(rc, 1)  # an SQL error, not a signal
        self.assertEqual(out, "")
        self.assertIn(message(self.weights), err)
        self.assertNotIn("HDF5", err)


if __name__ == "__main__":
    unittest.main()
