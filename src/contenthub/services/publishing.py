"""Publishing: an article to one or many accounts, now or at a set time.

One use case, :func:`publish`, serves every caller (the API's /publish and /publish/batch,
the CLI with a stored article or a Markdown file). In one transaction it:

1. locks the caller's user row and checks the submission limit (new tasks in the last
   minute), so the limit is exact with many API processes and refuses before writing;
2. stores the articles that come as drafts (a Markdown file), so a refused publish leaves
   no article behind;
3. snapshots each article into one task per account (``storage.task_from_article``);
4. enqueues them: ``storage.task_enqueue_rows`` is the one check that each account is the
   caller's;
5. with an Idempotency-Key, stores the answer to give again, or gives the stored one.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NotRequired, TypedDict, Unpack

import anyio.to_thread

from contenthub import storage
from contenthub.errors import InputError, NotFound, SubmissionLimit
from contenthub.platforms.images import attachment_names, image_type
from contenthub.platforms.registry import publisher_for
from contenthub.platforms.requirements import ArticleView, Attachment, check
from contenthub.services.articles import (
    MAX_BODY_BYTES,
    AttachmentFile,
    article_create,
    article_get,
    article_update,
    attachments_store,
    read_attachments,
)
from contenthub.services.users import Principal
from contenthub.storage import Database, Session

_H1 = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Draft:
    title: str
    body: str
    tags: list[str]
    cover: str | None = None  # an http(s) address or a data: URI (``articles.read_cover``)
    # The caller's own id for the article (the old API's article_id): the article stored
    # under it is reused (brought up to this title and body) instead of storing another.
    external_ref: str | None = None
    # Images the body refers to beside its file (``img/a.png``), stored with the article.
    attachments: Sequence[AttachmentFile] = ()


def read_markdown(path: Path, *, title: str | None = None, tags: Sequence[str] = ()) -> Draft:
    """A Markdown file as an article, with the images beside it that its body refers to."""
    draft = parse_markdown(read_text(path), source=str(path), title=title, tags=tags)
    return replace(draft, attachments=read_attachments(path, draft.body))


def read_text(path: Path) -> str:
    """A Markdown file's text; one larger than an article may be is refused unread."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_BODY_BYTES + 64 * 1024)  # the title line comes out of it
            if file.read(1):
                raise InputError(
                    "file", f"{path} is larger than an article may be ({MAX_BODY_BYTES} bytes)"
                )
        return data.decode("utf-8")
    except FileNotFoundError:
        raise InputError("file", f"{path} does not exist") from None
    except UnicodeDecodeError:
        raise InputError("file", f"{path} is not UTF-8 text") from None
    except OSError as error:
        raise InputError("file", f"{path}: {error.strerror or error}") from None


def parse_markdown(
    text: str, *, source: str, title: str | None = None, tags: Sequence[str] = ()
) -> Draft:
    """Title from ``title`` or else the text's first ``# heading`` (then left out of the body)."""
    if title is None:
        match = _H1.search(text)
        if match is None:
            raise InputError("title", f"{source} has no '# Title' line; pass --title")
        title = match.group(1)
        # The heading became the title; platforms show the title above the body themselves.
        text = (text[: match.start()] + text[match.end() :]).strip() + "\n"
    return Draft(title=title, body=text, tags=[t.strip() for t in tags if t.strip()])


@dataclass(frozen=True)
class Target:
    """One article (a stored one's id, or a draft to store) to some of the caller's accounts."""

    article: int | Draft
    account_ids: Sequence[int]


