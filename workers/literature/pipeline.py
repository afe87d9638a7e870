"""The literature pipeline: documents -> sentences -> NER -> MeSH normalization -> CID relations -> result rows.

The only module of the domain that loads torch and transformers (through the tagger). Everything per document
after the model is plain Python on small lists.
"""

from __future__ import annotations

import contextlib
import hashlib
import platform
import time
from collections.abc import Sequence
from importlib import metadata
from typing import Any

from pydantic import BaseModel

from core.enums import ItemErrorCode
from core.settings import get_settings
from workers.literature.documents import Document
from workers.literature.mention_rules import document_mentions
from workers.literature.ner import Tagger
from workers.literature.params import LiteratureParams, as_params
from workers.literature.pubtator import Mention, Relation
from workers.literature.text import chunk_spans, split_sentences
from workers.plugin import BatchOutcome, Item, ItemFailure, JobContext, ModelInfo, combined_model


def document_sentences(doc: Document, max_chars: int) -> tuple[list[tuple[int, int]], bool]:
    """Sentence spans per passage (a sentence never crosses title/abstract); long passages go window by window."""
    text = doc.text
    out: list[tuple[int, int]] = []
    long_text = len(text) > max_chars
    for p in doc.passages:
        end = p.offset + len(p.text)
        if len(p.text) <= max_chars:
            out.extend(split_sentences(text, p.offset, end))
            continue
        # Chunk first so sentence splitting and tagging work on bounded windows; overlap lets a sentence cut at a
        # window edge appear whole in the next window, and duplicate sentences are dropped below.
        sentences = split_sentences(text, p.offset, end)
        for a, b in chunk_spans(text, sentences, max_chars, max_chars // 10):
            out.extend(s for s in sentences if a <= s[0] and s[1] <= b)
    return sorted(set(out)), long_text


class LiteraturePipeline:
    """Loaded once per worker process: tagger, lexicon and relation model stay resident."""

    def __init__(self, device: str) -> None:
        from workers.literature.normalize import Lexicon
        from workers.literature.relations import CidModel

        settings = get_settings()
        self.tagger = Tagger(settings.literature_model_dir, device=device)
        self.device = self.tagger.device.type
        self.lexicon = Lexicon.load()
        self.cid = CidModel.load()
        info = self.tagger.info
        self.ner_model = ModelInfo(info.name, info.version, info.sha256)
        self.lexicon_model = ModelInfo("mesh-lexicon", self.lexicon.version, self.lexicon.sha256)
        self.cid_model = ModelInfo("cid-relations", self.cid.version, self.cid.sha256)
        self.model = combined_model([self.ner_model, self.lexicon_model, self.cid_model])
        self.max_chars = settings.literature_max_chars
        self.packages = {"python": platform.python_version()}
        for dist in ("torch", "transformers", "tokenizers", "biopython"):
            with contextlib.suppress(metadata.PackageNotFoundError):
                self.packages[dist] = metadata.version(dist)

    def run(self, items: Sequence[Item], params: BaseModel, context: JobContext | None = None) -> BatchOutcome:
        p = as_params(params)
        start = time.perf_counter()
        errors: list[ItemFailure] = []
        docs: list[tuple[Item, Document]] = []
        fetched, fetch_errors = self._fetch([it for it in items if it.error is None and "pmid" in it.payload], p)
        for item in items:
            if item.error is not None:
                errors.append(ItemFailure(item.index, item.key, item.error[0], item.error[1]))
            elif "pmid" in item.payload:
                pmid = str(item.payload["pmid"])
                if pmid in fetched:
                    docs.append((item, fetched[pmid]))
                else:
                    code, message = fetch_errors.get(pmid, (ItemErrorCode.NOT_FOUND.value, f"PMID {pmid} not returned"))
                    errors.append(ItemFailure(item.index, item.key or pmid, code, message))
            else:
                doc = Document.from_payload(item.payload["doc"])
                if not doc.text.strip():
                    errors.append(ItemFailure(item.index, item.key, ItemErrorCode.EMPTY_TEXT.value, "no text"))
                else:
                    docs.append((item, doc))
        t_fetch = time.perf_counter()
        texts = [d.text for _, d in docs]
        split = [document_sentences(d, self.max_chars) for _, d in docs]
        t_split = time.perf_counter()
        spans, windowed = self.tagger.tag(texts, [s for s, _ in split])
        t_ner = time.perf_counter()
        results = []
        for k, (item, doc) in enumerate(docs):
            mentions = self._mentions(texts[k], spans[k], p)
            relations = self.cid.predict(doc, split[k][0], mentions, p.relation_threshold) if p.relations else []
            results.append(_row(item, doc, texts[k], split[k][0], split[k][1] or windowed[k], mentions, relations))
        t_post = time.perf_counter()
        timings = {
            "fetch_s": t_fetch - start,
            "split_s": t_split - t_fetch,
            "ner_s": t_ner - t_split,
            "normalize_relations_s": t_post - t_ner,
            "total_s": t_post - start,
        }
        components = [self.ner_model, self.lexicon_model, self.cid_model]
        return BatchOutcome(results, errors, self.model, self.device, dict(self.packages), timings, components)

    def _fetch(self, items: Sequence[Item], p: LiteratureParams):
        if not items:
            return {}, {}
        from workers.literature.entrez import fetch_documents

        return fetch_documents([str(it.payload["pmid"]) for it in items], require_abstract=p.require_abstract)

    def _mentions(self, text: str, spans, p: LiteratureParams) -> list[Mention]:
        wanted = set(p.entity_types)
        mentions = [
            m for m in document_mentions(text, spans, self.lexicon) if m.type in wanted and m.score >= p.min_score
        ]
        return self.lexicon.normalize(text, mentions) if p.normalize else mentions


def _row(
    item: Item,
    doc: Document,
    text: str,
    sentences: list[tuple[int, int]],
    chunked: bool,
    mentions: list[Mention],
    relations: list[Relation],
) -> dict[str, Any]:
    counts = {kind: sum(1 for m in mentions if m.type == kind) for kind in ("Chemical", "Disease", "Gene")}
    title = next((p.text for p in doc.passages if p.kind == "title"), None)
    year = doc.meta.get("year")
    return {
        "item_index": item.index,
        "item_key": (item.key or doc.doc_id)[:255] if (item.key or doc.doc_id) else None,
        "doc_id": doc.doc_id[:255],
        "source": doc.source[:32],
        "title": title,
        "journal": doc.meta.get("journal"),
        "year": int(year) if isinstance(year, int | str) and str(year).isdigit() else None,
        "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "n_chars": len(text),
        "n_sentences": len(sentences),
        "chunked": chunked,
        "chemical_count": counts["Chemical"],
        "disease_count": counts["Disease"],
        "gene_count": counts["Gene"],
        "relation_count": len(relations),
        "unmatched_count": sum(1 for m in mentions if m.type != "Gene" and m.concept_id is None),
        "score": max((r.score for r in relations), default=0.0),
        "passages": [{"kind": p.kind, "offset": p.offset, "text": p.text} for p in doc.passages],
        "entities": [m.to_dict() for m in mentions],
        "relations": [r.to_dict() for r in relations],
    }
