from __future__ import annotations

from enum import StrEnum


class Domain(StrEnum):
    screening = "screening"
    literature = "literature"
    triage = "triage"


class JobStatus(StrEnum):
    queued = "queued"  # accepted, waiting for ingest
    ingesting = "ingesting"  # input being split into shards (shards may already run)
    running = "running"  # all shards created, some not finished
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_JOB_STATES


TERMINAL_JOB_STATES = frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled})


class ShardStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


TERMINAL_SHARD_STATES = frozenset({ShardStatus.succeeded, ShardStatus.failed, ShardStatus.cancelled})


class Device(StrEnum):
    cpu = "cpu"
    gpu = "gpu"


class ItemErrorCode(StrEnum):
    """Fixed per-item error codes. Documented in the README; domains add theirs here so the set stays one list."""

    PARSE_ERROR = "PARSE_ERROR"  # the record could not be parsed at all
    SANITIZE_ERROR = "SANITIZE_ERROR"  # parsed, but chemistry is invalid (valence, aromaticity)
    EMPTY_RECORD = "EMPTY_RECORD"  # no structure in the record (blank SMILES cell, 0-atom molecule)
    RECORD_TOO_LONG = "RECORD_TOO_LONG"
    ENCODING_ERROR = "ENCODING_ERROR"  # bytes are not UTF-8 text
    MISSING_FIELD = "MISSING_FIELD"  # e.g. CSV row lacks the SMILES column
    PROCESSING_ERROR = "PROCESSING_ERROR"  # unexpected failure of the pipeline on this item
    SHARD_FAILED = "SHARD_FAILED"  # the item's shard exhausted its attempts (poison, crashes)
    TIMEOUT = "TIMEOUT"  # the item's shard exceeded the hard time limit
    CANCELLED = "CANCELLED"
    # Screening.
    STANDARDIZE_ERROR = "STANDARDIZE_ERROR"  # MolStandardize failed or left no heavy atoms
    FILTERED = "FILTERED"  # dropped by the job's filters (filters.mode = "drop"); the message lists the reasons
    # Triage (DICOM). Checked from the header before any pixel is decoded.
    NOT_DICOM = "NOT_DICOM"  # no DICM magic and no parseable dataset
    TRUNCATED = "TRUNCATED"  # the file ends inside an element or the pixel data is short
    OVERSIZED = "OVERSIZED"  # file, matrix, frames or decoded size above the configured caps
    UNSUPPORTED_TRANSFER_SYNTAX = "UNSUPPORTED_TRANSFER_SYNTAX"  # no installed decoder can read the pixels
    INVALID_HEADER = "INVALID_HEADER"  # required attributes missing or inconsistent (rows, bits, samples)
    NO_PIXEL_DATA = "NO_PIXEL_DATA"  # a valid object that carries no image (SR, RT plan, ...)
    DICOMDIR = "DICOMDIR"  # a media directory, not an instance
    UNSAFE_PATH = "UNSAFE_PATH"  # archive member with an absolute or parent-escaping name
    SUSPICIOUS_PREAMBLE = "SUSPICIOUS_PREAMBLE"  # executable or archive signature in the 128-byte preamble
    BURNED_IN_ANNOTATION = "BURNED_IN_ANNOTATION"  # quarantined: pixels may carry identifiers
    MIXED_PATIENTS = "MIXED_PATIENTS"  # a series whose instances name different patients
    DECODE_ERROR = "DECODE_ERROR"  # a supported syntax whose pixel data failed to decode
    # Literature.
    NOT_FOUND = "NOT_FOUND"  # a PMID that PubMed does not return
    CORRUPT_XML = "CORRUPT_XML"  # a record whose XML is truncated or malformed (the file's other records go on)
    UNSAFE_XML = "UNSAFE_XML"  # entity declarations or a foreign external DTD: rejected, nothing fetched
    EMPTY_TEXT = "EMPTY_TEXT"  # no title and no abstract text
    UPSTREAM_ERROR = "UPSTREAM_ERROR"  # NCBI kept answering 429/5xx or could not be reached after the retries


class AuditAction(StrEnum):
    job_submit = "job.submit"
    job_cancel = "job.cancel"
    job_export = "job.export"
    model_register = "model.register"
    token_create = "token.create"
    project_create = "project.create"
