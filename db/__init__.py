"""Persistence: typed SQLAlchemy models, engine/session handling and repositories (the queries)."""
