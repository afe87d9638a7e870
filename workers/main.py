"""Entry point of a standalone worker process (`medsieve worker`)."""

from __future__ import annotations

import logging
import os

from celery.signals import worker_process_init

from workers.celery_app import declare_topology, get_app
from workers.services.sweeper import SweeperThread

log = logging.getLogger(__name__)


@worker_process_init.connect
def _after_fork(**_: object) -> None:
    # Never share the parent's DB sockets with a forked child; engines are per pid, drop any inherited ones.
    from db.session import dispose_engines

    dispose_engines()


_threads_per_child = 0


@worker_process_init.connect
def _share_cores(**_: object) -> None:
    # N prefork children each running torch on every core would oversubscribe the CPU (N x cores threads): each
    # child gets its share. torch reads OMP_NUM_THREADS when first imported, which in a child is after this
    # (pipelines load lazily); an operator's own setting wins.
    if _threads_per_child:
        os.environ.setdefault("OMP_NUM_THREADS", str(_threads_per_child))


def run_worker(queues: list[str], concurrency: int, pool: str, loglevel: str, sweeper: bool, hostname: str) -> None:
    import workers.tasks  # noqa: F401  (registers the tasks)
    from workers import logcontext
    from workers.metrics import start_metrics_server

    global _threads_per_child
    logcontext.connect()
    start_metrics_server()
    if pool == "prefork" and concurrency > 1:
        _threads_per_child = max(1, (os.cpu_count() or 1) // concurrency)

    app = get_app()
    declare_topology(app)
    if sweeper:
        SweeperThread().start()
    argv = [
        "worker",
        f"--queues={','.join(queues)}",
        f"--concurrency={concurrency}",
        f"--pool={pool}",
        f"--loglevel={loglevel}",
        f"--hostname={hostname}",
        "--without-gossip",
        "--without-mingle",
    ]
    app.worker_main(argv)
