"""The device_verification asset on images made here: a split E01 verified on the ledger, a tampered one
flagged (not crashed), a raw image hashed, a mislabelled file refused with a code."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from dagster import DagsterInstance

from evidence_store.access import Actor, add_user
from evidence_store.analysis import read_table
from evidence_store.cases import create_case
from evidence_store.errors import AccessDeniedError, AlreadyExistsError
from evidence_store.file_index import directory_listing
from evidence_store.hashsets import import_hashset
from evidence_store.inspect import exhibit_record
from evidence_store.intake import IngestRequest, ingest
from evidence_store.ledger import Ledger
from evidence_store.settings import Settings
from evidence_store.system import EvidenceSystem
from pipelines.assets import original
from pipelines.sample_media import make_bwv_clip, write_scene_photo
from tests.conftest import flip_stored_byte, settings_env
from tests.forensics.test_device_image import make_ewf, make_fat
from tests.pipelines.dagster_support import failure_description, materialize_exhibit
from tests.pipelines.test_cli import EXHIBIT

pytestmark = pytest.mark.skipif(not shutil.which("ewfacquirestream"), reason="ewf-tools is not installed")


@pytest.fixture
def instance() -> DagsterInstance:
    return DagsterInstance.ephemeral()


def _ingest(system: EvidenceSystem, analyst: Actor, *paths: Path) -> tuple[str, int]:
    (outcome,) = ingest(system, analyst, list(paths), IngestRequest(case_ref="OP-DEVICE", by="PC Smith"))
    assert outcome.ok, outcome.error
    assert outcome.exhibit_uid is not None and outcome.exhibit_id is not None
    return outcome.exhibit_uid, outcome.exhibit_id


def _metadata(result: Any, asset: str) -> Any:
    (found,) = [m for m in result.asset_materializations_for_node("device_contents") if m.asset_key.path == [asset]]
    return found.metadata


def _actions(system: EvidenceSystem, exhibit_id: int) -> list[str]:
    with system.catalog.reading() as session:
        return [e.action for e in Ledger.iter(session, exhibit_id=exhibit_id)]


@pytest.mark.parametrize("settings", ["file-sqlite", "s3-postgresql"], indirect=True)
def test_a_split_e01_is_verified_on_the_ledger_with_its_volumes(
    system: EvidenceSystem, analyst: Actor, settings: Settings, instance: DagsterInstance, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-DEVICE", "Seized laptop")
    fat = make_fat(tmp_path, kib=2880)
    segments = make_ewf(tmp_path / "ewf", fat, segment_bytes="1MiB")
    assert len(segments) >= 2
    uid, exhibit_id = _ingest(system, analyst, *segments)
    result = materialize_exhibit(instance, settings, uid)
    assert result.success
    metadata = result.asset_materializations_for_node("device_verification")[0].metadata
    assert metadata["verified"].value is True and metadata["ledger"].value == "HASH_VERIFIED"
    (row,) = read_table(system, analyst, "device_verification", "OP-DEVICE", exhibit_id).to_pylist()
    assert (row["format"], row["matches"], row["verified"]) == ("ewf", True, True)
    assert row["stored_md5"] == row["computed_md5"] and row["media_size"] == fat.stat().st_size
    assert (row["case_number"], row["examiner"], row["evidence_number"]) == ("CASE-7", "PC Smith", "EV-42")
    volumes = read_table(system, analyst, "device_volumes", "OP-DEVICE", exhibit_id).to_pylist()
    assert [(v["volume_system"], v["start"], v["file_system"]) for v in volumes] == [("none", 0, "FAT12")]
    assert "HASH_VERIFIED" in _actions(system, exhibit_id)
    record = exhibit_record(system, analyst, uid)
    assert record["device_verification"]["verified"] is True and len(record["segments"]) == len(segments)
    assert record["status"] == "stored"


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_a_tampered_e01_is_a_red_flag_not_a_crash(
    system: EvidenceSystem, analyst: Actor, settings: Settings, instance: DagsterInstance, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-DEVICE", "Seized laptop")
    (single,) = make_ewf(tmp_path / "ewf", make_fat(tmp_path), segment_bytes="100MiB", name="tampered")
    data = bytearray(single.read_bytes())
    data[data.find(b"EXHIBIT")] ^= 0xFF  # a byte of the FAT boot sector, in uncompressed chunk data
    single.write_bytes(bytes(data))
    uid, exhibit_id = _ingest(system, analyst, single)
    result = materialize_exhibit(instance, settings, uid)
    assert result.success  # the run says what it found; it does not crash
    metadata = result.asset_materializations_for_node("device_verification")[0].metadata
    assert metadata["verified"].value is False and metadata["ledger"].value == "FIXITY_FAILED"
    with system.catalog.reading() as session:
        (failed,) = [e for e in Ledger.iter(session, exhibit_id=exhibit_id) if e.action == "FIXITY_FAILED"]
    assert failed.details["matches"] is False and [m["algorithm"] for m in failed.details["mismatches"]] == [
        "md5",
        "sha1",
    ]
    assert "stored md5" in (failed.reason or "")
    record = exhibit_record(system, analyst, uid)
    assert record["status"] == "damaged"
    assert "EX-DEVICE-HASH-MISMATCH" in {w["code"] for w in record["analysis_warnings"]}


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_a_raw_image_is_hashed_and_a_mislabelled_file_refused(
    system: EvidenceSystem, analyst: Actor, settings: Settings, instance: DagsterInstance, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-DEVICE", "Seized laptop")
    fat = make_fat(tmp_path)
    uid, exhibit_id = _ingest(system, analyst, fat)
    assert materialize_exhibit(instance, settings, uid).success
    (row,) = read_table(system, analyst, "device_verification", "OP-DEVICE", exhibit_id).to_pylist()
    assert (row["format"], row["matches"], row["stored_md5"]) == ("raw", None, None)
    assert "ANALYSED" in _actions(system, exhibit_id) and "FIXITY_FAILED" not in _actions(system, exhibit_id)

    # EWF magic and nothing after it, declared a device image: refused with a code, the bytes kept.
    fake = tmp_path / "fake.E01"
    fake.write_bytes(b"EVF\x09\x0d\x0a\xff\x00" + bytes(200))
    other, _ = _ingest(system, analyst, fake)
    failed = materialize_exhibit(instance, settings, other, raise_on_error=False)
    assert not failed.success and failure_description(failed).startswith("[EX-DEVICE-")
    assert exhibit_record(system, analyst, other)["status"] == "damaged"


@pytest.mark.parametrize("settings", ["file-sqlite", "s3-postgresql"], indirect=True)
def test_every_file_of_an_e01_is_listed_with_hashes_and_deletions(
    system: EvidenceSystem, analyst: Actor, settings: Settings, instance: DagsterInstance, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-DEVICE", "Seized laptop")
    fat = make_fat(tmp_path, kib=2880)
    plan = tmp_path / "plan.txt"
    plan.write_bytes(b"meet at the docks at nine\n" * 300)
    subprocess.run(["mmd", "-i", str(fat), "::/DOCS"], check=True)
    subprocess.run(["mcopy", "-i", str(fat), str(plan), "::/DOCS/PLAN.TXT"], check=True)
    subprocess.run(["mcopy", "-i", str(fat), str(plan), "::/GONE.TXT"], check=True)
    subprocess.run(["mdel", "-i", str(fat), "::/GONE.TXT"], check=True)
    uid, exhibit_id = _ingest(system, analyst, *make_ewf(tmp_path / "ewf", fat, segment_bytes="1MiB"))
    result = materialize_exhibit(instance, settings, uid)
    assert result.success
    metadata = _metadata(result, "device_file_listing")
    rows = read_table(system, analyst, "device_files", "OP-DEVICE", exhibit_id).to_pylist()
    assert metadata["entries"].value == len(rows)
    by_path = {r["path"]: r for r in rows}
    planned = by_path["/DOCS/PLAN.TXT"]
    assert (planned["size"], planned["deleted"], planned["file_type"]) == (plan.stat().st_size, False, "regular")
    assert planned["sha256"] == hashlib.sha256(plan.read_bytes()).hexdigest()
    assert planned["magic_mime"] == "text/plain" and planned["times_are_local"] is True
    assert by_path["/NOTE.TXT"]["md5"] == hashlib.md5(b"the key is under the mat\n").hexdigest()
    (gone,) = [r for r in rows if r["deleted"] and r["name"].endswith("ONE.TXT")]
    assert gone["recovery_unreliable"] is True  # deleted FAT content: its clusters may since be reused
    assert by_path["/DOCS"]["file_type"] == "directory" and by_path["/DOCS"]["md5"] is None
    docs = directory_listing(system, analyst, exhibit_id, "/DOCS")  # indexed as the listing was made
    assert [(r["path"], r["sha256"]) for r in docs.rows] == [("/DOCS/PLAN.TXT", planned["sha256"])]


@pytest.mark.parametrize("settings", ["file-sqlite", "s3-postgresql"], indirect=True)
def test_hash_sets_mark_known_files_and_raise_alerts(
    system: EvidenceSystem, analyst: Actor, admin: Actor, settings: Settings, instance: DagsterInstance, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-DEVICE", "Seized laptop")
    fat = make_fat(tmp_path, kib=2880)
    readme = tmp_path / "readme.txt"
    readme.write_text("operating system file\n")
    subprocess.run(["mcopy", "-i", str(fat), str(readme), "::/README.TXT"], check=True)
    note_md5 = hashlib.md5(b"the key is under the mat\n").hexdigest()
    bad = tmp_path / "contraband.md5"
    bad.write_text(f"{note_md5} *note.txt\nnot a line of a hash set\n")
    good = tmp_path / "os.sha256"
    good.write_text(f"{hashlib.sha256(readme.read_bytes()).hexdigest()}\t/readme.txt\n")
    imported = import_hashset(system, analyst, bad, name="case contraband", kind="known_bad")
    assert (imported["entries"], imported["bad_lines"], imported["format"]) == (1, 1, "md5sum")
    # As a user runs it: the CLI, with the format told from the file.
    proc = subprocess.run(
        [EXHIBIT, "--as", "test.analyst", "hashset", "import", str(good), "--name", "os build", "--json"],
        env=settings_env(settings), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["format"] == "digest-path"
    with pytest.raises(AlreadyExistsError):
        import_hashset(system, admin, good, name="os build", kind="known")
    with system.catalog.reading() as session:
        imports = [e for e in Ledger.iter(session) if e.action == "HASHSET_IMPORTED"]
    assert [e.details["name"] for e in imports] == ["case contraband", "os build"]

    uid, exhibit_id = _ingest(system, analyst, fat)
    result = materialize_exhibit(instance, settings, uid)
    metadata = _metadata(result, "device_file_listing")
    assert (metadata["known"].value, metadata["alerts"].value) == (2, 1)
    rows = {r["path"]: r for r in read_table(system, analyst, "device_files", "OP-DEVICE", exhibit_id).to_pylist()}
    assert (rows["/NOTE.TXT"]["known"], rows["/NOTE.TXT"]["alert"]) == (True, True)
    assert rows["/NOTE.TXT"]["known_sets"] == ["case contraband"]
    assert (rows["/README.TXT"]["known"], rows["/README.TXT"]["alert"]) == (True, False)
    assert rows["/README.TXT"]["known_sets"] == ["os build"]
    warnings = read_table(system, analyst, "warnings", "OP-DEVICE", exhibit_id).to_pylist()
    assert "EX-DEVICE-KNOWN-BAD" in {w["code"] for w in warnings}


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_only_analysts_and_admins_import_hash_sets(system: EvidenceSystem, admin: Actor, tmp_path: Path) -> None:
    investigator = add_user(system, admin, "dc.green", "investigator")
    listing = tmp_path / "list.md5"
    listing.write_text(f"{'0' * 32} *x\n")
    with pytest.raises(AccessDeniedError):
        import_hashset(system, investigator, listing, name="mine", kind="known")


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_photos_on_an_image_become_child_exhibits_that_are_analysed_in_turn(
    system: EvidenceSystem, analyst: Actor, settings: Settings, instance: DagsterInstance, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-DEVICE", "Seized phone")
    fat = make_fat(tmp_path, kib=2880)
    photo = write_scene_photo(tmp_path / "scene.jpg")
    subprocess.run(["mmd", "-i", str(fat), "::/DCIM"], check=True)
    subprocess.run(["mcopy", "-i", str(fat), str(photo), "::/DCIM/IMG_0001.JPG"], check=True)
    subprocess.run(["mcopy", "-i", str(fat), str(photo), "::/DCIM/COPY.JPG"], check=True)  # the same bytes twice
    clip = make_bwv_clip(tmp_path, "clip.mp4", seconds=1)
    subprocess.run(["mcopy", "-i", str(fat), str(clip), "::/VIDEO.BIN"], check=True)  # media by content, not name
    subprocess.run(["mcopy", "-i", str(fat), str(photo), "::/DELETED.JPG"], check=True)
    subprocess.run(["mdel", "-i", str(fat), "::/DELETED.JPG"], check=True)
    uid, exhibit_id = _ingest(system, analyst, fat)
    result = materialize_exhibit(instance, settings, uid)
    assert result.success
    extracted = _metadata(result, "extracted_media")
    assert (extracted["extracted"].value, extracted["new_child_exhibits"].value) == (4, 2)
    rows = {r["path"]: r for r in read_table(system, analyst, "device_files", "OP-DEVICE", exhibit_id).to_pylist()}
    first, copy = rows["/DCIM/IMG_0001.JPG"], rows["/DCIM/COPY.JPG"]
    assert first["child_exhibit_id"] is not None and first["child_exhibit_id"] == copy["child_exhibit_id"]
    assert rows["/VIDEO.BIN"]["child_exhibit_id"] not in (None, first["child_exhibit_id"])
    assert rows["/NOTE.TXT"]["child_exhibit_id"] is None  # text is listed, not extracted
    deleted = next(r for r in rows.values() if r["deleted"] and r["name"].endswith("ELETED.JPG"))
    assert deleted["child_exhibit_id"] == first["child_exhibit_id"]  # recovered bytes equal to the photo's

    parent = exhibit_record(system, analyst, uid)
    children = {c["exhibit_ref"] for c in parent["children"]}
    assert children == {first["child_exhibit_ref"], rows["/VIDEO.BIN"]["child_exhibit_ref"]}
    child = exhibit_record(system, analyst, first["child_exhibit_id"])
    assert (child["kind"], child["parent_id"], child["source_name"]) == ("photo", exhibit_id, "IMG_0001.JPG")
    assert child["original"]["sha256"] == hashlib.sha256(photo.read_bytes()).hexdigest()
    with system.catalog.reading() as session:
        receipts = [e for e in Ledger.iter(session, exhibit_id=child["exhibit_id"]) if e.action == "RECEIVED"]
        derived = [e for e in Ledger.iter(session, exhibit_id=exhibit_id) if e.action == "DERIVED"]
    # One receipt for each place the same bytes were found, the deleted copy included.
    expected = sorted(["/DCIM/COPY.JPG", "/DCIM/IMG_0001.JPG", deleted["path"]])
    assert sorted(r.details["path"] for r in receipts) == expected
    assert receipts[0].details["extracted_from"]["exhibit_uid"] == uid
    assert {e.details["child_exhibit_ref"] for e in derived} == children
    # The child goes through the photo assets like any photo.
    analysed = materialize_exhibit(instance, settings, child["exhibit_uid"])
    assert analysed.asset_materializations_for_node("photo_metadata")
    assert exhibit_record(system, analyst, child["exhibit_uid"])["photo_metadata"]["make"] == "Samsung"


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_the_listing_exports_as_dfxml_and_a_hashdeep_manifest(
    system: EvidenceSystem, analyst: Actor, settings: Settings, instance: DagsterInstance, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-DEVICE", "Seized laptop")
    fat = make_fat(tmp_path)
    uid, exhibit_id = _ingest(system, analyst, fat)
    assert materialize_exhibit(instance, settings, uid).success
    note_md5 = hashlib.md5(b"the key is under the mat\n").hexdigest()
    for fmt in ("dfxml", "hashdeep"):
        out = tmp_path / f"listing.{fmt}"
        proc = subprocess.run(
            [EXHIBIT, "--as", "test.analyst", "export-listing", uid, "--format", fmt, "--out", str(out), "--json"],
            env=settings_env(settings), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["entries"] >= 1
    tree = ElementTree.parse(tmp_path / "listing.dfxml")
    ns = {"d": "http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML"}
    objects = {o.findtext("d:filename", namespaces=ns): o for o in tree.getroot().iter(f"{{{ns['d']}}}fileobject")}
    digests = {h.get("type"): h.text for h in objects["NOTE.TXT"].iter(f"{{{ns['d']}}}hashdigest")}
    assert digests["md5"] == note_md5
    manifest = (tmp_path / "listing.hashdeep").read_text().splitlines()
    assert manifest[0] == "%%%% HASHDEEP-1.0" and any(
        line.endswith(",/NOTE.TXT") and note_md5 in line for line in manifest
    )
    # An existing file is never overwritten; a view of the listing is on the ledger.
    again = subprocess.run(
        [EXHIBIT, "--as", "test.analyst", "export-listing", uid, "--out", str(tmp_path / "listing.dfxml")],
        env=settings_env(settings), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 2 and "[EX-" in again.stdout + again.stderr
    with system.catalog.reading() as session:
        views = [e.details.get("what") for e in Ledger.iter(session, exhibit_id=exhibit_id) if e.action == "VIEWED"]
    assert "device listing as dfxml" in views


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_the_fixity_check_covers_every_segment_of_a_split_original(
    system: EvidenceSystem, analyst: Actor, settings: Settings, instance: DagsterInstance, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-DEVICE", "Seized laptop")
    segments = make_ewf(tmp_path / "ewf", make_fat(tmp_path, kib=2880), segment_bytes="1MiB")
    uid, exhibit_id = _ingest(system, analyst, *segments)
    checked = materialize_exhibit(instance, settings, uid, assets=[original])
    assert {e.check_name: e.passed for e in checked.get_asset_check_evaluations()}["fixity"]
    with system.catalog.reading() as session:
        verified = {e.object_sha256 for e in Ledger.iter(session, exhibit_id=exhibit_id) if e.action == "HASH_VERIFIED"}
    assert verified == {hashlib.sha256(s.read_bytes()).hexdigest() for s in segments}
    # A byte changed in the stored second segment fails the check, naming it.
    second = hashlib.sha256(segments[1].read_bytes()).hexdigest()
    flip_stored_byte(system, second)
    again = materialize_exhibit(instance, settings, uid, assets=[original])
    fixity = {e.check_name: e for e in again.get_asset_check_evaluations()}["fixity"]
    assert not fixity.passed and fixity.metadata["code"].value == "EX-CHUNK-TAMPERED"
    with system.catalog.reading() as session:
        failed = [e.object_sha256 for e in Ledger.iter(session, exhibit_id=exhibit_id) if e.action == "FIXITY_FAILED"]
    assert failed == [second]
