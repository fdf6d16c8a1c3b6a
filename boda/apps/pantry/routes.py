"""Pantry's API under /api/v1/pantry.

The household: `household_id` in the query (reads) or the body (creations), default the caller's
first; 404 when the caller is not a member, 409 when they are in no household at all. Objects of
other households are 404; a place named in a request that is not in the object's household is 409.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile

from boda.apps.pantry import digest, household, recognitions, service, shelf_life
from boda.apps.pantry.models import Item, ItemEvent, ItemStatus, ShelfLifeOverride
from boda.apps.pantry.schemas import (
    AmountIn,
    ConfirmIn,
    DigestCounts,
    DigestItemOut,
    DigestOut,
    DigestPreferenceIn,
    DigestPreferenceOut,
    EventOut,
    IngredientOut,
    ItemChangeOut,
    ItemIn,
    ItemOut,
    ItemPatch,
    MoveIn,
    OverrideIn,
    OverrideOut,
    PantryClassifierOut,
    PlaceIn,
    PlaceOut,
    PlacePatch,
    RecognitionOut,
    ShelfLifeOut,
    SpanOut,
    SplitIn,
    SplitOut,
    UndoIn,
    WasteOut,
)
from boda.apps.pantry.settings import pantry_settings
from boda.core import mail
from boda.core.auth import Scope
from boda.core.schemas import JobOut, Page, PageParams
from boda.web.deps import CurrentUser, DbSession, RuntimeDep
from boda.web.i18n import job_text, locale_for
from boda.web.openapi import errors, image_upload

router = APIRouter(prefix="/api/v1/pantry", tags=["pantry"])

HouseholdQuery = Annotated[str | None, Query(max_length=36, description=(
    "The household (default: the caller's first); 404 when the caller is not a member."))]
IN_HOUSEHOLD = errors(404, 409)


def item_out(item: Item) -> ItemOut:
    return ItemOut.model_validate(item).model_copy(update={"days_left": service.days_left(item.consume_by)})


def event_out(event: ItemEvent) -> EventOut:
    return EventOut.model_validate(event)


def shelf_out(life: shelf_life.ShelfLife) -> ShelfLifeOut:
    def spans(values: dict[str, shelf_life.Span]) -> dict[str, SpanOut]:
        return {k: SpanOut(min_days=v.min_days, max_days=v.max_days, advice=v.advice) for k, v in values.items()}

    return ShelfLifeOut(query=life.query, known=life.known, name_ko=life.name_ko, name_en=life.name_en,
                        category=life.category, category_ko=life.category_ko, place=life.place, days=life.days(),
                        spans=spans(life.spans), opened=spans(life.opened), foodkeeper_id=life.foodkeeper_id,
                        foodkeeper_name=life.foodkeeper_name, overridden=life.overridden)


def override_out(row: ShelfLifeOverride) -> OverrideOut:
    return OverrideOut.model_validate(row)


# --- places ---------------------------------------------------------------------------

@router.get("/places", responses=IN_HOUSEHOLD)
def list_places(session: DbSession, user: CurrentUser, household_id: HouseholdQuery = None) -> list[PlaceOut]:
    """The household's fridges, freezers, pantry shelves and compartments, in their order."""
    scope = Scope.of(user)
    household = service.household_for(session, scope, household_id)
    return [PlaceOut.model_validate(p) for p in service.list_places(session, scope, household)]


@router.post("/places", status_code=201, responses=IN_HOUSEHOLD)
def create_place(body: PlaceIn, session: DbSession, user: CurrentUser) -> PlaceOut:
    """Add a place; a compartment names its `parent_id` (409 when that is not in the household)."""
    scope = Scope.of(user)
    household = service.household_for(session, scope, body.household_id)
    row = service.create_place(session, scope, household, name=body.name, kind=body.kind, parent_id=body.parent_id,
                               position=body.position)
    return PlaceOut.model_validate(row)


@router.get("/places/{place_id}")
def get_place(place_id: str, session: DbSession, user: CurrentUser) -> PlaceOut:
    """One place."""
    return PlaceOut.model_validate(service.get_place(session, Scope.of(user), place_id))


