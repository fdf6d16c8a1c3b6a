"""A real HTTP server speaking Meshy's documented API, for testing the real client (boda.ai.meshy).

Endpoints as docs.meshy.ai describes them: `POST /openapi/v2/text-to-3d` (mode preview, then
refine with `preview_task_id`), `POST /openapi/v1/image-to-3d`, `/openapi/v1/remesh`,
`/openapi/v1/retexture`; for each `GET <endpoint>/<id>` (the task object), `GET .../<id>/stream`
(server-sent events: `event: message` with `{id, progress, status}` while running and the whole
task at the end; `event: error` with `{status_code, message}` for an unknown task) and
`DELETE .../<id>`. Every call needs `Authorization: Bearer <api_key>` (401 `{"message"}` else);
creates answer 202 `{"result": id}`.

A task advances `steps` states, one every `step_seconds` from its creation: PENDING 0, then
IN_PROGRESS, then SUCCEEDED 100 (`step_seconds = 0`: done at once; the stream still sends
every state). Assets are real bytes served at signed-looking URLs without the key, on
`asset_host` (another name for this server, so tests see the key is not sent there): a GLB,
OBJ+MTL and STL made with trimesh from a box, PNG textures and thumbnail. FBX and USDZ are
placeholder bytes with the right magic (the client treats assets as opaque bytes).

Scripted failures: `script` holds one step per coming API request (`{"status": 429,
"headers": {"Retry-After": "0"}}`, `{"status": 500}`; `"path"` limits a step to requests for
exactly that path); `plans` one per coming task: `{"fail": "message"}` ends FAILED with that
`task_error`, `{"cut_after": n}` ends every stream of the task after n events with no terminal
state, `{"abort_after": n}` drops the connection there instead (an unfinished chunked body),
`{"stream_status": 500}` answers its stream with that status, `{"missing_assets": True}`
answers its asset URLs 404 (expired), `{"steps": n}` overrides the step count.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.ai.openai_server import free_port

ENDPOINTS = {"text-to-3d": "/openapi/v2/text-to-3d", "image-to-3d": "/openapi/v1/image-to-3d",
             "remesh": "/openapi/v1/remesh", "retexture": "/openapi/v1/retexture"}
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELED")


def box_files() -> dict[str, bytes]:
    """Real model files of a 1 x 1 x 1 box: GLB, OBJ (naming its MTL), MTL (naming its texture), STL, PNGs."""
    import trimesh
    from PIL import Image

    mesh = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    mesh.visual.face_colors = [200, 30, 30, 255]
    obj = "mtllib model.mtl\nusemtl material_0\n" + trimesh.exchange.obj.export_obj(mesh, include_color=False)
    mtl = "newmtl material_0\nKd 1.0 1.0 1.0\nmap_Kd texture_0.png\n"

    def png(color: tuple[int, int, int], size: int = 16) -> bytes:
        out = io.BytesIO()
        Image.new("RGB", (size, size), color).save(out, format="PNG")
        return out.getvalue()

    return {
        "model.glb": mesh.export(file_type="glb"),
        "model.obj": obj.encode(),
        "model.mtl": mtl.encode(),
        "model.stl": mesh.export(file_type="stl"),
        "model.fbx": b"Kaydara FBX Binary  \x00\x1a\x00" + b"\x00" * 64,  # placeholder, opaque to the client
        "model.usdz": b"PK\x03\x04" + b"\x00" * 64,  # placeholder zip header, opaque to the client
        "texture_0.png": png((200, 30, 30)),
        "texture_0_metallic.png": png((0, 0, 0)),
        "texture_0_roughness.png": png((128, 128, 128)),
        "texture_0_normal.png": png((128, 128, 255)),
        "preview.png": png((240, 240, 240), 64),
    }


class MeshyServer:
    def __init__(self, api_key: str = "msy_test_key", *, steps: int = 4, step_seconds: float = 0.0,
                 asset_host: str = "localhost") -> None:
        self.api_key = api_key
        self.steps = steps
        self.step_seconds = step_seconds
        self.asset_host = asset_host
        self.tasks: dict[str, dict[str, Any]] = {}
        self.plans: list[dict[str, Any]] = []
        self.script: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.asset_requests: list[dict[str, Any]] = []
        self.files = box_files()
        self.url = ""
        self.port = 0
        routes = [Route("/assets/{task_id}/{filename}", self.asset, methods=["GET"])]
        for kind, path in ENDPOINTS.items():
            routes += [
                Route(path, self._bind(self.create, kind), methods=["POST"]),
                Route(path + "/{task_id}", self._bind(self.retrieve, kind), methods=["GET", "DELETE"]),
                Route(path + "/{task_id}/stream", self._bind(self.stream, kind), methods=["GET"]),
            ]
        self.app = Starlette(routes=routes)

    def reset(self) -> None:
        self.tasks.clear()
        self.plans.clear()
        self.script.clear()
        self.requests.clear()
        self.asset_requests.clear()

    @staticmethod
    def _bind(handler: Any, kind: str) -> Any:
        async def endpoint(request: Request) -> Response:
            return await handler(request, kind)

        return endpoint

    def created(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The create calls received (their JSON bodies), optionally of one endpoint kind."""
        return [r["body"] for r in self.requests
                if r["method"] == "POST" and (kind is None or r["path"] == ENDPOINTS[kind])]

    # --- plumbing -------------------------------------------------------------------------

    async def _gate(self, request: Request) -> Response | None:
        """Record the call; answer 401 for a bad key and play the next scripted failure."""
        body = None
        if request.method == "POST":
            try:
                body = await request.json()
            except ValueError:
                return _error(400, "Invalid JSON body")
        self.requests.append({"method": request.method, "path": request.url.path, "body": body,
                              "headers": dict(request.headers)})
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "Invalid API key")
        for n, step in enumerate(self.script):
            if step.get("path", request.url.path) == request.url.path:
                self.script.pop(n)
                if step.get("sleep"):
                    await asyncio.sleep(step["sleep"])
                return _error(step["status"], step.get("message", "scripted failure"), step.get("headers"))
        return None

    def _state(self, task: dict[str, Any], k: int | None = None) -> dict[str, Any]:
        """The task object at step k (default: now)."""
        steps = task["steps"]
        if k is None:
            elapsed = time.monotonic() - task["created"]
            k = steps if self.step_seconds <= 0 else min(steps, int(elapsed / self.step_seconds))
        base = {"id": task["id"], "type": task["type"], "created_at": task["created_at"],
                "preceding_tasks": 0, "task_error": {"message": ""}, **task["echo"]}
        if k <= 0:
            return {**base, "status": "PENDING", "progress": 0, "started_at": 0, "finished_at": 0,
                    "model_urls": {}, "texture_urls": [], "thumbnail_url": ""}
        if k < steps:
            return {**base, "status": "IN_PROGRESS", "progress": k * 100 // steps, "started_at": task["created_at"],
                    "finished_at": 0, "model_urls": {}, "texture_urls": [], "thumbnail_url": ""}
        if task["plan"].get("fail"):
            return {**base, "status": "FAILED", "progress": (steps - 1) * 100 // steps,
                    "started_at": task["created_at"], "finished_at": task["created_at"] + 1000,
                    "task_error": {"message": task["plan"]["fail"]}, "model_urls": {}, "texture_urls": [],
                    "thumbnail_url": ""}
        origin = f"http://{self.asset_host}:{self.port}/assets/{task['id']}"
        signed = "?Expires=4102444800&Signature=test"
        formats = task.get("formats") or ["glb", "fbx", "obj", "mtl", "usdz"]
        textured = task["textured"]
        return {**base, "status": "SUCCEEDED", "progress": 100, "started_at": task["created_at"],
                "finished_at": task["created_at"] + 1000,
                "model_urls": {f: f"{origin}/model.{f}{signed}" for f in formats},
                "texture_urls": [{role: f"{origin}/{name}{signed}" for role, name in (
                    ("base_color", "texture_0.png"), ("metallic", "texture_0_metallic.png"),
                    ("roughness", "texture_0_roughness.png"), ("normal", "texture_0_normal.png"))}]
                if textured else [],
                "thumbnail_url": f"{origin}/preview.png{signed}"}

    # --- endpoints ------------------------------------------------------------------------

    async def create(self, request: Request, kind: str) -> Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        body = self.requests[-1]["body"] or {}
        task_type, textured, echo, formats = kind, True, {}, None
        if kind == "text-to-3d":
            if body.get("mode") == "preview":
                prompt = body.get("prompt")
                if not isinstance(prompt, str) or not prompt:
                    return _error(400, "prompt is required")
                if len(prompt) > 600:
                    return _error(400, "prompt must be at most 600 characters")
                task_type, textured, echo = "text-to-3d-preview", False, {"prompt": prompt}
            elif body.get("mode") == "refine":
                preview = self.tasks.get(str(body.get("preview_task_id")))
                if preview is None or preview["type"] != "text-to-3d-preview":
                    return _error(400, "preview_task_id is not a preview task")
                if self._state(preview)["status"] != "SUCCEEDED":
                    return _error(400, "The preview task has not succeeded")
                task_type, echo = "text-to-3d-refine", {"prompt": preview["echo"]["prompt"]}
            else:
                return _error(400, "mode must be preview or refine")
        elif kind == "image-to-3d":
            if not str(body.get("image_url", "")).startswith(("http", "data:image/")):
                return _error(400, "image_url is required")
            textured = body.get("should_texture", True)
        elif kind in ("remesh", "retexture"):
            source = body.get("input_task_id")
            if source is not None and (source not in self.tasks or self._state(self.tasks[source])["status"]
                                       != "SUCCEEDED"):
                return _error(400, "input_task_id is not a succeeded task")
            if source is None and not str(body.get("model_url", "")).startswith(("http", "data:")):
                return _error(400, "input_task_id or model_url is required")
            if kind == "retexture" and not (body.get("text_style_prompt") or body.get("image_style_url")):
                return _error(400, "text_style_prompt or image_style_url is required")
            if kind == "remesh":
                formats = list(body.get("target_formats") or ["glb"])
                textured = False
        plan = self.plans.pop(0) if self.plans else {}
        task_id = str(uuid.uuid4())
        self.tasks[task_id] = {"id": task_id, "kind": kind, "type": task_type, "created": time.monotonic(),
                               "created_at": int(time.time() * 1000), "plan": plan, "echo": echo,
                               "textured": textured, "formats": formats, "steps": plan.get("steps", self.steps)}
        return JSONResponse({"result": task_id}, status_code=202)

    async def retrieve(self, request: Request, kind: str) -> Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        task = self.tasks.get(request.path_params["task_id"])
        if task is None or task["kind"] != kind:
            return _error(404, "Task not found")
        if request.method == "DELETE":
            del self.tasks[task["id"]]
            return Response(status_code=200)
        return JSONResponse(self._state(task))

    async def stream(self, request: Request, kind: str) -> Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        task = self.tasks.get(request.path_params["task_id"])
        if task is not None and task["plan"].get("stream_status"):
            return _error(task["plan"]["stream_status"], "scripted stream failure")
        return StreamingResponse(self._events(task), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    async def _events(self, task: dict[str, Any] | None) -> AsyncIterator[bytes]:
        if task is None or task["id"] not in self.tasks:
            yield _event("error", {"status_code": 404, "message": "Task not found"})
            return
        cut = task["plan"].get("cut_after")
        for k in range(task["steps"] + 1):
            if cut is not None and k >= cut:
                return  # the server ends the body before the task ends
            if task["plan"].get("abort_after") is not None and k >= task["plan"]["abort_after"]:
                raise ConnectionError("scripted break")  # uvicorn drops the connection mid-body
            wait = task["created"] + k * self.step_seconds - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if task["id"] not in self.tasks:  # deleted meanwhile
                yield _event("error", {"status_code": 404, "message": "Task not found"})
                return
            state = self._state(task, k)
            if state["status"] in TERMINAL:
                yield _event("message", state)
                return
            yield _event("message", {"id": task["id"], "progress": state["progress"], "status": state["status"]})

    async def asset(self, request: Request) -> Response:
        self.asset_requests.append({"path": request.url.path, "headers": dict(request.headers),
                                    "host": request.url.hostname})
        task = self.tasks.get(request.path_params["task_id"])
        name = request.path_params["filename"]
        if task is None or task["plan"].get("missing_assets") or name not in self.files:
            return Response(b"<Error><Code>NoSuchKey</Code></Error>", status_code=404, media_type="application/xml")
        return Response(self.files[name], media_type="application/octet-stream")


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status, headers=headers)


@contextmanager
def serving(server: Any) -> Iterator[Any]:
    """A server object with an `app` on a free port in a thread, until the block ends; sets its url and port."""
    import threading

    import uvicorn

    port = free_port()
    config = uvicorn.Config(server.app, host="127.0.0.1", port=port, log_level="critical", lifespan="off")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    server.url = f"http://127.0.0.1:{port}"
    server.port = port
    try:
        yield server
    finally:
        running.should_exit = True
        thread.join(timeout=10)


def main() -> None:
    """Serve on a port in this process (benches run it apart, so their own thread counts are the client's)."""
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--step-seconds", type=float, default=0.0)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--api-key", default="msy_test_key")
    args = parser.parse_args()
    server = MeshyServer(args.api_key, steps=args.steps, step_seconds=args.step_seconds, asset_host="127.0.0.1")
    server.port = args.port
    server.url = f"http://127.0.0.1:{args.port}"
    uvicorn.run(server.app, host="127.0.0.1", port=args.port, log_level="warning", lifespan="off",
                backlog=2048, timeout_keep_alive=30)


if __name__ == "__main__":
    main()
