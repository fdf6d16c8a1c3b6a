"""Meshy's API (https://docs.meshy.ai) as a `Generator3D`: text-to-3D, image-to-3D, remesh and retexture.

What this follows, from Meshy's published API reference (docs.meshy.ai/api: quick start,
text-to-3d, image-to-3d, remesh, retexture, errors, rate limits), read before writing:

- Origin `https://api.meshy.ai`, every call with `Authorization: Bearer <key>` (keys `msy_...`).
- Text to 3D, two tasks on one endpoint: `POST /openapi/v2/text-to-3d` with `mode: "preview"` and
  `prompt` (at most 600 characters; optional `ai_model`, `topology`, `target_polycount`,
  `should_remesh`, `symmetry_mode`, `pose_mode`, `model_type`, older models also `art_style`,
  `negative_prompt`) makes an untextured mesh; then `mode: "refine"` with `preview_task_id`
  (optional `enable_pbr`, `texture_prompt`, `texture_image_url`, `remove_lighting`) textures it.
- Image to 3D: `POST /openapi/v1/image-to-3d` with `image_url` (a public URL or a base64 data URI,
  JPEG or PNG), `should_texture`, `enable_pbr`, `texture_prompt`, ...
- Remesh: `POST /openapi/v1/remesh` with `input_task_id` (a succeeded task) or `model_url` (URL or
  data URI), `target_formats` (glb, fbx, obj, usdz, blend, stl), `topology`, `target_polycount`,
  `resize_height`, `origin_at`, `convert_format_only`.
- Retexture: `POST /openapi/v1/retexture` with `input_task_id` or `model_url`, and
  `text_style_prompt` or `image_style_url`; `enable_original_uv`, `enable_pbr`, `ai_model`.
- Every create answers `{"result": "<task id>"}` (200/202). `GET <endpoint>/<id>` is the task object;
  `GET <endpoint>/<id>/stream` the same as server-sent events (`Accept: text/event-stream`):
  `event: message` with the task (progress updates, the full object at the end) until a
  terminal status, or `event: error` with `{"status_code", "message"}`.
  `DELETE <endpoint>/<id>` deletes a task: the only way the API offers to stop one, so `cancel` uses it.
- The task object: `id`, `type`, `status` PENDING | IN_PROGRESS | SUCCEEDED | FAILED | CANCELED,
  `progress` 0-100, `preceding_tasks` (queue position), `model_urls` {glb, fbx, obj, mtl, usdz, stl, ...}
  (a format may be absent), `texture_urls` [{base_color, metallic, normal, roughness}],
  `thumbnail_url`, `task_error.message` when FAILED, timestamps in epoch milliseconds.
  Asset URLs are signed and expire (assets kept 3 days): they are downloaded without the key.
- Errors: a JSON `{"message"}` with 400 (bad parameter), 401 (bad key), 402 (no credits), 403,
  404 (no such task), 429 (more than the tier's requests per second or queued tasks), 5xx.

The task id Boda stores is `<kind>/<meshy id>`, plus `#<refine body as JSON>` on a preview
that a refine must follow, so a restarted server knows the plan (see `MeshyTask`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from boda.ai.generate3d import (
    Asset,
    GenerationRequest,
    HttpProvider,
    NoGenerator,
    Status,
    TaskProgress,
    sse_events,
    unavailable,
)
from boda.ai.registry import Build, register
from boda.core.errors import InvalidInput

log = logging.getLogger(__name__)

ENDPOINTS = {
    "text-to-3d:preview": "/openapi/v2/text-to-3d",
    "text-to-3d:refine": "/openapi/v2/text-to-3d",
    "image-to-3d": "/openapi/v1/image-to-3d",
    "remesh": "/openapi/v1/remesh",
    "retexture": "/openapi/v1/retexture",
}
STAGES = {"text-to-3d:preview": "preview", "text-to-3d:refine": "refine", "image-to-3d": "image",
          "remesh": "remesh", "retexture": "retexture"}
STATUSES: dict[str, Status] = {"PENDING": "pending", "IN_PROGRESS": "in_progress", "SUCCEEDED": "succeeded",
                               "FAILED": "failed", "CANCELED": "canceled", "EXPIRED": "failed"}
MAX_PROMPT = 600
# Refine-only fields: kept for the refine task rather than sent with the preview.
REFINE_FIELDS = ("enable_pbr", "texture_prompt", "texture_image_url", "remove_lighting")
MODEL_FORMATS = ("glb", "fbx", "obj", "mtl", "usdz", "stl", "blend", "3mf")


@dataclass(frozen=True)
class MeshyTask:
    """A stored task id, parsed: which endpoint, Meshy's id, and the refine to start once a preview succeeds."""

    kind: str
    id: str
    then_refine: dict[str, Any] | None = None

    @classmethod
    def parse(cls, task_id: str) -> MeshyTask:
        head, _, plan = task_id.partition("#")
        kind, _, meshy_id = head.partition("/")
        if kind not in ENDPOINTS or not meshy_id or "/" in meshy_id:
            raise InvalidInput("Not a Meshy task id", details={"task_id": task_id[:200]})
        try:
            refine = json.loads(plan) if plan else None
        except ValueError:
            raise InvalidInput("Not a Meshy task id", details={"task_id": task_id[:200]}) from None
        return cls(kind, meshy_id, refine)

    def __str__(self) -> str:
        tail = f"#{json.dumps(self.then_refine, separators=(',', ':'), ensure_ascii=False)}" \
            if self.then_refine is not None else ""
        return f"{self.kind}/{self.id}{tail}"

    @property
    def path(self) -> str:
        return f"{ENDPOINTS[self.kind]}/{self.id}"

    @property
    def stage(self) -> str:
        return STAGES[self.kind]


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _image_uri(image: bytes) -> str:
    from boda.ai.llm import image_mime

    mime = image_mime(image)
    if mime not in ("image/jpeg", "image/png"):
        raise InvalidInput("Meshy reads JPEG or PNG images only", details={"type": mime})
    return data_uri(image, mime)


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def asset_filename(url: str, fallback: str) -> str:
    """The file's own name from its URL (an MTL names its textures so), else `fallback`."""
    name = _SAFE.sub("_", unquote(urlsplit(url).path.rsplit("/", 1)[-1])).strip("._")
    return name if "." in name and len(name) <= 120 else fallback


