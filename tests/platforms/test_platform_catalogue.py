"""``contenthub platforms``: every platform, from what each adapter class declares, readable in
an 80-column terminal and as JSON."""

from __future__ import annotations

import json
import os
import subprocess

from harness import CONTENTHUB

from contenthub.platforms.registry import built_in_platforms, publisher_for
from contenthub.platforms.requirements import ArticleView, Attachment, check
from contenthub.services.platforms import platform_catalogue

# What a user reads for each platform: how one logs in and which features it has. Written out
# so that a changed declaration has to change this table too.
EXPECTED = {
    "bilibili": ("web login (cookies)", "images cover tags review"),
    "csdn": ("web login (cookies)", "images cover tags scheduled review"),
    "devto": ("API key", "cover tags"),
    "ghost": ("Admin API key (JWT)", "images cover tags scheduled"),
    "gitsite": ("none, or an https token", "images cover tags scheduled"),
    "jianshu": ("web login (cookies)", "images"),
    "juejin": ("web login (cookies)", "images cover tags review"),
    "local": ("none (a server folder)", "images cover tags"),
    "metaweblog": ("user + password or token", "images cover tags review"),
    "segmentfault": ("web login (cookies)", "images cover tags"),
    "toutiao": ("web login (cookies), in a browser", "images cover scheduled review"),
    "wechat": ("AppID + AppSecret", "images cover review"),
    "wordpress": ("user + app password", "images cover tags scheduled review"),
    "yuque": ("token", ""),
    "zhihu": ("web login (cookies)", "images cover tags scheduled review"),
}
FEATURES = ("images", "cover", "tags", "scheduled", "review")


def _run_both() -> tuple[str, str]:
    """``contenthub platforms --json`` and the table at 80 columns, run side by side."""
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    runs = [
        subprocess.Popen(
            [CONTENTHUB, "platforms", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in (["--json"], [])
    ]
    outputs = []
    for proc in runs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        outputs.append(out)
    return outputs[0], outputs[1]


def test_every_platform_is_listed_with_its_declared_features() -> None:
    as_json, text = _run_both()
    rows = json.loads(as_json)

    assert [r["platform"] for r in rows] == built_in_platforms()
    listed = {
        r["platform"]: (r["login"], " ".join(f for f in FEATURES if r[f] is True)) for r in rows
    }
    assert listed == EXPECTED

    # The table, in a narrow terminal: every platform, nothing wider than 80 columns.
    assert all(len(line) <= 80 for line in text.splitlines())
    for name in built_in_platforms():
        assert f"│ {name}" in text
    assert "scheduled" in text and "review" in text


def _verdict(platform: str, **article: object):
    fields = {"title": "A title", "body": "Words.\n", "tags": ["python"], "cover": None}
    return check(publisher_for(platform).requires, ArticleView(**{**fields, **article}), platform)


def test_the_newer_platforms_rules_refuse_or_say_before_anything_is_queued() -> None:
    """What each newer platform's protocol needs, declared once (``requires``): the catalogue's
    images/cover/tags columns are read from the same declaration."""
    assert _verdict("segmentfault", tags=[]).problems == [
        "segmentfault publishes only articles with at least 1 tag (CLI: --tag, API: tags)"
    ]
    jianshu = _verdict("jianshu", tags=["a", "b"], cover="https://example.com/c.png")
    assert jianshu.problems == [] and jianshu.notes == [
        "jianshu keeps no tags: a, b left out",
        "jianshu shows no cover: published without it",
    ]
    attached = {"img/a.png": Attachment("img/a.png", "image/png", 10)}
    yuque = _verdict("yuque", body="![a](img/a.png)\n", attachments=attached)
    assert yuque.problems == [
        "yuque cannot host images (it has no upload): image img/a.png would show broken; "
        "use a web address"
    ]
    assert _verdict("bilibili", title="长" * 41).problems == [
        "bilibili titles have 1–40 characters; this one has 41"
    ]
    assert _verdict("ghost", title="t" * 256).problems
    rows = {row["platform"]: row for row in platform_catalogue()}
    for name in ("jianshu", "yuque"):
        assert not rows[name]["tags"] and not rows[name]["cover"]
    assert not rows["yuque"]["images"] and rows["jianshu"]["images"]
    assert rows["segmentfault"]["tags"] and rows["bilibili"]["review"]
