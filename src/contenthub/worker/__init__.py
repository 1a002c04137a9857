"""A worker process: N publish slots on one asyncio loop, in pieces that read alone.

- ``process.py``: ``Worker``, which starts the pieces below and stops them cleanly;
- ``claimer.py``: the claim loop, fetching only for free slots;
- ``slots.py``: the slots, one publish each (``runner.py`` runs one publish and turns how it
  ended into an outcome; ``context.py`` is what the adapter sees while it runs);
- ``completer.py``: writes outcomes in batches, retrying until the database answers;
- ``leases.py``: heartbeat and cancel polling of the tasks this worker holds;
- ``maintenance.py``: the maintenance duty, ``run_once(now) -> counts`` (rescue, staging);
- ``loops.py``: the shared loop every side duty runs in, and the PostgreSQL wake-ups;
- ``database.py``: units of work on threads, so the loop never waits on the database.

Every database touch is a short unit of work; none is held across a publish.
"""

from contenthub.worker.config import WorkerConfig
from contenthub.worker.process import Worker

__all__ = ["Worker", "WorkerConfig"]
