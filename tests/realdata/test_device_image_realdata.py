"""device_image against the real disk images in ``../shared/data/disk_images`` and the answers in its README."""

from __future__ import annotations

import gzip
import hashlib
import re
import shutil
import zipfile
from pathlib import Path

import pyewf
import pytest

from forensics.device_image import (
    DeviceImage,
    SectorRange,
    Volume,
    _Libewf,
    image_segments,
    list_volumes,
    open_device_image,
    segment_groups,
    verify_device_image,
)
from forensics.errors import DeviceDamagedError, DeviceEmptyError, DeviceSegmentMissingError
from tests.realdata.shared import DATA, manifest_rows, skip_without_data

pytestmark = pytest.mark.realdata

skip_without_data()

IMAGES = DATA / "disk_images"

# README "Stored hashes in the E01s": the stored MD5 of each acquisition.
STORED_MD5 = {
    "sleuthkit/image.E01": "3ebb0b7dcd6b5fcd59a0020625d70994",
    "dfvfs/ext2.E01": "196066add11fb71c4c49cf1bb50d6d24",
    "dfvfs/ext2.split.E01": "196066add11fb71c4c49cf1bb50d6d24",
    "nps/ntfs1-gen0.E01": "56abc8bc1c01f9ceb262c50a64c134c5",
    "nps/exfat1.E01": "0777ee90c27ed5ff5868af2015bed635",
    "nps/ubnist1.casper-rw.gen0.E01": "761c3476a18a87699b6b9776433d198d",
}
MEDIA_SIZE = {
    "nps/ntfs1-gen0.E01": 516_554_752,
    "nps/exfat1.E01": 100_020_736,
    "nps/ubnist1.casper-rw.gen0.E01": 600 << 20,
}
EXT2_MD5 = "196066add11fb71c4c49cf1bb50d6d24"  # the dfvfs ext2 volume, in every container
SLOW_E01 = {"nps/ubnist1.casper-rw.gen0.E01"}


def _verify(paths: tuple[Path, ...] | list[Path]) -> tuple[DeviceImage, str]:
    with open_device_image(paths) as image:
        return image, verify_device_image(image).computed.md5


def test_every_e01_in_the_manifest_has_a_known_answer() -> None:
    listed = {
        r["local_path"].removeprefix("disk_images/")
        for r in manifest_rows()
        if r["local_path"].startswith("disk_images/") and r["local_path"].endswith(".E01") and int(r["size"]) > 0
    }
    assert listed == set(STORED_MD5)


@pytest.mark.parametrize("name", sorted(set(STORED_MD5) - SLOW_E01))
def test_stored_md5_matches_the_readme_and_the_media(name: str) -> None:
    with open_device_image(image_segments(IMAGES / name)) as image:
        result = verify_device_image(image)
        volumes = list_volumes(image)
    assert result.stored.md5 == STORED_MD5[name] == result.computed.md5
    assert result.matches is True and result.verified and result.checksum_errors == ()
    assert result.acquisition is not None and result.acquisition.media_size == result.media_size
    assert result.media_size == MEDIA_SIZE.get(name, result.media_size)
    assert any(v.file_system for v in volumes)


@pytest.mark.slow
def test_the_600_mib_e01_verifies_in_one_pass() -> None:
    name = "nps/ubnist1.casper-rw.gen0.E01"
    with open_device_image(image_segments(IMAGES / name)) as image:
        result = verify_device_image(image)
        (volume,) = list_volumes(image)
    assert result.stored.md5 == STORED_MD5[name] == result.computed.md5 and result.verified
    assert (result.media_size, volume.file_system) == (600 << 20, "Ext3")


def test_dfvfs_acquisition_headers_are_the_literal_strings() -> None:
    with open_device_image([IMAGES / "dfvfs/ext2.E01"]) as image:
        acq = verify_device_image(image).acquisition
    assert acq is not None
    assert (acq.case_number, acq.description, acq.examiner, acq.evidence_number, acq.notes) == (
        "case", "description", "examiner", "evidence", "notes"
    )  # fmt: skip
    assert (acq.operating_system, acq.acquisition_software_version) == ("Linux", "20140812")
    assert (acq.bytes_per_sector, acq.sector_count, acq.chunk_size) == (512, 8192, 32768)


