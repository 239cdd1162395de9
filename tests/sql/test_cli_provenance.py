"""What made an output table of `elmo embed` (elmo_embed_provenance): recorded on the first
run and printed by --info; a run from another source is refused, --refresh or not; a run
with other options, model or precision is refused unless --refresh, which re-embeds every
row and says why. A table never holds vectors of two models or two widths, and a run stops
when another run changes what its table is made from."""
import json
import os
import re
import sqlite3
import subprocess
import unittest

from elmo_cli import (TINY_DIR, DbCase, assert_no_sql_advice, assert_vectors_match,
                      expected_vectors, make_db, output_vectors, popen, run, sentences)
from elmo_sql import connect, genmodel

ARGS = ["--table", "docs", "--column", "body"]


def model_row(path, precision="fp32"):
    """(real path, fingerprint, kernel) of a model as elmo_models shows it."""
    con = connect(load_default=False)
    con.execute("SELECT elmo_load('m', ?, ?)", (path, json.dumps({"precision": precision})))
    row = con.execute("SELECT weights_path, fingerprint, kernel FROM elmo_models WHERE name = 'm'"
                      ).fetchone()
    con.execute("SELECT elmo_unload('m')")  # the registry is the process's
    con.close()
    return row


def bf16_available():
    con = connect(load_default=False)
    try:
        con.execute("SELECT elmo_load('b', ?, '{\"precision\":\"bf16\"}')", (TINY_DIR,))
        con.execute("SELECT elmo_unload('b')")
        return True
    except sqlite3.Error:
        return False
    finally:
        con.close()


