"""The studio pages' CSP: Boda's, plus 'wasm-unsafe-eval' (meshopt's WebAssembly decoder), nothing
else; a page that sends it keeps it through the security-headers middleware, other pages do not get it."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from boda.web.middleware import CONTENT_SECURITY_POLICY, STUDIO_CONTENT_SECURITY_POLICY, Observe


def test_studio_csp_only_adds_wasm_to_script_src() -> None:
    base = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    studio = dict(d.strip().split(" ", 1) for d in STUDIO_CONTENT_SECURITY_POLICY.split(";"))
    assert studio.pop("script-src") == "'self' 'wasm-unsafe-eval'"
    assert base.pop("script-src") == "'self'"
    assert studio == base  # no unsafe-eval, no inline, no blob: workers


def test_a_page_keeps_the_studio_csp_it_sends() -> None:
    def studio(request: object) -> PlainTextResponse:
        return PlainTextResponse("viewer", headers={"content-security-policy": STUDIO_CONTENT_SECURITY_POLICY})

    def other(request: object) -> PlainTextResponse:
        return PlainTextResponse("other")

    app = Starlette(routes=[Route("/studio", studio), Route("/other", other)])
    app.add_middleware(Observe, registry=CollectorRegistry())
    client = TestClient(app)
    assert client.get("/studio").headers.get_list("content-security-policy") == [STUDIO_CONTENT_SECURITY_POLICY]
    assert client.get("/other").headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_boda_serves_the_built_viewer_and_its_draco_worker(client: TestClient) -> None:
    """What a studio page loads, from Boda's own /static (built by scripts/copy-static.mjs): the viewer
    module, its meshopt chunk, the static Draco worker (a JS MIME type: browsers refuse a worker without)."""
    viewer = client.get("/static/vendor/studio-viewer/viewer.js")
    assert viewer.status_code == 200 and "javascript" in viewer.headers["content-type"]
    assert "studio-viewer:ready" in viewer.text and "BodaViewer" in viewer.text
    chunk = re.search(r'import\("\./(meshopt_decoder[^"]+\.js)"\)', viewer.text)
    assert chunk, "the meshopt decoder is not split into its own chunk"
    assert client.get(f"/static/vendor/studio-viewer/{chunk.group(1)}").status_code == 200
    worker = client.get("/static/vendor/three/draco/draco_worker.js")
    assert worker.status_code == 200 and "javascript" in worker.headers["content-type"]
    assert "DracoDecoderModule" in worker.text and "onmessage" in worker.text
