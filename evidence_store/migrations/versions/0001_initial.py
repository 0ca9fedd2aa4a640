"""initial catalog: cases, objects, exhibits, derivatives, analysis results, custody events

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 08:04:18.908797
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('officer_in_charge', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('retention_class', sa.String(length=50), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('reference')
    )
    op.create_table('custody_events',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('recorded_at', sa.String(length=40), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=50), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('case_ref', sa.String(length=100), nullable=True),
    sa.Column('exhibit_id', sa.Integer(), nullable=True),
    sa.Column('object_sha256', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('key_id', sa.String(length=40), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('entry_hash')
    )
    with op.batch_alter_table('custody_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_custody_events_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_custody_events_case_ref'), ['case_ref'], unique=False)
        batch_op.create_index(batch_op.f('ix_custody_events_exhibit_id'), ['exhibit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_custody_events_object_sha256'), ['object_sha256'], unique=False)

    op.create_table('objects',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('md5', sa.String(length=32), nullable=False),
    sa.Column('sha1', sa.String(length=40), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('envelope', sa.JSON(), nullable=False),
    sa.Column('store_key', sa.String(length=200), nullable=False),
    sa.Column('stored_at', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('sha256')
    )
    with op.batch_alter_table('objects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_objects_md5'), ['md5'], unique=False)
        batch_op.create_index(batch_op.f('ix_objects_sha1'), ['sha1'], unique=False)

    op.create_table('exhibits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('producer', sa.String(length=200), nullable=False),
    sa.Column('seized_from', sa.String(length=300), nullable=True),
    sa.Column('seized_at', sa.String(length=40), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('original_sha256', sa.String(length=64), nullable=False),
    sa.Column('source_name', sa.String(length=500), nullable=False),
    sa.Column('source_path', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('received_at', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['original_sha256'], ['objects.sha256'], ),
    sa.ForeignKeyConstraint(['parent_id'], ['exhibits.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'reference', name='uq_exhibit_case_reference')
    )
    with op.batch_alter_table('exhibits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exhibits_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_exhibits_original_sha256'), ['original_sha256'], unique=False)

    op.create_table('analysis_results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('exhibit_id', sa.Integer(), nullable=False),
    sa.Column('table_name', sa.String(length=100), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('rows', sa.BigInteger(), nullable=False),
    sa.Column('tool', sa.String(length=100), nullable=False),
    sa.Column('tool_version', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['exhibit_id'], ['exhibits.id'], ),
    sa.ForeignKeyConstraint(['sha256'], ['objects.sha256'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('analysis_results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_analysis_results_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_analysis_results_exhibit_id'), ['exhibit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_analysis_results_table_name'), ['table_name'], unique=False)

    op.create_table('derivatives',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('exhibit_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=50), nullable=False),
    sa.Column('source_sha256', sa.String(length=64), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('tool', sa.String(length=100), nullable=False),
    sa.Column('tool_version', sa.String(length=100), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('run_id', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['exhibit_id'], ['exhibits.id'], ),
    sa.ForeignKeyConstraint(['sha256'], ['objects.sha256'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('derivatives', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_derivatives_exhibit_id'), ['exhibit_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('derivatives', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_derivatives_exhibit_id'))

    op.drop_table('derivatives')
    with op.batch_alter_table('analysis_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_analysis_results_table_name'))
        batch_op.drop_index(batch_op.f('ix_analysis_results_exhibit_id'))
        batch_op.drop_index(batch_op.f('ix_analysis_results_case_id'))

    op.drop_table('analysis_results')
    with op.batch_alter_table('exhibits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exhibits_original_sha256'))
        batch_op.drop_index(batch_op.f('ix_exhibits_case_id'))

    op.drop_table('exhibits')
    with op.batch_alter_table('objects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_objects_sha1'))
        batch_op.drop_index(batch_op.f('ix_objects_md5'))

    op.drop_table('objects')
    with op.batch_alter_table('custody_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_custody_events_object_sha256'))
        batch_op.drop_index(batch_op.f('ix_custody_events_exhibit_id'))
        batch_op.drop_index(batch_op.f('ix_custody_events_case_ref'))
        batch_op.drop_index(batch_op.f('ix_custody_events_action'))

    op.drop_table('custody_events')
    op.drop_table('cases')
