"""test_lm.py - the language-model SQL surface: loading a head (load options, elmo_models,
the registry's identity of the head's files, nothing left behind by a failed load), every
argument and option error of elmo_lm, elmo_perplexity, elmo_predict and elmo_batch's output
'perplexity' with its exact message, NULL and empty texts, the mask token, the tokenizer,
bf16, and the head stored in one safetensors file by `elmo convert --softmax --vocab` (same
bytes as the published layout). The values themselves are checked against a float64
reference in test_lm_reference.py."""
import json
import os
import struct
import subprocess
import unittest

from elmo_sql import (B, ROOT, TINY_OPTIONS, TINY_WEIGHTS, ElmoTestCase, connect, run_cli,
                      temp_dir)

SOFTMAX = os.path.join(ROOT, "models", "elmo-tiny", "softmax_weights.hdf5")
VOCAB = os.path.join(ROOT, "models", "elmo-tiny", "vocab.txt")
HEAD = json.dumps({"softmax": SOFTMAX, "vocab": VOCAB})
ELMO = os.path.join(ROOT, B, "bin", "elmo")
TEXT = "The U.S. government said on Monday ."

con = None


def setUpModule():
    global con
    con = connect(load_default=False)
    con.execute("SELECT elmo_load('default', ?, ?, ?)", (TINY_OPTIONS, TINY_WEIGHTS, HEAD))
    con.execute("SELECT elmo_load('plain', ?, ?)", (TINY_OPTIONS, TINY_WEIGHTS))


def tearDownModule():
    con.close()


def bits(x):
    return struct.pack("<d", x)


NO_HEAD = ("{fn}: model 'plain' has no language-model head; load it with its softmax weights "
           "and vocabulary, e.g. SELECT elmo_load('plain', 'options.json', 'weights.hdf5', "
           "'{{\"softmax\":\"softmax_weights.hdf5\",\"vocab\":\"vocab.txt\"}}')")


