"""``contenthub platforms``: every platform, from what each adapter class declares, readable in
an 80-column terminal and as JSON."""

from __future__ import annotations

import json
import os
import subprocess

from harness import CONTENTHUB

from contenthub.platforms.registry import known_platforms, publisher_for


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
    for row in rows:
        declared = publisher_for(row["platform"]).features
        assert declared is not None, f"{row['platform']} declares no features"
        assert row["login"] == declared.login and row["review"] is declared.review
    by_name = {r["platform"]: r for r in rows}
    assert by_name["ghost"]["images"] and by_name["ghost"]["scheduled"]
    assert not by_name["devto"]["images"] and not by_name["wechat"]["tags"]

    # The table, in a narrow terminal: every platform, nothing wider than 80 columns.
    assert all(len(line) <= 80 for line in text.splitlines())
    for name in known_platforms():
        assert f"│ {name}" in text
    assert "scheduled" in text and "review" in text
