"""`elmo embed` and other connections' locks: on a database not yet in WAL mode (the first
run) and on one in WAL mode, a run waits for another writer as long as --busy-timeout says,
goes on when the lock is released, and otherwise stops (exit 5) saying how long it really
waited. Inserts made while a first run goes are all picked up. CI runs this file 20 times
(`make check-locks`): it must pass every time, also on a loaded machine."""
import os
import re
import sqlite3
import subprocess
import threading
import time
import unittest

from elmo_cli import (DbCase, assert_vectors_match, embed_args, expected_vectors, make_db,
                      output_vectors, popen, run, sentences)


class Locks(DbCase):
    def setUp(self):
        super().setUp()
        make_db(self.db, sentences(40, seed=2))

    def journal_mode(self):
        con = sqlite3.connect(self.db)
        (mode,) = con.execute("PRAGMA journal_mode").fetchone()
        con.close()
        return mode

    def hold(self, begin):
        """A connection holding a write lock (BEGIN IMMEDIATE: reserved; BEGIN EXCLUSIVE:
        no reader either, in rollback-journal mode)."""
        holder = sqlite3.connect(self.db, isolation_level=None, check_same_thread=False)
        holder.execute(begin)
        holder.execute("INSERT INTO docs(body) VALUES ('written while holding the lock')")
        return holder

    def release_after(self, holder, seconds):
        def release():
            time.sleep(seconds)
            holder.execute("COMMIT")
            holder.close()
        t = threading.Thread(target=release)
        t.start()
        return t

    def check_waits_then_runs(self, begin, first_run):
        if not first_run:
            self.assertEqual(run(*embed_args(self.db, "--quiet")).returncode, 0)
            self.assertEqual(self.journal_mode(), "wal")
        else:
            self.assertEqual(self.journal_mode(), "delete")
        holder = self.hold(begin)
        releaser = self.release_after(holder, 1.0)
        start = time.monotonic()
        try:
            r = run(*embed_args(self.db, "--quiet"))
        finally:
            releaser.join()
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertGreaterEqual(time.monotonic() - start, 0.9)  # it did wait
        self.assertEqual(self.journal_mode(), "wal")
        r = run(*embed_args(self.db))  # the row inserted under the lock, if not yet embedded
        self.assertEqual(r.returncode, 0, r.stderr)
        assert_vectors_match(self, output_vectors(self.db), expected_vectors(self.db))

    def test_first_run_waits_for_a_writer(self):
        """PRAGMA journal_mode=WAL answers 'busy' at once while another connection writes;
        the run retries it until --busy-timeout."""
        self.check_waits_then_runs("BEGIN IMMEDIATE", first_run=True)

    def test_first_run_waits_for_an_exclusive_writer(self):
        self.check_waits_then_runs("BEGIN EXCLUSIVE", first_run=True)

    def test_later_run_waits_for_a_writer(self):
        self.check_waits_then_runs("BEGIN IMMEDIATE", first_run=False)

    def check_gives_up(self, what, first_run):
        if not first_run:
            self.assertEqual(run(*embed_args(self.db, "--quiet")).returncode, 0)
            self.query("UPDATE docs SET body = 'changed' WHERE id = 3")
        holder = self.hold("BEGIN IMMEDIATE")
        start = time.monotonic()
        try:
            r = run(*embed_args(self.db, "--refresh", "--busy-timeout", "500"))
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        took = time.monotonic() - start
        self.assertEqual(r.returncode, 5, r.stderr)
        m = re.search(r"elmo embed: %s: database '%s' is locked by another connection \(waited "
                      r"(\d+) ms of --busy-timeout 500\): database is locked; rerun when the "
                      r"other writer is done, or raise --busy-timeout\n"
                      % (re.escape(what), re.escape(self.db)), r.stderr)
        self.assertTrue(m, r.stderr)
        waited = int(m.group(1))
        # what it says is what happened: the whole timeout, within the process's lifetime
        self.assertGreaterEqual(waited, 500)
        self.assertLessEqual(waited, took * 1000)
        self.assertGreaterEqual(took, 0.5)

    def test_first_run_gives_up_after_the_timeout(self):
        self.check_gives_up("cannot switch the database to WAL mode", first_run=True)
        self.assertEqual(self.journal_mode(), "delete")

    def test_later_run_gives_up_after_the_timeout(self):
        self.check_gives_up("cannot prepare the output tables", first_run=False)

    def test_inserts_during_a_first_run_are_picked_up(self):
        make_db(os.path.join(self.tmp.name, "big.db"), sentences(3000, seed=3))
        self.db = os.path.join(self.tmp.name, "big.db")
        proc = popen(*embed_args(self.db, "--chunk", "50", "--quiet"), stderr=subprocess.PIPE,
                     text=True)
        writer = sqlite3.connect(self.db, timeout=60)
        added = 0
        while proc.poll() is None and added < 40:
            writer.execute("INSERT INTO docs(body) VALUES (?)", ("inserted row %d" % added,))
            writer.execute("UPDATE docs SET body = body || ' !' WHERE id = 1")
            writer.commit()
            added += 1
            time.sleep(0.005)
        writer.close()
        self.assertEqual(proc.wait(timeout=120), 0, proc.stderr.read())
        proc.stderr.close()
        r = run(*embed_args(self.db, "--refresh"))
        self.assertEqual(r.returncode, 0, r.stderr)
        assert_vectors_match(self, output_vectors(self.db), expected_vectors(self.db))
        self.assertEqual(self.query("SELECT count(*) FROM docs"), [(3000 + added,)])


if __name__ == "__main__":
    unittest.main()
