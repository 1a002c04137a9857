"""The shipped Prometheus rules load in Prometheus's own checker, and fire when they should
(deploy/prometheus/contenthub-rules.test.yml, run by ``promtool test rules``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: run scripts/install-test-deps (Debian's prometheus)")
    return path


def test_the_alerting_rules_pass_promtool_check(promtool: str) -> None:
    done = subprocess.run(
        [promtool, "check", "rules", str(RULES / "contenthub-rules.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 10 rules found" in done.stdout


def test_the_alerts_fire_on_the_series_that_should_fire_them(promtool: str) -> None:
    done = subprocess.run(
        [promtool, "test", "rules", "contenthub-rules.test.yml"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=RULES,
    )
    assert done.returncode == 0, done.stdout + done.stderr
