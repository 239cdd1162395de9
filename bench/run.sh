#!/bin/sh
# bench/run.sh - the benchmark: `make bench` (or sh bench/run.sh from the repo root).
#
# Generates the synthetic Small and Original models under build/models if missing, then
# measures, each in a fresh process: OpenBLAS sgemm GFLOP/s on all cores (the compute
# ceiling), the peaks of one core and of two (512-bit FMA and vdpbf16ps GFLOP/s, DRAM read
# GB/s) with elmo_gemm on the LSTM shapes against them, load time, batch embedding through
# the core API (elmo_embed_batch) and through SQL (INSERT ... SELECT FROM elmo_batch), elmo_embed latency on a 20-token sentence, and
# peak RSS. Prints a table and writes the JSON lines to build/bench/results.jsonl.
#
# Environment: B (build dir, default build/release), SENTENCES_SMALL (default 2000),
# SENTENCES_ORIGINAL (default 600), MODELS (default "small original").
set -eu
B=${B:-build/release}
OUT=build/bench
SENTENCES_SMALL=${SENTENCES_SMALL:-2000}
SENTENCES_ORIGINAL=${SENTENCES_ORIGINAL:-600}
MODELS=${MODELS:-"small original"}
PYTHON=${PYTHON:-/usr/bin/python3}

mkdir -p "$OUT"
results="$OUT/results.jsonl"
: > "$results"

for shape in $MODELS; do
    dir=build/models/$shape
    if [ ! -f "$dir/weights.hdf5" ]; then
        echo "generating the $shape model in $dir" >&2
        "$B/elmo-genmodel" --shape "$shape" --seed 1 --out "$dir" >/dev/null
    fi
done

run() {
    echo "  elmo-bench $*" >&2
    "$B/elmo-bench" "$@" | tee -a "$results" >/dev/null
}

run sgemm
# This machine's limits and the engine's own products against them, 1 and 2 threads.
for t in 1 2; do
    run peak-fma $t
    run peak-bf16 $t
    run dram $t
    for p in fp32 bf16; do
        for m in 1 64 256; do run gemm $p $t $m 512 16384; done
        run gemm $p $t 64 4096 512
    done
done
for shape in $MODELS; do
    dir=build/models/$shape
    if [ "$shape" = original ]; then n=$SENTENCES_ORIGINAL; else n=$SENTENCES_SMALL; fi
    run load "$dir"
    run core-batch "$dir" "$n"
    run sql-batch "$B/elmo.so" "$dir" "$n"
    run sql-latency "$B/elmo.so" "$dir"
done

"$PYTHON" bench/report.py "$results"
