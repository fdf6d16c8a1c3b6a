"""Pantry's recipe API (included in `routes.router`, so under /api/v1/pantry).

Recipes are `Owned`: another person's private recipe is a 404, as is another household's stock.
The recommendation needs a chat model (`llm.provider`); without one it answers 503 with the reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, ValidationError

from boda.apps.pantry import recipes_service as rs
from boda.apps.pantry import service
from boda.apps.pantry.models import Recipe, ShoppingItem
from boda.apps.pantry.recipes_import import MAX_HTML_BYTES, check_page, import_url, scrape
from boda.apps.pantry.recipes_recommend import RecommendRequest, recommend, stream_recommend
from boda.apps.pantry.schemas import EventOut
from boda.core.auth import Scope
from boda.core.errors import (
    BodaError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unavailable,
    UnsupportedMedia,
)
from boda.core.models import Visibility
from boda.core.schemas import Page
from boda.web.deps import CurrentUser, DbSession, RuntimeDep
from boda.web.errors import localized
from boda.web.openapi import errors

log = logging.getLogger(__name__)
router = APIRouter()

HouseholdQuery = Annotated[str | None, Query(max_length=36, description=(
    "The household (default: the caller's first); 404 when the caller is not a member."))]
IN_HOUSEHOLD = errors(404, 409)
Line = Annotated[str, Field(min_length=1, max_length=500)]


class IngredientLine(BaseModel):
    text: str
    name: str | None = None
    amount: float | None = None
    amount_max: float | None = None
    unit: str | None = None
    note: str | None = None
    vague: str | None = None
    unparsed: bool = False


class RecipeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    owner_id: str
    household_id: str | None
    visibility: Visibility
    title: str
    ingredients: list[IngredientLine]
    steps: list[str]
    tags: list[str]
    photo_file_id: str | None
    source_url: str | None
    description: str
    yields: str | None
    total_minutes: int | None
    language: str | None


class RecipeIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    ingredients: list[Line] = Field(min_length=1, max_length=100, description="Lines as written; parsed here.")
    steps: list[Annotated[str, Field(max_length=4000)]] = Field(default_factory=list, max_length=100)
    tags: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=30)
    visibility: Visibility = Visibility.private
    household_id: str | None = Field(default=None, max_length=36, description="Needed for household visibility.")
    source_url: str | None = Field(default=None, max_length=2000)
    description: str = Field(default="", max_length=4000)
    photo_file_id: str | None = Field(default=None, max_length=36)


class RecipePatch(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    ingredients: list[Line] | None = Field(default=None, min_length=1, max_length=100)
    steps: list[Annotated[str, Field(max_length=4000)]] | None = Field(default=None, max_length=100)
    tags: list[Annotated[str, Field(max_length=64)]] | None = Field(default=None, max_length=30)
    visibility: Visibility | None = None
    household_id: str | None = Field(default=None, max_length=36)
    source_url: str | None = Field(default=None, max_length=2000)
    description: str | None = Field(default=None, max_length=4000)


class ImportUrlIn(BaseModel):
    url: str = Field(min_length=1, max_length=2000, pattern=r"^https?://[^\s/?#]+", description="An http(s) page")
    visibility: Visibility = Visibility.private
    household_id: str | None = Field(default=None, max_length=36)


class FoundOut(BaseModel):
    source: str = Field(description="household (a recipe in the database) or corpus (the shipped Wikibooks set)")
    id: str
    title: str
    url: str = ""
    attribution: str = Field(default="", description="For corpus recipes: CC BY-SA 4.0, Wikibooks contributors")
    license_url: str = ""
    score: float | None = None
    coverage: float | None = None
    urgency: float | None = None
    have: list[str] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)


class UseOut(BaseModel):
    line: str
    item_id: str
    item_name: str
    quantity: float | None = Field(description="How much is taken; null: all of the item")
    unit: str
    left: float


class MissingOut(BaseModel):
    text: str
    name: str
    amount: float | None = None
    unit: str = ""


class PreviewOut(BaseModel):
    recipe_id: str
    uses: list[UseOut]
    missing: list[MissingOut]
    staples: list[str]


class CookUse(BaseModel):
    item_id: str = Field(max_length=36)
    quantity: StrictFloat | None = Field(default=None, gt=0, le=1e9)


class CookIn(BaseModel):
    household_id: str | None = Field(default=None, max_length=36)
    uses: list[CookUse] | None = Field(default=None, max_length=100, description="Default: the preview's plan.")


class ShoppingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    household_id: str
    name: str
    quantity: float | None
    unit: str
    done: bool
    recipe_id: str | None


class CookOut(BaseModel):
    events: list[EventOut] = Field(description="One consume event per item: undo them with POST /undo")
    shopping: list[ShoppingOut]


class ShoppingIn(BaseModel):
    household_id: str | None = Field(default=None, max_length=36)
    name: str = Field(min_length=1, max_length=128)
    quantity: StrictFloat | None = Field(default=None, gt=0, le=1e9)
    unit: str = Field(default="", max_length=16)


class ShoppingPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=128)
    quantity: StrictFloat | None = Field(default=None, gt=0, le=1e9)
    unit: str | None = Field(default=None, max_length=16)
    done: StrictBool | None = None


class CookPreviewIn(BaseModel):
    """Which household's stock a preview looks at (default: the caller's first)."""

    household_id: str | None = Field(default=None, max_length=36)


class RecommendIn(RecommendRequest):
    ingredients: list[Annotated[str, Field(min_length=1, max_length=100, pattern=r"\S")]] = Field(
        min_length=1, max_length=50, description="What to cook with (any language); blank names are not names.")
    household_id: str | None = Field(default=None, max_length=36)


def recipe_out(recipe: Recipe) -> RecipeOut:
    return RecipeOut.model_validate(recipe)


def found_out(found: rs.Found) -> FoundOut:
    r = found.ranked
    extra: dict[str, Any] = {} if r is None else {"score": round(r.score, 4), "coverage": round(r.coverage, 4),
                                                  "urgency": round(r.urgency, 4), "have": list(r.have),
                                                  "missing": list(r.missing)}
    return FoundOut(source=found.source, id=found.id, title=found.title, url=found.url,
                    attribution=found.attribution, license_url=found.license_url, **extra)


# --- recipes -------------------------------------------------------------------------------


@router.get("/recipes")
def list_recipes(session: DbSession, user: CurrentUser,
                 which: Annotated[str, Query(pattern="^(visible|mine|household|public)$")] = "visible",
                 q: Annotated[str | None, Query(max_length=100)] = None,
                 limit: Annotated[int, Query(ge=1, le=200)] = 50,
                 offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> Page[RecipeOut]:
    """Recipes the caller may see: `mine`, shared with my `household`s, `public`, or all `visible` (default)."""
    rows, total = rs.list_recipes(session, Scope.of(user), which=which, q=q, limit=limit, offset=offset)
    return Page(items=[recipe_out(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/search/recipes")
def search_recipes(session: DbSession, user: CurrentUser, q: Annotated[str, Query(min_length=1, max_length=200)],
                   limit: Annotated[int, Query(ge=1, le=100)] = 20) -> list[FoundOut]:
    """Text search over the caller's visible recipes, then the shipped corpus (with its attribution)."""
    return [found_out(f) for f in rs.search(session, Scope.of(user), q, limit)]


