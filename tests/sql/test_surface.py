"""test_surface.py - the public surface, pinned: the SQL functions (name, argument count,
flags) and modules the extension adds to a connection, and the dynamic symbols of elmo.so and
libelmo.so. The lists are exact on purpose: any change to the surface must edit this test."""
import os
import re
import sqlite3
import subprocess
import unittest

from elmo_sql import B, EXT, ROOT

# Function flag bits as pragma_function_list reports them (SQLite 3.40 shows these four;
# SQLITE_RESULT_SUBTYPE, which elmo_embed and elmo_json also set, is not visible there).
DETERMINISTIC = 0x000000800
DIRECTONLY = 0x000080000
SUBTYPE = 0x000100000
INNOCUOUS = 0x000200000

# (name, narg, flags): every function is a UTF-8 scalar function.
FUNCTIONS = [
    ("elmo_cosine", 2, DETERMINISTIC | INNOCUOUS),
    ("elmo_embed", 1, DETERMINISTIC),
    ("elmo_embed", 2, DETERMINISTIC),
    ("elmo_json", 1, DETERMINISTIC | INNOCUOUS),
    ("elmo_limit", 1, DIRECTONLY),
    ("elmo_limit", 2, DIRECTONLY),
    ("elmo_load", 2, DIRECTONLY),
    ("elmo_load", 3, DIRECTONLY),
    ("elmo_load", 4, DIRECTONLY),
    ("elmo_perplexity", 1, DETERMINISTIC),
    ("elmo_perplexity", 2, DETERMINISTIC),
    ("elmo_unload", 1, DIRECTONLY),
    ("elmo_version", 0, DETERMINISTIC | INNOCUOUS),
]

MODULES = ["elmo_batch", "elmo_lm", "elmo_models", "elmo_predict", "elmo_tokens"]

EXTENSION_SYMBOLS = ["sqlite3_elmo_init"]

# The functions include/elmo.h declares.
LIBRARY_SYMBOLS = [
    "elmo_boundary_char_ids", "elmo_char_ids", "elmo_embed_batch",
    "elmo_embed_default_params", "elmo_lm_default_params", "elmo_lm_perplexity",
    "elmo_lm_predict", "elmo_lm_score", "elmo_load_default_params", "elmo_mix_check",
    "elmo_mix_default", "elmo_mix_dim", "elmo_model_free", "elmo_model_get_info",
    "elmo_model_load", "elmo_model_load_path", "elmo_model_trained_mix", "elmo_pool",
    "elmo_precision_fastest", "elmo_precision_kernel", "elmo_precision_name",
    "elmo_precision_supported", "elmo_result_count",
    "elmo_result_dim", "elmo_result_free", "elmo_result_layer", "elmo_result_layers",
    "elmo_result_mix", "elmo_result_tokens", "elmo_run", "elmo_run_default_params",
    "elmo_status_name", "elmo_stream_free", "elmo_stream_new", "elmo_stream_reset",
    "elmo_tokenize", "elmo_version", "elmo_vocab_id", "elmo_vocab_word",
]


def connection_surface(load):
    """(functions, modules) of a fresh in-memory connection, with or without the
    extension."""
    con = sqlite3.connect(":memory:")
    try:
        if load:
            con.enable_load_extension(True)
            con.load_extension(EXT)
        functions = set(con.execute(
            "SELECT name, builtin, type, enc, narg, flags FROM pragma_function_list"))
        modules = set(row[0] for row in con.execute("SELECT name FROM pragma_module_list"))
        return functions, modules
    finally:
        con.close()


def defined_dynamic_symbols(path):
    out = subprocess.run(["nm", "-D", "--defined-only", path], check=True,
                         capture_output=True, text=True).stdout
    return sorted(line.split()[-1] for line in out.splitlines() if line.strip())


class SqlSurface(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.bare = connection_surface(False)
        cls.loaded = connection_surface(True)

    def test_functions(self):
        added = self.loaded[0] - self.bare[0]
        self.assertEqual(sorted(added),
                         [(name, 0, "s", "utf8", narg, flags) for name, narg, flags in FUNCTIONS])

    def test_nothing_builtin_replaced(self):
        self.assertEqual(sorted(self.bare[0] - self.loaded[0]), [])
        self.assertEqual(sorted(self.bare[1] - self.loaded[1]), [])

    def test_modules(self):
        self.assertEqual(sorted(self.loaded[1] - self.bare[1]), MODULES)


class SymbolSurface(unittest.TestCase):
    def symbols(self, name):
        path = os.path.join(ROOT, B, name)
        self.assertTrue(os.path.exists(path), path + " is not built")
        return defined_dynamic_symbols(path)

    def test_extension_exports_only_its_entry_point(self):
        self.assertEqual(self.symbols("elmo.so"), EXTENSION_SYMBOLS)

    def test_library_exports_exactly_the_header(self):
        self.assertEqual(self.symbols("libelmo.so"), LIBRARY_SYMBOLS)

    def test_header_declares_the_exported_list(self):
        # The same list as the header: a new public function needs both edits.
        with open(os.path.join(ROOT, "include", "elmo.h")) as f:
            declared = sorted(set(re.findall(r"\b(elmo_[a-z0-9_]*)\(", f.read())))
        self.assertEqual(declared, LIBRARY_SYMBOLS)


if __name__ == "__main__":
    unittest.main()
