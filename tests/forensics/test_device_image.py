"""device_image on generated images: ext2 and FAT made with mkfs, an MBR disk written byte by byte, split raw
made with split, EWF made with ewfacquirestream; and the damaged versions of each."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
import pytsk3

from forensics import device_image as di
from forensics.device_image import (
    DeviceVerification,
    DigestMismatch,
    DigestSet,
    image_segments,
    list_volumes,
    open_device_image,
    segment_groups,
    verify_device_image,
)
from forensics.errors import (
    DeviceDamagedError,
    DeviceEmptyError,
    DeviceSegmentMissingError,
    DeviceUnsupportedError,
    MediaMissingError,
)

HAVE_MKFS = all(shutil.which(t) for t in ("mkfs.ext2", "mkfs.vfat", "mcopy"))
HAVE_EWF = shutil.which("ewfacquirestream") is not None
needs_mkfs = pytest.mark.skipif(not HAVE_MKFS, reason="e2fsprogs, dosfstools and mtools are needed to make images")
needs_ewf = pytest.mark.skipif(not HAVE_EWF, reason="ewfacquirestream (Debian ewf-tools) is not installed")

SECTOR = 512


def _run(*args: str | Path, stdin: Path | None = None, cwd: Path | None = None) -> None:
    handle = stdin.open("rb") if stdin else None
    try:
        subprocess.run([str(a) for a in args], check=True, capture_output=True, stdin=handle, cwd=cwd, timeout=60)
    finally:
        if handle:
            handle.close()


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def make_ext2(folder: Path, kib: int = 2048) -> Path:
    src = folder / "ext2-src"
    (src / "docs").mkdir(parents=True)
    (src / "docs" / "plan.txt").write_text("meet at the docks at nine\n")
    (src / "passwords.txt").write_text("bank,joesmith,superrich\n")
    image = folder / "ext2.img"
    _run("mkfs.ext2", "-q", "-F", "-b", "1024", "-L", "EXHIBIT", "-d", src, image, str(kib))
    return image


def make_fat(folder: Path, kib: int = 1440) -> Path:
    image = folder / "fat.img"
    _run("mkfs.vfat", "-C", "-n", "EXHIBIT", image, str(kib))
    note = folder / "note.txt"
    note.write_text("the key is under the mat\n")
    _run("mcopy", "-i", image, note, "::/NOTE.TXT")
    return image


def _mbr(partitions: list[tuple[int, int, int]]) -> bytes:
    """A DOS master boot record with (type, first sector, sector count) entries."""
    table = b""
    for kind, first, count in partitions:
        # CHS fields say "use LBA" (0xFE 0xFF 0xFF), as every modern partitioner writes for large disks.
        table += struct.pack("<B3sB3sII", 0x00, b"\xfe\xff\xff", kind, b"\xfe\xff\xff", first, count)
    table = table.ljust(64, b"\x00")
    return bytes(446) + table + b"\x55\xaa"


def make_mbr_disk(folder: Path, ext2: Path, fat: Path) -> Path:
    """An MBR disk: ext2 (type 0x83) from sector 2048, then FAT (type 0x06) 1 MiB-aligned after it."""
    ext2_bytes, fat_bytes = ext2.read_bytes(), fat.read_bytes()
    first = 2048
    second = first + len(ext2_bytes) // SECTOR + 2048
    disk = folder / "mbr-disk.img"
    with disk.open("wb") as out:
        out.write(_mbr([(0x83, first, len(ext2_bytes) // SECTOR), (0x06, second, len(fat_bytes) // SECTOR)]))
        out.write(bytes(first * SECTOR - SECTOR))
        out.write(ext2_bytes)
        out.write(bytes((second - first) * SECTOR - len(ext2_bytes)))
        out.write(fat_bytes)
        out.write(bytes(1024 * SECTOR))  # unallocated tail
    return disk


def make_ewf(folder: Path, source: Path, *, segment_bytes: str = "1MiB", name: str = "ev") -> tuple[Path, ...]:
    """EWF-E01 segments of `source`, uncompressed (so that a flipped byte lands in chunk data)."""
    folder.mkdir(parents=True, exist_ok=True)
    _run(
        "ewfacquirestream", "-q", "-t", folder / name, "-C", "CASE-7", "-D", "seized laptop", "-e", "PC Smith",
        "-E", "EV-42", "-N", "bag 3", "-d", "sha1", "-S", segment_bytes, "-c", "none",
        stdin=source,
    )  # fmt: skip
    return tuple(sorted(folder.glob(f"{name}.E??")))


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not HAVE_MKFS:
        pytest.skip("mkfs tools missing")
    folder = tmp_path_factory.mktemp("device")
    ext2, fat = make_ext2(folder), make_fat(folder)
    return {"ext2": ext2, "fat": fat, "mbr": make_mbr_disk(folder, ext2, fat)}


# --- segment names ------------------------------------------------------------------------------------------


def test_segment_groups_sorts_a_folder_into_image_sets() -> None:
    names = [
        "case/ext2.split.E02", "case/ext2.split.E01", "case/notes.txt", "case/bogus.001", "case/raw.000",
        "case/raw.002", "case/raw.001", "case/phone.aa", "case/phone.ab", "case/readme.md", "case/image.dd",
        "case/disk.vhd", "case/new.Ex01", "case/new.Ex02", "case/low.e01", "case/low.e02",
    ]  # fmt: skip
    groups = [[p.name for p in g] for g in segment_groups(names)]
    assert groups == [
        ["ext2.split.E01", "ext2.split.E02"],
        ["notes.txt"],
        ["bogus.001"],
        ["raw.000", "raw.001", "raw.002"],
        ["phone.aa", "phone.ab"],
        ["readme.md"],
        ["image.dd"],
        ["disk.vhd"],
        ["new.Ex01", "new.Ex02"],
        ["low.e01", "low.e02"],
    ]


def test_segment_groups_follow_ewf_past_e99_and_keep_gaps() -> None:
    big = [f"big.E{n:02d}" for n in range(1, 100)] + ["big.EAA", "big.EAB", "big.EZZ", "big.FAA"]
    (group,) = segment_groups(reversed(big))
    assert [p.suffix for p in group[97:]] == [".E98", ".E99", ".EAA", ".EAB", ".EZZ", ".FAA"]
    # Without an E99, a three-letter extension is just an extension; a gap stays in the set to be reported.
    assert segment_groups(["x.E01", "x.E03", "x.txt", "y.ab"]) == [
        (Path("x.E01"), Path("x.E03")),
        (Path("x.txt"),),
        (Path("y.ab"),),
    ]
    # A folder's file list may come from anywhere: no file is read.
    assert segment_groups([]) == []


def test_image_segments_finds_the_whole_set_from_any_member(tmp_path: Path) -> None:
    for name in ("ev.E01", "ev.E02", "ev.E03", "other.E01", "ev.txt"):
        (tmp_path / name).write_bytes(b"x")
    expected = tuple(tmp_path / f"ev.E0{n}" for n in (1, 2, 3))
    assert image_segments(tmp_path / "ev.E02") == expected
    assert image_segments(tmp_path / "ev.txt") == (tmp_path / "ev.txt",)
    (tmp_path / "ev.E02").unlink()
    with pytest.raises(DeviceSegmentMissingError) as missing:
        image_segments(tmp_path / "ev.E01")
    assert missing.value.code == "EX-DEVICE-SEGMENT-MISSING" and "ev.E02" in str(missing.value)
    with pytest.raises(MediaMissingError):
        image_segments(tmp_path / "nothing.E01")


# --- raw images ---------------------------------------------------------------------------------------------


@needs_mkfs
def test_a_raw_ext2_image_opens_verifies_and_lists(images: dict[str, Path]) -> None:
    path = images["ext2"]
    with open_device_image([path]) as image:
        assert (image.format, image.media_size, image.segments, image.warnings) == (
            "raw",
            path.stat().st_size,
            (path,),
            (),
        )
        assert image.read(1024 + 56, 2) == b"\x53\xef"  # the ext2 superblock magic
        assert image.read(image.media_size - 10, 100) == path.read_bytes()[-10:]
        assert image.read(image.media_size, 10) == b""
        fs = pytsk3.FS_Info(image.img_info)  # the TSK view works for file-system walking
        assert {e.info.name.name for e in fs.open_dir("/")} >= {b"docs", b"passwords.txt"}
        (volume,) = list_volumes(image)
        assert (volume.volume_system, volume.start, volume.length, volume.file_system) == (
            "none",
            0,
            path.stat().st_size,
            "Ext2",
        )
        assert volume.allocated and not volume.warnings
        seen: list[tuple[int, int]] = []
        result = verify_device_image(
            image, chunk_bytes=300_000, progress=lambda done, total: seen.append((done, total))
        )
    data = path.read_bytes()
    assert result.computed == DigestSet(
        hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest(), hashlib.sha256(data).hexdigest()
    )
    assert (result.stored, result.matches, result.mismatches, result.verified) == (DigestSet(), None, (), False)
    assert result.checksum_errors is None and result.acquisition is None
    assert seen[-1] == (len(data), len(data)) and len(seen) == -(-len(data) // 300_000)


@needs_mkfs
def test_verify_reads_in_bounded_chunks(images: dict[str, Path]) -> None:
    with open_device_image([images["ext2"]]) as image:
        backend = image._backend
        sizes: list[int] = []
        original = backend.read

        def spy(offset: int, length: int) -> bytes:
            sizes.append(length)
            return original(offset, length)

        backend.read = spy  # type: ignore[method-assign]
        verify_device_image(image, chunk_bytes=65536)
    assert max(sizes) == 65536 and sum(sizes) == images["ext2"].stat().st_size


@needs_mkfs
def test_a_fat_volume_without_partition_table(images: dict[str, Path]) -> None:
    with open_device_image([images["fat"]]) as image:
        (volume,) = list_volumes(image)
    assert (volume.volume_system, volume.file_system, volume.description) == (
        "none",
        "FAT12",
        "whole image (no partition table)",
    )


@needs_mkfs
def test_an_mbr_disk_lists_its_partitions_and_their_file_systems(images: dict[str, Path]) -> None:
    ext2_sectors = images["ext2"].stat().st_size // SECTOR
    with open_device_image([images["mbr"]]) as image:
        volumes = list_volumes(image)
        assert {v.volume_system for v in volumes} == {"dos"}
        parts = [v for v in volumes if v.allocated]
        assert [(v.start_sector, v.sector_count, v.file_system) for v in parts] == [
            (2048, ext2_sectors, "Ext2"),
            (2048 + ext2_sectors + 2048, images["fat"].stat().st_size // SECTOR, "FAT12"),
        ]
        assert parts[0].start == 2048 * SECTOR and parts[0].description.startswith("Linux")
        assert any(v.meta for v in volumes) and any(v.unallocated for v in volumes)
        assert [v.index for v in volumes] == list(range(len(volumes)))
        # The byte offset is what the file-system walker needs.
        fs = pytsk3.FS_Info(image.img_info, offset=parts[1].start)
        assert b"NOTE.TXT" in {e.info.name.name for e in fs.open_dir("/")}


def test_a_partition_past_the_end_and_one_without_a_file_system(tmp_path: Path) -> None:
    disk = tmp_path / "cut.img"
    disk.write_bytes(_mbr([(0x07, 64, 128), (0x83, 256, 100_000)]) + bytes(511 * SECTOR))
    with open_device_image([disk]) as image:
        parts = [v for v in list_volumes(image) if v.allocated]
    assert [v.file_system for v in parts] == [None, None]
    assert [w.code for w in parts[0].warnings] == ["EX-DEVICE-NO-FILESYSTEM"]
    assert [w.code for w in parts[1].warnings] == ["EX-DEVICE-PARTITION-OUTSIDE", "EX-DEVICE-NO-FILESYSTEM"]


@needs_mkfs
def test_split_raw_is_one_image_with_the_same_media(images: dict[str, Path], tmp_path: Path) -> None:
    whole = images["mbr"]
    _run("split", "-b", "1M", "-d", "-a", "3", whole, tmp_path / "disk.", cwd=tmp_path)  # disk.000, disk.001, ...
    segments = image_segments(tmp_path / "disk.001")
    assert [p.name for p in segments][:3] == ["disk.000", "disk.001", "disk.002"]
    assert len(segments) == -(-whole.stat().st_size // (1 << 20))
    with open_device_image(segments) as image:
        assert image.format == "split-raw" and image.media_size == whole.stat().st_size
        # A read across a segment boundary comes back whole.
        assert image.read((1 << 20) - 5, 10) == whole.read_bytes()[(1 << 20) - 5 : (1 << 20) + 5]
        assert verify_device_image(image).computed.md5 == _md5(whole)
        assert [v.file_system for v in list_volumes(image) if v.allocated] == ["Ext2", "FAT12"]
    (tmp_path / "disk.002").unlink()
    with pytest.raises(DeviceSegmentMissingError, match=r"disk\.002"):
        image_segments(tmp_path / "disk.000")
    with pytest.raises(DeviceSegmentMissingError, match=r"disk\.002"):
        open_device_image([p for p in segments if p.exists()])


@needs_mkfs
def test_split_with_letter_suffixes(images: dict[str, Path], tmp_path: Path) -> None:
    _run("split", "-b", "1M", images["mbr"], tmp_path / "usb.dd.", cwd=tmp_path)  # usb.dd.aa, usb.dd.ab, ...
    segments = image_segments(tmp_path / "usb.dd.ab")
    assert [p.name for p in segments][:2] == ["usb.dd.aa", "usb.dd.ab"]
    with open_device_image(segments) as image:
        assert verify_device_image(image).computed.md5 == _md5(images["mbr"])


# --- failures and "not my format" ---------------------------------------------------------------------------


def test_zero_bytes_is_empty(tmp_path: Path) -> None:
    empty = tmp_path / "blank.E01"
    empty.touch()
    with pytest.raises(DeviceEmptyError) as err:
        open_device_image([empty])
    assert err.value.code == "EX-DEVICE-EMPTY"
    with pytest.raises(ValueError):
        open_device_image([])


def test_archives_and_unsupported_containers_are_named(tmp_path: Path) -> None:
    packed = tmp_path / "disk.raw.gz"
    packed.write_bytes(gzip.compress(bytes(4096)))
    with pytest.raises(DeviceUnsupportedError, match="gzip") as err:
        open_device_image([packed])
    assert err.value.code == "EX-DEVICE-UNSUPPORTED"
    vdi = tmp_path / "vm.vdi"
    vdi.write_bytes(b"<<< Oracle VM VirtualBox Disk Image >>>\n".ljust(64, b"\x00") + b"\x7f\x10\xda\xbe" + bytes(1000))
    with pytest.raises(DeviceUnsupportedError, match="VDI"):
        open_device_image([vdi])
    aff = tmp_path / "disk.aff"
    aff.write_bytes(b"AFF10\r\n\x00" + bytes(1000))
    with pytest.raises(DeviceUnsupportedError, match="AFF"):
        open_device_image([aff])


def test_a_text_file_named_like_a_segment_has_no_file_system(tmp_path: Path) -> None:
    text = tmp_path / "notes.001"
    text.write_text("not a disk, just notes\n" * 100)
    with open_device_image(image_segments(text)) as image:
        assert image.format == "raw"
        (volume,) = list_volumes(image)
        result = verify_device_image(image)
    assert volume.file_system is None and volume.volume_system == "none"
    assert [w.code for w in volume.warnings] == ["EX-DEVICE-NO-FILESYSTEM"]
    assert result.computed.md5 == _md5(text)


@needs_mkfs
def test_a_raw_image_named_e01_is_read_as_raw_with_a_warning(images: dict[str, Path], tmp_path: Path) -> None:
    renamed = tmp_path / "seized.E01"
    shutil.copyfile(images["ext2"], renamed)
    with open_device_image([renamed]) as image:
        assert image.format == "raw"
        assert [w.code for w in image.warnings] == ["EX-DEVICE-NAME-MISMATCH"]
        assert list_volumes(image)[0].file_system == "Ext2"


def test_reads_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(bytes(range(256)) * 8)
    image = open_device_image([path])
    with pytest.raises(ValueError):
        image.read(-1, 10)
    assert image.read(2040, 100) == bytes(range(248, 256))
    image.close()
    image.close()  # twice is harmless
    with pytest.raises(ValueError):
        image.read(0, 1)


@needs_mkfs
def test_a_fixed_vhd_is_read_without_its_footer(images: dict[str, Path], tmp_path: Path) -> None:
    data = images["ext2"].read_bytes()
    footer = bytearray(512)
    geometry = (len(data) // SECTOR // 17) << 16 | 4 << 8 | 17  # cylinders, heads, sectors per track
    fields = (b"conectix", 2, 0x00010000, 2**64 - 1, 0, b"test", 0x00010000, b"Wi2k", len(data), len(data), geometry)
    struct.pack_into(">8sIIQI4sI4sQQIII", footer, 0, *fields, 2, 0)  # disk type 2: fixed; checksum 0 for now
    footer[68:84] = bytes(range(16))
    struct.pack_into(">I", footer, 64, ~sum(footer) & 0xFFFFFFFF)
    vhd = tmp_path / "fixed.vhd"
    vhd.write_bytes(data + bytes(footer))
    with open_device_image([vhd]) as image:
        assert (image.format, image.media_size) == ("vhd", len(data))
        assert verify_device_image(image).computed.md5 == hashlib.md5(data).hexdigest()


# --- EWF ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ewf_set(images: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ...]:
    if not HAVE_EWF:
        pytest.skip("ewfacquirestream is not installed")
    return make_ewf(tmp_path_factory.mktemp("ewf"), images["mbr"])


@needs_ewf
def test_an_ewf_set_verifies_with_its_acquisition_metadata(images: dict[str, Path], ewf_set: tuple[Path, ...]) -> None:
    assert len(ewf_set) >= 3
    assert image_segments(ewf_set[1]) == ewf_set
    raw = images["mbr"].read_bytes()
    with open_device_image(list(reversed(ewf_set))) as image:  # headers, not the caller's order, decide
        assert (image.format, image.segments, image.media_size) == ("ewf", ewf_set, len(raw))
        assert "EWF-E01" in image.description
        result = verify_device_image(image)
        assert [v.file_system for v in list_volumes(image) if v.allocated] == ["Ext2", "FAT12"]
    md5, sha1 = hashlib.md5(raw).hexdigest(), hashlib.sha1(raw).hexdigest()
    assert result.stored == DigestSet(md5, sha1) and result.computed.md5 == md5 and result.computed.sha1 == sha1
    assert result.matches is True and result.verified and result.checksum_errors == ()
    acq = result.acquisition
    assert acq is not None
    assert (acq.case_number, acq.description, acq.examiner, acq.evidence_number, acq.notes) == (
        "CASE-7",
        "seized laptop",
        "PC Smith",
        "EV-42",
        "bag 3",
    )
    assert (acq.operating_system, acq.ewf_format, acq.media_type, acq.physical) == ("Linux", "EnCase 6", "fixed", True)
    assert acq.acquisition_software_version == "20140813" and acq.acquisition_date and acq.system_date
    assert (acq.media_size, acq.bytes_per_sector, acq.sector_count) == (len(raw), 512, len(raw) // 512)
    assert (acq.chunk_size, acq.sectors_per_chunk, acq.compression_method) == (32768, 64, "deflate")
    assert result.to_dict()["verified"] is True
    assert DeviceVerification.from_dict(result.to_dict()) == result


@needs_ewf
def test_a_missing_ewf_segment_is_reported(ewf_set: tuple[Path, ...], tmp_path: Path) -> None:
    for segment in ewf_set:
        shutil.copyfile(segment, tmp_path / segment.name)
    copies = [tmp_path / s.name for s in ewf_set]
    # The last one gone: E01..E03 still name each other in order; the chain of the new last says "next".
    with pytest.raises(DeviceSegmentMissingError, match=copies[-1].name.replace(".", r"\.")):
        open_device_image(copies[:-1])
    # One in the middle gone, whatever the names: the headers' segment numbers have a hole.
    copies[1].rename(tmp_path / "renamed.bin")
    with pytest.raises(DeviceSegmentMissingError, match="2"):
        open_device_image([copies[0], *copies[2:]])
    with pytest.raises(DeviceSegmentMissingError):
        image_segments(copies[0])


@needs_ewf
def test_a_truncated_ewf_segment_reads_in_part(
    images: dict[str, Path], ewf_set: tuple[Path, ...], tmp_path: Path
) -> None:
    for segment in ewf_set:
        shutil.copyfile(segment, tmp_path / segment.name)
    last = tmp_path / ewf_set[-1].name
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    copies = [tmp_path / s.name for s in ewf_set]
    with open_device_image(copies) as image:
        assert [w.code for w in image.warnings] == ["EX-DEVICE-DAMAGED"]
        assert "truncated" in image.warnings[0].message
        result = verify_device_image(image)
        # The partitions are in the first segments, so they are still listed.
        volumes = list_volumes(image)
        assert next(v.file_system for v in volumes if v.allocated) == "Ext2"
        # TSK's probe of the last sectors (a backup GPT) read zeros, and the volume there says so.
        assert "EX-DEVICE-UNREADABLE" in {w.code for w in volumes[-1].warnings}
        assert image.unreadable and image.unreadable[-1].offset + image.unreadable[-1].length == image.media_size
    assert not result.verified
    if di._Libewf.source.endswith("(system)"):
        # Debian's libewf (20140813, zlib-linked, used for speed) reports lost chunks as checksum errors.
        assert result.checksum_errors and result.checksum_errors[-1].first_sector > 0
        assert "EX-DEVICE-CHECKSUM" in {w.code for w in result.warnings}
        first_bad = result.checksum_errors[0].first_sector * image.sector_size
    else:
        # The pyewf wheel's libewf fails the read: the lost chunks are unreadable, hashed as zeros.
        assert result.unreadable_bytes > 0 and result.unreadable
        assert result.unreadable[-1].offset + result.unreadable[-1].length == image.media_size
        assert {w.code for w in result.warnings} >= {"EX-DEVICE-DAMAGED", "EX-DEVICE-UNREADABLE"}
        first_bad = result.unreadable[0].offset
    # Only the lost chunks were zeroed: what was read matches the source.
    with open_device_image(copies) as image:
        assert image.read(0, first_bad) == images["mbr"].read_bytes()[:first_bad]
        with pytest.raises(DeviceDamagedError):
            image.read(first_bad, 4096)


@needs_ewf
def test_an_ewf_cut_inside_its_header_does_not_open(ewf_set: tuple[Path, ...], tmp_path: Path) -> None:
    stub = tmp_path / "stub.E01"
    stub.write_bytes(ewf_set[0].read_bytes()[:200])
    with pytest.raises(DeviceDamagedError) as err:
        open_device_image([stub])
    assert err.value.code == "EX-DEVICE-DAMAGED"


@needs_ewf
def test_a_corrupt_chunk_is_a_checksum_error_and_a_mismatch(
    images: dict[str, Path], ewf_set: tuple[Path, ...], tmp_path: Path
) -> None:
    single = make_ewf(tmp_path, images["ext2"], segment_bytes="100MiB", name="one")
    assert len(single) == 1
    data = bytearray(single[0].read_bytes())
    # Uncompressed chunks are stored as they are: find the ext2 superblock and change one byte of it.
    where = data.find(b"EXHIBIT")
    data[where] ^= 0xFF
    single[0].write_bytes(bytes(data))
    with open_device_image(single) as image:
        result = verify_device_image(image)
    assert result.checksum_errors == (di.SectorRange(0, 64),)
    assert result.matches is False and not result.verified
    assert [m.algorithm for m in result.mismatches] == ["md5", "sha1"]
    assert result.mismatches[0].expected == _md5(images["ext2"]) != result.mismatches[0].observed
    assert "EX-DEVICE-CHECKSUM" in {w.code for w in result.warnings}


@needs_ewf
def test_without_libewf_symbols_checksums_are_unknown(
    ewf_set: tuple[Path, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(di._Libewf, "_lib", None)
    monkeypatch.setattr(di._Libewf, "_loaded", True)
    with open_device_image(ewf_set) as image:
        result = verify_device_image(image)
    assert result.matches is True and result.checksum_errors is None and result.verified
    assert [w.code for w in result.warnings] == ["EX-DEVICE-CHECKSUMS-UNKNOWN"]


@needs_ewf
def test_the_pyewf_wheels_own_libewf_verifies_too(ewf_set: tuple[Path, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    # Where Debian's libewf is absent, verification reads through the libewf built into the pyewf wheel.
    import pyewf

    wheel = di._Libewf._bind(str(pyewf.__file__))
    assert wheel is not None
    monkeypatch.setattr(di._Libewf, "_lib", wheel)
    monkeypatch.setattr(di._Libewf, "_loaded", True)
    with open_device_image(ewf_set) as image:
        result = verify_device_image(image)
    assert result.verified and result.checksum_errors == ()


# --- the result values --------------------------------------------------------------------------------------


def test_digest_sets_and_verifications_check_themselves() -> None:
    md5, sha1, sha256 = "a" * 32, "b" * 40, "c" * 64
    with pytest.raises(ValueError):
        DigestSet(md5="A" * 32)
    with pytest.raises(ValueError):
        DigestSet(sha1="b" * 32)
    computed = DigestSet(md5, sha1, sha256)
    ok = DeviceVerification("ewf", 10, computed, DigestSet(md5), matches=True)
    assert ok.verified
    bad = DeviceVerification(
        "ewf", 10, computed, DigestSet("d" * 32), matches=False, mismatches=(DigestMismatch("md5", "d" * 32, md5),)
    )
    assert not bad.verified and DeviceVerification.from_dict(bad.to_dict()) == bad
    with pytest.raises(ValueError):  # a mismatch must be listed
        DeviceVerification("ewf", 10, computed, DigestSet("d" * 32), matches=False)
    with pytest.raises(ValueError):  # nothing stored cannot match
        DeviceVerification("raw", 10, computed, DigestSet(), matches=True)
    with pytest.raises(ValueError):  # all three digests are computed
        DeviceVerification("raw", 10, DigestSet(md5), DigestSet(), matches=None)


def test_unreadable_ranges_merge_in_any_order() -> None:
    bad = di._Unreadable()
    for offset, length in ((100, 10), (0, 10), (10, 5), (105, 20), (50, 1), (0, 200)):
        bad.add(offset, length)
    assert bad.ranges == [di.ByteRange(0, 200)] and bad.total == 200
    bad.add(300, 10)
    assert [(r.offset, r.length) for r in bad.ranges] == [(0, 200), (300, 10)] and bad.total == 210


def test_missing_segment_names_follow_the_set_naming(tmp_path: Path) -> None:
    names = [f"big.E{n:02d}" for n in range(1, 100)] + ["big.EAB"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    with pytest.raises(DeviceSegmentMissingError, match=r"big\.EAA"):
        image_segments(tmp_path / "big.E50")
    for name in ("low.e01", "low.e03", "part.aa", "part.ac"):
        (tmp_path / name).write_bytes(b"x")
    with pytest.raises(DeviceSegmentMissingError, match=r"low\.e02"):
        image_segments(tmp_path / "low.e03")
    with pytest.raises(DeviceSegmentMissingError, match=r"part\.ab"):
        image_segments(tmp_path / "part.aa")


def test_progress_can_stop_a_long_verification(tmp_path: Path) -> None:
    path = tmp_path / "big.raw"
    with path.open("wb") as fh:
        fh.truncate(64 << 20)  # sparse: 64 MiB of zeros

    class Stop(Exception):
        pass

    def deadline(done: int, total: int) -> None:
        if done >= 8 << 20:
            raise Stop

    with open_device_image([path]) as image, pytest.raises(Stop):
        verify_device_image(image, chunk_bytes=1 << 20, progress=deadline)
