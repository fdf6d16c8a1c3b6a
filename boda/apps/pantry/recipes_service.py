"""Recipes in the database: CRUD with visibility, import, what can I cook, cooking and the shopping list.

Recipes are `Owned` (private, household, unlisted, public); stock and the shopping list belong to a
household. Cooking consumes items through `service.consume_item` (logged, undoable one by one) and
puts what was missing on the household's shopping list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from boda.apps.pantry import corpus, recipes_search, service
from boda.apps.pantry.models import Item, ItemEvent, Recipe, ShoppingItem
from boda.apps.pantry.recipes_import import ImportedRecipe, ingredient_dict
from boda.apps.pantry.recipes_parse import parse
from boda.apps.pantry.recipes_rank import (
    STAPLES,
    Ranked,
    RecipeInput,
    StockItem,
    covers,
    line_key,
    stock_key,
    what_can_i_cook,
)
from boda.apps.pantry.recipes_recommend import Grounding
from boda.core.auth import Scope, get_visible, set_visibility
from boda.core.errors import NotFound
from boda.core.models import StoredFile, Visibility

# --- recipes -----------------------------------------------------------------------------


def parsed_lines(lines: Sequence[str]) -> list[dict[str, Any]]:
    return [ingredient_dict(parse(line)) for line in lines if line.strip()]


def _share_with(session: Session, scope: Scope, visibility: Visibility, household_id: str | None) -> str | None:
    """The household a recipe is shared with: only for household visibility; default the caller's first."""
    if visibility != Visibility.household:
        return None
    return household_id or service.household_for(session, scope, None)


def _own_photo(session: Session, scope: Scope, file_id: str | None) -> str | None:
    """A recipe's photo is one of the caller's own files: an id of someone else's is a 404, as it would be anywhere."""
    if file_id is not None:
        get_visible(session, StoredFile, file_id, scope, write=True)
    return file_id


def create_recipe(session: Session, scope: Scope, *, title: str, ingredients: Sequence[str], steps: Sequence[str],
                  tags: Sequence[str] = (), visibility: Visibility = Visibility.private,
                  household_id: str | None = None, source_url: str | None = None, description: str = "",
                  yields: str | None = None, total_minutes: int | None = None, language: str | None = None,
                  photo_file_id: str | None = None, parsed: list[dict[str, Any]] | None = None) -> Recipe:
    recipe = Recipe(owner_id=scope.require_user(), title=title.strip()[:200],
                    ingredients=parsed if parsed is not None else parsed_lines(ingredients),
                    steps=[s.strip() for s in steps if s.strip()], tags=[t.strip() for t in tags if t.strip()],
                    source_url=source_url, description=description or "", yields=yields,
                    total_minutes=total_minutes, language=language,
                    photo_file_id=_own_photo(session, scope, photo_file_id))
    set_visibility(session, recipe, visibility, scope=scope, household_id=_share_with(session, scope, visibility,
                                                                                     household_id))
    session.add(recipe)
    session.flush()
    return recipe


def store_import(session: Session, scope: Scope, found: ImportedRecipe, *, visibility: Visibility,
                 household_id: str | None) -> Recipe:
    data = found.as_dict()
    return create_recipe(session, scope, title=found.title, ingredients=found.ingredients, steps=found.steps,
                         tags=found.tags, visibility=visibility, household_id=household_id,
                         source_url=found.source_url, description=found.description or "", yields=found.yields,
                         total_minutes=found.total_minutes, language=found.language, parsed=data["ingredients"])


def get_recipe(session: Session, scope: Scope, recipe_id: str, *, write: bool = False) -> Recipe:
    return get_visible(session, Recipe, recipe_id, scope, write=write)


def update_recipe(session: Session, scope: Scope, recipe_id: str, changes: dict[str, Any]) -> Recipe:
    recipe = get_recipe(session, scope, recipe_id, write=True)
    if "ingredients" in changes and changes["ingredients"] is not None:
        recipe.ingredients = parsed_lines(changes.pop("ingredients"))
    if changes.get("photo_file_id") is not None:
        _own_photo(session, scope, changes["photo_file_id"])
    for name in ("title", "steps", "tags", "source_url", "description", "yields", "total_minutes", "photo_file_id"):
        if name in changes and (changes[name] is not None or name in ("source_url", "photo_file_id")):
            setattr(recipe, name, changes[name])
    if changes.get("visibility") is not None:
        set_visibility(session, recipe, changes["visibility"], scope=scope,
                       household_id=_share_with(session, scope, changes["visibility"], changes.get("household_id")))
    session.flush()
    return recipe


