"""The shared E01s, split sets and virtual disks through ingest and the device_verification asset: the stored
MD5s in ../shared/data/README.md verified on the ledger, and the broken ones refused with a code."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance

from evidence_store.access import SERVICE, Actor
from evidence_store.analysis import read_table
from evidence_store.cases import create_case
from evidence_store.intake import IngestRequest, ingest
from evidence_store.settings import Settings
from evidence_store.system import EvidenceSystem
from evidence_store.verification import verify
from tests.pipelines.dagster_support import failure_description, materialize_exhibit
from tests.realdata.shared import DATA, skip_without_data

skip_without_data()
pytestmark = pytest.mark.realdata
IMAGES = DATA / "disk_images"

# README: "Stored hashes in the E01s. Each stored hash was read and the media hash recomputed; all matched."
STORED_MD5 = {
    ("sleuthkit/image.E01",): "3ebb0b7dcd6b5fcd59a0020625d70994",
    ("dfvfs/ext2.E01",): "196066add11fb71c4c49cf1bb50d6d24",
    ("dfvfs/ext2.split.E01", "dfvfs/ext2.split.E02"): "196066add11fb71c4c49cf1bb50d6d24",
    ("nps/exfat1.E01",): "0777ee90c27ed5ff5868af2015bed635",
    ("nps/ntfs1-gen0.E01",): "56abc8bc1c01f9ceb262c50a64c134c5",
}


@pytest.fixture
def instance() -> DagsterInstance:
    return DagsterInstance.ephemeral()


@pytest.mark.slow
@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_stored_hashes_of_the_shared_images_verify_on_the_ledger(
    system: EvidenceSystem, analyst: Actor, settings: Settings, instance: DagsterInstance, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-DISKS", "Shared disk images")
    request = IngestRequest(case_ref="OP-DISKS", by="Jane Smith")
    for names, md5 in STORED_MD5.items():
        (outcome,) = ingest(system, analyst, [IMAGES / n for n in names], request)
        assert outcome.ok and outcome.exhibit_uid is not None, outcome.error
        result = materialize_exhibit(instance, settings, outcome.exhibit_uid)
        assert result.success, names
        metadata = result.asset_materializations_for_node("device_verification")[0].metadata
        assert (metadata["stored_md5"].value, metadata["computed_md5"].value) == (md5, md5), names
        assert metadata["ledger"].value == "HASH_VERIFIED", names
    exfat = read_table(system, analyst, "device_volumes", "OP-DISKS").to_pylist()
    assert any(v["volume_system"] == "gpt" and v["start_sector"] == 2048 and v["file_system"] == "exFAT" for v in exfat)
    # The README's answers for the ext2 images' files, from the listing of every image that holds them.
    files = read_table(system, analyst, "device_files", "OP-DISKS").to_pylist()
    md5s = {(r["path"], r["md5"]) for r in files}
    assert ("/passwords.txt", "39cb097008d17660abd0539891a672af") in md5s
    assert ("/a_directory/another_file", "d54ff73404ed6041a3bd66850b061bff") in md5s
    deleted = {r["name"] for r in files if r["deleted"]}
    assert {".another_file.swp", "another_file~"} <= deleted
    assert verify(system, SERVICE, objects=True).ok


@pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
def test_broken_images_are_refused_with_a_code(
    system: EvidenceSystem, analyst: Actor, settings: Settings, instance: DagsterInstance, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-DISKS", "Shared disk images")
    request = IngestRequest(case_ref="OP-DISKS", by="Jane Smith", kind="device_image")
    outcomes = {}
    # A zero-byte .E01, a lone first segment of a split set, and a file that is no image at all.
    for path in (IMAGES / "sleuthkit/bogus.E01", IMAGES / "dfvfs/ext2.split.E01", IMAGES / "dfvfs/bogus.001"):
        (outcome,) = ingest(system, analyst, [path], request)
        assert outcome.ok and outcome.exhibit_uid is not None
        result = materialize_exhibit(instance, settings, outcome.exhibit_uid, raise_on_error=False)
        outcomes[path.name] = "ok" if result.success else failure_description(result).split("]")[0] + "]"
    assert outcomes["bogus.E01"] == "[EX-DEVICE-EMPTY]"
    assert outcomes["ext2.split.E01"] == "[EX-DEVICE-SEGMENT-MISSING]"
    # Not an image but readable as raw: hashed, with no volume or file system found (a warning, not a failure).
    assert outcomes["bogus.001"] == "ok"
    warnings = read_table(system, analyst, "warnings", "OP-DISKS").to_pylist()
    assert "EX-DEVICE-NO-FILESYSTEM" in {w["code"] for w in warnings if w["source"] == "device_verification"}
