"""Retention, legal hold and disposal: how long evidence is kept, what stops it going, and how it goes.

- Every exhibit has a retention class: its own (`exhibit_retention`) or its case's (`cases.retention_class`).
  A class gives either a disposal date (non-evidential BWV: 31 days from receipt; CPIA: from the case outcome)
  or a review date (MoPI groups), and the basis in words.
- A legal hold on a case or an exhibit blocks every disposal under it until a supervisor releases it.
- Disposal is two people: one requests it (a disclosure officer, a supervisor, or the retention sweep), a
  supervisor other than the requester approves it. Only then are the encrypted objects deleted (original,
  split segments, derivatives, analysis tables; any object another live exhibit still uses is kept and named),
  the exhibit is marked disposed, `DISPOSED` is recorded per exhibit, and a signed disposal certificate is kept.
- The sweep only ever *requests*: nothing is deleted by a sweep without that second person's approval.

Everything here is also a ledger event (RETENTION_SET, LEGAL_HOLD, DISPOSAL_REQUESTED, DISPOSAL_REVIEWED,
DISPOSED); the tables are for asking questions, the ledger is the history.
"""

from __future__ import annotations

import calendar
import hashlib
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from evidence_store.access import SERVICE, Actor, Permission, authorize
from evidence_store.cases import get_case, get_exhibit, qualified_exhibit
from evidence_store.catalog import (
    AnalysisResult,
    Case,
    CaseOutcome,
    CustodyEventRow,
    Derivative,
    DeviceFileIndex,
    DeviceFileIndexBuild,
    Disposal,
    Exhibit,
    ExhibitFact,
    ExhibitRetention,
    ExhibitSegment,
    HashSet,
    LegalHold,
    StoredObject,
)
from evidence_store.errors import DisposalRefusedError, NotFoundError
from evidence_store.ledger import CustodyEvent, canonical_json, format_time
from evidence_store.system import EvidenceSystem
from schemas.errors import InputError
from schemas.records import CustodyAction

CERTIFICATE_FORMAT = "exhibit-disposal-certificate/1"
# Distinct from every other signed thing (events, checkpoints, bundle manifests): never replayable as one.
CERTIFICATE_DOMAIN = b"exhibit.disposal-certificate.v1\x00"
DISPOSED = "disposed"
OUTCOMES = ("no_further_action", "discontinued", "acquitted", "convicted")
SWEEP_REASON = "retention period ended"


@dataclass(frozen=True, slots=True)
class RetentionClass:
    name: str
    title: str
    basis: str
    rule: str  # "days_from_receipt", "cpia", "review"
    days: int = 0
    review_years: int = 0


RETENTION_CLASSES: dict[str, RetentionClass] = {
    c.name: c
    for c in (
        RetentionClass(
            "standard",
            "CPIA: kept until the case outcome",
            "CPIA 1996 Code of Practice, paras 5.7-5.10: retained until a decision not to prosecute, an acquittal "
            "or discontinuance; after a conviction, until the convicted person is released from custody or six "
            "months from the conviction, whichever is later",
            "cpia",
        ),
        RetentionClass(
            "bwv-non-evidential",
            "Body-worn video, non-evidential: 31 days",
            "force BWV policy: footage not marked evidential is deleted 31 days after upload",
            "days_from_receipt",
            days=31,
        ),
        RetentionClass(
            "mopi-1",
            "MoPI group 1: certain public protection matters",
            "APP Management of Police Information, group 1: retained until the subject is deemed 100 years old, "
            "reviewed every 10 years",
            "review",
            review_years=10,
        ),
        RetentionClass(
            "mopi-2",
            "MoPI group 2: other sexual, violent or serious offences",
            "APP Management of Police Information, group 2: reviewed every 10 years",
            "review",
            review_years=10,
        ),
        RetentionClass(
            "mopi-3",
            "MoPI group 3: all other offences",
            "APP Management of Police Information, group 3: an initial six-year clear period, then review",
            "review",
            review_years=6,
        ),
    )
}


def _now() -> str:
    return format_time(datetime.now(UTC))


def _today() -> date:
    return datetime.now(UTC).date()


def _add_years(start: date, years: int) -> date:
    return _add_months(start, 12 * years)


def _add_months(start: date, months: int) -> date:
    month = start.month - 1 + months
    year, month = start.year + month // 12, month % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _date(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text[:10])
    except ValueError as exc:
        raise InputError(f"{what} {text!r} is not a date (YYYY-MM-DD)") from exc


def _class(name: str) -> RetentionClass:
    found = RETENTION_CLASSES.get(name)
    if found is None:
        raise InputError(f"no retention class {name!r}: choose one of {', '.join(RETENTION_CLASSES)}")
    return found


