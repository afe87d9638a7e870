"""Migrations are reviewed, reversible and tested: single head, round trips, models match migrations.

Both backends run the same checks: PostgreSQL is the deployment, SQLite the embedded default, and
batch-mode ALTERs or type variants can differ between them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

import db.models  # noqa: F401  (registers every table on Base.metadata)
from db.base import Base
from db.migrate import alembic_config, downgrade, upgrade
from db.session import make_engine

# Alembic's own bookkeeping table survives a downgrade to base (empty); it is not part of our schema.
VERSION_TABLE = "alembic_version"


def _script() -> ScriptDirectory:
    # The URL is irrelevant for reading revision files; passing one keeps settings out of it.
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def _revisions_oldest_first() -> list[str]:
    return [rev.revision for rev in reversed(list(_script().walk_revisions()))]


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    url: str = request.getfixturevalue("fresh_pg_url")
    return url


@pytest.fixture()
def engine(empty_db_url: str) -> Iterator[Engine]:
    eng = make_engine(empty_db_url)
    yield eng
    eng.dispose()


def _our_tables(eng: Engine) -> set[str]:
    return set(inspect(eng).get_table_names()) - {VERSION_TABLE}


def _current_revision(eng: Engine) -> str | None:
    with eng.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _schema_diff(eng: Engine) -> list[Any]:
    with eng.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        return list(compare_metadata(ctx, Base.metadata))


def test_single_head() -> None:
    heads = _script().get_heads()
    assert len(heads) == 1, f"migration history has {len(heads)} heads {heads}; add a merge revision"


def test_db_models_registers_every_model_module() -> None:
    """A model module that db.models forgets to import would be invisible to Alembic and to the
    "models match migrations" check. Run in a fresh interpreter: this process may have imported it already."""
    probe = (
        "import importlib, pkgutil, db.models\n"
        "from db.base import Base\n"
        "before = set(Base.metadata.tables)\n"
        "for m in pkgutil.iter_modules(db.models.__path__):\n"
        "    importlib.import_module('db.models.' + m.name)\n"
        "print(sorted(before)); print(sorted(set(Base.metadata.tables) - before))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    registered, missed = (ast.literal_eval(line) for line in out.splitlines())
    assert missed == [], f"db/models/__init__.py does not import the modules defining {missed}"
    assert {"jobs", "shards", "item_errors", "provenance", "screening_results"} <= set(registered)


def test_upgrade_downgrade_round_trip(engine: Engine, empty_db_url: str) -> None:
    head = _script().get_current_head()
    expected = set(Base.metadata.tables)

    upgrade(empty_db_url)
    assert _current_revision(engine) == head
    assert _our_tables(engine) == expected

    downgrade(empty_db_url, "base")
    assert _current_revision(engine) is None
    assert _our_tables(engine) == set(), "downgrade to base left tables behind"

    upgrade(empty_db_url)
    assert _current_revision(engine) == head
    assert _our_tables(engine) == expected
    assert _schema_diff(engine) == []


def test_each_revision_steps_down_and_up(engine: Engine, empty_db_url: str) -> None:
    """Every single step is reversible on its own, not just the whole chain at once."""
    previous = "base"
    for revision in _revisions_oldest_first():
        upgrade(empty_db_url, revision)
        tables_after_up = _our_tables(engine)
        downgrade(empty_db_url, previous)
        assert _current_revision(engine) == (None if previous == "base" else previous)
        upgrade(empty_db_url, revision)
        assert _current_revision(engine) == revision
        assert _our_tables(engine) == tables_after_up
        previous = revision


def test_models_match_migrations(engine: Engine, empty_db_url: str) -> None:
    upgrade(empty_db_url)
    diff = _schema_diff(engine)
    assert diff == [], "models and migrations disagree; generate a revision:\n" + "\n".join(map(str, diff))


def test_audit_events_are_append_only(engine: Engine, empty_db_url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    upgrade(empty_db_url)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO audit_events (action, details, created_at) VALUES ('job.submit', '{}', :t)"),
            {"t": "2026-11-23T00:00:00+00:00"},
        )
    for statement in (
        "UPDATE audit_events SET action = 'rewritten'",
        "DELETE FROM audit_events",
        *(["TRUNCATE audit_events"] if engine.dialect.name == "postgresql" else []),
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT action FROM audit_events")).scalars().all() == ["job.submit"]
