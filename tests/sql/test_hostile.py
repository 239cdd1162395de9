"""test_hostile.py - hostile SQL input: options objects with very many keys (parsed in linear
time), unknown keys whose value is null, NUL characters in names, paths, limit names and
options (rejected, naming the argument) and in the embedded text (kept: a word byte),
token offsets in a UTF-16 database."""
import sqlite3
import time
import unittest

from elmo_sql import (SAN, TINY_OPTIONS, TINY_WEIGHTS, ElmoTestCase, connect,
                      module_connection)

con = None
VALID_OPTIONS = "valid options: model, output, gamma, layer_norm, tokenizer, pooling"

setUpModule, tearDownModule = module_connection(globals())


def nul_text(hex_bytes):
    """SQL for a TEXT value with these bytes (NULs included)."""
    return "CAST(x'%s' AS TEXT)" % hex_bytes


class Options(ElmoTestCase):
    def test_unknown_key_with_null_value(self):
        for fn_sql, fn in (("SELECT elmo_embed('a', ?)", "elmo_embed"),
                           ("SELECT * FROM elmo_tokens('a', ?)", "elmo_tokens")):
            self.assertSqlError(con, fn_sql, ('{"foo":null}',),
                                message=fn + ": unknown option 'foo'; " + VALID_OPTIONS)
            self.assertSqlError(con, fn_sql, ('{"output":"top","bar":null}',),
                                message=fn + ": unknown option 'bar'; " + VALID_OPTIONS)
        # a known key with null keeps the default
        (v,) = con.execute("SELECT length(elmo_embed('a', '{\"output\":null}'))").fetchone()
        self.assertEqual(v, 32 * 4)

    def test_duplicates_still_rejected(self):
        for opts in ('{"output":null,"output":"top"}', '{"gamma":1,"model":null,"gamma":null}'):
            key = "output" if "output" in opts else "gamma"
            self.assertSqlError(con, "SELECT elmo_embed('a', ?)", (opts,),
                                message="elmo_embed: option '%s' is given twice" % key)

    def test_many_keys_are_fast(self):
        # 200,000 keys: quadratic parsing took minutes; linear parsing stops at the first.
        n = 200_000
        opts = "{" + ",".join('"k%d":null' % i for i in range(n)) + "}"
        start = time.monotonic()
        self.assertSqlError(con, "SELECT elmo_embed('a', ?)", (opts,),
                            message="elmo_embed: unknown option 'k0'; " + VALID_OPTIONS)
        self.assertLess(time.monotonic() - start, 10.0 if SAN else 2.0)
        # many repeats of a valid key: rejected at the second
        opts = "{" + ",".join('"output":null' for _ in range(n)) + "}"
        start = time.monotonic()
        self.assertSqlError(con, "SELECT elmo_embed('a', ?)", (opts,),
                            message="elmo_embed: option 'output' is given twice")
        self.assertLess(time.monotonic() - start, 10.0 if SAN else 2.0)


