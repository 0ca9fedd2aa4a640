"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from evidence_store.catalog import SCHEMA_HEAD, Base, Catalog


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_migrations_match_the_models(dialect: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}" if dialect == "sqlite" else request.getfixturevalue("pg_url")
    catalog = Catalog(url)
    catalog.migrate()
    assert catalog.schema_version() == SCHEMA_HEAD
    with catalog.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