def delete_recipe(session: Session, scope: Scope, recipe_id: str) -> None:
    session.delete(get_recipe(session, scope, recipe_id, write=True))
    session.flush()


def list_recipes(session: Session, scope: Scope, *, which: str = "visible", q: str | None = None,
                 limit: int = 50, offset: int = 0) -> tuple[list[Recipe], int]:
    """`mine`, `household` (shared with my households), `public`, or `visible` (all I may see)."""
    query = select(Recipe)
    if which == "mine":
        query = query.where(Recipe.owner_id == scope.require_user())
    elif which == "household":
        query = query.where(scope.shared_with_me(Recipe))
    elif which == "public":
        query = query.where(Recipe.visibility == Visibility.public)
    else:
        query = query.where(scope.readable(Recipe))
    if q:
        query = query.where(Recipe.title.ilike(f"%{q.strip()}%"))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Recipe.created_at.desc(), Recipe.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def household_recipes(session: Session, scope: Scope, household_id: str) -> list[Recipe]:
    """The caller's own recipes and those shared with this household: what "what can I cook" ranks with the corpus."""
    query = select(Recipe).where(scope.readable(Recipe), or_(Recipe.owner_id == scope.user_id,
                                                            Recipe.household_id == household_id))
    return list(session.scalars(query.limit(2000)))


def lines_of(recipe: Recipe) -> tuple[str, ...]:
    return tuple(str(i.get("text", "")) for i in recipe.ingredients if i.get("text"))


def grounding(recipes: Sequence[Recipe]) -> list[Grounding]:
    return [Grounding(r.title, lines_of(r), tuple(r.steps), r.source_url or "") for r in recipes]


@dataclass(frozen=True)
class Found:
    source: str  # "household" | "corpus"
    id: str
    title: str
    url: str = ""
    attribution: str = ""
    license_url: str = ""
    ranked: Ranked | None = None


def search(session: Session, scope: Scope, q: str, limit: int = 20) -> list[Found]:
    """Text search over the caller's visible recipes (title, tags, ingredient lines) and the corpus."""
    own, _ = list_recipes(session, scope, which="visible", limit=500)
    needle = q.strip().lower()
    mine = [Found("household", r.id, r.title, r.source_url or "") for r in own
            if needle in r.title.lower() or any(needle in t.lower() for t in r.tags)
            or any(needle in line.lower() for line in lines_of(r))]
    found = [Found("corpus", c.id, c.title, c.url, c.attribution, c.license_url)
             for c in recipes_search.search(q, limit)]
    return (mine + found)[:limit]


# --- what can I cook -------------------------------------------------------------------------


def stock_items(session: Session, scope: Scope, household_id: str) -> list[tuple[Item, StockItem]]:
    return [(s.item, StockItem(name_en=s.item.name_en or ("" if s.item.name_ko else s.item.name),
                               name_ko=s.item.name_ko or "", days_left=s.days_left))
            for s in service.stock(session, scope, household_id)]


def cook_list(session: Session, scope: Scope, household_id: str, *, limit: int = 20,
              exclude: Sequence[str] = (), exclude_ingredients: Sequence[str] = ()) -> list[Found]:
    stock = [s for _, s in stock_items(session, scope, household_id)]
    own = household_recipes(session, scope, household_id)
    inputs = [RecipeInput(r.id, r.title, lines_of(r)) for r in own]
    urls = {r.id: r.source_url or "" for r in own}
    out: list[Found] = []
    for source, ranked in what_can_i_cook(stock, inputs, limit=limit, exclude_titles=exclude,
                                          exclude_ingredients=exclude_ingredients):
        if source == "corpus":
            c = corpus.get(ranked.recipe_id)
            out.append(Found(source, ranked.recipe_id, ranked.title, c.url if c else "",
                             c.attribution if c else corpus.ATTRIBUTION, corpus.LICENSE_URL, ranked))
        else:
            out.append(Found(source, ranked.recipe_id, ranked.title, urls.get(ranked.recipe_id, ""), ranked=ranked))
    return out


# --- cooking -----------------------------------------------------------------------------------


@dataclass
class Use:
    line: str
    item: Item
    quantity: float | None  # None: all of it


