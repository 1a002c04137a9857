"""What storage hands out: frozen dataclass rows, never ORM objects bound to a session."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

R = TypeVar("R")


def snapshot(row_type: type[R], record: Any, **overrides: Any) -> R:
    """A ``row_type`` holding ``record``'s attributes of the same names (``overrides`` win)."""
    names = [f.name for f in dataclasses.fields(row_type)]  # type: ignore[arg-type]
    return row_type(**{name: getattr(record, name) for name in names} | overrides)
