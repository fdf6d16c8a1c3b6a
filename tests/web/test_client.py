"""A client generated from /openapi.json reads well and knows the errors.

openapi-python-client (the `dev` extra) writes a package from the document, offline;
the test imports it and calls the API through it, on the in-process app.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from boda.web.app import create_app
from boda.web.openapi import OPERATION_ID
from tests.conftest import PASSWORD, make_account, make_settings


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Any]]:
    tmp = tmp_path_factory.mktemp("client")
    app = create_app(make_settings(tmp, f"sqlite:///{tmp / 'boda.db'}"))
    with TestClient(app) as client:
        yield client, make_account(app.state.runtime, client, "clientuser")


def test_operation_ids_are_short_unique_and_tagged(served: tuple[TestClient, Any]) -> None:
    schema = served[0].get("/openapi.json").json()
    ids = [op["operationId"] for item in schema["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)) >= 20
    assert all(OPERATION_ID.match(i) for i in ids), [i for i in ids if not OPERATION_ID.match(i)]
    assert {"vision_get_mnist_sample", "auth_login", "jobs_list_jobs"} <= set(ids)


@pytest.mark.parametrize("method", ["TRACE", "OPTIONS", "PUT"])
def test_undeclared_methods_get_405_with_allow(served: tuple[TestClient, Any], method: str) -> None:
    client, account = served
    for path, allowed in [("/api/v1/vision/mnist-sample", "GET, POST"), ("/healthz", "GET"),
                          ("/api/v1/files/some-id", "DELETE, GET, PATCH")]:
        response = client.request(method, path, headers=account.headers)
        assert response.status_code == 405 and response.headers["allow"] == allowed, path
        assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.fixture(scope="module")
def generated(served: tuple[TestClient, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("gen")
    (out / "openapi.json").write_text(json.dumps(served[0].get("/openapi.json").json()))
    cli = Path(sys.executable).parent / "openapi-python-client"
    subprocess.run([str(cli), "generate", "--path", str(out / "openapi.json"), "--meta", "none",
                    "--output-path", str(out / "boda_client")], check=True, capture_output=True, timeout=120, cwd=out)
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("boda_client")
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m.startswith("boda_client")]:
            del sys.modules[name]


def test_generated_client_calls_the_api_and_parses_errors(served: tuple[TestClient, Any], generated: Any) -> None:
    test_client, account = served
    from boda_client import AuthenticatedClient, Client  # type: ignore[import-not-found]
    from boda_client.api.auth import auth_login  # type: ignore[import-not-found]
    from boda_client.api.jobs import jobs_get_job, jobs_list_jobs  # type: ignore[import-not-found]
    from boda_client.api.vision import vision_get_mnist_sample  # type: ignore[import-not-found]
    from boda_client.models import ErrorOut, LoginIn  # type: ignore[import-not-found]

    anonymous = Client(base_url="http://testserver").set_httpx_client(test_client)
    session = auth_login.sync(client=anonymous, body=LoginIn(username=account.username, password=PASSWORD))
    assert session.user.username == account.username
    wrong = auth_login.sync_detailed(client=anonymous, body=LoginIn(username=account.username, password="nope-nope"))
    assert wrong.status_code == 401 and isinstance(wrong.parsed, ErrorOut)

    client = AuthenticatedClient(base_url="http://testserver", token=account.token).set_httpx_client(test_client)
    test_client.headers["Authorization"] = f"Bearer {account.token}"  # the shared httpx client carries the token
    try:
        sample = vision_get_mnist_sample.sync(client=client, index=7)
        assert sample.index == 7 and 0 <= sample.label <= 9
        assert jobs_list_jobs.sync(client=client).total == 0
        missing = jobs_get_job.sync(client=client, job_id="no-such-job")
        assert isinstance(missing, ErrorOut) and missing.error.code == "not_found"
        too_far = vision_get_mnist_sample.sync_detailed(client=client, index=10**9)  # past the schema's maximum
        assert too_far.status_code == 422 and isinstance(too_far.parsed, ErrorOut)
        assert too_far.parsed.error.code == "validation_error"
    finally:
        del test_client.headers["Authorization"]
