"""test_errors.py - every bad input gets its defined result: an SQL error whose message says
what is wrong and what to do (asserted here), or NULL where documented. Covers text
arguments, limits, options, model names, model files that fail to load, elmo_limit, the
table-valued function's arguments and the functions' SQLite flags."""
import os
import shutil
import sqlite3
import unittest

from elmo_sql import (TINY_OPTIONS, TINY_WEIGHTS, ElmoTestCase, connect, genmodel,
                      module_connection, temp_dir)

con = None
VALID_OPTIONS = "valid options: model, output, gamma, layer_norm, tokenizer, pooling"
OUTPUTS_TINY = "average, top, word, lstm1, lstm2, all"
EXAMPLE = ("an output name such as 'top' or a JSON object such as "
           "'{\"output\":\"top\",\"gamma\":1}'")

setUpModule, tearDownModule = module_connection(globals())


class TextErrors(ElmoTestCase):
    def test_non_text_arguments(self):
        for literal, type_name in (("42", "INTEGER"), ("4.5", "REAL"), ("x'00ff'", "BLOB"),
                                   ("zeroblob(0)", "BLOB")):
            self.assertSqlError(con, "SELECT elmo_embed(%s)" % literal,
                                message="elmo_embed: text must be TEXT or NULL, got " + type_name)
            self.assertSqlError(con, "SELECT elmo_embed(%s, 'top')" % literal,
                                message="elmo_embed: text must be TEXT or NULL, got " + type_name)
            self.assertSqlError(con, "SELECT * FROM elmo_tokens(%s)" % literal,
                                message="elmo_tokens: text must be TEXT or NULL, got " + type_name)

    def test_ten_megabyte_text(self):
        big = "word " * 2_000_000  # 10,000,000 bytes
        msg = ("text is 10000000 bytes, more than max_text_bytes = 1000000; raise it with "
               "SELECT elmo_limit('max_text_bytes', N)")
        self.assertSqlError(con, "SELECT elmo_embed(?)", (big,), message="elmo_embed: " + msg)
        self.assertSqlError(con, "SELECT * FROM elmo_tokens(?)", (big,),
                            message="elmo_tokens: " + msg)

    def test_hundred_thousand_tokens(self):
        text = "a " * 100_000  # 200,000 bytes: under the byte limit
        msg = ("text has 100000 tokens, more than max_tokens = 4096; raise it with "
               "SELECT elmo_limit('max_tokens', N)")
        self.assertSqlError(con, "SELECT elmo_embed(?)", (text,), message="elmo_embed: " + msg)
        self.assertSqlError(con, "SELECT count(*) FROM elmo_tokens(?)", (text,),
                            message="elmo_tokens: " + msg)

    def test_limit_errors_are_sqlite_toobig(self):
        with self.assertRaises(sqlite3.DataError):  # Python's class for SQLITE_TOOBIG
            con.execute("SELECT elmo_embed(?)", ("a " * 5000,)).fetchone()

    def test_limits_count_tokens_of_the_chosen_tokenizer(self):
        c = connect(load_default=False)
        try:
            self.assertEqual(c.execute("SELECT elmo_limit('max_tokens', 2)").fetchone(), (4096,))
            self.assertIsNotNone(c.execute("SELECT elmo_embed('a,b', "
                                           "'{\"tokenizer\":\"whitespace\"}')").fetchone()[0])
            self.assertSqlError(c, "SELECT elmo_embed('a,b')",
                                contains="elmo_embed: text has 3 tokens, more than max_tokens = 2")
        finally:
            c.close()


