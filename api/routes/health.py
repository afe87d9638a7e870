"""Probes and metrics, outside /v1 and without auth."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from kombu import Connection
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from api.metrics import Metrics
from api.schemas import Health, Readiness
from core.settings import get_settings
from db.session import get_engine

router = APIRouter()
log = logging.getLogger(__name__)

BROKER_TIMEOUT_S = 2


@router.get("/healthz", response_model=Health, summary="The process is up (no dependencies checked)")
def healthz() -> Health:
    return Health(status="ok")


def _check_database() -> str:
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:
        log.warning("readiness: database check failed: %s", type(exc).__name__)
        return f"error: {type(exc).__name__}"


def _check_broker(url: str) -> str:
    try:
        with Connection(url, connect_timeout=BROKER_TIMEOUT_S) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_S)
        return "ok"
    except Exception as exc:
        log.warning("readiness: broker check failed: %s", type(exc).__name__)
        return f"error: {type(exc).__name__}"


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A dependency is down; `checks` says which"}},
    summary="Database and broker reachable",
)
def readyz() -> JSONResponse:
    settings = get_settings()
    checks = {"database": _check_database()}
    # Embedded mode has an in-process broker: nothing to reach.
    checks["broker"] = "skipped (embedded)" if settings.embedded else _check_broker(settings.resolved_broker_url)
    ready = all(v == "ok" or v.startswith("skipped") for v in checks.values())
    body = Readiness(status="ready" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response, summary="Prometheus metrics")
def metrics(request: Request) -> Response:
    registry: Metrics = request.app.state.metrics
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)
