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
"""

from __future__ import annotations

import ctypes
import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO

log = logging.getLogger("contenthub.supervisor")

SUPERVISOR_PID = "CONTENTHUB_SUPERVISOR_PID"
LISTEN_FD = "CONTENTHUB_LISTEN_FD"
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
STABLE_SECONDS = 60.0
_PR_SET_PDEATHSIG = 1


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
    """One supervised slot: its command, and the process currently filling it."""

    index: int
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    backoff: float = FIRST_BACKOFF
    restart_at: float | None = None
    restarts: int = 0
    pump: threading.Thread | None = field(default=None, repr=False)


class Supervisor:
    def __init__(
        self,
        commands: Sequence[list[str]],
        *,
        listen: Sequence[socket.socket] = (),
        env: dict[str, str] | None = None,
        sink: Callable[[bytes], None] | None = None,
    ) -> None:
        self.children = [Child(i, list(argv)) for i, argv in enumerate(commands)]
        self.listen = listen
        self.env = dict(os.environ if env is None else env)
        self.sink = sink or _to_stderr
        self.stopping = False
        self._signals: list[int] = []

    def _spawn(self, child: Child) -> None:
        env = {**self.env, SUPERVISOR_PID: str(os.getpid())}
        pass_fds: tuple[int, ...] = ()
        if child.index < len(self.listen):  # an API child: its own socket
            fd = self.listen[child.index].fileno()
            env[LISTEN_FD] = str(fd)
            pass_fds = (fd,)
        child.proc = subprocess.Popen(
            child.argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=pass_fds,
        )
        child.started = time.monotonic()
        child.restart_at = None
        child.pump = threading.Thread(
            target=self._pump, args=(child.proc.stdout,), daemon=True, name=f"pump-{child.index}"
        )
        child.pump.start()
        log.info(
            "process started",
            extra={"child": child.index, "pid": child.proc.pid, "restarts": child.restarts},
        )

    def _pump(self, stream: IO[bytes] | None) -> None:
        assert stream is not None
        for line in stream:
            self.sink(line)

    def run(self) -> int:
        """Start every child and keep them until a signal stops us; the exit code."""
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        old_wakeup = signal.set_wakeup_fd(wake_w)
        handled = (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in handled}
        selector = selectors.DefaultSelector()
        selector.register(wake_r, selectors.EVENT_READ)
        try:
            for child in self.children:
                self._spawn(child)
            while True:
                selector.select(self._next_timeout())
                _drain(wake_r)
                if self._signals and not self.stopping:
                    self._stop_all()
                self._reap()
                if self.stopping and all(c.proc is None for c in self.children):
                    break
                if not self.stopping:
                    self._restart_due()
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            selector.close()
            os.close(wake_r)
            os.close(wake_w)
            for child in self.children:
                if child.pump is not None:
                    child.pump.join(timeout=5)
        log.info("all processes stopped")
        return 0

    def _on_signal(self, signum: int, _frame: object) -> None:
        if signum != signal.SIGCHLD:
            self._signals.append(signum)

    def _stop_all(self) -> None:
        self.stopping = True
        log.info("stopping every process", extra={"processes": len(self.children)})
        for child in self.children:
            if child.proc is not None and child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)

    def _reap(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.proc is None or child.proc.poll() is None:
                continue
            code = child.proc.returncode
            pid = child.proc.pid
            child.proc = None
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
            if child.proc is None and child.restart_at is not None and child.restart_at <= now:
                child.restarts += 1
                self._spawn(child)

    def _next_timeout(self) -> float | None:
        due = [c.restart_at for c in self.children if c.restart_at is not None]
        if not due or self.stopping:
            # A SIGCHLD can arrive between the reap and the select: look again now and then.
            return 1.0
        return max(0.0, min(due) - time.monotonic())


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
