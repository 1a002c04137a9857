"""What deploy/ ships: the Prometheus rules load in Prometheus's own checker and fire when
they should (deploy/prometheus/contenthub-rules.test.yml, run by ``promtool test rules``); the
systemd units pass ``systemd-analyze verify`` and run command lines contenthub accepts."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
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


@pytest.mark.parametrize("unit", ["contenthub-api", "contenthub-worker"])
def test_the_systemd_units_verify_and_their_command_lines_parse(tmp_path: Path, unit: str) -> None:
    """systemd's own checker on the unit (our contenthub in place of /opt's), and the
    ExecStart line's options exist (``--help`` after them: parsed, nothing started)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing (Debian's systemd package)")
    contenthub = str(Path(sys.executable).parent / "contenthub")
    text = (RULES.parent / "systemd" / f"{unit}.service").read_text()
    text = text.replace("/opt/contenthub/venv/bin/contenthub", contenthub)
    (tmp_path / f"{unit}.service").write_text(text)
    verified = subprocess.run(
        [analyze, "verify", str(tmp_path / f"{unit}.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verified.returncode == 0 and not verified.stderr.strip(), verified.stderr
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(exec_start.removeprefix("ExecStart="))
    assert "--processes" in argv
    parsed = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=60)
    assert parsed.returncode == 0, parsed.stderr
