"""Who may do what: every role x action x (member / non-member), with the ledger event each leaves behind."""

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import func, select

from evidence_store.access import (
    ROLES,
    Actor,
    Permission,
    add_member,
    add_user,
    authenticate,
    authorize,
    check_password,
    hash_password,
    resolve_actor,
)
from evidence_store.analysis import record_table
from evidence_store.cases import create_case, get_case
from evidence_store.catalog import CustodyEventRow
from evidence_store.errors import AccessDeniedError
from evidence_store.inspect import download_original, exhibit_record
from evidence_store.intake import IngestRequest, ingest
from evidence_store.keys import rotate_master_key
from evidence_store.ledger import Ledger
from evidence_store.system import EvidenceSystem
from evidence_store.verification import verify

ALL = set(ROLES)
# Written out by hand from the issue, not derived from the policy table it checks.
MAY_AS_MEMBER = {
    "create_case": {"analyst", "supervisor", "admin"},
    "view": ALL,
    "download": ALL,
    "ingest": {"investigator", "analyst", "admin"},
    "analyse": {"analyst", "admin"},
    "export": {"disclosure_officer", "supervisor"},
    "approve_disposal": {"supervisor"},
    "manage_members": {"supervisor", "admin"},
    "manage_users": {"admin"},
    "verify_all": {"supervisor", "admin"},
    "manage_keys": {"admin"},
}
MAY_AS_NON_MEMBER = {
    "create_case": {"analyst", "supervisor", "admin"},
    "manage_members": {"admin"},
    "manage_users": {"admin"},
    "verify_all": {"supervisor", "admin"},
    "manage_keys": {"admin"},
}
# The event an allowed action leaves on the ledger.
ALLOWED_EVENT = {
    "create_case": "MEMBER_ADDED",  # the creator becomes a member, after CASE_CREATED
    "view": "VIEWED",
    "download": "DOWNLOADED",
    "ingest": "STORED",
    "analyse": "ANALYSED",
    "export": None,  # the check alone: export itself arrives with the disclosure issue
    "approve_disposal": None,  # likewise disposal
    "manage_members": "MEMBER_ADDED",
    "manage_users": "USER_ADDED",
    "verify_all": "HASH_VERIFIED",
    "manage_keys": "KEY_ROTATED",
}


@pytest.mark.parametrize("settings", ["file-sqlite", "file-postgresql"], indirect=True)
def test_access_matrix(system: EvidenceSystem, admin: Actor, analyst: Actor, tmp_path: Path) -> None:
    create_case(system, analyst, "OP-M", "Matrix")
    sample = tmp_path / "sample.txt"
    sample.write_text("evidence\n")
    [seed] = ingest(system, analyst, [sample], IngestRequest(case_ref="OP-M", by="Jane Smith"))
    assert seed.exhibit_id is not None
    users: dict[tuple[str, bool], Actor] = {}
    for role in ROLES:
        for member in (True, False):
            name = f"{role.replace('_', '-')}.{'in' if member else 'out'}"
            users[(role, member)] = add_user(system, admin, name, role)
            if member:
                add_member(system, admin, "OP-M", name)

    counter = iter(range(10_000))

    def attempt(action: str, actor: Actor) -> Callable[[], object]:
        n = next(counter)
        if action == "create_case":
            return lambda: create_case(system, actor, f"OP-NEW-{n}", "new")
        if action == "view":
            return lambda: exhibit_record(system, actor, seed.exhibit_id or 0, reason="matrix")
        if action == "download":
            return lambda: download_original(system, actor, seed.exhibit_id or 0, tmp_path / f"dl-{n}", "matrix")
        if action == "ingest":
            other = tmp_path / f"in-{n}.txt"
            other.write_text(f"item {n}\n")
            return lambda: ingest(system, actor, [other], IngestRequest(case_ref="OP-M", by="Jane Smith"))
        if action == "analyse":
            rows = pa.Table.from_pylist(
                [
                    {
                        "exhibit_id": seed.exhibit_id,
                        "exhibit_ref": "JS/1",
                        "code": "EX-T",
                        "severity": "info",
                        "message": f"row {n}",
                        "source": "matrix",
                    }
                ]
            )
            return lambda: record_table(
                system, actor, seed.exhibit_id or 0, "warnings", rows, tool="t", tool_version="1"
            )
        if action == "manage_members":
            target = f"target.{n}"
            add_user(system, admin, target, "investigator")
            return lambda: add_member(system, actor, "OP-M", target)
        if action == "manage_users":
            return lambda: add_user(system, actor, f"new.user{n}", "investigator")
        if action == "verify_all":
            return lambda: verify(system, actor, objects=True)
        if action == "manage_keys":
            return lambda: rotate_master_key(system, actor)

        def check_only() -> None:
            with system.catalog.reading() as session:
                authorize(system, session, actor, Permission(action), get_case(session, "OP-M"), reason="matrix")

        return check_only

    mismatches = []
    for action in MAY_AS_MEMBER:
        for (role, member), actor in users.items():
            expected = role in (MAY_AS_MEMBER if member else MAY_AS_NON_MEMBER).get(action, set())
            run = attempt(action, actor)
            with system.catalog.reading() as session:
                before = session.execute(select(func.max(CustodyEventRow.seq))).scalar_one()
            try:
                run()
                allowed = True
            except AccessDeniedError:
                allowed = False
            with system.catalog.reading() as session:
                new = [(e.action, e.actor, e.details.get("attempted")) for e in Ledger.iter(session) if e.seq > before]
            if allowed != expected:
                mismatches.append(f"{role} {'member' if member else 'non-member'} {action}: allowed={allowed}")
            elif not allowed and ("ACCESS_DENIED", actor.name, action) not in new:
                mismatches.append(f"{role} {action}: refused without an ACCESS_DENIED event ({new})")
            elif allowed and ALLOWED_EVENT[action] and not any(a == ALLOWED_EVENT[action] for a, _, _ in new):
                mismatches.append(f"{role} {action}: allowed without a {ALLOWED_EVENT[action]} event ({new})")
    assert not mismatches, "\n".join(mismatches)
    assert verify(system, admin).ok


def test_reasons_unknown_users_and_passwords(
    system: EvidenceSystem, admin: Actor, analyst: Actor, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-R", "Reasons")
    sample = tmp_path / "s.txt"
    sample.write_text("s\n")
    [seed] = ingest(system, analyst, [sample], IngestRequest(case_ref="OP-R", by="Jane Smith"))
    with pytest.raises(AccessDeniedError, match="reason"):
        download_original(system, analyst, seed.exhibit_id or 0, tmp_path / "out", reason="  ")
    assert not (tmp_path / "out").exists()
    with pytest.raises(AccessDeniedError):
        resolve_actor(system, "ghost")
    add_user(system, admin, "pw.user", "investigator", password="correct horse battery staple")
    assert authenticate(system, "pw.user", "correct horse battery staple").role == "investigator"
    with pytest.raises(AccessDeniedError):
        authenticate(system, "pw.user", "wrong")
    stored = hash_password("x")
    assert stored.startswith("scrypt$") and check_password("x", stored) and not check_password("y", stored)
    with system.catalog.reading() as session:
        denials = [e for e in Ledger.iter(session) if e.action == "ACCESS_DENIED"]
        assert [d.actor for d in denials] == [analyst.name, "ghost", "pw.user"]
        text = " ".join(str(e.to_dict()) for e in Ledger.iter(session))
    assert "correct horse" not in text and "scrypt$" not in text  # no password or hash on the ledger
