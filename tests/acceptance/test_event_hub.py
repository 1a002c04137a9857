"""The live event stream at scale, against a real ``contenthub api`` process on each database.

Events are appended straight to the event log by this test (as the workers do), some in
transactions held open so that ids commit out of order; many streams of two users (and an
administrator) must each get exactly their events, in id order, once. Also: the API process's
statements do not grow with its streams; killing its database connections loses nothing; a
client that stops reading is dropped without holding up the others, and resumes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from harness import running_server, wait_until

from contenthub import storage
from contenthub.services import users
from contenthub.states import EventReason
from contenthub.storage.db import Database
from contenthub.storage.events import Event, append_events
from tests.conftest import BACKENDS, fresh_database_url
from tests.factories import T0, enqueue, make_account

V1 = "/api/v1"
QUEUE = 200  # each stream's queue in the server under test (CONTENTHUB_EVENTS_QUEUE)
POLL = 0.25


@dataclass
class Person:
    user_id: int
    token: str
    task_id: int


@dataclass
class HubApi:
    base_url: str
    backend: str
    url: str
    db: Database
    alice: Person
    bob: Person
    admin_token: str
    log: Path

    def statements(self) -> float:
        text = httpx.get(f"{self.base_url}/metrics", timeout=10).text
        return metric(text, "contenthub_db_statements_total")

    def dropped(self) -> float:
        text = httpx.get(f"{self.base_url}/metrics", timeout=10).text
        return metric(text, "contenthub_event_subscribers_dropped_total")


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} missing from /metrics"
    return float(match.group(1))


def person(db: Database, *, admin: bool = False) -> tuple[int, str]:
    name = f"u{uuid.uuid4().hex[:10]}"

    def work(s) -> tuple[int, str]:  # type: ignore[no-untyped-def]
        user_id = users.user_create(s, name, "correct horse battery", admin=admin, now=T0)
        return user_id, users.token_create(s, user_id, "tests", now=T0)[1]

    return db.write(work)


def with_task(db: Database) -> Person:
    user_id, token = person(db)
    account = make_account(db, user_id, f"a{user_id}")
    public_id = enqueue(db, user_id, account)[0]
    task = db.read(lambda s: storage.task_get(s, public_id, user_id=None))
    return Person(user_id, token, task["id"])


@pytest.fixture(scope="module", params=BACKENDS)
def hub_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HubApi]:
    backend = request.param
    workdir = tmp_path_factory.mktemp(f"hub-{backend}")
    url, server = fresh_database_url(backend, workdir, "hub")
    db = Database.connect(url, retry_seconds=30)
    alice, bob = with_task(db), with_task(db)
    admin_token = person(db, admin=True)[1]
    log = workdir / "api.log"
    env = {
        **os.environ,
        "CONTENTHUB_DATABASE_URL": url,
        "CONTENTHUB_DATA_DIR": str(workdir),
        "CONTENTHUB_EVENTS_QUEUE": str(QUEUE),
        "CONTENTHUB_EVENTS_POLL_SECONDS": str(POLL),
    }
    try:
        with running_server(
            ["api", "--processes", "1"], env, log, what="the API to be ready"
        ) as base:
            yield HubApi(base, backend, url, db, alice, bob, admin_token, log)
    finally:
        db.dispose()
        if server:
            server.drop()


# Writing events ----------------------------------------------------------------------------


def append(db: Database, who: Person, labels: list[str], hold: float = 0.0) -> None:
    """One transaction appending an event per label for ``who``'s task; ``hold`` keeps it
    open after the insert, so later transactions commit their higher ids first."""

    def work(s) -> None:  # type: ignore[no-untyped-def]
        events = [
            Event(who.task_id, who.user_id, "progress", EventReason.PROGRESS, message=label)
            for label in labels
        ]
        append_events(s, events, T0)
        if hold:
            time.sleep(hold)

    db.write(work)


def write_concurrently(db: Database, plan: list[tuple[Person, list[str], float]]) -> None:
    """Run each (person, labels, hold) transaction on its own thread, started a little apart."""
    with ThreadPoolExecutor(len(plan)) as pool:
        futures = []
        for step in plan:
            futures.append(pool.submit(append, db, *step))
            time.sleep(0.02)
        for future in futures:
            future.result(timeout=60)


# Reading streams ---------------------------------------------------------------------------


class Stream:
    """An SSE stream read on a thread, as a browser's EventSource would: a plain socket, so
    that ``close`` cuts it at once (the server sees its client go)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        last_event_id: int | None = None,
        *,
        stop_after: int | None = None,  # disconnect after this many messages
        receive_buffer: int | None = None,
        start_reading: bool = True,
    ) -> None:
        self.messages: list[Message] = []
        self.ended = False  # the server ended the stream
        self.last_event_id = last_event_id
        self.stop_after = stop_after
        self.sock = socket.socket()
        if receive_buffer:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.connect(("127.0.0.1", int(base_url.rsplit(":", 1)[1])))
        resume = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id is not None else ""
        self.sock.sendall(
            f"GET {V1}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\n{resume}\r\n".encode()
        )
        self._thread = threading.Thread(target=self._run, daemon=True)
        if start_reading:
            self.start()

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        with contextlib.suppress(OSError):
            for message in sse_messages(self.sock):
                self.messages.append(message)
                if self.stop_after is not None and len(self.messages) >= self.stop_after:
                    self.sock.close()
                    return
            self.ended = True

    def labels(self) -> list[str]:
        return [m.event["message"] for m in self.messages]

    def last_id(self) -> int | None:
        ids = [m.sse_id for m in self.messages if m.sse_id is not None]
        return ids[-1] if ids else self.last_event_id

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.join()
        self.sock.close()

    def join(self) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout=30)


