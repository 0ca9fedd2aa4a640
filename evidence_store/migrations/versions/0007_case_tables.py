"""case-level analysis tables: an analysis result may belong to a case rather than to one exhibit (the persons
found by clustering faces across all of a case's exhibits)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("analysis_results") as batch:
        batch.alter_column("exhibit_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM analysis_results WHERE exhibit_id IS NULL")
    with op.batch_alter_table("analysis_results") as batch:
        batch.alter_column("exhibit_id", existing_type=sa.Integer(), nullable=False)
