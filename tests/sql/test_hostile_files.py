"""test_hostile_files.py - model files that block, lie, amplify or change, through the
sqlite3 CLI: each ends in a clean SQL error (exit status 1, never a signal or a hang) or a
correct load, within bounded memory, with no raw control byte on the terminal.

- a TF-Hub module whose data shard is a FIFO (blocked elmo_load forever, under the
  process-wide load lock): refused, within a timeout;
- tensor names holding terminal escapes: escaped in the message;
- a safetensors header of 24 M JSON values (48 MB): refused before parsing, in well under
  the 1.9 GB it took;
- options that pass validation but made every elmo_embed allocate GBs: a bounded call;
- a .safetensors file truncated while the CLI loads it (SIGBUS): an error or a whole load.

Peak memory is the CLI's own (ru_maxrss of that one child, measured by a small Python
parent). The TF-Hub module is written by $B/tests/test_hostile_files --write-tf."""
import json
import os
import struct
import subprocess
import sys
import threading
import time
import unittest

from elmo_sql import (B, EXT, ROOT, SAN, SQLITE3, TINY_OPTIONS, ElmoTestCase, cli_env,
                      genmodel, temp_dir)

WRITER = os.path.join(ROOT, B, "tests", "test_hostile_files")
CONVERT = os.path.join(ROOT, B, "bin", "elmo")
REGULAR_ONLY = "not a regular file; a model is read from regular files only"

# Runs the CLI (argv[2:]) as its only child, killed after argv[1] seconds, and prints
# [status or "timeout", stdout, stderr, peak RSS in KiB].
MEASURE = r"""
import json, resource, subprocess, sys
try:
    p = subprocess.run(sys.argv[2:], input=sys.stdin.read(), capture_output=True, text=True,
                       errors="surrogateescape", timeout=float(sys.argv[1]))
    result = [p.returncode, p.stdout, p.stderr]
except subprocess.TimeoutExpired:
    result = ["timeout", "", ""]
print(json.dumps(result + [resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))
"""


def cli(sql, env=None, timeout=60):
    """(status, stdout, stderr, peak RSS in MiB) of one sqlite3 CLI run; a run that takes
    longer than `timeout` seconds (a hang) is killed and fails the test."""
    args = [sys.executable, "-c", MEASURE, str(timeout), SQLITE3, ":memory:", "-cmd",
            ".load " + EXT]
    p = subprocess.run(args, input=sql, capture_output=True, text=True, cwd=ROOT,
                       env=cli_env(env), timeout=timeout + 30)
    status, out, err, rss_kib = json.loads(p.stdout)
    assert status != "timeout", "the sqlite3 CLI hung (killed after %d s)" % timeout
    for report in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        assert report not in err, "sanitizer report from the sqlite3 CLI:\n" + err
    return status, out, err, rss_kib / 1024


def safetensors(path, header, data=b""):
    text = json.dumps(header, separators=(",", ":")).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


