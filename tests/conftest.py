"""Shared fixtures: settings on a temp folder, a client, users, real servers.

Every test that takes `settings` runs twice: on SQLite and on a real
PostgreSQL server that the session starts (tests/services.py).
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import create_engine, make_url, text

from boda.core.config import Settings
from boda.core.runtime import Runtime
from boda.web.app import create_app
from tests.ai.openai_server import ChatServer, serving
from tests.services import azurite_server, chromium, pgvector_server, postgres_server, redis_server

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def chat_server() -> Iterator[ChatServer]:
    """A local server speaking OpenAI's chat protocol, one per test module (tests script its answers)."""
    with serving(ChatServer()) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Chromium (Playwright), one per test module; each test opens its own context."""
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with postgres_server(tmp_path_factory.mktemp("pg")) as url:
        yield url


@pytest.fixture(scope="session")
def pgvector_url() -> Iterator[str]:
    """PostgreSQL 16 with pgvector (the `postgres` server above is Debian's, without it)."""
    with pgvector_server() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with azurite_server(tmp_path_factory.mktemp("azurite")) as conn:
        yield conn


def _fresh_pg_database(server_url: str) -> tuple[str, Callable[[], None]]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(server_url).set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'boda.db'}"
        return
    url, drop = _fresh_pg_database(request.getfixturevalue("pg_server"))
    yield url
    drop()


def make_settings(tmp_path: Path, db_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "db": {"url": db_url},
        "jobs": {"immediate": True, "retry_delay": 0.05, "heartbeat_seconds": 0.2, "progress_interval": 0},
        "ai": {"models_dir": tmp_path / "models", "threads": 1, "downloads": False},
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path, db_url)


@pytest.fixture
def app(settings: Settings):  # noqa: ANN201
    return create_app(settings)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # noqa: ANN001
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def runtime(client: TestClient) -> Runtime:
    return client.app.state.runtime  # type: ignore[attr-defined,no-any-return]


class Account:
    """A user with an API token, and a client that sends it."""

    def __init__(self, client: TestClient, user_id: str, username: str, token: str) -> None:
        self.client, self.id, self.username, self.token = client, user_id, username, token
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, url: str, headers: dict[str, str] | None = None, **kw: object):  # noqa: ANN201
        return self.client.get(url, headers={**self.headers, **(headers or {})}, **kw)  # type: ignore[arg-type]

    def post(self, url: str, headers: dict[str, str] | None = None, **kw: object):  # noqa: ANN201
        return self.client.post(url, headers={**self.headers, **(headers or {})}, **kw)  # type: ignore[arg-type]

    def put(self, url: str, headers: dict[str, str] | None = None, **kw: object):  # noqa: ANN201
        return self.client.put(url, headers={**self.headers, **(headers or {})}, **kw)  # type: ignore[arg-type]

    def patch(self, url: str, headers: dict[str, str] | None = None, **kw: object):  # noqa: ANN201
        return self.client.patch(url, headers={**self.headers, **(headers or {})}, **kw)  # type: ignore[arg-type]

    def delete(self, url: str, headers: dict[str, str] | None = None, **kw: object):  # noqa: ANN201
        return self.client.delete(url, headers={**self.headers, **(headers or {})}, **kw)  # type: ignore[arg-type]


def make_account(runtime: Runtime, client: TestClient, username: str, *, admin: bool = False) -> Account:
    from boda.core.auth import create_api_token, create_user
    from boda.core.models import Role

    with runtime.db.session() as session:
        user = create_user(session, username=username, password=PASSWORD,
                           role=Role.admin if admin else Role.user)
        _, token = create_api_token(session, user=user, name="tests")
        return Account(client, user.id, user.username, token)


@pytest.fixture
def alice(runtime: Runtime, client: TestClient) -> Account:
    return make_account(runtime, client, "alice")


@pytest.fixture
def bob(runtime: Runtime, client: TestClient) -> Account:
    return make_account(runtime, client, "bob")


@pytest.fixture
def admin(runtime: Runtime, client: TestClient) -> Account:
    return make_account(runtime, client, "root", admin=True)


def png_bytes(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 30, 30),
              format: str = "PNG", **save: object) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=format, **save)
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def _fresh_settings_cache() -> Iterator[None]:
    """`get_settings()` is cached per process: no test may see another's environment through it."""
    from boda.core.config import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., str]]:
    """`boda ...` in-process on a fresh data folder; asserts the exit code and returns the output."""
    from typer.testing import CliRunner

    from boda.cli import app as cli_app

    monkeypatch.setenv("BODA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BODA_CONFIG", "")
    monkeypatch.setenv("BODA_JOBS__HEARTBEAT_SECONDS", "0.2")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str, code: int = 0, input: str | None = None) -> str:
        result = runner.invoke(cli_app, list(args), input=input, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    yield invoke
