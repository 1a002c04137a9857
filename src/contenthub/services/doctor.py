"""``contenthub doctor``: what is wrong with this installation, one line each, with the fix.

Each check reads; none writes (not even the key file a first start would make)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from contenthub import storage
from contenthub.config import Settings
from contenthub.secrets_box import KEY_SETTING, SecretBox, key_file, parse_keys
from contenthub.storage import Database, migrate
from contenthub.storage.db import sqlite_file


@dataclass(frozen=True)
class Finding:
    ok: bool
    topic: str
    text: str  # what was found; for a problem, what to do about it


def ok(topic: str, text: str) -> Finding:
    return Finding(True, topic, text)


def problem(topic: str, text: str) -> Finding:
    return Finding(False, topic, text)


def configuration() -> tuple[Settings | None, list[Finding]]:
    """The settings as every command reads them; a bad one is named with its fix."""
    from contenthub.logs import log_level
    from contenthub.platforms import outbound

    try:
        settings = Settings.from_env()
        log_level()
        outbound.policy_from_settings(list(settings.outbound_allow))
    except SystemExit as error:
        return None, [problem("configuration", str(error))]
    except ValueError as error:
        return None, [problem("configuration", str(error))]
    return settings, [ok("configuration", f"data directory {settings.data_dir}")]


def database(settings: Settings) -> tuple[Database | None, list[Finding]]:
    file = sqlite_file(settings.database_url)
    if file is not None and not file.is_file():
        # Connecting would make an empty file (and its folder): say so instead.
        return None, [problem("database", f"no database at {file}: run 'contenthub db upgrade'")]
    db = Database.connect(
        settings.database_url,
        pool_size=2,
        retry_seconds=0,
        session_url=settings.database_session_url,
    )
    where = db.engine.url.render_as_string(hide_password=True)
    try:
        current = migrate.current_revision(db.engine)
    except Exception as error:
        db.dispose()
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        return None, [
            problem(
                "database",
                f"cannot reach {where}: {reason}; check CONTENTHUB_DATABASE_URL and the server",
            )
        ]
    found = [ok("database", f"{where} answers")]
    head = migrate.head_revision()
    if current == head:
        found.append(ok("schema", f"at revision {current}, the newest"))
    elif current is None:
        found.append(problem("schema", "the database is empty: run 'contenthub db upgrade'"))
    elif current in migrate.known_revisions():
        found.append(
            problem(
                "schema",
                f"at revision {current}, this version needs {head}: run 'contenthub db upgrade'",
            )
        )
    else:
        found.append(
            problem(
                "schema",
                f"at revision {current}, which this version does not know: a newer contenthub "
                "upgraded it; run that version",
            )
        )
    return db, found


def _key_box(data_dir: Path) -> tuple[SecretBox | None, str]:
    """The configured key without making one (a first start would); why not, if none."""
    if os.environ.get(KEY_SETTING):
        return SecretBox(parse_keys(os.environ[KEY_SETTING].replace(",", "\n"))), KEY_SETTING
    path = key_file(data_dir)
    if not path.exists():
        return None, str(path)
    return SecretBox(parse_keys(path.read_text())), str(path)


def secret_key(settings: Settings, db: Database | None) -> list[Finding]:
    try:
        box, source = _key_box(settings.data_dir)
    except (ValueError, OSError) as error:
        where = KEY_SETTING if os.environ.get(KEY_SETTING) else str(key_file(settings.data_dir))
        return [problem("secret key", f"{where}: {error}")]
    if db is None:
        where = f"from {source}" if box is not None else f"none yet ({source} is made on first use)"
        return [ok("secret key", f"{where}; not tried: no database of the current schema")]
    accounts = db.read(lambda s: storage.account_list(s, user_id=None))
    sealed = [a for a in accounts if a.credentials]
    if box is None:
        if sealed:
            return [
                problem(
                    "secret key",
                    f"no key: {source} is missing and {KEY_SETTING} is not set, so the "
                    f"credentials of {len(sealed)} account(s) cannot be opened; restore the key "
                    "file from a backup or set the key",
                )
            ]
        return [ok("secret key", f"none yet; {source} is made on first use")]
    closed = [a for a in sealed if not _opens(box, a.credentials)]
    if closed:
        names = ", ".join(f"{a.name} (id {a.id})" for a in closed[:5])
        more = f" and {len(closed) - 5} more" if len(closed) > 5 else ""
        return [
            problem(
                "secret key",
                f"the key from {source} cannot open the credentials of {len(closed)} of "
                f"{len(sealed)} account(s): {names}{more}; it is not the key they were sealed "
                f"with: restore the right key ({KEY_SETTING} or the key file)",
            )
        ]
    return [ok("secret key", f"from {source} opens all {len(sealed)} sealed credential(s)")]


def _opens(box: SecretBox, sealed: bytes | None) -> bool:
    try:
        box.open(sealed)
    except ValueError:
        return False
    return True


def chromium() -> list[Finding]:
    from contenthub.browser.launch import BrowserUnavailable, chromium_executable

    try:
        path = chromium_executable()
    except BrowserUnavailable as error:
        return [problem("chromium", f"{error}; or set CONTENTHUB_CHROMIUM to its path")]
    return [ok("chromium", path)]


def accounts(db: Database) -> list[Finding]:
    """Each account as its last login check (or publish) left it."""

    def read(s: storage.Session) -> list[Finding]:
        users = {u.id: u.name for u in storage.user_list(s)}
        found = []
        for account in storage.account_list(s, user_id=None):
            who = f"{users.get(account.user_id, account.user_id)}/{account.name}"
            topic = f"account {who}"
            reason = f" ({account.status_message})" if account.status_message else ""
            if account.status == "needs_login":
                fix = (
                    f"contenthub account login {account.name} --user "
                    f"{users.get(account.user_id, '')}"
                )
                found.append(problem(topic, f"needs a login{reason}: run '{fix}'"))
            elif account.status == "disabled":
                found.append(problem(topic, f"is disabled{reason}"))
            else:
                found.append(ok(topic, f"{account.platform}, {account.status}"))
        return found

    return db.read(read)


def run_all() -> list[Finding]:
    """Every check in order; later ones skip what an earlier failure makes meaningless."""
    settings, found = configuration()
    if settings is None:
        return found
    db, reached = database(settings)
    found += reached
    # What is stored is read only through the schema this version knows (an older one lacks
    # columns): the schema finding already says to upgrade.
    readable = db if db is not None and migrate.is_current(db.engine) else None
    try:
        found += secret_key(settings, readable)
        found += chromium()
        if readable is not None:
            found += accounts(readable)
    finally:
        if db is not None:
            db.dispose()
    return found