@router.patch("/places/{place_id}", responses=errors(409))
def update_place(place_id: str, body: PlacePatch, session: DbSession, user: CurrentUser) -> PlaceOut:
    """Rename, re-kind, move into another place or reorder; 409 for a parent elsewhere or a cycle."""
    changes = body.model_dump(exclude_unset=True)
    return PlaceOut.model_validate(service.update_place(session, Scope.of(user), place_id, **changes))


@router.delete("/places/{place_id}", status_code=204, responses=errors(409))
def delete_place(place_id: str, session: DbSession, user: CurrentUser) -> None:
    """Delete an empty place; 409 while items or compartments are in it."""
    service.delete_place(session, Scope.of(user), place_id)


# --- items -------------------------------------------------------------------------------

@router.get("/items", responses=IN_HOUSEHOLD)
def list_items(session: DbSession, user: CurrentUser, page: Annotated[PageParams, Depends()],
               household_id: HouseholdQuery = None,
               status: Annotated[ItemStatus | None, Query(description="Default: active (in stock).")
                                 ] = ItemStatus.active,
               place_id: Annotated[str | None, Query(max_length=36)] = None) -> Page[ItemOut]:
    """Items, soonest consume-by first (undated last)."""
    scope = Scope.of(user)
    household = service.household_for(session, scope, household_id)
    rows, total = service.list_items(session, scope, household, status=status, place_id=place_id,
                                     limit=page.limit, offset=page.offset)
    return Page(items=[item_out(r) for r in rows], total=total, limit=page.limit, offset=page.offset)


@router.post("/items", status_code=201, responses=IN_HOUSEHOLD)
def create_item(body: ItemIn, session: DbSession, user: CurrentUser) -> ItemChangeOut:
    """Add an item by name: category, place and consume-by come from shelf life unless given."""
    scope = Scope.of(user)
    household = service.household_for(session, scope, body.household_id)
    item, event = service.create_item(session, scope, household, name=body.name, quantity=body.quantity,
                                      unit=body.unit, place_id=body.place_id, category=body.category,
                                      consume_by=body.consume_by, opened_at=body.opened_at, notes=body.notes,
                                      added_at=body.added_at)
    return ItemChangeOut(item=item_out(item), event=event_out(event))


@router.get("/items/{item_id}")
def get_item(item_id: str, session: DbSession, user: CurrentUser) -> ItemOut:
    """One item (any status)."""
    return item_out(service.get_item(session, Scope.of(user), item_id))


@router.patch("/items/{item_id}")
def edit_item(item_id: str, body: ItemPatch, session: DbSession, user: CurrentUser) -> ItemChangeOut:
    """Change an item's fields (logged, undoable); `consume_by: null` returns to the shelf-life date,
    `opened_at: null` marks it unopened; null for any other field keeps it."""
    item, event = service.edit_item(session, Scope.of(user), item_id, body.model_dump(exclude_unset=True))
    return ItemChangeOut(item=item_out(item), event=event_out(event))


@router.delete("/items/{item_id}", status_code=204)
def delete_item(item_id: str, session: DbSession, user: CurrentUser) -> None:
    """Delete an item entered by mistake, with its history (not counted as waste; not undoable)."""
    service.delete_item(session, Scope.of(user), item_id)


@router.post("/items/{item_id}/move", responses=errors(409))
def move_item(item_id: str, body: MoveIn, session: DbSession, user: CurrentUser) -> ItemChangeOut:
    """Move into another place of the same household (409 otherwise, or when the item is finished)."""
    item, event = service.move_item(session, Scope.of(user), item_id, body.place_id)
    return ItemChangeOut(item=item_out(item), event=event_out(event))


@router.post("/items/{item_id}/split", status_code=201, responses=errors(409))
def split_item(item_id: str, body: SplitIn, session: DbSession, user: CurrentUser) -> SplitOut:
    """Take part of an item into a new item; 409 when the quantity is not less than what is there."""
    item, part, event = service.split_item(session, Scope.of(user), item_id, body.quantity, body.place_id)
    return SplitOut(item=item_out(item), part=item_out(part), event=event_out(event))


@router.post("/items/{item_id}/consume", responses=errors(409))
def consume_item(item_id: str, body: AmountIn, session: DbSession, user: CurrentUser) -> ItemChangeOut:
    """Use some or all of an item; 409 for more than is left or a finished item."""
    item, event = service.consume_item(session, Scope.of(user), item_id, body.quantity)
    return ItemChangeOut(item=item_out(item), event=event_out(event))


