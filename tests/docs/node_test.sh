#!/bin/sh
# node_test.sh - runs the README's Node.js example (better-sqlite3 12) as the README says:
# the script in a directory with node_modules/, build/ and models/ (the repository root, in
# the README), run from another directory and without NODE_PATH, and compares its output
# with the README's. better-sqlite3 is not fetched here (npm builds it, about a minute, from
# the npm registry): `make node-deps` installs it into build/vendor/node once; without it, or
# without node, the test skips.
#
#   B=build/release sh tests/docs/node_test.sh      (from the repo root)
set -u
B=${B:-build/release}
MODULES=build/vendor/node/node_modules
if ! command -v node >/dev/null 2>&1 || [ ! -d "$MODULES/better-sqlite3" ]; then
    echo "node_test: skipped (needs node and $MODULES/better-sqlite3: run make node-deps)"
    exit 0
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/node.XXXXXX")
trap 'rm -rf "$T"' EXIT
/usr/bin/python3 - "$T" <<'PY' || exit 1
import sys
sys.path.insert(0, "tests/docs")
from run_docs import parse
js = [b for b in parse("README.md") if b.lang == "js"]
assert len(js) == 1 and js[0].expected, "README: one js block with its output expected"
open(sys.argv[1] + "/example.js", "w").write(js[0].code)
open(sys.argv[1] + "/expected.txt", "w").write(js[0].expected)
PY
if [ "$B" != build/release ]; then
    sed "s#build/release/elmo.so#$B/elmo.so#" "$T/example.js" >"$T/x.js" && mv "$T/x.js" "$T/example.js"
fi
# The repository root as the script sees it: node_modules/, build/, models/ next to it.
ln -s "$PWD/$MODULES" "$T/node_modules"
ln -s "$PWD/build" "$T/build"
ln -s "$PWD/models" "$T/models"
out=$(cd / && env -u NODE_PATH node "$T/example.js" 2>&1)
if [ "$out" = "$(cat "$T/expected.txt")" ]; then
    echo "node_test: the README's Node.js example printed what the README shows"
else
    echo "FAIL: node_test: the README's Node.js example printed: $out" >&2
    exit 1
fi
