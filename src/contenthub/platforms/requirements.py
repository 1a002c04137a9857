"""What each platform requires of an article, declared once per adapter (``Publisher.requires``)
and checked before a task is queued (``check``), so a publish the platform would refuse is
refused at once, naming the account and the rule, and a default the adapter will apply (a
cover taken from the first image, Juejin's category) is said in the preview.

Only what can be known without the network is checked here: lengths, counts, the images an
article carries with it (attachments and ``data:`` URIs, whose bytes are at hand). A remote
image is checked when the worker downloads it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urlsplit

from contenthub.platforms.render import markdown_to_html, normalize_tags, summary

PNG_JPEG_GIF = frozenset({"image/png", "image/jpeg", "image/gif"})
_TYPE_NAMES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WebP"}


@dataclass(frozen=True)
class Requirements:
    """One platform's rules. Lengths are in characters; ``None``: no limit."""

    tags_min: int = 0
    tags_max: int | None = None  # 0: the platform keeps no tags (they are left out, said)
    title_min: int = 1
    title_max: int | None = None
    # The summary the adapter builds from the body (Juejin's brief): it must reach this length.
    brief_min: int = 0
    brief_max: int = 100
    cover_required: bool = False
    # False: the platform shows no cover (Jianshu, Yuque): a cover given is left out, said.
    takes_cover: bool = True
    # With no cover given, the adapter uses the body's first image (said in the preview).
    cover_from_first_image: bool = False
    image_types: frozenset[str] = PNG_JPEG_GIF
    image_max_bytes: int = 20 * 1024 * 1024
    cover_max_bytes: int | None = None  # None: as ``image_max_bytes``
    # The body as the platform gets it, rendered to HTML (WeChat: 20,000 characters).
    body_html_max_chars: int | None = None
    # False: the platform has no image upload (dev.to): images must already be on the web.
    hosts_images: bool = True
    # True: a cover the platform cannot host is left out (said in the preview), not refused.
    cover_optional_when_unhostable: bool = True
    # The adapter edits a post it published in place (``TaskContent.update_of``). False (the
    # default, so a plugin that knows nothing of updates is never handed one): publishing an
    # article the account already has is refused unless a second post is asked for.
    edits_posts: bool = False

    @property
    def takes_tags(self) -> bool:
        return self.tags_max != 0

    def type_names(self) -> str:
        return ", ".join(_TYPE_NAMES.get(t, t) for t in sorted(self.image_types))


@dataclass(frozen=True)
class Attachment:
    """An image stored with the article, as the check sees it (its bytes are not needed)."""

    name: str
    content_type: str
    size: int


@dataclass(frozen=True)
class ArticleView:
    title: str
    body: str
    tags: Sequence[str]
    cover: str | None
    attachments: Mapping[str, Attachment] = field(default_factory=dict)

    @cached_property
    def images(self) -> list[str]:
        from contenthub.platforms.images import image_urls  # images imports this module

        return image_urls(self.body)

    @cached_property
    def html_length(self) -> int:
        return len(markdown_to_html(self.body))


