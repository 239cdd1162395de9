-- triggers.sql - keeping stored embeddings current with triggers: every INSERT, UPDATE
-- and DELETE on `notes` updates `note_embeddings`.
--
--   sqlite3 :memory: -cmd ".load build/release/elmo" < sql/triggers.sql
--
-- elmo_embed() may run inside triggers. (With PRAGMA trusted_schema=OFF, SQLite allows only
-- functions marked innocuous in triggers; elmo_embed is not, as it may load a model.)
.headers on
.mode column

SELECT elmo_load('default', 'models/elmo-tiny/options.json',
                 'models/elmo-tiny/weights.hdf5') AS loaded;

CREATE TABLE notes (
    id   INTEGER PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE note_embeddings (
    note_id   INTEGER PRIMARY KEY REFERENCES notes (id) ON DELETE CASCADE,
    embedding BLOB
);

CREATE TRIGGER notes_embed_insert AFTER INSERT ON notes BEGIN
    INSERT OR REPLACE INTO note_embeddings (note_id, embedding)
    VALUES (new.id, elmo_embed(new.body));
END;
CREATE TRIGGER notes_embed_update AFTER UPDATE OF body ON notes BEGIN
    UPDATE note_embeddings SET embedding = elmo_embed(new.body) WHERE note_id = new.id;
END;
CREATE TRIGGER notes_embed_delete AFTER DELETE ON notes BEGIN
    DELETE FROM note_embeddings WHERE note_id = old.id;
END;

-- A view that says whether every stored embedding matches its note's current text.
CREATE TEMP VIEW sync_check AS
SELECT (SELECT count(*) FROM notes) AS notes,
       (SELECT count(*) FROM note_embeddings) AS embeddings,
       (SELECT count(*) FROM notes AS n JOIN note_embeddings AS e ON e.note_id = n.id
         WHERE e.embedding IS elmo_embed(n.body)) AS current;

INSERT INTO notes (body) VALUES
    ('Buy milk and bread on the way home.'),
    ('Call the bank about the mortgage.'),
    ('The river path is closed after the storm.');
SELECT 'after insert' AS step, * FROM sync_check;

UPDATE notes SET body = 'Call the bank about the car loan.' WHERE id = 2;
SELECT 'after update' AS step, * FROM sync_check;

DELETE FROM notes WHERE id = 1;
SELECT 'after delete' AS step, * FROM sync_check;

.mode line
SELECT (SELECT notes = embeddings AND embeddings = current FROM sync_check) AS in_sync;
