"""login failures, counted by every process

Revision ID: 5a1c0e7d9b42
Revises: 5c0a1d2e7b31
Create Date: 2026-12-01 21:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import boda.core.db

revision: str = '5a1c0e7d9b42'
down_revision: str | None = '5c0a1d2e7b31'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('login_failures',
    sa.Column('scope', sa.String(length=8), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('at', boda.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failures'))
    )
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_failures_at'), ['at'], unique=False)
        batch_op.create_index('ix_login_failures_scope_key_at', ['scope', 'key', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_login_failures_scope_key_at')
        batch_op.drop_index(batch_op.f('ix_login_failures_at'))
    op.drop_table('login_failures')
