"""elmo_batch(sql [, options]): the batch path equals elmo_embed row by row, keeps the input
order across windows, passes ids through, and reports every bad input as a clear error.
sqlite3_interrupt stops it."""
import os
import sqlite3
import threading
import time
import unittest

from elmo_sql import (ElmoTestCase, SAN, TINY_DIM, TINY_LAYERS, connect, embed, floats,
                      genmodel, opts_text, temp_dir)

SENTENCES = [
    "The bank raised interest rates on Tuesday.",
    "We sat on the bank of the river and watched the boats.",
    "Don't panic!",
    "Stocks fell sharply after the announcement, and investors sold U.S. bonds.",
    "A",
    "The committee said on Tuesday that it would review the proposal before the end "
    "of the year , after months of debate about costs .",
    "Quiet.",
]


def make_docs(con, texts):
    con.execute("CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT)")
    con.executemany("INSERT INTO docs(id, body) VALUES (?, ?)", list(enumerate(texts, 1)))


def batch_rows(con, sql="SELECT id, body FROM docs", opts=None):
    if opts is None:
        rows = con.execute("SELECT id, vector FROM elmo_batch(?)", (sql,)).fetchall()
    else:
        rows = con.execute("SELECT id, vector FROM elmo_batch(?, ?)",
                           (sql, opts_text(opts))).fetchall()
    return [(i, None if v is None else floats(v)) for i, v in rows]


class BatchEqualsEmbed(ElmoTestCase):
    def setUp(self):
        self.con = connect()
        make_docs(self.con, SENTENCES)

    def tearDown(self):
        self.con.close()

    def check(self, opts):
        rows = batch_rows(self.con, opts=opts)
        self.assertEqual([r[0] for r in rows], list(range(1, len(SENTENCES) + 1)))
        for (i, vec), text in zip(rows, SENTENCES):
            self.assertVectorsClose(vec, embed(self.con, text, opts), 1e-6,
                                    "%r, row %d" % (opts, i))

    def test_default_options(self):
        self.check(None)

    def test_every_output_and_pooling(self):
        outputs = ["average", "top", "word", "lstm1", "lstm2", "all", [0.5, -1.0, 2.0]]
        for output in outputs:
            for pooling in ("mean", "max"):
                self.check({"output": output, "pooling": pooling})

    def test_gamma_layer_norm_tokenizer_model(self):
        self.con.execute("SELECT elmo_load('second', ?, ?)",
                         self.con.execute("SELECT options_path, weights_path FROM elmo_models "
                                          "WHERE name = 'default'").fetchone())
        self.check({"gamma": 0.5, "layer_norm": True})
        self.check({"tokenizer": "whitespace", "output": "top"})
        self.check({"model": "second", "output": "all", "layer_norm": True})
        self.check("top")  # a bare output name

    def test_width_of_all(self):
        (i, vec) = batch_rows(self.con, opts={"output": "all"})[0]
        self.assertEqual(len(vec), TINY_DIM * TINY_LAYERS)

    def test_insert_select(self):
        self.con.execute("CREATE TABLE doc_vec(id INTEGER PRIMARY KEY, vector BLOB)")
        self.con.execute("INSERT INTO doc_vec SELECT id, vector FROM "
                         "elmo_batch('SELECT id, body FROM docs')")
        stored = self.con.execute("SELECT id, vector FROM doc_vec ORDER BY id").fetchall()
        self.assertEqual(len(stored), len(SENTENCES))
        for (i, blob), text in zip(stored, SENTENCES):
            self.assertEqual(len(blob), 4 * TINY_DIM)
            self.assertVectorsClose(floats(blob), embed(self.con, text), 1e-6)

    def test_vector_subtype_and_hidden_columns(self):
        (sub,) = self.con.execute("SELECT elmo_json(vector) IS NOT NULL FROM "
                                  "elmo_batch('SELECT id, body FROM docs') LIMIT 1").fetchone()
        self.assertEqual(sub, 1)
        row = self.con.execute("SELECT sql, options FROM elmo_batch('SELECT id, body FROM docs', "
                               "'top') LIMIT 1").fetchone()
        self.assertEqual(row, ("SELECT id, body FROM docs", "top"))


