"""Property-based fuzzing of the running service from its own OpenAPI document (schemathesis).

Every generated request, valid (positive) or not (negative), must get a documented status whose body matches
the document: no 500, no schema violation, no undocumented status or content type, invalid data rejected.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.modes import GenerationMode
from schemathesis.openapi import from_url

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