@router.post("/recipes", status_code=201, responses=errors(404))
def create_recipe(body: RecipeIn, session: DbSession, user: CurrentUser) -> RecipeOut:
    """Write a recipe; ingredient lines are parsed into amount, unit and name (unparsed ones say so)."""
    return recipe_out(rs.create_recipe(session, Scope.of(user), title=body.title, ingredients=body.ingredients,
                                       steps=body.steps, tags=body.tags, visibility=body.visibility,
                                       household_id=body.household_id, source_url=body.source_url,
                                       description=body.description, photo_file_id=body.photo_file_id))


# No other fields: the import reads at most ten (`request.form(max_fields=10)`).
IMPORT_FORM = {"type": "object", "required": ["file"], "additionalProperties": False, "properties": {
    "file": {"type": "string", "format": "binary", "description": "A saved recipe page (HTML)"},
    "url": {"type": "string", "description": "Where the page came from (kept when it is an http(s) address)"},
    "visibility": {"type": "string", "enum": [v.value for v in Visibility]},
    "household_id": {"type": "string"}}}
IMPORT_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": IMPORT_FORM},
    "application/json": {"schema": ImportUrlIn.model_json_schema()}}}}


@router.post("/recipes/import", status_code=201, responses=errors(400, 403, 404, 413, 415, 503),
             openapi_extra=IMPORT_BODY)