class Loading(ElmoTestCase):
    def test_elmo_models_shows_the_head(self):
        rows = dict(((n, (v, b)) for n, v, b in con.execute(
            "SELECT name, vocab_size, head_bytes FROM elmo_models")))
        self.assertEqual(rows["default"][0], 458)
        self.assertGreater(rows["default"][1], 458 * 17 * 4)  # W, b and the words
        self.assertEqual(rows["plain"], (None, None))

    def test_the_head_files_are_part_of_a_model_identity(self):
        ids = dict(con.execute("SELECT name, model_id FROM elmo_models"))
        self.assertNotEqual(ids["default"], ids["plain"])
        con.execute("SELECT elmo_load('again', ?, ?, ?)", (TINY_OPTIONS, TINY_WEIGHTS, HEAD))
        try:
            ids = dict(con.execute("SELECT name, model_id FROM elmo_models"))
            self.assertEqual(ids["again"], ids["default"])  # one copy in memory
            self.assertSqlError(con, "SELECT elmo_load('plain', ?, ?, ?)",
                                (TINY_OPTIONS, TINY_WEIGHTS, HEAD), message=(
                                    "elmo_load: model 'plain' is already loaded from these "
                                    "files with no language-model head; call "
                                    "elmo_unload('plain') first, or load this one under another "
                                    "name"))
            self.assertSqlError(con, "SELECT elmo_load('again', ?, ?)",
                                (TINY_OPTIONS, TINY_WEIGHTS), message=(
                                    "elmo_load: model 'again' is already loaded from these "
                                    "files with another language-model head; call "
                                    "elmo_unload('again') first, or load this one under another "
                                    "name"))
        finally:
            con.execute("SELECT elmo_unload('again')")

    def test_load_option_errors(self):
        cases = [
            ('{"softmax":1}', "elmo_load: load option 'softmax' must be the path of the softmax "
             "weights (or false: no head) (a non-empty string), got 1"),
            ('{"vocab":""}', "elmo_load: load option 'vocab' must be the path of the vocabulary "
             "text file (a non-empty string), got \"\""),
            ('{"softmax":false,"vocab":"v.txt"}', "elmo_load: load option 'softmax' is false (no "
             "language-model head) but 'vocab' is given; give either"),
            (json.dumps({"softmax": SOFTMAX}), "elmo_load: cannot load model 'x': softmax "
             "weights '%s' need their vocabulary: give the vocabulary file too (line v names "
             "row v)" % SOFTMAX),
            (json.dumps({"vocab": VOCAB}), "elmo_load: cannot load model 'x': model file '%s' "
             "holds no softmax weights (softmax/W); give the softmax weights file with the "
             "vocabulary (e.g. the published *_softmax_weights.hdf5)"
             % os.path.realpath(TINY_WEIGHTS)),
            (json.dumps({"softmax": "/nonexistent.hdf5", "vocab": VOCAB}), "elmo_load: cannot "
             "open softmax weights file '/nonexistent.hdf5': No such file or directory"),
        ]
        for opts, msg in cases:
            self.assertSqlError(con, "SELECT elmo_load('x', ?, ?, ?)",
                                (TINY_OPTIONS, TINY_WEIGHTS, opts), message=msg)
        self.assertEqual(con.execute("SELECT count(*) FROM elmo_models WHERE name = 'x'")
                         .fetchone(), (0,))

    def test_a_failed_head_leaves_nothing_behind(self):
        with temp_dir() as d:
            vocab = os.path.join(d, "vocab.txt")
            with open(VOCAB, encoding="utf-8") as f:
                words = f.read().split("\n")
            with open(vocab, "w", encoding="utf-8") as f:
                f.write("\n".join(words[:-1]))  # one word short
            self.assertSqlError(con, "SELECT elmo_load('h', ?, ?, ?)", (
                TINY_OPTIONS, TINY_WEIGHTS, json.dumps({"softmax": SOFTMAX, "vocab": vocab})),
                message="elmo_load: cannot load model 'h': softmax weights '%s': softmax/W has "
                        "458 rows but vocabulary '%s' has 457 tokens (row v is line v); give the "
                        "vocabulary that belongs to these weights" % (SOFTMAX, vocab))
            self.assertEqual(con.execute("SELECT count(*) FROM elmo_models WHERE name = 'h'")
                             .fetchone(), (0,))
            con.execute("SELECT elmo_load('h', ?, ?, ?)", (TINY_OPTIONS, TINY_WEIGHTS, HEAD))
            con.execute("SELECT elmo_unload('h')")

    def test_bf16(self):
        if not con.execute("SELECT elmo_version() LIKE '%avx512%'").fetchone()[0]:
            self.skipTest("no AVX-512 kernel on this CPU")
        try:
            con.execute("SELECT elmo_load('h16', ?, ?, ?)", (TINY_OPTIONS, TINY_WEIGHTS, json.dumps(
                {"softmax": SOFTMAX, "vocab": VOCAB, "precision": "bf16"})))
        except Exception as e:  # a CPU without AVX512-BF16
            self.skipTest(str(e))
        try:
            (a, b) = con.execute("SELECT elmo_perplexity(?, '{\"model\":\"h16\"}'), "
                                 "elmo_perplexity(?)", (TEXT, TEXT)).fetchone()
            self.assertNotEqual(a, b)
            self.assertLess(abs(a / b - 1), 0.02)
            (p16, head_bytes) = con.execute("SELECT precision, head_bytes FROM elmo_models "
                                            "WHERE name = 'h16'").fetchone()
            self.assertEqual(p16, "bf16")
        finally:
            con.execute("SELECT elmo_unload('h16')")

    def test_one_safetensors_file_holds_the_model_and_its_head(self):
        with temp_dir() as d:
            st, st16 = os.path.join(d, "tiny.safetensors"), os.path.join(d, "tiny16.safetensors")
            out = subprocess.run([ELMO, "convert", TINY_OPTIONS, TINY_WEIGHTS, "-o", st,
                                  "--softmax", SOFTMAX, "--vocab", VOCAB],
                                 capture_output=True, text=True, check=True).stdout
            self.assertIn("with a language-model head of 458 words", out)
            # a file that holds a head keeps it when converted again
            subprocess.run([ELMO, "convert", st, "-o", st16, "--precision", "bf16"],
                           capture_output=True, check=True)
            con.execute("SELECT elmo_load('st', ?)", (st,))
            con.execute("SELECT elmo_load('nohead', ?, '{\"softmax\":false}')", (st,))
            try:
                (fmt, v) = con.execute("SELECT format, vocab_size FROM elmo_models WHERE name = "
                                       "'st'").fetchone()
                self.assertEqual((fmt, v), ("safetensors", 458))
                fps = dict(con.execute("SELECT name, head_fingerprint FROM elmo_models"))
                self.assertEqual(fps["st"], fps["default"])  # the same head, another file
                self.assertEqual(len(fps["st"]), 16)
                self.assertIsNone(fps["nohead"])
                self.assertEqual(con.execute("SELECT vocab_size FROM elmo_models WHERE name = "
                                             "'nohead'").fetchone(), (None,))
                for sql in ("SELECT elmo_perplexity(?, ?)",
                            "SELECT group_concat(logprob_forward) FROM elmo_lm(?, ?)",
                            "SELECT group_concat(word || logprob) FROM elmo_predict(?, 9, ?)"):
                    a = con.execute(sql, (TEXT, '{"model":"st"}')).fetchone()[0]
                    b = con.execute(sql, (TEXT, '{"model":"default"}')).fetchone()[0]
                    self.assertEqual(a if isinstance(a, str) else bits(a),
                                     b if isinstance(b, str) else bits(b))
                if "avx512" in con.execute("SELECT elmo_version()").fetchone()[0]:
                    try:
                        con.execute("SELECT elmo_load('st16', ?)", (st16,))
                    except Exception:
                        return  # no AVX512-BF16
                    (p,) = con.execute("SELECT precision FROM elmo_models WHERE name = 'st16'"
                                       ).fetchone()
                    self.assertEqual(p, "bf16")
                    con.execute("SELECT elmo_unload('st16')")
            finally:
                con.execute("SELECT elmo_unload('st')")
                con.execute("SELECT elmo_unload('nohead')")


