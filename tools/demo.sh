#!/bin/sh
# demo.sh - `make demo`: a narrated tour of the extension with the bundled tiny model, one
# step at a time through the sqlite3 CLI (the same statements as sql/quickstart.sql).
#
#   B=build/release SQLITE3=sqlite3 sh tools/demo.sh      (from the repo root)
set -eu
B=${B:-build/release}
SQLITE3=${SQLITE3:-sqlite3}
LOAD=".output /dev/null
SELECT elmo_load('default', 'models/elmo-tiny/options.json', 'models/elmo-tiny/weights.hdf5');
.output stdout"

if [ ! -f "$B/elmo.so" ]; then
    echo "demo: $B/elmo.so is not built; run make" >&2
    exit 1
fi

# step TITLE EXPLANATION SQL: prints a heading, what the numbers mean, then the result.
step() {
    printf '\n== %s ==\n%s\n\n' "$1" "$2"
    printf '%s\n' "$3" | sed '1s/^/    sqlite> /; 2,$s/^/       ...> /'
    echo
    printf '.bail on\n.headers on\n.mode column\n%s\n%s\n' "$LOAD" "$3" |
        "$SQLITE3" :memory: -cmd ".load $B/elmo" | sed 's/^/    /'
}

cat <<'EOF'
sqlite-elmo demo: ELMo embeddings computed inside SQLite.

The model used here is models/elmo-tiny, AllenNLP's tiny *test* model (32-dimensional
vectors, random-looking weights). It shows how the SQL works; its similarities carry no
meaning. For real vectors fetch an official model (Small: 52 MiB) with:

    make model MODEL=small          # then: SELECT elmo_load('default', 'models/small')
EOF

step "1. Load a model" \
"elmo_load registers a model under a name for the whole process. dim is the vector width
(D = 2 x projection size), layers the L + 1 output layers (layer 0 = character CNN,
then one per LSTM layer), params the number of weights." \
"SELECT name, dim, layers, params FROM elmo_models;"

step "2. Embed a text" \
"elmo_embed returns a BLOB of dim little-endian float32 values: the mean over the text's
tokens of the average of the layers. elmo_json shows it as numbers." \
"SELECT length(elmo_embed('The cat sat on the mat.')) / 4 AS dims,
       substr(elmo_json(elmo_embed('The cat sat on the mat.')), 1, 40) || ' ...' AS vector;"

step "3. One row per token" \
"elmo_tokens splits the text as the models' training data was split and gives each token
its byte offsets and its own contextual vector." \
"SELECT i, token, start, \"end\", length(vector) / 4 AS dims
FROM elmo_tokens('Don''t panic: the U.S. team won 6-3!');"

step "4. Choose the output" \
"'top' is the last LSTM layer, 'all' the L + 1 layers side by side (3 x 32 = 96 here);
a JSON object sets several options at once." \
"SELECT length(elmo_embed('The cat sat on the mat.', 'top')) / 4 AS top_dims,
       length(elmo_embed('The cat sat on the mat.', 'all')) / 4 AS all_dims;"

step "5. Compare texts" \
"elmo_cosine is the cosine similarity, from -1 to 1. With the tiny test model the numbers
are close together and mean nothing; with real weights similar sentences score higher." \
"SELECT round(elmo_cosine(elmo_embed('The cat sat on the mat.'),
                         elmo_embed('A cat was sitting on a mat.')), 4) AS cat_vs_cat,
       round(elmo_cosine(elmo_embed('The cat sat on the mat.'),
                         elmo_embed('Stock markets fell sharply today.')), 4) AS cat_vs_stocks;"

cat <<'EOF'

== Next ==
sql/ has more examples (semantic search, triggers, generated columns, word senses,
sqlite-vec); run one with:

    sqlite3 :memory: -cmd ".load build/release/elmo" < sql/semantic_search.sql
EOF
