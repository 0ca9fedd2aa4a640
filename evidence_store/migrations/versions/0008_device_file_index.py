"""device file index: the rows of each exhibit's newest device_files table in SQL, so a file browser lists one
directory, and a case search finds a name or a digest, without reading a million-row Parquet table

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Byte-ordered on PostgreSQL, so a prefix is a range of the index whatever the server's locale.
_ORDERED_TEXT = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "device_file_index",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("exhibit_id", sa.Integer(), nullable=False),
        sa.Column("build", sa.BigInteger(), nullable=False),
        sa.Column("result_sha256", sa.String(length=64), nullable=False),
        sa.Column("row", sa.BigInteger(), nullable=False),
        sa.Column("volume", sa.Integer(), nullable=True),
        sa.Column("parent", _ORDERED_TEXT, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_lower", _ORDERED_TEXT, nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("file_type", sa.String(length=20), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("known", sa.Boolean(), nullable=True),
        sa.Column("alert", sa.Boolean(), nullable=False),
        sa.Column("md5", sa.String(length=32), nullable=True),
        sa.Column("sha1", sa.String(length=40), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("magic_kind", sa.String(length=40), nullable=True),
        sa.Column("mtime", sa.String(length=40), nullable=True),
        sa.Column("atime", sa.String(length=40), nullable=True),
        sa.Column("ctime", sa.String(length=40), nullable=True),
        sa.Column("crtime", sa.String(length=40), nullable=True),
        sa.Column("times_are_local", sa.Boolean(), nullable=False),
        sa.Column("child_exhibit_id", sa.Integer(), nullable=True),
        sa.Column("child_exhibit_ref", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["exhibit_id"], ["exhibits.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_device_file_index_listing", "device_file_index", ["exhibit_id", "build", "parent", "name_lower"]
    )
    op.create_index(
        "ix_device_file_index_case_name",
        "device_file_index",
        ["case_id", "name_lower", "build"],
        postgresql_include=["id"],
    )
    op.create_index("ix_device_file_index_sha256", "device_file_index", ["sha256"])
    op.create_index("ix_device_file_index_md5", "device_file_index", ["md5"])
    op.create_index("ix_device_file_index_sha1", "device_file_index", ["sha1"])
    for kind in ("mtime", "atime", "ctime", "crtime"):
        op.create_index(f"ix_device_file_index_case_{kind}", "device_file_index", ["case_id", kind, "build"])
    op.create_table(
        "device_file_index_builds",
        sa.Column("exhibit_id", sa.Integer(), sa.ForeignKey("exhibits.id"), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("build", sa.BigInteger(), nullable=False),
        sa.Column("result_sha256", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("built_at", sa.String(length=40), nullable=False),
    )
    op.create_index("ix_device_file_index_builds_case_id", "device_file_index_builds", ["case_id"])


def downgrade() -> None:
    op.drop_table("device_file_index_builds")
    names = [
        "listing",
        "case_name",
        "sha256",
        "md5",
        "sha1",
        *(f"case_{k}" for k in ("mtime", "atime", "ctime", "crtime")),
    ]
    for name in reversed(names):
        op.drop_index(f"ix_device_file_index_{name}", table_name="device_file_index")
    op.drop_table("device_file_index")
