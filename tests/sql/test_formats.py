"""Model formats in SQL: elmo_load(name, path [, load_options]) and the options + weights
form with load_options, load_options errors, the format / precision / fingerprint columns
of elmo_models, output "hub" (the model's trained mix) with tokenizer "space", and
ELMO_MODEL naming a .safetensors file. Safetensors files are written by `elmo convert`;
the trained-mix model adds aggregation/* tensors to one, written here from the format's
description."""
import json
import math
import os
import struct
import subprocess
import unittest

from elmo_sql import (B, ROOT, TINY_DIR, TINY_OPTIONS, TINY_WEIGHTS, ElmoTestCase, connect,
                      embed, floats, run_cli, temp_dir, tokens, vectors)

ELMO_CLI = os.path.join(ROOT, B, "bin", "elmo")


def convert(args):
    return subprocess.run([ELMO_CLI, "convert"] + args, capture_output=True, text=True)


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8:8 + n]), blob[8 + n:]


def write_safetensors(path, header, data):
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def add_trained_mix(src, dst, weights, scaling):
    """Copies a safetensors model with aggregation/weights and aggregation/scaling added."""
    header, data = read_safetensors(src)
    extra = struct.pack("<%df" % len(weights), *weights) + struct.pack("<f", scaling)
    end = len(data)
    header["aggregation/weights"] = {"dtype": "F32", "shape": [len(weights)],
                                     "data_offsets": [end, end + 4 * len(weights)]}
    header["aggregation/scaling"] = {"dtype": "F32", "shape": [1],
                                     "data_offsets": [end + 4 * len(weights), len(data) + len(extra)]}
    write_safetensors(dst, header, data + extra)


