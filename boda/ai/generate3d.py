"""3D generators: one protocol for Meshy's API, a self-hosted Hunyuan3D-2 server and the offline composer.

A generation is a provider task that runs for minutes. The app (3D Studio) stores the
task id `start` returns, relays `watch` to the browser as server-sent events, and
fetches `assets` in the background once the task has succeeded. The id is all a
restarted server needs to watch the task again: a provider encodes in it what it
must remember (Meshy: which endpoint, and whether a refine follows the preview).

A generation may be several provider tasks in a row (Meshy's preview, then refine).
`watch` follows them all and says so: every `TaskProgress` names the task it is
about, and when that id changes the app stores the new one, so a restart resumes
the refine rather than starting another.

Everything is async on one event loop, with no thread per task: 100 generations
at once are 100 coroutines waiting on sockets (bench/studio_providers.py measures it).

Errors follow `boda.ai.llm`: `GenerationUnavailable` (`details["reason"]`: off, auth,
payment, not_found, bad_request, down, timeout, asset_missing, too_large, bad_output)
and `GenerationRateLimited` (`details["retry_after"]`) after the retries. A task the
provider ran and failed is not an exception: `watch` ends with status "failed" and
the provider's message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import ssl
import threading
import weakref
from collections.abc import AsyncIterator, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable
from urllib.parse import urlsplit

import httpx

from boda.core.errors import RateLimited, Unavailable

log = logging.getLogger(__name__)

Status = Literal["pending", "in_progress", "succeeded", "failed", "canceled"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "canceled"})
Operation = Literal["generate", "remesh", "retexture"]
MAX_CONNECTIONS = 16
AssetKind = Literal["glb", "fbx", "obj", "mtl", "usdz", "stl", "blend", "texture", "thumbnail"]


# --- what goes in and comes out ---------------------------------------------------------


@dataclass(frozen=True)
class GenerationRequest:
    """What to make. `image` makes it image-to-3D; `refine` asks for textures (Meshy's refine, Hunyuan's paint).

    `operation` remesh / retexture work on a model made before: `source_task_id` (an id this
    provider returned) or `model` (GLB bytes). Retexture takes its style from `prompt` or `image`.
    `options` are provider fields passed through (Meshy: topology, target_polycount, enable_pbr,
    texture_prompt, target_formats, ...; Hunyuan3D: seed, octree_resolution, face_count, ...).
    """

    prompt: str = ""
    image: bytes | None = None
    art_style: str | None = None
    negative_prompt: str | None = None
    refine: bool = True
    operation: Operation = "generate"
    source_task_id: str | None = None
    model: bytes | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskProgress:
    """One step of a generation as the provider reports it.

    `task_id` is the provider task this is about: store it when it differs from the stored
    one (Meshy's refine has its own). `progress` is the whole generation's 0-100;
    `stage_progress` the provider's own number for this stage. `estimated` when the provider
    reports none and it is guessed from time. `final` on the last event of the generation.
    """

    task_id: str
    status: Status
    progress: int
    stage: str
    message: str | None = None
    stage_progress: int = 0
    estimated: bool = False
    preceding_tasks: int | None = None

    @property
    def final(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True)
class Asset:
    """A file the provider made: `kind` glb/fbx/obj/mtl/usdz/stl/blend/texture/thumbnail.

    `filename` is the provider's own name where it gives one (an OBJ's MTL and an MTL's
    textures refer to each other by name, so they keep them). `role` for textures:
    base_color, metallic, roughness, normal.
    """

    kind: str
    url: str
    filename: str
    role: str | None = None


# --- errors -------------------------------------------------------------------------------


class GenerationUnavailable(Unavailable):
    """The 3D provider could not do it; `details["reason"]` says why (see the module docstring)."""


class GenerationRateLimited(RateLimited):
    """The provider said 429 after our retries; `details["retry_after"]` is its Retry-After in seconds."""


def unavailable(provider: str, reason: str, message: str, **details: Any) -> GenerationUnavailable:
    return GenerationUnavailable(message, details={"provider": provider, "reason": reason, **details},
                                 key=f"generate3d_{reason}")


# --- the protocol -------------------------------------------------------------------------


@runtime_checkable
class Generator3D(Protocol):
    """A 3D generator. `fidelity` "high" (Meshy, Hunyuan3D) or "low" (the primitive composer).

    `available` False (not configured) means every call raises `GenerationUnavailable`
    with `reason` as its message.
    """

    name: str
    fidelity: str

    @property
    def available(self) -> bool: ...

    @property
    def reason(self) -> str: ...

    async def start(self, request: GenerationRequest) -> str:
        """Create the provider task; its id, to store (it survives a restart)."""
        ...

    def watch(self, task_id: str) -> AsyncIterator[TaskProgress]:
        """Progress until the generation ends (the last one has `final`): the provider's stream, else polling."""
        ...

    async def poll(self, task_id: str) -> TaskProgress:
        """One look at the generation (no stream), for a job that polls in short steps and holds no
        thread between them; like `watch`, a new `task_id` in the answer is to be stored."""
        ...

    async def assets(self, task_id: str) -> list[Asset]:
        """The files of a succeeded task (the last `task_id` watch gave)."""
        ...

    async def download(self, asset: Asset) -> bytes:
        """One asset's bytes, streamed and refused past the size limit."""
        ...

    async def cancel(self, task_id: str) -> None:
        """Stop the task where the provider can; watching it then ends."""
        ...


