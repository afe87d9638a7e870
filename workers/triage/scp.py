"""DICOM C-STORE listener: a PACS or modality sends studies here; each study becomes one triage job.

Instances are spooled to local disk per study as they arrive (C-STORE answers success only once the file is
written), and a study is submitted through the job API, as one zip, once no instance has arrived for
`stable_s` seconds. The spool holds identified data, like any upload before de-identification: it lives under
the data directory, its folder and file names are an HMAC of the study UID and a counter (never a UID or a
name), and a study's files are deleted as soon as the API accepted the job. Submission retries until the API
accepts (same Idempotency-Key each time), so a restart of the API loses nothing. Nothing here logs a value
from a dataset.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import shutil
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

log = logging.getLogger(__name__)

STATUS_SUCCESS = 0x0000
STATUS_OUT_OF_RESOURCES = 0xA700
STATUS_CANNOT_UNDERSTAND = 0xC000
_BATCH_FILE = "batch"  # counts submissions of a study key, so a study resent later is a new job


@dataclass
class _Study:
    folder: Path
    last_write: float
    count: int


def _last_number(folder: Path) -> int:
    return max((int(p.stem) for p in folder.glob("*.dcm") if p.stem.isdigit()), default=0)


class StudySpool:
    """Groups received instances by study; thread-safe (pynetdicom runs one thread per association)."""

    def __init__(self, root: Path, key: bytes, stable_s: float) -> None:
        self.root = root
        self.key = key
        self.stable_s = stable_s
        self._lock = threading.Lock()
        self._studies: dict[str, _Study] = {}
        root.mkdir(parents=True, exist_ok=True)
        self._recover()

    def _recover(self) -> None:
        # Studies spooled before a restart are submitted once they count as stable again.
        for folder in self.root.iterdir():
            if folder.is_dir():
                self._studies[folder.name] = _Study(folder, time.monotonic(), _last_number(folder))

    def study_key(self, study_uid: str) -> str:
        return hmac.new(self.key, study_uid.encode(), hashlib.sha256).hexdigest()[:32]

    def add(self, study_uid: str, encoded: bytes) -> None:
        key = self.study_key(study_uid)
        with self._lock:
            study = self._studies.get(key)
            if study is None:
                folder = self.root / key
                folder.mkdir(exist_ok=True)
                study = self._studies[key] = _Study(folder, time.monotonic(), _last_number(folder))
            study.count += 1
            path = study.folder / f"{study.count:06d}.dcm"
            study.last_write = time.monotonic()
        tmp = path.with_suffix(".part")
        tmp.write_bytes(encoded)
        tmp.rename(path)  # a crash never leaves a half instance under a real name

    def stable(self) -> list[str]:
        now = time.monotonic()
        with self._lock:
            return [k for k, s in self._studies.items() if now - s.last_write >= self.stable_s]

    def pack(self, key: str, into: Path) -> tuple[Path, list[Path], str]:
        """A stored zip of the study's instances so far, the files in it and the Idempotency-Key for it."""
        with self._lock:
            study = self._studies[key]
            files = sorted(study.folder.glob("*.dcm"))
        batch = self._batch(study.folder)
        archive = into / f"{key}.zip"
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
            for f in files:
                zf.write(f, f.name)
        return archive, files, f"cstore-{key}-{batch}-{len(files)}"

    @staticmethod
    def _batch(folder: Path) -> int:
        path = folder / _BATCH_FILE
        return int(path.read_text()) if path.exists() else 0

    def done(self, key: str, files: list[Path]) -> None:
        """Removes the submitted files. Instances that arrived while the study was being sent stay, and go
        out as the study's next batch once it is stable again."""
        with self._lock:
            study = self._studies.get(key)
            if study is None:
                return
            for f in files:
                f.unlink(missing_ok=True)
            if any(study.folder.glob("*.dcm")):
                (study.folder / _BATCH_FILE).write_text(str(self._batch(study.folder) + 1))
                return
            del self._studies[key]
        shutil.rmtree(study.folder, ignore_errors=True)


class Submitter:
    """Sends stable studies to the job API; keeps them spooled while the API is unreachable."""

    def __init__(self, spool: StudySpool, client: httpx.Client, parameters: str = "{}") -> None:
        self.spool = spool
        self.client = client
        self.parameters = parameters
        self.submitted: list[str] = []  # job ids, for the operator's log and the tests

    def flush(self) -> int:
        sent = 0
        for key in self.spool.stable():
            with tempfile.TemporaryDirectory(prefix="medsieve-cstore-") as tmp:
                archive, files, idem = self.spool.pack(key, Path(tmp))
                try:
                    with archive.open("rb") as fh:
                        r = self.client.post(
                            "/v1/jobs",
                            data={"domain": "triage", "parameters": self.parameters},
                            files={"file": ("study.zip", fh, "application/zip")},
                            headers={"Idempotency-Key": idem},
                        )
                except httpx.TransportError as exc:
                    log.warning("job API unreachable (%s); study kept in the spool", type(exc).__name__)
                    continue
            if r.status_code in (200, 202):
                job_id = r.json()["id"]
                self.submitted.append(job_id)
                self.spool.done(key, files)
                log.info("study submitted", extra={"job_id": job_id, "instances": len(files)})
                sent += 1
            elif r.status_code >= 500 or r.status_code in (401, 403, 404, 408, 429):
                # Outages and configuration errors (a revoked token) are fixed without the sender: keep it.
                log.warning("job API answered %s; study kept in the spool", r.status_code)
            else:
                # Refused for its content (413, 415, 422): retrying cannot help, and one bad study must not
                # block the spool.
                log.error("job API refused a study (%s); its %d instances are discarded", r.status_code, len(files))
                self.spool.done(key, files)
        return sent


def make_store_handler(spool: StudySpool) -> Any:
    def handle_store(event: Any) -> int:
        try:
            study_uid = str(event.dataset.StudyInstanceUID)
        except Exception:  # no study UID: cannot be grouped, and pydicom's text may echo values
            return STATUS_CANNOT_UNDERSTAND
        try:
            spool.add(study_uid, bytes(event.encoded_dataset(include_meta=True)))
        except OSError:
            return STATUS_OUT_OF_RESOURCES
        return STATUS_SUCCESS

    return handle_store


def start_listener(spool: StudySpool, host: str, port: int, ae_title: str = "MEDSIEVE") -> Any:
    """A non-blocking Storage SCP for every storage SOP class (and C-ECHO). Returns the server (.shutdown())."""
    from pynetdicom import AE, AllStoragePresentationContexts, evt
    from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

    ae = AE(ae_title=ae_title)
    ae.supported_contexts = AllStoragePresentationContexts
    ae.add_supported_context(Verification)
    handlers: list[Any] = [(evt.EVT_C_STORE, make_store_handler(spool))]
    return ae.start_server((host, port), block=False, evt_handlers=handlers)
