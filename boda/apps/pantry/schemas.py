"""Pantry's API shapes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt

from boda.apps.pantry.models import Action, ItemStatus, PlaceKind
from boda.core.schemas import integral, json_int

NAME_PATTERN = r"[^\s\x00-\x1f\x7f-\x9f\ufeff]"  # at least one visible character


def _number(value: Any) -> Any:
    """A JSON number only: not true/false, not "1.5" (lax floats take both, the schema says number)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("a number is required")
    return value


def _timestamp(value: Any) -> Any:
    """An ISO 8601 string only (lax datetimes also take numbers as Unix times; the schema says string)."""
    if not isinstance(value, str | datetime):
        raise ValueError("an ISO 8601 date-time string is required")
    return value


MIN_YEAR, MAX_YEAR = 1900, 2200


def _within_years(value: datetime) -> datetime:
    """A moment food could have: year 1 at +14:00 has no UTC time, and a consume-by date is the added
    date plus days, so the ends of the calendar overflowed into 500s."""
    try:
        utc = value.astimezone(UTC) if value.tzinfo is not None else value
    except OverflowError:
        raise ValueError("the date is out of range") from None
    if not MIN_YEAR <= utc.year <= MAX_YEAR:
        raise ValueError(f"a date between the years {MIN_YEAR} and {MAX_YEAR} is required")
    return value


# Bounds go inside, before the validator: after it, the schema would show pydantic's own `gt`/`le` keys.
Quantity = Annotated[float, Field(gt=0, le=1_000_000), BeforeValidator(_number)]
DaysValue = Annotated[float, Field(ge=0, le=3650), BeforeValidator(_number)]
Position = Annotated[StrictInt, Field(ge=0, le=10_000), BeforeValidator(integral)]
# `x-years` says the range in the schema (JSON Schema has no word for it); the fuzz hooks keep to it.
Timestamp = Annotated[datetime, BeforeValidator(_timestamp), AfterValidator(_within_years),
                      Field(json_schema_extra={"x-years": [MIN_YEAR, MAX_YEAR]})]
PlaceName = Literal["fridge", "freezer", "pantry"]
HOUSEHOLD_HELP = "The household (default: the caller's first). 404 when the caller is not a member."


class PlaceIn(BaseModel):
    household_id: str | None = Field(default=None, max_length=36, description=HOUSEHOLD_HELP)
    name: str = Field(min_length=1, max_length=64, pattern=NAME_PATTERN)
    kind: PlaceKind
    parent_id: str | None = Field(default=None, max_length=36, description="For a compartment: the place it is in.")
    position: Position = 0


class PlacePatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=64, pattern=NAME_PATTERN)
    kind: PlaceKind | None = None
    parent_id: str | None = Field(default=None, max_length=36)
    position: Position | None = None


class PlaceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    household_id: str
    name: str
    kind: PlaceKind
    parent_id: str | None
    position: int


class ItemIn(BaseModel):
    household_id: str | None = Field(default=None, max_length=36, description=HOUSEHOLD_HELP)
    name: str = Field(min_length=1, max_length=128, pattern=NAME_PATTERN,
                      description="Korean or English (양파, onion): category, place and consume-by follow from it.")
    quantity: Quantity = Field(default=1.0)
    unit: str = Field(default="", max_length=16)
    place_id: str | None = Field(default=None, max_length=36)
    category: str | None = Field(default=None, max_length=32)
    consume_by: Timestamp | None = Field(default=None, description="Unset: from shelf life (none for an unknown name).")
    opened_at: Timestamp | None = None
    added_at: Timestamp | None = None
    notes: str = Field(default="", max_length=2000)


class ItemPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=128, pattern=NAME_PATTERN)
    quantity: Quantity | None = Field(default=None)
    unit: str | None = Field(default=None, max_length=16)
    category: str | None = Field(default=None, min_length=1, max_length=32)
    consume_by: Timestamp | None = Field(default=None, description="null: back to the date from shelf life.")
    opened_at: Timestamp | None = None
    notes: str | None = Field(default=None, max_length=2000)


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    household_id: str
    place_id: str | None
    name: str
    name_ko: str | None
    name_en: str | None
    category: str
    quantity: float
    unit: str
    added_at: datetime
    consume_by: datetime | None
    consume_by_auto: bool
    opened_at: datetime | None
    photo_file_id: str | None
    notes: str
    status: ItemStatus
    finished_at: datetime | None
    days_left: int | None = None


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    created_at: datetime
    household_id: str
    item_id: str | None
    user_id: str | None
    action: Action
    quantity: float | None
    category: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    undone_at: datetime | None
    undo_of_id: str | None


