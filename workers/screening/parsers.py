"""Streaming readers for compound libraries: SMILES, CSV/TSV, SDF and JSON lines, each optionally gzip-compressed.

Pure Python and rdkit-free: `detect_format` runs in the API process, `iter_items` in the ingest task. Memory stays
constant whatever the input size: the input is read one line at a time with a cap on line length (a 1 GB line
without a newline must not be loaded), and bytes are decoded per record, so one bad record (undecodable bytes,
overlong, missing field) becomes a per-item error instead of failing the whole job.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel

from core.enums import ItemErrorCode
from core.errors import InvalidInput
from core.settings import get_settings
from workers.plugin import Item
from workers.screening.params import ScreeningParams
from workers.textstream import GZIP_ERRORS, GZIP_MAGIC, bounded_lines, corrupt_gzip, open_upload

SNIFF_BYTES = 8192
KEY_MAX_CHARS = 255  # width of the item_key columns
SNIPPET_CHARS = 80

SMILES_NAMES = ("smiles", "canonical_smiles", "isomeric_smiles", "smi")
ID_NAMES = ("id", "name", "mol_id", "compound_id", "title")

_FORMAT_SUFFIXES = {
    "smi": "smi smiles ism",
    "csv": "csv",
    "tsv": "tsv tab",
    "sdf": "sdf sd mol",
    "jsonl": "jsonl ndjson",
}
_SUFFIX_FORMATS = {f".{suffix}": fmt for fmt, suffixes in _FORMAT_SUFFIXES.items() for suffix in suffixes.split()}
_SDF_DATA_HEADER = re.compile(r"^>.*?<([^>]*)>")


# What a reader yields per record; iter_items numbers them. A line that exceeded the length cap arrives as None.
_Record = tuple[str | None, dict[str, Any], tuple[str, str] | None]
_Lines = Iterable[bytes | None]


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """A record excerpt safe to put in a message: bounded, and escaped so control bytes never reach the DB."""
    cut = text if len(text) <= limit else text[:limit] + "..."
    return ascii(cut)[1:-1] if not cut.isprintable() else cut


def as_params(params: BaseModel) -> ScreeningParams:
    if isinstance(params, ScreeningParams):
        return params
    return ScreeningParams.model_validate(params.model_dump())


# ---------------------------------------------------------------------------------------------- format detection


def detect_format(filename: str | None, head: bytes, params: BaseModel) -> str:
    """Cheap and rdkit-free: the API calls it on the first bytes of an upload to reject junk with a 4xx."""
    wanted = as_params(params).input_format
    text = _text_head(head)
    if text is not None:
        reject_binary(text)
    if wanted != "auto":
        return wanted
    return _format_from_name(filename) or _sniff(text)


def reject_binary(head: bytes) -> None:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InvalidInput("input looks like UTF-16 text; save it as UTF-8")
    if b"\x00" in head:
        raise InvalidInput(
            "input looks binary (NUL bytes in its first 8 KiB); expected a text compound library "
            "(.smi, .csv, .tsv, .sdf or .jsonl, optionally gzip-compressed)"
        )


def _text_head(head: bytes) -> bytes | None:
    """The head as text bytes; for gzip, whatever the compressed head inflates to (None if that fails)."""
    if not head.startswith(GZIP_MAGIC):
        return head
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, SNIFF_BYTES)
    except zlib.error:
        return None


def _format_from_name(filename: str | None) -> str | None:
    if not filename:
        return None
    name = filename.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return _SUFFIX_FORMATS.get(Path(name).suffix)


def _sniff(text: bytes | None) -> str:
    if not text:
        return "smi"
    if b"$$$$" in text or b"M  END" in text or b"V2000" in text or b"V3000" in text:
        return "sdf"
    first = next(
        (s for s in text.decode("utf-8", "replace").lstrip("\ufeff").splitlines() if s.strip() and s[0] != "#"),
        "",
    ).strip()
    if first.startswith(("{", '"')):
        return "jsonl"
    if "\t" in first and any(f.strip().lower() in SMILES_NAMES for f in first.split("\t")):
        return "tsv"
    # A comma never occurs in plain SMILES; CXSMILES extensions (|...|) may contain one.
    if "," in first and (any(f.strip().lower() in SMILES_NAMES for f in first.split(",")) or "|" not in first):
        return "csv"
    return "smi"


# ---------------------------------------------------------------------------------------------- reading


def iter_items(path: Path, fmt: str, params: BaseModel) -> Iterator[Item]:
    """Items in input order; `index` counts yielded items only (comments/blank lines are not items)."""
    p = as_params(params)
    reader = _READERS.get(fmt)
    if reader is None:
        raise InvalidInput(f"unknown input format {fmt!r}; expected one of {sorted(_READERS)}")
    limit = get_settings().max_record_chars
    with _open_stream(path) as (stream, _):
        # 4 bytes per character at most in UTF-8, so a line cut at this many bytes is surely over the limit.
        lines = bounded_lines(stream, 4 * limit + 2)
        for index, (key, payload, error) in enumerate(reader(lines, p, limit)):
            if key is not None:
                key = key.strip()[:KEY_MAX_CHARS] or None
            yield Item(index, key, payload, error)


@contextmanager
def _open_stream(path: Path) -> Iterator[tuple[IO[bytes], bool]]:
    with open_upload(path) as (stream, compressed):
        try:
            head = stream.read(SNIFF_BYTES)
        except GZIP_ERRORS as exc:
            raise corrupt_gzip(exc) from exc
        reject_binary(head)
        stream.seek(0)
        yield stream, compressed


def _too_long(limit: int) -> _Record:
    return None, {}, (ItemErrorCode.RECORD_TOO_LONG.value, f"record is longer than {limit} characters")


def _fail(code: ItemErrorCode, message: str, key: str | None = None) -> _Record:
    return key, {}, (code.value, message)


def _decode(raw: bytes) -> str | _Record:
    """Strict UTF-8 per record; a failure names the offending byte, never echoes the record."""
    if b"\x00" in raw:
        return _fail(ItemErrorCode.ENCODING_ERROR, "record contains NUL bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _fail(
            ItemErrorCode.ENCODING_ERROR,
            f"record is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
        )


def _text_problem(*values: str | None) -> str | None:
    """For text that did not pass strict decoding (CSV cells, JSON strings): NULs and undecodable bytes."""
    for value in values:
        if value is None:
            continue
        if "\x00" in value:
            return "record contains NUL bytes"
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "record is not valid UTF-8"
    return None


def _find(names: list[str], wanted: str | None, candidates: tuple[str, ...]) -> int | None:
    """Column index: an explicit name (exact, then case-insensitive), else the first matching candidate."""
    lowered = [n.strip().lower() for n in names]
    if wanted is not None:
        if wanted in names:
            return names.index(wanted)
        return lowered.index(wanted.lower()) if wanted.lower() in lowered else None
    for candidate in candidates:
        if candidate in lowered:
            return lowered.index(candidate)
    return None


def _columns_text(names: list[str]) -> str:
    shown = ", ".join(repr(snippet(n.strip(), 40)) for n in names[:20])
    return shown + (f", ... ({len(names)} columns)" if len(names) > 20 else "")


def _pick_columns(names: list[str], p: ScreeningParams, fallback_id: bool) -> tuple[int, int | None]:
    smiles_at = _find(names, p.smiles_column, SMILES_NAMES)
    if smiles_at is None:
        wanted = repr(p.smiles_column) if p.smiles_column else f"named one of {list(SMILES_NAMES)}"
        raise InvalidInput(f"no SMILES column {wanted}; available columns: {_columns_text(names)}")
    id_at = _find(names, p.id_column, () if p.id_column else ID_NAMES)
    if p.id_column is not None and id_at is None:
        raise InvalidInput(f"no ID column {p.id_column!r}; available columns: {_columns_text(names)}")
    if id_at is None and fallback_id:
        id_at = next((i for i in range(len(names)) if i != smiles_at), None)
    return smiles_at, id_at


def _read_smi(lines: _Lines, p: ScreeningParams, limit: int) -> Iterator[_Record]:
    smiles_at: int = 0
    id_at: int | None = 1
    header_checked = False
    for raw in lines:
        if raw is None:
            header_checked = True
            yield _too_long(limit)
            continue
        text = _decode(raw)
        if not isinstance(text, str):
            header_checked = True
            yield text
            continue
        line = text.strip()
        if not line or line[0] == "#":
            continue
        if len(line) > limit:
            yield _too_long(limit)
            continue
        # Tab-separated lines keep spaces inside names ("aspirin tablet"); otherwise any whitespace separates.
        fields = line.split("\t") if "\t" in line else line.split()
        if not header_checked:
            header_checked = True
            # No SMILES spells "smiles", so a first line with a field named like a SMILES column is a header.
            if any(f.strip().lower() in SMILES_NAMES for f in fields):
                smiles_at, id_at = _pick_columns(fields, p, fallback_id=True)
                continue
            if p.smiles_column or p.id_column:
                raise InvalidInput("smiles_column/id_column need a header line (e.g. 'smiles name') in a .smi file")
        if len(fields) <= smiles_at:
            yield _fail(ItemErrorCode.MISSING_FIELD, f"line has no field {smiles_at + 1} (the SMILES column)")
            continue
        key = fields[id_at] if id_at is not None and id_at < len(fields) else None
        smiles = fields[smiles_at].strip()
        if not smiles:
            yield _fail(ItemErrorCode.EMPTY_RECORD, "the SMILES field is empty", key)
            continue
        yield key, {"smiles": smiles}, None


def _read_delimited(lines: _Lines, p: ScreeningParams, limit: int, *, delimiter: str) -> Iterator[_Record]:
    overlong = [False]  # set by the line feeder, read per row (csv.reader pulls lines only as a row needs them)

    def feed() -> Iterator[str]:
        for raw in lines:
            if raw is None:
                overlong[0] = True
                yield "\n"
            else:
                # Bad bytes survive as lone surrogates and are reported per row, so a quoted field spanning
                # lines still parses; only the cells we use are checked.
                yield raw.decode("utf-8", "surrogateescape")

    reader = csv.reader(feed(), delimiter=delimiter)
    try:
        header = next((row for row in reader if row), None)
    except csv.Error as exc:
        raise InvalidInput(f"the header line is malformed: {exc}") from exc
    if header is None:
        return
    if overlong[0] or _text_problem(*header):
        raise InvalidInput("the header line is too long or not valid UTF-8")
    smiles_at, id_at = _pick_columns(header, p, fallback_id=False)
    smiles_name = header[smiles_at].strip()
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. an unclosed quote swallowing lines up to csv's field size limit
            code = ItemErrorCode.RECORD_TOO_LONG if "field larger" in str(exc) else ItemErrorCode.PARSE_ERROR
            yield _fail(code, f"malformed {'TSV' if delimiter == chr(9) else 'CSV'} row: {exc}")
            continue
        if overlong[0]:
            overlong[0] = False
            yield _too_long(limit)
            continue
        if not row:
            continue
        if len(row) <= smiles_at:
            message = f"row has {len(row)} field(s); the SMILES column {smiles_name!r} is field {smiles_at + 1}"
            yield _fail(ItemErrorCode.MISSING_FIELD, message)
            continue
        smiles = row[smiles_at].strip()
        key = row[id_at] if id_at is not None and id_at < len(row) else None
        problem = _text_problem(smiles, key)
        if problem:
            yield _fail(ItemErrorCode.ENCODING_ERROR, problem)
        elif not smiles:
            yield _fail(ItemErrorCode.EMPTY_RECORD, f"the {smiles_name!r} cell is empty", key)
        elif len(smiles) > limit:
            yield _too_long(limit)
        else:
            yield key, _with_props({"smiles": smiles}, header, row, (smiles_at, id_at)), None


def _with_props(
    payload: dict[str, Any], header: list[str], row: list[str], used: tuple[int | None, ...]
) -> dict[str, Any]:
    """The row's other columns ride along to the exports; cells with undecodable bytes are left out."""
    props = {
        header[i].strip(): cell
        for i, cell in enumerate(row[: len(header)])
        if i not in used and cell and not _text_problem(cell)
    }
    if props:
        payload["props"] = props
    return payload


