"""Pantry's logic, shared by the API, the pages and the CLI.

Every function takes the caller's `Scope` and works only inside the caller's households: an item,
place or event of another household is a 404 (strangers learn nothing), and a place named in a
request that is not in the object's household is a 409 (the caller sees both, they do not fit).
Every change to an item is logged as an `ItemEvent` with the item before and after, so the latest
change can be undone; the undo is itself logged.

Seams for the recipe and LLM parts: `stock(session, scope, household_id)` (active items, soonest
consume-by first, with days left) and `shelf_life_for(session, household_id, name)`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from boda.apps.pantry import shelf_life
from boda.apps.pantry.models import (
    Action,
    Item,
    ItemEvent,
    ItemStatus,
    PlaceKind,
    ShelfLifeOverride,
    StoragePlace,
)
from boda.core import households
from boda.core.auth import Scope
from boda.core.db import utcnow
from boda.core.errors import Conflict, InvalidInput, NotFound

UNDOABLE = (Action.add, Action.move, Action.split, Action.consume, Action.discard, Action.edit)
SNAPSHOT = ("place_id", "name", "name_ko", "name_en", "category", "quantity", "unit", "added_at", "consume_by",
            "consume_by_auto", "opened_at", "photo_file_id", "notes", "status", "finished_at")
DATES = frozenset({"added_at", "consume_by", "opened_at", "finished_at"})
EPSILON = 1e-9


# --- households --------------------------------------------------------------

def household_for(session: Session, scope: Scope, household_id: str | None = None) -> str:
    """The household a request works in: the one named (404 unless a member), else the caller's first.

    A caller in no household gets 409: the pantry belongs to a household, so make or join one first.
    """
    user_id = scope.require_user()
    if household_id is not None:
        return households.membership(session, household_id=household_id, user_id=user_id).household_id
    mine = households.list_mine(session, user_id=user_id)
    if not mine:
        raise Conflict("Create or join a household first: the pantry belongs to a household", key="pantry_no_household")
    return mine[0].id


def _member_of(scope: Scope) -> Any:
    return scope.household_ids()


# --- places --------------------------------------------------------------------

def list_places(session: Session, scope: Scope, household_id: str) -> list[StoragePlace]:
    return list(session.scalars(select(StoragePlace).where(StoragePlace.household_id == household_id,
                                                           StoragePlace.household_id.in_(_member_of(scope)))
                                .order_by(StoragePlace.position, StoragePlace.id)))


def get_place(session: Session, scope: Scope, place_id: str) -> StoragePlace:
    row = session.scalar(select(StoragePlace).where(StoragePlace.id == place_id,
                                                    StoragePlace.household_id.in_(_member_of(scope))))
    if row is None:
        raise NotFound(f"No storage place with id {place_id}", key="pantry_place_not_found")
    return row


def _place_in(session: Session, household_id: str, place_id: str | None) -> StoragePlace | None:
    """A place named in a request about `household_id`: 409 when it is not one of that household's."""
    if place_id is None:
        return None
    row = session.get(StoragePlace, place_id)
    if row is None or row.household_id != household_id:
        raise Conflict(f"Storage place {place_id} is not in this household", key="pantry_place_elsewhere",
                       details={"place_id": place_id})
    return row


def root_kind(session: Session, place: StoragePlace | None) -> str | None:
    """fridge, freezer or pantry: a compartment takes the kind of the place it sits in."""
    seen = set()
    while place is not None and place.kind == PlaceKind.compartment and place.id not in seen:
        seen.add(place.id)
        place = session.get(StoragePlace, place.parent_id) if place.parent_id else None
    return None if place is None or place.kind == PlaceKind.compartment else str(place.kind)


def _check_parent(session: Session, household_id: str, kind: str, parent_id: str | None,
                  place_id: str | None = None) -> None:
    if kind == PlaceKind.compartment and parent_id is None:
        raise Conflict("A compartment sits in a fridge, freezer or pantry: give parent_id",
                           key="pantry_compartment_parent")
    parent = _place_in(session, household_id, parent_id)
    while parent is not None:  # no cycles: a place cannot sit inside itself
        if parent.id == place_id:
            raise Conflict("A place cannot sit inside itself", key="pantry_place_cycle")
        parent = session.get(StoragePlace, parent.parent_id) if parent.parent_id else None


