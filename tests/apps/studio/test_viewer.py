"""The 3D Studio viewer in headless Chromium (SwiftShader WebGL), served under Boda's own CSP:
models render (textured, Draco, meshopt), the controls do what they say, nothing leaks over 20
mount/unmount cycles (renderer.info.memory back to zero, JS heap flat after a forced GC), and no
CSP violation happens, except the documented one: meshopt needs the studio CSP's 'wasm-unsafe-eval'.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.apps.studio.viewer_site import ViewerSite, heavy_glb, textured_box_glb, viewer_site

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("BODA_SCREENSHOTS", "/tmp/boda-screenshots"))

# Mounts a viewer on a new element, waits for its ready/error event, and returns the event's detail.
MOUNT = """async ([src, environment]) => {
  const el = document.createElement('div');
  el.className = 'studio-viewer';
  if (environment) el.dataset.environment = environment;
  document.getElementById('host').appendChild(el);
  const done = new Promise((resolve) => {
    el.addEventListener('studio-viewer:ready', (e) => resolve({ ok: true, ...e.detail }), { once: true });
    el.addEventListener('studio-viewer:error', (e) => resolve({ ok: false, ...e.detail }), { once: true });
  });
  window.BodaViewer.mount(el, src);
  window.lastViewer = el;
  return await done;
}"""
# Unmounts the last mounted viewer; returns what its renderer still held and how many viewers remain.
UNMOUNT = """() => {
  const el = window.lastViewer;
  const left = window.BodaViewer.unmount(el);
  el.remove();
  window.lastViewer = null;
  return { ...left, viewers: window.BodaViewer.count, canvases: document.querySelectorAll('canvas').length };
}"""


@pytest.fixture(scope="module")
def site() -> Iterator[ViewerSite]:
    with viewer_site() as served:
        served.models["red.glb"] = textured_box_glb(size=(1.0, 0.6, 0.4), rgb=(220, 30, 30))
        yield served


def open_page(browser: Any, url: str) -> tuple[Any, Any, list[str]]:
    """A fresh page at url; console errors and page errors are collected in the returned list."""
    context = browser.new_context(viewport={"width": 700, "height": 760})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.wait_for_function("() => window.BodaViewer !== undefined")
    return context, page, errors


def wait_event(page: Any) -> dict[str, Any]:
    page.wait_for_function("() => window.viewerEvents.length > 0", timeout=60_000)
    event = page.evaluate("() => window.viewerEvents[0]")
    return {"type": event["type"], **event["detail"]}


def canvas_pixels(page: Any, selector: str = "#viewer canvas") -> np.ndarray:
    """The canvas as shown on the page (a page screenshot clipped to it: an element screenshot of a
    WebGL canvas came back white at times)."""
    clip = page.locator(selector).bounding_box()
    return np.asarray(Image.open(io.BytesIO(page.screenshot(clip=clip))).convert("RGB")).astype(int)


def share(pixels: np.ndarray, channel: int) -> float:
    """Fraction of pixels where `channel` clearly dominates the other two (the model's colour)."""
    main = pixels[..., channel]
    others = np.delete(pixels, channel, axis=-1)
    return float(np.mean((main > 90) & (main > 1.8 * others.max(axis=-1))))


def test_textured_model_renders_and_the_controls_work(browser: Any, site: ViewerSite) -> None:
    context, page, errors = open_page(browser, site.page("/models/red.glb"))
    try:
        ready = wait_event(page)  # mounted by the module itself, from the page's .studio-viewer[data-src]
        assert ready["type"] == "studio-viewer:ready", ready
        assert ready["triangles"] == 12
        assert ready["size"] == pytest.approx([1.0, 0.6, 0.4])
        assert page.text_content("#viewer .studio-viewer-dims-value") == "1 × 0.6 × 0.4"
        assert page.text_content("#viewer [data-action=wireframe]") == "와이어프레임"  # data-label-wireframe
        assert page.text_content("#viewer [data-action=normals]") == "Normals"  # English default

        shaded = canvas_pixels(page)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "studio-viewer.png"))
        assert shaded.std() > 10, "the canvas is blank"
        assert share(shaded, 0) > 0.05, "the red textured box is not in view"

        page.click("#viewer [data-action=wireframe]")
        assert page.get_attribute("#viewer [data-action=wireframe]", "aria-pressed") == "true"
        page.wait_for_timeout(300)
        wire = canvas_pixels(page)
        assert share(wire, 0) < share(shaded, 0) / 2, "wireframe draws edges, not filled faces"
        assert np.mean(wire.max(axis=-1) < 120) > 0.001, "the edges are drawn"
        page.click("#viewer [data-action=wireframe]")

        page.click("#viewer [data-action=normals]")
        page.wait_for_timeout(300)
        normals = canvas_pixels(page)
        Image.fromarray(normals.astype(np.uint8)).save(SHOTS / "studio-viewer-normals.png")
        assert share(normals, 0) < 0.01, "the normals view replaces the red material"
        assert share(normals, 2) > 0.02, "MeshNormalMaterial shows faces facing the camera in blue"
        page.click("#viewer [data-action=normals]")
        page.wait_for_timeout(300)
        assert share(canvas_pixels(page), 0) > 0.05, "the original material comes back"

        # Zoom is held within limits set from the bounds: far out, then far in.
        box = page.locator("#viewer canvas").bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        for _ in range(40):
            page.mouse.wheel(0, 2000)
        page.wait_for_timeout(800)
        far, limits = page.evaluate("""() => { const v = BodaViewer.get(document.getElementById('viewer'));
            const c = v.controls;
            return [v.camera.position.distanceTo(c.target), [c.minDistance, c.maxDistance]]; }""")
        radius = float(np.linalg.norm([1.0, 0.6, 0.4])) / 2
        assert limits == pytest.approx([radius * 0.5, radius * 10])
        assert radius * 5 < far <= limits[1] * 1.001
        for _ in range(60):
            page.mouse.wheel(0, -2000)
        page.wait_for_timeout(800)
        near = page.evaluate("""() => { const v = BodaViewer.get(document.getElementById('viewer'));
            return v.camera.position.distanceTo(v.controls.target); }""")
        assert limits[0] * 0.999 <= near < radius

        page.click("#viewer [data-action=fit]")
        fitted = page.evaluate("""() => { const v = BodaViewer.get(document.getElementById('viewer'));
            return v.camera.position.distanceTo(v.controls.target); }""")
        assert near < fitted < far

        # Auto-rotate moves the camera by itself.
        page.click("#viewer [data-action=rotate]")
        before = page.evaluate("() => BodaViewer.get(document.getElementById('viewer')).camera.position.toArray()")
        page.wait_for_timeout(700)
        after = page.evaluate("() => BodaViewer.get(document.getElementById('viewer')).camera.position.toArray()")
        assert np.linalg.norm(np.subtract(after, before)) > 1e-3
        page.click("#viewer [data-action=rotate]")

        # Resize: the drawing buffer follows the element (ResizeObserver), no inline style involved.
        width = page.evaluate("() => document.querySelector('#viewer canvas').width")
        page.evaluate("() => document.getElementById('host').classList.add('narrow')")
        page.wait_for_function(f"() => document.querySelector('#viewer canvas').width < {width} * 0.7")

        assert page.evaluate("() => window.cspViolations") == []
        assert errors == []
    finally:
        context.close()


