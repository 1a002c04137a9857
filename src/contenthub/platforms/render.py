"""Markdown → each platform's format, always sanitised: no script, no event handlers, no
``javascript:`` links."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdown_it.utils import OptionsDict

_md = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)

_ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
}
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "code": {"class"},
    "td": {"align"},
    "th": {"align"},
}


def markdown_to_html(markdown: str) -> str:
    return nh3.clean(
        _md.render(markdown),
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


# -- per-platform formats ------------------------------------------------------------------
#
# Every format is built from the same sanitised HTML (or, for the Markdown platforms, from
# Markdown with the dangerous parts removed): what a platform accepts never includes script,
# event handlers or javascript: links, whatever the user pasted.

_STANDALONE_IMAGE = re.compile(r"<p>(<img [^>]*>)</p>")
_LINK = re.compile(r'<a href="([^"]*)"[^>]*>(.*?)</a>', re.S)


def _zhihu_fence(
    _renderer: Any, tokens: Sequence[Token], idx: int, _options: OptionsDict, _env: Any
) -> str:
    token = tokens[idx]
    language = token.info.strip().split(" ")[0] if token.info else ""
    lang = f' lang="{html.escape(language)}"' if language else ""
    return f"<pre{lang}><code>{html.escape(token.content)}</code></pre>\n"


def _zhihu_renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.add_render_rule("fence", _zhihu_fence)
    md.add_render_rule("code_block", _zhihu_fence)
    # Draft.js tables: one tbody, header cells stay th.
    md.add_render_rule(
        "table_open",
        lambda *_: '<table data-draft-node="block" data-draft-type="table"><tbody>',
    )
    md.add_render_rule("table_close", lambda *_: "</tbody></table>\n")
    for name in ("thead_open", "thead_close", "tbody_open", "tbody_close"):
        md.add_render_rule(name, lambda *_: "")
    return md


_zhihu_md = _zhihu_renderer()


def markdown_to_zhihu_html(markdown: str) -> str:
    """Zhihu's Draft.js editor HTML: images in figure, code as pre[lang], block tables, no style."""
    attributes = {
        **_ALLOWED_ATTRIBUTES,
        "pre": {"lang"},
        "table": {"data-draft-node", "data-draft-type"},
    }
    cleaned = nh3.clean(
        _zhihu_md.render(markdown),
        tags=_ALLOWED_TAGS,
        attributes=attributes,
        url_schemes={"http", "https", "mailto"},
        link_rel=None,
    )
    return _STANDALONE_IMAGE.sub(r"<figure>\1</figure>", cleaned)


def markdown_to_wordpress_html(markdown: str) -> str:
    """Classic-editor HTML (WordPress wraps it in a Classic block); standalone images as figures."""
    return _STANDALONE_IMAGE.sub(r"<figure>\1</figure>", markdown_to_html(markdown))


_WECHAT_STYLES = {
    "h1": "font-size:22px;font-weight:bold;margin:1.2em 0 0.6em;color:#222;",
    "h2": "font-size:20px;font-weight:bold;margin:1.2em 0 0.6em;color:#222;",
    "h3": "font-size:18px;font-weight:bold;margin:1em 0 0.5em;color:#222;",
    "h4": "font-size:16px;font-weight:bold;margin:1em 0 0.5em;color:#222;",
    "p": "margin:0 0 1em;line-height:1.75;font-size:15px;color:#333;",
    "blockquote": "margin:1em 0;padding:0.5em 1em;border-left:4px solid #d0d7de;color:#666;",
    "pre": "margin:1em 0;padding:12px;background:#f6f8fa;border-radius:4px;overflow-x:auto;",
    "code": "font-family:Menlo,Consolas,monospace;font-size:13px;color:#c7254e;",
    "img": "display:block;max-width:100%;height:auto;margin:0 auto;",
    "figure": "margin:1em 0;text-align:center;",
    "ul": "margin:0 0 1em;padding-left:1.5em;",
    "ol": "margin:0 0 1em;padding-left:1.5em;",
    "li": "margin:0.3em 0;line-height:1.75;font-size:15px;color:#333;",
    "table": "border-collapse:collapse;width:100%;margin:1em 0;",
    "th": "border:1px solid #d0d7de;padding:6px 10px;background:#f6f8fa;font-weight:bold;",
    "td": "border:1px solid #d0d7de;padding:6px 10px;",
    "hr": "border:none;border-top:1px solid #e5e5e5;margin:1.5em 0;",
    "a": "color:#576b95;text-decoration:none;",
    "strong": "font-weight:bold;color:#222;",
}
_STYLED_TAG = re.compile(r"<(" + "|".join(_WECHAT_STYLES) + r")(?=[\s>/])")
_WECHAT_SECTION = "font-size:15px;color:#333;line-height:1.75;letter-spacing:0.5px;"