def create_place(session: Session, scope: Scope, household_id: str, *, name: str, kind: str,
                 parent_id: str | None = None, position: int = 0) -> StoragePlace:
    _check_parent(session, household_id, kind, parent_id)
    row = StoragePlace(household_id=household_id, name=name.strip(), kind=PlaceKind(kind), parent_id=parent_id,
                       position=position)
    session.add(row)
    session.flush()
    return row


def update_place(session: Session, scope: Scope, place_id: str, **changes: Any) -> StoragePlace:
    row = get_place(session, scope, place_id)
    kind = changes.get("kind") or row.kind
    parent_id = changes.get("parent_id", row.parent_id)
    _check_parent(session, row.household_id, kind, parent_id, place_id=row.id)
    for key in ("name", "kind", "parent_id", "position"):
        if key in changes and changes[key] is not None or key == "parent_id" and "parent_id" in changes:
            setattr(row, key, changes[key].strip() if key == "name" else changes[key])
    session.flush()
    return row


def delete_place(session: Session, scope: Scope, place_id: str) -> None:
    """Only an empty place goes: 409 while active items or compartments are in it."""
    row = get_place(session, scope, place_id)
    busy = session.scalar(select(func.count()).select_from(Item).where(Item.place_id == row.id,
                                                                       Item.status == ItemStatus.active))
    inner = session.scalar(select(func.count()).select_from(StoragePlace).where(StoragePlace.parent_id == row.id))
    if busy or inner:
        raise Conflict("Move the items and compartments out of this place first", key="pantry_place_not_empty",
                       details={"items": busy, "compartments": inner})
    session.delete(row)
    session.flush()


def ensure_default_places(session: Session, household_id: str) -> list[StoragePlace]:
    """A new pantry starts with a fridge, a freezer and a pantry shelf (named in both languages)."""
    existing = list(session.scalars(select(StoragePlace).where(StoragePlace.household_id == household_id)))
    if existing:
        return existing
    defaults = [("냉장고 Fridge", PlaceKind.fridge), ("냉동실 Freezer", PlaceKind.freezer),
                ("팬트리 Pantry", PlaceKind.pantry)]
    made = [StoragePlace(household_id=household_id, name=name, kind=kind, position=i)
            for i, (name, kind) in enumerate(defaults)]
    session.add_all(made)
    session.flush()
    return made


# --- shelf life -------------------------------------------------------------------

def _override(session: Session, household_id: str, name: str) -> ShelfLifeOverride | None:
    key = (shelf_life.normalize(name) or name.strip().casefold())[:128]
    return session.scalar(select(ShelfLifeOverride).where(ShelfLifeOverride.household_id == household_id,
                                                          ShelfLifeOverride.name_key == key))


def shelf_life_for(session: Session, household_id: str, name: str) -> shelf_life.ShelfLife:
    """FoodKeeper's answer for `name`, with the household's own rule on top."""
    row = _override(session, household_id, name)
    rule = (shelf_life.Override(place=row.place, days={k: float(v) for k, v in row.days.items()},  # type: ignore[arg-type]
                                category=row.category) if row else None)
    return shelf_life.lookup(name, rule)


def list_overrides(session: Session, household_id: str) -> list[ShelfLifeOverride]:
    return list(session.scalars(select(ShelfLifeOverride).where(ShelfLifeOverride.household_id == household_id)
                                .order_by(ShelfLifeOverride.name_key)))


def set_override(session: Session, household_id: str, *, name: str, place: str | None, days: dict[str, float],
                 category: str | None = None) -> ShelfLifeOverride:
    key = shelf_life.normalize(name) or name.strip().casefold()  # '.' normalises to nothing: keep it as typed
    if not key:
        raise InvalidInput("Name the ingredient", key="pantry_name_empty")
    row = _override(session, household_id, name)
    if row is None:
        row = ShelfLifeOverride(household_id=household_id, name_key=key[:128], name=name.strip()[:128])
        session.add(row)
    row.place, row.days, row.category = place, dict(days), category
    session.flush()
    return row


