"""Folders as uploads: a DICOM folder (or any tree of input files) is packed into a temporary zip and sent as
one archive, which the triage domain reads member by member."""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def as_upload(path: Path) -> Iterator[Path]:
    """The file itself, or a stored (uncompressed: DICOM pixel data rarely deflates well) zip of a folder's
    regular files, removed afterwards. Symlinks are not followed, so a link cannot pull in files from
    outside the folder."""
    if not path.is_dir():
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="medsieve-upload-") as tmp:
        archive = Path(tmp) / f"{path.name or 'folder'}.zip"
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for member in sorted(path.rglob("*")):
                if member.is_file() and not member.is_symlink():
                    zf.write(member, member.relative_to(path).as_posix())
        yield archive
