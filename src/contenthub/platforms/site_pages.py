"""The local static site's pages: a post's page, the index (newest first, with dates and
tags), an Atom feed and one stylesheet. Every text from an article is escaped here; the body
arrives as sanitised HTML from the renderer."""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

STYLESHEET = "style.css"
FEED = "feed.xml"
SITE_TITLE = "Posts"

CSS = """\
:root { color-scheme: light dark; --fg: #1f2328; --muted: #59636e; --bg: #fff;
  --rule: #d1d9e0; --code: #f6f8fa; --accent: #0b5fce; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9198a1;
  --bg: #0d1117; --rule: #3d444d; --code: #151b23; --accent: #4493f8; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 18px/1.65 -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC",
  "PingFang SC", Helvetica, Arial, sans-serif; }
main, header.site, footer.site { max-width: 42rem; margin: 0 auto; padding: 0 1.25rem; }
header.site { padding-top: 1.5rem; display: flex; justify-content: space-between;
  align-items: baseline; border-bottom: 1px solid var(--rule); padding-bottom: .75rem; }
header.site a { color: var(--fg); text-decoration: none; font-weight: 600; }
header.site a.feed { color: var(--muted); font-weight: 400; font-size: .85rem; }
footer.site { color: var(--muted); font-size: .85rem; padding-top: 2rem; padding-bottom: 2rem; }
a { color: var(--accent); }
h1 { font-size: 2rem; line-height: 1.25; margin: 2rem 0 .5rem; }
h2 { font-size: 1.4rem; margin-top: 2rem; } h3 { font-size: 1.15rem; }
.meta { color: var(--muted); font-size: .9rem; margin: 0 0 1.5rem; }
.tag { display: inline-block; margin-right: .4rem; padding: 0 .45rem; border-radius: 1rem;
  background: var(--code); color: var(--muted); font-size: .8rem; }
img, video { max-width: 100%; height: auto; }
img.cover { display: block; margin: 0 0 1.5rem; border-radius: 6px; }
pre { background: var(--code); padding: .9rem 1rem; border-radius: 6px; overflow-x: auto;
  font-size: .85rem; line-height: 1.5; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; }
:not(pre) > code { background: var(--code); padding: .1em .3em; border-radius: 4px; }
blockquote { margin: 1rem 0; padding: 0 1rem; border-left: 4px solid var(--rule);
  color: var(--muted); }
table { border-collapse: collapse; margin: 1rem 0; display: block; overflow-x: auto; }
th, td { border: 1px solid var(--rule); padding: .35rem .7rem; }
hr { border: 0; border-top: 1px solid var(--rule); margin: 2rem 0; }
ol.posts { list-style: none; padding: 0; }
ol.posts li { padding: 1.1rem 0; border-bottom: 1px solid var(--rule); }
ol.posts h2 { margin: 0 0 .2rem; font-size: 1.25rem; }
ol.posts h2 a { color: var(--fg); text-decoration: none; }
ol.posts h2 a:hover { text-decoration: underline; }
ol.posts p { margin: .3rem 0 0; color: var(--muted); }
"""


@dataclass(frozen=True)
class Listed:
    """A post as the index and the feed show it."""

    post_id: str
    title: str
    tags: Sequence[str]
    summary: str
    published: datetime
    updated: datetime


def _head(title: str, stylesheet: str, feed: str) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title>"
        f"<link rel='stylesheet' href='{stylesheet}'>"
        f"<link rel='alternate' type='application/atom+xml' title='Feed' href='{feed}'>"
        "</head><body>"
    )


def _masthead(home: str, feed: str) -> str:
    return (
        f"<header class='site'><a href='{home}'>{SITE_TITLE}</a>"
        f"<a class='feed' href='{feed}'>Atom feed</a></header>"
    )


def _tags(tags: Sequence[str]) -> str:
    return " ".join(f"<span class='tag'>#{html.escape(t)}</span>" for t in tags)


def _date(when: datetime) -> str:
    return f"<time datetime='{when.isoformat()}'>{when.strftime('%Y-%m-%d')}</time>"


def post_page(
    *, title: str, body_html: str, tags: Sequence[str], cover: str | None, published: datetime
) -> str:
    """A post's page, in ``posts/``: the site's files are one level up."""
    cover_html = f"<img class='cover' src='{html.escape(cover)}' alt=''>" if cover else ""
    return (
        _head(title, f"../{STYLESHEET}", f"../{FEED}")
        + _masthead("../index.html", f"../{FEED}")
        + f"<main><article><h1>{html.escape(title)}</h1>"
        f"<p class='meta'>{_date(published)} {_tags(tags)}</p>"
        f"{cover_html}{body_html}</article></main>"
        "<footer class='site'><a href='../index.html'>← All posts</a></footer>"
        "</body></html>\n"
    )


def index_page(posts: Sequence[Listed]) -> str:
    """Newest first: each post's date, title, tags and summary."""
    items = "".join(
        f"<li><h2><a href='posts/{html.escape(p.post_id)}.html'>{html.escape(p.title)}</a></h2>"
        f"<div class='meta'>{_date(p.published)} {_tags(p.tags)}</div>"
        + (f"<p>{html.escape(p.summary)}</p>" if p.summary else "")
        + "</li>"
        for p in posts
    )
    empty = "" if posts else "<p class='meta'>Nothing published yet.</p>"
    return (
        _head(SITE_TITLE, STYLESHEET, FEED)
        + _masthead("index.html", FEED)
        + f"<main>{empty}<ol class='posts'>{items}</ol></main>"
        + "<footer class='site'>Published with contenthub.</footer></body></html>\n"
    )


def atom_feed(posts: Sequence[Listed], site_url: str) -> str:
    """An Atom feed (RFC 4287) of the newest posts; links are absolute under ``site_url``."""
    ns = "http://www.w3.org/2005/Atom"
    ET.register_namespace("", ns)
    feed = ET.Element(f"{{{ns}}}feed")
    ET.SubElement(feed, f"{{{ns}}}title").text = SITE_TITLE
    ET.SubElement(feed, f"{{{ns}}}id").text = f"{site_url}/"
    ET.SubElement(feed, f"{{{ns}}}link", href=f"{site_url}/")
    ET.SubElement(feed, f"{{{ns}}}link", rel="self", href=f"{site_url}/{FEED}")
    newest = max((p.updated for p in posts), default=None)
    ET.SubElement(feed, f"{{{ns}}}updated").text = (
        newest or datetime.now().astimezone()
    ).isoformat()
    author = ET.SubElement(feed, f"{{{ns}}}author")
    ET.SubElement(author, f"{{{ns}}}name").text = "contenthub"
    for post in posts[:50]:
        url = f"{site_url}/posts/{post.post_id}.html"
        entry = ET.SubElement(feed, f"{{{ns}}}entry")
        ET.SubElement(entry, f"{{{ns}}}title").text = post.title
        ET.SubElement(entry, f"{{{ns}}}id").text = url
        ET.SubElement(entry, f"{{{ns}}}link", href=url)
        ET.SubElement(entry, f"{{{ns}}}published").text = post.published.isoformat()
        ET.SubElement(entry, f"{{{ns}}}updated").text = post.updated.isoformat()
        for tag in post.tags:
            ET.SubElement(entry, f"{{{ns}}}category", term=tag)
        if post.summary:
            ET.SubElement(entry, f"{{{ns}}}summary").text = post.summary
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode") + "\n"
