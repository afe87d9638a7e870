"""A throwaway PostgreSQL database and RabbitMQ vhost for one benchmark run, dropped afterwards."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text

ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@contextmanager
def temp_services(prefix: str = "medsieve_bench") -> Iterator[tuple[str, str]]:
    """(database_url, amqp_url) on the local services; the database is migrated to head."""
    from db.migrate import upgrade

    dbname = f"{prefix}_{uuid.uuid4().hex[:8]}"
    vhost = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{dbname}"'))
    subprocess.run(["rabbitmqctl", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True, capture_output=True
    )
    db_url = ADMIN.rsplit("/", 1)[0] + "/" + dbname
    try:
        upgrade(db_url)
        yield db_url, f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    finally:
        from db.session import dispose_engines

        dispose_engines()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        subprocess.run(["rabbitmqctl", "delete_vhost", vhost], check=False, capture_output=True)
        admin.dispose()
