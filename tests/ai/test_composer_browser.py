"""The composer's GLB in three.js (as Boda serves it), headless Chromium: parts, colours as named, sizes, a frame."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import boda
from boda.ai.composer import Scene, build_glb
from boda.ai.composer_templates import TEMPLATES

pytestmark = pytest.mark.browser
VENDOR = Path(boda.__file__).parent / "web" / "static" / "vendor"
PAGE = """<!doctype html><html><body><canvas id="c" width="320" height="240"></canvas>
<script type="importmap">{"imports": {"three": "/static/vendor/three/three.module.min.js",
  "three/addons/": "/static/vendor/three/addons/"}}</script>
<script type="module">
import * as THREE from 'three';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';
const data = await (await fetch('/model.glb')).arrayBuffer();
const gltf = await new GLTFLoader().parseAsync(data, '');
const parts = [];
gltf.scene.traverse((o) => { if (o.isMesh) parts.push({name: o.name, color: o.material.color.getHexString(),
  metalness: o.material.metalness, roughness: o.material.roughness, normals: !!o.geometry.attributes.normal,
  flat: !!o.material.flatShading}); });
const size = new THREE.Box3().setFromObject(gltf.scene).getSize(new THREE.Vector3());
let drawn = null;
try {
  const renderer = new THREE.WebGLRenderer({canvas: document.getElementById('c'), preserveDrawingBuffer: true});
  const scene = new THREE.Scene(); scene.background = new THREE.Color(0xffffff);
  scene.add(new THREE.HemisphereLight(0xffffff, 0x444444, 3)); scene.add(gltf.scene);
  const camera = new THREE.PerspectiveCamera(40, 320 / 240, 0.1, 100); camera.position.set(6, 4, 8);
  camera.lookAt(0, 1, 0); renderer.render(scene, camera);
  const pixels = new Uint8Array(320 * 240 * 4);
  const gl = renderer.getContext(); gl.readPixels(0, 0, 320, 240, gl.RGBA, gl.UNSIGNED_BYTE, pixels);
  drawn = 0; for (let i = 0; i < pixels.length; i += 4) if (pixels[i] < 250 || pixels[i + 1] < 250) drawn++;
} catch (e) { drawn = String(e); }
window.result = {parts, size: size.toArray(), drawn};
</script></body></html>"""


def opened_in_three(browser: Any, glb: bytes) -> dict[str, Any]:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def serve(route: Any) -> None:
        path = route.request.url.split("//", 1)[1].split("/", 1)[1]
        if path == "model.glb":
            route.fulfill(body=glb, content_type="model/gltf-binary")
        elif path.startswith("static/vendor/"):
            route.fulfill(path=str(VENDOR / path.removeprefix("static/vendor/")), content_type="text/javascript")
        else:
            route.fulfill(body=PAGE, content_type="text/html")

    page.route("http://composer.test/**", serve)
    page.goto("http://composer.test/")
    page.wait_for_function("() => window.result !== undefined", timeout=20000)
    result = page.evaluate("() => window.result")
    page.close()
    assert not errors, errors
    return result


def test_the_fire_truck_opens_in_three_with_its_colours_sizes_and_smooth_normals(browser: Any) -> None:
    scene: Scene = TEMPLATES["fire_truck"].scene
    result = opened_in_three(browser, build_glb(scene))
    parts = {p["name"]: p for p in result["parts"]}
    assert len(result["parts"]) == len(scene.parts) == 30
    for part in scene.parts:  # three reads the linear factor and shows the sRGB colour the scene named
        shown = parts[part.name.replace(" ", "_")]  # three sanitises node names (PropertyBinding)
        assert shown["color"] == part.color.removeprefix("#"), part.name
        assert shown["metalness"] == pytest.approx(part.metallic, abs=1e-6)
        assert shown["roughness"] == pytest.approx(part.roughness, abs=1e-6)
        assert shown["normals"] and not shown["flat"]
    assert result["size"] == pytest.approx([6.15, 2.295, 2.3925], abs=0.01)
    assert isinstance(result["drawn"], int | str)
    if isinstance(result["drawn"], int):  # WebGL in this Chromium (SwiftShader): the frame shows the truck
        assert result["drawn"] > 320 * 240 * 0.05