class LimitFunction(ElmoTestCase):
    def test_get_set_and_per_connection(self):
        a, b = connect(load_default=False), connect(load_default=False)
        try:
            self.assertEqual(a.execute("SELECT elmo_limit('max_text_bytes')").fetchone(),
                             (1000000,))
            self.assertEqual(a.execute("SELECT elmo_limit('max_tokens')").fetchone(), (4096,))
            self.assertEqual(a.execute("SELECT elmo_limit('max_text_bytes', 10)").fetchone(),
                             (1000000,))
            self.assertEqual(a.execute("SELECT elmo_limit('max_text_bytes')").fetchone(), (10,))
            self.assertSqlError(a, "SELECT elmo_embed('hello world')",
                                message="elmo_embed: text is 11 bytes, more than "
                                        "max_text_bytes = 10; raise it with SELECT "
                                        "elmo_limit('max_text_bytes', N)")
            self.assertIsNotNone(a.execute("SELECT elmo_embed('helloworld')").fetchone()[0])
            self.assertIsNotNone(b.execute("SELECT elmo_embed('hello world')").fetchone()[0])
            self.assertEqual(b.execute("SELECT elmo_limit('max_text_bytes')").fetchone(),
                             (1000000,))
            big = "a " * 5000
            self.assertEqual(b.execute("SELECT elmo_limit('max_tokens', 5000)").fetchone(), (4096,))
            self.assertEqual(b.execute("SELECT count(*) FROM elmo_tokens(?)", (big,)).fetchone(),
                             (5000,))
        finally:
            a.close()
            b.close()

    def test_bad_arguments(self):
        self.assertSqlError(con, "SELECT elmo_limit('max_bytes')",
                            message="elmo_limit: unknown limit 'max_bytes'; valid limits: "
                                    "max_text_bytes, max_tokens")
        self.assertSqlError(con, "SELECT elmo_limit(1)",
                            message="elmo_limit: the limit name ('max_text_bytes' or "
                                    "'max_tokens') must be TEXT, got INTEGER")
        for value, shown in (("0", "0"), ("-5", "-5"), ("2147483648", "2147483648"),
                             ("1.5", "REAL"), ("'10'", "TEXT"), ("NULL", "NULL")):
            self.assertSqlError(con, "SELECT elmo_limit('max_tokens', %s)" % value,
                                message="elmo_limit: max_tokens must be an integer from 1 to "
                                        "2147483647, got " + shown)
        self.assertEqual(con.execute("SELECT elmo_limit('max_tokens')").fetchone(), (4096,))


