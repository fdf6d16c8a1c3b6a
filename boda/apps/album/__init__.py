"""Album: a private photo library with albums, tags, trash and household sharing."""

from boda.apps.album.settings import AlbumSettings
from boda.core.apps import AppSpec

spec = AppSpec(
    key="album",
    icon='<rect x="3" y="4" width="18" height="16" rx="2"/><circle cx="9" cy="10" r="2"/>'
         '<path d="M21 17l-5-5-8 8"/>',
    href="/album",
    routes="boda.apps.album.routes:router",
    pages="boda.apps.album.pages:router",
    cli="boda.apps.album.cli:cli",
    jobs="boda.apps.album.jobs",
    models="boda.apps.album.models",
    periodic="boda.apps.album.jobs:periodic",
    settings=AlbumSettings,
)
