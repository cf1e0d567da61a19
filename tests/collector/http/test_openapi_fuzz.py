"""schemathesis against GET /openapi.json on a running server: whatever it generates from
the document, no answer is a 5xx, and every answer's status, content type and body are
the ones the document promises."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from tests.helpers import ServerProcess

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]


@pytest.fixture
def api(server_process: Callable[..., ServerProcess]) -> Iterator[schemathesis.BaseSchema]:
    server = server_process()
    yield schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    # A 500 fails its case above; this says why, from the server's side.
    unhandled = [line for line in server.log.read_text().splitlines() if "unhandled" in line]
    assert not unhandled, "\n".join(line.replace("\\n", "\n") for line in unhandled)


# An endless stream is no request/answer pair to validate.
schema = schemathesis.pytest.from_fixture("api").exclude(operation_id="events")


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_matches_the_document(case: schemathesis.Case) -> None:
    applied = CHECKS
    if case.operation.path.startswith("/ping/"):
        # Every query parameter of a ping is a label, so there is no invalid query: a
        # "negative" `?labels=` (an array where the document has an object of strings) is
        # the label `labels` with an empty value, and any body is the run's message.
        applied = [check for check in CHECKS if check is not checks.negative_data_rejection]
    case.call_and_validate(checks=applied, timeout=10)
