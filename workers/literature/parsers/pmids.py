"""PMID lists: the documents are fetched later, by the worker (entrez.py), so each item only names its PMID.

One or more PMIDs per line, separated by commas, semicolons or whitespace; "#" starts a comment; blank lines
are skipped. A token that is not a PMID is its own PARSE_ERROR item. Duplicates stay separate items: the
platform reports duplicates itself, and dropping them here would shift every later item's index.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any

from core.enums import ItemErrorCode
from workers.textstream import bounded_lines

_SEPARATORS = re.compile(rb"[,;\s]+")
_MAX_DIGITS = 12  # PMIDs have 8 digits today; a much longer number is a pasted accession or phone number

PmidRecord = tuple[str | None, dict[str, Any], tuple[str, str] | None]


def records(stream: IO[bytes], *, max_record_bytes: int) -> Iterator[PmidRecord]:
    for line in bounded_lines(stream, max_record_bytes):
        if line is None:
            yield None, {}, (ItemErrorCode.RECORD_TOO_LONG.value, f"line is longer than {max_record_bytes} bytes")
            continue
        for token in _SEPARATORS.split(line.split(b"#", 1)[0]):
            if token:
                yield _token(token)


def _token(token: bytes) -> PmidRecord:
    if token.isdigit() and len(token) <= _MAX_DIGITS and int(token) > 0:
        pmid = str(int(token))  # "000123" and "123" are the same article
        return pmid, {"pmid": pmid}, None
    try:
        shown = token[:40].decode("utf-8")
    except UnicodeDecodeError:
        return None, {}, (ItemErrorCode.ENCODING_ERROR.value, "token is not valid UTF-8")
    shown = shown if shown.isprintable() else ascii(shown)[1:-1]
    suffix = "..." if len(token) > 40 else ""
    return None, {}, (ItemErrorCode.PARSE_ERROR.value, f"{shown!r}{suffix} is not a PMID (a positive integer)")
