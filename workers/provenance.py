"""What every result set is stamped with: code version, host, package versions."""

from __future__ import annotations

import contextlib
import platform
import socket
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path


@lru_cache(maxsize=1)
def code_version() -> str:
    """Package version plus the git commit when running from a checkout (dirty trees say so)."""
    try:
        version = metadata.version("medsieve")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    repo = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha, dirty = "", ""
    if sha:
        version += f"+g{sha}" + (".dirty" if dirty else "")
    return version


@lru_cache(maxsize=1)
def host() -> str:
    return socket.gethostname()


@lru_cache(maxsize=1)
def base_packages() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("medsieve", "celery", "kombu", "sqlalchemy"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    return out
