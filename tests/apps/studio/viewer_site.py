"""A tiny static site for the studio viewer's browser tests and bench: the real built viewer
(boda/web/static/vendor, from scripts/copy-static.mjs), its CSS, the test page, and GLBs held in
memory, every answer under Boda's own Content-Security-Policy (the studio one with ?csp=studio).

Why not the whole Boda app: the viewer is a static module; the app's pages are the integrator's, and
this keeps each test to seconds. The CSP strings are imported from boda.web.middleware, so a change
there is tested here.
"""

from __future__ import annotations

import contextlib
import io
import mimetypes
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import trimesh
from PIL import Image

from boda.web.middleware import CONTENT_SECURITY_POLICY, STUDIO_CONTENT_SECURITY_POLICY

ROOT = Path(__file__).resolve().parents[3]
VENDOR = ROOT / "boda" / "web" / "static" / "vendor"
STUDIO_STATIC = ROOT / "boda" / "apps" / "studio" / "static"
PAGE = Path(__file__).resolve().parent / "viewer_page"
DATA = Path(__file__).resolve().parent / "data"
VIEWER_BUNDLE = VENDOR / "studio-viewer" / "viewer.js"

MOUNTS = {"/static/vendor/": VENDOR, "/static/studio/": STUDIO_STATIC, "/page/": PAGE, "/data/": DATA}


class ViewerSite:
    """Serves the viewer files and `models[name]` at /models/<name>; `requests` logs the paths."""

    def __init__(self) -> None:
        if not VIEWER_BUNDLE.is_file():
            raise FileNotFoundError(f"{VIEWER_BUNDLE} missing: run `npm run build:static`")
        self.models: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.url = ""

    def page(self, src: str, *, csp: str = "boda") -> str:
        """The test page's URL showing the model at src (a path on this site)."""
        return f"{self.url}/page/index.html?src={src}&csp={csp}"


def _handler(site: ViewerSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            parts = urlsplit(self.path)
            site.requests.append(parts.path)
            csp = parse_qs(parts.query).get("csp", ["boda"])[0]
            body, kind = self._find(parts.path)
            if body is None:
                self.send_response(404)
                body, kind = b"not found", "text/plain"
            else:
                self.send_response(200)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(body)))
            self.send_header("cache-control", "no-store")
            self.send_header("x-content-type-options", "nosniff")
            self.send_header("content-security-policy",
                             STUDIO_CONTENT_SECURITY_POLICY if csp == "studio" else CONTENT_SECURITY_POLICY)
            self.end_headers()
            self.wfile.write(body)

        def _find(self, path: str) -> tuple[bytes | None, str]:
            if path.startswith("/models/"):
                data = site.models.get(path.removeprefix("/models/"))
                return data, "model/gltf-binary"
            for prefix, folder in MOUNTS.items():
                if path.startswith(prefix):
                    target = (folder / path.removeprefix(prefix)).resolve()
                    if folder.resolve() in target.parents and target.is_file():
                        kind = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
                                ".glb": "model/gltf-binary"}.get(target.suffix)
                        kind = kind or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
                        return target.read_bytes(), kind
            return None, ""

    return Handler


@contextlib.contextmanager
def viewer_site() -> Iterator[ViewerSite]:
    """Starts the site on a free local port in a thread; stops it after the block."""
    site = ViewerSite()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    server.daemon_threads = True
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def textured_box_glb(size: tuple[float, float, float] = (1.0, 1.0, 1.0), rgb: tuple[int, int, int] = (220, 30, 30),
                     texture_px: int = 64) -> bytes:
    """A box with a UV texture of one colour (a faint grid so that it is a real image) as GLB bytes."""
    mesh = trimesh.creation.box(extents=size)
    mesh.unmerge_vertices()  # in place: a UV per face corner
    uv = np.zeros((len(mesh.vertices), 2))
    corners = np.array([[0.05, 0.05], [0.95, 0.05], [0.95, 0.95]])
    uv[mesh.faces.reshape(-1)] = np.tile(corners, (len(mesh.faces), 1))
    image = np.empty((texture_px, texture_px, 3), dtype=np.uint8)
    image[:] = rgb
    image[::8, :] = np.clip(np.array(rgb) * 0.8, 0, 255).astype(np.uint8)
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=Image.fromarray(image), metallicFactor=0.0,
                                                   roughnessFactor=0.7)
    mesh.visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
    return trimesh.Scene(mesh).export(file_type="glb")


def heavy_glb(triangles: int = 200_000, texture_px: int = 2048, seed: int = 0) -> bytes:
    """About 10 MB: an icosphere-like surface of `triangles` faces (noisy, so it compresses badly
    like a scanned or generated model) with a noise texture of texture_px² as PNG."""
    rng = np.random.default_rng(seed)
    subdivisions = 1
    while 20 * 4 ** subdivisions < triangles:
        subdivisions += 1
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions)
    mesh.faces = mesh.faces[:triangles]
    mesh.remove_unreferenced_vertices()
    mesh.vertices *= 1 + 0.02 * rng.standard_normal((len(mesh.vertices), 1))
    v = mesh.vertices
    longitude = 0.5 + np.arctan2(v[:, 1], v[:, 0]) / (2 * np.pi)
    latitude = 0.5 + np.arcsin(np.clip(v[:, 2] / np.linalg.norm(v, axis=1), -1, 1)) / np.pi
    uv = np.stack([longitude, latitude], 1)
    image = rng.integers(0, 256, (texture_px, texture_px, 3), dtype=np.uint8)
    image[..., 0] = np.maximum(image[..., 0], 160)
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", compress_level=1)
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=Image.open(buf), metallicFactor=0.0)
    mesh.visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
    return trimesh.Scene(mesh).export(file_type="glb")
