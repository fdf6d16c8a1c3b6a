"""Pydantic shapes shared by the core API and the apps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, ValidationError

T = TypeVar("T")


def integral(value: Any) -> Any:
    """7.0 as 7: JSON Schema counts it an integer (bounds go before this validator, or the schema loses them)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# A JSON Schema integer: 7 and 7.0, never true or "7" (which pydantic's lax mode would take).
JsonInt = Annotated[StrictInt, BeforeValidator(integral)]


def json_int(ge: int, le: int) -> Any:
    """JsonInt within bounds, the bounds on the integer itself: put on an `| None` union by `Field`, they
    reach the schema as raw "ge"/"le" keys no client understands."""
    return Annotated[StrictInt, Field(ge=ge, le=le), BeforeValidator(integral)]


def plain_errors(exc: ValidationError, *, prefix: str = "") -> str:
    """A validation error as sentences (`--method: Input should be 'mosaic', 'blur' or 'box', got 'foo'`)."""
    parts = []
    for error in exc.errors(include_url=False):
        name = ".".join(str(p) for p in error.get("loc", ()))
        text = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        value = error.get("input")
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            text += f", got {value!r}"
        parts.append(f"{prefix}{name}: {text}" if name else text)
    return "; ".join(parts)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class PageParams(BaseModel):
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=1_000_000_000)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    username: str
    display_name: str
    role: str
    locale: str | None
    is_active: bool = True
    created_at: datetime


class FileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    filename: str
    content_type: str
    size: int
    width: int | None
    height: int | None
    visibility: str
    household_id: str | None = None
    created_at: datetime
    url: str = ""
    share_url: str | None = None

    @classmethod
    def of(cls, row: Any) -> FileOut:
        out = cls.model_validate(row)
        out.url = f"/api/v1/files/{row.id}/content"
        # Owners, household members and public viewers get here; only unlisted and public files have a link.
        out.share_url = f"/api/v1/shared/{row.share_token}" if row.share_token else None
        return out


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    kind: str
    title: str
    status: str
    progress: float
    message: str
    result: dict[str, Any] | None
    error: str | None
    attempts: int
    max_attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    events_url: str = ""

    @classmethod
    def of(cls, row: Any, text: Callable[[str | None, dict[str, Any] | None, str], str] | None = None) -> JobOut:
        """The job; `text(key, args, english)` puts its title and message in the viewer's language."""
        out = cls.model_validate(row)
        out.events_url = f"/api/v1/jobs/{row.id}/events"
        if text is not None:
            out.title = text(row.title_key, row.title_args, row.title)
            out.message = text(row.message_key, row.message_args, row.message)
        return out
