"""Credentials are sealed at rest; logs never carry them."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest

from contenthub.logs import JsonFormatter
from contenthub.secrets_box import SecretBox


def test_key_file_is_private_and_credentials_round_trip(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CONTENTHUB_SECRET_KEY", raising=False)
    box = SecretBox.from_env(tmp_path)
    mode = stat.S_IMODE((tmp_path / "secret.key").stat().st_mode)
    assert mode == 0o600
    sealed = box.seal({"cookie": "z_c0=very-secret"})
    assert b"very-secret" not in sealed
    assert SecretBox.from_env(tmp_path).open(sealed) == {"cookie": "z_c0=very-secret"}


def test_a_different_key_cannot_open_credentials(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CONTENTHUB_SECRET_KEY", raising=False)
    sealed = SecretBox.from_env(tmp_path / "a").seal({"token": "t"})
    with pytest.raises(ValueError, match="cannot be decrypted"):
        SecretBox.from_env(tmp_path / "b").open(sealed)


def test_json_logs_redact_secret_fields() -> None:
    record = logging.makeLogRecord(
        {"msg": "publish ended", "task_id": "t1", "cookie": "z_c0=abc", "api_token": "xyz"}
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["task_id"] == "t1"
    assert entry["cookie"] == "[redacted]" and entry["api_token"] == "[redacted]"
    assert "abc" not in json.dumps(entry) and "xyz" not in json.dumps(entry)