@dataclass(frozen=True, slots=True)
class RetentionState:
    """Where one exhibit stands: its class, when it may go (or be reviewed), and what, if anything, stops it."""

    exhibit_id: int
    exhibit_ref: str
    kind: str
    retention_class: str
    class_from: str  # "exhibit" or "case"
    basis: str
    due: str | None  # disposal date, or review date for review classes
    due_kind: str | None  # "disposal" or "review"
    waiting_for: str | None  # why there is no date yet
    holds: tuple[int, ...]
    open_request: int | None
    disposed: bool

    def is_due(self, today: date) -> bool:
        """Its disposal (or review) date has come."""
        return self.due is not None and date.fromisoformat(self.due) <= today

    def eligible(self, today: date) -> bool:
        """May be requested for disposal without --before-due: due (or review due), not held, not disposed."""
        return not self.disposed and not self.holds and self.is_due(today)

    def due_text(self) -> str:
        return f"{self.due_kind} {self.due}" if self.due else f"waits for {self.waiting_for}"

    def state_text(self, today: date) -> str:
        if self.disposed:
            return "disposed"
        return "held" if self.holds else "eligible" if self.eligible(today) else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "exhibit_id": self.exhibit_id,
            "exhibit": self.exhibit_ref,
            "kind": self.kind,
            "retention_class": self.retention_class,
            "class_from": self.class_from,
            "basis": self.basis,
            "due": self.due,
            "due_kind": self.due_kind,
            "waiting_for": self.waiting_for,
            "legal_holds": list(self.holds),
            "open_request": self.open_request,
            "disposed": self.disposed,
        }


def _outcome(session: Session, case_id: int) -> CaseOutcome | None:
    return session.execute(
        select(CaseOutcome).where(CaseOutcome.case_id == case_id).order_by(CaseOutcome.id.desc()).limit(1)
    ).scalar_one_or_none()


def _due(
    rule: RetentionClass, received: date, outcome: CaseOutcome | None, since: date | None
) -> tuple[date | None, str | None, str | None]:
    """(date, "disposal"/"review", None) or (None, None, what we are waiting for)."""
    if rule.rule == "days_from_receipt":
        return received + timedelta(days=rule.days), "disposal", None
    if rule.rule == "review":
        # Reviews count from the outcome, or from the newest decision to keep the exhibit in this class.
        start = max(d for d in (received, since, _date(outcome.outcome_date, "outcome") if outcome else None) if d)
        return _add_years(start, rule.review_years), "review", None
    if outcome is None:
        return None, None, "the case outcome"
    decided = _date(outcome.outcome_date, "outcome date")
    if outcome.outcome != "convicted":
        return decided, "disposal", None
    six_months = _add_months(decided, 6)
    if outcome.release_date is None:
        return None, None, f"the convicted person's release (and not before {six_months.isoformat()})"
    return max(six_months, _date(outcome.release_date, "release date")), "disposal", None


def _states(session: Session, case: Case, exhibits: Sequence[Exhibit]) -> list[RetentionState]:
    outcome = _outcome(session, case.id)
    own = {
        r.exhibit_id: r
        for r in session.execute(
            select(ExhibitRetention).where(ExhibitRetention.exhibit_id.in_([e.id for e in exhibits]))
        ).scalars()
    }
    holds = session.execute(
        select(LegalHold).where(LegalHold.case_id == case.id, LegalHold.released_at.is_(None))
    ).scalars()
    case_holds = []
    exhibit_holds: dict[int, list[int]] = {}
    for hold in holds:
        if hold.exhibit_id is None:
            case_holds.append(hold.id)
        else:
            exhibit_holds.setdefault(hold.exhibit_id, []).append(hold.id)
    requests = {
        d.exhibit_id: d.id
        for d in session.execute(
            select(Disposal).where(Disposal.case_id == case.id, Disposal.status.in_(("requested", "approved")))
        ).scalars()
    }
    parents = {e.id: e.parent_id for e in exhibits}
    states: list[RetentionState] = []
    for exhibit in exhibits:
        setting = own.get(exhibit.id)
        name = setting.retention_class if setting else case.retention_class
        rule = _class(name)
        since = _date(setting.set_at, "set at") if setting else None
        due, due_kind, waiting = _due(rule, _date(exhibit.received_at, "received"), outcome, since)
        # A hold on a device image covers the files extracted from it.
        held: list[int] = list(case_holds)
        ancestor: int | None = exhibit.id
        while ancestor is not None:
            held += exhibit_holds.get(ancestor, [])
            ancestor = parents.get(ancestor)
        states.append(
            RetentionState(
                exhibit_id=exhibit.id,
                exhibit_ref=exhibit.reference,
                kind=exhibit.kind,
                retention_class=name,
                class_from="exhibit" if setting else "case",
                basis=rule.basis,
                due=due.isoformat() if due else None,
                due_kind=due_kind,
                waiting_for=waiting,
                holds=tuple(sorted(held)),
                open_request=requests.get(exhibit.id),
                disposed=exhibit.status == DISPOSED,
            )
        )
    return states


def retention_status(system: EvidenceSystem, actor: Actor, case_ref: str) -> list[RetentionState]:
    """Every exhibit of the case with its retention class, due date, holds and any open disposal request."""
    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        authorize(system, session, actor, Permission.VIEW, case)
        exhibits = session.execute(select(Exhibit).where(Exhibit.case_id == case.id).order_by(Exhibit.id)).scalars()
        return _states(session, case, list(exhibits))


