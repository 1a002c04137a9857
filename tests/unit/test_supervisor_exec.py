"""A supervisor that cannot fork safely (another thread runs in it) starts its child by exec."""

from __future__ import annotations

import os
import threading

from contenthub.supervisor import Supervisor, _exec_child


def test_a_child_started_by_exec_writes_its_output_into_the_supervisors_pipe() -> None:
    read, write = os.pipe()
    pid = _exec_child(["db", "--help"], dict(os.environ), write)
    os.close(write)
    with os.fdopen(read, "rb") as output:
        text = output.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert "Bring the schema to the newest version" in text


def test_a_supervisor_running_another_thread_does_not_fork(monkeypatch) -> None:
    execs: list[list[str]] = []

    def exec_instead(args: list[str], env: dict[str, str], output: int) -> int:
        execs.append(args)
        return _exec_child(args, env, output)

    monkeypatch.setattr("contenthub.supervisor._exec_child", exec_instead)
    monkeypatch.setattr(os, "fork", lambda: (_ for _ in ()).throw(AssertionError("forked")))
    supervisor = Supervisor([["db", "--help"]], sink=lambda line: None)
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
    supervisor._close_output(child)
    supervisor._selector.close()
