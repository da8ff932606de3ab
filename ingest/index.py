"""The index directory on disk, and loading it back.

Layout (one folder per build; ``CURRENT`` names the live one and is replaced atomically)::

    INDEX_DIR/
      CURRENT               name of the live version folder
      v-20261124T160102-ab12cd/
        manifest.json       format version, model, dimension, chunking, per-document hashes, counts, file sizes
        documents.jsonl     each document's normalised text, structure and metadata
        passages.jsonl      document, start, end, section, sentence spans (text is derived from the document)
        vectors.npy         float32 passage vectors, row i = passage i (reused by the next incremental build)
        passages.faiss      the FAISS index over those vectors
        bm25-passages/      BM25 over each passage (with its title and section)
        bm25-documents/     BM25 over each whole document
        sentence-vectors.npy  only with sentence vectors: float16 vectors of every sentence, in document order
        sentence-rows.npy     only with sentence vectors: row of each passage's first sentence in that file
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from numpy.typing import NDArray

from ingest.chunking import Passage
from ingest.documents import Block, Document
from ingest.embedding import Vectors
from ingest.errors import IncompatibleIndex, IndexNotFound
from ingest.lexical import LexicalIndex
from ingest.vector_search import tune_loaded

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
DOCUMENTS = "documents.jsonl"
PASSAGES = "passages.jsonl"
VECTORS = "vectors.npy"
FAISS_INDEX = "passages.faiss"
LEXICAL_PASSAGES = "bm25-passages"
LEXICAL_DOCUMENTS = "bm25-documents"
SENTENCE_VECTORS = "sentence-vectors.npy"
SENTENCE_ROWS = "sentence-rows.npy"
DATA_FILES = (DOCUMENTS, PASSAGES, VECTORS, FAISS_INDEX)
VERSION_PREFIX = "v-"


def current_version(index_dir: Path) -> Path | None:
    """The live version folder, or None when the directory holds no index yet.

    When ``CURRENT`` is damaged (garbage, or naming a folder that is gone or incomplete), the newest complete
    version is used, with a warning: a good index on disk keeps serving rather than every request failing."""
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8", errors="replace").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if name.startswith(VERSION_PREFIX) and "/" not in name and (index_dir / name / MANIFEST).is_file():
        return index_dir / name
    # the newest by when its manifest was written, the build's last step (two builds can share a second of the name)
    complete = sorted(
        (p for p in index_dir.glob(VERSION_PREFIX + "*") if (p / MANIFEST).is_file()),
        key=lambda p: (p / MANIFEST).stat().st_mtime_ns,
    )
    if not complete:
        raise IncompatibleIndex(f"{index_dir / CURRENT} is damaged; rebuild with `citewell ingest`")
    if (str(index_dir), name) not in _WARNED:  # once, not at every look for a new index
        _WARNED.add((str(index_dir), name))
        logger.warning(
            "%s is damaged (%r); using the newest complete version, %s",
            index_dir / CURRENT,
            name[:80],
            complete[-1].name,
        )
    return complete[-1]


_WARNED: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Manifest:
    """``manifest.json`` of a version folder: how the index was built, what it holds, and each file's size (a
    file of another size means a damaged index)."""

    format_version: int
    model: str
    dimension: int
    chunking: dict[
        str, Any
    ]  # ChunkingConfig.as_dict(): a rebuild reuses vectors only under the same chunking
    vector_index: dict[str, Any]  # the FAISS index's kind and search settings (ingest.vector_search)
    embedding_input_version: int
    sentence_vectors: bool
    built_at: str
    counts: dict[str, int]
    # each document's content hash, first passage row and passage count (and sentence rows, with sentence vectors)
    documents: dict[str, dict[str, Any]]
    files: dict[str, int]

    def write(self, version_dir: Path) -> None:
        write_json(version_dir / MANIFEST, asdict(self))


def read_manifest(version_dir: Path) -> Manifest:
    """The manifest of ``version_dir``; ``IncompatibleIndex`` when it is unreadable, of another format version or
    incomplete."""
    try:
        raw = json.loads((version_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IncompatibleIndex(
            f"index at {version_dir} is damaged (manifest unreadable: {exc}); rebuild with `citewell ingest`"
        ) from exc
    if not isinstance(raw, dict):
        raise IncompatibleIndex(f"index at {version_dir} is damaged (manifest is not an object)")
    found = raw.get("format_version")
    if found != FORMAT_VERSION:
        raise IncompatibleIndex(
            f"index at {version_dir} has format version {found}, this citewell reads {FORMAT_VERSION}; "
            "rebuild it with `citewell ingest`"
        )
    missing = [f.name for f in fields(Manifest) if f.name not in raw]
    if missing:
        raise IncompatibleIndex(
            f"index at {version_dir} is damaged (manifest lacks {', '.join(missing)}); rebuild with `citewell ingest`"
        )
    return Manifest(**{f.name: raw[f.name] for f in fields(Manifest)})


# --- writing ----------------------------------------------------------------------------------------------


def document_record(document: Document, content_hash: str) -> dict[str, Any]:
    return {
        "id": document.id,
        "title": document.title,
        "url": document.url,
        "source": document.source,
        "metadata": dict(document.metadata),
        "hash": content_hash,
        "text": document.text,
        "blocks": [[b.kind, b.start, b.end, b.level] for b in document.blocks],
    }


def passage_record(passage: Passage) -> dict[str, Any]:
    return {
        "document": passage.document,
        "start": passage.start,
        "end": passage.end,
        "section": passage.section,
        "sentences": [list(span) for span in passage.sentences],
    }


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False))
            out.write("\n")
        out.flush()
        os.fsync(out.fileno())


def write_json(path: Path, value: dict[str, Any]) -> None:
    with path.open("w", encoding="utf-8") as out:
        json.dump(value, out, ensure_ascii=False, indent=1)
        out.flush()
        os.fsync(out.fileno())


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def switch_current(index_dir: Path, version_dir: Path) -> None:
    """Point CURRENT at ``version_dir`` in one atomic rename: readers see the old or the new index, never half."""
    pending = index_dir / (CURRENT + ".tmp")
    with pending.open("w", encoding="utf-8") as out:
        out.write(version_dir.name + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(pending, index_dir / CURRENT)
    fsync_path(index_dir)


def file_sizes(version_dir: Path) -> dict[str, int]:
    """Every data file of a version (not the manifest), by path relative to it: checked when loading."""
    return {
        path.relative_to(version_dir).as_posix(): path.stat().st_size
        for path in sorted(version_dir.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }


# --- loading ----------------------------------------------------------------------------------------------


@dataclass
class SearchHit:
    passage: int
    score: float


class Index:
    """A loaded index: documents, passages and the FAISS index, all in memory.

    Example:
        >>> index = load_index(Path(".citewell/index"))
        >>> index.counts()
        {'documents': 1, 'passages': 14}
    """

    def __init__(
        self,
        version_dir: Path,
        manifest: Manifest,
        documents: dict[str, Document],
        passages: list[Passage],
        faiss_index: faiss.Index,
        lexical: LexicalIndex,
        document_lexical: LexicalIndex,
    ) -> None:
        self.version_dir = version_dir
        self.manifest = manifest
        self.documents = documents
        self.passages = passages
        self.faiss_index = faiss_index
        self.lexical = lexical
        self.document_lexical = document_lexical
        self.document_ids = list(documents)
        position = {doc_id: n for n, doc_id in enumerate(self.document_ids)}
        # passage row -> document row, for lifting document-level scores onto passages
        self.passage_document = np.fromiter((position[p.document] for p in passages), np.int64, len(passages))
        # document row -> its passage rows, as a slice of _by_document: a lookup that does not scan every passage
        self._by_document = np.argsort(self.passage_document, kind="stable")
        self._document_starts = np.searchsorted(
            self.passage_document[self._by_document], np.arange(len(self.document_ids) + 1)
        )
        # Sentence vectors computed at ingest (asked for, or from SENTENCE_VECTORS_FROM passages; see ingest.build),
        # so that answering a large collection need not encode the sentences it scores; passage i's sentence j is
        # row first_sentence[i] + j.
        self.sentence_vectors: NDArray[np.float16] | None = None
        self.first_sentence: NDArray[np.int64] | None = None
        if manifest.sentence_vectors:
            self.sentence_vectors = np.load(version_dir / SENTENCE_VECTORS, mmap_mode="r")
            self.first_sentence = np.load(version_dir / SENTENCE_ROWS)

    @functools.cached_property
    def vectors(self) -> Vectors:
        """The passage vectors, memory-mapped on first use (benchmarks): answering never maps them, so a file
        changed under a serving worker cannot fault it (SIGBUS)."""
        vectors: Vectors = np.load(self.version_dir / VECTORS, mmap_mode="r")
        return vectors

    @property
    def model(self) -> str:
        return self.manifest.model

    def counts(self) -> dict[str, int]:
        return {"documents": len(self.documents), "passages": len(self.passages)}

    def passages_of(self, document_rows: Iterable[int]) -> NDArray[np.int64]:
        """The passage rows of these documents (rows of ``document_ids``)."""
        starts = self._document_starts
        parts = [self._by_document[starts[d] : starts[d + 1]] for d in document_rows]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def search(self, query_vectors: Vectors, k: int) -> list[list[SearchHit]]:
        """The ``k`` nearest passages to each query vector, best first."""
        k = min(k, len(self.passages))
        if k == 0:
            return [[] for _ in range(len(query_vectors))]
        scores, ids = self.faiss_index.search(np.ascontiguousarray(query_vectors, dtype=np.float32), k)
        return [
            [SearchHit(int(i), float(s)) for i, s in zip(row_ids, row_scores, strict=True) if i >= 0]
            for row_ids, row_scores in zip(ids, scores, strict=True)
        ]


def load_index(index_dir: Path, *, model: str | None = None) -> Index:
    """Load the live index of ``index_dir``; with ``model``, refuse an index built by another model."""
    version_dir = current_version(index_dir)
    if version_dir is None:
        raise IndexNotFound(f"no index at {index_dir}; build one with `citewell ingest --index {index_dir}`")
    manifest = read_manifest(version_dir)
    check_compatible(manifest, version_dir, model)
    _check_files(manifest, version_dir)
    try:
        documents = {doc.id: doc for doc in _read_documents(version_dir / DOCUMENTS)}
        passages = list(_read_passages(version_dir / PASSAGES, documents))
        faiss_index = faiss.read_index(str(version_dir / FAISS_INDEX))
        tune_loaded(faiss_index, manifest.vector_index)
        lexical = LexicalIndex.load(version_dir / LEXICAL_PASSAGES)
        document_lexical = LexicalIndex.load(version_dir / LEXICAL_DOCUMENTS)
    except (OSError, ValueError, KeyError, TypeError, IndexError, RuntimeError) as exc:
        raise IncompatibleIndex(
            f"index at {version_dir} is damaged ({exc}); rebuild with `citewell ingest`"
        ) from exc
    if (
        faiss_index.ntotal != len(passages)
        or faiss_index.d != manifest.dimension
        or lexical.size != len(passages)
        or document_lexical.size != len(documents)
    ):
        raise IncompatibleIndex(
            f"index at {version_dir} is damaged ({faiss_index.ntotal} vectors for {len(passages)} passages); "
            "rebuild with `citewell ingest`"
        )
    try:
        index = Index(version_dir, manifest, documents, passages, faiss_index, lexical, document_lexical)
    except (OSError, ValueError) as exc:
        raise IncompatibleIndex(
            f"index at {version_dir} is damaged ({exc}); rebuild with `citewell ingest`"
        ) from exc
    if index.first_sentence is not None and len(index.first_sentence) != len(passages):
        raise IncompatibleIndex(
            f"index at {version_dir} is damaged ({len(index.first_sentence)} sentence rows for {len(passages)} "
            "passages); rebuild with `citewell ingest`"
        )
    logger.info("loaded index %s: %d documents, %d passages", version_dir, len(documents), len(passages))
    return index


def check_compatible(manifest: Manifest, version_dir: Path, model: str | None) -> None:
    if model is not None and manifest.model != model:
        raise IncompatibleIndex(
            f"index at {version_dir} was built with model {manifest.model!r}, but {model!r} is "
            f"configured; rebuild with `citewell ingest`, or set CITEWELL_MODEL={manifest.model}"
        )


def _check_files(manifest: Manifest, version_dir: Path) -> None:
    sizes = manifest.files
    for name in sorted({*DATA_FILES, *sizes}):
        path = version_dir / name
        expected = sizes.get(name)
        actual = path.stat().st_size if path.exists() else None
        if actual is None or actual != expected:
            raise IncompatibleIndex(
                f"index at {version_dir} is damaged ({name}: expected {expected} bytes, found {actual}); "
                "rebuild with `citewell ingest`"
            )


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)


def live_documents(index_dir: Path) -> dict[str, Document]:
    """The documents of the live index by id, without loading its search structures (a re-crawl's conditional
    requests need them); empty when there is no usable index yet."""
    try:
        version_dir = current_version(index_dir)
        if version_dir is None:
            return {}
        return {doc.id: doc for doc in _read_documents(version_dir / DOCUMENTS)}
    except (IncompatibleIndex, OSError, ValueError, KeyError):
        return {}


def _read_documents(path: Path) -> Iterator[Document]:
    for record in _read_jsonl(path):
        yield Document(
            id=record["id"],
            title=record["title"],
            text=record["text"],
            blocks=tuple(Block(kind, start, end, level) for kind, start, end, level in record["blocks"]),
            url=record["url"],
            source=record["source"],
            metadata=record["metadata"],
        )


def _read_passages(path: Path, documents: dict[str, Document]) -> Iterator[Passage]:
    for record in _read_jsonl(path):
        text = documents[record["document"]].text
        start, end = record["start"], record["end"]
        yield Passage(
            record["document"],
            start,
            end,
            text[start:end],
            record["section"],
            tuple((s, e) for s, e in record["sentences"]),
        )
