"""A real HTTP server speaking Hunyuan3D-2's `api_server.py` protocol, for testing boda.ai.hunyuan3d.

As in Tencent/Hunyuan3D-2's api_server.py: `POST /send` (JSON; answers 200 `{"uid"}` and
generates in the background), `GET /status/{uid}` (`{"status": "processing"}` until the GLB
exists, then `{"status": "completed", "model_base64"}`; an unknown uid, or a generation
that raised, stays "processing" for ever), `POST /generate` (the file at once; a 404
`{"text", "error_code": 1}` when it fails). No authentication unless `api_key` is set (a
proxy in front). The model is a real GLB made with trimesh (a box; painted red with
`texture`, white without; the given `mesh` itself when one is sent).

`seconds`: how long a generation takes. `plans` holds one entry per coming /send:
`{"never": True}` (it raised in the worker thread: processing for ever), `{"seconds": s}`,
`{"error": "..."}` (Hunyuan3D-2.1's 500 `{"status": "error", "message"}` once done),
`{"texturing": s}` (2.1's "texturing" state for the last s seconds).
"""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SERVER_ERROR = "**NETWORK ERROR DUE TO HIGH TRAFFIC. PLEASE REGENERATE OR REFRESH THIS PAGE.**"


def box_glb(painted: bool) -> bytes:
    import trimesh

    mesh = trimesh.creation.box(extents=(1.0, 2.0, 0.5))
    mesh.visual.face_colors = [200, 30, 30, 255] if painted else [255, 255, 255, 255]
    return bytes(mesh.export(file_type="glb"))


class Hunyuan3DServer:
    def __init__(self, *, seconds: float = 0.0, api_key: str = "") -> None:
        self.seconds = seconds
        self.api_key = api_key
        self.jobs: dict[str, dict[str, Any]] = {}
        self.plans: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.url = ""
        self.port = 0
        self.app = Starlette(routes=[Route("/send", self.send, methods=["POST"]),
                                     Route("/generate", self.generate, methods=["POST"]),
                                     Route("/status/{uid}", self.status, methods=["GET"])])

    def reset(self) -> None:
        self.jobs.clear()
        self.plans.clear()
        self.requests.clear()
        self.seconds = 0.0

    def _refused(self, request: Request) -> Response | None:
        if self.api_key and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse({"detail": "Unauthorized"}, status_code=401)
        return None

    def _model(self, params: dict[str, Any]) -> bytes | None:
        """What the worker would write, or None where it raises (no image and no text)."""
        if "image" not in params and "text" not in params:
            return None
        if "mesh" in params:
            return base64.b64decode(params["mesh"])
        return box_glb(bool(params.get("texture", False)))

    async def send(self, request: Request) -> Response:
        params = await request.json()
        self.requests.append({"path": "/send", "body": params, "headers": dict(request.headers)})
        if (refused := self._refused(request)) is not None:
            return refused
        uid = str(uuid.uuid4())
        plan = self.plans.pop(0) if self.plans else {}
        done_at = time.monotonic() + plan.get("seconds", self.seconds)
        self.jobs[uid] = {"params": params, "plan": plan, "done_at": done_at,
                          "model": None if plan.get("never") else self._model(params)}
        return JSONResponse({"uid": uid}, status_code=200)

    async def generate(self, request: Request) -> Response:
        params = await request.json()
        self.requests.append({"path": "/generate", "body": params, "headers": dict(request.headers)})
        if (refused := self._refused(request)) is not None:
            return refused
        model = self._model(params)
        if model is None:
            return JSONResponse({"text": SERVER_ERROR, "error_code": 1}, status_code=404)
        return Response(model, media_type="model/gltf-binary")

    async def status(self, request: Request) -> Response:
        self.requests.append({"path": request.url.path, "body": None, "headers": dict(request.headers)})
        if (refused := self._refused(request)) is not None:
            return refused
        job = self.jobs.get(request.path_params["uid"])
        now = time.monotonic()
        if job is not None and job["plan"].get("error") and now >= job["done_at"]:
            # Hunyuan3D-2.1: the files cannot be read -> 500 with an error status.
            return JSONResponse({"status": "error", "message": job["plan"]["error"]}, status_code=500)
        if job is not None and job["model"] is not None and job["done_at"] - job["plan"].get("texturing", 0) <= now \
                < job["done_at"]:
            return JSONResponse({"status": "texturing"})  # Hunyuan3D-2.1: the shape is done, painting goes on
        if job is None or job["model"] is None or now < job["done_at"]:
            return JSONResponse({"status": "processing"})
        return JSONResponse({"status": "completed", "model_base64": base64.b64encode(job["model"]).decode()})
