"""hash sets: reference lists of known files (NSRL, a force's own known-good and known-bad lists), imported
once and matched against every device listing by digest; tool versions of results and derivatives get room
for the several libraries a device analysis names

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hashsets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("format", sa.String(length=20), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("source_name", sa.String(length=500), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.Column("bad_lines", sa.BigInteger(), nullable=False),
        sa.Column("imported_at", sa.String(length=40), nullable=False),
        sa.Column("imported_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["source_sha256"], ["objects.sha256"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", name="uq_hashset_name"),
    )
    op.create_table(
        "known_hashes",
        sa.Column("hashset_id", sa.Integer(), nullable=False),
        sa.Column("algorithm", sa.String(length=10), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["hashset_id"], ["hashsets.id"]),
    )
    op.create_index("ix_known_hashes_digest", "known_hashes", ["digest"])
    for table in ("analysis_results", "derivatives"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column("tool_version", existing_type=sa.String(length=100), type_=sa.String(length=500))


def downgrade() -> None:
    for table in ("analysis_results", "derivatives"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column("tool_version", existing_type=sa.String(length=500), type_=sa.String(length=100))
    op.drop_index("ix_known_hashes_digest", table_name="known_hashes")
    op.drop_table("known_hashes")
    op.drop_table("hashsets")
