"""Read-only views for `exhibit show` and `exhibit custody show`: plain dicts, stable for `--json`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from evidence_store.access import Actor, Permission, authorize, record_view
from evidence_store.analysis import newest_batches, newest_rows
from evidence_store.cases import get_case, get_exhibit
from evidence_store.catalog import (
    AnalysisResult,
    CustodyEventRow,
    Derivative,
    Exhibit,
    ExhibitSegment,
    StoredObject,
)
from evidence_store.errors import AlreadyExistsError, HashMismatchError
from evidence_store.ledger import Ledger
from evidence_store.system import EvidenceSystem
from forensics.timestamps import FILE_SYSTEM, GPS, RECEIPT
from schemas.records import CustodyAction


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


def exhibit_record(system: EvidenceSystem, actor: Actor, ident: str | int, reason: str | None = None) -> dict[str, Any]:
    """The exhibit, its case, its original's digests, derivatives and every analysis result recorded so far."""
    with system.catalog.reading() as session:
        exhibit = get_exhibit(session, ident)
        case = exhibit.case
        authorize(system, session, actor, Permission.VIEW, case, exhibit_id=exhibit.id)
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
        segments = session.execute(
            select(ExhibitSegment, StoredObject)
            .join(StoredObject, StoredObject.sha256 == ExhibitSegment.sha256)
            .where(ExhibitSegment.exhibit_id == exhibit.id)
            .order_by(ExhibitSegment.position)
        ).all()
        record: dict[str, Any] = {
            "exhibit_id": exhibit.id,
            "exhibit_uid": exhibit.uid,
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
            "segments": [{"position": g.position, "name": g.name, **_object_dict(o)} for g, o in segments],
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
        exhibit_id = exhibit.id
        receipt = session.execute(
            select(CustodyEventRow.details)
            .where(CustodyEventRow.exhibit_id == exhibit.id, CustodyEventRow.action == CustodyAction.RECEIVED.value)
            .order_by(CustodyEventRow.seq)
            .limit(1)
        ).scalar_one_or_none()
    # Small per-exhibit results shown inline (their full tables stay behind `exhibit query`).
    for table in INLINE_TABLES:
        rows = newest_rows(system, exhibit_id, table, limit=1)
        if rows:
            record[table] = {k: v for k, v in rows[0].items() if k not in ("exhibit_id", "exhibit_ref")}
    volumes = newest_rows(system, exhibit_id, "device_volumes", limit=1000)
    if volumes:
        record["device_volumes"] = [
            {k: v for k, v in row.items() if k not in ("exhibit_id", "exhibit_ref")} for row in volumes
        ]
    faces = [
        r
        for batch in newest_batches(system, exhibit_id, "face_detections")
        for r in batch.drop_columns(["encoding"]).to_pylist()
    ]
    if faces:
        record["faces"] = {
            "detections": len(faces),
            "tracks": len({r["track"] for r in faces}),
            "model": faces[0]["model"],
            "best_quality": max(r["quality"] for r in faces),
        }
    record["analysis_warnings"] = [
        {"code": w["code"], "message": w["message"], "source": w["source"]}
        for w in newest_rows(system, exhibit_id, "warnings", limit=1000)
        if w["source"] != "intake"  # those are `warnings`, kept on the exhibit since receipt
    ]
    record["times"] = exhibit_times(record, json.loads(receipt) if receipt else {})
    record_view(system, actor, "exhibit record", case.reference, exhibit.id, reason=reason)
    return record


INLINE_TABLES = ("media_probe", "photo_metadata", "audio_analysis", "device_verification")


def exhibit_times(record: dict[str, Any], receipt: dict[str, Any]) -> list[dict[str, Any]]:
    """Every time the exhibit carries, each in UTC where its zone is known, with its source and how far to
    trust it, most trustworthy first: devices disagree, and a timeline must show which clock said what."""
    times: list[dict[str, Any]] = []

    def add(what: str, utc: str | None, local: str | None, source: str | None, reliability: str | None) -> None:
        if utc or local:
            times.append({"what": what, "utc": utc, "local": local, "source": source, "reliability": reliability})

    photo, probe = record.get("photo_metadata"), record.get("media_probe")
    if photo:
        add("GPS fix", photo["gps_time_utc"], None, "EXIF GPSDate+GPSTimeStamp", GPS)
        add("taken", photo["taken_utc"], photo["taken_local"], photo["taken_source"], photo["taken_reliability"])
    if probe:
        add(
            "recorded",
            probe["recorded_at_utc"],
            probe["recorded_at_local"],
            probe["time_source"],
            probe["time_reliability"],
        )
    add("file modified", receipt.get("source_modified_utc"), None, "source file's modification time", FILE_SYSTEM)
    add("received", record["received_at"], None, "Exhibit's clock at receipt", RECEIPT)
    return times


def custody_history(
    system: EvidenceSystem, actor: Actor, ident: str | int, reason: str | None = None
) -> dict[str, Any]:
    """Every ledger event about an exhibit, in order."""
    with system.catalog.reading() as session:
        exhibit = get_exhibit(session, ident)
        case = exhibit.case
        authorize(system, session, actor, Permission.VIEW, case, exhibit_id=exhibit.id)
        events = [e.to_dict() for e in Ledger.iter(session, exhibit_id=exhibit.id)]
        history = {"exhibit_id": exhibit.id, "exhibit_ref": exhibit.reference, "case": case.reference, "events": events}
    record_view(system, actor, "custody history", case.reference, exhibit.id, reason=reason)
    return history


def case_summary(system: EvidenceSystem, actor: Actor, case_ref: str, reason: str | None = None) -> dict[str, Any]:
    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        authorize(system, session, actor, Permission.VIEW, case)
        exhibits = session.execute(select(Exhibit).where(Exhibit.case_id == case.id).order_by(Exhibit.id)).scalars()
        summary = {
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
    record_view(system, actor, "case exhibit list", case_ref, reason=reason)
    return summary


def download_original(
    system: EvidenceSystem, actor: Actor, ident: str | int, out_path: Path, reason: str | None
) -> dict[str, Any]:
    """Writes the decrypted original to `out_path` (never over an existing file), checking its SHA-256.

    Raises:
        AccessDeniedError: not a member, or no reason given (recorded).
        AlreadyExistsError: `out_path` exists.
        HashMismatchError: the decrypted bytes do not hash to the recorded digest (the file is removed).
    """
    with system.catalog.reading() as session:
        exhibit = get_exhibit(session, ident)
        case = exhibit.case
        authorize(system, session, actor, Permission.DOWNLOAD, case, exhibit_id=exhibit.id, reason=reason)
        expected = exhibit.original.digests
        case_ref, exhibit_id = case.reference, exhibit.id
    try:
        handle = out_path.open("xb")
    except FileExistsError as exc:
        raise AlreadyExistsError(f"{out_path} exists; choose a new file name", path=str(out_path)) from exc
    hasher = hashlib.sha256()
    try:
        with handle:
            for block in system.store.iter_plaintext(expected.sha256):
                hasher.update(block)
                handle.write(block)
        if hasher.hexdigest() != expected.sha256:
            raise HashMismatchError(
                f"exhibit {exhibit_id} decrypted to different content", expected={"sha256": expected.sha256}
            )
    except BaseException:
        out_path.unlink(missing_ok=True)
        raise
    record_view(
        system,
        actor,
        "original bytes",
        case_ref,
        exhibit_id,
        object_sha256=expected.sha256,
        reason=reason,
        action=CustodyAction.DOWNLOADED,
    )
    return {"exhibit_id": exhibit_id, "out": str(out_path), "sha256": expected.sha256, "size": expected.size}
