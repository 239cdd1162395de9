"""test_registry.py - the process-wide model registry: elmo_load / elmo_unload / elmo_models,
one in-memory copy per model file pair shared by names, connections and threads, unloading
while other threads run, and the default model from the environment (ELMO_MODEL,
ELMO_OPTIONS + ELMO_WEIGHTS) through the sqlite3 CLI in a fresh process each."""
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import unittest

from elmo_sql import (EXT, ROOT, TINY_DIM, TINY_OPTIONS, TINY_WEIGHTS, ElmoTestCase, connect,
                      genmodel, run_cli, temp_dir)

REAL_OPTIONS = os.path.realpath(TINY_OPTIONS)
REAL_WEIGHTS = os.path.realpath(TINY_WEIGHTS)


def models(con):
    return con.execute("SELECT name, options_path, weights_path, dim, layers, params, bytes, "
                       "lstm_layers, projection_dim, lstm_dim, model_id "
                       "FROM elmo_models").fetchall()


class LoadUnload(ElmoTestCase):
    def setUp(self):
        self.con = connect(load_default=False)
        self.assertEqual(models(self.con), [])

    def tearDown(self):
        self.con.close()

    def test_load_describe_unload(self):
        c = self.con
        self.assertEqual(c.execute("SELECT elmo_load('tiny', ?, ?)",
                                   (TINY_OPTIONS, TINY_WEIGHTS)).fetchone(), ("tiny",))
        rows = models(c)
        self.assertEqual(len(rows), 1)
        name, o, w, dim, layers, params, nbytes, lstm_layers, proj, lstm_dim, mid = rows[0]
        self.assertEqual((name, o, w), ("tiny", REAL_OPTIONS, REAL_WEIGHTS))
        self.assertEqual((dim, layers, lstm_layers, proj, lstm_dim), (32, 3, 2, 16, 64))
        # docs/model.md §11 shapes for the tiny model: char_embed 261x4, CNN, 2 highway, proj, LSTM
        self.assertEqual(params, 105120)
        self.assertGreaterEqual(nbytes, 4 * params)  # packed weights may pad panels
        self.assertEqual(c.execute("SELECT elmo_unload('tiny')").fetchone(), (1,))
        self.assertEqual(models(c), [])
        self.assertSqlError(c, "SELECT elmo_unload('tiny')",
                            message="elmo_unload: no model named 'tiny'; no models are loaded; "
                                    "load one with SELECT elmo_load('tiny', "
                                    "'/path/options.json', '/path/weights.hdf5')")

    def test_same_files_again_and_under_other_names_share_one_copy(self):
        c = self.con
        c.execute("SELECT elmo_load('a', ?, ?)", (TINY_OPTIONS, TINY_WEIGHTS))
        self.assertEqual(c.execute("SELECT elmo_load('a', ?, ?)", (TINY_OPTIONS, TINY_WEIGHTS))
                         .fetchone(), ("a",))
        # the same files through other spellings of their paths
        rel = os.path.relpath(TINY_OPTIONS, os.getcwd())
        dotted = os.path.join(os.path.dirname(TINY_WEIGHTS), ".", "weights.hdf5")
        c.execute("SELECT elmo_load('b', ?, ?)", ("./" + rel, dotted))
        rows = models(c)
        self.assertEqual([r[0] for r in rows], ["a", "b"])
        self.assertEqual(rows[0][10], rows[1][10])  # one model_id: one copy in memory
        self.assertEqual(rows[1][1:3], (REAL_OPTIONS, REAL_WEIGHTS))
        # unloading one name leaves the other working
        c.execute("SELECT elmo_unload('a')")
        (v,) = c.execute("SELECT elmo_embed('x', '{\"model\":\"b\"}')").fetchone()
        self.assertEqual(len(v), 4 * TINY_DIM)
        c.execute("SELECT elmo_unload('b')")

    def test_reload_after_unload_is_a_new_copy(self):
        c = self.con
        c.execute("SELECT elmo_load('a', ?, ?)", (TINY_OPTIONS, TINY_WEIGHTS))
        first = models(c)[0][10]
        before = c.execute("SELECT elmo_embed('hello', '{\"model\":\"a\"}')").fetchone()
        c.execute("SELECT elmo_unload('a')")
        c.execute("SELECT elmo_load('a', ?, ?)", (TINY_OPTIONS, TINY_WEIGHTS))
        self.assertNotEqual(models(c)[0][10], first)
        self.assertEqual(c.execute("SELECT elmo_embed('hello', '{\"model\":\"a\"}')").fetchone(),
                         before)
        c.execute("SELECT elmo_unload('a')")

    def test_different_models(self):
        c = self.con
        with temp_dir() as d:
            o, w = genmodel(d, "--shape", "tiny", "--proj", "8", "--seed", "5")
            c.execute("SELECT elmo_load('small', ?, ?)", (o, w))
            c.execute("SELECT elmo_load('tiny', ?, ?)", (TINY_OPTIONS, TINY_WEIGHTS))
            rows = models(c)
            self.assertEqual([(r[0], r[3]) for r in rows], [("small", 16), ("tiny", 32)])
            self.assertNotEqual(rows[0][10], rows[1][10])
            (v,) = c.execute("SELECT elmo_embed('x', '{\"model\":\"small\"}')").fetchone()
            self.assertEqual(len(v), 4 * 16)
            c.execute("SELECT elmo_unload('small')")
            c.execute("SELECT elmo_unload('tiny')")

    def test_registry_is_shared_by_connections_and_outlives_them(self):
        a = connect(load_default=False)
        a.execute("SELECT elmo_load('shared', ?, ?)", (TINY_OPTIONS, TINY_WEIGHTS))
        (va,) = a.execute("SELECT elmo_embed('the same text', '{\"model\":\"shared\"}')").fetchone()
        a.close()  # SQLite unloads the extension of a closing connection; the registry stays
        b = connect(load_default=False)
        try:
            self.assertEqual([r[0] for r in models(b)], ["shared"])
            (vb,) = b.execute("SELECT elmo_embed('the same text', "
                              "'{\"model\":\"shared\"}')").fetchone()
            self.assertEqual(va, vb)
            b.execute("SELECT elmo_unload('shared')")
        finally:
            b.close()

    def test_unload_between_rows_of_a_running_statement(self):
        c = self.con
        c.execute("SELECT elmo_load('busy', ?, ?)", (TINY_OPTIONS, TINY_WEIGHTS))
        c.execute("CREATE TEMP TABLE t(x TEXT)")
        c.executemany("INSERT INTO t VALUES (?)", [("row %d" % i,) for i in range(5)])
        cur = c.execute("SELECT elmo_embed(x, '{\"model\":\"busy\"}') FROM t")
        self.assertIsNotNone(cur.fetchone()[0])
        other = connect(load_default=False)
        other.execute("SELECT elmo_unload('busy')")
        other.close()
        with self.assertRaises(sqlite3.OperationalError) as cm:
            cur.fetchall()
        self.assertEqual(str(cm.exception), "elmo_embed: no model named 'busy'; no models are "
                         "loaded; load one with SELECT elmo_load('busy', '/path/options.json', "
                         "'/path/weights.hdf5')")
        c.execute("DROP TABLE t")


