"""Reads for the review app: the cases a user may open, a case's exhibits page by page, search, timeline, map
and a custody badge. Each read is authorised like any other and each view of evidence is a `VIEWED` event.

Pages stay fast for a case of 10,000 exhibits by asking SQL for one page (and for counts) at a time; what an
exhibit's Parquet tables hold about time, place and camera is read from their projection (`exhibit_facts`),
and device files from their index (`device_file_index`), never by opening every table.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, String, cast, func, or_, select
from sqlalchemy.orm import Session

from evidence_store.access import Actor, Permission, authorize, record_view
from evidence_store.cases import get_case, get_exhibit
from evidence_store.catalog import (
    AnalysisResult,
    Case,
    CustodyEventRow,
    Derivative,
    Exhibit,
    ExhibitFact,
    ExhibitSegment,
    Membership,
    StoredObject,
)
from evidence_store.custody import exhibit_proof, verify_exhibit_events
from evidence_store.faces import persons_rows
from evidence_store.file_index import escape_like
from evidence_store.proofs import verify_exhibit_proof
from evidence_store.system import EvidenceSystem
from forensics.timestamps import RECEIPT

HEX_DIGEST = re.compile(r"^(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64})$")
KINDS = ("bwv", "photo", "audio", "device_image", "document", "other")


def _like(text: str) -> str:
    """A case-insensitive substring pattern for `_any_contains`, its "%", "_" and "\\" taken literally."""
    return f"%{escape_like(text.lower())}%"


def _any_contains(pattern: str, *columns: Any) -> ColumnElement[bool]:
    """Any of `columns`, lower-cased, matches the LIKE `pattern` (from `_like`)."""
    return or_(*(func.lower(column).like(pattern, escape="\\") for column in columns))


# -- cases ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseListing:
    reference: str
    title: str
    officer_in_charge: str | None
    status: str
    exhibits: int


def member_cases(system: EvidenceSystem, actor: Actor) -> list[CaseListing]:
    """The cases `actor` is a member of (need to know: no other case is even named), newest first."""
    if actor.user_id is None:
        return []
    with system.catalog.reading() as session:
        counts = select(Exhibit.case_id, func.count().label("n")).group_by(Exhibit.case_id).subquery("exhibit_counts")
        rows = session.execute(
            select(Case, func.coalesce(counts.c.n, 0))
            .join(Membership, Membership.case_id == Case.id)
            .outerjoin(counts, counts.c.case_id == Case.id)
            .where(Membership.user_id == actor.user_id)
            .order_by(Case.id.desc())
        ).all()
        return [CaseListing(c.reference, c.title, c.officer_in_charge, c.status, int(n)) for c, n in rows]


@dataclass(frozen=True, slots=True)
class CaseOverview:
    reference: str
    title: str
    officer_in_charge: str | None
    status: str
    exhibits: int
    by_kind: dict[str, int]
    by_status: dict[str, int]
    with_warnings: int


def case_overview(system: EvidenceSystem, actor: Actor, case_ref: str) -> CaseOverview:
    """Counts of the case's exhibits by kind and status (two GROUP BYs, whatever the case's size)."""
    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        authorize(system, session, actor, Permission.VIEW, case)
        by_kind = dict(
            session.execute(
                select(Exhibit.kind, func.count()).where(Exhibit.case_id == case.id).group_by(Exhibit.kind)
            ).all()
        )
        by_status = dict(
            session.execute(
                select(Exhibit.status, func.count()).where(Exhibit.case_id == case.id).group_by(Exhibit.status)
            ).all()
        )
        warned = session.execute(
            select(func.count()).where(Exhibit.case_id == case.id, cast(Exhibit.warnings, String) != "[]")
        ).scalar_one()
        overview = CaseOverview(
            case.reference,
            case.title,
            case.officer_in_charge,
            case.status,
            sum(by_kind.values()),
            {str(k): int(v) for k, v in by_kind.items()},
            {str(k): int(v) for k, v in by_status.items()},
            int(warned),
        )
    record_view(system, actor, "case overview", case_ref)
    return overview


@dataclass(frozen=True, slots=True)
class ExhibitFilter:
    kind: str | None = None
    status: str | None = None
    warnings_only: bool = False
    text: str | None = None  # in the reference, description, file name or producer


@dataclass(frozen=True, slots=True)
class ExhibitPage:
    rows: list[dict[str, Any]]
    total: int
    offset: int
    limit: int


def exhibit_page(
    system: EvidenceSystem,
    actor: Actor,
    case_ref: str,
    chosen: ExhibitFilter | None = None,
    offset: int = 0,
    limit: int = 50,
) -> ExhibitPage:
    """One page of a case's exhibits (in reference order of receipt) with what has been analysed of each."""
    chosen = chosen or ExhibitFilter()
    limit = max(1, min(limit, 500))
    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        authorize(system, session, actor, Permission.VIEW, case)
        where = [Exhibit.case_id == case.id]
        if chosen.kind:
            where.append(Exhibit.kind == chosen.kind)
        if chosen.status:
            where.append(Exhibit.status == chosen.status)
        if chosen.warnings_only:
            where.append(cast(Exhibit.warnings, String) != "[]")
        if chosen.text and chosen.text.strip():
            pattern = _like(chosen.text.strip())
            where.append(
                _any_contains(pattern, Exhibit.reference, Exhibit.description, Exhibit.source_name, Exhibit.producer)
            )
        total = session.execute(select(func.count()).select_from(Exhibit).where(*where)).scalar_one()
        found = session.execute(
            select(Exhibit, StoredObject.size, StoredObject.media_type)
            .join(StoredObject, StoredObject.sha256 == Exhibit.original_sha256)
            .where(*where)
            .order_by(Exhibit.id)
            .offset(offset)
            .limit(limit)
        ).all()
        ids = [e.id for e, _s, _m in found]
        analysed: dict[int, set[str]] = defaultdict(set)
        for exhibit_id, table in session.execute(
            select(AnalysisResult.exhibit_id, AnalysisResult.table_name)
            .where(AnalysisResult.exhibit_id.in_(ids))
            .distinct()
        ).all():
            if exhibit_id is not None:
                analysed[int(exhibit_id)].add(str(table))
        parents = dict(
            session.execute(
                select(Exhibit.id, Exhibit.reference).where(
                    Exhibit.id.in_({e.parent_id for e, _s, _m in found if e.parent_id})
                )
            ).all()
        )
        rows = [
            {
                "exhibit_id": e.id,
                "uid": e.uid,
                "exhibit_ref": e.reference,
                "kind": e.kind,
                "source_name": e.source_name,
                "size": size,
                "media_type": media_type,
                "status": e.status,
                "received_at": e.received_at,
                "producer": e.producer,
                "description": e.description,
                "parent_ref": parents.get(e.parent_id) if e.parent_id else None,
                "warnings": [w["code"] for w in e.warnings],
                "analyses": sorted(analysed.get(e.id, set()) - {"warnings"}),
            }
            for e, size, media_type in found
        ]
    record_view(system, actor, f"case exhibit list (rows {offset + 1}-{offset + len(rows)})", case_ref)
    return ExhibitPage(rows, int(total), offset, limit)


