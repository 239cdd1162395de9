"""test_embed.py - elmo_embed and elmo_tokens values: every output, option and option
combination against values computed here from the per-layer token vectors (ScalarMix,
gamma, layer norm with the statistics of docs/model.md §8.1, mean/max pooling), tokenizers, context,
NULL/empty/invalid-UTF-8 text, and the table-valued function's argument handling."""
import itertools
import json
import math
import unittest

from elmo_sql import (TINY_DIM, TINY_LAYERS, ElmoTestCase, connect, embed, floats, genmodel,
                      max_rows, mean_rows, module_connection, temp_dir, tokens, vectors)

TEXT = "The fisherman sat on the river bank at dawn."
LAYER_NAMES = ["word", "lstm1", "lstm2"]
con = None
setUpModule, tearDownModule = module_connection(globals())


def softmax(ws):
    top = max(ws)
    e = [math.exp(w - top) for w in ws]
    return [x / sum(e) for x in e]


def layers(text, extra=None):
    """Per-token vectors of each layer: [L+1][n][D]."""
    return [vectors(con, text, dict(extra or {}, output=name)) for name in LAYER_NAMES]


def combine(per_layer, coefficients, gamma=1.0):
    """gamma * sum_k a_k * layer_k, per token."""
    n, D = len(per_layer[0]), len(per_layer[0][0])
    return [[gamma * sum(a * per_layer[k][j][d] for k, a in enumerate(coefficients))
             for d in range(D)] for j in range(n)]


