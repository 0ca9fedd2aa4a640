"""The daily retention sweep as Dagster runs it: disposal requests made, nothing deleted."""

from pathlib import Path

import pytest
from dagster import DagsterInstance
from sqlalchemy import select

from evidence_store.access import Actor, add_member, add_user
from evidence_store.cases import create_case
from evidence_store.catalog import Exhibit
from evidence_store.intake import IngestRequest, ingest
from evidence_store.retention import list_disposals, record_outcome
from evidence_store.settings import Settings
from evidence_store.system import EvidenceSystem
from pipelines.definitions import build_definitions
from tests.pipelines.dagster_support import evidence_resource


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_the_sweep_job_requests_what_is_due(
    settings: Settings, system: EvidenceSystem, admin: Actor, analyst: Actor, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-SWEEP", "Acquitted last year")
    clip = tmp_path / "clip.bin"
    clip.write_bytes(b"footage" * 100)
    ingest(system, analyst, [clip], IngestRequest(case_ref="OP-SWEEP", by="Jane Smith"))
    officer = add_user(system, admin, "do.patel", "disclosure_officer")
    add_member(system, admin, "OP-SWEEP", officer.name)
    record_outcome(system, officer, "OP-SWEEP", "acquitted", "2025-11-01")

    definitions = build_definitions(evidence_resource(settings))
    assert "daily_retention_sweep" in {s.name for s in definitions.schedules}
    result = definitions.resolve_job_def("retention_sweep").execute_in_process(instance=DagsterInstance.ephemeral())
    assert result.success
    (requested,) = list_disposals(system, officer, "OP-SWEEP")
    assert (requested.exhibit_ref, requested.status) == ("JS/1", "requested")
    with system.catalog.reading() as session:
        assert system.store.exists(session.execute(select(Exhibit.original_sha256)).scalar_one())