# --- shared HTTP machinery ----------------------------------------------------------------


def retry_after_seconds(headers: Mapping[str, str], default: float = 1.0) -> float:
    """Seconds from Retry-After (or retry-after-ms); `default` when absent or an HTTP date we do not parse."""
    try:
        if "retry-after-ms" in headers:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        if "retry-after" in headers:
            return max(0.0, float(headers["retry-after"]))
    except ValueError:
        pass
    return default


def _same_origin(a: str, b: str) -> bool:
    x, y = urlsplit(a), urlsplit(b)
    return (x.scheme, x.netloc) == (y.scheme, y.netloc)


class HttpProvider:
    """An async HTTP client per event loop with the retry, error and size rules every remote provider shares.

    One client per loop: an httpx pool belongs to the loop that opened it, and jobs each
    run their own (`run_sync`). Retries: a 429 waits its Retry-After (capped); a 5xx or a
    dropped connection backs off 0.5, 1, 2 s... A POST is retried only when it certainly
    created nothing (429, refused connection), so a task is never made twice.
    """

    name = "http"

    def __init__(self, *, base_url: str, api_key: str = "", timeout_seconds: float = 30.0,
                 poll_seconds: float = 5.0, max_retries: int = 3, max_retry_after_seconds: float = 60.0,
                 max_asset_bytes: int = 200 * 1024 * 1024, key_setting: str = "") -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.timeout_seconds = timeout_seconds
        self.poll_seconds = poll_seconds
        self.max_retries = max_retries
        self.max_retry_after_seconds = max_retry_after_seconds
        self.max_asset_bytes = max_asset_bytes
        self.key_setting = key_setting
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}
        self._lock = threading.Lock()
        self._ssl: ssl.SSLContext | None = None
        _open_providers.add(self)

    # clients

    def client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        with self._lock:
            for gone in [other for other in self._clients if other.is_closed()]:
                del self._clients[gone]
            client = self._clients.get(loop)
            if client is None:
                # Few connections, queued in the pool: httpcore scans them all on every request (so 100
                # at once cost O(n^2)), and Meshy allows 20 requests/s an account anyway.
                limits = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS)
                client = httpx.AsyncClient(timeout=self.timeout_seconds, limits=limits, follow_redirects=True,
                                           verify=self.ssl_context())
                self._clients[loop] = client
            return client

    def ssl_context(self) -> ssl.SSLContext:
        """One TLS context for all this provider's clients: building one costs milliseconds of CPU."""
        if self._ssl is None:
            try:
                import certifi

                self._ssl = ssl.create_default_context(cafile=certifi.where())
            except ImportError:
                self._ssl = ssl.create_default_context()
        return self._ssl

    @contextlib.asynccontextmanager
    async def stream_client(self) -> AsyncIterator[httpx.AsyncClient]:
        """A client of its own for one long-lived event stream.

        httpcore's pool scans every connection it holds each time a request is queued or
        finished: 100 streams open in the shared pool made every other call of the loop
        pay for them (bench/studio_providers.py: 10 of 23 s of CPU in that scan).
        """
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=0)
        client = httpx.AsyncClient(timeout=self.timeout_seconds, limits=limits, follow_redirects=True,
                                   verify=self.ssl_context())
        try:
            yield client
        finally:
            await client.aclose()

    async def aclose(self) -> None:
        """Close the running loop's client; the next call opens another."""
        with self._lock:
            client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    def headers(self, url: str) -> dict[str, str]:
        """The key goes to the API's own origin only, never to the signed asset URLs it hands out."""
        if self._api_key and _same_origin(url, self.base_url):
            return {"Authorization": f"Bearer {self._api_key}"}
        return {}

    # requests

    async def request(self, method: str, path: str, *, json: Any = None, idempotent: bool | None = None) -> Any:
        """One API call with retries; the decoded JSON answer (None when empty)."""
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        idempotent = method in ("GET", "DELETE", "HEAD") if idempotent is None else idempotent
        attempt = 0
        while True:
            try:
                response = await self.client().request(method, url, json=json, headers=self.headers(url))
            except httpx.TimeoutException as exc:
                if idempotent and attempt < self.max_retries:
                    attempt += 1
                    await asyncio.sleep(self._backoff(attempt))
                    continue
                raise unavailable(self.name, "timeout", f"{self.name} at {self.base_url} did not answer within "
                                  f"{self.timeout_seconds:g} s", url=url) from exc
            except httpx.TransportError as exc:
                refused = isinstance(exc, httpx.ConnectError)
                if (idempotent or refused) and attempt < self.max_retries:
                    attempt += 1
                    await asyncio.sleep(self._backoff(attempt))
                    continue
                raise unavailable(self.name, "down", f"{self.name} at {self.base_url} cannot be reached: {exc}",
                                  url=url) from exc
            if response.status_code == 429 and attempt < self.max_retries:
                attempt += 1
                await asyncio.sleep(min(retry_after_seconds(response.headers), self.max_retry_after_seconds))
                continue
            if response.status_code >= 500 and idempotent and attempt < self.max_retries:
                attempt += 1
                await asyncio.sleep(self._backoff(attempt))
                continue
            if response.status_code >= 400:
                raise self.error(response, url)
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError as exc:
                raise unavailable(self.name, "bad_output", f"{self.name} answered {url} with something that is not "
                                  "JSON", url=url, status=response.status_code) from exc

    def _backoff(self, attempt: int) -> float:
        return min(0.5 * 2 ** (attempt - 1), 8.0)

    def error_message(self, response: httpx.Response) -> str:
        """The provider's own words about an error (Meshy: `{"message": ...}`)."""
        try:
            body = response.json()
        except ValueError:
            return response.text[:300]
        if isinstance(body, dict):
            for key in ("message", "detail", "text", "error"):
                if isinstance(body.get(key), str):
                    return str(body[key])[:300]
        return str(body)[:300]

    def error(self, response: httpx.Response, url: str) -> Exception:
        status, said = response.status_code, self.error_message(response)
        where = {"url": url, "status": status}
        if status in (401, 403):
            hint = f"; check {self.key_setting}" if self.key_setting else ""
            return unavailable(self.name, "auth", f"{self.name} refused the key ({status}: {said}){hint}", **where)
        if status == 402:
            return unavailable(self.name, "payment", f"{self.name} says the account has no credits left (402): "
                               f"{said}", **where)
        if status == 404:
            return unavailable(self.name, "not_found", f"{self.name} has no such task (404): {said}", **where)
        if status == 429:
            seconds = math.ceil(retry_after_seconds(response.headers))
            return GenerationRateLimited(f"{self.name} is rate limited (429): {said}; try again in {seconds} s",
                                         details={"provider": self.name, "reason": "rate_limited",
                                                  "retry_after": seconds, **where}, key="generate3d_rate_limited")
        if status >= 500:
            return unavailable(self.name, "down", f"{self.name} failed ({status}): {said}", **where)
        return unavailable(self.name, "bad_request", f"{self.name} refused the request ({status}): {said}", **where)

    async def fetch_limited(self, url: str, *, what: str = "asset", limit: int | None = None,
                            keep: tuple[int, ...] = ()) -> bytes:
        """GET a file streamed, refused as soon as it passes `limit` (`max_asset_bytes`); retried like `request`.

        A status in `keep` is not an error here: its body is returned for the caller to read.
        """
        limit = limit or self.max_asset_bytes
        attempt = 0
        while True:
            try:
                async with self.client().stream("GET", url, headers=self.headers(url)) as response:
                    if response.status_code in keep:
                        pass
                    elif response.status_code == 429 and attempt < self.max_retries:
                        attempt += 1
                        await asyncio.sleep(min(retry_after_seconds(response.headers), self.max_retry_after_seconds))
                        continue
                    elif response.status_code >= 500 and attempt < self.max_retries:
                        attempt += 1
                        await asyncio.sleep(self._backoff(attempt))
                        continue
                    elif response.status_code in (403, 404, 410) and what == "asset":
                        # Signed asset URLs expire (Meshy keeps assets 3 days): gone, not a key problem.
                        raise unavailable(self.name, "asset_missing", f"{self.name} no longer has the {what} at "
                                          f"{url.split('?')[0]} ({response.status_code})", url=url,
                                          status=response.status_code)
                    elif response.status_code >= 400:
                        await response.aread()
                        raise self.error(response, url)
                    declared = int(response.headers.get("content-length") or 0)
                    if declared > limit:
                        raise self._too_large(url, declared)
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > limit:
                            raise self._too_large(url, size)
                        chunks.append(chunk)
                    return b"".join(chunks)
            except httpx.TimeoutException as exc:
                if attempt < self.max_retries:
                    attempt += 1
                    await asyncio.sleep(self._backoff(attempt))
                    continue
                raise unavailable(self.name, "timeout", f"Downloading {url.split('?')[0]} from {self.name} timed "
                                  "out", url=url) from exc
            except httpx.TransportError as exc:
                if attempt < self.max_retries:
                    attempt += 1
                    await asyncio.sleep(self._backoff(attempt))
                    continue
                raise unavailable(self.name, "down", f"Downloading {url.split('?')[0]} from {self.name} failed: "
                                  f"{exc}", url=url) from exc

    def _too_large(self, url: str, size: int) -> GenerationUnavailable:
        limit_mb = self.max_asset_bytes / 1024 / 1024
        return unavailable(self.name, "too_large", f"The asset at {url.split('?')[0]} is larger than "
                           f"{limit_mb:g} MB (generate3d.max_asset_mb)", url=url, size=size,
                           limit=self.max_asset_bytes)


