"""citewell ingestion: documents in, a searchable index directory out.

load (loaders) → normalise (documents) → chunk (chunking) → embed (embedding) → write atomically (build, index)
"""

from __future__ import annotations

from ingest.build import BuildReport, build_index, ingest_paths
from ingest.chunking import ChunkingConfig, Passage, chunk_document
from ingest.documents import ANSWER_KINDS, Block, Document, normalize_text
from ingest.embedding import DEFAULT_MODEL, PRECISIONS, Embedder
from ingest.errors import BadDocument, IncompatibleIndex, IndexNotFound, IngestError
from ingest.index import Index, SearchHit, load_index
from ingest.loaders import load_documents

__all__ = [
    "ANSWER_KINDS",
    "DEFAULT_MODEL",
    "PRECISIONS",
    "BadDocument",
    "Block",
    "BuildReport",
    "ChunkingConfig",
    "Document",
    "Embedder",
    "IncompatibleIndex",
    "Index",
    "IndexNotFound",
    "IngestError",
    "Passage",
    "SearchHit",
    "build_index",
    "chunk_document",
    "ingest_paths",
    "load_documents",
    "load_index",
    "normalize_text",
]
