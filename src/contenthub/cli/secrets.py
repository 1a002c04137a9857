"""``contenthub secrets``: the key that seals account credentials."""

from __future__ import annotations

import os

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
def rotate() -> None:
    """Seal every account's credentials again with a new key, all or nothing.

    With the key file (<data dir>/secret.key) a new key is made and the file holds it alone
    afterwards. With CONTENTHUB_SECRET_KEY, give the new key first and the current one after
    it (NEW,OLD); afterwards set it to NEW alone. Restart the running processes either way.
    """
    settings = Settings.from_env()
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
        count = _rotate_key_file(settings, db)
    finally:
        db.dispose()
    out.print(
        f"re-sealed the credentials of {count} account(s) with a new key in "
        f"{key_file(settings.data_dir)}; restart every contenthub process (they hold the old key)"
    )


def _rotate_key_file(settings: Settings, db: object) -> int:
    """New key first in the file before anything is re-sealed, so that whatever moment this
    stops at, the file opens every credential; the old key leaves the file last."""
    path = key_file(settings.data_dir)
    current = SecretBox.from_env(settings.data_dir).keys
    fresh = new_key()
    write_key_file(path, [fresh, *current])
    try:
        count = accounts.credentials_reseal_all(db, SecretBox([fresh, *current]))  # type: ignore[arg-type]
    except BaseException:
        write_key_file(path, current)
        raise
    write_key_file(path, [fresh])
    return count
