"""Helpers for tests that run real ``contenthub`` processes."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

import httpx

from contenthub.platforms import outbound

T = TypeVar("T")
SUPPORT = Path(__file__).resolve().parent
CONTENTHUB = str(Path(sys.executable).parent / "contenthub")


def worker_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "CONTENTHUB_DATABASE_URL": database_url,
        "CONTENTHUB_DATA_DIR": str(data_dir),
        "CONTENTHUB_PLATFORM_MODULES": "noop_platform",
        "CONTENTHUB_POLL_SECONDS": "0.2",
        "PYTHONPATH": os.pathsep.join([str(SUPPORT), os.environ.get("PYTHONPATH", "")]),
    }
    # What this test process allows (its sandbox, WordPress, image servers), the worker too.
    allowed = [rule.text for rule in outbound.current_policy().allow]
    if allowed:
        env[outbound.ALLOW_SETTING] = ",".join(allowed)
    env.update(extra)
    return env


def start_worker(
    processes: list[subprocess.Popen[bytes]], env: dict[str, str], *, slots: int, log: Path
) -> subprocess.Popen[bytes]:
    handle = open(log, "ab")  # noqa: SIM115 - the child owns it for its lifetime
    proc = subprocess.Popen(
        [CONTENTHUB, "worker", "--slots", str(slots)], env=env, stdout=handle, stderr=handle
    )
    handle.close()
    processes.append(proc)
    return proc


def wait_until(check: Callable[[], T], *, timeout: float, what: str, every: float = 0.05) -> T:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children_of(pid: int) -> set[int]:
    """Live (not zombie) processes whose parent is ``pid``, from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.add(int(entry.name))
    return found


def freeze(proc: subprocess.Popen[bytes], sqlite_file: str | None = None) -> None:
    """SIGSTOP ``proc`` and wait until it is stopped. Given its SQLite file, at a moment it
    holds neither the writer turn nor SQLite's lock: a process frozen holding them stops
    every writer until it is killed (decisions §21), which no rescue can undo."""

    def stopped() -> bool:
        proc.send_signal(signal.SIGSTOP)
        wait_until(lambda: _state(proc.pid) == "T", timeout=10, what=f"{proc.pid} to stop")
        if sqlite_file is None or _no_writer_on(sqlite_file):
            return True
        proc.send_signal(signal.SIGCONT)
        return False

    wait_until(stopped, timeout=30, what=f"a moment {proc.pid} is between writes", every=0.01)


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def _no_writer_on(sqlite_file: str) -> bool:
    turn = os.open(f"{Path(sqlite_file).absolute()}-writer", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(turn, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(turn)  # closing it lets the turn go
    connection = sqlite3.connect(sqlite_file, timeout=0, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        connection.close()


def stop_process(proc: subprocess.Popen[bytes], *, grace: float = 30) -> None:
    """SIGTERM, then SIGKILL if it has not stopped within ``grace`` seconds."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def start_server(
    args: list[str], env: Mapping[str, str], log: Path, *, what: str, cwd: Path | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """``contenthub ARGS --port P`` on a free loopback port, its output in ``log``, once
    ``/readyz`` answers 200: the process (the caller stops it) and its base URL."""
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [CONTENTHUB, *args, "--port", str(port)], env=env, stdout=out, stderr=out, cwd=cwd
        )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert proc.poll() is None, log.read_text()
        try:
            return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, timeout=60, what=what)
    except BaseException:
        stop_process(proc)
        raise
    return proc, base


@contextlib.contextmanager
def running_server(
    args: list[str], env: Mapping[str, str], log: Path, *, what: str, cwd: Path | None = None
) -> Iterator[str]:
    """:func:`start_server`, stopped on exit; yields its base URL."""
    proc, base = start_server(args, env, log, what=what, cwd=cwd)
    try:
        yield base
    finally:
        stop_process(proc)
