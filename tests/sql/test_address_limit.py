"""Under an address-space limit (ulimit -v) the extension either works or fails with a
clear out-of-memory message; it never hangs (the engine calls no BLAS, whose buffer
allocation used to retry forever there). Release build only: the sanitizers need a huge
address space of their own."""
import os
import subprocess
import unittest

from elmo_sql import (EXT, ROOT, SAN, SQLITE3, TINY_OPTIONS, TINY_WEIGHTS, ElmoTestCase,
                      cli_env, genmodel, temp_dir)


def run_limited(kib, options, weights):
    sql = ("SELECT elmo_load('default', '%s', '%s');\n"
           "SELECT length(elmo_embed('The bank raised interest rates.'));\n" % (options, weights))
    return subprocess.run(["sh", "-c", 'ulimit -v %d && exec "$0" :memory: -cmd ".load $1"'
                           % kib, SQLITE3, EXT], input=sql, capture_output=True, text=True,
                          cwd=ROOT, env=cli_env(), timeout=60)


@unittest.skipIf(SAN, "the sanitizers reserve more address space than these limits")
class AddressSpaceLimit(ElmoTestCase):
    def test_tiny_model_works_from_60_mib(self):
        for mib in (60, 80, 120, 200, 340):
            p = run_limited(mib * 1024, TINY_OPTIONS, TINY_WEIGHTS)
            self.assertEqual((p.returncode, p.stderr), (0, ""), "ulimit -v %d MiB" % mib)
            self.assertEqual(p.stdout.split(), ["default", "128"])

    def test_a_model_too_large_for_the_limit_is_a_clear_error(self):
        with temp_dir() as tmp:
            options, weights = genmodel(tmp, "--shape", "small", "--seed", "3")
            for mib in (40, 60, 80):
                p = run_limited(mib * 1024, options, weights)
                self.assertIn("elmo_load: cannot load model 'default': out of memory ", p.stderr,
                              "ulimit -v %d MiB" % mib)
                self.assertIn(os.path.realpath(weights), p.stderr)
            p = run_limited(400 * 1024, options, weights)
            self.assertEqual((p.returncode, p.stdout.split()), (0, ["default", "1024"]), p.stderr)

    def test_no_limit_takes_the_host_down(self):
        # Every limit from too small to enough, 2 MiB apart: the load works or fails with
        # out of memory, never a signal. The HDF5 file is read into memory before libhdf5
        # opens it, and libhdf5 dereferences a failed allocation when little is left (it
        # crashed at 78 MiB here), so the loader keeps headroom for it.
        with temp_dir() as tmp:
            options, weights = genmodel(tmp, "--shape", "small", "--seed", "3")
            for mib in range(40, 182, 2):
                p = run_limited(mib * 1024, options, weights)
                self.assertIn(p.returncode, (0, 1), "ulimit -v %d MiB: %s" % (mib, p.stderr))
                if p.returncode:
                    self.assertIn("elmo_load: cannot load model 'default': out of memory ",
                                  p.stderr, "ulimit -v %d MiB" % mib)


if __name__ == "__main__":
    unittest.main()
