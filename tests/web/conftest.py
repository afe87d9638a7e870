"""Fixtures of the dashboard tests: Debian's Chromium driven by Playwright (never Playwright's own browser
builds), and the real stack (`medsieve serve` + a `medsieve worker` process on PostgreSQL and RabbitMQ).

Screenshots of every page go to $MEDSIEVE_SCREENSHOT_DIR, or test-artifacts/screenshots/ (git-ignored).
Outside CI a missing browser skips with a reason; under CI (CI=true) it fails, like the services.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import api, make_api  # noqa: F401  (fixtures of the server-side page tests)
from tests.conftest import IN_CI, REPO_ROOT
from tests.e2e.harness import Stack, running_stack

CHROMIUM = os.environ.get("MEDSIEVE_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOT_DIR = Path(os.environ.get("MEDSIEVE_SCREENSHOT_DIR") or REPO_ROOT / "test-artifacts" / "screenshots")
VIEWPORT = {"width": 1400, "height": 900}
SHARD_SIZE = 200


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}; scripts/test installs chromium and chromium-driver when it runs as root")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    if not Path(CHROMIUM).is_file():
        _unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium chromium-driver)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def dash(pg_url: str, amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """API + one worker process (concurrency 2) that serves the screening, triage and literature queues (a domain's
    model loads only when its first task arrives, so the literature queue costs nothing to modules without one)."""
    # Small shards: progress moves every few seconds, so the live bar and a mid-run cancel are quick to see.
    root = tmp_path_factory.mktemp("web-stack")
    with running_stack(pg_url, amqp_url, root, workers=0, shard_size=str(SHARD_SIZE), log_format="json") as stack:
        stack.start_worker("worker", concurrency=2, queues="screening.cpu,triage.cpu,literature.cpu")
        yield stack


@pytest.fixture(scope="session")
def shot() -> Callable[[Any, str], Path]:
    """shot(page, name): a full-page screenshot, kept after the run."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str) -> Path:
        path = SCREENSHOT_DIR / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def signed_in(browser: Any, stack: Stack, token: str) -> Any:
    """A fresh browser context (its own cookies) signed in through the login form."""
    context = browser.new_context(base_url=stack.base_url, viewport=VIEWPORT)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto("/ui/jobs")
    assert "/ui/login" in page.url
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url("**/ui/jobs")
    return page
