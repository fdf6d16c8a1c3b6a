"""household invitations, and files shared with a household

Revision ID: 5c0a1d2e7b31
Revises: fc2379755e77
Create Date: 2026-12-01 20:41:47.808927
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import boda.core.db

revision: str = '5c0a1d2e7b31'
down_revision: str | None = 'fc2379755e77'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('household_invites',
    sa.Column('household_id', sa.String(length=36), nullable=False),
    sa.Column('inviter_id', sa.String(length=36), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', boda.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('max_uses', sa.Integer(), nullable=False),
    sa.Column('uses', sa.Integer(), nullable=False),
    sa.Column('declined_at', boda.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('created_at', boda.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_household_invites_household_id_households'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['inviter_id'], ['users.id'], name=op.f('fk_household_invites_inviter_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household_invites')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_household_invites_code_hash'))
    )
    with op.batch_alter_table('household_invites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_household_invites_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_household_invites_inviter_id'), ['inviter_id'], unique=False)

    with op.batch_alter_table('files', schema=None) as batch_op:
        batch_op.add_column(sa.Column('household_id', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_files_household_id'), ['household_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_files_household_id_households'), 'households', ['household_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('files', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_files_household_id_households'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_files_household_id'))
        batch_op.drop_column('household_id')

    with op.batch_alter_table('household_invites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_household_invites_inviter_id'))
        batch_op.drop_index(batch_op.f('ix_household_invites_household_id'))

    op.drop_table('household_invites')
