"""What the processing layer (Dagster) reads about exhibits: partitions are exhibit uids.

These reads are the system's own bookkeeping, not a person viewing evidence, so they write no `VIEWED` event;
choosing *which* exhibits to process on a person's behalf (`exhibit analyze`) is authorised as theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from evidence_store.access import Actor, Permission, authorize
from evidence_store.cases import exhibit_by_uid, get_case, get_exhibit
from evidence_store.catalog import CustodyEventRow, Exhibit
from evidence_store.digests import Digests
from evidence_store.errors import BadReferenceError, NotFoundError
from evidence_store.system import EvidenceSystem


@dataclass(frozen=True, slots=True)
class ExhibitSummary:
    """An exhibit as a pipeline step needs it: identity, original's digests and counts."""

    uid: str
    exhibit_id: int
    exhibit_ref: str
    case_ref: str
    kind: str
    media_type: str
    digests: Digests
    warnings: int
    custody_events: int
    status: str
    received_at: str
    source_name: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "exhibit_id": self.exhibit_id,
            "exhibit_ref": self.exhibit_ref,
            "case": self.case_ref,
            "kind": self.kind,
            "media_type": self.media_type,
            "size": self.digests.size,
            "md5": self.digests.md5,
            "sha1": self.digests.sha1,
            "sha256": self.digests.sha256,
            "warnings": self.warnings,
            "custody_events": self.custody_events,
            "status": self.status,
            "received_at": self.received_at,
            "source_name": self.source_name,
        }


def exhibit_summary(system: EvidenceSystem, uid: str) -> ExhibitSummary | None:
    """The exhibit a partition names, or None when nothing has been ingested under that uid yet."""
    with system.catalog.reading() as session:
        exhibit = exhibit_by_uid(session, uid)
        if exhibit is None:
            return None
        original = exhibit.original
        events = session.execute(
            select(func.count()).select_from(CustodyEventRow).where(CustodyEventRow.exhibit_id == exhibit.id)
        ).scalar_one()
        return ExhibitSummary(
            uid=exhibit.uid,
            exhibit_id=exhibit.id,
            exhibit_ref=exhibit.reference,
            case_ref=exhibit.case.reference,
            kind=exhibit.kind,
            media_type=original.media_type,
            digests=original.digests,
            warnings=len(exhibit.warnings),
            custody_events=events,
            status=exhibit.status,
            received_at=exhibit.received_at,
            source_name=exhibit.source_name,
        )


def exhibit_uids(
    system: EvidenceSystem, actor: Actor, *, case_ref: str | None = None, exhibit: str | None = None
) -> list[str]:
    """The uids (partition keys) of one exhibit or of every exhibit of a case, for `actor` to process.

    Raises:
        BadReferenceError: neither or both of case and exhibit were given.
        AccessDeniedError: the actor may not analyse that case (recorded).
    """
    if (case_ref is None) == (exhibit is None):
        raise BadReferenceError("name a case (--case) or an exhibit (--exhibit), not both")
    with system.catalog.reading() as session:
        if exhibit is not None:
            found = get_exhibit(session, exhibit)
            authorize(system, session, actor, Permission.ANALYSE, found.case, exhibit_id=found.id)
            if found.status == "disposed":
                raise NotFoundError(f"exhibit {found.reference} was disposed of: there is nothing left to analyse")
            return [found.uid]
        assert case_ref is not None
        case = get_case(session, case_ref)
        authorize(system, session, actor, Permission.ANALYSE, case)
        return list(
            session.execute(
                select(Exhibit.uid).where(Exhibit.case_id == case.id, Exhibit.status != "disposed").order_by(Exhibit.id)
            ).scalars()
        )


def exhibits_after(system: EvidenceSystem, last_id: int, limit: int = 500) -> list[tuple[int, str]]:
    """(id, uid) of exhibits catalogued after `last_id`, oldest first: how new exhibits reach the pipelines
    whichever way they came in (CLI, review app upload, extraction from a device image)."""
    with system.catalog.reading() as session:
        rows = session.execute(
            select(Exhibit.id, Exhibit.uid).where(Exhibit.id > last_id).order_by(Exhibit.id).limit(limit)
        ).all()
    return [(int(i), str(u)) for i, u in rows]
