"""album: people and faces, hide faces when sharing

Revision ID: a1b0c0de0002
Revises: a1b0c0de0001
Create Date: 2026-12-02 00:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import boda.core.db

revision: str = 'a1b0c0de0002'
down_revision: str | None = 'a1b0c0de0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('album_people',
    sa.Column('owner_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=True),
    sa.Column('centroid', sa.LargeBinary(), nullable=False),
    sa.Column('cover_face_id', sa.String(length=36), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('created_at', boda.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_album_people_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_album_people'))
    )
    with op.batch_alter_table('album_people', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_album_people_owner_id'), ['owner_id'], unique=False)

    op.create_table('album_faces',
    sa.Column('photo_id', sa.String(length=36), nullable=False),
    sa.Column('owner_id', sa.String(length=36), nullable=False),
    sa.Column('person_id', sa.String(length=36), nullable=True),
    sa.Column('x', sa.Integer(), nullable=False),
    sa.Column('y', sa.Integer(), nullable=False),
    sa.Column('w', sa.Integer(), nullable=False),
    sa.Column('h', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('embedder', sa.String(length=64), nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_album_faces_owner_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['album_people.id'], name=op.f('fk_album_faces_person_id_album_people'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['photo_id'], ['album_photos.id'], name=op.f('fk_album_faces_photo_id_album_photos'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_album_faces'))
    )
    with op.batch_alter_table('album_faces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_album_faces_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_album_faces_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_album_faces_photo_id'), ['photo_id'], unique=False)

    with op.batch_alter_table('album_photos', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hide_faces', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('album_albums', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hide_faces', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('album_albums', schema=None) as batch_op:
        batch_op.drop_column('hide_faces')
    with op.batch_alter_table('album_photos', schema=None) as batch_op:
        batch_op.drop_column('hide_faces')
    with op.batch_alter_table('album_faces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_album_faces_photo_id'))
        batch_op.drop_index(batch_op.f('ix_album_faces_person_id'))
        batch_op.drop_index(batch_op.f('ix_album_faces_owner_id'))

    op.drop_table('album_faces')
    with op.batch_alter_table('album_people', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_album_people_owner_id'))

    op.drop_table('album_people')
