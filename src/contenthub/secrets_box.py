"""Account credentials are encrypted at rest (Fernet) with a key from the environment or a
key file readable by its owner alone."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def from_env(cls, data_dir: Path) -> SecretBox:
        key = os.environ.get("CONTENTHUB_SECRET_KEY")
        if key:
            return cls(key.encode())
        path = data_dir / "secret.key"
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(Fernet.generate_key())
        return cls(path.read_bytes().strip())

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
