"""exhibit uid: a stable name that can be chosen before the exhibit exists (the pipelines' partition key);
aliases: uids whose intake turned out to be a further receipt of an exhibit that already existed

Revision ID: 0004
Revises: 0003
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("exhibits", sa.Column("uid", sa.String(length=40), nullable=True))
    exhibits = sa.table("exhibits", sa.column("id", sa.Integer()), sa.column("uid", sa.String()))
    connection = op.get_bind()
    for (exhibit_id,) in connection.execute(sa.select(exhibits.c.id)).all():
        connection.execute(
            exhibits.update().where(exhibits.c.id == exhibit_id).values(uid="ex-" + secrets.token_hex(10))
        )
    with op.batch_alter_table("exhibits") as batch:
        batch.alter_column("uid", existing_type=sa.String(length=40), nullable=False)
        batch.create_unique_constraint("uq_exhibit_uid", ["uid"])
    op.create_table(
        "exhibit_aliases",
        sa.Column("uid", sa.String(length=40), nullable=False),
        sa.Column("exhibit_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["exhibit_id"], ["exhibits.id"]),
        sa.PrimaryKeyConstraint("uid"),
    )


def downgrade() -> None:
    op.drop_table("exhibit_aliases")
    with op.batch_alter_table("exhibits") as batch:
        batch.drop_constraint("uq_exhibit_uid", type_="unique")
        batch.drop_column("uid")