@dataclass
class Plan:
    uses: list[Use] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)  # {"text", "name", "amount", "unit"}
    staples: list[str] = field(default_factory=list)  # salt, water ...: assumed at hand, never bought


_COUNTS = {"", "개", "pc", "pcs", "piece", "pieces"}  # a count: stock added by name or photo has no unit


def _same_unit(a: str, b: str) -> bool:
    return a == b or (a.lower() in _COUNTS and b.lower() in _COUNTS)


def _amount(parsed: dict[str, Any], item: Item) -> float | None:
    """The same unit (a bare count is in 개) and a known amount below what is there: that much; otherwise
    all of the item."""
    amount, unit = parsed.get("amount"), parsed.get("unit") or ""
    if amount is not None and _same_unit(unit, item.unit or "") and 0 < float(amount) < item.quantity:
        return float(amount)
    return None


def plan_cooking(session: Session, scope: Scope, household_id: str, recipe: Recipe) -> Plan:
    """Which stock item each ingredient line takes (soonest consume-by first), and what is missing."""
    stock = stock_items(session, scope, household_id)
    keyed = [(item, set(covers(k)) if (k := stock_key(s)) else set()) for item, s in stock]
    taken: set[str] = set()
    plan = Plan()
    for parsed in recipe.ingredients:
        text = str(parsed.get("text", ""))
        key = line_key(text)
        if key is None:
            continue
        match = next((item for item, keys in keyed if key in keys and item.id not in taken), None)
        if match is not None:
            taken.add(match.id)
            plan.uses.append(Use(text, match, _amount(parsed, match)))
        elif key in STAPLES:
            plan.staples.append(text)
        else:
            plan.missing.append({"text": text, "name": parsed.get("name") or key, "amount": parsed.get("amount"),
                                 "unit": parsed.get("unit") or ""})
    return plan


def cook(session: Session, scope: Scope, household_id: str, recipe: Recipe,
         chosen: Sequence[tuple[str, float | None]] | None = None) -> tuple[list[ItemEvent], list[ShoppingItem]]:
    """Consume the planned (or `chosen`) items, each a logged, undoable event; missing lines go shopping."""
    plan = plan_cooking(session, scope, household_id, recipe)
    uses = [(u.item.id, u.quantity) for u in plan.uses] if chosen is None else list(chosen)
    events = [service.consume_item(session, scope, item_id, quantity)[1] for item_id, quantity in uses]
    added = [add_shopping(session, household_id, name=m["name"], quantity=m["amount"], unit=m["unit"],
                          recipe_id=recipe.id) for m in plan.missing]
    return events, added


# --- shopping list ---------------------------------------------------------------------------------


def add_shopping(session: Session, household_id: str, *, name: str, quantity: float | None = None,
                 unit: str = "", recipe_id: str | None = None) -> ShoppingItem:
    """A line on the list; an open line of the same name and unit takes the amount instead of a duplicate."""
    name = name.strip()[:128]
    same = session.scalar(select(ShoppingItem).where(ShoppingItem.household_id == household_id,
                                                     ShoppingItem.done.is_(False),
                                                     func.lower(ShoppingItem.name) == name.lower(),
                                                     ShoppingItem.unit == (unit or "")))
    if same is not None:
        if quantity is not None:
            same.quantity = (same.quantity or 0) + quantity
        session.flush()
        return same
    row = ShoppingItem(household_id=household_id, name=name, quantity=quantity, unit=unit or "",
                       recipe_id=recipe_id)
    session.add(row)
    session.flush()
    return row


def list_shopping(session: Session, household_id: str, *, include_done: bool = True) -> list[ShoppingItem]:
    query = select(ShoppingItem).where(ShoppingItem.household_id == household_id)
    if not include_done:
        query = query.where(ShoppingItem.done.is_(False))
    return list(session.scalars(query.order_by(ShoppingItem.done, ShoppingItem.created_at, ShoppingItem.id)))


def get_shopping(session: Session, scope: Scope, shopping_id: str) -> ShoppingItem:
    row = session.scalar(select(ShoppingItem).where(ShoppingItem.id == shopping_id,
                                                    ShoppingItem.household_id.in_(scope.household_ids())))
    if row is None:
        raise NotFound(f"No shopping list line with id {shopping_id}", key="pantry_shopping_not_found")
    return row
