"""``contenthub platforms``: every platform, from what each adapter class declares, readable in
an 80-column terminal and as JSON."""

from __future__ import annotations

import json
import os
import subprocess

from harness import CONTENTHUB

from contenthub.platforms.registry import known_platforms

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
    "local": ("none (a server folder)", "tags"),
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

    assert [r["platform"] for r in rows] == known_platforms()
    listed = {
        r["platform"]: (r["login"], " ".join(f for f in FEATURES if r[f] is True)) for r in rows
    }
    assert listed == EXPECTED

    # The table, in a narrow terminal: every platform, nothing wider than 80 columns.
    assert all(len(line) <= 80 for line in text.splitlines())
    for name in known_platforms():
        assert f"│ {name}" in text
    assert "scheduled" in text and "review" in text