def sse_messages(sock: socket.socket) -> Iterator[Message]:
    """The messages of an SSE answer (HTTP/1.1, chunked), until the server ends it."""
    received = b""

    def more() -> None:
        nonlocal received
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError
        received += chunk

    try:
        while b"\r\n\r\n" not in received:
            more()
        head, received = received.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200"), head
        text = ""
        while True:
            while b"\r\n" not in received:
                more()
            size_line, received = received.split(b"\r\n", 1)
            size = int(size_line, 16)
            if size == 0:
                return
            while len(received) < size + 2:
                more()
            text += received[:size].decode()
            received = received[size + 2 :]
            while "\n\n" in text:
                block, text = text.split("\n\n", 1)
                message = parse(block.split("\n"))
                if message is not None:
                    yield message
    except EOFError:
        return


@dataclass
class Message:
    sse_id: int | None  # the message's own id line (None: a late event, sent without one)
    event: dict


def parse(block: list[str]) -> Message | None:
    fields = dict(line.split(": ", 1) for line in block if line and not line.startswith(":"))
    if "data" not in fields:
        return None
    return Message(int(fields["id"]) if "id" in fields else None, json.loads(fields["data"]))


def ids_in_db(api: HubApi, who: Person | None, labels: set[str]) -> list[int]:
    rows = api.db.read(
        lambda s: storage.event_list_after(
            s, user_id=who.user_id if who else None, after_id=0, limit=100_000
        )
    )
    return [r["id"] for r in rows if r["message"] in labels]


def assert_exactly(stream: Stream, expected_ids: list[int]) -> None:
    got = [m.event["id"] for m in stream.messages if m.event["kind"] == "progress"]
    assert got == expected_ids, "missing, duplicated or out of order"
    # In order, so every message carries its id and Last-Event-ID resumes exactly.
    assert all(m.sse_id == m.event["id"] for m in stream.messages)


def labels_for(prefix: str, count: int) -> list[str]:
    run = uuid.uuid4().hex[:6]
    return [f"{prefix}-{run}-{i}" for i in range(count)]