class Functions(ElmoTestCase):
    def test_null_and_empty_texts(self):
        for text in (None, "", "   "):
            self.assertEqual(con.execute("SELECT elmo_perplexity(?)", (text,)).fetchone(), (None,))
            self.assertEqual(con.execute("SELECT count(*) FROM elmo_lm(?)", (text,)).fetchone(),
                             (0,))
        self.assertEqual(con.execute("SELECT count(*) FROM elmo_predict(NULL, 3)").fetchone(),
                         (0,))
        # an empty text predicts its first word
        self.assertEqual(con.execute("SELECT count(*) FROM elmo_predict('', 3)").fetchone(), (3,))

    def test_rows_of_elmo_lm(self):
        rows = con.execute('SELECT i, token, start, "end", vocab_id IS NULL, '
                           "logprob_forward IS NULL, logprob_backward IS NULL FROM "
                           "elmo_lm('Don''t zzzz!')").fetchall()
        self.assertEqual(rows, [(-1, "<S>", 0, 0, 0, 1, 0), (0, "Don", 0, 3, 0, 0, 0),
                                (1, "'t", 3, 5, 0, 0, 0), (2, "zzzz", 6, 10, 1, 0, 0),
                                (3, "!", 10, 11, 0, 0, 0), (4, "</S>", 11, 11, 0, 0, 1)])
        # the tokens are elmo_tokens' tokens
        self.assertEqual(
            con.execute("SELECT group_concat(token, '|') FROM elmo_lm('Don''t zzzz!') WHERE i "
                        "BETWEEN 0 AND 3").fetchone(),
            con.execute("SELECT group_concat(token, '|') FROM elmo_tokens('Don''t zzzz!', "
                        "'{\"model\":\"default\"}')").fetchone())

    def test_the_mask_token(self):
        one = con.execute("SELECT group_concat(word) FROM elmo_predict('flu [MASK] is', 5)"
                          ).fetchone()
        # the mask is found in the text's bytes, with or without spaces around it
        self.assertEqual(con.execute("SELECT group_concat(word) FROM elmo_predict("
                                     "'flu[MASK] is', 5)").fetchone(), one)
        self.assertEqual(con.execute("SELECT group_concat(word) FROM elmo_predict('flu ___ is', "
                                     "5, '{\"mask\":\"___\"}')").fetchone(), one)
        # what stands in the slot does not matter
        self.assertEqual(con.execute("SELECT group_concat(word) FROM elmo_predict('flu "
                                     "whatever is', 5, '{\"mask\":\"whatever\"}')").fetchone(),
                         one)
        # without a mask: the next word, forward only
        self.assertEqual(con.execute("SELECT count(*), count(logprob_backward) FROM "
                                     "elmo_predict('flu', 4)").fetchone(), (4, 0))
        self.assertEqual(con.execute("SELECT count(*), count(logprob_backward) FROM "
                                     "elmo_predict('flu [MASK]', 4)").fetchone(), (4, 4))

    def test_errors(self):
        cases = [
            ("SELECT * FROM elmo_predict('a [MASK] b [MASK]', 3)",
             "elmo_predict: the text holds the mask token '[MASK]' more than once; give one "
             "(the word to predict), or none to predict the next word"),
            ("SELECT * FROM elmo_predict('a b', 0)",
             "elmo_predict: k must be an integer from 1 to 458 (the words of the model), got 0"),
            ("SELECT * FROM elmo_predict('a b', 459)",
             "elmo_predict: k must be an integer from 1 to 458 (the words of the model), got 459"),
            ("SELECT * FROM elmo_predict('a b', '3')",
             "elmo_predict: k must be an integer from 1 to 458 (the words of the model), got TEXT"),
            ("SELECT * FROM elmo_predict('a b', 51, '{\"vocab_limit\":50}')",
             "elmo_predict: k must be an integer from 1 to 50 (vocab_limit), got 51"),
            ("SELECT * FROM elmo_predict('a b')",
             "elmo_predict: the k argument is missing; call it as elmo_predict(text, k [, "
             "options]) with k the number of words to return, e.g. SELECT word, logprob FROM "
             "elmo_predict('Let''s hang [MASK] tonight .', 5)"),
            ("SELECT * FROM elmo_predict('a', 3, '{\"mask\":\"\"}')",
             "elmo_predict: option 'mask' must be a non-empty string (the mask token), got \"\""),
            ("SELECT * FROM elmo_predict('a', 3, '{\"exclude\":\"the\"}')",
             "elmo_predict: option 'exclude' must be a JSON array of words, got \"the\""),
            ("SELECT * FROM elmo_predict('a', 3, '{\"direction\":\"forward\"}')",
             "elmo_predict: unknown option 'direction'; valid options: model, tokenizer, "
             "vocab_limit, bias, exclude, mask"),
            ("SELECT * FROM elmo_lm('a', '{\"direction\":\"forward\"}')",
             "elmo_lm: unknown option 'direction'; valid options: model, tokenizer, vocab_limit, "
             "bias"),
            ("SELECT * FROM elmo_lm('a', '{\"vocab_limit\":0}')",
             "elmo_lm: option 'vocab_limit' must be an integer >= 1 (score only the first N "
             "words), got 0"),
            ("SELECT * FROM elmo_lm('a', '{\"vocab_limit\":459}')",
             "elmo_lm: vocab_limit 459 is more than the 458 words of model 'default'; give 1 to "
             "458"),
            ("SELECT * FROM elmo_lm('a', '{\"vocab_limit\":100}')",
             "elmo_lm: vocab_limit 100 leaves out '</S>' (row 224), which every sentence needs "
             "as a target; give a vocab_limit above 224"),
            ("SELECT elmo_perplexity('a', '{\"vocab_limit\":200}')",
             "elmo_perplexity: vocab_limit 200 leaves out '</S>' (row 224), which every "
             "sentence needs as a target; give a vocab_limit above 224"),
            ("SELECT * FROM elmo_lm('a', '{\"bias\":1}')",
             "elmo_lm: option 'bias' must be true or false, got 1"),
            ("SELECT * FROM elmo_lm('a', 'top')",
             "elmo_lm: options are not valid JSON (near byte 0: 'top'); expected a JSON object "
             "such as '{\"vocab_limit\":50000}'"),
            ("SELECT * FROM elmo_lm('a', '[1]')",
             "elmo_lm: options must be a JSON object such as '{\"vocab_limit\":50000}'"),
            ("SELECT * FROM elmo_lm(42)", "elmo_lm: text must be TEXT or NULL, got INTEGER"),
            ("SELECT * FROM elmo_lm", "elmo_lm: the text argument is missing; call it as "
             "elmo_lm(text [, options]), e.g. SELECT token, logprob_forward FROM elmo_lm('The "
             "bank raised rates.')"),
            ("SELECT elmo_perplexity('a', '{\"direction\":\"up\"}')",
             "elmo_perplexity: option 'direction' must be 'both', 'forward' or 'backward', got "
             "\"up\""),
            ("SELECT elmo_perplexity('a', '{\"model\":\"nope\"}')",
             "elmo_perplexity: no model named 'nope'; loaded: default, plain"),
            ("SELECT elmo_perplexity('a', '{\"mask\":\"x\"}')",
             "elmo_perplexity: unknown option 'mask'; valid options: model, tokenizer, "
             "vocab_limit, bias, direction"),
            ("SELECT elmo_embed('a', 'perplexity')",
             "elmo_embed: output 'perplexity' is elmo_batch's (a column's perplexities); for one "
             "text use elmo_perplexity(text)"),
        ]
        for sql, msg in cases:
            self.assertSqlError(con, sql, message=msg)
        for fn, sql in (("elmo_perplexity", "SELECT elmo_perplexity('a', ?)"),
                        ("elmo_lm", "SELECT * FROM elmo_lm('a', ?)"),
                        ("elmo_predict", "SELECT * FROM elmo_predict('a', 3, ?)"),
                        ("elmo_batch", "SELECT * FROM elmo_batch('SELECT 1, ''a''', ?)")):
            opts = {"model": "plain"}
            if fn == "elmo_batch":
                opts["output"] = "perplexity"
            self.assertSqlError(con, sql, (json.dumps(opts),), message=NO_HEAD.format(fn=fn))

    def test_the_defaults_and_the_options_of_elmo_predict(self):
        words = [w for (w,) in con.execute("SELECT word FROM elmo_predict(?, 458)", (TEXT,))]
        self.assertEqual(len(words), 455)  # never <S>, </S>, <UNK>
        self.assertFalse({"<S>", "</S>", "<UNK>"} & set(words))
        words = [w for (w,) in con.execute("SELECT word FROM elmo_predict(?, 458, "
                                           "'{\"exclude\":[]}')", (TEXT,))]
        self.assertEqual(len(words), 458)
        words = [w for (w,) in con.execute("SELECT word FROM elmo_predict(?, 458, "
                                           "'{\"exclude\":[\"the\",\"notaword\",\"<S>\"]}')",
                                           (TEXT,))]
        self.assertEqual(len(words), 456)
        self.assertIn("<UNK>", words)
        self.assertNotIn("the", words)
        rows = con.execute("SELECT rank, word FROM elmo_predict(?, 20, '{\"vocab_limit\":30}')",
                           (TEXT,)).fetchall()
        self.assertEqual([r[0] for r in rows], list(range(1, 21)))
        with open(VOCAB, encoding="utf-8") as f:
            first30 = f.read().split("\n")[:30]
        self.assertTrue(all(w in first30 for _, w in rows))


