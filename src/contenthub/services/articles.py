"""Articles: the content a user keeps and publishes. Tasks keep their own snapshot."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from contenthub import storage
from contenthub.errors import CONTROL_CHARACTERS, InputError, NotFound
from contenthub.platforms.images import image_type, image_urls
from contenthub.platforms.requirements import attachment_name, is_attachment_reference
from contenthub.services.users import Principal
from contenthub.storage import ArticleRow, Session

__all__ = ["ArticleRow"]

MAX_TITLE = 500
# 4 MiB of UTF-8: far above any real article, and what every database stores in one statement
# with the defaults of its server (MariaDB's max_allowed_packet is 16 MiB, and escaping may
# double a body on the way); see docs/decisions.md, "Bad input".
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_TAGS = 20


def check_content(title: str | None, body: str | None, tags: Sequence[str] | None) -> None:
    """The one check of what an article may hold, whoever stores it (API, CLI, a publish of a
    Markdown file): nothing a database would refuse gets as far as one."""
    if title is not None:
        if not title.strip() or len(title) > MAX_TITLE:
            raise InputError("title", f"must be 1–{MAX_TITLE} characters, got {len(title)}")
        if CONTROL_CHARACTERS.search(title):
            raise InputError("title", "must not contain NUL, line breaks or control characters")
        _utf8(title, "title")
    if body is not None:
        if not body.strip():
            raise InputError("body", "must not be empty")
        if "\x00" in body:
            raise InputError("body", "must not contain NUL characters")
        if len(_utf8(body, "body")) > MAX_BODY_BYTES:
            raise InputError("body", f"must be at most {MAX_BODY_BYTES // 1024 // 1024} MiB")
    if tags is not None:
        if len(tags) > MAX_TAGS:
            raise InputError("tags", f"at most {MAX_TAGS} tags")
        if any(not t.strip() or len(t) > 50 or CONTROL_CHARACTERS.search(t) for t in tags):
            raise InputError("tags", "each tag must be 1–50 characters, no control characters")


def _utf8(text: str, field: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in JSON): no database stores it
        raise InputError(field, "must be valid Unicode text (no lone surrogates)") from None


MAX_COVER_BYTES = 5 * 1024 * 1024


def read_cover(value: str) -> str:
    """A cover as a person gives it: an http(s) address or a data: URI (kept as given), or an
    image file on this machine, read into a data: URI (the worker that publishes it may not
    see this disk). An empty value stays empty (it removes a cover)."""
    if not value or value.startswith(("http://", "https://", "data:")):
        return value
    path = Path(value).expanduser()
    try:
        size = path.stat().st_size
        if size > MAX_COVER_BYTES:
            raise InputError("cover", f"{path} is {size / 2**20:.1f} MiB; a cover may be 5 MiB")
        data = path.read_bytes()
    except OSError as error:
        raise InputError(
            "cover", f"{value} is neither an http(s) address nor a readable file: {error.strerror}"
        ) from None
    kind = image_type(data)
    if kind is None:
        raise InputError("cover", f"{path} is not a PNG, JPEG, GIF or WebP image")
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


def article_create(
    session: Session,
    me: Principal,
    *,
    title: str,
    body: str,
    tags: Sequence[str],
    now: datetime,
    cover: str | None = None,
    external_ref: str | None = None,
) -> ArticleRow:
    check_content(title, body, tags)
    article_id = storage.article_create(
        session,
        user_id=me.user_id,
        title=title,
        body=body,
        tags=[t.strip() for t in tags],
        cover=cover,
        now=now,
        external_ref=external_ref,
    )
    return storage.article_get(session, article_id, user_id=me.user_id)


def article_get(session: Session, article_id: int, *, scope: int | None) -> ArticleRow:
    return storage.article_get(session, article_id, user_id=scope)


def article_list(
    session: Session, *, scope: int | None, limit: int, offset: int, search: str | None = None
) -> tuple[list[ArticleRow], int]:
    return storage.article_list(
        session, user_id=scope, limit=limit, offset=offset, title_contains=search or None
    )


def article_update(
    session: Session,
    article_id: int,
    *,
    scope: int | None,
    now: datetime,
    title: str | None = None,
    body: str | None = None,
    tags: Sequence[str] | None = None,
    cover: str | None = None,
) -> ArticleRow:
    """Change what is given (None: keep; an empty ``cover`` removes it). Tasks made before
    keep publishing what they were given."""
    check_content(title, body, tags)
    article = article_get(session, article_id, scope=scope)
    storage.article_update(
        session,
        article.id,
        now=now,
        title=title.strip() if title is not None else None,
        body=body,
        tags=[t.strip() for t in tags] if tags is not None else None,
        cover=cover,
    )
    return article_get(session, article.id, scope=scope)


def article_delete(session: Session, article_id: int, *, scope: int | None) -> None:
    storage.article_delete(session, article_get(session, article_id, scope=scope).id)


# -- attachments: images stored with the article ------------------------------------------------

MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024  # as a cover; one MariaDB statement each, escaped
MAX_ATTACHMENTS = 20
MAX_ATTACHMENT_NAME = 255


@dataclass(frozen=True)
class AttachmentFile:
    """An image to store with an article, under the name its Markdown refers to it by."""

    name: str
    data: bytes


def check_attachment(name: str, data: bytes) -> str:
    """The attachment's content type; InputError naming it when it cannot be stored."""
    if not name or len(name) > MAX_ATTACHMENT_NAME or CONTROL_CHARACTERS.search(name):
        raise InputError("name", f"must be 1–{MAX_ATTACHMENT_NAME} characters, no control ones")
    if not is_attachment_reference(name):
        raise InputError("name", f"{name} is a web address, not a file name")
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise InputError(
            "attachment", f"{name} is {len(data) / 2**20:.1f} MiB; an image may be 5 MiB"
        )
    kind = image_type(data)
    if kind is None:
        raise InputError("attachment", f"{name} is not a PNG, JPEG, GIF or WebP image")
    return kind