@dataclass
class Verdict:
    """What a publish to one account would meet: ``problems`` refuse it; ``notes`` say what
    the adapter will do on its own (a default, something left out)."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def is_web_address(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https")


def is_attachment_reference(source: str) -> bool:
    """A source that names a file beside the Markdown (``img/a.png``), not a web address."""
    scheme = urlsplit(source).scheme
    return not scheme or (len(scheme) == 1 and source[1:2] == ":")  # C:\… is a path


def check(rules: Requirements, article: ArticleView, platform: str) -> Verdict:
    """Every rule of ``rules`` against ``article``; the messages name the rule, not the account
    (the caller adds it)."""
    verdict = Verdict()
    _check_title(rules, article, platform, verdict)
    _check_tags(rules, article, platform, verdict)
    _check_brief(rules, article, platform, verdict)
    for source in article.images:
        _check_image(rules, article, platform, source, "image", verdict)
    _check_cover(rules, article, platform, verdict)
    if rules.body_html_max_chars is not None and article.html_length > rules.body_html_max_chars:
        verdict.problems.append(
            f"{platform} takes a body of at most {rules.body_html_max_chars:,} characters of "
            f"HTML; this one renders to {article.html_length:,}"
        )
    return verdict


def _check_title(rules: Requirements, article: ArticleView, platform: str, v: Verdict) -> None:
    length = len(article.title.strip())
    if length < rules.title_min or (rules.title_max is not None and length > rules.title_max):
        span = f"{rules.title_min}–{rules.title_max}" if rules.title_max else f"{rules.title_min}+"
        v.problems.append(f"{platform} titles have {span} characters; this one has {length}")


def _check_tags(rules: Requirements, article: ArticleView, platform: str, v: Verdict) -> None:
    tags = normalize_tags(article.tags, limit=len(article.tags) or 1)
    if len(tags) < rules.tags_min:
        v.problems.append(
            f"{platform} publishes only articles with at least {rules.tags_min} "
            f"tag{'s' if rules.tags_min > 1 else ''} (CLI: --tag, API: tags)"
        )
    if tags and not rules.takes_tags:
        v.notes.append(f"{platform} keeps no tags: {', '.join(tags)} left out")
    elif rules.tags_max is not None and len(tags) > rules.tags_max:
        left_out = ", ".join(tags[rules.tags_max :])
        v.notes.append(f"{platform} takes at most {rules.tags_max} tags: {left_out} left out")


def _check_brief(rules: Requirements, article: ArticleView, platform: str, v: Verdict) -> None:
    if not rules.brief_min:
        return
    brief = summary(
        article.body, max_chars=rules.brief_max, min_chars=rules.brief_min, title=article.title
    )
    if len(brief) < rules.brief_min:
        v.problems.append(
            f"{platform} needs a summary of {rules.brief_min}–{rules.brief_max} characters, "
            f"made from the body: this body gives {len(brief)}; write a little more"
        )


def _check_cover(rules: Requirements, article: ArticleView, platform: str, v: Verdict) -> None:
    cover = article.cover
    if cover and not rules.takes_cover:
        v.notes.append(f"{platform} shows no cover: published without it")
        return
    if cover:
        unhostable = not rules.hosts_images and not is_web_address(cover)
        if unhostable and rules.cover_optional_when_unhostable:
            v.notes.append(
                f"{platform} cannot host a cover from a file (it takes only web addresses): "
                "published without the cover"
            )
            return
        _check_image(rules, article, platform, cover, "cover", v)
        return
    first = next(iter(article.images), None)
    if rules.cover_from_first_image and first:
        v.notes.append(f"{platform} cover: the body's first image, {_short(first)}")
    elif rules.cover_required:
        v.problems.append(
            f"{platform} needs a cover image: give the article a cover (CLI: --cover, API: "
            "cover) or an image in the body"
        )


def _check_image(
    rules: Requirements,
    article: ArticleView,
    platform: str,
    source: str,
    what: str,
    v: Verdict,
) -> None:
    """An image the article carries: it must exist, and the platform must take its kind and
    size. A web address is checked when the worker downloads it."""
    if is_web_address(source):
        return
    named = f"{what} {_short(source)}"
    if source.startswith("data:"):
        kind, size = _data_uri(source)
    elif is_attachment_reference(source):
        attachment = article.attachments.get(attachment_name(source))
        if attachment is None:
            v.problems.append(
                f"{named} is neither a web address nor an image stored with the article "
                "(CLI: a file beside the Markdown; API: PUT /articles/{id}/attachments?name=…)"
            )
            return
        kind, size = attachment.content_type, attachment.size
    else:
        v.problems.append(f"{named} is not an http(s) address, a data: URI or a file")
        return
    if not rules.hosts_images:
        v.problems.append(
            f"{platform} cannot host images (it has no upload): {named} would show broken; "
            "use a web address"
        )
        return
    if kind not in rules.image_types:
        shown = _TYPE_NAMES.get(kind or "", kind or "not an image")
        v.problems.append(f"{platform} takes {rules.type_names()} images; {named} is {shown}")
    limit = rules.cover_max_bytes if what == "cover" and rules.cover_max_bytes else None
    limit = limit or rules.image_max_bytes
    if size > limit:
        v.problems.append(
            f"{platform} takes {what}s of at most {_size(limit)}; {named} is {_size(size)}"
        )


def attachment_name(reference: str) -> str:
    """How an attachment is keyed: the reference as written, without ``./`` and a fragment."""
    name = reference.split("#", 1)[0].split("?", 1)[0].strip()
    while name.startswith("./"):
        name = name[2:]
    return name


def _data_uri(source: str) -> tuple[str | None, int]:
    from contenthub.platforms.images import image_type

    header, _, payload = source.partition(",")
    try:
        data = base64.b64decode(payload, validate=True) if header.endswith(";base64") else b""
    except (binascii.Error, ValueError):
        return None, 0
    return image_type(data) if data else header[5:].split(";")[0], len(data or payload)


def _short(source: str) -> str:
    return source if len(source) <= 60 else source[:40] + "…"


def _size(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 1024:.0f} KB"
