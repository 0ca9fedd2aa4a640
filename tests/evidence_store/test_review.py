"""The review app's reads, on every store and catalog: who sees which case, pages and counts, search, the
projection of photo facts into the catalog, the timeline, the map and the custody badge."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import select

from evidence_store.access import Actor, add_member, add_user
from evidence_store.analysis import record_table
from evidence_store.cases import create_case
from evidence_store.catalog import CustodyEventRow, ExhibitFact
from evidence_store.errors import AccessDeniedError, NotFoundError
from evidence_store.facts import rebuild_facts
from evidence_store.intake import IngestRequest, ingest
from evidence_store.review import (
    ExhibitFilter,
    case_overview,
    case_timeline,
    custody_badge,
    exhibit_page,
    geotagged,
    grant_object,
    member_cases,
    open_case,
    read_object,
    rebuild_indexes,
    search_case,
)
from evidence_store.system import EvidenceSystem
from schemas.tables import PHOTO_METADATA

CASE = "OP-REVIEW"


@pytest.fixture
def case(system: EvidenceSystem, analyst: Actor, tmp_path: Path) -> dict[str, int]:
    create_case(system, analyst, CASE, "Review reads")
    ids = {}
    for name, data in {
        "scene.jpg": b"\xff\xd8\xff\xe0 not really a jpeg " * 50,
        "notes_50%.txt": b"statement of the witness",
        "call.bin": b"\x00\x01" * 300,
    }.items():
        path = tmp_path / name
        path.write_bytes(data)
        (outcome,) = ingest(system, analyst, [path], IngestRequest(case_ref=CASE, by="Jane Smith", description=name))
        assert outcome.exhibit_id is not None
        ids[name] = outcome.exhibit_id
    row = {name: None for name in PHOTO_METADATA.names}
    row.update(
        exhibit_id=ids["scene.jpg"],
        exhibit_ref="JS/1",
        make="Acme",
        model="Evidence Cam 9",
        serial="SN-4471",
        taken_utc="2024-03-01T10:15:00Z",
        taken_source="EXIF DateTimeOriginal+OffsetTimeOriginal",
        taken_reliability="camera clock with zone",
        latitude=51.5033,
        longitude=-0.1196,
        tool="test",
    )
    record_table(
        system,
        analyst,
        ids["scene.jpg"],
        "photo_metadata",
        pa.Table.from_pylist([row], PHOTO_METADATA),
        tool="t",
        tool_version="1",
    )
    return ids


def test_users_see_only_their_cases(system: EvidenceSystem, analyst: Actor, admin: Actor, case: dict[str, int]) -> None:
    outsider = add_user(system, admin, "pc.outsider", "investigator")
    assert [c.reference for c in member_cases(system, analyst)] == [CASE]
    assert member_cases(system, analyst)[0].exhibits == 3
    assert member_cases(system, outsider) == []
    with pytest.raises(AccessDeniedError):
        open_case(system, outsider, CASE)
    with pytest.raises(AccessDeniedError):
        exhibit_page(system, outsider, CASE)
    with system.catalog.reading() as session:
        refused = (
            session.execute(
                select(CustodyEventRow).where(
                    CustodyEventRow.action == "ACCESS_DENIED", CustodyEventRow.actor == "pc.outsider"
                )
            )
            .scalars()
            .all()
        )
    assert len(refused) == 2 and all(e.case_ref == CASE for e in refused)
    add_member(system, admin, CASE, "pc.outsider")
    assert [c.reference for c in member_cases(system, outsider)] == [CASE]


def test_overview_and_pages(system: EvidenceSystem, analyst: Actor, case: dict[str, int]) -> None:
    overview = case_overview(system, analyst, CASE)
    assert overview.exhibits == 3 and sum(overview.by_kind.values()) == 3
    first = exhibit_page(system, analyst, CASE, offset=0, limit=2)
    second = exhibit_page(system, analyst, CASE, offset=2, limit=2)
    assert first.total == second.total == 3
    assert [r["exhibit_ref"] for r in first.rows + second.rows] == ["JS/1", "JS/2", "JS/3"]
    assert first.rows[0]["analyses"] == ["photo_metadata"]
    literal = exhibit_page(system, analyst, CASE, ExhibitFilter(text="50%"))
    assert [r["source_name"] for r in literal.rows] == ["notes_50%.txt"]  # % is a character, not a wildcard
    assert exhibit_page(system, analyst, CASE, ExhibitFilter(text="5_%")).total == 0


def test_search_by_hash_field_and_camera(system: EvidenceSystem, analyst: Actor, case: dict[str, int]) -> None:
    with system.catalog.reading() as session:
        from evidence_store.catalog import Exhibit

        exhibit = session.get(Exhibit, case["call.bin"])
        assert exhibit is not None
        sha256, md5 = exhibit.original_sha256, exhibit.original.md5
    for digest in (sha256, sha256.upper(), md5):
        found = search_case(system, analyst, CASE, f"  {digest} ")
        assert [(h["exhibit_ref"], h["what"]) for h in found.hashes] == [("JS/3", "original")]
    assert [e["exhibit_ref"] for e in search_case(system, analyst, CASE, "witness").exhibits] == []
    assert [e["exhibit_ref"] for e in search_case(system, analyst, CASE, "notes").exhibits] == ["JS/2"]
    assert [m["serial"] for m in search_case(system, analyst, CASE, "sn-44").metadata] == ["SN-4471"]
    assert search_case(system, analyst, CASE, "  ").count == 0


def test_facts_feed_the_map_and_the_timeline(system: EvidenceSystem, analyst: Actor, case: dict[str, int]) -> None:
    [place] = geotagged(system, analyst, CASE)
    assert (place["exhibit_ref"], place["latitude"], place["longitude"]) == ("JS/1", 51.5033, -0.1196)
    events = case_timeline(system, analyst, CASE)
    taken = [e for e in events if e["what"] == "photo taken"]
    assert taken and taken[0]["time"] == "2024-03-01T10:15:00Z" and taken[0]["reliability"] == "camera clock with zone"
    assert any(e["what"] == "custody: RECEIVED" for e in events)
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)
    window = case_timeline(system, analyst, CASE, "2024-01-01", "2024-12-31")
    assert [e["what"] for e in window] == ["photo taken"]
    with system.catalog.transaction() as session:
        session.query(ExhibitFact).delete()
    assert geotagged(system, analyst, CASE) == []
    assert rebuild_facts(system) == 1
    assert len(geotagged(system, analyst, CASE)) == 1


def test_objects_are_granted_per_exhibit_and_downloads_need_a_reason(
    system: EvidenceSystem, analyst: Actor, case: dict[str, int]
) -> None:
    with system.catalog.reading() as session:
        from evidence_store.catalog import Exhibit

        notes = session.get(Exhibit, case["notes_50%.txt"])
        call = session.get(Exhibit, case["call.bin"])
        assert notes is not None and call is not None
        notes_sha, call_sha = notes.original_sha256, call.original_sha256
    grant = grant_object(system, analyst, case["notes_50%.txt"], notes_sha)
    assert read_object(system, grant) == b"statement of the witness"
    with pytest.raises(NotFoundError):
        grant_object(system, analyst, case["notes_50%.txt"], call_sha)  # another exhibit's object
    with pytest.raises(AccessDeniedError, match="reason"):
        grant_object(system, analyst, case["call.bin"], call_sha, download=True)
    grant_object(system, analyst, case["call.bin"], call_sha, download=True, reason="expert's copy")
    with system.catalog.reading() as session:
        downloaded = (
            session.execute(select(CustodyEventRow).where(CustodyEventRow.action == "DOWNLOADED")).scalars().all()
        )
    assert [(e.object_sha256, e.reason) for e in downloaded] == [(call_sha, "expert's copy")]


def test_custody_badge(system: EvidenceSystem, analyst: Actor, case: dict[str, int]) -> None:
    badge = custody_badge(system, analyst, case["call.bin"])
    assert badge.ok, badge.problems
    assert (badge.chain, badge.signatures, badge.inclusion) == ("ok", "ok", "ok")
    assert badge.events >= 2 and badge.checkpoint_size >= badge.events
    assert badge.proof["exhibit"]["exhibit_ref"] == "JS/3"


def test_custody_badge_names_an_altered_event(system: EvidenceSystem, analyst: Actor, case: dict[str, int]) -> None:
    with system.catalog.transaction() as session:
        event = session.execute(
            select(CustodyEventRow)
            .where(CustodyEventRow.exhibit_id == case["call.bin"], CustodyEventRow.action == "STORED")
            .limit(1)
        ).scalar_one()
        event.reason = "edited behind Exhibit's back"
    badge = custody_badge(system, analyst, case["call.bin"])
    assert not badge.ok
    assert badge.chain == "failed" and badge.signatures == "not reached"
    assert any("EX-LEDGER-HASH" in p for p in badge.problems)


def test_indexes_are_rebuilt_by_supervisors_and_admins(
    system: EvidenceSystem, analyst: Actor, admin: Actor, case: dict[str, int]
) -> None:
    with pytest.raises(AccessDeniedError):
        rebuild_indexes(system, analyst)
    assert rebuild_indexes(system, admin) == {"exhibits_with_facts": 1, "device_listings": 0, "file_rows": 0}
