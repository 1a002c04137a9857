"""Pure rules: lifecycle, retry policy, error classification, time and Markdown input."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import exc

from contenthub.clock import parse_time
from contenthub.errors import ErrorClass, InputError
from contenthub.retry import MAX_TOTAL_ATTEMPTS, backoff_seconds, decide
from contenthub.services.publishing import read_markdown
from contenthub.states import TransitionError, check_transition
from contenthub.storage.db import is_transient

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("queued", "running"),
        ("running", "succeeded"),
        ("running", "queued"),
        ("failed", "queued"),
        ("scheduled", "cancelled"),
        ("running", "in_review"),
        ("in_review", "succeeded"),
        ("in_review", "failed"),
    ],
)
def test_allowed_transitions(current: str, target: str) -> None:
    check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("succeeded", "queued"),
        ("queued", "succeeded"),
        ("scheduled", "running"),
        ("cancelled", "running"),
        ("in_review", "queued"),  # a post in review is never retried: only its review ends it
        ("in_review", "cancelled"),
        ("queued", "in_review"),
    ],
)
def test_forbidden_transitions(current: str, target: str) -> None:
    with pytest.raises(TransitionError, match=f"a {current} task cannot become {target}"):
        check_transition(current, target)


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(7)
    first = [backoff_seconds(1, rng) for _ in range(200)]
    third = [backoff_seconds(3, rng) for _ in range(200)]
    assert min(first) >= 5 and max(first) <= 10
    assert min(third) >= 20 and max(third) <= 40
    assert len(set(first)) > 100  # jittered, so retries of a batch do not stampede
    assert max(backoff_seconds(40, rng) for _ in range(50)) <= 3600


def test_transient_retries_until_the_budget_is_used() -> None:
    assert decide(ErrorClass.TRANSIENT, attempt=2, max_attempts=3, now=NOW).retry
    assert not decide(ErrorClass.TRANSIENT, attempt=3, max_attempts=3, now=NOW).retry


def test_rejected_and_internal_never_retry() -> None:
    for error in (ErrorClass.REJECTED, ErrorClass.INTERNAL):
        assert not decide(error, attempt=1, max_attempts=3, now=NOW).retry


def test_rate_limited_waits_the_hint_without_spending_the_budget() -> None:
    decision = decide(
        ErrorClass.RATE_LIMITED, attempt=3, max_attempts=3, now=NOW, retry_after_seconds=90
    )
    assert decision.retry and decision.extra_attempt
    assert decision.due_at == NOW + timedelta(seconds=90)
    assert not decide(
        ErrorClass.RATE_LIMITED, attempt=MAX_TOTAL_ATTEMPTS, max_attempts=99, now=NOW
    ).retry


def test_auth_expired_holds_the_account() -> None:
    decision = decide(ErrorClass.AUTH_EXPIRED, attempt=1, max_attempts=3, now=NOW)
    assert decision.retry and decision.hold_account and decision.extra_attempt


def test_worker_lost_requeues_at_once_while_attempts_remain() -> None:
    assert decide(ErrorClass.WORKER_LOST, attempt=1, max_attempts=3, now=NOW).due_at == NOW
    assert not decide(ErrorClass.WORKER_LOST, attempt=3, max_attempts=3, now=NOW).retry


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__("pg")
        self.sqlstate = sqlstate


class _MyError(Exception):
    pass


@pytest.mark.parametrize(
    "orig",
    [
        _PgError("40001"),
        _PgError("40P01"),
        _PgError("57P01"),
        _PgError("08006"),
        _MyError(2013, "Lost connection"),
        _MyError(1213, "Deadlock"),
        _MyError(1205, "Lock wait"),
        _MyError("database is locked"),
    ],
)
def test_transient_database_errors_are_recognised(orig: Exception) -> None:
    assert is_transient(exc.OperationalError("stmt", {}, orig))


@pytest.mark.parametrize(
    "orig", [_PgError("23505"), _MyError(1062, "Duplicate entry"), _MyError("syntax error")]
)
def test_other_database_errors_are_not_retried(orig: Exception) -> None:
    assert not is_transient(exc.IntegrityError("stmt", {}, orig))


def test_times_without_an_offset_are_in_the_users_zone() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    assert parse_time("2026-02-06 12:00:00", zone=shanghai) == datetime(
        2026, 2, 6, 4, 0, tzinfo=UTC
    )
    assert parse_time("2026-02-06T12:00:00Z", zone=shanghai) == datetime(2026, 2, 6, 12, tzinfo=UTC)
    with pytest.raises(InputError, match="not a time"):
        parse_time("tomorrow-ish", zone=shanghai)


def test_markdown_title_comes_from_the_first_heading(tmp_path: Path) -> None:
    path = tmp_path / "post.md"
    path.write_text("# 你好，世界 🌏\n\nBody text.\n", encoding="utf-8")
    draft = read_markdown(path, tags=["a", " ", "b "])
    assert draft.title == "你好，世界 🌏"
    assert draft.body == "Body text.\n"
    assert draft.tags == ["a", "b"]


def test_markdown_without_a_title_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "post.md"
    path.write_text("no heading here\n", encoding="utf-8")
    with pytest.raises(InputError, match="pass --title"):
        read_markdown(path)
    with pytest.raises(InputError, match="does not exist"):
        read_markdown(tmp_path / "missing.md")
