"""Throughput of the Dask recipe (python/sqlite_elmo/cluster.py) on the benchmark corpus, as
one JSON line like elmo-bench's:

    /usr/bin/python3 bench/dask_embed.py build/release MODEL_DIR N [WORKERS]

A LocalCluster of WORKERS processes (default 2) with one thread each (ELMO_THREADS=1, so
two workers use two cores) embeds the same N sentences the other measurements use; the
time covers the partitions' embedding, their part files and the merge, not the cluster's
start.
"""
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))


def main(build, model, n, workers):
    os.environ["ELMO_THREADS"] = "1"
    os.environ.setdefault("SQLITE_ELMO_PATH", os.path.join(os.path.abspath(build), "elmo.so"))
    import subprocess
    from distributed import Client, LocalCluster
    from sqlite_elmo.cluster import embed_table
    with tempfile.TemporaryDirectory(prefix="elmo_dask_bench.") as tmp:
        db = os.path.join(tmp, "docs.db")
        made = subprocess.run([os.path.join(build, "elmo-bench"), "corpus-db", db, str(n)],
                              check=True, capture_output=True, text=True)
        tokens = json.loads(made.stdout)["tokens"]
        with LocalCluster(n_workers=workers, processes=True, threads_per_worker=1,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            t0 = time.monotonic()
            rows = embed_table(client, db, "docs", "body", os.path.join(tmp, "out.db"),
                               os.path.abspath(model), os.path.join(tmp, "parts"))
            secs = time.monotonic() - t0
    print(json.dumps({"bench": "dask-embed", "model": model, "precision": "fp32",
                      "threads": workers, "workers": workers, "rows": rows, "tokens": tokens,
                      "seconds": round(secs, 3), "rows_per_s": round(rows / secs, 1),
                      "tokens_per_s": round(tokens / secs, 1)}, separators=(",", ":")))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 2)