@router.post("/items/{item_id}/discard", responses=errors(409))
def discard_item(item_id: str, body: AmountIn, session: DbSession, user: CurrentUser) -> ItemChangeOut:
    """Throw some or all of an item away (counted as waste); 409 for more than is left or a finished item."""
    item, event = service.discard_item(session, Scope.of(user), item_id, body.quantity)
    return ItemChangeOut(item=item_out(item), event=event_out(event))


@router.get("/items/{item_id}/events")
def item_events(item_id: str, session: DbSession, user: CurrentUser,
                page: Annotated[PageParams, Depends()]) -> Page[EventOut]:
    """One item's history, newest first."""
    scope = Scope.of(user)
    item = service.get_item(session, scope, item_id)
    rows, total = service.list_events(session, scope, item.household_id, item_id=item.id, limit=page.limit,
                                      offset=page.offset)
    return Page(items=[event_out(e) for e in rows], total=total, limit=page.limit, offset=page.offset)


# --- events and undo --------------------------------------------------------------------------

@router.get("/events", responses=IN_HOUSEHOLD)
def list_events(session: DbSession, user: CurrentUser, page: Annotated[PageParams, Depends()],
                household_id: HouseholdQuery = None) -> Page[EventOut]:
    """The household's change log, newest first."""
    scope = Scope.of(user)
    household = service.household_for(session, scope, household_id)
    rows, total = service.list_events(session, scope, household, limit=page.limit, offset=page.offset)
    return Page(items=[event_out(e) for e in rows], total=total, limit=page.limit, offset=page.offset)


@router.post("/undo", responses=IN_HOUSEHOLD)
def undo(body: UndoIn, session: DbSession, user: CurrentUser) -> EventOut:
    """Undo the latest change (or `event_id`, the latest on its item); answers the undo's own event.

    409 when nothing is left to undo or a later change to the same item comes first.
    """
    scope = Scope.of(user)
    household = service.household_for(session, scope, body.household_id)
    return event_out(service.undo(session, scope, household, body.event_id))


# --- lists and statistics ------------------------------------------------------------------------

@router.get("/use-soon", responses=IN_HOUSEHOLD)
def use_soon(session: DbSession, user: CurrentUser, runtime: RuntimeDep, household_id: HouseholdQuery = None,
             days: Annotated[int | None, Query(ge=0, le=365, description=(
                 "Due within this many days (default: the `pantry.use_soon_days` setting)."))] = None,
             ) -> list[ItemOut]:
    """Items to eat first: due within `days` or already past, soonest first, with `days_left`."""
    scope = Scope.of(user)
    household = service.household_for(session, scope, household_id)
    within = days if days is not None else pantry_settings(runtime.settings).use_soon_days
    return [item_out(s.item) for s in service.use_soon(session, scope, household, within_days=within)]


@router.get("/stats/waste", responses=IN_HOUSEHOLD)
def waste_stats(session: DbSession, user: CurrentUser, household_id: HouseholdQuery = None,
                months: Annotated[int, Query(ge=1, le=36)] = 12) -> WasteOut:
    """Consumed vs thrown away, per month and per category (counts and quantities; undone changes left out)."""
    scope = Scope.of(user)
    household = service.household_for(session, scope, household_id)
    return WasteOut.model_validate(service.waste_stats(session, scope, household, months=months))


def digest_out(value: digest.Digest) -> DigestOut:
    def items(entries: list[digest.DigestItem]) -> list[DigestItemOut]:
        return [DigestItemOut(id=e.id, name=e.name, quantity=e.quantity, unit=e.unit, days_left=e.days_left,
                              consume_by=e.consume_by, opened_on=e.opened_on, text=e.text) for e in entries]

    return DigestOut(household_id=value.household_id, household_name=value.household_name, day=value.day,
                     within_days=value.within_days, locale=value.locale, title=value.title, summary=value.summary,
                     counts=DigestCounts(**value.counts), expired=items(value.expired), due=items(value.due),
                     opened=items(value.opened))


@router.get("/digest", responses=IN_HOUSEHOLD)
def get_digest(request: Request, session: DbSession, user: CurrentUser, runtime: RuntimeDep,
               household_id: HouseholdQuery = None) -> DigestOut:
    """Today's digest, in the reader's language: items past their consume-by date, items due within
    `pantry.digest_days`, the other opened items, and counts. "Today" is in `pantry.digest_timezone`."""
    scope = Scope.of(user)
    household = service.household_for(session, scope, household_id)
    locale = locale_for(request, user.locale, runtime.settings.default_locale)
    return digest_out(digest.household_digest(session, scope, household, settings=runtime.settings, locale=locale))


