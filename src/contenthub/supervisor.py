"""``--processes N``: one supervisor starting N children of the same command and keeping them.

- A child that exits while nobody asked it to is started again after a backoff (1 s, doubling
  to 30 s; back to 1 s once a child has lived a minute), so a crash loop does not spin.
- SIGTERM or SIGINT to the supervisor is passed to every child, and the supervisor waits for
  them all: a worker hands its running publishes back, an API finishes its requests.
- Children never outlive the supervisor: each asks the kernel for SIGTERM when its parent
  dies (``PR_SET_PDEATHSIG``; elsewhere than Linux a thread watches the parent's pid), so a
  SIGKILLed supervisor leaves no worker holding tasks and no API holding the port.
- Listening sockets, when given, are opened once here, one per child, all on one port
  (``SO_REUSEPORT``: the kernel spreads connections over them), and each inherited by its
  child (uvicorn serves a passed file descriptor), so a restarted child binds nothing.
- Children's output comes through the supervisor, one line at a time, so a log file (which
  only one process may rotate) is written by the supervisor alone.
- A child is forked from the supervisor, which has imported what the children run: it starts
  at once, without importing and compiling everything again (two seconds of CPU a worker),
  and shares those pages with its siblings (decisions §38). The supervisor runs one thread
  (its children's output is read by its own select loop) so that a fork copies no lock
  another thread held; were another thread ever running, the child is started by exec.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import gc
import logging
import os
import selectors
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NoReturn

log = logging.getLogger("contenthub.supervisor")

SUPERVISOR_PID = "CONTENTHUB_SUPERVISOR_PID"
LISTEN_FD = "CONTENTHUB_LISTEN_FD"
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
STABLE_SECONDS = 60.0
_PR_SET_PDEATHSIG = 1
MAX_FD = os.sysconf("SC_OPEN_MAX")


def follow_parent() -> None:
    """In a supervised child: stop (SIGTERM) when the supervisor dies, however it dies.

    Called first thing by a child; a supervisor that died before this ran is noticed by its
    pid no longer being our parent."""
    raw = os.environ.get(SUPERVISOR_PID)
    if not raw:
        return
    parent = int(raw)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    else:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """The API's sockets, one per child, bound here on one port (IPv6 when the host is one).

    Each is ``SO_REUSEPORT``: the kernel spreads new connections over them evenly. With one
    socket shared by every child, the child that woke first accepted a whole burst (asyncio
    accepts up to the backlog at each wake-up): a client pool opening 50 connections put
    every one in one process and left the others idle (decisions §36). A socket is kept
    here for the supervisor's life, so a restarted child serves the connections that came to
    its socket meanwhile. A port another process listens on is refused, as before: the
    first socket is bound alone and only then opened to its siblings."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    first = _bound(family, host, port, share=False)  # fails if anyone else holds the port
    first.close()
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sockets.append(_bound(family, host, port, share=True))
    except SystemExit:
        for sock in sockets:
            sock.close()
        raise
    for sock in sockets:
        sock.listen(2048)
        sock.set_inheritable(True)
    return sockets


def _bound(family: socket.AddressFamily, host: str, port: int, *, share: bool) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if share:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise SystemExit(f"cannot listen on {host}:{port}: {error.strerror}") from None
    return sock


def inherited_fd() -> int | None:
    """The listening socket a supervised API child was given, if any."""
    raw = os.environ.get(LISTEN_FD)
    return int(raw) if raw else None


@dataclass
class Child:
    """One supervised slot: its command (``contenthub``'s arguments), and the process
    currently filling it."""

    index: int
    args: list[str]
    pid: int | None = None
    started: float = 0.0
    backoff: float = FIRST_BACKOFF
    restart_at: float | None = None
    restarts: int = 0
    output: int | None = None  # the read end of the pipe its stdout and stderr write to
    partial: bytes = field(default=b"", repr=False)  # a line not yet ended