def delete_override(session: Session, scope: Scope, override_id: str) -> None:
    """Drop a rule of any household the caller is in; 404 for anyone else's."""
    row = session.scalar(select(ShelfLifeOverride).where(ShelfLifeOverride.id == override_id,
                                                         ShelfLifeOverride.household_id.in_(_member_of(scope))))
    if row is None:
        raise NotFound(f"No shelf-life rule with id {override_id}", key="pantry_override_not_found")
    session.delete(row)
    session.flush()


# --- items ----------------------------------------------------------------------------

def snapshot(item: Item) -> dict[str, Any]:
    out = {}
    for key in SNAPSHOT:
        value = getattr(item, key)
        out[key] = value.isoformat() if key in DATES and value is not None else (
            str(value) if key == "status" else value)
    out["id"] = item.id
    return out


def _restore(item: Item, data: dict[str, Any]) -> None:
    for key in SNAPSHOT:
        value = data.get(key)
        setattr(item, key, datetime.fromisoformat(value) if key in DATES and value is not None else value)


def _log(session: Session, item: Item | None, user_id: str | None, action: Action, *, before: dict[str, Any] | None,
         after: dict[str, Any] | None, household_id: str, quantity: float | None = None,
         undo_of_id: str | None = None) -> ItemEvent:
    category = (item.category if item is not None else (before or after or {}).get("category")) or "other"
    event = ItemEvent(household_id=household_id, item_id=item.id if item is not None else None, user_id=user_id,
                      action=action, quantity=quantity, category=category, before=before, after=after,
                      undo_of_id=undo_of_id)
    session.add(event)
    session.flush()
    return event


def get_item(session: Session, scope: Scope, item_id: str) -> Item:
    row = session.scalar(select(Item).where(Item.id == item_id, Item.household_id.in_(_member_of(scope))))
    if row is None:
        raise NotFound(f"No pantry item with id {item_id}", key="pantry_item_not_found")
    return row


def _active(item: Item) -> None:
    if item.status != ItemStatus.active:
        raise Conflict(f"This item was already {item.status}", key="pantry_item_finished",
                       details={"status": str(item.status)})


def _auto_date(session: Session, item: Item, *, base: datetime | None = None) -> None:
    """Recompute an automatic consume-by date from shelf life for the item's place and opening."""
    if not item.consume_by_auto:
        return
    life = shelf_life_for(session, item.household_id, item.name)
    kind = root_kind(session, session.get(StoragePlace, item.place_id) if item.place_id else None)
    item.consume_by = life.consume_by(base or item.added_at, kind, opened_at=item.opened_at) if life.known else None


def _aware(value: datetime | None) -> datetime | None:
    from datetime import UTC

    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def create_item(session: Session, scope: Scope, household_id: str, *, name: str, quantity: float = 1.0,
                unit: str = "", place_id: str | None = None, category: str | None = None,
                consume_by: datetime | None = None, opened_at: datetime | None = None, notes: str = "",
                added_at: datetime | None = None, photo_file_id: str | None = None) -> tuple[Item, ItemEvent]:
    """A new item; what is not given (category, place, consume-by) comes from shelf life.

    An unknown name gets no date (rather than a guess); its place is the first fridge.
    """
    user_id = scope.require_user()
    if not name.strip():
        raise InvalidInput("Name the ingredient", key="pantry_name_empty")
    place = _place_in(session, household_id, place_id)
    life = shelf_life_for(session, household_id, name)
    if place is None:
        wanted = life.place or "fridge"
        places = list_places(session, scope, household_id)
        place = next((p for p in places if p.kind == wanted), None) or next(
            (p for p in places if p.kind != PlaceKind.compartment), None)
    added = _aware(added_at) or utcnow()
    item = Item(household_id=household_id, place_id=place.id if place else None, name=name.strip()[:128],
                name_ko=life.name_ko, name_en=life.name_en, category=category or life.category or "other",
                quantity=quantity, unit=unit.strip(), added_at=added, opened_at=_aware(opened_at), notes=notes,
                consume_by=_aware(consume_by), consume_by_auto=consume_by is None, photo_file_id=photo_file_id)
    session.add(item)
    session.flush()
    _auto_date(session, item)
    event = _log(session, item, user_id, Action.add, before=None, after=snapshot(item), household_id=household_id,
                 quantity=quantity)
    return item, event


