"""album: the library index (who may see a photo, in the library's order; on SQLite its words too), the trash's

Revision ID: a1b0c0de0004
Revises: a1b0c0de0003
Create Date: 2026-12-03 12:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'a1b0c0de0004'
down_revision: str | None = 'a1b0c0de0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIBRARY = ["taken_at", "id", "trashed_at", "owner_id", "visibility", "household_id", "index_key", "favorite"]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.create_index("ix_album_photos_library_words", "album_photos", LIBRARY + ["ocr_text", "caption"])
    else:
        op.create_index("ix_album_photos_library", "album_photos", LIBRARY)
    op.drop_index("ix_album_photos_trashed_at", table_name="album_photos")
    trashed = sa.text("trashed_at IS NOT NULL")
    op.create_index("ix_album_photos_trash", "album_photos", ["owner_id", "taken_at", "id"], sqlite_where=trashed,
                    postgresql_where=trashed)


def downgrade() -> None:
    op.drop_index("ix_album_photos_trash", table_name="album_photos")
    op.create_index("ix_album_photos_trashed_at", "album_photos", ["trashed_at"])
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_album_photos_library_words", table_name="album_photos")
    else:
        op.drop_index("ix_album_photos_library", table_name="album_photos")
