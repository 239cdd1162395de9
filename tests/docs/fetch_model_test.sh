#!/bin/sh
# fetch_model_test.sh - tools/fetch-model.sh without a network: an unreachable server fails
# with one clear message and leaves nothing behind (nor does a mirror that has only one of
# the two files); a file:// mirror (the tiny model under
# the Small model's file names) downloads, prints sizes and sha256, converts to safetensors
# that load; a pinned --sha256 that differs is refused (exit 3).
#
#   B=build/release sh tests/docs/fetch_model_test.sh      (from the repo root)
set -u
. tests/checks.sh
B=${B:-build/release}
SQLITE3=${SQLITE3:-sqlite3}
T=$(mktemp -d "${TMPDIR:-/tmp}/fetch-model.XXXXXX")
trap 'rm -rf "$T"' EXIT
STEM=2x1024_128_2048cnn_1xhighway
export ELMO_BIN=$B/bin/elmo

# 1. No network: port 9 (discard) on localhost refuses at once.
out=$(ELMO_MODEL_BASE_URL=http://127.0.0.1:9 CURL_CONNECT_TIMEOUT=5 CURL_MAX_TIME=5 \
      sh tools/fetch-model.sh small --dir "$T/m1" 2>&1)
rc=$?
[ $rc -eq 1 ] && ok || bad "unreachable server: exit $rc, expected 1"
case $out in
    *"fetch-model: could not download http://127.0.0.1:9/$STEM/elmo_${STEM}_options.json (no network, a proxy, or the file moved); check the connection, or set ELMO_MODEL_BASE_URL to a mirror"*) ok ;;
    *) bad "unreachable server: unexpected message: $out" ;;
esac
[ ! -e "$T/m1" ] && ok || bad "unreachable server left files: $(ls -AR "$T/m1")"

# 2. Unknown model name.
out=$(sh tools/fetch-model.sh tiny 2>&1)
[ $? -eq 2 ] && ok || bad "unknown model: expected exit 2"
[ "$out" = "fetch-model: unknown model 'tiny'; choose small, medium, original or original-5.5b" ] \
    && ok || bad "unknown model: message: $out"

# 3. A mirror: the tiny model under Small's names.
mkdir -p "$T/mirror/$STEM"
cp models/elmo-tiny/options.json "$T/mirror/$STEM/elmo_${STEM}_options.json"
cp models/elmo-tiny/weights.hdf5 "$T/mirror/$STEM/elmo_${STEM}_weights.hdf5"
sha=$(sha256sum models/elmo-tiny/weights.hdf5 | cut -d' ' -f1)
size=$(wc -c <models/elmo-tiny/weights.hdf5 | tr -d ' ')
out=$(ELMO_MODEL_BASE_URL="file://$T/mirror" sh tools/fetch-model.sh small --dir "$T/m2" \
      --sha256 "$sha" 2>&1)
rc=$?
[ $rc -eq 0 ] && ok || bad "mirror: exit $rc: $out"
case $out in
    *"$T/m2/small/elmo_${STEM}_weights.hdf5: $size bytes, sha256 $sha"*) ok ;;
    *) bad "mirror: size and sha256 not printed: $out" ;;
esac
got=$(printf ".load %s/elmo\nSELECT elmo_load('m', '%s');\nSELECT dim, params FROM elmo_models;\n" \
      "$B" "$T/m2/small.safetensors" | "$SQLITE3" :memory: 2>&1)
[ "$got" = "m
32|105120" ] && ok || bad "mirror: the converted model does not load as expected: $got"

# 3b. A mirror with only the options file: the options download, the weights do not, and
# nothing is left behind (no half-made models/small, no scratch directory) in an existing DIR.
mkdir -p "$T/half/$STEM" "$T/m3"
cp models/elmo-tiny/options.json "$T/half/$STEM/elmo_${STEM}_options.json"
out=$(ELMO_MODEL_BASE_URL="file://$T/half" sh tools/fetch-model.sh small --dir "$T/m3" 2>&1)
[ $? -eq 1 ] && ok || bad "half mirror: expected exit 1: $out"
[ -d "$T/m3" ] && [ -z "$(ls -A "$T/m3")" ] && ok || bad "half mirror left: $(ls -AR "$T/m3")"

# 4. A pinned hash that differs is refused (the files are already there: no download).
out=$(ELMO_MODEL_BASE_URL=http://127.0.0.1:9 sh tools/fetch-model.sh small --dir "$T/m2" \
      --sha256 0000 2>&1)
[ $? -eq 3 ] && ok || bad "sha256 mismatch: expected exit 3: $out"
case $out in
    *"has sha256 $sha, not the pinned 0000"*) ok ;;
    *) bad "sha256 mismatch: message: $out" ;;
esac

echo "fetch_model_test: $checks checks, $failures failed"
[ "$failures" -eq 0 ]
