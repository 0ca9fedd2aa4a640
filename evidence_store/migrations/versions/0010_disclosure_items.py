"""disclosure items: the disclosure officer's CPIA decisions (MG6C / MG6D / not relevant, descriptions,
reasons for sensitivity, MG6E notes, the prosecutor's marks) from which the schedules are generated

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "disclosure_items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("schedule", sa.String(20), nullable=False),
        sa.Column("number", sa.Integer()),
        sa.Column("exhibit_ids", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("sensitivity", sa.Text()),
        sa.Column("undermines", sa.Text()),
        sa.Column("copy_supplied", sa.Boolean(), nullable=False),
        sa.Column("cps_mark", sa.String(10)),
        sa.Column("cps_comment", sa.Text()),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=False),
        sa.Column("decided_at", sa.String(40), nullable=False),
        sa.UniqueConstraint("case_id", "schedule", "number", name="uq_disclosure_item_number"),
    )
    op.create_index("ix_disclosure_items_case_id", "disclosure_items", ["case_id"])


def downgrade() -> None:
    op.drop_table("disclosure_items")
