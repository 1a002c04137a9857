"""``contenthub secrets``: the key that seals account credentials."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from contenthub.cli.context import open_db, out
from contenthub.cli.root import fail
from contenthub.config import Settings
from contenthub.secrets_box import (
    KEY_SETTING,
    SecretBox,
    key_file,
    new_key,
    parse_keys,
    write_key_file,
)
from contenthub.services import accounts

app = typer.Typer(help="The secret key that seals account credentials.", no_args_is_help=True)


@app.command("new-key")
def new_key_command() -> None:
    """Print a fresh secret key (for CONTENTHUB_SECRET_KEY)."""
    out.print(new_key().decode(), highlight=False)


@app.command()
def rotate(
    finish: Annotated[
        bool,
        typer.Option(
            "--finish",
            help="Key file: once every process restarted, seal again with the new key and drop "
            "the old one.",
        ),
    ] = False,
) -> None:
    """Seal every account's credentials again with a new key, all or nothing.

    With the key file (<data dir>/secret.key), a new key is made and put before the old one.
    Restart every contenthub process: they seal with the old key until then.
    Then `contenthub secrets rotate --finish` drops the old key.

    With CONTENTHUB_SECRET_KEY, set it to the new key and the current one after it (NEW,OLD).
    Once this has run, set it to NEW alone and restart.
    """
    settings = Settings.from_env()
    if os.environ.get(KEY_SETTING) and finish:
        raise fail(
            f"--finish is for the key file; with {KEY_SETTING} drop the old key by setting it "
            "to the new key alone, then restart every contenthub process"
        )
    db = open_db(settings)
    try:
        if os.environ.get(KEY_SETTING):
            keys = parse_keys(os.environ[KEY_SETTING].replace(",", "\n"))
            if len(keys) < 2:
                raise fail(
                    f"{KEY_SETTING} holds one key: put a new one first and the current one "
                    "after it (NEW,OLD; 'contenthub secrets new-key' makes one), then run again"
                )
            count = accounts.credentials_reseal_all(db, SecretBox(keys))
            out.print(
                f"re-sealed the credentials of {count} account(s) with the first key; now set "
                f"{KEY_SETTING} to that key alone and restart every contenthub process"
            )
            return
        path = key_file(settings.data_dir)
        if finish:
            count = _finish_key_file(settings, db)
            out.print(
                f"re-sealed the credentials of {count} account(s) with the new key; {path} "
                "holds it alone now"
            )
            return
        count = _rotate_key_file(settings, db)
    finally:
        db.dispose()
    out.print(
        f"re-sealed the credentials of {count} account(s) with a new key in {path} (the old "
        "one kept after it); restart every contenthub process (they seal with the old key "
        "until then), then run 'contenthub secrets rotate --finish'"
    )


def _rotate_key_file(settings: Settings, db: object) -> int:
    """New key first in the file before anything is re-sealed, so that whatever moment this
    stops at, the file opens every credential. The old key stays after it: processes that
    still run seal with it until they restart (``--finish`` drops it)."""
    path = key_file(settings.data_dir)
    current = SecretBox.from_env(settings.data_dir).keys
    if len(current) > 1:
        raise fail(
            f"{path} still holds the key of an unfinished rotation: once every contenthub "
            "process restarted, run 'contenthub secrets rotate --finish' first"
        )
    fresh = new_key()
    write_key_file(path, [fresh, *current])
    try:
        count = accounts.credentials_reseal_all(db, SecretBox([fresh, *current]))  # type: ignore[arg-type]
    except BaseException:
        write_key_file(path, current)
        raise
    return count


def _finish_key_file(settings: Settings, db: object) -> int:
    """After the restart: seal again what the old processes sealed with the old key meanwhile
    (all or nothing), then the new key alone in the file."""
    path = key_file(settings.data_dir)
    keys = SecretBox.from_env(settings.data_dir).keys
    if len(keys) < 2:
        raise fail(f"{path} holds one key: no rotation to finish")
    count = accounts.credentials_reseal_all(db, SecretBox(keys))  # type: ignore[arg-type]
    write_key_file(path, keys[:1])
    return count