def _read_jsonl(lines: _Lines, p: ScreeningParams, limit: int) -> Iterator[_Record]:
    for raw in lines:
        if raw is None:
            yield _too_long(limit)
            continue
        text = _decode(raw)
        if not isinstance(text, str):
            yield text
            continue
        line = text.strip()
        if not line:
            continue
        if len(line) > limit:
            yield _too_long(limit)
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield _fail(ItemErrorCode.PARSE_ERROR, f"line is not valid JSON ({exc.msg}, column {exc.colno})")
            continue
        except (ValueError, RecursionError) as exc:  # e.g. an integer too long, nesting too deep
            yield _fail(ItemErrorCode.PARSE_ERROR, f"line is not usable JSON ({type(exc).__name__})")
            continue
        yield _json_record(value, p)


def _json_record(value: Any, p: ScreeningParams) -> _Record:
    key: str | None = None
    if isinstance(value, dict):
        names = list(value)
        id_at = _find(names, p.id_column, () if p.id_column else ID_NAMES)
        if id_at is not None and value[names[id_at]] is not None:
            key = str(value[names[id_at]])
        smiles_at = _find(names, p.smiles_column, SMILES_NAMES)
        if smiles_at is None:
            wanted = p.smiles_column or "smiles"
            return _fail(ItemErrorCode.MISSING_FIELD, f"JSON object has no {wanted!r} key", key)
        value = value[names[smiles_at]]
    if not isinstance(value, str):
        return _fail(ItemErrorCode.PARSE_ERROR, f"expected a SMILES string, got JSON {type(value).__name__}", key)
    smiles = value.strip()
    problem = _text_problem(smiles, key)
    if problem:
        return _fail(ItemErrorCode.ENCODING_ERROR, problem)
    if not smiles:
        return _fail(ItemErrorCode.EMPTY_RECORD, "the SMILES string is empty", key)
    return key, {"smiles": smiles}, None


