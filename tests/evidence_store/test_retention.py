"""Retention classes, legal holds and two-person disposal, on every store and catalog."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from evidence_store.access import Actor, add_member, add_user
from evidence_store.cases import create_case
from evidence_store.catalog import CustodyEventRow, Exhibit
from evidence_store.errors import AccessDeniedError, DisposalRefusedError
from evidence_store.intake import IngestRequest, ingest
from evidence_store.retention import (
    certificate_pdf,
    certificate_text,
    decide_disposal,
    get_certificate,
    list_disposals,
    place_hold,
    record_outcome,
    release_hold,
    request_disposal,
    retention_status,
    retention_sweep,
    set_retention,
    verify_certificate,
)
from evidence_store.system import SERVICE_ACTOR, EvidenceSystem
from evidence_store.verification import verify

CASE = "OP-KEEP"
LATER = date(2099, 1, 1)


@pytest.fixture
def people(system: EvidenceSystem, admin: Actor, analyst: Actor, tmp_path: Path) -> tuple[Actor, Actor, Actor]:
    """A case of three exhibits (JS/1 .. JS/3) with a disclosure officer and two supervisors."""
    create_case(system, analyst, CASE, "Retention")
    for n in range(1, 4):
        path = tmp_path / f"clip{n}.bin"
        path.write_bytes(f"footage {n}\n".encode() * 1000)
        ingest(system, analyst, [path], IngestRequest(case_ref=CASE, by="Jane Smith"))
    actors = (
        add_user(system, admin, "do.patel", "disclosure_officer"),
        add_user(system, admin, "sgt.jones", "supervisor"),
        add_user(system, admin, "insp.khan", "supervisor"),
    )
    for actor in actors:
        add_member(system, admin, CASE, actor.name)
    return actors


def _events(system: EvidenceSystem, action: str) -> list[CustodyEventRow]:
    with system.catalog.reading() as session:
        return list(session.execute(select(CustodyEventRow).where(CustodyEventRow.action == action)).scalars())


def _state(system: EvidenceSystem, actor: Actor, ref: str) -> dict[str, object]:
    return next(s.to_dict() for s in retention_status(system, actor, CASE) if s.exhibit_ref == ref)


def test_due_dates_follow_the_class_and_the_case_outcome(system: EvidenceSystem, people: tuple[Actor, ...]) -> None:
    officer, sergeant, _ = people
    first = _state(system, officer, "JS/1")
    assert first["retention_class"] == "standard" and first["due"] is None
    assert "case outcome" in str(first["waiting_for"])
    set_retention(system, officer, CASE, "bwv-non-evidential", exhibit="JS/2", reason="not marked evidential")
    bwv = _state(system, officer, "JS/2")
    received = date.fromisoformat(str(bwv["due"]))
    assert bwv["class_from"] == "exhibit" and (received - date.today()).days == 31
    record_outcome(system, officer, CASE, "convicted", "2026-03-10")
    assert "release" in str(_state(system, officer, "JS/1")["waiting_for"])
    record_outcome(system, officer, CASE, "convicted", "2026-03-10", release_date="2026-05-01")
    assert _state(system, officer, "JS/1")["due"] == "2026-09-10"  # six months after conviction, the later
    record_outcome(system, officer, CASE, "convicted", "2026-03-10", release_date="2027-01-02")
    assert _state(system, officer, "JS/1")["due"] == "2027-01-02"
    set_retention(system, sergeant, CASE, "mopi-3", exhibit="JS/3")
    mopi = _state(system, officer, "JS/3")
    assert mopi["due_kind"] == "review" and str(mopi["due"]).startswith(str(date.today().year + 6))
    assert [e.actor for e in _events(system, "RETENTION_SET")] == ["do.patel"] * 4 + ["sgt.jones"]


def test_disposal_needs_a_second_person_and_leaves_a_signed_certificate(
    system: EvidenceSystem, people: tuple[Actor, ...], analyst: Actor
) -> None:
    officer, sergeant, inspector = people
    record_outcome(system, officer, CASE, "acquitted", "2026-01-15")
    with pytest.raises(AccessDeniedError):
        request_disposal(system, analyst, CASE, "JS/1", reason="acquitted")
    request = request_disposal(system, sergeant, CASE, "JS/1", reason="acquitted; CPIA period over")
    assert request.status == "requested"
    with system.catalog.reading() as session:
        sha = session.execute(select(Exhibit.original_sha256).where(Exhibit.reference == "JS/1")).scalar_one()
    assert system.store.exists(sha)  # a request deletes nothing
    with pytest.raises(DisposalRefusedError, match="second person") as own:
        decide_disposal(system, sergeant, request.id, approve=True, reason="mine")
    assert own.value.code == "EX-DISPOSAL-REFUSED"
    with pytest.raises(AccessDeniedError):
        decide_disposal(system, officer, request.id, approve=True, reason="not a supervisor")
    with pytest.raises(AccessDeniedError):
        decide_disposal(system, inspector, request.id, approve=True, reason="")
    done = decide_disposal(system, inspector, request.id, approve=True, reason="checked against the outcome")
    assert done.status == "disposed" and done.decided_by == "insp.khan"
    assert not system.store.exists(sha)
    assert _state(system, officer, "JS/1")["disposed"] is True
    disposed = _events(system, "DISPOSED")
    assert len(disposed) == 1 and disposed[0].object_sha256 == sha
    assert sha in json.loads(disposed[0].details)["objects_deleted"]
    certificate = get_certificate(system, officer, request.id)
    assert verify_certificate(certificate, system.public_keys()).ok
    assert certificate["ledger_events"][0]["seq"] == disposed[0].seq
    assert certificate["approved"]["by"] == "insp.khan" and certificate["requested"]["by"] == "sgt.jones"
    forged = {**certificate, "approved": {**certificate["approved"], "by": "someone else"}}
    check = verify_certificate(forged, system.public_keys())
    assert not check.ok and "altered" in check.reason
    assert "CERTIFICATE OF DISPOSAL" in certificate_text(certificate)
    with pytest.raises(DisposalRefusedError, match="already"):
        decide_disposal(system, inspector, request.id, approve=True, reason="again")
    # Fixity does not count the deleted original as missing; the ledger still verifies whole.
    report = verify(system, sergeant, case_ref=CASE, objects=True)
    assert report.ok and report.objects_verified == 2


def test_legal_hold_blocks_disposal_until_a_supervisor_releases_it(
    system: EvidenceSystem, people: tuple[Actor, ...]
) -> None:
    officer, sergeant, inspector = people
    record_outcome(system, officer, CASE, "no_further_action", "2026-02-01")
    hold = place_hold(system, officer, CASE, reason="civil claim expected", authority="Force solicitor")
    with pytest.raises(DisposalRefusedError, match="legal hold"):
        request_disposal(system, officer, CASE, "JS/2", reason="NFA")
    with pytest.raises(AccessDeniedError):
        release_hold(system, officer, CASE, hold, reason="claim settled")
    release_hold(system, sergeant, CASE, hold, reason="claim settled")
    request = request_disposal(system, officer, CASE, "JS/2", reason="NFA")
    # A hold placed after the request still stops the approval.
    second = place_hold(system, officer, CASE, exhibit="JS/2", reason="complaint to the IOPC")
    with pytest.raises(DisposalRefusedError, match="legal hold"):
        decide_disposal(system, inspector, request.id, approve=True, reason="ok")
    assert list_disposals(system, officer, CASE)[0].status == "requested"
    rejected = decide_disposal(system, inspector, request.id, approve=False, reason="under complaint")
    assert rejected.status == "rejected"
    assert [json.loads(e.details)["change"] for e in _events(system, "LEGAL_HOLD")] == ["placed", "released", "placed"]
    assert second > hold


def test_not_yet_due_needs_before_due(system: EvidenceSystem, people: tuple[Actor, ...]) -> None:
    officer, sergeant, inspector = people
    with pytest.raises(DisposalRefusedError, match="not yet due"):
        request_disposal(system, officer, CASE, "JS/3", reason="duplicate upload")
    request = request_disposal(system, officer, CASE, "JS/3", reason="duplicate upload", before_due=True)
    certificate_id = decide_disposal(system, sergeant, request.id, approve=True, reason="confirmed duplicate").id
    certificate = get_certificate(system, inspector, certificate_id)
    assert certificate["retention"]["before_due"] is True
    if shutil.which("pdftotext"):
        pdf = certificate_pdf(certificate)
        text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
        assert "CERTIFICATE OF DISPOSAL" in text and "BEFORE it was due" in text


def test_the_sweep_requests_and_never_deletes(system: EvidenceSystem, people: tuple[Actor, ...]) -> None:
    officer, sergeant, _ = people
    set_retention(system, officer, CASE, "bwv-non-evidential", exhibit="JS/1")
    set_retention(system, officer, CASE, "bwv-non-evidential", exhibit="JS/2")
    place_hold(system, officer, CASE, exhibit="JS/2", reason="subject access request")
    assert retention_sweep(system, today=date.today()).requested == []  # not 31 days old yet
    report = retention_sweep(system, today=LATER)
    assert [r["exhibit"] for r in report.requested] == ["JS/1"]
    assert [r["exhibit"] for r in report.held] == ["JS/2"]
    assert report.waiting == 1  # JS/3 waits for the case outcome
    assert retention_sweep(system, today=LATER).requested == []  # one request per exhibit
    with system.catalog.reading() as session:
        assert all(e.status != "disposed" for e in session.execute(select(Exhibit)).scalars())
    request = list_disposals(system, officer, CASE)[0]
    assert request.requested_by == SERVICE_ACTOR
    done = decide_disposal(system, sergeant, request.id, approve=True, reason="BWV not evidential", today=LATER)
    assert done.status == "disposed"


def test_an_object_another_exhibit_uses_is_kept(
    system: EvidenceSystem, people: tuple[Actor, ...], analyst: Actor, admin: Actor, tmp_path: Path
) -> None:
    officer, sergeant, inspector = people
    create_case(system, analyst, "OP-OTHER", "Same clip, another case")
    ingest(system, analyst, [tmp_path / "clip1.bin"], IngestRequest(case_ref="OP-OTHER", by="Jane Smith"))
    request = request_disposal(system, sergeant, CASE, "JS/1", reason="duplicate", before_due=True)
    decide_disposal(system, inspector, request.id, approve=True, reason="held in OP-OTHER")
    certificate = get_certificate(system, officer, request.id)
    kept = certificate["exhibits"][0]["objects_kept"]
    assert kept and kept[0]["still_used_by"] == ["OP-OTHER:JS/1"]
    assert system.store.exists(kept[0]["sha256"])


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_a_hold_on_an_extracted_file_blocks_disposing_of_its_device_image(
    system: EvidenceSystem, people: tuple[Actor, ...], analyst: Actor, tmp_path: Path
) -> None:
    from evidence_store.extraction import record_extracted

    officer = people[0]
    with system.catalog.reading() as session:
        image_id = session.execute(select(Exhibit.id).where(Exhibit.reference == "JS/1")).scalar_one()
    found = tmp_path / "found.jpg"
    found.write_bytes(b"\xff\xd8 a photo found on the phone")
    child = record_extracted(system, analyst, image_id, found, {"path": "/DCIM/found.jpg", "volume": 1})
    place_hold(system, officer, CASE, exhibit=child.exhibit_ref, reason="the photo is in a separate complaint")
    with pytest.raises(DisposalRefusedError, match="legal hold"):
        request_disposal(system, officer, CASE, "JS/1", reason="duplicate", before_due=True)


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_an_interrupted_disposal_is_finished_not_rejected_and_waits_for_a_new_hold(
    system: EvidenceSystem, people: tuple[Actor, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    from evidence_store.errors import StoreUnavailableError

    officer, sergeant, inspector = people
    request = request_disposal(system, officer, CASE, "JS/1", reason="duplicate", before_due=True)
    backend = type(system.store.backend)
    real_delete = backend.delete

    def outage(self: object, key: str) -> None:
        raise StoreUnavailableError("the store is down")

    monkeypatch.setattr(backend, "delete", outage)
    with pytest.raises(StoreUnavailableError):
        decide_disposal(system, sergeant, request.id, approve=True, reason="checked")
    monkeypatch.setattr(backend, "delete", real_delete)
    (stuck,) = list_disposals(system, officer, CASE)
    assert stuck.status == "approved"
    reviewed = json.loads(_events(system, "DISPOSAL_REVIEWED")[0].details)
    assert len(reviewed["objects_to_delete"]) == 1  # what goes is on the record before anything is deleted
    with pytest.raises(DisposalRefusedError, match="can only be finished"):
        decide_disposal(system, inspector, request.id, approve=False, reason="changed my mind")
    hold = place_hold(system, officer, CASE, exhibit="JS/1", reason="late complaint")
    with pytest.raises(DisposalRefusedError, match="legal hold"):
        decide_disposal(system, inspector, request.id, approve=True, reason="finish it")
    release_hold(system, inspector, CASE, hold, reason="complaint withdrawn")
    done = decide_disposal(system, inspector, request.id, approve=True, reason="finish it")
    assert done.status == "disposed" and len(_events(system, "DISPOSED")) == 1


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_whoever_made_an_exhibit_due_cannot_approve_the_sweeps_request(
    system: EvidenceSystem, people: tuple[Actor, ...]
) -> None:
    _officer, sergeant, inspector = people
    record_outcome(system, sergeant, CASE, "no_further_action", "2025-01-01")
    (first, *_rest) = retention_sweep(system, today=date.today()).requested
    with pytest.raises(DisposalRefusedError, match="second supervisor"):
        decide_disposal(system, sergeant, first["request"], approve=True, reason="NFA")
    assert decide_disposal(system, inspector, first["request"], approve=True, reason="NFA").status == "disposed"


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_after_disposal_the_same_bytes_are_a_new_exhibit_and_the_rest_still_works(
    system: EvidenceSystem, people: tuple[Actor, ...], analyst: Actor, tmp_path: Path
) -> None:
    from evidence_store.bundle_verify import verify_bundle
    from evidence_store.bundles import export_bundle
    from evidence_store.catalog import StoredObject

    officer, sergeant, inspector = people
    request = request_disposal(system, sergeant, CASE, "JS/1", reason="duplicate", before_due=True)
    decide_disposal(system, inspector, request.id, approve=True, reason="checked")
    with system.catalog.reading() as session:
        sha = session.execute(select(Exhibit.original_sha256).where(Exhibit.reference == "JS/1")).scalar_one()
        assert session.get(StoredObject, sha).envelope["wrapped_key"] is None  # type: ignore[union-attr]
    bundle = tmp_path / "after.zip"
    outcome = export_bundle(system, officer, CASE, bundle, recipient="CPS", reason="after disposal")
    assert outcome.exhibits == ("JS/2", "JS/3") and verify_bundle(bundle).ok
    again = ingest(system, analyst, [tmp_path / "clip1.bin"], IngestRequest(case_ref=CASE, by="Jane Smith"))
    assert again[0].exhibit_ref == "JS/4" and system.store.exists(sha)
    with system.catalog.reading() as session:
        assert session.get(StoredObject, sha).envelope["wrapped_key"]  # type: ignore[union-attr]
    assert verify(system, sergeant, case_ref=CASE, objects=True).ok


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_a_disposed_mark_without_its_ledger_event_is_a_catalog_mismatch(
    system: EvidenceSystem, people: tuple[Actor, ...]
) -> None:
    sergeant = people[1]
    with system.catalog.transaction() as session:
        exhibit = session.execute(select(Exhibit).where(Exhibit.reference == "JS/2")).scalar_one()
        exhibit.status = "disposed"  # someone editing the database to stop fixity checking it
    report = verify(system, sergeant, case_ref=CASE, objects=True)
    assert any(p.code == "EX-CATALOG-MISMATCH" and "no DISPOSED event" in p.message for p in report.problems)
