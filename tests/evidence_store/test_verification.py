"""`verify`: catalog against signed receipts, fixity events, and the first bad event named."""

import os
from pathlib import Path

import pytest

from evidence_store.access import SERVICE, Actor
from evidence_store.cases import create_case
from evidence_store.catalog import CustodyEventRow, StoredObject
from evidence_store.intake import IngestRequest, ingest
from evidence_store.ledger import Ledger
from evidence_store.system import EvidenceSystem
from evidence_store.verification import verify
from tests.conftest import flip_stored_byte


@pytest.fixture
def ingested(system: EvidenceSystem, analyst: Actor, tmp_path: Path) -> list[str]:
    create_case(system, analyst, "OP-V", "Verification")
    paths = []
    for n in range(3):
        p = tmp_path / f"item{n}.bin"
        p.write_bytes(os.urandom(200_000 + n))
        paths.append(p)
    return [
        o.sha256 for o in ingest(system, analyst, paths, IngestRequest(case_ref="OP-V", by="Jane Smith")) if o.sha256
    ]


def _actions(system: EvidenceSystem) -> list[str]:
    with system.catalog.reading() as session:
        return [e.action for e in Ledger.iter(session)]


def test_clean_deployment_verifies_and_records_fixity(system: EvidenceSystem, ingested: list[str]) -> None:
    report = verify(system, SERVICE, objects=True)
    assert report.ok and report.objects_verified == 3 and report.exhibits_checked == 3
    assert _actions(system)[-3:] == ["HASH_VERIFIED"] * 3
    assert verify(system, SERVICE).ok  # the fixity events themselves verify


def test_tampered_object_is_named_and_recorded(system: EvidenceSystem, ingested: list[str]) -> None:
    victim = ingested[1]
    flip_stored_byte(system, victim)
    report = verify(system, SERVICE, objects=True)
    assert not report.ok and report.ledger.ok
    assert [(p.code, p.sha256) for p in report.problems] == [("EX-CHUNK-TAMPERED", victim)]
    assert _actions(system)[-3:] == ["HASH_VERIFIED", "FIXITY_FAILED", "HASH_VERIFIED"]


def test_catalog_edit_is_caught_by_the_signed_receipt(system: EvidenceSystem, ingested: list[str]) -> None:
    with system.catalog.transaction() as session:
        row = session.get(StoredObject, ingested[0])
        assert row is not None
        row.md5 = "0" * 32
    report = verify(system, SERVICE)
    assert [p.code for p in report.problems] == ["EX-CATALOG-MISMATCH"]
    assert "md5" in report.problems[0].message


def test_ledger_edit_names_the_event(system: EvidenceSystem, ingested: list[str]) -> None:
    with system.catalog.transaction() as session:
        row = session.get(CustodyEventRow, 3)
        assert row is not None
        row.recorded_at = "2020-01-01T00:00:00.000000Z"
    report = verify(system, SERVICE)
    assert not report.ok
    assert (report.ledger.first_bad_seq, report.ledger.code) == (3, "EX-LEDGER-HASH")