def test_draco_model_loads_under_boda_csp(browser: Any, site: ViewerSite) -> None:
    context, page, errors = open_page(browser, site.page("/data/box-draco.glb"))
    try:
        ready = wait_event(page)
        assert ready["type"] == "studio-viewer:ready", ready
        assert ready["size"] == pytest.approx([2.0, 1.0, 0.5], abs=1e-3)  # quantised to 14 bits
        assert share(canvas_pixels(page), 2) > 0.05, "the blue Draco box is not in view"
        assert "/static/vendor/three/draco/draco_worker.js" in site.requests  # the static worker, not a blob:

        # Content swapped in and out (htmx): a viewer taken out of the page is unmounted, a new one mounted.
        page.evaluate("() => document.getElementById('viewer').remove()")
        page.wait_for_function("() => window.BodaViewer.count === 0")
        page.evaluate("""() => { const el = document.createElement('div');
            el.className = 'studio-viewer'; el.dataset.src = '/data/box-draco.glb';
            document.getElementById('host').appendChild(el); }""")
        page.wait_for_function("() => window.viewerEvents.length === 2")
        assert page.evaluate("() => [window.viewerEvents[1].type, window.BodaViewer.count]") == [
            "studio-viewer:ready", 1]

        # A missing or broken file: an error event and the error text, and nothing left behind.
        site.models["broken.glb"] = b"glTF" + b"\x02\x00\x00\x00" + b"not really a model" * 10
        for src in ("/models/missing.glb", "/models/broken.glb"):
            failed = page.evaluate(MOUNT, [src, None])
            assert failed["ok"] is False and failed["message"], failed
            assert page.evaluate("() => window.lastViewer.querySelector('.studio-viewer-status').textContent") == (
                "This model could not be shown")
            assert page.evaluate(UNMOUNT) == {"geometries": 0, "textures": 0, "programs": 0, "viewers": 1,
                                              "canvases": 1}
        errors[:] = [e for e in errors if "404" not in e]  # the missing file's own console line
        assert page.evaluate("() => window.cspViolations") == []
        assert errors == []
    finally:
        context.close()


