"""A supervisor that cannot fork safely (another thread runs in it) starts its child by exec."""

from __future__ import annotations

import os
import threading

from contenthub.supervisor import Supervisor, _exec_child


def test_a_supervisor_running_another_thread_execs_its_child(monkeypatch) -> None:
    execs: list[list[str]] = []

    def exec_instead(args: list[str], env: dict[str, str], output: int) -> int:
        execs.append(args)
        return _exec_child(args, env, output)

    def no_fork() -> int:
        raise AssertionError("forked while another thread ran")

    monkeypatch.setattr("contenthub.supervisor._exec_child", exec_instead)
    monkeypatch.setattr(os, "fork", no_fork)
    lines: list[bytes] = []
    supervisor = Supervisor([["db", "--help"]], sink=lines.append)
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        supervisor._spawn(supervisor.children[0])
    finally:
        release.set()
        other.join()
    child = supervisor.children[0]
    assert execs == [["db", "--help"]]
    assert child.pid is not None
    _, status = os.waitpid(child.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    supervisor._close_output(child)  # what the child wrote, through the supervisor's pipe
    supervisor._selector.close()
    assert any(b"Bring the schema to the newest version" in line for line in lines)