async def import_recipe(request: Request, runtime: RuntimeDep, user: CurrentUser) -> RecipeOut:
    """Import a recipe: multipart `file` (a saved page) with `url`, or JSON `{"url"}` fetched from the web.

    400 when the page holds no recipe, 415 when the file is not a page; 503 when the URL cannot be reached (offline).
    """
    scope = Scope.of(user)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=10)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidInput("Send the saved recipe page as the multipart field `file`",
                               key="pantry_recipe_file_missing")
        data = await upload.read(MAX_HTML_BYTES + 1)
        check_page(data)
        url = str(form.get("url") or "").strip()[:2000] or None
        if url is not None and not re.match(r"^https?://[^\s/?#]+", url):
            url = None  # only a note of where the page came from: a non-web address is not kept
        try:
            options = ImportUrlIn(url="https://saved.page", visibility=str(form.get("visibility") or "private"),
                                  household_id=str(form["household_id"]) if form.get("household_id") else None)
        except ValidationError:
            raise InvalidInput("Send a recipe page file or its web address",
                               key="pantry_recipe_import_body") from None
        found = await asyncio.to_thread(scrape, data, url)
    elif media_type == "application/x-www-form-urlencoded":
        raise UnsupportedMedia("Send JSON {\"url\": ...} or a multipart `file`", key="pantry_recipe_import_body")
    else:
        try:
            options = ImportUrlIn.model_validate_json(await request.body())
        except ValidationError:
            raise InvalidInput("Send JSON {\"url\": ...} or a multipart `file`",
                               key="pantry_recipe_import_body") from None
        try:
            found = await import_url(options.url)
        except InvalidInput as exc:
            if exc.key != "pantry_recipe_url_refused":
                raise
            raise Forbidden(exc.message, details=exc.details, key="pantry_recipe_url_refused") from None
    with runtime.db.session() as session:
        recipe = rs.store_import(session, scope, found, visibility=options.visibility,
                                 household_id=options.household_id)
        return recipe_out(recipe)


# `:uuid` so that /recipes/import is never also this path (ids are UUIDs; anything else is not found).
@router.get("/recipes/{recipe_id:uuid}")
def get_recipe(recipe_id: UUID, session: DbSession, user: CurrentUser) -> RecipeOut:
    """One recipe the caller may see (404 otherwise)."""
    return recipe_out(rs.get_recipe(session, Scope.of(user), str(recipe_id)))


@router.patch("/recipes/{recipe_id:uuid}", responses=errors(404, 409))
def update_recipe(recipe_id: UUID, body: RecipePatch, session: DbSession, user: CurrentUser) -> RecipeOut:
    """Change one's own recipe (its visibility too)."""
    return recipe_out(rs.update_recipe(session, Scope.of(user), str(recipe_id), body.model_dump(exclude_unset=True)))


@router.delete("/recipes/{recipe_id:uuid}", status_code=204)
def delete_recipe(recipe_id: UUID, session: DbSession, user: CurrentUser) -> None:
    """Delete one's own recipe."""
    rs.delete_recipe(session, Scope.of(user), str(recipe_id))


