"""Throughput of `elmo embed` on the benchmark corpus, as one JSON line like elmo-bench's:

    /usr/bin/python3 bench/cli_embed.py build/release BUILD_MODEL_DIR N [fp32|bf16]

Writes the same N sentences the other measurements use (`elmo-bench corpus-db`) into a
temporary database, runs `elmo embed` on it with the default chunk size, and reports the
program's own embedding time (its summary line: from the first chunk to the last commit)
and the whole command's (start, model load, embedding, commits).
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time


def main(build, model, n, precision):
    with tempfile.TemporaryDirectory(prefix="elmo_cli_bench.") as tmp:
        db = os.path.join(tmp, "docs.db")
        made = subprocess.run([os.path.join(build, "elmo-bench"), "corpus-db", db, str(n)],
                              check=True, capture_output=True, text=True)
        tokens = json.loads(made.stdout)["tokens"]
        cmd = [os.path.join(build, "bin", "elmo"), "embed", db, "--table", "docs", "--column",
               "body", "--model", model, "--precision", precision, "--progress-interval", "60"]
        t0 = time.monotonic()
        p = subprocess.run(cmd, check=True, capture_output=True, text=True)
        whole = time.monotonic() - t0
    m = re.search(r"([\d,]+) rows embedded.*?, ([0-9.]+) s \(", p.stderr)
    if not m or int(m.group(1).replace(",", "")) != n:
        sys.exit("cli_embed: unexpected summary from elmo embed:\n" + p.stderr)
    secs = float(m.group(2))
    print(json.dumps({"bench": "cli-embed", "model": model, "precision": precision,
                      "threads": int(os.environ.get("ELMO_THREADS", "0")), "rows": n,
                      "tokens": tokens, "seconds": secs, "whole_seconds": round(whole, 3),
                      "rows_per_s": round(n / secs, 1), "tokens_per_s": round(tokens / secs, 1)},
                     separators=(",", ":")))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else "fp32")
