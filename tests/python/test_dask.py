"""The Dask recipe (sqlite_elmo.cluster): a LocalCluster of two worker processes embeds a
table by rowid ranges, each worker loading the extension and the model once and writing its
own SQLite file; the merged vectors equal a single-process elmo_embed(body)."""
import os
import sqlite3
import sys
import unittest

from pkg_util import ROOT, SAN, TINY_DIR, temp_dir

sys.path.insert(0, os.path.join(ROOT, "tests", "sql"))
from elmo_cli import assert_vectors_match, expected_vectors, make_db, sentences  # noqa: E402

try:
    from distributed import Client, LocalCluster
except ImportError:  # pragma: no cover
    Client = None


@unittest.skipIf(SAN, "the Dask test runs in the release build (it checks no C code of its own)")
@unittest.skipIf(Client is None, "python3-distributed is not installed")
class DaskEmbed(unittest.TestCase):
    def test_local_cluster(self):
        import sqlite_elmo.cluster as cluster
        tmp = temp_dir()
        # worker processes import the package and find this build's library
        os.environ["PYTHONPATH"] = os.path.join(ROOT, "python")
        try:
            src = os.path.join(tmp.name, "docs.db")
            texts = sentences(600, seed=21)
            make_db(src, texts)
            # a gap in the rowids: ranges need not be dense
            con = sqlite3.connect(src)
            con.execute("DELETE FROM docs WHERE id BETWEEN 100 AND 180")
            con.execute("INSERT INTO docs(id, body) VALUES (5000, 'a late row')")
            con.commit()
            con.close()
            out = os.path.join(tmp.name, "vectors.db")
            with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                              dashboard_address=None, silence_logs=50) as lc, Client(lc) as client:
                n = cluster.embed_table(client, src, "docs", "body", out, TINY_DIR,
                                        os.path.join(tmp.name, "parts"), parts=8)
                loads = client.run(lambda: __import__("sqlite_elmo.cluster").cluster.loads)
            self.assertEqual(n, 600 - 81 + 1)
            self.assertEqual(len(loads), 2)
            self.assertTrue(all(v <= 1 for v in loads.values()), loads)  # once per worker
            parts = os.listdir(os.path.join(tmp.name, "parts"))
            self.assertEqual(len(parts), sum(loads.values()))
            con = sqlite3.connect(out)
            got = dict(con.execute("SELECT id, vector FROM vectors"))
            con.close()
            assert_vectors_match(self, got, expected_vectors(src))
        finally:
            del os.environ["PYTHONPATH"]
            tmp.cleanup()

    def test_rowid_ranges(self):
        import sqlite_elmo.cluster as cluster
        tmp = temp_dir()
        try:
            src = os.path.join(tmp.name, "docs.db")
            make_db(src, sentences(10))
            self.assertEqual(cluster.rowid_ranges(src, "docs", 3), [(1, 5), (5, 9), (9, 11)])
            self.assertEqual(cluster.rowid_ranges(src, "docs", 100),
                             [(i, i + 1) for i in range(1, 11)])
        finally:
            tmp.cleanup()


if __name__ == "__main__":
    unittest.main()
