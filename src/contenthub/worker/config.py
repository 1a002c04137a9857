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
    name: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    )

    def __post_init__(self) -> None:
        if self.slots < 1:
            raise ValueError("slots must be at least 1")
        if self.lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
