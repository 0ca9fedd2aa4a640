"""Real files of ../shared/data through the drop folder, the intake sensor and the `process_exhibit` runs:
one of each category, plus the truncated and corrupt ones, stored with the manifest's SHA-256 and checked."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from evidence_store.access import SERVICE, Actor
from evidence_store.cases import create_case
from evidence_store.catalog import Exhibit
from evidence_store.settings import Settings
from evidence_store.system import EvidenceSystem
from evidence_store.verification import verify
from tests.pipelines.dagster_support import Intake, failure_description
from tests.realdata.shared import DATA, manifest_rows, skip_without_data

skip_without_data()
pytestmark = pytest.mark.realdata


def _damaged(row: dict[str, str]) -> bool:
    return any(w in row["description"].lower() for w in ("truncat", "corrupt"))


def _chosen() -> list[dict[str, str]]:
    rows = manifest_rows()
    first_of_each = {}
    for row in rows:
        first_of_each.setdefault(row["category"], row)
    damaged = [r for r in rows if _damaged(r)]
    chosen = {r["local_path"]: r for r in [*first_of_each.values(), *damaged]}
    return list(chosen.values())


@pytest.mark.parametrize("settings", ["file-sqlite", "s3-postgresql"], indirect=True)
def test_shared_data_through_the_pipeline(
    system: EvidenceSystem, analyst: Actor, settings: Settings, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-REAL", "Real data through Dagster")
    intake = Intake(settings, tmp_path, case="OP-REAL", by="Jane Smith")
    rows = _chosen()
    intake.folder.mkdir(parents=True)
    for row in rows:
        # A link where the filesystem allows (the drop folder moves its entry, never the shared original).
        name = row["local_path"].replace("/", "__")
        try:
            os.link(DATA / row["local_path"], intake.folder / name)
        except OSError:
            shutil.copyfile(DATA / row["local_path"], intake.folder / name)
        (intake.folder / f"{name}.done").touch()
    requests = intake.tick()
    assert len(requests) == len(rows)
    failed = {}
    for request in requests:
        result = intake.execute(request)
        # Whatever the analyses made of it, the original went in and its checks pass.
        assert result.asset_materializations_for_node("original"), request.tags
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert checks == {"fixity": True, "custody_chain": True}, request.tags
        if not result.success:
            failed[request.tags["exhibit/file"]] = failure_description(result)
    # Only media that cannot be opened at all fail, each with its code, its exhibit quarantined on the record.
    assert failed and all(d.startswith("[EX-MEDIA-DAMAGED]") for d in failed.values()), failed
    assert set(failed) <= {r["local_path"].replace("/", "__") for r in rows if _damaged(r)}
    with system.catalog.reading() as session:
        marked = {e.source_name: e.status for e in session.execute(select(Exhibit)).scalars()}
    assert all(marked[name] in ("quarantined", "damaged") for name in failed), marked
    with system.catalog.reading() as session:
        stored = {e.source_name: e.original_sha256 for e in session.execute(select(Exhibit)).scalars()}
    distinct = {r["sha256"] for r in rows}
    assert set(stored.values()) == distinct
    for row in rows:
        name = row["local_path"].replace("/", "__")
        if name in stored:  # a byte-identical file is a further receipt of the exhibit its twin became
            assert stored[name] == row["sha256"], row["local_path"]
    assert all((DATA / r["local_path"]).exists() for r in rows)  # the shared originals are untouched
    assert verify(system, SERVICE, objects=True).ok