class ItemChangeOut(BaseModel):
    """An item after a change, and the event to undo it with."""

    item: ItemOut
    event: EventOut


class SplitOut(ItemChangeOut):
    part: ItemOut


class MoveIn(BaseModel):
    place_id: str = Field(max_length=36)


class SplitIn(BaseModel):
    quantity: Quantity = Field(description="How much goes into the new item (less than all).")
    place_id: str | None = Field(default=None, max_length=36, description="Where the new part goes (default: same).")


class AmountIn(BaseModel):
    quantity: Quantity | None = Field(default=None, description="Unset: all of it.")


class UndoIn(BaseModel):
    household_id: str | None = Field(default=None, max_length=36, description=HOUSEHOLD_HELP)
    event_id: str | None = Field(default=None, max_length=36, description="Unset: the household's latest change.")


class SpanOut(BaseModel):
    min_days: float | None
    max_days: float | None
    advice: str | None


class ShelfLifeOut(BaseModel):
    query: str
    known: bool
    name_ko: str | None = None
    name_en: str | None = None
    category: str | None = None
    category_ko: str | None = None
    place: PlaceName | None = None
    days: float | None = Field(default=None, description="Days to consume-by in the usual place (short end).")
    spans: dict[str, SpanOut] = {}
    opened: dict[str, SpanOut] = {}
    foodkeeper_id: int | None = None
    foodkeeper_name: str | None = None
    overridden: bool = False
    source: str = "USDA FSIS FoodKeeper"


class IngredientOut(BaseModel):
    ko: str
    en: str
    category: str
    category_ko: str
    aliases: list[str]


class OverrideIn(BaseModel):
    household_id: str | None = Field(default=None, max_length=36, description=HOUSEHOLD_HELP)
    name: str = Field(min_length=1, max_length=128, pattern=NAME_PATTERN)
    place: PlaceName | None = None
    category: str | None = Field(default=None, min_length=1, max_length=32)
    days: dict[PlaceName, DaysValue] = Field(
        default_factory=dict, description="Days to consume-by per place.")


class OverrideOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    household_id: str
    name: str
    place: str | None
    category: str | None
    days: dict[str, float]


class WasteBucket(BaseModel):
    consumed_count: int
    consumed_quantity: float
    discarded_count: int
    discarded_quantity: float


class WasteMonth(WasteBucket):
    month: str


class WasteCategory(WasteBucket):
    category: str


class WasteOut(BaseModel):
    since: str
    totals: WasteBucket
    waste_share: float | None = Field(description="Share of finished items thrown away (by count); null: none yet.")
    months: list[WasteMonth]
    categories: list[WasteCategory]


class DigestItemOut(BaseModel):
    id: str
    name: str = Field(description="In the reader's language when shelf life knows the ingredient.")
    quantity: float
    unit: str
    days_left: int | None = Field(description="Days from the digest's day to the consume-by date (negative: past).")
    consume_by: date | None
    opened_on: date | None
    text: str = Field(description="'2 days past', 'due today', 'opened 3 days ago', in the reader's language.")


class DigestCounts(BaseModel):
    expired: int
    due: int
    opened: int
    in_stock: int


class DigestOut(BaseModel):
    """Today's digest: past consume-by, due within `within_days` (`pantry.digest_days`), the other opened items."""

    household_id: str
    household_name: str
    day: date = Field(description="Today in `pantry.digest_timezone`.")
    within_days: int
    locale: str
    title: str
    summary: str
    counts: DigestCounts
    expired: list[DigestItemOut]
    due: list[DigestItemOut]
    opened: list[DigestItemOut]


EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f<>,;:\"]+@[^@\s\x00-\x1f\x7f<>,;:\"]+\.[^@\s\x00-\x1f\x7f<>,;:\"]+$"


