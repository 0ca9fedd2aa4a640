"""The file system walker, hash set readers and exports against the shared images and their answer keys."""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import pytsk3

from forensics.device_files import META_REALLOCATED, DeviceFile, fs_info, read_content, walk_file_system
from forensics.dfxml import write_dfxml
from forensics.hashsets import HashSetFormat, HashSetReader, KnownHash
from tests.realdata.shared import DATA, skip_without_data

skip_without_data()
pytestmark = pytest.mark.realdata

IMAGES = DATA / "disk_images"
SLEUTHKIT = IMAGES / "sleuthkit"
DFTT = IMAGES / "dftt"
DFIR = IMAGES / "dfir_ntfs"
HASHSETS = DATA / "hashsets"


def _walk(image: Path) -> list[DeviceFile]:
    return list(walk_file_system(pytsk3.Img_Info(str(image))))


def _by_path(rows: list[DeviceFile]) -> dict[str, DeviceFile]:
    return {r.path: r for r in rows}


def _gunzip(name: str, into: Path) -> Path:
    target = into / name.removesuffix(".gz")
    with gzip.open(DFIR / name, "rb") as packed, target.open("wb") as out:
        shutil.copyfileobj(packed, out, 1 << 20)
    return target


# --- sleuthkit/image.dd (100 KB ext2) -------------------------------------------------------------------------


def test_image_dd_matches_fls() -> None:
    rows = _walk(SLEUTHKIT / "image.dd")
    top = [f"{r.name_type}/{r.meta_type} {r.inode}:\t{r.name}" for r in rows if r.parent_inode == 2]
    expected = (SLEUTHKIT / "groundtruth" / "fls_image.dd.txt").read_text().splitlines()
    assert top == expected


def test_image_dd_files_and_deleted_names() -> None:
    found = _by_path(_walk(SLEUTHKIT / "image.dd"))
    for path, size, md5 in (
        ("/a_directory/a_file", 53, "85bebf486af24792085f769afa46717d"),
        ("/a_directory/another_file", 22, "d54ff73404ed6041a3bd66850b061bff"),
        ("/passwords.txt", 116, "39cb097008d17660abd0539891a672af"),
    ):
        assert (found[path].size, found[path].md5, found[path].deleted) == (size, md5, False)
    for name in (".another_file.swp", "another_file~"):
        row = found[f"/a_directory/{name}"]
        assert row.deleted and row.inode is None and row.md5 is None  # the name survives, its inode is gone
    assert found["/a_link"].link_target == "a_directory/another_file"


def test_dfvfs_sha256_list_matches_the_walk() -> None:
    reader = HashSetReader(HASHSETS / "dfvfs_image.sha256")
    listed = {h.name: h.digest for h in reader}
    assert reader.format == HashSetFormat.DIGEST_PATH and reader.bad_lines == 0 and len(listed) == 3
    walked = {r.path: r.sha256 for r in _walk(SLEUTHKIT / "image.dd")}
    assert all(walked[path or ""] == digest for path, digest in listed.items())


# --- DFTT 6: deleted FAT files ---------------------------------------------------------------------------------


def test_dftt6_deleted_fat_files() -> None:
    found = _by_path(_walk(DFTT / "6-undel-fat" / "6-fat-undel.dd"))
    right = {
        "/_ing.dat": (780, "59b20779f69ff9f0ac5fcd2c38835a79"),
        "/_ult1.dat": (3801, "ffd27bd782bdce67750b6b9ee069d2ef"),
        "/_ir1/mult2.dat": (1715, "59cf0e9cd107bc1e75afb7374f6e05bb"),
    }
    # Fragmented: TSK reads contiguous clusters and gets the key's published *wrong* MD5s.
    wrong = {
        "/_rag1.dat": (1584, "c4f3b9a0"),
        "/_rag2.dat": (3873, "965370ac"),
        "/_ir1/dir2/frag3.dat": (2027, "a7a14ac6"),
    }
    for path, (size, md5) in right.items():
        assert (found[path].size, found[path].md5) == (size, md5)
    for path, (size, prefix) in wrong.items():
        assert found[path].size == size and (found[path].md5 or "").startswith(prefix)
    for path in [*right, *wrong, "/_ir1", "/_ir1/dir2"]:
        assert found[path].deleted and found[path].recovery_unreliable, path
    assert found["/_ir1"].file_type == found["/_ir1/dir2"].file_type == "directory"
    assert fs_info(pytsk3.Img_Info(str(DFTT / "6-undel-fat" / "6-fat-undel.dd"))).label == "FAT_REC_1"


