"""sqlite_elmo.cluster - embedding a table on a Dask cluster.

The table is split into rowid ranges; each range is one task. A worker process keeps one
SQLite connection (extension and model loaded once per process, not per task) on its own
output file, OUT_DIR/part-<worker>.db, and writes each of its ranges there with
elmo_batch. The client then merges the part files into one table with ATTACH + INSERT ...
SELECT.

    from distributed import Client
    from sqlite_elmo.cluster import embed_table
    client = Client("tcp://scheduler:8786")        # or LocalCluster(...)
    embed_table(client, "docs.db", "docs", "body", out_db="vectors.db",
                model_dir="/models/elmo", work_dir="/shared/elmo-parts")

Every worker must see `source_db` and `model_dir` at the same paths (a shared file system,
or copies made beforehand); `work_dir` is created on each worker. Part files that the
client cannot see on its own file system are fetched from their workers.
"""
import os
import socket
import sqlite3
import tempfile
import threading

import sqlite_elmo

_lock = threading.Lock()
_state = {}   # (model_dir, work_dir, options) -> _Worker, one per worker process
loads = 0     # connections opened (extension + model loaded) in this process


class _Worker:
    def __init__(self, model_dir, work_dir):
        global loads
        os.makedirs(work_dir, exist_ok=True)
        self.path = os.path.join(work_dir, "part-%s-%d.db" % (socket.gethostname(), os.getpid()))
        # rollback-journal mode (not WAL): each commit lands in the file itself, so the file
        # alone can be copied to the client
        self.con = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   uri=True)
        sqlite_elmo.load(self.con)
        self.con.execute("SELECT elmo_load('default', ?, ?)",
                         (os.path.join(model_dir, "options.json"),
                          os.path.join(model_dir, "weights.hdf5")))
        self.con.execute("CREATE TABLE IF NOT EXISTS vectors(id INTEGER PRIMARY KEY, vector BLOB)")
        self.attached = {}
        self.lock = threading.Lock()
        loads += 1

    def source(self, db):
        if db not in self.attached:
            name = "src%d" % len(self.attached)
            uri = "file:%s?mode=ro" % os.path.abspath(db)
            self.con.execute("ATTACH DATABASE ? AS %s" % name, (uri,))
            self.attached[db] = name
        return self.attached[db]


def _worker(model_dir, work_dir):
    key = (os.path.abspath(model_dir), os.path.abspath(work_dir))
    with _lock:
        if key not in _state:
            _state[key] = _Worker(*key)
        return _state[key]


def embed_range(source_db, table, column, lo, hi, model_dir, work_dir, options=None):
    """A task: embeds the rows lo <= rowid < hi into this worker's part file.
    Returns (worker address or None, part file path, rows written)."""
    w = _worker(model_dir, work_dir)
    with w.lock:
        src = w.source(source_db)
        inner = 'SELECT rowid, "%s" FROM %s."%s" WHERE rowid >= %d AND rowid < %d' % (
            column.replace('"', '""'), src, table.replace('"', '""'), lo, hi)
        w.con.execute("BEGIN IMMEDIATE")
        try:
            cur = w.con.execute("INSERT OR REPLACE INTO vectors(id, vector) "
                                "SELECT id, vector FROM elmo_batch(?, ?)", (inner, options))
            n = cur.rowcount
            w.con.execute("COMMIT")
        except BaseException:
            w.con.execute("ROLLBACK")
            raise
    try:
        from distributed import get_worker
        address = get_worker().address
    except (ImportError, ValueError):
        address = None
    return address, w.path, n


def rowid_ranges(source_db, table, parts):
    """`parts` half-open rowid ranges [lo, hi) covering the table."""
    con = sqlite3.connect("file:%s?mode=ro" % os.path.abspath(source_db), uri=True)
    lo, hi = con.execute('SELECT min(rowid), max(rowid) FROM "%s"' % table.replace('"', '""')).fetchone()
    con.close()
    if lo is None:
        return []
    step = max(1, -(-(hi - lo + 1) // parts))
    return [(a, min(a + step, hi + 1)) for a in range(lo, hi + 1, step)]


def _read_file(path):
    with open(path, "rb") as f:
        return f.read()


def merge(out_db, part_paths, into="vectors"):
    """Copies every part file's vectors into out_db's table `into` (created if missing)."""
    con = sqlite3.connect(out_db, isolation_level=None, uri=True)
    con.execute('CREATE TABLE IF NOT EXISTS "%s"(id INTEGER PRIMARY KEY, vector BLOB)'
                % into.replace('"', '""'))
    total = 0
    for p in part_paths:
        con.execute("ATTACH DATABASE ? AS part", ("file:%s?mode=ro" % os.path.abspath(p),))
        con.execute("BEGIN")
        cur = con.execute('INSERT OR REPLACE INTO "%s"(id, vector) SELECT id, vector FROM '
                          'part.vectors' % into.replace('"', '""'))
        total += cur.rowcount
        con.execute("COMMIT")
        con.execute("DETACH DATABASE part")
    con.close()
    return total


def embed_table(client, source_db, table, column, out_db, model_dir, work_dir, parts=None,
                options=None, into="vectors"):
    """Embeds table.column of source_db on the cluster of `client` into out_db's table
    `into` (id = the source rowid). Returns the number of rows merged."""
    if parts is None:
        parts = 4 * max(1, len(client.scheduler_info()["workers"]))
    ranges = rowid_ranges(source_db, table, parts)
    futures = [client.submit(embed_range, source_db, table, column, lo, hi, model_dir, work_dir,
                             options, pure=False) for lo, hi in ranges]
    results = client.gather(futures)
    local = []
    with tempfile.TemporaryDirectory(prefix="sqlite_elmo_parts.") as tmp:
        for address, path in sorted({(a, p) for a, p, _ in results}, key=lambda x: x[1]):
            if os.path.exists(path) or address is None:
                local.append(path)
                continue
            # not on this machine's file system: fetch it from its worker
            data = client.run(_read_file, path, workers=[address])[address]
            copy = os.path.join(tmp, "part%d.db" % len(local))
            with open(copy, "wb") as f:
                f.write(data)
            local.append(copy)
        return merge(out_db, local, into)
