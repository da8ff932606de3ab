"""Indexes of benchmark collections, built once and kept under a cache folder, keyed by what they are built from."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from ingest import ChunkingConfig, Embedder, Index, ingest_paths, load_index
from ingest.build import EMBEDDING_INPUT_VERSION
from ingest.errors import IngestError


def cached_index(
    name: str,
    source: Path,
    build: Callable[[Path], None],
    cache_dir: Path,
    embedder: Embedder,
    chunking: ChunkingConfig,
    *,
    sentence_vectors: bool = False,
) -> Index:
    """An index of ``source`` under ``cache_dir``, rebuilt only when the file, model, chunking, what the model
    reads of a passage (``EMBEDDING_INPUT_VERSION``) or the choice of sentence vectors changed."""
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    recipe: list[object] = [digest, embedder.name, chunking.as_dict(), EMBEDDING_INPUT_VERSION]
    if sentence_vectors:  # appended only when set, so indexes cached before this option stay valid
        recipe.append("sentence-vectors")
    key = hashlib.sha256(json.dumps(recipe).encode()).hexdigest()[:16]
    folder = cache_dir / f"{name}-{key}"
    index_dir, stamp = folder / "index", folder / "built-from.json"
    if not stamp.exists():
        build(index_dir)
        stamp.write_text(json.dumps({"source": str(source), "sha256": digest}), encoding="utf-8")
    return load_index(index_dir, model=embedder.name)


def ingest_every_document(
    paths: Sequence[Path], index_dir: Path, embedder: Embedder, chunking: ChunkingConfig
) -> None:
    report = ingest_paths(paths, index_dir, embedder=embedder, chunking=chunking, progress=True)
    if report.problems:
        raise IngestError(f"{len(report.problems)} documents could not be read, first: {report.problems[0]}")