@dataclass(frozen=True)
class Once:
    """An Idempotency-Key: the same key with the same request gets the first answer again.

    ``answer`` turns the created tasks (and the notice) into the answer to keep under the key.
    """

    key: str
    request: dict[str, Any]
    answer: Callable[[list[dict[str, Any]], str | None, list[str]], dict[str, Any]]

    @property
    def digest(self) -> str:
        text = json.dumps(self.request, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Publication:
    """What a publish created (``tasks``, as stored), or the stored answer it replayed."""

    tasks: list[dict[str, Any]]
    answer: dict[str, Any] | None = None
    status_code: int = 201
    replayed: bool = False
    notice: str | None = None
    # Per account, what its adapter will do on its own (a default, something left out).
    notes: list[str] = field(default_factory=list)


SUBMISSION_WINDOW_SECONDS = 60
# A time further ahead is a typo (year 9999) more often than a plan; the user can come back.
MAX_SCHEDULE_AHEAD = timedelta(days=731)


def due_time(scheduled_at: datetime | None, now: datetime) -> tuple[datetime | None, str | None]:
    """When tasks asked for at ``scheduled_at`` are due, and what to tell the user about it.

    A time already past publishes now, and says so; one more than two years ahead is refused.
    """
    if scheduled_at is None:
        return None, None
    if scheduled_at.tzinfo is None:
        raise InputError("scheduled_at", "must carry a time zone")
    try:
        scheduled_at = scheduled_at.astimezone(UTC)
    except OverflowError:  # 9999-12-31 23:59 west of UTC is past the last representable time
        raise InputError("scheduled_at", "is more than two years ahead") from None
    if scheduled_at > now + MAX_SCHEDULE_AHEAD:
        latest = (now + MAX_SCHEDULE_AHEAD).date().isoformat()
        raise InputError(
            "scheduled_at",
            f"{scheduled_at.isoformat()} is more than two years ahead (the latest is {latest})",
        )
    if scheduled_at <= now:
        return None, f"the time asked for, {scheduled_at.isoformat()}, is past: publishing now"
    return scheduled_at, None


class PublishOptions(TypedDict):
    """How a publish is asked for, beside its targets (:func:`publish`)."""

    priority: int
    scheduled_at: datetime | None
    per_minute: int
    now: datetime
    once: NotRequired[Once | None]
    republish: NotRequired[bool]


def publish(
    db: Database,
    principal: Principal,
    targets: Sequence[Target],
    **options: Unpack[PublishOptions],
) -> Publication:
    """Queue one task per (article, account), all or nothing; see the module's steps.

    Publishing is always as oneself, admins included: the articles and accounts must be the
    caller's own. An article already published (or being published) to an account is refused
    there unless ``republish`` asks for it again.
    """
    work = _publication(principal, targets, **options)
    try:
        return db.write(work)
    except storage.IdempotencyKeyTaken:
        return _replay_taken(db, principal, options.get("once"))


async def publish_async(
    db: Database,
    principal: Principal,
    targets: Sequence[Target],
    **options: Unpack[PublishOptions],
) -> Publication:
    """:func:`publish` for an event loop (the API's): it waits for the write without holding
    a thread of the pool meanwhile (``Database.write_async``)."""
    work = _publication(principal, targets, **options)
    try:
        return await db.write_async(work)
    except storage.IdempotencyKeyTaken:
        once = options.get("once")
        return await anyio.to_thread.run_sync(_replay_taken, db, principal, once)


def _replay_taken(db: Database, principal: Principal, once: Once | None) -> Publication:
    """The same key raced in from another request and won: give its answer."""
    assert once is not None, "only a publish with a key can find it taken"
    replayed = db.read(lambda s: _replay(s, principal, once))
    assert replayed is not None, "a taken key has a stored answer"
    return replayed


def _publication(
    principal: Principal,
    targets: Sequence[Target],
    *,
    priority: int,
    scheduled_at: datetime | None,
    per_minute: int,
    now: datetime,
    once: Once | None = None,
    republish: bool = False,
) -> Callable[[Session], Publication]:
    """The publish's unit of work (the module's steps); a time out of range is refused here,
    before anything is written."""
    many = len(targets) > 1
    due, notice = due_time(scheduled_at, now)

    def work(session: Session) -> Publication:
        if once is not None and (earlier := _replay(session, principal, once)) is not None:
            return earlier
        _check_submission_limit(session, principal.user_id, targets, per_minute, now)
        notes: list[str] = []
        # Read once: the platform rules and the enqueue both need the accounts.
        named = [i for t in targets for i in t.account_ids]
        accounts = storage.account_rows(session, named, user_id=principal.user_id)
        tasks = _tasks_for(
            session, principal, targets, accounts, priority, due, now, republish, notes
        )
        try:
            rows = storage.task_enqueue_rows(session, tasks, now=now, accounts_read=accounts)
        except storage.TargetRefused as error:
            field = _field(many, _target_of(targets, error.index), "account_ids")
            raise error.named(field) from None
        if once is None:
            return Publication(rows, notice=notice, notes=notes)
        answer = once.answer(rows, notice, notes)
        storage.idempotent_request_insert(
            session,
            user_id=principal.user_id,
            key=once.key,
            request_digest=once.digest,
            status_code=201,
            response=answer,
            now=now,
        )
        return Publication(rows, answer, notice=notice, notes=notes)

    return work


def _replay(session: Session, principal: Principal, once: Once) -> Publication | None:
    stored = storage.idempotent_request_get(session, user_id=principal.user_id, key=once.key)
    if stored is None:
        return None
    if stored.request_digest != once.digest:
        raise InputError("Idempotency-Key", "this key was used with a different request")
    return Publication([], stored.response, stored.status_code, replayed=True)


def _check_submission_limit(
    session: Session, user_id: int, targets: Sequence[Target], per_minute: int, now: datetime
) -> None:
    """The one place the submission limit is applied: a sliding window of one minute."""
    wanted = sum(len(t.account_ids) for t in targets)
    if wanted == 0:
        raise InputError("account_ids", "name at least one account")
    if wanted > per_minute:
        raise InputError(
            "account_ids", f"this request creates {wanted} tasks; at most {per_minute} a minute"
        )
    storage.task_submissions_lock(session, user_id=user_id)
    window_start = now - timedelta(seconds=SUBMISSION_WINDOW_SECONDS)
    recent = storage.task_count_created_since(session, user_id=user_id, since=window_start)
    if recent + wanted > per_minute:
        # The window frees up as its oldest tasks age out: wait for the one that makes room.
        frees_at = storage.task_created_at_nth_since(
            session, user_id=user_id, since=window_start, nth=recent + wanted - per_minute - 1
        )
        wait = (frees_at - window_start).total_seconds() if frees_at else 1
        raise SubmissionLimit(per_minute, SUBMISSION_WINDOW_SECONDS, max(1, math.ceil(wait)))


def _tasks_for(
    session: Session,
    principal: Principal,
    targets: Sequence[Target],
    accounts: Mapping[int, storage.AccountRow],
    priority: int,
    scheduled_at: datetime | None,
    now: datetime,
    republish: bool,
    notes: list[str],
) -> list[storage.NewTask]:
    user_id = principal.user_id
    batch = str(uuid.uuid4()) if sum(len(t.account_ids) for t in targets) > 1 else None
    tasks = []
    for i, target in enumerate(targets):
        article_id = _article_id(session, principal, target, now)
        try:
            article = article_get(session, article_id, scope=user_id)
        except NotFound:
            field = _field(len(targets) > 1, i, "article_id")
            raise InputError(field, f"no article {article_id} for this user") from None
        view = article_view(session, article)
        for verdict in assess(session, principal, view, target.account_ids, accounts):
            if verdict.problems:
                field = _field(len(targets) > 1, i, "account_ids")
                raise InputError(field, f"{verdict.label}: {verdict.problems[0]}")
            notes += [f"{verdict.label}: {note}" for note in verdict.notes]
        tasks += [
            storage.task_from_article(
                article,
                account_id=account_id,
                priority=priority,
                due_at=scheduled_at,
                batch_id=batch,
                republish=republish,
            )
            for account_id in target.account_ids
        ]
    return tasks


def _article_id(session: Session, principal: Principal, target: Target, now: datetime) -> int:
    if isinstance(target.article, Draft):
        draft = target.article
        if draft.external_ref is not None:
            known = storage.article_find_by_ref(
                session, draft.external_ref, user_id=principal.user_id
            )
            if known is not None:
                if (known.title, known.body) != (draft.title.strip(), draft.body):
                    article_update(
                        session,
                        known.id,
                        scope=principal.user_id,
                        now=now,
                        title=draft.title,
                        body=draft.body,
                    )
                return known.id
        stored = article_create(
            session,
            principal,
            title=draft.title,
            body=draft.body,
            tags=draft.tags,
            cover=draft.cover,
            now=now,
            external_ref=draft.external_ref,
        )
        if draft.attachments:
            attachments_store(
                session, stored.id, draft.attachments, scope=principal.user_id, now=now
            )
        return stored.id
    return target.article


@dataclass(frozen=True)
class Assessment:
    """What a publish of an article to one account would meet, before anything is queued."""

    account_id: int
    account: str
    platform: str
    problems: list[str]
    notes: list[str]

    @property
    def label(self) -> str:
        return f"account {self.account} ({self.platform})"


def article_view(session: Session, article: storage.ArticleRow) -> ArticleView:
    """The article as the platform rules see it: its stored images are read only when its
    body or cover refers to one (the rules look at no other; most publishes need no read).
    The body's images are found once, by the view the rules then check."""
    attachments: dict[str, Attachment] = {}
    view = ArticleView(article.title, article.body, article.tags, article.cover, attachments)
    if attachment_names(view.images, article.cover):
        stored = storage.attachment_list(session, article.id)
        attachments.update((a.name, Attachment(a.name, a.content_type, a.size)) for a in stored)
    return view


def draft_view(draft: Draft) -> ArticleView:
    attachments = {
        a.name: Attachment(a.name, image_type(a.data) or "", len(a.data)) for a in draft.attachments
    }
    return ArticleView(draft.title, draft.body, draft.tags, draft.cover, attachments)


def preview(
    db: Database, principal: Principal, article: int | Draft, account_ids: Sequence[int]
) -> list[Assessment]:
    """What a publish would meet on each account, queueing nothing (the API's
    /publish/preview, the CLI's ``publish --dry-run``)."""

    def work(session: Session) -> list[Assessment]:
        if isinstance(article, Draft):
            view = draft_view(article)
        else:
            try:
                view = article_view(session, article_get(session, article, scope=principal.user_id))
            except NotFound:
                raise InputError("article_id", f"no article {article} for this user") from None
        for account_id in account_ids:
            storage.account_find(session, account_id, user_id=principal.user_id)  # named if not
        return assess(session, principal, view, account_ids)

    return db.read(work)


def assess(
    session: Session,
    principal: Principal,
    view: ArticleView,
    account_ids: Sequence[int],
    accounts: Mapping[int, storage.AccountRow] | None = None,
) -> list[Assessment]:
    """Each account's platform rules (``Publisher.requires``) checked against the article.
    Accounts that are not the caller's are left to the enqueue, which names them.
    ``accounts``: the caller's own, as already read in this transaction."""
    found = []
    if accounts is None:
        accounts = storage.account_rows(session, account_ids, user_id=principal.user_id)
    for account_id in dict.fromkeys(account_ids):
        account = accounts.get(account_id)
        try:
            publisher = publisher_for(account.platform) if account else None
        except LookupError:
            publisher = None
        if account is None or publisher is None:
            continue
        verdict = check(publisher.requires, view, account.platform)
        notes = verdict.notes + publisher.default_notes(account.options)
        found.append(
            Assessment(account.id, account.name, account.platform, verdict.problems, notes)
        )
    return found


def _target_of(targets: Sequence[Target], task_index: int) -> int:
    """Which target the ``task_index``-th task came from (tasks are made in target order)."""
    for i, target in enumerate(targets):
        task_index -= len(target.account_ids)
        if task_index < 0:
            return i
    raise IndexError(task_index)


def _field(many: bool, index: int, name: str) -> str:
    return f"items[{index}].{name}" if many else name
