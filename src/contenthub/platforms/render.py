"""Markdown → each platform's format, always sanitised: no script, no event handlers, no
``javascript:`` links.

GitHub-flavoured Markdown in every renderer: tables (column alignment as ``align``, which the
sanitiser keeps), strikethrough, task lists (☑/☐: no platform keeps a form control),
footnotes, bare URLs linked. What a platform cannot take is never dropped silently:
:func:`content_warnings` names it, and the task and the preview show it.

Text fields (title, excerpt, tags, alt text) are plain text: :func:`plain_text` and
:func:`summary` return text, never markup, and a field the platform shows as HTML (WordPress's
title, excerpt and tag names) goes through :func:`html_text` first.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdown_it.utils import OptionsDict
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.tasklists import tasklists_plugin


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "linkify": True, "typographer": False})
    return (
        md.enable(["table", "strikethrough", "linkify"]).use(tasklists_plugin).use(footnote_plugin)
    )


_md = _markdown()
# Where code blocks are (map_prose): block structure alone, no inline parsing, no linkify.
_blocks = (
    MarkdownIt("commonmark").enable("table").disable(["inline", "linkify"], ignoreInvalid=True)
)

# What the platforms' own editors keep (Zhihu, WeChat, Toutiao).
EDITOR_TAGS = frozenset(
    {
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
)
# Sites that show any HTML their owner writes (WordPress, the local site, CSDN's HTML field)
# also take these; the editors of Zhihu, WeChat and Toutiao do not.
_RICH_TAGS = EDITOR_TAGS | {"details", "summary", "kbd", "mark"}
_ALLOWED_TAGS = _RICH_TAGS
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "id"},
    "img": {"src", "alt", "title", "width", "height"},
    "code": {"class"},
    "td": {"align"},
    "th": {"align"},
    "li": {"id"},
    "sup": {"id"},
    "details": {"open"},
}
_ALLOWED_CLASSES = {"ol": {"footnotes"}, "sup": {"footnote-ref"}, "li": {"task-list-item"}}
_FOOTNOTE_ID = re.compile(r"fn(ref)?\d+(:\d+)?")
_CHECKBOX = re.compile(r'<input class="task-list-item-checkbox"( checked="checked")?[^>]*>')
# Text presentation (U+FE0E): WordPress's emoji script would swap ☑ for a CDN image.
_CHECKED, _UNCHECKED = "\u2611\ufe0e", "\u2610\ufe0e"
_ALIGN_STYLE = re.compile(r' style="text-align:(left|center|right)"')


def _keep_attribute(_tag: str, name: str, value: str) -> str | None:
    # ids only where footnotes link to them: a user's own id could clobber the page's.
    if name == "id" and not _FOOTNOTE_ID.fullmatch(value):
        return None
    return value


def _gfm_html(rendered: str) -> str:
    """What markdown-it's GFM plugins write, in forms the sanitiser and platforms keep."""
    rendered = _CHECKBOX.sub(lambda m: _CHECKED if m.group(1) else _UNCHECKED, rendered)
    rendered = _ALIGN_STYLE.sub(r' align="\1"', rendered)
    return rendered.replace('<ol class="footnotes-list">', '<ol class="footnotes">')


def _clean(
    rendered: str,
    tags: frozenset[str] = _ALLOWED_TAGS,
    *,
    attributes: Mapping[str, set[str]] | None = None,
    link_rel: str | None = "noopener noreferrer",
) -> str:
    return nh3.clean(
        _gfm_html(rendered),
        tags=set(tags),
        attributes={**_ALLOWED_ATTRIBUTES, **(attributes or {})},
        allowed_classes=_ALLOWED_CLASSES,
        attribute_filter=_keep_attribute,
        url_schemes={"http", "https", "mailto"},
        link_rel=link_rel,
    )


def markdown_to_html(markdown: str, *, tags: frozenset[str] = _ALLOWED_TAGS) -> str:
    return _clean(_md.render(markdown), tags)


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
    md = _markdown()
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
    attributes = {"pre": {"lang"}, "table": {"data-draft-node", "data-draft-type"}}
    cleaned = _clean(_zhihu_md.render(markdown), EDITOR_TAGS, attributes=attributes, link_rel=None)
    return _STANDALONE_IMAGE.sub(r"<figure>\1</figure>", cleaned)


# -- WordPress: block markup ----------------------------------------------------------------