# --- what can I cook, cooking ----------------------------------------------------------------------


@router.get("/cook", responses=IN_HOUSEHOLD)
def what_can_i_cook(session: DbSession, user: CurrentUser, household_id: HouseholdQuery = None,
                    limit: Annotated[int, Query(ge=1, le=100)] = 20,
                    exclude: Annotated[list[Annotated[str, Query(max_length=200)]] | None, Query(
                        max_length=50, description="Recipe titles to leave out (and their near copies)")] = None,
                    exclude_ingredient: Annotated[list[Annotated[str, Query(max_length=100)]] | None, Query(
                        max_length=50, description="Ingredients never to use (allergies, dislikes)")] = None,
                    ) -> list[FoundOut]:
    """Recipes ranked by how much of them is in stock, weighted to what spoils soonest; no LLM."""
    scope = Scope.of(user)
    household = service.household_for(session, scope, household_id)
    return [found_out(f) for f in rs.cook_list(session, scope, household, limit=limit, exclude=exclude or (),
                                               exclude_ingredients=exclude_ingredient or ())]


def _cooking_household(session: Any, scope: Scope, household_id: str | None) -> str:
    """The household to cook in; one the caller is not in conflicts with the request (the recipe exists)."""
    try:
        return service.household_for(session, scope, household_id)
    except NotFound:
        raise Conflict("Cook in a household you belong to", key="pantry_cook_household") from None


def _preview(session: Any, scope: Scope, household: str, recipe: Recipe) -> PreviewOut:
    plan = rs.plan_cooking(session, scope, household, recipe)
    return PreviewOut(recipe_id=recipe.id, staples=plan.staples, missing=[MissingOut(**m) for m in plan.missing],
                      uses=[UseOut(line=u.line, item_id=u.item.id, item_name=u.item.name, quantity=u.quantity,
                                   unit=u.item.unit, left=u.item.quantity - (u.quantity or u.item.quantity))
                            for u in plan.uses])


@router.post("/recipes/{recipe_id}/cook/preview", responses=IN_HOUSEHOLD)
def cook_preview(recipe_id: str, body: CookPreviewIn, session: DbSession, user: CurrentUser) -> PreviewOut:
    """Which stock items cooking this would use (soonest consume-by first) and what is missing; changes nothing."""
    scope = Scope.of(user)
    recipe = rs.get_recipe(session, scope, recipe_id)
    return _preview(session, scope, _cooking_household(session, scope, body.household_id), recipe)


@router.post("/recipes/{recipe_id}/cook", responses=IN_HOUSEHOLD)
def cook(recipe_id: str, body: CookIn, session: DbSession, user: CurrentUser) -> CookOut:
    """Cook: consume the items (the preview's, or `uses`), each logged and undoable; missing lines go shopping."""
    scope = Scope.of(user)
    recipe = rs.get_recipe(session, scope, recipe_id)
    household = _cooking_household(session, scope, body.household_id)
    chosen = None if body.uses is None else [(u.item_id, u.quantity) for u in body.uses]
    events, shopping = rs.cook(session, scope, household, recipe, chosen)
    return CookOut(events=[EventOut.model_validate(e) for e in events],
                   shopping=[ShoppingOut.model_validate(s) for s in shopping])


# --- recommendation ---------------------------------------------------------------------------------


def _household_grounding(runtime: Any, user: Any, household_id: str | None) -> list[Any]:
    with runtime.db.session() as session:
        scope = Scope.of(user)
        mine = service.household_for(session, scope, household_id) if household_id else None
        own, _ = rs.list_recipes(session, scope, which="mine", limit=200)
        shared = rs.household_recipes(session, scope, mine) if mine else []
        return rs.grounding(list({r.id: r for r in [*own, *shared]}.values()))


RECOMMEND_DOC = errors(404, 409, 422, 429, 503)


