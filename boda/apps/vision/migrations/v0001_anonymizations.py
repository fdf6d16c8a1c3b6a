"""vision: anonymised photos

Revision ID: 5e1c0a7d0001
Revises:
Create Date: 2026-12-01 21:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import boda.core.db

revision: str = '5e1c0a7d0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ('vision',)
depends_on: str | Sequence[str] | None = 'be5d33cd7f20'  # core: users, files, jobs
# Boda 0.1 made this table in its one linear history: such databases keep it (boda.core.migrate).
adopt_from_linear_history = ('vision_anonymizations',)


def upgrade() -> None:
    op.create_table('vision_anonymizations',
    sa.Column('original_id', sa.String(length=36), nullable=False),
    sa.Column('anonymized_id', sa.String(length=36), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('detector', sa.String(length=16), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('strength', sa.Float(), nullable=False),
    sa.Column('faces', sa.JSON(), nullable=False),
    sa.Column('job_id', sa.String(length=36), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('created_at', boda.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('visibility', sa.String(length=16), nullable=False),
    sa.Column('share_token', sa.String(length=43), nullable=True),
    sa.Column('owner_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['anonymized_id'], ['files.id'], name=op.f('fk_vision_anonymizations_anonymized_id_files'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_vision_anonymizations_job_id_jobs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['original_id'], ['files.id'], name=op.f('fk_vision_anonymizations_original_id_files'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_vision_anonymizations_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vision_anonymizations')),
    sa.UniqueConstraint('share_token', name=op.f('uq_vision_anonymizations_share_token')),
    sa.UniqueConstraint('job_id', 'original_id', name=op.f('uq_vision_anonymizations_job_id'))
    )
    with op.batch_alter_table('vision_anonymizations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vision_anonymizations_owner_id'), ['owner_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('vision_anonymizations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vision_anonymizations_owner_id'))
    op.drop_table('vision_anonymizations')