class BatchRows(ElmoTestCase):
    def setUp(self):
        self.con = connect()

    def tearDown(self):
        self.con.close()

    def test_ids_pass_through_and_null_texts(self):
        rows = self.con.execute(
            "SELECT id, vector FROM elmo_batch('SELECT column1, column2 FROM (VALUES "
            "(''a'', ''one two''), (2.5, NULL), (NULL, ''''), (x''0102'', ''   ''), "
            "(7, ''three''))')").fetchall()
        self.assertEqual([r[0] for r in rows], ["a", 2.5, None, b"\x01\x02", 7])
        self.assertEqual([r[1] is None for r in rows], [False, True, True, True, False])

    def test_empty_query(self):
        self.assertEqual(self.con.execute(
            "SELECT count(*) FROM elmo_batch('SELECT 1, ''x'' WHERE 0')").fetchone(), (0,))

    def test_order_across_windows(self):
        # More rows than one window (4096) with lengths that differ, so the core's
        # length sorting must be undone.
        n = 5000
        texts = [" ".join("w%d" % ((i * 7 + k) % 97) for k in range(1 + (i * 13) % 9))
                 for i in range(n)]
        make_docs(self.con, texts)
        rows = self.con.execute("SELECT id, vector FROM elmo_batch('SELECT id, body FROM docs "
                                "ORDER BY id DESC')").fetchall()
        self.assertEqual([r[0] for r in rows], list(range(n, 0, -1)))
        for k in (0, 1, 903, 4095, 4096, 4097, n - 1):
            i, blob = rows[k]
            self.assertVectorsClose(floats(blob), embed(self.con, texts[i - 1]), 1e-6,
                                    "row %d" % k)

    def test_same_as_elmo_embed_on_fixture_sentences(self):
        import json
        from elmo_sql import FIXTURES
        with open(os.path.join(FIXTURES, "sentences.json")) as f:
            texts = [s for stream in json.load(f) for s in stream]
        make_docs(self.con, texts)
        opts = {"tokenizer": "whitespace"}
        worst = 0.0
        for (i, vec), text in zip(batch_rows(self.con, opts=opts), texts):
            ref = embed(self.con, text, opts)
            worst = max(worst, max(abs(a - b) for a, b in zip(vec, ref)))
        self.assertLessEqual(worst, 1e-6)


class BatchErrors(ElmoTestCase):
    def setUp(self):
        self.con = connect()
        make_docs(self.con, SENTENCES)

    def tearDown(self):
        self.con.close()

    def test_query_errors(self):
        cases = [
            ("SELECT id, body FROM nowhere",
             "elmo_batch: cannot prepare the query: no such table: nowhere"),
            ("SELEC id, body FROM docs",
             'elmo_batch: cannot prepare the query: near "SELEC": syntax error'),
            ("DELETE FROM docs",
             "elmo_batch: the query must be a read-only SELECT returning id, text"),
            ("SELECT id FROM docs",
             "elmo_batch: the query must return 2 columns (id, text); it returns 1"),
            ("SELECT id, body, 3 FROM docs",
             "elmo_batch: the query must return 2 columns (id, text); it returns 3"),
            ("SELECT id, body FROM docs; SELECT 1, 2",
             "elmo_batch: give one SELECT statement; found more after it: 'SELECT 1, 2'"),
            ("  -- nothing", "elmo_batch: the query is empty; give a SELECT returning id, text"),
        ]
        for sql, message in cases:
            self.assertSqlError(self.con, "SELECT * FROM elmo_batch(?)", (sql,), message=message)
        self.assertSqlError(self.con, "SELECT * FROM elmo_batch(42)", message=(
            "elmo_batch: sql must be TEXT (a SELECT returning id, text), got INTEGER"))
        self.assertSqlError(self.con, "SELECT * FROM elmo_batch", contains=[
            "elmo_batch: the sql argument is missing", "elmo_batch(sql [, options])"])
        self.assertSqlError(self.con, "SELECT * FROM elmo_batch('SELECT 1, 2/0.0 FROM "
                            "(SELECT abs(-9223372036854775808))')", contains=[
                                "elmo_batch: the query failed at row 1", "integer overflow"])

    def test_row_errors_name_the_row(self):
        self.assertSqlError(
            self.con, "SELECT * FROM elmo_batch('SELECT id, CASE WHEN id = 3 THEN x''00'' "
            "ELSE body END FROM docs')",
            message="elmo_batch: row 3 of the query (id 3): text must be TEXT or NULL, got BLOB")
        self.assertSqlError(
            self.con, "SELECT * FROM elmo_batch('SELECT ''doc-'' || id, CASE WHEN id = 2 "
            "THEN 12 ELSE body END FROM docs')",
            message="elmo_batch: row 2 of the query (id doc-2): text must be TEXT or NULL, "
                    "got INTEGER")
        self.con.execute("SELECT elmo_limit('max_tokens', 5)")
        self.assertSqlError(
            self.con, "SELECT * FROM elmo_batch('SELECT id, body FROM docs')",
            message="elmo_batch: row 1 of the query (id 1): text has 8 tokens, more than "
                    "max_tokens = 5; raise it with SELECT elmo_limit('max_tokens', N)")

    def test_option_and_model_errors(self):
        self.assertSqlError(self.con, "SELECT * FROM elmo_batch('SELECT id, body FROM docs', "
                            "'{\"model\":\"nope\"}')", contains=["elmo_batch: no model named 'nope'"])
        self.assertSqlError(self.con, "SELECT * FROM elmo_batch('SELECT id, body FROM docs', "
                            "'{\"colour\":1}')", contains=["elmo_batch: unknown option 'colour'"])
        self.assertSqlError(self.con, "SELECT * FROM elmo_batch('SELECT id, body FROM docs', "
                            "'lstm9')", contains=["elmo_batch:", "lstm9"])

    def test_not_from_views_or_triggers(self):
        """elmo_batch runs the SQL it is given as top-level SQL, so a database's schema must
        not be able to use it (it could reach functions SQLite keeps from schema SQL)."""
        self.con.execute("CREATE VIEW v AS SELECT * FROM elmo_batch('SELECT id, body FROM "
                         "docs')")
        self.assertSqlError(self.con, "SELECT * FROM v",
                            message='unsafe use of virtual table "elmo_batch"')
        self.con.execute("CREATE TABLE log(x)")
        self.con.execute("CREATE TRIGGER t AFTER INSERT ON log BEGIN SELECT count(*) FROM "
                         "elmo_batch('SELECT id, body FROM docs'); END")
        self.assertSqlError(self.con, "INSERT INTO log VALUES (1)",
                            message='unsafe use of virtual table "elmo_batch"')
        self.assertEqual(len(batch_rows(self.con)), len(SENTENCES))  # directly: fine

    def test_interrupted_before_the_call(self):
        """A connection interrupted before the model runs reports 'interrupted' (not a
        misleading error) from every function that runs the model."""
        self.con.create_function("interrupt_now", 0, self.con.interrupt)
        for sql in ["SELECT interrupt_now(), elmo_embed('some text')",
                    "SELECT interrupt_now(), (SELECT count(*) FROM elmo_tokens('some text'))",
                    "SELECT interrupt_now(), (SELECT count(*) FROM elmo_batch('SELECT id, body "
                    "FROM docs'))"]:
            with self.assertRaises(sqlite3.OperationalError) as cm:
                self.con.execute(sql).fetchall()
            self.assertEqual(str(cm.exception), "interrupted", sql)
        self.assertEqual(len(batch_rows(self.con)), len(SENTENCES))

    def test_connection_usable_after_errors(self):
        with self.assertRaises(sqlite3.Error):
            self.con.execute("SELECT * FROM elmo_batch('SELECT id FROM docs')").fetchall()
        self.assertEqual(len(batch_rows(self.con)), len(SENTENCES))