@dataclass(frozen=True)
class WordPressMedia:
    """An image in the site's media library, as an image block names it."""

    id: int
    url: str  # the size the block shows ("large" where WordPress made one)
    size: str = "large"


_VIDEO_PROVIDERS = {
    "youtube": re.compile(
        r"https?://(?:www\.|m\.)?(?:youtube\.com/watch\?v=|youtu\.be/)[\w-]{6,}[^\s]*"
    ),
    "vimeo": re.compile(r"https?://(?:www\.)?vimeo\.com/\d+[^\s]*"),
    "bilibili": re.compile(r"https?://(?:www\.)?bilibili\.com/video/(?:BV|av)\w+[^\s]*"),
}


def video_provider(url: str) -> str | None:
    """``youtube``, ``vimeo`` or ``bilibili`` for a link to one of their videos."""
    return next((n for n, p in _VIDEO_PROVIDERS.items() if p.fullmatch(url.strip())), None)


def _lone_link(inline: Token) -> str | None:
    """The URL of a paragraph that is nothing but one link whose text is its address."""
    children = [c for c in inline.children or [] if c.type != "softbreak"]
    if [c.type for c in children] == ["link_open", "text", "link_close"]:
        href = str(children[0].attrGet("href") or "")
        return href if children[1].content.strip() in (href, href.split("://", 1)[-1]) else None
    return None


def _lone_image(inline: Token) -> Token | None:
    children = [c for c in inline.children or [] if c.type != "softbreak"]
    return children[0] if [c.type for c in children] == ["image"] else None


