"""vision: anonymised photos may be shared with a household

Revision ID: 9e4b7f3a2c10
Revises: 5e1c0a7d0001
Create Date: 2026-12-01 20:45:00.000000

Vision's own step, kept apart so it can move to Vision's migration branch.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '9e4b7f3a2c10'
down_revision: str | None = '5e1c0a7d0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = '5c0a1d2e7b31'  # core: households


def upgrade() -> None:
    with op.batch_alter_table('vision_anonymizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('household_id', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_vision_anonymizations_household_id'), ['household_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_vision_anonymizations_household_id_households'), 'households', ['household_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('vision_anonymizations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_vision_anonymizations_household_id_households'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_vision_anonymizations_household_id'))
        batch_op.drop_column('household_id')
