"""The custody ledger: signed, hash-chained, and tamper-evident down to the first bad event."""

import itertools
from dataclasses import replace

import pytest
from sqlalchemy import delete, select

from evidence_store.catalog import CustodyEventRow
from evidence_store.ledger import GENESIS_HASH, CustodyEvent, Ledger, SigningKey
from evidence_store.proofs import verify_ledger as verify_events
from evidence_store.system import EvidenceSystem
from schemas.records import CustodyAction


def _append(system: EvidenceSystem, n: int) -> None:
    with system.catalog.transaction() as session:
        for i in range(n):
            system.ledger.append(
                session,
                CustodyAction.VIEWED,
                actor=f"user{i}",
                role="investigator",
                case_ref="OP-T",
                details={"i": i, "note": "ünïcode ok", "nested": {"list": [1, "two", None, True]}},
            )


def _verify(system: EvidenceSystem) -> object:
    with system.catalog.reading() as session:
        return verify_events(Ledger.iter_for_verification(session, batch=3), system.public_keys())


def test_chain_verifies_and_is_ordered(system: EvidenceSystem) -> None:
    _append(system, 7)
    with system.catalog.reading() as session:
        events = list(Ledger.iter(session, batch=3))
    assert [e.seq for e in events] == list(range(1, 11))  # 1-3: SYSTEM_INITIALISED and two USER_ADDED
    assert events[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.entry_hash for a, b in itertools.pairwise(events))
    result = verify_events(events, system.public_keys())
    assert result.ok and result.checked == 10 and result.head_hash == events[-1].entry_hash


@pytest.mark.parametrize(
    ("tamper", "code", "first_bad"),
    [
        ("edit_actor", "EX-LEDGER-HASH", 4),
        ("edit_details", "EX-LEDGER-HASH", 4),
        ("delete", "EX-LEDGER-SEQUENCE", 4),
        ("bad_signature", "EX-LEDGER-SIGNATURE", 4),
        ("rehash_without_key", "EX-LEDGER-SIGNATURE", 4),
        ("malformed_time", "EX-LEDGER-HASH", 4),  # any edited field fails the entry hash
        ("malformed_details", "EX-LEDGER-MALFORMED", 4),
        ("insert", "EX-LEDGER-SIGNATURE", 4),
        ("reorder", "EX-LEDGER-CHAIN", 4),
    ],
)
def test_tampering_names_the_first_bad_event(system: EvidenceSystem, tamper: str, code: str, first_bad: int) -> None:
    _append(system, 6)
    with system.catalog.transaction() as session:
        row = session.get(CustodyEventRow, 4)
        assert row is not None
        if tamper == "edit_actor":
            row.actor = "someone else"
        elif tamper == "edit_details":
            row.details = row.details.replace('"i":0', '"i":9')
        elif tamper == "delete":
            session.execute(delete(CustodyEventRow).where(CustodyEventRow.seq == 4))
        elif tamper == "bad_signature":
            row.signature = ("00" if row.signature[:2] != "00" else "11") + row.signature[2:]
        elif tamper == "malformed_time":
            row.recorded_at = "yesterday"
        elif tamper == "malformed_details":
            row.details = "{"
        elif tamper == "insert":
            # Make room at 4 by renumbering the later events, then slip in a forged one that chains properly.
            for later in sorted(
                session.execute(select(CustodyEventRow).where(CustodyEventRow.seq >= 4)).scalars(), key=lambda r: -r.seq
            ):
                later.seq += 1
                session.flush()
            forged = replace(CustodyEvent.from_row(row), actor="forger")  # prev_hash already that of event 3
            forged = replace(forged, seq=4, entry_hash="", signature="")
            session.add(
                CustodyEventRow(
                    **{k: v for k, v in _row_fields(forged).items()},
                )
            )
        elif tamper == "reorder":
            other = session.get(CustodyEventRow, 5)
            assert other is not None
            row.seq, other.seq = -1, 4
            session.flush()
            row.seq = 5
        elif tamper == "rehash_without_key":
            # A forger who recomputes the hash after an edit still cannot sign it with the service key.
            event = replace(CustodyEvent.from_row(row), actor="forger")
            row.actor, row.entry_hash = "forger", event.compute_hash()
    result = _verify(system)
    assert not result.ok  # type: ignore[attr-defined]
    assert (result.code, result.first_bad_seq) == (code, first_bad)  # type: ignore[attr-defined]


def _row_fields(event: CustodyEvent) -> dict[str, object]:
    import json

    entry_hash = event.compute_hash()
    return {
        "seq": event.seq,
        "recorded_at": event.recorded_at,
        "actor": event.actor,
        "role": event.role,
        "action": event.action,
        "case_ref": event.case_ref,
        "exhibit_id": event.exhibit_id,
        "object_sha256": event.object_sha256,
        "reason": event.reason,
        "details": json.dumps(dict(event.details), sort_keys=True, separators=(",", ":")),
        "key_id": event.key_id,
        "prev_hash": event.prev_hash,
        "entry_hash": entry_hash,
        "signature": "ab" * 64,
    }


def test_signature_by_another_key_is_refused(system: EvidenceSystem) -> None:
    _append(system, 2)
    rogue = Ledger(SigningKey.generate())
    with system.catalog.transaction() as session:
        rogue.append(session, CustodyAction.VIEWED, actor="rogue", role="investigator")
    result = _verify(system)
    assert (result.code, result.first_bad_seq) == ("EX-LEDGER-UNKNOWN-KEY", 6)  # type: ignore[attr-defined]


def test_events_validate_when_made() -> None:
    base = dict(
        seq=1,
        recorded_at="2026-01-02T03:04:05.000006Z",
        actor="a",
        role="r",
        action="RECEIVED",
        case_ref=None,
        exhibit_id=None,
        object_sha256=None,
        reason=None,
        details={},
        key_id="sk-x",
        prev_hash=GENESIS_HASH,
    )
    CustodyEvent(**base)  # type: ignore[arg-type]
    for field, value in [
        ("seq", 0),
        ("recorded_at", "2026-01-02 03:04:05"),
        ("action", "TELEPORTED"),
        ("actor", ""),
        ("object_sha256", "abc"),
        ("details", {"ratio": 0.5}),
    ]:
        with pytest.raises(ValueError):
            CustodyEvent(**{**base, field: value})  # type: ignore[arg-type]
    event = CustodyEvent(**base)  # type: ignore[arg-type]
    assert CustodyEvent.from_dict(event.to_dict()) == event


def test_failed_transaction_leaves_no_event(system: EvidenceSystem) -> None:
    with pytest.raises(RuntimeError), system.catalog.transaction() as session:
        system.ledger.append(session, CustodyAction.VIEWED, actor="a", role="investigator")
        raise RuntimeError("the change this event described did not happen")
    with system.catalog.reading() as session:
        assert session.execute(select(CustodyEventRow.seq)).scalars().all() == [1, 2, 3]
    _append(system, 1)
    assert _verify(system).ok  # type: ignore[attr-defined]
