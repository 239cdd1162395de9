"""Embeds a table's text column on a Dask cluster and merges the vectors into one SQLite file.

    /usr/bin/python3 python/examples/dask_embed.py docs.db docs body vectors.db \
        --model models/elmo-tiny --workers 2                 # a LocalCluster of 2 processes
    /usr/bin/python3 python/examples/dask_embed.py docs.db docs body vectors.db \
        --model /shared/elmo --scheduler tcp://scheduler:8786 --work-dir /shared/parts

The result is a table `vectors(id INTEGER PRIMARY KEY, vector BLOB)` in OUT_DB whose id is
the source rowid. Each worker loads the extension and the model once and writes its ranges
into its own part file under --work-dir; see sqlite_elmo/cluster.py.
"""
import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from distributed import Client, LocalCluster  # noqa: E402

from sqlite_elmo.cluster import embed_table  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("source_db")
    ap.add_argument("table")
    ap.add_argument("column")
    ap.add_argument("out_db")
    ap.add_argument("--model", required=True, help="directory with options.json, weights.hdf5")
    ap.add_argument("--scheduler", help="address of a running Dask scheduler")
    ap.add_argument("--workers", type=int, default=2, help="local worker processes")
    ap.add_argument("--work-dir", help="where workers write their part files")
    ap.add_argument("--parts", type=int, help="rowid ranges (default 4 per worker)")
    ap.add_argument("--options", help="elmo_embed options, e.g. top")
    args = ap.parse_args()
    work_dir = args.work_dir or tempfile.mkdtemp(prefix="elmo_parts.")
    if args.scheduler:
        client = Client(args.scheduler)
    else:
        # each worker process runs the model with ELMO_THREADS threads
        cluster = LocalCluster(n_workers=args.workers, processes=True, threads_per_worker=1,
                               dashboard_address=None)
        client = Client(cluster)
    start = time.monotonic()
    n = embed_table(client, os.path.abspath(args.source_db), args.table, args.column,
                    args.out_db, os.path.abspath(args.model), work_dir, parts=args.parts,
                    options=args.options)
    print("%d rows embedded into %s in %.1f s" % (n, args.out_db, time.monotonic() - start))
    client.close()


if __name__ == "__main__":
    main()
