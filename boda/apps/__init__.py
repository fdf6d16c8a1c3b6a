"""The apps: vertical slices on the core. They import core and ai, never each other."""

from __future__ import annotations

import importlib

APPS = ("vision",)


def load_models() -> None:
    """Import every app's models so that metadata (and Alembic) sees all tables."""
    import boda.core.models  # noqa: F401

    for app in APPS:
        importlib.import_module(f"boda.apps.{app}.models")


def load_jobs() -> None:
    """Import every app's job functions so a worker can run any kind."""
    import boda.core.selftest  # noqa: F401

    for app in APPS:
        importlib.import_module(f"boda.apps.{app}.jobs")
