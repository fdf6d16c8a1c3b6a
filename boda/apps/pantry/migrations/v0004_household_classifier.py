"""pantry: the household's own classifier, its examples and trained versions

Revision ID: d1f6b3c4a504
Revises: c9e5a2b3f403
Create Date: 2026-12-02 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import boda.core.db

revision: str = 'd1f6b3c4a504'
down_revision: str | None = 'c9e5a2b3f403'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('pantry_examples',
    sa.Column('household_id', sa.String(length=36), nullable=False),
    sa.Column('label', sa.String(length=128), nullable=False),
    sa.Column('embedder', sa.String(length=64), nullable=False),
    sa.Column('embedding', sa.LargeBinary(), nullable=False),
    sa.Column('file_id', sa.String(length=36), nullable=True),
    sa.Column('recognition_id', sa.String(length=36), nullable=True),
    sa.Column('box', sa.JSON(), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('created_at', boda.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_pantry_examples_household_id_households'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pantry_examples'))
    )
    with op.batch_alter_table('pantry_examples', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pantry_examples_household_id'), ['household_id'], unique=False)

    op.create_table('pantry_classifiers',
    sa.Column('household_id', sa.String(length=36), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('embedder', sa.String(length=64), nullable=False),
    sa.Column('head', sa.JSON(), nullable=False),
    sa.Column('prototypes', sa.JSON(), nullable=False),
    sa.Column('accuracy', sa.Float(), nullable=False),
    sa.Column('folds', sa.Integer(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('examples', sa.Integer(), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('created_at', boda.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_pantry_classifiers_household_id_households'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pantry_classifiers')),
    sa.UniqueConstraint('household_id', 'version', name=op.f('uq_pantry_classifiers_household_id'))
    )
    with op.batch_alter_table('pantry_classifiers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pantry_classifiers_household_id'), ['household_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pantry_classifiers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pantry_classifiers_household_id'))
    op.drop_table('pantry_classifiers')
    with op.batch_alter_table('pantry_examples', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pantry_examples_household_id'))
    op.drop_table('pantry_examples')
