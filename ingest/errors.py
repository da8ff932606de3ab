"""Errors raised while reading documents and indexes.

IngestError                 anything citewell's ingestion or index loading refuses
 ├── BadDocument            one input file or record cannot be used; it is skipped, the rest goes on
 ├── FetchFailed            a URL gave no usable answer: no connection, a timeout, a broken or error response
 ├── IndexNotFound          no index at the given directory (build one with `citewell ingest`)
 └── IncompatibleIndex      an index exists but cannot be used: other model, other format, damaged

A library's errors become these where citewell calls it, in one module each: httpx in ``ingest.crawl``
(``FetchFailed``), PyYAML and pypdf in ``ingest.loaders`` (``BadDocument``), faiss and bm25s in ``ingest.index``
(``IncompatibleIndex``), sentence-transformers in ``ingest.embedding`` and Ray in ``ingest.cluster``
(``IngestError``).
"""

from __future__ import annotations


class IngestError(Exception):
    """Base class: the message is one line a user can act on."""


class BadDocument(IngestError):
    """A document that cannot be ingested; ``source`` names the file (and line for JSONL)."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason

    def __reduce__(self) -> tuple[type[BadDocument], tuple[str, str]]:
        # pickled with its two arguments, not the message: a problem found in a worker process comes back whole
        return (BadDocument, (self.source, self.reason))


class FetchFailed(IngestError):
    """``url`` could not be fetched; the message is the HTTP client's, ``kind`` names the failure
    (``ConnectTimeout``, ``RemoteProtocolError``, ``HTTPStatusError``)."""

    def __init__(self, url: str, kind: str, message: str) -> None:
        super().__init__(message)
        self.url = url
        self.kind = kind


class IndexNotFound(IngestError):
    """The index directory holds no complete index."""


class IncompatibleIndex(IngestError):
    """The index was written by another model or format version, or is damaged."""
