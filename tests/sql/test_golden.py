"""test_golden.py - SQL results against the golden TensorFlow outputs of the tiny model
(tests/fixtures/elmo-tiny, read with h5dump from hdf5-tools):
  - the top layer of sentence 0 of each of the 3 streams (stateless = the fixture's first
    sentence), through elmo_tokens(text, '{"tokenizer":"whitespace","output":"top"}');
  - layer 0 of the 458 vocabulary tokens (elmo_token_embeddings.hdf5) through
    elmo_tokens(token, 'word'), whose two halves are the token embedding."""
import json
import os
import shutil
import unittest

from elmo_sql import FIXTURES, ElmoTestCase, h5_dataset, module_connection, vectors

TOL = 1e-5
con = None
setUpModule, tearDownModule = module_connection(globals())


@unittest.skipUnless(shutil.which("h5dump"), "h5dump not found (apt-get install hdf5-tools)")
class Golden(ElmoTestCase):
    def test_top_layer_of_the_first_sentence_of_each_stream(self):
        with open(os.path.join(FIXTURES, "sentences.json")) as f:
            streams = json.load(f)
        self.assertEqual(len(streams), 3)
        worst = 0.0
        for k, stream in enumerate(streams):
            text = stream[0]
            shape, gold = h5_dataset(os.path.join(FIXTURES, "lm_embeddings_%d.hdf5" % k), "/0")
            rows = vectors(con, text, {"tokenizer": "whitespace", "output": "top"})
            n, P = len(rows), shape[2]
            self.assertEqual(shape, (2, n, P))
            self.assertEqual(len(gold), 2 * n * P)
            for j, row in enumerate(rows):
                expected = gold[j * P:(j + 1) * P] + gold[(n + j) * P:(n + j + 1) * P]  # [fwd; bwd]
                d = max(abs(a - b) for a, b in zip(row, expected))
                worst = max(worst, d)
                self.assertLessEqual(d, TOL, "stream %d token %d" % (k, j))
        self.assertGreater(worst, 0.0)  # a real comparison, not identical files

    def test_word_layer_of_the_vocabulary(self):
        with open(os.path.join(FIXTURES, "vocab_test.txt"), encoding="utf-8") as f:
            vocab = [line.rstrip("\n") for line in f]
        shape, gold = h5_dataset(os.path.join(FIXTURES, "elmo_token_embeddings.hdf5"), "/embedding")
        self.assertEqual(shape, (458, 16))
        self.assertEqual(len(vocab), 458)
        for i, word in enumerate(vocab):
            rows = vectors(con, word, {"tokenizer": "whitespace", "output": "word"})
            self.assertEqual(len(rows), 1, word)
            expected = gold[16 * i:16 * (i + 1)]
            self.assertVectorsClose(rows[0], expected + expected, TOL, word)


if __name__ == "__main__":
    unittest.main()