def test_dftt6_dfxml_has_fiwalks_objects_and_elements() -> None:
    image = DFTT / "6-undel-fat" / "6-fat-undel.dd"
    img = pytsk3.Img_Info(str(image))
    out = io.BytesIO()
    write_dfxml(
        walk_file_system(img, volume=0), out, image_info={"image_filename": image.name, "volumes": {0: fs_info(img)}}
    )
    ns = {"d": "http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML"}
    ours, fiwalk = ET.fromstring(out.getvalue()), ET.parse(image.with_name("6-fat-undel.dd.xml")).getroot()

    def names(root: ET.Element) -> set[str]:
        return {e.text or "" for e in root.iterfind(".//d:fileobject/d:filename", ns)}

    # fiwalk also lists each directory's "." and ".." entries; fls and this walker do not.
    assert names(ours) == {n for n in names(fiwalk) if n.rsplit("/", 1)[-1] not in (".", "..")}
    tags = {child.tag for obj in ours.iterfind(".//d:fileobject", ns) for child in obj}
    theirs = {child.tag for obj in fiwalk.iterfind(".//d:fileobject", ns) for child in obj}
    assert tags - {"{urn:exhibit:dfxml}recovery_unreliable", "{urn:exhibit:dfxml}warning"} <= theirs | {
        f"{{{ns['d']}}}parent_object"
    }
    volume = ours.find("d:volume", ns)
    assert volume is not None and volume.findtext("d:ftype_str", namespaces=ns) == "fat16"


# --- DFTT 7: deleted NTFS files ----------------------------------------------------------------------------------

NTFS_DELETED = {
    29: ("/frag1.dat", 1584, "7a3bc5b763bef201202108f4ba128149"),
    30: ("/frag2.dat", 3873, "0e80ab84ef0087e60dfc67b88a1cf13e"),
    31: ("/sing1.dat", 780, "59b20779f69ff9f0ac5fcd2c38835a79"),
    32: ("/mult1.dat", 3801, "ffd27bd782bdce67750b6b9ee069d2ef"),
    35: ("/dir1/dir2/frag3.dat", 2027, "21121699487f3fbbdb9a4b3391b6d3e0"),
    36: ("/dir1/mult2.dat", 1715, "59cf0e9cd107bc1e75afb7374f6e05bb"),
    37: ("/res1.dat", 101, "9036637712b491904cd0bfbdbe648453"),
    38: ("/$OrphanFiles/sing2.dat", 1005, "c229626f6a71b167ad7e50c4f2fccdb1"),
}


def test_dftt7_deleted_ntfs_files_by_mft_entry() -> None:
    rows = _walk(DFTT / "7-undel-ntfs" / "7-ntfs-undel.dd")
    files = {r.inode: r for r in rows if r.stream is None}
    for entry, (path, size, md5) in NTFS_DELETED.items():
        row = files[entry]
        assert (row.path, row.size, row.md5) == (path, size, md5)
        assert row.deleted and not row.recovery_unreliable  # NTFS keeps the run list in the MFT entry
        assert row.mtime is not None and row.mtime.startswith("2004-02-29T")  # the leap day
        assert row.mtime.endswith("Z") and not row.times_are_local
    assert files[37].resident and not files[29].resident
    assert files[32].sequence == 1  # the name's reference; the entry itself moved on to 2 at deletion


def test_dftt7_alternate_data_stream() -> None:
    image = DFTT / "7-undel-ntfs" / "7-ntfs-undel.dd"
    found = _by_path(_walk(image))
    ads = found["/mult1.dat:ADS"]
    assert (ads.stream, ads.inode, ads.size, ads.md5) == ("ADS", 32, 1234, "ba1b9eedb1c091ddca253d35dde8f616")
    assert ads.deleted and ads.name == "mult1.dat:ADS"
    assert found["/mult1.dat"].md5 == "ffd27bd782bdce67750b6b9ee069d2ef"  # the default stream is the file's row
    data = b"".join(read_content(pytsk3.Img_Info(str(image)), 0, 32, ads.attr_type, ads.attr_id))
    assert hashlib.md5(data).hexdigest() == ads.md5
    assert found["/$BadClus:$Bad"].md5 is None  # a volume-sized sparse placeholder, not hashed
    assert fs_info(pytsk3.Img_Info(str(image))).label == "NTFS_DEL"


