"""``contenthub secrets rotate`` on every database: every credential re-sealed with a new key,
or, when one cannot be opened, nothing changed at all."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from harness import CONTENTHUB, worker_env

from contenthub.secrets_box import SecretBox, key_file, new_key, parse_keys
from contenthub.storage import Database
from tests.factories import make_account, make_user

CREDENTIALS = {"api_key": "SECRET-API-KEY-123"}


def sealed_credentials(db: Database) -> dict[str, bytes]:
    with db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT name, credentials FROM accounts")).all()
    return {name: bytes(sealed) for name, sealed in rows if sealed is not None}


def rotate(
    database_url: str, data_dir: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = worker_env(database_url, data_dir, **env)
    if "CONTENTHUB_SECRET_KEY" not in env:
        environment.pop("CONTENTHUB_SECRET_KEY", None)
    return subprocess.run(
        [CONTENTHUB, "secrets", "rotate", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_rotate_reseals_every_credential_with_a_new_key_file(db: Database, tmp_path: Path) -> None:
    """rotate: the new key first, the old kept for the processes still running with it;
    --finish (after their restart) seals again what they wrote meanwhile and drops it."""
    url = db.engine.url.render_as_string(hide_password=False)
    old = SecretBox(new_key())
    (tmp_path / "secret.key").write_bytes(old.keys[0])
    user = make_user(db, "ann")
    for name in ("a", "b"):
        make_account(db, user, name, credentials=old.seal({**CREDENTIALS, "name": name}))
    make_account(db, user, "none")  # no credentials: left alone
    before = sealed_credentials(db)

    done = rotate(url, tmp_path)

    assert done.returncode == 0, done.stderr
    assert "2 account(s)" in done.stdout and "rotate --finish" in done.stdout
    keys = parse_keys(key_file(tmp_path).read_text())
    assert len(keys) == 2 and keys[1:] == old.keys
    new = SecretBox(keys[:1])
    after = sealed_credentials(db)
    assert set(after) == {"a", "b"}
    for name, sealed in after.items():
        assert sealed != before[name]
        assert new.open(sealed) == {**CREDENTIALS, "name": name}
        with pytest.raises(ValueError):
            old.open(sealed)
    # A process not restarted yet seals with the old key: still readable with the file.
    make_account(db, user, "meanwhile", credentials=old.seal(CREDENTIALS))
    again = rotate(url, tmp_path)
    assert again.returncode == 2 and "rotate --finish" in again.stderr

    finished = rotate(url, tmp_path, "--finish")

    assert finished.returncode == 0, finished.stderr
    assert parse_keys(key_file(tmp_path).read_text()) == new.keys
    after = sealed_credentials(db)
    assert set(after) == {"a", "b", "meanwhile"}
    assert all(new.open(sealed)["api_key"] == CREDENTIALS["api_key"] for sealed in after.values())
    nothing_left = rotate(url, tmp_path, "--finish")
    assert nothing_left.returncode == 2 and "no rotation to finish" in nothing_left.stderr


def test_one_credential_no_key_opens_changes_nothing(db: Database, tmp_path: Path) -> None:
    old = SecretBox(new_key())
    (tmp_path / "secret.key").write_bytes(old.keys[0])
    user = make_user(db, "ann")
    make_account(db, user, "good", credentials=old.seal(CREDENTIALS))
    make_account(db, user, "foreign", credentials=SecretBox(new_key()).seal(CREDENTIALS))
    before = sealed_credentials(db)

    done = rotate(db.engine.url.render_as_string(hide_password=False), tmp_path)

    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "'foreign'" in lines[0] and "nothing was changed" in lines[0]
    assert sealed_credentials(db) == before
    assert parse_keys(key_file(tmp_path).read_text()) == old.keys
