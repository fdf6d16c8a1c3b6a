"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import func, select

from boda.core.models import StoredFile
from boda.web.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Say that the process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "A check failed; the body says which"}})
def readyz(runtime: RuntimeDep, response: Response) -> dict[str, object]:
    """Say whether the database, the blob store and the job queue answer."""
    checks: dict[str, str] = {}
    try:
        with runtime.db.session() as session:
            session.scalar(select(func.count()).select_from(StoredFile).limit(1))
        checks["database"] = "ok"
    except Exception as exc:  # readiness reports, it does not raise
        checks["database"] = f"error: {exc}"
    try:
        runtime.store.check()
        checks["storage"] = "ok"
    except Exception as exc:
        checks["storage"] = f"error: {exc}"
    try:
        runtime.queue.check()
        checks["queue"] = "ok"
    except Exception as exc:
        checks["queue"] = f"error: {exc}"
    ready = all(v == "ok" for v in checks.values())
    response.status_code = 200 if ready else 503
    return {"status": "ok" if ready else "unavailable", "checks": checks}
