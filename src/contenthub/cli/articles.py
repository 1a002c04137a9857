"""contenthub article: add, list, show, edit, delete."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from contenthub.cli.context import (
    DEFAULT_USER,
    JsonOption,
    UserOption,
    open_as,
    out,
)
from contenthub.clock import utcnow
from contenthub.errors import InputError
from contenthub.services import articles
from contenthub.services.publishing import Draft, parse_markdown, read_text
from contenthub.storage import Session

app = typer.Typer(help="Articles.", no_args_is_help=True)

FileArgument = Annotated[str, typer.Argument(help="A Markdown file, or - for standard input.")]
TagOption = Annotated[list[str] | None, typer.Option("--tag", help="Repeat for many.")]
CoverOption = Annotated[
    str | None, typer.Option(help="A cover image: an http(s) address or an image file.")
]


def _read_text(file: str) -> tuple[str, str]:
    """The text of ``file`` (``-``: standard input), and how to name it in errors."""
    if file == "-":
        return sys.stdin.read(), "stdin"
    return read_text(Path(file)), file


def _draft(file: str, title: str | None, tags: list[str] | None) -> Draft:
    text, source = _read_text(file)
    return parse_markdown(text, source=source, title=title, tags=tags or ())


@app.command("add")
def article_add(
    file: FileArgument,
    title: Annotated[str | None, typer.Option(help="Title, if there is no '# ' line.")] = None,
    tag: TagOption = None,
    cover: CoverOption = None,
    user: UserOption = DEFAULT_USER,
) -> None:
    """Store an article; publish it later by its id."""
    draft = _draft(file, title, tag)
    articles.check_content(draft.title, draft.body, draft.tags)
    image = articles.read_cover(cover) if cover else None
    images = _attachments(file, draft.body)
    db, me = open_as(user)

    def work(s: Session) -> articles.ArticleRow:
        made = articles.article_create(
            s, me, title=draft.title, body=draft.body, tags=draft.tags, cover=image, now=utcnow()
        )
        if images:
            articles.attachments_store(s, made.id, images, scope=me.user_id, now=utcnow())
        return made

    article = db.write(work)
    stored = f" with {len(images)} image{'s' if len(images) > 1 else ''}" if images else ""
    out.print(f"article {article.id} added{stored}: {article.title}")


def _attachments(file: str, body: str) -> list[articles.AttachmentFile]:
    """The images beside ``file`` its body refers to (none for standard input)."""
    return [] if file == "-" else articles.read_attachments(Path(file), body)


@app.command("list")
def article_list(
    user: UserOption = DEFAULT_USER,
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """Your newest articles (an admin sees everyone's)."""
    db, me = open_as(user)
    items, total = db.read(
        lambda s: articles.article_list(s, scope=me.scope, limit=limit, offset=0)
    )
    rows = [
        {"id": a.id, "title": a.title, "tags": a.tags, "updated_at": a.updated_at.isoformat()}
        for a in items
    ]
    if as_json:
        out.print_json(json.dumps({"items": rows, "total": total}))
        return
    table = Table("id", "title", "tags", "updated")
    for r in rows:
        table.add_row(str(r["id"]), r["title"], ", ".join(r["tags"]), r["updated_at"][:16])
    out.print(table)


@app.command("show")
def article_show(
    article_id: int, user: UserOption = DEFAULT_USER, as_json: JsonOption = False
) -> None:
    """One article, with its Markdown body."""
    db, me = open_as(user)
    a = db.read(lambda s: articles.article_get(s, article_id, scope=me.scope))
    images = db.read(lambda s: articles.attachments_of(s, article_id, scope=me.scope))
    if as_json:
        shown = [{"name": i.name, "content_type": i.content_type, "size": i.size} for i in images]
        out.print_json(
            json.dumps(
                {
                    "id": a.id,
                    "title": a.title,
                    "body": a.body,
                    "tags": a.tags,
                    "cover": a.cover,
                    "attachments": shown,
                }
            )
        )
        return
    out.print(f"[bold]{a.title}[/bold]  {' '.join('#' + t for t in a.tags)}", highlight=False)
    out.print(a.body, markup=False, highlight=False)
    for image in images:
        out.print(f"image {image.name} ({image.content_type}, {image.size} bytes)", markup=False)


@app.command("edit")
def article_edit(
    article_id: int,
    title: Annotated[str | None, typer.Option(help="A new title.")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="The new tags (replace all); repeat.")
    ] = None,
    file: Annotated[
        str | None,
        typer.Option(
            help="A new body from a Markdown file (- for standard input); "
            "its '# ' line, if any, becomes the title."
        ),
    ] = None,
    cover: Annotated[
        str | None,
        typer.Option(help="A cover image (an http(s) address or an image file); '' removes it."),
    ] = None,
    user: UserOption = DEFAULT_USER,
) -> None:
    """Change a stored article. Tasks made from it before keep what they were given."""
    body = None
    if file is not None:
        text, source = _read_text(file)
        try:
            draft = parse_markdown(text, source=source, title=title)
            title, body = draft.title, draft.body
        except InputError as error:
            if error.field != "title":
                raise
            body = text  # no '# ' line: the whole file is the body, the title stays
    if title is None and body is None and tag is None and cover is None:
        raise InputError("article", "nothing to change; give --title, --tag, --file or --cover")
    image = articles.read_cover(cover) if cover is not None else None
    images = _attachments(file, body) if file is not None and body is not None else []
    db, me = open_as(user)

    def work(s: Session) -> articles.ArticleRow:
        changed = articles.article_update(
            s,
            article_id,
            scope=me.scope,
            now=utcnow(),
            title=title,
            body=body,
            tags=tag,
            cover=image,
        )
        if images:
            articles.attachments_store(s, changed.id, images, scope=me.scope, now=utcnow())
        return changed

    article = db.write(work)
    out.print(f"article {article.id} updated: {article.title}")


@app.command("delete")
def article_delete(article_id: int, user: UserOption = DEFAULT_USER) -> None:
    """Delete a stored article and its publish-pool entries; its tasks stay.

    Each task keeps what it was given to publish."""
    db, me = open_as(user)
    db.write(lambda s: articles.article_delete(s, article_id, scope=me.scope))
    out.print(f"article {article_id} deleted")
