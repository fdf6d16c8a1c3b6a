"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from sqlalchemy import func, select

from boda.core.models import StoredFile
from boda.core.runtime import Runtime
from boda.web.deps import RuntimeDep

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Say that the process is up."""
    return {"status": "ok"}


def _database(runtime: Runtime) -> None:
    with runtime.db.session() as session:
        session.scalar(select(func.count()).select_from(StoredFile).limit(1))


@router.get("/readyz", responses={503: {"description": "A check failed; the body says which"}})
def readyz(runtime: RuntimeDep, response: Response) -> dict[str, object]:
    """Say whether the database, the blob store and the job queue answer."""
    checks: dict[str, str] = {}
    for name, check in (("database", lambda: _database(runtime)), ("storage", runtime.store.check),
                        ("queue", runtime.queue.check)):
        try:
            check()
            checks[name] = "ok"
        except Exception as exc:  # readiness reports, it does not raise
            # Anyone may ask: the kind of failure only; hosts, ports and paths in the text go to the log.
            log.warning("readiness: %s failed: %s", name, exc)
            checks[name] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    response.status_code = 200 if ready else 503
    return {"status": "ok" if ready else "unavailable", "checks": checks}
