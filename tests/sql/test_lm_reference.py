"""test_lm_reference.py - the language-model head against a float64 reference that knows
the answer (tests/sql/lm_reference.py, plain Python, nothing shared with core/):

  - the softmax inputs are the golden fixtures' own TensorFlow outputs (the top layer of
    sentence 0 of each stream, stateless) for the token positions, and the reference biLM's
    outputs at <S> and </S> (which the fixtures leave out), that biLM being checked against
    the fixtures first; two models: AllenNLP's tiny model (skip connections) and bilm-tf's
    test model (none);
  - the head is the seeded random one bundled with the tiny model
    (models/elmo-tiny/softmax_weights.hdf5 over its 458-word vocabulary);
  - every log-probability, rank, perplexity (three directions) and top-k prediction (masked
    and next word, with and without bias, with vocab_limit, with an out-of-vocabulary token)
    must be within 1e-5 of the reference, through SQL and through the C API (libelmo.so via
    ctypes), and the two must give the same bytes, as must elmo_batch."""
import ctypes
import json
import math
import os
import struct
import subprocess
import unittest

import lm_reference as ref
from elmo_sql import B, GENMODEL, ROOT, ElmoTestCase, connect, temp_dir

TOL = 1e-5
TINY = os.path.join(ROOT, "models", "elmo-tiny")
NOSKIP = os.path.join(ROOT, "tests", "fixtures", "bilm-tf-noskip")
SOFTMAX = os.path.join(TINY, "softmax_weights.hdf5")
VOCAB = os.path.join(TINY, "vocab.txt")
MODELS = {  # name: (options, weights, fixture dir, sentences file)
    "tiny": (os.path.join(TINY, "options.json"), os.path.join(TINY, "weights.hdf5"),
             os.path.join(ROOT, "tests", "fixtures", "elmo-tiny"), "sentences.json"),
    "noskip": (os.path.join(NOSKIP, "options.json"), os.path.join(NOSKIP, "lm_weights.hdf5"),
               NOSKIP, "lm_embeddings_sentences.json"),
}

con = None
head = None
CASES = []  # (model, text, tokens, fwd rows f[0..n], bwd rows g[1..n+1])


def bits(x):
    return struct.pack("<d", x)


def load_case(model, bilm, fixture, sentences_file, stream):
    """The softmax inputs of sentence 0 of a stream: the fixture's rows for the tokens, the
    reference biLM's at the boundaries (after checking it against the fixture)."""
    with open(os.path.join(fixture, sentences_file)) as f:
        text = json.load(f)[stream][0]
    tokens = text.split()
    n, P = len(tokens), 16
    shape, gold = ref.h5_dataset(os.path.join(fixture, "lm_embeddings_%d.hdf5" % stream), "/0")
    assert shape == (2, n, P)
    fwd_gold = [gold[t * P:(t + 1) * P] for t in range(n)]
    bwd_gold = [gold[(n + t) * P:(n + t + 1) * P] for t in range(n)]
    f = bilm.run(0, ["<S>"] + tokens[:2])  # f[0], f[1], f[2]
    g = bilm.run(1, ["</S>"] + tokens[::-1][:2])  # g[n+1], g[n], g[n-1]
    return (model, text, tokens, [f[0]] + fwd_gold, bwd_gold + [g[0]],
            (f[1:], fwd_gold[:2], g[1:], bwd_gold[::-1][:2]))


def setUpModule():
    global con, head
    head = ref.Head(SOFTMAX, VOCAB)
    for name, (options, weights, fixture, sentences) in MODELS.items():
        with open(options) as f:
            bilm = ref.Bilm(json.load(f), weights)
        for stream in range(3):
            CASES.append(load_case(name, bilm, fixture, sentences, stream))
    con = connect(load_default=False)
    for name, (options, weights, _, _) in MODELS.items():
        con.execute("SELECT elmo_load(?, ?, ?, ?)",
                    (name, options, weights, json.dumps({"softmax": SOFTMAX, "vocab": VOCAB})))


def tearDownModule():
    con.close()


def sql_options(model, **kw):
    return json.dumps(dict(model=model, tokenizer="whitespace", **kw))


class ReferenceBilm(ElmoTestCase):
    def test_the_reference_biLM_reproduces_the_fixtures(self):
        """Before its boundary rows are trusted: its next two steps of each direction equal
        TensorFlow's."""
        for model, _, _, _, _, check in CASES:
            f, f_gold, g, g_gold = check
            for a, b in zip(f + g, f_gold + g_gold):
                self.assertVectorsClose(a, b, 1e-5, model)


