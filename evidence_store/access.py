"""Who may do what: users, roles, case membership, and the one authorisation check every operation passes.

Police information is seen only on a need to know (ACPO principles 2 and 3): a user sees a case only as a
member of it, whatever the role; admins manage users but see no evidence unless they are members. Every
refusal is an ACCESS_DENIED ledger event, committed on its own so it survives the refused operation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_store.catalog import Case, Membership, User
from evidence_store.errors import AccessDeniedError, AlreadyExistsError, BadReferenceError, NotFoundError
from evidence_store.ledger import format_time
from evidence_store.system import SERVICE_ACTOR, SERVICE_ROLE, EvidenceSystem
from schemas.records import CustodyAction

ROLES = ("investigator", "analyst", "disclosure_officer", "supervisor", "admin")
_USER_NAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")


class Permission(StrEnum):
    CREATE_CASE = "create_case"
    VIEW = "view"  # case lists, exhibit records, custody history, analysis tables
    DOWNLOAD = "download"  # the decrypted bytes of an original or derivative
    INGEST = "ingest"
    ANALYSE = "analyse"
    EXPORT = "export"
    APPROVE_DISPOSAL = "approve_disposal"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_USERS = "manage_users"
    VERIFY_ALL = "verify_all"  # whole-deployment integrity checks and checkpoints
    MANAGE_KEYS = "manage_keys"  # rotate the signing and master keys
    MANAGE_HASHSETS = "manage_hashsets"  # import reference lists of known files (not case evidence)
    REVIEW_FACES = "review_faces"  # merge, split and name persons; match reference photos (leads)
    REDACT = "redact"  # make redacted copies of exhibits for disclosure
    DISCLOSE = "disclose"  # CPIA decisions: schedule items (MG6C/MG6D/MG6E), record the prosecutor's marks
    RETAIN = "retain"  # retention classes, case outcomes, legal holds, disposal requests (not approvals)


_ALL = frozenset(ROLES)
# Which roles may, and whether they must also be members of the case.
POLICY: dict[Permission, tuple[frozenset[str], bool]] = {
    Permission.CREATE_CASE: (frozenset({"analyst", "supervisor", "admin"}), False),
    Permission.VIEW: (_ALL, True),
    Permission.DOWNLOAD: (_ALL, True),
    Permission.INGEST: (frozenset({"investigator", "analyst", "admin"}), True),  # officers upload what they produced
    Permission.ANALYSE: (frozenset({"analyst", "admin"}), True),
    Permission.EXPORT: (frozenset({"disclosure_officer", "supervisor"}), True),
    Permission.APPROVE_DISPOSAL: (frozenset({"supervisor"}), True),
    Permission.MANAGE_MEMBERS: (frozenset({"supervisor", "admin"}), True),
    Permission.MANAGE_USERS: (frozenset({"admin"}), False),
    Permission.VERIFY_ALL: (frozenset({"supervisor", "admin"}), False),
    Permission.MANAGE_KEYS: (frozenset({"admin"}), False),
    Permission.MANAGE_HASHSETS: (frozenset({"analyst", "admin"}), False),
    Permission.REVIEW_FACES: (frozenset({"investigator", "analyst", "supervisor"}), True),
    Permission.REDACT: (frozenset({"analyst", "disclosure_officer"}), True),
    Permission.DISCLOSE: (frozenset({"disclosure_officer", "supervisor"}), True),
    Permission.RETAIN: (frozenset({"disclosure_officer", "supervisor"}), True),
}
# Admins add members to cases they do not belong to: that is how a case gets its first analyst.
_MEMBERSHIP_EXEMPT = {(Permission.MANAGE_MEMBERS, "admin")}
# Actions whose ledger event must carry the user's stated reason.
REASON_REQUIRED = frozenset({Permission.DOWNLOAD, Permission.EXPORT, Permission.APPROVE_DISPOSAL})


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: a user of the system, or the service itself (pipelines, schedules)."""

    name: str
    role: str
    user_id: int | None = None

    @property
    def is_service(self) -> bool:
        return self.role == SERVICE_ROLE


SERVICE = Actor(SERVICE_ACTOR, SERVICE_ROLE)


# -- passwords ----------------------------------------------------------------------------------------------

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        observed = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except ValueError:
        return False
    return hmac.compare_digest(observed, base64.b64decode(digest))


# -- users and membership -------------------------------------------------------------------------------------