class MeshyGenerator(HttpProvider):
    """Meshy's REST API through one httpx.AsyncClient per event loop; progress from its SSE stream, else polling."""

    fidelity = "high"

    def __init__(self, *, api_key: str, base_url: str = "https://api.meshy.ai", ai_model: str = "latest",
                 timeout_seconds: float = 30.0, poll_seconds: float = 5.0, max_retries: int = 3,
                 max_retry_after_seconds: float = 60.0, max_asset_bytes: int = 200 * 1024 * 1024,
                 stream_idle_seconds: float = 120.0, name: str = "meshy") -> None:
        if not api_key:
            raise InvalidInput("generate3d.meshy_api_key is empty")
        super().__init__(base_url=base_url, api_key=api_key, timeout_seconds=timeout_seconds,
                         poll_seconds=poll_seconds, max_retries=max_retries,
                         max_retry_after_seconds=max_retry_after_seconds, max_asset_bytes=max_asset_bytes,
                         key_setting="generate3d.meshy_api_key")
        self.name = name
        self.ai_model = ai_model
        self.stream_idle_seconds = stream_idle_seconds

    @property
    def available(self) -> bool:
        return True

    @property
    def reason(self) -> str:
        return ""

    # --- start ----------------------------------------------------------------------------

    async def start(self, request: GenerationRequest) -> str:
        kind, body, then_refine = self.create_body(request)
        answer = await self.request("POST", ENDPOINTS[kind], json=body)
        meshy_id = answer.get("result") if isinstance(answer, dict) else None
        if not isinstance(meshy_id, str) or not meshy_id:
            raise unavailable(self.name, "bad_output", "Meshy created a task but named none", answer=str(answer)[:200])
        return str(MeshyTask(kind, meshy_id, then_refine))

    def create_body(self, request: GenerationRequest) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
        """The endpoint kind, the create body, and the refine body to send once the preview succeeds."""
        options = dict(request.options)
        if len(request.prompt) > MAX_PROMPT:
            raise InvalidInput(f"Meshy takes prompts of at most {MAX_PROMPT} characters",
                               details={"length": len(request.prompt), "limit": MAX_PROMPT})
        if request.operation in ("remesh", "retexture"):
            body: dict[str, Any] = {}
            if request.source_task_id:
                body["input_task_id"] = MeshyTask.parse(request.source_task_id).id
            elif request.model is not None:
                body["model_url"] = data_uri(request.model, "model/gltf-binary")
            else:
                raise InvalidInput(f"{request.operation} needs the task or the model to work on")
            if request.operation == "remesh":
                body["target_formats"] = ["glb", "fbx", "obj", "usdz", "stl"]
            else:
                if request.prompt:
                    body["text_style_prompt"] = request.prompt
                elif request.image is not None:
                    body["image_style_url"] = _image_uri(request.image)
                else:
                    raise InvalidInput("Retexture needs a style: a prompt or an image")
                body["ai_model"] = self.ai_model
            return request.operation, {**body, **options}, None
        if request.image is not None:
            body = {"image_url": _image_uri(request.image), "ai_model": self.ai_model,
                    "should_texture": request.refine}
            if request.prompt:
                body["texture_prompt"] = request.prompt
            return "image-to-3d", {**body, **options}, None
        if not request.prompt.strip():
            raise InvalidInput("Describe the model to make: the prompt is empty")
        body = {"mode": "preview", "prompt": request.prompt, "ai_model": self.ai_model}
        if request.art_style:
            body["art_style"] = request.art_style
        if request.negative_prompt:
            body["negative_prompt"] = request.negative_prompt
        refine = {key: options.pop(key) for key in REFINE_FIELDS if key in options}
        body.update(options)
        return "text-to-3d:preview", body, (refine if request.refine else None)

    # --- watch ----------------------------------------------------------------------------

    async def watch(self, task_id: str) -> AsyncIterator[TaskProgress]:
        task = MeshyTask.parse(task_id)
        last: TaskProgress | None = None
        while True:
            finished: dict[str, Any] | None = None
            async for state in self._updates(task):
                progress = self.progress(task, state)
                if progress != last:
                    last = progress
                    yield progress
                if STATUSES.get(str(state.get("status")), "in_progress") in ("succeeded", "failed", "canceled"):
                    finished = state
            if finished is None or task.then_refine is None or finished.get("status") != "SUCCEEDED":
                return
            refine_id = await self._refine(task)
            task = MeshyTask("text-to-3d:refine", refine_id)
            last = TaskProgress(str(task), "pending", 50, "refine")
            yield last

    async def poll(self, task_id: str) -> TaskProgress:
        """One look at the task, no stream: what a job that polls in short steps asks each time.

        A preview that succeeded with a refine to follow starts the refine and reports its id
        (the caller stores it, as with `watch`).
        """
        task = MeshyTask.parse(task_id)
        state = await self.request("GET", task.path)
        if not isinstance(state, dict):
            raise unavailable(self.name, "bad_output", "Meshy's task answer is not an object")
        if task.then_refine is not None and state.get("status") == "SUCCEEDED":
            refine = MeshyTask("text-to-3d:refine", await self._refine(task))
            return TaskProgress(str(refine), "pending", 50, "refine")
        return self.progress(task, state)

    async def _refine(self, preview: MeshyTask) -> str:
        body = {"mode": "refine", "preview_task_id": preview.id, "ai_model": self.ai_model,
                **(preview.then_refine or {})}
        answer = await self.request("POST", ENDPOINTS["text-to-3d:refine"], json=body)
        refine_id = answer.get("result") if isinstance(answer, dict) else None
        if not isinstance(refine_id, str) or not refine_id:
            raise unavailable(self.name, "bad_output", "Meshy created a refine task but named none")
        return refine_id

    def progress(self, task: MeshyTask, state: dict[str, Any]) -> TaskProgress:
        """Meshy's task (or stream event) as Boda's progress; a preview with a refine to come is the first half."""
        status = STATUSES.get(str(state.get("status")), "in_progress")
        stage_progress = max(0, min(100, int(state.get("progress") or 0)))
        overall = stage_progress
        if task.then_refine is not None:
            overall = stage_progress // 2
            if status == "succeeded":
                status = "in_progress"  # the refine follows: the generation is half done
        elif task.kind == "text-to-3d:refine":
            overall = 50 + stage_progress // 2
        message = None
        if status == "failed":
            message = str((state.get("task_error") or {}).get("message") or "Meshy failed the task")
        elif status == "canceled":
            message = "Meshy canceled the task"
        queued = state.get("preceding_tasks")
        return TaskProgress(str(task), status, overall, task.stage, message, stage_progress,
                            preceding_tasks=int(queued) if isinstance(queued, int) else None)

    async def _updates(self, task: MeshyTask) -> AsyncIterator[dict[str, Any]]:
        """Task states until a terminal one: the SSE stream, then polling if it fails or stops early."""
        try:
            async for state in self._stream(task):
                yield state
                if state.get("status") in ("SUCCEEDED", "FAILED", "CANCELED", "EXPIRED"):
                    return
            log.info("Meshy's stream for %s ended before the task did; polling", task.id)
        except _StreamBroken as exc:
            log.info("Meshy's stream for %s broke (%s); polling", task.id, exc)
        while True:
            state = await self.request("GET", task.path)
            if not isinstance(state, dict):
                raise unavailable(self.name, "bad_output", "Meshy's task answer is not an object")
            yield state
            if state.get("status") in ("SUCCEEDED", "FAILED", "CANCELED", "EXPIRED"):
                return
            await _sleep(self.poll_seconds)

    async def _stream(self, task: MeshyTask) -> AsyncIterator[dict[str, Any]]:
        url = f"{self.base_url}{task.path}/stream"
        headers = {**self.headers(url), "Accept": "text/event-stream"}
        timeout = httpx.Timeout(self.timeout_seconds, read=self.stream_idle_seconds)
        try:
            async with self.stream_client() as client, \
                    client.stream("GET", url, headers=headers, timeout=timeout) as response:
                if response.status_code in (401, 402, 403, 404):
                    await response.aread()
                    raise self.error(response, url)
                if response.status_code != 200:
                    raise _StreamBroken(f"status {response.status_code}")
                async for event in sse_events(response.aiter_lines()):
                    try:
                        data = json.loads(event.data)
                    except ValueError:
                        continue
                    if event.event == "error":
                        if isinstance(data, dict) and data.get("status_code") == 404:
                            raise unavailable(self.name, "not_found", f"Meshy has no task {task.id}: "
                                              f"{data.get('message')}", status=404)
                        raise _StreamBroken(f"error event: {str(data)[:200]}")
                    if isinstance(data, dict) and "status" in data:
                        yield data
        except httpx.HTTPError as exc:
            raise _StreamBroken(f"{type(exc).__name__}: {exc}") from exc

    # --- results --------------------------------------------------------------------------

    async def assets(self, task_id: str) -> list[Asset]:
        task = MeshyTask.parse(task_id)
        state = await self.request("GET", task.path)
        if not isinstance(state, dict) or state.get("status") != "SUCCEEDED":
            status = state.get("status") if isinstance(state, dict) else None
            raise unavailable(self.name, "bad_request", f"Meshy task {task.id} has no assets: it is {status}",
                              status=status)
        return task_assets(state)

    async def download(self, asset: Asset) -> bytes:
        return await self.fetch_limited(asset.url)

    async def cancel(self, task_id: str) -> None:
        """Delete the task: Meshy offers no other way to stop one. Already gone is fine."""
        task = MeshyTask.parse(task_id)
        try:
            await self.request("DELETE", task.path)
        except Exception as exc:
            if getattr(exc, "details", {}).get("reason") != "not_found":
                raise


