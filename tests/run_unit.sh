#!/bin/sh
# Runs every C unit-test binary given as an argument, then the shell tests of the tools and
# the include-layer check of core/; fails if any fails. Run from the repo root with B set to
# the build directory.
set -u
: "${B:=build/release}"
export B
status=0
for t in "$@"; do
    if ! "$t"; then
        echo "FAILED: $t" >&2
        status=1
    fi
done
if ! sh tests/genmodel_test.sh; then
    echo "FAILED: tests/genmodel_test.sh" >&2
    status=1
fi
if ! "${PYTHON:-/usr/bin/python3}" tests/core_layers_test.py; then
    echo "FAILED: tests/core_layers_test.py" >&2
    status=1
fi
exit $status
