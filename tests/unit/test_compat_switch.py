"""The old API's endpoints exist only when CONTENTHUB_COMPAT_API switches them on."""

from __future__ import annotations

from pathlib import Path

import pytest

from contenthub.api.app import create_app
from contenthub.config import Settings

OLD_PATHS = {
    "/api/publish_zhihu",
    "/api/publish_zhihu_batch",
    "/api/publish_task/{task_id}",
    "/api/publish_tasks",
    "/api/publish_task/{task_id}/cancel",
    "/api/publish_task/{task_id}/retry",
}


def served_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, switch: str | None) -> set[str]:
    monkeypatch.setenv("CONTENTHUB_DATA_DIR", str(tmp_path))
    if switch is None:
        monkeypatch.delenv("CONTENTHUB_COMPAT_API", raising=False)
    else:
        monkeypatch.setenv("CONTENTHUB_COMPAT_API", switch)
    return set(create_app(Settings.from_env()).openapi()["paths"])


def test_off_by_default_and_on_with_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not OLD_PATHS & served_paths(tmp_path, monkeypatch, None)
    assert not OLD_PATHS & served_paths(tmp_path, monkeypatch, "off")
    assert served_paths(tmp_path, monkeypatch, "on") >= OLD_PATHS


def test_a_setting_that_is_neither_on_nor_off_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTENTHUB_COMPAT_API", "sometimes")
    with pytest.raises(SystemExit, match="CONTENTHUB_COMPAT_API must be on or off"):
        Settings.from_env()
