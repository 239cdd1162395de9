#!/bin/sh
# Tests tools/elmo-genmodel: layout, shapes and types of the HDF5 datasets (docs/model.md §4),
# the options JSON (§2), parameter counts (§11.2), seeded determinism, value
# scales and every corruption flag.
#
#   sh tests/genmodel_test.sh            (from the repo root; B defaults to build/release)
#   B=build/asan sh tests/genmodel_test.sh
#
# Needs h5ls/h5dump (Debian package hdf5-tools) and Python 3 for JSON checks.
set -u

B=${B:-build/release}
PY=${PYTHON:-/usr/bin/python3}
G=$B/elmo-genmodel
FIXTURE=models/elmo-tiny

. tests/checks.sh
# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
    if [ "$1" = "$2" ]; then ok; else bad "$3: got '$1', expected '$2'"; fi
}
expect_true() { # expect_true WHAT COMMAND...
    what=$1
    shift
    if "$@"; then ok; else bad "$what"; fi
}

for tool in h5ls h5dump od awk cmp; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "genmodel_test: '$tool' not found (h5ls/h5dump: apt-get install hdf5-tools)" >&2
        exit 1
    fi
done
if [ ! -x "$G" ]; then
    echo "genmodel_test: $G not built (run make)" >&2
    exit 1
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/genmodel_test.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM

# gen DIR ARGS...: runs the generator, keeps stdout in DIR.out; fails the check on error.
gen() {
    dir=$1
    shift
    mkdir -p "$T/log"
    if "$G" --out "$T/$dir" "$@" >"$T/log/$dir.out" 2>"$T/log/$dir.err"; then
        ok
    else
        bad "elmo-genmodel --out $dir $*: exit $? ($(cat "$T/log/$dir.err"))"
    fi
}
# printed VALUE-NAME DIR: a "name: value" line of the generator's output
printed() { sed -n "s/^$1: //p" "$T/log/$2.out"; }

# Datasets of an HDF5 file as sorted "name d0, d1, ..." lines.
layout() { h5ls -r "$1" | sed -n 's|^/\([^ ]*\) *Dataset {\(.*\)}$|\1 \2|p' | sort; }