def test_the_dfvfs_ext2_volume_is_the_same_media_in_every_container() -> None:
    split = image_segments(IMAGES / "dfvfs/ext2.split.E02")
    assert [p.name for p in split] == ["ext2.split.E01", "ext2.split.E02"]
    assert [Path(p) for p in pyewf.glob(str(IMAGES / "dfvfs/ext2.split.E01"))] == list(split)  # libewf agrees
    splitraw = image_segments(IMAGES / "dfvfs/ext2.splitraw.001")
    assert [p.name for p in splitraw] == ["ext2.splitraw.000", "ext2.splitraw.001"]
    sets = {
        "ewf": split,
        "ewf-single": (IMAGES / "dfvfs/ext2.E01",),
        "split-raw": splitraw,
        "vmdk": (IMAGES / "dfvfs/ext2.vmdk",),
        "qcow": (IMAGES / "dfvfs/ext2.qcow2",),
    }
    for label, paths in sets.items():
        image, md5 = _verify(paths)
        assert md5 == EXT2_MD5, label
        assert image.media_size == 4 << 20, label
    # The VHD's geometry rounds the disk up: the same 4 MiB, then zeros.
    with open_device_image([IMAGES / "dfvfs/ext2.vhd"]) as vhd:
        assert (vhd.format, vhd.media_size) == ("vhd", 4_212_736)
        assert hashlib.md5(vhd.read(0, 4 << 20)).hexdigest() == EXT2_MD5
        assert vhd.read(4 << 20, 1 << 20) == bytes(vhd.media_size - (4 << 20))
    # An intake of the folder groups the split sets into one image each.
    groups = segment_groups(sorted((IMAGES / "dfvfs").iterdir()))
    assert (tuple(split) in groups) and (tuple(splitraw) in groups) and len(groups) == 7


def test_the_sleuthkit_image_opens_in_every_container() -> None:
    contents: dict[str, bytes] = {}
    for name, fmt in (("image.dd", "raw"), ("image.E01", "ewf"), ("image.vhd", "vhd"), ("image.vmdk", "vmdk"),
                      ("image.qcow", "qcow")):  # fmt: skip
        with open_device_image([IMAGES / "sleuthkit" / name]) as image:
            assert image.format == fmt
            (volume,) = list_volumes(image)
            assert (volume.volume_system, volume.file_system) == ("none", "Ext2"), name
            contents[name] = image.read(0, 102_400)
            assert image.read(102_400, 1 << 20) == bytes(image.media_size - 102_400)  # the VHD: 2 KiB of zeros
    assert hashlib.md5(contents["image.dd"]).hexdigest() == STORED_MD5["sleuthkit/image.E01"]
    assert contents["image.E01"] == contents["image.dd"]
    # The three virtual disks were made after the file system was mounted once: they agree with each other and
    # differ from image.dd in 68 metadata bytes, from the superblock's mount time on (times, counts, last path).
    assert contents["image.vhd"] == contents["image.vmdk"] == contents["image.qcow"]
    differ = [i for i, (a, b) in enumerate(zip(contents["image.dd"], contents["image.vmdk"], strict=True)) if a != b]
    assert (len(differ), min(differ)) == (68, 1024 + 44)


def _mmls_rows(text: str) -> list[tuple[int, int, int]]:
    return [(int(m[1]), int(m[2]), int(m[3])) for m in re.finditer(r"^\d+:\s+\S+\s+(\d+)\s+(\d+)\s+(\d+)", text, re.M)]


def test_exfat1_is_gpt_with_the_exfat_partition_where_mmls_says() -> None:
    with open_device_image([IMAGES / "nps/exfat1.E01"]) as image:
        volumes = list_volumes(image)
    expected = _mmls_rows((IMAGES / "nps/groundtruth/mmls_exfat1.E01.txt").read_text())
    assert [(v.start_sector, v.start_sector + v.sector_count - 1, v.sector_count) for v in volumes] == expected
    assert {v.volume_system for v in volumes} == {"gpt"}
    (part,) = [v for v in volumes if v.allocated]
    assert (part.start_sector, part.start_sector + part.sector_count - 1, part.file_system) == (2048, 194559, "exFAT")
    assert part.start == 2048 * 512 and not part.warnings
    # TSK 4.15 shows the GPT entry's name ("disk image"); the groundtruth's mmls showed its type.
    assert part.description in ("disk image", "Basic data partition")


def _gunzip(source: Path, target: Path) -> Path:
    with gzip.open(source, "rb") as src, target.open("wb") as out:
        shutil.copyfileobj(src, out, 4 << 20)
    return target


def test_gpt_512_with_three_partitions(tmp_path: Path) -> None:
    raw = _gunzip(IMAGES / "dfir_ntfs/gpt-512-3p.raw.gz", tmp_path / "gpt-512-3p.raw")
    with open_device_image([raw]) as image:
        volumes = list_volumes(image)
    parts = [v for v in volumes if v.allocated]
    assert {v.volume_system for v in volumes} == {"gpt"}
    assert [(v.start_sector, v.sector_count, v.description) for v in parts] == [
        (34, 31, "Linux filesystem"),
        (65, 64, "Linux filesystem"),
        (129, 1886, "EFI System"),
    ]
    # The partitions are empty: listed, with a warning each, never an error.
    assert all(v.file_system is None and [w.code for w in v.warnings] == ["EX-DEVICE-NO-FILESYSTEM"] for v in parts)


