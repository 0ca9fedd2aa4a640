"""exhibit facts: each photo's or recording's time, place and camera, projected from its analysis table so
the review app can map, filter and put a case on a timeline without reading every exhibit's Parquet

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exhibit_facts",
        sa.Column("exhibit_id", sa.Integer(), sa.ForeignKey("exhibits.id"), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("source_table", sa.String(40), nullable=False),
        sa.Column("time_utc", sa.String(40)),
        sa.Column("time_local", sa.String(40)),
        sa.Column("time_source", sa.String(200)),
        sa.Column("time_reliability", sa.String(40)),
        sa.Column("latitude", sa.Float()),
        sa.Column("longitude", sa.Float()),
        sa.Column("make", sa.String(200)),
        sa.Column("model", sa.String(200)),
        sa.Column("serial", sa.String(200)),
        sa.Column("software", sa.String(300)),
    )
    op.create_index("ix_exhibit_facts_case_id", "exhibit_facts", ["case_id"])
    op.create_index("ix_exhibit_facts_time_utc", "exhibit_facts", ["time_utc"])


def downgrade() -> None:
    op.drop_table("exhibit_facts")
