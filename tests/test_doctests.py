"""The examples in docstrings are run, so none goes stale: the modules whose examples need no index or server."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

import ingest.chunking
import ingest.documents
import ingest.execution
import ingest.html
import ingest.lexical
import service.answer_cache
import service.measurement.quality
import service.measurement.ranking

PURE_MODULES = [
    ingest.chunking,
    ingest.documents,
    ingest.execution,
    ingest.html,
    ingest.lexical,
    service.answer_cache,
    service.measurement.quality,
    service.measurement.ranking,
]


@pytest.mark.parametrize("module", PURE_MODULES, ids=lambda module: module.__name__)
def test_docstring_examples_hold(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
