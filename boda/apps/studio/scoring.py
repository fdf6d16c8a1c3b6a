"""The aesthetic score learns from the community: `boda studio train-scorer` fits a head on rated models.

Until `studio.min_ratings_to_learn` models are rated, every model shows its technical quality
(BRISQUE on rendered views) and says so; after a training, the learned head scores them all,
and its held-out Spearman correlation is kept beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sqlalchemy import select

from boda.apps.studio import render, service
from boda.apps.studio.models import Scorer, StudioModel
from boda.core.errors import Conflict
from boda.core.runtime import Runtime


def train_scorer(runtime: Runtime, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Fit the head on every rated model's rendered views, keep it, rescore every ready model."""
    from boda.ai import aesthetic

    tell = progress or (lambda message: None)
    minimum = service.studio_settings_of(runtime).min_ratings_to_learn
    extractor = aesthetic.choose_extractor(runtime.ai)
    with runtime.db.session() as session:
        rated = [(m, r) for m, r in service.rated_models(session) if m.status == "ready"]
        if len(rated) < minimum:
            raise Conflict(f"Only {len(rated)} rated models; the scorer learns from {minimum} or more "
                           "(studio.min_ratings_to_learn). Models keep their technical score meanwhile.",
                           key="studio_too_few_ratings", details={"rated": len(rated), "needed": minimum})
        tell(f"Rendering {len(rated)} rated models")
        features = np.stack([aesthetic.features(render.render_views(service.read_glb(session, runtime.store, m)),
                                                extractor) for m, _ in rated])
        tell("Fitting the head")
        head = aesthetic.train_head(features, [r for _, r in rated], feature_key=extractor.key, minimum=minimum)
        assert head is not None  # there are enough models (checked above)
        rho = head.meta.get("heldout_spearman")
        session.add(Scorer(head=head.to_bytes(), trained_on=len(rated), features=extractor.key,
                           spearman=float(rho) if rho is not None and np.isfinite(rho) else None))
        session.commit()
        ids = session.scalars(select(StudioModel.id).where(StudioModel.status == "ready")).all()
    tell(f"Rescoring {len(ids)} models")
    for model_id in ids:
        with runtime.db.session() as session:
            model = session.get(StudioModel, model_id)
            if model is None:
                continue
            views = render.render_views(service.read_glb(session, runtime.store, model))
            result = aesthetic.score(views, head, extractor=extractor)
            model.score, model.score_std = float(result.mean), float(result.std)
            model.score_probs, model.score_method = [float(p) for p in result.probs], result.method
            session.commit()
    return {"trained_on": len(rated), "spearman": float(rho) if rho is not None else float("nan"),
            "rescored": len(ids), "features": extractor.key}
