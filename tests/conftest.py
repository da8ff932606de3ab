"""Shared fixtures: the real model, loaded once per session, and an environment that never leaks in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest import Embedder, Index, build_index, load_documents, load_index

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"
# The read-only shared data sits beside the checkout (../shared), in CI as on developer machines.
SHARED = Path(os.environ.get("CITEWELL_SHARED_DIR", REPO.parent / "shared"))
# Python's tutorial as Sphinx built it, from Debian's python3.11-doc (unpacked by `make test`): a real Sphinx site.
PYTHON_TUTORIAL = (
    REPO / ".citewell" / "python3.11-doc" / "usr" / "share" / "doc" / "python3.11" / "html" / "tutorial"
)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's CITEWELL_* settings."""
    for name in list(os.environ):
        if name.startswith("CITEWELL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="session")
def corpus_index_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """The shipped corpus, indexed once per session with the real model."""
    index_dir = tmp_path_factory.mktemp("corpus-index") / "index"
    build_index(load_documents([CORPUS]).documents, index_dir, embedder=embedder)
    return index_dir


@pytest.fixture(scope="session")
def corpus_index(corpus_index_dir: Path) -> Iterator[Index]:
    yield load_index(corpus_index_dir)
