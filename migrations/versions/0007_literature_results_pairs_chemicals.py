"""literature results, pairs, chemicals

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 19:13:27.328798
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('literature_chemicals',
    sa.Column('job_id', sa.Uuid(), nullable=False),
    sa.Column('concept_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('smiles', sa.Text(), nullable=True),
    sa.Column('documents', sa.Integer(), nullable=False),
    sa.Column('mentions', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_literature_chemicals_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_id', 'concept_id', name=op.f('pk_literature_chemicals'))
    )
    op.create_table('literature_pairs',
    sa.Column('job_id', sa.Uuid(), nullable=False),
    sa.Column('chemical_id', sa.String(length=255), nullable=False),
    sa.Column('disease_id', sa.String(length=255), nullable=False),
    sa.Column('chemical_name', sa.Text(), nullable=False),
    sa.Column('disease_name', sa.Text(), nullable=False),
    sa.Column('documents', sa.Integer(), nullable=False),
    sa.Column('max_score', sa.Float(), nullable=False),
    sa.Column('mean_score', sa.Float(), nullable=False),
    sa.Column('doc_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_literature_pairs_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_id', 'chemical_id', 'disease_id', name=op.f('pk_literature_pairs'))
    )
    with op.batch_alter_table('literature_pairs', schema=None) as batch_op:
        batch_op.create_index('ix_literature_pairs_job_docs', ['job_id', 'documents'], unique=False)

    op.create_table('literature_results',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('job_id', sa.Uuid(), nullable=False),
    sa.Column('shard_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('item_index', sa.BigInteger(), nullable=False),
    sa.Column('item_key', sa.String(length=255), nullable=True),
    sa.Column('doc_id', sa.String(length=255), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('journal', sa.Text(), nullable=True),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('text_sha256', sa.String(length=64), nullable=False),
    sa.Column('n_chars', sa.Integer(), nullable=False),
    sa.Column('n_sentences', sa.Integer(), nullable=False),
    sa.Column('chunked', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('chemical_count', sa.Integer(), nullable=False),
    sa.Column('disease_count', sa.Integer(), nullable=False),
    sa.Column('gene_count', sa.Integer(), nullable=False),
    sa.Column('relation_count', sa.Integer(), nullable=False),
    sa.Column('unmatched_count', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('passages', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('entities', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('relations', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_literature_results_job_id_jobs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shard_id'], ['shards.id'], name=op.f('fk_literature_results_shard_id_shards'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_literature_results')),
    sa.UniqueConstraint('job_id', 'item_index', name=op.f('uq_literature_results_job_id_item_index'))
    )
    with op.batch_alter_table('literature_results', schema=None) as batch_op:
        batch_op.create_index('ix_literature_results_job_score', ['job_id', 'score', 'item_index'], unique=False)
        batch_op.create_index('ix_literature_results_job_doc', ['job_id', 'doc_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_literature_results_shard_id'), ['shard_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('literature_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_literature_results_shard_id'))
        batch_op.drop_index('ix_literature_results_job_score')
        batch_op.drop_index('ix_literature_results_job_doc')

    op.drop_table('literature_results')
    with op.batch_alter_table('literature_pairs', schema=None) as batch_op:
        batch_op.drop_index('ix_literature_pairs_job_docs')

    op.drop_table('literature_pairs')
    op.drop_table('literature_chemicals')
