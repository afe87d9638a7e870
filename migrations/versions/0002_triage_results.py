"""triage results

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:27:05.577520
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op



revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('triage_results',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('job_id', sa.Uuid(), nullable=False),
    sa.Column('shard_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('item_index', sa.BigInteger(), nullable=False),
    sa.Column('item_key', sa.String(length=255), nullable=True),
    sa.Column('study_uid', sa.String(length=64), nullable=False),
    sa.Column('series_uid', sa.String(length=64), nullable=False),
    sa.Column('instance_uid', sa.String(length=64), nullable=False),
    sa.Column('patient_pseudonym', sa.String(length=64), nullable=False),
    sa.Column('modality', sa.String(length=16), nullable=True),
    sa.Column('body_part', sa.String(length=64), nullable=True),
    sa.Column('view_position', sa.String(length=16), nullable=True),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('cols', sa.Integer(), nullable=False),
    sa.Column('frames', sa.Integer(), nullable=False),
    sa.Column('model_name', sa.String(length=64), nullable=True),
    sa.Column('probability', sa.Float(), nullable=True),
    sa.Column('priority', sa.String(length=16), nullable=False),
    sa.Column('priority_rank', sa.SmallInteger(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('quality_flags', sa.Text(), nullable=False),
    sa.Column('reasons', sa.Text(), nullable=False),
    sa.Column('thumbnail_png', sa.LargeBinary(), nullable=True),
    sa.Column('saliency_png', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_triage_results_job_id_jobs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shard_id'], ['shards.id'], name=op.f('fk_triage_results_shard_id_shards'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_triage_results')),
    sa.UniqueConstraint('job_id', 'item_index', name=op.f('uq_triage_results_job_id_item_index'))
    )
    with op.batch_alter_table('triage_results', schema=None) as batch_op:
        batch_op.create_index('ix_triage_results_job_score', ['job_id', 'score', 'item_index'], unique=False)
        batch_op.create_index('ix_triage_results_job_study', ['job_id', 'study_uid', 'series_uid'], unique=False)
        batch_op.create_index(batch_op.f('ix_triage_results_shard_id'), ['shard_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('triage_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_triage_results_shard_id'))
        batch_op.drop_index('ix_triage_results_job_study')
        batch_op.drop_index('ix_triage_results_job_score')

    op.drop_table('triage_results')
