"""Find gallery models by text: words in their title or prompt first, then what their thumbnails show.

The thumbnails are embedded by Album's image–text embedding provider (`ai.image_text_embedder`;
the offline concepts backend by default, CLIP when the user has it), so "소방차" finds a red truck
whose prompt said "fire engine", and a model whose prompt says nothing of its colour.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from boda.apps.studio.models import StudioModel
from boda.apps.studio.processing import space_for
from boda.core.auth import Scope
from boda.core.models import Visibility
from boda.core.runtime import Runtime

MAX_CANDIDATES = 10_000
MIN_SIMILARITY = 0.2


def _gallery(scope: Scope):  # type: ignore[no-untyped-def]
    return (StudioModel.status == "ready",
            or_(StudioModel.visibility == Visibility.public, scope.shared_with_me(StudioModel)))


def gallery_search(session: Session, runtime: Runtime, scope: Scope, text: str, *, limit: int, offset: int
                   ) -> tuple[list[StudioModel], int]:
    """Models the caller may see, best first: literal matches, then by embedding similarity."""
    pattern = f"%{text.replace('%', '').replace('_', '')}%"
    literal = session.scalars(
        select(StudioModel.id).where(*_gallery(scope), or_(StudioModel.title.ilike(pattern),
                                                          StudioModel.prompt.ilike(pattern),
                                                          StudioModel.enhanced_prompt.ilike(pattern)))
        .order_by(StudioModel.likes.desc(), StudioModel.created_at.desc()).limit(MAX_CANDIDATES)).all()
    allowed = set(session.scalars(select(StudioModel.id).where(*_gallery(scope)).limit(MAX_CANDIDATES)).all())
    ranked = list(literal)
    if allowed:
        embedder = runtime.ai.get("image_text_embedder")
        vector = embedder.embed_texts([text])[0]
        hits = runtime.vectors.search(space_for(embedder.key), vector, k=min(len(allowed), offset + limit + 50),
                                      allowed=allowed)
        seen = set(ranked)
        ranked += [model_id for model_id, similarity in hits if model_id not in seen and similarity >= MIN_SIMILARITY]
    page = ranked[offset:offset + limit]
    rows = {m.id: m for m in session.scalars(select(StudioModel).where(StudioModel.id.in_(page))).all()}
    return [rows[i] for i in page if i in rows], len(ranked)
