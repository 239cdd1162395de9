#!/bin/sh
# run_sql.sh - runs the SQL test suite (tests/sql/test_*.py and tests/sql/test_*.sh) against
# the built extension $B/elmo.so; exits non-zero if any test fails. `make test-sql` calls it.
#
#   B=build/release sh tests/run_sql.sh             (from the repo root)
#   B=build/asan SAN=1 sh tests/run_sql.sh          (the ASan/UBSan build)
#
# Environment: B (build dir), SAN (1: preload the sanitizer runtime into python / sqlite3;
# leak detection is on for the sqlite3 CLI and off for python, which leaks by itself),
# PYTHON (an interpreter whose sqlite3 can load extensions: Debian's /usr/bin/python3),
# SQLITE3 (the CLI), VEC0_PATH (sqlite-vec's vec0.so; default build/vendor/sqlite-vec/vec0.so,
# fetched here with `npm pack sqlite-vec-linux-x64@0.1.9` when npm is available),
# CI (true: a missing vec0.so fails the interop tests instead of skipping them).
set -u

B=${B:-build/release}
SAN=${SAN:-0}
PYTHON=${PYTHON:-/usr/bin/python3}
SQLITE3=${SQLITE3:-sqlite3}
VEC0_DEFAULT=build/vendor/sqlite-vec/vec0.so
VEC0_PATH=${VEC0_PATH:-$VEC0_DEFAULT}
export B SAN PYTHON SQLITE3 VEC0_PATH
# The tests decide which model is the default; nothing from the caller's environment.
unset ELMO_MODEL ELMO_OPTIONS ELMO_WEIGHTS

if [ ! -f "$B/elmo.so" ]; then
    echo "run_sql: $B/elmo.so is not built (run make)" >&2
    exit 1
fi

# sqlite-vec for the interop tests: the npm package ships a prebuilt vec0.so.
if [ ! -f "$VEC0_PATH" ] && [ "$VEC0_PATH" = "$VEC0_DEFAULT" ] && command -v npm >/dev/null 2>&1
then
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/vec0.XXXXXX")
    if (cd "$tmp" && timeout 120 npm pack --silent sqlite-vec-linux-x64@0.1.9 >/dev/null 2>&1 &&
        tar -xzf sqlite-vec-linux-x64-0.1.9.tgz package/vec0.so); then
        mkdir -p "$(dirname "$VEC0_DEFAULT")" && cp "$tmp/package/vec0.so" "$VEC0_DEFAULT"
    else
        echo "run_sql: could not fetch sqlite-vec with npm; the vec0 tests will skip" >&2
    fi
    rm -rf "$tmp"
fi

if [ "$SAN" = 1 ]; then
    ASAN_LIB=$(gcc -print-file-name=libasan.so)
    py() { LD_PRELOAD=$ASAN_LIB ASAN_OPTIONS=detect_leaks=0 "$PYTHON" "$@"; }
else
    py() { "$PYTHON" "$@"; }
fi

status=0
tests=0
skipped=0
files=0
log=$(mktemp "${TMPDIR:-/tmp}/run_sql.XXXXXX")
trap 'rm -f "$log"' EXIT
for t in tests/sql/test_*.py; do
    files=$((files + 1))
    if py "$t" >"$log" 2>&1; then
        result=ok
    else
        result=FAILED
        status=1
        cat "$log" >&2
    fi
    ran=$(sed -n 's/^Ran \([0-9]*\) tests\{0,1\} .*/\1/p' "$log")
    skip=$(sed -n 's/.*skipped=\([0-9]*\).*/\1/p' "$log")
    tests=$((tests + ${ran:-0}))
    skipped=$((skipped + ${skip:-0}))
    echo "  $t: ${ran:-0} tests${skip:+, $skip skipped}: $result"
done
for t in tests/sql/test_*.sh; do
    files=$((files + 1))
    if sh "$t" >"$log" 2>&1; then
        result=ok
    else
        result=FAILED
        status=1
        cat "$log" >&2
    fi
    echo "  $t: $(tail -n 1 "$log" | sed 's/^[^:]*: //'): $result"
done
if [ $status -eq 0 ]; then
    echo "SQL tests ($B): $files files, $tests python tests ($skipped skipped) and the" \
        "shell checks passed"
else
    echo "SQL tests ($B): FAILED" >&2
fi
exit $status
