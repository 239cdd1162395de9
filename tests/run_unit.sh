#!/bin/sh
# Runs every C unit-test binary given as an argument; fails if any fails.
# Tests find the repo's files relative to the repo root (the current directory).
set -u
status=0
for t in "$@"; do
    if ! "$t"; then
        echo "FAILED: $t" >&2
        status=1
    fi
done
exit $status
