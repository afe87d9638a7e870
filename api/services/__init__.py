"""Decisions: HTTP-free services called by routes and by the CLI. They never commit; the caller's unit of work
does."""
