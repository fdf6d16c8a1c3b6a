"""3D Studio: make 3D models from a sentence, see them, score them and share them."""

from boda.apps.studio.settings import StudioSettings
from boda.core.apps import AppSpec

spec = AppSpec(
    key="studio",
    icon='<path d="M12 2l9 5v10l-9 5-9-5V7z"/><path d="M12 22V12M21 7l-9 5-9-5"/>',
    href="/studio",
    routes="boda.apps.studio.routes:router",
    pages="boda.apps.studio.pages:router",
    cli="boda.apps.studio.cli:cli",
    jobs="boda.apps.studio.jobs",
    models="boda.apps.studio.models",
    settings=StudioSettings,
)