@router.post("/recommend", responses=RECOMMEND_DOC)
async def recommend_recipe(body: RecommendIn, runtime: RuntimeDep, user: CurrentUser) -> dict[str, Any]:
    """One recipe from the chat model in the seed's contract:
    `{"recipe_name", "recipe_ingredients": [...], "recipes": [steps]}` (extra fields beside them).

    Grounded in corpus and household recipes; never an excluded dish or a near copy; 503 with the
    reason when no chat model is configured or it cannot answer.
    """
    chat = runtime.ai.chat()
    household = await asyncio.to_thread(_household_grounding, runtime, user, body.household_id)
    request = RecommendRequest.model_construct(ingredients=body.ingredients, except_recipe=body.except_recipe,
                               language=body.language)
    result = await recommend(chat, request, household=household)
    return result.as_dict()


@router.post("/recommend/stream", responses=RECOMMEND_DOC, response_class=StreamingResponse)
async def recommend_stream(body: RecommendIn, http: Request, runtime: RuntimeDep,
                           user: CurrentUser) -> StreamingResponse:
    """The recommendation as server-sent events while the model writes: `{"delta"}` pieces, maybe one
    `{"restart": true}`, then `{"result": ...}` (valid, the same body as /recommend), or `{"error"}`."""
    chat = runtime.ai.chat()
    if not chat.available:
        await chat.chat([])  # raises the provider's LlmUnavailable: a plain 503 before the stream starts
    household = await asyncio.to_thread(_household_grounding, runtime, user, body.household_id)
    request = RecommendRequest.model_construct(ingredients=body.ingredients, except_recipe=body.except_recipe,
                               language=body.language)

    async def events() -> AsyncIterator[str]:
        try:
            async for event in stream_recommend(chat, request, household=household):
                yield f"data: {json.dumps(event, ensure_ascii=False)}\n\n"
        except Exception as exc:  # noqa: BLE001 - the stream has started: report in-band
            # in the caller's language, as the error body of a plain request would be
            if not isinstance(exc, BodaError):  # a bug's own words are for the log, not the page
                log.exception("the streamed recommendation failed")
                exc = Unavailable("The recommendation failed; try again later")
            message = localized(http, exc)
            yield f"data: {json.dumps({'error': message, 'key': getattr(exc, 'key', None)}, ensure_ascii=False)}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


# --- shopping list -----------------------------------------------------------------------------------


@router.get("/shopping", responses=IN_HOUSEHOLD)
def list_shopping(session: DbSession, user: CurrentUser, household_id: HouseholdQuery = None) -> list[ShoppingOut]:
    """The household's shopping list, open lines first."""
    household = service.household_for(session, Scope.of(user), household_id)
    return [ShoppingOut.model_validate(r) for r in rs.list_shopping(session, household)]


@router.post("/shopping", status_code=201, responses=IN_HOUSEHOLD)
def add_shopping(body: ShoppingIn, session: DbSession, user: CurrentUser) -> ShoppingOut:
    """Add a line (an open line with the same name and unit takes the amount instead)."""
    household = service.household_for(session, Scope.of(user), body.household_id)
    return ShoppingOut.model_validate(rs.add_shopping(session, household, name=body.name, quantity=body.quantity,
                                                      unit=body.unit))


@router.patch("/shopping/{shopping_id}")
def edit_shopping(shopping_id: str, body: ShoppingPatch, session: DbSession, user: CurrentUser) -> ShoppingOut:
    """Tick a line off (`done`) or change it."""
    row: ShoppingItem = rs.get_shopping(session, Scope.of(user), shopping_id)
    for name, value in body.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(row, name, value)
    session.flush()
    return ShoppingOut.model_validate(row)


@router.delete("/shopping/{shopping_id}", status_code=204)
def delete_shopping(shopping_id: str, session: DbSession, user: CurrentUser) -> None:
    """Remove a line."""
    session.delete(rs.get_shopping(session, Scope.of(user), shopping_id))
