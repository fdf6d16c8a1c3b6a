"""Hunyuan3D-2: the real client (boda.ai.hunyuan3d) against a real local server speaking its api_server protocol."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from typing import Any

import pytest

from boda.ai.generate3d import GenerationRequest, GenerationUnavailable, Generator3D, TaskProgress, run_sync
from boda.ai.hunyuan3d import Hunyuan3DGenerator, estimate, parse_task
from boda.ai.registry import Providers
from boda.core.config import Settings
from boda.core.errors import InvalidInput
from tests.ai.hunyuan3d_server import Hunyuan3DServer, box_glb
from tests.ai.meshy_server import serving
from tests.conftest import png_bytes


@pytest.fixture(scope="module")
def server() -> Iterator[Hunyuan3DServer]:
    with serving(Hunyuan3DServer()) as running:
        yield running


@pytest.fixture
def hy(server: Hunyuan3DServer) -> Hunyuan3DServer:
    server.reset()
    server.api_key = ""
    return server


def client(server: Hunyuan3DServer, **overrides: Any) -> Hunyuan3DGenerator:
    options: dict[str, Any] = {"base_url": server.url, "timeout_seconds": 5.0, "poll_seconds": 0.01,
                               "task_timeout_seconds": 30.0}
    return Hunyuan3DGenerator(**{**options, **overrides})


def generate(gen: Generator3D, request: GenerationRequest) -> tuple[str, list[TaskProgress]]:
    async def go() -> tuple[str, list[TaskProgress]]:
        task_id = await gen.start(request)
        return task_id, [p async for p in gen.watch(task_id)]

    return run_sync(go())


def model_of(gen: Generator3D, task_id: str) -> bytes:
    async def go() -> bytes:
        (asset,) = await gen.assets(task_id)
        assert asset.kind == "glb" and asset.filename == "model.glb"
        return await gen.download(asset)

    return run_sync(go())


def test_text_to_3d_with_texture(hy: Hunyuan3DServer) -> None:
    import trimesh

    hy.seconds = 0.1
    gen = client(hy)
    assert isinstance(gen, Generator3D) and gen.fidelity == "high"
    task_id, steps = generate(gen, GenerationRequest("a red toy fire truck", options={"seed": 7, "face_count": 5000,
                                                                                      "ignored": 1}))
    body = hy.requests[0]["body"]
    assert body == {"text": "a red toy fire truck", "texture": True, "type": "glb", "seed": 7, "face_count": 5000}
    assert steps[0].status == "in_progress" and steps[0].estimated
    assert steps[-1].status == "succeeded" and steps[-1].progress == 100 and steps[-1].final
    assert [p.progress for p in steps] == sorted(p.progress for p in steps)
    data = model_of(gen, task_id)
    assert data == box_glb(painted=True)
    mesh = trimesh.load(io.BytesIO(data), file_type="glb", force="mesh")
    assert mesh.bounds[1][1] - mesh.bounds[0][1] == pytest.approx(2.0)


def test_image_to_3d_sends_the_image_in_base64(hy: Hunyuan3DServer) -> None:
    image = png_bytes()
    task_id, steps = generate(client(hy), GenerationRequest(image=image, refine=False))
    body = hy.requests[0]["body"]
    assert base64.b64decode(body["image"]) == image and body["texture"] is False and "text" not in body
    assert steps[-1].status == "succeeded"
    assert model_of(client(hy), task_id) == box_glb(painted=False)


def test_retexture_sends_the_mesh_to_paint(hy: Hunyuan3DServer) -> None:
    mesh = box_glb(painted=False)
    task_id, steps = generate(client(hy), GenerationRequest("gold", operation="retexture", model=mesh))
    body = hy.requests[0]["body"]
    assert base64.b64decode(body["mesh"]) == mesh and body["texture"] is True
    assert steps[-1].status == "succeeded"


def test_a_generation_that_never_finishes_fails_at_the_deadline(hy: Hunyuan3DServer) -> None:
    hy.plans.append({"never": True})
    began = time.monotonic()
    _, steps = generate(client(hy, task_timeout_seconds=0.3), GenerationRequest("a cube"))
    assert 0.3 <= time.monotonic() - began < 5
    assert steps[-1].status == "failed" and "hunyuan3d_timeout_seconds" in (steps[-1].message or "")


def test_the_deadline_counts_from_the_start_across_a_restart(hy: Hunyuan3DServer) -> None:
    hy.plans.append({"never": True})
    task_id = run_sync(client(hy).start(GenerationRequest("a cube")))
    uid, started = parse_task(task_id)
    stale = f"{uid}@{started - 100}"  # stored 100 s ago, then the server restarted
    steps = run_sync(_drain(client(hy, task_timeout_seconds=50), stale))
    assert [p.status for p in steps] == ["failed"]


async def _drain(gen: Generator3D, task_id: str) -> list[TaskProgress]:
    return [p async for p in gen.watch(task_id)]


def test_an_error_status_ends_the_watch_with_its_message(hy: Hunyuan3DServer) -> None:
    hy.plans.append({"error": "Failed to read generated file"})
    _, steps = generate(client(hy), GenerationRequest("a cube"))
    assert steps[-1].status == "failed" and steps[-1].message == "Failed to read generated file"
    assert len([r for r in hy.requests if r["path"].startswith("/status/")]) == 1  # an answer, not retried


def test_a_texturing_state_is_shown_as_the_stage(hy: Hunyuan3DServer) -> None:
    hy.plans.append({"seconds": 0.3, "texturing": 0.2})
    _, steps = generate(client(hy), GenerationRequest("a cube"))
    assert [p.stage for p in steps if p.status == "in_progress"][-1] == "texturing"
    assert steps[0].stage == "generate" and steps[-1].status == "succeeded"


def test_an_unfinished_task_has_no_model_yet(hy: Hunyuan3DServer) -> None:
    hy.seconds = 30
    gen = client(hy)
    task_id = run_sync(gen.start(GenerationRequest("a cube")))
    with pytest.raises(GenerationUnavailable) as caught:
        model_of(gen, task_id)
    assert caught.value.details["reason"] == "bad_request"


def test_a_model_over_the_limit_is_refused(hy: Hunyuan3DServer) -> None:
    gen = client(hy, max_asset_bytes=200)
    task_id, _ = generate(gen, GenerationRequest("a cube"))
    with pytest.raises(GenerationUnavailable) as caught:
        model_of(gen, task_id)
    assert caught.value.details["reason"] == "too_large"


def test_a_proxy_key_is_sent_and_a_wrong_one_is_a_clear_error(hy: Hunyuan3DServer) -> None:
    hy.api_key = "proxy-secret"
    with pytest.raises(GenerationUnavailable) as caught:
        run_sync(client(hy).start(GenerationRequest("a cube")))
    assert caught.value.details["reason"] == "auth" and "generate3d.hunyuan3d_api_key" in caught.value.message
    _, steps = generate(client(hy, api_key="proxy-secret"), GenerationRequest("a cube"))
    assert steps[-1].status == "succeeded"


def test_a_server_that_is_down_says_so() -> None:
    from tests.ai.openai_server import free_port

    gen = Hunyuan3DGenerator(base_url=f"http://127.0.0.1:{free_port()}", max_retries=1, timeout_seconds=2)
    with pytest.raises(GenerationUnavailable) as caught:
        run_sync(gen.start(GenerationRequest("a cube")))
    assert caught.value.details["reason"] == "down"


def test_what_the_server_cannot_do_is_refused_before_sending(hy: Hunyuan3DServer) -> None:
    gen = client(hy)
    for request in (GenerationRequest(""), GenerationRequest("a", operation="remesh"),
                    GenerationRequest("gold", operation="retexture")):
        with pytest.raises(InvalidInput):
            run_sync(gen.start(request))
    assert not hy.requests
    with pytest.raises(InvalidInput):
        parse_task("no-start-time")


def test_the_estimate_rises_and_never_claims_done() -> None:
    values = [estimate(t) for t in (0, 10, 60, 300, 10_000)]
    assert values == sorted(values) and values[0] == 0 and values[-1] == 95


def test_the_registry_builds_hunyuan3d_from_settings(hy: Hunyuan3DServer) -> None:
    off = Providers(Settings()).generator_3d("hunyuan3d")
    assert off.available is False and "generate3d.hunyuan3d_url" in off.reason
    on = Providers(Settings(generate3d={"provider": "hunyuan3d", "hunyuan3d_url": hy.url,
                                        "poll_seconds": 0.01})).generator_3d()
    assert isinstance(on, Hunyuan3DGenerator)
    _, steps = generate(on, GenerationRequest("a cube"))
    assert steps[-1].status == "succeeded"
