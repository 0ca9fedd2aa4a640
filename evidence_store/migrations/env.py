"""Alembic environment: migrations run on the connection handed over by `Catalog.migrate` (`exhibit init`)."""

from alembic import context

from evidence_store.catalog import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations with `exhibit init` (Catalog.migrate), which supplies the connection")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
