"""Read-only views for `exhibit show` and `exhibit custody show`: plain dicts, stable for `--json`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from evidence_store.cases import get_case, get_exhibit
from evidence_store.catalog import AnalysisResult, Case, CustodyEventRow, Derivative, Exhibit, StoredObject
from evidence_store.ledger import Ledger
from evidence_store.system import EvidenceSystem


def _object_dict(obj: StoredObject) -> dict[str, Any]:
    return {
        "sha256": obj.sha256,
        "md5": obj.md5,
        "sha1": obj.sha1,
        "size": obj.size,
        "media_type": obj.media_type,
        "store_key": obj.store_key,
        "stored_at": obj.stored_at,
        "encryption": {k: obj.envelope[k] for k in ("alg", "key_id", "chunk_size")},
    }


def exhibit_record(system: EvidenceSystem, ident: str | int) -> dict[str, Any]:
    """The exhibit, its case, its original's digests, derivatives and every analysis result recorded so far."""
    with system.catalog.reading() as session:
        exhibit = get_exhibit(session, ident)
        case = session.get(Case, exhibit.case_id)
        assert case is not None
        derivatives = session.execute(
            select(Derivative).where(Derivative.exhibit_id == exhibit.id).order_by(Derivative.id)
        ).scalars()
        results = session.execute(
            select(AnalysisResult).where(AnalysisResult.exhibit_id == exhibit.id).order_by(AnalysisResult.id)
        ).scalars()
        events = session.execute(
            select(func.count()).select_from(CustodyEventRow).where(CustodyEventRow.exhibit_id == exhibit.id)
        ).scalar_one()
        children = session.execute(select(Exhibit.id, Exhibit.reference).where(Exhibit.parent_id == exhibit.id)).all()
        return {
            "exhibit_id": exhibit.id,
            "exhibit_ref": exhibit.reference,
            "case": case.reference,
            "kind": exhibit.kind,
            "producer": exhibit.producer,
            "seized_from": exhibit.seized_from,
            "seized_at": exhibit.seized_at,
            "description": exhibit.description,
            "source_name": exhibit.source_name,
            "source_path": exhibit.source_path,
            "received_at": exhibit.received_at,
            "status": exhibit.status,
            "parent_id": exhibit.parent_id,
            "children": [{"exhibit_id": i, "exhibit_ref": r} for i, r in children],
            "warnings": list(exhibit.warnings),
            "original": _object_dict(exhibit.original),
            "derivatives": [
                {
                    "role": d.role,
                    "sha256": d.sha256,
                    "source_sha256": d.source_sha256,
                    "tool": d.tool,
                    "tool_version": d.tool_version,
                    "parameters": d.parameters,
                    "run_id": d.run_id,
                    "created_at": d.created_at,
                }
                for d in derivatives
            ],
            "analysis": [
                {
                    "table": r.table_name,
                    "rows": r.rows,
                    "sha256": r.sha256,
                    "tool": r.tool,
                    "tool_version": r.tool_version,
                    "created_at": r.created_at,
                }
                for r in results
            ],
            "custody_events": events,
        }


def custody_history(system: EvidenceSystem, ident: str | int) -> dict[str, Any]:
    """Every ledger event about an exhibit, in order."""
    with system.catalog.reading() as session:
        exhibit = get_exhibit(session, ident)
        case = session.get(Case, exhibit.case_id)
        assert case is not None
        events = [e.to_dict() for e in Ledger.iter(session, exhibit_id=exhibit.id)]
        return {"exhibit_id": exhibit.id, "exhibit_ref": exhibit.reference, "case": case.reference, "events": events}


def case_summary(system: EvidenceSystem, case_ref: str) -> dict[str, Any]:
    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        exhibits = session.execute(select(Exhibit).where(Exhibit.case_id == case.id).order_by(Exhibit.id)).scalars()
        return {
            "case": case.reference,
            "title": case.title,
            "officer_in_charge": case.officer_in_charge,
            "status": case.status,
            "exhibits": [
                {
                    "exhibit_id": e.id,
                    "exhibit_ref": e.reference,
                    "kind": e.kind,
                    "source_name": e.source_name,
                    "size": e.original.size,
                    "sha256": e.original_sha256,
                    "warnings": [w["code"] for w in e.warnings],
                }
                for e in exhibits
            ],
        }