class OptionErrors(ElmoTestCase):
    def check(self, options, message, functions=("elmo_embed", "elmo_tokens")):
        for fn in functions:
            sql = ("SELECT elmo_embed('a b', ?)" if fn == "elmo_embed"
                   else "SELECT * FROM elmo_tokens('a b', ?)")
            self.assertSqlError(con, sql, (options,), message=fn + ": " + message)

    def test_malformed_json(self):
        for bad in ('{"output":', '{output: "top"}', "{'output':'top'}", '{"output":"top"} x',
                    '[1, 2', '{"gamma": 1,}', "{" * 2000):
            self.assertSqlError(con, "SELECT elmo_embed('a', ?)", (bad,),
                                contains=["elmo_embed: options are not valid JSON", EXAMPLE])

    def test_malformed_json_position(self):
        self.check('{"output":"top"} x', "options are not valid JSON (near byte 17: 'x'); "
                   "expected " + EXAMPLE)
        self.check('{"output":"top", ', "options are not valid JSON (the text ends early); "
                   "expected " + EXAMPLE)

    def test_echoed_input_is_short_valid_utf8(self):
        # invalid UTF-8 in the options must not make the message itself undecodable
        self.assertSqlError(con, "SELECT elmo_embed('a', CAST(x'6C73746DFF' AS TEXT))",
                            contains="elmo_embed: unknown output 'lstm?'; valid outputs:")
        self.assertSqlError(con, "SELECT elmo_embed('a', CAST(x'7B22FF223A317D' AS TEXT))",
                            message="elmo_embed: unknown option '?'; " + VALID_OPTIONS)
        # a long bare text is cut in the message
        text = self.assertSqlError(con, "SELECT elmo_embed('a', ?)", ("x" * 100000,),
                                   contains="elmo_embed: unknown output '%s...'; " % ("x" * 37))
        self.assertLess(len(text), 300)
        self.assertSqlError(con, "SELECT elmo_embed('a', ?)", ('{"%s":1}' % ("k" * 1000),),
                            message="elmo_embed: unknown option '%s...'; %s"
                                    % ("k" * 37, VALID_OPTIONS))
        self.assertSqlError(con, "SELECT elmo_embed('a', ?)",
                            ('{"model":"%s"}' % ("m" * 1000),),
                            message="elmo_embed: no model named '%s...'; loaded: default"
                                    % ("m" * 37))

    def test_unknown_and_repeated_keys(self):
        self.check('{"foo":1}', "unknown option 'foo'; " + VALID_OPTIONS)
        self.check('{"output":"top","Gamma":2}', "unknown option 'Gamma'; " + VALID_OPTIONS)
        self.check('{"output":"top","output":"word"}', "option 'output' is given twice")

    def test_unknown_outputs(self):
        valid = ("valid outputs: average, top, word, lstm1 ... lstmL (L = the model's LSTM "
                 "layers), all, hub, or a JSON array of L+1 mix weights")
        for name in ("foo", "TOP", "lstm0", "lstm01", "lstm", "lstm-1", " top", "default"):
            self.check(name, "unknown output '%s'; %s" % (name, valid))
            self.check('{"output":"%s"}' % name, "unknown output '%s'; %s" % (name, valid))

    def test_outputs_the_model_does_not_have(self):
        self.check("lstm3", "output 'lstm3' does not exist; model 'default' has outputs " +
                   OUTPUTS_TINY)
        self.check('{"output":"lstm99999"}', "output 'lstm99999' does not exist; model "
                   "'default' has outputs " + OUTPUTS_TINY)
        self.check("[1, 2]", "output weights need 3 numbers (one per layer of model 'default': "
                   "word and 2 LSTM layers), got 2")
        self.check('{"output":[1,2,3,4]}', "output weights need 3 numbers (one per layer of "
                   "model 'default': word and 2 LSTM layers), got 4")
        self.check('{"output":[%s]}' % ",".join(["1"] * 100), "output weights need 3 numbers "
                   "(one per layer of model 'default': word and 2 LSTM layers), got 100")

    def test_bad_values(self):
        self.check('{"output":5}', "option 'output' must be an output name or a JSON array of "
                   "numbers, got 5")
        self.check('{"output":[1,"a",3]}',
                   'output weights must be finite numbers; element 1 is "a"')
        self.assertSqlError(con, "SELECT elmo_embed('a', '{\"output\":[1,1e999,3]}')",
                            contains="elmo_embed: output weights must be finite numbers; "
                                     "element 1 is")
        self.check("[]", "output weights are an empty array; give one number per layer "
                   "(L+1 numbers)")
        self.check('{"gamma":"2"}', "option 'gamma' must be a finite number, got \"2\"")
        self.check('{"gamma":1e39}', "option 'gamma' must be a finite number, got 1e+39")
        self.check('{"gamma":true}', "option 'gamma' must be a finite number, got true")
        self.check('{"layer_norm":1}', "option 'layer_norm' must be true or false, got 1")
        self.check('{"layer_norm":"yes"}', "option 'layer_norm' must be true or false, got \"yes\"")
        self.check('{"tokenizer":"spacy"}', "option 'tokenizer' must be 'default', "
                   "'whitespace' or 'space', got \"spacy\"")
        self.check('{"pooling":"sum"}', "option 'pooling' must be 'mean' or 'max', got \"sum\"")
        self.check('{"pooling":["max"]}', "option 'pooling' must be 'mean' or 'max', got [\"max\"]")
        self.check('{"model":""}', "option 'model' must be the name of a loaded model (a "
                   "non-empty string), got \"\"")
        self.check('{"model":7}', "option 'model' must be the name of a loaded model (a "
                   "non-empty string), got 7")
        long = '{"tokenizer":"%s"}' % ("x" * 100)
        self.assertSqlError(con, "SELECT elmo_embed('a', ?)", (long,),
                            message="elmo_embed: option 'tokenizer' must be 'default', "
                                    "'whitespace' or 'space', got \"%s..." % ("x" * 36))

    def test_non_text_and_empty_options(self):
        for literal, type_name in (("1", "INTEGER"), ("2.5", "REAL"), ("x'7b7d'", "BLOB")):
            self.assertSqlError(con, "SELECT elmo_embed('a', %s)" % literal,
                                message="elmo_embed: options must be TEXT (%s) or NULL, got %s"
                                        % (EXAMPLE, type_name))
        self.check("", "options are empty; pass NULL for the defaults, or " + EXAMPLE)

    def test_options_are_checked_before_the_text(self):
        self.assertSqlError(con, "SELECT elmo_embed(NULL, '{\"foo\":1}')",
                            message="elmo_embed: unknown option 'foo'; " + VALID_OPTIONS)


class ModelNames(ElmoTestCase):
    def test_unknown_model(self):
        msg = "no model named 'nope'; loaded: default"
        self.assertSqlError(con, "SELECT elmo_embed('a', '{\"model\":\"nope\"}')",
                            message="elmo_embed: " + msg)
        self.assertSqlError(con, "SELECT * FROM elmo_tokens('a', '{\"model\":\"nope\"}')",
                            message="elmo_tokens: " + msg)
        con.execute("SELECT elmo_load('second', ?, ?)", (TINY_OPTIONS, TINY_WEIGHTS))
        try:
            self.assertSqlError(con, "SELECT elmo_embed('a', '{\"model\":\"nope\"}')",
                                message="elmo_embed: no model named 'nope'; loaded: default, "
                                        "second")
        finally:
            con.execute("SELECT elmo_unload('second')")
        self.assertSqlError(con, "SELECT elmo_unload('nope')",
                            message="elmo_unload: no model named 'nope'; loaded: default")

    def test_names_are_case_sensitive(self):
        self.assertSqlError(con, "SELECT elmo_embed('a', '{\"model\":\"Default\"}')",
                            message="elmo_embed: no model named 'Default'; loaded: default")


