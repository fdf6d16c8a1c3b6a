"""Any request the OpenAPI schema allows (and many it does not) gets an answer below 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from boda.web.app import create_app
from tests.conftest import make_account, make_settings


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    app = create_app(make_settings(tmp, f"sqlite:///{tmp / 'boda.db'}"))
    with TestClient(app) as client:
        account = make_account(app.state.runtime, client, "fuzzer")
        yield app, account.headers


@pytest.fixture(scope="module")
def api_schema(fuzzed: tuple[Any, dict[str, str]]) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzzed[0])


def test_no_server_errors(api_schema: Any, fuzzed: tuple[Any, dict[str, str]]) -> None:
    headers = fuzzed[1]
    checked = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None,
                  derandomize=True)
        def answers_without_5xx(case: Any) -> None:
            response = case.call(headers=headers)
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
            if response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
                assert set(response.json()["error"]) == {"code", "message", "details"}

        answers_without_5xx()
        checked += 1
    assert checked >= 20  # every operation of the API was exercised
