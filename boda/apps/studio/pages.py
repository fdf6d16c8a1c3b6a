"""3D Studio's pages: create (prompt, enhance, generate, upload), a model with its viewer, the gallery.

Actions are fetch calls from studio.js to the API (the CSRF header from Boda.api); the job's
progress comes over SSE (Boda.watchJob). No inline script or style anywhere.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from boda.apps.studio import enhance, search, service
from boda.apps.studio.models import StudioModel
from boda.apps.studio.routes import _providers, model_out
from boda.core import households
from boda.core.auth import Scope, get_shared
from boda.web.deps import DbSession, RuntimeDep
from boda.web.middleware import STUDIO_CONTENT_SECURITY_POLICY
from boda.web.pages import Page, require_login

router = APIRouter(include_in_schema=False)
PER_PAGE = 24


def _offset(page: int) -> int:
    """Rows before page `page`, clamped as the album's pages do: a huge `p` overflows the database's integer."""
    return (max(1, min(page, 100_000)) - 1) * PER_PAGE


@router.get("/studio")
def create_page(page: Page, session: DbSession, runtime: RuntimeDep, remix: str | None = None) -> Response:
    if (redirect := require_login(page)) is not None:
        return redirect
    scope = Scope.of(page.user)
    mine = service.list_models(session, scope, mine=True, sort="newest", limit=PER_PAGE, offset=0)
    remix_of = service.get_model(session, scope, remix) if remix else None
    return page.render("studio/create.html", tab="create", providers=_providers(runtime),
                       default_provider=runtime.settings.generate3d.provider,
                       llm_available=runtime.ai.chat().available,
                       models=[model_out(session, m, viewer=page.user.id) for m in mine.items], total=mine.total,
                       remix_of=model_out(session, remix_of, viewer=page.user.id) if remix_of else None,
                       system_prompt=service.system_prompt_of(session, page.user.id)
                       or enhance.DEFAULT_SYSTEM_PROMPTS["ko" if page.locale == "ko" else "en"])


@router.get("/studio/gallery")
def gallery_page(page: Page, session: DbSession, runtime: RuntimeDep, sort: str = "newest", q: str = "",
                 p: int = 1) -> Response:
    scope = Scope.of(page.user)
    viewer = page.user.id if page.user else None
    sort = sort if sort in ("newest", "popular", "score") else "newest"
    offset = _offset(p)
    if q.strip():
        found, total = search.gallery_search(session, runtime, scope, q.strip()[:200], limit=PER_PAGE, offset=offset)
    else:
        listed = service.list_models(session, scope, mine=False, sort=sort, limit=PER_PAGE,  # type: ignore[arg-type]
                                     offset=offset)
        found, total = list(listed.items), listed.total
    return page.render("studio/gallery.html", tab="gallery", sort=sort, q=q, total=total, page_no=max(1, p),
                       per_page=PER_PAGE, models=[model_out(session, m, viewer=viewer) for m in found])


def _model_page(page: Page, session: DbSession, model: StudioModel, *, shared: bool = False) -> Response:
    viewer = page.user.id if page.user else None
    mine = households.list_mine(session, user_id=page.user.id) if page.user else []
    out = model_out(session, model, viewer=viewer)
    viewer_src = f"/api/v1/studio/models/{model.id}/download?format=glb&inline=true"
    if shared and model.share_token:
        viewer_src = f"/api/v1/studio/shared/{model.share_token}/glb"
    response = page.render("studio/model.html", tab="gallery", m=out, households=mine, shared=shared,
                           is_owner=viewer is not None and model.owner_id == viewer, viewer_src=viewer_src,
                           bars=score_bars(out.score_probs))
    # meshopt-compressed models decode with WebAssembly: this page's policy allows compiling it, nothing more.
    response.headers["content-security-policy"] = STUDIO_CONTENT_SECURITY_POLICY
    return response


@router.get("/studio/models/{model_id}")
def model_page(model_id: str, page: Page, session: DbSession) -> Response:
    model = service.get_model(session, Scope.of(page.user), model_id)
    return _model_page(page, session, model)


@router.get("/studio/shared/{share_token}")
def shared_page(share_token: str, page: Page, session: DbSession) -> Response:
    return _model_page(page, session, get_shared(session, StudioModel, share_token), shared=True)


def score_bars(probs: list[float] | None) -> list[dict[str, float]]:
    """Bar geometry of the score distribution for a server-drawn SVG (the CSP allows no inline style)."""
    if not probs:
        return []
    top = max(probs) or 1.0
    return [{"x": 4 + i * 22, "h": round(60 * p / top, 1), "y": round(64 - 60 * p / top, 1), "label": i + 1,
             "p": round(100 * p)} for i, p in enumerate(probs)]