# Parameter count of a layout: the sum over datasets of the product of the dims.
count_params() { awk '{ gsub(/,/, ""); n = 1; for (i = 2; i <= NF; i++) n *= $i; s += n }
                      END { printf "%d\n", s }'; }

# The layout of docs/model.md §4. Arguments: d_c, filters (w:n,...), n_highway, P, H, L,
# force_cnn_proj (0/1), force_lstm_proj (0/1).
expected_layout() {
    dc=$1 filters=$2 hw=$3 P=$4 H=$5 L=$6 fcp=$7 flp=$8
    {
        echo "char_embed 261, $dc"
        i=0
        F=0
        for wn in $(echo "$filters" | tr ',' ' '); do
            w=${wn%:*} n=${wn#*:}
            echo "CNN/W_cnn_$i 1, $w, $dc, $n"
            echo "CNN/b_cnn_$i $n"
            i=$((i + 1))
            F=$((F + n))
        done
        k=0
        while [ $k -lt "$hw" ]; do
            echo "CNN_high_$k/W_carry $F, $F"
            echo "CNN_high_$k/W_transform $F, $F"
            echo "CNN_high_$k/b_carry $F"
            echo "CNN_high_$k/b_transform $F"
            k=$((k + 1))
        done
        if [ "$F" -ne "$P" ] || [ "$fcp" = 1 ]; then
            echo "CNN_proj/W_proj $F, $P"
            echo "CNN_proj/b_proj $P"
        fi
        for d in 0 1; do
            l=0
            while [ $l -lt "$L" ]; do
                c=RNN_$d/RNN/MultiRNNCell/Cell$l/LSTMCell
                echo "$c/W_0 $((2 * P)), $((4 * H))"
                echo "$c/B $((4 * H))"
                if [ "$P" -lt "$H" ] || [ "$flp" = 1 ]; then echo "$c/W_P_0 $H, $P"; fi
                l=$((l + 1))
            done
        done
    } | sort
}

# check_layout FILE EXPECTED_LAYOUT WHAT
check_layout() {
    actual=$(layout "$1")
    if [ "$actual" = "$2" ]; then
        ok
    else
        bad "$3: dataset layout differs from docs/model.md section 4"
        printf '%s\n' "$2" >"$T/expected.txt"
        printf '%s\n' "$actual" >"$T/actual.txt"
        diff "$T/expected.txt" "$T/actual.txt" >&2
    fi
}

# Every dataset float32 LE, contiguous, unfiltered.
check_storage() {
    n=$(layout "$1" | wc -l)
    expect_eq "$(h5dump -H "$1" | grep -c 'DATATYPE  H5T_IEEE_F32LE')" "$n" "$2: f32le datasets"
    expect_eq "$(h5dump -H "$1" | grep -c 'DATATYPE')" "$n" "$2: datasets with a type"
    expect_eq "$(h5dump -p -H "$1" | grep -c 'CONTIGUOUS')" "$n" "$2: contiguous datasets"
    expect_eq "$(h5dump -p -H "$1" | grep -A1 'FILTERS {' | grep -c 'NONE')" "$n" \
        "$2: unfiltered datasets"
}

dtype_of() { h5dump -H -d "/$2" "$1" | sed -n 's/^ *DATATYPE  *//p'; }

# Raw little-endian bytes of one dataset.
dump_bin() { h5dump -d "/$2" -b LE -o "$3" "$1" >/dev/null 2>&1; }

# json_get FILE a.b.c: the JSON value at that path, or <absent>.
json_get() {
    "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    if k not in d:
        print("<absent>")
        sys.exit(0)
    d = d[k]
print(json.dumps(d))' "$1" "$2"
}

# check_values FILE NAME BOUND WHAT: values uniform in [-BOUND, BOUND): all within it, mean
# near 0 and rms within 10% of BOUND/sqrt(3) (catches zero-filled buffers and wrong scales).
check_values() {
    if ! dump_bin "$1" "$2" "$T/values.bin"; then
        bad "$4: cannot dump $2"
        return
    fi
    verdict=$(od -An -v -t f4 "$T/values.bin" | awk -v b="$3" '
        { for (i = 1; i <= NF; i++) { v = $i + 0; n++; s += v; q += v * v;
                                      if (v < -b * 1.000001 || v >= b * 1.000001) out++ } }
        END { rms = sqrt(q / n); want = b / sqrt(3);
              if (n == 0) print "no values";
              else if (out) print out " values outside +-" b;
              else if (rms < 0.9 * want || rms > 1.1 * want) print "rms " rms ", expected ~" want;
              else if (s / n > 0.1 * b || s / n < -0.1 * b) print "mean " s / n;
              else print "ok" }')
    expect_eq "$verdict" ok "$4: values of $2"
}

# ---- tiny: identical structure to the real AllenNLP fixture --------------------------------
gen tiny --shape tiny --seed 5
started=$(date +%s)
W=$T/tiny/weights.hdf5
expect_eq "$(h5dump -H "$W" | tail -n +2)" "$(h5dump -H "$FIXTURE/weights.hdf5" | tail -n +2)" \
    "tiny: h5dump -H (groups, datasets, shapes, types) equals the fixture's"
check_layout "$W" "$(expected_layout 4 1:4,2:8,3:16,4:32,5:64 2 16 64 2 0 0)" tiny
check_storage "$W" tiny
expect_true "tiny: options.json equals the fixture's (as JSON)" "$PY" -c '
import json, sys
sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' \
    "$T/tiny/options.json" "$FIXTURE/options.json"
expect_true "tiny: options.json is pretty-printed" \
    test "$(wc -l <"$T/tiny/options.json")" -gt 10
expect_eq "$(printed parameters tiny)" 105120 "tiny: parameters printed"
expect_eq "$(layout "$W" | count_params)" 105120 "tiny: parameters in the file"
expect_eq "$(printed payload_bytes tiny)" 420480 "tiny: payload bytes printed"
expect_eq "$(printed datasets tiny)" "$(layout "$W" | wc -l)" "tiny: dataset count printed"
expect_eq "$(printed file_bytes tiny)" "$(wc -c <"$W" | tr -d ' ')" "tiny: file bytes printed"
expect_eq "$("$G" --list --seed 5 | sed -n 's/^\([^ ]*\) .*/\1/p' | grep -v : | sort)" \
    "$(layout "$W" | sed 's/ .*//')" "tiny: --list names the datasets written"

check_values "$W" char_embed 1 tiny
check_values "$W" CNN/W_cnn_4 "$(awk 'BEGIN { print sqrt(3 / 20) }')" tiny      # fan_in 5*4
check_values "$W" RNN_0/RNN/MultiRNNCell/Cell1/LSTMCell/B 0.1 tiny
check_values "$W" CNN_high_0/W_carry "$(awk 'BEGIN { print sqrt(3 / 124) }')" tiny
check_values "$W" RNN_1/RNN/MultiRNNCell/Cell1/LSTMCell/W_0 \
    "$(awk 'BEGIN { print sqrt(3 / 32) }')" tiny
check_values "$W" RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/W_P_0 \
    "$(awk 'BEGIN { print sqrt(3 / 64) }')" tiny

# Each dataset has its own random stream: same-shape datasets must not repeat each other.
dump_bin "$W" CNN_high_0/W_carry "$T/carry.bin"
dump_bin "$W" CNN_high_0/W_transform "$T/transform.bin"
expect_true "tiny: W_carry and W_transform hold different values" \
    sh -c '! cmp -s "$1" "$2"' _ "$T/carry.bin" "$T/transform.bin"

# ---- small: the published shape -------------------------------------------------------------
PUB=1:32,2:32,3:64,4:128,5:256,6:512,7:1024
gen small --shape small --seed 1
W=$T/small/weights.hdf5
check_layout "$W" "$(expected_layout 16 $PUB 1 128 1024 2 0 0)" small
check_storage "$W" small
expect_eq "$(printed parameters small)" 13593296 "small: parameters printed (docs/model.md 11.2)"
expect_eq "$(layout "$W" | count_params)" 13593296 "small: parameters in the file"
expect_eq "$(printed payload_bytes small)" 54373184 "small: payload bytes printed"
expect_true "small: options.json has the published values" "$PY" -c '
import json, sys
o = json.load(open(sys.argv[1]))
want = {"char_cnn": {"embedding": {"dim": 16},
                     "filters": [[1, 32], [2, 32], [3, 64], [4, 128], [5, 256], [6, 512], [7, 1024]],
                     "n_highway": 1, "n_characters": 262, "max_characters_per_token": 50,
                     "activation": "relu"},
        "lstm": {"dim": 1024, "projection_dim": 128, "n_layers": 2, "cell_clip": 3,
                 "proj_clip": 3, "use_skip_connections": True}}
sys.exit(o != want)' "$T/small/options.json"

# Medium and Original are too slow to write here; --list counts their parameters.
for s in small:13593296 medium:28027728 original:93600848 tiny:105120; do
    expect_eq "$("$G" --list --shape "${s%:*}" | sed -n 's/^parameters: //p')" "${s#*:}" \
        "--list --shape ${s%:*}: parameters (docs/model.md 11.2)"
done

# ---- seeds ------------------------------------------------------------------------------------
gen seed6 --shape tiny --seed 6
expect_true "seed 5 vs 6: weights differ" sh -c '! cmp -s "$1" "$2"' _ \
    "$T/tiny/weights.hdf5" "$T/seed6/weights.hdf5"
dump_bin "$T/tiny/weights.hdf5" char_embed "$T/e5.bin"
dump_bin "$T/seed6/weights.hdf5" char_embed "$T/e6.bin"
expect_true "seed 5 vs 6: char_embed values differ" sh -c '! cmp -s "$1" "$2"' _ \
    "$T/e5.bin" "$T/e6.bin"
# Same seed again, at least one second later so that a stored timestamp would show.
[ "$(date +%s)" -gt "$started" ] || sleep 1
gen tiny_again --shape tiny --seed 5
expect_true "seed 5 twice: byte-identical weights.hdf5" \
    cmp "$T/tiny/weights.hdf5" "$T/tiny_again/weights.hdf5"
expect_true "seed 5 twice: byte-identical options.json" \
    cmp "$T/tiny/options.json" "$T/tiny_again/options.json"

# ---- corruption flags -----------------------------------------------------------------------
TINY=$(expected_layout 4 1:4,2:8,3:16,4:32,5:64 2 16 64 2 0 0)

gen omit --seed 5 --omit CNN_high_1/W_carry --omit /RNN_1/RNN/MultiRNNCell/Cell1/LSTMCell/B
check_layout "$T/omit/weights.hdf5" "$(printf '%s\n' "$TINY" |
    grep -v -e '^CNN_high_1/W_carry ' -e '^RNN_1/RNN/MultiRNNCell/Cell1/LSTMCell/B ')" --omit
dump_bin "$T/omit/weights.hdf5" CNN_high_0/W_carry "$T/a.bin"
dump_bin "$T/tiny/weights.hdf5" CNN_high_0/W_carry "$T/b.bin"
expect_true "--omit: the other datasets keep their values" cmp -s "$T/a.bin" "$T/b.bin"

gen omit_group --seed 5 --omit CNN_proj
check_layout "$T/omit_group/weights.hdf5" "$(printf '%s\n' "$TINY" | grep -v '^CNN_proj/')" \
    "--omit group"
expect_true "--omit group: the group itself is gone" \
    sh -c '! h5ls -r "$1" | grep -q "^/CNN_proj "' _ "$T/omit_group/weights.hdf5"

gen reshape --seed 5 --reshape CNN_proj/W_proj=100,7 --reshape CNN/b_cnn_0=0 \
    --reshape char_embed=260,4,1
check_layout "$T/reshape/weights.hdf5" "$(printf '%s\n' "$TINY" |
    sed -e 's|^CNN_proj/W_proj .*|CNN_proj/W_proj 100, 7|' -e 's|^CNN/b_cnn_0 .*|CNN/b_cnn_0 0|' \
        -e 's|^char_embed .*|char_embed 260, 4, 1|' | sort)" --reshape
expect_eq "$(dtype_of "$T/reshape/weights.hdf5" CNN_proj/W_proj)" H5T_IEEE_F32LE \
    "--reshape: type kept"
check_values "$T/reshape/weights.hdf5" CNN_proj/W_proj "$(awk 'BEGIN { print sqrt(3 / 100) }')" \
    "--reshape (scale follows the new fan_in)"

gen dtype --seed 5 --dtype CNN_high_0/W_carry=f64 --dtype CNN/b_cnn_2=i32 \
    --dtype char_embed=f16
W=$T/dtype/weights.hdf5
expect_eq "$(dtype_of "$W" CNN_high_0/W_carry)" H5T_IEEE_F64LE "--dtype f64"
expect_eq "$(dtype_of "$W" CNN/b_cnn_2)" H5T_STD_I32LE "--dtype i32"
expect_eq "$(h5ls -v "$W/char_embed" | sed -n 's/^ *Type: *//p')" \
    "16-bit little-endian floating-point" "--dtype f16"
expect_eq "$(dtype_of "$W" CNN_high_0/W_transform)" H5T_IEEE_F32LE "--dtype: others stay f32"
check_layout "$W" "$TINY" "--dtype: shapes unchanged"
expect_eq "$(printed payload_bytes dtype)" $((420480 + 124 * 124 * 4 - 261 * 4 * 2)) \
    "--dtype: payload bytes printed"
# f64 holds the same values as the f32 file would (the float-to-double conversion is exact).
h5dump -d /CNN_high_0/W_carry -b LE -o "$T/w64.bin" "$W" >/dev/null 2>&1
expect_true "--dtype f64: exactly the values of the f32 dataset" "$PY" -c '
import struct, sys
a = open(sys.argv[1], "rb").read()
b = open(sys.argv[2], "rb").read()
n = 124 * 124
sys.exit(len(a) != 8 * n or len(b) != 4 * n or
         struct.unpack("<%dd" % n, a) != struct.unpack("<%df" % n, b))' "$T/w64.bin" "$T/b.bin"

gen trunc --seed 5 --truncate 4096
expect_eq "$(wc -c <"$T/trunc/weights.hdf5" | tr -d ' ')" 4096 "--truncate: file size"
expect_true "--truncate: file no longer opens" sh -c '! h5ls -r "$1" >/dev/null 2>&1' _ \
    "$T/trunc/weights.hdf5"
expect_true "--truncate: it is a prefix of the full file" \
    sh -c 'head -c 4096 "$1" | cmp -s - "$2"' _ "$T/tiny/weights.hdf5" "$T/trunc/weights.hdf5"

gen oonly --seed 5 --options-only
expect_true "--options-only: options written" test -s "$T/oonly/options.json"
expect_true "--options-only: no weights" test ! -e "$T/oonly/weights.hdf5"
gen wonly --seed 5 --weights-only
expect_true "--weights-only: weights written" cmp "$T/wonly/weights.hdf5" "$T/tiny/weights.hdf5"
expect_true "--weights-only: no options" test ! -e "$T/wonly/options.json"

# ---- option overrides ------------------------------------------------------------------------
gen opts --seed 5 --no-skip --activation tanh --highway 0 --layers 3 --char-dim 8 --max-chars 20
O=$T/opts/options.json
expect_eq "$(json_get "$O" lstm.use_skip_connections)" false "--no-skip in JSON"
expect_eq "$(json_get "$O" char_cnn.activation)" '"tanh"' "--activation tanh in JSON"
expect_eq "$(json_get "$O" char_cnn.n_highway)" 0 "--highway 0 in JSON"
expect_eq "$(json_get "$O" lstm.n_layers)" 3 "--layers 3 in JSON"
expect_eq "$(json_get "$O" char_cnn.embedding.dim)" 8 "--char-dim 8 in JSON"
expect_eq "$(json_get "$O" char_cnn.max_characters_per_token)" 20 "--max-chars 20 in JSON"
check_layout "$T/opts/weights.hdf5" "$(expected_layout 8 1:4,2:8,3:16,4:32,5:64 0 16 64 3 0 0)" \
    "--highway 0 --layers 3 --char-dim 8"

# F == P == H: no CNN_proj and no W_P_0 unless forced.
gen eq --seed 5 --filters 1:8,2:8 --proj 16 --dim 16
check_layout "$T/eq/weights.hdf5" "$(expected_layout 4 1:8,2:8 2 16 16 2 0 0)" "F == P == H"
expect_true "F == P: no CNN_proj" sh -c '! h5ls -r "$1" | grep -q "^/CNN_proj"' _ \
    "$T/eq/weights.hdf5"
expect_true "P == H: no W_P_0" sh -c '! h5ls -r "$1" | grep -q "W_P_0"' _ "$T/eq/weights.hdf5"
expect_eq "$(json_get "$T/eq/options.json" char_cnn.filters)" "[[1, 8], [2, 8]]" \
    "--filters in JSON"
gen eqf --seed 5 --filters 1:8,2:8 --proj 16 --dim 16 --force-cnn-proj --force-lstm-proj
check_layout "$T/eqf/weights.hdf5" "$(expected_layout 4 1:8,2:8 2 16 16 2 1 1)" \
    "--force-cnn-proj --force-lstm-proj"
expect_true "--force-cnn-proj: CNN_proj/W_proj is [16, 16]" \
    sh -c 'h5ls -r "$1" | grep -q "^/CNN_proj/W_proj *Dataset {16, 16}$"' _ "$T/eqf/weights.hdf5"

gen clipnull --seed 5 --cell-clip none --proj-clip 0
expect_eq "$(json_get "$T/clipnull/options.json" lstm.cell_clip)" null "--cell-clip none: null"
expect_eq "$(json_get "$T/clipnull/options.json" lstm.proj_clip)" null "--proj-clip 0: null"
gen clipabs --seed 5 --cell-clip 0 --proj-clip 2.5 --clip-style absent
expect_eq "$(json_get "$T/clipabs/options.json" lstm.cell_clip)" "<absent>" "--clip-style absent"
expect_eq "$(json_get "$T/clipabs/options.json" lstm.proj_clip)" 2.5 "--proj-clip 2.5"
gen clipzero --seed 5 --cell-clip none --clip-style zero
expect_eq "$(json_get "$T/clipzero/options.json" lstm.cell_clip)" 0 "--clip-style zero"
expect_eq "$(json_get "$T/clipzero/options.json" lstm.proj_clip)" 3 "proj_clip kept at 3"

# ---- the language-model head ----------------------------------------------------------------
gen head --shape tiny --seed 5 --vocab-size 1000
S=$T/head/softmax_weights.hdf5
expect_eq "$(layout "$S")" "$(printf 'softmax/W 1000, 16\nsoftmax/b 1000')" \
    "--vocab-size: softmax/W [V, P] and softmax/b [V]"
check_storage "$S" --vocab-size
expect_true "--vocab-size: the same model is written too" cmp "$T/head/weights.hdf5" \
    "$T/tiny/weights.hdf5"
expect_eq "$(wc -l <"$T/head/vocab.txt" | tr -d ' ')" 1000 "--vocab-size: vocab.txt lines"
expect_eq "$(head -5 "$T/head/vocab.txt" | tr '\n' ' ')" "<S> </S> <UNK> a b " \
    "--vocab-size: the specials first, then made-up words"
expect_eq "$(sort "$T/head/vocab.txt" | uniq -d | wc -l | tr -d ' ')" 0 "--vocab-size: no repeats"
expect_eq "$(printed vocab_size head)" 1000 "--vocab-size: V printed"
expect_eq "$(printed head_parameters head)" 17000 "--vocab-size: head parameters printed"
check_values "$S" softmax/W 1 "--vocab-size"
check_values "$S" softmax/b 0.1 "--vocab-size"
gen head_only --shape tiny --seed 5 --vocab "$T/head/vocab.txt" --softmax-only
expect_true "--softmax-only: only the head" test ! -e "$T/head_only/weights.hdf5" -a \
    ! -e "$T/head_only/options.json" -a ! -e "$T/head_only/vocab.txt"
expect_true "--vocab FILE: the same head as --vocab-size for the same V and seed" \
    cmp "$S" "$T/head_only/softmax_weights.hdf5"
gen head_bad --shape tiny --seed 5 --vocab-size 1000 --softmax-only --reshape softmax/W=999,8
expect_eq "$(layout "$T/head_bad/softmax_weights.hdf5" | head -1)" "softmax/W 999, 8" \
    "--reshape applies to the head"
# The bundled head of the tiny model is this generator's, over the fixture's vocabulary.
gen bundled --shape tiny --seed 1 --vocab "$FIXTURE/vocab.txt" --softmax-only
for d in softmax/W softmax/b; do
    dump_bin "$FIXTURE/softmax_weights.hdf5" "$d" "$T/bundled_a.bin"
    dump_bin "$T/bundled/softmax_weights.hdf5" "$d" "$T/bundled_b.bin"
    expect_true "models/elmo-tiny/softmax_weights.hdf5 $d: elmo-genmodel --seed 1 --vocab" \
        cmp -s "$T/bundled_a.bin" "$T/bundled_b.bin"
done
expect_eq "$("$G" --list --shape original --vocab-size 793471 |
    sed -n 's/^head_parameters: //p')" 407050623 "--list: the Original's head (793471 x 513)"

