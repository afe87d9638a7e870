"""The triage worklist: studies ordered by urgency (highest priority class, then highest probability), each
with its series and the reasons of their top instance."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy.orm import Session

from api.schemas import Worklist, WorklistSeries, WorklistStudy
from core.errors import InvalidInput
from db.models import Job
from db.repositories import triage as triage_repo

PRIORITY_BY_RANK = {3: "high", 2: "medium", 1: "low", 0: "not_scored"}
MAX_WORKLIST_LIMIT = 500


def _urgency(rank: int, probability: float | None) -> tuple[int, float]:
    return rank, probability if probability is not None else -1.0


def worklist(session: Session, job: Job, *, offset: int, limit: int) -> Worklist:
    if job.domain != "triage":
        raise InvalidInput(f"the worklist is for triage jobs; this job's domain is {job.domain!r}")
    # Aggregated per series in SQL; studies are assembled here. A triage job holds thousands of series, not
    # millions, so ordering studies in memory is cheap and keeps the SQL portable (PostgreSQL and SQLite).
    by_study: dict[str, list[triage_repo.SeriesRow]] = defaultdict(list)
    for row in triage_repo.worklist_series(session, job.id):
        by_study[row.study_uid].append(row)
    ranked: list[tuple[tuple[int, float, int], WorklistStudy]] = []
    for study_uid, rows in by_study.items():
        rows.sort(key=lambda r: (*_urgency(r.priority_rank, r.max_probability), -r.top_item_index), reverse=True)
        top = rows[0]
        # Ties keep input order: the study whose top instance came first in the upload leads.
        key = (*_urgency(top.priority_rank, top.max_probability), -top.top_item_index)
        ranked.append(
            (
                key,
                WorklistStudy(
                    study_uid=study_uid,
                    priority=PRIORITY_BY_RANK[top.priority_rank],
                    max_probability=max(
                        (r.max_probability for r in rows if r.max_probability is not None), default=None
                    ),
                    instances=sum(r.instances for r in rows),
                    series=[
                        WorklistSeries(
                            series_uid=r.series_uid,
                            modality=r.modality,
                            body_part=r.body_part,
                            instances=r.instances,
                            priority=PRIORITY_BY_RANK[r.priority_rank],
                            max_probability=r.max_probability,
                            flagged_instances=r.flagged,
                            top_item_index=r.top_item_index,
                            reasons=r.top_reasons,
                        )
                        for r in rows
                    ],
                ),
            )
        )
    ranked.sort(key=lambda pair: pair[0], reverse=True)
    studies = [study for _key, study in ranked]
    return Worklist(items=studies[offset : offset + limit], total_studies=len(studies), offset=offset, limit=limit)