class Formats(ElmoTestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = temp_dir()
        cls.dir = cls.tmp.name
        cls.st = os.path.join(cls.dir, "tiny.safetensors")
        p = convert([TINY_DIR, "-o", cls.st])
        assert p.returncode == 0, p.stderr
        cls.mix = os.path.join(cls.dir, "mix.safetensors")
        cls.weights, cls.scaling = [0.5, -1.0, 2.0], 1.5
        add_trained_mix(cls.st, cls.mix, cls.weights, cls.scaling)
        cls.con = connect()

    @classmethod
    def tearDownClass(cls):
        cls.con.close()
        cls.tmp.cleanup()

    def models(self, name):
        return self.con.execute("SELECT format, precision, fingerprint, options_path, "
                                "weights_path FROM elmo_models WHERE name = ?",
                                (name,)).fetchone()

    def test_load_forms_same_vectors(self):
        con = self.con
        text = "The quick brown fox ."
        ref = embed(con, text)
        self.assertEqual(con.execute("SELECT elmo_load('st', ?)", (self.st,)).fetchone(), ("st",))
        self.assertEqual(embed(con, text, {"model": "st"}), ref)  # byte-identical
        con.execute("SELECT elmo_load('dir', ?)", (TINY_DIR,))
        con.execute("SELECT elmo_load('pair4', ?, ?, '{\"precision\":\"fp32\"}')",
                    (TINY_OPTIONS, TINY_WEIGHTS))
        con.execute("SELECT elmo_load('dir3', ?, '{\"cache_bytes\":0}')", (TINY_DIR,))
        for name in ("dir", "pair4", "dir3"):
            self.assertEqual(embed(con, text, {"model": name}), ref, name)
        fmt, prec, fp, opt, w = self.models("st")
        self.assertEqual((fmt, prec, opt, w), ("safetensors", "fp32", None, os.path.realpath(self.st)))
        self.assertRegex(fp, "^[0-9a-f]{16}$")
        self.assertEqual(self.models("default")[:3], ("hdf5", "fp32", fp))  # same values
        self.assertEqual(self.models("dir")[3:], (None, os.path.realpath(TINY_DIR)))
        for name in ("st", "dir", "pair4", "dir3"):
            con.execute("SELECT elmo_unload(?)", (name,))

    def test_precision_is_part_of_the_identity(self):
        con = self.con
        con.execute("SELECT elmo_load('p32', ?, '{\"precision\":\"fp32\"}')", (self.st,))
        ids = con.execute("SELECT model_id FROM elmo_models WHERE name = 'p32'").fetchone()
        try:
            con.execute("SELECT elmo_load('p16', ?, '{\"precision\":\"bf16\"}')", (self.st,))
        except Exception as e:  # a CPU without AVX512-BF16: the core's clear error
            self.assertIn("precision 'bf16' needs a CPU with the AVX512-BF16 instructions", str(e))
        else:
            fmt, prec, fp, _, _ = self.models("p16")
            self.assertEqual(prec, "bf16")
            self.assertNotEqual(fp, self.models("p32")[2])
            other = con.execute("SELECT model_id FROM elmo_models WHERE name = 'p16'").fetchone()
            self.assertNotEqual(ids, other)
            self.assertSqlError(con, "SELECT elmo_load('p32', ?, '{\"precision\":\"bf16\"}')",
                                (self.st,),
                                message="elmo_load: model 'p32' is already loaded from these "
                                "files with precision 'fp32'; call elmo_unload('p32') first, "
                                "or load the other precision under another name")
            con.execute("SELECT elmo_unload('p16')")
        con.execute("SELECT elmo_unload('p32')")

    def test_load_options_errors(self):
        con = self.con
        cases = [
            ('{"precision":"fp16"}', "elmo_load: load option 'precision' must be 'auto', "
             "'fp32' or 'bf16', got \"fp16\""),
            ('{"precision":1}', "elmo_load: load option 'precision' must be 'auto', 'fp32' or "
             "'bf16', got 1"),
            ('{"cache_bytes":-1}', "elmo_load: load option 'cache_bytes' must be an integer "
             ">= 0 (0 disables the cache), got -1"),
            ('{"cache_bytes":"1"}', "elmo_load: load option 'cache_bytes' must be an integer "
             ">= 0 (0 disables the cache), got \"1\""),
            ('{"threads":2}', "elmo_load: unknown load option 'threads'; valid load options: "
             "precision, cache_bytes, softmax, vocab"),
            ('{"precision":', "elmo_load: load options must be a JSON object such as "
             "'{\"precision\":\"bf16\"}', got '{\"precision\":'"),
        ]
        for opts, msg in cases:
            self.assertSqlError(con, "SELECT elmo_load('x', ?, ?)", (self.st, opts), message=msg)
            self.assertSqlError(con, "SELECT elmo_load('x', ?, ?, ?)",
                                (TINY_OPTIONS, TINY_WEIGHTS, opts), message=msg)
        self.assertSqlError(con, "SELECT elmo_load('x', ?, ?, '[1]')",
                            (TINY_OPTIONS, TINY_WEIGHTS),
                            message="elmo_load: load options must be a JSON object such as "
                            "'{\"precision\":\"bf16\"}', got '[1]'")
        self.assertSqlError(con, "SELECT elmo_load('x', ?, ?, 3)", (TINY_OPTIONS, TINY_WEIGHTS),
                            message="elmo_load: load_options must be TEXT, got INTEGER")
        self.assertSqlError(con, "SELECT elmo_load('x', ?)", (TINY_WEIGHTS,),
                            message="elmo_load: cannot load model 'x': '%s' is an HDF5 weights "
                            "file, which does not hold its options; give the options file too, "
                            "or the directory holding both" % os.path.realpath(TINY_WEIGHTS))
        self.assertSqlError(con, "SELECT elmo_load('x', '/no/such/model')",
                            message="elmo_load: cannot open model '/no/such/model': No such "
                            "file or directory")

    def test_hub_output(self):
        con = self.con
        con.execute("SELECT elmo_load('hub', ?)", (self.mix,))
        text = "a  b\tc d"  # the space tokenizer: U+0020 only
        toks = tokens(con, text, {"model": "hub", "tokenizer": "space", "output": "hub"})
        self.assertEqual([t[1] for t in toks], ["a", "b\tc", "d"])
        layers = vectors(con, text, {"model": "hub", "tokenizer": "space", "output": "all"})
        e = [math.exp(w) for w in self.weights]
        s = [x / sum(e) for x in e]
        D = len(toks[0][4])
        for got, allv in zip([t[4] for t in toks], layers):
            want = [self.scaling * sum(s[k] * allv[k * D + d] for k in range(3)) for d in range(D)]
            self.assertVectorsClose(got, want, 1e-5, "hub mix")
        g2 = vectors(con, text, {"model": "hub", "tokenizer": "space", "output": "hub",
                                 "gamma": 2})
        self.assertVectorsClose(g2[0], [2 * x for x in toks[0][4]], 1e-5, "gamma scales")
        pooled = embed(con, text, {"model": "hub", "tokenizer": "space", "output": "hub"})
        mean = [sum(t[4][d] for t in toks) / 3 for d in range(D)]
        self.assertVectorsClose(pooled, mean, 1e-5, "pooled hub")
        self.assertSqlError(con, "SELECT elmo_embed('a', '{\"output\":\"hub\"}')",
                            message="elmo_embed: output 'hub' needs a model with a trained mix "
                            "(aggregation/weights, as TF-Hub modules have); model 'default' "
                            "has none")
        self.assertSqlError(con, "SELECT elmo_embed('a', 'hub')",
                            contains="model 'default' has none")
        con.execute("SELECT elmo_unload('hub')")

    def test_non_finite_weights_are_refused(self):
        header, data = read_safetensors(self.st)
        for name, index, value, what in (("CNN_high_0/W_carry", 5, float("nan"), "NaN"),
                                         ("RNN_1/RNN/MultiRNNCell/Cell0/LSTMCell/B", 17,
                                          float("inf"), "an infinity")):
            begin = header[name]["data_offsets"][0] + 4 * index
            bad = data[:begin] + struct.pack("<f", value) + data[begin + 4:]
            path = os.path.join(self.dir, "bad.safetensors")
            write_safetensors(path, header, bad)
            self.assertSqlError(self.con, "SELECT elmo_load('bad', ?)", (path,),
                                message="elmo_load: cannot load model 'bad': weights file "
                                "'%s': dataset '%s' holds %s at index %d; a model's weights "
                                "must be finite (the file is corrupted)"
                                % (os.path.realpath(path), name, what, index))

    def test_non_finite_results_are_errors(self):
        big = '{"gamma":3e38}'
        cases = (("SELECT elmo_embed('The bank', ?)", big, "elmo_embed", "3e+38"),
                 ("SELECT count(*) FROM elmo_tokens('The bank', ?)",
                  '{"gamma":-3e38,"layer_norm":true}', "elmo_tokens", "-3e+38, with layer norm"),
                 ("SELECT count(*) FROM elmo_batch('SELECT 1, ''The bank''', ?)", big,
                  "elmo_batch", "3e+38"))
        for sql, opts, fn, gamma in cases:
            text = self.assertSqlError(self.con, sql, (opts,), contains="the mixed vector "
                                       "overflows float32 (gamma %s); use a smaller gamma or "
                                       "smaller mix weights" % gamma)
            self.assertTrue(text.startswith(fn + ": "), text)

    def test_elmo_model_safetensors(self):
        sql = ("SELECT length(elmo_embed('hello world'));\n"
               "SELECT name, format, options_path IS NULL FROM elmo_models;\n")
        rc, out, err = run_cli(sql, {"ELMO_MODEL": self.st})
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out.splitlines(), ["128", "default|safetensors|1"])


if __name__ == "__main__":
    unittest.main()
