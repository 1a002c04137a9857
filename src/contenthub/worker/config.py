"""The worker's settings, validated when made."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field

from contenthub.browser.pool import PoolSettings


@dataclass
class WorkerConfig:
    slots: int = 4
    lease_seconds: float = 60.0
    poll_seconds: float = 0.5
    maintenance_seconds: float = 1.0
    # Often enough that a 1-second schedule is served on time by some process.
    scheduler_seconds: float = 0.25
    cancel_poll_seconds: float = 1.0
    shutdown_grace_seconds: float = 30.0
    publish_timeout_seconds: float = 900.0
    browser: PoolSettings = field(default_factory=PoolSettings)
    # Rescue in seconds: each worker holds a session lock while it lives (liveness.py) and
    # every worker's rescuer hands back the tasks of those whose lock is free. Off: only
    # the lease finds a dead worker (the benchmark's baseline).
    fast_rescue: bool = True
    lock_check_seconds: float = 0.25
    rescue_check_seconds: float = 0.5
    # How long a rescuer must see a lock free: a live worker whose lock connection dropped
    # takes it back well within this (and stops its publishes a second before it ends).
    rescue_grace_seconds: float = 2.5
    name: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    )

    def __post_init__(self) -> None:
        if self.slots < 1:
            raise ValueError("slots must be at least 1")
        if self.lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
