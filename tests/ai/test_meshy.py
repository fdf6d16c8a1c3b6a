"""Meshy: the real client (boda.ai.meshy) against a real local server speaking Meshy's documented API."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import pytest

from boda.ai.generate3d import (
    GenerationRateLimited,
    GenerationRequest,
    GenerationUnavailable,
    Generator3D,
    TaskProgress,
    run_sync,
)
from boda.ai.meshy import MeshyGenerator, MeshyTask
from boda.ai.registry import Providers
from boda.core.config import Settings
from boda.core.errors import InvalidInput
from tests.ai.meshy_server import MeshyServer, serving
from tests.conftest import png_bytes


@pytest.fixture(scope="module")
def server() -> Iterator[MeshyServer]:
    with serving(MeshyServer()) as running:
        yield running


@pytest.fixture
def meshy(server: MeshyServer) -> MeshyServer:
    server.reset()
    server.step_seconds = 0.0
    return server


def client(server: MeshyServer, **overrides: Any) -> MeshyGenerator:
    options: dict[str, Any] = {"api_key": server.api_key, "base_url": server.url, "timeout_seconds": 5.0,
                               "poll_seconds": 0.01, "max_retries": 3, "max_retry_after_seconds": 5.0}
    return MeshyGenerator(**{**options, **overrides})


def watched(gen: Generator3D, task_id: str) -> list[TaskProgress]:
    async def go() -> list[TaskProgress]:
        return [p async for p in gen.watch(task_id)]

    return run_sync(go())


def generate(gen: Generator3D, request: GenerationRequest) -> tuple[str, list[TaskProgress]]:
    async def go() -> tuple[str, list[TaskProgress]]:
        task_id = await gen.start(request)
        return task_id, [p async for p in gen.watch(task_id)]

    return run_sync(go())


def failure(call: Any) -> BaseException:
    with pytest.raises(Exception) as caught:
        run_sync(call)
    return caught.value


def test_text_to_3d_runs_the_preview_then_the_refine_and_names_both_tasks(meshy: MeshyServer) -> None:
    gen = client(meshy)
    assert isinstance(gen, Generator3D) and gen.fidelity == "high"
    request = GenerationRequest("a red toy fire truck", negative_prompt="low poly", art_style="realistic",
                                options={"enable_pbr": True, "topology": "quad"})
    task_id, steps = generate(gen, request)

    preview, refine = meshy.created("text-to-3d")
    assert preview == {"mode": "preview", "prompt": "a red toy fire truck", "ai_model": "latest",
                       "art_style": "realistic", "negative_prompt": "low poly", "topology": "quad"}
    assert refine == {"mode": "refine", "preview_task_id": MeshyTask.parse(task_id).id, "ai_model": "latest",
                      "enable_pbr": True}
    ids = list(dict.fromkeys(p.task_id for p in steps))
    assert ids[0] == task_id and len(ids) == 2 and ids[1].startswith("text-to-3d:refine/")
    assert {p.stage for p in steps if p.task_id == ids[1]} == {"refine"}
    assert {p.stage for p in steps if p.task_id == ids[0]} == {"preview"}
    progress = [p.progress for p in steps]
    assert progress == sorted(progress) and progress[0] == 0 and progress[-1] == 100
    assert any(0 < p < 50 for p in progress) and any(50 < p < 100 for p in progress)
    assert [p.final for p in steps].count(True) == 1 and steps[-1].status == "succeeded"
    assert all(p.status != "succeeded" for p in steps[:-1])  # the preview's success is only half the generation
    # Progress came from the event stream, not from polling the task.
    paths = [r["path"] for r in meshy.requests if r["method"] == "GET"]
    assert all(path.endswith("/stream") for path in paths) and len(paths) == 2


def test_assets_are_downloaded_whole_and_without_the_key(meshy: MeshyServer) -> None:
    import trimesh

    gen = client(meshy)
    _, steps = generate(gen, GenerationRequest("a chair"))

    async def fetch() -> tuple[list[Any], dict[str, bytes]]:
        assets = await gen.assets(steps[-1].task_id)
        return assets, {a.filename: await gen.download(a) for a in assets}

    assets, files = run_sync(fetch())
    kinds = sorted(a.kind for a in assets)
    assert kinds == sorted(["glb", "fbx", "obj", "mtl", "usdz", "texture", "texture", "texture", "texture",
                            "thumbnail"])
    assert {a.role for a in assets if a.kind == "texture"} == {"base_color", "metallic", "roughness", "normal"}
    assert files == {name: meshy.files[name] for name in files}  # byte for byte, names as the provider gave
    assert "texture_0.png" in files and "model.mtl" in files
    mesh = trimesh.load(io.BytesIO(files["model.glb"]), file_type="glb", force="mesh")
    assert len(mesh.faces) == 12
    # Signed asset URLs are another host: the API key never goes there.
    assert meshy.asset_requests and all(r["host"] == "localhost" for r in meshy.asset_requests)
    assert all("authorization" not in r["headers"] for r in meshy.asset_requests)


def test_without_refine_the_preview_is_the_whole_generation(meshy: MeshyServer) -> None:
    task_id, steps = generate(client(meshy), GenerationRequest("a mug", refine=False))
    assert len(meshy.created()) == 1 and "#" not in task_id
    assert {p.task_id for p in steps} == {task_id}
    assert steps[-1].status == "succeeded" and steps[-1].progress == 100 and steps[-1].stage == "preview"


def test_a_stream_that_stops_half_way_falls_back_to_polling(meshy: MeshyServer) -> None:
    meshy.plans.append({"cut_after": 2})
    task_id, steps = generate(client(meshy), GenerationRequest("a lamp", refine=False))
    assert steps[-1].status == "succeeded" and steps[-1].progress == 100
    gets = [r["path"] for r in meshy.requests if r["method"] == "GET"]
    assert gets[0].endswith("/stream") and gets[-1] == f"/openapi/v2/text-to-3d/{MeshyTask.parse(task_id).id}"


def test_a_stream_whose_connection_drops_falls_back_to_polling(meshy: MeshyServer) -> None:
    meshy.plans.append({"abort_after": 2})
    _, steps = generate(client(meshy), GenerationRequest("a lamp", refine=False))
    assert [p.progress for p in steps] == [0, 25, 100] and steps[-1].status == "succeeded"
    assert [r["path"].endswith("/stream") for r in meshy.requests if r["method"] == "GET"] == [True, False]


def test_a_stream_that_fails_falls_back_to_polling(meshy: MeshyServer) -> None:
    meshy.plans.append({"stream_status": 503})
    _, steps = generate(client(meshy), GenerationRequest("a lamp", refine=False))
    assert steps[-1].status == "succeeded"


def test_progress_over_time_is_relayed_as_it_happens(meshy: MeshyServer) -> None:
    meshy.step_seconds = 0.05
    gen = client(meshy)
    seen: list[tuple[float, int]] = []

    async def go() -> None:
        task_id = await gen.start(GenerationRequest("a boat", refine=False))
        began = time.monotonic()
        async for p in gen.watch(task_id):
            seen.append((time.monotonic() - began, p.progress))

    run_sync(go())
    assert [p for _, p in seen] == [0, 25, 50, 75, 100]
    assert seen[-1][0] >= 0.15  # events arrived spread over the task's life, not all at the end


def test_a_failed_task_ends_the_watch_with_meshys_message_and_no_refine(meshy: MeshyServer) -> None:
    meshy.plans.append({"fail": "The prompt could not be generated"})
    _, steps = generate(client(meshy), GenerationRequest("a ghost"))
    assert steps[-1].status == "failed" and steps[-1].final
    assert steps[-1].message == "The prompt could not be generated"
    assert len(meshy.created()) == 1


def test_a_bad_key_is_a_clear_error_at_once(meshy: MeshyServer) -> None:
    gen = client(meshy, api_key="msy_wrong")
    exc = failure(gen.start(GenerationRequest("a cube")))
    assert isinstance(exc, GenerationUnavailable) and exc.details["reason"] == "auth"
    assert "generate3d.meshy_api_key" in exc.message and exc.details["status"] == 401
    assert len(meshy.requests) == 1  # not retried


def test_429_waits_its_retry_after_and_then_succeeds(meshy: MeshyServer) -> None:
    meshy.script += [{"status": 429, "headers": {"Retry-After": "0.1"}, "message": "Too Many Requests"}] * 2
    began = time.monotonic()
    task_id = run_sync(client(meshy).start(GenerationRequest("a cube", refine=False)))
    assert MeshyTask.parse(task_id).kind == "text-to-3d:preview"
    assert time.monotonic() - began >= 0.2
    assert len(meshy.created()) == 3 and len(meshy.tasks) == 1  # three tries, one task


def test_retry_after_is_capped(meshy: MeshyServer) -> None:
    meshy.script.append({"status": 429, "headers": {"Retry-After": "3600"}})
    began = time.monotonic()
    run_sync(client(meshy, max_retry_after_seconds=0.05).start(GenerationRequest("a cube")))
    assert time.monotonic() - began < 2


def test_429_after_the_retries_is_rate_limited_with_its_retry_after(meshy: MeshyServer) -> None:
    meshy.script += [{"status": 429, "headers": {"Retry-After": "7"}}] * 3
    exc = failure(client(meshy, max_retries=2, max_retry_after_seconds=0.0).start(GenerationRequest("a cube")))
    assert isinstance(exc, GenerationRateLimited) and exc.details["retry_after"] == 7
    assert not meshy.tasks


def test_402_and_400_say_what_meshy_said(meshy: MeshyServer) -> None:
    meshy.script.append({"status": 402, "message": "Insufficient funds"})
    exc = failure(client(meshy).start(GenerationRequest("a cube")))
    assert isinstance(exc, GenerationUnavailable) and exc.details["reason"] == "payment"
    assert "Insufficient funds" in exc.message
    meshy.script.append({"status": 400, "message": "Invalid topology"})
    exc = failure(client(meshy).start(GenerationRequest("a cube")))
    assert exc.details["reason"] == "bad_request" and "Invalid topology" in exc.message


def test_a_5xx_while_polling_is_retried(meshy: MeshyServer) -> None:
    meshy.plans.append({"stream_status": 500})
    gen = client(meshy)
    task_id = run_sync(gen.start(GenerationRequest("a cube", refine=False)))
    path = f"/openapi/v2/text-to-3d/{MeshyTask.parse(task_id).id}"
    meshy.script += [{"status": 502, "path": path}] * 2
    steps = watched(gen, task_id)
    assert steps[-1].status == "succeeded"
    assert [r["path"] for r in meshy.requests if r["method"] == "GET"] == [path + "/stream", path, path, path]


def test_assets_that_404_are_missing_not_a_key_problem(meshy: MeshyServer) -> None:
    meshy.plans.append({"missing_assets": True})
    gen = client(meshy)
    _, steps = generate(gen, GenerationRequest("a cube", refine=False))

    async def fetch() -> bytes:
        assets = await gen.assets(steps[-1].task_id)
        return await gen.download(next(a for a in assets if a.kind == "glb"))

    exc = failure(fetch())
    assert isinstance(exc, GenerationUnavailable) and exc.details["reason"] == "asset_missing"


def test_an_asset_over_the_limit_is_refused(meshy: MeshyServer) -> None:
    gen = client(meshy, max_asset_bytes=100)
    _, steps = generate(gen, GenerationRequest("a cube", refine=False))

    async def fetch() -> bytes:
        assets = await gen.assets(steps[-1].task_id)
        return await gen.download(next(a for a in assets if a.kind == "glb"))

    exc = failure(fetch())
    assert isinstance(exc, GenerationUnavailable) and exc.details["reason"] == "too_large"


def test_a_restarted_server_resumes_from_the_stored_id(meshy: MeshyServer) -> None:
    """The preview id is all that was stored: a new client (a new process) watches it and still refines."""
    meshy.step_seconds = 0.02
    task_id = run_sync(client(meshy).start(GenerationRequest("a tree", options={"texture_prompt": "autumn"})))
    steps = watched(client(meshy), task_id)
    assert steps[-1].status == "succeeded" and steps[-1].stage == "refine"
    assert meshy.created("text-to-3d")[1]["texture_prompt"] == "autumn"
    # Watching the refine's id again (a second restart) ends at once, with no new task.
    again = watched(client(meshy), steps[-1].task_id)
    assert again[-1].status == "succeeded" and len(meshy.created()) == 2


def test_image_to_3d_sends_the_image_as_a_data_uri(meshy: MeshyServer) -> None:
    _, steps = generate(client(meshy), GenerationRequest(image=png_bytes(), refine=True, prompt="wooden"))
    body = meshy.created("image-to-3d")[0]
    assert body["image_url"].startswith("data:image/png;base64,") and body["should_texture"] is True
    assert body["texture_prompt"] == "wooden"
    assert steps[-1].status == "succeeded" and steps[-1].stage == "image"


def test_remesh_and_retexture_work_on_a_task_made_before(meshy: MeshyServer) -> None:
    gen = client(meshy)
    made, _ = generate(gen, GenerationRequest("a cube", refine=False))
    remeshed, steps = generate(gen, GenerationRequest(operation="remesh", source_task_id=made,
                                                      options={"target_polycount": 1000}))
    body = meshy.created("remesh")[0]
    assert body["input_task_id"] == MeshyTask.parse(made).id and body["target_polycount"] == 1000
    assert "stl" in body["target_formats"] and steps[-1].status == "succeeded" and steps[-1].stage == "remesh"
    assert "stl" in {a.kind for a in run_sync(gen.assets(remeshed))}
    _, steps = generate(gen, GenerationRequest("rusty metal", operation="retexture", source_task_id=made))
    assert meshy.created("retexture")[0]["text_style_prompt"] == "rusty metal"
    assert steps[-1].status == "succeeded" and steps[-1].stage == "retexture"


def test_cancel_deletes_the_task(meshy: MeshyServer) -> None:
    meshy.step_seconds = 10.0
    gen = client(meshy)
    task_id = run_sync(gen.start(GenerationRequest("a slow cube")))
    run_sync(gen.cancel(task_id))
    assert not meshy.tasks and meshy.requests[-1]["method"] == "DELETE"
    exc = failure(gen.assets(task_id))
    assert isinstance(exc, GenerationUnavailable) and exc.details["reason"] == "not_found"
    run_sync(gen.cancel(task_id))  # already gone: fine


def test_watching_an_unknown_task_is_not_found(meshy: MeshyServer) -> None:
    exc = failure(_drain(client(meshy), "text-to-3d:preview/no-such-task"))
    assert isinstance(exc, GenerationUnavailable) and exc.details["reason"] == "not_found"


async def _drain(gen: Generator3D, task_id: str) -> list[TaskProgress]:
    return [p async for p in gen.watch(task_id)]


def test_bad_input_is_refused_before_anything_is_sent(meshy: MeshyServer) -> None:
    gen = client(meshy)
    with pytest.raises(InvalidInput):
        run_sync(gen.start(GenerationRequest("x" * 601)))
    with pytest.raises(InvalidInput):
        run_sync(gen.start(GenerationRequest("  ")))
    with pytest.raises(InvalidInput):
        run_sync(gen.start(GenerationRequest(operation="remesh")))
    with pytest.raises(InvalidInput):
        MeshyTask.parse("nonsense")
    assert not meshy.requests


def test_the_registry_builds_meshy_from_settings(meshy: MeshyServer) -> None:
    off = Providers(Settings(generate3d={"provider": "meshy"})).generator_3d()
    assert off.available is False and "generate3d.meshy_api_key" in off.reason
    exc = failure(off.start(GenerationRequest("a cube")))
    assert isinstance(exc, GenerationUnavailable) and exc.details["reason"] == "off"
    on = Providers(Settings(generate3d={"meshy_api_key": meshy.api_key, "meshy_base_url": meshy.url,
                                        "poll_seconds": 0.01})).generator_3d("meshy")
    assert isinstance(on, MeshyGenerator) and on.available
    _, steps = generate(on, GenerationRequest("a cube", refine=False))
    assert steps[-1].status == "succeeded"


def test_every_generation_error_reason_has_korean_text() -> None:
    """boda/ai may raise without catalogue text, but the Studio shows these errors to people."""
    from boda.web.i18n import catalogue, translate

    for reason in ("off", "auth", "payment", "not_found", "bad_request", "down", "timeout", "asset_missing",
                   "too_large", "bad_output", "rate_limited"):
        for locale in ("ko", "en"):
            assert f"error.generate3d_{reason}" in catalogue(locale), (locale, reason)
    assert "7초" in translate("ko", "error.generate3d_rate_limited", retry_after=7, provider="meshy")


def test_sse_events_follow_the_event_stream_rules() -> None:
    from boda.ai.generate3d import sse_events

    lines = [": keep-alive", "event: message", "data: {\"a\":", "data: 1}", "id: 7", "", "", "data:plain", "",
             "event: error", "data: {\"status_code\": 404}"]

    async def go() -> list[tuple[str, str, str | None]]:
        async def source() -> Any:
            for line in lines:
                yield line

        return [(e.event, e.data, e.id) async for e in sse_events(source())]

    assert run_sync(go()) == [("message", "{\"a\":\n1}", "7"), ("message", "plain", None),
                              ("error", "{\"status_code\": 404}", None)]
