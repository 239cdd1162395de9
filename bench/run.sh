#!/bin/sh
# bench/run.sh - the benchmark: `make bench` (or sh bench/run.sh from the repo root).
#
# Generates the synthetic Small and Original models under build/models if missing, then
# measures, each in a fresh process, with 1 and 2 threads where it matters:
#   - this machine's limits: 512-bit FMA, vdpbf16ps and AMX tdpbf16ps GFLOP/s (registers
#     only), DRAM read GB/s, and OpenBLAS sgemm on all cores for reference;
#   - elmo_gemm (the engine's products) on the LSTM shapes, against oneDNN's matmul and
#     OpenBLAS on the same shapes in the same run (bf16 also on avx512-bf16 where the CPU
#     has AMX, to compare the two bf16 kernels);
#   - per model and precision (fp32, bf16): load time and RSS, batch embedding through the
#     C API (elmo_embed_batch) and SQL (elmo_batch), elmo_embed latency on a 20-token
#     sentence, `elmo embed` on a database of the same sentences, and (fp32) the Dask
#     recipe with two single-threaded worker processes;
#   - the language model on the Original shape with a generated head of 793,471 words:
#     load of the head (HDF5, and one safetensors file), elmo_gemm over the head, a 20-token
#     elmo_perplexity, elmo_batch's perplexities, elmo_predict with and without vocab_limit.
# Prints tables (every figure also as a fraction of the limits measured in the same run)
# and writes the JSON lines to build/bench/results.jsonl.
#
# Environment: B (build dir, default build/release), SENTENCES_SMALL (default 2000),
# SENTENCES_ORIGINAL (default 600), MODELS (default "small original"), PRECISIONS
# (default "fp32 bf16"; bf16 is skipped on CPUs without a bf16 kernel), BENCH_TEXT (the
# sentences: real English text, a file or directory; default the fortune database where
# Debian's fortunes packages are installed, else /usr/share/common-licenses; "synthetic"
# for the generated corpus), LM (default 1; 0 skips the language model), SENTENCES_LM
# (default 100).
set -eu
B=${B:-build/release}
OUT=build/bench
SENTENCES_SMALL=${SENTENCES_SMALL:-2000}
SENTENCES_ORIGINAL=${SENTENCES_ORIGINAL:-600}
MODELS=${MODELS:-"small original"}
PRECISIONS=${PRECISIONS:-"fp32 bf16"}
LM=${LM:-1}
SENTENCES_LM=${SENTENCES_LM:-100}
PYTHON=${PYTHON:-/usr/bin/python3}

if [ -z "${BENCH_TEXT:-}" ]; then
    if [ -d /usr/share/games/fortunes ]; then BENCH_TEXT=/usr/share/games/fortunes
    else BENCH_TEXT=/usr/share/common-licenses; fi
fi
export BENCH_TEXT
# oneDNN (OpenMP): one thread per call, as each of the engine's threads runs one product
export OMP_NUM_THREADS=1

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
has_bf16=1
has_amx=1
for t in 1 2; do
    run peak-fma $t
    run peak-bf16 $t
    run peak-amx $t
    run dram $t
done
grep -q '"bench":"peak-bf16".*"gflops":0[,.}]' "$results" && has_bf16=0
grep -q '"bench":"peak-amx".*"gflops":0[,.}]' "$results" && has_amx=0
gemm_kinds=$PRECISIONS
[ $has_amx = 1 ] && case " $PRECISIONS " in *" bf16 "*) gemm_kinds="$PRECISIONS bf16-avx512" ;; esac
for t in 1 2; do
    for p in $gemm_kinds; do
        [ "$p" != fp32 ] && [ $has_bf16 = 0 ] && continue
        for m in 1 16 64 128 256; do run gemm $p $t $m 512 16384; done
        run gemm $p $t 64 4096 512
        run gemm $p $t 256 2048 2048
    done
done
for shape in $MODELS; do
    dir=build/models/$shape
    if [ "$shape" = original ]; then n=$SENTENCES_ORIGINAL; else n=$SENTENCES_SMALL; fi
    # the same model as one safetensors file: loading it is the project's own parser
    [ -f "$dir.safetensors" ] || "$B/bin/elmo" convert "$dir" -o "$dir.safetensors" >/dev/null
    run load "$dir.safetensors"
    for p in $PRECISIONS; do
        [ "$p" = bf16 ] && [ $has_bf16 = 0 ] && continue
        run --precision $p load "$dir"
        for t in 1 2; do
            run --precision $p --threads $t core-batch "$dir" "$n"
            run --precision $p --threads $t sql-latency "$B/elmo.so" "$dir"
        done
        run --precision $p --threads 2 sql-batch "$B/elmo.so" "$dir" "$n"
        echo "  cli_embed.py $dir $n $p" >&2
        ELMO_THREADS=2 "$PYTHON" bench/cli_embed.py "$B" "$dir" "$n" "$p" | tee -a "$results" >/dev/null
    done
    echo "  dask_embed.py $dir $n" >&2
    "$PYTHON" bench/dask_embed.py "$B" "$dir" "$n" 2 | tee -a "$results" >/dev/null
done

# The language model: the Original shape with a generated head of the published size
# (V = 793,471: softmax_weights.hdf5 1.6 GB, vocab.txt), beside the model's files, and the
# same model and head as one safetensors file.
if [ "$LM" = 1 ]; then
    dir=build/models/original
    if [ ! -f "$dir/weights.hdf5" ]; then
        echo "generating the original model in $dir" >&2
        "$B/elmo-genmodel" --shape original --seed 1 --out "$dir" >/dev/null
    fi
    if [ ! -f "$dir/softmax_weights.hdf5" ]; then
        echo "generating a head of 793,471 words in $dir" >&2
        "$B/elmo-genmodel" --shape original --seed 1 --vocab-size 793471 --softmax-only \
            --out "$dir" >/dev/null
    fi
    [ -f "$dir.lm.safetensors" ] || "$B/bin/elmo" convert "$dir" -o "$dir.lm.safetensors" \
        --softmax "$dir/softmax_weights.hdf5" --vocab "$dir/vocab.txt" >/dev/null
    run lm-load "$dir"
    for p in $PRECISIONS; do
        [ "$p" = bf16 ] && [ $has_bf16 = 0 ] && continue
        for m in 42 128; do run --precision $p --threads 2 lm-gemm "$dir" $m; done
        run --precision $p --threads 2 lm-ppl "$B/elmo.so" "$dir"
        run --precision $p --threads 2 lm-bulk "$B/elmo.so" "$dir" "$SENTENCES_LM"
        run --precision $p --threads 2 lm-predict "$B/elmo.so" "$dir"
    done
fi

"$PYTHON" bench/report.py "$results"