class NoGenerator:
    """A provider that is not configured: says why on every call, so the app can hide or explain it."""

    def __init__(self, name: str, reason: str, fidelity: str = "high") -> None:
        self.name = name
        self.fidelity = fidelity
        self._reason = reason

    @property
    def available(self) -> bool:
        return False

    @property
    def reason(self) -> str:
        return self._reason

    def _raise(self) -> GenerationUnavailable:
        return unavailable(self.name, "off", self._reason)

    async def start(self, request: GenerationRequest) -> str:
        raise self._raise()

    async def watch(self, task_id: str) -> AsyncIterator[TaskProgress]:
        raise self._raise()
        yield  # pragma: no cover - makes this an async generator

    async def poll(self, task_id: str) -> TaskProgress:
        raise self._raise()

    async def assets(self, task_id: str) -> list[Asset]:
        raise self._raise()

    async def download(self, asset: Asset) -> bytes:
        raise self._raise()

    async def cancel(self, task_id: str) -> None:
        raise self._raise()


# --- SSE ----------------------------------------------------------------------------------


@dataclass
class SseEvent:
    event: str = "message"
    data: str = ""
    id: str | None = None


async def sse_events(lines: AsyncIterator[str]) -> AsyncIterator[SseEvent]:
    """Server-sent events from a response's lines (the WHATWG rules: event/data/id fields, blank line ends one)."""
    current = SseEvent()
    data: list[str] = []
    async for line in lines:
        if line == "":
            if data:
                current.data = "\n".join(data)
                yield current
            current, data = SseEvent(), []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "event":
            current.event = value
        elif name == "id":
            current.id = value
    if data:
        current.data = "\n".join(data)
        yield current


# --- running from synchronous code --------------------------------------------------------

_open_providers: weakref.WeakSet[HttpProvider] = weakref.WeakSet()
T = TypeVar("T")


async def aclose_all() -> None:
    """Close every provider's client on the running loop (a job's loop is about to end)."""
    for provider in list(_open_providers):
        await provider.aclose()


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine from a job or the CLI in its own loop, closing the 3D and chat clients it opened there."""
    from boda.ai import llm

    async def main() -> T:
        try:
            return await coro
        finally:
            await aclose_all()
            for chat in list(llm._open_models):
                await chat.aclose()

    return asyncio.run(main())
