"""`exhibit verify`: the ledger chain and signatures, the catalog against the signed events, and fixity.

A report names the first bad event and every object that failed, with a code for each.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from evidence_store.access import Actor, Permission, authorize
from evidence_store.cases import get_case, get_exhibit
from evidence_store.catalog import AnalysisResult, Case, Derivative, Exhibit, ExhibitSegment, StoredObject
from evidence_store.custody import load_checkpoints
from evidence_store.digests import Digests
from evidence_store.errors import StoreUnavailableError, StoreWriteError
from evidence_store.ledger import Ledger, LedgerVerification, StoredEntry
from evidence_store.proofs import verify_ledger
from evidence_store.system import EvidenceSystem
from schemas.errors import ExhibitError
from schemas.records import CustodyAction


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    message: str
    exhibit_id: int | None = None
    sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "exhibit_id": self.exhibit_id, "sha256": self.sha256}


@dataclass
class VerificationReport:
    ledger: LedgerVerification
    exhibits_checked: int = 0
    objects_checked: int = 0
    objects_verified: int = 0
    problems: list[Problem] = field(default_factory=list)
    unrecorded_objects: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.ledger.ok and not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "ledger": self.ledger.to_dict(),
            "exhibits_checked": self.exhibits_checked,
            "objects_checked": self.objects_checked,
            "objects_verified": self.objects_verified,
            "problems": [p.to_dict() for p in self.problems],
            "unrecorded_objects": self.unrecorded_objects,
        }


def verify(
    system: EvidenceSystem,
    actor: Actor,
    *,
    case_ref: str | None = None,
    objects: bool = False,
    on_object: Callable[[str], None] | None = None,
) -> VerificationReport:
    """Verifies the whole ledger, then the catalog (and, with `objects`, the stored bytes) in scope.

    The chain is always verified whole: a case's events are interleaved with every other case's, and a break
    anywhere before them undermines them too. With `objects`, each re-hash is recorded on the ledger as
    `HASH_VERIFIED` or `FIXITY_FAILED`.
    """
    with system.catalog.reading() as session:
        signed: dict[int, dict[str, Any]] = {}
        disposed: set[int] = set()
        events = _collecting_receipts(Ledger.iter_for_verification(session), signed, disposed)
        checkpoints, unreadable = load_checkpoints(system, session)
        report = VerificationReport(verify_ledger(events, system.public_keys(), checkpoints))
        for key in unreadable:
            report.problems.append(Problem("EX-LEDGER-CHECKPOINT", f"stored checkpoint {key} is unreadable"))
        query = select(Exhibit, Case.reference).join(Case, Exhibit.case_id == Case.id)
        if case_ref is None:
            authorize(system, session, actor, Permission.VERIFY_ALL)
        else:
            case = get_case(session, case_ref)
            authorize(system, session, actor, Permission.VIEW, case)
            query = query.where(Exhibit.case_id == case.id)
        in_scope: dict[str, tuple[StoredObject, Exhibit, str]] = {}
        for exhibit, reference in session.execute(query.order_by(Exhibit.id)):
            report.exhibits_checked += 1
            obj = exhibit.original
            if report.ledger.ok:  # receipts past a broken event are not trustworthy evidence either way
                report.problems.extend(_catalog_problems(exhibit, obj, signed))
            if exhibit.status == "disposed":
                if exhibit.id in disposed:
                    continue  # its objects were deleted on a recorded, approved disposal: nothing left to re-hash
                if report.ledger.ok:
                    report.problems.append(
                        Problem(
                            "EX-CATALOG-MISMATCH",
                            f"exhibit {exhibit.reference} is marked disposed but the ledger has no DISPOSED event",
                            exhibit.id,
                        )
                    )
            in_scope.setdefault(obj.sha256, (obj, exhibit, reference))
            # Later segments of a split original, derivatives and analysis tables are stored objects too, and
            # fixity covers them.
            made_from = select(Derivative.sha256).where(Derivative.exhibit_id == exhibit.id)
            tables = select(AnalysisResult.sha256).where(AnalysisResult.exhibit_id == exhibit.id)
            segments = select(ExhibitSegment.sha256).where(ExhibitSegment.exhibit_id == exhibit.id)
            for sha in session.execute(made_from.union(tables, segments)).scalars():
                derived = session.get(StoredObject, sha)
                if derived is not None:
                    in_scope.setdefault(sha, (derived, exhibit, reference))
    if not objects:
        return report
    if case_ref is None:
        # Bytes stored by a put whose catalog transaction never committed (a crash between the two): not
        # evidence of tampering, and the next ingest of the same file records them, but worth seeing.
        with system.catalog.reading() as session:
            known = set(session.execute(select(StoredObject.sha256)).scalars())
        report.unrecorded_objects = [sha for sha in system.store.iter_digests() if sha not in known]
    for sha256, (obj, exhibit, reference) in in_scope.items():
        report.objects_checked += 1
        if on_object is not None:
            on_object(sha256)
        result = _rehash(system, actor, obj.digests, reference, exhibit.id)
        if result.error is None:
            report.objects_verified += 1
        else:
            report.problems.append(Problem(result.error["code"], result.error["message"], exhibit.id, sha256))
    return report


def _collecting_receipts(
    events: Iterator[StoredEntry], receipts: dict[int, dict[str, Any]], disposed: set[int]
) -> Iterator[StoredEntry]:
    """Passes events through to verification, noting the digests each exhibit's first RECEIVED signed for, and
    the exhibits a DISPOSED event says are gone.

    Only events up to the first bad one are read, so the catalog is checked against the verified prefix.
    """
    for event in events:
        if (
            event.action == CustodyAction.RECEIVED.value
            and event.exhibit_id is not None
            and event.exhibit_id not in receipts
        ):
            with contextlib.suppress(ValueError):  # verification names such an event as malformed
                receipts[event.exhibit_id] = {"sha256": event.object_sha256, **event.parsed_details()}
        if event.action == CustodyAction.DISPOSED.value and event.exhibit_id is not None:
            disposed.add(event.exhibit_id)
        yield event


def _catalog_problems(exhibit: Exhibit, obj: StoredObject, signed: dict[int, dict[str, Any]]) -> list[Problem]:
    receipt = signed.get(exhibit.id)
    if receipt is None:
        return [Problem("EX-CATALOG-UNRECORDED", f"exhibit {exhibit.reference} has no RECEIVED event", exhibit.id)]
    differing = obj.differs_from_receipt(receipt)
    if exhibit.original_sha256 != receipt.get("sha256"):
        differing.append("original")
    if differing:
        return [
            Problem(
                "EX-CATALOG-MISMATCH",
                f"exhibit {exhibit.reference}: catalogued {', '.join(differing)} differ from the signed receipt",
                exhibit.id,
                obj.sha256,
            )
        ]
    return []


def _record_fixity(
    system: EvidenceSystem,
    action: CustodyAction,
    actor: Actor,
    case_ref: str,
    exhibit_id: int,
    sha256: str,
    details: dict[str, Any],
) -> None:
    system.record(
        action,
        actor=actor.name,
        role=actor.role,
        case_ref=case_ref,
        exhibit_id=exhibit_id,
        object_sha256=sha256,
        details={"store": system.store.backend.url, **details},
    )


def fixity_sweep(system: EvidenceSystem, actor: Actor) -> VerificationReport:
    """The nightly sweep (a Dagster schedule calls this): the whole ledger, and every stored object re-read,
    decrypted and re-hashed, each recorded as HASH_VERIFIED or FIXITY_FAILED."""
    return verify(system, actor, objects=True)


@dataclass(frozen=True, slots=True)
class FixityResult:
    """One object re-hashed: what the catalog expected, what the store gave back, and the error if any."""

    exhibit_id: int
    sha256: str
    expected: Digests
    observed: Digests | None
    error: dict[str, Any] | None

    @property
    def ok(self) -> bool:
        return self.error is None


def verify_exhibit_original(system: EvidenceSystem, actor: Actor, ident: str | int) -> FixityResult:
    """Re-reads, decrypts and re-hashes one exhibit's original (every segment of a split one); records
    HASH_VERIFIED or FIXITY_FAILED for each, and returns the first failure, or the first segment's result.

    Transient store failures (the store did not answer) raise instead: they say nothing about the bytes.
    """
    with system.catalog.reading() as session:
        exhibit = get_exhibit(session, ident)
        exhibit_id, case_ref = exhibit.id, exhibit.case.reference
        later = (
            select(StoredObject)
            .join(ExhibitSegment, ExhibitSegment.sha256 == StoredObject.sha256)
            .where(ExhibitSegment.exhibit_id == exhibit.id, ExhibitSegment.position > 0)
        )
        expected = [
            exhibit.original.digests,
            *(o.digests for o in session.execute(later.order_by(ExhibitSegment.position)).scalars()),
        ]
    results = [_rehash(system, actor, digests, case_ref, exhibit_id) for digests in expected]
    return next((r for r in results if not r.ok), results[0])


def _rehash(system: EvidenceSystem, actor: Actor, expected: Digests, case_ref: str, exhibit_id: int) -> FixityResult:
    """Re-reads, decrypts and re-hashes one stored object and records the outcome on the ledger."""
    try:
        observed = system.store.verify(expected.sha256, expected)
    except (StoreUnavailableError, StoreWriteError):
        # The store did not answer: that says nothing about the bytes, and must not put thousands of
        # FIXITY_FAILED events on the ledger during an outage. The caller stops here and is retried.
        raise
    except ExhibitError as exc:
        _record_fixity(system, CustodyAction.FIXITY_FAILED, actor, case_ref, exhibit_id, expected.sha256, exc.to_dict())
        return FixityResult(exhibit_id, expected.sha256, expected, None, exc.to_dict())
    _record_fixity(system, CustodyAction.HASH_VERIFIED, actor, case_ref, exhibit_id, expected.sha256, {})
    return FixityResult(exhibit_id, expected.sha256, expected, observed, None)
