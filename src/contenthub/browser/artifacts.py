"""Where a task's screenshots live: ``{data_dir}/artifacts/{task id}/NN-step.png``. The worker
writes them, ``task show`` lists them, the API serves them to the task's owner."""

from __future__ import annotations

import re
from pathlib import Path

_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}\.png$")


def artifacts_root(data_dir: Path) -> Path:
    return data_dir / "artifacts"


def task_folder(root: Path, task_id: str) -> Path:
    if not _SAFE_ID.match(task_id):
        raise ValueError(f"not a task id: {task_id!r}")
    return root / task_id


def task_artifacts(root: Path, task_id: str) -> list[Path]:
    """The task's screenshots, oldest first (none: an empty list)."""
    try:
        folder = task_folder(root, task_id)
    except ValueError:
        return []
    return sorted(folder.glob("*.png")) if folder.is_dir() else []


def task_artifact(root: Path, task_id: str, name: str) -> Path | None:
    """One screenshot of the task by file name, or None (a name that is not one is refused)."""
    if not _SAFE_NAME.match(name):
        return None
    path = task_folder(root, task_id) / name
    return path if path.is_file() else None