class Threads(ElmoTestCase):
    def test_two_connections_in_two_threads_share_one_model(self):
        texts = ["The bank raised rates.", "We sat by the river.", "Stocks fell sharply.",
                 "Don't panic!", "A cat sat on the mat."]
        results, model_ids, errors = {}, {}, []
        barrier = threading.Barrier(2)

        def worker(k):
            try:
                c = connect(load_default=False)
                barrier.wait()  # both load at the same moment
                c.execute("SELECT elmo_load('threaded', ?, ?)", (TINY_OPTIONS, TINY_WEIGHTS))
                out = []
                for _ in range(20):
                    for t in texts:
                        out.append(c.execute("SELECT elmo_embed(?, '{\"model\":\"threaded\","
                                             "\"output\":\"all\"}')", (t,)).fetchone()[0])
                results[k] = out
                model_ids[k] = c.execute("SELECT model_id FROM elmo_models "
                                         "WHERE name = 'threaded'").fetchall()
                c.close()
            except Exception as e:  # reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(results[0], results[1])
        self.assertEqual(len(results[0]), 100)
        self.assertEqual(len(model_ids[0]), 1)          # one registration ...
        self.assertEqual(model_ids[0], model_ids[1])    # ... seen by both
        c = connect(load_default=False)
        self.assertEqual(c.execute("SELECT count(*) FROM elmo_models").fetchone(), (1,))
        c.execute("SELECT elmo_unload('threaded')")
        c.close()

    def test_unload_and_reload_while_other_threads_embed(self):
        """A model is freed only when no call uses it: threads embedding while another
        unloads and reloads the name either succeed with the right vector or fail with
        'no model named'. Under SAN=1 AddressSanitizer checks every access."""
        ref = connect(load_default=False)
        ref.execute("SELECT elmo_load('churn', ?, ?)", (TINY_OPTIONS, TINY_WEIGHTS))
        (expected,) = ref.execute("SELECT elmo_embed('moving target', "
                                  "'{\"model\":\"churn\"}')").fetchone()
        stop = threading.Event()
        counts, errors = {"ok": 0, "missing": 0}, []

        def embedder():
            c = connect(load_default=False)
            while not stop.is_set():
                try:
                    (v,) = c.execute("SELECT elmo_embed('moving target', "
                                     "'{\"model\":\"churn\"}')").fetchone()
                    if v != expected:
                        errors.append("wrong vector")
                    counts["ok"] += 1
                    rows = c.execute("SELECT count(*) FROM elmo_tokens('a b c', "
                                     "'{\"model\":\"churn\"}')").fetchone()
                    if rows != (3,):
                        errors.append("wrong token count %r" % (rows,))
                except sqlite3.OperationalError as e:
                    if "no model named 'churn'" not in str(e):
                        errors.append(str(e))
                    counts["missing"] += 1
            c.close()

        workers = [threading.Thread(target=embedder) for _ in range(2)]
        for t in workers:
            t.start()
        deadline = time.monotonic() + 20
        cycles = 0
        # churn until both outcomes were seen many times (or give up after 20 s)
        while (counts["ok"] < 100 or counts["missing"] < 20) and time.monotonic() < deadline:
            ref.execute("SELECT elmo_unload('churn')")
            ref.execute("SELECT elmo_load('churn', ?, ?)", (TINY_OPTIONS, TINY_WEIGHTS))
            cycles += 1
        stop.set()
        for t in workers:
            t.join()
        ref.execute("SELECT elmo_unload('churn')")
        ref.close()
        self.assertEqual(errors, [])
        self.assertGreaterEqual(counts["ok"], 100, counts)
        self.assertGreaterEqual(counts["missing"], 20, counts)
        self.assertGreater(cycles, 0)


