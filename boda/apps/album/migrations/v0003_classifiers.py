"""album: users' own classifiers, their labelled photos and trained versions

Revision ID: a1b0c0de0003
Revises: a1b0c0de0002
Create Date: 2026-12-02 00:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import boda.core.db

revision: str = 'a1b0c0de0003'
down_revision: str | None = 'a1b0c0de0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('album_classifiers',
    sa.Column('owner_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('classes', sa.JSON(), nullable=False),
    sa.Column('active_version_id', sa.String(length=36), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('created_at', boda.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_album_classifiers_owner_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_album_classifiers'))
    )
    with op.batch_alter_table('album_classifiers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_album_classifiers_owner_id'), ['owner_id'], unique=False)

    op.create_table('album_classifier_examples',
    sa.Column('classifier_id', sa.String(length=36), nullable=False),
    sa.Column('photo_id', sa.String(length=36), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['classifier_id'], ['album_classifiers.id'],
                            name=op.f('fk_album_classifier_examples_classifier_id_album_classifiers'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['photo_id'], ['album_photos.id'],
                            name=op.f('fk_album_classifier_examples_photo_id_album_photos'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('classifier_id', 'photo_id', name=op.f('pk_album_classifier_examples'))
    )
    with op.batch_alter_table('album_classifier_examples', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_album_classifier_examples_photo_id'), ['photo_id'], unique=False)

    op.create_table('album_classifier_versions',
    sa.Column('classifier_id', sa.String(length=36), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('head', sa.JSON(), nullable=False),
    sa.Column('embedder_key', sa.String(length=128), nullable=False),
    sa.Column('accuracy', sa.Float(), nullable=False),
    sa.Column('folds', sa.Integer(), nullable=False),
    sa.Column('confusion', sa.JSON(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('created_at', boda.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['classifier_id'], ['album_classifiers.id'],
                            name=op.f('fk_album_classifier_versions_classifier_id_album_classifiers'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_album_classifier_versions')),
    sa.UniqueConstraint('classifier_id', 'number', name=op.f('uq_album_classifier_versions_classifier_id'))
    )
    with op.batch_alter_table('album_classifier_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_album_classifier_versions_classifier_id'), ['classifier_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('album_classifier_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_album_classifier_versions_classifier_id'))
    op.drop_table('album_classifier_versions')
    with op.batch_alter_table('album_classifier_examples', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_album_classifier_examples_photo_id'))
    op.drop_table('album_classifier_examples')
    with op.batch_alter_table('album_classifiers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_album_classifiers_owner_id'))
    op.drop_table('album_classifiers')
