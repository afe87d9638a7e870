"""Fixtures for the literature input tests: the shared real data (skipped when absent), a local socket that must
never be connected to, and an audit hook that records every outbound connection the process attempts."""

from __future__ import annotations

import re
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA

PUBMED_FILE = SHARED_DATA / "pubmed" / "pubmed-29768149.xml"
BC5CDR_DEV = SHARED_DATA / "bc5cdr" / "CDR_DevelopmentSet.PubTator.txt"


@pytest.fixture(scope="session")
def pubmed_file() -> Path:
    if not PUBMED_FILE.is_file():
        pytest.skip(f"shared data absent: {PUBMED_FILE}")
    return PUBMED_FILE


@pytest.fixture(scope="session")
def real_article(pubmed_file: Path) -> bytes:
    """The real <PubmedArticle> element of PMID 29768149, as bytes."""
    found = re.search(rb"<PubmedArticle>.*?</PubmedArticle>", pubmed_file.read_bytes(), re.S)
    assert found is not None
    return found.group(0)


@pytest.fixture(scope="session")
def bc5cdr() -> list[dict]:
    """BC5CDR development documents: id, title, abstract and (start, end, text) annotations."""
    if not BC5CDR_DEV.is_file():
        pytest.skip(f"shared data absent: {BC5CDR_DEV}")
    docs: dict[str, dict] = {}
    for line in BC5CDR_DEV.read_text(encoding="utf-8").splitlines():
        if m := re.match(r"^(\d+)\|([ta])\|(.*)$", line):
            doc = docs.setdefault(m.group(1), {"id": m.group(1), "annotations": []})
            doc["title" if m.group(2) == "t" else "abstract"] = m.group(3)
        elif len(parts := line.split("\t")) >= 6:
            docs[parts[0]]["annotations"].append((int(parts[1]), int(parts[2]), parts[3]))
    return list(docs.values())


class SocketSpy:
    """A TCP listener on 127.0.0.1 that counts the connections it receives."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.05)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.server.close()


@pytest.fixture()
def spy() -> Iterator[SocketSpy]:
    s = SocketSpy()
    yield s
    s.close()


# sys.addaudithook cannot be removed, so one hook is installed per process and switched on per test.
_connects: list[object] | None = None


def _audit(event: str, args: tuple) -> None:
    if _connects is not None and event in ("socket.connect", "socket.getaddrinfo"):
        _connects.append((event, args[1:] if event == "socket.connect" else args))


@pytest.fixture()
def outbound() -> Iterator[list[object]]:
    """Every socket.connect/getaddrinfo the process attempts while the test runs (any library, any thread)."""
    global _connects
    if _audit not in _installed:
        sys.addaudithook(_audit)
        _installed.append(_audit)
    _connects = []
    try:
        yield _connects
    finally:
        _connects = None


_installed: list[object] = []
