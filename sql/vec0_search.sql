-- vec0_search.sql - the semantic search of semantic_search.sql through sqlite-vec's vec0
-- virtual table (an index for k-nearest-neighbour queries). elmo_embed() returns the
-- float32 BLOBs vec0 stores.
--
-- Needs sqlite-vec's vec0.so. The npm package sqlite-vec-linux-x64 ships it:
--   mkdir -p build/vendor/sqlite-vec && cd build/vendor
--   npm pack sqlite-vec-linux-x64@0.1.9 && tar -xzf sqlite-vec-linux-x64-0.1.9.tgz
--   cp package/vec0.so sqlite-vec/ && cd ../..
-- (`make test-sql` does this when npm is available.) Then, from the repository root:
--   sqlite3 :memory: -cmd ".load build/release/elmo" < sql/vec0_search.sql
-- Without vec0.so the script stops at the .load below (.bail on) with one error line
-- instead of a cascade of "no such module: vec0" errors.
.bail on
.print -- loading sqlite-vec from build/vendor/sqlite-vec/vec0.so (see the head of sql/vec0_search.sql to get it)
.load build/vendor/sqlite-vec/vec0
.bail off
.headers on
.mode column

SELECT elmo_load('default', 'models/elmo-tiny/options.json',
                 'models/elmo-tiny/weights.hdf5') AS loaded;
SELECT vec_version() AS sqlite_vec, dim FROM elmo_models WHERE name = 'default';

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

-- The vector index: 32 dimensions (the `dim` of the model above), cosine distance.
CREATE VIRTUAL TABLE vec_docs USING vec0(embedding float[32] distance_metric=cosine);
INSERT INTO vec_docs (rowid, embedding) SELECT id, elmo_embed(body) FROM docs;

-- k nearest neighbours through the index (cosine similarity = 1 - cosine distance).
SELECT d.id, d.body, round(1 - v.distance, 4) AS score
FROM vec_docs AS v JOIN docs AS d ON d.id = v.rowid
WHERE v.embedding MATCH elmo_embed('boats on the river bank') AND k = 3
ORDER BY v.distance;

-- The same ranking by a full scan with elmo_cosine().
SELECT d.id, d.body, round(elmo_cosine(v.embedding, elmo_embed('boats on the river bank')), 4)
       AS score
FROM vec_docs AS v JOIN docs AS d ON d.id = v.rowid
ORDER BY elmo_cosine(v.embedding, elmo_embed('boats on the river bank')) DESC
LIMIT 3;
