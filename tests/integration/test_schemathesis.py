"""Property-based fuzzing of the whole REST API from its own OpenAPI schema (schemathesis) against a live test
server, as a researcher with a token: valid and invalid requests for every operation, and never a server error.

Bounded to about three minutes on a CI machine: ``HVAE_FUZZ_EXAMPLES`` examples per operation and generation
mode (default 60). Outbound requests are all refused here, so fuzzed endpoint URLs reach nothing.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from evaluation import services
from tests.conftest import make_researcher

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

EXAMPLES = int(os.environ.get("HVAE_FUZZ_EXAMPLES", "60"))
BUDGET_SECONDS = 240.0


@pytest.fixture
def researcher_token(transactional_db: None) -> str:
    user = make_researcher("fuzzer")
    return str(Token.objects.create(user=user).key)


def test_fuzzing_the_api_finds_no_server_error(
    live_server: Any, researcher_token: str, settings: Any
) -> None:
    settings.HVAE_OUTBOUND_ALLOWED_HOSTS = []
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"run-create": "100000/hour", "stats-calculator": "100000/hour"},
    }
    # The fuzzer's own study and endpoint, so requests that name ids reach real objects it may use.
    fuzzer_user = Token.objects.get(key=researcher_token).user
    study = services.study_get_or_create(name="fuzzed study", owner=fuzzer_user)
    services.endpoint_create(name="fuzzed endpoint", base_url="http://10.255.255.1/v1", owner=fuzzer_user)
    assert study.pk is not None
    headers = {"Authorization": f"Token {researcher_token}"}
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema/", headers=headers, timeout=30)

    cases: list[str] = []
    failures: list[str] = []
    started = time.monotonic()
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the schema has an invalid operation: {result.err()}"
        operations.append(result.ok())
    assert len(operations) >= 15
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzzer(operation, mode, live_server.url, headers, cases, failures)()
    elapsed = time.monotonic() - started
    print(f"schemathesis: {len(cases)} cases over {len(operations)} operations in {elapsed:.0f} s")
    assert failures == [], "\n".join(failures[:20])
    assert len(cases) >= len(operations) * 2
    assert elapsed < BUDGET_SECONDS * 2, f"the fuzzing took {elapsed:.0f} s; lower HVAE_FUZZ_EXAMPLES"


def fuzzer(
    operation: Any,
    mode: GenerationMode,
    base_url: str,
    headers: dict[str, str],
    cases: list[str],
    failures: list[str],
) -> Any:
    """A Hypothesis test of one operation in one generation mode; every case is counted, every 5xx noted."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        cases.append(operation.label)
        response = case.call(base_url=base_url, headers=headers, timeout=60)
        if response.status_code >= 500:
            failures.append(
                f"{operation.label} [{mode.value}] -> {response.status_code}: {case.as_curl_command()}"
            )

    return fuzz
