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
from ingest.loaders import sphinx_source_page
from service.answering import _asks_beyond_what_it_does, _defining, _entry_name, asked_term, names_term

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


# pure functions of modules whose other examples need an index
PURE_FUNCTIONS = [
    asked_term,
    names_term,
    _defining,
    _asks_beyond_what_it_does,
    _entry_name,
    sphinx_source_page,
]


@pytest.mark.parametrize("function", PURE_FUNCTIONS, ids=lambda function: function.__qualname__)
def test_pure_function_examples_hold(function: object) -> None:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = doctest.DocTestFinder().find(function)
    for test in tests:
        runner.run(test)
    assert sum(len(test.examples) for test in tests) > 0
    assert runner.failures == 0