def test_meshopt_needs_the_studio_csp(browser: Any, site: ViewerSite) -> None:
    context, page, errors = open_page(browser, site.page("/data/box-meshopt.glb", csp="studio"))
    try:
        ready = wait_event(page)
        assert ready["type"] == "studio-viewer:ready", ready
        assert ready["size"] == pytest.approx([1.0, 2.0, 0.5])
        assert share(canvas_pixels(page), 1) > 0.05, "the green meshopt box is not in view"
        assert page.evaluate("() => window.cspViolations") == []
        assert errors == []
    finally:
        context.close()

    # Under Boda's plain CSP the WebAssembly decoder is refused: the viewer says so, and only then.
    context, page, errors = open_page(browser, site.page("/data/box-meshopt.glb", csp="boda"))
    try:
        failed = wait_event(page)
        assert failed["type"] == "studio-viewer:error"
        assert "WebAssembly" in failed["message"] or "wasm" in failed["message"].lower()
        assert any("script-src" in v for v in page.evaluate("() => window.cspViolations"))
        assert page.text_content("#viewer .studio-viewer-status") == "This model could not be shown"
    finally:
        context.close()


def test_twenty_mount_unmount_cycles_free_everything(browser: Any, site: ViewerSite) -> None:
    """20 cycles of a textured 20k-triangle model (about 0.6 MB of vertex and index arrays): the
    renderer holds nothing after each unmount, and after a forced GC the array buffers' backing
    store has not grown by even one model (measured: flat; keeping each model alive grows it by
    0.5 MB a cycle) and the JS heap by less than V8's warm-up (measured: under 1 MB)."""
    site.models["sphere.glb"] = heavy_glb(triangles=20_480, texture_px=64)
    context, page, errors = open_page(browser, site.page(""))
    try:
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")

        def heap() -> tuple[float, float]:
            cdp.send("HeapProfiler.collectGarbage")
            metrics = cdp.send("Performance.getMetrics")["metrics"]
            used = next(m["value"] for m in metrics if m["name"] == "JSHeapUsedSize")
            return used, cdp.send("Runtime.getHeapUsage")["backingStorageSize"]

        for _ in range(3):  # warm-up: the module's and V8's own first-use allocations
            assert page.evaluate(MOUNT, ["/models/sphere.glb", None])["ok"]
            page.evaluate(UNMOUNT)
        start_heap, start_buffers = heap()
        for cycle in range(20):
            ready = page.evaluate(MOUNT, ["/models/sphere.glb", None])
            assert ready["ok"], (cycle, ready)
            assert ready["triangles"] == 20_480
            held = page.evaluate("() => BodaViewer.get(window.lastViewer).renderer.info.memory")
            assert held["geometries"] >= 1 and held["textures"] >= 1  # the counts are real
            left = page.evaluate(UNMOUNT)
            assert left == {"geometries": 0, "textures": 0, "programs": 0, "viewers": 0, "canvases": 0}, cycle
        end_heap, end_buffers = heap()
        print(f"20 cycles: JS heap {(end_heap - start_heap) / 1024:+.0f} KiB, "
              f"array buffers {(end_buffers - start_buffers) / 1024:+.0f} KiB")
        assert end_buffers - start_buffers < 256 * 1024, "array buffers of the models are kept"
        assert end_heap - start_heap < 1.5 * 1024 * 1024, "the JS heap grows with each cycle"
        assert page.evaluate("() => window.cspViolations") == []
        assert not [e for e in errors if "WebGL" in e], errors  # no 'too many active WebGL contexts'
    finally:
        context.close()


def test_room_environment_is_built_and_freed(browser: Any, site: ViewerSite) -> None:
    """RoomEnvironment through PMREM (forced: the viewer skips it on software WebGL by default,
    where its GGX filtering takes seconds); its render target goes with the rest on unmount."""
    context, page, errors = open_page(browser, site.page(""))
    try:
        ready = page.evaluate(MOUNT, ["/models/red.glb", "room"])
        assert ready["ok"] and ready["environment"] == "room", ready
        assert page.evaluate("() => BodaViewer.get(window.lastViewer).scene.environment !== null")
        assert share(canvas_pixels(page, ".studio-viewer canvas"), 0) > 0.05
        left = page.evaluate(UNMOUNT)
        assert left == {"geometries": 0, "textures": 0, "programs": 0, "viewers": 0, "canvases": 0}
        assert errors == []
    finally:
        context.close()
