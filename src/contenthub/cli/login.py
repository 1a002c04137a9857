"""``contenthub account login NAME`` without ``--cookies``: log in through the platform's own
login page in a headless browser, by QR code (saved as a PNG and drawn in the terminal, drawn
again whenever the page replaces it) or by username and password."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import typer

from contenthub.cli.context import err, out
from contenthub.config import Settings
from contenthub.errors import InputError
from contenthub.login import qr
from contenthub.secrets_box import SecretBox
from contenthub.services import accounts, login
from contenthub.services.users import Principal
from contenthub.storage.db import Database


def interactive_login(
    db: Database,
    me: Principal,
    box: SecretBox,
    ref: str,
    *,
    by_password: bool,
    password_stdin: bool,
    username: str | None,
    remember_password: bool,
    timeout_seconds: float,
) -> None:
    found = db.read(lambda s: accounts.account_find(s, ref, me))
    if login.login_page_of(found.platform) is None:
        raise InputError(
            "account", f"{found.platform} has no web login page; give its credentials instead"
        )
    if remember_password and not (by_password or password_stdin):
        raise InputError("remember_password", "give --password or --password-stdin with it")
    password = None
    held = box.open(found.credentials) if found.credentials else {}
    if by_password or password_stdin:
        username = username or held.get("username")
        if not username:
            if password_stdin:
                raise InputError("username", "give --username (none is stored)")
            username = typer.prompt(f"{found.platform} username")
        password = _read_password(found.platform, from_stdin=password_stdin)

    qr_file = Settings.from_env().data_dir / "login" / f"account-{found.id}-qr.png"
    shown = 0

    async def show_qr(png: bytes, text: str) -> None:
        nonlocal shown
        qr_file.parent.mkdir(parents=True, exist_ok=True)
        partial = qr_file.with_suffix(".part")
        partial.write_bytes(png)
        partial.replace(qr_file)  # whoever opens the file never sees half an image
        shown += 1
        _print_qr(found.platform, found.name, text, qr_file, timeout_seconds, again=shown > 1)

    if password is None:
        out.print(f"Opening the {found.platform} login page …", highlight=False)
    report = asyncio.run(
        login.log_in(
            login.database_writer(db),
            found,
            box,
            timeout_seconds=timeout_seconds,
            username=username,
            password=password,
            remember_password=remember_password,
            on_qr=show_qr,
        )
    )
    if report.status == "active":
        stored = password and (remember_password or held.get("password"))
        remembered = "; password stored (encrypted)" if stored else ""
        out.print(
            f"{found.name}: {report.message}; session stored (encrypted){remembered}; "
            "account active",
            highlight=False,
        )
        return
    status = "needs_login" if report.status == "needs_login" else "not logged in"
    err.print(f"{found.name}: {status}: {report.message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _read_password(platform: str, *, from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        try:
            password = typer.prompt(f"{platform} password", hide_input=True)
        except typer.Abort:
            raise InputError("password", "not given") from None
    if not password:
        raise InputError("password", "is empty")
    return password


def _print_qr(
    platform: str, account: str, text: str, png: Path, timeout_seconds: float, *, again: bool
) -> None:
    """The code as a person scans it from the terminal, and where its PNG is."""
    color = out.color_system is not None and not out.no_color
    heading = (
        "The page replaced the QR code; scan this one:"
        if again
        else f"Scan this QR code with the {platform} app to log in to {account}:"
    )
    lines = [heading, "", *qr.terminal_drawing(text, color=color), ""]
    if not again:
        lines += [
            f"Also saved as {png};",
            f"drawn again when the page replaces it. Waiting up to {timeout_seconds:g} s.",
        ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
