"""The primitive composer: the LLM's scene through the real SDK client and a local server, the GLB opened again."""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from boda.ai.composer import (
    DESCRIPTION,
    FIDELITY,
    MAX_PARTS,
    SYSTEM_PROMPT,
    Composition,
    PrimitiveComposer,
    Scene,
    build_glb,
    colour_hex,
    colour_words,
    compose,
    compose_offline,
    compose_scene,
    linear_rgba,
    rank_templates,
    read_glb,
    scene_schema,
)
from boda.ai.composer_templates import TEMPLATES
from boda.ai.llm import LlmUnavailable, NoChat, OpenAICompatibleChat, _strict_ok, run_sync
from boda.ai.text_encoders import UseMultilingual
from boda.core.errors import InvalidInput
from tests.ai.openai_server import ChatServer


def part(name: str, shape: str = "box", size: Any = (1, 1, 1), position: Any = (0, 0.5, 0), rotation: Any = (0, 0, 0),
         color: str = "#d62828", metallic: float = 0.0, roughness: float = 0.5) -> dict[str, Any]:
    return {"name": name, "shape": shape, "size": list(size), "position": list(position), "rotation": list(rotation),
            "color": color, "metallic": metallic, "roughness": roughness}


TRUCK = {"title": "빨간 소방차", "parts": [
    part("body", size=(4, 1.4, 2), position=(0, 1.2, 0), color="red", metallic=0.3, roughness=0.4),
    part("ladder", size=(3.5, 0.1, 0.6), position=(0, 2.0, 0), color="silver", metallic=0.9, roughness=0.2),
    part("wheel", "cylinder", (0.9, 0.3, 0.9), (1.4, 0.45, 1.0), (90, 0, 0), "black", 0.0, 0.9),
    part("light", "sphere", (0.3, 0.3, 0.3), (1.8, 2.0, 0), color="#36f"),
]}


@pytest.fixture
def fake(chat_server: ChatServer) -> ChatServer:
    chat_server.reset()
    return chat_server


@pytest.fixture(scope="module")
def encoder() -> UseMultilingual:
    return UseMultilingual(threads=1)


def model(chat_server: ChatServer) -> OpenAICompatibleChat:
    return OpenAICompatibleChat(model="text-model", base_url=chat_server.url, api_key="sk-test", timeout_seconds=5.0,
                                max_retries=0)


def said(data: Any) -> dict[str, str]:
    return {"content": json.dumps(data, ensure_ascii=False)}


def glb_json(data: bytes) -> dict[str, Any]:
    magic, version, _ = struct.unpack("<4sII", data[:12])
    assert (magic, version) == (b"glTF", 2)
    length, kind = struct.unpack("<I4s", data[12:20])
    assert kind == b"JSON"
    return json.loads(data[20:20 + length])


# --- the schema and the LLM -----------------------------------------------------------------


def test_the_scene_schema_is_bounded_and_strict_structured_output_accepts_it() -> None:
    schema = scene_schema()
    assert _strict_ok(schema)  # closed objects, every property required: OpenAI's strict mode takes it as it is
    parts = schema["properties"]["parts"]
    assert parts["maxItems"] == MAX_PARTS and parts["minItems"] == 1
    shape = schema["$defs"]["Part"]["properties"]["shape"]
    assert set(shape["enum"]) == {"box", "sphere", "cylinder", "cone", "torus", "capsule"}
    size = schema["$defs"]["Part"]["properties"]["size"]
    assert size["minItems"] == size["maxItems"] == 3 and size["items"]["maximum"] == 50


