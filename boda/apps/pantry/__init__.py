"""Pantry: what is in the fridge, where it keeps and until when; use it before it spoils."""

from boda.apps.pantry.settings import PantrySettings
from boda.core.apps import AppSpec

spec = AppSpec(
    key="pantry",
    icon='<rect x="5" y="2" width="14" height="20" rx="2"/><path d="M5 10h14M9 6v2M9 13v3"/>',
    href="/pantry",
    routes="boda.apps.pantry.routes:router",
    pages="boda.apps.pantry.pages:router",
    cli="boda.apps.pantry.cli:cli",
    jobs="boda.apps.pantry.jobs",
    periodic="boda.apps.pantry.jobs:periodic",
    models="boda.apps.pantry.models",
    settings=PantrySettings,
)
