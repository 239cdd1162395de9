"""The progress bar of `elmo embed` on a terminal (a pseudo-terminal): fitted to the
terminal's width (40, 80 and 200 columns, and after a resize), counts across runs, a
percentage that reads 100 only when every row is done, rates from the rows embedded."""
import fcntl
import os
import pty
import re
import select
import signal
import sqlite3
import struct
import subprocess
import termios
import time
import unittest

from elmo_cli import DbCase, embed_args, make_db, popen, run, sentences

CLEAR = "\x1b[K"


class Terminal:
    """A pseudo-terminal of `cols` columns whose slave side is the program's stderr."""

    def __init__(self, cols):
        self.master, self.slave = pty.openpty()
        self.resize(cols)
        self.out = b""

    def resize(self, cols):
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))

    def read(self, timeout):
        """Reads what arrives within `timeout` seconds; False once the program is gone."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the program closed the terminal
            return False
        self.out += data
        return bool(data)

    def read_until(self, pattern, timeout=60):
        end = time.monotonic() + timeout
        while not re.search(pattern, self.text()) and time.monotonic() < end:
            if not self.read(0.1):
                break
        return re.search(pattern, self.text())

    def drain(self):
        while self.read(30):
            pass
        os.close(self.master)

    def text(self):
        return self.out.decode()


def frames(text):
    """The bar's frames: each is drawn as "\\r" + line + CLEAR."""
    return [f[:-len(CLEAR)] for f in text.split("\r") if f.endswith(CLEAR)]


FRAME = re.compile(r"^(?:\[([#.]+)\] )?([\d,]+)/([\d,]+)(?: rows)?  (\d+)%")


def check_frame(test, frame, cols):
    """A frame fits the terminal, and its bar and percentage agree with its counts (the
    percentage rounds down: 100 only when every row is done)."""
    test.assertLessEqual(len(frame), cols - 1, (cols, frame))
    m = FRAME.match(frame)
    test.assertTrue(m, frame)
    done, total = int(m.group(2).replace(",", "")), int(m.group(3).replace(",", ""))
    test.assertEqual(int(m.group(4)), 100 * done // total, frame)
    if m.group(1):
        cells = len(m.group(1))
        test.assertEqual(m.group(1), "#" * (cells * done // total) + "." * (cells - cells * done //
                                                                            total), frame)
    return m


class Bar(DbCase):
    def run_on_terminal(self, cols, *more):
        term = Terminal(cols)
        proc = popen(*embed_args(self.db, *more), stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=term.slave)
        os.close(term.slave)
        term.drain()
        self.assertEqual(proc.wait(timeout=60), 0, term.text())
        return term.text()

    def test_widths(self):
        make_db(self.db, sentences(1500, seed=4))
        # what each width shows: the counts, the percentage and the ETA always, and a bar of
        # 8 cells or more where it fits (at 40 columns, without the word "rows"); rates at 80,
        # and the time when they are short; at 200 everything, with the bar at its widest
        parts = {
            40: r"^(\[[#.]{8,}\] [\d,]+/1,500( rows)?|[\d,]+/1,500 rows)  \d+%  ETA [\d:?]+$",
            80: r"^\[[#.]{8,}\] [\d,]+/1,500 rows  \d+%  [\d,]+ rows/s  [\d,]+ tokens/s  "
                r"(elapsed \d+:\d\d  )?ETA [\d:?]+$",
            200: r"^\[[#.]{38}\] [\d,]+/1,500 rows  \d+%  [\d,]+ rows/s  [\d,]+ tokens/s  "
                 r"elapsed \d+:\d\d  ETA [\d:?]+$",
        }
        for cols, pattern in parts.items():
            text = self.run_on_terminal(cols, "--chunk", "100", "--into", "vec%d" % cols)
            shown = frames(text)
            self.assertGreaterEqual(len(shown), 16)  # the start, every chunk, the end
            for f in shown:
                check_frame(self, f, cols)
                self.assertRegex(f, pattern)
            self.assertRegex(shown[0], r"(^| )0/1,500( rows)?  0%")
            self.assertRegex(shown[-1], r"(^| )1,500/1,500( rows)?  100%")
            self.assertIn("ETA 0:00", shown[-1])
            self.assertIn("\nelmo embed: 1,500 rows embedded, 0 already current, 0 errors", text)
            self.assertIn("; vec%d has 1,500 vectors for 1,500 source rows" % cols, text)

    def test_counts_across_runs(self):
        make_db(self.db, sentences(999, seed=5))
        self.assertEqual(run(*embed_args(self.db, "--quiet")).returncode, 0)
        self.query("INSERT INTO docs(body) VALUES ('one more row')")
        shown = frames(self.run_on_terminal(80))
        # the job's count, not this run's: 999 of 1,000 done is 99 %, not 100 %
        self.assertEqual(check_frame(self, shown[0], 80).group(2, 3, 4), ("999", "1,000", "99"))
        self.assertEqual(check_frame(self, shown[-1], 80).group(2, 3, 4),
                         ("1,000", "1,000", "100"))

    def test_rates_count_embedded_rows_only(self):
        make_db(self.db, sentences(300, seed=6, lo=5))
        r = run(*embed_args(self.db, "--max-tokens", "1"))  # every row fails
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"elmo embed: 0 rows embedded, 0 already current, 300 errors "
                                   r"\(see table docs_elmo_errors\), \d+\.\d s \(0 rows/s, 0 "
                                   r"tokens/s\)")

    def test_redrawn_on_resize(self):
        """While the job waits for a lock no chunk ends, so a frame drawn then is the resize's."""
        make_db(self.db, sentences(20000, seed=7))
        term = Terminal(200)
        proc = popen(*embed_args(self.db, "--chunk", "50", "--progress-interval", "3600"),
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=term.slave)
        os.close(term.slave)
        holder = None
        try:
            self.assertTrue(term.read_until(r"0/20,000 rows"))
            holder = sqlite3.connect(self.db, timeout=60, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")  # the next chunk's write waits
            time.sleep(0.5)
            while term.read(0.2):  # what was drawn before the lock
                if not select.select([term.master], [], [], 0)[0]:
                    break
            before = len(frames(term.text()))
            term.resize(40)
            proc.send_signal(signal.SIGWINCH)
            self.assertTrue(term.read_until(r"\r(\[[#.]+\] )?[\d,]+/20,000( rows)?  \d+%  "
                                            r"ETA [\d:?]+" + re.escape(CLEAR), timeout=10))
            shown = frames(term.text())
            self.assertGreater(len(shown), before)
            check_frame(self, shown[-1], 40)
            self.assertTrue(all(len(f) > 39 for f in shown[:before]))
        finally:
            if holder:
                holder.execute("ROLLBACK")
                holder.close()
        term.drain()
        self.assertEqual(proc.wait(timeout=120), 0, term.text())
        shown = frames(term.text())
        after = shown[shown.index(next(f for f in shown if len(f) <= 39)):]
        for f in after:
            check_frame(self, f, 40)
        self.assertRegex(after[-1], r"(^| )20,000/20,000( rows)?  100%")


if __name__ == "__main__":
    unittest.main()
