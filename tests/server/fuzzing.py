"""Schemathesis against a running kefu server: requests generated from its OpenAPI document for every
operation, valid ones and invalid ones alike, each answer checked for server errors (5xx) and against the
document's response schemas.

Plain module, shared by tests/server/test_fuzz.py (a few examples per operation) and
benchmarks/bench_fuzz.py (many). Admin routes get a bearer token; run the server without rate limits
(:data:`UNLIMITED`), or its 429s would stand in for the answers worth checking.
"""

from dataclasses import dataclass, field

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

from kefu.project.settings import ServerSettings

UNLIMITED = ServerSettings(
    **{name: 0 for name in ServerSettings.model_fields if name.endswith("rate_per_minute") or "max_failures" in name}
)
CHECKS = [not_a_server_error, response_schema_conformance]
# Starting a retrain trains a model and rewrites the project's data/reviewed.yml: test_retrain.py covers it.
SKIPPED = {"method": "POST", "path": "/api/v1/admin/retrain"}
# signing out and a new password revoke the token all the other operations use: they come last
REVOKING = {"POST /api/v1/admin/me/password", "POST /api/v1/admin/logout"}


@dataclass
class OperationResult:
    """What fuzzing one operation came to: ``failures`` holds the first failing example's report."""

    label: str  # e.g. "POST /api/v1/chat"
    calls: int = 0
    failures: list[str] = field(default_factory=list)


def fuzz(base_url: str, token: str, max_examples: int) -> list[OperationResult]:
    """Up to ``max_examples`` generated requests for each operation of the server at ``base_url``,
    reproducibly (the same requests every run)."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json").exclude(**SKIPPED)
    headers = {"Authorization": f"Bearer {token}"}
    operations = sorted((found.ok() for found in schema.get_all_operations()), key=lambda op: op.label in REVOKING)
    return [_fuzz(operation, base_url, headers, max_examples) for operation in operations]


def _fuzz(operation, base_url: str, headers: dict[str, str], max_examples: int) -> OperationResult:
    result = OperationResult(operation.label)

    # no shrinking: the first failing request is reported as it is, so a run's length stays bounded
    @settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of([operation.as_strategy(mode) for mode in GenerationMode]))
    def call(case) -> None:
        result.calls += 1
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

    try:
        call()
    except (AssertionError, FailureGroup) as error:  # a check failed: its message is the report
        result.failures.append(str(error))
    return result
