"""SQLite's one writer, taken in turn by every thread and process on the file (decisions §33).

Left to SQLite, a writer that finds the database busy retries ``BEGIN IMMEDIATE`` in SQLite's
busy handler, which sleeps 1, 2, 5, 10 … up to 100 ms between tries whatever happens
meanwhile: with an API in two processes beside a worker, a publish that lost a few races
waited over a second behind transactions of two or three milliseconds. So writers queue:
within a process on a lock of the process, and the one at its front on an advisory lock
(``flock``) of a file beside the database, tried every 0.1 to 1 ms, so the next process
starts within a millisecond of the last commit; the kernel frees it when its holder dies (a
SIGKILLed process leaves no turn held). The turn only orders writers; SQLite's own lock
still decides, so a writer that could not get the turn in time (a holder stopped
mid-transaction) goes on to SQLite's handler and its timeout, as before.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

# Between tries for the file: short, for the turn changes hands every few milliseconds.
_FIRST_PAUSE, _LONGEST_PAUSE = 0.000_1, 0.001


class WriterTurn:
    """A re-entrant context manager: held, this thread is the file's only writer of ours."""

    def __init__(self, database_file: Path | None, wait_seconds: float) -> None:
        # Absolute now: every process names the same file whatever directory it runs in later.
        self._lock_path = (
            None if database_file is None else Path(f"{database_file.absolute()}-writer")
        )
        self._wait_seconds = wait_seconds
        self._in_process = threading.RLock()
        self._depth = 0
        self._holds_file = False
        self._fd: int | None = None
        self._fd_pid = 0

    def __enter__(self) -> WriterTurn:
        self._in_process.acquire()
        self._depth += 1
        if self._depth == 1:
            try:
                self._holds_file = self._take_file()
            except BaseException:
                self._leave()
                raise
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _error: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self._leave()

    def _leave(self) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._holds_file:
                self._holds_file = False
                assert self._fd is not None
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._in_process.release()

    def _take_file(self) -> bool:
        fd = self._file()
        if fd is None:
            return False
        deadline = time.monotonic() + self._wait_seconds
        pause = _FIRST_PAUSE
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    log.warning(
                        "another process has held the database's writer turn for %.0f s; "
                        "waiting on SQLite's own lock instead",
                        self._wait_seconds,
                    )
                    return False
                time.sleep(pause)
                pause = min(pause * 2, _LONGEST_PAUSE)
            except OSError as error:  # a file system without locks
                self._without_turn(error)
                return False

    def _file(self) -> int | None:
        """This process's own descriptor: one inherited through a fork would share the
        parent's lock instead of queueing against it."""
        if self._lock_path is None:
            return None
        if self._fd is None or self._fd_pid != os.getpid():
            try:
                self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as error:
                self._without_turn(error)
                return None
            self._fd_pid = os.getpid()
        return self._fd

    def _without_turn(self, error: OSError) -> None:
        """From now on SQLite's busy handler alone orders this process's writers."""
        log.warning("writers not queued across processes: %s", error)
        self._lock_path = None

    def close(self) -> None:
        if self._fd is not None and self._fd_pid == os.getpid():
            os.close(self._fd)
        self._fd = None