class SqlAgainstReference(ElmoTestCase):
    def check_sentence(self, model, text, tokens, fwd, bwd, h=None, **kw):
        h = h or head
        expect = ref.sentence_scores(h, fwd, bwd, tokens, **{
            k: v for k, v in kw.items() if k in ("bias", "limit")})
        opts = {"bias": kw["bias"]} if "bias" in kw else {}
        if kw.get("limit"):
            opts["vocab_limit"] = kw["limit"]
        rows = con.execute("SELECT i, token, vocab_id, logprob_forward, logprob_backward, "
                           "rank_forward, rank_backward FROM elmo_lm(?, ?) ORDER BY i",
                           (text, sql_options(model, **opts))).fetchall()
        self.assertEqual([r[1] for r in rows], ["<S>"] + tokens + ["</S>"])
        self.assertEqual([r[0] for r in rows], list(range(-1, len(tokens) + 1)))
        worst = 0.0
        for row, (e_f, e_b) in zip(rows, expect):
            word = row[1]
            own = h.row.get(word, -1)
            self.assertEqual(row[2], own if 0 <= own < (kw.get("limit") or h.V) else None, word)
            for got, rank, e in ((row[3], row[5], e_f), (row[4], row[6], e_b)):
                if e is None:
                    self.assertIsNone(got)
                    self.assertIsNone(rank)
                    continue
                worst = max(worst, abs(got - e[0]))
                self.assertLessEqual(abs(got - e[0]), TOL, (model, word, got, e))
                self.assertTrue(e[2][0] <= rank <= e[2][1], (model, word, rank, e))
        self.assertGreater(worst, 0.0)  # a real comparison
        return rows, expect

    def test_logprobs_and_ranks(self):
        for model, text, tokens, fwd, bwd, _ in CASES:
            self.check_sentence(model, text, tokens, fwd, bwd)

    def test_without_bias_and_with_vocab_limit(self):
        model, text, tokens, fwd, bwd, _ = CASES[1]
        self.check_sentence(model, text, tokens, fwd, bwd, bias=False)
        # the specials are rows 20, 117 and 224: a limit must keep them
        rows, _ = self.check_sentence(model, text, tokens, fwd, bwd, limit=300)
        self.assertIn(None, [r[2] for r in rows])  # some words lie beyond row 300

    def test_perplexity(self):
        for model, text, tokens, fwd, bwd, _ in CASES:
            entries = ref.sentence_scores(head, fwd, bwd, tokens)
            for direction in ("both", "forward", "backward"):
                (got,) = con.execute("SELECT elmo_perplexity(?, ?)",
                                     (text, sql_options(model, direction=direction))).fetchone()
                want = ref.perplexity(entries, direction)
                self.assertLessEqual(abs(math.log(got) - math.log(want)), TOL,
                                     (model, direction, got, want))
        (default,) = con.execute("SELECT elmo_perplexity(?, ?)", (CASES[0][1], sql_options(
            "tiny"))).fetchone()
        (both,) = con.execute("SELECT elmo_perplexity(?, ?)", (CASES[0][1], sql_options(
            "tiny", direction="both"))).fetchone()
        self.assertEqual(bits(default), bits(both))  # bilm-tf's definition is the default

    def check_predictions(self, got, want, scores, h=None):
        """got: (rank, word, logprob) rows; want: the reference's (word, logprob)."""
        h = h or head
        self.assertEqual(len(got), len(want))
        for (rank, word, lp), (w_word, w_lp) in zip(got, want):
            self.assertLessEqual(abs(lp - w_lp), TOL, (rank, word, w_word))
            if word != w_word:  # only a near tie may swap two words
                self.assertLessEqual(abs(scores[h.row[word]] - w_lp), 2 * TOL, (word, w_word))
        self.assertEqual([r[0] for r in got], list(range(1, len(got) + 1)))

    def test_predict_masked_word(self):
        for model, text, tokens, fwd, bwd, _ in CASES:
            for p in (0, len(tokens) // 2, len(tokens) - 1):
                masked = " ".join(tokens[:p] + ["[MASK]"] + tokens[p + 1:])
                # f[p] and g[p+2] surround position p+1, the mask (bwd[t-1] is g[t])
                want, scores = ref.predict(head, fwd[p], bwd[p + 1], 10)
                got = con.execute("SELECT rank, word, logprob, logprob_forward, "
                                  "logprob_backward FROM elmo_predict(?, 10, ?)",
                                  (masked, sql_options(model))).fetchall()
                self.check_predictions([r[:3] for r in got], want, scores)
                for r in got:  # the two directions, each its own log-softmax
                    v = head.row[r[1]]
                    lf = head.logits(fwd[p])
                    lb = head.logits(bwd[p + 1])
                    self.assertLessEqual(abs(r[3] - (lf[v] - head.lse(lf))), TOL)
                    self.assertLessEqual(abs(r[4] - (lb[v] - head.lse(lb))), TOL)

    def test_predict_next_word_and_options(self):
        model, text, tokens, fwd, bwd, _ = CASES[4]
        want, scores = ref.predict(head, fwd[-1], None, 8)
        got = con.execute("SELECT rank, word, logprob, logprob_backward FROM "
                          "elmo_predict(?, 8, ?)", (text, sql_options(model))).fetchall()
        self.check_predictions([r[:3] for r in got], want, scores)
        self.assertEqual({r[3] for r in got}, {None})
        # no bias, a truncated vocabulary, no exclusions, another mask token
        masked = " ".join(tokens[:3] + ["<blank>"] + tokens[4:])
        want, scores = ref.predict(head, fwd[3], bwd[4], 20, exclude=(), bias=False, limit=50)
        got = con.execute("SELECT rank, word, logprob FROM elmo_predict(?, 20, ?)", (
            masked, sql_options(model, bias=False, vocab_limit=50, exclude=[],
                                mask="<blank>"))).fetchall()
        self.check_predictions(got, want, scores)
        self.assertTrue(all(head.row[r[1]] < 50 for r in got))
        # exclusions: a word that would win is left out
        top = got[0][1]
        again = con.execute("SELECT word FROM elmo_predict(?, 20, ?)", (
            masked, sql_options(model, bias=False, vocab_limit=50, exclude=[top],
                                mask="<blank>"))).fetchall()
        self.assertEqual([r[0] for r in again][:19], [r[1] for r in got if r[1] != top])

    def test_a_head_of_several_blocks(self):
        """V = 5000 (the tiny words, then made-up ones): the log-sum-exp and the ranks are
        folded over three blocks of columns, and vocab_limit 3000 ends inside the second."""
        model, text, tokens, fwd, bwd, _ = CASES[1]
        with temp_dir() as d:
            vocab = os.path.join(d, "vocab.txt")
            with open(vocab, "w", encoding="utf-8") as f:
                f.write("\n".join(head.words + ["extra%d" % v for v in range(5000 - head.V)]))
            subprocess.run([GENMODEL, "--out", d, "--shape", "tiny", "--softmax-only", "--seed",
                            "3", "--vocab", vocab], check=True, stdout=subprocess.DEVNULL)
            softmax = os.path.join(d, "softmax_weights.hdf5")
            big = ref.Head(softmax, vocab)
            options, weights = MODELS[model][:2]
            con.execute("SELECT elmo_load('big', ?, ?, ?)",
                        (options, weights, json.dumps({"softmax": softmax, "vocab": vocab})))
            try:
                self.check_sentence("big", text, tokens, fwd, bwd, h=big)
                self.check_sentence("big", text, tokens, fwd, bwd, h=big, limit=3000)
                want, scores = ref.predict(big, fwd[4], bwd[5], 12)
                masked = " ".join(tokens[:4] + ["[MASK]"] + tokens[5:])
                got = con.execute("SELECT rank, word, logprob FROM elmo_predict(?, 12, ?)",
                                  (masked, sql_options("big"))).fetchall()
                self.check_predictions(got, want, scores, big)
            finally:
                con.execute("SELECT elmo_unload('big')")

    def test_out_of_vocabulary_tokens_are_scored_as_unk(self):
        """A vocabulary where two of the sentence's words are renamed: they are scored with
        the <UNK> row, exactly as the reference does."""
        model, text, tokens, fwd, bwd, _ = CASES[1]
        gone = [tokens[0], tokens[3]]
        with temp_dir() as d:
            vocab = os.path.join(d, "vocab.txt")
            with open(vocab, "w", encoding="utf-8") as f:
                f.write("\n".join(w + "_renamed" if w in gone else w for w in head.words))
            h = ref.Head(SOFTMAX, vocab)
            options, weights = MODELS[model][:2]
            con.execute("SELECT elmo_load('oov', ?, ?, ?)",
                        (options, weights, json.dumps({"softmax": SOFTMAX, "vocab": vocab})))
            try:
                rows, _ = self.check_sentence("oov", text, tokens, fwd, bwd, h=h)
            finally:
                con.execute("SELECT elmo_unload('oov')")
        self.assertEqual([r[1] for r in rows if r[2] is None], gone)


# ---- the C API, through libelmo.so ---------------------------------------------------------

class Span(ctypes.Structure):
    _fields_ = [("start", ctypes.c_size_t), ("end", ctypes.c_size_t)]


class Sentence(ctypes.Structure):
    _fields_ = [("text", ctypes.c_char_p), ("tokens", ctypes.POINTER(Span)),
                ("n_tokens", ctypes.c_size_t)]


class Error(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("message", ctypes.c_char * 512)]


class LoadParams(ctypes.Structure):
    _fields_ = [("cache_bytes", ctypes.c_int64), ("precision", ctypes.c_int),
                ("softmax_path", ctypes.c_char_p), ("vocab_path", ctypes.c_char_p),
                ("skip_head", ctypes.c_int)]


class LmParams(ctypes.Structure):
    _fields_ = [("vocab_limit", ctypes.c_int64), ("use_bias", ctypes.c_int),
                ("direction", ctypes.c_int), ("exclude", ctypes.POINTER(ctypes.c_int64)),
                ("n_exclude", ctypes.c_size_t)]


class LmToken(ctypes.Structure):
    _fields_ = [("vocab_id", ctypes.c_int64), ("logprob_forward", ctypes.c_double),
                ("logprob_backward", ctypes.c_double), ("rank_forward", ctypes.c_int64),
                ("rank_backward", ctypes.c_int64)]


class Prediction(ctypes.Structure):
    _fields_ = [("vocab_id", ctypes.c_int64), ("logprob", ctypes.c_double),
                ("logprob_forward", ctypes.c_double), ("logprob_backward", ctypes.c_double)]


class CApiAgainstReference(ElmoTestCase):
    """The batched C API: all the fixture sentences of a model in one call."""

    @classmethod
    def setUpClass(cls):
        lib = ctypes.CDLL(os.path.join(ROOT, B, "libelmo.so"))
        lib.elmo_load_default_params.restype = LoadParams
        lib.elmo_lm_default_params.restype = LmParams
        lib.elmo_vocab_word.restype = ctypes.c_char_p
        lib.elmo_vocab_word.argtypes = [ctypes.c_void_p, ctypes.c_int64,
                                        ctypes.POINTER(ctypes.c_size_t)]
        lib.elmo_model_free.argtypes = [ctypes.c_void_p]
        common = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(Sentence)]
        lib.elmo_lm_score.argtypes = common + [ctypes.c_size_t, ctypes.POINTER(LmToken),
                                               ctypes.POINTER(Error)]
        lib.elmo_lm_perplexity.argtypes = common + [ctypes.c_size_t,
                                                    ctypes.POINTER(ctypes.c_double),
                                                    ctypes.POINTER(Error)]
        lib.elmo_lm_predict.argtypes = common + [ctypes.POINTER(ctypes.c_int64), ctypes.c_size_t,
                                                 ctypes.c_size_t, ctypes.POINTER(Prediction),
                                                 ctypes.POINTER(Error)]
        cls.lib = lib
        cls.models = {}
        for name, (options, weights, _, _) in MODELS.items():
            p = lib.elmo_load_default_params()
            p.softmax_path, p.vocab_path = SOFTMAX.encode(), VOCAB.encode()
            m, err = ctypes.c_void_p(), Error()
            rc = lib.elmo_model_load(options.encode(), weights.encode(), ctypes.byref(p),
                                     ctypes.byref(m), ctypes.byref(err))
            assert rc == 0, err.message
            cls.models[name] = m

    @classmethod
    def tearDownClass(cls):
        for m in cls.models.values():
            cls.lib.elmo_model_free(m)

    def batch(self, model):
        """(cases, sentences array, keep-alive) for the model's fixture sentences."""
        cases = [c for c in CASES if c[0] == model]
        keep, sents = [], (Sentence * len(cases))()
        for s, (_, text, tokens, _, _, _) in zip(sents, cases):
            raw = text.encode()
            spans, at = (Span * len(tokens))(), 0
            for sp, tok in zip(spans, tokens):
                at = raw.index(tok.encode(), at)
                sp.start, sp.end = at, at + len(tok.encode())
                at = sp.end
            keep += [raw, spans]
            s.text, s.tokens, s.n_tokens = raw, spans, len(tokens)
        return cases, sents, keep

    def test_score_perplexity_predict(self):
        lib = self.lib
        for model, m in self.models.items():
            cases, sents, keep = self.batch(model)
            n_out = sum(len(c[2]) + 2 for c in cases)
            out, err = (LmToken * n_out)(), Error()
            self.assertEqual(lib.elmo_lm_score(m, None, None, sents, len(cases), out,
                                               ctypes.byref(err)), 0, err.message)
            at = 0
            for _, text, tokens, fwd, bwd, _ in cases:
                expect = ref.sentence_scores(head, fwd, bwd, tokens)
                sql = con.execute("SELECT logprob_forward, logprob_backward FROM elmo_lm(?, ?) "
                                  "ORDER BY i", (text, sql_options(model))).fetchall()
                for e, (e_f, e_b), (s_f, s_b) in zip(out[at:at + len(tokens) + 2], expect, sql):
                    if e_f:
                        self.assertLessEqual(abs(e.logprob_forward - e_f[0]), TOL)
                        self.assertTrue(e_f[2][0] <= e.rank_forward <= e_f[2][1])
                        self.assertEqual(bits(e.logprob_forward), bits(s_f))
                    else:
                        self.assertTrue(math.isnan(e.logprob_forward) and e.rank_forward == 0)
                    if e_b:
                        self.assertLessEqual(abs(e.logprob_backward - e_b[0]), TOL)
                        self.assertEqual(bits(e.logprob_backward), bits(s_b))
                    else:
                        self.assertTrue(math.isnan(e.logprob_backward))
                at += len(tokens) + 2
            ppl = (ctypes.c_double * len(cases))()
            self.assertEqual(lib.elmo_lm_perplexity(m, None, None, sents, len(cases), ppl,
                                                    ctypes.byref(err)), 0, err.message)
            texts = [c[1] for c in cases]
            for p, (_, text, tokens, fwd, bwd, _) in zip(ppl, cases):
                want = ref.perplexity(ref.sentence_scores(head, fwd, bwd, tokens))
                self.assertLessEqual(abs(math.log(p) - math.log(want)), TOL)
                (one,) = con.execute("SELECT elmo_perplexity(?, ?)",
                                     (text, sql_options(model))).fetchone()
                self.assertEqual(bits(p), bits(one))
            con.execute("CREATE TEMP TABLE t(id INTEGER PRIMARY KEY, body TEXT)")
            try:
                con.executemany("INSERT INTO t(body) VALUES (?)", [(t,) for t in texts])
                bulk = con.execute("SELECT perplexity FROM elmo_batch('SELECT id, body FROM t', "
                                   "?) ORDER BY id", (json.dumps(
                                       {"output": "perplexity", "model": model,
                                        "tokenizer": "whitespace"}),)).fetchall()
            finally:
                con.execute("DROP TABLE t")
            self.assertEqual([bits(b) for (b,) in bulk], [bits(p) for p in ppl])
            # masked word at token 2 of every sentence, in one call
            k = 6
            masks = (ctypes.c_int64 * len(cases))(*([2] * len(cases)))
            pred = (Prediction * (k * len(cases)))()
            self.assertEqual(lib.elmo_lm_predict(m, None, None, sents, masks, len(cases),
                                                 k, pred, ctypes.byref(err)), 0,
                             err.message)
            for i, (_, text, tokens, fwd, bwd, _) in enumerate(cases):
                want, scores = ref.predict(head, fwd[2], bwd[3], k)
                got = [(j + 1, lib.elmo_vocab_word(m, p.vocab_id, None).decode(), p.logprob)
                       for j, p in enumerate(pred[i * k:(i + 1) * k])]
                self.check_predictions(got, want, scores)
                masked = " ".join(tokens[:2] + ["[MASK]"] + tokens[3:])
                sql = con.execute("SELECT rank, word, logprob FROM elmo_predict(?, ?, ?)",
                                  (masked, k, sql_options(model))).fetchall()
                self.assertEqual([(r, w, bits(lp)) for r, w, lp in sql],
                                 [(r, w, bits(lp)) for r, w, lp in got])

    check_predictions = SqlAgainstReference.check_predictions


if __name__ == "__main__":
    unittest.main()
