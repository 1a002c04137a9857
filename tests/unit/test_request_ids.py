"""Request ids the API makes up: unique, 32 hex digits, and not repeated by forked processes
(``contenthub api --processes N`` forks its API processes from one that imported the app)."""

from __future__ import annotations

import os
import re

from contenthub.api.app import _new_request_id


def test_request_ids_are_unique_hex_of_uuid_length() -> None:
    ids = [_new_request_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


def test_a_forked_process_makes_ids_of_its_own() -> None:
    parent = {_new_request_id() for _ in range(3)}
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, then out without pytest's teardown
        os.close(read)
        os.write(write, " ".join(_new_request_id() for _ in range(3)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    os.waitpid(pid, 0)
    after = {_new_request_id() for _ in range(3)}
    assert len(child) == 3 and not child & (parent | after)
    # Same count, different random half: the child did not go on from the parent's.
    assert {i[:16] for i in child} != {i[:16] for i in parent}