def _block_attributes(attributes: Mapping[str, Any]) -> str:
    """JSON as WordPress's ``serialize_block_attributes`` writes it: nothing in it can end the
    comment it sits in."""
    text = json.dumps(dict(attributes), separators=(",", ":"), ensure_ascii=False)
    for raw, escaped in (("--", "\\u002d\\u002d"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(raw, escaped)
    return text.replace("&", "\\u0026")


def _block(name: str, inner: str, attributes: Mapping[str, Any] | None = None) -> str:
    attrs = f" {_block_attributes(attributes)}" if attributes else ""
    return f"<!-- wp:{name}{attrs} -->\n{inner.strip()}\n<!-- /wp:{name} -->"


def _top_level_blocks(tokens: list[Token]) -> list[list[Token]]:
    groups, start, depth = [], 0, 0
    for index, token in enumerate(tokens):
        depth += token.nesting
        if depth == 0:
            groups.append(tokens[start : index + 1])
            start = index + 1
    return groups


def _wordpress_image(image: Token, media: Mapping[str, WordPressMedia]) -> str:
    src = str(image.attrGet("src") or "")
    if not _is_safe_url(src):
        return ""
    alt = html.escape(_md.renderer.renderInlineAsText(image.children or [], _md.options, {}))
    found = media.get(src)
    if found is None:
        return _block(
            "image",
            f'<figure class="wp-block-image"><img src="{html.escape(src)}" alt="{alt}"/></figure>',
        )
    img = f'<img src="{html.escape(found.url)}" alt="{alt}" class="wp-image-{found.id}"/>'
    return _block(
        "image",
        f'<figure class="wp-block-image size-{found.size}">{img}</figure>',
        {"id": found.id, "sizeSlug": found.size, "linkDestination": "none"},
    )


def _wordpress_embed(url: str, provider: str) -> str:
    classes = f"is-type-video is-provider-{provider} wp-block-embed-{provider}"
    inner = (
        f'<figure class="wp-block-embed {classes} wp-embed-aspect-16-9 wp-has-aspect-ratio">'
        f'<div class="wp-block-embed__wrapper">\n{html.escape(url)}\n</div></figure>'
    )
    attributes = {
        "url": url,
        "type": "video",
        "providerNameSlug": provider,
        "responsive": True,
        "className": "wp-embed-aspect-16-9 wp-has-aspect-ratio",
    }
    return _block("embed", inner, attributes)


# Block themes (Twenty Twenty-Three) give a code block no box: a background and padding, set
# through the block's own supports as the editor would, so code reads as code in any theme.
_CODE_BOX = {
    "style": {
        "color": {"background": "#f6f7f7"},
        "spacing": {"padding": {side: "1em" for side in ("top", "right", "bottom", "left")}},
    }
}
_CODE_BOX_STYLE = "background-color:#f6f7f7;" + ";".join(
    f"padding-{side}:1em" for side in ("top", "right", "bottom", "left")
)
_WORDPRESS_EMBEDS = {"youtube", "vimeo"}  # oEmbed providers WordPress core knows
_CELL_ALIGN = re.compile(r'<(td|th) align="(left|center|right)"')


def _wordpress_block(
    group: list[Token], env: dict[str, Any], media: Mapping[str, WordPressMedia]
) -> str:
    first = group[0]
    if first.type == "paragraph_open" and len(group) == 3:
        image = _lone_image(group[1])
        if image is not None:
            return _wordpress_image(image, media)
        url = _lone_link(group[1])
        provider = video_provider(url) if url else None
        if url and provider in _WORDPRESS_EMBEDS:
            return _wordpress_embed(url, provider)
    rendered = _clean(_md.renderer.render(group, _md.options, env))
    if not rendered.strip():
        return ""
    kind = first.type
    if kind == "paragraph_open":
        return _block("paragraph", rendered)
    if kind == "heading_open":
        level = int(first.tag[1])
        heading = re.sub(r"^<h(\d)>", r'<h\1 class="wp-block-heading">', rendered.strip())
        return _block("heading", heading, {"level": level} if level != 2 else None)
    if kind in ("bullet_list_open", "ordered_list_open"):
        return _block("list", rendered, {"ordered": True} if kind == "ordered_list_open" else None)
    if kind in ("fence", "code_block"):
        pre = f'<pre class="wp-block-code has-background" style="{_CODE_BOX_STYLE}">'
        return _block("code", rendered.replace("<pre>", pre, 1), _CODE_BOX)
    if kind == "table_open":
        table = _CELL_ALIGN.sub(r'<\1 class="has-text-align-\2" data-align="\2"', rendered)
        return _block("table", f'<figure class="wp-block-table">{table.strip()}</figure>')
    if kind == "blockquote_open":
        quote = rendered.replace("<blockquote>", '<blockquote class="wp-block-quote">', 1)
        return _block("quote", quote)
    if kind == "hr":
        return _block("separator", '<hr class="wp-block-separator has-alpha-channel-opacity"/>')
    return _block("html", rendered)  # raw HTML, footnotes: sanitised, shown as written


def markdown_to_wordpress_html(
    markdown: str, media: Mapping[str, WordPressMedia] | None = None
) -> str:
    """Core block markup (paragraph, heading, list, code, table, quote, image with the media id,
    embed …), each block's HTML sanitised; ``media`` maps an image URL in the body to its media
    library entry, so image blocks carry the id WordPress sizes and srcsets it by."""
    env: dict[str, Any] = {}
    tokens = _md.parse(markdown, env)
    blocks = (_wordpress_block(g, env, media or {}) for g in _top_level_blocks(tokens))
    return "\n\n".join(b for b in blocks if b)


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
    if url.startswith("#"):  # a footnote's in-page link: WeChat keeps no anchors
        return text
    if _is_wechat_link(url):
        return match.group(0)
    # WeChat strips links to other sites; keep the address readable as text instead.
    shown = html.escape(url)
    return text if html.unescape(text).strip() == url else f"{text} ({shown})"


def markdown_to_wechat_html(markdown: str) -> str:
    """Inline-styled HTML in one section (WeChat drops style sheets and foreign links)."""
    body = _STANDALONE_IMAGE.sub(
        r"<figure>\1</figure>", markdown_to_html(markdown, tags=EDITOR_TAGS)
    )
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
_DANGEROUS_NAMES = frozenset(
    [
        "script",
        "style",
        "iframe",
        "object",
        "embed",
        "frame",
        "frameset",
        "applet",
        "form",
        "meta",
        "link",
        "base",
        "svg",
        "math",
        "template",
        "noscript",
    ]
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
    for token in _blocks.parse(markdown):
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


_LONE_URL = re.compile(r"(^|\n[ \t]*\n)[ \t]*<?(https?://[^\s<>]+)>?[ \t]*(?=\n[ \t]*\n|\n?$)")
_DEVTO_EMBEDS = {"youtube", "vimeo"}  # what dev.to's {% embed %} tag plays


def markdown_for_devto(markdown: str) -> str:
    """dev.to's Markdown: sanitised, and a YouTube or Vimeo link alone on its line as dev.to's
    ``{% embed %}`` tag (a player on the page)."""

    def embed(match: re.Match[str]) -> str:
        url = match.group(2)
        if video_provider(url) not in _DEVTO_EMBEDS:
            return match.group(0)
        return f"{match.group(1)}{{% embed {url} %}}"

    return map_prose(sanitize_markdown(markdown), lambda text: _LONE_URL.sub(embed, text))


# -- text, summaries, tags -----------------------------------------------------------------

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
SUMMARY_SOURCE_CHARS = 20_000  # a summary never needs more of the body than this


def html_text(text: str) -> str:
    """Plain text for a field a platform shows as HTML (WordPress's title, excerpt, tag names):
    ``Queue<T>`` stays visible, ``<script>`` never runs."""
    return html.escape(text, quote=False)


def _html_as_text(fragment: str) -> str:
    return html.unescape(_TAG.sub(" ", nh3.clean(fragment, tags=set())))


def _inline_text(inline: Token) -> list[str]:
    words: list[str] = []
    for child in inline.children or []:
        if child.type in ("text", "code_inline"):
            words.append(child.content)
        elif child.type == "image":
            words.extend(_inline_text(child))
        elif child.type in ("softbreak", "hardbreak"):
            words.append(" ")
        # raw inline HTML is markup, not text: left out
    return words


def plain_text(markdown: str) -> str:
    """The readable text of (the start of) a Markdown body, on one line: plain text, never
    markup (inline code that shows a tag comes back as those characters, for the field's own
    escaping to keep them characters). Code blocks are no summary and are left out."""
    words: list[str] = []
    for token in _md.parse(markdown[:SUMMARY_SOURCE_CHARS]):
        if token.type == "inline":
            words.extend([*_inline_text(token), " "])
        elif token.type == "html_block":
            words.extend([_html_as_text(token.content), " "])
    return _SPACE.sub(" ", "".join(words)).strip()


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


_PLATFORM_TAGS: dict[str, frozenset[str]] = {
    "zhihu": EDITOR_TAGS,
    "wechat": EDITOR_TAGS,
    "toutiao": EDITOR_TAGS,
}
_MARKDOWN_PLATFORMS = {"devto", "juejin"}  # they render Markdown themselves
_RAW_TAG = re.compile(r"<\s*([a-z][a-z0-9-]*)", re.I)
_TASK_CHECKBOX = "task-list-item-checkbox"


def _raw_tag_names(markdown: str) -> list[str]:
    if "<" not in markdown:
        return []  # no tag without one: no need to parse (every publish checks)
    names: list[str] = []
    for token in _md.parse(markdown):
        raws = [token] if token.type == "html_block" else []
        raws += [c for c in token.children or [] if c.type == "html_inline"]
        for raw in raws:
            if _TASK_CHECKBOX not in raw.content:
                names += [n.lower() for n in _RAW_TAG.findall(raw.content)]
    return list(dict.fromkeys(names))


def content_warnings(markdown: str, platform: str | None) -> list[str]:
    """What of the body ``platform`` cannot take and is left out, one line each (the task and
    the preview show them): HTML elements its renderer or editor drops."""
    if platform in _MARKDOWN_PLATFORMS:
        dropped = [n for n in _raw_tag_names(markdown) if n in _DANGEROUS_NAMES]
    else:
        allowed = _PLATFORM_TAGS.get(platform or "", _ALLOWED_TAGS)
        dropped = [n for n in _raw_tag_names(markdown) if n not in allowed]
    where = platform or "this platform"
    warnings = []
    for name in dropped:
        if name in ("iframe", "embed", "object", "video"):
            warnings.append(
                f"<{name}> (embedded content) is left out on {where}; a YouTube, Vimeo or "
                "Bilibili link alone on its line becomes an embed where the platform has one"
            )
        elif name in ("script", "style"):
            warnings.append(f"<{name}> is left out on {where} (never sent to any platform)")
        else:
            warnings.append(
                f"<{name}> is not supported on {where}: the tag is left out, its text kept"
            )
    return warnings


def preview_html(markdown: str, platform: str | None = None) -> str:
    """The article's body as ``platform``'s adapter renders it (the dashboard's preview);
    platforms that take Markdown, and any other, show the generic rendering of what they send."""
    renderers: dict[str, Callable[[str], str]] = {
        "zhihu": markdown_to_zhihu_html,
        "wechat": markdown_to_wechat_html,
        "wordpress": markdown_to_wordpress_html,
        "toutiao": lambda text: markdown_to_html(text, tags=EDITOR_TAGS),
        "devto": lambda text: markdown_to_html(markdown_for_devto(text)),
        "juejin": lambda text: markdown_to_html(sanitize_markdown(text)),
    }
    return renderers.get(platform or "", markdown_to_html)(markdown)
