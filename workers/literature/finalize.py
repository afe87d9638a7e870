"""Job end: the chemical-disease pair table and the job's chemicals, aggregated over every document once."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from db.repositories import literature as repo


def aggregate(
    annotations, smiles_for: Callable[[str], str | None]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Pairs (documents, max/mean score, doc ids) and chemicals (documents, mentions, structure) from
    (doc_id, entities, relations) triples. Pure, so it is tested without a database."""
    pair_docs: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    pair_names: dict[tuple[str, str], tuple[str, str]] = {}
    chem_docs: dict[str, set[str]] = defaultdict(set)
    chem_mentions: Counter[str] = Counter()
    chem_names: dict[str, Counter[str]] = defaultdict(Counter)
    for doc_id, entities, relations in annotations:
        for e in entities:
            cid = e.get("concept_id")
            if e.get("type") != "Chemical" or not cid:
                continue
            chem_docs[cid].add(doc_id)
            chem_mentions[cid] += 1
            chem_names[cid][e.get("concept_name") or e["text"]] += 1
        for r in relations:
            key = (r["chemical_id"], r["disease_id"])
            # One vote per document: the best score the document gives the pair.
            pair_docs[key][doc_id] = max(pair_docs[key].get(doc_id, 0.0), float(r["score"]))
            pair_names.setdefault(
                key, (r.get("chemical_name") or r["chemical_text"], r.get("disease_name") or r["disease_text"])
            )
    pairs = [
        {
            "chemical_id": c,
            "disease_id": d,
            "chemical_name": pair_names[(c, d)][0],
            "disease_name": pair_names[(c, d)][1],
            "documents": len(docs),
            "max_score": max(docs.values()),
            "mean_score": sum(docs.values()) / len(docs),
            "doc_ids": sorted(docs),
        }
        for (c, d), docs in pair_docs.items()
    ]
    chemicals = [
        {
            "concept_id": cid,
            "name": chem_names[cid].most_common(1)[0][0],
            # Structures come from the lexicon once per concept, not stored on every mention.
            "smiles": smiles_for(cid),
            "documents": len(docs),
            "mentions": chem_mentions[cid],
        }
        for cid, docs in chem_docs.items()
    ]
    return pairs, chemicals


def finalize_literature_job(session: Session, job_id: uuid.UUID) -> None:
    from workers.literature.normalize import Lexicon

    pairs, chemicals = aggregate(repo.iter_annotations(session, job_id), Lexicon.load().smiles_for)
    repo.replace_job_tables(session, job_id, pairs, chemicals)
