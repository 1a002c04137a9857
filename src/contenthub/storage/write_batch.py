"""One thread writes a process's SQLite units of work, several to a transaction (decisions §35).

With a writer lock taken in turn, 40 request threads and the workers' threads handed SQLite's
one writer from thread to thread: each hand-over waited for the next holder to get the GIL
back from whichever of the other threads had it, and the writer sat idle for about 40 % of a
publish benchmark while every thread queued for it. Here callers queue their unit of work
and wait; one thread of the process takes everything queued (up to ``most``) and the
database runs it as one batch (``Database._write_batch``: one transaction, a savepoint per
unit of work, so a unit that fails is undone alone). The caller gets its own result or its
own exception, after the commit.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Pending(Generic[T]):
    """A unit of work waiting in the queue, then its result or its error."""

    __slots__ = ("_done", "_on_settled", "error", "result", "work")

    def __init__(
        self, work: Callable[[Any], T], on_settled: Callable[[], None] | None = None
    ) -> None:
        self.work = work
        self.result: T | None = None
        self.error: BaseException | None = None
        self._done = threading.Event()
        self._on_settled = on_settled

    def succeed(self, result: T) -> None:
        self.result = result
        self._settle()

    def fail(self, error: BaseException) -> None:
        self.error = error
        self._settle()

    def _settle(self) -> None:
        self._done.set()
        if self._on_settled is not None:
            self._on_settled()

    @property
    def settled(self) -> bool:
        return self._done.is_set()

    def outcome(self) -> T:
        self._done.wait()
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


_STOP = object()


class WriteBatcher:
    """Runs ``run(batch)`` on a thread of its own for whatever callers of :meth:`submit`
    queued meanwhile, oldest first."""

    def __init__(self, run: Callable[[list[Pending[Any]]], None], *, most: int = 32) -> None:
        self._run = run
        self._most = most
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def submit(self, work: Callable[[Any], T]) -> T:
        thread = self._running_thread()
        if threading.current_thread() is thread:
            # It would wait for itself forever: a unit of work may not start another write.
            raise RuntimeError("a database write was started inside a database write")
        pending = Pending(work)
        self._queue.put(pending)
        return pending.outcome()

    async def submit_async(self, work: Callable[[Any], T]) -> T:
        """:meth:`submit` for an event loop: the loop waits for the writing thread itself
        (a thread of the pool waiting for it instead costs two more hand-overs)."""
        self._running_thread()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def settle() -> None:
            if future.cancelled():  # the caller went away; the work stands, as on a thread
                return
            if pending.error is not None:
                future.set_exception(pending.error)
            else:
                future.set_result(pending.result)  # type: ignore[arg-type]

        pending = Pending(work, lambda: loop.call_soon_threadsafe(settle))
        self._queue.put(pending)
        return await future

    def queued(self) -> int:
        """Units of work waiting for the writing thread (for tests and /metrics)."""
        return self._queue.qsize()

    def _running_thread(self) -> threading.Thread:
        with self._lock:
            # A forked child has the parent's object but not its thread.
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                self._queue = queue.SimpleQueue()
                self._thread = threading.Thread(
                    target=self._serve, args=(self._queue,), name="contenthub-writer", daemon=True
                )
                self._pid = os.getpid()
                self._thread.start()
            return self._thread

    def _serve(self, waiting: queue.SimpleQueue[Any]) -> None:
        while True:
            first = waiting.get()
            if first is _STOP:
                return
            batch = [first]
            while len(batch) < self._most:
                try:
                    more = waiting.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    waiting.put(_STOP)  # after this batch
                    break
                batch.append(more)
            try:
                self._run(batch)
            except BaseException as error:  # the runner settles each; this is a last resort
                for pending in batch:
                    if not pending.settled:
                        pending.fail(error)

    def close(self) -> None:
        """Let the thread finish what is queued, then end it."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive() and self._pid == os.getpid():
            self._queue.put(_STOP)
            thread.join()
