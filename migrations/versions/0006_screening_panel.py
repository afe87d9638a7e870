"""screening panel: standardization, filters, similarity, ADMET, activity, duplicates; depictions; exports

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    with op.batch_alter_table('screening_results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inchikey', sa.String(length=27), nullable=True))
        batch_op.add_column(sa.Column('standardization', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('heavy_atoms', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('passes_filters', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('alert_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('alerts', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('similarity', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('nearest_reference', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('activity', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('activity_std', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('admet', _JSON, nullable=True))
        batch_op.add_column(sa.Column('activity_tasks', _JSON, nullable=True))
        batch_op.add_column(sa.Column('properties', _JSON, nullable=True))
        batch_op.add_column(sa.Column('duplicate_of', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('same_structure_as', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('provenance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('components', _JSON, nullable=True))
    op.create_table(
        'screening_depictions',
        sa.Column('job_id', sa.Uuid(), nullable=False),
        sa.Column('item_index', sa.BigInteger(), nullable=False),
        sa.Column('svg', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ['job_id'], ['jobs.id'], name=op.f('fk_screening_depictions_job_id_jobs'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('job_id', 'item_index', name=op.f('pk_screening_depictions')),
    )
    op.create_table(
        'screening_exports',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('job_id', sa.Uuid(), nullable=False),
        sa.Column('format', sa.String(length=16), nullable=False),
        sa.Column('options', _JSON, nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('records', sa.BigInteger(), nullable=True),
        sa.Column('sha256', sa.String(length=64), nullable=True),
        sa.Column('size_bytes', sa.BigInteger(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['job_id'], ['jobs.id'], name=op.f('fk_screening_exports_job_id_jobs'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_screening_exports')),
    )
    with op.batch_alter_table('screening_exports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_screening_exports_job_id'), ['job_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('screening_exports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_screening_exports_job_id'))
    op.drop_table('screening_exports')
    op.drop_table('screening_depictions')
    with op.batch_alter_table('provenance', schema=None) as batch_op:
        batch_op.drop_column('components')
    with op.batch_alter_table('screening_results', schema=None) as batch_op:
        for name in (
            'same_structure_as', 'duplicate_of', 'properties', 'activity_tasks', 'admet', 'activity_std',
            'activity', 'nearest_reference', 'similarity', 'alerts', 'alert_count', 'passes_filters',
            'heavy_atoms', 'standardization', 'inchikey',
        ):
            batch_op.drop_column(name)
