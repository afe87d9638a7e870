"""Evaluate a tagger: strict mention P/R/F1 on IOB corpora (pre-tokenized sentences) and on raw PubTator
documents (our sentence splitter + tokenizer on the real text, scored by character offsets: what users get)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from workers.literature.iob import PRF, read_iob, strict_report
from workers.literature.ner_train import CORPORA, predict_tags


def evaluate_iob(
    model_dir: Path | None,
    data_dir: Path,
    corpora: Sequence[str],
    split: str = "devel",
    *,
    o_weight: float | None = None,
) -> dict:
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from workers.literature.decoding import Decoding
    from workers.literature.ner import SHIPPED_MODEL

    folder = Path(model_dir or SHIPPED_MODEL)
    decoding = Decoding.for_model(folder, o_weight)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForTokenClassification.from_pretrained(folder).float()
    report: dict[str, dict] = {}
    for name in corpora:
        sentences = read_iob(Path(data_dir) / name / f"{split}.tsv", CORPORA.get(name))
        pred = predict_tags(model, tokenizer, sentences, max_len=256, decoding=decoding)
        types = CORPORA.get(name) or sorted({t[2:] for s in sentences for t in s.tags if t != "O"})
        report[name] = strict_report([s.tags for s in sentences], pred, types)
    return report


def evaluate_documents(
    tagger, pubtator_path: Path, types: Sequence[str] = ("Chemical", "Disease"), lexicon_path: Path | None = None
) -> dict:
    """Mention P/R/F1 per type over raw documents: a prediction counts when (doc, start, end, type) is exact."""
    from workers.literature.normalize import Lexicon
    from workers.literature.pubtator import read_pubtator

    corpus = read_pubtator(pubtator_path)
    spans = _document_mentions(tagger, [c[0] for c in corpus], Lexicon.load(lexicon_path))
    per = {t: PRF() for t in types}
    for (_, gold, _), predicted in zip(corpus, spans, strict=True):
        for t in types:
            g = {(m.start, m.end) for m in gold if m.type == t}
            p = {(s.start, s.end) for s in predicted if s.type == t}
            per[t].add(g, p)
    micro = PRF(sum(m.tp for m in per.values()), sum(m.fp for m in per.values()), sum(m.fn for m in per.values()))
    return {**{t: m.as_dict() for t, m in per.items()}, "micro": micro.as_dict()}


def evaluate_pipeline(
    tagger, pubtator_path: Path, *, lexicon_path: Path | None = None, cid_path: Path | None = None
) -> dict:
    """What a user gets on raw abstracts: mention P/R/F1 (chemicals, diseases), then document-level MeSH concept
    P/R/F1 and CID relation P/R/F1 from those predicted mentions (normalization and relations end to end)."""
    from workers.literature.normalize import Lexicon
    from workers.literature.pubtator import read_pubtator
    from workers.literature.relations import CidModel
    from workers.literature.relations_eval import evaluate_end_to_end

    corpus = read_pubtator(pubtator_path)
    docs = [c.document for c in corpus]
    # Mentions as the pipeline makes them: the lexicon given here also drives the document rules.
    lexicon = Lexicon.load(lexicon_path)
    by_doc = {
        d.doc_id: [m for m in mentions if m.type in ("Chemical", "Disease")]
        for d, mentions in zip(docs, _document_mentions(tagger, docs, lexicon), strict=True)
    }
    per = {t: PRF() for t in ("Chemical", "Disease")}
    for c in corpus:
        for t, prf in per.items():
            prf.add(
                {(m.start, m.end) for m in c.mentions if m.type == t},
                {(m.start, m.end) for m in by_doc[c.document.doc_id] if m.type == t},
            )
    micro = PRF(*(sum(getattr(p, f) for p in per.values()) for f in ("tp", "fp", "fn")))
    downstream = evaluate_end_to_end(
        pubtator_path,
        lambda doc: by_doc[doc.doc_id],
        lexicon=lexicon,
        model=CidModel.load(cid_path) if cid_path else None,
    )
    mentions = {"micro": micro.as_dict(), **{t: m.as_dict() for t, m in per.items()}}
    return {"documents": len(corpus), "mentions": mentions, **downstream}


def _document_mentions(tagger, docs: Sequence, lexicon) -> list[list]:
    """Tagger spans -> mentions after the document rules, per document (what the pipeline stores)."""
    from workers.literature.mention_rules import document_mentions
    from workers.literature.pipeline import document_sentences

    spans, _ = tagger.tag([d.text for d in docs], [document_sentences(d, 10**9)[0] for d in docs])
    return [document_mentions(d.text, doc_spans, lexicon) for d, doc_spans in zip(docs, spans, strict=True)]
