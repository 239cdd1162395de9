"""test_examples.py - every runnable example in sql/ runs through the sqlite3 CLI exactly as
documented (`sqlite3 :memory: -cmd ".load B/elmo" < sql/X.sql` from the repo root) without
any error, and shows what it claims."""
import glob
import os
import re
import unittest

from elmo_sql import ROOT, ElmoTestCase, run_cli

VEC0_DEFAULT = os.path.join(ROOT, "build", "vendor", "sqlite-vec", "vec0.so")
IN_CI = os.environ.get("CI", "").lower() == "true"


def run_example(name):
    with open(os.path.join(ROOT, "sql", name)) as f:
        return run_cli(f.read())


def line_values(out, key):
    """Values of `key = value` lines (.mode line output)."""
    return re.findall(r"^\s*%s = (.*)$" % re.escape(key), out, re.M)


def column_rows(out, header_start):
    """The rows of the .mode column table whose header line starts with header_start."""
    lines = out.splitlines()
    for k, line in enumerate(lines):
        if line.startswith(header_start) and k + 1 < len(lines) and lines[k + 1].startswith("-"):
            rows = []
            for j in range(k + 2, len(lines)):
                row = lines[j]
                next_is_rule = j + 1 < len(lines) and lines[j + 1].startswith("-")
                if not row.strip() or next_is_rule or re.match(r"^\s*\w+ = ", row):
                    break  # a blank line, the next table's header or .mode line output
                rows.append(row.split())
            return rows
    raise AssertionError("no table with header %r in:\n%s" % (header_start, out))


class Examples(ElmoTestCase):
    def run_ok(self, name):
        rc, out, err = run_example(name)
        self.assertEqual(err, "", name)
        self.assertEqual(rc, 0, name)
        self.assertNotIn("Error", out)
        return out

    def test_every_example_is_tested(self):
        names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "sql", "*.sql")))
        self.assertEqual(names, ["generated_column.sql", "quickstart.sql", "semantic_search.sql",
                                 "triggers.sql",
                                 "vec0_search.sql", "word_senses.sql"])

    def test_quickstart(self):
        out = self.run_ok("quickstart.sql")
        self.assertEqual(column_rows(out, "dims"), [["32"]])
        self.assertEqual(column_rows(out, "name "), [["default", "32", "3", "105120"]])
        tokens = column_rows(out, "i  token")
        self.assertEqual([r[1] for r in tokens],
                         ["Don", "'t", "panic", ":", "the", "U.S.", "team", "won", "6-3", "!"])
        self.assertEqual(column_rows(out, "top_dims"), [["32", "96", "32"]])
        (cat, stocks) = (float(x) for x in column_rows(out, "cat_vs_cat")[0])
        self.assertTrue(-1 <= stocks < cat <= 1)
        self.assertTrue(line_values(out, "version")[0].startswith("sqlite-elmo "))

    def test_semantic_search(self):
        out = self.run_ok("semantic_search.sql")
        self.assertEqual(column_rows(out, "embedded"), [["8", "32"]])
        # elmo_batch fills the same vectors as elmo_embed row by row
        self.assertEqual(column_rows(out, "batch_embedded"), [["8", "1.0"]])
        top = out.split("score")
        self.assertEqual(len(top), 3)  # two ranked result tables
        ranked = [l for l in top[1].splitlines() if re.match(r"^\d+\s", l)]
        self.assertEqual(len(ranked), 3)
        scores = [float(l.split()[-1]) for l in ranked]
        self.assertEqual(scores, sorted(scores, reverse=True))
        self.assertEqual(column_rows(out, "id  score"), [["3", "1.0"]])

    def test_triggers(self):
        out = self.run_ok("triggers.sql")
        steps = re.findall(r"^after (\w+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$", out, re.M)
        self.assertEqual(steps, [("insert", "3", "3", "3"), ("update", "3", "3", "3"),
                                 ("delete", "2", "2", "2")])
        self.assertEqual(line_values(out, "in_sync"), ["1"])

    def test_generated_column(self):
        out = self.run_ok("generated_column.sql")
        self.assertEqual(column_rows(out, "notes  current"), [["4", "4"]])
        self.assertEqual(column_rows(out, "id  recomputed"), [["1", "1"]])
        self.assertEqual(column_rows(out, "note  same_as"), [["4", "2"]])

    def test_word_senses(self):
        out = self.run_ok("word_senses.sql")
        self.assertEqual(line_values(out, "distinct_word_layer_vectors"), ["1"])
        self.assertEqual(line_values(out, "distinct_top_layer_vectors"), ["4"])
        self.assertEqual(line_values(out, "same_sense_is_closer"), ["1"])
        pairs = column_rows(out, "a  b  same_sense")
        self.assertEqual(len(pairs), 6)
        self.assertEqual([p[2] for p in pairs], ["1", "1", "0", "0", "0", "0"])
        self.assertTrue(all(float(p[3]) < 1.0 for p in pairs))  # the four vectors differ

    def test_vec0_search(self):
        if not os.path.exists(VEC0_DEFAULT):
            if IN_CI:
                self.fail("vec0.so missing at %s (CI=true)" % VEC0_DEFAULT)
            self.skipTest("vec0.so not found at %s" % VEC0_DEFAULT)
        out = self.run_ok("vec0_search.sql")
        self.assertEqual(column_rows(out, "sqlite_vec")[0][1], "32")
        tables = out.split("id  body")
        self.assertEqual(len(tables), 3)
        knn, scan = tables[1].split("\n", 2)[2], tables[2].split("\n", 2)[2]
        self.assertEqual(knn.strip(), scan.strip())  # same ids, bodies and scores
        self.assertEqual(len(re.findall(r"^\d+\s", knn, re.M)), 3)


if __name__ == "__main__":
    unittest.main()
