"""Exhibit facts: the catalog's projection of each photo's or recording's time, place and camera.

A case of 10,000 exhibits has 10,000 small `photo_metadata` / `media_probe` tables in the object store;
a map or a timeline cannot open them all per page view. When one of those tables is recorded its first row
is copied here (`exhibit_facts`), in the same terms (UTC where the zone is known, the wall clock where it is
not, the source and reliability of the time). The Parquet table remains the record: `rebuild_facts`
re-derives every row from the newest tables.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from sqlalchemy import delete, select

from evidence_store.analysis import newest_rows
from evidence_store.catalog import AnalysisResult, Exhibit, ExhibitFact
from evidence_store.system import EvidenceSystem

FACT_TABLES = ("photo_metadata", "media_probe")


def fact_from_row(name: str, row: dict[str, Any]) -> dict[str, Any]:
    """The facts one analysis row carries, named as `exhibit_facts` names them."""
    if name == "photo_metadata":
        return {
            "time_utc": row.get("taken_utc"),
            "time_local": row.get("taken_local"),
            "time_source": row.get("taken_source"),
            "time_reliability": row.get("taken_reliability"),
            "latitude": row.get("latitude"),
            "longitude": row.get("longitude"),
            "make": row.get("make"),
            "model": row.get("model"),
            "serial": row.get("serial"),
            "software": row.get("software"),
        }
    return {
        "time_utc": row.get("recorded_at_utc"),
        "time_local": row.get("recorded_at_local"),
        "time_source": row.get("time_source"),
        "time_reliability": row.get("time_reliability"),
        "latitude": row.get("latitude"),
        "longitude": row.get("longitude"),
        "make": row.get("make"),
        "model": row.get("model"),
        "serial": row.get("device_serial"),
        "software": row.get("encoder"),
    }


def project_facts(system: EvidenceSystem, exhibit_id: int, name: str, table: pa.Table) -> None:
    """Replaces the exhibit's facts with those of a newly recorded `photo_metadata` or `media_probe` table.

    A photo's EXIF wins over a probe of the same file: only a probe projects where no photo facts exist.
    """
    if name not in FACT_TABLES or table.num_rows == 0:
        return
    row = table.slice(0, 1).to_pylist()[0]
    with system.catalog.transaction() as session:
        exhibit = session.get(Exhibit, exhibit_id)
        if exhibit is None:
            return
        current = session.get(ExhibitFact, exhibit_id)
        if current is not None and current.source_table == "photo_metadata" and name != "photo_metadata":
            return
        values = {"case_id": exhibit.case_id, "source_table": name, **fact_from_row(name, row)}
        if current is None:
            session.add(ExhibitFact(exhibit_id=exhibit_id, **values))
        else:
            for key, value in values.items():
                setattr(current, key, value)


def rebuild_facts(system: EvidenceSystem) -> int:
    """Re-derives every exhibit's facts from its newest tables (after an upgrade, or to check the projection).

    Returns:
        The number of exhibits with facts.
    """
    with system.catalog.reading() as session:
        pairs = session.execute(
            select(AnalysisResult.exhibit_id, AnalysisResult.table_name)
            .where(AnalysisResult.table_name.in_(FACT_TABLES), AnalysisResult.exhibit_id.is_not(None))
            .distinct()
        ).all()
    with system.catalog.transaction() as session:
        session.execute(delete(ExhibitFact))
    # photo_metadata last, so that it wins where a file has both.
    for exhibit_id, name in sorted(pairs, key=lambda p: (p[1] == "photo_metadata", p[0] or 0)):
        if exhibit_id is None:
            continue
        rows = newest_rows(system, exhibit_id, name, limit=1)
        if rows:
            project_facts(system, exhibit_id, name, pa.Table.from_pylist(rows))
    with system.catalog.reading() as session:
        return len(session.execute(select(ExhibitFact.exhibit_id)).all())