def list_items(session: Session, scope: Scope, household_id: str, *, status: str | None = "active",
               place_id: str | None = None, limit: int = 200, offset: int = 0) -> tuple[list[Item], int]:
    where = [Item.household_id == household_id, Item.household_id.in_(_member_of(scope))]
    if status is not None:
        where.append(Item.status == status)
    if place_id is not None:
        where.append(Item.place_id == place_id)
    total = session.scalar(select(func.count()).select_from(Item).where(*where)) or 0
    # Soonest first; undated items last (SQLite and PostgreSQL order NULLs differently: say it).
    query = (select(Item).where(*where).order_by(Item.consume_by.is_(None), Item.consume_by, Item.id)
             .limit(limit).offset(offset))
    return list(session.scalars(query)), total


def edit_item(session: Session, scope: Scope, item_id: str, changes: dict[str, Any]) -> tuple[Item, ItemEvent]:
    """Change fields of an item. `consume_by` given by hand stops the automatic date; `opened` sets opened_at."""
    user_id = scope.require_user()
    item = get_item(session, scope, item_id)
    before = snapshot(item)
    if "place_id" in changes and changes["place_id"] != item.place_id:
        _place_in(session, item.household_id, changes["place_id"])
    for key in ("name", "category", "quantity", "unit", "notes", "place_id"):
        if key in changes and (changes[key] is not None or key == "place_id"):  # null keeps a required field
            setattr(item, key, changes[key].strip() if isinstance(changes[key], str) and key != "place_id"
                    else changes[key])
    if "opened_at" in changes:
        item.opened_at = _aware(changes["opened_at"])
    if "consume_by" in changes:
        item.consume_by, item.consume_by_auto = _aware(changes["consume_by"]), changes["consume_by"] is None
    if changes.get("name") is not None:
        life = shelf_life_for(session, item.household_id, item.name)
        item.name_ko, item.name_en = life.name_ko, life.name_en
    _auto_date(session, item)
    session.flush()
    return item, _log(session, item, user_id, Action.edit, before=before, after=snapshot(item),
                      household_id=item.household_id)


def move_item(session: Session, scope: Scope, item_id: str, place_id: str) -> tuple[Item, ItemEvent]:
    """Into another place; an automatic date follows (into or out of the freezer it counts from now)."""
    user_id = scope.require_user()
    item = get_item(session, scope, item_id)
    _active(item)
    target = _place_in(session, item.household_id, place_id)
    before = snapshot(item)
    old_kind = root_kind(session, session.get(StoragePlace, item.place_id) if item.place_id else None)
    item.place_id = target.id if target else None
    new_kind = root_kind(session, target)
    _auto_date(session, item, base=utcnow() if PlaceKind.freezer in (old_kind, new_kind) and old_kind != new_kind
               else None)
    session.flush()
    return item, _log(session, item, user_id, Action.move, before=before, after=snapshot(item),
                      household_id=item.household_id)


def _amount(item: Item, quantity: float | None, *, whole_ok: bool) -> float:
    if quantity is None:
        return item.quantity
    if quantity <= 0:
        raise InvalidInput("The quantity must be more than 0", key="pantry_quantity_positive")
    if quantity > item.quantity + EPSILON or (not whole_ok and quantity >= item.quantity - EPSILON):
        raise Conflict(f"Only {item.quantity:g} {item.unit} left".strip(), key="pantry_quantity_too_much",
                       details={"available": item.quantity})
    return quantity


def split_item(session: Session, scope: Scope, item_id: str, quantity: float,
               place_id: str | None = None) -> tuple[Item, Item, ItemEvent]:
    """Take `quantity` off an item into a new one (in `place_id`, else the same place)."""
    user_id = scope.require_user()
    item = get_item(session, scope, item_id)
    _active(item)
    amount = _amount(item, quantity, whole_ok=False)
    target = _place_in(session, item.household_id, place_id) if place_id else None
    before = snapshot(item)
    item.quantity -= amount
    part = Item(household_id=item.household_id, place_id=target.id if target else item.place_id, name=item.name,
                name_ko=item.name_ko, name_en=item.name_en, category=item.category, quantity=amount, unit=item.unit,
                added_at=item.added_at, consume_by=item.consume_by, consume_by_auto=item.consume_by_auto,
                opened_at=item.opened_at, notes=item.notes, photo_file_id=item.photo_file_id)
    session.add(part)
    session.flush()
    if target is not None:
        _auto_date(session, part, base=utcnow() if root_kind(session, target) == PlaceKind.freezer else None)
    after = snapshot(item) | {"split_into": part.id, "part": snapshot(part)}
    event = _log(session, item, user_id, Action.split, before=before, after=after, household_id=item.household_id,
                 quantity=amount)
    return item, part, event


