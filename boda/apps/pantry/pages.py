"""Pantry's pages: the fridge by place, add by name (with the camera), use soon, the waste chart.

Actions are htmx posts (the CSRF header comes from base.html's `hx-headers`) that answer the fridge
fragment again, with a toast that undoes the change; no inline script or style anywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response

from boda.apps.pantry import digest, service, shelf_life
from boda.apps.pantry.settings import pantry_settings
from boda.core import auth, households, mail, uploads
from boda.core.auth import Scope
from boda.core.errors import BodaError, Conflict, InvalidInput, Unauthorized
from boda.core.models import Visibility
from boda.web.deps import DbSession, RuntimeDep
from boda.web.errors import localized
from boda.web.pages import Page, PageContext, require_login

router = APIRouter(include_in_schema=False)
TABS = ("fridge", "soon", "waste")


def badge(days_left: int | None, soon_days: int) -> str:
    """The consume-by badge's colour class: expired, soon, ok, or none (no date)."""
    if days_left is None:
        return "none"
    return "expired" if days_left < 0 else "soon" if days_left <= soon_days else "ok"


def _fridge(page: PageContext, session: Any, runtime: Any, household_id: str, *, done: Any = None,
            error: str | None = None) -> dict[str, Any]:
    scope = Scope.of(page.user)
    soon_days = pantry_settings(runtime.settings).use_soon_days
    places = service.list_places(session, scope, household_id)
    stocked = service.stock(session, scope, household_id)
    groups = [(p, [s for s in stocked if s.item.place_id == p.id]) for p in places]
    loose = [s for s in stocked if s.item.place_id not in {p.id for p in places}]
    return {"household_id": household_id, "places": places, "groups": groups, "loose": loose,
            "soon_days": soon_days, "badge": badge, "done": done, "error": error}


def _digest(page: PageContext, session: Any, runtime: Any, household_id: str, **extra: Any) -> dict[str, Any]:
    """The "today's digest" card: the household's digest and the reader's e-mail preference."""
    value = digest.household_digest(session, Scope.of(page.user), household_id, settings=runtime.settings,
                                    locale=page.locale)
    return {"digest": value, "preference": digest.get_preference(session, page.user.id),  # type: ignore[union-attr]
            "mail_configured": mail.configured(runtime.settings.smtp), "household_id": household_id, **extra}


def _household(page: PageContext, session: Any, household_id: str | None) -> str | None:
    try:
        return service.household_for(session, Scope.of(page.user), household_id)
    except Conflict:
        return None


def _chart(stats: dict[str, Any]) -> dict[str, Any]:
    """Bar geometry for the server-drawn SVG (attributes only: the CSP allows no inline style)."""
    months = stats["months"]
    top = max([m["consumed_count"] + m["discarded_count"] for m in months] + [1])
    width, height, gap = 28, 120, 8
    bars = []
    for i, m in enumerate(months):
        used = round(height * m["consumed_count"] / top)
        thrown = round(height * m["discarded_count"] / top)
        x = i * (width + gap) + 4
        bars.append({"x": x, "label": m["month"][5:], "used": used, "thrown": thrown,
                     "used_y": height - used, "thrown_y": height - used - thrown, "m": m})
    return {"bars": bars, "width": len(months) * (width + gap) + 8, "height": height, "bar": width}


def _own_classifier(session: Any, runtime: Any, household_id: str) -> dict[str, Any] | None:
    """What the household's own classifier knows, for one line under the photo form (none before it trained)."""
    from boda.apps.pantry import household

    row = household.latest(session, household_id, household.embedder_of(runtime.ai.image_classifier()))
    if row is None:
        return None
    return {"version": row.version, "labels": ", ".join(row.head["classes"]), "examples": row.examples,
            "percent": round(100 * row.accuracy)}


@router.get("/pantry")
def pantry_page(page: Page, session: DbSession, runtime: RuntimeDep, tab: str = "fridge",
                household_id: str | None = None) -> Response:
    if (redirect := require_login(page)) is not None:
        return redirect
    tab = tab if tab in TABS else "fridge"
    try:
        hid = _household(page, session, household_id)
    except BodaError:
        hid = _household(page, session, None)
    if hid is None:
        return page.render("pantry/index.html", tab=tab, household_id=None)
    scope = Scope.of(page.user)
    values: dict[str, Any] = {"tab": tab, "household_id": hid,
                              "households": households.list_mine(session, user_id=page.user.id),  # type: ignore[union-attr]
                              "ingredients": shelf_life.ingredients()}
    values |= _digest(page, session, runtime, hid)
    if tab == "fridge":
        values |= _fridge(page, session, runtime, hid) | {"own": _own_classifier(session, runtime, hid)}
    elif tab == "soon":
        soon_days = pantry_settings(runtime.settings).use_soon_days
        values |= {"soon": service.use_soon(session, scope, hid, within_days=soon_days), "soon_days": soon_days,
                   "badge": badge}
    else:
        stats = service.waste_stats(session, scope, hid)
        names = {i.category: i.category_ko for i in shelf_life.ingredients()} if page.locale == "ko" else {}
        values |= {"stats": stats, "chart": _chart(stats),
                   "category_name": lambda c: names.get(c) or c.replace("_", " "),
                   "share": round(100 * stats["waste_share"]) if stats["waste_share"] is not None else None}
    return page.render("pantry/index.html", **values)