@pytest.mark.parametrize(
    ("name", "file_system"),
    [
        ("fat12.raw.gz", "FAT12"),
        ("fat16.raw.gz", "FAT16"),
        ("fat_deleted_dir.raw.gz", "FAT32"),
        ("ntfs3.raw.gz", "NTFS"),
        ("exfat_win.raw.gz", "exFAT"),
    ],
)
def test_dfir_ntfs_volume_images(name: str, file_system: str, tmp_path: Path) -> None:
    raw = _gunzip(IMAGES / "dfir_ntfs" / name, tmp_path / name.removesuffix(".gz"))
    with open_device_image([raw]) as image:
        (volume,) = list_volumes(image)
    assert (volume.volume_system, volume.start, volume.file_system) == ("none", 0, file_system)


@pytest.mark.parametrize(
    ("path", "md5", "file_system"),
    [
        ("dftt/5-fat-daylight/daylight.dd", "9fb582f3361ba0bc5a3b0f7c17a082cb", "FAT12"),
        # The README calls it FAT12; its boot sector says FAT16 and TSK agrees (12,032 sectors).
        ("dftt/6-undel-fat/6-fat-undel.dd", "4aeb06ecd361777242ab78735d51ace6", "FAT16"),
        ("dftt/7-undel-ntfs/7-ntfs-undel.dd", "e7dbb96759d9cd62b729463ebfe61dab", "NTFS"),
        ("sleuthkit/image.iso", None, "ISO9660"),
    ],
)
def test_raw_images_hash_as_published(path: str, md5: str | None, file_system: str) -> None:
    with open_device_image(image_segments(IMAGES / path)) as image:
        result = verify_device_image(image)
        (volume,) = list_volumes(image)
    assert result.matches is None and result.stored.items() == ()
    assert md5 is None or result.computed.md5 == md5
    assert volume.file_system == file_system


def test_carve_image_with_a_corrupt_superblock_has_no_file_system(tmp_path: Path) -> None:
    archive = zipfile.ZipFile(IMAGES / "dftt/12-carve-ext2/12-carve-ext2.zip")
    with archive, archive.open("12-carve-ext2/12-carve-ext2.dd") as src, (tmp_path / "carve.dd").open("wb") as out:
        shutil.copyfileobj(src, out, 4 << 20)
    with open_device_image([tmp_path / "carve.dd"]) as image:
        result = verify_device_image(image)
        (volume,) = list_volumes(image)
    assert result.computed.md5 == "6cbd2c5248fa7030d699eb6cde051623"
    assert volume.file_system is None and [w.code for w in volume.warnings] == ["EX-DEVICE-NO-FILESYSTEM"]


def test_bogus_001_has_no_volume_system_and_no_file_system() -> None:
    with open_device_image(image_segments(IMAGES / "dfvfs/bogus.001")) as image:
        volumes: tuple[Volume, ...] = list_volumes(image)
    (volume,) = volumes
    assert (volume.volume_system, volume.file_system, volume.length) == ("none", None, 51_200)
    assert [w.code for w in volume.warnings] == ["EX-DEVICE-NO-FILESYSTEM"]


def test_the_zero_byte_e01_is_empty() -> None:
    with pytest.raises(DeviceEmptyError):
        open_device_image(image_segments(IMAGES / "sleuthkit/bogus.E01"))


def test_a_missing_second_segment(tmp_path: Path) -> None:
    first = tmp_path / "ext2.split.E01"
    shutil.copyfile(IMAGES / "dfvfs/ext2.split.E01", first)
    assert image_segments(first) == (first,)  # the names cannot tell; the segment's own sections can
    with pytest.raises(DeviceSegmentMissingError, match=r"ext2\.split\.E02") as err:
        open_device_image([first])
    assert err.value.code == "EX-DEVICE-SEGMENT-MISSING"


def test_truncated_segments(tmp_path: Path) -> None:
    first, second = tmp_path / "ext2.split.E01", tmp_path / "ext2.split.E02"
    shutil.copyfile(IMAGES / "dfvfs/ext2.split.E01", first)
    second.write_bytes((IMAGES / "dfvfs/ext2.split.E02").read_bytes()[:500_000])
    with open_device_image(image_segments(first)) as image:
        assert [w.code for w in image.warnings] == ["EX-DEVICE-DAMAGED"]
        result = verify_device_image(image)
        (volume,) = list_volumes(image)
    # The stored MD5 was in the lost tail, so nothing is left to match; the lost chunks held zeros, so the
    # computed MD5 is still the original's, which is why unreadable bytes alone make an image unverified.
    assert (result.stored.items(), result.matches, result.verified) == ((), None, False)
    assert result.computed.md5 == EXT2_MD5
    if _Libewf.source.endswith("(system)"):
        # Debian's libewf (used for speed) reports the lost chunks as checksum errors rather than failing.
        assert result.checksum_errors == (SectorRange(6080, 2112),)
    else:
        assert result.unreadable_bytes == 1_081_344
    assert volume.file_system == "Ext2"  # the superblock and tables are in the first segment
    # Cut inside the first sections, libewf refuses the file altogether.
    stub = tmp_path / "stub.E01"
    stub.write_bytes((IMAGES / "dfvfs/ext2.E01").read_bytes()[:300])
    with pytest.raises(DeviceDamagedError):
        open_device_image([stub])