class LoadErrors(ElmoTestCase):
    def load(self, name, options, weights):
        return "SELECT elmo_load('%s', '%s', '%s')" % (name, options, weights)

    def test_missing_files_and_directories(self):
        self.assertSqlError(con, self.load("m", "/nonexistent/options.json", TINY_WEIGHTS),
                            message="elmo_load: cannot open options file "
                                    "'/nonexistent/options.json': No such file or directory")
        self.assertSqlError(con, self.load("m", TINY_OPTIONS, "/nonexistent/w.hdf5"),
                            message="elmo_load: cannot open weights file '/nonexistent/w.hdf5': "
                                    "No such file or directory")
        self.assertSqlError(con, self.load("m", "models", TINY_WEIGHTS),
                            message="elmo_load: options file 'models' is not a regular file; "
                                    "give the path of the options JSON file")
        self.assertSqlError(con, self.load("m", TINY_OPTIONS, "models"),
                            message="elmo_load: weights file 'models' is not a regular file; "
                                    "give the path of the HDF5 weights file")

    def test_files_that_fail_to_load(self):
        with temp_dir() as d:
            cases = [
                (["--truncate", "2000"], ["cannot load model 'bad'", "is truncated or corrupted"]),
                (["--omit", "CNN_high_1/W_carry"], ["cannot load model 'bad'",
                                                    "has no dataset 'CNN_high_1/W_carry'"]),
                (["--reshape", "char_embed=10,4"], ["dataset 'char_embed' has shape [10, 4], "
                                                    "expected [261, 4]"]),
                (["--dtype", "char_embed=i32"], ["dataset 'char_embed' has type"]),
            ]
            for k, (flags, parts) in enumerate(cases):
                sub = os.path.join(d, str(k))
                o, w = genmodel(sub, *flags)
                self.assertSqlError(con, self.load("bad", o, w),
                                    contains=["elmo_load: cannot load model 'bad': "] + parts)
            # the weights given as options and the other way round
            self.assertSqlError(con, self.load("bad", TINY_WEIGHTS, TINY_OPTIONS),
                                contains=["elmo_load: cannot load model 'bad': options file",
                                          "holds a NUL byte at byte 8; an options file is "
                                          "JSON text"])
            self.assertSqlError(con, self.load("bad", TINY_OPTIONS, TINY_OPTIONS),
                                contains=["elmo_load: cannot load model 'bad': weights file",
                                          "is not an HDF5 file"])
            # broken options JSON
            broken = os.path.join(d, "broken.json")
            with open(broken, "w") as f:
                f.write('{"lstm": {"dim": 64}')
            self.assertSqlError(con, self.load("bad", broken, TINY_WEIGHTS),
                                contains=["elmo_load: cannot load model 'bad': options file"])
        # nothing was registered by the failures
        self.assertEqual(con.execute("SELECT group_concat(name) FROM elmo_models").fetchone(),
                         ("default",))

    def test_bad_arguments(self):
        self.assertSqlError(con, "SELECT elmo_load(NULL, 'a', 'b')",
                            message="elmo_load: the model name must be TEXT, got NULL")
        self.assertSqlError(con, "SELECT elmo_load('', 'a', 'b')",
                            message="elmo_load: the model name is empty; name it, e.g. 'default'")
        self.assertSqlError(con, "SELECT elmo_load('m', 1, 'b')",
                            message="elmo_load: the options path must be TEXT, got INTEGER")
        self.assertSqlError(con, "SELECT elmo_load('m', 'a', x'00')",
                            message="elmo_load: the weights path must be TEXT, got BLOB")
        self.assertSqlError(con, "SELECT elmo_unload(3)",
                            message="elmo_unload: the model name must be TEXT, got INTEGER")
        self.assertSqlError(con, "SELECT elmo_load('m')",
                            contains="wrong number of arguments to function elmo_load()")
        self.assertSqlError(con, "SELECT elmo_load('m', 2)",
                            message="elmo_load: the model path must be TEXT, got INTEGER")

    def test_different_model_under_a_used_name(self):
        with temp_dir() as d:
            o, w = genmodel(d, "--seed", "11")
            real_o, real_w = os.path.realpath(TINY_OPTIONS), os.path.realpath(TINY_WEIGHTS)
            self.assertSqlError(con, "SELECT elmo_load('default', ?, ?)", (o, w),
                                message="elmo_load: a different model is already loaded as "
                                        "'default' (from '%s' and '%s'); call "
                                        "elmo_unload('default') first" % (real_o, real_w))

    def test_changed_files_under_a_used_name(self):
        with temp_dir() as d:
            o, w = os.path.join(d, "options.json"), os.path.join(d, "weights.hdf5")
            shutil.copy(TINY_OPTIONS, o)
            shutil.copy(TINY_WEIGHTS, w)
            con.execute("SELECT elmo_load('copy', ?, ?)", (o, w))
            try:
                st = os.stat(w)
                os.utime(w, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
                self.assertSqlError(con, "SELECT elmo_load('copy', ?, ?)", (o, w),
                                    message="elmo_load: the files of model 'copy' changed on "
                                            "disk since they were loaded; call "
                                            "elmo_unload('copy') first to load them again")
            finally:
                con.execute("SELECT elmo_unload('copy')")
            self.assertEqual(con.execute("SELECT elmo_load('copy', ?, ?)", (o, w)).fetchone(),
                             ("copy",))
            con.execute("SELECT elmo_unload('copy')")


class TokensTableErrors(ElmoTestCase):
    def test_missing_text_argument(self):
        msg = ("elmo_tokens: the text argument is missing; call it as elmo_tokens(text [, "
               "options]), e.g. SELECT * FROM elmo_tokens('The bank raised rates.')")
        self.assertSqlError(con, "SELECT * FROM elmo_tokens", message=msg)
        self.assertSqlError(con, "SELECT * FROM elmo_tokens WHERE options = 'top'", message=msg)
        self.assertSqlError(con, "SELECT * FROM elmo_tokens WHERE text > 'a'", message=msg)

    def test_too_many_arguments(self):
        self.assertSqlError(con, "SELECT * FROM elmo_tokens('a', 'top', 3)",
                            contains="too many arguments on elmo_tokens() - max 2")

    def test_read_only(self):
        self.assertSqlError(con, "INSERT INTO elmo_tokens(i) VALUES (1)",
                            contains="table elmo_tokens may not be modified")
        self.assertSqlError(con, "DELETE FROM elmo_models",
                            contains="table elmo_models may not be modified")
        self.assertSqlError(con, "CREATE VIRTUAL TABLE t USING elmo_tokens",
                            contains="no such module: elmo_tokens")


class Flags(ElmoTestCase):
    def test_file_reading_functions_are_direct_only(self):
        c = connect(load_default=False)
        try:
            c.execute("CREATE VIEW v_load AS SELECT elmo_load('x', 'a', 'b')")
            self.assertSqlError(c, "SELECT * FROM v_load", message="unsafe use of elmo_load()")
            c.execute("CREATE VIEW v_unload AS SELECT elmo_unload('x')")
            self.assertSqlError(c, "SELECT * FROM v_unload", message="unsafe use of elmo_unload()")
            c.execute("CREATE VIEW v_limit AS SELECT elmo_limit('max_tokens', 1)")
            self.assertSqlError(c, "SELECT * FROM v_limit", message="unsafe use of elmo_limit()")
        finally:
            c.close()

    def test_determinism(self):
        c = connect()
        try:
            c.execute("CREATE TABLE t(a BLOB, b BLOB, c REAL AS (elmo_cosine(a, b)), "
                      "j TEXT AS (elmo_json(a)))")
            c.execute("INSERT INTO t(a, b) VALUES (elmo_embed('x'), elmo_embed('y'))")
            self.assertIsInstance(c.execute("SELECT c FROM t").fetchone()[0], float)
            # elmo_embed is deterministic: a generated column may use it.
            c.execute("CREATE TABLE u(a TEXT, e BLOB AS (elmo_embed(a)))")
            c.execute("INSERT INTO u(a) VALUES ('x')")
            self.assertEqual(c.execute("SELECT e IS elmo_embed('x') FROM u").fetchone(), (1,))
        finally:
            c.close()

    def test_innocuous_functions_work_with_untrusted_schema(self):
        c = connect()
        try:
            c.execute("PRAGMA trusted_schema = OFF")
            c.execute("CREATE VIEW v AS SELECT elmo_cosine('[1,0]', '[1,1]') AS c, "
                      "elmo_json(x'0000803f') AS j, elmo_version() IS NOT NULL AS has_version")
            self.assertEqual(c.execute("SELECT c, j, has_version FROM v").fetchone(),
                             (0.7071067811865475, "[1]", 1))
            c.execute("CREATE VIEW e AS SELECT elmo_embed('x') AS v")
            self.assertSqlError(c, "SELECT * FROM e", message="unsafe use of elmo_embed()")
        finally:
            c.close()


if __name__ == "__main__":
    unittest.main()
