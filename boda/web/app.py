"""The application factory: `create_app(settings)` builds one Boda server."""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from boda import __version__
from boda.core.apps import load, specs
from boda.core.config import Settings, get_settings
from boda.core.errors import NotFound, Unauthorized
from boda.core.runtime import Runtime
from boda.web import api, openapi, pages
from boda.web.clients import is_local, networks
from boda.web.errors import BodyReadTimeout, BodySizeLimit, install_error_handlers
from boda.web.i18n import text_or, translate
from boda.web.middleware import Observe

log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).parent


def _templates() -> Jinja2Templates:
    dirs = [WEB_DIR / "templates"] + [spec.templates_dir for spec in specs() if spec.templates_dir]
    templates = Jinja2Templates(directory=[str(d) for d in dirs])
    templates.env.globals["version"] = __version__
    templates.env.globals["apps"] = [spec for spec in specs() if spec.href]
    templates.env.globals["t"] = translate
    templates.env.globals["t_or"] = text_or  # a stored key and values, else the stored English text
    return templates


def _metrics(app: FastAPI, settings: Settings) -> None:
    """Request counts and latency; served to loopback callers, to a bearer token, or not at all."""
    registry = CollectorRegistry()
    app.add_middleware(Observe, registry=registry)
    if settings.metrics == "off":
        return

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        if settings.metrics == "local" and not is_local(request):
            raise NotFound("Not found", key="page_not_found")  # as if it were off: nothing to learn from outside
        if settings.metrics == "token":
            sent = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(sent.encode(), settings.metrics_token.encode()):
                raise Unauthorized("Send the metrics token (Authorization: Bearer ...)", key="metrics_token")
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime(settings)
        runtime.db.migrate()
        app.state.runtime = runtime
        app.state.db = runtime.db
        if settings.jobs.in_process and not settings.jobs.immediate:
            runtime.queue.start_consumer()
        try:
            yield
        finally:
            # A job running in this process gets a second to end; then it is queued again, so a deploy
            # never waits for a long batch (it goes on in a worker, or here after the restart).
            runtime.close(wait=1.0)

    app = FastAPI(
        title="Boda",
        version=__version__,
        description="Self-hosted multimodal AI: 3D Studio, Album, Pantry and Vision tools.",
        lifespan=lifespan,
        docs_url=None,  # served below with Swagger UI from our own static files, not a CDN
        redoc_url=None,
        generate_unique_id_function=openapi.operation_id,
        dependencies=[Depends(openapi.single_values)],
    )
    app.state.settings = settings
    # Set when the server begins to shut down (boda.web.server): event streams end at once, telling
    # their clients to reconnect, instead of holding the old process open for minutes.
    app.state.draining = threading.Event()
    app.state.trusted_proxies = networks(settings.trusted_proxies)
    app.state.templates = _templates()
    install_error_handlers(app)

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        # Swagger UI from our own static files, started by /static/docs.js (no inline script).
        return app.state.templates.TemplateResponse(request, "docs.html")  # type: ignore[no-any-return]

    app.include_router(api.health_router)
    app.include_router(api.router)
    app.include_router(pages.router)
    for spec in specs():
        for router in (spec.routes, spec.pages):
            if router:
                app.include_router(load(router))
        if spec.static_dir:  # mounted before /static so that /static/<key>/ reaches the app's folder
            app.mount(f"/static/{spec.key}", StaticFiles(directory=spec.static_dir), name=f"static-{spec.key}")
    openapi.install(app, [load(spec.openapi) for spec in specs() if spec.openapi])
    app.add_middleware(BodyReadTimeout, seconds=settings.body_timeout_seconds)
    app.add_middleware(BodySizeLimit, max_bytes=int(settings.max_request_mb * 1024 * 1024))
    _metrics(app, settings)  # outermost of ours: its headers and counts cover the 413s too
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    return app
