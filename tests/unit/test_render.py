"""Markdown rendering must be safe whatever a user pastes in."""

from __future__ import annotations

from contenthub.platforms.render import markdown_to_html


def test_scripts_event_handlers_and_javascript_links_are_removed() -> None:
    html = markdown_to_html(
        "Hi <script>alert(1)</script> <img src=x onerror=alert(2)> "
        "[click](javascript:alert(3)) <a href='javascript:alert(4)'>x</a> "
        "<iframe src='https://evil'></iframe> <b onclick='x()'>bold</b>"
    )
    lowered = html.lower()
    for bad in ("<script", "onerror", 'href="javascript:', "<iframe", "onclick", "alert(1)"):
        assert bad not in lowered, bad
    assert "[click](javascript:alert(3))" in html  # refused as a link: left as plain text
    assert "<b>bold</b>" in html


def test_formatting_survives() -> None:
    html = markdown_to_html(
        "## Sub\n\n**bold** _em_ `code`\n\n- a\n- b\n\n| x | y |\n|---|---|\n| 1 | 2 |\n\n"
        "![pic](https://example.com/a.png)\n\n[link](https://example.com)"
    )
    for good in (
        "<h2>Sub</h2>",
        "<strong>bold</strong>",
        "<em>em</em>",
        "<code>code</code>",
        "<li>a</li>",
        "<table>",
        "<td>1</td>",
        'src="https://example.com/a.png"',
        'href="https://example.com"',
        'rel="noopener noreferrer"',
    ):
        assert good in html, good


def test_cjk_emoji_and_broken_markdown() -> None:
    html = markdown_to_html("# 标题 🚀\n\n**未闭合的粗体 _和 [坏链接](\n\n```\n没有结束的代码块")
    assert "标题 🚀" in html
    assert "未闭合的粗体" in html
    assert "没有结束的代码块" in html
