"""Prometheus metrics. Per-app registry (tests build many apps in one process).

Job, item and shard figures are read at scrape time from the database (one GROUP BY over jobs, one bounded
read of recent shards) and queue depths from the broker (passive declares), so they are exact across API
replicas and workers without any shared in-memory state. Each source is cached for `metrics_cache_s`, so a
scrape storm costs one query per source and period; a source that fails drops its metrics (and sets its
`*_up` gauge to 0) instead of failing the scrape.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, Generic, TypeVar

from kombu import Connection
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.enums import JobStatus
from core.settings import get_settings
from db.base import utcnow
from db.repositories import jobs as jobs_repo
from db.repositories import stats as stats_repo
from db.session import unit_of_work
from workers.celery_app import DLQ_NAME, all_queue_names
from workers.domains import available_domains

log = logging.getLogger(__name__)

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0)
# Items/s per domain: items of the shards that finished in this window, divided by it.
THROUGHPUT_WINDOW_S = 60.0
# Shard duration quantiles: over the shards that finished in this window (at most SHARD_SAMPLE of them).
LATENCY_WINDOW_S = 600.0
SHARD_SAMPLE = 5_000
QUANTILES = (0.5, 0.9, 0.99)
BROKER_TIMEOUT_S = 2

T = TypeVar("T")


class _Cached(Generic[T]):
    """The last value of `load` for `ttl_s` seconds; exceptions are not cached."""

    def __init__(self, load: Callable[[], T], ttl_s: float) -> None:
        self._load = load
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._value: T | None = None
        self._stamp = float("-inf")

    def get(self) -> T:
        with self._lock:
            if self._value is not None and time.monotonic() - self._stamp < self._ttl_s:
                return self._value
            value = self._load()
            self._value, self._stamp = value, time.monotonic()
            return value


def _read_state_summary() -> list[jobs_repo.StateSummary]:
    with unit_of_work() as session:
        return jobs_repo.state_summary(session)


class JobStateCollector(Collector):
    def __init__(self, ttl_s: float) -> None:
        self._summary = _Cached(_read_state_summary, ttl_s)

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("medsieve_metrics_database_up", "1 if the scrape could read the job table")
        try:
            summary = self._summary.get()
        except Exception as exc:
            log.warning("metrics scrape could not read jobs: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        jobs = GaugeMetricFamily("medsieve_jobs", "Jobs by state and domain", labels=["state", "domain"])
        items = CounterMetricFamily(
            "medsieve_items", "Items finished, by domain and outcome", labels=["domain", "outcome"]
        )
        counts: dict[tuple[str, str], int] = {(s.value, d): 0 for d in available_domains() for s in JobStatus}
        finished: dict[tuple[str, str], int] = {}
        for row in summary:
            counts[(row.status, row.domain)] = counts.get((row.status, row.domain), 0) + row.jobs
            for outcome, n in (("succeeded", row.items_succeeded), ("failed", row.items_failed)):
                finished[(row.domain, outcome)] = finished.get((row.domain, outcome), 0) + n
        for domain in available_domains():
            for outcome in ("succeeded", "failed"):
                finished.setdefault((domain, outcome), 0)
        for (state, domain), n in sorted(counts.items()):
            jobs.add_metric([state, domain], n)
        for (domain, outcome), n in sorted(finished.items()):
            items.add_metric([domain, outcome], n)
        yield jobs
        yield items


def _read_recent_shards() -> list[stats_repo.ShardTiming]:
    now = utcnow()
    # A shard finishing in the window was dispatched at most one task time limit before the window opened.
    longest = timedelta(seconds=LATENCY_WINDOW_S + get_settings().task_time_limit_s)
    with unit_of_work() as session:
        return stats_repo.recent_shards(
            session,
            finished_after=now - timedelta(seconds=LATENCY_WINDOW_S),
            dispatched_after=now - longest,
            limit=SHARD_SAMPLE,
        )


def _quantile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


class ShardCollector(Collector):
    """Items/s per domain and shard latency (queue wait and run time) from the shards table's timestamps."""

    def __init__(self, ttl_s: float) -> None:
        self._recent = _Cached(_read_recent_shards, ttl_s)

    def collect(self) -> Iterable[Metric]:
        try:
            shards = self._recent.get()
        except Exception as exc:
            log.warning("metrics scrape could not read shards: %s", type(exc).__name__)
            return
        now = utcnow()
        rate = GaugeMetricFamily(
            "medsieve_items_per_second",
            f"Items per second per domain, from the shards that finished in the last {THROUGHPUT_WINDOW_S:.0f} s",
            labels=["domain"],
        )
        recent = GaugeMetricFamily(
            "medsieve_shards_finished_recent",
            f"Shards that succeeded in the last {LATENCY_WINDOW_S:.0f} s",
            labels=["domain"],
        )
        latency = GaugeMetricFamily(
            "medsieve_shard_duration_seconds",
            f"Shard latency quantiles over the shards that succeeded in the last {LATENCY_WINDOW_S:.0f} s; "
            "phase queue_wait = dispatched to started, run = started to finished (claim, pipeline, write)",
            labels=["domain", "phase", "quantile"],
        )
        items: dict[str, int] = dict.fromkeys(available_domains(), 0)
        durations: dict[tuple[str, str], list[float]] = defaultdict(list)
        finished: dict[str, int] = dict.fromkeys(available_domains(), 0)
        for s in shards:
            finished[s.domain] = finished.get(s.domain, 0) + 1
            if (now - s.finished_at).total_seconds() <= THROUGHPUT_WINDOW_S:
                items[s.domain] = items.get(s.domain, 0) + s.item_count
            if s.started_at is not None:
                durations[(s.domain, "run")].append(max(0.0, (s.finished_at - s.started_at).total_seconds()))
                if s.dispatched_at is not None:
                    wait = (s.started_at - s.dispatched_at).total_seconds()
                    durations[(s.domain, "queue_wait")].append(max(0.0, wait))
        for domain, n in sorted(items.items()):
            rate.add_metric([domain], n / THROUGHPUT_WINDOW_S)
        for domain, n in sorted(finished.items()):
            recent.add_metric([domain], n)
        for (domain, phase), values in sorted(durations.items()):
            for q in QUANTILES:
                latency.add_metric([domain, phase, str(q)], _quantile(values, q))
        yield rate
        yield recent
        yield latency


