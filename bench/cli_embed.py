"""Throughput of `elmo embed` on a generated table, as one JSON line like elmo-bench's:

    /usr/bin/python3 bench/cli_embed.py build/release/bin/elmo build/models/small 2000

Writes N synthetic sentences (5 to 50 words from a Zipf-weighted vocabulary, ending in a
period; about 27 tokens on average) into a temporary database and times the whole command
(start, model load, embedding, commits), with the default chunk size.
"""
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time


def corpus(n, seed=7):
    r = random.Random(seed)
    vocab = ["".join(r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(r.randint(2, 9)))
             for _ in range(5000)]
    weights = [1.0 / (k + 1) for k in range(len(vocab))]
    return [" ".join(r.choices(vocab, weights, k=r.randint(5, 50))) + " ." for _ in range(n)]


def main(elmo, model, n):
    texts = corpus(n)
    tokens = sum(len(t.split()) for t in texts)
    with tempfile.TemporaryDirectory(prefix="elmo_cli_bench.") as tmp:
        db = os.path.join(tmp, "docs.db")
        con = sqlite3.connect(db)
        con.execute("CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT)")
        con.executemany("INSERT INTO docs(body) VALUES (?)", [(t,) for t in texts])
        con.commit()
        con.close()
        t0 = time.monotonic()
        subprocess.run([elmo, "embed", db, "--table", "docs", "--column", "body", "--model",
                        model, "--quiet"], check=True)
        dt = time.monotonic() - t0
    print(json.dumps({"bench": "cli-embed", "model": model, "rows": n, "tokens": tokens,
                      "seconds": round(dt, 3), "rows_per_s": round(n / dt, 1),
                      "tokens_per_s": round(tokens / dt, 1)}, separators=(",", ":")))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
