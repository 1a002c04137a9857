"""Structured logs: JSON lines when not on a terminal, readable lines on one.

Settings: ``CONTENTHUB_LOG_LEVEL`` (DEBUG, INFO, WARNING, ERROR; DEBUG adds each publish
stage with its timing), ``CONTENTHUB_LOG_FORMAT`` (json or text; by default text on a
terminal), ``CONTENTHUB_LOG_FILE`` (also write to this file, rotated at
``CONTENTHUB_LOG_FILE_MAX_BYTES``, keeping ``CONTENTHUB_LOG_FILE_BACKUPS`` old files). Under a
supervisor (``--processes``) only the supervisor writes the file: its children's lines reach
it through their output, so one process rotates it.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import logging.handlers
import os
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from contenthub.config import positive_int

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# uvicorn's copy of each line with terminal colour codes: the same words twice.
_DROPPED = {"color_message"}
_SECRET_WORDS = ("password", "secret", "token", "cookie", "credential", "authorization")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# The API request being served, on every line logged while serving it.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = {}
    for key, value in vars(record).items():
        if key in _STANDARD or key in _DROPPED:
            continue
        fields[key] = "[redacted]" if _names_a_secret(key) else value
    return fields


@functools.cache  # a field's name is one of a few dozen our code writes
def _names_a_secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in _SECRET_WORDS)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        line = f"{datetime.now().strftime('%H:%M:%S')} {record.levelname:<7} {record.getMessage()}"
        line = f"{line}  {extra}" if extra else line
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        current = request_id.get()
        if current is not None and not hasattr(record, "request_id"):
            record.request_id = current
        return True


def log_level() -> str:
    raw = os.environ.get("CONTENTHUB_LOG_LEVEL", "").strip().upper() or "INFO"
    if raw not in LEVELS:
        raise SystemExit(f"CONTENTHUB_LOG_LEVEL must be one of {', '.join(LEVELS)}, got {raw!r}")
    return raw


def _formatter() -> logging.Formatter:
    chosen = os.environ.get("CONTENTHUB_LOG_FORMAT", "").strip().lower()
    if chosen not in ("", "json", "text"):
        raise SystemExit(f"CONTENTHUB_LOG_FORMAT must be json or text, got {chosen!r}")
    text = chosen == "text" or (chosen == "" and sys.stderr.isatty())
    return TextFormatter() if text else JsonFormatter()


class _LogFile(logging.handlers.RotatingFileHandler):
    """The rotating log file; also takes lines already formatted by a supervisor's child."""

    def format(self, record: logging.LogRecord) -> str:
        verbatim = getattr(record, "_verbatim", None)
        return verbatim if verbatim is not None else super().format(record)


def _file_handler() -> _LogFile | None:
    """The rotating log file, unless there is none or a supervisor writes it for us."""
    path = os.environ.get("CONTENTHUB_LOG_FILE", "").strip()
    if not path or os.environ.get("CONTENTHUB_SUPERVISOR_PID"):
        return None
    handler = _LogFile(
        path,
        maxBytes=positive_int("CONTENTHUB_LOG_FILE_MAX_BYTES", 10 * 1024 * 1024),
        backupCount=positive_int("CONTENTHUB_LOG_FILE_BACKUPS", 5, unit="files"),
        encoding="utf-8",
    )
    handler.setFormatter(JsonFormatter())
    return handler


def setup_logging(level: str | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_formatter())
    handlers: list[logging.Handler] = [handler]
    file_handler = _file_handler()
    if file_handler is not None:
        handlers.append(file_handler)
    for one in handlers:
        one.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(level or log_level())
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    # Alembic says which database it found every time the schema is looked at (each /readyz);
    # upgrades are logged by contenthub.storage.migrate instead.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # One line per outgoing request is noise, and URLs may carry tokens (WeChat puts its
    # access token in the query string).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # uvicorn's loggers pass their lines to ours; never through a handler of their own too.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def supervisor_sink() -> Callable[[bytes], None]:
    """Where a supervisor writes its children's lines: its stderr, and the log file if set.
    The file goes through the same handler as the supervisor's own lines (set up by
    setup_logging), so one handler rotates it. Children write in the format chosen here."""
    os.environ.setdefault("CONTENTHUB_LOG_FORMAT", "text" if sys.stderr.isatty() else "json")
    file_handler = next((h for h in logging.getLogger().handlers if isinstance(h, _LogFile)), None)
    lock = threading.Lock()

    def write(line: bytes) -> None:
        with lock:
            sys.stderr.buffer.write(line)
            sys.stderr.buffer.flush()
        if file_handler is not None:
            text = line.decode("utf-8", "replace").rstrip("\n")
            # handle() takes the handler's lock: the supervisor's own lines share it.
            file_handler.handle(logging.makeLogRecord({"_verbatim": text}))

    return write