def _now() -> str:
    return format_time(datetime.now(UTC))


def resolve_actor(system: EvidenceSystem, name: str) -> Actor:
    """The registered, active user called `name`.

    Raises:
        AccessDeniedError: no such active user (recorded as ACCESS_DENIED).
    """
    with system.catalog.reading() as session:
        user = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
    if user is None or not user.active:
        _record_denial(system, Actor(name, "unknown"), "sign_in", None, None, f"{name!r} is not an active user")
        raise AccessDeniedError(f"{name!r} is not an active user of Exhibit; an admin adds users", user=name)
    return Actor(user.name, user.role, user.id)


def authenticate(system: EvidenceSystem, name: str, password: str) -> Actor:
    """Checks a password (for the review app's sign-in) and returns the actor.

    Raises:
        AccessDeniedError: unknown user or wrong password (one message for both, recorded).
    """
    with system.catalog.reading() as session:
        user = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
    if user is None or not user.active or not check_password(password, user.password_hash):
        _record_denial(system, Actor(name, user.role if user else "unknown"), "sign_in", None, None, "bad credentials")
        raise AccessDeniedError("unknown user or wrong password")
    return Actor(user.name, user.role, user.id)


def add_user(
    system: EvidenceSystem,
    actor: Actor,
    name: str,
    role: str,
    display_name: str | None = None,
    password: str | None = None,
) -> Actor:
    if not _USER_NAME.match(name):
        raise BadReferenceError(f"user name {name!r}: lower-case letters, digits, '.', '_' or '-' (e.g. jane.smith)")
    if role not in ROLES:
        raise BadReferenceError(f"role {role!r} is not one of {', '.join(ROLES)}")
    with system.catalog.reading() as session:
        # Checked before the write transaction: a refusal is recorded in a transaction of its own.
        _require(system, session, actor, Permission.MANAGE_USERS, None)
    with system.catalog.transaction() as session:
        system.ledger.lock(session)
        if session.execute(select(User.id).where(User.name == name)).first():
            raise AlreadyExistsError(f"user {name!r} already exists", user=name)
        user = User(
            name=name,
            display_name=display_name or name,
            role=role,
            password_hash=hash_password(password) if password else None,
            active=True,
            created_at=_now(),
        )
        session.add(user)
        session.flush()
        system.ledger.append(
            session,
            CustodyAction.USER_ADDED,
            actor=actor.name,
            role=actor.role,
            details={"user": name, "role": role, "display_name": user.display_name},
        )
        return Actor(user.name, user.role, user.id)


def bootstrap_admin(system: EvidenceSystem, name: str, password: str | None = None) -> Actor | None:
    """Creates the first admin when the deployment has no users yet (`exhibit init --admin`)."""
    with system.catalog.reading() as session:
        if session.execute(select(User.id).limit(1)).first():
            return None
    return add_user(system, SERVICE, name, "admin", password=password)


def add_member(system: EvidenceSystem, actor: Actor, case_ref: str, user_name: str) -> None:
    with system.catalog.reading() as session:
        case = session.execute(select(Case).where(Case.reference == case_ref)).scalar_one_or_none()
        if case is None:
            raise NotFoundError(f"no case {case_ref!r}", case=case_ref)
        _require(system, session, actor, Permission.MANAGE_MEMBERS, case)
    with system.catalog.transaction() as session:
        system.ledger.lock(session)
        case = session.execute(select(Case).where(Case.reference == case_ref)).scalar_one()
        add_member_in_session(system, session, actor, case, user_name)


def add_member_in_session(system: EvidenceSystem, session: Session, actor: Actor, case: Case, user_name: str) -> None:
    """Adds a member inside the caller's (already authorised) transaction."""
    user = session.execute(select(User).where(User.name == user_name)).scalar_one_or_none()
    if user is None:
        raise NotFoundError(f"no user {user_name!r}", user=user_name)
    if session.get(Membership, (case.id, user.id)) is not None:
        return
    session.add(Membership(case_id=case.id, user_id=user.id, added_by=actor.name, added_at=_now()))
    system.ledger.append(
        session,
        CustodyAction.MEMBER_ADDED,
        actor=actor.name,
        role=actor.role,
        case_ref=case.reference,
        details={"user": user.name, "user_role": user.role},
    )


def is_member(session: Session, actor: Actor, case: Case) -> bool:
    return actor.user_id is not None and session.get(Membership, (case.id, actor.user_id)) is not None


