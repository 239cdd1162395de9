-- semantic_search.sql - a documents table, its embeddings filled by INSERT ... SELECT,
-- and top-k search by cosine similarity.
--
--   sqlite3 :memory: -cmd ".load build/release/elmo" < sql/semantic_search.sql
--
-- With the bundled tiny test model the rankings are not meaningful (its vectors carry
-- little meaning); with the official weights the same SQL finds related texts.
.headers on
.mode column

SELECT elmo_load('default', 'models/elmo-tiny/options.json',
                 'models/elmo-tiny/weights.hdf5') AS loaded;

CREATE TABLE docs (
    id   INTEGER PRIMARY KEY,
    body TEXT NOT NULL
);
INSERT INTO docs (body) VALUES
    ('The central bank raised interest rates again this year.'),
    ('Heavy rain flooded the river and the fields.'),
    ('The striker scored twice and the team won the final.'),
    ('Investors sold shares as the stock market fell sharply.'),
    ('The recipe needs flour, butter, sugar and two eggs.'),
    ('The new phone has a faster chip and a better camera.'),
    ('Fishermen pulled their boats onto the muddy river bank.'),
    ('The orchestra played a symphony by Beethoven last night.');

-- One embedding per document, computed once and stored.
CREATE TABLE doc_embeddings (
    doc_id    INTEGER PRIMARY KEY REFERENCES docs (id),
    embedding BLOB NOT NULL
);
INSERT INTO doc_embeddings (doc_id, embedding)
SELECT id, elmo_embed(body) FROM docs;

SELECT count(*) AS embedded, min(length(embedding)) / 4 AS dims FROM doc_embeddings;

-- For a whole column, elmo_batch is the fast way: it runs the texts through the model in
-- batches of similar lengths and returns (id, vector) in the query's order. Same vectors.
CREATE TABLE doc_embeddings_batch (doc_id INTEGER PRIMARY KEY, embedding BLOB NOT NULL);
INSERT INTO doc_embeddings_batch (doc_id, embedding)
SELECT id, vector FROM elmo_batch('SELECT id, body FROM docs');

SELECT count(*) AS batch_embedded,
       round(min(elmo_cosine(a.embedding, b.embedding)), 6) AS min_cosine_to_elmo_embed
FROM doc_embeddings AS a JOIN doc_embeddings_batch AS b USING (doc_id);

-- Top 3 documents for a query: embed the query once, rank by cosine (the exact score: a
-- rounded one would make near ties look equal and order them arbitrarily).
WITH query AS (SELECT elmo_embed('boats on the river bank') AS v)
SELECT d.id, d.body, round(elmo_cosine(e.embedding, query.v), 4) AS score
FROM docs AS d
JOIN doc_embeddings AS e ON e.doc_id = d.id, query
ORDER BY elmo_cosine(e.embedding, query.v) DESC
LIMIT 3;

-- A document is its own best match (cosine 1): searching with a document's exact text.
WITH query AS (SELECT elmo_embed('The striker scored twice and the team won the final.') AS v)
SELECT d.id, round(elmo_cosine(e.embedding, query.v), 4) AS score
FROM docs AS d
JOIN doc_embeddings AS e ON e.doc_id = d.id, query
ORDER BY elmo_cosine(e.embedding, query.v) DESC
LIMIT 1;
