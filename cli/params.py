"""`--params` values: JSON text, or `@path` to read it from a file (e.g. examples/screening-egfr.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cli.render import fail

HELP = "Job parameters: JSON text, or @FILE to read them from a JSON file."


def params_text(value: str) -> str:
    """The JSON text, checked to be an object; exits with a usage error otherwise."""
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            value = path.read_text()
        except OSError as exc:
            fail(f"--params file {path} cannot be read: {exc.strerror}")
    try:
        parsed: Any = json.loads(value)
    except ValueError as exc:
        fail(f"--params is not valid JSON: {exc}")
    if not isinstance(parsed, dict):
        fail("--params must be a JSON object")
    return value