class Outputs(ElmoTestCase):
    def test_widths(self):
        for opts, width in [(None, TINY_DIM), ("average", TINY_DIM), ("top", TINY_DIM),
                            ("word", TINY_DIM), ("lstm1", TINY_DIM), ("lstm2", TINY_DIM),
                            ("all", TINY_LAYERS * TINY_DIM), ("[0, 0, 0]", TINY_DIM)]:
            self.assertEqual(len(embed(con, TEXT, opts)), width, opts)
            for row in tokens(con, TEXT, opts):
                self.assertEqual(len(row[4]), width, opts)

    def test_blob_format(self):
        (blob, n) = con.execute("SELECT elmo_embed(?), length(elmo_embed(?))",
                                (TEXT, TEXT)).fetchone()
        self.assertIsInstance(blob, bytes)
        self.assertEqual(n, 4 * TINY_DIM)
        self.assertTrue(all(math.isfinite(x) for x in floats(blob)))
        self.assertGreater(max(abs(x) for x in floats(blob)), 1e-3)

    def test_word_layer_is_duplicated_token_embedding(self):
        for v in vectors(con, TEXT, "word"):
            self.assertEqual(v[:TINY_DIM // 2], v[TINY_DIM // 2:])

    def test_top_is_the_last_lstm_layer(self):
        self.assertEqual(vectors(con, TEXT, "top"), vectors(con, TEXT, "lstm2"))

    def test_default_output_is_average(self):
        self.assertEqual(vectors(con, TEXT), vectors(con, TEXT, "average"))
        self.assertEqual(embed(con, TEXT), embed(con, TEXT, {"output": "average"}))
        self.assertEqual(embed(con, TEXT, '{}'), embed(con, TEXT, None))

    def test_average_is_the_mean_of_the_layers(self):
        expected = combine(layers(TEXT), [1 / 3] * 3)
        got = vectors(con, TEXT, "average")
        for j, (g, e) in enumerate(zip(got, expected)):
            self.assertVectorsClose(g, e, 1e-6, "token %d" % j)

    def test_all_concatenates_the_layers(self):
        per_layer = layers(TEXT)
        for j, row in enumerate(vectors(con, TEXT, "all")):
            self.assertEqual(row, per_layer[0][j] + per_layer[1][j] + per_layer[2][j])

    def test_weights_are_a_softmax_mix(self):
        for ws in ([0.5, -1.0, 2.0], [0, 0, 0], [3, 3, -7.5]):
            expected = combine(layers(TEXT), softmax(ws))
            for form in ({"output": ws}, json.dumps(ws)):  # object and bare array
                got = vectors(con, TEXT, form)
                for j, (g, e) in enumerate(zip(got, expected)):
                    self.assertVectorsClose(g, e, 1e-5, "%s token %d" % (ws, j))

    def test_extreme_weights_select_a_layer(self):
        # AllenNLP's documented example: [-9e10, 1, -9e10] selects layer 1.
        self.assertVectorsClose(embed(con, TEXT, {"output": [-9e10, 1, -9e10]}),
                                embed(con, TEXT, "lstm1"), 0)

    def test_gamma_scales_every_output(self):
        for output in ["average", "top", "word", "lstm1", "all", [1, 2, 3]]:
            for ln in (False, True):
                base = vectors(con, TEXT, {"output": output, "layer_norm": ln})
                scaled = vectors(con, TEXT, {"output": output, "layer_norm": ln, "gamma": -2.5})
                for b, s in zip(base, scaled):
                    self.assertVectorsClose(s, [-2.5 * x for x in b], 1e-5, "%s %s" % (output, ln))

    def test_gamma_zero_gives_zero_vectors(self):
        v = embed(con, TEXT, {"gamma": 0})
        self.assertEqual(v, [0.0] * TINY_DIM)
        (c,) = con.execute("SELECT elmo_cosine(elmo_embed(?, '{\"gamma\":0}'), elmo_embed(?))",
                           (TEXT, TEXT)).fetchone()
        self.assertIsNone(c)  # zero norm

    def test_json_null_keeps_the_default(self):
        self.assertEqual(embed(con, TEXT, '{"output":null,"gamma":null,"layer_norm":null,'
                                          '"tokenizer":null,"pooling":null,"model":null}'),
                         embed(con, TEXT))

    def test_options_from_json_object_function(self):
        (v,) = con.execute("SELECT elmo_embed(?, json_object('output', 'top', 'gamma', 2))",
                           (TEXT,)).fetchone()
        self.assertEqual(floats(v), embed(con, TEXT, {"output": "top", "gamma": 2}))


class LayerNorm(ElmoTestCase):
    def test_word_layer_matches_the_spec_formula(self):
        """(x - mu) / sqrt(var + 1e-13) with mu, var over all 2P features of all n + 2
        positions, the <S> and </S> rows included (AllenNLP ScalarMix, docs/model.md §8.1). Layer 0 is
        context free, so the boundary rows are the embeddings of the tokens <S> and </S>."""
        ws = {"tokenizer": "whitespace", "output": "word"}
        rows = vectors(con, TEXT, ws)
        begin = vectors(con, "<S>", ws)[0]
        end = vectors(con, "</S>", ws)[0]
        values = [x for r in [begin] + rows + [end] for x in r]
        mu = sum(values) / len(values)
        var = sum((x - mu) ** 2 for x in values) / len(values)
        expected = [[(x - mu) / math.sqrt(var + 1e-13) for x in r] for r in rows]
        got = vectors(con, TEXT, dict(ws, layer_norm=True))
        for j, (g, e) in enumerate(zip(got, expected)):
            self.assertVectorsClose(g, e, 1e-5, "token %d" % j)
        # Statistics without the boundary rows would give a different result.
        tok_values = [x for r in rows for x in r]
        mu2 = sum(tok_values) / len(tok_values)
        self.assertGreater(abs(mu2 - mu), 1e-4)

    def test_each_lstm_layer_is_normalised_by_one_mean_and_scale(self):
        """Per layer, layer norm is y = s * x + c with one (s > 0, c) for the whole sentence
        (statistics per layer, not per token or feature)."""
        for name in ("lstm1", "lstm2"):
            x = [v for r in vectors(con, TEXT, name) for v in r]
            y = [v for r in vectors(con, TEXT, {"output": name, "layer_norm": True}) for v in r]
            mx, my = sum(x) / len(x), sum(y) / len(y)
            s = sum((a - mx) * (b - my) for a, b in zip(x, y)) / sum((a - mx) ** 2 for a in x)
            c = my - s * mx
            self.assertGreater(s, 0)
            residual = max(abs(s * a + c - b) for a, b in zip(x, y))
            self.assertLess(residual, 1e-4, name)
            self.assertGreater(max(abs(a - b) for a, b in zip(x, y)), 1e-2)  # it did change

    def test_mixes_combine_the_normalised_layers(self):
        normed = layers(TEXT, {"layer_norm": True})
        cases = [("average", [1 / 3] * 3), ([0.5, -1.0, 2.0], softmax([0.5, -1.0, 2.0]))]
        for output, coefficients in cases:
            expected = combine(normed, coefficients, gamma=1.5)
            got = vectors(con, TEXT, {"output": output, "layer_norm": True, "gamma": 1.5})
            for j, (g, e) in enumerate(zip(got, expected)):
                self.assertVectorsClose(g, e, 1e-5, "%s token %d" % (output, j))
        for j, row in enumerate(vectors(con, TEXT, {"output": "all", "layer_norm": True})):
            self.assertVectorsClose(row, normed[0][j] + normed[1][j] + normed[2][j], 1e-6)


class Pooling(ElmoTestCase):
    def test_mean_and_max(self):
        rows = vectors(con, TEXT, "lstm1")
        self.assertVectorsClose(embed(con, TEXT, "lstm1"), mean_rows(rows), 1e-6)
        self.assertVectorsClose(embed(con, TEXT, {"output": "lstm1", "pooling": "mean"}),
                                mean_rows(rows), 1e-6)
        self.assertEqual(embed(con, TEXT, {"output": "lstm1", "pooling": "max"}), max_rows(rows))
        self.assertNotEqual(max_rows(rows), mean_rows(rows))

    def test_one_token_text_is_that_token(self):
        self.assertEqual(embed(con, "bank", "top"), vectors(con, "bank", "top")[0])

    def test_every_option_combination(self):
        """elmo_embed == pooled elmo_tokens rows for every combination of output, gamma,
        layer_norm, tokenizer and pooling; elmo_tokens accepts pooling and ignores it."""
        text = "Don't stop: the U.S. team won 6-3!"
        outputs = ["average", "top", "word", "lstm1", "lstm2", "all", [0.5, -1.0, 2.0]]
        count = 0
        for output, gamma, ln, tok, pool in itertools.product(
                outputs, [None, 2.5], [None, False, True], [None, "default", "whitespace"],
                [None, "mean", "max"]):
            opts = {"output": output}
            for key, value in (("gamma", gamma), ("layer_norm", ln), ("tokenizer", tok),
                               ("pooling", pool)):
                if value is not None:
                    opts[key] = value
            rows = vectors(con, text, opts)
            if pool is not None:
                self.assertEqual(rows, vectors(con, text, {k: v for k, v in opts.items()
                                                           if k != "pooling"}))
            expected = max_rows(rows) if pool == "max" else mean_rows(rows)
            self.assertVectorsClose(embed(con, text, opts), expected, 1e-5, json.dumps(opts))
            count += 1
        self.assertEqual(count, 378)


class Tokenization(ElmoTestCase):
    def test_default_tokenizer_splits_punctuation(self):
        rows = tokens(con, "Don't panic, Ms. Smith!")
        self.assertEqual([(r[0], r[1], r[2], r[3]) for r in rows],
                         [(0, "Don", 0, 3), (1, "'t", 3, 5), (2, "panic", 6, 11), (3, ",", 11, 12),
                          (4, "Ms.", 13, 16), (5, "Smith", 17, 22), (6, "!", 22, 23)])

    def test_whitespace_tokenizer(self):
        rows = tokens(con, "Don't panic,\tMs.\nSmith!", {"tokenizer": "whitespace"})
        self.assertEqual([(r[1], r[2], r[3]) for r in rows],
                         [("Don't", 0, 5), ("panic,", 6, 12), ("Ms.", 13, 16), ("Smith!", 17, 23)])
        self.assertNotEqual(embed(con, "Don't panic!", {"tokenizer": "whitespace"}),
                            embed(con, "Don't panic!"))

    def test_tokenizer_is_idempotent_on_tokenized_text(self):
        self.assertEqual(embed(con, "Don 't panic !"), embed(con, "Don't panic!"))

    def test_offsets_are_utf8_bytes(self):
        text = "café naïve 東京"
        data = text.encode("utf-8")
        rows = tokens(con, text)
        self.assertEqual([r[1] for r in rows], ["café", "naïve", "東京"])
        for i, tok, start, end, _ in rows:
            self.assertEqual(data[start:end].decode("utf-8"), tok)
        self.assertEqual(rows[2][2:4], (13, 19))

    def test_context_changes_lstm_layers_not_the_word_layer(self):
        a = tokens(con, "I sat on the bank of the river .")
        b = tokens(con, "I paid money into the bank today .")
        word_a = vectors(con, "I sat on the bank of the river .", "word")[4]
        word_b = vectors(con, "I paid money into the bank today .", "word")[5]
        self.assertEqual(word_a, word_b)
        self.assertEqual((a[4][1], b[5][1]), ("bank", "bank"))
        self.assertGreater(max(abs(x - y) for x, y in zip(a[4][4], b[5][4])), 1e-3)

    def test_results_are_deterministic(self):
        self.assertEqual(embed(con, TEXT, "all"), embed(con, TEXT, "all"))


class TextArguments(ElmoTestCase):
    def test_null_and_tokenless_text(self):
        for text in (None, "", "   \t\n "):
            self.assertIsNone(embed(con, text), repr(text))
            self.assertIsNone(embed(con, text, "top"), repr(text))
            self.assertEqual(tokens(con, text), [], repr(text))

    def test_null_text_needs_no_model(self):
        (v,) = con.execute("SELECT elmo_embed(NULL, '{\"model\":\"nonexistent\"}')").fetchone()
        self.assertIsNone(v)

    def test_invalid_utf8_is_embedded_as_raw_bytes(self):
        c = connect(load_default=False)
        c.text_factory = bytes
        try:
            rows = c.execute("SELECT i, token, start, \"end\", vector FROM "
                             "elmo_tokens(CAST(x'62616E6BFF20C328' AS TEXT))").fetchall()
            self.assertEqual([(r[0], r[1], r[2], r[3]) for r in rows],
                             [(0, b"bank\xff", 0, 5), (1, b"\xc3", 6, 7), (2, b"(", 7, 8)])
            def word(literal):
                sql = "SELECT elmo_embed(%s, 'word')" % literal
                return floats(c.execute(sql).fetchone()[0])
            a = word("CAST(x'62616E6BFF' AS TEXT)")
            b = word("CAST(x'62616E6BFE' AS TEXT)")
            plain = word("'bank'")
            tok = c.execute("SELECT vector FROM elmo_tokens(CAST(x'62616E6BFF' AS TEXT), 'word')")
            self.assertEqual(a, floats(tok.fetchone()[0]))
            self.assertTrue(all(math.isfinite(x) for x in a))
            self.assertNotEqual(a, b)        # each byte has its own character id
            self.assertNotEqual(a, plain)
            self.assertEqual(a, word("CAST(x'62616E6BFF' AS TEXT)"))  # deterministic
        finally:
            c.close()


class TokensTable(ElmoTestCase):
    def test_hidden_columns_and_rowid(self):
        rows = con.execute("SELECT rowid, i, text, options "
                           "FROM elmo_tokens('a b', 'top')").fetchall()
        self.assertEqual(rows, [(0, 0, "a b", "top"), (1, 1, "a b", "top")])
        rows = con.execute("SELECT text, options FROM elmo_tokens('a b')").fetchall()
        self.assertEqual(rows, [("a b", None), ("a b", None)])

    def test_arguments_as_constraints_in_any_order(self):
        expected = con.execute("SELECT i, vector FROM elmo_tokens('x y z', 'lstm1')").fetchall()
        got = con.execute("SELECT i, vector FROM elmo_tokens WHERE options = 'lstm1' "
                          "AND text = 'x y z'").fetchall()
        self.assertEqual(got, expected)

    def test_lateral_join_over_a_table(self):
        con.execute("CREATE TEMP TABLE docs(id INTEGER PRIMARY KEY, body TEXT)")
        con.executemany("INSERT INTO docs(body) VALUES (?)",
                        [("one two",), ("three",), (None,), ("",), ("four five six",)])
        rows = con.execute("SELECT d.id, t.i, t.token FROM docs AS d, elmo_tokens(d.body) AS t "
                           "ORDER BY d.id, t.i").fetchall()
        self.assertEqual(rows, [(1, 0, "one"), (1, 1, "two"), (2, 0, "three"),
                                (5, 0, "four"), (5, 1, "five"), (5, 2, "six")])
        # The table-valued function listed first still gets its argument from docs.
        rows2 = con.execute("SELECT d.id, t.i, t.token FROM elmo_tokens(d.body) AS t, docs AS d "
                            "ORDER BY d.id, t.i").fetchall()
        self.assertEqual(rows2, rows)
        (n,) = con.execute("SELECT count(*) FROM docs AS d, elmo_tokens(d.body, "
                           "'{\"tokenizer\":\"whitespace\"}')").fetchone()
        self.assertEqual(n, 6)
        con.execute("DROP TABLE docs")

    def test_embed_equals_mean_of_token_rows(self):
        for output in ("top", "average", "all"):
            self.assertVectorsClose(embed(con, TEXT, output), mean_rows(vectors(con, TEXT, output)),
                                    1e-6, output)


class ModelOption(ElmoTestCase):
    def test_model_option_selects_a_registered_model(self):
        with temp_dir() as d:
            opts_path, weights_path = genmodel(d, "--shape", "tiny", "--seed", "7")
            con.execute("SELECT elmo_load('seven', ?, ?)", (opts_path, weights_path))
            try:
                other = embed(con, TEXT, {"model": "seven", "output": "top"})
                self.assertEqual(len(other), TINY_DIM)
                self.assertGreater(max(abs(x - y) for x, y in
                                       zip(other, embed(con, TEXT, "top"))), 1e-3)
                self.assertVectorsClose(other, mean_rows(vectors(con, TEXT, {"model": "seven",
                                                                             "output": "top"})))
                self.assertEqual(embed(con, TEXT, {"model": "default"}), embed(con, TEXT))
            finally:
                con.execute("SELECT elmo_unload('seven')")

    def test_outputs_follow_the_model_depth(self):
        with temp_dir() as d:
            o, w = genmodel(d, "--shape", "tiny", "--layers", "3", "--seed", "3")
            con.execute("SELECT elmo_load('deep', ?, ?)", (o, w))
            try:
                self.assertEqual(len(embed(con, TEXT, {"model": "deep", "output": "all"})),
                                 4 * TINY_DIM)
                self.assertEqual(vectors(con, TEXT, {"model": "deep", "output": "lstm3"}),
                                 vectors(con, TEXT, {"model": "deep", "output": "top"}))
                self.assertEqual(len(embed(con, TEXT, {"model": "deep", "output": [1, 2, 3, 4]})),
                                 TINY_DIM)
            finally:
                con.execute("SELECT elmo_unload('deep')")


if __name__ == "__main__":
    unittest.main()
