"""test_vectors.py - elmo_cosine and elmo_json: values against Python's own arithmetic, BLOB
and JSON forms, NULL/zero-norm results, every bad vector's message, and the bit-exact
JSON round trip of float32 values."""
import json
import math
import random
import struct
import unittest

from elmo_sql import ElmoTestCase, cosine, embed, module_connection, to_blob

con = None
setUpModule, tearDownModule = module_connection(globals())


def sql_cosine(a, b):
    return con.execute("SELECT elmo_cosine(?, ?)", (a, b)).fetchone()[0]


class Cosine(ElmoTestCase):
    def test_known_values(self):
        self.assertAlmostEqual(sql_cosine("[1,2,3]", "[4,5,6]"),
                               32 / (math.sqrt(14) * math.sqrt(77)), places=15)
        self.assertEqual(sql_cosine("[1,0]", "[0,1]"), 0.0)
        self.assertAlmostEqual(sql_cosine("[1,2]", "[-2,-4]"), -1.0, places=15)
        self.assertEqual(sql_cosine("[3,4]", "[6,8]"), 1.0)  # clamped to [-1, 1]

    def test_blob_json_and_mixed_forms_agree(self):
        a, b = [0.25, -1.5, 3.0, 0.125], [1.0, 2.0, -0.5, 4.0]
        expected = cosine(a, b)
        for x in (to_blob(a), json.dumps(a)):
            for y in (to_blob(b), json.dumps(b)):
                self.assertAlmostEqual(sql_cosine(x, y), expected, places=12)

    def test_embeddings(self):
        x, y = embed(con, "The cat sat."), embed(con, "Stocks fell.")
        (c,) = con.execute("SELECT elmo_cosine(elmo_embed('The cat sat.'), "
                           "elmo_embed('Stocks fell.'))").fetchone()
        self.assertAlmostEqual(c, cosine(x, y), places=12)
        self.assertLess(c, 1.0)
        (same,) = con.execute("SELECT elmo_cosine(elmo_embed('The cat sat.'), "
                              "elmo_embed('The cat sat.'))").fetchone()
        self.assertAlmostEqual(same, 1.0, places=12)

    def test_scale_invariant(self):
        a = [random.Random(1).uniform(-1, 1) for _ in range(64)]
        b = [random.Random(2).uniform(-1, 1) for _ in range(64)]
        self.assertAlmostEqual(sql_cosine(to_blob(a), to_blob(b)),
                               sql_cosine(to_blob([8 * x for x in a]), to_blob(b)), places=12)

    def test_null_results(self):
        self.assertIsNone(sql_cosine(None, "[1]"))
        self.assertIsNone(sql_cosine("[1]", None))
        self.assertIsNone(sql_cosine("[0,0]", "[1,1]"))
        self.assertIsNone(sql_cosine(to_blob([1, 1]), to_blob([0, 0])))

    def test_errors(self):
        cases = [
            ("SELECT elmo_cosine(x'00000000', '[1,2]')",
             "elmo_cosine: vectors have different dimensions (1 and 2)"),
            ("SELECT elmo_cosine(zeroblob(4096), zeroblob(1024))",
             "elmo_cosine: vectors have different dimensions (1024 and 256)"),
            ("SELECT elmo_cosine(x'000000', '[1]')",
             "elmo_cosine: the first argument is a BLOB of 3 bytes, which is not a float32 "
             "vector (its length must be a multiple of 4)"),
            ("SELECT elmo_cosine('[1]', x'0000000000')",
             "elmo_cosine: the second argument is a BLOB of 5 bytes, which is not a float32 "
             "vector (its length must be a multiple of 4)"),
            ("SELECT elmo_cosine(x'', '[1]')",
             "elmo_cosine: the first argument is an empty vector"),
            ("SELECT elmo_cosine('[1]', '[]')",
             "elmo_cosine: the second argument is an empty vector"),
            ("SELECT elmo_cosine(1, '[1]')",
             "elmo_cosine: the first argument must be a float32 BLOB or a JSON array, got INTEGER"),
            ("SELECT elmo_cosine('[1]', 2.5)",
             "elmo_cosine: the second argument must be a float32 BLOB or a JSON array, got REAL"),
            ("SELECT elmo_cosine('hello', '[1]')",
             "elmo_cosine: the first argument is TEXT but not a JSON array of numbers such as "
             "'[0.5, -1.25]'"),
            ("SELECT elmo_cosine('{\"a\":1}', '[1]')",
             "elmo_cosine: the first argument is TEXT but not a JSON array of numbers such as "
             "'[0.5, -1.25]'"),
            ("SELECT elmo_cosine('[1, \"2\"]', '[1, 2]')",
             "elmo_cosine: the first argument is a JSON array whose element 1 is not a number"),
            ("SELECT elmo_cosine('[1, 1e39]', '[1, 2]')",
             "elmo_cosine: the first argument has a value at index 1 that is NaN, infinite or "
             "beyond float32 range"),
            ("SELECT elmo_cosine(x'0000c07f', x'0000803f')",  # NaN
             "elmo_cosine: the first argument has a value at index 0 that is NaN, infinite or "
             "beyond float32 range"),
            ("SELECT elmo_cosine(x'0000803f', x'0000807f')",  # +Inf
             "elmo_cosine: the second argument has a value at index 0 that is NaN, infinite or "
             "beyond float32 range"),
        ]
        for sql, message in cases:
            self.assertSqlError(con, sql, message=message)


