"""Execution-side decisions: ingest, shard runs, finalization, sweeping. Pure of Celery; tasks are thin wrappers."""
