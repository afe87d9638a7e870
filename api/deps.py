"""Request-scoped dependencies: one database unit of work per request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from db.session import session_factory


def _unit_of_work() -> Iterator[Session]:
    """Commits when the handler returns, rolls back when it raises. scope="function" makes the commit happen
    before the response is sent: a client never sees 202 for a job whose transaction later failed, and the
    post-response background publish only ever sees committed rows."""
    session = session_factory()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(_unit_of_work, scope="function")]
