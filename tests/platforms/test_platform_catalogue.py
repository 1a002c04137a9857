"""``contenthub platforms``: every platform, from what each adapter class declares, readable in
an 80-column terminal and as JSON."""

from __future__ import annotations

import json
import os
import subprocess

from harness import CONTENTHUB

from contenthub.platforms.registry import known_platforms, publisher_for


def _run(*args: str, columns: int = 80) -> str:
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1"}
    done = subprocess.run(
        [CONTENTHUB, "platforms", *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_platform_is_listed_with_its_declared_features() -> None:
    rows = json.loads(_run("--json"))

    assert [r["platform"] for r in rows] == known_platforms()
    for row in rows:
        declared = publisher_for(row["platform"]).features
        assert declared is not None, f"{row['platform']} declares no features"
        assert row["login"] == declared.login and row["review"] is declared.review
    by_name = {r["platform"]: r for r in rows}
    assert by_name["ghost"]["images"] and by_name["ghost"]["scheduled"]
    assert not by_name["devto"]["images"] and not by_name["wechat"]["tags"]


def test_the_table_fits_a_narrow_terminal() -> None:
    text = _run(columns=80)

    assert all(len(line) <= 80 for line in text.splitlines())
    for name in known_platforms():
        assert f"│ {name}" in text
    assert "scheduled" in text and "review" in text
