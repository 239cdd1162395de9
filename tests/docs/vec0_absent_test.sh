#!/bin/sh
# vec0_absent_test.sh - sql/vec0_search.sql on a machine without sqlite-vec: run as its
# header says, from a directory where build/vendor/sqlite-vec/vec0.so does not exist, it
# prints what it is loading and stops at the failed .load with one error line (no cascade
# of "no such module: vec0" errors) and a non-zero exit.
#
#   B=build/release sh tests/docs/vec0_absent_test.sh      (from the repo root)
set -u
. tests/checks.sh
B=${B:-build/release}
SQLITE3=${SQLITE3:-sqlite3}
ROOT=$(pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/vec0-absent.XXXXXX")
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/build"
ln -s "$ROOT/$B" "$T/build/release"
ln -s "$ROOT/models" "$T/models"
(cd "$T" && "$SQLITE3" :memory: -cmd ".load build/release/elmo" <"$ROOT/sql/vec0_search.sql" \
    >"$T/out" 2>"$T/err")
rc=$?
[ $rc -ne 0 ] && ok || bad "vec0_search.sql without vec0.so: exit 0"
[ "$(cat "$T/out")" = "-- loading sqlite-vec from build/vendor/sqlite-vec/vec0.so (see the head of sql/vec0_search.sql to get it)" ] \
    && ok || bad "vec0_search.sql without vec0.so: stdout: $(cat "$T/out")"
[ "$(wc -l <"$T/err")" -le 1 ] && grep -q "vec0.so: cannot open shared object file" "$T/err" \
    && ok || bad "vec0_search.sql without vec0.so: stderr: $(cat "$T/err")"
echo "vec0_absent_test: $checks checks, $failures failed"
[ "$failures" -eq 0 ]
