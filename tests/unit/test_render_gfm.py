"""GitHub-flavoured Markdown in every renderer, text fields that stay text, and warnings for
what a platform cannot take."""

from __future__ import annotations

import pytest

from contenthub.platforms.images import image_urls
from contenthub.platforms.render import (
    content_warnings,
    html_text,
    markdown_for_devto,
    markdown_to_html,
    markdown_to_wechat_html,
    markdown_to_wordpress_html,
    markdown_to_zhihu_html,
    plain_text,
    preview_html,
    summary,
)

GFM = (
    "- [x] shipped\n- [ ] tested\n\n"
    "See https://example.com/docs for more[^why].\n\n"
    "| name | count |\n|:----:|------:|\n| a | 1 |\n\n"
    "[^why]: Because it matters.\n"
)
HTML_RENDERERS = {
    "generic": markdown_to_html,
    "zhihu": markdown_to_zhihu_html,
    "wechat": markdown_to_wechat_html,
    "wordpress": markdown_to_wordpress_html,
}


@pytest.mark.parametrize("renderer", HTML_RENDERERS)
def test_every_renderer_keeps_task_lists_footnotes_links_and_alignment(renderer: str) -> None:
    out = HTML_RENDERERS[renderer](GFM)

    assert "☑\ufe0e shipped" in out and "☐\ufe0e tested" in out and "[x]" not in out
    if renderer == "wechat":  # WeChat drops links to other sites: the address stays as text
        assert "https://example.com/docs" in out and "(#fn" not in out
    else:
        assert 'href="https://example.com/docs"' in out  # a bare URL is a link
        assert 'href="#fn1"' in out
    assert "Because it matters." in out and "[^why]" not in out
    assert 'align="center"' in out or 'data-align="center"' in out  # the sanitiser keeps it
    assert "text-align" not in out.replace("has-text-align", "")  # no style for it to strip


def test_markdown_platforms_keep_gfm_for_their_own_renderer_and_get_embeds() -> None:
    out = markdown_for_devto(GFM + "\nhttps://www.youtube.com/watch?v=dQw4w9WgXcQ\n")
    assert "- [x] shipped" in out and "[^why]: Because" in out
    assert "{% embed https://www.youtube.com/watch?v=dQw4w9WgXcQ %}" in out
    inline = markdown_for_devto("Watch https://vimeo.com/123456 today.\n")
    assert "{% embed" not in inline  # only a link alone on its line becomes a player


def test_wordpress_gets_an_embed_block_for_a_lone_video_link() -> None:
    out = markdown_to_wordpress_html("Intro.\n\nhttps://youtu.be/dQw4w9WgXcQ\n")
    assert '<!-- wp:embed {"url":"https://youtu.be/dQw4w9WgXcQ"' in out
    assert "is-provider-youtube" in out


def test_plain_text_is_text_and_html_fields_escape_it() -> None:
    body = "Use `<img src=x onerror=alert(1)>` and <b onclick=x>raw</b> &lt;b&gt;.\n"
    text = plain_text(body)
    assert text == "Use <img src=x onerror=alert(1)> and raw <b>."  # what the reader should see
    assert html_text(text) == "Use &lt;img src=x onerror=alert(1)&gt; and raw &lt;b&gt;."
    assert html_text("Queue<T> & co") == "Queue&lt;T&gt; &amp; co"
    assert summary("```\nsecret code\n```\n\nShort.", max_chars=50) == "Short."


def test_what_a_platform_cannot_take_is_named() -> None:
    body = (
        "Press <kbd>Ctrl</kbd>, <mark>note</mark>.\n\n<details><summary>More</summary>x</details>"
        '\n\n<iframe src="https://example.com/w"></iframe>\n\n- [ ] a task box is fine\n'
    )
    on_wechat = content_warnings(body, "wechat")
    assert [w.split(">", 1)[0] + ">" for w in on_wechat] == [
        "<kbd>",
        "<mark>",
        "<details>",
        "<summary>",
        "<iframe>",
    ]
    assert [w.split(">", 1)[0] + ">" for w in content_warnings(body, "wordpress")] == ["<iframe>"]
    assert content_warnings("`<details>` in code is text", "zhihu") == []
    assert "details" in preview_html(body, "wordpress") and "details" not in preview_html(
        body, "wechat"
    )


def test_wordpress_block_comments_cannot_be_ended_by_what_they_carry() -> None:
    out = markdown_to_wordpress_html("https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=1--\n")
    comment = out.split("-->", 1)[0]
    assert comment.startswith("<!-- wp:embed ") and "\\u0026t=1\\u002d\\u002d" in comment
    assert "javascript" not in markdown_to_wordpress_html('<img src="javascript:alert(1)">')


def test_image_sources_are_found_in_markdown_and_html_never_in_code() -> None:
    body = (
        "Intro ![chart](img/chart.png) and <IMG alt='x' src=\"https://e.test/a.png\">.\n\n"
        "```\n![not this](code.png)\n```\n\nAgain ![chart](img/chart.png)\n"
    )
    assert image_urls(body) == ["img/chart.png", "https://e.test/a.png"]
    assert image_urls("No image: an [ordinary link](https://e.test/) and 3 > 2.\n") == []
    assert image_urls("`![in code](x.png)` only\n") == []
    assert content_warnings("Plain prose, no tag at all: 2 > 1.\n", "wechat") == []
