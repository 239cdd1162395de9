#!/bin/sh
# test_cli.sh - the extension in the sqlite3 CLI: it exports only sqlite3_elmo_init, loads
# with .load (also twice into one connection), answers every function with the expected
# output, reports every bad call as an error naming the function, and survives all of it.
# Under SAN=1 the CLI runs the ASan/UBSan build with leak detection: any sanitizer report
# fails the test.
#
#   B=build/release sh tests/sql/test_cli.sh      (from the repo root)
set -u

B=${B:-build/release}
SAN=${SAN:-0}
SQLITE3=${SQLITE3:-sqlite3}
EXT=$B/elmo
TINY_O=models/elmo-tiny/options.json
TINY_W=models/elmo-tiny/weights.hdf5

. tests/checks.sh
expect_eq() { # ACTUAL EXPECTED WHAT
    if [ "$1" = "$2" ]; then ok; else bad "$3: got [$1], expected [$2]"; fi
}
expect_contains() { # TEXT PART WHAT
    case $1 in
    *"$2"*) ok ;;
    *) bad "$3: [$2] not in [$1]" ;;
    esac
}

T=$(mktemp -d "${TMPDIR:-/tmp}/elmo_cli_test.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM

# cli: runs the sqlite3 CLI with the extension on stdin's SQL; stdout -> $T/out,
# stderr -> $T/err. Under SAN=1 the sanitizer runtime is preloaded and leaks are fatal.
cli() {
    if [ "$SAN" = 1 ]; then
        LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=1 \
            "$SQLITE3" :memory: -cmd ".load $EXT" "$@" >"$T/out" 2>"$T/err"
    else
        "$SQLITE3" :memory: -cmd ".load $EXT" "$@" >"$T/out" 2>"$T/err"
    fi
}
no_sanitizer_report() { # WHAT
    if grep -q "AddressSanitizer\|LeakSanitizer\|runtime error:" "$T/err"; then
        bad "$1: sanitizer report"
        cat "$T/err" >&2
    else
        ok
    fi
}

# ---- 1. exported symbols --------------------------------------------------------------
exports=$(nm -D --defined-only "$B/elmo.so" | awk 'NF == 3 { print $3 }' | sort | tr '\n' ' ')
expect_eq "$exports" "sqlite3_elmo_init " "dynamic symbols defined by $B/elmo.so"

# ---- 2. every function, expected output ------------------------------------------------
cli <<EOF
SELECT elmo_load('default', '$TINY_O', '$TINY_W');
SELECT length(elmo_embed('hello world')), length(elmo_embed('hello world', 'all'));
SELECT group_concat(token, '/') FROM elmo_tokens('Hello, world!');
SELECT elmo_cosine('[3,4]', '[6,8]'), elmo_cosine(NULL, '[1]') IS NULL;
SELECT elmo_json(x'0000803f0000c0bf');
SELECT name, dim, layers FROM elmo_models;
SELECT elmo_limit('max_tokens', 10), elmo_limit('max_tokens');
SELECT elmo_unload('default');
SELECT count(*) FROM elmo_models;
SELECT substr(elmo_version(), 1, 12);
EOF
expect_eq "$(cat "$T/err")" "" "basic session stderr"
expect_eq "$(cat "$T/out")" "default
128|384
Hello/,/world/!
1.0|1
[1,-1.5]
default|32|3
4096|10
1
0
sqlite-elmo " "basic session output"
no_sanitizer_report "basic session"

# ---- 3. loading the extension twice into one connection --------------------------------
cli -cmd ".load $EXT" <<EOF
SELECT elmo_load('default', '$TINY_O', '$TINY_W');
SELECT elmo_limit('max_tokens', 7);
SELECT count(*) FROM elmo_tokens('one two three');
EOF
expect_eq "$(cat "$T/out")" "default
4096
3" "loaded twice"
expect_eq "$(cat "$T/err")" "" "loaded twice stderr"
no_sanitizer_report "loaded twice"

# ---- 4. every error path in one process --------------------------------------------------
G=$B/elmo-genmodel
run_gen() { # DIR ARGS...: a (possibly broken) model; the generator is not under test here
    dir=$1
    shift
    "$G" --out "$T/$dir" "$@" >/dev/null 2>&1 || bad "elmo-genmodel $*"
}
run_gen trunc --truncate 2000
run_gen omit --omit CNN_proj
run_gen shape --reshape char_embed=7,4
run_gen other --seed 5

cat >"$T/errors.sql" <<EOF
SELECT elmo_load('default', '$TINY_O', '$TINY_W');
SELECT elmo_embed(1);
SELECT elmo_embed(x'00', 'top');
SELECT * FROM elmo_tokens(2.5);
SELECT elmo_embed(CAST(zeroblob(10000000) AS TEXT));
SELECT elmo_embed(replace(hex(zeroblob(100000)), '00', 'a '));
SELECT count(*) FROM elmo_tokens(replace(hex(zeroblob(100000)), '00', 'a '));
SELECT elmo_embed('a', '{"output":');
SELECT elmo_embed('a', '{"foo":1}');
SELECT elmo_embed('a', '{"output":"top","output":"top"}');
SELECT elmo_embed('a', 'lstm3');
SELECT elmo_embed('a', '[1,2]');
SELECT elmo_embed('a', '{"gamma":"x"}');
SELECT elmo_embed('a', '{"layer_norm":1}');
SELECT elmo_embed('a', '{"tokenizer":"x"}');
SELECT elmo_embed('a', '{"pooling":"x"}');
SELECT elmo_embed('a', '{"model":"nope"}');
SELECT elmo_embed('a', 7);
SELECT elmo_embed('a', '');
SELECT * FROM elmo_tokens('a', '{"output":[1,"x",3]}');
SELECT * FROM elmo_tokens;
SELECT elmo_load('bad', '$T/trunc/options.json', '$T/trunc/weights.hdf5');
SELECT elmo_load('bad', '$T/omit/options.json', '$T/omit/weights.hdf5');
SELECT elmo_load('bad', '$T/shape/options.json', '$T/shape/weights.hdf5');
SELECT elmo_load('bad', '$T/missing.json', '$TINY_W');
SELECT elmo_load('default', '$T/other/options.json', '$T/other/weights.hdf5');
SELECT elmo_load(NULL, 'a', 'b');
SELECT elmo_unload('nope');
SELECT elmo_cosine(x'000000', '[1]');
SELECT elmo_cosine('[1,2]', '[1]');
SELECT elmo_cosine('nope', '[1]');
SELECT elmo_json(x'0000c07f');
SELECT elmo_limit('nope');
SELECT elmo_limit('max_tokens', 0);
SELECT length(elmo_embed('still works after all that'));
EOF
cli <"$T/errors.sql"
n_errors=$(grep -c "^\(Runtime error\|Parse error\|Error\).*elmo_" "$T/err")
expect_eq "$n_errors" 33 "errors reported by the error script"
expect_eq "$(tail -n 1 "$T/out")" 128 "the connection works after the errors"
for part in "elmo_embed: text must be TEXT or NULL, got INTEGER" \
    "elmo_embed: text is 10000000 bytes, more than max_text_bytes = 1000000" \
    "elmo_embed: text has 100000 tokens, more than max_tokens = 4096" \
    "elmo_tokens: text has 100000 tokens, more than max_tokens = 4096" \
    "elmo_embed: options are not valid JSON" \
    "elmo_embed: unknown option 'foo'" \
    "elmo_embed: option 'output' is given twice" \
    "elmo_embed: output 'lstm3' does not exist" \
    "elmo_embed: no model named 'nope'; loaded: default" \
    "elmo_tokens: the text argument is missing" \
    "elmo_load: cannot load model 'bad'" \
    "elmo_load: cannot open options file '$T/missing.json': No such file or directory" \
    "elmo_load: a different model is already loaded as 'default'" \
    "elmo_cosine: vectors have different dimensions (2 and 1)" \
    "elmo_json: the argument has a value at index 0 that is NaN" \
    "elmo_limit: unknown limit 'nope'"; do
    expect_contains "$(cat "$T/err")" "$part" "error script"
done
no_sanitizer_report "error script"

# ---- 5. every option of the success path under the sanitizers ----------------------------
cli <<EOF
SELECT elmo_load('default', '$TINY_O', '$TINY_W');
SELECT elmo_load('other', '$T/other/options.json', '$T/other/weights.hdf5');
CREATE TABLE t(x TEXT);
INSERT INTO t VALUES ('The bank raised rates.'), (''), (NULL), ('Don''t panic!'),
    (CAST(x'62616E6BFF20C328' AS TEXT));
SELECT count(elmo_embed(x, o.v)), count(*) FROM t, (SELECT value AS v FROM json_each('[
    null, "top", "word", "lstm1", "lstm2", "all", "[1,2,3]",
    "{\"output\":\"average\",\"gamma\":2,\"layer_norm\":true,\"pooling\":\"max\"}",
    "{\"output\":[0,1,2],\"layer_norm\":true,\"tokenizer\":\"whitespace\"}",
    "{\"model\":\"other\",\"output\":\"all\",\"pooling\":\"max\"}"]')) AS o;
SELECT count(*), sum(length(vector)) FROM t, elmo_tokens(t.x, '{"output":"all","layer_norm":true}');
SELECT elmo_json(elmo_embed(x)), elmo_cosine(elmo_embed(x), elmo_json(elmo_embed(x))) FROM t;
SELECT * FROM elmo_models;
SELECT elmo_unload('other');
SELECT elmo_unload('default');
EOF
expect_eq "$(cat "$T/err")" "" "success paths stderr"
# 3 texts with tokens x 10 options are embedded (empty and NULL texts give NULL); the
# tokens are 5 + 4 + 3, each with 3 layers x 32 float32 values
expect_eq "$(sed -n 3,4p "$T/out")" "30|50
12|4608" "success paths output"
no_sanitizer_report "success paths"

echo "test_cli.sh: $checks checks, $failures failed"
[ "$failures" -eq 0 ]
