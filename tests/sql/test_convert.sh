#!/bin/sh
# test_convert.sh - `elmo convert`: any model elmo_load accepts -> one safetensors file that
# gives byte-identical vectors (fp32), a bf16 file half the size, byte-exact round trips,
# and clear errors for bad arguments and inputs. Under SAN=1 it runs the ASan/UBSan build.
#
#   B=build/release sh tests/sql/test_convert.sh      (from the repo root)
set -u

B=${B:-build/release}
SQLITE3=${SQLITE3:-sqlite3}
ELMO=$B/bin/elmo
TINY=models/elmo-tiny

. tests/checks.sh
expect_eq() { # ACTUAL EXPECTED WHAT
    if [ "$1" = "$2" ]; then ok; else bad "$3: got [$1], expected [$2]"; fi
}

T=$(mktemp -d "${TMPDIR:-/tmp}/elmo_convert_test.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT

out=$("$ELMO" convert $TINY -o "$T/a.safetensors" 2>&1)
expect_eq "$?" 0 "convert a directory"
expect_eq "$out" "wrote $T/a.safetensors: 33 tensors, 105120 parameters, fp32, from $TINY (hdf5)" \
    "convert's report"
"$ELMO" convert $TINY/options.json $TINY/weights.hdf5 -o "$T/b.safetensors" >/dev/null 2>&1
expect_eq "$?" 0 "convert an options + weights pair"
cmp -s "$T/a.safetensors" "$T/b.safetensors"
expect_eq "$?" 0 "both inputs give the same file"
"$ELMO" convert "$T/a.safetensors" -o "$T/c.safetensors" >/dev/null 2>&1
cmp -s "$T/a.safetensors" "$T/c.safetensors"
expect_eq "$?" 0 "safetensors -> safetensors is byte-exact"
"$ELMO" convert $TINY --precision bf16 -o "$T/h.safetensors" >/dev/null 2>&1
expect_eq "$?" 0 "convert to bf16"
"$ELMO" convert "$T/h.safetensors" --precision bf16 -o "$T/h2.safetensors" >/dev/null 2>&1
cmp -s "$T/h.safetensors" "$T/h2.safetensors"
expect_eq "$?" 0 "bf16 -> bf16 is byte-exact"
a=$(wc -c <"$T/a.safetensors")
h=$(wc -c <"$T/h.safetensors")
expect_eq "$((h * 2 < a + 4096))" 1 "the bf16 file is about half the size ($h vs $a bytes)"

# The converted model gives byte-identical vectors.
vec() { # MODEL_PATH_ARGS
    "$SQLITE3" :memory: -cmd ".load $B/elmo" \
        "SELECT elmo_load('m', $1); SELECT hex(elmo_embed('The quick brown fox .', '{\"model\":\"m\",\"output\":\"all\"}'));" |
        tail -1
}
expect_eq "$(vec "'$T/a.safetensors'")" "$(vec "'$TINY/options.json', '$TINY/weights.hdf5'")" \
    "converted vectors are byte-identical"

# Errors.
err=$("$ELMO" convert $TINY 2>&1)
expect_eq "$?" 2 "no output: usage"
case $err in usage:*) ok ;; *) bad "usage text: [$err]" ;; esac
err=$("$ELMO" convert $TINY -o "$T/x.safetensors" --precision fp16 2>&1)
expect_eq "$err" "elmo convert: unknown precision 'fp16'; valid: fp32, bf16" "bad precision"
err=$("$ELMO" convert a b c -o "$T/x.safetensors" 2>&1)
expect_eq "$err" "elmo convert: too many inputs; give one model path, or an options file and a weights file" \
    "too many inputs"
err=$("$ELMO" convert "$T/none" -o "$T/x.safetensors" 2>&1)
expect_eq "$?" 1 "missing input fails"
expect_eq "$err" "elmo convert: cannot open model '$T/none': No such file or directory" "missing input"
err=$("$ELMO" convert $TINY/weights.hdf5 -o "$T/x.safetensors" 2>&1)
expect_eq "$err" "elmo convert: '$TINY/weights.hdf5' is an HDF5 weights file, which does not hold its options; give the options file too, or the directory holding both" \
    "HDF5 without options"
expect_eq "$(ls "$T" | grep -c tmp)" 0 "no temporary file is left behind"
err=$("$ELMO" convert $TINY -o "$T/no/such/dir/x.safetensors" 2>&1)
case $err in "elmo convert: cannot create '$T/no/such/dir/x.safetensors.tmp"*) ok ;;
*) bad "unwritable output: [$err]" ;; esac
err=$("$ELMO" frobnicate 2>&1)
expect_eq "$?" 2 "unknown subcommand"
case $err in "elmo: unknown command 'frobnicate'"*) ok ;; *) bad "unknown subcommand: [$err]" ;; esac
"$ELMO" --help | grep -q "^  convert "
expect_eq "$?" 0 "--help lists convert"

echo "test_convert.sh: $checks checks, $failures failed"
[ "$failures" -eq 0 ]