def exhibit_case(system: EvidenceSystem, ident: str | int) -> tuple[int, str, str, str]:
    """(exhibit id, reference, kind, case reference) of an exhibit, for a page that must first know which
    case it is about; no evidence is read, so no view is recorded."""
    with system.catalog.reading() as session:
        exhibit = get_exhibit(session, ident)
        return exhibit.id, exhibit.reference, exhibit.kind, exhibit.case.reference


# -- search ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchResults:
    text: str
    exhibits: list[dict[str, Any]] = field(default_factory=list)
    hashes: list[dict[str, Any]] = field(default_factory=list)  # an original, segment or derivative
    device_files: list[dict[str, Any]] = field(default_factory=list)
    metadata: list[dict[str, Any]] = field(default_factory=list)  # camera make/model/serial, software
    persons: list[dict[str, Any]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(group) for group in (self.exhibits, self.hashes, self.device_files, self.metadata, self.persons))


def _hash_hits(session: Session, case: Case, digest: str) -> list[dict[str, Any]]:
    column = {32: StoredObject.md5, 40: StoredObject.sha1, 64: StoredObject.sha256}[len(digest)]
    objects = set(session.execute(select(StoredObject.sha256).where(column == digest)).scalars())
    if not objects:
        return []
    hits: list[dict[str, Any]] = []
    for exhibit in session.execute(
        select(Exhibit).where(Exhibit.case_id == case.id, Exhibit.original_sha256.in_(objects))
    ).scalars():
        hits.append({"exhibit_ref": exhibit.reference, "exhibit_id": exhibit.id, "what": "original"})
    for exhibit, segment in session.execute(
        select(Exhibit, ExhibitSegment)
        .join(ExhibitSegment, ExhibitSegment.exhibit_id == Exhibit.id)
        .where(Exhibit.case_id == case.id, ExhibitSegment.sha256.in_(objects), ExhibitSegment.position > 0)
    ).all():
        hits.append({"exhibit_ref": exhibit.reference, "exhibit_id": exhibit.id, "what": f"segment {segment.name}"})
    for exhibit, derivative in session.execute(
        select(Exhibit, Derivative)
        .join(Derivative, Derivative.exhibit_id == Exhibit.id)
        .where(Exhibit.case_id == case.id, Derivative.sha256.in_(objects))
    ).all():
        hits.append({"exhibit_ref": exhibit.reference, "exhibit_id": exhibit.id, "what": f"{derivative.role}"})
    return hits


