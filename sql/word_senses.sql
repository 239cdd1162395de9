-- word_senses.sql - contextual word vectors: "bank" gets a different vector in each
-- sentence, and the vectors of the same sense are closer to each other.
--
--   sqlite3 :memory: -cmd ".load build/release/elmo" < sql/word_senses.sql
--
-- The bundled tiny test model has not learned word senses; here the same-sense sentences
-- also share most of their words, which is what brings their "bank" vectors together.
-- With the official weights, senses separate even when the wording differs.
.headers on
.mode column

SELECT elmo_load('default', 'models/elmo-tiny/options.json',
                 'models/elmo-tiny/weights.hdf5') AS loaded;

CREATE TEMP TABLE sentences (
    id    INTEGER PRIMARY KEY,
    sense TEXT NOT NULL,
    body  TEXT NOT NULL
);
INSERT INTO sentences (sense, body) VALUES
    ('river', 'The fisherman sat on the river bank at dawn.'),
    ('river', 'The fisherman slept on the river bank at dusk.'),
    ('money', 'She paid the loan at the bank on Friday.'),
    ('money', 'He paid the rent at the bank on Monday.');

-- The vector of "bank" in each sentence, from the top LSTM layer.
CREATE TEMP TABLE bank AS
SELECT s.id, s.sense, t.i AS position, t.vector
FROM sentences AS s, elmo_tokens(s.body, 'top') AS t
WHERE t.token = 'bank';

SELECT id, sense, position, substr(elmo_json(vector), 1, 50) || ' ...' AS vector FROM bank;

-- Every pair of "bank" vectors, most similar first.
SELECT a.id AS a, b.id AS b, a.sense = b.sense AS same_sense,
       round(elmo_cosine(a.vector, b.vector), 4) AS cosine
FROM bank AS a JOIN bank AS b ON a.id < b.id
ORDER BY cosine DESC;

.mode line
-- Layer 0 ('word') is the context-free character embedding: one vector for every "bank".
SELECT count(DISTINCT t.vector) AS distinct_word_layer_vectors
FROM sentences AS s, elmo_tokens(s.body, 'word') AS t
WHERE t.token = 'bank';
-- The LSTM layers see the context: four different vectors.
SELECT count(DISTINCT vector) AS distinct_top_layer_vectors FROM bank;
SELECT (SELECT min(elmo_cosine(a.vector, b.vector))
          FROM bank AS a JOIN bank AS b ON a.id < b.id AND a.sense = b.sense)
     > (SELECT max(elmo_cosine(a.vector, b.vector))
          FROM bank AS a JOIN bank AS b ON a.id < b.id AND a.sense <> b.sense)
       AS same_sense_is_closer;
