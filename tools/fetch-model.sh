#!/bin/sh
# fetch-model.sh - downloads an official AllenNLP ELMo model and converts it to safetensors.
#
#   tools/fetch-model.sh NAME [--sha256 HASH] [--dir DIR]      (from the repo root)
#   make model MODEL=NAME
#
# NAME: small, medium, original or original-5.5b. Writes DIR/NAME/elmo_<STEM>_options.json
# and elmo_<STEM>_weights.hdf5 (DIR defaults to models), then DIR/NAME.safetensors with
# `elmo convert` (build/release/bin/elmo, or $ELMO_BIN). Files already present are not
# downloaded again. Nothing is left half-made: the files are downloaded into a scratch
# directory DIR/.NAME.XXXXXX, removed on any failure or signal, and DIR/NAME appears only
# once both files are there (and match --sha256); the conversion writes a temporary file
# and renames it.
#
# AllenNLP publishes no checksums. The script prints each file's size and sha256: pin the
# weights' hash from your first download with --sha256, and a different file is refused.
#
# Environment: ELMO_MODEL_BASE_URL (default the AllenNLP bucket below; point it at a
# mirror), CURL_MAX_TIME (seconds per file, default 3600), CURL_CONNECT_TIMEOUT (default 15).
# Exit codes: 0 done, 1 download or conversion failed, 2 bad arguments, 3 checksum mismatch.
set -eu

BASE_URL=${ELMO_MODEL_BASE_URL:-https://s3-us-west-2.amazonaws.com/allennlp/models/elmo}
ELMO_BIN=${ELMO_BIN:-build/release/bin/elmo}
MAX_TIME=${CURL_MAX_TIME:-3600}
CONNECT_TIMEOUT=${CURL_CONNECT_TIMEOUT:-15}

usage() {
    echo "usage: tools/fetch-model.sh small|medium|original|original-5.5b [--sha256 HASH] [--dir DIR]" >&2
    exit 2
}

[ $# -ge 1 ] || usage
NAME=$1
shift
SHA256=
DIR=models
while [ $# -gt 0 ]; do
    case $1 in
        --sha256) [ $# -ge 2 ] || usage; SHA256=$2; shift 2 ;;
        --dir) [ $# -ge 2 ] || usage; DIR=$2; shift 2 ;;
        *) usage ;;
    esac
done

# The published models: name -> file stem. Approximate weight sizes: 52, 107, 357, 357 MiB.
case $NAME in
    small) STEM=2x1024_128_2048cnn_1xhighway ;;
    medium) STEM=2x2048_256_2048cnn_1xhighway ;;
    original) STEM=2x4096_512_2048cnn_2xhighway ;;
    original-5.5b) STEM=2x4096_512_2048cnn_2xhighway_5.5B ;;
    *) echo "fetch-model: unknown model '$NAME'; choose small, medium, original or original-5.5b" >&2
       exit 2 ;;
esac

if ! command -v curl >/dev/null 2>&1; then
    echo "fetch-model: curl is not installed (apt-get install curl)" >&2
    exit 1
fi

OUT=$DIR/$NAME
OPTIONS=elmo_${STEM}_options.json
WEIGHTS=elmo_${STEM}_weights.hdf5

# The downloads go to a scratch directory next to OUT (same file system: the final move is
# a rename), removed whatever happens; DIR itself is removed again if this run made it and
# it stays empty.
made_dir=
[ -d "$DIR" ] || made_dir=1
mkdir -p "$DIR"
STAGE=$(mktemp -d "$DIR/.$NAME.XXXXXX")
cleanup() {
    rm -rf "$STAGE"
    [ -z "$made_dir" ] || rmdir "$DIR" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# fetch FILE: OUT/FILE when it is already there, else downloads BASE_URL/STEM/FILE into
# STAGE/FILE.
fetch() {
    url=$BASE_URL/$STEM/$1
    if [ -s "$OUT/$1" ]; then
        echo "fetch-model: $OUT/$1 is already there"
        return 0
    fi
    echo "fetch-model: downloading $url"
    if ! curl --fail --location --silent --show-error --connect-timeout "$CONNECT_TIMEOUT" \
            --max-time "$MAX_TIME" -o "$STAGE/$1" "$url"; then
        echo "fetch-model: could not download $url (no network, a proxy, or the file moved);" \
             "check the connection, or set ELMO_MODEL_BASE_URL to a mirror" >&2
        exit 1
    fi
}

# where FILE is now: OUT/FILE or STAGE/FILE
at() {
    if [ -s "$STAGE/$1" ]; then echo "$STAGE/$1"; else echo "$OUT/$1"; fi
}

fetch "$OPTIONS"
fetch "$WEIGHTS"

for f in "$OPTIONS" "$WEIGHTS"; do
    printf 'fetch-model: %s: %s bytes, sha256 %s\n' "$OUT/$f" "$(wc -c <"$(at "$f")" | tr -d ' ')" \
        "$(sha256sum "$(at "$f")" | cut -d' ' -f1)"
done
if [ -n "$SHA256" ]; then
    got=$(sha256sum "$(at "$WEIGHTS")" | cut -d' ' -f1)
    if [ "$got" != "$SHA256" ]; then
        echo "fetch-model: $OUT/$WEIGHTS has sha256 $got, not the pinned $SHA256;" \
             "delete it and download again, or check where it came from" >&2
        exit 3
    fi
    echo "fetch-model: sha256 of the weights matches the pinned hash"
fi
mkdir -p "$OUT"
for f in "$OPTIONS" "$WEIGHTS"; do
    [ ! -s "$STAGE/$f" ] || mv "$STAGE/$f" "$OUT/$f"
done

if [ ! -x "$ELMO_BIN" ]; then
    echo "fetch-model: $ELMO_BIN is not built (run make); skipping the conversion" >&2
    exit 1
fi
"$ELMO_BIN" convert "$OUT" -o "$DIR/$NAME.safetensors"
echo "fetch-model: wrote $DIR/$NAME.safetensors; use it with elmo embed --model $DIR/$NAME.safetensors," \
     "ELMO_MODEL=$DIR/$NAME.safetensors, or SELECT elmo_load('default', '$DIR/$NAME.safetensors')"