@unittest.skipIf(SAN, "long-running model work; the release build covers it")
class BatchOnErrorSkip(ElmoTestCase):
    """on_error 'skip': bad rows come back with a NULL vector and their message in the
    hidden column `error`; the good rows keep the vectors of the default mode."""
    def setUp(self):
        self.con = connect()
        make_docs(self.con, SENTENCES)
        self.sql = ("SELECT id, CASE id WHEN 3 THEN x'00' WHEN 5 THEN 12 ELSE body END "
                    "FROM docs")

    def tearDown(self):
        self.con.close()

    def test_bad_rows_are_returned_with_their_error(self):
        self.con.execute("SELECT elmo_limit('max_tokens', 15)")
        rows = self.con.execute("SELECT id, vector, error FROM elmo_batch(?, ?)",
                                (self.sql, '{"on_error":"skip"}')).fetchall()
        self.assertEqual([r[0] for r in rows], list(range(1, len(SENTENCES) + 1)))
        errors = {i: e for i, v, e in rows if e is not None}
        self.assertEqual(errors, {
            3: "elmo_batch: text must be TEXT or NULL, got BLOB",
            5: "elmo_batch: text must be TEXT or NULL, got INTEGER",
            6: "elmo_batch: text has 25 tokens, more than max_tokens = 15; raise it with "
               "SELECT elmo_limit('max_tokens', N)",
        })
        for i, v, e in rows:
            if e is None:
                self.assertEqual(v, self.con.execute("SELECT elmo_embed(body) FROM docs "
                                                     "WHERE id = ?", (i,)).fetchone()[0], i)
            else:
                self.assertIsNone(v, i)
        # the same query without the option fails at the first bad row
        self.assertSqlError(self.con, "SELECT * FROM elmo_batch(?)", (self.sql,),
                            message="elmo_batch: row 3 of the query (id 3): text must be TEXT "
                                    "or NULL, got BLOB")
        self.assertSqlError(self.con, "SELECT * FROM elmo_batch(?, ?)",
                            (self.sql, '{"on_error":"fail"}'),
                            message="elmo_batch: row 3 of the query (id 3): text must be TEXT "
                                    "or NULL, got BLOB")

    def test_error_is_hidden_and_null_by_default(self):
        cols = [d[0] for d in self.con.execute(
            "SELECT * FROM elmo_batch('SELECT id, body FROM docs')").description]
        self.assertEqual(cols, ["id", "vector"])
        self.assertEqual(self.con.execute("SELECT count(*) FROM elmo_batch('SELECT id, body "
                                          "FROM docs') WHERE error IS NULL").fetchone(),
                         (len(SENTENCES),))

    def test_other_options_and_errors(self):
        top = self.con.execute("SELECT id, vector FROM elmo_batch(?, ?) WHERE error IS NULL",
                               (self.sql, '{"on_error":"skip","output":"top"}')).fetchall()
        for i, v in top:
            self.assertEqual(v, self.con.execute("SELECT elmo_embed(body, 'top') FROM docs "
                                                 "WHERE id = ?", (i,)).fetchone()[0], i)
        self.assertSqlError(self.con, "SELECT * FROM elmo_batch('SELECT id, body FROM docs', "
                            "'{\"on_error\":\"maybe\"}')",
                            message="elmo_batch: option 'on_error' must be 'fail' or 'skip', "
                                    "got \"maybe\"")
        self.assertSqlError(self.con, "SELECT * FROM elmo_batch('SELECT id, body FROM docs', "
                            "'{\"colour\":1}')",
                            message="elmo_batch: unknown option 'colour'; valid options: model, "
                                    "output, gamma, layer_norm, tokenizer, pooling, on_error")
        # only elmo_batch has the option
        self.assertSqlError(self.con, "SELECT elmo_embed('x', '{\"on_error\":\"skip\"}')",
                            message="elmo_embed: unknown option 'on_error'; valid options: "
                                    "model, output, gamma, layer_norm, tokenizer, pooling")
        # an error that is no row's fault still stops the statement
        self.assertSqlError(self.con, "SELECT * FROM elmo_batch('SELECT 1, 2/0.0 FROM "
                            "(SELECT abs(-9223372036854775808))', '{\"on_error\":\"skip\"}')",
                            contains=["elmo_batch: the query failed at row 1"])