@contextmanager
def _changing(
    system: EvidenceSystem, actor: Actor, case_ref: str, permission: Permission, reason: str | None = None
) -> Iterator[tuple[Session, Case]]:
    with system.catalog.reading() as session:
        authorize(system, session, actor, permission, get_case(session, case_ref), reason=reason)
    with system.catalog.transaction() as session:
        system.ledger.lock(session)
        yield session, get_case(session, case_ref)


def _record(
    system: EvidenceSystem,
    session: Session,
    actor: Actor,
    action: CustodyAction,
    case: Case,
    *,
    details: dict[str, Any],
    exhibit_id: int | None = None,
    object_sha256: str | None = None,
    reason: str | None = None,
) -> CustodyEvent:
    return system.ledger.append(
        session,
        action,
        actor=actor.name,
        role=actor.role,
        case_ref=case.reference,
        exhibit_id=exhibit_id,
        object_sha256=object_sha256,
        reason=reason,
        details=details,
    )


def _exhibit_of(session: Session, case: Case, ident: str | int) -> Exhibit:
    exhibit = get_exhibit(session, qualified_exhibit(case, ident))
    if exhibit.case_id != case.id:
        raise NotFoundError(f"exhibit {exhibit.reference} is not in case {case.reference}")
    return exhibit


def set_retention(
    system: EvidenceSystem,
    actor: Actor,
    case_ref: str,
    retention_class: str,
    *,
    exhibit: str | int | None = None,
    reason: str | None = None,
) -> str:
    """Sets the case's retention class, or with `exhibit` that exhibit's own; returns the class set."""
    rule = _class(retention_class)
    with _changing(system, actor, case_ref, Permission.RETAIN) as (session, case):
        target = _exhibit_of(session, case, exhibit) if exhibit is not None else None
        previous: str | None
        if target is None:
            previous = case.retention_class
            case.retention_class = rule.name
        else:
            row = session.get(ExhibitRetention, target.id)
            previous = row.retention_class if row else None
            session.merge(
                ExhibitRetention(exhibit_id=target.id, retention_class=rule.name, set_by=actor.name, set_at=_now())
            )
        _record(
            system,
            session,
            actor,
            CustodyAction.RETENTION_SET,
            case,
            exhibit_id=target.id if target else None,
            reason=reason,
            details={"retention_class": rule.name, "previous": previous, "basis": rule.basis},
        )
    return rule.name


