"""contenthub article: add, list, show."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from contenthub import storage
from contenthub.cli.context import (
    DEFAULT_USER,
    JsonOption,
    UserOption,
    friendly_errors,
    open_as,
    out,
)
from contenthub.clock import utcnow
from contenthub.services.publishing import read_markdown

app = typer.Typer(help="Articles.", no_args_is_help=True)


@app.command("add")
@friendly_errors
def article_add(
    file: Annotated[str, typer.Argument(help="A Markdown file, or - for standard input.")],
    title: Annotated[str | None, typer.Option(help="Title, if there is no '# ' line.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Repeat for many.")] = None,
    user: UserOption = DEFAULT_USER,
) -> None:
    """Store an article; publish it later by its id."""
    from contenthub.services.articles import check_content
    from contenthub.services.publishing import parse_markdown

    text = sys.stdin.read() if file == "-" else None
    draft = (
        parse_markdown(text, source="stdin", title=title, tags=tag or ())
        if text is not None
        else read_markdown(Path(file), title=title, tags=tag or ())
    )
    check_content(draft.title, draft.body, draft.tags)
    db, me = open_as(user)
    user_id = me.user_id
    article_id = db.write(
        lambda s: storage.article_create(
            s, user_id=user_id, title=draft.title, body=draft.body, tags=draft.tags, now=utcnow()
        )
    )
    out.print(f"article {article_id} added: {draft.title}")


@app.command("list")
@friendly_errors
def article_list(
    user: UserOption = DEFAULT_USER,
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """Your newest articles."""
    from contenthub.services.articles import article_list as list_articles

    db, me = open_as(user)

    user_id = me.user_id
    items, total = db.read(lambda s: list_articles(s, scope=user_id, limit=limit, offset=0))
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
@friendly_errors
def article_show(
    article_id: int, user: UserOption = DEFAULT_USER, as_json: JsonOption = False
) -> None:
    """One article, with its Markdown body."""
    from contenthub.services.articles import article_get

    db, me = open_as(user)

    user_id = me.user_id
    a = db.read(lambda s: article_get(s, article_id, scope=user_id))
    if as_json:
        out.print_json(json.dumps({"id": a.id, "title": a.title, "body": a.body, "tags": a.tags}))
        return
    out.print(f"[bold]{a.title}[/bold]  {' '.join('#' + t for t in a.tags)}")
    out.print(a.body, markup=False, highlight=False)