class DigestPreferenceIn(BaseModel):
    enabled: StrictBool = Field(description="Receive the digest by e-mail once a day (needs an address).")
    email: str | None = Field(default=None, max_length=254, pattern=EMAIL_PATTERN,
                              description="Where to send it; omitted or null keeps the address saved.")


class DigestPreferenceOut(BaseModel):
    enabled: bool
    email: str
    sent_on: date | None = Field(description="The last day a digest was mailed.")
    mail_configured: bool = Field(description="Whether this server sends e-mail at all (`smtp.url`).")
    hour: int = Field(description="`pantry.digest_hour`: from this hour on ...")
    timezone: str = Field(description="... in this time zone (`pantry.digest_timezone`).")


# --- photo to ingredients --------------------------------------------------------------------

class SaidOut(BaseModel):
    source: str
    label: str
    confidence: float
    box: list[int] | None = None


class AlternativeOut(BaseModel):
    name_ko: str
    name_en: str
    confidence: float
    source: str
    label: str


class CandidateOut(BaseModel):
    """One ingredient seen in the photo. `confidence` is the best recogniser's own score (a detector's score,
    a classifier's probability, or what the chat model says of itself) and `source` names it; `sources` is
    what each recogniser said. `box`: x, y, w, h in pixels of the upright photo (none for the chat model).
    Source `household`: the household's own classifier, its head's probability over the household's labels."""

    name_ko: str
    name_en: str
    category: str
    confidence: float
    source: str
    box: list[int] | None = None
    boxes: list[list[int]] = []
    count: int = 1
    known: bool = True
    sources: list[SaidOut] = []
    alternatives: list[AlternativeOut] = Field(default=[], description=(
        "Other names recognisers gave the same box, less sure: offered for renaming."))
    quantity: float | None = Field(default=None, description="A receipt's amount (else the number of boxes).")
    unit: str = ""


class RecognitionOut(BaseModel):
    id: str
    kind: Literal["photo", "receipt"] = "photo"
    status: str
    progress: float
    message: str
    error: str | None = None
    household_id: str
    file_id: str
    width: int | None = None
    height: int | None = None
    candidates: list[CandidateOut] = []
    seconds: dict[str, float] = {}
    errors: dict[str, str] = {}
    confirmed_item_ids: list[str] | None = None
    lines: list[str] | None = Field(default=None, description="A receipt's lines as OCR read them.")
    household_version: int | None = Field(default=None, description=(
        "The version of the household's own classifier that took part (none while it has trained none)."))


class ConfirmItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=128, pattern=NAME_PATTERN,
                      description="As the user kept or renamed it (Korean or English).")
    quantity: Quantity = Field(default=1.0)
    unit: str = Field(default="", max_length=16)
    place_id: str | None = Field(default=None, max_length=36)
    candidate: json_int(0, 999) | None = Field(default=None, description=(
        "Which of the recognition's candidates this line is (its index), kept or renamed: its boxes, under "
        "this name, teach the household's own classifier. Without it a line teaches only when its name is a "
        "candidate's."))


class ConfirmIn(BaseModel):
    items: list[ConfirmItemIn] = Field(min_length=1, max_length=100)


# --- the household's own classifier -----------------------------------------------------------------

class PantryClassifierVersionOut(BaseModel):
    version: int
    classes: list[str]
    accuracy: float = Field(description="Cross-validated: each example named by a head that never saw it.")
    folds: int
    counts: dict[str, int] = Field(description="Examples per label it was trained on.")
    examples: int
    created_at: datetime


class PantryTrainingOut(BaseModel):
    id: str
    status: str


class PantryClassifierOut(BaseModel):
    """What the household has taught Boda (confirmed boxes per label) and its newest trained classifier."""

    household_id: str
    embedder: str | None = Field(description="The embeddings examples are kept as (none: the classifier gives none).")
    examples: dict[str, int]
    new_examples: int = Field(description="Examples since the newest version was trained.")
    ready: bool = Field(description="Whether the examples can train a classifier (two labels, two boxes each).")
    not_ready_reason: Literal["too_few_classes", "too_few_photos"] | None = None
    version: PantryClassifierVersionOut | None = None
    training: PantryTrainingOut | None = Field(default=None, description="The newest training job.")
