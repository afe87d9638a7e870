"""The FastAPI application factory. Nothing is built at import time: `medsieve serve` and the tests call
create_app() after settings are final."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api import errors
from api.metrics import Metrics, MetricsMiddleware
from api.ratelimit import TokenBucketLimiter
from api.routes import health, jobs, literature, models, results, screening, submit, triage
from api.schemas import ErrorResponse
from api.services.projects import PrincipalCache
from api.web import render as web_render
from api.web import routes as web
from core.settings import get_settings


def create_app() -> FastAPI:
    settings = get_settings()
    app = FastAPI(
        title="medsieve",
        version="1",
        summary="Asynchronous bulk biomedical screening: submit jobs, poll progress, page and export results.",
        openapi_url="/openapi.json",
        responses={
            401: {"model": ErrorResponse, "description": "Missing, invalid or revoked token"},
            429: {"model": ErrorResponse, "description": "Per-token rate limit; see Retry-After"},
            503: {"model": ErrorResponse, "description": "Database unavailable; see Retry-After"},
        },
    )
    app.state.limiter = TokenBucketLimiter(settings.rate_limit_rps, settings.rate_limit_burst)
    app.state.metrics = Metrics()
    app.state.principals = PrincipalCache(settings.token_cache_ttl_s)
    errors.install(app)
    app.include_router(submit.router, tags=["jobs"])
    app.include_router(jobs.router, tags=["jobs"])
    app.include_router(results.router, tags=["results"])
    app.include_router(triage.router, tags=["triage"])
    app.include_router(literature.router, tags=["literature"])
    app.include_router(screening.router, tags=["screening"])
    app.include_router(models.router, tags=["models"])
    app.include_router(health.router, tags=["operations"])
    app.include_router(web.router)
    app.include_router(web.root_router)
    app.mount("/ui/static", StaticFiles(directory=web_render.STATIC_DIR), name="ui-static")
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app
