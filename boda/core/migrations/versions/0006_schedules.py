"""one schedule for periodic work, shared by every worker

Revision ID: 7d3e9a1b4c60
Revises: 7e2b4c9a1d05
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import boda.core.db

revision: str = '7d3e9a1b4c60'
down_revision: str | None = '7e2b4c9a1d05'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('schedules',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('next_run_at', boda.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_schedules'))
    )


def downgrade() -> None:
    op.drop_table('schedules')
