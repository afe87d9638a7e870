"""Leaf package: settings, errors, enums and logging. Imports nothing else of ours."""
