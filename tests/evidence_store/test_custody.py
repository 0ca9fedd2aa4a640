"""Signed checkpoints, the checkpointed ledger check, and offline exhibit proofs."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete

from evidence_store.access import SERVICE, Actor
from evidence_store.cases import create_case
from evidence_store.catalog import CheckpointRow, CustodyEventRow
from evidence_store.custody import CHECKPOINT_PREFIX, exhibit_proof, make_checkpoint, verify_full_ledger
from evidence_store.intake import IngestRequest, ingest
from evidence_store.ledger import Ledger
from evidence_store.proofs import verify_exhibit_proof
from evidence_store.system import EvidenceSystem
from evidence_store.verification import verify


@pytest.fixture
def exhibit_id(system: EvidenceSystem, analyst: Actor, tmp_path: Path) -> int:
    create_case(system, analyst, "OP-P", "Proofs")
    paths = []
    for n in range(3):
        p = tmp_path / f"clip{n}.bin"
        p.write_bytes(f"clip {n}\n".encode() * 100)
        paths.append(p)
    outcomes = ingest(system, analyst, paths, IngestRequest(case_ref="OP-P", by="Jane Smith"))
    assert outcomes[1].exhibit_id is not None
    return outcomes[1].exhibit_id


def test_checkpoint_is_recorded_three_ways(system: EvidenceSystem, exhibit_id: int) -> None:
    cp = make_checkpoint(system)
    assert cp.tree_size == 11  # init, 2 users, case, membership, 3 x (RECEIVED, STORED)
    with system.catalog.reading() as session:
        assert session.get(CheckpointRow, 11) is not None
        last = list(Ledger.iter(session))[-1]
    assert (last.action, last.details["checkpoint"]["root"]) == ("CHECKPOINT", cp.root)
    stored = list(system.store.backend.list_keys(CHECKPOINT_PREFIX))
    assert stored == [f"{CHECKPOINT_PREFIX}{11:015d}.json"]
    assert verify_full_ledger(system, SERVICE).ok and verify(system, SERVICE).ok


def test_deleting_the_tail_is_caught_by_the_checkpoint(system: EvidenceSystem, exhibit_id: int) -> None:
    make_checkpoint(system)
    with system.catalog.transaction() as session:
        # An insider removes the last events and the checkpoint row; the copy in the store remains.
        session.execute(delete(CustodyEventRow).where(CustodyEventRow.seq >= 7))
        session.execute(delete(CheckpointRow))
    result = verify_full_ledger(system, SERVICE)
    assert (result.ok, result.code, result.first_bad_seq) == (False, "EX-LEDGER-TRUNCATED", 7)


def test_replaced_signature_under_a_checkpoint_is_named(system: EvidenceSystem, exhibit_id: int) -> None:
    make_checkpoint(system)
    with system.catalog.transaction() as session:
        row = session.get(CustodyEventRow, 5)
        assert row is not None
        row.signature = "00" * 64
    result = verify_full_ledger(system, SERVICE)
    assert (result.code, result.first_bad_seq) == ("EX-LEDGER-SIGNATURE", 5)


def test_forged_checkpoint_signature(system: EvidenceSystem, exhibit_id: int) -> None:
    make_checkpoint(system)
    with system.catalog.transaction() as session:
        row = session.get(CheckpointRow, 11)
        assert row is not None
        row.signature = "11" * 64
    assert verify_full_ledger(system, SERVICE).code == "EX-LEDGER-CHECKPOINT"


def _proof(system: EvidenceSystem, analyst: Actor, exhibit_id: int, **kw: Any) -> dict[str, Any]:
    return json.loads(json.dumps(exhibit_proof(system, analyst, exhibit_id, **kw)))  # as the recipient reads it


def test_exhibit_proof_verifies_offline(system: EvidenceSystem, analyst: Actor, exhibit_id: int) -> None:
    earlier = make_checkpoint(system)
    ingest_more = system.settings.home / "later.bin"
    ingest_more.write_bytes(b"later evidence\n")
    ingest(system, analyst, [ingest_more], IngestRequest(case_ref="OP-P", by="Jane Smith"))
    later = make_checkpoint(system)
    document = _proof(system, analyst, exhibit_id, since=earlier.tree_size)
    keys = system.public_keys()
    report = verify_exhibit_proof(document, keys)
    assert report.ok, report.problems
    assert report.events_checked == 2
    assert document["checkpoint"]["tree_size"] == later.tree_size > earlier.tree_size  # the newest head

    tampered = copy.deepcopy(document)
    tampered["events"][0]["event"]["actor"] = "someone else"
    assert "was altered" in verify_exhibit_proof(tampered, keys).problems[0]
    wrong_digest = copy.deepcopy(document)
    wrong_digest["exhibit"]["original"]["md5"] = "0" * 32
    assert "md5" in verify_exhibit_proof(wrong_digest, keys).problems[0]
    moved = copy.deepcopy(document)
    moved["events"][1]["inclusion_proof"] = moved["events"][0]["inclusion_proof"]
    assert "not included" in verify_exhibit_proof(moved, keys).problems[0]
    forged_head = copy.deepcopy(document)
    forged_head["checkpoint"]["root"] = "ab" * 32
    assert "signature" in verify_exhibit_proof(forged_head, keys).problems[0]
    assert not verify_exhibit_proof(document, {}).ok  # no trusted key, no proof
    bad_consistency = copy.deepcopy(document)
    bad_consistency["consistency"]["proof"] = bad_consistency["consistency"]["proof"][1:]
    assert "extend" in verify_exhibit_proof(bad_consistency, keys).problems[0]


def test_two_heads_of_the_same_size(system: EvidenceSystem, analyst: Actor, exhibit_id: int) -> None:
    """A checkpoint killed after its stored copy was written, then made again at the same size: both count."""
    from dataclasses import replace

    from evidence_store.custody import _store_checkpoint

    first = make_checkpoint(system)
    key = system.ledger.signing_key
    again = replace(first, created_at="2030-01-01T00:00:00.000000Z", signature="")
    again = replace(again, signature=key.sign(again.payload()).hex())
    with system.catalog.transaction() as session:
        row = session.get(CheckpointRow, first.tree_size)
        assert row is not None
        row.created_at, row.signature = again.created_at, again.signature
    _store_checkpoint(system, first)  # the store keeps the first copy; the catalog now holds the second
    assert verify_full_ledger(system, SERVICE).ok
