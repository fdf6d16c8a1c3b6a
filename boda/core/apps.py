"""The app spec: each app declares itself once, and the core loops over the specs.

An app is a package `boda/apps/<key>` whose `__init__.py` exports `spec = AppSpec(...)`.
Its modules are named by dotted path, not imported, so that reading the specs
(for `boda --help`, settings or migrations) loads no model runtime. Folders
follow a convention inside the package: `templates/`, `static/` (served at
`/static/<key>/`), `locales/{en,ko}.json` and `migrations/` (an Alembic branch
labelled with the key, on top of the core's).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

INSTALLED = ("vision", "album", "pantry", "studio")
"""The apps this Boda runs, in the order of the home page."""


@dataclass(frozen=True)
class AppSpec:
    key: str
    icon: str = ""
    """Inner SVG markup (24×24 viewBox, stroked) for the home card and navigation."""
    href: str | None = None
    """Its start page; None for an app without pages."""
    routes: str | None = None
    """`module:attribute` of its API router."""
    pages: str | None = None
    """`module:attribute` of its page router."""
    cli: str | None = None
    """`module:attribute` of its Typer app, mounted as `boda <key>`."""
    jobs: str | None = None
    """Module that registers its jobs (imported by every process that runs jobs)."""
    models: str | None = None
    """Module with its SQLAlchemy models (imported before migrations and queries)."""
    openapi: str | None = None
    """`module:function(schema, settings)` that narrows its part of the OpenAPI document to this server."""
    settings: type[BaseModel] | None = None
    """Its settings group: `BODA_<KEY>__...` and `[<key>]` in boda.toml."""
    periodic: str | None = None
    """`module:function(settings) -> list[core.jobs.Periodic]`: its periodic work (e.g. a purge), run by
    every worker process's maintenance loop on the fleet's one schedule."""

    @property
    def package(self) -> str:
        return f"boda.apps.{self.key}"

    @property
    def folder(self) -> Path:
        return Path(importlib.import_module(self.package).__file__ or "").parent

    def _existing(self, name: str) -> Path | None:
        path = self.folder / name
        return path if path.exists() else None

    @property
    def templates_dir(self) -> Path | None:
        return self._existing("templates")

    @property
    def static_dir(self) -> Path | None:
        return self._existing("static")

    @property
    def locales_dir(self) -> Path | None:
        return self._existing("locales")

    @property
    def migrations_dir(self) -> Path | None:
        return self._existing("migrations")


def load(target: str) -> Any:
    """Import `module:attribute` (or a module)."""
    module, _, attribute = target.partition(":")
    loaded = importlib.import_module(module)
    return getattr(loaded, attribute) if attribute else loaded


@cache
def specs() -> tuple[AppSpec, ...]:
    found = []
    for key in INSTALLED:
        spec = importlib.import_module(f"boda.apps.{key}").spec
        if spec.key != key:
            raise RuntimeError(f"boda.apps.{key} declares key {spec.key!r}")
        found.append(spec)
    return tuple(found)


def load_models() -> None:
    """Import every model module so that metadata (and Alembic) sees all tables."""
    import boda.core.models  # noqa: F401

    for spec in specs():
        if spec.models:
            load(spec.models)


def load_jobs() -> None:
    """Import every app's job functions so a worker can run any kind."""
    import boda.core.selftest  # noqa: F401

    for spec in specs():
        if spec.jobs:
            load(spec.jobs)