def record_outcome(
    system: EvidenceSystem,
    actor: Actor,
    case_ref: str,
    outcome: str,
    outcome_date: str,
    *,
    release_date: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Records how the case ended (which starts CPIA retention periods), or a later release date."""
    if outcome not in OUTCOMES:
        raise InputError(f"outcome {outcome!r}: choose one of {', '.join(OUTCOMES)}")
    decided = _date(outcome_date, "outcome date")
    released = _date(release_date, "release date") if release_date else None
    if released and outcome != "convicted":
        raise InputError("a release date follows a conviction only")
    if released and released < decided:
        raise InputError("the release date is before the outcome date")
    with _changing(system, actor, case_ref, Permission.RETAIN) as (session, case):
        row = CaseOutcome(
            case_id=case.id,
            outcome=outcome,
            outcome_date=decided.isoformat(),
            release_date=released.isoformat() if released else None,
            recorded_by=actor.name,
            recorded_at=_now(),
        )
        session.add(row)
        details = {"outcome": outcome, "outcome_date": row.outcome_date, "release_date": row.release_date}
        _record(
            system,
            session,
            actor,
            CustodyAction.RETENTION_SET,
            case,
            reason=reason,
            details=details,
        )
    return details


def place_hold(
    system: EvidenceSystem,
    actor: Actor,
    case_ref: str,
    *,
    reason: str,
    exhibit: str | int | None = None,
    authority: str | None = None,
) -> int:
    """Places a legal hold on the case, or on one exhibit (and the files extracted from it); returns its id."""
    if not reason.strip():
        raise InputError("a legal hold needs its reason (--reason)")
    with _changing(system, actor, case_ref, Permission.RETAIN) as (session, case):
        target = _exhibit_of(session, case, exhibit) if exhibit is not None else None
        hold = LegalHold(
            case_id=case.id,
            exhibit_id=target.id if target else None,
            reason=reason.strip(),
            authority=(authority or "").strip() or None,
            placed_by=actor.name,
            placed_at=_now(),
        )
        session.add(hold)
        session.flush()
        _record(
            system,
            session,
            actor,
            CustodyAction.LEGAL_HOLD,
            case,
            exhibit_id=hold.exhibit_id,
            reason=hold.reason,
            details={"hold": hold.id, "change": "placed", "authority": hold.authority},
        )
        return hold.id


def release_hold(system: EvidenceSystem, actor: Actor, case_ref: str, hold_id: int, *, reason: str) -> None:
    """Releases a legal hold (a supervisor, with the reason): disposal under it becomes possible again."""
    with _changing(system, actor, case_ref, Permission.APPROVE_DISPOSAL, reason=reason) as (session, case):
        hold = session.get(LegalHold, hold_id)
        if hold is None or hold.case_id != case.id:
            raise NotFoundError(f"no legal hold {hold_id} on case {case.reference}")
        if hold.released_at is not None:
            raise DisposalRefusedError(f"legal hold {hold_id} was already released by {hold.released_by}")
        hold.released_by, hold.released_at, hold.release_reason = actor.name, _now(), reason.strip()
        _record(
            system,
            session,
            actor,
            CustodyAction.LEGAL_HOLD,
            case,
            exhibit_id=hold.exhibit_id,
            reason=reason,
            details={"hold": hold.id, "change": "released"},
        )


def list_holds(system: EvidenceSystem, actor: Actor, case_ref: str) -> list[dict[str, Any]]:
    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        authorize(system, session, actor, Permission.VIEW, case)
        rows = session.execute(select(LegalHold).where(LegalHold.case_id == case.id).order_by(LegalHold.id)).scalars()
        refs = {
            i: r for i, r in session.execute(select(Exhibit.id, Exhibit.reference).where(Exhibit.case_id == case.id))
        }
        return [
            {
                "id": h.id,
                "exhibit": refs.get(h.exhibit_id) if h.exhibit_id else None,
                "reason": h.reason,
                "authority": h.authority,
                "placed_by": h.placed_by,
                "placed_at": h.placed_at,
                "released_by": h.released_by,
                "released_at": h.released_at,
                "release_reason": h.release_reason,
                "active": h.released_at is None,
            }
            for h in rows
        ]


@dataclass(frozen=True, slots=True)
class DisposalRequest:
    id: int
    case_ref: str
    exhibit_ref: str
    status: str
    reason: str
    before_due: bool
    requested_by: str
    requested_at: str
    decided_by: str | None
    decided_at: str | None
    decision_reason: str | None
    certificate: dict[str, Any] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "case": self.case_ref,
            "exhibit": self.exhibit_ref,
            "status": self.status,
            "reason": self.reason,
            "before_due": self.before_due,
            "requested_by": self.requested_by,
            "requested_at": self.requested_at,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at,
            "decision_reason": self.decision_reason,
            "certificate_sha256": certificate_digest(self.certificate) if self.certificate else None,
        }


def _request(session: Session, row: Disposal) -> DisposalRequest:
    case = session.get(Case, row.case_id)
    exhibit = session.get(Exhibit, row.exhibit_id)
    assert case is not None and exhibit is not None
    return DisposalRequest(
        row.id,
        case.reference,
        exhibit.reference,
        row.status,
        row.reason,
        row.before_due,
        row.requested_by,
        row.requested_at,
        row.decided_by,
        row.decided_at,
        row.decision_reason,
        row.certificate,
    )


def _state_of(session: Session, case: Case, exhibit: Exhibit) -> RetentionState:
    """The exhibit's state; a hold on any exhibit extracted from it counts too, since disposal takes them all."""
    everything = session.execute(select(Exhibit).where(Exhibit.case_id == case.id)).scalars().all()
    states = {s.exhibit_id: s for s in _states(session, case, everything)}
    own = states[exhibit.id]
    held = {hold for member in _family(session, exhibit) for hold in states[member.id].holds}
    return own if held <= set(own.holds) else replace(own, holds=tuple(sorted(held)))


def _refuse_if_held(state: RetentionState) -> None:
    if state.holds:
        raise DisposalRefusedError(
            f"exhibit {state.exhibit_ref} is under legal hold {', '.join(map(str, state.holds))}: "
            "a supervisor must release the hold first"
        )


def _refuse_unless_disposable(state: RetentionState, before_due: bool, today: date) -> None:
    if state.disposed:
        raise DisposalRefusedError(f"exhibit {state.exhibit_ref} was already disposed of")
    _refuse_if_held(state)
    if not before_due and not state.eligible(today):
        when = f"{state.due_kind} is due {state.due}" if state.due else f"it waits for {state.waiting_for}"
        raise DisposalRefusedError(
            f"exhibit {state.exhibit_ref} is not yet due for disposal under {state.retention_class} ({when}); "
            "request it --before-due, with the reason, if it must go sooner"
        )


def request_disposal(
    system: EvidenceSystem,
    actor: Actor,
    case_ref: str,
    exhibit: str | int,
    *,
    reason: str,
    before_due: bool = False,
    today: date | None = None,
) -> DisposalRequest:
    """Asks for an exhibit (with the files extracted from it) to be disposed of. Deletes nothing.

    Raises:
        DisposalRefusedError: disposed already, under legal hold, already requested, or not yet due (without
            `before_due`).
    """
    if not reason.strip():
        raise InputError("a disposal request needs its reason (--reason)")
    with _changing(system, actor, case_ref, Permission.RETAIN) as (session, case):
        target = _exhibit_of(session, case, exhibit)
        state = _state_of(session, case, target)
        if state.open_request is not None:
            raise DisposalRefusedError(f"exhibit {target.reference} already has disposal request {state.open_request}")
        _refuse_unless_disposable(state, before_due, today or _today())
        return _add_request(system, session, actor, case, target, state, reason.strip(), before_due)


def _add_request(
    system: EvidenceSystem,
    session: Session,
    actor: Actor,
    case: Case,
    target: Exhibit,
    state: RetentionState,
    reason: str,
    before_due: bool,
) -> DisposalRequest:
    row = Disposal(
        case_id=case.id,
        exhibit_id=target.id,
        status="requested",
        reason=reason,
        before_due=before_due,
        requested_by=actor.name,
        requested_at=_now(),
    )
    session.add(row)
    session.flush()
    _record(
        system,
        session,
        actor,
        CustodyAction.DISPOSAL_REQUESTED,
        case,
        exhibit_id=target.id,
        object_sha256=target.original_sha256,
        reason=reason,
        details={
            "request": row.id,
            "retention_class": state.retention_class,
            "due": state.due,
            "before_due": before_due,
        },
    )
    return _request(session, row)


def list_disposals(system: EvidenceSystem, actor: Actor, case_ref: str) -> list[DisposalRequest]:
    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        authorize(system, session, actor, Permission.VIEW, case)
        rows = session.execute(select(Disposal).where(Disposal.case_id == case.id).order_by(Disposal.id)).scalars()
        return [_request(session, row) for row in rows]


def _family(session: Session, root: Exhibit) -> list[Exhibit]:
    """The exhibit and every exhibit extracted from it, at any depth, not yet disposed of."""
    found, frontier = [root], [root.id]
    while frontier:
        children = session.execute(select(Exhibit).where(Exhibit.parent_id.in_(frontier))).scalars().all()
        found += children
        frontier = [c.id for c in children]
    return [e for e in found if e.status != DISPOSED]


def _objects_of(session: Session, ids: Sequence[int]) -> dict[str, str]:
    """Every stored object made for these exhibits, by SHA-256, with what it is."""
    made: dict[str, str] = {}
    for exhibit in session.execute(select(Exhibit).where(Exhibit.id.in_(ids))).scalars():
        made.setdefault(exhibit.original_sha256, "original")
    for (sha,) in session.execute(select(ExhibitSegment.sha256).where(ExhibitSegment.exhibit_id.in_(ids))):
        made.setdefault(sha, "original segment")
    for sha, role in session.execute(select(Derivative.sha256, Derivative.role).where(Derivative.exhibit_id.in_(ids))):
        made.setdefault(sha, f"derivative: {role}")
    tables = select(AnalysisResult.sha256, AnalysisResult.table_name).where(AnalysisResult.exhibit_id.in_(ids))
    for sha, table in session.execute(tables):
        made.setdefault(sha, f"analysis table: {table}")
    return made


def _still_used(session: Session, shas: Sequence[str], leaving: Sequence[int]) -> dict[str, list[str]]:
    """Objects among `shas` that something staying still uses (content addressing shares identical bytes)."""
    live = select(Exhibit.id).where(Exhibit.status != DISPOSED, Exhibit.id.not_in(leaving))
    users: dict[str, list[str]] = {}

    def note(rows: Any) -> None:
        for sha, who in rows:
            users.setdefault(sha, []).append(who)

    label = Case.reference + ":" + Exhibit.reference
    base = select(Exhibit.original_sha256, label).join(Case, Case.id == Exhibit.case_id)
    note(session.execute(base.where(Exhibit.id.in_(live), Exhibit.original_sha256.in_(shas))))
    for model in (ExhibitSegment, Derivative, AnalysisResult):
        note(
            session.execute(
                select(model.sha256, label)
                .join(Exhibit, Exhibit.id == model.exhibit_id)
                .join(Case, Case.id == Exhibit.case_id)
                .where(model.exhibit_id.in_(live), model.sha256.in_(shas))
            )
        )
    case_tables = select(AnalysisResult.sha256, "case table " + AnalysisResult.table_name).where(
        AnalysisResult.exhibit_id.is_(None), AnalysisResult.sha256.in_(shas)
    )
    note(session.execute(case_tables))
    note(
        session.execute(
            select(HashSet.source_sha256, "hash set " + HashSet.name).where(HashSet.source_sha256.in_(shas))
        )
    )
    return {sha: sorted(set(who)) for sha, who in users.items()}


def decide_disposal(
    system: EvidenceSystem,
    actor: Actor,
    request_id: int,
    *,
    approve: bool,
    reason: str,
    today: date | None = None,
) -> DisposalRequest:
    """A second person's decision on a disposal request; approval carries the disposal out.

    What will be deleted is decided with the approval, under the ledger lock, and recorded with it
    (DISPOSAL_REVIEWED lists the objects); deleting follows; DISPOSED events and the certificate close it. If
    deleting fails (the store down), the request stays approved and deciding to approve it again finishes it,
    once no legal hold stands in the way; an approved request can no longer be rejected.

    Raises:
        AccessDeniedError: not a supervisor of the case, or no reason (recorded).
        DisposalRefusedError: the requester deciding their own request, the person who made a swept exhibit
            due approving it, the service deciding, the request already decided, or a legal hold.
    """
    with system.catalog.reading() as session:
        row = session.get(Disposal, request_id)
        if row is None:
            raise NotFoundError(f"no disposal request {request_id}")
        case = session.get(Case, row.case_id)
        assert case is not None
        case_ref = case.reference
    if actor.is_service:
        raise DisposalRefusedError("the service cannot decide a disposal: a supervisor must")
    with _changing(system, actor, case_ref, Permission.APPROVE_DISPOSAL, reason=reason) as (session, case):
        row = session.get(Disposal, request_id)
        assert row is not None
        if row.requested_by == actor.name:
            raise DisposalRefusedError(f"{actor.name} requested disposal {request_id}: a second person must decide it")
        if row.status not in ("requested", "approved"):
            raise DisposalRefusedError(f"disposal request {request_id} was already {row.status} by {row.decided_by}")
        if row.status == "approved" and not approve:
            raise DisposalRefusedError(
                f"disposal {request_id} was approved by {row.decided_by} and has begun: it can only be finished"
            )
        target = session.get(Exhibit, row.exhibit_id)
        assert target is not None
        state = _state_of(session, case, target)
        if row.status == "approved":
            _refuse_if_held(state)
        else:
            if approve:
                _refuse_unless_disposable(state, row.before_due, today or _today())
                made_due_by = _retention_author(session, case, target)
                if row.requested_by == SERVICE.name and made_due_by == actor.name:
                    raise DisposalRefusedError(
                        f"{actor.name} set the retention that made {target.reference} due: a second supervisor "
                        "must approve the sweep's request"
                    )
                row.plan = _plan(session, target)
            row.status = "approved" if approve else "rejected"
            row.decided_by, row.decided_at, row.decision_reason = actor.name, _now(), reason.strip()
            _record(
                system,
                session,
                actor,
                CustodyAction.DISPOSAL_REVIEWED,
                case,
                exhibit_id=target.id,
                object_sha256=target.original_sha256,
                reason=reason,
                details={
                    "request": row.id,
                    "decision": row.status,
                    "requested_by": row.requested_by,
                    "objects_to_delete": sorted(_to_delete(row.plan)) if approve else [],
                },
            )
            if not approve:
                return _request(session, row)
    # The approval, and the list of what goes, are committed before anything is deleted: a failure while
    # deleting leaves an approved request that is finished later, never a deletion with no approval on record.
    return _carry_out(system, actor, request_id)


def _retention_author(session: Session, case: Case, exhibit: Exhibit) -> str | None:
    """Who last set the retention class or the outcome that applies to the exhibit."""
    return session.execute(
        select(CustodyEventRow.actor)
        .where(
            CustodyEventRow.action == CustodyAction.RETENTION_SET.value,
            CustodyEventRow.case_ref == case.reference,
            or_(CustodyEventRow.exhibit_id == exhibit.id, CustodyEventRow.exhibit_id.is_(None)),
        )
        .order_by(CustodyEventRow.seq.desc())
        .limit(1)
    ).scalar_one_or_none()


def _plan(session: Session, target: Exhibit) -> dict[str, Any]:
    """What the disposal of `target` deletes, decided once: per exhibit (it and its extracted files) the objects
    made for it, those another live exhibit, case table or hash set still uses, and the store keys."""
    ids = [e.id for e in _family(session, target)]
    per_exhibit = {str(i): _objects_of(session, [i]) for i in ids}
    objects = {sha for made in per_exhibit.values() for sha in made}
    kept = _still_used(session, list(objects), ids)
    found = select(StoredObject.sha256, StoredObject.store_key).where(StoredObject.sha256.in_(list(objects)))
    keys = {sha: key for sha, key in session.execute(found)}
    return {
        "exhibits": per_exhibit,
        "kept": kept,
        "keys": {sha: key for sha, key in keys.items() if sha not in kept},
    }


def _to_delete(plan: dict[str, Any] | None) -> set[str]:
    return set((plan or {}).get("keys", {}))


def _carry_out(system: EvidenceSystem, actor: Actor, request_id: int) -> DisposalRequest:
    with system.catalog.reading() as session:
        row = session.get(Disposal, request_id)
        assert row is not None and row.status == "approved" and row.plan is not None
        plan = row.plan
    for key in plan["keys"].values():
        system.store.backend.delete(key)
    with system.catalog.transaction() as session:
        system.ledger.lock(session)
        row = session.get(Disposal, request_id)
        assert row is not None
        if row.status != "approved":  # finished meanwhile by another call
            return _request(session, row)
        case = session.get(Case, row.case_id)
        assert case is not None
        kept: dict[str, list[str]] = plan["kept"]
        deleted_all = _to_delete(plan)
        for stored in session.execute(select(StoredObject).where(StoredObject.sha256.in_(deleted_all))).scalars():
            # The catalog's copy of the wrapped data key goes too: with the master key it would open a backup.
            stored.envelope = {**stored.envelope, "wrapped_key": None, "disposed": True}
        events = []
        exhibits = []
        ids = [int(i) for i in plan["exhibits"]]
        for exhibit in session.execute(select(Exhibit).where(Exhibit.id.in_(ids)).order_by(Exhibit.id)).scalars():
            mine: dict[str, str] = plan["exhibits"][str(exhibit.id)]
            deleted = sorted(sha for sha in mine if sha in deleted_all)
            held = {sha: kept[sha] for sha in sorted(mine) if sha in kept}
            exhibit.status = DISPOSED
            # Indexes made from the exhibit's contents go with it; its catalog record and ledger history stay.
            session.execute(delete(ExhibitFact).where(ExhibitFact.exhibit_id == exhibit.id))
            session.execute(delete(DeviceFileIndex).where(DeviceFileIndex.exhibit_id == exhibit.id))
            session.execute(delete(DeviceFileIndexBuild).where(DeviceFileIndexBuild.exhibit_id == exhibit.id))
            event = _record(
                system,
                session,
                actor,
                CustodyAction.DISPOSED,
                case,
                exhibit_id=exhibit.id,
                object_sha256=exhibit.original_sha256,
                reason=row.decision_reason,
                details={
                    "request": row.id,
                    "requested_by": row.requested_by,
                    "approved_by": row.decided_by,
                    "objects_deleted": deleted,
                    "objects_kept": held,
                },
            )
            events.append({"seq": event.seq, "action": event.action, "entry_hash": event.entry_hash})
            original = session.get(StoredObject, exhibit.original_sha256)
            assert original is not None
            exhibits.append(
                {
                    "exhibit": exhibit.reference,
                    "exhibit_id": exhibit.id,
                    "kind": exhibit.kind,
                    "description": exhibit.description,
                    "original": {
                        "sha256": original.sha256,
                        "md5": original.md5,
                        "sha1": original.sha1,
                        "size": original.size,
                    },
                    "objects_deleted": [{"sha256": sha, "what": mine[sha]} for sha in deleted],
                    "objects_kept": [
                        {"sha256": sha, "what": mine[sha], "still_used_by": who} for sha, who in held.items()
                    ],
                }
            )
        # Requests for the extracted files went with this one.
        others = select(Disposal).where(
            Disposal.exhibit_id.in_(ids), Disposal.id != row.id, Disposal.status.in_(("requested", "approved"))
        )
        for other in session.execute(others).scalars():
            other.status, other.decided_by, other.decided_at = "superseded", actor.name, _now()
            other.decision_reason = f"disposed of with request {row.id}"
        state = _state_of(session, case, session.get(Exhibit, row.exhibit_id))  # type: ignore[arg-type]
        certificate = {
            "format": CERTIFICATE_FORMAT,
            "certificate": f"{case.reference}/disposal/{row.id}",
            "case": {"reference": case.reference, "title": case.title},
            "exhibits": exhibits,
            "retention": {
                "class": state.retention_class,
                "basis": state.basis,
                "due": state.due,
                "before_due": row.before_due,
            },
            "requested": {"by": row.requested_by, "at": row.requested_at, "reason": row.reason},
            "approved": {"by": row.decided_by, "at": row.decided_at, "reason": row.decision_reason},
            "store": system.store.backend.url,
            "method": "encrypted objects deleted from the object store, and the catalog's copy of each one's "
            "wrapped data key erased (on a versioned S3 bucket, earlier versions are the bucket owner's to purge)",
            "ledger_events": events,
            "issued_at": _now(),
        }
        row.certificate = sign_certificate(system, certificate)
        row.status = DISPOSED
        return _request(session, row)


def sign_certificate(system: EvidenceSystem, body: dict[str, Any]) -> dict[str, Any]:
    key = system.ledger.signing_key
    signed = {**body, "key_id": key.key_id, "public_key": key.public_pem()}
    return {**signed, "signature": key.sign(CERTIFICATE_DOMAIN + canonical_json(signed)).hex()}


def certificate_digest(certificate: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(certificate)).hexdigest()


@dataclass(frozen=True, slots=True)
class CertificateCheck:
    ok: bool
    reason: str


def verify_certificate(certificate: dict[str, Any], trusted_keys: dict[str, bytes]) -> CertificateCheck:
    """Checks a certificate's signature against the service's public keys (by key id)."""
    body = {k: v for k, v in certificate.items() if k != "signature"}
    if certificate.get("format") != CERTIFICATE_FORMAT:
        return CertificateCheck(False, f"not a disposal certificate (format {certificate.get('format')!r})")
    raw = trusted_keys.get(str(certificate.get("key_id")))
    if raw is None:
        return CertificateCheck(False, f"signed by key {certificate.get('key_id')}, which is not one of ours")
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(
            bytes.fromhex(str(certificate.get("signature"))), CERTIFICATE_DOMAIN + canonical_json(body)
        )
    except (InvalidSignature, ValueError):
        return CertificateCheck(False, "the signature does not match the certificate: it was altered")
    return CertificateCheck(True, f"signed by {certificate['key_id']}")


def get_certificate(system: EvidenceSystem, actor: Actor, request_id: int) -> dict[str, Any]:
    with system.catalog.reading() as session:
        row = session.get(Disposal, request_id)
        if row is None:
            raise NotFoundError(f"no disposal request {request_id}")
        authorize(system, session, actor, Permission.VIEW, session.get(Case, row.case_id))
        if row.certificate is None:
            raise NotFoundError(f"disposal request {request_id} is {row.status}: there is no certificate")
        return dict(row.certificate)


def certificate_text(certificate: dict[str, Any]) -> str:
    lines = [
        f"CERTIFICATE OF DISPOSAL {certificate['certificate']}",
        f"Case {certificate['case']['reference']}: {certificate['case']['title']}",
        "",
    ]
    for item in certificate["exhibits"]:
        original = item["original"]
        lines += [
            f"Exhibit {item['exhibit']} ({item['kind']}): {item['description'] or ''}".rstrip(),
            f"  original: {original['size']} bytes, SHA-256 {original['sha256']}, MD5 {original['md5']}",
            f"  {len(item['objects_deleted'])} stored object(s) deleted",
            *(
                f"  kept {k['sha256'][:16]}… ({k['what']}): still used by {', '.join(k['still_used_by'])}"
                for k in item["objects_kept"]
            ),
        ]
    retention = certificate["retention"]
    lines += [
        "",
        f"Retention class: {retention['class']} ({retention['basis']})",
        f"Due: {retention['due'] or 'no date'}" + ("; disposed BEFORE it was due" if retention["before_due"] else ""),
        f"Requested by {certificate['requested']['by']} at {certificate['requested']['at']}: "
        f"{certificate['requested']['reason']}",
        f"Approved by {certificate['approved']['by']} at {certificate['approved']['at']}: "
        f"{certificate['approved']['reason']}",
        f"Method: {certificate['method']}",
        f"Store: {certificate['store']}",
        "Ledger: "
        + ", ".join(f"{e['action']} #{e['seq']} ({e['entry_hash'][:16]}…)" for e in certificate["ledger_events"]),
        f"Issued {certificate['issued_at']}, signed by {certificate['key_id']}",
        "",
    ]
    return "\n".join(lines)


def certificate_pdf(certificate: dict[str, Any]) -> bytes:
    """The certificate on an A4 page (the signed JSON remains the authoritative copy)."""
    from xml.sax.saxutils import escape

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    styles = getSampleStyleSheet()
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, title=certificate["certificate"]
    )
    lines = certificate_text(certificate).splitlines()
    story: list[Any] = [Paragraph(f"<b>{escape(lines[0])}</b>", styles["Heading2"])]
    story += [Paragraph(escape(line), styles["BodyText"]) if line else Spacer(1, 4 * mm) for line in lines[1:]]
    story += [Spacer(1, 6 * mm), Paragraph(f"Signature: {'_' * 40}   Date: {'_' * 12}", styles["BodyText"])]
    document.build(story)
    return out.getvalue()