class Provenance(DbCase):
    def setUp(self):
        super().setUp()
        make_db(self.db, sentences(60, seed=3),
                schema="CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT, title TEXT)")
        self.query("UPDATE docs SET title = 'title ' || id")

    def embed(self, *more, model=TINY_DIR):
        return run("embed", self.db, *ARGS, "--model", model, *more)

    def test_recorded_and_printed_by_info(self):
        self.assertEqual(self.embed("--quiet").returncode, 0)
        path, fingerprint, kernel = model_row(TINY_DIR)
        r = run("embed", self.db, "--info", "docs_elmo")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        lines = r.stdout.splitlines()
        self.assertEqual(lines[:9], [
            "docs_elmo: vectors of docs.body, made by elmo embed",
            "  source       table docs, column body, key rowid",
            "  filter       none",
            "  options      none (the defaults)",
            "  model        %s" % path,
            "  fingerprint  %s" % fingerprint,
            "  precision    fp32 (kernel %s)" % kernel,
            "  dimension    32",
            lines[8],
        ])
        self.assertRegex(lines[8], r"^  created      \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ by elmo "
                                   r"0\.\d+\.\d+$")
        self.assertRegex(lines[9], r"^  updated      \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(lines[10:], ["  vectors      60 (0 NULL: no text or no tokens); widths: "
                                      "32 floats (60)",
                                      "  errors       0 in docs_elmo_errors"])
        self.assertEqual(self.query("SELECT output_table, errors_table, source_table, "
                                    "source_column, source_id, source_where, source_query, "
                                    "options, precision, dim FROM elmo_embed_provenance"),
                         [("docs_elmo", "docs_elmo_errors", "docs", "body", "rowid", None, None,
                           None, "fp32", 32)])
        r = run("embed", self.db, "--info", "nope")
        self.assertEqual(r.returncode, 3)
        self.assertEqual(r.stderr, "elmo embed: 'nope' has no record in elmo_embed_provenance: it "
                                   "was not made by elmo embed (or by a version that kept none); "
                                   "check the name, or rerun elmo embed with --refresh to "
                                   "re-embed it and record what made it\n")

    def test_another_source_is_refused_even_with_refresh(self):
        self.assertEqual(self.embed("--quiet").returncode, 0)
        before = output_vectors(self.db)
        for more in ([], ["--refresh"]):
            r = run("embed", self.db, "--table", "docs", "--column", "title", "--into",
                    "docs_elmo", "--model", TINY_DIR, *more)
            self.assertEqual(r.returncode, 8, r.stderr)
            self.assertEqual(r.stderr, "elmo embed: docs_elmo holds vectors of docs.body, not of "
                                       "docs.title; give another --into (--refresh re-embeds a "
                                       "table's own source, it does not change it)\n")
            r = self.embed("--where", "id > 10", *more)
            self.assertEqual(r.returncode, 8, r.stderr)
            self.assertIn("docs_elmo holds vectors of docs.body, not of docs.body where id > 10",
                          r.stderr)
        self.assertEqual(output_vectors(self.db), before)
        # under its own name the other column is fine
        r = run("embed", self.db, "--table", "docs", "--column", "title", "--model", TINY_DIR,
                "--into", "title_vec", "--quiet")
        self.assertEqual(r.returncode, 0, r.stderr)
        assert_vectors_match(self, output_vectors(self.db, "title_vec"),
                             expected_vectors(self.db, column="title"))

    def test_other_options_need_refresh_which_reembeds_every_row(self):
        self.assertEqual(self.embed("--quiet").returncode, 0)
        before = output_vectors(self.db)
        r = self.embed("--options", "top")
        self.assertEqual(r.returncode, 8)
        self.assertEqual(r.stderr, "elmo embed: docs_elmo was made with other settings: the "
                                   "options changed (the defaults -> {\"output\":\"top\"}); its "
                                   "vectors and this run's would not be comparable. Rerun with "
                                   "--refresh to re-embed all 60 rows, or give another --into\n")
        self.assertEqual(output_vectors(self.db), before)
        r = self.embed("--options", "top", "--refresh")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stderr.startswith(
            "elmo embed: docs_elmo was made with other settings: the options changed (the "
            "defaults -> {\"output\":\"top\"}): re-embedding all 60 rows (--refresh); its old "
            "vectors and errors are deleted\n"), r.stderr)
        self.assertIn("60 rows embedded, 0 already current", r.stderr)
        assert_vectors_match(self, output_vectors(self.db), expected_vectors(self.db, "top"))
        # the same options written otherwise are the same options
        for same in ('{"output":"top"}', ' {"gamma": null, "output": "top"}',
                     '{"output":"top","model":"default"}'):
            r = self.embed("--options", same)
            self.assertEqual(r.returncode, 0, (same, r.stderr))
            self.assertIn("0 rows embedded, 60 already current", r.stderr)
        self.assertEqual(self.query("SELECT options FROM elmo_embed_provenance"),
                         [('{"output":"top"}',)])

    def test_another_model_never_mixes_widths(self):
        self.assertEqual(self.embed("--quiet").returncode, 0)
        other = os.path.join(self.tmp.name, "other")
        genmodel(other, "--proj", "24", "--seed", "9")  # 48-wide vectors
        _, old_fp, _ = model_row(TINY_DIR)
        _, new_fp, _ = model_row(other)
        r = self.embed(model=other)
        self.assertEqual(r.returncode, 8)
        self.assertEqual(r.stderr, "elmo embed: docs_elmo was made with other settings: the model "
                                   "changed (fingerprint %s -> %s); the vector width changed (32 "
                                   "-> 48 floats); its vectors and this run's would not be "
                                   "comparable. Rerun with --refresh to re-embed all 60 rows, or "
                                   "give another --into\n" % (old_fp, new_fp))
        self.query("INSERT INTO docs(body) VALUES ('a row added since')")
        r = self.embed("--refresh", model=other)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("re-embedding all 61 rows (--refresh)", r.stderr)
        self.assertEqual(self.query("SELECT length(vector), count(*) FROM docs_elmo GROUP BY 1"),
                         [(4 * 48, 61)])
        self.assertEqual(self.query("SELECT fingerprint, dim FROM elmo_embed_provenance"),
                         [(new_fp, 48)])

    def test_precision(self):
        self.assertEqual(self.embed("--quiet").returncode, 0)
        help_text = run("embed", "--help").stdout
        auto = re.search(r"--precision auto loads (fp32|bf16)\.", help_text).group(1)
        r = self.embed("--precision", "auto", "--into", "auto_vec", "--quiet")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertEqual(self.query("SELECT precision FROM elmo_embed_provenance WHERE "
                                    "output_table = 'auto_vec'"), [(auto,)])
        if not bf16_available():
            self.skipTest("this CPU has no bf16 kernel")
        _, fp, kernel = model_row(TINY_DIR, "bf16")
        r = self.embed("--precision", "bf16")
        self.assertEqual(r.returncode, 8)
        self.assertIn("the precision changed (fp32 -> bf16)", r.stderr)
        self.assertTrue(r.stderr.endswith("Rerun with --refresh to re-embed all 60 rows, or give "
                                          "another --into (or --precision fp32, as it was "
                                          "made)\n"), r.stderr)
        r = self.embed("--precision", "bf16", "--refresh", "--quiet")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.query("SELECT precision, kernel, fingerprint FROM "
                                    "elmo_embed_provenance WHERE output_table = 'docs_elmo'"),
                         [("bf16", kernel, fp)])
        # a table made by another bf16 kernel (another CPU family rounds bf16 differently)
        self.query("UPDATE elmo_embed_provenance SET kernel = 'other-bf16' WHERE output_table = "
                   "'docs_elmo'")
        r = self.embed("--precision", "bf16")
        self.assertEqual(r.returncode, 8)
        self.assertIn("the bf16 kernel changed (other-bf16 -> %s: another CPU family rounds "
                      "differently)" % kernel, r.stderr)

    def test_table_without_record(self):
        self.query("CREATE TABLE docs_elmo(id INTEGER PRIMARY KEY, vector BLOB, text_hash INTEGER)")
        self.query("INSERT INTO docs_elmo VALUES (1, x'00000000', 0)")
        r = self.embed()
        self.assertEqual(r.returncode, 8)
        self.assertEqual(r.stderr, "elmo embed: docs_elmo has 1 rows but no record of what made "
                                   "them (another program, or an elmo embed that kept none); "
                                   "rerun with --refresh to re-embed it from docs.body and "
                                   "record that, or give another --into\n")
        r = self.embed("--refresh")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("docs_elmo has no record of what made it: re-embedding all 60 rows", r.stderr)
        assert_vectors_match(self, output_vectors(self.db), expected_vectors(self.db))
        # an empty table is simply taken
        self.query("CREATE TABLE empty_vec(id INTEGER PRIMARY KEY, vector BLOB, text_hash INTEGER)")
        r = self.embed("--into", "empty_vec", "--quiet")
        self.assertEqual((r.returncode, r.stderr), (0, ""))

    def test_an_empty_table_takes_the_new_settings(self):
        """Nothing to mix: a table emptied or dropped by hand is made anew, no --refresh."""
        self.assertEqual(self.embed("--quiet").returncode, 0)
        self.query("DELETE FROM docs_elmo")
        r = self.embed("--options", "top", "--quiet")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        assert_vectors_match(self, output_vectors(self.db), expected_vectors(self.db, "top"))
        self.query("DROP TABLE docs_elmo")
        r = run("embed", self.db, "--table", "docs", "--column", "title", "--into", "docs_elmo",
                "--model", TINY_DIR, "--quiet")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertEqual(self.query("SELECT source_column, options FROM elmo_embed_provenance"),
                         [("title", None)])

    def test_a_run_stops_when_another_changes_its_table(self):
        make_db(os.path.join(self.tmp.name, "big.db"), sentences(10000, seed=8))
        self.db = os.path.join(self.tmp.name, "big.db")
        proc = popen("embed", self.db, *ARGS, "--model", TINY_DIR, "--chunk", "32",
                     "--progress-interval", "0.05", stderr=subprocess.PIPE, text=True)
        proc.stderr.readline()  # at the start
        proc.stderr.readline()  # rows are being embedded
        con = sqlite3.connect(self.db, timeout=60, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        con.execute("UPDATE elmo_embed_provenance SET options = '{\"output\":\"top\"}'")
        (at_change,) = con.execute("SELECT count(*) FROM docs_elmo").fetchone()
        con.execute("COMMIT")
        con.close()
        rest = proc.stderr.read()
        proc.stderr.close()
        self.assertEqual(proc.wait(timeout=60), 8, rest)
        self.assertIn("elmo embed: another run of elmo embed changed what docs_elmo is made from "
                      "while this one ran (with --refresh, or another --model, --precision or "
                      "--options); this run stopped: see elmo embed %s --info docs_elmo\n"
                      % self.db, rest)
        self.assertLess(at_change, 10000)
        self.assertEqual(self.query("SELECT count(*) FROM docs_elmo"), [(at_change,)])

    def test_query_source(self):
        q = "SELECT id, title FROM docs WHERE id % 2 = 0"
        r = run("embed", self.db, "--query", q, "--into", "q_vec", "--model", TINY_DIR, "--quiet")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        r = run("embed", self.db, "--query", q + " AND id > 4", "--into", "q_vec", "--model",
                TINY_DIR, "--refresh")
        self.assertEqual(r.returncode, 8)
        self.assertEqual(r.stderr, "elmo embed: q_vec holds vectors of the --query '%s', not of "
                                   "the --query '%s AND id > 4'; give another --into (--refresh "
                                   "re-embeds a table's own source, it does not change it)\n"
                         % (q, q))
        r = run("embed", self.db, "--info", "q_vec")
        self.assertIn("  query        %s\n" % q, r.stdout)
        assert_no_sql_advice(self, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
