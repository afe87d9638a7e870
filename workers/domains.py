"""Registry of domain plugins. Plugin spec modules are light; their pipelines load heavy code lazily."""

from __future__ import annotations

import importlib

from core.errors import InvalidInput
from workers.plugin import DomainPlugin

_SPECS: dict[str, str] = {
    "literature": "workers.literature.plugin:PLUGIN",
    "screening": "workers.screening.plugin:PLUGIN",
    "triage": "workers.triage.plugin:PLUGIN",
}

_cache: dict[str, DomainPlugin] = {}


def available_domains() -> list[str]:
    return sorted(_SPECS)


def get_plugin(domain: str) -> DomainPlugin:
    plugin = _cache.get(domain)
    if plugin is not None:
        return plugin
    spec = _SPECS.get(domain)
    if spec is None:
        raise InvalidInput(f"unknown or not yet available domain {domain!r}; available: {available_domains()}")
    module_name, attr = spec.split(":")
    plugin = getattr(importlib.import_module(module_name), attr)
    _cache[domain] = plugin
    return plugin