@dataclass(slots=True)
class SweepReport:
    requested: list[dict[str, Any]] = field(default_factory=list)
    held: list[dict[str, Any]] = field(default_factory=list)
    reviews_due: list[dict[str, Any]] = field(default_factory=list)
    waiting: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "requested": self.requested,
            "held": self.held,
            "reviews_due": self.reviews_due,
            "waiting": self.waiting,
        }


def retention_sweep(system: EvidenceSystem, actor: Actor = SERVICE, today: date | None = None) -> SweepReport:
    """Finds what retention says may go and *requests* its disposal; a supervisor must still approve each.

    Exhibits under legal hold are listed, not requested; MoPI reviews that are due are listed for a person to
    decide (keep: set the class again; or request disposal). Nothing is deleted here.
    """
    today = today or _today()
    report = SweepReport()
    with system.catalog.reading() as session:
        cases = session.execute(select(Case).order_by(Case.id)).scalars().all()
        for case in cases:
            authorize(system, session, actor, Permission.RETAIN, case)
    for case in cases:
        with system.catalog.transaction() as session:
            system.ledger.lock(session)
            live = (
                session.execute(
                    select(Exhibit).where(Exhibit.case_id == case.id, Exhibit.status != DISPOSED).order_by(Exhibit.id)
                )
                .scalars()
                .all()
            )
            fresh = session.get(Case, case.id)
            assert fresh is not None
            for state in _states(session, fresh, live):
                if not state.is_due(today):
                    report.waiting += 1
                    continue
                if state.open_request is not None:
                    continue
                exhibit = session.get(Exhibit, state.exhibit_id)
                assert exhibit is not None
                state = _state_of(session, fresh, exhibit)  # holds on its extracted files count too
                entry = {"case": case.reference, **state.to_dict()}
                if state.holds:
                    report.held.append(entry)
                elif state.due_kind == "review":
                    report.reviews_due.append(entry)
                else:
                    reason = f"{SWEEP_REASON} ({state.retention_class}, due {state.due})"
                    request = _add_request(system, session, actor, fresh, exhibit, state, reason, False)
                    report.requested.append({**entry, "request": request.id})
    return report
