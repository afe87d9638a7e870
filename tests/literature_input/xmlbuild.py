"""Writers for the PubMed XML the tests feed in: realistic records (structure of NLM's DTD), and sets of them."""

from __future__ import annotations

from xml.sax.saxutils import escape

PUBMED_PROLOG = (
    '<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
    '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n'
)


def article(
    pmid: str,
    title: str,
    sections: list[tuple[str | None, str]] | None = None,
    *,
    year: str = "2021",
    journal: str = "Journal of Testing",
    mesh: tuple[str, ...] = (),
    raw_abstract: str | None = None,
) -> str:
    """A <PubmedArticle>; section text is escaped unless given as raw_abstract (inline markup)."""
    parts = "".join(
        f'<AbstractText Label="{label}" NlmCategory="{label}">{escape(text)}</AbstractText>'
        if label
        else f"<AbstractText>{escape(text)}</AbstractText>"
        for label, text in sections or []
    )
    abstract = (
        f"<Abstract>{raw_abstract if raw_abstract is not None else parts}</Abstract>"
        if (sections or raw_abstract)
        else ""
    )
    headings = "".join(
        f'<MeshHeading><DescriptorName UI="{ui}" MajorTopicYN="N">Term {ui}</DescriptorName></MeshHeading>'
        for ui in mesh
    )
    return (
        '<PubmedArticle>\n  <MedlineCitation Status="MEDLINE" Owner="NLM">\n'
        f'    <PMID Version="1">{pmid}</PMID>\n'
        '    <Article PubModel="Print">\n'
        f"      <Journal><JournalIssue><PubDate><Year>{year}</Year></PubDate></JournalIssue>"
        f"<Title>{escape(journal)}</Title></Journal>\n"
        f"      <ArticleTitle>{escape(title)}</ArticleTitle>\n"
        f"      {abstract}\n"
        "    </Article>\n"
        f"    <MeshHeadingList>{headings}</MeshHeadingList>\n"
        "  </MedlineCitation>\n"
        f'  <PubmedData><ArticleIdList><ArticleId IdType="pubmed">{pmid}</ArticleId></ArticleIdList></PubmedData>\n'
        "</PubmedArticle>\n"
    )


def article_set(*records: str, prolog: str = PUBMED_PROLOG, close: bool = True) -> str:
    return prolog + "<PubmedArticleSet>\n" + "".join(records) + ("</PubmedArticleSet>\n" if close else "")