class Bulk(ElmoTestCase):
    def test_elmo_batch_equals_elmo_perplexity(self):
        texts = [TEXT, None, "", "flu", "schools and day care centers should stay open ."] * 3
        con.execute("CREATE TEMP TABLE docs(id INTEGER PRIMARY KEY, body TEXT)")
        try:
            con.executemany("INSERT INTO docs(body) VALUES (?)", [(t,) for t in texts])
            for opts in ('{"output":"perplexity"}', "perplexity",
                         '{"output":"perplexity","direction":"backward","bias":false}'):
                one_opts = None if not opts.startswith("{") else json.dumps(
                    {k: v for k, v in json.loads(opts).items() if k != "output"})
                bulk = con.execute("SELECT id, perplexity, vector FROM elmo_batch('SELECT id, "
                                   "body FROM docs', ?)", (opts,)).fetchall()
                one = con.execute("SELECT id, elmo_perplexity(body, ?) FROM docs ORDER BY id",
                                  (one_opts,)).fetchall()
                self.assertEqual([(i, None if p is None else bits(p)) for i, p, _ in bulk],
                                 [(i, None if p is None else bits(p)) for i, p in one])
                self.assertEqual({v for _, _, v in bulk}, {None})
            # embedding mode: perplexity is NULL
            self.assertEqual(con.execute("SELECT count(perplexity), count(vector) FROM "
                                         "elmo_batch('SELECT id, body FROM docs')").fetchone(),
                             (0, 9))
            self.assertSqlError(con, "SELECT * FROM elmo_batch('SELECT id, body FROM docs', "
                                "'{\"output\":\"perplexity\",\"pooling\":\"max\"}')", message=(
                                    "elmo_batch: unknown option 'pooling'; valid options: model, "
                                    "tokenizer, vocab_limit, bias, direction, output, on_error"))
        finally:
            con.execute("DROP TABLE docs")

    def test_elmo_batch_perplexity_with_on_error_skip(self):
        con.execute("CREATE TEMP TABLE docs(id INTEGER PRIMARY KEY, body)")
        try:
            con.executemany("INSERT INTO docs(id, body) VALUES (?, ?)",
                            [(1, TEXT), (2, b"\x00blob"), (3, "flu"), (4, None), (5, 7)])
            sql = "SELECT id, perplexity, error FROM elmo_batch('SELECT id, body FROM docs', ?)"
            rows = con.execute(sql, ('{"output":"perplexity","on_error":"skip"}',)).fetchall()
            self.assertEqual([r[0] for r in rows], [1, 2, 3, 4, 5])
            for i in (0, 2):  # the good rows: elmo_perplexity's bytes, no error
                want = con.execute("SELECT elmo_perplexity(body) FROM docs WHERE id = ?",
                                   (rows[i][0],)).fetchone()[0]
                self.assertEqual((bits(rows[i][1]), rows[i][2]), (bits(want), None))
            self.assertEqual(rows[3][1:], (None, None))  # NULL text: no value, no error
            for i, got in ((1, "BLOB"), (4, "INTEGER")):
                self.assertIsNone(rows[i][1])
                self.assertEqual(rows[i][2], "elmo_batch: text must be TEXT or NULL, got %s" % got)
            # without on_error the first bad row fails the statement, naming it
            self.assertSqlError(con, sql, ('{"output":"perplexity"}',), message=(
                "elmo_batch: row 2 of the query (id 2): text must be TEXT or NULL, got BLOB"))
            self.assertSqlError(con, sql, ('{"output":"perplexity","on_error":"later"}',),
                                message="elmo_batch: option 'on_error' must be 'fail' or "
                                        "'skip', got \"later\"")
        finally:
            con.execute("DROP TABLE docs")

    def test_elmo_embed_output_perplexity(self):
        with temp_dir() as d:
            db = os.path.join(d, "docs.db")
            import sqlite3
            c = sqlite3.connect(db)
            c.execute("CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT)")
            texts = [TEXT, "", "flu", "schools and day care centers should stay open ."] * 5
            c.executemany("INSERT INTO docs(body) VALUES (?)", [(t,) for t in texts])
            c.commit()
            c.close()
            base = [ELMO, "embed", db, "--table", "docs", "--column", "body", "--output",
                    "perplexity", "--model", os.path.join(ROOT, "models", "elmo-tiny"),
                    "--softmax", SOFTMAX, "--vocab", VOCAB, "--chunk", "7", "-q"]
            p = subprocess.run(base, capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            c = sqlite3.connect(db)
            got = c.execute("SELECT id, perplexity FROM docs_perplexity ORDER BY id").fetchall()
            c.close()
            want = con.execute("SELECT ?1, elmo_perplexity(?2)", (0, TEXT)).fetchone()
            self.assertEqual(len(got), 20)
            self.assertEqual(bits(got[0][1]), bits(want[1]))
            self.assertEqual([p is None for _, p in got], [t == "" for t in texts])
            # the table records what made it: the output, the model and the head
            head_fp = con.execute("SELECT head_fingerprint FROM elmo_models WHERE name = "
                                  "'default'").fetchone()[0]
            c = sqlite3.connect(db)
            self.assertEqual(c.execute("SELECT output, head_fingerprint, dim, options FROM "
                                       "elmo_embed_provenance").fetchall(),
                             [("perplexity", head_fp, 1, None)])
            c.close()
            p = subprocess.run([ELMO, "embed", db, "--info", "docs_perplexity"],
                               capture_output=True, text=True)
            self.assertEqual((p.returncode, p.stderr), (0, ""))
            lines = p.stdout.splitlines()
            self.assertEqual(lines[0], "docs_perplexity: perplexities of docs.body, made by "
                                       "elmo embed")
            self.assertIn("  head         fingerprint %s" % head_fp, lines)
            self.assertIn("  perplexities 20 (5 NULL: no text or no tokens)", lines)
            self.assertFalse([line for line in lines if line.startswith("  dimension")])
            # another head is refused, as another model is; --refresh re-scores every row
            other = os.path.join(d, "other")
            subprocess.run([os.path.join(ROOT, B, "elmo-genmodel"), "--out", other, "--shape",
                            "tiny", "--seed", "9", "--vocab", VOCAB, "--softmax-only"],
                           check=True, stdout=subprocess.DEVNULL)
            swapped = [a if a != SOFTMAX else os.path.join(other, "softmax_weights.hdf5")
                       for a in base]
            for args, code, changed in ((swapped, 8, False), (swapped + ["--refresh"], 0, True)):
                p = subprocess.run(args, capture_output=True, text=True)
                self.assertEqual(p.returncode, code, p.stderr)
                if code:
                    self.assertIn("docs_perplexity was made with other settings: the "
                                  "language-model head changed (fingerprint %s -> " % head_fp,
                                  p.stderr)
                    self.assertIn("its perplexities and this run's would not be comparable",
                                  p.stderr)
                c = sqlite3.connect(db)
                now = c.execute("SELECT id, perplexity FROM docs_perplexity ORDER BY id")
                self.assertEqual(list(now) != got, changed)
                c.close()
            # other options too
            p = subprocess.run(swapped + ["--options", '{"direction":"forward"}'],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 8, p.stderr)
            self.assertIn("the options changed (the defaults -> {\"direction\":\"forward\"})",
                          p.stderr)
            # options are elmo_perplexity's
            p = subprocess.run(base + ["--options", "top"], capture_output=True, text=True)
            self.assertEqual(p.returncode, 2)
            self.assertIn("with --output perplexity, --options must be a JSON object", p.stderr)
            p = subprocess.run(base[:9] + ["--model", os.path.join(ROOT, "models", "elmo-tiny")],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 4)
            self.assertIn("elmo_perplexity: model 'default' has no language-model head", p.stderr)

    def test_elmo_embed_perplexity_bad_rows_and_summary(self):
        with temp_dir() as d:
            db = os.path.join(d, "docs.db")
            import sqlite3
            c = sqlite3.connect(db)
            c.execute("CREATE TABLE docs(id INTEGER PRIMARY KEY, body)")
            c.executemany("INSERT INTO docs(id, body) VALUES (?, ?)",
                          [(1, TEXT), (2, b"\x00blob"), (3, "flu"), (4, None)])
            c.commit()
            c.close()
            base = [ELMO, "embed", db, "--table", "docs", "--column", "body", "--output",
                    "perplexity", "--model", os.path.join(ROOT, "models", "elmo-tiny"),
                    "--softmax", SOFTMAX, "--vocab", VOCAB]
            p = subprocess.run(base + ["--on-error=fail"], capture_output=True, text=True)
            self.assertEqual(p.returncode, 7, p.stderr)
            self.assertIn("row with id 2 failed: text must be TEXT or NULL, got BLOB", p.stderr)
            p = subprocess.run(base, capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("1 errors (see table docs_perplexity_errors)", p.stderr)
            self.assertIn("; docs_perplexity has 3 perplexities for 4 source rows\n", p.stderr)
            c = sqlite3.connect(db)
            self.assertEqual(c.execute("SELECT id, message FROM docs_perplexity_errors").fetchall(),
                             [(2, "text must be TEXT or NULL, got BLOB; to embed such values as "
                                  "text: --query 'SELECT rowid, CAST(body AS TEXT) FROM docs' with "
                                  "another --into")])
            rows = c.execute("SELECT id, perplexity FROM docs_perplexity ORDER BY id").fetchall()
            c.close()
            self.assertEqual([i for i, _ in rows], [1, 3, 4])
            want = con.execute("SELECT elmo_perplexity(?)", ("flu",)).fetchone()[0]
            self.assertEqual((bits(rows[1][1]), rows[2][1]), (bits(want), None))

    def test_sqlite3_cli(self):
        rc, out, err = run_cli("SELECT elmo_load('default', '%s', '%s', '%s');\n"
                               "SELECT count(*) FROM elmo_lm('%s');\n"
                               "SELECT count(*) FROM elmo_predict('flu [MASK] is', 3);\n"
                               % (TINY_OPTIONS, TINY_WEIGHTS, HEAD, TEXT))
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out.split(), ["default", "9", "3"])


if __name__ == "__main__":
    unittest.main()
