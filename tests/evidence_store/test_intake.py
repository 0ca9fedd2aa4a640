"""Intake on every store backend and catalog database: good files, folders, duplicates and bad input."""

import hashlib
import os
import struct
import zlib
from pathlib import Path

import pytest
from sqlalchemy import select

from evidence_store.access import SERVICE, Actor
from evidence_store.analysis import read_table
from evidence_store.cases import create_case
from evidence_store.catalog import Exhibit, StoredObject
from evidence_store.errors import BadReferenceError, NoFilesError, NotFoundError, PathMissingError
from evidence_store.inspect import exhibit_record
from evidence_store.intake import IngestProgress, IngestRequest, ingest
from evidence_store.ledger import Ledger
from evidence_store.objects import BLOCK_SIZE
from evidence_store.system import EvidenceSystem
from evidence_store.verification import verify

CASE = "OP-TEST"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 200 + b"\xff\xd9"


def _png() -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00abc")) + chunk(b"IEND", b"")


@pytest.fixture
def case(system: EvidenceSystem, analyst: Actor) -> str:
    create_case(system, analyst, CASE, "Test case")
    return CASE


def _events(system: EvidenceSystem, **filters: object) -> list[tuple[str, int | None]]:
    with system.catalog.reading() as session:
        return [(e.action, e.exhibit_id) for e in Ledger.iter(session, **filters)]


def _req(**kw: object) -> IngestRequest:
    return IngestRequest(case_ref=CASE, by=str(kw.pop("by", "Jane Smith")), **kw)  # type: ignore[arg-type]


def test_ingest_file_records_everything(system: EvidenceSystem, analyst: Actor, case: str, tmp_path: Path) -> None:
    path = tmp_path / "scene.png"
    path.write_bytes(_png())
    [outcome] = ingest(system, analyst, [path], _req(description="front door"))
    assert outcome.ok and outcome.exhibit_ref == "JS/1" and outcome.kind == "photo"
    assert outcome.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert outcome.md5 == hashlib.md5(path.read_bytes()).hexdigest()
    assert outcome.new_object
    with system.catalog.reading() as session:
        exhibit = session.get(Exhibit, outcome.exhibit_id)
        assert exhibit is not None
        assert (exhibit.description, exhibit.source_name, exhibit.original.media_type) == (
            "front door",
            "scene.png",
            "image/png",
        )
    assert _events(system, exhibit_id=outcome.exhibit_id) == [
        ("RECEIVED", outcome.exhibit_id),
        ("STORED", outcome.exhibit_id),
    ]
    assert b"".join(system.store.iter_plaintext(outcome.sha256)) == path.read_bytes()
    assert path.read_bytes() == _png()  # the source is never altered
    assert verify(system, SERVICE, objects=True).ok


def test_kind_comes_from_content_not_name(system: EvidenceSystem, analyst: Actor, case: str, tmp_path: Path) -> None:
    disguised = tmp_path / "holiday.mp4"
    disguised.write_bytes(JPEG)
    [outcome] = ingest(system, analyst, [disguised], _req())
    assert (outcome.kind, outcome.media_type) == ("photo", "image/jpeg")
    forced = tmp_path / "notes.bin"
    forced.write_bytes(b"plain words\n")
    [outcome] = ingest(system, analyst, [forced], _req(kind="document", exhibit_ref="js/7"))
    assert (outcome.kind, outcome.exhibit_ref) == ("document", "JS/7")


def test_folder_is_walked_in_order(system: EvidenceSystem, analyst: Actor, case: str, tmp_path: Path) -> None:
    folder = tmp_path / "seized"
    (folder / "b").mkdir(parents=True)
    (folder / "a.txt").write_text("first\n")
    (folder / "b" / "c.png").write_bytes(_png())
    (folder / ".hidden").write_text("evidence too\n")
    outcomes = ingest(system, analyst, [folder], _req(by="Ann Other"))
    assert [Path(o.path).name for o in outcomes] == [".hidden", "a.txt", "c.png"]
    assert [o.exhibit_ref for o in outcomes] == ["AO/1", "AO/2", "AO/3"]