def search_case(system: EvidenceSystem, actor: Actor, case_ref: str, text: str, limit: int = 100) -> SearchResults:
    """One box over a case: exhibit fields, hashes (MD5, SHA-1 or SHA-256 of originals, segments, derivatives
    and files inside device images), device file names, camera metadata and person names."""
    from evidence_store.file_index import search_device_files  # the index of device listings

    text = text.strip()
    if not text:
        return SearchResults(text)
    needle = text.lower()
    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        authorize(system, session, actor, Permission.VIEW, case)
        case_id = case.id
        hashes = _hash_hits(session, case, needle) if HEX_DIGEST.match(needle) else []
        pattern = _like(needle)
        exhibits = [
            {
                "exhibit_id": e.id,
                "exhibit_ref": e.reference,
                "kind": e.kind,
                "source_name": e.source_name,
                "description": e.description,
            }
            for e in session.execute(
                select(Exhibit)
                .where(
                    Exhibit.case_id == case_id,
                    _any_contains(
                        pattern,
                        Exhibit.reference,
                        Exhibit.description,
                        Exhibit.source_name,
                        Exhibit.producer,
                        Exhibit.seized_from,
                    ),
                )
                .order_by(Exhibit.id)
                .limit(limit)
            ).scalars()
        ]
        metadata = [
            {
                "exhibit_id": exhibit_id,
                "exhibit_ref": ref,
                "make": f.make,
                "model": f.model,
                "serial": f.serial,
                "software": f.software,
            }
            for f, exhibit_id, ref in session.execute(
                select(ExhibitFact, Exhibit.id, Exhibit.reference)
                .join(Exhibit, Exhibit.id == ExhibitFact.exhibit_id)
                .where(
                    ExhibitFact.case_id == case_id,
                    _any_contains(
                        pattern, ExhibitFact.make, ExhibitFact.model, ExhibitFact.serial, ExhibitFact.software
                    ),
                )
                .limit(limit)
            ).all()
        ]
    persons: dict[str, dict[str, Any]] = {}
    for row in persons_rows(system, case_id):
        if row["name"] and needle in row["name"].lower():
            person = persons.setdefault(
                row["person_id"], {"person_id": row["person_id"], "name": row["name"], "exhibits": set()}
            )
            person["exhibits"].add(row["exhibit_ref"])
    device_files = search_device_files(system, actor, case_ref, text, limit=limit)
    record_view(system, actor, f"search {text[:100]!r}", case_ref)
    return SearchResults(
        text,
        exhibits=exhibits,
        hashes=hashes,
        device_files=device_files,
        metadata=metadata,
        persons=[{**p, "exhibits": sorted(p["exhibits"])} for p in persons.values()],
    )


