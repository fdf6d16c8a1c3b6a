"""The OpenAPI document is the contract: schemathesis, all checks and all phases, finds nothing.

Any request the schema allows is answered as documented (status, headers, body);
any request it forbids is refused; undeclared methods get 405 with `Allow`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.engine import events, from_schema

import tests.web.fuzz_hooks  # noqa: F401  (real images for image parts)
from boda.core.auth import create_api_token, user_for_token
from boda.core.models import User
from boda.core.runtime import Runtime
from boda.web.app import create_app
from tests.ai.openai_server import ChatServer, serving
from tests.conftest import make_account, make_settings

CONFIG = """
seed = 20240601
workers = 1
# A 3D model upload prepares its files inline here (the test queue runs jobs at once): seconds of CPU,
# more than the 10 s default on a loaded two-core machine.
request-timeout = 60
[checks]
enabled = true
[checks.not_a_server_error]
# 503 is documented where a feature needs what this install lacks (no LLM configured, a URL offline).
expected-statuses = ["2xx", "3xx", "4xx", "503"]
[checks.positive_data_acceptance]
# The defaults, and 410: a used or expired invitation is gone, as a deleted object is not found.
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "410", "429", "5xx"]
[generation]
max-examples = 8
[phases.stateful]
max-steps = 12
# Stateful sequences send valid data only: links fill a negative case's body from an earlier answer,
# so schemathesis would report a valid request as "invalid data accepted". Invalid data is still
# sent to every operation by the coverage and fuzzing phases.
[phases.stateful.generation]
mode = "positive"
# ...and so the stateful phase has no invalid data to see refused; schemathesis 4.x still runs that check
# on linked steps and reports valid requests (its own "positive test case") as "invalid data accepted".
[phases.stateful.checks.negative_data_rejection]
enabled = false
# A multipart field is text on the wire: schemathesis's "string became array" or "not binary" mutations
# arrive as the same text a valid request sends, so the server cannot tell them from valid data.
[[operations]]
include-path = "/api/v1/pantry/recipes/import"
checks.negative_data_rejection.enabled = false
[[operations]]
include-path = "/api/v1/studio/models"
checks.negative_data_rejection.enabled = false
[[operations]]
include-path = "/api/v1/pantry/recognitions"
checks.negative_data_rejection.enabled = false
[[operations]]
include-path = "/api/v1/pantry/receipts"
checks.negative_data_rejection.enabled = false
"""


class FreshToken:
    """The fuzzer's bearer token, made anew when a stateful run revoked it (DELETE /tokens/{id} is fair game)."""

    runtime: Runtime
    user_id: str
    token: str

    def get(self, case: Any, ctx: Any) -> str:
        with self.runtime.db.session() as session:
            if user_for_token(session, self.token) is None:
                _, self.token = create_api_token(session, user=session.get(User, self.user_id), name="fuzz")
        return self.token

    def set(self, case: Any, data: str, ctx: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("fuzz")
    # A chat model that answers (a local server speaking OpenAI's protocol): with none, every route that
    # needs one answers 503 as documented, and a 5xx is what the server-error check exists to catch.
    with serving(ChatServer()) as chat:
        llm = {"provider": "openai", "base_url": chat.url, "model": "text-model", "vision_model": "vision-model",
               "api_key": "sk-test", "max_retries": 0, "timeout_seconds": 10}
        yield from _fuzzed(create_app(make_settings(tmp, f"sqlite:///{tmp / 'boda.db'}", llm=llm)))


def _fuzzed(app: Any) -> Iterator[Any]:
    with TestClient(app) as client:
        account = make_account(app.state.runtime, client, "fuzzer")
        schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=schemathesis.Config.from_str(CONFIG))
        FreshToken.runtime, FreshToken.user_id, FreshToken.token = app.state.runtime, account.id, account.token
        schema.auth(refresh_interval=None)(FreshToken)
        yield schema


def _answer(recorder: Any, case_id: str) -> str:
    """The status and the start of the body that failed a check: the code sample alone hides which 4xx it was."""
    interaction = recorder.interactions.get(case_id)
    response = getattr(interaction, "response", None)
    if response is None:
        return "(no response recorded)"
    body = getattr(response, "content", b"") or b""
    return f"{getattr(response, 'status_code', '?')} {body[:300].decode('utf-8', 'replace')}"


def _steps(recorder: Any, case_id: str, last: int = 15) -> str:
    """The requests a scenario sent up to a failing one: a stateful failure is often made by an earlier step."""
    sent = []
    for key, interaction in recorder.interactions.items():
        response = getattr(interaction, "response", None)
        sent.append(f"{interaction.request.method} {interaction.request.uri.removeprefix('http://testserver')}"
                    f" -> {getattr(response, 'status_code', '?')}")
        if key == case_id:
            break
    return "\n    ".join(sent[-last:])


def _failures(schema: Any) -> tuple[list[str], set[str], int]:
    failures: list[str] = []
    phases: set[str] = set()
    cases = 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.PhaseFinished) and event.status != "skip":
            phases.add(event.phase.name.value)
        elif isinstance(event, events.ScenarioFinished):
            cases += len(event.recorder.cases)
            for case_id, checks in event.recorder.checks.items():
                failures += [f"{event.recorder.label}: {c.failure_info.failure.title}: {c.failure_info.failure.message}"
                             f"\n  answered: {_answer(event.recorder, case_id)}"
                             f"\n  {c.failure_info.code_sample[-600:]}"
                             f"\n  steps:\n    {_steps(event.recorder, case_id)}"
                             for c in checks if c.failure_info is not None]
        elif isinstance(event, events.NonFatalError | events.FatalError):
            failures.append(f"error: {getattr(event, 'info', event)}")
        elif isinstance(event, events.EngineFinished):
            failures += [f"after run: {f.title}: {f.message}" for f in event.failures]
    return sorted(set(failures)), phases, cases


@pytest.mark.timeout(1200)  # every operation of every app, three phases: minutes on two cores
def test_schemathesis_finds_nothing(fuzzed: Any) -> None:
    failures, phases, cases = _failures(fuzzed)
    assert not failures, "\n\n".join(failures)
    assert {"coverage", "fuzzing", "stateful"} <= phases, phases
    assert cases > 500  # every operation was exercised, not just loaded