def allowed(session: Session, actor: Actor, permission: Permission, case: Case | None) -> tuple[bool, str]:
    """The policy, as a verdict and the reason for it. Pure apart from the membership lookup."""
    if actor.is_service:
        return True, "service"
    roles, needs_membership = POLICY[permission]
    if actor.role not in roles:
        return False, f"the {actor.role} role may not {permission.value.replace('_', ' ')}"
    if needs_membership and (permission, actor.role) not in _MEMBERSHIP_EXEMPT:
        if case is None:
            return False, f"{permission.value} needs a case"
        if not is_member(session, actor, case):
            return False, f"{actor.name} is not a member of case {case.reference}"
    return True, "allowed"


def _record_denial(
    system: EvidenceSystem,
    actor: Actor,
    attempted: str,
    case_ref: str | None,
    exhibit_id: int | None,
    why: str,
) -> None:
    system.record(
        CustodyAction.ACCESS_DENIED,
        actor=actor.name,
        role=actor.role,
        case_ref=case_ref,
        exhibit_id=exhibit_id,
        reason=why,
        details={"attempted": attempted},
    )


def _require(
    system: EvidenceSystem,
    session: Session,
    actor: Actor,
    permission: Permission,
    case: Case | None,
    exhibit_id: int | None = None,
    reason: str | None = None,
) -> None:
    ok, why = allowed(session, actor, permission, case)
    if ok and permission in REASON_REQUIRED and not (reason and reason.strip()) and not actor.is_service:
        ok, why = False, f"{permission.value} needs a stated reason (--reason)"
    if not ok:
        _record_denial(system, actor, permission.value, case.reference if case else None, exhibit_id, why)
        raise AccessDeniedError(f"refused: {why}", permission=permission.value)


def authorize(
    system: EvidenceSystem,
    session: Session,
    actor: Actor,
    permission: Permission,
    case: Case | None = None,
    *,
    exhibit_id: int | None = None,
    reason: str | None = None,
) -> None:
    """The one check. Returns quietly when allowed; otherwise records ACCESS_DENIED and raises.

    Call it with a reading session, before any write transaction: the refusal is committed on its own.

    Raises:
        AccessDeniedError: the actor's role or membership does not allow it, or a required reason is missing.
    """
    _require(system, session, actor, permission, case, exhibit_id, reason)


def record_view(
    system: EvidenceSystem,
    actor: Actor,
    what: str,
    case_ref: str,
    exhibit_id: int | None = None,
    object_sha256: str | None = None,
    reason: str | None = None,
    action: CustodyAction = CustodyAction.VIEWED,
) -> None:
    """Every view of evidence is on the ledger, with the user's stated reason where one was given."""
    system.record(
        action,
        actor=actor.name,
        role=actor.role,
        case_ref=case_ref,
        exhibit_id=exhibit_id,
        object_sha256=object_sha256,
        reason=reason,
        details={"what": what},
    )


def list_users(system: EvidenceSystem, actor: Actor) -> list[dict[str, object]]:
    """Every user with their role and how many cases they are a member of (admins)."""
    from sqlalchemy import func

    with system.catalog.reading() as session:
        _require(system, session, actor, Permission.MANAGE_USERS, None)
        counts = dict(session.execute(select(Membership.user_id, func.count()).group_by(Membership.user_id)).all())
        return [
            {
                "name": u.name,
                "display_name": u.display_name,
                "role": u.role,
                "active": u.active,
                "can_sign_in": u.password_hash is not None,
                "cases": int(counts.get(u.id, 0)),
                "created_at": u.created_at,
            }
            for u in session.execute(select(User).order_by(User.name)).scalars()
        ]


def case_members(system: EvidenceSystem, actor: Actor, case_ref: str) -> list[dict[str, object]]:
    """Who is a member of a case, for those who manage its membership (supervisors who are members; admins)."""
    with system.catalog.reading() as session:
        case = session.execute(select(Case).where(Case.reference == case_ref)).scalar_one_or_none()
        if case is None:
            raise NotFoundError(f"no case {case_ref!r}", case=case_ref)
        _require(system, session, actor, Permission.MANAGE_MEMBERS, case)
        rows = session.execute(
            select(User, Membership)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.case_id == case.id)
            .order_by(User.name)
        ).all()
        return [{"name": u.name, "role": u.role, "added_by": m.added_by, "added_at": m.added_at} for u, m in rows]
