"""The chat provider: the real openai SDK client against a real local server speaking the protocol."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from boda.ai.llm import (
    ChatModel,
    ChatResult,
    LlmRateLimited,
    LlmUnavailable,
    OpenAICompatibleChat,
    _check,
    ask_image,
    describe_image,
    parse_json,
    run_sync,
    validate,
)
from boda.ai.registry import Providers
from boda.core.config import Settings, masked
from boda.core.errors import InvalidInput
from tests.ai.openai_server import ChatServer, free_port
from tests.conftest import png_bytes

RECIPE = {
    "title": "recipe",
    "type": "object",
    "properties": {
        "recipe_name": {"type": "string", "minLength": 1},
        "recipe_ingredients": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "recipes": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["recipe_name", "recipe_ingredients", "recipes"],
    "additionalProperties": False,
}
GOOD = {"recipe_name": "김치볶음밥", "recipe_ingredients": ["김치", "밥", "달걀"], "recipes": ["볶는다", "올린다"]}


@pytest.fixture
def fake(chat_server: ChatServer) -> ChatServer:
    chat_server.reset()
    return chat_server


def model(chat_server: ChatServer, **overrides: Any) -> OpenAICompatibleChat:
    options: dict[str, Any] = {"model": "text-model", "vision_model": "vision-model", "base_url": chat_server.url,
                               "api_key": "sk-test", "timeout_seconds": 5.0, "max_retries": 0}
    return OpenAICompatibleChat(**{**options, **overrides})


def ask(chat: ChatModel, text: str = "hello", **kw: Any) -> ChatResult:
    return run_sync(chat.chat([{"role": "user", "content": text}], **kw))


def streamed(chat: ChatModel, text: str = "hello", **kw: Any) -> tuple[list[str], BaseException | None]:
    """The deltas received, and the error that ended the stream (None when it ended well)."""
    deltas: list[str] = []

    async def go() -> None:
        async for delta in chat.stream([{"role": "user", "content": text}], **kw):
            deltas.append(delta)

    try:
        run_sync(go())
    except Exception as exc:  # noqa: BLE001 - returned for the test to inspect
        return deltas, exc
    return deltas, None


# --- plain answers, images ----------------------------------------------------------------


def test_chat_sends_key_model_and_options_and_reads_the_answer(fake: ChatServer) -> None:
    result = ask(model(fake), "안녕하세요", temperature=0.7, max_tokens=33)
    assert result.text == "echo: 안녕하세요"
    assert result.model == "text-model" and result.data is None and not result.repaired
    assert result.usage is not None and (result.usage.prompt_tokens, result.usage.completion_tokens) == (11, 7)
    sent = fake.requests[0]
    assert sent["headers"]["authorization"] == "Bearer sk-test"
    assert sent["body"]["model"] == "text-model"
    assert sent["body"]["temperature"] == 0.7 and sent["body"]["max_tokens"] == 33
    assert sent["body"]["messages"] == [{"role": "user", "content": "안녕하세요"}]
    assert "response_format" not in sent["body"] and not sent["body"].get("stream")


def test_images_travel_as_data_url_content_parts_to_the_vision_model(fake: ChatServer) -> None:
    png, jpeg = png_bytes(), png_bytes(format="JPEG")
    result = ask(model(fake), "what is this?", images=[png, jpeg])
    assert result.text == "echo: what is this? [images=2]"
    body = fake.last
    assert body["model"] == "vision-model"
    parts = body["messages"][-1]["content"]
    assert parts[0] == {"type": "text", "text": "what is this?"}
    urls = [p["image_url"]["url"] for p in parts[1:]]
    assert urls[0].startswith("data:image/png;base64,") and urls[1].startswith("data:image/jpeg;base64,")
    assert base64.b64decode(urls[0].split(",", 1)[1]) == png
    assert base64.b64decode(urls[1].split(",", 1)[1]) == jpeg


def test_an_unknown_image_format_is_refused_before_sending(fake: ChatServer) -> None:
    with pytest.raises(InvalidInput, match="JPEG, PNG, WebP or GIF"):
        ask(model(fake), images=[b"%PDF-1.7 not an image"])
    assert fake.requests == []


def test_one_model_serves_many_event_loops(fake: ChatServer) -> None:
    """Jobs each run their own loop: the client built in the first must not be reused in the second."""
    chat = model(fake)
    question = [{"role": "user", "content": "one"}]
    assert asyncio.run(chat.chat(question)).text == "echo: one"
    assert asyncio.run(chat.chat(question)).text == "echo: one"
    assert len(fake.requests) == 2
    for _ in range(5):
        asyncio.run(chat.chat(question))
    assert len(chat._clients) == 1  # clients of closed loops are let go, not kept forever
    chat._clients.clear()

    async def inside() -> Any:
        result = await chat.chat(question)
        return result, next(iter(chat._clients.values()))

    result, client = run_sync(inside())
    assert result.text == "echo: one" and client.is_closed() and chat._clients == {}  # run_sync closed it


# --- JSON answers -------------------------------------------------------------------------


def test_json_schema_mode_sends_the_schema_and_validates(fake: ChatServer) -> None:
    fake.script.append({"content": json.dumps(GOOD, ensure_ascii=False)})
    result = ask(model(fake), "recommend", json_schema=RECIPE)
    assert result.data == GOOD and not result.repaired
    fmt = fake.last["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "recipe" and fmt["json_schema"]["schema"] == RECIPE
    assert fmt["json_schema"]["strict"] is True  # closed object, every property required


def test_a_schema_structured_output_cannot_enforce_is_sent_not_strict(fake: ChatServer) -> None:
    loose = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "required": ["a"]}
    fake.script.append({"content": '{"a": "x"}'})
    assert ask(model(fake), json_schema=loose).data == {"a": "x"}
    assert fake.last["response_format"]["json_schema"]["strict"] is False


def test_invalid_json_gets_one_repair_try_with_the_problem_named(fake: ChatServer) -> None:
    fake.script += [{"content": "Sure! Here is a recipe: 김치볶음밥"}, {"content": json.dumps(GOOD)}]
    result = ask(model(fake), "recommend", json_schema=RECIPE)
    assert result.data == GOOD and result.repaired
    assert result.usage is not None and result.usage.prompt_tokens == 22  # both tries counted
    repair = fake.requests[1]["body"]["messages"]
    assert repair[-2] == {"role": "assistant", "content": "Sure! Here is a recipe: 김치볶음밥"}
    assert repair[-1]["role"] == "user" and "not JSON" in repair[-1]["content"]
    assert fake.requests[1]["body"]["response_format"]["type"] == "json_schema"


def test_json_valid_against_nothing_is_repaired_with_the_validation_error(fake: ChatServer) -> None:
    fake.script += [{"content": '{"recipe_name": "밥", "recipes": []}'}, {"content": json.dumps(GOOD)}]
    result = ask(model(fake), json_schema=RECIPE)
    assert result.repaired and result.data == GOOD
    assert "recipe_ingredients" in fake.requests[1]["body"]["messages"][-1]["content"]


def test_two_bad_answers_give_a_clear_error(fake: ChatServer) -> None:
    fake.script += [{"content": "no"}, {"content": '{"recipe_name": ""}'}]
    with pytest.raises(LlmUnavailable, match="not valid JSON for the schema after one repair") as raised:
        ask(model(fake), json_schema=RECIPE)
    assert raised.value.details["reason"] == "bad_output" and raised.value.status_code == 503
    assert len(fake.requests) == 2


def test_json_object_and_prompt_modes_put_the_schema_in_the_prompt(fake: ChatServer) -> None:
    fake.script += [{"content": "```json\n" + json.dumps(GOOD) + "\n```"}, {"content": json.dumps(GOOD)}]
    assert ask(model(fake, json_mode="json_object"), json_schema=RECIPE).data == GOOD  # code fence tolerated
    assert fake.requests[0]["body"]["response_format"] == {"type": "json_object", "schema": RECIPE}
    system = fake.requests[0]["body"]["messages"][0]
    assert system["role"] == "system" and "JSON" in system["content"] and '"recipe_ingredients"' in system["content"]
    assert ask(model(fake, json_mode="prompt"), json_schema=RECIPE).data == GOOD
    assert "response_format" not in fake.requests[1]["body"]
    assert '"recipe_name"' in fake.requests[1]["body"]["messages"][0]["content"]


def test_a_pydantic_model_is_a_schema_too(fake: ChatServer) -> None:
    class Caption(BaseModel):
        caption: str
        confidence: float

    fake.script += [{"content": '{"caption": "a cat", "confidence": "high"}'},
                    {"content": '{"caption": "a cat", "confidence": 0.9}'}]
    result = ask(model(fake), json_schema=Caption)
    assert result.data == {"caption": "a cat", "confidence": 0.9} and result.repaired
    assert "confidence" in fake.requests[1]["body"]["messages"][-1]["content"]
    assert fake.requests[0]["body"]["response_format"]["json_schema"]["name"] == "Caption"


def test_an_endpoint_refusing_structured_output_is_asked_in_json_mode_then_plainly(fake: ChatServer) -> None:
    fake.refused_formats.add("json_schema")
    chat = model(fake)
    fake.script += [{}, {"content": json.dumps(GOOD)}]  # the refused request takes the empty step
    assert ask(chat, json_schema=RECIPE).data == GOOD
    assert [r["body"].get("response_format", {}).get("type") for r in fake.requests] == ["json_schema", "json_object"]
    assert chat.json_mode == "json_object"  # remembered: the next question goes straight to JSON mode
    fake.requests.clear()
    fake.script.append({"content": json.dumps(GOOD)})
    assert ask(chat, json_schema=RECIPE).data == GOOD and len(fake.requests) == 1
    fake.refused_formats.add("json_object")
    fake.script += [{}, {"content": json.dumps(GOOD)}]
    deltas, error = streamed(chat, json_schema=RECIPE)  # streaming falls back the same way
    assert error is None and json.loads("".join(deltas)) == GOOD
    assert chat.json_mode == "prompt" and "response_format" not in fake.last


def test_a_400_about_something_else_is_not_taken_for_a_format_problem(fake: ChatServer) -> None:
    fake.script.append({"status": 400, "message": "This model's maximum context length is 8192 tokens"})
    chat = model(fake)
    with pytest.raises(LlmUnavailable, match="maximum context length") as raised:
        ask(chat, json_schema=RECIPE)
    assert raised.value.details["reason"] == "bad_request" and chat.json_mode == "json_schema"
    assert len(fake.requests) == 1


def test_parse_json_finds_the_value_in_prose() -> None:
    assert parse_json('Here: {"a": [1, 2]} done') == {"a": [1, 2]}
    assert parse_json("[1, 2]") == [1, 2]
    assert parse_json("{\"step\": \"boil\tthen\nserve\"}") == {"step": "boil\tthen\nserve"}  # raw control characters
    with pytest.raises(ValueError, match="not JSON"):
        parse_json("{broken")


def test_the_builtin_validator_knows_the_structured_output_keywords() -> None:
    """`_check` is what runs where neither jsonschema-rs nor jsonschema is installed."""
    _check(GOOD, RECIPE, RECIPE, "$")
    problems = {
        "'recipe_ingredients' is a required property": {"recipe_name": "a", "recipes": []},
        "additional property 'x'": {**GOOD, "x": 1},
        "$.recipe_ingredients[1]": {**GOOD, "recipe_ingredients": ["a", 2]},
        "fewer than 1 items": {**GOOD, "recipe_ingredients": []},
        "shorter than 1": {**GOOD, "recipe_name": ""},
    }
    for message, data in problems.items():
        with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("$", r"\$")):
            _check(data, RECIPE, RECIPE, "$")
    ref = {"$defs": {"n": {"type": "integer", "minimum": 1}}, "type": "array", "items": {"$ref": "#/$defs/n"}}
    _check([1, 2], ref, ref, "$")
    with pytest.raises(ValueError, match="less than 1"):
        _check([1, 0], ref, ref, "$")
    either = {"anyOf": [{"type": "string"}, {"type": "null"}], "enum": ["a", None]}
    _check(None, either, either, "$")
    with pytest.raises(ValueError, match="not one of"):
        _check("b", either, either, "$")
    with pytest.raises(ValueError):
        validate({**GOOD, "x": 1}, RECIPE)  # the library validator agrees


# --- failures -----------------------------------------------------------------------------


def test_a_bad_key_says_so(fake: ChatServer) -> None:
    with pytest.raises(LlmUnavailable, match="refused the key") as raised:
        ask(model(fake, api_key="sk-wrong"))
    assert raised.value.details["reason"] == "auth" and raised.value.details["status"] == 401
    assert fake.requests[0]["headers"]["authorization"] == "Bearer sk-wrong"


def test_rate_limit_after_retries_carries_retry_after(fake: ChatServer) -> None:
    fake.script.append({"status": 429, "headers": {"Retry-After": "7"}, "message": "slow down"})
    with pytest.raises(LlmRateLimited, match="try again in 7 s") as raised:
        ask(model(fake))
    assert raised.value.details["retry_after"] == 7 and raised.value.status_code == 429


def test_a_429_is_retried_after_its_retry_after(fake: ChatServer) -> None:
    fake.script.append({"status": 429, "headers": {"Retry-After": "0.3"}})
    start = time.monotonic()
    assert ask(model(fake, max_retries=1), "again").text == "echo: again"
    assert time.monotonic() - start >= 0.3
    assert len(fake.requests) == 2


def test_a_500_is_retried_then_reported(fake: ChatServer) -> None:
    fake.script += [{"status": 500}]
    assert ask(model(fake, max_retries=1), "x").text == "echo: x" and len(fake.requests) == 2
    fake.reset()
    fake.script += [{"status": 503}]
    with pytest.raises(LlmUnavailable, match=r"failed \(503\)") as raised:
        ask(model(fake))
    assert raised.value.details["reason"] == "down"


def test_a_timeout_is_reported_with_the_setting(fake: ChatServer) -> None:
    fake.script.append({"sleep": 1.5})
    start = time.monotonic()
    with pytest.raises(LlmUnavailable, match=r"within 0.3 s \(llm.timeout_seconds\)") as raised:
        ask(model(fake, timeout_seconds=0.3))
    assert time.monotonic() - start < 1.4
    assert raised.value.details["reason"] == "timeout"


def test_a_server_that_is_not_there_is_down() -> None:
    chat = OpenAICompatibleChat(model="m", base_url=f"http://127.0.0.1:{free_port()}/v1", max_retries=0)
    with pytest.raises(LlmUnavailable, match="cannot be reached") as raised:
        ask(chat)
    assert raised.value.details["reason"] == "down"


def test_an_unknown_model_names_the_settings(fake: ChatServer) -> None:
    with pytest.raises(LlmUnavailable, match="no model 'gpt-9'.*llm.model") as raised:
        ask(model(fake, model="gpt-9"))
    assert raised.value.details["reason"] == "model"


# --- streaming ----------------------------------------------------------------------------


def test_stream_yields_deltas_that_join_to_the_answer(fake: ChatServer) -> None:
    deltas, error = streamed(model(fake), "스트리밍으로 답해 주세요")
    assert error is None
    assert len(deltas) > 3 and "".join(deltas) == "echo: 스트리밍으로 답해 주세요"
    assert fake.last["stream"] is True


def test_stream_with_a_schema_sets_the_response_format(fake: ChatServer) -> None:
    fake.script.append({"content": json.dumps(GOOD)})
    deltas, error = streamed(model(fake), json_schema=RECIPE)
    assert error is None and validate(parse_json("".join(deltas)), RECIPE) == GOOD
    assert fake.last["response_format"]["type"] == "json_schema"


@pytest.mark.parametrize("how", ["cut", "abort"])
def test_a_stream_that_stops_midway_is_an_error_not_an_answer(fake: ChatServer, how: str) -> None:
    fake.script.append({"content": "a fairly long answer that will not arrive whole", how: True})
    deltas, error = streamed(model(fake))
    assert deltas and "".join(deltas) != "a fairly long answer that will not arrive whole"
    assert isinstance(error, LlmUnavailable) and error.details["reason"] == "truncated"
    assert ("stopped before the answer ended" if how == "cut" else "broke off") in error.message


def test_stream_errors_are_mapped_too(fake: ChatServer) -> None:
    deltas, error = streamed(model(fake, api_key="nope"))
    assert deltas == [] and isinstance(error, LlmUnavailable) and error.details["reason"] == "auth"


# --- apps' helpers ------------------------------------------------------------------------


def test_describe_image_asks_for_one_short_caption_in_the_language(fake: ChatServer) -> None:
    fake.script.append({"content": ' "빨간 자동차가\n 길에 서 있다." '})
    caption = run_sync(describe_image(model(fake), png_bytes(), "ko"))
    assert caption == "빨간 자동차가 길에 서 있다."
    system, user = fake.last["messages"]
    assert system["role"] == "system" and "한국어" in system["content"] and "한 문장" in system["content"]
    assert any(p["type"] == "image_url" for p in user["content"]) and fake.last["model"] == "vision-model"
    run_sync(describe_image(model(fake), png_bytes(), "en"))
    assert "one short caption in English" in fake.last["messages"][0]["content"]
    with pytest.raises(InvalidInput):
        run_sync(describe_image(model(fake), png_bytes(), "fr"))


def test_ask_image_sends_the_question_with_the_photo(fake: ChatServer) -> None:
    answer = run_sync(ask_image(model(fake), png_bytes(), "무슨 색이에요?", "ko"))
    assert answer == "echo: 무슨 색이에요? [images=1]"
    assert "한국어" in fake.last["messages"][0]["content"]
    with pytest.raises(InvalidInput):
        run_sync(ask_image(model(fake), png_bytes(), "  ", "en"))


# --- settings and the registry ------------------------------------------------------------


def _settings(tmp_path: Path, **llm: Any) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, llm=llm)  # type: ignore[call-arg]


def test_off_is_a_clear_state_apps_can_check(tmp_path: Path) -> None:
    chat = Providers(_settings(tmp_path)).chat()
    assert chat.available is False and "No LLM is configured" in chat.reason
    with pytest.raises(LlmUnavailable, match="No LLM is configured") as raised:
        ask(chat)
    assert raised.value.details["reason"] == "off" and raised.value.key == "llm_off"
    assert isinstance(streamed(chat)[1], LlmUnavailable)


def test_openai_provider_from_settings(fake: ChatServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BODA_LLM__API_KEY", "sk-test")
    settings = _settings(tmp_path, provider="openai", base_url=fake.url, model="text-model", max_retries=0)
    assert settings.llm.api_key.get_secret_value() == "sk-test"
    assert "sk-test" not in json.dumps(masked(settings))
    chat = Providers(settings).chat()
    assert isinstance(chat, OpenAICompatibleChat) and chat.available and chat.vision_model == "text-model"
    assert ask(chat, "from settings").text == "echo: from settings"


def test_local_without_llama_cpp_or_file_says_what_is_missing(tmp_path: Path) -> None:
    chat = Providers(_settings(tmp_path, provider="local", local_model_path="nothing.gguf")).chat()
    assert chat.available is False
    assert "llama-cpp-python" in chat.reason or f"no GGUF file at {tmp_path / 'models' / 'nothing.gguf'}" in chat.reason
    with pytest.raises(LlmUnavailable) as raised:
        ask(chat)
    assert raised.value.details["reason"] == "missing"


def test_every_llm_error_reason_has_korean_text() -> None:
    """boda/ai may raise without catalogue text, but apps show these errors to people: each reason has its own."""
    from boda.web.i18n import catalogue, translate

    reasons = ["off", "missing", "auth", "rate_limited", "timeout", "down", "model", "bad_request", "bad_output",
               "truncated"]
    for reason in reasons:
        for locale in ("ko", "en"):
            assert f"error.llm_{reason}" in catalogue(locale), (locale, reason)
    assert "7초" in translate("ko", "error.llm_rate_limited", retry_after=7, reason="rate_limited")


def _sent_image(chat_server: ChatServer) -> bytes:
    part = next(p for p in chat_server.last["messages"][-1]["content"] if p["type"] == "image_url")
    return base64.b64decode(part["image_url"]["url"].split(",", 1)[1])


def test_the_helpers_send_photos_upright_and_no_larger_than_needed(fake: ChatServer) -> None:
    import io

    from PIL import Image

    small = png_bytes()
    run_sync(describe_image(model(fake), small, "en"))
    assert _sent_image(fake) == small  # a small PNG goes as it is
    run_sync(ask_image(model(fake), png_bytes((3000, 2000)), "what?", "en"))
    sent = Image.open(io.BytesIO(_sent_image(fake)))
    assert sent.format == "JPEG" and sent.size == (1024, 683)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: the camera was turned; viewers rotate it 90° clockwise
    buffer = io.BytesIO()
    Image.new("RGB", (80, 40), (0, 90, 200)).save(buffer, format="JPEG", exif=exif.tobytes())
    run_sync(describe_image(model(fake), buffer.getvalue(), "ko"))
    assert Image.open(io.BytesIO(_sent_image(fake))).size == (40, 80)
    run_sync(describe_image(model(fake), png_bytes(format="BMP"), "en"))
    assert _sent_image(fake)[:3] == b"\xff\xd8\xff"  # a format vision endpoints may not read becomes JPEG
    with pytest.raises(InvalidInput, match="could not be read"):
        run_sync(describe_image(model(fake), b"not an image at all", "en"))


def test_openai_without_a_model_is_unavailable_not_broken(tmp_path: Path) -> None:
    chat = Providers(_settings(tmp_path, provider="openai", model="")).chat()
    assert chat.available is False and "llm.model is empty" in chat.reason


def test_a_photo_goes_to_a_provider_upright_and_without_where_it_was_taken() -> None:
    import io

    from PIL import Image

    from boda.ai.llm import fit_image
    from tests.apps.album.images import encode, exif_jpeg, picture

    bare = encode(picture(1), "PNG")
    assert fit_image(bare) == bare  # nothing to take out, small enough: as it is
    sent = Image.open(io.BytesIO(fit_image(exif_jpeg(2))))
    assert sent.size == (96, 64) and not sent.getexif()  # small and upright, but no GPS, camera or date
    turned = Image.open(io.BytesIO(fit_image(exif_jpeg(2, orientation=6))))
    assert turned.size == (64, 96) and not turned.getexif()
