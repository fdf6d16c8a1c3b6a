"""A self-hosted Hunyuan3D-2 `api_server.py` (github.com/Tencent/Hunyuan3D-2) as a `Generator3D`.

What this follows, read in that repository's `api_server.py` (FastAPI, default port 8081):

- `POST /send` with a JSON object starts a generation in a thread and answers `{"uid": "<uuid>"}`.
  Fields the worker reads: `image` (base64 of an image; else `text`, drawn first by
  HunyuanDiT), `mesh` (base64 GLB: skip shape generation and only paint it), `texture` (bool:
  paint with Hunyuan3D-Paint), `seed` (1234), `octree_resolution` (128),
  `num_inference_steps` (5), `guidance_scale` (5.0), `face_count` (40000, before painting),
  `type` (the file written; `/status` only looks for `.glb`, so always glb here).
- `GET /status/{uid}` answers `{"status": "processing"}` until `<uid>.glb` exists, then
  `{"status": "completed", "model_base64": "<the GLB>"}`. Nothing else: no progress, no error
  state (a generation that raised stays "processing" for ever, as does an unknown uid), no
  cancel, no authentication. So progress here is an estimate from the time elapsed
  (`estimated` True), and a task still processing after `generate3d.hunyuan3d_timeout_seconds`
  is reported failed.
- Hunyuan3D-2.1's api_server speaks the same with more states: `"texturing"` (shown as the
  stage), `{"status": "error", "message"}` with a 500 (a failed task), `initial_model_base64`
  (ignored); its `/send` takes images only (a text-only request is its 422, `bad_request`).
- `POST /generate` does the same synchronously and answers the file: not used, a request
  would be held open for minutes.

The stored task id is `<uid>@<unix start time>`, so the deadline survives a restart.
An optional bearer key is sent for a reverse proxy in front of the server.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import time
from collections.abc import AsyncIterator
from typing import Any

from boda.ai.generate3d import (
    Asset,
    GenerationRequest,
    HttpProvider,
    NoGenerator,
    TaskProgress,
    unavailable,
)
from boda.ai.registry import Build, register
from boda.core.errors import InvalidInput

# The time constant of the progress estimate: about 63 % after it, 95 % at most until done.
ESTIMATE_SECONDS = 90.0
PASSED = ("seed", "octree_resolution", "num_inference_steps", "guidance_scale", "face_count")


def parse_task(task_id: str) -> tuple[str, float]:
    uid, _, started = task_id.partition("@")
    try:
        return uid, float(started)
    except ValueError:
        raise InvalidInput("Not a Hunyuan3D task id", details={"task_id": task_id[:200]}) from None


def estimate(elapsed: float) -> int:
    return min(95, int(100 * (1 - math.exp(-max(0.0, elapsed) / ESTIMATE_SECONDS))))


class Hunyuan3DGenerator(HttpProvider):
    """The api_server's /send and /status through one httpx.AsyncClient per event loop."""

    fidelity = "high"

    def __init__(self, *, base_url: str, api_key: str = "", task_timeout_seconds: float = 1200.0,
                 timeout_seconds: float = 30.0, poll_seconds: float = 5.0, max_retries: int = 3,
                 max_retry_after_seconds: float = 60.0, max_asset_bytes: int = 200 * 1024 * 1024,
                 name: str = "hunyuan3d") -> None:
        if not base_url:
            raise InvalidInput("generate3d.hunyuan3d_url is empty")
        super().__init__(base_url=base_url, api_key=api_key, timeout_seconds=timeout_seconds,
                         poll_seconds=poll_seconds, max_retries=max_retries,
                         max_retry_after_seconds=max_retry_after_seconds, max_asset_bytes=max_asset_bytes,
                         key_setting="generate3d.hunyuan3d_api_key")
        self.name = name
        self.task_timeout_seconds = task_timeout_seconds

    @property
    def available(self) -> bool:
        return True

    @property
    def reason(self) -> str:
        return ""

    def send_body(self, request: GenerationRequest) -> dict[str, Any]:
        """The /send fields for a request; what this server cannot do is refused here, before anything is sent."""
        body: dict[str, Any] = {"texture": bool(request.refine), "type": "glb"}
        if request.operation == "remesh":
            raise InvalidInput("Hunyuan3D's api_server has no remesh; use Meshy or convert the stored model")
        if request.operation == "retexture":
            if request.model is None:
                raise InvalidInput("Retexturing with Hunyuan3D needs the model's GLB bytes")
            body["mesh"] = base64.b64encode(request.model).decode("ascii")
            body["texture"] = True
        if request.image is not None:
            body["image"] = base64.b64encode(request.image).decode("ascii")
        elif request.prompt.strip():
            body["text"] = request.prompt.strip()
        else:
            raise InvalidInput("Describe the model to make, or give an image: both are empty")
        body.update({key: request.options[key] for key in PASSED if key in request.options})
        return body

    async def start(self, request: GenerationRequest) -> str:
        body = self.send_body(request)
        answer = await self.request("POST", "/send", json=body)
        uid = answer.get("uid") if isinstance(answer, dict) else None
        if not isinstance(uid, str) or not uid:
            raise unavailable(self.name, "bad_output", "The Hunyuan3D server started a task but named none")
        return f"{uid}@{time.time():.3f}"

    async def _status(self, uid: str) -> dict[str, Any]:
        # A completed status carries the whole GLB in base64: read it under the asset limit (and its 4/3).
        # Hunyuan3D-2.1 answers 500 {"status": "error", "message"} when the result cannot be read: kept, read here.
        raw = await self.fetch_limited(f"{self.base_url}/status/{uid}", what="status",
                                       limit=self.max_asset_bytes * 4 // 3 + 4096, keep=(500,))
        try:
            state = json.loads(raw)
        except ValueError:
            state = None
        if not isinstance(state, dict) or not isinstance(state.get("status"), str):
            raise unavailable(self.name, "bad_output", "The Hunyuan3D server's status is not a status object: "
                              f"{raw[:200]!r}")
        return state

    def progress_of(self, task_id: str, state: dict[str, Any], last: TaskProgress | None = None) -> TaskProgress:
        """The server's status as Boda's progress: estimated from time, as the server reports none."""
        _, started = parse_task(task_id)
        status = str(state.get("status", ""))
        elapsed = time.time() - started
        if status == "completed":
            return TaskProgress(task_id, "succeeded", 100, "generate", None, 100)
        if status in ("error", "failed"):
            message = str(state.get("message") or "The Hunyuan3D server failed the task")
            return TaskProgress(task_id, "failed", last.progress if last else 0, "generate", message)
        if elapsed > self.task_timeout_seconds:
            return TaskProgress(task_id, "failed", last.progress if last else 0, "generate",
                                f"The Hunyuan3D server was still processing after {self.task_timeout_seconds:g} s "
                                "(generate3d.hunyuan3d_timeout_seconds); it reports no errors, so the "
                                "generation most likely failed there (see its log)")
        stage = "generate" if status in ("processing", "") else status  # newer servers name stages
        return TaskProgress(task_id, "in_progress", estimate(elapsed), stage, None, estimate(elapsed), estimated=True)

    async def poll(self, task_id: str) -> TaskProgress:
        """One look at the task: what a job that polls in short steps asks each time."""
        uid, _ = parse_task(task_id)
        return self.progress_of(task_id, await self._status(uid))

    async def watch(self, task_id: str) -> AsyncIterator[TaskProgress]:
        uid, _ = parse_task(task_id)
        last: TaskProgress | None = None
        while True:
            progress = self.progress_of(task_id, await self._status(uid), last)
            if progress.final:
                yield progress
                return
            if last is None or (progress.progress, progress.stage) != (last.progress, last.stage):
                last = progress
                yield progress
            await asyncio.sleep(self.poll_seconds)

    async def assets(self, task_id: str) -> list[Asset]:
        uid, _ = parse_task(task_id)
        return [Asset("glb", f"{self.base_url}/status/{uid}", "model.glb")]

    async def download(self, asset: Asset) -> bytes:
        """The GLB, decoded from the completed status (the only way this server gives it)."""
        uid = asset.url.rstrip("/").rsplit("/", 1)[-1]
        state = await self._status(uid)
        if state.get("status") != "completed" or not isinstance(state.get("model_base64"), str):
            raise unavailable(self.name, "bad_request", f"Hunyuan3D task {uid} has no model: it is "
                              f"{state.get('status')!r}", status=state.get("status"))
        try:
            data = base64.b64decode(state["model_base64"], validate=True)
        except (binascii.Error, ValueError):
            raise unavailable(self.name, "bad_output", "The Hunyuan3D server's model is not base64") from None
        if len(data) > self.max_asset_bytes:
            raise self._too_large(asset.url, len(data))
        if data[:4] != b"glTF":
            raise unavailable(self.name, "bad_output", "The Hunyuan3D server's model is not a GLB file")
        return data

    async def cancel(self, task_id: str) -> None:
        """The api_server has no cancel: its thread runs to the end. Boda only stops watching (the app's side)."""
        parse_task(task_id)


@register("generator_3d", "hunyuan3d")
def _hunyuan3d(build: Build) -> Hunyuan3DGenerator | NoGenerator:
    g = build.settings.generate3d
    if not g.hunyuan3d_url:
        return NoGenerator("hunyuan3d", "No Hunyuan3D server is configured: run Hunyuan3D-2's api_server.py and "
                                        "set generate3d.hunyuan3d_url (e.g. http://gpu-box:8081)")
    return Hunyuan3DGenerator(base_url=g.hunyuan3d_url, api_key=g.hunyuan3d_api_key.get_secret_value(),
                              task_timeout_seconds=g.hunyuan3d_timeout_seconds, timeout_seconds=g.timeout_seconds,
                              poll_seconds=g.poll_seconds, max_retries=g.max_retries,
                              max_retry_after_seconds=g.max_retry_after_seconds,
                              max_asset_bytes=int(g.max_asset_mb * 1024 * 1024))
