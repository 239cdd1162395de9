"""The same text gives the same bytes on every SQL path: elmo_embed, elmo_batch (any row
order, any batch), elmo_tokens (pooled here exactly as the engine pools), in a fresh
process or after other texts (char-CNN cache cold or warm), with 1 or 2 threads; and
elmo_embed is DETERMINISTIC, so generated columns and expression indexes work."""
import os
import random
import sqlite3
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from elmo_sql import (ElmoTestCase, TINY_OPTIONS, TINY_WEIGHTS, connect, run_cli,  # noqa: E402
                      floats, module_connection)

setUpModule, tearDownModule = module_connection(globals())

WORDS = ["the", "bank", "river", "raised", "rates", ".", ",", "!", "Don't", "U.S.", "6-3",
         "interest", "café", "naïve", "x", "embedding", "1,000", "Ms.", "a", "of", "?",
         "supercalifragilisticexpialidocious-and-then-some-more-bytes-to-cut"]


def make_texts(n, seed):
    rnd = random.Random(seed)
    return [" ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 30))) for _ in range(n)]


TEXTS = make_texts(120, 7)
OPTIONS = [None, "top", "[1, 0, -1]", '{"layer_norm": true}', '{"pooling": "max"}',
           '{"gamma": 0.5, "output": "lstm1"}', '{"tokenizer": "whitespace"}', "all"]


def pooled_mean(vectors):
    """elmo_pool's mean: a double sum in token order, divided by n, rounded to float32
    (no compensated summation, unlike sum() in newer Pythons)."""
    out = []
    for d in range(len(vectors[0])):
        acc = 0.0
        for v in vectors:
            acc += v[d]
        out.append(acc / len(vectors))
    return struct.pack("<%df" % len(out), *out)


def embed_in_child(texts, threads, env=None):
    """hex(elmo_embed(t)) for each text, in a fresh sqlite3 process (cold cache)."""
    sql = "SELECT elmo_load('default', '%s', '%s');\n" % (TINY_OPTIONS, TINY_WEIGHTS)
    sql += "".join("SELECT hex(elmo_embed('%s'));\n" % t.replace("'", "''") for t in texts)
    rc, out, err = run_cli(sql, dict(env or {}, ELMO_THREADS=str(threads)))
    assert rc == 0, err
    return [bytes.fromhex(h) for h in out.split()[1:]]


def make_docs():
    if not con.execute("SELECT count(*) FROM temp.sqlite_master WHERE name = 'docs'").fetchone()[0]:
        con.execute("CREATE TEMP TABLE docs(id INTEGER PRIMARY KEY, body TEXT)")
        con.executemany("INSERT INTO docs VALUES (?, ?)", list(enumerate(TEXTS)))


class SamePathSameBytes(ElmoTestCase):
    @classmethod
    def setUpClass(cls):
        make_docs()

    def embed_each(self, opts):
        if opts is None:
            return [con.execute("SELECT elmo_embed(?)", (t,)).fetchone()[0] for t in TEXTS]
        return [con.execute("SELECT elmo_embed(?, ?)", (t, opts)).fetchone()[0] for t in TEXTS]

    def batch(self, order_by, opts):
        q = "SELECT id, body FROM docs ORDER BY " + order_by
        if opts is None:
            rows = con.execute("SELECT id, vector FROM elmo_batch(?)", (q,)).fetchall()
        else:
            rows = con.execute("SELECT id, vector FROM elmo_batch(?, ?)", (q, opts)).fetchall()
        return dict(rows)

    def test_embed_equals_batch_in_any_order(self):
        for opts in OPTIONS:
            single = self.embed_each(opts)
            for order in ("id", "id DESC", "length(body), id", "(id * 37) % 120"):
                got = self.batch(order, opts)
                same = sum(got[i] == single[i] for i in range(len(TEXTS)))
                self.assertEqual(same, len(TEXTS), "options %r, order %s" % (opts, order))

    def test_tokens_pool_to_embed(self):
        for t in TEXTS[:40]:
            rows = con.execute("SELECT vector FROM elmo_tokens(?)", (t,)).fetchall()
            mean = pooled_mean([floats(v) for (v,) in rows])
            self.assertEqual(mean, con.execute("SELECT elmo_embed(?)", (t,)).fetchone()[0], t)

    def test_fresh_process_cold_cache_and_threads(self):
        here = self.embed_each(None)   # this process: the cache is warm by now
        reverse = list(reversed(TEXTS[:40]))
        for threads in (1, 2):
            child = embed_in_child(reverse, threads)
            self.assertEqual(child, list(reversed(here[:40])), "ELMO_THREADS=%d" % threads)


    def test_every_fp32_kernel_gives_the_same_bytes(self):
        here = self.embed_each(None)[:30]
        for kernel in ("avx2", "portable"):
            child = embed_in_child(TEXTS[:30], 2, {"ELMO_KERNEL": kernel})
            self.assertEqual(child, here, "ELMO_KERNEL=" + kernel)


BF16 = '{"precision":"bf16"}'


def bf16_supported():
    c = connect(load_default=False)
    try:
        c.execute("SELECT elmo_load('probe16', ?, ?, ?)", (TINY_OPTIONS, TINY_WEIGHTS, BF16))
        c.execute("SELECT elmo_unload('probe16')")
        return True
    except sqlite3.Error:
        return False
    finally:
        c.close()


class Bf16SamePathSameBytes(ElmoTestCase):
    def test_embed_batch_tokens_agree_in_bf16(self):
        if not bf16_supported():
            self.skipTest("this CPU has no AVX512-BF16")
        make_docs()
        con.execute("SELECT elmo_load('tiny16', ?, ?, ?)", (TINY_OPTIONS, TINY_WEIGHTS, BF16))
        try:
            self.assertEqual(con.execute("SELECT precision FROM elmo_models WHERE name = "
                                         "'tiny16'").fetchone(), ("bf16",))
            opts = '{"model":"tiny16"}'
            single = [con.execute("SELECT elmo_embed(?, ?)", (t, opts)).fetchone()[0]
                      for t in TEXTS]
            fp32 = [con.execute("SELECT elmo_embed(?)", (t,)).fetchone()[0] for t in TEXTS]
            self.assertEqual(sum(a == b for a, b in zip(single, fp32)), 0)  # another model
            q = "SELECT id, body FROM docs ORDER BY length(body) DESC, id"
            got = dict(con.execute("SELECT id, vector FROM elmo_batch(?, ?)", (q, opts)))
            self.assertEqual([got[i] for i in range(len(TEXTS))], single)
            for t, want in list(zip(TEXTS, single))[:20]:
                rows = con.execute("SELECT vector FROM elmo_tokens(?, ?)", (t, opts)).fetchall()
                self.assertEqual(pooled_mean([floats(v) for (v,) in rows]), want)
        finally:
            con.execute("SELECT elmo_unload('tiny16')")

    def test_each_bf16_kernel_same_bytes_on_every_path(self):
        """In a fresh process per bf16 kernel (ELMO_KERNEL selects it): elmo_embed and
        elmo_batch in shuffled order give the same bytes; the two kernels round differently,
        so their models have different fingerprints."""
        if not bf16_supported():
            self.skipTest("this CPU has no AVX512-BF16")
        texts = TEXTS[:40]
        sql = "SELECT elmo_load('default', '%s', '%s', '%s');\n" % (TINY_OPTIONS, TINY_WEIGHTS,
                                                                     BF16)
        sql += "SELECT kernel || ' ' || fingerprint FROM elmo_models;\n"
        sql += "CREATE TABLE d(id INTEGER PRIMARY KEY, body TEXT);\n"
        sql += "".join("INSERT INTO d VALUES (%d, '%s');\n" % (i, t.replace("'", "''"))
                       for i, t in enumerate(texts))
        sql += "SELECT hex(elmo_embed(body)) FROM d ORDER BY id;\n"
        sql += ("SELECT hex(vector) FROM elmo_batch('SELECT id, body FROM d "
                "ORDER BY (id * 17) % 40') ORDER BY id;\n")
        seen = {}
        for kernel in ("amx-bf16", "avx512-bf16"):
            rc, out, err = run_cli(sql, {"ELMO_KERNEL": kernel, "ELMO_THREADS": "2"})
            self.assertEqual(rc, 0, err)
            lines = out.split()
            got_kernel, fingerprint = lines[1], lines[2]
            if got_kernel != kernel:
                print("  bit identity: %s not on this CPU (got %s)" % (kernel, got_kernel))
                continue
            single, batch = lines[3:3 + len(texts)], lines[3 + len(texts):]
            self.assertEqual(batch, single, kernel)
            seen[kernel] = (fingerprint, single)
            print("  bit identity: bf16 paths agree on %s" % kernel)
        if len(seen) == 2:
            self.assertNotEqual(seen["amx-bf16"][0], seen["avx512-bf16"][0])

    def test_a_cpu_without_bf16_says_to_use_fp32(self):
        # ELMO_KERNEL=portable makes the process behave like a CPU without AVX-512.
        sql = "SELECT elmo_load('x', '%s', '%s', '%s');\n" % (TINY_OPTIONS, TINY_WEIGHTS, BF16)
        rc, _, err = run_cli(sql, {"ELMO_KERNEL": "portable"})
        self.assertEqual(rc, 1)
        self.assertIn("bf16 is unavailable: ELMO_KERNEL caps the kernel at portable; unset it "
                      "or load the model with precision 'fp32'", err)


class KernelReported(ElmoTestCase):
    """elmo_models says which kernel a model runs on and why not a faster one."""

    def kernel_and_notice(self, env, precision="fp32"):
        sql = ("SELECT elmo_load('default', '%s', '%s', '{\"precision\":\"%s\"}');\n"
               "SELECT kernel, coalesce(notice, '-') FROM elmo_models;\n"
               % (TINY_OPTIONS, TINY_WEIGHTS, precision))
        rc, out, err = run_cli(sql, env)
        self.assertEqual(rc, 0, err)
        return out.splitlines()[1].split("|", 1)

    def test_kernel_column_and_caps(self):
        best, notice = self.kernel_and_notice({})
        self.assertIn(best, ("avx512-fp32", "avx2-fp32", "portable"))
        self.assertEqual(notice, "-")
        self.assertEqual(self.kernel_and_notice({"ELMO_KERNEL": "portable"}),
                         ["portable", "fp32 products run on portable, capped by ELMO_KERNEL "
                                      "(this CPU has %s)" % best] if best != "portable"
                         else ["portable", "-"])
        self.assertEqual(self.kernel_and_notice({"ELMO_KERNEL": "fast-please"}),
                         [best, "ELMO_KERNEL='fast-please' names no kernel (amx-bf16, "
                                "avx512-bf16, avx512-fp32, avx2-fp32, portable) and is ignored"])


class DeterministicInSchema(ElmoTestCase):
    def test_generated_column_and_expression_index(self):
        c = connect()
        try:
            c.execute("CREATE TABLE d(id INTEGER PRIMARY KEY, body TEXT, "
                      "emb BLOB AS (elmo_embed(body)) STORED)")
            c.executemany("INSERT INTO d(body) VALUES (?)", [(t,) for t in TEXTS[:20]])
            stale = c.execute("SELECT count(*) FROM d WHERE emb IS NOT elmo_embed(body)")
            self.assertEqual(stale.fetchone(), (0,))
            c.execute("CREATE INDEX d_by_top ON d(elmo_embed(body, 'top'))")
            plan = " ".join(r[3] for r in c.execute(
                "EXPLAIN QUERY PLAN SELECT id FROM d WHERE elmo_embed(body, 'top') = ?",
                (b"",)))
            self.assertIn("USING INDEX d_by_top", plan)
            hit = c.execute("SELECT id FROM d WHERE elmo_embed(body, 'top') = "
                            "elmo_embed(?, 'top')", (TEXTS[5],)).fetchall()
            self.assertIn((6,), hit)
            self.assertEqual(c.execute("PRAGMA integrity_check").fetchone(), ("ok",))
        finally:
            c.close()

    def test_untrusted_schema_refuses_it(self):
        c = connect()
        try:
            c.execute("CREATE TABLE d(body TEXT, emb BLOB AS (elmo_embed(body)) STORED)")
            c.execute("PRAGMA trusted_schema = OFF")
            self.assertSqlError(c, "INSERT INTO d(body) VALUES ('x')",
                                message="unsafe use of elmo_embed()")
        finally:
            c.close()


if __name__ == "__main__":
    unittest.main()
