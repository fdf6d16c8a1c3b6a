"""Vision's web page."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from boda.apps.vision import service
from boda.apps.vision.routes import anonymization_out
from boda.core.auth import Scope
from boda.core.db import DbSession
from boda.web.pages import Page, require_login

router = APIRouter(include_in_schema=False)


@router.get("/vision")
def vision_page(page: Page, session: DbSession, tab: str = "digits") -> Response:
    if (redirect := require_login(page)) is not None:
        return redirect
    rows, _ = service.list_anonymizations(session, Scope.of(page.user), limit=6, offset=0)
    tab = tab if tab in ("digits", "faces", "mnist") else "digits"
    return page.render("vision/index.html", tab=tab, recent=[anonymization_out(r) for r in rows])
