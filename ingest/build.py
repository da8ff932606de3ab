"""Building an index: load → chunk → embed → write a new version folder → switch CURRENT atomically.

Unchanged documents (same content hash, model and chunking) reuse their vectors from the live index; vectors
stream into a memory-mapped file, so a large collection is never held in memory twice. A crash or Ctrl-C at
any moment leaves the previous index live: the new folder only becomes visible by the final rename.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import secrets
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from numpy.lib.format import open_memmap
from tqdm import tqdm

from ingest.chunking import ChunkingConfig, Passage, chunk_document
from ingest.crawl import Crawler, CrawlOptions
from ingest.documents import Document
from ingest.embedding import Encoder
from ingest.errors import BadDocument, IncompatibleIndex, IngestError
from ingest.execution import IN_PROCESS, Executor
from ingest.index import (
    CURRENT,
    DOCUMENTS,
    FAISS_INDEX,
    FORMAT_VERSION,
    LEXICAL_DOCUMENTS,
    LEXICAL_PASSAGES,
    PASSAGES,
    SENTENCE_ROWS,
    SENTENCE_VECTORS,
    VECTORS,
    VERSION_PREFIX,
    Manifest,
    current_version,
    document_record,
    file_sizes,
    fsync_path,
    live_documents,
    passage_record,
    read_manifest,
    switch_current,
    write_jsonl,
)
from ingest.lexical import LexicalIndex
from ingest.loaders import LoadResult, load_documents
from ingest.vector_search import build_vector_index

logger = logging.getLogger(__name__)

# Bump when what the model reads (embedding_input, Document.described) or the cutting of sentences changes:
# vectors of older builds then cannot be reused.
EMBEDDING_INPUT_VERSION = 4

# From this many passages an index gets sentence vectors unless told otherwise. Without them an answer encodes the
# 20 to 30 sentences it scores, which the span cache spares only while the questions keep to a small collection:
# at 105,700 passages answers took 117 ms at p50 without them and 16.7 ms with (README, Benchmarks), for 1.7
# times the ingest time.
SENTENCE_VECTORS_FROM = 100_000

# Documents chunked per piece of work handed to the executor: on a Ray cluster, one task's worth.
CHUNKING_BATCH = 256


def embedding_input(passage: Passage, document: Document) -> str:
    """What the model sees for a passage: its document title and section give short passages their topic, and
    the terms its paragraph describes what it is about ("--depth <depth>: Create a shallow clone …")."""
    context = [part for part in (document.title, passage.section) if part]
    return ". ".join([*context, document.described(passage.start, passage.end)])


@dataclass
class BuildReport:
    version_dir: Path
    documents: int
    passages: int
    embedded_passages: int
    reused_documents: int
    removed_documents: list[str]
    sentence_vectors: bool = False
    problems: list[BadDocument] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    crawl_summary: str | None = None
    seconds: float = 0.0


def ingest_paths(
    paths: Sequence[Path],
    index_dir: Path,
    *,
    embedder: Encoder,
    executor: Executor = IN_PROCESS,
    chunking: ChunkingConfig | None = None,
    progress: bool = False,
    vector_index: str = "auto",
    sentence_vectors: bool | None = None,
    base_url: str | None = None,
    urls: Sequence[str] = (),
    crawl: CrawlOptions | None = None,
) -> BuildReport:
    """Load documents from ``paths`` and crawl the sites of ``urls`` (see ``ingest.crawl``), and build the
    index at ``index_dir`` from exactly those documents; ``base_url`` is where the folders are published (see
    ``load_documents``). ``executor`` loads and chunks, ``embedder`` embeds: in this process by default, or on a
    Ray cluster (``ingest.cluster.RayWorkers`` is both); the index is the same either way.

    Raises IngestError when nothing usable remains (every problem is in the message).
    """
    loaded = load_documents(paths, base_url=base_url, executor=executor) if paths else LoadResult()
    crawled = None
    if urls:
        with tqdm(unit="page", desc="crawling", disable=not progress) as bar:
            crawled = Crawler(urls, crawl, live_documents(index_dir), progress=bar.update).run()
        loaded.documents.extend(crawled.documents)
        loaded.problems.extend(crawled.problems)
    # for the record only: the report carries each problem and warning, and `citewell ingest` prints it
    for problem in loaded.problems:
        logger.info("skipped %s", problem)
    for warning in loaded.warnings:
        logger.info("%s", warning)
    if not loaded.documents:
        details = "; ".join(str(p) for p in loaded.problems) or "no supported files"
        sources = ", ".join([*map(str, paths), *urls])
        raise IngestError(f"nothing usable to index in {sources}: {details}")
    report = build_index(
        loaded.documents,
        index_dir,
        embedder=embedder,
        executor=executor,
        chunking=chunking,
        progress=progress,
        vector_index=vector_index,
        sentence_vectors=sentence_vectors,
    )
    report.problems = loaded.problems
    report.warnings = loaded.warnings
    report.crawl_summary = crawled.summary() if crawled else None
    return report


def build_index(
    documents: Sequence[Document],
    index_dir: Path,
    *,
    embedder: Encoder,
    executor: Executor = IN_PROCESS,
    chunking: ChunkingConfig | None = None,
    progress: bool = False,
    vector_index: str = "auto",
    sentence_vectors: bool | None = None,
) -> BuildReport:
    """Write a new index version holding ``documents`` and make it the live one; ``executor`` chunks them and
    ``embedder`` embeds the passages (see ``ingest_paths``).

    ``sentence_vectors`` also embeds every sentence (about 1.7x the embedding work), so that answering scores
    sentences without running the model on them: what keeps answers fast in a large collection. None turns them
    on when the live index has them (so that an update does not silently drop them) or when the collection holds
    ``SENTENCE_VECTORS_FROM`` passages or more."""
    chunking = chunking or ChunkingConfig()
    began = time.monotonic()
    index_dir.mkdir(parents=True, exist_ok=True)
    _refuse_foreign_directory(index_dir)
    with _exclusive_lock(index_dir):
        if sentence_vectors is None and _live_has_sentence_vectors(index_dir):
            sentence_vectors = True
        previous = _ReusableIndex.open(index_dir, embedder.name, chunking)
        version_dir = index_dir / f"{VERSION_PREFIX}{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
        version_dir.mkdir()
        try:
            passages_by_doc = chunk_documents(documents, chunking, executor)
            report = _write_version(
                documents,
                passages_by_doc,
                version_dir,
                embedder,
                chunking,
                previous,
                progress,
                vector_index,
                sentence_vectors,
            )
            switch_current(index_dir, version_dir)
        except (
            OSError
        ) as exc:  # a full disk, a quota, a file-size limit: say so, and leave the live index alone
            shutil.rmtree(version_dir, ignore_errors=True)
            raise IngestError(
                f"could not write the new index in {index_dir} ({exc.strerror or exc}); the previous index stays live"
            ) from exc
        except BaseException:
            shutil.rmtree(version_dir, ignore_errors=True)
            raise
        _remove_old_versions(index_dir, keep={version_dir.name, previous.name if previous else ""})
    report.seconds = time.monotonic() - began
    return report


def chunk_documents(
    documents: Sequence[Document], chunking: ChunkingConfig, executor: Executor = IN_PROCESS
) -> list[list[Passage]]:
    """Each document's passages, in order, chunked ``CHUNKING_BATCH`` documents per piece of work."""
    batches = [documents[n : n + CHUNKING_BATCH] for n in range(0, len(documents), CHUNKING_BATCH)]
    chunked = executor.map(functools.partial(_chunk_batch, chunking=chunking), batches)
    return [passages for batch in chunked for passages in batch]


