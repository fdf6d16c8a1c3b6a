"""Plain ASGI middleware: cheaper than `@app.middleware("http")`, which wraps every
request in extra tasks and streams (measured: about a third of a hello-world's
throughput each)."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

# No inline script anywhere (pages, error pages, the API docs): injected markup cannot run code.
# img-src data:/blob: for Swagger UI's icons and the photo previews the Vision page makes in the browser.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none'; form-action 'self'"
)
# The 3D Studio pages only: meshopt-compressed models are decoded by WebAssembly, which CSP
# refuses to compile without 'wasm-unsafe-eval' (it allows WebAssembly compilation, not JS eval).
# A page sends it as its own content-security-policy header; Observe keeps a header a page set.
# Draco needs none of it: the viewer decodes Draco with the JS decoder in a static worker file.
STUDIO_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'")
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


def add_security_headers(headers: Any) -> None:
    """For answers sent outside `Observe` (the 500 page comes from Starlette's outermost layer)."""
    for name, value in SECURITY_HEADERS:
        headers.setdefault(name.decode(), value.decode())


class Observe:
    """Counts and times every HTTP request by route, and adds security headers."""

    def __init__(self, app: Any, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter("boda_http_requests_total", "HTTP requests", ["method", "route", "status"],
                                registry=registry)
        self.latency = Histogram("boda_http_request_seconds", "HTTP request latency", ["method", "route"],
                                 registry=registry)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_with_headers(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.requests.labels(scope["method"], route, str(status)).inc()
            self.latency.labels(scope["method"], route).observe(time.perf_counter() - start)