def test_the_llm_writes_a_scene_that_is_validated_and_normalised(fake: ChatServer) -> None:
    fake.script.append(said(TRUCK))
    scene = run_sync(compose_scene(model(fake), "빨간 소방차 장난감"))
    assert isinstance(scene, Scene) and scene.title == "빨간 소방차" and len(scene.parts) == 4
    assert [p.color for p in scene.parts] == ["#d62828", "#c0c0c8", "#1a1a1a", "#3366ff"]  # names and #rgb to hex
    sent = fake.last
    fmt = sent["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] and fmt["json_schema"]["name"] == "scene"
    assert sent["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert "Example:" in SYSTEM_PROMPT and sent["messages"][1]["content"] == "빨간 소방차 장난감"
    for example in SYSTEM_PROMPT.split("Example: ")[1:]:  # the examples taught are valid scenes themselves
        Scene.model_validate_json(example.split(" -> ", 1)[1])


def test_an_invalid_scene_is_repaired_once_then_a_clear_error(fake: ChatServer) -> None:
    broken = {**TRUCK, "parts": [{**TRUCK["parts"][0], "shape": "pyramid"}]}
    fake.script += [{"content": '{"title": "truck", "parts": [{"name": '}, said(broken), said(TRUCK)]
    with pytest.raises(LlmUnavailable) as caught:
        run_sync(compose_scene(model(fake), "a red fire truck"))
    assert caught.value.details["reason"] == "bad_output" and "shape" in caught.value.message
    assert len(fake.requests) == 2  # asked, then repaired once; the third answer was never asked for

    fake.reset()
    fake.script += [said(broken), said(TRUCK)]
    scene = run_sync(compose_scene(model(fake), "a red fire truck"))
    assert len(scene.parts) == 4 and "not valid" in fake.last["messages"][-1]["content"]


@pytest.mark.parametrize(("change", "where"), [
    ({"parts": [part(f"p{i}") for i in range(MAX_PARTS + 1)]}, "parts"),
    ({"parts": []}, "parts"),
    ({"parts": [part("huge", size=(60, 1, 1))]}, "size"),
    ({"parts": [part("flat", size=(1, 0, 1))]}, "size"),
    ({"parts": [part("far", position=(0, 500, 0))]}, "position"),
    ({"parts": [part("two", size=(1, 1))]}, "size"),
    ({"parts": [part("spin", rotation=(0, 720, 0))]}, "rotation"),
    ({"parts": [part("shiny", metallic=1.5)]}, "metallic"),
    ({"parts": [part("sparkly", color="sparkly")]}, "color"),
    ({"parts": [{**part("extra"), "texture": "wood.png"}]}, "texture"),
    ({"title": ""}, "title"),
])
def test_the_schema_limits_are_enforced(change: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Scene.model_validate({**TRUCK, **change})
    assert where in str(caught.value)


def test_colours_are_hex_or_names_in_english_and_korean() -> None:
    assert colour_hex("#F00") == "#ff0000" and colour_hex("00ff88") == "#00ff88" and colour_hex("Sky-Blue") == "#87ceeb"
    assert colour_hex("빨간") == "#d62828"
    assert linear_rgba("#ffffff") == [1.0, 1.0, 1.0, 1.0] and abs(linear_rgba("#808080")[0] - 0.2158) < 1e-3
    assert colour_words("검은색 고양이") == ["#1a1a1a"]  # not the 은색 (silver) inside 검은색
    assert colour_words("a sky blue car with red doors") == ["#87ceeb", "#d62828"]
    assert colour_words("a bored cat") == []  # "red" inside a word is no colour
    assert colour_words("실버 로봇과 옐로우 오리") == ["#c0c0c8", "#fcbf49"]


# --- the GLB ----------------------------------------------------------------------------------


def test_every_shape_fills_exactly_its_size_box() -> None:
    size = (1.2, 0.6, 0.8)
    scene = Scene.model_validate({"title": "shapes", "parts": [
        part(shape, shape, size, (3 * i, 2, 0), color="teal") for i, shape in enumerate(
            ["box", "sphere", "cylinder", "cone", "torus", "capsule"])]})
    reopened = read_glb(build_glb(scene, ground=False))
    for i, shape in enumerate(["box", "sphere", "cylinder", "cone", "torus", "capsule"]):
        bounds = reopened.geometry[shape].bounds @ np.eye(3)
        world = reopened.graph[shape][0][:3, 3] + bounds
        np.testing.assert_allclose(world, [[3 * i - 0.6, 1.7, -0.4], [3 * i + 0.6, 2.3, 0.4]], atol=1e-6,
                                   err_msg=shape)


def test_a_30_part_scene_opens_again_with_its_parts_colours_and_bounds() -> None:
    rng = np.random.default_rng(7)
    shapes = ["box", "sphere", "cylinder", "cone", "torus", "capsule"]
    parts = [part(f"part {i}", shapes[i % 6], rng.uniform(0.2, 1.5, 3).round(3), (i * 1.0, 1.0, 0),
                  color="#" + bytes(rng.integers(0, 256, 3).astype(np.uint8)).hex(), metallic=round(i / 29, 3),
                  roughness=round(1 - i / 29, 3)) for i in range(30)]
    parts[3]["rotation"] = [90, 0, 0]  # a cylinder turned into a wheel: its y and z sizes swap
    scene = Scene.model_validate({"title": "many", "parts": parts})
    data = build_glb(scene, ground=False)
    reopened = read_glb(data)
    assert len(reopened.geometry) == 30 and set(reopened.graph.nodes_geometry) == {p["name"] for p in parts}
    for spec in parts:
        mesh = reopened.geometry[spec["name"]]
        material = mesh.visual.material
        want = np.asarray(linear_rgba(colour_hex(spec["color"]))) * 255
        np.testing.assert_allclose(material.baseColorFactor, want, atol=1.0)
        assert material.metallicFactor == pytest.approx(spec["metallic"], abs=1e-6)
        assert material.roughnessFactor == pytest.approx(spec["roughness"], abs=1e-6)
    transform, _ = reopened.graph["part 3"]
    world = trimesh_bounds(reopened.geometry["part 3"], transform)
    sx, sy, sz = parts[3]["size"]
    np.testing.assert_allclose(world[1] - world[0], [sx, sz, sy], atol=1e-6)
    low, high = reopened.bounds
    assert low[0] == pytest.approx(-parts[0]["size"][0] / 2, abs=1e-6) and high[0] > 29
    gltf = glb_json(data)  # what three.js's GLTFLoader reads: metallic-roughness materials, named nodes
    assert gltf["asset"]["version"] == "2.0" and len(gltf["materials"]) == 30
    colours = {p["name"]: colour_hex(p["color"]) for p in parts}
    for mesh in gltf["meshes"]:  # the exact linear colour, not trimesh's byte-rounded one (dark colours drifted)
        factor = gltf["materials"][mesh["primitives"][0]["material"]]["pbrMetallicRoughness"]["baseColorFactor"]
        np.testing.assert_allclose(factor, linear_rgba(colours[mesh["name"]]), atol=1e-6)


def test_parts_with_one_name_get_unique_node_names_and_share_a_material() -> None:
    scene = Scene.model_validate({"title": "wheels", "parts": [
        part("wheel", color="#050505"), part("wheel 2", color="#050505"), part("wheel", color="#050505")]})
    data = build_glb(scene)
    gltf = glb_json(data)
    assert sorted(n["name"] for n in gltf["nodes"] if "mesh" in n) == ["wheel", "wheel 2", "wheel 3"]
    assert len(gltf["materials"]) == 1  # one look, one material
    assert gltf["materials"][0]["pbrMetallicRoughness"]["baseColorFactor"][0] == pytest.approx(0.001518, abs=1e-6)
    assert len(read_glb(data).geometry) == 3


def test_a_floating_off_centre_scene_is_stood_on_the_ground_at_the_centre() -> None:
    scene = Scene.model_validate({"title": "floating", "parts": [
        part("a", size=(1, 2, 3), position=(5, 10, -2)), part("b", "sphere", (2, 2, 2), (8, 12, -2))]})
    low, high = read_glb(build_glb(scene)).bounds
    np.testing.assert_allclose([low[1], (low[0] + high[0]) / 2, (low[2] + high[2]) / 2], 0.0, atol=1e-6)
    np.testing.assert_allclose(high - low, [4.5, 4.0, 3.0], atol=1e-6)  # moved, not resized
    low, _ = read_glb(build_glb(scene, ground=False)).bounds
    np.testing.assert_allclose(low, [4.5, 9.0, -3.5], atol=1e-6)


def trimesh_bounds(mesh: Any, transform: np.ndarray) -> np.ndarray:
    moved = mesh.copy()
    moved.apply_transform(transform)
    return moved.bounds


def test_composing_and_building_is_labelled_low_fidelity(fake: ChatServer) -> None:
    fake.script.append(said(TRUCK))
    composition, data = run_sync(PrimitiveComposer(model(fake)).generate("빨간 소방차 장난감"))
    assert composition.source == "llm" and composition.fidelity == FIDELITY == "low"
    assert "low fidelity" in composition.description == DESCRIPTION and PrimitiveComposer.fidelity == "low"
    assert len(read_glb(data).geometry) == 4
    body = composition.as_dict()
    assert body["parts"] == 4 and body["template"] is None and body["scene"]["parts"][0]["color"] == "#d62828"


# --- offline: templates -----------------------------------------------------------------------


def test_every_template_is_a_valid_grounded_scene_that_builds() -> None:
    assert 15 <= len(TEMPLATES) <= 30
    for key, template in TEMPLATES.items():
        reopened = read_glb(build_glb(template.scene))
        assert len(reopened.geometry) == len(template.scene.parts), key
        assert abs(reopened.bounds[0][1]) < 0.06, key  # stands on the ground
        assert template.main and template.main <= {p.name for p in template.scene.parts}, key
        assert any(not phrase.isascii() for phrase in template.phrases), key  # found by Korean requests too


def test_a_korean_request_offline_picks_the_fire_truck_and_paints_it_red(encoder: UseMultilingual) -> None:
    match = compose_offline("파란 소방차 장난감", encoder)
    assert match.key == "fire_truck" and not match.weak
    colours = {p.name: p.color for p in match.scene.parts}
    assert colours["body"] == colours["cab"] == "#1e5aa8" and colours["ladder rail left"] == "#c0c0c8"
    assert set(match.recoloured) == {"body", "cab"}
    assert TEMPLATES["fire_truck"].scene.parts[0].color == "#d62828"  # the library itself is not changed


@pytest.mark.parametrize(("prompt", "key"), [
    ("빨간 소방차 장난감", "fire_truck"), ("a red fire engine toy", "fire_truck"), ("노란 스쿨버스", "bus"),
    ("귀여운 강아지", "dog"), ("우주로 가는 로켓", "rocket"), ("커피 머그잔", "cup"), ("a small sailing yacht", "boat"),
    ("a cozy cottage", "house"), ("은색 로봇", "robot"), ("검은색 고양이", "cat"), ("크리스마스 트리", "pine_tree"),
])
def test_requests_find_a_sensible_template(encoder: UseMultilingual, prompt: str, key: str) -> None:
    ranked = rank_templates(prompt, encoder)
    assert ranked[0][0] == key, ranked[:3]


def test_offline_without_an_llm_says_it_used_a_template_and_when_it_is_a_guess(encoder: UseMultilingual) -> None:
    made = run_sync(compose(NoChat(), "빨간 소방차 장난감", encoder=encoder))
    assert isinstance(made, Composition) and made.source == "template" and made.template == "fire_truck"
    assert made.similarity is not None and made.similarity > 0.9 and not made.weak_match
    assert made.fidelity == "low" and made.as_dict()["recoloured"] == ["body", "cab"]
    guess = run_sync(compose(None, "a fire-breathing dragon", encoder=encoder))
    assert guess.source == "template" and guess.weak_match
    assert compose_offline("용", encoder).weak and not compose_offline("우주 로켓", encoder).weak

    class Uncalibrated(UseMultilingual):
        key = "use-m-renamed"  # cosines on a scale the composer has no line for: it claims nothing

    assert not compose_offline("a dragon", Uncalibrated()).weak
    with pytest.raises(InvalidInput):
        run_sync(compose(None, "a dragon"))


def test_a_configured_llm_that_fails_is_reported_not_hidden_behind_a_template(fake: ChatServer,
                                                                              encoder: UseMultilingual) -> None:
    fake.script.append({"status": 500})
    with pytest.raises(LlmUnavailable) as caught:
        run_sync(compose(model(fake), "빨간 소방차 장난감", encoder=encoder))
    assert caught.value.details["reason"] == "down"


def test_normals_are_written_smooth_on_round_shapes_and_sharp_on_box_edges() -> None:
    scene = Scene.model_validate({"title": "normals", "parts": [
        part("egg", "sphere", (2.0, 0.5, 1.0), (0, 1, 0)), part("crate", "box", (1, 2, 3), (5, 1, 0))]})
    data = build_glb(scene)
    gltf = glb_json(data)
    assert all("NORMAL" in m["primitives"][0]["attributes"] for m in gltf["meshes"])
    reopened = read_glb(data)
    egg = reopened.geometry["egg"]
    normals = egg.vertex_normals
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-5)
    # On the ellipsoid x²/1 + y²/0.0625 + z²/0.25 = 1 the outward normal is along (x/1, y/0.0625, z/0.25).
    v = egg.vertices
    expected = v / np.array([1.0, 0.0625, 0.25])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert (np.sum(normals * expected, axis=1) > 0.98).mean() > 0.95
    crate = reopened.geometry["crate"].vertex_normals
    assert np.allclose(np.sort(np.abs(crate), axis=1)[:, :2], 0.0, atol=1e-6)  # each one along an axis: flat faces


def test_the_composer_from_the_process_providers_uses_the_template_library_when_llm_is_off(tmp_path: Any) -> None:
    from boda.ai.registry import Providers
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'boda.db'}", llm={"provider": "off"},
                             ai={"models_dir": tmp_path / "models", "threads": 1, "downloads": False,
                                 "text_encoder": "use-m"})
    composer = PrimitiveComposer.from_providers(Providers(settings))
    assert not composer.chat.available
    composition, data = run_sync(composer.generate("빨간 소방차 장난감"))
    assert composition.source == "template" and composition.template == "fire_truck"
    assert composer.encoder is not None and composer.encoder.key == "use-m"
    assert len(read_glb(data).geometry) == len(TEMPLATES["fire_truck"].scene.parts)