def _chunk_batch(documents: Sequence[Document], *, chunking: ChunkingConfig) -> list[list[Passage]]:
    return [chunk_document(doc, chunking) for doc in documents]


def _write_version(
    documents: Sequence[Document],
    passages_by_doc: Sequence[Sequence[Passage]],
    version_dir: Path,
    embedder: Encoder,
    chunking: ChunkingConfig,
    previous: _ReusableIndex | None,
    progress: bool,
    vector_index: str,
    sentence_vectors: bool | None,
) -> BuildReport:
    hashes = [doc.content_hash for doc in documents]
    total = sum(len(p) for p in passages_by_doc)
    if sentence_vectors is None:
        sentence_vectors = total >= SENTENCE_VECTORS_FROM
    vectors = open_memmap(
        version_dir / VECTORS, mode="w+", dtype=np.float32, shape=(total, embedder.dimension)
    )

    to_embed: list[int] = []  # row numbers whose vectors must be computed
    texts: list[str] = []
    reused = 0
    row = 0
    for doc, content_hash, passages in zip(documents, hashes, passages_by_doc, strict=True):
        old_rows = previous.rows_for(doc.id, content_hash, len(passages)) if previous else None
        if previous is not None and old_rows is not None:
            vectors[row : row + len(passages)] = previous.vectors[old_rows]
            reused += 1
        else:
            to_embed.extend(range(row, row + len(passages)))
            texts.extend(embedding_input(p, doc) for p in passages)
        row += len(passages)

    _embed_into(vectors, to_embed, texts, embedder, "passage", progress)
    sentence_entries = (
        _write_sentence_vectors(documents, hashes, passages_by_doc, version_dir, embedder, previous, progress)
        if sentence_vectors
        else None
    )

    searchable, vector_index_settings = build_vector_index(vectors, vector_index)
    faiss.write_index(searchable, str(version_dir / FAISS_INDEX))
    del searchable
    del vectors
    write_jsonl(
        version_dir / DOCUMENTS,
        (document_record(doc, h) for doc, h in zip(documents, hashes, strict=True)),
    )
    write_jsonl(version_dir / PASSAGES, (passage_record(p) for group in passages_by_doc for p in group))
    lexical_texts = (
        embedding_input(p, doc) for doc, group in zip(documents, passages_by_doc, strict=True) for p in group
    )
    LexicalIndex.build(list(lexical_texts)).save(version_dir / LEXICAL_PASSAGES)
    LexicalIndex.build([f"{doc.title}. {doc.text}" for doc in documents]).save(
        version_dir / LEXICAL_DOCUMENTS
    )
    sizes = file_sizes(version_dir)
    for name in sizes:
        fsync_path(version_dir / name)

    offsets = np.cumsum([0, *(len(p) for p in passages_by_doc)])
    Manifest(
        format_version=FORMAT_VERSION,
        model=embedder.name,
        dimension=embedder.dimension,
        chunking=chunking.as_dict(),
        vector_index=vector_index_settings,
        embedding_input_version=EMBEDDING_INPUT_VERSION,
        sentence_vectors=sentence_entries is not None,
        built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        counts={"documents": len(documents), "passages": total},
        documents={
            doc.id: {
                "hash": h,
                "first_passage": int(offsets[i]),
                "passages": len(passages_by_doc[i]),
                **(sentence_entries[i] if sentence_entries is not None else {}),
            }
            for i, (doc, h) in enumerate(zip(documents, hashes, strict=True))
        },
        files=sizes,
    ).write(version_dir)
    fsync_path(version_dir)

    removed = sorted(set(previous.document_ids) - {doc.id for doc in documents}) if previous else []
    return BuildReport(
        version_dir, len(documents), total, len(texts), reused, removed, sentence_entries is not None
    )


