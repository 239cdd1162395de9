"""run_docs.py - runs every code example of README.md as written and compares it with the
output the README shows.

    B=build/release /usr/bin/python3 tests/docs/run_docs.py      (from the repo root)

Fenced blocks are taken by language:

- sql: through the sqlite3 CLI on an in-memory database. A block whose first line is
  `.load build/release/elmo` is self-contained and runs alone; any other block runs after
  the README's preamble (the sql block marked `<!-- docs: preamble -->`: it loads the
  extension and the tiny model and creates the `docs` table). A block that uses vec0 is
  skipped (and counted) when sqlite-vec's vec0.so is absent; tests/run_sql.sh fetches it.
- python: Debian's /usr/bin/python3 (it can load SQLite extensions), PYTHONPATH=python.
- sh: `sh -e`, with $B/bin (the `elmo` program) first on PATH.
- c: compiled against $B/libelmo.a and run.

Every block runs in one scratch directory that links to the repository's top-level entries
(so `build/release/elmo`, `models/...` resolve and files the examples create stay out of
the tree; `python/` is copied, since installing it builds inside it), in document order; `docs.db` there holds the preamble's tables. A block
followed by a ```text block (directly, or after a short paragraph ending with ":", such as
"Output:") must print exactly that text. Blocks without a language are messages and shown
output, not code.

A block that cannot run here is marked on the line before it: `<!-- not run: REASON -->`
(counted and listed), or `<!-- run by FILE -->` when another test runs it (FILE must
exist). Anything else that fails makes the run fail.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
B = os.environ.get("B", "build/release")
SQLITE3 = os.environ.get("SQLITE3", "sqlite3")
PYTHON = "/usr/bin/python3"
VEC0 = os.environ.get("VEC0_PATH", "build/vendor/sqlite-vec/vec0.so")
TIMEOUT = 120

FENCE = re.compile(r"^(\s*)```(\S*)\s*$")
MARK = re.compile(r"^\s*<!--\s*(not run|run by|docs)\s*:?\s*(.*?)\s*-->\s*$")


class Block:
    def __init__(self, lang, code, line, mark):
        self.lang, self.code, self.line, self.mark = lang, code, line, mark
        self.expected = None


def parse(path):
    """The fenced blocks of a Markdown file, with their markers and expected outputs."""
    lines = open(path, encoding="utf-8").read().split("\n")
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, lang, start = len(m.group(1)), m.group(2), i
        body = []
        i += 1
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        prev = start - 1
        while prev >= 0 and not lines[prev].strip():
            prev -= 1
        mk = MARK.match(lines[prev]) if prev >= 0 else None
        blk = Block(lang, "\n".join(body) + "\n", start + 1,
                    (mk.group(1), mk.group(2)) if mk else None)
        # Expected output: a text block right after (at most one short line between).
        if lang == "text" and blocks:
            gap = [l for l in lines[blocks[-1].end + 1:start] if l.strip()]
            if not gap or (len(gap) <= 4 and gap[-1].rstrip().endswith(":")):
                blocks[-1].expected = blk.code
        blk.end = i
        blocks.append(blk)
        i += 1
    return blocks


def run(cmd, cwd, stdin=None, env=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(cmd, cwd=cwd, input=stdin.encode() if stdin is not None else None,
                       capture_output=True, timeout=TIMEOUT, env=e)
    # Examples may print BLOBs: decode leniently.
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def normalize(text):
    return "\n".join(l.rstrip() for l in text.strip("\n").split("\n"))


def main():
    readme = os.path.join(ROOT, "README.md")
    blocks = parse(readme)
    work = tempfile.mkdtemp(prefix="elmo-docs.")
    for name in os.listdir(ROOT):
        if name == "python":  # a copy: `pip install ./python` builds inside it
            shutil.copytree(os.path.join(ROOT, name), os.path.join(work, name),
                            ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        elif name not in (".git", ".venv"):
            os.symlink(os.path.join(ROOT, name), os.path.join(work, name))
    env = {"PATH": os.path.join(ROOT, B, "bin") + os.pathsep + os.environ["PATH"],
           "PYTHONPATH": "python"}
    # The examples decide their model; `make demo` runs as a user would run it, not as a
    # sub-make of `make test` (whose jobserver descriptors it would not have).
    for k in ("ELMO_MODEL", "ELMO_OPTIONS", "ELMO_WEIGHTS", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        os.environ.pop(k, None)

    preambles = [b for b in blocks if b.mark == ("docs", "preamble")]
    failures, counts, not_run, skipped, compared = [], {}, [], [], 0
    if len(preambles) != 1 or preambles[0].lang != "sql":
        failures.append("README.md: expected one sql block marked <!-- docs: preamble -->")
        preamble = ""
    else:
        preamble = preambles[0].code
    if preamble:
        rc, out, err = run([SQLITE3, "docs.db"], work, stdin=preamble)
        if rc or err:
            failures.append("preamble (line %d) failed: %s" % (preambles[0].line, err))

    for b in blocks:
        where = "README.md:%d (%s)" % (b.line, b.lang or "text")
        if b.lang in ("", "text"):
            continue
        if b.mark and b.mark[0] == "not run":
            not_run.append("%s: %s" % (where, b.mark[1]))
            continue
        if b.mark and b.mark[0] == "run by":
            if not os.path.exists(os.path.join(ROOT, b.mark[1])):
                failures.append("%s: marked as run by %s, which does not exist"
                                % (where, b.mark[1]))
            else:
                not_run.append("%s: run by %s" % (where, b.mark[1]))
            continue
        if b.lang == "sql":
            if b is (preambles[0] if preambles else None):
                counts["sql"] = counts.get("sql", 0) + 1
                continue
            if "vec0" in b.code and not os.path.exists(os.path.join(ROOT, VEC0)):
                # tests/run_sql.sh fetches it (and fails without it when CI=true).
                skipped.append("%s: %s is absent" % (where, VEC0))
                continue
            code = b.code
            if not code.startswith(".load build/release/elmo"):
                code = preamble + code
            if B != "build/release":
                code = code.replace(".load build/release/elmo", ".load %s/elmo" % B)
            rc, out, err = run([SQLITE3, ":memory:"], work, stdin=code)
        elif b.lang == "python":
            rc, out, err = run([PYTHON, "-c", b.code], work, env=env)
        elif b.lang == "sh":
            rc, out, err = run(["sh", "-e", "-c", b.code], work, env=env)
        elif b.lang == "c":
            src = os.path.join(work, "example.c")
            with open(src, "w") as f:
                f.write(b.code)
            libs = subprocess.run(["pkg-config", "--libs", "hdf5", "libcjson"],
                                  capture_output=True, text=True).stdout.split()
            rc, out, err = run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror",
                                "-I" + os.path.join(ROOT, "include"), "example.c",
                                os.path.join(ROOT, B, "libelmo.a")] + libs +
                               ["-lpthread", "-lm", "-o", "example"], work)
            if rc == 0:
                rc, out, err = run(["./example"], work)
        else:
            failures.append("%s: no runner for language %r; mark it <!-- not run: ... -->"
                            % (where, b.lang))
            continue
        counts[b.lang] = counts.get(b.lang, 0) + 1
        if rc != 0 or (b.lang == "sql" and (err or "Error" in out)):
            failures.append("%s failed (exit %d):\n%s\n%s" % (where, rc, out[-2000:],
                                                              err[-2000:]))
            continue
        if b.expected is not None:
            compared += 1
            if normalize(out) != normalize(b.expected):
                failures.append("%s: output differs from the README.\n--- README\n%s\n"
                                "--- actual\n%s" % (where, normalize(b.expected),
                                                    normalize(out)))

    # Every example file in sql/ is listed in the README (tests/sql/test_examples.py runs
    # each of them).
    text = open(readme, encoding="utf-8").read()
    for name in sorted(os.listdir(os.path.join(ROOT, "sql"))):
        if name.endswith(".sql") and "`%s`" % name not in text:
            failures.append("sql/%s is not listed in README.md" % name)

    shutil.rmtree(work, ignore_errors=True)
    ran = sum(counts.values())
    print("run_docs: %d README blocks ran (%s), %d outputs compared, %d not run here, "
          "%d skipped" % (ran, ", ".join("%s %d" % kv for kv in sorted(counts.items())),
                          compared, len(not_run), len(skipped)))
    for s in not_run:
        print("  not run: " + s)
    for s in skipped:
        print("  skipped: " + s)
    for f in failures:
        print("FAIL: " + f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