def preference_out(row: Any, settings: Any) -> DigestPreferenceOut:
    pantry = pantry_settings(settings)
    return DigestPreferenceOut(enabled=row.enabled, email=row.email, sent_on=row.sent_on,
                               mail_configured=mail.configured(settings.smtp), hour=pantry.digest_hour,
                               timezone=pantry.digest_timezone)


@router.get("/digest/preference")
def get_digest_preference(session: DbSession, user: CurrentUser, runtime: RuntimeDep) -> DigestPreferenceOut:
    """Whether the caller gets the digest by e-mail, and where (everyone starts without)."""
    return preference_out(digest.get_preference(session, user.id), runtime.settings)


@router.put("/digest/preference", responses=errors(400))
def set_digest_preference(request: Request, body: DigestPreferenceIn, session: DbSession, user: CurrentUser,
                          runtime: RuntimeDep) -> DigestPreferenceOut:
    """Ask for (or stop) the daily digest e-mail: one mail a day from `pantry.digest_hour`, covering each of
    the caller's households, sent only on days with something past, due or opened; 400 without an address.
    The mail is written in the language of this request (cookie, account, then Accept-Language)."""
    locale = locale_for(request, user.locale, runtime.settings.default_locale)
    row = digest.set_preference(session, user.id, enabled=body.enabled, email=body.email, locale=locale)
    return preference_out(row, runtime.settings)


# --- shelf life ----------------------------------------------------------------------------------

@router.get("/shelf-life", responses=IN_HOUSEHOLD)
def get_shelf_life(session: DbSession, user: CurrentUser,
                   name: Annotated[str, Query(min_length=1, max_length=128)],
                   household_id: HouseholdQuery = None) -> ShelfLifeOut:
    """Where an ingredient keeps and for how long (FoodKeeper, then the household's rule); `known: false`
    with no date for a name not in the data."""
    scope = Scope.of(user)
    household = service.household_for(session, scope, household_id)
    return shelf_out(service.shelf_life_for(session, household, name))


@router.get("/ingredients")
def ingredients(user: CurrentUser, q: Annotated[str, Query(min_length=1, max_length=64)],
                limit: Annotated[int, Query(ge=1, le=50)] = 10) -> list[IngredientOut]:
    """Ingredient names starting with (then containing) `q`, in Korean or English: for autocompletion."""
    return [IngredientOut(ko=i.ko, en=i.en, category=i.category, category_ko=i.category_ko, aliases=list(i.aliases))
            for i in shelf_life.suggest(q, limit)]


@router.get("/shelf-life/overrides", responses=IN_HOUSEHOLD)
def list_overrides(session: DbSession, user: CurrentUser, household_id: HouseholdQuery = None) -> list[OverrideOut]:
    """The household's own shelf-life rules."""
    scope = Scope.of(user)
    household = service.household_for(session, scope, household_id)
    return [override_out(r) for r in service.list_overrides(session, household)]


@router.put("/shelf-life/overrides", responses=IN_HOUSEHOLD)
def set_override(body: OverrideIn, session: DbSession, user: CurrentUser) -> OverrideOut:
    """Set (or replace) the household's rule for a name: its place and/or days per place."""
    scope = Scope.of(user)
    household = service.household_for(session, scope, body.household_id)
    return override_out(service.set_override(session, household, name=body.name, place=body.place,
                                             days=dict(body.days), category=body.category))


@router.delete("/shelf-life/overrides/{override_id}", status_code=204)
def delete_override(override_id: str, session: DbSession, user: CurrentUser) -> None:
    """Drop a rule: the name goes back to FoodKeeper's advice."""
    service.delete_override(session, Scope.of(user), override_id)


# --- photo to ingredients -------------------------------------------------------------------------

