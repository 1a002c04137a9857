"""Account credentials are encrypted at rest (Fernet) with a key from the environment or a
key file readable by its owner alone.

Several keys may be given, newest first (``CONTENTHUB_SECRET_KEY=NEW,OLD``, or one key per
line in the file): credentials are sealed with the first and opened with any, which is how a
key is rotated without a moment where running processes cannot open what is stored (§26).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

KEY_SETTING = "CONTENTHUB_SECRET_KEY"


class SecretBox:
    def __init__(self, key: bytes | list[bytes]) -> None:
        keys = [key] if isinstance(key, bytes) else key
        if not keys:
            raise ValueError("a secret box needs at least one key")
        try:
            self._fernet = MultiFernet([Fernet(k) for k in keys])
        except ValueError:
            raise ValueError(
                "a secret key must be 32 url-safe base64-encoded bytes "
                "(make one with 'contenthub secrets new-key')"
            ) from None
        self.keys = list(keys)

    @classmethod
    def from_env(cls, data_dir: Path) -> SecretBox:
        listed = os.environ.get(KEY_SETTING)
        if listed:
            return cls(parse_keys(listed.replace(",", "\n")))
        path = key_file(data_dir)
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(Fernet.generate_key())
        return cls(parse_keys(path.read_text()))

    def seal(self, credentials: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(credentials).encode())

    def open(self, sealed: bytes | None) -> dict[str, Any]:
        if not sealed:
            return {}
        try:
            return json.loads(self._fernet.decrypt(sealed))
        except InvalidToken:
            raise ValueError(
                "account credentials cannot be decrypted with this secret key"
            ) from None

    def reseal(self, sealed: bytes) -> bytes:
        """The same credentials sealed with the first key (ValueError if no key opens them)."""
        try:
            return self._fernet.rotate(sealed)
        except InvalidToken:
            raise ValueError(
                "account credentials cannot be decrypted with this secret key"
            ) from None


def key_file(data_dir: Path) -> Path:
    return data_dir / "secret.key"


def parse_keys(text: str) -> list[bytes]:
    return [line.strip().encode() for line in text.splitlines() if line.strip()]


def new_key() -> bytes:
    return Fernet.generate_key()


def write_key_file(path: Path, keys: list[bytes]) -> None:
    """Replace the key file at once (a crash leaves the old or the new one, never half)."""
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(b"\n".join(keys) + b"\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)