def test_same_bytes_twice_one_object_two_receipts(
    system: EvidenceSystem, analyst: Actor, case: str, tmp_path: Path
) -> None:
    one, two = tmp_path / "one.jpg", tmp_path / "copy-of-one.jpg"
    one.write_bytes(JPEG)
    two.write_bytes(JPEG)
    first, second = ingest(system, analyst, [one, two], _req())
    assert second.duplicate_of == first.exhibit_id and not second.new_object
    create_case(system, analyst, "OP-OTHER", "Another case")
    [other] = ingest(system, analyst, [one], IngestRequest(case_ref="OP-OTHER", by="Jane Smith"))
    assert other.exhibit_id != first.exhibit_id and other.duplicate_of is None
    with system.catalog.reading() as session:
        assert len(session.execute(select(StoredObject)).scalars().all()) == 1
        assert len(session.execute(select(Exhibit)).scalars().all()) == 2
    assert _events(system, exhibit_id=first.exhibit_id) == [
        ("RECEIVED", first.exhibit_id),
        ("STORED", first.exhibit_id),
        ("RECEIVED", first.exhibit_id),
    ]
    assert list(system.store.iter_digests()) == [first.sha256]


def test_zero_byte_file_is_stored_and_flagged(
    system: EvidenceSystem, analyst: Actor, case: str, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.dat"
    empty.write_bytes(b"")
    [outcome] = ingest(system, analyst, [empty], _req())
    assert outcome.ok and outcome.size == 0
    assert [w["code"] for w in outcome.warnings] == ["EX-INPUT-EMPTY"]
    assert system.store.verify(outcome.sha256).size == 0
    rows = read_table(system, analyst, "warnings", CASE).to_pylist()
    assert [(r["exhibit_ref"], r["code"]) for r in rows] == [("JS/1", "EX-INPUT-EMPTY")]
    report = verify(system, SERVICE, objects=True)
    assert report.ok and report.objects_verified == 2  # the original and its warnings table
    other = tmp_path / "other-empty-looking.dat"
    other.write_bytes(b"")
    ingest(system, analyst, [other], _req(exhibit_ref="JS/9", kind="other"))  # same bytes: a receipt, no new table
    assert read_table(system, analyst, "warnings", CASE, limit=0).num_rows == 0
    assert read_table(system, analyst, "warnings", CASE, limit=5).num_rows == 1


def test_whole_command_refusals_store_nothing(
    system: EvidenceSystem, analyst: Actor, case: str, tmp_path: Path
) -> None:
    good = tmp_path / "good.txt"
    good.write_text("ok\n")
    (tmp_path / "empty-dir").mkdir()
    with pytest.raises(PathMissingError):
        ingest(system, analyst, [good, tmp_path / "nope.bin"], _req())
    with pytest.raises(NoFilesError):
        ingest(system, analyst, [tmp_path / "empty-dir"], _req())
    with pytest.raises(BadReferenceError):
        ingest(system, analyst, [good], _req(exhibit_ref="not a ref"))
    with pytest.raises(BadReferenceError):
        ingest(system, analyst, [good, good], _req(exhibit_ref="JS/1"))
    with pytest.raises(NotFoundError):
        ingest(system, analyst, [good], IngestRequest(case_ref="OP-NONE", by="x"))
    assert list(system.store.iter_digests()) == []
    refusals = [a for a, _ in _events(system, case_ref=CASE) if a == "INGEST_REFUSED"]
    assert len(refusals) == 3  # missing path, empty folder, one ref for two files (a malformed ref is caught first)


def test_per_file_refusals_go_on_with_the_rest(
    system: EvidenceSystem, analyst: Actor, case: str, tmp_path: Path
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a-good.txt").write_text("kept\n")
    os.mkfifo(folder / "b-pipe")
    (folder / "c-dangling").symlink_to(tmp_path / "gone")
    outcomes = ingest(system, analyst, [folder], _req())
    assert [(Path(o.path).name, o.error["code"] if o.error else None) for o in outcomes] == [
        ("a-good.txt", None),
        ("b-pipe", "EX-INPUT-SPECIAL-FILE"),
        ("c-dangling", "EX-INPUT-UNREADABLE"),
    ]
    assert [a for a, _ in _events(system, case_ref=CASE)].count("INGEST_REFUSED") == 2
    assert len(list(system.store.iter_digests())) == 1
    assert verify(system, SERVICE, objects=True).ok


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(system: EvidenceSystem, analyst: Actor, case: str, tmp_path: Path) -> None:
    locked = tmp_path / "locked.bin"
    locked.write_bytes(b"secret")
    locked.chmod(0)
    [outcome] = ingest(system, analyst, [locked], _req())
    assert outcome.error is not None and outcome.error["code"] == "EX-INPUT-UNREADABLE"


def test_file_changing_while_read_is_refused(system: EvidenceSystem, analyst: Actor, case: str, tmp_path: Path) -> None:
    path = tmp_path / "still-recording.mp4"
    path.write_bytes(os.urandom(2 * BLOCK_SIZE + 10))
    size = path.stat().st_size

    def writer_still_appending(_n: int) -> None:
        if path.stat().st_size == size:
            with path.open("ab") as handle:
                handle.write(os.urandom(4096))

    [outcome] = ingest(system, analyst, [path], _req(), IngestProgress(advanced=writer_still_appending))
    assert outcome.error is not None and outcome.error["code"] == "EX-INPUT-CHANGED"
    assert list(system.store.iter_digests()) == []
    assert list(system.store.backend.list_keys("staging/")) == []
    assert [a for a, _ in _events(system, case_ref=CASE)][-1] == "INGEST_REFUSED"
    [retry] = ingest(system, analyst, [path], _req())  # once complete, it goes in
    assert retry.ok


def test_progress_reports_every_byte(system: EvidenceSystem, analyst: Actor, case: str, tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(BLOCK_SIZE * 2 + 77))
    seen: list[int] = []
    planned: list[tuple[int, int]] = []
    ingest(
        system,
        analyst,
        [path],
        _req(),
        IngestProgress(planned=lambda f, b: planned.append((f, b)), advanced=seen.append),
    )
    assert planned == [(1, path.stat().st_size)] and sum(seen) == path.stat().st_size


def test_file_name_that_is_not_utf8(system: EvidenceSystem, analyst: Actor, case: str, tmp_path: Path) -> None:
    """Seized FAT media carry names in old code pages: stored, shown escaped, and recorded exactly in hex."""
    folder = tmp_path / "card"
    folder.mkdir()
    raw_name = b"caf\xe9-\xff.txt"
    with open(os.path.join(os.fsencode(folder), raw_name), "wb") as handle:
        handle.write(b"latin-1 name\n")
    [outcome] = ingest(system, analyst, [folder], _req())
    assert outcome.ok, outcome.error
    with system.catalog.reading() as session:
        exhibit = session.get(Exhibit, outcome.exhibit_id)
        assert exhibit is not None and exhibit.source_name == "caf\\xe9-\\xff.txt"
        [received, _stored] = list(Ledger.iter(session, exhibit_id=outcome.exhibit_id))
    assert bytes.fromhex(received.details["source_path_hex"]).endswith(raw_name)
    assert verify(system, SERVICE, objects=True).ok


@pytest.mark.parametrize("settings", ["file-sqlite", "s3-postgresql"], indirect=True)
def test_a_split_image_is_one_exhibit_with_its_segments_in_order(
    system: EvidenceSystem, analyst: Actor, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-SPLIT", "Split image")
    image = os.urandom(3 << 20)
    folder = tmp_path / "seized"
    folder.mkdir()
    parts = [image[: 1 << 20], image[1 << 20 : 2 << 20], image[2 << 20 :]]
    for n, part in enumerate(parts, start=1):
        (folder / f"laptop.{n:03d}").write_bytes(part)
    (folder / "notes.txt").write_text("seized from the study\n")
    outcomes = ingest(system, analyst, [folder], IngestRequest(case_ref="OP-SPLIT", by="Jane Smith"))
    assert len(outcomes) == 2 and all(o.ok for o in outcomes)
    split = next(o for o in outcomes if o.segments)
    assert split.segments == ("laptop.001", "laptop.002", "laptop.003")
    record = exhibit_record(system, analyst, split.exhibit_id)
    assert [(s["position"], s["name"], s["size"]) for s in record["segments"]] == [
        (0, "laptop.001", 1 << 20),
        (1, "laptop.002", 1 << 20),
        (2, "laptop.003", 1 << 20),
    ]
    assert [s["sha256"] for s in record["segments"]] == [hashlib.sha256(p).hexdigest() for p in parts]
    assert record["original"]["sha256"] == record["segments"][0]["sha256"]
    with system.catalog.reading() as session:
        events = list(Ledger.iter(session, exhibit_id=split.exhibit_id))
    (received,) = [e for e in events if e.action == "RECEIVED"]
    assert [s["sha256"] for s in received.details["segments"]] == [s["sha256"] for s in record["segments"]]
    assert received.details["image_size"] == len(image)
    assert sorted(e.object_sha256 for e in events if e.action == "STORED") == sorted(
        s["sha256"] for s in record["segments"]
    )
    assert verify(system, SERVICE, objects=True).ok