class _StreamBroken(Exception):
    """The event stream failed in a way polling can get past (5xx, 429, cut, timeout)."""


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def task_assets(state: dict[str, Any]) -> list[Asset]:
    """A succeeded task's files: every model format given, the textures, the thumbnail."""
    out: list[Asset] = []
    for kind, url in (state.get("model_urls") or {}).items():
        if isinstance(url, str) and url:
            out.append(Asset(kind, url, asset_filename(url, f"model.{kind}")))
    for n, maps in enumerate(state.get("texture_urls") or []):
        for role, url in (maps or {}).items():
            if isinstance(url, str) and url:
                fallback = f"texture_{n}.png" if role == "base_color" else f"texture_{n}_{role}.png"
                out.append(Asset("texture", url, asset_filename(url, fallback), role))
    if isinstance(state.get("thumbnail_url"), str) and state["thumbnail_url"]:
        out.append(Asset("thumbnail", state["thumbnail_url"], asset_filename(state["thumbnail_url"], "preview.png")))
    return out


@register("generator_3d", "meshy")
def _meshy(build: Build) -> MeshyGenerator | NoGenerator:
    g = build.settings.generate3d
    key = g.meshy_api_key.get_secret_value()
    if not key:
        return NoGenerator("meshy", "Meshy is not configured: set generate3d.meshy_api_key (a key from "
                                    "https://www.meshy.ai/settings/api)")
    return MeshyGenerator(api_key=key, base_url=g.meshy_base_url, ai_model=g.meshy_ai_model,
                          timeout_seconds=g.timeout_seconds, poll_seconds=g.poll_seconds, max_retries=g.max_retries,
                          max_retry_after_seconds=g.max_retry_after_seconds,
                          max_asset_bytes=int(g.max_asset_mb * 1024 * 1024))
