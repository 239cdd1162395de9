-- generated_column.sql - embeddings as a STORED generated column, and an index on an
-- embedding expression for exact-duplicate lookups. elmo_embed is DETERMINISTIC: the same
-- text, options and model give the same bytes on every path.
--
--   sqlite3 :memory: -cmd ".load build/release/elmo" < sql/generated_column.sql
--
-- The bundled tiny model is a test model: its vectors carry no meaning.
.headers on
.mode column

SELECT elmo_load('default', 'models/elmo-tiny/options.json',
                 'models/elmo-tiny/weights.hdf5') AS loaded;

CREATE TABLE notes (
    id        INTEGER PRIMARY KEY,
    body      TEXT NOT NULL,
    embedding BLOB AS (elmo_embed(body)) STORED
);
INSERT INTO notes (body) VALUES
    ('Buy milk and bread on the way home.'),
    ('Call the bank about the mortgage.'),
    ('The river path is closed after the storm.'),
    ('Call the bank about the mortgage.');

-- 1. Every row's embedding is exactly what elmo_embed returns now.
SELECT count(*) AS notes, sum(embedding IS elmo_embed(body)) AS current FROM notes;

-- 2. Updating the text recomputes the column.
UPDATE notes SET body = 'Buy milk, bread and eggs.' WHERE id = 1;
SELECT id, embedding IS elmo_embed('Buy milk, bread and eggs.') AS recomputed
FROM notes WHERE id = 1;

-- 3. Exact duplicates by vector, through an index on the expression.
CREATE INDEX notes_by_top ON notes (elmo_embed(body, 'top'));
SELECT a.id AS note, b.id AS same_as
FROM notes AS a JOIN notes AS b
  ON elmo_embed(b.body, 'top') = elmo_embed(a.body, 'top') AND b.id < a.id;

-- 4. Which model made the vectors: store the fingerprint beside them when you keep them.
SELECT name, dim FROM elmo_models;
