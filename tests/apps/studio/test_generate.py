"""3D Studio generations: the composer offline and with an LLM, Meshy through its real client and a local
server speaking its protocol (failures included), cancel, and a generation that survives a restart."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trimesh
from fastapi.testclient import TestClient
from sqlalchemy import select

from boda.core.jobs import execute
from boda.core.models import Job
from boda.core.runtime import Runtime
from boda.web.app import create_app
from tests.ai.meshy_server import MeshyServer
from tests.ai.meshy_server import serving as meshy_serving
from tests.ai.openai_server import ChatServer
from tests.conftest import Account, make_account, make_settings

FAST = {"poll_seconds": 0.01}


@pytest.fixture(scope="module")
def meshy() -> Iterator[MeshyServer]:
    with meshy_serving(MeshyServer()) as running:
        yield running


@pytest.fixture(scope="module")
def slow_meshy() -> Iterator[MeshyServer]:
    """Tasks that take a few polls: 4 states, 0.3 s apart."""
    with meshy_serving(MeshyServer(steps=4, step_seconds=0.3)) as running:
        yield running


def meshy_settings(tmp_path: Path, db_url: str, meshy: MeshyServer, **extra: Any) -> Any:
    return make_settings(tmp_path, db_url, studio=FAST, **extra,
                         generate3d={"meshy_api_key": meshy.api_key, "meshy_base_url": meshy.url,
                                     "poll_seconds": 0.01, "max_retries": 2, "max_retry_after_seconds": 1})


@pytest.fixture
def with_meshy(meshy: MeshyServer, tmp_path: Path, db_url: str) -> Iterator[tuple[MeshyServer, Account]]:
    meshy.reset()
    with TestClient(create_app(meshy_settings(tmp_path, db_url, meshy))) as client:
        yield meshy, make_account(client.app.state.runtime, client, "dana")


def job_events(account: Account, job_id: str) -> list[dict[str, Any]]:
    events = []
    with account.client.stream("GET", f"/api/v1/jobs/{job_id}/events", headers=account.headers) as response:
        for line in response.iter_lines():
            if line.startswith("data:"):
                events.append(json.loads(line[5:]))
    return events


def test_the_composer_offline_makes_a_low_fidelity_fire_truck(alice: Account) -> None:
    response = alice.post("/api/v1/studio/generations", json={"prompt": "빨간 소방차 장난감", "provider": "composer"})
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert response.headers["X-Boda-Job-Id"] == job_id
    model = alice.get(f"/api/v1/studio/models/{response.json()['model']['id']}").json()
    assert model["status"] == "ready", model
    assert model["fidelity"] == "low" and model["provider"] == "composer"
    composer = model["stats"]["composer"]
    assert composer["source"] == "template" and "truck" in composer["template"]
    assert composer["recoloured"], "the red of the prompt should recolour the truck"
    glb = alice.get(model["download_urls"]["glb"]).content
    scene = trimesh.load(__import__("io").BytesIO(glb), file_type="glb")
    assert len(scene.geometry) >= 5
    progress = [e["progress"] for e in job_events(alice, job_id) if "progress" in e]
    assert progress == sorted(progress) and progress[-1] == 100


def test_the_composer_with_an_llm_builds_its_scene(chat_server: ChatServer, tmp_path: Path, db_url: str) -> None:
    chat_server.reset()
    scene = {"title": "Snowman", "parts": [
        {"name": "bottom", "shape": "sphere", "size": [1.0, 1.0, 1.0], "position": [0, 0.5, 0], "rotation": [0, 0, 0],
         "color": "white", "metallic": 0.0, "roughness": 0.9},
        {"name": "head", "shape": "sphere", "size": [0.6, 0.6, 0.6], "position": [0, 1.3, 0], "rotation": [0, 0, 0],
         "color": "#ffffff", "metallic": 0.0, "roughness": 0.9},
        {"name": "nose", "shape": "cone", "size": [0.1, 0.3, 0.1], "position": [0, 1.3, 0.35], "rotation": [90, 0, 0],
         "color": "orange", "metallic": 0.0, "roughness": 0.6}]}
    chat_server.script = [{"content": "A snowman with a carrot nose, white, soft matte snow."},
                          {"content": json.dumps(scene)}]
    settings = make_settings(tmp_path, db_url, llm={"provider": "openai", "base_url": chat_server.url,
                                                    "model": "text-model", "api_key": "sk-test", "max_retries": 0,
                                                    "timeout_seconds": 5})
    with TestClient(create_app(settings)) as client:
        erin = make_account(client.app.state.runtime, client, "erin")
        response = erin.post("/api/v1/studio/generations", json={"prompt": "snowman", "provider": "composer",
                                                                 "enhance": True})
        model = erin.get(f"/api/v1/studio/models/{response.json()['model']['id']}").json()
    assert model["status"] == "ready", model
    assert model["enhanced_prompt"] == "A snowman with a carrot nose, white, soft matte snow."
    assert model["stats"]["composer"]["source"] == "llm" and model["stats"]["composer"]["parts"] == 3
    # The composer was asked with the enhanced prompt, not the user's one word.
    assert "carrot nose" in json.dumps(chat_server.requests[1]["body"]["messages"])


def test_meshy_preview_then_refine_lands_a_stored_model(with_meshy: tuple[MeshyServer, Account]) -> None:
    meshy, dana = with_meshy
    response = dana.post("/api/v1/studio/generations", json={"prompt": "a red toy fire truck", "provider": "meshy"})
    assert response.status_code == 202, response.text
    model = dana.get(f"/api/v1/studio/models/{response.json()['model']['id']}").json()
    assert model["status"] == "ready", model
    assert model["fidelity"] == "high" and model["stats"]["triangles"] == 12
    modes = [body.get("mode") for body in meshy.created("text-to-3d")]
    assert modes == ["preview", "refine"]
    assert {"glb", "fbx", "obj", "stl", "usdz"} <= set(model["formats"])
    events = job_events(dana, response.json()["job_id"])
    progress = [e["progress"] for e in events if "progress" in e]
    assert progress == sorted(progress) and len(set(progress)) >= 4
    assert events[-1]["status"] == "succeeded"


def test_a_failed_meshy_task_fails_the_model_with_meshys_reason(with_meshy: tuple[MeshyServer, Account]) -> None:
    meshy, dana = with_meshy
    meshy.plans.append({"fail": "The prompt was flagged by moderation"})
    response = dana.post("/api/v1/studio/generations", json={"prompt": "something", "provider": "meshy"})
    model = dana.get(f"/api/v1/studio/models/{response.json()['model']['id']}").json()
    assert model["status"] == "failed" and "moderation" in model["error"]
    job = dana.get(f"/api/v1/jobs/{response.json()['job_id']}").json()
    assert job["status"] == "failed" and job["attempts"] == 1  # not retried: the same task would fail again


def test_meshy_rate_limits_are_waited_out(with_meshy: tuple[MeshyServer, Account]) -> None:
    meshy, dana = with_meshy
    meshy.script.append({"status": 429, "headers": {"Retry-After": "0"}, "path": "/openapi/v2/text-to-3d"})
    response = dana.post("/api/v1/studio/generations", json={"prompt": "a chair", "provider": "meshy",
                                                             "refine": False})
    assert dana.get(f"/api/v1/studio/models/{response.json()['model']['id']}").json()["status"] == "ready"
    assert [b.get("mode") for b in meshy.created("text-to-3d")] == ["preview", "preview"]


def test_expired_assets_fail_the_generation_clearly(with_meshy: tuple[MeshyServer, Account]) -> None:
    meshy, dana = with_meshy
    meshy.plans.append({"missing_assets": True})
    response = dana.post("/api/v1/studio/generations", json={"prompt": "a lamp", "provider": "meshy",
                                                             "refine": False})
    job = dana.get(f"/api/v1/jobs/{response.json()['job_id']}").json()
    assert job["status"] == "failed" and "404" in (job["error"] or "") or "asset" in (job["error"] or "").lower()


def test_an_unconfigured_provider_is_said_so(alice: Account) -> None:
    providers = {p["name"]: p for p in alice.get("/api/v1/studio/providers").json()}
    assert providers["composer"]["configured"] and providers["composer"]["fidelity"] == "low"
    assert not providers["meshy"]["configured"] and "Not set up" in providers["meshy"]["description"]
    response = alice.post("/api/v1/studio/generations", json={"prompt": "x", "provider": "meshy"})
    job = alice.get(f"/api/v1/jobs/{response.json()['job_id']}").json()
    assert job["status"] == "failed" and "meshy" in job["error"].lower()


def test_a_generation_survives_a_restart(slow_meshy: MeshyServer, tmp_path: Path, db_url: str) -> None:
    """The first step starts the task and stores its id; a new process polls that id, creating nothing new."""
    meshy = slow_meshy
    meshy.reset()
    settings = meshy_settings(tmp_path, db_url, meshy, jobs={"immediate": False, "in_process": False})
    with TestClient(create_app(settings)) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        fay = make_account(runtime, client, "fay")
        response = fay.post("/api/v1/studio/generations", json={"prompt": "a boat", "provider": "meshy",
                                                                "refine": False})
        job_id, model_id = response.json()["job_id"], response.json()["model"]["id"]
        execute(runtime, job_id)  # one step, then the job waits in the queue (no consumer runs here)
        with runtime.db.session() as session:
            assert session.get(Job, job_id).status == "queued"
    assert len(meshy.created("text-to-3d")) == 1
    with TestClient(create_app(settings)) as client:  # "after the restart"
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        for _ in range(200):  # this process's worker: the generation's steps, and the processing job it starts
            execute(runtime, job_id)
            with runtime.db.session() as session:
                if session.get(Job, job_id).status in ("succeeded", "failed"):
                    break
                waiting = session.scalars(select(Job.id).where(Job.kind == "studio.process",
                                                               Job.status == "queued")).all()
            for other in waiting:
                execute(runtime, other)
        with runtime.db.session() as session:
            assert session.get(Job, job_id).status == "succeeded"
        fay = make_account(runtime, client, "fay2")
    assert len(meshy.created("text-to-3d")) == 1  # polled again, never created twice
    del fay, model_id


def test_cancel_stops_a_generation_and_tells_meshy(slow_meshy: MeshyServer, tmp_path: Path, db_url: str) -> None:
    meshy = slow_meshy
    meshy.reset()
    settings = meshy_settings(tmp_path, db_url, meshy, jobs={"immediate": False, "in_process": False})
    with TestClient(create_app(settings)) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        gus = make_account(runtime, client, "gus")
        response = gus.post("/api/v1/studio/generations", json={"prompt": "a tree", "provider": "meshy"})
        job_id, model_id = response.json()["job_id"], response.json()["model"]["id"]
        execute(runtime, job_id)
        canceled = gus.post(f"/api/v1/studio/generations/{model_id}/cancel")
        assert canceled.status_code == 200 and canceled.json()["status"] == "failed"
        assert gus.get(f"/api/v1/jobs/{job_id}").json()["status"] == "canceled"
        assert any(r["method"] == "DELETE" for r in meshy.requests)
        assert gus.post(f"/api/v1/studio/generations/{model_id}/cancel").status_code == 409
