#!/bin/sh
# run.sh - runs the libFuzzer targets built by `make fuzz-build` (build/fuzz/fuzz/fuzz_*), each
# for FUZZ_SECONDS over its committed seed corpus tests/fuzz/corpus/TARGET (read only; new
# inputs go to build/fuzz/corpus/TARGET), with tests/fuzz/TARGET.dict when there is one.
# A crash, leak, sanitizer report or timeout fails the run; the input is saved as
# build/fuzz/crashes/TARGET-*. Run from the repository root:
#   FUZZ_SECONDS=60 sh tests/fuzz/run.sh call_options tokenize
set -u
LSAN_OPTIONS="suppressions=tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# a huge malloc returns NULL, as it does outside ASan (libhdf5 asks for one on some files)
ASAN_OPTIONS="allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LSAN_OPTIONS ASAN_OPTIONS
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
status=0
for t in "$@"; do
    bin=build/fuzz/fuzz/fuzz_$t
    work=build/fuzz/corpus/$t
    mkdir -p "$work" build/fuzz/crashes
    dict=
    [ -f "tests/fuzz/$t.dict" ] && dict=-dict=tests/fuzz/$t.dict
    log=build/fuzz/$t.log
    # -timeout: one input over 10 s is a finding (e.g. super-linear parsing)
    if "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
        -artifact_prefix="build/fuzz/crashes/$t-" $dict "$work" "tests/fuzz/corpus/$t" \
        >"$log" 2>&1; then
        echo "fuzz $t: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" |
            sed 's/.*: *//') runs in ${FUZZ_SECONDS} s, clean"
    else
        status=1
        echo "fuzz $t: FAILED (log: $log)" >&2
        grep -E 'ERROR|SUMMARY|assertion|invariant|runtime error' "$log" | head -5 >&2
    fi
done
exit $status
