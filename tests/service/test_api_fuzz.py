"""Property-based fuzzing of the running service from its own OpenAPI document (schemathesis).

Every generated request, valid (positive) or not (negative), must get a documented status whose body matches
the document: no 500, no schema violation, no undocumented status or content type, invalid data rejected.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.modes import GenerationMode
from schemathesis.openapi import from_url

from service.measurement.benchmarks.harness import child_pids, rss_mb

from .conftest import ServerProcess

# A body over the size cap is refused with 413 before anyone reads it: also a correct rejection.
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": [400, 401, 404, 405, 413, 415, 429]}}}
)


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_response_conforms_to_the_openapi_document(server: ServerProcess, mode: GenerationMode) -> None:
    schema = from_url(server.url + "/api/openapi.json", config=CONFIG)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} == {
        "POST /api/ask",
        "POST /api/feedback",
        "GET /api/documents/{document}",
        "GET /api/health",
        "GET /api/ready",
    }
    cases = st.one_of([operation.as_strategy(generation_mode=mode) for operation in operations])

    @given(case=cases)
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def conforms(case: Case) -> None:
        case.call_and_validate(base_url=server.url, timeout=30)

    conforms()


def _hostile_bodies() -> dict[str, bytes]:
    def body(value: object) -> bytes:
        return json.dumps(value).encode()

    long_turn = {"role": "user", "content": "Which agency? " * 700}  # 9,800 characters
    return {
        "arrays nested 20,000 deep": b'{"question": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
        "objects nested 10,000 deep": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        "a lone surrogate": b'{"question": "Who oversees \\ud800 elections?"}',
        "NUL, bell and escape codes": body({"question": "Who\u0000 oversees\u0007 elections\u001b[31m?"}),
        "bidi overrides and zero-width marks": body(
            {"question": "\u202eWho\u200b oversees\u2066 elections?\ufeff"}
        ),
        "999 combining accents": body({"question": "e" + "\u0301" * 999}),
        "an integer of 5,000 digits": b'{"question": "Who?", "top_k": 1' + b"0" * 5_000 + b"}",
        "an infinite float": b'{"question": "Who?", "top_k": 1e999}',
        "NaN": b'{"question": "Who?", "top_k": NaN}',
        "duplicate keys": b'{"question": "a", "question": "Who oversees elections in the U.S.?"}',
        "the largest history": body({"question": "Why?", "history": [long_turn] * 6}),
    }


@pytest.fixture(scope="module")
def own_server(corpus_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of its own: its memory is measured, and its questions stay out of the shared question log."""
    log = tmp_path_factory.mktemp("hostile") / "server.log"
    with ServerProcess(corpus_index_dir, log, {"RATE_LIMIT": "", "QUESTION_LOG": "off"}) as process:
        yield process


@pytest.mark.slow
def test_hostile_bodies_get_clear_answers_or_errors_and_memory_stays_bounded(
    own_server: ServerProcess,
) -> None:
    """Huge, deeply nested, non-character and Unicode-trick inputs: a JSON answer or a JSON error, never a
    500 or a hang; then 100 of the heaviest valid requests leave the worker's memory where it was."""
    server = own_server
    for name, payload in _hostile_bodies().items():
        response = requests.post(
            server.url + "/api/ask", data=payload, headers={"Content-Type": "application/json"}, timeout=30
        )
        assert response.status_code in (200, 400), (name, response.status_code, response.text[:300])
        assert response.headers["Content-Type"].startswith("application/json"), name
        body = response.json()
        assert ("answered" in body) if response.status_code == 200 else body["error"]["message"], name

    [worker] = child_pids(server.process.pid)
    heaviest = {"history": [{"role": "user", "content": "Which agency? " * 700}] * 6, "top_k": 10}
    server.ask("Who oversees elections? " * 40, **heaviest)  # the first pays for warm caches
    before = rss_mb(worker)
    for n in range(100):
        response = server.ask(f"Who oversees elections in state number {n}? " * 20, **heaviest)
        assert response.status_code == 200
    grown = rss_mb(worker) - before
    assert grown < 40, f"the worker grew by {grown:.0f} MB over 100 requests"
