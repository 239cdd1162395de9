"""test_robustness.py - seeded random and adversarial inputs to every function: each call
either returns a value of the documented type or fails with an SQL error whose message
starts with the function's name and is valid UTF-8. The process must survive all of it
(under SAN=1 with AddressSanitizer/UBSan watching)."""
import json
import random
import sqlite3
import struct
import unittest

from elmo_sql import TINY_DIM, TINY_OPTIONS, TINY_WEIGHTS, ElmoTestCase, module_connection

con = None

ALPHABET = ['{', '}', '[', ']', '"', ':', ',', ' ', '\\', 'output', 'top', 'lstm', '1', '9',
            'gamma', 'layer_norm', 'true', 'null', '-', 'e', '.', '0', 'model', 'default',
            'tokenizer', 'pooling', 'max', 'all', 'word', '\u00e9', '\ud55c', 'x', '\n']


setUpModule, tearDownModule = module_connection(globals())


def random_text(rng, pieces):
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(pieces)))


def random_value(rng):
    kind = rng.randrange(6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.randrange(-10, 10)
    if kind == 2:
        return rng.uniform(-1e6, 1e6)
    if kind == 3:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 24)))
    return random_text(rng, 12)


class Robustness(ElmoTestCase):
    def setUp(self):  # a random elmo_unload('default') may have removed it
        con.execute("SELECT elmo_load('default', ?, ?)", (TINY_OPTIONS, TINY_WEIGHTS))

    def call(self, sql, params, fn):
        """Runs sql; returns the row, or None after checking the error message."""
        try:
            return con.execute(sql, params).fetchall()
        except sqlite3.Error as e:
            text = str(e)  # decoding it would fail on invalid UTF-8
            self.assertTrue(text.startswith(fn + ": ") or "wrong number of arguments" in text,
                            "%s%r: %s" % (sql, params, text))
            return None

    def test_random_options(self):
        rng = random.Random(7)
        accepted = 0
        for _ in range(1500):
            opts = random_text(rng, 10)
            row = self.call("SELECT elmo_embed('The bank raised rates.', ?)", (opts,), "elmo_embed")
            if row is not None:
                accepted += 1
                v = row[0][0]
                self.assertTrue(v is None or len(v) in (4 * TINY_DIM, 12 * TINY_DIM), opts)
            self.call("SELECT count(*) FROM elmo_tokens('a b', ?)", (opts,), "elmo_tokens")
        self.assertGreaterEqual(accepted, 5)  # some random texts are valid outputs ('top', ...)

    def test_random_json_objects(self):
        rng = random.Random(11)
        keys = ["model", "output", "gamma", "layer_norm", "tokenizer", "pooling", "other"]
        values = [None, True, False, 0, -1, 2.5, 1e308, -1e308, "", "top", "lstm2", "word", "all",
                  "max", "mean", "whitespace", "default", [], [1], [1, 2, 3], [1, "a", 3], {},
                  {"a": 1}, "x" * 300]
        ok = 0
        for _ in range(1500):
            obj = {rng.choice(keys): rng.choice(values) for _ in range(rng.randrange(4))}
            row = self.call("SELECT elmo_embed('a b c', ?)", (json.dumps(obj),), "elmo_embed")
            ok += row is not None
        self.assertGreater(ok, 50)

    def test_random_arguments_to_every_function(self):
        rng = random.Random(5)
        calls = [("SELECT elmo_embed(?)", 1, "elmo_embed"),
                 ("SELECT elmo_embed(?, ?)", 2, "elmo_embed"),
                 ("SELECT count(*) FROM elmo_tokens(?, ?)", 2, "elmo_tokens"),
                 ("SELECT elmo_cosine(?, ?)", 2, "elmo_cosine"),
                 ("SELECT elmo_json(?)", 1, "elmo_json"),
                 ("SELECT elmo_unload(?)", 1, "elmo_unload"),
                 ("SELECT elmo_load(?, ?, ?)", 3, "elmo_load")]
        for _ in range(400):
            for sql, n, fn in calls:
                self.call(sql, tuple(random_value(rng) for _ in range(n)), fn)
        # random paths load nothing (a random elmo_unload may have hit 'default')
        self.assertIn(con.execute("SELECT group_concat(name) FROM elmo_models").fetchone(),
                      [("default",), (None,)])

    def test_random_bytes_as_text(self):
        rng = random.Random(3)
        for _ in range(300):
            raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80)))
            row = self.call("SELECT elmo_embed(CAST(? AS TEXT), 'all')", (raw,), "elmo_embed")
            self.assertIsNotNone(row)
            v = row[0][0]
            if v is not None:
                self.assertEqual(len(v), 12 * TINY_DIM)
                self.assertTrue(all(x == x for x in struct.unpack("<%df" % (len(v) // 4), v)))

    def test_deeply_nested_and_huge_options(self):
        for opts in ["[" * 100000, "{" * 100000, '{"output":' + "[" * 5000 + "]" * 5000 + "}",
                     '{"output":[' + ",".join(["1"] * 100000) + "]}",
                     '{"gamma":1' + "0" * 1000 + "}", '{"model":"' + "m" * 100000 + '"}',
                     '{"\\u0000":1}', '{"model":"\\u0000"}', '{"output":"\\ud800"}']:
            self.call("SELECT elmo_embed('a', ?)", (opts,), "elmo_embed")


if __name__ == "__main__":
    unittest.main()
