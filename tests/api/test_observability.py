"""Metrics beyond HTTP: shard latency and items/s from the shards table, queue depth from the real broker (and
its absence when the broker is down), and the scrape cache."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from tests.api.conftest import CLOSED_BROKER, Api
from tests.api.rows import add_shards

pytestmark = pytest.mark.postgres

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(api: Api) -> Samples:
    r = api.client.get("/metrics")
    assert r.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def _time_shards(shard_ids: list[int], *, wait_s: float, run_s: float, ago_s: float) -> None:
    from db.base import utcnow
    from db.models import Shard
    from db.session import unit_of_work

    end = utcnow() - timedelta(seconds=ago_s)
    start = end - timedelta(seconds=run_s)
    with unit_of_work() as session:
        session.execute(
            update(Shard)
            .where(Shard.id.in_(shard_ids))
            .values(dispatched_at=start - timedelta(seconds=wait_s), started_at=start, finished_at=end)
        )


def test_shard_latency_and_items_per_second_come_from_the_shards_table(make_api) -> None:  # type: ignore[no-untyped-def]
    api: Api = make_api(metrics_cache_s="0")
    before = scrape(api)
    job_id = uuid.UUID(api.submit_inline().json()["id"])
    shards = add_shards(job_id, ["succeeded"] * 4, size=600)
    _time_shards(shards[:3], wait_s=0.5, run_s=2.0, ago_s=5)  # 1,800 items in the last minute
    _time_shards(shards[3:], wait_s=0.5, run_s=2.0, ago_s=300)  # in the latency window, not the throughput one
    after = scrape(api)

    rate = ("medsieve_items_per_second", (("domain", "screening"),))
    assert after[rate] - before.get(rate, 0.0) == pytest.approx(1800 / 60)
    finished = ("medsieve_shards_finished_recent", (("domain", "screening"),))
    assert after[finished] - before.get(finished, 0.0) == 4
    for phase, seconds in (("run", 2.0), ("queue_wait", 0.5)):
        median = ("medsieve_shard_duration_seconds", (("domain", "screening"), ("phase", phase), ("quantile", "0.5")))
        assert after[median] == pytest.approx(seconds, abs=0.01), phase


@pytest.mark.rabbitmq
def test_queue_depth_from_the_broker(make_api, amqp_url: str) -> None:  # type: ignore[no-untyped-def]
    from workers.celery_app import declare_topology, get_app

    api: Api = make_api(broker_url=amqp_url, metrics_cache_s="0")
    declare_topology(get_app())
    before = scrape(api)
    assert before[("medsieve_broker_up", ())] == 1
    assert api.submit_inline().status_code == 202  # its ingest message waits in screening.cpu: no worker here
    after = scrape(api)
    depth = ("medsieve_queue_messages", (("queue", "screening.cpu"),))
    assert after[depth] == before[depth] + 1
    assert after[("medsieve_queue_consumers", (("queue", "screening.cpu"),))] == 0
    assert ("medsieve_queue_messages", (("queue", "medsieve.dlq"),)) in after


def test_broker_down_drops_queue_metrics_but_not_the_scrape(make_api) -> None:  # type: ignore[no-untyped-def]
    api: Api = make_api(broker_url=CLOSED_BROKER)
    samples = scrape(api)
    assert samples[("medsieve_broker_up", ())] == 0
    assert not [k for k in samples if k[0] == "medsieve_queue_messages"]
    assert samples[("medsieve_metrics_database_up", ())] == 1


def test_database_figures_are_cached_between_scrapes(make_api) -> None:  # type: ignore[no-untyped-def]
    api: Api = make_api(metrics_cache_s="60")
    queued = ("medsieve_jobs", (("domain", "screening"), ("state", "queued")))
    first = scrape(api)[queued]
    api.submit_inline()
    assert scrape(api)[queued] == first  # a scrape storm costs one query per period
