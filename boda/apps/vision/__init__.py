"""Vision tools: digit reading, MNIST samples and face anonymisation."""

from boda.apps.vision.settings import VisionSettings
from boda.core.apps import AppSpec

spec = AppSpec(
    key="vision",
    icon='<path d="M2 12s3.6-7 10-7 10 7 10 7-3.6 7-10 7S2 12 2 12z"/><circle cx="12" cy="12" r="3"/>',
    href="/vision",
    routes="boda.apps.vision.routes:router",
    pages="boda.apps.vision.pages:router",
    cli="boda.apps.vision.cli:cli",
    jobs="boda.apps.vision.jobs",
    models="boda.apps.vision.models",
    openapi="boda.apps.vision.routes:document",
    settings=VisionSettings,
)