def recognition_out(row: Any) -> RecognitionOut:
    result = row.result or {}
    return RecognitionOut(id=row.id, status=str(row.status), progress=row.progress, message=row.message or "",
                          error=row.error, household_id=row.payload["household_id"], file_id=row.payload["file_id"],
                          width=result.get("width"), height=result.get("height"),
                          candidates=result.get("candidates", []), seconds=result.get("seconds", {}),
                          errors=result.get("errors", {}), confirmed_item_ids=result.get("confirmed_item_ids"),
                          kind="receipt" if row.kind == "pantry.receipt" else "photo", lines=result.get("lines"),
                          household_version=result.get("household_version"))


@router.post("/recognitions", status_code=202, responses=errors(400, 404, 409, 413, 415, 503),
             openapi_extra=image_upload("file"))
def start_recognition(request: Request, session: DbSession, user: CurrentUser, runtime: RuntimeDep,
                      file: Annotated[UploadFile, File()],
                      household_id: Annotated[str | None, Form(max_length=36)] = None) -> JobOut:
    """A photo of groceries or an open fridge: queue the recognisers (follow the job, then read
    /recognitions/{id}); a file that is not a whole image is refused and nothing is kept."""
    scope = Scope.of(user)
    household = service.household_for(session, scope, household_id)
    job = recognitions.start(session, runtime, scope, household, file.file, file.filename)
    return JobOut.of(job, job_text(request, user.locale))


@router.post("/receipts", status_code=202, responses=errors(400, 404, 409, 413, 415, 503),
             openapi_extra=image_upload("file"))
def start_receipt(request: Request, session: DbSession, user: CurrentUser, runtime: RuntimeDep,
                  file: Annotated[UploadFile, File()],
                  household_id: Annotated[str | None, Form(max_length=36)] = None) -> JobOut:
    """A receipt photo: Tesseract (Korean + English), then rules (and the chat model when configured) find
    names and amounts. Read the candidates at /recognitions/{id} and confirm them there, as for a photo."""
    scope = Scope.of(user)
    household = service.household_for(session, scope, household_id)
    job = recognitions.start(session, runtime, scope, household, file.file, file.filename, receipt=True)
    return JobOut.of(job, job_text(request, user.locale))


@router.get("/recognitions/{recognition_id}")
def get_recognition(recognition_id: str, session: DbSession, user: CurrentUser) -> RecognitionOut:
    """The candidates, each with its confidence, the recogniser that said it and its box."""
    return recognition_out(recognitions.get(session, Scope.of(user), recognition_id))


@router.post("/recognitions/{recognition_id}/confirm", status_code=201, responses=errors(409))
def confirm_recognition(recognition_id: str, body: ConfirmIn, session: DbSession, user: CurrentUser,
                        runtime: RuntimeDep) -> list[ItemChangeOut]:
    """The user's edited list becomes items (shelf-life dates, the photo attached); 409 before the recognition
    has finished and after it was confirmed once. The boxes of what was kept (under the name kept) teach the
    household's own classifier; enough new ones queue its training."""
    made = recognitions.confirm(session, Scope.of(user), recognition_id,
                                [c.model_dump() for c in body.items], runtime)
    return [ItemChangeOut(item=item_out(item), event=event_out(event)) for item, event in made]


# --- the household's own classifier ---------------------------------------------------------------------

@router.get("/households/{household_id}/classifier", responses=errors(404))
def get_classifier(household_id: Annotated[str, Path(max_length=36)], session: DbSession, user: CurrentUser,
                   runtime: RuntimeDep) -> PantryClassifierOut:
    """What the household has taught Boda: confirmed boxes per label, the newest trained version and its
    cross-validated accuracy, the newest training. 404 when the caller is not a member."""
    return PantryClassifierOut.model_validate(household.state(session, runtime, Scope.of(user), household_id))


@router.post("/households/{household_id}/classifier/train", status_code=202, responses=errors(404, 409, 503))
def train_classifier(request: Request, household_id: Annotated[str, Path(max_length=36)], session: DbSession,
                     user: CurrentUser, runtime: RuntimeDep) -> JobOut:
    """Train the household's classifier on every box its members confirmed (follow the job, then read
    /classifier). 409 with the reason while there are fewer than two labels or two boxes of each."""
    job = household.start_training(session, runtime, Scope.of(user), household_id)
    return JobOut.of(job, job_text(request, user.locale))


# --- recipes, cooking, recommendation, shopping list (their own module) ----------------------------

from boda.apps.pantry.recipes_routes import router as _recipes_router  # noqa: E402

router.include_router(_recipes_router)
