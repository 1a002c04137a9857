"""Rendering benchmark (issue 16): what GFM (task lists, footnotes, linkify) and block markup cost.

A realistic 19 KB article (headings, lists, task lists, code, a table, links, footnotes) is
rendered by each platform's renderer; the baseline is the renderer before issue 16 (CommonMark
with tables and strikethrough, then the same sanitiser), measured in the same run. Also: the
Markdown platforms' sanitiser on a 1.2 MB body, whose code-block scan now uses a block-only parse.

Run: .venv/bin/python benchmarks/render_gfm.py
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import nh3
from markdown_it import MarkdownIt

from contenthub.platforms import render

SECTION = """## Section {n}

Some prose with **bold**, `inline <code>`, a [link](https://example.com/{n}) and a bare
address https://example.com/bare/{n} in it, plus a footnote[^f{n}].

- [x] a finished step
- [ ] an open step
- a plain point with *emphasis*

| name | count | note |
|:-----|------:|:----:|
| a{n} | {n} | fine |
| b{n} | {n}0 | also |

```python
def step_{n}(queue: "Queue[int]") -> int:
    return queue.get() + {n}
```

> A quoted remark about section {n}.

[^f{n}]: The footnote of section {n}.
"""
ARTICLE = "# A realistic article\n\n" + "\n".join(SECTION.format(n=n) for n in range(40))
_baseline_md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def baseline_html(markdown: str) -> str:
    """The generic renderer before issue 16."""
    return nh3.clean(
        _baseline_md.render(markdown),
        tags=set(render.EDITOR_TAGS),
        attributes={"a": {"href", "title"}, "img": {"src", "alt"}, "code": {"class"}},
        url_schemes={"http", "https", "mailto"},
    )


def baseline_map_prose(markdown: str) -> None:
    """The code-block scan before issue 16: a full parse."""
    for token in _baseline_md.parse(markdown):
        _ = token.map


def median_ms(work: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    print(f"article: {len(ARTICLE) / 1024:.0f} KB; median of 15 runs, ms")
    base = median_ms(lambda: baseline_html(ARTICLE), 15)
    rows = [("baseline (CommonMark + tables, before)", base)]
    for name, renderer in (
        ("generic (GFM)", render.markdown_to_html),
        ("zhihu", render.markdown_to_zhihu_html),
        ("wechat", render.markdown_to_wechat_html),
        ("wordpress (block markup)", render.markdown_to_wordpress_html),
        ("devto (Markdown, embeds)", render.markdown_for_devto),
        ("plain_text (summaries)", render.plain_text),
        ("content_warnings", lambda text: render.content_warnings(text, "wechat")),
    ):
        rows.append((name, median_ms(lambda r=renderer: r(ARTICLE), 15)))
    print(f"| {'renderer':<40} | {'ms':>7} | {'× baseline':>10} |")
    print(f"|{'-' * 42}|{'-' * 9}|{'-' * 12}|")
    for name, ms in rows:
        print(f"| {name:<40} | {ms:>7.1f} | {ms / base:>10.2f} |")
    big = ARTICLE * 64
    print(f"\ncode-block scan of a {len(big) / 1024 / 1024:.1f} MB body, median of 3 runs, ms")
    old = median_ms(lambda: baseline_map_prose(big), 3)
    new = median_ms(lambda: render.map_prose(big, lambda text: text), 3)
    print(f"| {'scan':<40} | {'ms':>7} | {'× before':>10} |")
    print(f"|{'-' * 42}|{'-' * 9}|{'-' * 12}|")
    print(f"| {'before: full parse':<40} | {old:>7.0f} | {1:>10.2f} |")
    print(f"| {'now: block-only parse (map_prose)':<40} | {new:>7.0f} | {new / old:>10.2f} |")


if __name__ == "__main__":
    main()
