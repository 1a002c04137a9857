"""Helpers for tests that run real ``contenthub`` processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

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