def cli(sql, env=None):
    return run_cli(sql, env_extra=env)


class DefaultModelFromEnvironment(ElmoTestCase):
    """Each case runs a fresh sqlite3 CLI process: the registry is per process."""

    EMBED = "SELECT length(elmo_embed('hello world'));\n"
    LIST = "SELECT name, options_path, weights_path FROM elmo_models;\n"

    def test_elmo_model_directory(self):
        rc, out, err = cli(self.EMBED + self.LIST, {"ELMO_MODEL": "models/elmo-tiny"})
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out.splitlines(),
                         ["128", "default|%s|%s" % (REAL_OPTIONS, REAL_WEIGHTS)])

    def test_official_file_names(self):
        with temp_dir() as d:
            stem = "elmo_2x4096_512_2048cnn_2xhighway"
            shutil.copy(TINY_OPTIONS, os.path.join(d, stem + "_options.json"))
            shutil.copy(TINY_WEIGHTS, os.path.join(d, stem + "_weights.hdf5"))
            with open(os.path.join(d, "README.txt"), "w") as f:
                f.write("not a model file")
            rc, out, err = cli(self.EMBED + self.LIST, {"ELMO_MODEL": d})
            self.assertEqual((rc, err), (0, ""))
            real = os.path.realpath(d)
            row = "default|%s/%s_options.json|%s/%s_weights.hdf5" % (real, stem, real, stem)
            self.assertEqual(out.splitlines(), ["128", row])

    def test_ambiguous_directory(self):
        with temp_dir() as d:
            for name in ("a_options.json", "b_options.json", "a_weights.hdf5"):
                shutil.copy(TINY_OPTIONS if name.endswith("json") else TINY_WEIGHTS,
                            os.path.join(d, name))
            rc, out, err = cli(self.EMBED, {"ELMO_MODEL": d})
            self.assertNotEqual(rc, 0)
            self.assertIn("elmo_embed: ELMO_MODEL directory '%s' has neither options.json + "
                          "weights.hdf5 nor exactly one *options*.json and one *weights*.hdf5 "
                          "file (found 2 and 1)" % d, err)

    def test_not_a_model(self):
        rc, out, err = cli(self.EMBED, {"ELMO_MODEL": TINY_OPTIONS})
        self.assertIn("elmo_embed: cannot load the default model (ELMO_MODEL=%s): '%s' is not a "
                      "model file: expected a .safetensors file, a directory (AllenNLP options "
                      "+ weights, TF-Hub module) or a TensorFlow checkpoint"
                      % (TINY_OPTIONS, os.path.realpath(TINY_OPTIONS)), err)

    def test_missing_paths_name_the_variable(self):
        rc, out, err = cli(self.EMBED, {"ELMO_MODEL": "/nonexistent/model"})
        self.assertNotEqual(rc, 0)
        self.assertIn("elmo_embed: ELMO_MODEL is '/nonexistent/model', which does not exist; set "
                      "it to a model: a .safetensors file or a directory with options.json and "
                      "weights.hdf5", err)
        rc, out, err = cli(self.EMBED, {"ELMO_OPTIONS": "/nonexistent/o.json",
                                        "ELMO_WEIGHTS": TINY_WEIGHTS})
        self.assertIn("elmo_embed: ELMO_OPTIONS is '/nonexistent/o.json', which does not exist; "
                      "set it to the model's options JSON file", err)
        rc, out, err = cli(self.EMBED, {"ELMO_OPTIONS": TINY_OPTIONS,
                                        "ELMO_WEIGHTS": "/nonexistent/w.hdf5"})
        self.assertIn("elmo_embed: ELMO_WEIGHTS is '/nonexistent/w.hdf5', which does not exist; "
                      "set it to the model's weights file", err)

    def test_options_and_weights_variables(self):
        rc, out, err = cli(self.EMBED + self.LIST, {"ELMO_OPTIONS": TINY_OPTIONS,
                                                    "ELMO_WEIGHTS": TINY_WEIGHTS})
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out.splitlines()[0], "128")
        rc, out, err = cli(self.EMBED, {"ELMO_OPTIONS": TINY_OPTIONS})
        self.assertIn("elmo_embed: ELMO_OPTIONS is set but ELMO_WEIGHTS is not; set both (or "
                      "ELMO_MODEL to a directory with options.json and weights.hdf5)", err)
        rc, out, err = cli("SELECT * FROM elmo_tokens('x');", {"ELMO_WEIGHTS": TINY_WEIGHTS})
        self.assertIn("elmo_tokens: ELMO_WEIGHTS is set but ELMO_OPTIONS is not", err)

    def test_no_model_anywhere(self):
        rc, out, err = cli(self.EMBED)
        self.assertNotEqual(rc, 0)
        self.assertIn("elmo_embed: no model loaded; run SELECT elmo_load('default', "
                      "'/path/options.json', '/path/weights.hdf5') or set ELMO_MODEL to a "
                      "directory with options.json and weights.hdf5", err)
        rc, out, err = cli("SELECT elmo_load('other', '%s', '%s');\n" % (TINY_OPTIONS, TINY_WEIGHTS)
                           + self.EMBED)
        self.assertIn("elmo_embed: no model named 'default' (loaded: other); pass "
                      "'{\"model\":\"NAME\"}' as options, run SELECT elmo_load('default', "
                      "'/path/options.json', '/path/weights.hdf5') or set ELMO_MODEL to a "
                      "directory with options.json and weights.hdf5", err)

    def test_default_model_that_fails_to_load(self):
        with temp_dir() as d:
            genmodel(d, "--truncate", "3000")
            rc, out, err = cli(self.EMBED, {"ELMO_MODEL": d})
            self.assertIn("elmo_embed: cannot load the default model (ELMO_MODEL=%s): cannot "
                          "open weights file" % d, err)

    def test_explicit_default_wins_and_shares_the_copy(self):
        sql = ("SELECT elmo_load('default', '%s', '%s');\n" % (TINY_OPTIONS, TINY_WEIGHTS)
               + self.EMBED + "SELECT count(*) FROM elmo_models;\n")
        with temp_dir() as d:
            genmodel(d, "--seed", "99")  # the environment names another model: not used
            rc, out, err = cli(sql, {"ELMO_MODEL": d})
            self.assertEqual((rc, err), (0, ""))
            self.assertEqual(out.splitlines(), ["default", "128", "1"])
        # env model = files already loaded under another name: one copy, two names
        sql = ("SELECT elmo_load('tiny', '%s', '%s');\n" % (TINY_OPTIONS, TINY_WEIGHTS)
               + self.EMBED + "SELECT count(DISTINCT model_id), count(*) FROM elmo_models;\n")
        rc, out, err = cli(sql, {"ELMO_MODEL": "models/elmo-tiny"})
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out.splitlines(), ["tiny", "128", "1|2"])

    def test_concurrent_first_use_loads_once(self):
        """Four threads need the default model at the same moment: it is loaded once (the
        next load gets model_id 2). In a child Python process with ELMO_MODEL set."""
        with temp_dir() as d:
            genmodel(d, "--seed", "4")
            script = textwrap.dedent("""
                import sqlite3, sys, threading
                barrier = threading.Barrier(4)
                results = []
                def use():
                    c = sqlite3.connect(":memory:", check_same_thread=False)
                    c.enable_load_extension(True)
                    c.load_extension(sys.argv[1])
                    barrier.wait()
                    results.append(c.execute("SELECT elmo_embed('same text')").fetchone()[0])
                threads = [threading.Thread(target=use) for _ in range(4)]
                for t in threads: t.start()
                for t in threads: t.join()
                c = sqlite3.connect(":memory:")
                c.enable_load_extension(True)
                c.load_extension(sys.argv[1])
                c.execute("SELECT elmo_load('other', ?, ?)", (sys.argv[2], sys.argv[3]))
                print(len(results), len(set(results)))
                print(c.execute("SELECT group_concat(name || '=' || model_id) "
                                "FROM elmo_models").fetchone()[0])
            """)
            env = dict(os.environ, ELMO_MODEL=os.path.join(ROOT, "models", "elmo-tiny"))
            p = subprocess.run([sys.executable, "-c", script, EXT,
                                os.path.join(d, "options.json"), os.path.join(d, "weights.hdf5")],
                               capture_output=True, text=True, env=env, timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout.splitlines(), ["4 1", "default=1,other=2"])

    def test_unloaded_default_is_loaded_again_on_use(self):
        sql = self.EMBED + "SELECT elmo_unload('default');\n" + self.EMBED + \
            "SELECT count(*) FROM elmo_models;\n"
        rc, out, err = cli(sql, {"ELMO_MODEL": "models/elmo-tiny"})
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out.splitlines(), ["128", "1", "128", "1"])


if __name__ == "__main__":
    os.chdir(ROOT)
    unittest.main()
