"""Prometheus metrics. Per-app registry (tests build many apps in one process). Job and item figures are read
at scrape time with one GROUP BY over jobs, so they are exact across API replicas and workers without any
shared in-memory state."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.enums import JobStatus
from db.repositories import jobs as jobs_repo
from db.session import unit_of_work
from workers.domains import available_domains

log = logging.getLogger(__name__)

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0)


class JobStateCollector(Collector):
    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("medsieve_metrics_database_up", "1 if the scrape could read the job table")
        try:
            with unit_of_work() as session:
                summary = jobs_repo.state_summary(session)
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
        self.registry.register(JobStateCollector())

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
