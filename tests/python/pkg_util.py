"""Shared setup of the Python package tests: the package from python/ and the extension of
the build under test ($B/elmo.so, through SQLITE_ELMO_PATH), the SQL tests' helpers."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "sql"))
sys.path.insert(0, os.path.join(ROOT, "python"))

from elmo_sql import B, SAN, TINY_DIR, connect, genmodel, temp_dir  # noqa: E402,F401

EXT_SO = os.path.join(ROOT, B, "elmo.so")
os.environ["SQLITE_ELMO_PATH"] = EXT_SO


def child_env(**extra):
    """Environment of a child python: the package on PYTHONPATH, this build's library."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(ROOT, "python")] +
                                        ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.update(extra)
    return env
