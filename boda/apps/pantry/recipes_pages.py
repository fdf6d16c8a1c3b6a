"""Pantry's recipe pages: recipes (list, import, detail with cook preview and confirm), what can I cook
(coverage bars), the recommendation form and the shopping list.

Posts are htmx (CSRF header from base.html); success answers `HX-Redirect`, an error the `#msg`
fragment in the reader's language. No inline script or style (strict CSP); phone first.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from boda.apps.pantry import recipes_service as rs
from boda.apps.pantry import service
from boda.apps.pantry.corpus import ATTRIBUTION, LICENSE_URL
from boda.apps.pantry.recipes_import import MAX_HTML_BYTES, check_page, scrape
from boda.apps.pantry.recipes_recommend import recommend
from boda.core.auth import Scope
from boda.core.errors import BodaError, Conflict, Forbidden, Unauthorized
from boda.core.models import Visibility
from boda.web.deps import CSRF_HEADER, DbSession, RuntimeDep, resolve_user
from boda.web.errors import localized
from boda.web.pages import Page, PageContext, require_login

router = APIRouter(include_in_schema=False)


def _household(page: PageContext, session: Any) -> str | None:
    try:
        return service.household_for(session, Scope.of(page.user), None)
    except Conflict:
        return None


def _msg(page: PageContext, exc: BodaError) -> HTMLResponse:
    return page.render("pantry/_msg.html", error=localized(page.request, exc))


def _user(page: PageContext) -> None:
    if page.user is None:
        raise Unauthorized("Log in first", key="login_required")


def _render(page: PageContext, session: Any, view: str, **values: Any) -> Response:
    return page.render("pantry/recipes.html", view=view, household_id=_household(page, session),
                       attribution=ATTRIBUTION, license_url=LICENSE_URL, **values)


@router.get("/pantry/recipes")
def recipes_page(page: Page, session: DbSession, q: str = "") -> Response:
    if (redirect := require_login(page)) is not None:
        return redirect
    scope = Scope.of(page.user)
    rows, _ = rs.list_recipes(session, scope, which="visible", limit=200)
    found = rs.search(session, scope, q[:200], 30) if q.strip() else []
    return _render(page, session, "list", recipes=rows, q=q[:200], found=found)


@router.post("/pantry/recipes/import")
async def import_page(page: Page, runtime: RuntimeDep, file: Annotated[UploadFile, File()],
                      url: Annotated[str, Form(max_length=2000)] = "") -> Response:
    _user(page)
    try:
        data = await file.read(MAX_HTML_BYTES + 1)
        check_page(data)
        found = await asyncio.to_thread(scrape, data, url.strip() or None)
        with runtime.db.session() as session:
            recipe = rs.store_import(session, Scope.of(page.user), found, visibility=Visibility.private,
                                     household_id=None)
            recipe_id = recipe.id
    except BodaError as exc:
        return _msg(page, exc)
    return Response(status_code=204, headers={"HX-Redirect": f"/pantry/recipes/{recipe_id}"})


@router.get("/pantry/recipes/{recipe_id}")
def recipe_page(recipe_id: str, page: Page, session: DbSession) -> Response:
    if (redirect := require_login(page)) is not None:
        return redirect
    scope = Scope.of(page.user)
    recipe = rs.get_recipe(session, scope, recipe_id)
    hid = _household(page, session)
    plan = rs.plan_cooking(session, scope, hid, recipe) if hid else None
    return _render(page, session, "detail", recipe=recipe, plan=plan)


@router.post("/pantry/recipes/{recipe_id}/cook")
def cook_page(recipe_id: str, page: Page, session: DbSession) -> Response:
    _user(page)
    scope = Scope.of(page.user)
    try:
        hid = service.household_for(session, scope, None)
        rs.cook(session, scope, hid, rs.get_recipe(session, scope, recipe_id))
    except BodaError as exc:
        session.rollback()
        return _msg(page, exc)
    return Response(status_code=204, headers={"HX-Redirect": "/pantry/shopping?cooked=1"})


@router.get("/pantry/cook")
def cook_list_page(page: Page, session: DbSession) -> Response:
    if (redirect := require_login(page)) is not None:
        return redirect
    hid = _household(page, session)
    found = rs.cook_list(session, Scope.of(page.user), hid, limit=30) if hid else []
    return _render(page, session, "cook", found=found)


def _recommend_view(page: PageContext, session: Any, runtime: Any, **values: Any) -> Response:
    hid = _household(page, session)
    names: list[str] = []
    if hid:
        for s in service.stock(session, Scope.of(page.user), hid):
            if s.item.name not in names:
                names.append(s.item.name)
    return _render(page, session, "recommend", stock_names=names[:40], llm=runtime.ai.chat().available, **values)


@router.get("/pantry/recommend")
def recommend_page(page: Page, session: DbSession, runtime: RuntimeDep) -> Response:
    if (redirect := require_login(page)) is not None:
        return redirect
    return _recommend_view(page, session, runtime)


@router.post("/pantry/recommend")
async def recommend_post(request: Request, session: DbSession, runtime: RuntimeDep,
                         ingredient: Annotated[list[str] | None, Form(max_length=50)] = None,
                         extra: Annotated[str, Form(max_length=500)] = "",
                         exclude: Annotated[str, Form(max_length=1000)] = "",
                         csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    """The recommendation without JavaScript (a whole page) or from htmx (the fragment); the page's script
    streams from the API instead. A plain form cannot send the CSRF header, so its hidden field counts too."""
    page = PageContext(request, resolve_user(request, session, check_csrf=False), runtime.settings.default_locale)
    _user(page)
    sent = request.headers.get(CSRF_HEADER) or csrf_token
    if not hmac.compare_digest(sent.encode(), page.csrf_token.encode()):
        raise Forbidden("Missing or wrong CSRF token; reload the page and try again", key="csrf")
    names = [x for x in (ingredient or []) if x.strip()] + [x.strip() for x in extra.split(",") if x.strip()]
    body = {"ingredients": names[:50], "except_recipe": [x.strip() for x in exclude.split(",") if x.strip()][:50],
            "language": "ko" if page.locale == "ko" else "en"}
    htmx = bool(request.headers.get("hx-request"))
    try:
        result = await recommend(runtime.ai.chat(), body)
    except BodaError as exc:
        if htmx:
            return _msg(page, exc)
        return _recommend_view(page, session, runtime, error=localized(request, exc))
    if htmx:
        return page.render("pantry/_recommendation.html", r=result.as_dict())
    return _recommend_view(page, session, runtime, r=result.as_dict())


@router.get("/pantry/shopping")
def shopping_page(page: Page, session: DbSession, cooked: int = 0) -> Response:
    if (redirect := require_login(page)) is not None:
        return redirect
    hid = _household(page, session)
    rows = rs.list_shopping(session, hid) if hid else []
    return _render(page, session, "shopping", shopping=rows, cooked=bool(cooked))


@router.post("/pantry/shopping")
def shopping_add(page: Page, session: DbSession, name: Annotated[str, Form(min_length=1, max_length=128)]) -> Response:
    _user(page)
    try:
        rs.add_shopping(session, service.household_for(session, Scope.of(page.user), None), name=name)
    except BodaError as exc:
        return _msg(page, exc)
    return Response(status_code=204, headers={"HX-Redirect": "/pantry/shopping"})


@router.post("/pantry/shopping/{shopping_id}/toggle")
def shopping_toggle(shopping_id: str, page: Page, session: DbSession) -> Response:
    _user(page)
    row = rs.get_shopping(session, Scope.of(page.user), shopping_id)
    row.done = not row.done
    return Response(status_code=204, headers={"HX-Redirect": "/pantry/shopping"})
