"""3D Studio viewer: time to the first frame for a ~10 MB GLB in headless Chromium.

A 200k-triangle surface with a noise texture (so the PNG does not shrink) is made with trimesh and
served with the built viewer (boda/web/static/vendor, `npm run build:static`) under Boda's CSP by
the test site of tests/apps/studio. Each run opens a fresh page, mounts the viewer and reads the
`studio-viewer:ready` event: load (fetch + parse + texture decode), first frame drawn, and ready
(the frame shown, one animation frame later), all from mount. Prints figures; asserts nothing.

Run: .venv/bin/python bench/studio_viewer.py [--runs 5] [--environment auto|room|none]
Headless Chromium here renders with SwiftShader (WebGL on the CPU): a GPU is much faster at the
draw and at the PMREM of the room environment, which 'auto' skips on software renderers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.apps.studio.test_viewer import MOUNT, UNMOUNT  # noqa: E402
from tests.apps.studio.viewer_site import heavy_glb, viewer_site  # noqa: E402
from tests.services import chromium  # noqa: E402

RENDERER = """() => { const g = document.createElement('canvas').getContext('webgl2');
  const d = g && g.getExtension('WEBGL_debug_renderer_info');
  return g ? (d ? g.getParameter(d.UNMASKED_RENDERER_WEBGL) : g.getParameter(g.RENDERER)) : 'no WebGL2'; }"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--triangles", type=int, default=200_000)
    parser.add_argument("--texture", type=int, default=1400, help="texture side in pixels (1400: ~10 MB GLB)")
    parser.add_argument("--environment", choices=["auto", "room", "none"], default="auto")
    args = parser.parse_args()

    start = time.perf_counter()
    glb = heavy_glb(triangles=args.triangles, texture_px=args.texture)
    print(f"model: {len(glb) / 1e6:.1f} MB GLB, {args.triangles} triangles, {args.texture}² PNG texture "
          f"(made in {time.perf_counter() - start:.1f} s)")
    rows = []
    with viewer_site() as site, chromium() as browser:
        site.models["heavy.glb"] = glb
        for run in range(args.runs):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.goto(site.page(""))
            page.wait_for_function("() => window.BodaViewer !== undefined")
            if run == 0:
                print(f"WebGL renderer: {page.evaluate(RENDERER)}")
            wall = time.perf_counter()
            ready = page.evaluate(MOUNT, ["/models/heavy.glb", args.environment])
            wall = (time.perf_counter() - wall) * 1000
            if not ready.get("ok"):
                raise SystemExit(f"the viewer failed: {ready}")
            page.evaluate(UNMOUNT)
            context.close()
            rows.append((ready["loadMs"], ready["firstFrameMs"], ready["readyMs"], wall))
            print(f"run {run + 1}: load {ready['loadMs']:.0f} ms, first frame {ready['firstFrameMs']:.0f} ms, "
                  f"shown {ready['readyMs']:.0f} ms (environment: {ready['environment']}), "
                  f"round trip from Python {wall:.0f} ms")
    for name, column in zip(("load", "first frame", "shown"), zip(*rows, strict=True), strict=False):
        values = sorted(column)
        print(f"{name:>12}: median {statistics.median(values):.0f} ms, min {values[0]:.0f}, max {values[-1]:.0f}")


if __name__ == "__main__":
    main()