def read_attachments(markdown: Path, body: str) -> list[AttachmentFile]:
    """The images ``body`` refers to by a path beside ``markdown`` (``img/a.png``), read from
    the disk here: the worker that publishes them may not see this disk. A missing or
    unreadable one is an InputError naming it."""
    found = []
    for source in image_urls(body):
        if not is_attachment_reference(source):
            continue
        name = attachment_name(source)
        path = (markdown.parent / unquote(name)).expanduser()
        try:
            if path.stat().st_size > MAX_ATTACHMENT_BYTES:
                raise InputError(
                    "file", f"image {name} in {markdown} is larger than 5 MiB; shrink it"
                )
            data = path.read_bytes()
        except OSError as error:
            raise InputError(
                "file", f"image {name} in {markdown} cannot be read: {error.strerror}"
            ) from None
        check_attachment(name, data)
        found.append(AttachmentFile(name, data))
    if len(found) > MAX_ATTACHMENTS:
        raise InputError("file", f"{markdown} has {len(found)} images; at most {MAX_ATTACHMENTS}")
    return found


def attachments_store(
    session: Session,
    article_id: int,
    files: Sequence[AttachmentFile],
    *,
    scope: int | None,
    now: datetime,
) -> list[storage.AttachmentRow]:
    """Store ``files`` with the article (replacing those of the same name)."""
    article = article_get(session, article_id, scope=scope)
    known = {a.name for a in storage.attachment_list(session, article.id)}
    if len(known | {f.name for f in files}) > MAX_ATTACHMENTS:
        raise InputError("attachment", f"an article holds at most {MAX_ATTACHMENTS} images")
    for file in files:
        kind = check_attachment(file.name, file.data)
        storage.attachment_put(
            session, article.id, name=file.name, content_type=kind, data=file.data, now=now
        )
    return storage.attachment_list(session, article.id)


def attachments_of(session: Session, article_id: int, *, scope: int | None) -> list[Any]:
    return storage.attachment_list(session, article_get(session, article_id, scope=scope).id)


def attachment_remove(session: Session, article_id: int, name: str, *, scope: int | None) -> None:
    article = article_get(session, article_id, scope=scope)
    if not name:
        raise InputError("name", "give the image's path, as the body refers to it")
    if not storage.attachment_delete(session, article.id, name):
        raise NotFound("attachment", name)


def attachment_file(
    session: Session, article_id: int, name: str, *, scope: int | None
) -> tuple[str, bytes]:
    """One attachment's content type and bytes (NotFound: no such article or image)."""
    article = article_get(session, article_id, scope=scope)
    found = storage.attachment_data(session, article.id, [name])
    if name not in found:
        raise NotFound("attachment", name)
    return found[name]
