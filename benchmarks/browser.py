"""Browser benchmark: one Toutiao publish through the sandbox's editor page (open the editor,
log-in check, title, draft, publish, verify: the real adapter), at 1, 4 and 8 at once.

    .venv/bin/python benchmarks/browser.py                  # 2 rounds per row
    .venv/bin/python benchmarks/browser.py --rounds 3

Two ways to run the same publishes:

- **browser per task** (the baseline: what a driver-per-task pool such as the old system's
  ``WebDriverPool`` costs): each publish launches its own Chromium and closes it (through one
  Playwright driver, so the launches run at once, as separate WebDrivers would).
- **warm pool** (ours, ``contenthub.browser.pool``): one Chromium for the process, a context
  per account kept warm; a publish opens a page and closes it. The pool is warmed up by one
  publish before the rows are timed, as a worker's is after its first browser publish.

Each row runs in a fresh process of its own (this script again), so no row inherits another's
memory. Each row: the mean wall time of one publish, and the peak memory while the row ran — the RSS
of this process (the "worker": adapter, pool, and the sandbox on a thread, the same in both
ways) plus every process it started (Playwright's driver, every Chromium process), sampled
every 20 ms. The publishes of a row go to two accounts (a user with two Toutiao accounts).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from contenthub.browser import pool as browser_pool
from contenthub.browser.launch import Driver, start_driver
from contenthub.platforms import outbound
from contenthub.platforms.content import TaskContent
from contenthub.platforms.registry import publisher_for
from contenthub.sandbox.server import SandboxServer

PAGE = os.sysconf("SC_PAGE_SIZE")
LEVELS = (1, 4, 8)


class Context:
    """What a worker gives a publish, kept in memory."""

    def __init__(self) -> None:
        self.checkpoints: dict = {}
        self.cancelled = False

    async def progress(self, percent: int, stage: str) -> None:
        return None

    async def checkpoint(self, key: str, value: object) -> None:
        self.checkpoints[key] = value


def _rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _pss(pid: int) -> int:
    """Proportional set size: shared pages split between the processes that share them, so
    a sum over processes is the memory they really take (an RSS sum counts Chromium's shared
    library once per process)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def _descendants(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class PeakMemory:
    """The peaks of (this process + all its descendants) RSS and PSS while running."""

    def __init__(self) -> None:
        self.peak = 0
        self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            pids = [me, *_descendants(me)]
            self.peak = max(self.peak, sum(_rss(pid) for pid in pids))
            self.peak_pss = max(self.peak_pss, sum(_pss(pid) for pid in pids))
            self._stop.wait(0.02)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Row:
    seconds: float  # mean wall time of one publish
    peak_bytes: int  # RSS summed
    peak_pss: int


def task(account: dict, n: int) -> TaskContent:
    return TaskContent(
        public_id=str(uuid.uuid4()),
        title=f"Benchmark {n}",
        body="# Benchmark\n\nOne publish through the editor page.\n\n- one\n- two\n",
        tags=[],
        cover=None,
        account_name=account["name"],
        options=account["options"],
        credentials=account["credentials"],
    )


async def publish_with_own_browser(
    settings: browser_pool.PoolSettings, driver: Driver, t: TaskContent
) -> float:
    started = time.perf_counter()
    pool = browser_pool.BrowserPool(settings, driver=driver)
    try:
        with browser_pool.use_pool(pool):
            await publisher_for("toutiao").publish(Context(), t)
    finally:
        await pool.close()
    return time.perf_counter() - started


async def publish_warm(t: TaskContent) -> float:
    started = time.perf_counter()
    await publisher_for("toutiao").publish(Context(), t)
    return time.perf_counter() - started


async def run_row(mode: str, level: int, rounds: int, renderers: int) -> Row:
    """One row, in this process: ``level`` publishes at once, ``rounds`` times."""
    root = Path(f"/tmp/chbench-{uuid.uuid4().hex[:6]}")
    settings = browser_pool.PoolSettings(
        max_pages=max(LEVELS), runtime_root=root, renderer_processes=renderers
    )
    browser_pool.configure(settings)
    times: list[float] = []
    with SandboxServer() as sandbox, outbound.allowing(sandbox.url.removeprefix("http://")):
        accounts = [sandbox.account("toutiao", f"bench-{i}") for i in range(2)]
        # The baseline's browsers come from one driver (the warm pool starts its own).
        driver = await start_driver(root) if mode == "fresh" else None
        try:
            if mode == "warm":  # as a worker's pool is after its first browser publishes
                for account in accounts:
                    await publish_warm(task(account, 0))
            with PeakMemory() as memory:
                for r in range(rounds):
                    tasks = [task(accounts[i % 2], r * level + i) for i in range(level)]
                    if mode == "warm":
                        runs = [publish_warm(t) for t in tasks]
                    else:
                        assert driver is not None
                        runs = [publish_with_own_browser(settings, driver, t) for t in tasks]
                    times.extend(await asyncio.gather(*runs))
        finally:
            await browser_pool.close_shared()
            if driver is not None:
                await driver.stop()
            shutil.rmtree(root, ignore_errors=True)
    return Row(statistics.mean(times), memory.peak, memory.peak_pss)


def main(rounds: int, renderers: int) -> None:
    results: dict[tuple[str, int], Row] = {}
    for mode in ("fresh", "warm"):
        for level in LEVELS:
            row = [
                "--row",
                mode,
                str(level),
                "--rounds",
                str(rounds),
                "--renderers",
                str(renderers),
            ]
            answer = subprocess.run(
                [sys.executable, __file__, *row],
                capture_output=True,
                text=True,
                check=True,
            )
            results[mode, level] = Row(*json.loads(answer.stdout.strip().splitlines()[-1]))
            print(f"{mode} ×{level}: {results[mode, level]}", file=sys.stderr)
    print_table(results, rounds)


def print_table(results: dict[tuple[str, int], Row], rounds: int) -> None:
    mib = 2**20
    print(f"\nToutiao publish through the sandbox's editor page ({rounds} rounds per row)\n")
    print(
        f"{'at once':>7} | {'browser per task':^30} | {'warm pool (ours)':^30} | "
        f"{'faster':>6} | {'RSS':>5} | {'PSS':>5}"
    )
    head = f"{'s/publish':>10} {'RSS MiB':>9} {'PSS MiB':>9}"
    print(f"{'':>7} | {head} | {head} |")
    print("-" * 97)
    for level in LEVELS:
        base, ours = results["fresh", level], results["warm", level]
        print(
            f"{level:>7} | {base.seconds:>10.2f} {base.peak_bytes / mib:>9.0f} "
            f"{base.peak_pss / mib:>9.0f} | {ours.seconds:>10.2f} {ours.peak_bytes / mib:>9.0f} "
            f"{ours.peak_pss / mib:>9.0f} | {base.seconds / ours.seconds:>5.1f}× | "
            f"{ours.peak_bytes / base.peak_bytes:>5.2f} | {ours.peak_pss / base.peak_pss:>5.2f}"
        )
    print(
        "\nfaster: browser-per-task time / warm-pool time per publish. RSS, PSS: warm-pool peak "
        "/ browser-per-task peak, summed over this process and every process it started."
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--renderers",
        type=int,
        default=browser_pool.PoolSettings().renderer_processes,
        help="the pool's renderer process limit (CONTENTHUB_BROWSER_RENDERERS)",
    )
    parser.add_argument("--row", nargs=2, metavar=("MODE", "LEVEL"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.row:
        mode, level = arguments.row
        row = asyncio.run(run_row(mode, int(level), arguments.rounds, arguments.renderers))
        print(json.dumps([row.seconds, row.peak_bytes, row.peak_pss]))
    else:
        main(arguments.rounds, arguments.renderers)