def queue_depths(broker_url: str, queues: list[str], timeout_s: int = BROKER_TIMEOUT_S) -> dict[str, tuple[int, int]]:
    """(messages ready, consumers) per existing queue, by passive declare: nothing is created. A queue that
    does not exist yet (no worker declared it) is left out."""
    from amqp.exceptions import NotFound as AmqpNotFound
    from kombu.exceptions import ChannelError

    out: dict[str, tuple[int, int]] = {}
    with Connection(broker_url, connect_timeout=timeout_s, transport_options={"max_retries": 0}) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout_s)
        for name in queues:
            channel: Any = conn.channel()
            try:
                _name, messages, consumers = channel.queue_declare(queue=name, passive=True)
                out[name] = (int(messages), int(consumers))
            except (ChannelError, AmqpNotFound):
                pass  # not declared yet; the channel is closed by the broker
            finally:
                try:
                    channel.close()
                except Exception:
                    log.debug("closing a probe channel failed", exc_info=True)
    return out


class QueueCollector(Collector):
    """Queue depth and consumers per work queue and the dead-letter queue. Broker down: medsieve_broker_up 0
    and no depth metrics (never a failed scrape)."""

    def __init__(self, ttl_s: float) -> None:
        self._depths = _Cached(self._read, ttl_s)

    @staticmethod
    def _read() -> dict[str, tuple[int, int]]:
        return queue_depths(get_settings().resolved_broker_url, [*all_queue_names(), DLQ_NAME])

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("medsieve_broker_up", "1 if the scrape could read queue depths from the broker")
        try:
            depths = self._depths.get()
        except Exception as exc:
            log.warning("metrics scrape could not reach the broker: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        messages = GaugeMetricFamily("medsieve_queue_messages", "Messages ready in the queue", labels=["queue"])
        consumers = GaugeMetricFamily("medsieve_queue_consumers", "Consumers of the queue", labels=["queue"])
        for name, (ready, n) in sorted(depths.items()):
            messages.add_metric([name], ready)
            consumers.add_metric([name], n)
        yield messages
        yield consumers


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "medsieve_http_requests",
            "HTTP requests by route template",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "medsieve_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        ttl_s = get_settings().metrics_cache_s
        self.registry.register(JobStateCollector(ttl_s))
        self.registry.register(ShardCollector(ttl_s))
        self.registry.register(QueueCollector(ttl_s))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): no buffering of streamed exports, no effect on background tasks.
    Labels use the route template (/v1/jobs/{job_id}), never the raw path, to keep cardinality bounded."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - start)