def _finish(session: Session, scope: Scope, item_id: str, quantity: float | None, action: Action
            ) -> tuple[Item, ItemEvent]:
    user_id = scope.require_user()
    item = get_item(session, scope, item_id)
    _active(item)
    amount = _amount(item, quantity, whole_ok=True)
    before = snapshot(item)
    item.quantity = max(0.0, item.quantity - amount)
    if item.quantity <= EPSILON:
        item.quantity = 0.0
        item.status = ItemStatus.consumed if action == Action.consume else ItemStatus.discarded
        item.finished_at = utcnow()
    session.flush()
    return item, _log(session, item, user_id, action, before=before, after=snapshot(item),
                      household_id=item.household_id, quantity=amount)


def consume_item(session: Session, scope: Scope, item_id: str, quantity: float | None = None) -> tuple[Item, ItemEvent]:
    """Eat or use some (or all, when `quantity` is None): all used up, the item is `consumed`."""
    return _finish(session, scope, item_id, quantity, Action.consume)


def discard_item(session: Session, scope: Scope, item_id: str, quantity: float | None = None) -> tuple[Item, ItemEvent]:
    """Throw some (or all) away: counted as waste in the statistics."""
    return _finish(session, scope, item_id, quantity, Action.discard)


def delete_item(session: Session, scope: Scope, item_id: str) -> None:
    """Remove an item and its history for good (a mistake, not waste): not undoable."""
    item = get_item(session, scope, item_id)
    session.execute(ItemEvent.__table__.delete().where(ItemEvent.item_id == item.id))
    session.delete(item)
    session.flush()


# --- events and undo -----------------------------------------------------------------------------

def list_events(session: Session, scope: Scope, household_id: str, *, item_id: str | None = None,
                limit: int = 50, offset: int = 0) -> tuple[list[ItemEvent], int]:
    where = [ItemEvent.household_id == household_id, ItemEvent.household_id.in_(_member_of(scope))]
    if item_id is not None:
        where.append(ItemEvent.item_id == item_id)
    total = session.scalar(select(func.count()).select_from(ItemEvent).where(*where)) or 0
    query = select(ItemEvent).where(*where).order_by(ItemEvent.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(query)), total


def _latest_for(session: Session, item_id: str) -> ItemEvent | None:
    return session.scalar(select(ItemEvent).where(ItemEvent.item_id == item_id, ItemEvent.undone_at.is_(None),
                                                  ItemEvent.action != Action.undo)
                          .order_by(ItemEvent.id.desc()).limit(1))


def undo(session: Session, scope: Scope, household_id: str, event_id: str | None = None) -> ItemEvent:
    """Undo the household's latest change (or `event_id`, which must be the latest on its item).

    The item goes back to its state before the change (an undone add removes the item; an undone split
    puts the part back); the undo is logged as its own event. 409 when nothing is left to undo, or when
    a later change to the same item must be undone first.
    """
    user_id = scope.require_user()
    where = [ItemEvent.household_id == household_id, ItemEvent.household_id.in_(_member_of(scope)),
             ItemEvent.undone_at.is_(None), ItemEvent.action.in_([a.value for a in UNDOABLE]),
             ItemEvent.item_id.is_not(None)]
    if event_id is not None:
        event = session.scalar(select(ItemEvent).where(ItemEvent.id == event_id, *where[:2]))
        if event is None:
            raise NotFound(f"No pantry event with id {event_id}", key="pantry_event_not_found")
        if event.undone_at is not None or event.action not in UNDOABLE or event.item_id is None:
            raise Conflict("This change cannot be undone (again)", key="pantry_undo_done")
    else:
        event = session.scalar(select(ItemEvent).where(*where).order_by(ItemEvent.id.desc()).limit(1))
        if event is None:
            raise Conflict("Nothing to undo", key="pantry_nothing_to_undo")
    assert event.item_id is not None
    latest = _latest_for(session, event.item_id)
    if latest is None or latest.id != event.id:
        raise Conflict("Undo the later changes to this item first", key="pantry_undo_later_first")
    item = session.get(Item, event.item_id)
    assert item is not None
    current = snapshot(item)
    part_id = (event.after or {}).get("split_into") if event.action == Action.split else None
    if part_id is not None:
        part = session.get(Item, part_id)
        if part is not None:
            if _latest_for(session, part.id) is not None:
                raise Conflict("Undo the later changes to the split-off part first", key="pantry_undo_later_first")
            session.delete(part)
    event.undone_at = utcnow()
    if event.action == Action.add:
        session.execute(ItemEvent.__table__.update().where(ItemEvent.item_id == item.id).values(item_id=None))
        session.delete(item)
        session.flush()
        return _log(session, None, user_id, Action.undo, before=current, after=None, household_id=household_id,
                    undo_of_id=event.id)
    _restore(item, event.before or {})
    session.flush()
    return _log(session, item, user_id, Action.undo, before=current, after=snapshot(item), household_id=household_id,
                undo_of_id=event.id)


