"""retention: exhibits' retention classes (cases already have one), case outcomes (which start CPIA periods),
legal holds, and disposal requests with their second-person decisions and signed certificates

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exhibit_retention",
        sa.Column("exhibit_id", sa.Integer(), sa.ForeignKey("exhibits.id"), primary_key=True),
        sa.Column("retention_class", sa.String(50), nullable=False),
        sa.Column("set_by", sa.String(100), nullable=False),
        sa.Column("set_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "case_outcomes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column("outcome_date", sa.String(10), nullable=False),
        sa.Column("release_date", sa.String(10)),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.Column("recorded_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_case_outcomes_case_id", "case_outcomes", ["case_id"])
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("exhibit_id", sa.Integer(), sa.ForeignKey("exhibits.id")),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("authority", sa.Text()),
        sa.Column("placed_by", sa.String(100), nullable=False),
        sa.Column("placed_at", sa.String(40), nullable=False),
        sa.Column("released_by", sa.String(100)),
        sa.Column("released_at", sa.String(40)),
        sa.Column("release_reason", sa.Text()),
    )
    op.create_index("ix_legal_holds_case_id", "legal_holds", ["case_id"])
    op.create_table(
        "disposals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("exhibit_id", sa.Integer(), sa.ForeignKey("exhibits.id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("before_due", sa.Boolean(), nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("requested_at", sa.String(40), nullable=False),
        sa.Column("decided_by", sa.String(100)),
        sa.Column("decided_at", sa.String(40)),
        sa.Column("decision_reason", sa.Text()),
        sa.Column("plan", sa.JSON()),
        sa.Column("certificate", sa.JSON()),
    )
    op.create_index("ix_disposals_case_id", "disposals", ["case_id"])
    op.create_index("ix_disposals_exhibit_id", "disposals", ["exhibit_id"])


def downgrade() -> None:
    op.drop_table("disposals")
    op.drop_table("legal_holds")
    op.drop_table("case_outcomes")
    op.drop_table("exhibit_retention")
