-- quickstart.sql - ELMo embeddings in SQLite in five steps.
--
-- Run from the repository root (this is also `make demo`):
--   sqlite3 :memory: -cmd ".load build/release/elmo" < sql/quickstart.sql
--
-- The bundled model (models/elmo-tiny) is AllenNLP's tiny test model: 32-dimensional
-- vectors, fast, good for trying the SQL. Its similarities are not meaningful; load the
-- official AllenNLP weights (see the README) for real ones.
.headers on
.mode column

-- 1. Load a model under a name ('default' is used when a call names none).
SELECT elmo_load('default', 'models/elmo-tiny/options.json',
                 'models/elmo-tiny/weights.hdf5') AS loaded;
SELECT name, dim, layers, params FROM elmo_models;

-- 2. Embed a text: a BLOB of little-endian float32 (4 bytes x dim), the mean over the
--    text's tokens of the average of the model's layers.
SELECT length(elmo_embed('The cat sat on the mat.')) / 4 AS dims;
SELECT substr(elmo_json(elmo_embed('The cat sat on the mat.')), 1, 50) || ' ...' AS as_json;

-- 3. One row per token, with byte offsets and the token's contextual vector.
SELECT i, token, start, "end", length(vector) / 4 AS dims
FROM elmo_tokens('Don''t panic: the U.S. team won 6-3!');

-- 4. Options: a bare output name, or a JSON object.
SELECT length(elmo_embed('The cat sat on the mat.', 'top')) / 4 AS top_dims,
       length(elmo_embed('The cat sat on the mat.', 'all')) / 4 AS all_layers_dims,
       length(elmo_embed('The cat sat on the mat.',
                         '{"output":"lstm1","pooling":"max","gamma":2}')) / 4 AS lstm1_max_dims;

-- 5. Compare texts with cosine similarity.
SELECT round(elmo_cosine(elmo_embed('The cat sat on the mat.'),
                         elmo_embed('A cat was sitting on a mat.')), 4) AS cat_vs_cat,
       round(elmo_cosine(elmo_embed('The cat sat on the mat.'),
                         elmo_embed('Stock markets fell sharply today.')), 4) AS cat_vs_stocks;

.mode line
SELECT elmo_version() AS version;