class BatchInterrupt(ElmoTestCase):
    def test_interrupt_stops_the_batch(self):
        with temp_dir() as d:
            options, weights = genmodel(d, "--shape", "small", "--seed", "3")
            con = connect(load_default=False)
            con.execute("SELECT elmo_load('interrupt_small', ?, ?)", (options, weights))
            # About 100k tokens: tens of seconds of work for the small model on 2 cores.
            make_docs(con, [" ".join("word%d" % ((i + k) % 5000) for k in range(25))
                            for i in range(4000)])
            timer = threading.Timer(0.5, con.interrupt)
            started = time.monotonic()
            timer.start()
            with self.assertRaises(sqlite3.OperationalError) as cm:
                con.execute("SELECT count(*) FROM elmo_batch('SELECT id, body FROM docs', "
                            "'{\"model\":\"interrupt_small\"}')").fetchall()
            timer.join()
            print("interrupted after %.2f s" % (time.monotonic() - started))
            self.assertEqual(str(cm.exception), "interrupted")
            # The connection still works afterwards.
            self.assertEqual(con.execute("SELECT count(*) FROM elmo_batch('SELECT id, body "
                                         "FROM docs WHERE id <= 3', "
                                         "'{\"model\":\"interrupt_small\"}')").fetchone(), (3,))
            con.execute("SELECT elmo_unload('interrupt_small')")
            con.close()


@unittest.skipIf(SAN, "long-running model work; the release build covers it")
class EmbedInterrupt(ElmoTestCase):
    def test_interrupt_stops_a_long_elmo_embed(self):
        """sqlite3_interrupt reaches a running elmo_embed too. Interrupts are sent every few
        milliseconds (one sent before the statement starts would be ignored by SQLite)."""
        with temp_dir() as d:
            options, weights = genmodel(d, "--shape", "small", "--seed", "5")
            con = connect(load_default=False)
            con.execute("SELECT elmo_load('interrupt_embed', ?, ?)", (options, weights))
            con.execute("SELECT elmo_limit('max_tokens', 100000)")
            text = " ".join("word%d" % (k % 3000) for k in range(60000))
            done = threading.Event()

            def interrupter():
                while not done.wait(0.005):
                    con.interrupt()

            t = threading.Thread(target=interrupter)
            t.start()
            try:
                with self.assertRaises(sqlite3.OperationalError) as cm:
                    con.execute("SELECT elmo_embed(?, '{\"model\":\"interrupt_embed\"}')",
                                (text,)).fetchall()
            finally:
                done.set()
                t.join()
            self.assertEqual(str(cm.exception), "interrupted")
            con.execute("SELECT elmo_unload('interrupt_embed')")
            con.close()


if __name__ == "__main__":
    unittest.main()