def _live_has_sentence_vectors(index_dir: Path) -> bool:
    try:
        version_dir = current_version(index_dir)
        return version_dir is not None and read_manifest(version_dir).sentence_vectors
    except IncompatibleIndex:
        return False


def _write_sentence_vectors(
    documents: Sequence[Document],
    hashes: Sequence[str],
    passages_by_doc: Sequence[Sequence[Passage]],
    version_dir: Path,
    embedder: Encoder,
    previous: _ReusableIndex | None,
    progress: bool,
) -> list[dict[str, int]]:
    """Embed each document's sentences once (windows share sentences), in document order, as float16 rows of
    SENTENCE_VECTORS; SENTENCE_ROWS holds each passage's first row. Returns each document's manifest entry."""
    entries: list[dict[str, int]] = []
    first_rows: list[int] = []
    spans_by_doc: list[list[tuple[int, int]]] = []
    row = 0
    for passages in passages_by_doc:
        spans = sorted({span for passage in passages for span in passage.sentences})
        position = {span: row + n for n, span in enumerate(spans)}
        first_rows.extend(position[passage.sentences[0]] for passage in passages)
        entries.append({"first_sentence": row, "sentences": len(spans)})
        spans_by_doc.append(spans)
        row += len(spans)
    np.save(version_dir / SENTENCE_ROWS, np.asarray(first_rows, dtype=np.int64))

    store = open_memmap(
        version_dir / SENTENCE_VECTORS, mode="w+", dtype=np.float16, shape=(row, embedder.dimension)
    )
    to_embed: list[int] = []
    texts: list[str] = []
    for doc, content_hash, spans, entry in zip(documents, hashes, spans_by_doc, entries, strict=True):
        first = entry["first_sentence"]
        old_rows = previous.sentence_rows_for(doc.id, content_hash, len(spans)) if previous else None
        if previous is not None and previous.sentence_vectors is not None and old_rows is not None:
            store[first : first + len(spans)] = previous.sentence_vectors[old_rows]
        else:
            to_embed.extend(range(first, first + len(spans)))
            texts.extend(doc.described(start, end) for start, end in spans)
    _embed_into(store, to_embed, texts, embedder, "sentence", progress)
    return entries


