"""What `elmo embed` can read: a view (with --id), a filtered table (--where), any query
(--query, e.g. to cast values to text), long texts under raised limits (--max-tokens,
--max-text-bytes, in table and stream mode); a key that repeats is refused; and every message
names the program's flags, never SQL to run."""
import unittest

from elmo_cli import (TINY_DIR, DbCase, assert_no_sql_advice, assert_vectors_match,
                      expected_vectors, make_db, output_vectors, run, sentences)
from elmo_sql import connect


class Sources(DbCase):
    def setUp(self):
        super().setUp()
        make_db(self.db, sentences(80, seed=12),
                schema="CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT, lang TEXT, code)")
        self.query("UPDATE docs SET lang = CASE WHEN id % 3 = 0 THEN 'de' ELSE 'en' END, "
                   "code = 'c' || (id % 7)")

    def embed(self, *args):
        r = run("embed", self.db, *args, "--model", TINY_DIR)
        assert_no_sql_advice(self, r.stderr)
        return r

    def test_view_with_a_key(self):
        self.query("CREATE VIEW english AS SELECT id AS doc, body FROM docs WHERE lang = 'en'")
        r = self.embed("--table", "english", "--column", "body")
        self.assertEqual(r.returncode, 3)
        self.assertEqual(r.stderr, "elmo embed: 'english' is a view, which has no rowid; name its "
                                   "key column with --id\n")
        r = self.embed("--table", "english", "--column", "body", "--id", "doc")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("english_elmo has 54 vectors for 54 source rows", r.stderr)
        assert_vectors_match(self, output_vectors(self.db, "english_elmo"),
                             expected_vectors(self.db, table="english", key="doc"))
        self.assertEqual(self.query("SELECT type FROM pragma_table_info('english_elmo') WHERE "
                                    "name = 'id'"), [("",)])
        r = self.embed("--table", "english", "--column", "nope", "--id", "doc")
        self.assertEqual(r.stderr, "elmo embed: view 'english' has no column 'nope'; check "
                                   "--column\n")

    def test_where(self):
        r = self.embed("--table", "docs", "--column", "body", "--where", "lang = 'en'")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("docs_elmo has 54 vectors for 54 source rows", r.stderr)
        assert_vectors_match(self, output_vectors(self.db),
                             expected_vectors(self.db, where="lang = 'en'"))
        # rows that no longer match are like deleted ones: --prune removes their vectors
        self.query("UPDATE docs SET lang = 'fr' WHERE id IN (1, 2)")
        r = self.embed("--table", "docs", "--column", "body", "--where", "lang = 'en'")
        self.assertTrue(r.stderr.endswith("docs_elmo has 54 vectors for 52 source rows\nelmo "
                                          "embed: 2 vectors are of source rows that are gone; "
                                          "rerun with --prune to delete them\n"), r.stderr)
        r = self.embed("--table", "docs", "--column", "body", "--where", "lang = 'en'", "--prune")
        self.assertIn(", 2 pruned; docs_elmo has 52 vectors for 52 source rows\n", r.stderr)
        for where, message in [
                ("nope = 1", "elmo embed: --where: no such column: nope\n"),
                ("1; DROP TABLE docs", "elmo embed: --where: near \";\": syntax error\n")]:
            r = self.embed("--table", "docs", "--column", "body", "--where", where,
                           "--into", "w_vec")
            self.assertEqual((r.returncode, r.stderr), (3, message))
        self.assertEqual(self.query("SELECT count(*) FROM docs"), [(80,)])

    def test_query_casts_and_filters(self):
        self.query("UPDATE docs SET code = 1000 + id WHERE id <= 10")  # INTEGER values
        r = self.embed("--table", "docs", "--column", "code", "--into", "code_vec")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("70 rows embedded, 0 already current, 10 errors", r.stderr)
        (msg,) = self.query("SELECT DISTINCT message FROM code_vec_errors")[0]
        self.assertEqual(msg, "text must be TEXT or NULL, got INTEGER; to embed such values as "
                              "text: --query 'SELECT rowid, CAST(code AS TEXT) FROM docs' with "
                              "another --into")
        q = "SELECT id, CAST(code AS TEXT) FROM docs WHERE id <= 40;"
        r = self.embed("--query", q, "--into", "code_text")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("40 rows embedded, 0 already current, 0 errors", r.stderr)
        assert_vectors_match(self, output_vectors(self.db, "code_text"),
                             expected_vectors(self.db, column="CAST(code AS TEXT)",
                                              where="id <= 40"))
        for query, message in [
                ("SELECT id FROM docs", "--query must return 2 columns, a unique id and the text; "
                                        "it returns 1"),
                ("DELETE FROM docs", "--query must only read the database"),
                ("SELECT id, body FROM docs; SELECT 1, 2",
                 "--query must be one SELECT statement returning id, text"),
                ("SELECT id, body FROM nowhere", "--query: no such table: nowhere"),
                ("SELECT lang, body FROM docs", "the --query returns id 'de' on 26 rows; its "
                                                "first column must be a unique key (the output "
                                                "has one row per key)")]:
            r = self.embed("--query", query, "--into", "bad_vec")
            self.assertEqual((r.returncode, r.stderr), (3, "elmo embed: %s\n" % message), query)
        self.assertEqual(self.query("SELECT count(*) FROM docs"), [(80,)])

    def test_repeated_key_is_refused(self):
        r = self.embed("--table", "docs", "--column", "body", "--id", "lang")
        self.assertEqual(r.returncode, 3)
        self.assertEqual(r.stderr, "elmo embed: key 'de' is on 26 rows of docs; --id must name a "
                                   "unique column (the output has one row per key)\n")
        # a unique column is fine, and a WITHOUT ROWID table's key
        self.query("CREATE TABLE notes(k TEXT PRIMARY KEY, txt TEXT) WITHOUT ROWID")
        self.query("INSERT INTO notes SELECT 'n' || id, body FROM docs")
        r = self.embed("--table", "notes", "--column", "txt", "--id", "k", "--quiet")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        assert_vectors_match(self, output_vectors(self.db, "notes_elmo"),
                             expected_vectors(self.db, table="notes", column="txt", key="k"))

    def test_long_texts(self):
        long_text = " ".join(["word"] * 5000)
        self.query("UPDATE docs SET body = ? WHERE id = 5", (long_text,))
        r = self.embed("--table", "docs", "--column", "body")
        self.assertIn("79 rows embedded, 0 already current, 1 errors", r.stderr)
        self.assertEqual(self.query("SELECT message FROM docs_elmo_errors"), [
            ("text has 5000 tokens, more than --max-tokens 4096; raise it with --max-tokens N",)])
        r = self.embed("--table", "docs", "--column", "body", "--max-tokens", "5000")
        self.assertIn("1 rows embedded, 79 already current, 0 errors", r.stderr)
        assert_vectors_match(self, output_vectors(self.db),
                             expected_vectors(self.db, max_tokens=5000))
        # bytes
        self.query("UPDATE docs SET body = ? WHERE id = 6", ("x" * 2000,))
        r = self.embed("--table", "docs", "--column", "body", "--refresh", "--max-text-bytes",
                       "1000")
        self.assertEqual(self.query("SELECT id, message FROM docs_elmo_errors"), [
            (6, "text is 2000 bytes, more than --max-text-bytes 1000; raise it with "
                "--max-text-bytes N")])  # row 5 has its vector already

    def test_stream_limits(self):
        lines = "1\tone two three four\n2\tfine\n"
        r = run("embed", "--stream", "--model", TINY_DIR, "--max-tokens", "3", input=lines)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.splitlines()
        self.assertEqual(out[0], "1\tERROR: text has 4 tokens, more than --max-tokens 3; raise it "
                                 "with --max-tokens N")
        self.assertTrue(out[1].startswith("2\t["), out[1])
        r = run("embed", "--stream", "--model", TINY_DIR, "--max-tokens", "4", input=lines)
        con = connect()
        (want,) = con.execute("SELECT elmo_json(elmo_embed('one two three four'))").fetchone()
        con.close()
        self.assertEqual(r.stdout.splitlines()[0], "1\t" + want)


if __name__ == "__main__":
    unittest.main()
