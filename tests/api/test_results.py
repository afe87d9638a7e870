"""Results pages (sort, filter, keyset cursor), export round trips, item errors and provenance."""

from __future__ import annotations

import csv
import io
import json
import random
import uuid
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from tests.api.conftest import Api
from tests.api.rows import add_errors, add_provenance, add_results, add_shards, screening_row

pytestmark = pytest.mark.postgres

N = 237


@pytest.fixture()
def job(api: Api) -> tuple[Api, str, list[dict[str, Any]]]:
    """A job with N results whose scores tie a lot (one decimal), spread over two shards."""
    job_id = api.submit_inline(["CCO"]).json()["id"]
    jid = uuid.UUID(job_id)
    shard_a, shard_b = add_shards(jid, ["succeeded", "succeeded"], size=200)
    rng = random.Random(7)
    rows = [screening_row(jid, shard_a if i < 200 else shard_b, i, round(rng.random(), 1)) for i in range(N)]
    rng.shuffle(rows)  # insertion order must not matter
    add_results(rows)
    return api, job_id, rows


def _all_pages(api: Api, job_id: str, limit: int, **params: Any) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        r = api.client.get(f"/v1/jobs/{job_id}/results", params=query, headers=api.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages


def _expected(rows: list[dict[str, Any]], sort: str) -> list[int]:
    col = sort.lstrip("-")
    desc = sort.startswith("-")
    ordered = sorted(rows, key=lambda r: (r[col], r["item_index"]), reverse=desc)
    return [r["item_index"] for r in ordered]


@pytest.mark.parametrize("sort", [None, "score", "mw", "-hbd", "lipinski_violations", "-item_index"])
def test_pages_cover_every_row_once_in_sort_order(job, sort: str | None) -> None:  # type: ignore[no-untyped-def]
    api, job_id, rows = job
    params = {"sort": sort} if sort else {}
    items, pages = _all_pages(api, job_id, 40, **params)
    assert pages == 6
    indexes = [i["item_index"] for i in items]
    assert len(indexes) == len(set(indexes)) == N
    assert indexes == _expected(rows, sort or "-score")


def test_items_carry_the_export_columns_with_stored_values(job) -> None:  # type: ignore[no-untyped-def]
    api, job_id, rows = job
    r = api.client.get(f"/v1/jobs/{job_id}/results", params={"limit": 1000}, headers=api.headers).json()
    from workers.domains import get_plugin

    columns = list(get_plugin("screening").export_columns)
    assert r["columns"] == columns and r["sort"] == "-score" and r["next_cursor"] is None
    by_index = {row["item_index"]: row for row in rows}
    for item in r["items"]:
        assert list(item) == columns
        src = by_index[item["item_index"]]
        assert {c: item[c] for c in columns} == {c: src[c] for c in columns}


def test_filters(job) -> None:  # type: ignore[no-untyped-def]
    api, job_id, rows = job
    items, _ = _all_pages(api, job_id, 25, filter=["score:ge:0.5", "hbd:eq:1"], sort="mw")
    want = [r for r in rows if r["score"] >= 0.5 and r["hbd"] == 1]
    assert [i["item_index"] for i in items] == _expected(want, "mw")
    assert 0 < len(items) < N
    one = api.client.get(
        f"/v1/jobs/{job_id}/results", params={"filter": "item_key:eq:id-7"}, headers=api.headers
    ).json()
    assert [i["item_index"] for i in one["items"]] == [7]
    ne = api.client.get(
        f"/v1/jobs/{job_id}/results", params={"filter": "qed:lt:0.1", "limit": 1000}, headers=api.headers
    ).json()
    assert sorted(i["item_index"] for i in ne["items"]) == sorted(r["item_index"] for r in rows if r["qed"] < 0.1)


@pytest.mark.parametrize(
    "params",
    [
        {"filter": "score:gt"},
        {"filter": "canonical_smiles:eq:C"},
        {"filter": "score:like:0.5"},
        {"filter": "score:gt:abc"},
        {"filter": "score:gt:nan"},
        {"filter": "hbd:eq:1.5"},
        {"sort": "-canonical_smiles"},
        {"sort": "job_id"},
        {"limit": 1001},
        {"cursor": "!!!"},
    ],
)
def test_bad_sort_filter_cursor_limit_are_422(job, params: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    api, job_id, _ = job
    r = api.client.get(f"/v1/jobs/{job_id}/results", params=params, headers=api.headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"]


def test_a_cursor_is_bound_to_its_sort(job) -> None:  # type: ignore[no-untyped-def]
    api, job_id, _ = job
    first = api.client.get(f"/v1/jobs/{job_id}/results", params={"limit": 5}, headers=api.headers).json()
    r = api.client.get(
        f"/v1/jobs/{job_id}/results",
        params={"limit": 5, "sort": "mw", "cursor": first["next_cursor"]},
        headers=api.headers,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_CURSOR"


JSON_COLUMNS = ("admet", "activity_tasks", "properties")


def _from_csv(cell: str, like: object) -> object:
    """A CSV cell read back as the type of the stored value (JSON columns are JSON text)."""
    if like is None:
        return cell or None
    if isinstance(like, bool):
        return {"True": True, "False": False}[cell]
    if isinstance(like, dict | list):
        return json.loads(cell)
    return type(like)(cell)


def test_csv_export_round_trip(job) -> None:  # type: ignore[no-untyped-def]
    api, job_id, rows = job
    with api.client.stream("GET", f"/v1/jobs/{job_id}/export", params={"format": "csv"}, headers=api.headers) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/csv")
        assert r.headers["content-disposition"] == f'attachment; filename="medsieve-{job_id}-results.csv"'
        text = b"".join(r.iter_bytes()).decode()
    table = list(csv.DictReader(io.StringIO(text)))
    from workers.domains import get_plugin

    columns = list(get_plugin("screening").export_columns)
    assert list(table[0]) == columns
    assert [int(t["item_index"]) for t in table] == _expected(rows, "-score")
    by_index = {r["item_index"]: r for r in rows}
    for t in table:
        src = by_index[int(t["item_index"])]
        for c in columns:
            value = src[c]
            assert _from_csv(t[c], value) == value, (c, t[c], value)

    from db.models import AuditEvent
    from db.session import unit_of_work

    with unit_of_work() as session:
        events = (
            session.execute(
                select(AuditEvent).where(AuditEvent.target == f"job:{job_id}", AuditEvent.action == "job.export")
            )
            .scalars()
            .all()
        )
    assert [e.details["format"] for e in events] == ["csv"]


def test_parquet_export_round_trip_in_row_groups(job, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from api.services import exporting

    monkeypatch.setattr(exporting, "BATCH_ROWS", 50)
    api, job_id, rows = job
    r = api.client.get(
        f"/v1/jobs/{job_id}/export",
        params={"format": "parquet", "sort": "mw", "filter": "score:gt:0.2"},
        headers=api.headers,
    )
    assert r.status_code == 200
    assert r.headers["content-disposition"].endswith('results.parquet"')
    pf = pq.ParquetFile(io.BytesIO(r.content))
    want = [row for row in rows if row["score"] > 0.2]
    assert pf.metadata.num_rows == len(want)
    assert pf.num_row_groups == -(-len(want) // 50)
    table = pf.read()
    assert table.schema.field("mw").type == pa.float64()
    assert table.schema.field("hbd").type == pa.int64()
    assert table.schema.field("canonical_smiles").type == pa.string()
    got = table.to_pylist()
    assert [g["item_index"] for g in got] == _expected(want, "mw")
    by_index = {row["item_index"]: row for row in rows}
    for g in got:
        # JSON columns travel as JSON text in Parquet (their keys differ per job).
        decoded = {c: json.loads(v) if c in JSON_COLUMNS and v is not None else v for c, v in g.items()}
        assert decoded == {c: by_index[g["item_index"]][c] for c in g}


def test_export_of_an_empty_job_and_unknown_format(api: Api) -> None:
    job_id = api.submit_inline(["CCO"]).json()["id"]
    r = api.client.get(f"/v1/jobs/{job_id}/export", params={"format": "csv"}, headers=api.headers)
    assert r.status_code == 200 and r.text.splitlines()[0].startswith("item_index,")
    assert len(r.text.splitlines()) == 1
    r = api.client.get(f"/v1/jobs/{job_id}/export", params={"format": "parquet"}, headers=api.headers)
    table = pq.read_table(io.BytesIO(r.content))
    assert table.num_rows == 0 and "score" in table.column_names
    r = api.client.get(f"/v1/jobs/{job_id}/export", params={"format": "xlsx"}, headers=api.headers)
    assert r.status_code == 422 and "xlsx" in r.json()["error"]["message"]


def test_errors_pages_and_code_filter(api: Api) -> None:
    job_id = api.submit_inline(["CCO"]).json()["id"]
    jid = uuid.UUID(job_id)
    (shard,) = add_shards(jid, ["succeeded"])
    codes = ["PARSE_ERROR", "SANITIZE_ERROR", "EMPTY_RECORD"]
    errors = [(i * 3, codes[i % 3]) for i in range(31)]
    add_errors(jid, shard, list(reversed(errors)))
    got: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        body = api.client.get(f"/v1/jobs/{job_id}/errors", params=params, headers=api.headers).json()
        got += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert [(e["item_index"], e["code"]) for e in got] == errors
    assert got[0] == {
        "item_index": 0,
        "item_key": "id-0",
        "code": "PARSE_ERROR",
        "message": "PARSE_ERROR at 0",
        "shard_id": shard,
    }
    sanitize = api.client.get(
        f"/v1/jobs/{job_id}/errors", params={"code": "SANITIZE_ERROR", "limit": 100}, headers=api.headers
    ).json()
    assert [e["item_index"] for e in sanitize["items"]] == [i for i, c in errors if c == "SANITIZE_ERROR"]


def test_provenance_is_per_shard_in_shard_order(api: Api) -> None:
    job_id = api.submit_inline(["CCO"]).json()["id"]
    jid = uuid.UUID(job_id)
    shards = add_shards(jid, ["succeeded", "succeeded", "succeeded"], size=5)
    for shard_id, host in reversed(list(zip(shards, ["h0", "h1", "h2"], strict=True))):
        add_provenance(jid, shard_id, host=host)
    first = api.client.get(f"/v1/jobs/{job_id}/provenance", params={"limit": 2}, headers=api.headers).json()
    second = api.client.get(
        f"/v1/jobs/{job_id}/provenance", params={"limit": 2, "cursor": first["next_cursor"]}, headers=api.headers
    ).json()
    assert second["next_cursor"] is None
    items = first["items"] + second["items"]
    assert [(p["shard_index"], p["host"], p["shard_id"]) for p in items] == [
        (0, "h0", shards[0]),
        (1, "h1", shards[1]),
        (2, "h2", shards[2]),
    ]
    p = items[1]
    assert (p["item_start"], p["item_count"]) == (5, 5)
    assert p["model_sha256"] == "ab" * 32 and p["package_versions"] == {"rdkit": "2026.3.6"}
    assert p["timings"] == {"compute_ms": 12.5} and p["device"] == "cpu"
