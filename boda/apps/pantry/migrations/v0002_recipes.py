"""pantry: recipes and the shopping list

Revision ID: b8d4f1a2e302
Revises: a7c3e0f1d201
Create Date: 2026-12-02 01:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import boda.core.db

revision: str = 'b8d4f1a2e302'
down_revision: str | None = 'a7c3e0f1d201'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('pantry_recipes',
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('ingredients', sa.JSON(), nullable=False),
    sa.Column('steps', sa.JSON(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('photo_file_id', sa.String(length=36), nullable=True),
    sa.Column('source_url', sa.String(length=2000), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('yields', sa.String(length=64), nullable=True),
    sa.Column('total_minutes', sa.Integer(), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('created_at', boda.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('visibility', sa.String(length=16), nullable=False),
    sa.Column('share_token', sa.String(length=43), nullable=True),
    sa.Column('owner_id', sa.String(length=36), nullable=False),
    sa.Column('household_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_pantry_recipes_household_id_households'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_pantry_recipes_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pantry_recipes')),
    sa.UniqueConstraint('share_token', name=op.f('uq_pantry_recipes_share_token'))
    )
    with op.batch_alter_table('pantry_recipes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pantry_recipes_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pantry_recipes_owner_id'), ['owner_id'], unique=False)

    op.create_table('pantry_shopping',
    sa.Column('household_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('quantity', sa.Float(), nullable=True),
    sa.Column('unit', sa.String(length=16), nullable=False),
    sa.Column('done', sa.Boolean(), nullable=False),
    sa.Column('recipe_id', sa.String(length=36), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('created_at', boda.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_pantry_shopping_household_id_households'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recipe_id'], ['pantry_recipes.id'], name=op.f('fk_pantry_shopping_recipe_id_pantry_recipes'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pantry_shopping'))
    )
    with op.batch_alter_table('pantry_shopping', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pantry_shopping_household_id'), ['household_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pantry_shopping', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pantry_shopping_household_id'))
    op.drop_table('pantry_shopping')
    with op.batch_alter_table('pantry_recipes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pantry_recipes_owner_id'))
        batch_op.drop_index(batch_op.f('ix_pantry_recipes_household_id'))
    op.drop_table('pantry_recipes')