def test_many_streams_get_exactly_their_own_events_in_order(hub_api: HubApi) -> None:
    api = hub_api
    alice_streams = [Stream(api.base_url, api.alice.token) for _ in range(20)]
    bob_streams = [Stream(api.base_url, api.bob.token) for _ in range(20)]
    admin = Stream(api.base_url, api.admin_token)
    everyone = [*alice_streams, *bob_streams, admin]
    wait_until(lambda: subscribers(api) == len(everyone), timeout=20, what="the streams to open")
    a, b = labels_for("alice", 40), labels_for("bob", 40)
    before, started = api.statements(), time.monotonic()
    # Ten transactions at once; every other one held open 0.3 s after its insert, so ids
    # commit out of order (on SQLite writers queue instead, and commit in id order).
    plan = []
    for i in range(10):
        who, labels = (api.alice, a) if i % 2 == 0 else (api.bob, b)
        part = labels[(i // 2) * 8 : (i // 2 + 1) * 8]
        plan.append((who, part, 0.3 if i % 3 == 0 else 0.0))
    write_concurrently(api.db, plan)
    everything = set(a) | set(b)

    def all_delivered() -> bool:
        return (
            set(admin.labels()) >= everything
            and all(set(s.labels()) >= set(a) for s in alice_streams)
            and all(set(s.labels()) >= set(b) for s in bob_streams)
        )

    try:
        wait_until(all_delivered, timeout=30, what="every stream to get its events")
        elapsed = time.monotonic() - started
        statements = api.statements() - before
    finally:
        for stream in everyone:
            stream.close()
    alice_ids = ids_in_db(api, api.alice, set(a))
    bob_ids = ids_in_db(api, api.bob, set(b))
    for stream in alice_streams:
        assert_exactly(stream, alice_ids)
    for stream in bob_streams:
        assert_exactly(stream, bob_ids)
    assert_exactly(admin, sorted(alice_ids + bob_ids))
    # 41 streams polling on their own would send 41 × 2 statements a second or more; the
    # hub reads a few times a second (and a /metrics scrape costs a few statements).
    assert statements <= 25 * elapsed + 20, (statements, elapsed)


def test_a_stream_resumes_from_last_event_id_without_gap_or_repeat(hub_api: HubApi) -> None:
    api = hub_api
    labels = labels_for("resume", 30)
    first = Stream(api.base_url, api.alice.token, stop_after=10)
    wait_until(lambda: subscribers(api) == 1, timeout=20, what="the stream to open")
    append(api.db, api.alice, labels[:15])
    first.join()
    assert len(first.messages) == 10
    # Written while the client is away, some committing out of order.
    write_concurrently(
        api.db,
        [(api.alice, labels[15:20], 0.3), (api.alice, labels[20:25], 0.0)],
    )
    second = Stream(api.base_url, api.alice.token, first.last_id())
    append(api.db, api.alice, labels[25:])
    try:
        wait_until(lambda: set(second.labels()) >= set(labels[10:]), timeout=30, what="the rest")
    finally:
        second.close()
    expected = ids_in_db(api, api.alice, set(labels))
    got = [m.event["id"] for m in [*first.messages, *second.messages]]
    assert got == expected
    assert all(m.sse_id == m.event["id"] for m in [*first.messages, *second.messages])


def kill_connections(api: HubApi) -> int:
    """Kill every connection to the test database but the killer's own: the API process's
    (its pool and, on PostgreSQL, its LISTEN connection) and this test's pool."""
    engine = sa.create_engine(api.url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if api.backend == "postgresql":
                return len(
                    conn.execute(
                        sa.text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        )
                    ).all()
                )
            ids = conn.execute(
                sa.text(
                    "SELECT id FROM information_schema.processlist "
                    "WHERE db = DATABASE() AND id <> CONNECTION_ID()"
                )
            ).scalars()
            killed = 0
            for connection_id in list(ids):
                conn.execute(sa.text(f"KILL CONNECTION {int(connection_id)}"))
                killed += 1
            return killed
    finally:
        engine.dispose()


def test_killed_database_connections_lose_nothing(hub_api: HubApi) -> None:
    api = hub_api
    if api.backend == "sqlite":
        pytest.skip("SQLite has no server connections to kill")
    labels = labels_for("kill", 30)
    streams = [Stream(api.base_url, api.alice.token) for _ in range(3)]
    admin = Stream(api.base_url, api.admin_token)
    wait_until(lambda: subscribers(api) == 4, timeout=20, what="the streams to open")
    try:
        append(api.db, api.alice, labels[:10])
        wait_until(lambda: len(streams[0].messages) >= 10, timeout=30, what="the first events")
        assert kill_connections(api) >= 2  # the hub's listener or pool, and ours
        append(api.db, api.alice, labels[10:20])  # while the hub reconnects
        assert kill_connections(api) >= 1
        append(api.db, api.alice, labels[20:])
        wait_until(
            lambda: all(set(s.labels()) >= set(labels) for s in [*streams, admin]),
            timeout=60,
            what="every event after the kills",
        )
    finally:
        for stream in [*streams, admin]:
            stream.close()
    expected = ids_in_db(api, api.alice, set(labels))
    for stream in streams:
        assert_exactly(stream, expected)
    assert [m.event["id"] for m in admin.messages if m.event["message"] in labels] == expected


def test_a_client_that_stops_reading_holds_up_no_one_and_resumes(hub_api: HubApi) -> None:
    api = hub_api
    fast = Stream(api.base_url, api.bob.token)
    # A client that asks for the stream, then reads nothing, with a tiny receive window.
    slow = Stream(api.base_url, api.bob.token, receive_buffer=4096, start_reading=False)
    try:
        wait_until(lambda: subscribers(api) == 2, timeout=20, what="both streams to open")
        dropped_before = api.dropped()
        # ~2 kB each, in batches the other stream keeps up with, until the slow one's socket
        # buffers (a few MB) and queue are full and it is dropped.
        labels: list[str] = []
        while api.dropped() == dropped_before:
            assert len(labels) < 8000, "the slow stream was never dropped"
            batch = [f"{label}-{'x' * 1900}" for label in labels_for("flood", 100)]
            append(api.db, api.bob, batch)
            labels += batch
            wait_until(
                lambda n=len(labels): len(fast.messages) >= n, timeout=20, what="the other stream"
            )
        # The slow client finally reads: what was queued for it, then the end of its stream.
        slow.start()
        slow.join()
        assert slow.ended and slow.messages
    finally:
        fast.close()
        slow.close()
    expected = ids_in_db(api, api.bob, set(labels))
    assert_exactly(fast, expected)
    resumed = Stream(api.base_url, api.bob.token, slow.last_id())
    try:
        wait_until(
            lambda: len(slow.messages) + len(resumed.messages) >= len(labels),
            timeout=30,
            what="the resumed slow stream",
        )
    finally:
        resumed.close()
    assert [m.event["id"] for m in [*slow.messages, *resumed.messages]] == expected


def subscribers(api: HubApi) -> float:
    text = httpx.get(f"{api.base_url}/metrics", timeout=10).text
    return metric(text, "contenthub_event_subscribers")
