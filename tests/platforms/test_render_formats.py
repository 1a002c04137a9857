"""Each platform format from hostile Markdown: no script, no handlers, no javascript: links."""

from __future__ import annotations

import time

import pytest

from contenthub.platforms.render import (
    markdown_to_wechat_html,
    markdown_to_wordpress_html,
    markdown_to_zhihu_html,
    normalize_tags,
    sanitize_markdown,
    summary,
)

HOSTILE = (
    "Hi <script>alert(1)</script> <img src=x onerror=alert(2)> [click](javascript:alert(3)) "
    "<a href='jav&#97;script:alert(4)'>x</a> <iframe src='https://evil'></iframe> "
    "<b onclick='x()'>bold</b> <svg onload=alert(5)></svg> [d](data:text/html;base64,PHNjcmlwdD4=)"
    "\n\n[ref]: javascript:alert(6)\n\n<javascript:alert(7)>\n"
)
FORMATS = {
    "zhihu": markdown_to_zhihu_html,
    "wechat": markdown_to_wechat_html,
    "wordpress": markdown_to_wordpress_html,
    "markdown": sanitize_markdown,
}
BAD = ("<script", "onerror", "onclick", "onload", "javascript:", "<iframe", "<svg", "data:text")


@pytest.mark.parametrize("name", FORMATS)
def test_hostile_input_is_neutralised(name: str) -> None:
    out = FORMATS[name](HOSTILE).lower()
    # In HTML a refused link is left as inert text; what must never appear is a live one.
    live = ('="javascript:', '="data:')
    bad_things = BAD if name == "markdown" else (*BAD[:4], *live, "<iframe", "<svg")
    for bad in bad_things:
        assert bad not in out, (name, bad)
    assert "bold" in out


@pytest.mark.parametrize("name", FORMATS)
def test_cjk_emoji_and_broken_markdown_survive(name: str) -> None:
    out = FORMATS[name]("# 标题 🚀\n\n**未闭合的粗体 _和 [坏链接](\n\n```\n没有结束的代码块 <b>")
    for text in ("标题 🚀", "未闭合的粗体", "没有结束的代码块"):
        assert text in out, (name, text)


def test_markdown_passthrough_keeps_code_verbatim() -> None:
    source = "Text `<script>inline</script>`\n\n```html\n<script>alert('in code')</script>\n```\n"
    assert sanitize_markdown(source) == source


def test_zhihu_editor_shapes() -> None:
    out = markdown_to_zhihu_html(
        "![pic](https://pic4.zhimg.com/a.png)\n\n```go\nfmt.Println(1)\n```\n\n"
        '| h |\n|---|\n| c |\n\n<p style="color:red" class="x">styled</p>'
    )
    assert '<figure><img src="https://pic4.zhimg.com/a.png" alt="pic"></figure>' in out
    assert '<pre lang="go"><code>fmt.Println(1)' in out
    assert '<table data-draft-node="block" data-draft-type="table"><tbody>' in out
    assert "<th>h</th>" in out and "<thead>" not in out
    assert "style=" not in out and 'class="x"' not in out


def test_wechat_inlines_styles_and_turns_foreign_links_into_text() -> None:
    out = markdown_to_wechat_html(
        "## Sub\n\n[ours](https://mp.weixin.qq.com/s/abc) and [theirs](https://example.com/x)"
    )
    assert out.startswith('<section style="') and out.endswith("</section>")
    assert '<h2 style="font-size:20px' in out
    assert 'href="https://mp.weixin.qq.com/s/abc"' in out
    assert "example.com/x" in out and 'href="https://example.com/x"' not in out


def test_a_ten_megabyte_body_is_sanitised_in_reasonable_time() -> None:
    body = ("段落 paragraph with **bold** <b onclick=x>and</b> [a](javascript:x).\n\n" * 150_000)[
        : 10 * 1024 * 1024
    ]
    started = time.perf_counter()
    out = sanitize_markdown(body)
    assert "onclick" not in out and "javascript:" not in out
    assert time.perf_counter() - started < 60  # a bound against runaway regexes, not a benchmark


def test_summaries_fit_the_platform_bounds() -> None:
    long_text = summary("Word " * 100, max_chars=100, min_chars=50)
    assert len(long_text) == 100 and long_text.endswith("…")
    padded = summary("Short.", max_chars=100, min_chars=50, title="A title that is long enough")
    assert padded.startswith("A title") and "Short." in padded
    assert summary("```\ncode only\n```\n\ntext", max_chars=100) == "text"


def test_tags_are_trimmed_deduplicated_and_limited() -> None:
    assert normalize_tags([" #Python ", "python", "", "Web Dev", "a", "b"], limit=3) == [
        "Python",
        "Web Dev",
        "a",
    ]
    assert normalize_tags(["C++", "Web Dev", "日本"], limit=4, ascii_words=True) == ["c", "webdev"]
