"""Repositories: the only place queries live. They never commit; the caller's unit of work does."""