class Json(ElmoTestCase):
    def test_round_trip_is_bit_exact(self):
        """Random float32 bit patterns (all finite classes: normal, subnormal, zero, signs)
        survive elmo_json -> JSON number -> float32."""
        rng = random.Random(1234)
        values = [0.0, -0.0, 1.0, -1.0, 0.1, 1 / 3, 3.4028234663852886e38, 1.1754943508222875e-38,
                  1.401298464324817e-45, 16777217.0]
        while len(values) < 4000:
            (f,) = struct.unpack("<f", struct.pack("<I", rng.getrandbits(32)))
            if math.isfinite(f):
                values.append(f)
        blob = struct.pack("<%df" % len(values), *values)
        (text,) = con.execute("SELECT elmo_json(?)", (blob,)).fetchone()
        parsed = json.loads(text)
        self.assertEqual(len(parsed), len(values))
        self.assertEqual(struct.pack("<%df" % len(parsed), *parsed), blob)

    def test_shortest_form(self):
        (text,) = con.execute("SELECT elmo_json(?)",
                              (to_blob([0.1, 1.0, -2.5, 0.0, -0.0, 1e-7]),)).fetchone()
        self.assertEqual(text, "[0.1,1,-2.5,0,-0.0,1e-07]")

    def test_embedding_as_json(self):
        (text, blob) = con.execute("SELECT elmo_json(elmo_embed('hello')), "
                                   "elmo_embed('hello')").fetchone()
        parsed = json.loads(text)
        self.assertEqual(struct.pack("<%df" % len(parsed), *parsed), blob)

    def test_json_text_is_normalised_and_nests_as_json(self):
        (text,) = con.execute("SELECT elmo_json('[ 1.0, 2e0 ,  0.5 ]')").fetchone()
        self.assertEqual(text, "[1,2,0.5]")
        (nested,) = con.execute("SELECT json_object('v', elmo_json(x'0000803f'))").fetchone()
        self.assertEqual(nested, '{"v":[1]}')  # an array, not a string: JSON subtype

    def test_null_and_errors(self):
        self.assertEqual(con.execute("SELECT elmo_json(NULL)").fetchone(), (None,))
        self.assertSqlError(con, "SELECT elmo_json(x'0000c07f')",
                            message="elmo_json: the argument has a value at index 0 that is NaN, "
                                    "infinite or beyond float32 range")
        self.assertSqlError(con, "SELECT elmo_json(x'01')",
                            message="elmo_json: the argument is a BLOB of 1 bytes, which is not "
                                    "a float32 vector (its length must be a multiple of 4)")
        self.assertSqlError(con, "SELECT elmo_json(7)",
                            message="elmo_json: the argument must be a float32 BLOB or a JSON "
                                    "array, got INTEGER")
        self.assertSqlError(con, "SELECT elmo_json(x'')",
                            message="elmo_json: the argument is an empty vector")


class Version(ElmoTestCase):
    def test_version(self):
        (v,) = con.execute("SELECT elmo_version()").fetchone()
        self.assertTrue(v.startswith("sqlite-elmo 0.1.0 ("), v)
        self.assertIn("HDF5", v)


if __name__ == "__main__":
    unittest.main()