# -- timeline and map -----------------------------------------------------------------------------------------


def case_timeline(
    system: EvidenceSystem,
    actor: Actor,
    case_ref: str,
    start: str | None = None,
    end: str | None = None,
    *,
    include_files: bool = True,
    include_custody: bool = True,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """One case timeline: when photos were taken and recordings made (with the clock they came from and how
    far to trust it), file-system times from device images, and custody events; ordered by UTC where known.

    Times with no zone (a camera's wall clock, FAT) are placed by their face value and flagged: the page says
    so rather than guess an offset.
    """
    from evidence_store.file_index import file_times

    events: list[dict[str, Any]] = []

    def inside(when: str | None) -> bool:
        return bool(when) and (start is None or str(when) >= start) and (end is None or str(when) <= end)

    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        authorize(system, session, actor, Permission.VIEW, case)
        for fact, ref, kind, exhibit_id in session.execute(
            select(ExhibitFact, Exhibit.reference, Exhibit.kind, Exhibit.id)
            .join(Exhibit, Exhibit.id == ExhibitFact.exhibit_id)
            .where(ExhibitFact.case_id == case.id)
        ).all():
            when = fact.time_utc or fact.time_local
            if inside(when):
                events.append(
                    {
                        "time": when,
                        "zone_known": fact.time_utc is not None,
                        "what": "photo taken" if fact.source_table == "photo_metadata" else "recording started",
                        "exhibit_ref": ref,
                        "exhibit_id": exhibit_id,
                        "kind": kind,
                        "source": fact.time_source,
                        "reliability": fact.time_reliability,
                        "detail": " ".join(x for x in (fact.make, fact.model) if x),
                    }
                )
        if include_custody:
            refs = dict(session.execute(select(Exhibit.id, Exhibit.reference).where(Exhibit.case_id == case.id)).all())
            custody_where = [CustodyEventRow.case_ref == case.reference]
            if start:
                custody_where.append(CustodyEventRow.recorded_at >= start)
            if end:
                custody_where.append(CustodyEventRow.recorded_at <= end)
            for row in session.execute(
                select(CustodyEventRow)
                .where(*custody_where, CustodyEventRow.action != "VIEWED")
                .order_by(CustodyEventRow.seq)
                .limit(limit)
            ).scalars():
                events.append(
                    {
                        "time": row.recorded_at,
                        "zone_known": True,
                        "what": f"custody: {row.action}",
                        "exhibit_ref": refs.get(row.exhibit_id) if row.exhibit_id else None,
                        "exhibit_id": row.exhibit_id,
                        "kind": None,
                        "source": f"ledger event {row.seq} by {row.actor}",
                        "reliability": RECEIPT,
                        "detail": row.reason or "",
                    }
                )
    if include_files:
        for stamp in file_times(system, actor, case_ref, start, end, 0, limit):
            events.append(
                {
                    "time": stamp["time"],
                    "zone_known": not stamp["times_are_local"],
                    "what": f"file {stamp['time_kind']}",
                    "exhibit_ref": stamp.get("exhibit_ref"),
                    "exhibit_id": stamp.get("exhibit_id"),
                    "kind": "device_image",
                    "source": f"file system time of {stamp['path']}",
                    "reliability": "file system, no zone (FAT)" if stamp["times_are_local"] else "file system",
                    "detail": stamp["path"],
                }
            )
    events.sort(key=lambda e: str(e["time"]))
    record_view(system, actor, "case timeline", case_ref)
    return events[:limit]


def geotagged(system: EvidenceSystem, actor: Actor, case_ref: str) -> list[dict[str, Any]]:
    """Every exhibit of the case with a position (photo GPS, a camera's location tag)."""
    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        authorize(system, session, actor, Permission.VIEW, case)
        rows = [
            {
                "exhibit_id": exhibit_id,
                "exhibit_ref": ref,
                "kind": kind,
                "latitude": f.latitude,
                "longitude": f.longitude,
                "time": f.time_utc or f.time_local,
            }
            for f, exhibit_id, ref, kind in session.execute(
                select(ExhibitFact, Exhibit.id, Exhibit.reference, Exhibit.kind)
                .join(Exhibit, Exhibit.id == ExhibitFact.exhibit_id)
                .where(
                    ExhibitFact.case_id == case.id,
                    ExhibitFact.latitude.is_not(None),
                    ExhibitFact.longitude.is_not(None),
                )
                .order_by(Exhibit.id)
            ).all()
        ]
    record_view(system, actor, "case map", case_ref)
    return rows


def exhibit_position(system: EvidenceSystem, exhibit_id: int) -> tuple[float, float] | None:
    """The exhibit's position, for a page already showing (and recording the view of) that exhibit."""
    with system.catalog.reading() as session:
        fact = session.get(ExhibitFact, exhibit_id)
    if fact is None or fact.latitude is None or fact.longitude is None:
        return None
    return float(fact.latitude), float(fact.longitude)


# -- custody badge --------------------------------------------------------------------------------------------


_SIGNATURE_CODES = frozenset({"EX-LEDGER-SIGNATURE", "EX-LEDGER-UNKNOWN-KEY"})


@dataclass(frozen=True, slots=True)
class CustodyBadge:
    """Three checks of one exhibit's custody: "ok", "failed", or "not reached" (the event check stops at the
    first bad event, which `problems` names)."""

    chain: str
    signatures: str
    inclusion: str
    events: int
    checkpoint_size: int
    problems: list[str]
    proof: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.chain == self.signatures == self.inclusion == "ok"


def custody_badge(system: EvidenceSystem, actor: Actor, ident: str | int) -> CustodyBadge:
    """Verifies the exhibit's events (hashes, chain, signatures, receipt) and proves their inclusion in the
    newest signed checkpoint (made now if none covers them), as a recipient of the proof file would."""
    exhibit_id, _ref, _kind, _case_ref = exhibit_case(system, ident)
    proof = exhibit_proof(system, actor, exhibit_id)  # authorises VIEW, records the view
    verdict = verify_exhibit_events(system, exhibit_id)
    offline = verify_exhibit_proof(proof, system.public_keys())
    chain = signatures = "ok"
    problems = []
    if not verdict.ok:
        problems.append(f"[{verdict.code}] {verdict.reason}")
        if verdict.code in _SIGNATURE_CODES:
            signatures, chain = "failed", "not reached"
        else:
            chain, signatures = "failed", "not reached"
    problems += [f"[EX-PROOF-INVALID] {p}" for p in offline.problems]
    return CustodyBadge(
        chain=chain,
        signatures=signatures,
        inclusion="ok" if offline.ok else "failed",
        events=len(proof["events"]),
        checkpoint_size=int(proof["checkpoint"]["tree_size"]),
        problems=problems,
        proof=proof,
    )


def open_case(system: EvidenceSystem, actor: Actor, case_ref: str) -> None:
    """Checks that `actor` may open a case named in a link (a refusal is recorded and raised)."""
    with system.catalog.reading() as session:
        authorize(system, session, actor, Permission.VIEW, get_case(session, case_ref))


# -- an exhibit's objects and tables ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObjectGrant:
    """An object of an exhibit that `actor` was allowed to see (and whose view is recorded)."""

    exhibit_id: int
    sha256: str
    media_type: str
    size: int
    what: str  # "original", or the derivative's role


def _exhibit_object(session: Session, exhibit: Exhibit, sha256: str) -> tuple[StoredObject, str] | None:
    if exhibit.original_sha256 == sha256:
        return exhibit.original, "original"
    derivative = session.execute(
        select(Derivative).where(Derivative.exhibit_id == exhibit.id, Derivative.sha256 == sha256).limit(1)
    ).scalar_one_or_none()
    if derivative is None:
        return None
    obj = session.get(StoredObject, sha256)
    return (obj, derivative.role) if obj is not None else None


def grant_object(
    system: EvidenceSystem,
    actor: Actor,
    exhibit_id: int,
    sha256: str,
    *,
    download: bool = False,
    reason: str | None = None,
) -> ObjectGrant:
    """Authorises a view (or, with `download`, a download: a reason is then required) of one of the exhibit's
    objects, its original or a derivative, and records it on the ledger.

    Raises:
        AccessDeniedError: not a member, or a download with no reason (recorded).
        NotFoundError: the object is not the exhibit's.
    """
    from evidence_store.errors import NotFoundError
    from schemas.records import CustodyAction

    with system.catalog.reading() as session:
        exhibit = get_exhibit(session, exhibit_id)
        permission = Permission.DOWNLOAD if download else Permission.VIEW
        authorize(system, session, actor, permission, exhibit.case, exhibit_id=exhibit.id, reason=reason)
        found = _exhibit_object(session, exhibit, sha256)
        if found is None:
            raise NotFoundError(f"{sha256[:16]}… is not an object of exhibit {exhibit.reference}", sha256=sha256)
        obj, what = found
        grant = ObjectGrant(exhibit.id, obj.sha256, obj.media_type, obj.size, what)
        case_ref = exhibit.case.reference
    record_view(
        system,
        actor,
        f"{what} bytes" if download else what,
        case_ref,
        exhibit_id,
        object_sha256=sha256,
        reason=reason,
        action=CustodyAction.DOWNLOADED if download else CustodyAction.VIEWED,
    )
    return grant


def read_object(system: EvidenceSystem, grant: ObjectGrant, max_bytes: int = 32 << 20) -> bytes:
    """The bytes of a granted small object (a thumbnail, a display copy); larger ones are streamed by range.

    Raises:
        InputError: the object is larger than `max_bytes`.
    """
    from schemas.errors import InputError

    if grant.size > max_bytes:
        raise InputError(f"{grant.what} is {grant.size:,} bytes: too large to show inline; play or download it")
    return b"".join(system.store.iter_plaintext(grant.sha256))


def original_of(system: EvidenceSystem, exhibit_id: int) -> tuple[str, str]:
    """(SHA-256, source file name) of the exhibit's original: what a download link names."""
    with system.catalog.reading() as session:
        exhibit = get_exhibit(session, exhibit_id)
        return exhibit.original_sha256, exhibit.source_name


def exhibit_table(
    system: EvidenceSystem, actor: Actor, exhibit_id: int, name: str, limit: int = 1000
) -> list[dict[str, Any]]:
    """Rows of one of the exhibit's newest analysis tables (keyframes, thumbnails, device volumes...)."""
    from evidence_store.analysis import newest_rows

    with system.catalog.reading() as session:
        exhibit = get_exhibit(session, exhibit_id)
        authorize(system, session, actor, Permission.VIEW, exhibit.case, exhibit_id=exhibit.id)
        case_ref = exhibit.case.reference
    rows = newest_rows(system, exhibit_id, name, limit=limit)
    record_view(system, actor, f"table:{name}", case_ref, exhibit_id)
    return rows


def rebuild_indexes(system: EvidenceSystem, actor: Actor) -> dict[str, int]:
    """Re-derives the review app's catalog projections from the stored tables: every exhibit's facts and every
    device listing's file index (after an upgrade that added them, or to check them). Supervisors and admins.

    Returns:
        How many exhibits got facts, device listings were indexed, and file rows indexed.
    """
    from evidence_store.facts import rebuild_facts
    from evidence_store.file_index import index_device_files

    with system.catalog.reading() as session:
        authorize(system, session, actor, Permission.VERIFY_ALL)
        listed = sorted(
            {
                int(exhibit_id)
                for exhibit_id in session.execute(
                    select(AnalysisResult.exhibit_id).where(AnalysisResult.table_name == "device_files")
                ).scalars()
                if exhibit_id is not None
            }
        )
    facts = rebuild_facts(system)
    rows = sum(index_device_files(system, exhibit_id) for exhibit_id in listed)
    return {"exhibits_with_facts": facts, "device_listings": len(listed), "file_rows": rows}


def references_of(system: EvidenceSystem, uids: list[str]) -> dict[str, str]:
    """Exhibit references by uid, for uids the caller was already authorised to see (runs of a case)."""
    if not uids:
        return {}
    with system.catalog.reading() as session:
        rows = session.execute(select(Exhibit.uid, Exhibit.reference).where(Exhibit.uid.in_(uids))).all()
    return {str(uid): str(reference) for uid, reference in rows}
