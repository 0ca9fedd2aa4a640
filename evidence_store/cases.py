"""Cases and exhibit references."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_store.access import Actor, Permission, add_member_in_session, authorize
from evidence_store.catalog import Case, Exhibit, ExhibitAlias
from evidence_store.errors import AlreadyExistsError, BadReferenceError, NotFoundError
from evidence_store.ledger import format_time
from evidence_store.system import EvidenceSystem
from schemas.records import CustodyAction

_CASE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_EXHIBIT_REF = re.compile(r"^[A-Z]{1,6}/\d{1,6}(?:/\d{1,6})*$")


def check_case_reference(reference: str) -> str:
    if not _CASE_REF.match(reference):
        raise BadReferenceError(
            f"case reference {reference!r}: use letters, digits, '.', '_' or '-' (e.g. a URN or OP-FALCON)"
        )
    return reference


def check_exhibit_reference(reference: str) -> str:
    """Normalises a UK-style exhibit reference (producer initials / number, e.g. `JS/1`, `JS/1/3`)."""
    normalised = reference.strip().upper()
    if not _EXHIBIT_REF.match(normalised):
        raise BadReferenceError(
            f"exhibit reference {reference!r} is not in the form INITIALS/NUMBER (e.g. JS/1)", reference=reference
        )
    return normalised


_EXHIBIT_UID = re.compile(r"^ex-[0-9a-f]{20}$")


def new_exhibit_uid() -> str:
    """A fresh exhibit uid: 80 random bits, so independent intakes (sensors, CLI, app) never collide."""
    return "ex-" + secrets.token_hex(10)


def check_exhibit_uid(uid: str) -> str:
    if not _EXHIBIT_UID.match(uid):
        raise BadReferenceError(f"exhibit uid {uid!r} is not of the form ex-<20 hex digits>", uid=uid)
    return uid


def producer_initials(producer: str) -> str:
    """`John Smith` -> `JS`; `jsmith` -> `JS`; used as the prefix of generated exhibit references."""
    words = [w for w in re.split(r"[^A-Za-z]+", producer) if w]
    if not words:
        return "EX"
    if len(words) == 1:
        return words[0][:2].upper()
    return (words[0][0] + words[-1][0]).upper()


def next_exhibit_reference(session: Session, case: Case, prefix: str) -> str:
    numbers = [0]
    pattern = re.compile(rf"^{re.escape(prefix)}/(\d+)$")
    for (reference,) in session.execute(select(Exhibit.reference).where(Exhibit.case_id == case.id)):
        match = pattern.match(reference)
        if match:
            numbers.append(int(match.group(1)))
    return f"{prefix}/{max(numbers) + 1}"


def get_case(session: Session, reference: str) -> Case:
    case = session.execute(select(Case).where(Case.reference == reference)).scalar_one_or_none()
    if case is None:
        raise NotFoundError(f"no case {reference!r}; create it with `exhibit case create`", case=reference)
    return case


def qualified_exhibit(case: Case, ident: str | int) -> str | int:
    """An exhibit named within its case: a bare reference ("JS/1") is the case's, ids and "CASE:REF" stay."""
    if isinstance(ident, str) and ":" not in ident and not ident.isdigit():
        return f"{case.reference}:{ident}"
    return ident


def get_exhibit(session: Session, ident: str | int) -> Exhibit:
    """By numeric id, uid (`ex-...`), or `CASE:REF` (e.g. `OP-FALCON:JS/1`)."""
    exhibit: Exhibit | None
    text = str(ident)
    if text.isdigit():
        exhibit = session.get(Exhibit, int(text))
    elif _EXHIBIT_UID.match(text):
        exhibit = exhibit_by_uid(session, text)
    elif ":" in text:
        case_ref, exhibit_ref = text.split(":", 1)
        case = get_case(session, case_ref)
        exhibit = session.execute(
            select(Exhibit).where(Exhibit.case_id == case.id, Exhibit.reference == exhibit_ref.strip().upper())
        ).scalar_one_or_none()
    else:
        raise BadReferenceError(
            f"exhibit {text!r}: give its id (e.g. 12), uid (ex-...) or CASE:REF (e.g. OP-FALCON:JS/1)"
        )
    if exhibit is None:
        raise NotFoundError(f"no exhibit {text!r}", exhibit=text)
    return exhibit


def exhibit_by_uid(session: Session, uid: str) -> Exhibit | None:
    """The exhibit a uid names: its own, or the one an intake under that uid turned out to repeat."""
    exhibit = session.execute(select(Exhibit).where(Exhibit.uid == uid)).scalar_one_or_none()
    if exhibit is None:
        alias = session.get(ExhibitAlias, uid)
        exhibit = session.get(Exhibit, alias.exhibit_id) if alias is not None else None
    return exhibit


def create_case(
    system: EvidenceSystem,
    actor: Actor,
    reference: str,
    title: str,
    *,
    officer_in_charge: str | None = None,
    retention_class: str = "standard",
) -> Case:
    """Creates a case; its creator becomes its first member."""
    check_case_reference(reference)
    with system.catalog.reading() as session:
        authorize(system, session, actor, Permission.CREATE_CASE)
    with system.catalog.transaction() as session:
        system.ledger.lock(session)
        if session.execute(select(Case.id).where(Case.reference == reference)).first():
            raise AlreadyExistsError(f"case {reference!r} already exists", case=reference)
        case = Case(
            reference=reference,
            title=title,
            officer_in_charge=officer_in_charge,
            status="open",
            retention_class=retention_class,
            created_at=format_time(datetime.now(UTC)),
        )
        session.add(case)
        session.flush()
        system.ledger.append(
            session,
            CustodyAction.CASE_CREATED,
            actor=actor.name,
            role=actor.role,
            case_ref=reference,
            details={"title": title, "officer_in_charge": officer_in_charge, "retention_class": retention_class},
        )
        if not actor.is_service:
            add_member_in_session(system, session, actor, case, actor.name)
    return case
