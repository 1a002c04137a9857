"""The operator's commands: ``doctor`` names each problem in one line; ``secrets rotate``
with the key setting takes the new key first and the current one after it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from harness import CONTENTHUB, worker_env

from contenthub.secrets_box import SecretBox, new_key
from contenthub.storage import Database, account_set_status, migrate
from tests.conftest import fresh_database_url
from tests.factories import T0, make_account, make_user

CREDENTIALS = {"api_key": "SECRET-API-KEY-123"}


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[tuple[str, Database]]:
    url, _ = fresh_database_url("sqlite", tmp_path, "ops")
    db = Database.connect(url)
    yield url, db
    db.dispose()


def run(url: str, data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = worker_env(url, data_dir, **env)
    if "CONTENTHUB_SECRET_KEY" not in env:
        environment.pop("CONTENTHUB_SECRET_KEY", None)
    return subprocess.run(
        [CONTENTHUB, *args], env=environment, capture_output=True, text=True, timeout=60
    )


def test_doctor_finds_a_wrong_key_a_missing_chromium_and_a_lost_login(
    tmp_path: Path, sqlite_db: tuple[str, Database]
) -> None:
    url, db = sqlite_db
    sealed_with = new_key()
    user = make_user(db, "ann")
    make_account(db, user, "blog", credentials=SecretBox(sealed_with).seal(CREDENTIALS))
    expired = make_account(db, user, "zhihu-main")
    db.write(
        lambda s: account_set_status(s, expired, "needs_login", now=T0, message="login expired")
    )
    (tmp_path / "secret.key").write_bytes(sealed_with)

    healthy = run(url, tmp_path, "doctor", CONTENTHUB_CHROMIUM="/usr/bin/chromium")
    assert "problem secret key" not in healthy.stdout
    assert "problem chromium" not in healthy.stdout

    (tmp_path / "secret.key").write_bytes(new_key())  # not the key the credentials know
    broken = run(url, tmp_path, "doctor", CONTENTHUB_CHROMIUM=str(tmp_path / "no-chromium"))

    assert broken.returncode == 1
    problems = [line for line in broken.stdout.splitlines() if line.startswith("problem")]
    assert len(problems) == 3, broken.stdout
    key, chromium, login = problems
    assert key.startswith("problem secret key:") and "blog (id" in key
    assert chromium.startswith("problem chromium:") and "no-chromium" in chromium
    assert login.startswith("problem account ann/zhihu-main:")
    assert "contenthub account login zhihu-main --user ann" in login
    assert broken.stdout.splitlines()[-1] == "3 problem(s) to fix"
    assert "SECRET-API-KEY-123" not in broken.stdout


def test_doctor_says_when_the_schema_is_behind(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    migrate.upgrade(engine, "0008")
    engine.dispose()
    done = run(url, tmp_path, "doctor", "--quiet")
    assert done.returncode == 1
    assert "problem schema: at revision 0008, this version needs" in done.stdout
    assert "contenthub db upgrade" in done.stdout


def test_rotate_with_the_key_setting_takes_new_then_old(
    tmp_path: Path, sqlite_db: tuple[str, Database]
) -> None:
    url, db = sqlite_db
    old, fresh = new_key(), new_key()
    user = make_user(db, "ann")
    make_account(db, user, "a", credentials=SecretBox(old).seal(CREDENTIALS))

    alone = run(url, tmp_path, "secrets", "rotate", CONTENTHUB_SECRET_KEY=old.decode())
    assert alone.returncode == 2
    assert "holds one key" in alone.stderr and old.decode() not in alone.stderr

    both = f"{fresh.decode()},{old.decode()}"
    done = run(url, tmp_path, "secrets", "rotate", CONTENTHUB_SECRET_KEY=both)
    assert done.returncode == 0, done.stderr
    with db.engine.connect() as conn:
        sealed = conn.execute(sa.text("SELECT credentials FROM accounts")).scalar_one()
    assert SecretBox(fresh).open(bytes(sealed)) == CREDENTIALS