def _read_sdf(lines: _Lines, p: ScreeningParams, limit: int) -> Iterator[_Record]:
    buf: list[bytes] = []
    size = 0
    overlong = False
    max_bytes = 4 * limit
    for raw in lines:
        if raw is not None and raw[:4] == b"$$$$" and raw.rstrip() == b"$$$$":
            record = _too_long(limit) if overlong else _sdf_record(buf, p, limit)
            if record is not None:
                yield record
            buf, size, overlong = [], 0, False
        elif overlong:
            continue  # skip to the record delimiter without buffering
        elif raw is None or size + len(raw) > max_bytes:
            buf, size, overlong = [], 0, True
        else:
            buf.append(raw)
            size += len(raw)
    # A last record without "$$$$" is still a record; if truncated, the pipeline reports it per item.
    record = _too_long(limit) if overlong else _sdf_record(buf, p, limit)
    if record is not None:
        yield record


def _sdf_record(buf: list[bytes], p: ScreeningParams, limit: int) -> _Record | None:
    text = _decode(b"".join(buf))
    if not isinstance(text, str):
        return text
    if not text.strip():
        return None  # blank space between records is not a record
    if len(text) > limit:
        return _too_long(limit)
    rows = text.splitlines()
    end = next((i for i, row in enumerate(rows) if row.startswith("M  END")), None)
    if end is None:  # truncated or malformed: keep what precedes any data items; RDKit will judge it
        end = next((i - 1 for i, row in enumerate(rows) if i > 3 and _SDF_DATA_HEADER.match(row)), len(rows) - 1)
    props = _sdf_props(rows[end + 1 :])
    key: str | None
    if p.id_column is not None:
        at = _find(list(props), p.id_column, ())
        key = props[list(props)[at]].split("\n", 1)[0] if at is not None else None
    else:
        key = rows[0]
    return key, {"molblock": "\n".join(rows[: end + 1]) + "\n", "props": props}, None


def _sdf_props(rows: list[str]) -> dict[str, str]:
    """Data items: a '> <NAME>' line, then value lines up to a blank line."""
    props: dict[str, str] = {}
    name: str | None = None
    values: list[str] = []
    for row in rows:
        if name is None:
            match = _SDF_DATA_HEADER.match(row)
            if match:
                name, values = match.group(1), []
        elif row.strip():
            values.append(row.rstrip())
        else:
            props[name] = "\n".join(values)
            name = None
    if name is not None:
        props[name] = "\n".join(values)
    return props


_READERS: dict[str, Callable[[_Lines, ScreeningParams, int], Iterator[_Record]]] = {
    "smi": _read_smi,
    "csv": partial(_read_delimited, delimiter=","),
    "tsv": partial(_read_delimited, delimiter="\t"),
    "sdf": _read_sdf,
    "jsonl": _read_jsonl,
}
