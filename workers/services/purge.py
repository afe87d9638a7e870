"""Deleting stored inputs that identify patients once every job that reads them has ended.

Runs in the sweeper. The results, errors and provenance stay; only the raw upload (identified DICOM) goes.
The file is deleted while the artifact row is locked, and a submission of the same bytes re-creates the file
before it upserts that row and checks the file after it (api/services/submission.py), so the two cannot
interleave into a job whose input is gone.
"""

from __future__ import annotations

import logging

from core.artifacts import artifact_path
from core.settings import get_settings
from db.base import utcnow
from db.repositories import artifacts as artifacts_repo
from db.session import unit_of_work
from workers.domains import available_domains, get_plugin

log = logging.getLogger(__name__)


def purge_identifiable_inputs(limit: int = 200) -> int:
    domains = [d for d in available_domains() if get_plugin(d).identifiable_input]
    if not domains:
        return 0
    root = get_settings().resolved_artifact_dir
    with unit_of_work() as session:
        shas = artifacts_repo.lock_purgeable(session, domains, limit)
        for sha in shas:
            artifact_path(root, sha).unlink(missing_ok=True)
        if shas:
            artifacts_repo.mark_purged(session, shas, utcnow())
    if shas:
        log.info("purged %d identifiable input file(s) of ended jobs", len(shas))
    return len(shas)
