"""elmo_sql.py - shared helpers of the SQL tests (stdlib only).

Run the tests from the repository root with Debian's /usr/bin/python3 (its sqlite3 module can
load extensions). Environment: B (build dir, default build/release), SAN (1 under the
sanitizer build), SQLITE3 (the CLI, default sqlite3).
"""
import json
import math
import os
import re
import struct
import subprocess
import sqlite3
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
B = os.environ.get("B", "build/release")
EXT = os.path.join(ROOT, B, "elmo")
GENMODEL = os.path.join(ROOT, B, "elmo-genmodel")
SQLITE3 = os.environ.get("SQLITE3", "sqlite3")
SAN = os.environ.get("SAN", "0") == "1"

TINY_DIR = os.path.join(ROOT, "models", "elmo-tiny")
TINY_OPTIONS = os.path.join(TINY_DIR, "options.json")
TINY_WEIGHTS = os.path.join(TINY_DIR, "weights.hdf5")
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "elmo-tiny")

TINY_DIM = 32      # output width 2P of the tiny model
TINY_LAYERS = 3    # L + 1 output layers


def connect(load_default=True):
    """A new in-memory connection with the extension loaded (and the tiny model as
    'default')."""
    con = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    con.enable_load_extension(True)
    con.load_extension(EXT)
    con.enable_load_extension(False)
    if load_default:
        con.execute("SELECT elmo_load('default', ?, ?)", (TINY_OPTIONS, TINY_WEIGHTS))
    return con


def module_connection(namespace):
    """setUpModule and tearDownModule for a test module that shares one connection (tiny
    model as 'default') as its global `con`:
        setUpModule, tearDownModule = module_connection(globals())"""
    def set_up():
        namespace["con"] = connect()

    def tear_down():
        namespace["con"].close()

    return set_up, tear_down


def floats(blob):
    """A float32 vector BLOB as a list of Python floats."""
    assert isinstance(blob, bytes), "expected a BLOB, got %r" % (type(blob),)
    assert len(blob) % 4 == 0
    return list(struct.unpack("<%df" % (len(blob) // 4), blob))


def to_blob(xs):
    return struct.pack("<%df" % len(xs), *xs)


def opts_text(opts):
    """The SQL options argument for a dict (JSON), a string (bare) or None."""
    if opts is None or isinstance(opts, str):
        return opts
    return json.dumps(opts)


def embed(con, text, opts=None):
    """elmo_embed(text, opts) as floats (None for NULL)."""
    if opts is None:
        (v,) = con.execute("SELECT elmo_embed(?)", (text,)).fetchone()
    else:
        (v,) = con.execute("SELECT elmo_embed(?, ?)", (text, opts_text(opts))).fetchone()
    return None if v is None else floats(v)


def tokens(con, text, opts=None):
    """elmo_tokens(text, opts) rows as (i, token, start, end, vector floats)."""
    if opts is None:
        rows = con.execute('SELECT i, token, start, "end", vector FROM elmo_tokens(?)', (text,))
    else:
        rows = con.execute('SELECT i, token, start, "end", vector FROM elmo_tokens(?, ?)',
                           (text, opts_text(opts)))
    return [(i, tok, s, e, floats(v)) for i, tok, s, e, v in rows]


def vectors(con, text, opts=None):
    return [r[4] for r in tokens(con, text, opts)]


def mean_rows(rows):
    n = len(rows)
    return [sum(r[d] for r in rows) / n for d in range(len(rows[0]))]


def max_rows(rows):
    return [max(r[d] for r in rows) for d in range(len(rows[0]))]


def max_abs_diff(a, b):
    assert len(a) == len(b), "lengths differ: %d and %d" % (len(a), len(b))
    return max((abs(x - y) for x, y in zip(a, b)), default=0.0)


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def h5_dataset(path, name):
    """(shape, flat float values) of one dataset, printed by h5dump with 9 digits and
    no indices (-y)."""
    out = subprocess.run(["h5dump", "-d", name, "-m", "%.9g", "-y", "-w", "0", path],
                         capture_output=True, text=True, check=True).stdout
    shape = tuple(int(x) for x in re.search(r"DATASPACE\s+SIMPLE\s+\{\s*\(([^)]*)\)", out)
                  .group(1).split(","))
    data = out[out.index("DATA {") + len("DATA {"):]
    data = data[:data.index("}")]
    values = [float(x) for x in data.replace(",", " ").split()]
    return shape, values


def genmodel(out_dir, *args):
    """Writes a model with tools/elmo-genmodel; returns (options_path, weights_path)."""
    subprocess.run([GENMODEL, "--out", out_dir] + list(args), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return os.path.join(out_dir, "options.json"), os.path.join(out_dir, "weights.hdf5")


def cli_env(extra=None):
    """Environment for a sqlite3 CLI child: no ELMO_* unless given; under SAN, leak
    detection on (the CLI exits cleanly, unlike Python)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELMO_")}
    if SAN:
        env["ASAN_OPTIONS"] = "detect_leaks=1"
    env.update(extra or {})
    return env


def run_cli(sql, env_extra=None):
    """Runs SQL through the sqlite3 CLI from the repo root; returns (rc, stdout, stderr).
    A sanitizer report (SAN=1) fails the calling test."""
    args = [SQLITE3, ":memory:", "-cmd", ".load " + EXT]
    p = subprocess.run(args, input=sql, capture_output=True, text=True, cwd=ROOT,
                       env=cli_env(env_extra), timeout=120)
    for report in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        assert report not in p.stderr, "sanitizer report from the sqlite3 CLI:\n" + p.stderr
    return p.returncode, p.stdout, p.stderr


class ElmoTestCase(unittest.TestCase):
    def assertVectorsClose(self, a, b, tol=1e-6, what=""):
        self.assertIsNotNone(a, what)
        self.assertIsNotNone(b, what)
        self.assertEqual(len(a), len(b), what)
        d = max_abs_diff(a, b)
        self.assertLessEqual(d, tol, "%s: max |diff| = %g > %g" % (what, d, tol))

    def assertSqlError(self, con, sql, params=(), message=None, contains=None):
        """The statement fails with exactly `message` or with a message containing every
        string in `contains`."""
        with self.assertRaises(sqlite3.Error) as cm:
            con.execute(sql, params).fetchall()
        text = str(cm.exception)
        if message is not None:
            self.assertEqual(text, message)
        for part in ([contains] if isinstance(contains, str) else contains or []):
            self.assertIn(part, text)
        return text


def temp_dir():
    return tempfile.TemporaryDirectory(prefix="elmo_sql_test.")
