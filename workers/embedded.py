"""The embedded default: a real Celery worker in a thread of this process, on the in-memory transport.

Same tasks, same services, same database code as the scaled-out deployment; only the broker is in process
(memory://) and the database is SQLite. Not `task_always_eager`: messages go through a real consumer.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from celery.worker import WorkController

from workers.celery_app import all_queue_names, get_app
from workers.services.sweeper import SweeperThread

log = logging.getLogger(__name__)


class EmbeddedWorker:
    def __init__(self, loglevel: str = "WARNING", sweep_interval: float = 2.0) -> None:
        self.loglevel = loglevel
        self.sweep_interval = sweep_interval
        self._worker: WorkController | None = None
        self._thread: threading.Thread | None = None
        self._sweeper: SweeperThread | None = None

    def start(self) -> EmbeddedWorker:
        import workers.tasks  # noqa: F401  (registers the tasks on the app)
        from workers import logcontext

        logcontext.connect()

        app = get_app()
        if not str(app.conf.broker_url).startswith("memory"):
            raise RuntimeError("the embedded worker runs only on the in-memory transport")
        ready = threading.Event()
        self._worker = app.WorkController(
            pool_cls="solo",
            concurrency=1,
            queues=all_queue_names(),
            loglevel=self.loglevel,
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            hostname="embedded@localhost",
            ready_callback=lambda _consumer: ready.set(),
        )
        self._thread = threading.Thread(target=self._worker.start, name="medsieve-embedded-worker", daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("embedded worker did not start within 30 s")
        # The in-memory queue starts empty: anything left open by an earlier run is published again.
        self._sweeper = SweeperThread(interval=self.sweep_interval, recover_first=True)
        self._sweeper.start()
        return self

    def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.stop()
        if self._worker is not None:
            self._worker.stop(in_sighandler=False)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> EmbeddedWorker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
