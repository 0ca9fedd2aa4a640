"""Every real file of ../shared/data goes in, and each stored object's SHA-256 matches MANIFEST.tsv."""

from __future__ import annotations

from pathlib import Path

import pytest

from evidence_store.access import SERVICE, Actor
from evidence_store.cases import create_case
from evidence_store.intake import IngestRequest, ingest
from evidence_store.system import EvidenceSystem
from evidence_store.verification import verify
from tests.realdata.shared import DATA, manifest_rows, skip_without_data

skip_without_data()
pytestmark = pytest.mark.realdata


@pytest.mark.parametrize("settings", ["file-sqlite", "s3-postgresql"], indirect=True)
def test_ingest_all_shared_data(system: EvidenceSystem, analyst: Actor) -> None:
    rows = manifest_rows()
    create_case(system, analyst, "OP-REAL", "Real data")
    outcomes = ingest(
        system, analyst, [DATA / r["local_path"] for r in rows], IngestRequest(case_ref="OP-REAL", by="Jane Smith")
    )
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    # A split image's segments are one exhibit: its outcome names the first and lists them all.
    by_path = {Path(o.path).with_name(name): o for o in outcomes for name in o.segments}
    by_path.update({Path(o.path): o for o in outcomes})
    split = {o.segments for o in outcomes if o.segments}
    assert {("ext2.split.E01", "ext2.split.E02"), ("ext2.splitraw.000", "ext2.splitraw.001")} <= split
    for row in rows:
        outcome = by_path[DATA / row["local_path"]]
        if Path(outcome.path).name == Path(row["local_path"]).name:
            assert (outcome.sha256, outcome.size) == (row["sha256"], int(row["size"])), row["local_path"]
        assert system.store.exists(row["sha256"])
    # Byte-identical files in the manifest become one exhibit with further receipts, never a second copy.
    distinct = {r["sha256"] for r in rows}
    assert len(list(system.store.iter_digests())) == len(distinct) + _warning_tables(system)
    report = verify(system, SERVICE, objects=True)
    assert report.ok, report.problems
    assert report.objects_verified == len(distinct) + _warning_tables(system)


def _warning_tables(system: EvidenceSystem) -> int:
    """Analysis tables are objects too (one warnings table per flagged exhibit)."""
    from sqlalchemy import func, select

    from evidence_store.catalog import AnalysisResult

    with system.catalog.reading() as session:
        return int(session.execute(select(func.count(func.distinct(AnalysisResult.sha256)))).scalar_one())
