"""CLI start-up benchmark: how long a person waits for a ``contenthub`` command to answer.

Each command runs as a person types it (a new process, the embedded SQLite default, the
local user and its local site), against the sources under test and against a baseline's
(another checkout's ``src``), alternately, so both see the same machine. Prints each
command's median wall-clock and CPU seconds and the ratio baseline ÷ ours.

Run: .venv/bin/python benchmarks/cli.py --baseline ../before/src [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

SOURCES = Path(__file__).resolve().parent.parent / "src"

COMMANDS = [
    ["--help"],
    ["task", "list", "--json"],
    ["article", "list", "--json"],
    ["scheduler", "list", "--json"],
    ["account", "list"],
    ["publish", "hello.md", "-a", "local-site", "--again"],
]


def run_once(src: Path, workdir: Path, args: list[str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system) of one ``python -m contenthub ARGS``."""
    env = {**os.environ, "PYTHONPATH": str(src), "COLUMNS": "120"}
    env = {k: v for k, v in env.items() if not k.startswith("CONTENTHUB_")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "contenthub", *args],
        cwd=workdir,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=120,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def workdir_for(src: Path, root: Path, name: str) -> Path:
    """A folder with an article and a database already set up (the first command a person
    ever runs creates the schema; that is not what is measured)."""
    workdir = root / name
    workdir.mkdir()
    (workdir / "hello.md").write_text("# Hello\n\nA body.\n", encoding="utf-8")
    run_once(src, workdir, ["task", "list"])
    return workdir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", required=True, type=Path, help="the baseline's src")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    table = Table(
        "command",
        "ours s",
        "baseline s",
        "baseline ÷ ours",
        "ours CPU s",
        "baseline CPU s",
        title=f"contenthub commands, median of {args.runs} runs each, alternating",
    )
    with tempfile.TemporaryDirectory(prefix="contenthub-cli-bench-") as tmp:
        ours_dir = workdir_for(SOURCES, Path(tmp), "ours")
        base_dir = workdir_for(args.baseline, Path(tmp), "baseline")
        for command in COMMANDS:
            ours, base = [], []
            for _ in range(args.runs):
                ours.append(run_once(SOURCES, ours_dir, command))
                base.append(run_once(args.baseline, base_dir, command))
            wall_ours = statistics.median(w for w, _ in ours)
            wall_base = statistics.median(w for w, _ in base)
            table.add_row(
                " ".join(command),
                f"{wall_ours:.2f}",
                f"{wall_base:.2f}",
                f"{wall_base / wall_ours:.2f}",
                f"{statistics.median(c for _, c in ours):.2f}",
                f"{statistics.median(c for _, c in base):.2f}",
            )
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