def _user(page: PageContext) -> None:
    if page.user is None:
        raise Unauthorized("Log in first", key="login_required")


@router.post("/pantry/start")
def start(page: Page, session: DbSession) -> Response:
    """A user in no household gets one of their own, with a fridge, a freezer and a shelf."""
    _user(page)
    hid = _household(page, session, None)
    if hid is None:
        name = f"{page.user.display_name or page.user.username}"  # type: ignore[union-attr]
        hid = households.create(session, user_id=page.user.id, name=name[:120]).id  # type: ignore[union-attr]
    service.ensure_default_places(session, hid)
    return Response(status_code=204, headers={"HX-Redirect": "/pantry"})


def _act(page: PageContext, session: Any, runtime: Any, household_id: str, action: Any) -> Response:
    """Run one change and answer the fridge fragment with an undo toast, or the error in its language."""
    _user(page)
    try:
        hid = service.household_for(session, Scope.of(page.user), household_id)
    except BodaError:
        hid = _household(page, session, None)
        if hid is None:
            raise
    try:
        event = action(Scope.of(page.user), hid)
        session.flush()
        values = _fridge(page, session, runtime, hid, done=event)
    except BodaError as exc:
        session.rollback()
        values = _fridge(page, session, runtime, hid, error=localized(page.request, exc))
    return page.render("pantry/_fridge.html", **values)


Household = Annotated[str, Form(max_length=36)]
Amount = Annotated[float | None, Form(gt=0, le=1_000_000)]


@router.post("/pantry/items")
def add_item(page: Page, session: DbSession, runtime: RuntimeDep, household_id: Household,
             name: Annotated[str, Form(max_length=128)], quantity: Annotated[float, Form(gt=0, le=1_000_000)] = 1.0,
             unit: Annotated[str, Form(max_length=16)] = "", place_id: Annotated[str, Form(max_length=36)] = "",
             photo: Annotated[UploadFile | None, File()] = None) -> Response:
    def action(scope: Scope, hid: str) -> Any:
        photo_id = None
        if photo is not None and photo.filename:
            settings = runtime.settings
            stored = uploads.save_image_upload(session, runtime.store, owner_id=scope.user_id, source=photo.file,
                                               filename=photo.filename, app="pantry",
                                               max_bytes=settings.max_upload_bytes,
                                               max_pixels=settings.max_image_pixels)
            auth.set_visibility(session, stored, Visibility.household, scope=scope, household_id=hid)  # like the item
            photo_id = stored.id
        return service.create_item(session, scope, hid, name=name, quantity=quantity, unit=unit,
                                   place_id=place_id or None, photo_file_id=photo_id)[1]

    return _act(page, session, runtime, household_id, action)


@router.post("/pantry/items/{item_id}/{verb}")
def item_action(item_id: str, verb: str, page: Page, session: DbSession, runtime: RuntimeDep,
                household_id: Household, quantity: Amount = None,
                place_id: Annotated[str, Form(max_length=36)] = "") -> Response:
    def action(scope: Scope, hid: str) -> Any:
        if verb == "consume":
            return service.consume_item(session, scope, item_id, quantity)[1]
        if verb == "discard":
            return service.discard_item(session, scope, item_id, quantity)[1]
        if verb == "move":
            return service.move_item(session, scope, item_id, place_id)[1]
        if verb == "split" and quantity is not None:
            return service.split_item(session, scope, item_id, quantity)[2]
        if verb == "open":
            return service.edit_item(session, scope, item_id, {"opened_at": datetime.now(UTC)})[1]
        raise Conflict(f"Unknown action {verb}", key="pantry_unknown_action")

    return _act(page, session, runtime, household_id, action)


@router.post("/pantry/undo")
def undo(page: Page, session: DbSession, runtime: RuntimeDep, household_id: Household,
         event_id: Annotated[str, Form(max_length=36)] = "") -> Response:
    return _act(page, session, runtime, household_id,
                lambda scope, hid: service.undo(session, scope, hid, event_id or None))


@router.post("/pantry/digest/preference")
def digest_preference(page: Page, session: DbSession, runtime: RuntimeDep, household_id: Household,
                      email: Annotated[str, Form(max_length=254)] = "",
                      enabled: Annotated[str, Form(max_length=8)] = "") -> Response:
    """Save the e-mail opt-in (the same rules as PUT /api/v1/pantry/digest/preference); answers the card."""
    from boda.apps.pantry.schemas import DigestPreferenceIn

    _user(page)
    hid = service.household_for(session, Scope.of(page.user), household_id)
    try:
        try:
            wanted = DigestPreferenceIn(enabled=bool(enabled), email=email.strip() or None)
        except ValueError as exc:
            raise InvalidInput("That is not an e-mail address", key="pantry_digest_email_invalid") from exc
        user_id = page.user.id  # type: ignore[union-attr]
        digest.set_preference(session, user_id, enabled=wanted.enabled, email=wanted.email, locale=page.locale)
        values = _digest(page, session, runtime, hid, digest_saved=True)
    except BodaError as exc:
        session.rollback()
        values = _digest(page, session, runtime, hid, digest_error=localized(page.request, exc))
    return page.render("pantry/_digest.html", **values)


# --- recipes, what can I cook, suggestions, shopping (their own module) ----------------------------

from boda.apps.pantry.recipes_pages import router as _recipes_pages  # noqa: E402

router.include_router(_recipes_pages)
