"""`elmo embed --stream`: id<TAB>text or JSON lines in, id<TAB>vector lines out in input
order, vectors equal to elmo_embed, per-line errors, batching on a pipe that stays open."""
import base64
import json
import os
import select
import signal
import struct
import subprocess
import time
import unittest

from elmo_cli import TINY_DIR, assert_vectors_match, popen, run, sentences
from elmo_sql import connect


def expected(texts, options=None):
    con = connect()
    out = [con.execute("SELECT elmo_embed(?, ?)", (t, options)).fetchone()[0] for t in texts]
    con.close()
    return out


def json_blob(text):
    xs = json.loads(text)
    return None if xs is None else struct.pack("<%df" % len(xs), *xs)


class Stream(unittest.TestCase):
    def stream(self, data, *flags):
        return run("embed", "--stream", "--model", TINY_DIR, *flags, input=data)

    def test_tsv_in_order_with_json_vectors(self):
        texts = sentences(150, seed=2)
        ids = ["doc-%d" % i for i in range(len(texts))]
        data = "".join("%s\t%s\n" % (i, t) for i, t in zip(ids, texts))
        r = self.stream(data, "--batch", "16")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        lines = r.stdout.split("\n")
        self.assertEqual(lines[-1], "")
        pairs = [line.split("\t") for line in lines[:-1]]
        self.assertEqual([p[0] for p in pairs], ids)
        got = {i: json_blob(p[1]) for i, p in enumerate(pairs)}
        assert_vectors_match(self, got, dict(enumerate(expected(texts))))

    def test_base64_and_options(self):
        texts = ["The bank raised rates.", "We sat on the river bank .", ""]
        data = "".join("%d\t%s\n" % (i, t) for i, t in enumerate(texts))
        r = self.stream(data, "--format", "base64", "--options", "top")
        self.assertEqual(r.returncode, 0, r.stderr)
        pairs = [line.split("\t") for line in r.stdout.splitlines()]
        self.assertEqual([p[0] for p in pairs], ["0", "1", "2"])
        self.assertEqual(pairs[2][1], "")  # no tokens: no vector
        got = {i: base64.b64decode(p[1]) if p[1] else None for i, p in enumerate(pairs)}
        assert_vectors_match(self, got, dict(enumerate(expected(texts, "top"))))

    def test_tabs_newlines_crlf_and_json_lines(self):
        data = ("a\tfirst\tsecond part\r\n"            # text: all after the first tab; \r cut
                '{"id": 7, "text": "line one\\nline two\\tand a tab"}\n'
                '{"text": "ids: strings", "id": "x\\ty"}\n'
                '{"id": "s", "text": null}\n'
                "  {\"id\": 1.5, \"text\": \"a\"}\n"
                "last\tno newline at the end")
        r = self.stream(data)
        self.assertEqual(r.returncode, 0, r.stderr)
        pairs = [line.split("\t", 1) for line in r.stdout.splitlines()]
        self.assertEqual([p[0] for p in pairs], ["a", "7", '"x\\ty"', "s", "1.5", "last"])
        self.assertEqual(pairs[3][1], "null")
        want = expected(["first\tsecond part", "line one\nline two\tand a tab", "ids: strings",
                         None, "a", "no newline at the end"])
        assert_vectors_match(self, {i: json_blob(p[1]) for i, p in enumerate(pairs)},
                             dict(enumerate(want)))
        # --input tsv reads a leading { as an id
        r = self.stream('{"id": 1}\tx\n', "--input", "tsv")
        self.assertTrue(r.stdout.startswith('{"id": 1}\t['), r.stdout)

    def test_errors_per_line(self):
        data = ("ok1\tfine text\n"
                "notab\n"
                "\n"
                "long\t%s\n"
                "{\"id\": [1], \"text\": \"x\"}\n"
                "{broken\n"
                "ok2\tstill fine\n") % " ".join(["w"] * 5000)
        r = self.stream(data, "--batch", "3")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 7)
        self.assertTrue(lines[0].startswith("ok1\t["))
        self.assertEqual(lines[1:6], [
            "notab\tERROR: line 2 has no tab; expected id<TAB>text",
            "\tERROR: line 3 is empty; expected id<TAB>text",
            "long\tERROR: text has 5000 tokens, more than --max-tokens 4096; raise it with "
            "--max-tokens N",
            "\tERROR: line 5 has no \"id\" string or number",
            "\tERROR: line 6 is not a JSON object; expected {\"id\": ..., \"text\": ...}",
        ])
        self.assertTrue(lines[6].startswith("ok2\t["))
        r = self.stream(data, "--batch", "3", "--on-error=fail")
        self.assertEqual(r.returncode, 7)
        self.assertEqual(r.stdout.splitlines(), lines[:1])
        self.assertEqual(r.stderr, "elmo embed: line 2 (id notab) failed: line 2 has no tab; "
                                   "expected id<TAB>text\n")

    def test_flags(self):
        r = run("embed", "--stream", "--format", "xml")
        self.assertEqual(r.returncode, 2)
        self.assertTrue(r.stderr.startswith("elmo embed: --format must be json or base64, got "
                                            "'xml'\nusage: elmo embed --stream"), r.stderr)
        r = run("embed", "--stream", "--batch", "0")
        self.assertEqual(r.returncode, 2)
        r = run("embed", "--stream", input="a\tb\n")
        self.assertEqual(r.returncode, 4)
        self.assertTrue(r.stderr.startswith("elmo embed: no model: give --model PATH"), r.stderr)

    def test_partial_batch_is_flushed_while_the_pipe_stays_open(self):
        """A coprocess: each line's answer comes back without closing stdin."""
        proc = popen("embed", "--stream", "--model", TINY_DIR, "--batch", "64",
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            for k in range(3):
                proc.stdin.write(("q%d\tquestion number %d\n" % (k, k)).encode())
                proc.stdin.flush()
                ready, _, _ = select.select([proc.stdout], [], [], 30)
                self.assertTrue(ready)
                line = proc.stdout.readline().decode()
                self.assertTrue(line.startswith("q%d\t[" % k), line)
            proc.send_signal(signal.SIGINT)
            self.assertEqual(proc.wait(timeout=30), 130)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdin.close()
            proc.stdout.close()


if __name__ == "__main__":
    unittest.main()