# --- DFTT 5: FAT local times ----------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Europe/Berlin"])
def test_daylight_times_are_the_wall_clock(zone: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        found = _by_path(_walk(DFTT / "5-fat-daylight" / "daylight.dd"))
    finally:
        monkeypatch.undo()
        time.tzset()
    winter, summer = found["/winter.txt"], found["/summer.txt"]
    assert winter.times_are_local and summer.times_are_local
    assert (winter.crtime, summer.crtime) == ("2004-01-01T14:00:01.34", "2004-06-01T15:00:01.62")
    assert (winter.mtime, summer.mtime) == ("2004-01-01T14:00:02", "2004-06-01T15:00:04")
    apart = datetime.fromisoformat(summer.crtime or "") - datetime.fromisoformat(winter.crtime or "")
    assert apart == timedelta(days=152, hours=1, milliseconds=280)  # 5 months and 1 h, never 2 h


# --- dfir_ntfs images -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "in_walk_order"), [("fat12.raw.gz", True), ("fat16.raw.gz", False)])
def test_dfir_fat_walk_order_and_mtimes(name: str, in_walk_order: bool, tmp_path: Path) -> None:
    image = _gunzip(name, tmp_path)
    rows = [r for r in _walk(image) if not r.virtual and not r.name.endswith("(Volume Label Entry)")]
    key = DFIR / "groundtruth" / name.replace(".raw.gz", "_full_test.txt")
    expected = [line.rsplit(None, 1) for line in key.read_text().splitlines()]  # fat16's key is sorted, by spaces
    paths = [r.path for r in rows]
    assert paths == [path for path, _ in expected] if in_walk_order else sorted(paths) == sorted(p for p, _ in expected)
    shown = {path: datetime.strptime(when[:19], "%Y-%m-%d+%H:%M:%S") for path, when in expected}
    for row in rows:
        # The key was printed in UTC+3 from a volume whose FAT wall clock was written in UTC.
        assert datetime.fromisoformat(row.mtime or "") + timedelta(hours=3) == shown[row.path], row.path
    find_me = next(r for r in rows if r.path == "/265/find_me.txt")
    data = b"".join(read_content(pytsk3.Img_Info(str(image)), 0, find_me.inode or 0))
    assert data == b"\xfe" * 8192 + b"the end"
    assert find_me.md5 == hashlib.md5(data).hexdigest()


def test_dfir_fat_deleted_dir(tmp_path: Path) -> None:
    rows = _walk(_gunzip("fat_deleted_dir.raw.gz", tmp_path))
    found = _by_path(rows)
    assert found["/test"].deleted and found["/test"].file_type == "directory"
    children = [r for r in rows if r.path.startswith("/test/")]
    assert len(children) == 14 and all(r.deleted and r.recovery_unreliable for r in children)
    assert {"/test_2/1.txt", "/test_2/2.txt"} <= set(found)
    # The share's README calls /test_2 live; its directory entry starts with 0xE5 and TSK lists it deleted.
    assert found["/test_2"].deleted


def test_dfir_ntfs3_in_use_records(tmp_path: Path) -> None:
    rows = _walk(_gunzip("ntfs3.raw.gz", tmp_path))
    in_use = {r.inode for r in rows if r.stream is None and not r.virtual and not r.deleted and (r.inode or 0) >= 27}
    assert len(in_use) == 4


def test_dfir_exfat_counts_and_stat_listing(tmp_path: Path) -> None:
    rows = _walk(_gunzip("exfat_win.raw.gz", tmp_path))
    kinds = [f"{r.name_type}/{r.meta_type}" for r in rows]
    assert (kinds.count("r/r"), kinds.count("d/d")) == (409, 302)
    deleted = [r for r in rows if r.deleted and not any(w.code == META_REALLOCATED for w in r.warnings)]
    assert len(deleted) == 5
    found = _by_path(rows)
    stat = (DFIR / "groundtruth" / "exfat_win_stat.txt").read_text(encoding="cp1251").splitlines()
    for line in stat:
        path, mtime, atime, crtime, size = line.split("\t")
        row = found[path]
        assert row.times_are_local
        got = [datetime.fromisoformat(t or "") for t in (row.mtime, row.atime, row.crtime)]
        assert got == [datetime.fromisoformat(t) for t in (mtime, atime, crtime)], path
        assert (0 if row.file_type == "directory" else row.size) == int(size), path
    assert fs_info(pytsk3.Img_Info(str(tmp_path / "exfat_win.raw"))).type == "exfat"


# --- hash sets -------------------------------------------------------------------------------------------------


def test_tsk_md5sum_hash_database() -> None:
    reader = HashSetReader(HASHSETS / "testmd5.dat")
    known = list(reader)
    assert reader.format == HashSetFormat.MD5SUM and (len(known), reader.bad_lines) == (28, 0)
    assert KnownHash("md5", "03782788d3daeccc91bbf5402b0d95fa", "tsk_loaddb.exe", None) in known


def test_dfvfs_ext2_sha256_list() -> None:
    reader = HashSetReader(HASHSETS / "dfvfs_ext2.E01.sha256")
    known = list(reader)
    assert reader.format == HashSetFormat.DIGEST_PATH and len(known) == 3
    assert {h.algorithm for h in known} == {"sha256"} and "/passwords.txt" in {h.name for h in known}


def test_nps_exfat1_through_device_image() -> None:
    from forensics.device_image import list_volumes, open_device_image

    image = open_device_image([IMAGES / "nps" / "exfat1.E01"])
    (volume,) = [v for v in list_volumes(image) if v.file_system == "exFAT"]
    assert volume.start == 2048 * 512
    rows = list(walk_file_system(image.img_info, volume.start, volume=volume.index))
    deleted = [r for r in rows if r.deleted and not r.path.startswith("/$OrphanFiles/")]
    assert len(deleted) == 44  # the /man-deleted tree and its AppleDouble "._" twin
    assert all(r.recovery_unreliable for r in deleted)
    assert {r.volume for r in rows} == {volume.index}
    assert fs_info(image.img_info, volume.start).label == "exfat1"
