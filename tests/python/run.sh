#!/bin/sh
# run.sh - runs the Python package's tests (tests/python/test_*.py) against $B/elmo.so with
# Debian's /usr/bin/python3; `make test-python` calls it. Under SAN=1 the sanitizer runtime
# is preloaded into python (leak detection off: python leaks by itself).
set -u
B=${B:-build/release}
SAN=${SAN:-0}
PYTHON=${PYTHON:-/usr/bin/python3}
export B SAN PYTHON
unset ELMO_MODEL ELMO_OPTIONS ELMO_WEIGHTS SQLITE_ELMO_PATH
if [ "$SAN" = 1 ]; then
    LD_PRELOAD=$(gcc -print-file-name=libasan.so)
    ASAN_OPTIONS=detect_leaks=0
    export LD_PRELOAD ASAN_OPTIONS
fi
status=0
log=$(mktemp "${TMPDIR:-/tmp}/run_python.XXXXXX")
trap 'rm -f "$log"' EXIT
for t in tests/python/test_*.py; do
    if "$PYTHON" "$t" >"$log" 2>&1; then result=ok; else result=FAILED; status=1; cat "$log" >&2; fi
    ran=$(sed -n 's/^Ran \([0-9]*\) tests\{0,1\} .*/\1/p' "$log")
    skip=$(sed -n 's/.*skipped=\([0-9]*\).*/\1/p' "$log")
    echo "  $t: ${ran:-0} tests${skip:+, $skip skipped}: $result"
done
[ $status -eq 0 ] && echo "Python package tests ($B) passed" || echo "Python package tests ($B): FAILED" >&2
exit $status
