"""Errors raised while reading documents and indexes.

IngestError                 anything citewell's ingestion or index loading refuses
 ├── BadDocument            one input file or record cannot be used; it is skipped, the rest goes on
 ├── IndexNotFound          no index at the given directory (build one with `citewell ingest`)
 └── IncompatibleIndex      an index exists but cannot be used: other model, other format, damaged
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


class IndexNotFound(IngestError):
    """The index directory holds no complete index."""


class IncompatibleIndex(IngestError):
    """The index was written by another model or format version, or is damaged."""