def _embed_into(
    store: np.memmap[Any, Any],
    rows: list[int],
    texts: list[str],
    embedder: Encoder,
    unit: str,
    progress: bool,
) -> None:
    """Encode ``texts`` batch by batch into ``rows`` of the memory-mapped ``store``, then flush it to disk."""
    with tqdm(total=len(texts), unit=unit, desc=f"embedding {unit}s", disable=not progress) as bar:
        done = 0
        for batch in embedder.encode_batches(texts):
            store[rows[done : done + len(batch)]] = batch
            done += len(batch)
            bar.update(len(batch))
    store.flush()


class _ReusableIndex:
    """The live index's vectors, memory-mapped, for documents whose content has not changed."""

    def __init__(self, version_dir: Path, manifest: Manifest) -> None:
        self.name = version_dir.name
        self.entries: dict[str, dict[str, Any]] = manifest.documents
        self.vectors = np.load(version_dir / VECTORS, mmap_mode="r")
        self.sentence_vectors = (
            np.load(version_dir / SENTENCE_VECTORS, mmap_mode="r") if manifest.sentence_vectors else None
        )

    @property
    def document_ids(self) -> list[str]:
        return list(self.entries)

    @classmethod
    def open(cls, index_dir: Path, model: str, chunking: ChunkingConfig) -> _ReusableIndex | None:
        """The previous build if its vectors can be reused (same model, chunking, format), else None."""
        try:
            version_dir = current_version(index_dir)
            if version_dir is None:
                return None
            manifest = read_manifest(version_dir)
            same_recipe = (
                manifest.model == model
                and manifest.chunking == chunking.as_dict()
                and manifest.embedding_input_version == EMBEDDING_INPUT_VERSION
            )
            if not same_recipe:
                logger.info("previous index was built differently; embedding every passage again")
                return None
            return cls(version_dir, manifest)
        except (IncompatibleIndex, OSError, ValueError, KeyError) as exc:
            logger.warning("previous index not reusable (%s); embedding every passage again", exc)
            return None

    def rows_for(self, doc_id: str, content_hash: str, count: int) -> slice | None:
        entry = self.entries.get(doc_id)
        if not entry or entry["hash"] != content_hash or entry["passages"] != count:
            return None
        first = int(entry["first_passage"])
        if first + count > len(self.vectors):
            return None
        return slice(first, first + count)

    def sentence_rows_for(self, doc_id: str, content_hash: str, count: int) -> slice | None:
        entry = self.entries.get(doc_id)
        if self.sentence_vectors is None or not entry or entry["hash"] != content_hash:
            return None
        first = entry.get("first_sentence")
        if first is None or entry.get("sentences") != count or first + count > len(self.sentence_vectors):
            return None
        return slice(int(first), int(first) + count)


@contextmanager
def _exclusive_lock(index_dir: Path) -> Iterator[None]:
    with (index_dir / ".lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IngestError(
                f"another `citewell ingest` is writing {index_dir}; try again when it ends"
            ) from exc
        yield


def _refuse_foreign_directory(index_dir: Path) -> None:
    """Never build into (and later clean up) a folder that holds something other than citewell indexes."""
    ours = {CURRENT, CURRENT + ".tmp", ".lock"}
    foreign = [
        p.name for p in index_dir.iterdir() if p.name not in ours and not p.name.startswith(VERSION_PREFIX)
    ]
    if foreign:
        raise IngestError(
            f"{index_dir} is not a citewell index directory (it holds {', '.join(sorted(foreign)[:3])})"
        )


def _remove_old_versions(index_dir: Path, keep: set[str]) -> None:
    """Drop versions older than the previous one, and folders of builds that crashed."""
    for path in index_dir.iterdir():
        if path.is_dir() and path.name.startswith(VERSION_PREFIX) and path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)
