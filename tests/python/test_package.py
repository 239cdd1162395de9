"""The sqlite_elmo package: finding and loading the extension, `pip install
--no-build-isolation ./python`, and Ctrl-C during a long embedding statement."""
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import unittest

from pkg_util import EXT_SO, ROOT, SAN, TINY_DIR, child_env, genmodel, temp_dir

import sqlite_elmo


class Load(unittest.TestCase):
    def test_path_and_load(self):
        self.assertEqual(sqlite_elmo.path(), EXT_SO)
        con = sqlite3.connect(":memory:")
        sqlite_elmo.load(con)
        (version,) = con.execute("SELECT elmo_version()").fetchone()
        self.assertTrue(version.startswith("sqlite-elmo 0."), version)
        con.execute("SELECT elmo_load('default', ?, ?)", (os.path.join(TINY_DIR, "options.json"),
                                                          os.path.join(TINY_DIR, "weights.hdf5")))
        (blob,) = con.execute("SELECT elmo_embed('The bank raised rates.')").fetchone()
        self.assertEqual(len(blob), 4 * 32)
        # loading is switched off again afterwards
        with self.assertRaises(sqlite3.OperationalError):
            con.load_extension(EXT_SO)
        con.close()

    def test_bad_environment(self):
        old = os.environ["SQLITE_ELMO_PATH"]
        os.environ["SQLITE_ELMO_PATH"] = "/nonexistent/elmo.so"
        try:
            with self.assertRaises(FileNotFoundError) as cm:
                sqlite_elmo.path()
            self.assertEqual(str(cm.exception), "sqlite_elmo: SQLITE_ELMO_PATH="
                             "'/nonexistent/elmo.so' is not a file; point it at a built elmo.so")
        finally:
            os.environ["SQLITE_ELMO_PATH"] = old

    def test_source_tree_finds_the_release_build(self):
        release = os.path.join(ROOT, "build", "release", "elmo.so")
        if not os.path.isfile(release):
            self.skipTest("build/release is not built")
        env = child_env()
        del env["SQLITE_ELMO_PATH"]
        out = subprocess.run([sys.executable, "-c", "import sqlite_elmo; print(sqlite_elmo.path())"],
                             env=env, capture_output=True, text=True, check=True).stdout
        self.assertEqual(out.strip(), release)


class PipInstall(unittest.TestCase):
    def test_install_bundles_the_library(self):
        if SAN:
            self.skipTest("packaging is checked in the release build")
        if subprocess.run([sys.executable, "-m", "pip", "--version"],
                          capture_output=True).returncode != 0:
            self.skipTest("pip is not installed (Debian: python3-pip)")
        tmp = temp_dir()
        try:
            src = os.path.join(tmp.name, "src")
            shutil.copytree(os.path.join(ROOT, "python"), src,
                            ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__",
                                                          "elmo.so"))
            site = os.path.join(tmp.name, "site")
            r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                                "--no-build-isolation", "--no-deps", "--no-index",
                                "--target", site, src],
                               env=child_env(SQLITE_ELMO_BUILD=EXT_SO), capture_output=True,
                               text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            bundled = os.path.join(site, "sqlite_elmo", "elmo.so")
            self.assertTrue(os.path.isfile(bundled))
            env = {k: v for k, v in os.environ.items()
                   if k not in ("SQLITE_ELMO_PATH", "PYTHONPATH")}
            env["PYTHONPATH"] = site
            code = ("import sqlite3, sqlite_elmo\n"
                    "con = sqlite3.connect(':memory:')\n"
                    "sqlite_elmo.load(con)\n"
                    "print(sqlite_elmo.path())\n"
                    "print(con.execute('SELECT elmo_version()').fetchone()[0])\n")
            r = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp.name,
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = r.stdout.splitlines()
            self.assertEqual(lines[0], bundled)
            self.assertTrue(lines[1].startswith("sqlite-elmo "))
        finally:
            tmp.cleanup()


CHILD = textwrap.dedent("""
    import sqlite3, sys, time
    import sqlite_elmo
    con = sqlite3.connect(":memory:", isolation_level=None)
    sqlite_elmo.load(con)
    con.execute("SELECT elmo_load('default', ?, ?)", (sys.argv[1], sys.argv[2]))
    con.execute("CREATE TABLE v(id INTEGER PRIMARY KEY, vector BLOB)")
    rows = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000) "
            "SELECT i, 'The committee said on Tuesday that it would review the new budget "
            "proposal before the end of the year .' FROM n")
    print("ready", flush=True)
    try:
        with sqlite_elmo.interruptible(con):
            con.execute("INSERT INTO v SELECT id, vector FROM elmo_batch(?)", (rows,))
    except KeyboardInterrupt as e:
        print("KeyboardInterrupt", type(e.__cause__).__name__, flush=True)
        print(con.execute("SELECT count(*) FROM v").fetchone()[0], flush=True)
        # the handlers are back as they were: a second Ctrl-C outside is Python's own
        import signal
        print(signal.set_wakeup_fd(-1), signal.getsignal(signal.SIGINT) is
              signal.default_int_handler, flush=True)
        sys.exit(3)
    print("finished", flush=True)
""")


class CtrlC(unittest.TestCase):
    def test_sigint_raises_keyboard_interrupt_within_a_second(self):
        tmp = temp_dir()
        try:
            options, weights = genmodel(tmp.name, "--shape", "small", "--seed", "1")
            proc = subprocess.Popen([sys.executable, "-c", CHILD, options, weights],
                                    env=child_env(), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            self.assertEqual(proc.stdout.readline(), "ready\n")
            time.sleep(1.0)  # well inside the statement (minutes long)
            sent = time.monotonic()
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
            elapsed = time.monotonic() - sent
            self.assertEqual(proc.returncode, 3, err)
            self.assertEqual(out.splitlines(), ["KeyboardInterrupt OperationalError", "0",
                                               "-1 True"])
            self.assertLess(elapsed, 3.0 if SAN else 1.0)
        finally:
            tmp.cleanup()


if __name__ == "__main__":
    unittest.main()
