"""Pantry's tables: a household's storage places, the items in them, every change to an item, and
the household's own shelf-life rules.

Everything here belongs to a household (not to one person): members share one fridge. Rows go with
their household (ON DELETE CASCADE); access is always checked through the caller's memberships.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from boda.core.db import Base, IdMixin, TimestampMixin, utcnow
from boda.core.models import Owned


class PlaceKind(StrEnum):
    fridge = "fridge"
    freezer = "freezer"
    pantry = "pantry"
    compartment = "compartment"


class ItemStatus(StrEnum):
    active = "active"
    consumed = "consumed"
    discarded = "discarded"


class Action(StrEnum):
    add = "add"
    move = "move"
    split = "split"
    consume = "consume"
    discard = "discard"
    edit = "edit"
    undo = "undo"


class StoragePlace(IdMixin, TimestampMixin, Base):
    """A fridge, freezer or pantry shelf; a compartment sits in one of them (`parent_id`)."""

    __tablename__ = "pantry_places"

    household_id: Mapped[str] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[PlaceKind] = mapped_column(String(16))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("pantry_places.id", ondelete="CASCADE"), default=None)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Item(IdMixin, TimestampMixin, Base):
    """Something in stock. `consume_by_auto`: the date came from shelf life and follows moves and opening."""

    __tablename__ = "pantry_items"

    household_id: Mapped[str] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    place_id: Mapped[str | None] = mapped_column(ForeignKey("pantry_places.id", ondelete="SET NULL"),
                                                 index=True, default=None)
    name: Mapped[str] = mapped_column(String(128))
    name_ko: Mapped[str | None] = mapped_column(String(128), default=None)
    name_en: Mapped[str | None] = mapped_column(String(128), default=None)
    category: Mapped[str] = mapped_column(String(32), default="other")
    quantity: Mapped[float] = mapped_column(Float, default=1.0)
    unit: Mapped[str] = mapped_column(String(16), default="")
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    consume_by: Mapped[datetime | None] = mapped_column(default=None, index=True)
    consume_by_auto: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_at: Mapped[datetime | None] = mapped_column(default=None)
    photo_file_id: Mapped[str | None] = mapped_column(String(36), default=None)  # a StoredFile id (files)
    notes: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[ItemStatus] = mapped_column(String(16), default=ItemStatus.active, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class ItemEvent(IdMixin, TimestampMixin, Base):
    """One change to one item: who, what, and the item before and after (so it can be undone).

    `quantity` and `category` are kept for statistics (consumed vs thrown away), which count the
    events that were not undone. `item_id` goes NULL when an undone add deletes its item.
    """

    __tablename__ = "pantry_events"

    household_id: Mapped[str] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[str | None] = mapped_column(ForeignKey("pantry_items.id", ondelete="SET NULL"),
                                                index=True, default=None)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    action: Mapped[Action] = mapped_column(String(16))
    quantity: Mapped[float | None] = mapped_column(Float, default=None)
    category: Mapped[str] = mapped_column(String(32), default="other")
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    undone_at: Mapped[datetime | None] = mapped_column(default=None)
    undo_of_id: Mapped[str | None] = mapped_column(ForeignKey("pantry_events.id", ondelete="SET NULL"),
                                                   default=None)


class ShelfLifeOverride(IdMixin, TimestampMixin, Base):
    """A household's own rule for one ingredient name (normalised in `name_key`)."""

    __tablename__ = "pantry_shelf_overrides"
    __table_args__ = (UniqueConstraint("household_id", "name_key"),)

    household_id: Mapped[str] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    name_key: Mapped[str] = mapped_column(String(128))
    place: Mapped[str | None] = mapped_column(String(16), default=None)
    category: Mapped[str | None] = mapped_column(String(32), default=None)
    days: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Recipe(IdMixin, TimestampMixin, Owned, Base):
    """A recipe someone wrote or imported; private, household, unlisted or public (the core's `Owned`).

    `ingredients` keeps every line parsed (`{"text", "name", "amount", "unit", ..., "unparsed"}`) so
    what could not be parsed shows as written; `household_id` (from `Owned`) is set only when shared
    with a household, and the household's "what can I cook" ranks those with the cook's own.
    """

    __tablename__ = "pantry_recipes"
    noun, noun_key = "recipe", "pantry_recipe"

    title: Mapped[str] = mapped_column(String(200))
    ingredients: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    steps: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    photo_file_id: Mapped[str | None] = mapped_column(String(36), default=None)  # a StoredFile id (files)
    source_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    description: Mapped[str] = mapped_column(Text, default="")
    yields: Mapped[str | None] = mapped_column(String(64), default=None)
    total_minutes: Mapped[int | None] = mapped_column(Integer, default=None)
    language: Mapped[str | None] = mapped_column(String(8), default=None)


class ShoppingItem(IdMixin, TimestampMixin, Base):
    """One line of a household's shopping list; cooking adds what a recipe missed."""

    __tablename__ = "pantry_shopping"

    household_id: Mapped[str] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    quantity: Mapped[float | None] = mapped_column(Float, default=None)
    unit: Mapped[str] = mapped_column(String(16), default="")
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    recipe_id: Mapped[str | None] = mapped_column(ForeignKey("pantry_recipes.id", ondelete="SET NULL"), default=None)


class DigestPreference(TimestampMixin, Base):
    """One person's wish for the daily "use soon" digest by e-mail (opt-in; the core's user has no address).

    `queued_on` keeps the periodic check from queueing a second job the same day; `sent_on` is claimed by
    the job before it sends, so a retried or doubled job never mails twice the same day.
    """

    __tablename__ = "pantry_digest_prefs"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str | None] = mapped_column(String(8), default=None)  # the page's language when they asked
    queued_on: Mapped[date | None] = mapped_column(Date, default=None)
    sent_on: Mapped[date | None] = mapped_column(Date, default=None)


class RecognitionExample(IdMixin, TimestampMixin, Base):
    """One box a member confirmed or renamed: what it is (`label`, as the household calls it) and its embedding.

    The household's own classifier learns from these (`household.py`). `embedder` names the features
    (float32 bytes) so vectors of another model are never mixed in; the photo and box say where it came from.
    """

    __tablename__ = "pantry_examples"

    household_id: Mapped[str] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(128))
    embedder: Mapped[str] = mapped_column(String(64))
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    file_id: Mapped[str | None] = mapped_column(String(36), default=None)  # a StoredFile id (files)
    recognition_id: Mapped[str | None] = mapped_column(String(36), default=None)  # the job it was confirmed from
    box: Mapped[list[int] | None] = mapped_column(JSON, default=None)


class HouseholdClassifier(IdMixin, TimestampMixin, Base):
    """One training of a household's classifier: the linear head and its prototypes as JSON (data, never
    pickle), what it learnt from, and how well it did on examples it had not seen (cross-validated)."""

    __tablename__ = "pantry_classifiers"
    __table_args__ = (UniqueConstraint("household_id", "version"),)

    household_id: Mapped[str] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    embedder: Mapped[str] = mapped_column(String(64))
    head: Mapped[dict[str, Any]] = mapped_column(JSON)
    prototypes: Mapped[dict[str, Any]] = mapped_column(JSON)
    accuracy: Mapped[float] = mapped_column(Float)
    folds: Mapped[int] = mapped_column(Integer)
    counts: Mapped[dict[str, int]] = mapped_column(JSON)
    examples: Mapped[int] = mapped_column(Integer)  # how many examples it was trained on
