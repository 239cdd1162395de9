"""elmo_cli.py - helpers of the tests of the `elmo` program (tests/sql/test_cli_*.py).

The program is $B/elmo; it runs on real database files in a temporary directory. Under the
sanitizer build (SAN=1) it is itself an ASan binary: it runs without the LD_PRELOAD the
Python interpreter needs, and with leak detection on.
"""
import os
import random
import re
import sqlite3
import subprocess
import unittest

from elmo_sql import B, ROOT, SAN, TINY_DIR, connect, temp_dir

ELMO = os.path.join(ROOT, B, "bin", "elmo")

WORDS = ("the bank raised interest rates on Tuesday we sat by river of a and stocks fell "
         "sharply after announcement investors sold U.S. bonds committee said it would "
         "review new budget proposal before end year Don't panic !").split()


def cli_env(**extra):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env.pop("ELMO_MODEL", None)
    if SAN:
        env["ASAN_OPTIONS"] = "detect_leaks=1"
    env.update(extra)
    return env


class DbCase(unittest.TestCase):
    """A test with its own database file, self.db, in a temporary directory."""

    def setUp(self):
        self.tmp = temp_dir()
        self.db = os.path.join(self.tmp.name, "docs.db")

    def tearDown(self):
        self.tmp.cleanup()

    def query(self, sql, args=()):
        """Runs one statement on self.db (waiting for other writers) and commits."""
        con = sqlite3.connect(self.db, timeout=60)
        rows = con.execute(sql, args).fetchall()
        con.commit()
        con.close()
        return rows


def run(*args, input=None, env=None, timeout=120):
    """Runs `elmo ARGS`; returns the CompletedProcess (text stdout/stderr)."""
    return subprocess.run([ELMO] + [str(a) for a in args], input=input, env=env or cli_env(),
                          capture_output=True, text=True, timeout=timeout)


def popen(*args, env=None, **kw):
    return subprocess.Popen([ELMO] + [str(a) for a in args], env=env or cli_env(), **kw)


def sentences(n, seed=1, lo=3, hi=30):
    r = random.Random(seed)
    return [" ".join(r.choice(WORDS) for _ in range(r.randint(lo, hi))) for _ in range(n)]


def make_db(path, texts, schema="CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT)"):
    con = sqlite3.connect(path)
    con.execute(schema)
    con.executemany("INSERT INTO docs(body) VALUES (?)", [(t,) for t in texts])
    con.commit()
    con.close()


def count(n):
    """n as the program writes counts: with thousands separators."""
    return "{:,}".format(n)


# SQL a user of the program cannot act on: function calls, or messages that start with the
# name of the SQL function that raised them.
SQL_ADVICE = re.compile(r"\belmo_(limit|load|unload)\(|\belmo_(embed|batch|load|tokens): ")


def assert_no_sql_advice(test, text):
    """What the program prints names its flags, not SQL to run."""
    m = SQL_ADVICE.search(text)
    test.assertIsNone(m, "SQL advice in %r" % text)


def embed_args(db, *more):
    return ["embed", db, "--table", "docs", "--column", "body", "--model", TINY_DIR] + list(more)



def assert_vectors_match(test, got, want, label=""):
    """got, want: dicts id -> vector BLOB (or None); the engine gives a text the same bytes
    on every path, so they must be byte-equal."""
    test.assertEqual(sorted(got), sorted(want), label)
    for k in want:
        test.assertEqual(got[k], want[k], "%s id %r" % (label, k))


def expected_vectors(db, options=None, table="docs", column="body", key="rowid", where="1",
                     max_tokens=None):
    """id -> elmo_embed(column, options) of every row, from a fresh connection."""
    con = connect()
    if max_tokens:
        con.execute("SELECT elmo_limit('max_tokens', ?)", (max_tokens,))
    con.execute("ATTACH ? AS src", (db,))
    rows = con.execute("SELECT %s, elmo_embed(%s, ?) FROM src.%s WHERE %s"
                       % (key, column, table, where),
                       (options,)).fetchall()
    con.close()
    return dict(rows)


def output_vectors(db, into="docs_elmo"):
    con = sqlite3.connect(db)
    rows = con.execute("SELECT id, vector FROM %s" % into).fetchall()
    con.close()
    return dict(rows)
