"""One way to list: what a scope may see, filtered, newest first, a page at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from boda.core.auth import Scope
from boda.core.models import Owned

RowT = TypeVar("RowT")
Reach = Literal["mine", "readable", "household", "public"]


@dataclass(frozen=True)
class Listed(Generic[RowT]):
    items: list[RowT]
    total: int
    limit: int
    offset: int


def paginate(session: Session, query: Select[tuple[RowT]], *, limit: int, offset: int) -> Listed[RowT]:
    """Count the whole query, then fetch one page of it (the query carries its own order)."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = session.scalars(query.limit(limit).offset(offset)).all()
    return Listed(items=list(rows), total=total, limit=limit, offset=offset)


def reach_condition(model: type[Owned], scope: Scope, reach: Reach) -> ColumnElement[bool]:
    """Which of the objects a scope may see a list shows: its own, all it may read, or shared ones."""
    if reach == "mine":
        return model.owner_id == scope.require_user()
    if reach == "household":
        scope.require_user()
        return scope.shared_with_me(model)
    if reach == "public":
        return model.visibility == "public"
    return scope.readable(model)


def list_visible(session: Session, model: type[Owned], scope: Scope, *, limit: int, offset: int,
                 reach: Reach = "readable", where: Sequence[ColumnElement[bool]] = ()) -> Listed[Owned]:
    """Objects of one model the scope may see, newest first (ids are UUIDv7, so id order is age)."""
    query = select(model).where(reach_condition(model, scope, reach), *where)
    query = query.order_by(model.id.desc())  # type: ignore[attr-defined]
    return paginate(session, query, limit=limit, offset=offset)