# ---- errors: exit 2, a message on stderr, nothing written ------------------------------------
# expect_error WHAT MESSAGE-FRAGMENT ARGS...
expect_error() {
    what=$1 frag=$2
    shift 2
    "$G" "$@" >"$T/err.out" 2>"$T/err.txt"
    rc=$?
    expect_eq "$rc" 2 "$what: exit status"
    expect_true "$what: stderr mentions '$frag' (got: $(cat "$T/err.txt"))" \
        grep -q -- "$frag" "$T/err.txt"
}
expect_error "unknown flag" "unknown option '--bogus'" --out "$T/e1" --bogus
expect_error "bad number" "--dim expects an integer" --out "$T/e1" --dim 0
expect_error "bad filters" "--filters expects" --out "$T/e1" --filters 1:4,2
expect_error "unknown dataset" "no such dataset" --out "$T/e1" --omit CNN_high_7/W_carry
expect_error "bad dtype" "type must be f64, i32 or f16" --out "$T/e1" --dtype char_embed=f8
expect_error "missing --out" "--out DIR is required"
expect_error "--softmax-only alone" "--softmax-only needs --vocab-size or --vocab" --out "$T/e1" \
    --softmax-only
expect_error "a vocabulary of 2" "expects an integer in \[3," --out "$T/e1" --vocab-size 2
expect_error "no such vocabulary" "cannot open vocabulary" --out "$T/e1" --vocab "$T/none.txt"
expect_true "errors before writing leave no output directory" test ! -e "$T/e1"
: >"$T/plainfile"
expect_error "unwritable output" "cannot create" --out "$T/plainfile/model"
expect_error "truncate beyond the end" "is only" --out "$T/e2" --truncate 100000000
expect_true "failed --truncate leaves no weights file" test ! -e "$T/e2/weights.hdf5"
expect_true "--help exits 0 and documents --shape" sh -c '"$1" --help | grep -q -- --shape' _ "$G"

echo "genmodel_test: $checks checks, $failures failed"
[ "$failures" -eq 0 ]
