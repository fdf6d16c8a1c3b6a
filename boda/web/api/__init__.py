"""The core API under /api/v1, one module per resource; apps add their own routers."""

from __future__ import annotations

from fastapi import APIRouter

from boda.web.api import auth, files, health, households, jobs, users

router = APIRouter(prefix="/api/v1")
for _module in (auth, users, households, files, jobs):
    router.include_router(_module.router)

health_router = health.router

__all__ = ["health_router", "router"]
