"""job titles and messages as catalogue keys and values

Revision ID: 7e2b4c9a1d05
Revises: 5a1c0e7d9b42
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '7e2b4c9a1d05'
down_revision: str | None = '5a1c0e7d9b42'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title_key', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('title_args', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('message_key', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('message_args', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('message_args')
        batch_op.drop_column('message_key')
        batch_op.drop_column('title_args')
        batch_op.drop_column('title_key')
