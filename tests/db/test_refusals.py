"""A statement the database refuses: never retried as if the database were away, and its
error (what a log line or a 500 shows) carries the statement but never the values."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from contenthub.storage.db import Database, StatementTooLarge, is_transient, refusal

SECRET = "ARTICLE-BODY-NOBODY-MAY-READ-IN-A-LOG"


def test_a_refused_statement_shows_no_parameters(db: Database) -> None:
    with pytest.raises(sa.exc.DBAPIError) as raised:
        db.write(lambda s: s.execute(sa.text("SELECT :body FROM no_such_table"), {"body": SECRET}))
    shown = str(raised.value)
    assert "no_such_table" in shown and SECRET not in shown, shown
    assert not is_transient(raised.value)
    reason = refusal(raised.value)
    assert reason is not None and "\n" not in reason and SECRET not in reason


def test_a_statement_above_the_servers_packet_limit_is_refused_unsent_and_not_retried(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    if db.dialect != "mysql":
        pytest.skip("max_allowed_packet is MySQL's and MariaDB's")
    limit = db.read(lambda s: s.execute(sa.text("SELECT @@max_allowed_packet")).scalar_one())
    body = "x" * (int(limit) + 1)
    with (
        caplog.at_level(logging.WARNING, logger="contenthub.storage.db"),
        pytest.raises(StatementTooLarge) as raised,
    ):
        db.write(lambda s: s.execute(sa.text("SELECT :body"), {"body": body}))
    assert "max_allowed_packet" in str(raised.value)
    assert not is_transient(raised.value)
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]
    # The connection is still good: the statement never reached the server.
    assert db.read(lambda s: s.execute(sa.text("SELECT 1")).scalar_one()) == 1