class EmbeddedNul(ElmoTestCase):
    def test_model_name(self):
        self.assertSqlError(
            con, "SELECT elmo_load(%s, ?, ?)" % nul_text("610062"), (TINY_OPTIONS, TINY_WEIGHTS),
            message="elmo_load: the model name contains a NUL character (at byte 1 of 3); "
                    "remove it")
        self.assertEqual(con.execute("SELECT count(*) FROM elmo_models WHERE name = 'a'")
                         .fetchone()[0], 0)
        self.assertSqlError(
            con, "SELECT elmo_unload(%s)" % nul_text("64656661756c7400"),
            message="elmo_unload: the model name contains a NUL character (at byte 7 of 8); "
                    "remove it")
        self.assertEqual(con.execute("SELECT count(*) FROM elmo_models WHERE name = 'default'")
                         .fetchone()[0], 1)

    def test_paths(self):
        path_hex = (TINY_OPTIONS.encode() + b"\0junk").hex()
        self.assertSqlError(
            con, "SELECT elmo_load('x', %s, ?)" % nul_text(path_hex), (TINY_WEIGHTS,),
            message="elmo_load: the options path contains a NUL character (at byte %d of %d); "
                    "remove it" % (len(TINY_OPTIONS), len(TINY_OPTIONS) + 5))
        path_hex = (TINY_WEIGHTS.encode() + b"\0").hex()
        self.assertSqlError(
            con, "SELECT elmo_load('x', ?, %s)" % nul_text(path_hex), (TINY_OPTIONS,),
            message="elmo_load: the weights path contains a NUL character (at byte %d of %d); "
                    "remove it" % (len(TINY_WEIGHTS), len(TINY_WEIGHTS) + 1))

    def test_limit_name(self):
        self.assertSqlError(
            con, "SELECT elmo_limit(%s)" % nul_text(b"max_tokens\0x".hex()),
            message="elmo_limit: the limit name ('max_text_bytes' or 'max_tokens') contains a "
                    "NUL character (at byte 10 of 12); remove it")
        self.assertSqlError(
            con, "SELECT elmo_limit(%s, 5)" % nul_text(b"max_tokens\0".hex()),
            message="elmo_limit: the limit name ('max_text_bytes' or 'max_tokens') contains a "
                    "NUL character (at byte 10 of 11); remove it")
        self.assertEqual(con.execute("SELECT elmo_limit('max_tokens')").fetchone()[0], 4096)

    def test_options(self):
        bare = nul_text(b"top\0".hex())
        self.assertSqlError(con, "SELECT elmo_embed('a', %s)" % bare,
                            message="elmo_embed: options contain a NUL character (at byte 3 of "
                                    "4); remove it")
        self.assertSqlError(con, "SELECT * FROM elmo_tokens('a', %s)" % bare,
                            message="elmo_tokens: options contain a NUL character (at byte 3 "
                                    "of 4); remove it")
        self.assertSqlError(con, "SELECT * FROM elmo_batch('SELECT 1, ''a''', %s)" % bare,
                            message="elmo_batch: options contain a NUL character (at byte 3 "
                                    "of 4); remove it")
        escaped = "elmo_embed: options contain a NUL character (\\u0000); no option name or " \
                  "value may contain one"
        for opts in ('{"model":"default\\u0000junk"}', '{"output":"top\\u0000"}',
                     '{"model\\u0000x":"default"}', '{"tokenizer":"whitespace\\u0000"}'):
            self.assertSqlError(con, "SELECT elmo_embed('a', ?)", (opts,), message=escaped)
        # an escaped backslash followed by u0000 is no NUL: the name is 'default\u0000'
        self.assertSqlError(con, "SELECT elmo_embed('a', ?)", ('{"model":"default\\\\u0000"}',),
                            message="elmo_embed: no model named 'default\\u0000'; loaded: "
                                    "default")

    def test_batch_sql(self):
        sql = nul_text(b"SELECT 1, 'a'\0; DELETE FROM t".hex())
        self.assertSqlError(con, "SELECT * FROM elmo_batch(%s)" % sql,
                            message="elmo_batch: sql contains a NUL character (at byte 13 of "
                                    "29); remove it")

    def test_embedded_text_keeps_nul(self):
        # The text is read by its length: a NUL is a word byte like other control bytes.
        rows = con.execute('SELECT token, start, "end" FROM elmo_tokens(%s)'
                           % nul_text("610062206364")).fetchall()
        self.assertEqual(rows, [("a\0b", 0, 3), ("cd", 4, 6)])
        (with_nul, plain) = con.execute(
            "SELECT elmo_embed(%s), elmo_embed('ab')" % nul_text("610062")).fetchone()
        self.assertEqual(len(with_nul), 32 * 4)
        self.assertNotEqual(with_nul, plain)


class Utf16(ElmoTestCase):
    def test_offsets_are_utf8_bytes(self):
        for encoding in ("UTF-8", "UTF-16le", "UTF-16be"):
            db = sqlite3.connect(":memory:", isolation_level=None)
            db.execute("PRAGMA encoding = '%s'" % encoding)
            db.enable_load_extension(True)
            db.load_extension(__import__("elmo_sql").EXT)
            db.execute("CREATE TABLE t(x TEXT)")
            self.assertEqual(db.execute("PRAGMA encoding").fetchone()[0], encoding)
            text = "h\u00e9llo w\u00f6rld \u20ac5"
            db.execute("INSERT INTO t VALUES (?)", (text,))
            rows = db.execute('SELECT k.token, k.start, k."end", '
                              'substr(CAST(t.x AS BLOB), k.start + 1, k."end" - k.start) '
                              'FROM t, elmo_tokens(t.x) AS k').fetchall()
            utf8 = text.encode("utf-8")
            self.assertEqual([r[0] for r in rows], ["h\u00e9llo", "w\u00f6rld", "\u20ac5"])
            self.assertEqual([(r[1], r[2]) for r in rows], [(0, 6), (7, 13), (14, 18)])
            for token, start, end, blob in rows:
                # offsets index the UTF-8 form of the text, whatever the database encoding
                self.assertEqual(utf8[start:end].decode("utf-8"), token)
                if encoding == "UTF-8":
                    self.assertEqual(blob, utf8[start:end])
                else:  # CAST(text AS BLOB) is UTF-16 here: the byte recipe does not apply
                    self.assertNotEqual(blob, utf8[start:end])
            db.close()


if __name__ == "__main__":
    unittest.main()
