"""An Original-size model (93.6M parameters, generated with seeded random weights, since
the official weights cannot be downloaded here) through SQL: shapes, determinism and
batch/single agreement at full scale."""
import math
import unittest

from elmo_sql import ElmoTestCase, connect, embed, floats, genmodel, max_abs_diff, temp_dir

ORIGINAL_PARAMS = 93600848        # docs/model.md §11.2
SENTENCES = [
    "The bank raised interest rates on Tuesday.",
    "We sat on the bank of the river.",
    "Stocks fell sharply after the announcement, and investors sold U.S. bonds.",
    "Don't panic!",
    "A",
    "The committee said on Tuesday that it would review the new budget proposal before "
    "the end of the year.",
]


class OriginalScale(ElmoTestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = temp_dir()
        cls.options, cls.weights = genmodel(cls.tmp.name, "--shape", "original", "--seed", "11")
        cls.con = connect(load_default=False)
        cls.con.execute("SELECT elmo_load('original', ?, ?)", (cls.options, cls.weights))
        cls.opts = '{"model":"original"}'

    @classmethod
    def tearDownClass(cls):
        cls.con.execute("SELECT elmo_unload('original')")
        cls.con.close()
        cls.tmp.cleanup()

    def test_model_row(self):
        row = self.con.execute("SELECT dim, layers, params, bytes FROM elmo_models "
                               "WHERE name = 'original'").fetchone()
        self.assertEqual(row, (1024, 3, ORIGINAL_PARAMS, 4 * ORIGINAL_PARAMS))

    def test_shapes(self):
        (blob,) = self.con.execute("SELECT elmo_embed(?, ?)", (SENTENCES[0], self.opts)).fetchone()
        self.assertEqual(len(blob), 4 * 1024)
        vec = floats(blob)
        self.assertTrue(all(math.isfinite(x) for x in vec))
        self.assertGreater(max(abs(x) for x in vec), 1e-3)
        (blob,) = self.con.execute("SELECT elmo_embed(?, '{\"model\":\"original\","
                                   "\"output\":\"all\"}')", (SENTENCES[0],)).fetchone()
        self.assertEqual(len(blob), 4 * 3 * 1024)
        rows = self.con.execute("SELECT i, token, length(vector) FROM elmo_tokens(?, ?)",
                                (SENTENCES[2], self.opts)).fetchall()
        self.assertEqual([r[1] for r in rows][:4], ["Stocks", "fell", "sharply", "after"])
        self.assertEqual({r[2] for r in rows}, {4096})

    def test_deterministic(self):
        first = [self.con.execute("SELECT elmo_embed(?, ?)", (s, self.opts)).fetchone()[0]
                 for s in SENTENCES]
        again = [self.con.execute("SELECT elmo_embed(?, ?)", (s, self.opts)).fetchone()[0]
                 for s in SENTENCES]
        self.assertEqual(first, again)
        other = connect(load_default=False)  # another connection shares the loaded copy
        self.assertEqual([other.execute("SELECT elmo_embed(?, ?)", (s, self.opts)).fetchone()[0]
                          for s in SENTENCES], first)
        other.close()

    def test_batch_equals_single(self):
        self.con.execute("CREATE TEMP TABLE docs(id INTEGER PRIMARY KEY, body TEXT)")
        self.con.executemany("INSERT INTO docs(id, body) VALUES (?, ?)",
                             list(enumerate(SENTENCES, 1)))
        rows = self.con.execute("SELECT id, vector FROM elmo_batch('SELECT id, body FROM docs', "
                                "?)", (self.opts,)).fetchall()
        self.assertEqual([r[0] for r in rows], list(range(1, len(SENTENCES) + 1)))
        worst = 0.0
        for (i, blob), text in zip(rows, SENTENCES):
            single = embed(self.con, text, self.opts)
            worst = max(worst, max_abs_diff(floats(blob), single))
        print("Original size: elmo_batch vs elmo_embed max |diff| = %.3g" % worst)
        self.assertLessEqual(worst, 1e-6)
        self.con.execute("DROP TABLE docs")


if __name__ == "__main__":
    unittest.main()
