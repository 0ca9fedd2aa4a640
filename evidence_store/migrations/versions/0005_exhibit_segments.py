"""exhibit segments: an original acquired as several files (split raw .001/.002, EWF .E01/.E02) is one exhibit
whose segments are each a stored object, in order

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exhibit_segments",
        sa.Column("exhibit_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(["exhibit_id"], ["exhibits.id"]),
        sa.ForeignKeyConstraint(["sha256"], ["objects.sha256"]),
        sa.PrimaryKeyConstraint("exhibit_id", "position"),
    )


def downgrade() -> None:
    op.drop_table("exhibit_segments")