def _is_wechat_link(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host == "weixin.qq.com" or host.endswith(".weixin.qq.com")


def _wechat_link(match: re.Match[str]) -> str:
    url, text = html.unescape(match.group(1)), match.group(2)
    if _is_wechat_link(url):
        return match.group(0)
    # WeChat strips links to other sites; keep the address readable as text instead.
    shown = html.escape(url)
    return text if html.unescape(text).strip() == url else f"{text} ({shown})"


def markdown_to_wechat_html(markdown: str) -> str:
    """Inline-styled HTML in one section (WeChat drops style sheets and foreign links)."""
    body = _STANDALONE_IMAGE.sub(r"<figure>\1</figure>", markdown_to_html(markdown))
    body = _LINK.sub(_wechat_link, body)
    # Code keeps its colour only outside pre blocks; the order of these two does not matter.
    body = _STYLED_TAG.sub(lambda m: f'<{m.group(1)} style="{_WECHAT_STYLES[m.group(1)]}"', body)
    return f'<section style="{_WECHAT_SECTION}">{body}</section>'


# -- Markdown passthrough (Juejin, dev.to) -------------------------------------------------

_DANGEROUS_ELEMENT = re.compile(
    r"<(script|style|iframe|object|embed|frame|frameset|applet|form|meta|link|base|svg|math|"
    r"template|noscript)\b[^>]*>(?:.*?</\1\s*>)?",
    re.I | re.S,
)
_DANGEROUS_CLOSING = re.compile(
    r"</(script|style|iframe|object|embed|frame|frameset|applet|form|svg|math|template|noscript)"
    r"\s*>",
    re.I,
)
_EVENT_HANDLER = re.compile(r"""\s+on[a-z]+\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+)""", re.I)
_URL_ATTRIBUTE = re.compile(
    r"""\b(href|src|action|formaction|xlink:href)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""", re.I
)
_MARKDOWN_DESTINATION = re.compile(r"\]\(([^()\s]*(?:\([^()]*\)[^()\s]*)*)([^)]*)\)")
_REFERENCE_DEFINITION = re.compile(r"^( {0,3}\[[^\]]+\]:[ \t]*)(\S+)", re.M)
_AUTOLINK = re.compile(r"<\s*([a-z][a-z0-9+.\-]*:[^<>\s]*)>", re.I)
_INLINE_CODE = re.compile(r"(`+)(?:.+?)\1", re.S)
_SAFE_SCHEMES = ("http:", "https:", "mailto:", "#", "/", "./", "../")


def _is_safe_url(raw: str) -> bool:
    url = html.unescape(raw).strip().strip("\"'<>")
    squeezed = "".join(ch for ch in url if ch.isprintable() and not ch.isspace()).lower()
    if ":" not in squeezed.split("/", 1)[0]:
        return True  # relative: no scheme at all
    return squeezed.startswith(_SAFE_SCHEMES)


def _clean_prose(text: str) -> str:
    text = _DANGEROUS_ELEMENT.sub("", text)
    text = _DANGEROUS_CLOSING.sub("", text)
    text = _EVENT_HANDLER.sub("", text)
    text = _URL_ATTRIBUTE.sub(
        lambda m: m.group(0) if _is_safe_url(m.group(2)) else f'{m.group(1)}="#"', text
    )
    text = _MARKDOWN_DESTINATION.sub(
        lambda m: m.group(0) if _is_safe_url(m.group(1)) else f"](#{m.group(2)})", text
    )
    text = _REFERENCE_DEFINITION.sub(
        lambda m: m.group(0) if _is_safe_url(m.group(2)) else f"{m.group(1)}#", text
    )
    return _AUTOLINK.sub(lambda m: m.group(0) if _is_safe_url(m.group(1)) else "", text)


def map_prose(markdown: str, change: Callable[[str], str]) -> str:
    """Apply ``change`` to the Markdown outside code blocks and inline code spans."""
    lines = markdown.splitlines(keepends=True)
    code_lines: set[int] = set()
    for token in _md.parse(markdown):
        if token.type in ("fence", "code_block") and token.map:
            code_lines.update(range(*token.map))
    out: list[str] = []
    prose: list[str] = []
    for number, line in enumerate(lines):
        if number in code_lines:
            out.append(_outside_inline_code("".join(prose), change))
            prose = []
            out.append(line)
        else:
            prose.append(line)
    out.append(_outside_inline_code("".join(prose), change))
    return "".join(out)


def _outside_inline_code(text: str, change: Callable[[str], str]) -> str:
    pieces, last = [], 0
    for match in _INLINE_CODE.finditer(text):
        pieces += [change(text[last : match.start()]), match.group(0)]
        last = match.end()
    pieces.append(change(text[last:]))
    return "".join(pieces)


def sanitize_markdown(markdown: str) -> str:
    """Markdown for platforms that render it themselves: code stays verbatim, raw HTML and links
    lose scripts, event handlers and javascript:/data: URLs."""
    return map_prose(markdown, _clean_prose)


# -- text, summaries, tags -----------------------------------------------------------------

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
SUMMARY_SOURCE_CHARS = 20_000  # a summary never needs more of the body than this


def plain_text(markdown: str) -> str:
    """The readable text of (the start of) a Markdown body, on one line."""
    rendered = markdown_to_html(markdown[:SUMMARY_SOURCE_CHARS])
    rendered = re.sub(r"<pre>.*?</pre>", " ", rendered, flags=re.S)  # code is no summary
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", rendered))).strip()


def summary(markdown: str, *, max_chars: int, min_chars: int = 0, title: str = "") -> str:
    """A summary of at most ``max_chars``; padded with the title when the body is too short
    (the caller checks ``min_chars`` is met when the platform insists)."""
    text = plain_text(markdown)
    if len(text) < min_chars and title:
        text = f"{title.strip()} — {text}" if text else title.strip()
    if len(text) <= max_chars:
        return text
    return text[: max_chars - 1].rstrip() + "…"


def normalize_tags(
    tags: Sequence[str], *, limit: int, max_length: int = 50, ascii_words: bool = False
) -> list[str]:
    """Tags trimmed, without '#', de-duplicated (case-insensitively), at most ``limit``.
    ``ascii_words``: lower-case letters and digits only (dev.to's rule)."""
    seen: set[str] = set()
    result: list[str] = []
    for raw in tags:
        tag = str(raw).strip().lstrip("#").strip()
        if ascii_words:
            tag = re.sub(r"[^a-z0-9]", "", tag.lower())
        tag = tag[:max_length]
        if tag and tag.lower() not in seen:
            seen.add(tag.lower())
            result.append(tag)
        if len(result) == limit:
            break
    return result


def preview_html(markdown: str, platform: str | None = None) -> str:
    """The article's body as ``platform``'s adapter renders it (the dashboard's preview);
    platforms that take Markdown, and any other, show the generic rendering of what they send."""
    renderers: dict[str, Callable[[str], str]] = {
        "zhihu": markdown_to_zhihu_html,
        "wechat": markdown_to_wechat_html,
        "wordpress": markdown_to_wordpress_html,
        "devto": lambda text: markdown_to_html(sanitize_markdown(text)),
        "juejin": lambda text: markdown_to_html(sanitize_markdown(text)),
    }
    return renderers.get(platform or "", markdown_to_html)(markdown)
