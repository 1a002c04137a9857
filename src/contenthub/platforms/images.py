"""Images: each one read once, uploaded through the adapter, and the body rewritten to the
platform's URLs. Uploaded URLs are checkpointed as they happen, so a retried publish never
uploads the same image again. Images already on the platform's CDN are left as they are.

Sources: ``http(s)://`` URLs (downloaded without the account's credentials, which belong to the
platform alone), ``data:`` URIs, and file paths (``img/a.png``) naming an image stored with
the article (``TaskContent.attachments``). Anything else cannot be fetched by a server.

Downloads go through the outbound policy (``platforms/outbound.py``) like every other request:
an image URL that points at the server's own network (or redirects there) is refused, and the
publish fails ``rejected`` naming it. A download stops as soon as it exceeds the platform's size
limit.

Every image (the cover first) is downloaded and checked before the first upload: one that is
missing (404), not an image, or too big fails the publish naming it, with nothing uploaded and
nothing left hot-linked. Only a platform's refusal of a working image's *upload* may keep the
original URL (``keep_original_on_failure``: Juejin, WordPress), since that image still shows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import httpx

from contenthub.errors import Rejected, Transient
from contenthub.platforms.outbound import OutboundRefused
from contenthub.platforms.render import map_prose
from contenthub.platforms.requirements import attachment_name, is_attachment_reference
from contenthub.platforms.transport import new_client

if TYPE_CHECKING:  # an annotation only: the article service uses this module without adapters
    from contenthub.platforms.base import PublishContext

CHECKPOINT_KEY = "images"
# ![alt](<an address with spaces>) or ![alt](address "title"): the first keeps its spaces.
_MARKDOWN_IMAGE = re.compile(r"(!\[[^\]]*\]\(\s*<)([^<>\n]+)(?=>)|(!\[[^\]]*\]\(\s*)([^)\s<>]+)")
_HTML_IMAGE = re.compile(r"""(<img\b[^>]*?\bsrc\s*=\s*["']?)([^"'\s>]+)""", re.I)
_MAGIC = {
    b"\x89PNG": ("image/png", "png"),
    b"\xff\xd8\xff": ("image/jpeg", "jpg"),
    b"GIF8": ("image/gif", "gif"),
    b"RIFF": ("image/webp", "webp"),
}


@dataclass(frozen=True)
class ImageFile:
    data: bytes
    content_type: str
    extension: str

    @property
    def md5(self) -> str:
        return hashlib.md5(self.data).hexdigest()

    @property
    def filename(self) -> str:
        return f"{self.md5[:16]}.{self.extension}"


Upload = Callable[[ImageFile], Awaitable[str]]
# Images stored with the article: {the path its body refers to: (content type, bytes)}.
Attachments = Mapping[str, tuple[str, bytes]]


IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif"})


@dataclass(frozen=True)
class ImagePolicy:
    """How one platform takes images."""

    is_hosted: Callable[[str], bool]  # already on the platform's CDN: leave it
    upload: Upload
    keep_original_on_failure: bool = False  # an upload refused: keep the (working) source URL
    max_bytes: int = 20 * 1024 * 1024
    allowed_types: frozenset[str] = IMAGE_TYPES


def image_urls(markdown: str) -> list[str]:
    """Image sources in Markdown and inline HTML (not in code), in order, without repeats."""
    if "![" not in markdown and "<" not in markdown:
        return []  # no image can be written without either: no need to parse (every publish)
    found: list[str] = []

    def collect(text: str) -> str:
        found.extend(_source(match) for match in _MARKDOWN_IMAGE.finditer(text))
        found.extend(match.group(2) for match in _HTML_IMAGE.finditer(text))
        return text

    map_prose(markdown, collect)
    return list(dict.fromkeys(found))


def attachment_names(images: Sequence[str], cover: str | None) -> set[str]:
    """The images stored with the article that its body's ``images`` (:func:`image_urls`)
    and its cover refer to by a file path (``img/a.png``); web addresses and ``data:`` URIs
    carry their own."""
    sources = [*images, *([cover] if cover else [])]
    return {attachment_name(s) for s in sources if is_attachment_reference(s)}


def _source(match: re.Match[str]) -> str:
    return (match.group(2) or match.group(4)).strip()


def replace_image_urls(markdown: str, replacements: dict[str, str]) -> str:
    def swap_markdown(match: re.Match[str]) -> str:
        source = _source(match)
        prefix = match.group(1) or match.group(3)
        return prefix + replacements.get(source, match.group(2) or match.group(4))

    def swap_html(match: re.Match[str]) -> str:
        return match.group(1) + replacements.get(match.group(2), match.group(2))

    return map_prose(
        markdown, lambda text: _HTML_IMAGE.sub(swap_html, _MARKDOWN_IMAGE.sub(swap_markdown, text))
    )


def image_type(data: bytes) -> str | None:
    """The content type of an image the platforms take (PNG, JPEG, GIF, WebP), from its bytes."""
    return next((kind[0] for magic, kind in _MAGIC.items() if data.startswith(magic)), None)


def _sniff(data: bytes, declared: str) -> tuple[str, str]:
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            return kind
    subtype = declared.split(";")[0].strip().lower()
    return subtype or "application/octet-stream", subtype.rsplit("/", 1)[-1] or "bin"


async def fetch_image(
    client: httpx.AsyncClient, url: str, *, max_bytes: int, attachments: Attachments | None = None
) -> ImageFile:
    """Read one image from a URL, a data: URI or the article's attachments. Raises Rejected for
    a source that will never work and Transient for one that might work later."""
    if is_attachment_reference(url):
        stored = (attachments or {}).get(attachment_name(url))
        if stored is None:
            raise Rejected(f"image {url} is not stored with the article (attach the file)")
        declared, data = stored
    elif url.startswith("data:"):
        header, _, payload = url.partition(",")
        try:
            data = (
                base64.b64decode(payload, validate=True)
                if header.endswith(";base64")
                else unquote(payload).encode()
            )
        except (binascii.Error, ValueError):
            raise Rejected("an inline data: image is not valid base64") from None
        declared = header[5:].split(";")[0]
    elif urlsplit(url).scheme in ("http", "https"):
        data, declared = await _download(client, url, max_bytes)
    else:
        raise Rejected(f"image {url} is not a http(s) URL or data: URI")
    if len(data) > max_bytes:
        raise Rejected(f"image {url} is larger than the platform's {max_bytes // 1024} KB limit")
    content_type, extension = _sniff(data, declared)
    return ImageFile(data=data, content_type=content_type, extension=extension)


def download_client() -> httpx.AsyncClient:
    """A client for images: no account options, no credentials, redirects followed (each hop
    checked by the outbound policy)."""
    return new_client({}, follow_redirects=True)


async def _download(client: httpx.AsyncClient, url: str, max_bytes: int) -> tuple[bytes, str]:
    too_big = f"image {url} is larger than the platform's {max_bytes // 1024} KB limit"
    try:
        async with client.stream("GET", url, follow_redirects=True) as response:
            if response.status_code >= 500 or response.status_code == 429:
                raise Transient(f"image {url} answered HTTP {response.status_code}")
            if response.status_code != 200:
                raise Rejected(f"image {url} cannot be downloaded (HTTP {response.status_code})")
            declared_size = response.headers.get("content-length", "")
            if declared_size.isdigit() and int(declared_size) > max_bytes:
                raise Rejected(too_big)
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise Rejected(too_big)
                chunks.append(chunk)
            return b"".join(chunks), response.headers.get("content-type", "")
    except httpx.TooManyRedirects:
        raise Rejected(f"image {url} redirects too many times") from None
    except httpx.HTTPError as error:
        raise Transient(f"cannot download image {url}: {type(error).__name__}") from None


async def localize_images(
    ctx: PublishContext,
    body: str,
    cover: str | None,
    policy: ImagePolicy,
    attachments: Attachments | None = None,
) -> tuple[str, str | None]:
    """Upload the cover and the body's images; returns the body and cover on platform URLs.
    Every image is downloaded and checked first, the cover before the rest, so an image that
    cannot be had fails the publish (naming it) before anything is uploaded."""
    uploaded: dict[str, str] = dict(ctx.checkpoints.get(CHECKPOINT_KEY) or {})
    sources = [*([cover] if cover else []), *image_urls(body)]
    pending = [u for u in dict.fromkeys(sources) if u not in uploaded and not policy.is_hosted(u)]
    if pending:
        images = await fetch_checked(
            pending,
            max_bytes=policy.max_bytes,
            allowed_types=policy.allowed_types,
            attachments=attachments,
        )
        for url, image in images.items():
            platform_url = await _upload(url, image, policy)
            if platform_url is None:
                continue
            uploaded[url] = platform_url
            await ctx.checkpoint(CHECKPOINT_KEY, dict(uploaded))
    new_cover = uploaded.get(cover, cover) if cover else None
    return replace_image_urls(body, uploaded), new_cover


async def fetch_checked(
    urls: list[str],
    *,
    max_bytes: int,
    allowed_types: frozenset[str] = IMAGE_TYPES,
    attachments: Attachments | None = None,
) -> dict[str, ImageFile]:
    """Each image downloaded (or read from the article's attachments) and checked (size,
    format), in order; the first that cannot be had raises, naming it: a missing or non-image
    source never stays hot-linked on a post that says it succeeded."""
    images: dict[str, ImageFile] = {}
    async with download_client() as downloads:
        for url in dict.fromkeys(urls):
            image = await fetch_image(downloads, url, max_bytes=max_bytes, attachments=attachments)
            if image.content_type not in allowed_types:
                raise Rejected(f"image {url} is {image.content_type}, which the platform refuses")
            images[url] = image
    return images


async def upload_once(
    ctx: PublishContext,
    key: str,
    url: str,
    policy: ImagePolicy,
    attachments: Attachments | None = None,
) -> str:
    """Upload one image through ``policy`` (a cover as platform material, say) at most once: its
    platform reference is checkpointed under ``key``."""
    if ctx.checkpoints.get(key):
        return str(ctx.checkpoints[key])
    [image] = (
        await fetch_checked(
            [url],
            max_bytes=policy.max_bytes,
            allowed_types=policy.allowed_types,
            attachments=attachments,
        )
    ).values()
    uploaded = await _upload(url, image, replace(policy, keep_original_on_failure=False))
    assert uploaded is not None  # without keep_original_on_failure a failure raises
    await ctx.checkpoint(key, uploaded)
    return uploaded


async def _upload(url: str, image: ImageFile, policy: ImagePolicy) -> str | None:
    """The platform URL of one image, or None when the platform refused it and the original
    URL (checked to be a working image) is kept. An attachment has no original URL a reader
    could load: its failure always fails the publish."""
    try:
        return await policy.upload(image)
    except OutboundRefused:
        raise  # the user pointed the server at its own network: say so, never paper over it
    except (Rejected, Transient):
        if policy.keep_original_on_failure and not is_attachment_reference(url):
            return None
        raise
