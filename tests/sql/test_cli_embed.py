"""`elmo embed DB --table T --column C`: the whole job on real database files: results equal
elmo_embed, resuming after SIGKILL, SIGINT/SIGTERM, bad rows, --refresh, --prune,
concurrent writers, progress lines on a pipe, exit codes and messages.
(test_cli_provenance.py: what made a table; test_cli_locks.py: other writers' locks;
test_cli_progress.py: the bar on a terminal; test_cli_sources.py: views, --where, --query,
limits.)"""
import os
import random
import re
import shlex
import signal
import sqlite3
import subprocess
import time
import unittest

from elmo_cli import (ELMO, TINY_DIR, DbCase, assert_no_sql_advice, assert_vectors_match,
                      cli_env, count, embed_args, expected_vectors, make_db, output_vectors,
                      popen, run, sentences)
from elmo_sql import ROOT, SAN, TINY_OPTIONS, TINY_WEIGHTS, connect


CliCase = DbCase


class Basics(CliCase):
    def test_embeds_every_row_like_elmo_embed(self):
        texts = sentences(230) + ["", "   ", None]
        make_db(self.db, texts)
        r = run(*embed_args(self.db, "--chunk", "50"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertIn("233 rows embedded, 0 already current, 0 errors", r.stderr)
        self.assertIn("docs_elmo has 233 vectors for 233 source rows", r.stderr)
        assert_vectors_match(self, output_vectors(self.db), expected_vectors(self.db))
        # text with no tokens and NULL text: a NULL vector, as elmo_embed gives
        self.assertEqual(self.query("SELECT count(*) FROM docs_elmo WHERE vector IS NULL"), [(3,)])
        self.assertEqual(self.query("PRAGMA journal_mode"), [("wal",)])
        cols = [c[1] for c in self.query("PRAGMA table_info(docs_elmo)")]
        self.assertEqual(cols, ["id", "vector", "text_hash"])
        self.assertEqual([c[1] for c in self.query("PRAGMA table_info(docs_elmo_errors)")],
                         ["id", "message", "text_hash"])
        # a rerun has nothing to do
        r = run(*embed_args(self.db))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("0 rows embedded, 233 already current, 0 errors", r.stderr)

    def test_options_id_into_and_env_model(self):
        con = sqlite3.connect(self.db)
        con.execute("CREATE TABLE notes(key TEXT PRIMARY KEY, txt TEXT) WITHOUT ROWID")
        con.executemany("INSERT INTO notes VALUES (?, ?)",
                        [("k%03d" % i, t) for i, t in enumerate(sentences(40, seed=5))])
        con.commit()
        con.close()
        r = run("embed", self.db, "--table", "notes", "--column", "txt", "--quiet")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(r.stderr, "elmo embed: table 'notes' has no rowid (it is WITHOUT ROWID); "
                                   "name its key column with --id\n")
        r = run("embed", self.db, "--table", "notes", "--column", "txt", "--id", "key",
                "--into", "note_vec", "--options", '{"output":"top"}', "--chunk", "7",
                "--quiet", env=cli_env(ELMO_MODEL=TINY_DIR))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        assert_vectors_match(self, output_vectors(self.db, "note_vec"),
                             expected_vectors(self.db, '{"output":"top"}', "notes", "txt", "key"))

    def test_precision_fp32(self):
        make_db(self.db, sentences(10))
        r = run(*embed_args(self.db, "--precision", "fp32", "--quiet"))
        self.assertEqual(r.returncode, 0, r.stderr)
        assert_vectors_match(self, output_vectors(self.db), expected_vectors(self.db))

    def test_precision_bf16(self):
        make_db(self.db, sentences(30))
        con = connect(load_default=False)
        try:
            con.execute("SELECT elmo_load('b16', ?, ?, '{\"precision\":\"bf16\"}')",
                        (TINY_OPTIONS, TINY_WEIGHTS))
        except sqlite3.Error as e:
            self.skipTest(str(e))  # a CPU without AVX512-BF16
        con.execute("ATTACH ? AS src", (self.db,))
        want = dict(con.execute("SELECT rowid, elmo_embed(body, '{\"model\":\"b16\"}') "
                                "FROM src.docs").fetchall())
        con.execute("SELECT elmo_unload('b16')")
        con.close()
        r = run(*embed_args(self.db, "--precision", "bf16", "--quiet"))
        self.assertEqual(r.returncode, 0, r.stderr)
        assert_vectors_match(self, output_vectors(self.db), want)
        self.assertNotEqual(want, expected_vectors(self.db))  # not the fp32 vectors


class Errors(CliCase):
    def test_exit_codes_and_messages(self):
        make_db(self.db, sentences(5))
        self.notdb = os.path.join(self.tmp.name, "notes.txt")
        with open(self.notdb, "w") as f:
            f.write("not a database, just some text that is long enough to have a header\n" * 20)
        cases = [
            (["embed"], 2, "elmo embed: give the database, --table and --column"),
            (embed_args(self.db, "--bogus"), 2, "elmo embed: unknown flag '--bogus'"),
            (embed_args(self.db, "--chunk", "0"), 2,
             "elmo embed: --chunk must be a whole number from 1 to 1000000, got '0'"),
            (embed_args(self.db, "--max-tokens", "x"), 2,
             "elmo embed: --max-tokens must be a whole number from 1 to 2147483647, got 'x'"),
            (embed_args(self.db, "--on-error=maybe"), 2,
             "elmo embed: --on-error must be 'skip' or 'fail', got 'maybe'"),
            (embed_args(self.db, "--precision", "fp8"), 2,
             "elmo embed: --precision must be fp32, bf16 or auto, got 'fp8'"),
            (embed_args(self.db, "--query", "SELECT 1, 2"), 2,
             "elmo embed: --query replaces --table, --column, --id and --where"),
            (["embed", self.db, "--query", "SELECT 1, 2"], 2,
             "elmo embed: --query needs --into TABLE, the output table"),
            (["nosuch"], 2, "elmo: unknown command 'nosuch'"),
            (embed_args(os.path.join(self.tmp.name, "none.db")), 3,
             "elmo embed: cannot open database '%s': no such file"
             % os.path.join(self.tmp.name, "none.db")),
            (embed_args(self.notdb), 3,
             "elmo embed: cannot open database '%s': file is not a database" % self.notdb),
            (["embed", self.db, "--table", "nope", "--column", "body"], 3,
             "elmo embed: no table or view 'nope' in '%s'; check --table" % self.db),
            (["embed", self.db, "--table", "docs", "--column", "nope"], 3,
             "elmo embed: table 'docs' has no column 'nope'; check --column"),
            (["embed", self.db, "--table", "docs", "--column", "body", "--id", "nope"], 3,
             "elmo embed: table 'docs' has no column 'nope'; check --id"),
            (["embed", self.db, "--table", "docs", "--column", "body"], 4,
             "elmo embed: no model: give --model PATH (a .safetensors file, or a directory with "
             "options.json and weights.hdf5), or set ELMO_MODEL to one\n"),
            (embed_args(self.db, "--model", self.tmp.name), 4,
             "elmo embed: cannot load --model '%s': directory '%s' holds no model: expected "
             "options.json + weights.hdf5" % (self.tmp.name, self.tmp.name)),
            (embed_args(self.db, "--options", '{"foo":1}'), 4,
             "elmo embed: --options: unknown option 'foo'; valid options: model, output, gamma, "
             "layer_norm, tokenizer, pooling\n"),
            (embed_args(self.db, "--max-tokens", "2"), 0, ""),
        ]
        for args, code, message in cases:
            r = run(*args)
            self.assertEqual(r.returncode, code, (args, r.stderr))
            self.assertTrue(r.stderr.startswith(message), (args, r.stderr))
            if code == 2 and args[0] == "embed":
                self.assertIn("see elmo embed --help", r.stderr)
            assert_no_sql_advice(self, r.stderr)

    def test_model_flag(self):
        make_db(self.db, sentences(5))
        r = run(*embed_args(self.db)[:-2], "--model", "/nonexistent/model")
        self.assertEqual(r.returncode, 4)
        self.assertEqual(r.stderr, "elmo embed: cannot load --model '/nonexistent/model': cannot "
                                   "open model '/nonexistent/model': No such file or directory\n")
        # a file that is not a model: the extension's message, exit 4
        readme = os.path.join(TINY_DIR, "README.md")
        r = run(*embed_args(self.db)[:-2], "--model", readme)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertTrue(r.stderr.startswith("elmo embed: cannot load --model '%s': " % readme),
                        r.stderr)
        # the environment's model: a missing path names the variable
        r = run(*embed_args(self.db)[:-2], env=cli_env(ELMO_MODEL="/nonexistent/model"))
        self.assertEqual(r.returncode, 4)
        self.assertEqual(r.stderr, "elmo embed: ELMO_MODEL is '/nonexistent/model', which does "
                                   "not exist; set it to a model (a .safetensors file or a "
                                   "directory with options.json and weights.hdf5), or give "
                                   "--model PATH\n")
        r = run(*embed_args(self.db)[:-2], env=cli_env(ELMO_MODEL=readme))
        self.assertEqual(r.returncode, 4)
        self.assertTrue(r.stderr.startswith("elmo embed: cannot load ELMO_MODEL='%s': " % readme),
                        r.stderr)
        # a single .safetensors file works like the directory it was converted from
        st = os.path.join(self.tmp.name, "tiny.safetensors")
        self.assertEqual(run("convert", TINY_DIR, "-o", st).returncode, 0)
        r = run(*embed_args(self.db)[:-2], "--model", st, "--quiet")
        self.assertEqual(r.returncode, 0, r.stderr)
        assert_vectors_match(self, output_vectors(self.db), expected_vectors(self.db))
        # bf16 where this CPU has no bf16 kernel (here: capped by ELMO_KERNEL); auto: fp32
        no_bf16 = cli_env(ELMO_KERNEL="avx512")
        r = run(*embed_args(self.db, "--precision", "bf16"), env=no_bf16)
        self.assertEqual(r.returncode, 4)
        self.assertTrue(r.stderr.startswith("elmo embed: cannot load --model '%s': " % TINY_DIR),
                        r.stderr)
        self.assertTrue(r.stderr.endswith("use --precision fp32 (or auto)\n"), r.stderr)
        assert_no_sql_advice(self, r.stderr)
        r = run(*embed_args(self.db, "--precision", "auto", "--into", "auto_vec", "--quiet"),
                env=no_bf16)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertEqual(self.query("SELECT precision FROM elmo_embed_provenance WHERE "
                                    "output_table = 'auto_vec'"), [("fp32",)])
        # --precision applies to the environment's model too
        r = run(*embed_args(self.db)[:6], "--precision", "fp32", "--into", "env_vec", "--quiet",
                env=cli_env(ELMO_MODEL=TINY_DIR))
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        assert_vectors_match(self, output_vectors(self.db, "env_vec"), expected_vectors(self.db))

    def test_help_and_version(self):
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("embed ", r.stdout)
        r = run("embed", "--help")
        self.assertEqual(r.returncode, 0)
        for flag in ("--table", "--column", "--id", "--where", "--query", "--into", "--model",
                     "--options", "--precision", "--max-tokens", "--max-text-bytes", "--chunk",
                     "--refresh", "--prune", "--on-error", "--quiet", "--info", "--stream",
                     "Exit codes", "Long texts"):
            self.assertIn(flag, r.stdout)
        assert_no_sql_advice(self, r.stdout)
        r = run("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^elmo 0\.\d+\.\d+ \(sqlite-elmo .*; SQLite 3\.")
        r = run()
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage: elmo COMMAND", r.stderr)

    def test_precision_guide_agrees_with_the_readme(self):
        """`elmo embed --help` and README.md ("Which precision") show one table of measured
        figures: the same CPU families, kernels, figures and choices of --precision auto."""
        help_text = run("embed", "--help").stdout
        start = help_text.index("  CPU family")
        rows = [re.split(r"\s{2,}", line.strip())
                for line in help_text[start:].splitlines()[1:] if line.startswith("  ")]
        with open(os.path.join(ROOT, "README.md")) as f:
            readme = f.read()
        section = readme[readme.index("### Which precision"):]
        table = [[c.strip().strip("`") for c in line.strip("|").split("|")][:4]
                 for line in section.splitlines()
                 if line.startswith("| ") and not line.startswith("| CPU family")]
        self.assertEqual(rows, table[:len(rows)])
        self.assertEqual(len(rows), 4)
        self.assertRegex(help_text, r"This CPU: fp32 runs on [a-z0-9-]+, bf16 (on [a-z0-9-]+|is "
                                    r"not available); --precision auto loads (fp32|bf16)\.")

    def test_not_an_output_table(self):
        make_db(self.db, sentences(5))
        self.query("CREATE TABLE docs_elmo(id INTEGER PRIMARY KEY, emb BLOB)")
        r = run(*embed_args(self.db))
        self.assertEqual(r.returncode, 3)
        self.assertEqual(r.stderr, "elmo embed: table 'docs_elmo' exists but is not an output "
                         "table of elmo embed (it has no column 'vector'); choose another --into\n")

    def test_bad_rows_go_to_the_errors_table(self):
        texts = sentences(60)
        make_db(self.db, texts)
        con = sqlite3.connect(self.db)
        con.execute("UPDATE docs SET body = x'00ff' WHERE id = 7")
        con.execute("UPDATE docs SET body = ? WHERE id = 33", (" ".join(["w"] * 5000),))
        con.commit()
        con.close()
        r = run(*embed_args(self.db, "--chunk", "16"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("58 rows embedded, 0 already current, 2 errors (see table "
                      "docs_elmo_errors)", r.stderr)
        self.assertEqual(self.query("SELECT id, message FROM docs_elmo_errors ORDER BY id"), [
            (7, "text must be TEXT or NULL, got BLOB; to embed such values as text: --query "
                "'SELECT rowid, CAST(body AS TEXT) FROM docs' with another --into"),
            (33, "text has 5000 tokens, more than --max-tokens 4096; raise it with "
                 "--max-tokens N"),
        ])
        want = expected_vectors(self.db, where="id NOT IN (7, 33)")
        assert_vectors_match(self, output_vectors(self.db), want)
        # fixing a row: the next run embeds it and clears its error
        self.query("UPDATE docs SET body = 'fixed now' WHERE id = 7")
        r = run(*embed_args(self.db))
        self.assertIn("1 rows embedded, 58 already current, 1 errors", r.stderr)
        self.assertEqual(self.query("SELECT id FROM docs_elmo_errors ORDER BY id"), [(33,)])
        # the limit the message names lets the row through
        r = run(*embed_args(self.db, "--max-tokens", "5000"))
        self.assertIn("1 rows embedded, 59 already current, 0 errors", r.stderr)
        assert_vectors_match(self, output_vectors(self.db), expected_vectors(
            self.db, max_tokens=5000))

    def test_on_error_fail(self):
        make_db(self.db, sentences(40))
        self.query("UPDATE docs SET body = x'00' WHERE id = 25")
        r = run(*embed_args(self.db, "--chunk", "10", "--on-error=fail", "--quiet"))
        self.assertEqual(r.returncode, 7)
        self.assertEqual(r.stderr, "elmo embed: row with id 25 failed: text must be TEXT or NULL, "
                         "got BLOB; to embed such values as text: --query 'SELECT rowid, "
                         "CAST(body AS TEXT) FROM docs' with another --into (recorded in "
                         "docs_elmo_errors); fix the row, or rerun with --on-error=skip to skip "
                         "such rows\n")
        # the chunks before it, and the good rows of its chunk, are kept; nothing after it
        self.assertEqual(self.query("SELECT count(*), max(id) FROM docs_elmo"), [(29, 30)])


class Maintenance(CliCase):
    def test_refresh_reembeds_exactly_the_changed_rows(self):
        make_db(self.db, sentences(50))
        self.assertEqual(run(*embed_args(self.db, "--quiet")).returncode, 0)
        before = output_vectors(self.db)
        self.query("UPDATE docs SET body = 'an entirely new text' WHERE id IN (4, 40)")
        self.query("UPDATE docs SET body = body WHERE id = 5")  # same text: not changed
        r = run(*embed_args(self.db))
        # changed rows are not "current": the summary says what to do about them
        self.assertIn("0 rows embedded, 48 already current, 0 errors", r.stderr)
        self.assertTrue(r.stderr.endswith(
            "; docs_elmo has 50 vectors for 50 source rows\nelmo embed: 2 rows changed since "
            "they were embedded and keep their old vectors; rerun with --refresh to re-embed "
            "them\n"), r.stderr)
        self.assertEqual(output_vectors(self.db), before)
        r = run(*embed_args(self.db, "--refresh"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("2 rows embedded, 48 already current", r.stderr)
        self.assertNotIn("changed since", r.stderr)
        after = output_vectors(self.db)
        self.assertEqual({k for k in after if after[k] != before[k]}, {4, 40})
        assert_vectors_match(self, after, expected_vectors(self.db))
        # other --options: every row is re-embedded, and the run says why
        r = run(*embed_args(self.db, "--refresh", "--options", "top"))
        self.assertIn("elmo embed: docs_elmo was made with other settings: the options changed "
                      "(the defaults -> {\"output\":\"top\"}): re-embedding all 50 rows "
                      "(--refresh); its old vectors and errors are deleted\n", r.stderr)
        self.assertIn("50 rows embedded, 0 already current", r.stderr)
        assert_vectors_match(self, output_vectors(self.db), expected_vectors(self.db, "top"))

    def test_prune(self):
        make_db(self.db, sentences(30))
        self.query("UPDATE docs SET body = x'00' WHERE id = 30")
        run(*embed_args(self.db, "--quiet"))
        self.query("DELETE FROM docs WHERE id IN (2, 3, 30)")
        r = run(*embed_args(self.db))
        self.assertEqual(self.query("SELECT count(*) FROM docs_elmo"), [(29,)])
        self.assertTrue(r.stderr.endswith(
            "; docs_elmo has 29 vectors for 27 source rows\nelmo embed: 2 vectors are of source "
            "rows that are gone; rerun with --prune to delete them\n"), r.stderr)
        r = run(*embed_args(self.db, "--prune"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stderr.endswith(", 2 pruned; docs_elmo has 27 vectors for 27 source "
                                          "rows\n"), r.stderr)
        self.assertEqual(self.query("SELECT count(*) FROM docs_elmo_errors"), [(0,)])
        assert_vectors_match(self, output_vectors(self.db), expected_vectors(self.db))


class Interruptions(CliCase):
    ROWS = 5000

    def test_sigkill_at_random_points_then_resume(self):
        make_db(self.db, sentences(self.ROWS, seed=7))
        r = random.Random(11)
        args = embed_args(self.db, "--chunk", "64", "--quiet")
        counts = []
        for _ in range(5):
            proc = popen(*args, stderr=subprocess.DEVNULL)
            time.sleep(r.uniform(0.02, 0.5 if not SAN else 2.0))
            proc.kill()
            proc.wait()
            (n,) = self.query("SELECT count(*) FROM docs_elmo")[0]
            counts.append(n)
            self.assertEqual(self.query("PRAGMA integrity_check"), [("ok",)])
        res = run(*embed_args(self.db))
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertRegex(res.stderr, r"\d+ rows embedded, [\d,]+ already current, 0 errors")
        self.assertEqual(self.query("SELECT count(*), count(DISTINCT id) FROM docs_elmo"),
                         [(self.ROWS, self.ROWS)])
        # every committed chunk is whole: a multiple of the chunk size by id order
        self.assertTrue(all(c == self.ROWS or c % 64 == 0 for c in counts), counts)
        self.assertEqual(counts, sorted(counts))
        assert_vectors_match(self, output_vectors(self.db), expected_vectors(self.db))

    def _stop_with(self, sig, code, name):
        make_db(self.db, sentences(self.ROWS * 2, seed=8))
        args = embed_args(self.db, "--chunk", "32", "--progress-interval", "0.05")
        proc = popen(*args, stderr=subprocess.PIPE, text=True)
        first = proc.stderr.readline()  # at the start
        self.assertTrue(first.startswith("elmo embed: 0/10,000 rows (0%)"), first)
        line = proc.stderr.readline()   # rows are being embedded
        self.assertTrue(line.startswith("elmo embed: "), line)
        sent = time.monotonic()
        proc.send_signal(sig)
        rest = proc.stderr.read()
        rc = proc.wait(timeout=60)
        proc.stderr.close()
        self.assertLess(time.monotonic() - sent, 5 if SAN else 1.5)
        self.assertEqual(rc, code, rest)
        (n,) = self.query("SELECT count(*) FROM docs_elmo")[0]
        self.assertLess(n, self.ROWS * 2)
        m = re.search(r"elmo embed: stopped by %s; the unfinished chunk was rolled back, the "
                      r"([\d,]+) rows embedded are committed\n" % name, rest)
        self.assertTrue(m, rest)
        self.assertEqual(int(m.group(1).replace(",", "")), n)
        resume = "elmo embed: resume with: %s\n" % " ".join(shlex.quote(a) for a in [ELMO] + args)
        self.assertTrue(rest.endswith(resume), rest)
        # the printed command finishes the job
        cmd = shlex.split(rest.splitlines()[-1][len("elmo embed: resume with: "):])
        done = subprocess.run(cmd, env=cli_env(), capture_output=True, text=True, timeout=120)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("%s rows embedded, %s already current" % (count(self.ROWS * 2 - n), count(n)),
                      done.stderr)

    def test_sigint(self):
        self._stop_with(signal.SIGINT, 130, "SIGINT")

    def test_sigterm(self):
        self._stop_with(signal.SIGTERM, 143, "SIGTERM")


class Progress(CliCase):
    def test_lines_on_a_pipe_and_quiet(self):
        make_db(self.db, sentences(3000, seed=4))
        r = run(*embed_args(self.db, "--chunk", "100", "--progress-interval", "0.01"))
        self.assertEqual(r.returncode, 0)
        self.assertNotIn("\r", r.stderr)
        lines = r.stderr.splitlines()
        self.assertEqual(lines[0], "elmo embed: 0/3,000 rows (0%), 0 rows/s, 0 tokens/s, "
                                   "elapsed 0:00, ETA ?")
        for line in lines[1:-1]:
            self.assertRegex(line, r"^elmo embed: [\d,]+/3,000 rows \(\d+%\), [\d,]+ rows/s, "
                                   r"[\d,]+ tokens/s, elapsed \d+:\d\d, ETA (\d+:\d\d|\?)$")
        self.assertRegex(lines[-1], r"^elmo embed: 3,000 rows embedded, 0 already current, 0 "
                                    r"errors, \d+\.\d s \([\d,]+ rows/s, [\d,]+ tokens/s\); "
                                    r"docs_elmo has 3,000 vectors for 3,000 source rows$")
        self.query("DELETE FROM docs_elmo")
        r = run(*embed_args(self.db, "--quiet"))
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""))


if __name__ == "__main__":
    unittest.main()