class HostileFiles(ElmoTestCase):
    def setUp(self):
        self.dir = temp_dir()

    def tearDown(self):
        self.dir.cleanup()

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def test_fifo_shard(self):
        module = self.path("module")
        os.makedirs(os.path.join(module, "variables"))
        subprocess.run([WRITER, "--write-tf", "hub", TINY_OPTIONS,
                        os.path.join(module, "variables", "variables")], check=True, timeout=60)
        status, out, err, _ = cli("SELECT elmo_load('hub', '%s');\n" % module)
        self.assertEqual((status, out.strip(), err), (0, "hub", ""))  # loads as files
        shard = os.path.join(module, "variables", "variables.data-00000-of-00001")
        os.unlink(shard)
        os.mkfifo(shard)
        status, out, err, _ = cli("SELECT elmo_load('hub', '%s');\n" % module, timeout=30)
        self.assertEqual(status, 1)
        self.assertIn("elmo_load: cannot load model 'hub': checkpoint data file '%s' is a FIFO "
                      "(named pipe), %s" % (shard, REGULAR_ONLY), err)

    def test_escapes_in_names(self):
        path = self.path("esc.safetensors")
        safetensors(path, {"x\x1b[31mred\x07\r\x9b2J": {"dtype": "F16", "shape": [1],
                                                        "data_offsets": [0, 2]}}, b"\0\0")
        status, out, err, _ = cli("SELECT elmo_load('x', '%s');\n" % path)
        self.assertEqual(status, 1)
        self.assertIn("elmo_load: cannot load model 'x': safetensors file '%s': tensor "
                      "'x\\x1b[31mred\\x07\\x0d\\xc2\\x9b2J' has dtype 'F16'; valid dtypes: F32, "
                      "BF16" % path, err)
        control = [c for c in err if ord(c) < 0x20 and c != "\n" or 0x7f <= ord(c) < 0xa0]
        self.assertEqual(control, [], "raw control bytes reached the terminal")

    def test_header_bomb(self):
        path = self.path("bomb.safetensors")
        n = 24_000_000
        text = b'{"__metadata__":{"a":[' + b"0," * (n - 1) + b"0]}}"
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text)
        status, out, err, rss = cli("SELECT elmo_load('x', '%s');\n" % path)
        self.assertEqual(status, 1)
        self.assertIn("safetensors file '%s': the %d-byte header holds over 100000 JSON values"
                      % (path, len(text)), err)
        # The header itself is read (48 MB); its parse would have taken 1.9 GB.
        self.assertLess(rss, 600 if SAN else 250, "peak RSS %.0f MiB" % rss)

    def test_amplifying_options(self):
        opt, weights = genmodel(self.path("amp"), "--seed", "5", "--max-chars", "1024", "--filters",
                                "512:1", "--char-dim", "128", "--highway", "0", "--proj", "4",
                                "--dim", "4", "--layers", "1")
        words = " ".join("w%02d%s" % (i, "xyz"[i % 3]) for i in range(40))
        sql = ("SELECT elmo_load('amp', '%s', '%s');\nSELECT length(elmo_embed('%s', "
               "'{\"model\":\"amp\"}'));\n" % (opt, weights, words))
        status, out, err, rss = cli(sql, env={"ELMO_THREADS": "2"}, timeout=300)
        self.assertEqual((status, out.split(), err), (0, ["amp", "32"], ""))
        # 4.1 GB before the char CNN's scratch had a budget.
        self.assertLess(rss, 600 if SAN else 250, "peak RSS %.0f MiB" % rss)

    def test_truncated_while_loading(self):
        opt, weights = genmodel(self.path("m"), "--seed", "3", "--dim", "512", "--proj", "128")
        pristine = self.path("pristine.safetensors")
        subprocess.run([CONVERT, "convert", opt, weights, "-o", pristine], check=True,
                       timeout=60, stdout=subprocess.DEVNULL)
        with open(pristine, "rb") as f:
            data = f.read()
        path = self.path("m.safetensors")
        outcomes = {"loaded": 0, "error": 0}
        for delay_ms in (0, 5, 10, 15, 20, 30, 40, 60):
            with open(path, "wb") as f:
                f.write(data)
            timer = threading.Timer(delay_ms / 1000,
                                    lambda: os.truncate(path, len(data) // 2))
            timer.start()
            status, out, err, _ = cli("SELECT elmo_load('m', '%s');\n" % path)
            timer.join()
            self.assertIn(status, (0, 1), "the CLI died: status %d, %s" % (status, err))
            if status == 0:
                self.assertEqual(out.strip(), "m")
                outcomes["loaded"] += 1
            else:
                self.assertIn("elmo_load: cannot load model 'm': ", err)
                self.assertIn(path, err)
                outcomes["error"] += 1
        print("  truncated while loading: %(error)d clean errors, %(loaded)d whole loads"
              % outcomes)


if __name__ == "__main__":
    unittest.main()