class Supervisor:
    def __init__(
        self,
        commands: Sequence[Sequence[str]],
        *,
        listen: Sequence[socket.socket] = (),
        env: dict[str, str] | None = None,
        sink: Callable[[bytes], None] | None = None,
    ) -> None:
        self.children = [Child(i, list(args)) for i, args in enumerate(commands)]
        self.listen = listen
        self.env = dict(os.environ if env is None else env)
        self.sink = sink or _to_stderr
        self.stopping = False
        self._signals: list[int] = []
        self._selector = selectors.DefaultSelector()

    def _spawn(self, child: Child) -> None:
        env = {**self.env, SUPERVISOR_PID: str(os.getpid())}
        keep: int | None = None
        if child.index < len(self.listen):  # an API child: its own socket
            keep = self.listen[child.index].fileno()
            env[LISTEN_FD] = str(keep)
        read, write = os.pipe()
        if threading.active_count() == 1:
            # What the supervisor holds is out of every collection in the child: a collector
            # pass writes to each object it visits, which would copy the shared pages.
            gc.freeze()
            pid = os.fork()
            if pid == 0:
                os.close(read)
                self._become_child(child, env, write, keep)  # never returns
        else:
            pid = _exec_child(child.args, env, write)
        os.close(write)
        child.pid, child.output, child.partial = pid, read, b""
        self._selector.register(read, selectors.EVENT_READ, child)
        child.started = time.monotonic()
        child.restart_at = None
        log.info(
            "process started",
            extra={"child": child.index, "pid": pid, "restarts": child.restarts},
        )

    def _become_child(
        self, child: Child, env: dict[str, str], output: int, keep: int | None
    ) -> NoReturn:
        """In the forked child: drop what is the supervisor's, run the command here, and end
        as an interpreter ends (threads joined, exit handlers run), never returning into the
        supervisor's frames; as CPython's multiprocessing ends a forked process."""
        code = 1
        try:
            self._let_go(env, output, keep)
            from contenthub.cli import app

            try:
                app(args=child.args, prog_name="contenthub")
                code = 0
            except SystemExit as end:
                code = end.code if isinstance(end.code, int) else (0 if end.code is None else 1)
            threading._shutdown()  # type: ignore[attr-defined]
            atexit._run_exitfuncs()
        except BaseException:  # the child's end: said, then exit 1
            traceback.print_exc()
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):  # exiting anyway; nothing left to tell
                    stream.flush()
            os._exit(code)

    def _let_go(self, env: dict[str, str], output: int, keep: int | None) -> None:
        """The supervisor's signal handling, descriptors and environment, traded for the
        child's: stdin empty, stdout and stderr into ``output``, of the rest only its own
        socket kept (as an exec'd child has: what is not asked for is closed)."""
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        self._selector.close()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(output, 1)
        os.dup2(output, 2)
        if keep is None:
            os.closerange(3, MAX_FD)
        else:
            os.closerange(3, keep)
            os.closerange(keep + 1, MAX_FD)
        # New stream objects: line by line into the pipe, and nothing the supervisor had
        # buffered is written again by its child.
        sys.stdout = open(1, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(  # noqa: SIM115
            2, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False
        )
        os.environ.clear()
        os.environ.update(env)

    def run(self) -> int:
        """Start every child and keep them until a signal stops us; the exit code."""
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        old_wakeup = signal.set_wakeup_fd(wake_w)
        handled = (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in handled}
        self._selector.register(wake_r, selectors.EVENT_READ)
        try:
            for child in self.children:
                self._spawn(child)
            while True:
                for key, _ in self._selector.select(self._next_timeout()):
                    if key.data is None:
                        _drain(wake_r)
                    else:
                        self._forward(key.data)
                if self._signals and not self.stopping:
                    self._stop_all()
                self._reap()
                if self.stopping and all(c.pid is None for c in self.children):
                    break
                if not self.stopping:
                    self._restart_due()
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for child in self.children:
                self._close_output(child)
            self._selector.close()
            os.close(wake_r)
            os.close(wake_w)
        log.info("all processes stopped")
        return 0

    def _forward(self, child: Child) -> None:
        """Pass on the complete lines a child wrote; its pipe closed at its end."""
        assert child.output is not None
        chunk = os.read(child.output, 65536)
        if not chunk:
            self._close_output(child)
            return
        lines = (child.partial + chunk).split(b"\n")
        child.partial = lines.pop()
        for line in lines:
            self.sink(line + b"\n")

    def _close_output(self, child: Child) -> None:
        """After a child's end: its last lines, then its pipe closed. (A process it started
        may hold the pipe still, Chromium for one: what it writes later is not waited for.)"""
        if child.output is None:
            return
        fd, child.output = child.output, None
        self._selector.unregister(fd)
        os.set_blocking(fd, False)
        try:
            while chunk := os.read(fd, 65536):
                child.partial += chunk
        except BlockingIOError:
            pass
        os.close(fd)
        for line in child.partial.splitlines(keepends=True):
            self.sink(line if line.endswith(b"\n") else line + b"\n")
        child.partial = b""

    def _on_signal(self, signum: int, _frame: object) -> None:
        if signum != signal.SIGCHLD:
            self._signals.append(signum)

    def _stop_all(self) -> None:
        self.stopping = True
        log.info("stopping every process", extra={"processes": len(self.children)})
        for child in self.children:
            if child.pid is not None:
                with contextlib.suppress(ProcessLookupError):  # ended already; reaped next
                    os.kill(child.pid, signal.SIGTERM)

    def _reap(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.pid is None:
                continue
            pid, status = os.waitpid(child.pid, os.WNOHANG)
            if pid == 0:
                continue
            code = os.waitstatus_to_exitcode(status)
            child.pid = None
            self._close_output(child)
            if self.stopping:
                log.info("process stopped", extra={"child": child.index, "pid": pid})
                continue
            if now - child.started >= STABLE_SECONDS:
                child.backoff = FIRST_BACKOFF
            child.restart_at = now + child.backoff
            log.warning(
                "process exited; starting it again",
                extra={
                    "child": child.index,
                    "pid": pid,
                    "exit_code": code,
                    "after_seconds": child.backoff,
                },
            )
            child.backoff = min(child.backoff * 2, MAX_BACKOFF)

    def _restart_due(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.pid is None and child.restart_at is not None and child.restart_at <= now:
                child.restarts += 1
                self._spawn(child)

    def _next_timeout(self) -> float | None:
        due = [c.restart_at for c in self.children if c.restart_at is not None]
        if not due or self.stopping:
            # A SIGCHLD can arrive between the reap and the select: look again now and then.
            return 1.0
        return max(0.0, min(due) - time.monotonic())


def _exec_child(args: list[str], env: dict[str, str], output: int) -> int:
    """A child started by exec (``python -m contenthub …``): its output to ``output``."""
    return os.posix_spawn(
        sys.executable,
        child_command(*args),
        env,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, output, 1),
            (os.POSIX_SPAWN_DUP2, output, 2),
        ],
    )


def _drain(fd: int) -> None:
    os.set_blocking(fd, False)
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def _to_stderr(line: bytes) -> None:
    sys.stderr.buffer.write(line)
    sys.stderr.buffer.flush()


def child_command(*args: str) -> list[str]:
    """This same ``contenthub`` with other arguments, run by this interpreter."""
    return [sys.executable, "-m", "contenthub", *args]
