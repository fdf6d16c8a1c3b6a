"""album: photos, albums, tags

Revision ID: a1b0c0de0001
Revises:
Create Date: 2026-12-01 23:56:10.121271
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import boda.core.db

revision: str = 'a1b0c0de0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ('album',)
depends_on: str | Sequence[str] | None = '7d3e9a1b4c60'  # core: schedules (users, files, households)


def upgrade() -> None:
    op.create_table('album_tags',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_album_tags')),
    sa.UniqueConstraint('name', name=op.f('uq_album_tags_name'))
    )
    op.create_table('album_photos',
    sa.Column('file_id', sa.String(length=36), nullable=False),
    sa.Column('blob_key', sa.String(length=128), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('phash', sa.String(length=16), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('mime', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('taken_at', boda.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('camera_make', sa.String(length=128), nullable=True),
    sa.Column('camera_model', sa.String(length=128), nullable=True),
    sa.Column('gps_lat', sa.Float(), nullable=True),
    sa.Column('gps_lon', sa.Float(), nullable=True),
    sa.Column('favorite', sa.Boolean(), nullable=False),
    sa.Column('trashed_at', boda.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('thumbnails', sa.JSON(), nullable=False),
    sa.Column('caption', sa.Text(), nullable=True),
    sa.Column('caption_source', sa.String(length=64), nullable=True),
    sa.Column('ocr_text', sa.Text(), nullable=True),
    sa.Column('faces_count', sa.Integer(), nullable=True),
    sa.Column('index_key', sa.String(length=128), nullable=True),
    sa.Column('indexed_at', boda.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('concepts', sa.JSON(), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('created_at', boda.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('visibility', sa.String(length=16), nullable=False),
    sa.Column('share_token', sa.String(length=43), nullable=True),
    sa.Column('owner_id', sa.String(length=36), nullable=False),
    sa.Column('household_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['file_id'], ['files.id'], name=op.f('fk_album_photos_file_id_files'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_album_photos_household_id_households'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_album_photos_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_album_photos')),
    sa.UniqueConstraint('owner_id', 'sha256', name=op.f('uq_album_photos_owner_id')),
    sa.UniqueConstraint('share_token', name=op.f('uq_album_photos_share_token'))
    )
    with op.batch_alter_table('album_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_album_photos_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_album_photos_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index('ix_album_photos_owner_taken', ['owner_id', 'taken_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_album_photos_phash'), ['phash'], unique=False)
        batch_op.create_index(batch_op.f('ix_album_photos_taken_at'), ['taken_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_album_photos_trashed_at'), ['trashed_at'], unique=False)

    op.create_table('album_albums',
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('cover_photo_id', sa.String(length=36), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('created_at', boda.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('visibility', sa.String(length=16), nullable=False),
    sa.Column('share_token', sa.String(length=43), nullable=True),
    sa.Column('owner_id', sa.String(length=36), nullable=False),
    sa.Column('household_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['cover_photo_id'], ['album_photos.id'], name=op.f('fk_album_albums_cover_photo_id_album_photos'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_album_albums_household_id_households'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_album_albums_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_album_albums')),
    sa.UniqueConstraint('share_token', name=op.f('uq_album_albums_share_token'))
    )
    with op.batch_alter_table('album_albums', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_album_albums_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_album_albums_owner_id'), ['owner_id'], unique=False)

    op.create_table('album_photo_tags',
    sa.Column('photo_id', sa.String(length=36), nullable=False),
    sa.Column('tag_id', sa.String(length=36), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['photo_id'], ['album_photos.id'], name=op.f('fk_album_photo_tags_photo_id_album_photos'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['album_tags.id'], name=op.f('fk_album_photo_tags_tag_id_album_tags'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('photo_id', 'tag_id', name=op.f('pk_album_photo_tags'))
    )
    with op.batch_alter_table('album_photo_tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_album_photo_tags_tag_id'), ['tag_id'], unique=False)

    op.create_table('album_album_photos',
    sa.Column('album_id', sa.String(length=36), nullable=False),
    sa.Column('photo_id', sa.String(length=36), nullable=False),
    sa.Column('added_by', sa.String(length=36), nullable=True),
    sa.Column('added_at', boda.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['added_by'], ['users.id'], name=op.f('fk_album_album_photos_added_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['album_id'], ['album_albums.id'], name=op.f('fk_album_album_photos_album_id_album_albums'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['photo_id'], ['album_photos.id'], name=op.f('fk_album_album_photos_photo_id_album_photos'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('album_id', 'photo_id', name=op.f('pk_album_album_photos'))
    )
    with op.batch_alter_table('album_album_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_album_album_photos_photo_id'), ['photo_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('album_album_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_album_album_photos_photo_id'))

    op.drop_table('album_album_photos')
    with op.batch_alter_table('album_photo_tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_album_photo_tags_tag_id'))

    op.drop_table('album_photo_tags')
    with op.batch_alter_table('album_albums', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_album_albums_owner_id'))
        batch_op.drop_index(batch_op.f('ix_album_albums_household_id'))

    op.drop_table('album_albums')
    with op.batch_alter_table('album_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_album_photos_trashed_at'))
        batch_op.drop_index(batch_op.f('ix_album_photos_taken_at'))
        batch_op.drop_index(batch_op.f('ix_album_photos_phash'))
        batch_op.drop_index('ix_album_photos_owner_taken')
        batch_op.drop_index(batch_op.f('ix_album_photos_owner_id'))
        batch_op.drop_index(batch_op.f('ix_album_photos_household_id'))

    op.drop_table('album_photos')
    op.drop_table('album_tags')