# --- use soon, stock and waste ------------------------------------------------------------------

@dataclass(frozen=True)
class Stocked:
    """An item in stock with the days until its consume-by date (negative: expired; None: no date)."""

    item: Item
    days_left: int | None


def days_left(consume_by: datetime | None, now: datetime | None = None) -> int | None:
    if consume_by is None:
        return None
    now = now or utcnow()
    return (_aware(consume_by).date() - now.date()).days  # type: ignore[union-attr]


def stock(session: Session, scope: Scope, household_id: str, *, now: datetime | None = None) -> list[Stocked]:
    """Everything in stock, soonest consume-by first (undated last): the seam for recipes and the LLM."""
    items, _ = list_items(session, scope, household_id, limit=10_000)
    return [Stocked(i, days_left(i.consume_by, now)) for i in items]


def use_soon(session: Session, scope: Scope, household_id: str, *, within_days: int,
             now: datetime | None = None) -> list[Stocked]:
    """Active items due within `within_days` days, expired ones included, soonest first."""
    return [s for s in stock(session, scope, household_id, now=now)
            if s.days_left is not None and s.days_left <= within_days]


def waste_stats(session: Session, scope: Scope, household_id: str, *, months: int = 12,
                now: datetime | None = None) -> dict[str, Any]:
    """Consumed vs discarded per month (YYYY-MM) and category: events not undone, counts and quantities."""
    now = now or utcnow()
    since = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for _ in range(months - 1):  # back to the first day of the first month shown
        since = (since - timedelta(days=1)).replace(day=1)
    rows = session.scalars(select(ItemEvent).where(
        ItemEvent.household_id == household_id, ItemEvent.household_id.in_(_member_of(scope)),
        ItemEvent.action.in_([Action.consume.value, Action.discard.value]), ItemEvent.undone_at.is_(None),
        ItemEvent.created_at >= since))
    empty = {"consumed_count": 0, "consumed_quantity": 0.0, "discarded_count": 0, "discarded_quantity": 0.0}
    by_month: dict[str, dict[str, Any]] = defaultdict(lambda: dict(empty))
    by_category: dict[str, dict[str, Any]] = defaultdict(lambda: dict(empty))
    for event in rows:
        side = "consumed" if event.action == Action.consume else "discarded"
        for bucket in (by_month[_aware(event.created_at).strftime("%Y-%m")], by_category[event.category]):  # type: ignore[union-attr]
            bucket[f"{side}_count"] += 1
            bucket[f"{side}_quantity"] += event.quantity or 0.0
    month_keys, cursor = [], since
    while cursor <= now:
        month_keys.append(cursor.strftime("%Y-%m"))
        cursor = (cursor + timedelta(days=32)).replace(day=1)
    totals = dict(empty)
    for bucket in by_category.values():
        for key in totals:
            totals[key] += bucket[key]
    finished = totals["consumed_count"] + totals["discarded_count"]
    return {"since": since.date().isoformat(), "totals": totals,
            "waste_share": round(totals["discarded_count"] / finished, 4) if finished else None,
            "months": [{"month": m, **by_month.get(m, empty)} for m in month_keys],
            "categories": [{"category": c, **v} for c, v in sorted(by_category.items())]}
