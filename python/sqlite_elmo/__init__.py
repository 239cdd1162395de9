"""sqlite_elmo - load the sqlite-elmo SQLite extension (ELMo embeddings in SQL) into Python's
sqlite3 connections.

    import sqlite3, sqlite_elmo
    con = sqlite3.connect("docs.db")
    sqlite_elmo.load(con)
    con.execute("SELECT elmo_load('default', 'model/options.json', 'model/weights.hdf5')")
    with sqlite_elmo.interruptible(con):      # Ctrl-C stops the statement at once
        con.execute("INSERT INTO doc_vec SELECT id, vector FROM elmo_batch("
                    "'SELECT id, body FROM docs')")

The interpreter's sqlite3 module must allow loading extensions (Debian's /usr/bin/python3
does; some builds, e.g. python.org's macOS installer or pyenv's defaults, do not).
"""
import os
import signal
import sqlite3
import threading

__all__ = ["path", "load", "interruptible"]
__version__ = "0.1.0"

ENV_PATH = "SQLITE_ELMO_PATH"
_HERE = os.path.dirname(os.path.abspath(__file__))


def path():
    """The path of the extension library, the first that exists of:
    $SQLITE_ELMO_PATH; the elmo.so bundled into the package at install time; the
    repository's build/release/elmo.so when the package is used from its source tree."""
    env = os.environ.get(ENV_PATH)
    if env:
        for candidate in (env, env + ".so"):
            if os.path.isfile(candidate):
                return os.path.abspath(candidate)
        raise FileNotFoundError("sqlite_elmo: %s=%r is not a file; point it at a built elmo.so"
                                % (ENV_PATH, env))
    candidates = [os.path.join(_HERE, "elmo.so"),
                  os.path.join(_HERE, "..", "..", "build", "release", "elmo.so")]
    for candidate in candidates:
        if os.path.isfile(candidate):
            return os.path.abspath(candidate)
    raise FileNotFoundError("sqlite_elmo: no elmo.so bundled or built (looked in %s); run "
                            "`make` in the sqlite-elmo repository and reinstall the package, or "
                            "set %s" % (", ".join(candidates), ENV_PATH))


def load(connection):
    """Loads the extension into a sqlite3.Connection (its SQL functions, elmo_batch...)."""
    if not hasattr(connection, "enable_load_extension"):
        raise RuntimeError("sqlite_elmo: this Python's sqlite3 module cannot load extensions "
                           "(it was built without them); use one that can, e.g. Debian's "
                           "/usr/bin/python3")
    connection.enable_load_extension(True)
    try:
        connection.load_extension(path())
    finally:
        connection.enable_load_extension(False)


class interruptible:
    """A context manager that makes Ctrl-C (SIGINT) interrupt the SQLite statement running
    on `connection` and raise KeyboardInterrupt within moments.

    Why: a long statement (elmo_batch over a big table) runs inside one C call, and
    Python runs its signal handlers only between bytecodes, so Ctrl-C would wait for the
    statement to end. Inside the block, the C-level signal handler writes the signal number
    to a pipe (signal.set_wakeup_fd); a watcher thread reading it calls
    connection.interrupt(), the statement fails with 'interrupted', and the block raises
    KeyboardInterrupt (its __cause__ is that OperationalError). Ctrl-C while Python code
    of the block runs raises KeyboardInterrupt as usual.

    Works in the main thread (elsewhere it does nothing: Python delivers signals to the
    main thread only). The block's SIGINT handler and wakeup fd are restored on exit.
    """

    def __init__(self, connection):
        self.connection = connection
        self.fired = False
        self._active = False
        self._exiting = False

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self.connection
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self._old_handler = signal.signal(signal.SIGINT, self._on_sigint)
        self._old_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._thread = threading.Thread(target=self._watch, name="sqlite_elmo-interrupt",
                                        daemon=True)
        self._active = True
        self._exiting = False
        self._thread.start()
        return self.connection

    def _on_sigint(self, signum, frame):
        # The Python-level handler. It runs once the interrupted statement has returned,
        # possibly as __exit__ starts: there it only records the signal, and __exit__
        # raises after restoring everything.
        self.fired = True
        if self._exiting or (frame is not None and frame.f_code is _EXIT_CODE):
            return
        raise KeyboardInterrupt()

    def _watch(self):
        while True:
            data = os.read(self._read, 512)
            if not data or not self._active:
                return
            if signal.SIGINT in data:
                self.fired = True
                self.connection.interrupt()
            if self._old_fd >= 0:  # pass the bytes on to a previous watcher (asyncio...)
                try:
                    os.write(self._old_fd, data)
                except OSError:
                    pass

    def __exit__(self, exc_type, exc, tb):
        if not self._active:
            return False
        self._exiting = True
        self._active = False
        signal.set_wakeup_fd(self._old_fd)
        signal.signal(signal.SIGINT, self._old_handler)
        os.write(self._write, b"\0")  # wakes the watcher, which sees _active False
        self._thread.join()
        os.close(self._read)
        os.close(self._write)
        if self.fired and not isinstance(exc, KeyboardInterrupt):
            cause = exc if isinstance(exc, sqlite3.OperationalError) else None
            raise KeyboardInterrupt() from cause
        return False


_EXIT_CODE = interruptible.__exit__.__code__
