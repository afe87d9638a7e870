"""The README's way to open the dashboard on the embedded default: `medsieve serve` with nothing configured
(SQLite, in-process worker), a token from `medsieve token create`, sign in, see the jobs page."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench.processes import service_env, start_api
from tests.web.conftest import VIEWPORT

pytestmark = pytest.mark.slow


def test_dashboard_on_the_embedded_default(browser: Any, shot: Callable[[Any, str], Path], tmp_path: Path) -> None:
    env = service_env("", "", tmp_path / "data")  # empty URLs: SQLite in the data dir, in-process worker
    proc, base = start_api(env, tmp_path / "serve.log")
    try:
        made = subprocess.run(
            [sys.executable, "-m", "cli.main", "token", "create", "--project", "demo"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        token = made.stdout.strip().splitlines()[-1]
        assert "dashboard: http://127.0.0.1:" in proc.tail() and "/ui" in proc.tail()
        context = browser.new_context(base_url=base, viewport=VIEWPORT)
        page = context.new_page()
        page.goto("/")
        assert page.url.endswith("/ui/login?next=%2Fui%2Fjobs")
        page.fill("#token", token)
        page.click("button[type=submit]")
        page.wait_for_url("**/ui/jobs")
        assert page.text_content(".project") == "demo"
        shot(page, "00-embedded-default-jobs")
        context.close()
    finally:
        proc.stop()
