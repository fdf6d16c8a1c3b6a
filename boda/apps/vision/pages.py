"""Vision's web page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from boda.apps.vision import service
from boda.apps.vision.routes import anonymization_out, mnist_image_url
from boda.core import households
from boda.core.auth import Scope
from boda.core.errors import Unauthorized
from boda.web.deps import DbSession, RuntimeDep
from boda.web.pages import Page, require_login

router = APIRouter(include_in_schema=False)


@router.get("/vision")
def vision_page(page: Page, session: DbSession, runtime: RuntimeDep, tab: str = "digits") -> Response:
    if (redirect := require_login(page)) is not None:
        return redirect
    rows, _ = service.list_anonymizations(session, Scope.of(page.user), limit=6, offset=0)
    tab = tab if tab in ("digits", "faces", "videos", "mnist") else "digits"
    # The MNIST tab counts the digits this server actually loaded (the full set, or a folder's own files).
    mnist_size = service.mnist_size(runtime.settings) if tab == "mnist" else 0
    mine = households.list_mine(session, user_id=page.user.id) if page.user else []  # for the share dialog
    return page.render("vision/index.html", tab=tab, recent=[anonymization_out(r) for r in rows],
                       mnist_size=mnist_size, share_households=mine)


@router.post("/vision/mnist")
def mnist_fragment(page: Page, runtime: RuntimeDep, index: Annotated[int, Form()],
                   add_noise: Annotated[bool, Form()] = False) -> Response:
    """An htmx fragment: one MNIST digit with its label, shown from a render URL (nothing stored)."""
    if page.user is None:
        raise Unauthorized("Log in first", key="login_required")
    sample = service.mnist_preview(runtime.settings, index=index, add_noise=add_noise)
    url = mnist_image_url(index, add_noise=add_noise, seed=sample["seed"])
    return page.render("vision/_mnist_sample.html", sample=sample, image_url=url)
