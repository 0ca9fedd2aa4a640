"""The file system walker on images built here with mkfs.vfat/mtools and mkfs.ext2/debugfs."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import time
import types
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytsk3

from forensics.device_files import (
    CHUNK_SIZE,
    DIR_REVISITED,
    DeviceFile,
    fs_info,
    read_content,
    walk_file_system,
)
from forensics.errors import DeviceFileMissingError, NoFileSystemError

TOOLS = ("mkfs.vfat", "mmd", "mcopy", "mdel", "mkfs.ext2", "debugfs")
pytestmark = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in TOOLS),
    reason=f"needs {', '.join(TOOLS)} (dosfstools, mtools, e2fsprogs)",
)

HELLO_MTIME = 1_600_000_000  # 2020-09-13T12:26:40Z: an even second, as FAT keeps 2 s steps
EXT_MTIME = 1_500_000_123
BIG = 2 * CHUNK_SIZE + 12345  # several reads


def _run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    subprocess.run([str(a) for a in args], check=True, capture_output=True, env=env)


def _mtools_env() -> dict[str, str]:
    # mtools writes FAT times in its own local time: UTC here, so the stored wall clock is the UTC time.
    return {**os.environ, "TZ": "UTC", "MTOOLS_SKIP_CHECK": "1"}


@pytest.fixture(scope="module")
def fat_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("fat_src")
    (src / "dir" / "sub").mkdir(parents=True)
    (src / "hello.txt").write_bytes(b"hello world\n")
    (src / "gone.txt").write_bytes(b"deleted but contiguous\n")
    (src / "empty.txt").write_bytes(b"")
    (src / "dir" / "Ünïcode name.txt").write_bytes("unicode ✓\n".encode())
    (src / "dir" / "sub" / "big.bin").write_bytes(random.Random(7).randbytes(BIG))
    for path in src.rglob("*"):
        if path.is_file():
            os.utime(path, (HELLO_MTIME, HELLO_MTIME))
    return src


@pytest.fixture(scope="module")
def fat_image(tmp_path_factory: pytest.TempPathFactory, fat_source: Path) -> Path:
    image = tmp_path_factory.mktemp("fat") / "fat.img"
    env = _mtools_env()
    _run("mkfs.vfat", "-n", "EXHIBIT", "-C", image, "8192", env=env)
    _run("mmd", "-i", image, "::/dir", "::/dir/sub", "::/LOOPA", "::/LOOPA/LOOPB", env=env)
    for name in ("hello.txt", "gone.txt", "empty.txt"):
        _run("mcopy", "-m", "-i", image, fat_source / name, "::/", env=env)
    _run("mcopy", "-m", "-i", image, fat_source / "dir" / "Ünïcode name.txt", "::/dir/", env=env)
    _run("mcopy", "-m", "-i", image, fat_source / "dir" / "sub" / "big.bin", "::/dir/sub/", env=env)
    _run("mdel", "-i", image, "::/gone.txt", env=env)
    return image


@pytest.fixture(scope="module")
def ext_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("ext_src")
    (src / "d" / "e").mkdir(parents=True)
    (src / "d" / "f.txt").write_bytes(b"x" * 5000)
    (src / "d" / "e" / "deep.bin").write_bytes(bytes(range(256)) * 40)
    (src / "gone.txt").write_bytes(b"bye\n")
    os.symlink("d/f.txt", src / "link")
    with open(os.path.join(os.fsencode(src), b"caf\xe9.txt"), "wb") as handle:  # Latin-1 name, not UTF-8
        handle.write(b"latin-1 name\n")
    for path in [*src.rglob("*"), src]:
        if not path.is_symlink():
            os.utime(path, (EXT_MTIME, EXT_MTIME))
    return src


@pytest.fixture(scope="module")
def ext_image(tmp_path_factory: pytest.TempPathFactory, ext_source: Path) -> Path:
    image = tmp_path_factory.mktemp("ext") / "ext.img"
    _run("mkfs.ext2", "-q", "-F", "-b", "1024", "-L", "EXLABEL", "-d", ext_source, image, "2M")
    _run("debugfs", "-w", "-R", "rm /gone.txt", image)
    return image


def _walk(image: Path, **kwargs: object) -> list[DeviceFile]:
    return list(walk_file_system(pytsk3.Img_Info(str(image)), **kwargs))  # type: ignore[arg-type]


def _by_path(rows: list[DeviceFile]) -> dict[str, DeviceFile]:
    return {r.path: r for r in rows}


def _digests(data: bytes) -> tuple[str, str, str]:
    return hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest(), hashlib.sha256(data).hexdigest()


def _utc_wall_clock(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


# --- FAT ------------------------------------------------------------------------------------------------------


def test_fat_paths_sizes_hashes_and_order(fat_image: Path, fat_source: Path) -> None:
    rows = _walk(fat_image, volume=3)
    paths = [r.path for r in rows if not r.virtual]
    # fls -r order: each directory straight before its contents.
    assert paths.index("/dir") < paths.index("/dir/sub") < paths.index("/dir/sub/big.bin") < paths.index("/LOOPA")
    found = _by_path(rows)
    for rel in ("hello.txt", "empty.txt", "dir/Ünïcode name.txt", "dir/sub/big.bin"):
        row, data = found[f"/{rel}"], (fat_source / rel).read_bytes()
        assert (row.size, row.file_type, row.deleted, row.recovery_unreliable) == (len(data), "regular", False, False)
        assert (row.md5, row.sha1, row.sha256) == _digests(data)
        assert row.volume == 3 and row.warnings == ()
    assert found["/hello.txt"].magic_mime == "text/plain"
    assert found["/empty.txt"].magic_mime == "application/x-empty"
    assert found["/dir/sub"].file_type == "directory" and found["/dir/sub"].md5 is None
    assert found["/dir/sub/big.bin"].parent_inode == found["/dir/sub"].inode
    assert {r.path for r in rows if r.virtual} == {"/$MBR", "/$FAT1", "/$FAT2", "/$OrphanFiles"}


def test_fat_deleted_file_is_listed_and_flagged(fat_image: Path, fat_source: Path) -> None:
    deleted = [r for r in _walk(fat_image) if r.deleted]
    assert [r.path for r in deleted] == ["/_one.txt"]  # TSK replaces a deleted FAT name's first character
    row = deleted[0]
    assert not row.name_allocated and row.meta_allocated is False
    # Contiguous and not yet overwritten, so TSK recovers it right; it is flagged all the same.
    assert row.md5 == hashlib.md5((fat_source / "gone.txt").read_bytes()).hexdigest()
    assert row.recovery_unreliable


def test_fat_times_are_the_stored_wall_clock_whatever_the_zone(
    fat_image: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _utc_wall_clock(HELLO_MTIME)  # what mtools (TZ=UTC) wrote into the entry
    try:
        for zone in ("UTC", "America/New_York", "Asia/Kolkata"):
            monkeypatch.setenv("TZ", zone)
            time.tzset()
            hello = _by_path(_walk(fat_image))["/hello.txt"]
            assert hello.times_are_local
            assert hello.mtime == expected, zone  # no zone suffix: it is a local time
            assert hello.atime == expected[:10] + "T00:00:00"  # FAT keeps only the access date
            assert hello.ctime is None
    finally:
        monkeypatch.undo()
        time.tzset()


def test_fat_fs_info(fat_image: Path) -> None:
    info = fs_info(pytsk3.Img_Info(str(fat_image)))
    assert info.type in ("fat12", "fat16") and info.times_are_local
    assert info.label == "EXHIBIT"
    assert info.block_size == 512 and info.first_inode <= info.root_inode <= info.last_inode


def test_read_content_streams_in_chunks(fat_image: Path, fat_source: Path) -> None:
    img = pytsk3.Img_Info(str(fat_image))
    row = _by_path(list(walk_file_system(img, hash_contents=False)))["/dir/sub/big.bin"]
    assert row.md5 is None and row.magic_mime is not None  # only the head was read
    chunks = list(read_content(img, 0, row.inode or 0, chunk_size=65536))
    assert max(map(len, chunks)) <= 65536 and len(chunks) > 1
    assert b"".join(chunks) == (fat_source / "dir" / "sub" / "big.bin").read_bytes()
    with pytest.raises(DeviceFileMissingError):
        read_content(img, 0, 10**9)


class _CountingImage(pytsk3.Img_Info):  # type: ignore[misc]
    """A raw image read through Python, counting the bytes TSK asks for."""

    def __init__(self, path: Path) -> None:
        self._handle = path.open("rb")
        self._size = path.stat().st_size
        self.bytes_read = 0
        super().__init__(url="", type=pytsk3.TSK_IMG_TYPE_EXTERNAL)

    def read(self, offset: int, size: int) -> bytes:
        self.bytes_read += size
        self._handle.seek(offset)
        return self._handle.read(size)

    def get_size(self) -> int:
        return self._size

    def close(self) -> None:
        self._handle.close()


def test_walk_is_lazy(fat_image: Path) -> None:
    img = _CountingImage(fat_image)
    try:
        rows = walk_file_system(img)
        assert isinstance(rows, types.GeneratorType)
        opened = img.bytes_read  # TSK reads the FATs (and probes other formats) to open the file system
        first = next(rows)
        assert first.path == "/EXHIBIT     (Volume Label Entry)"
        assert img.bytes_read - opened < BIG / 2  # the 2 MiB file under /dir/sub was not read for the first row
        for row in rows:
            if row.path == "/dir/sub/big.bin":
                break
        assert img.bytes_read - opened > BIG  # ...and was, once the walk reached it
    finally:
        img.close()


def test_no_file_system(tmp_path: Path, fat_image: Path) -> None:
    blank = tmp_path / "zeros.img"
    blank.write_bytes(bytes(1 << 20))
    with pytest.raises(NoFileSystemError) as caught:
        walk_file_system(pytsk3.Img_Info(str(blank)))  # raised at the call, not at the first next()
    assert caught.value.code == "EX-DEVICE-NO-FILESYSTEM"
    with pytest.raises(NoFileSystemError):
        fs_info(pytsk3.Img_Info(str(fat_image)), 4096)


# --- damaged images -------------------------------------------------------------------------------------------


def _entry_offset(data: bytes | bytearray, short_name: bytes) -> int:
    entry = short_name.ljust(11) + b"\x10"  # 8.3 name, directory attribute
    at = data.find(entry)
    assert at >= 0
    return at


@pytest.mark.timeout(60)
def test_directory_loop_ends(tmp_path: Path, fat_image: Path) -> None:
    data = bytearray(fat_image.read_bytes())
    loop_a, loop_b = _entry_offset(data, b"LOOPA"), _entry_offset(data, b"LOOPB")
    data[loop_b + 26 : loop_b + 28] = data[loop_a + 26 : loop_a + 28]  # LOOPB now starts at LOOPA's cluster
    broken = tmp_path / "loop.img"
    broken.write_bytes(bytes(data))
    rows = _walk(broken)
    looped = [r for r in rows if any(w.code == DIR_REVISITED for w in r.warnings)]
    assert looped and all(r.path.startswith("/LOOPA/LOOPB") for r in looped)
    assert len(rows) < 40
    assert "/dir/sub/big.bin" in {r.path for r in rows}  # the rest of the tree is still walked


@pytest.mark.timeout(120)
@pytest.mark.parametrize("seed", range(12))
def test_scrambled_fat_never_hangs(tmp_path: Path, fat_image: Path, seed: int) -> None:
    data = bytearray(fat_image.read_bytes())
    rng = random.Random(seed)
    # Scramble the FATs, the root directory and the first data clusters (the directories live there).
    for _ in range(400):
        at = rng.randrange(512, 160 * 1024)
        data[at] = rng.randrange(256)
    broken = tmp_path / f"scrambled{seed}.img"
    broken.write_bytes(bytes(data))
    started = time.monotonic()
    try:
        rows = _walk(broken)
    except NoFileSystemError:
        return
    assert time.monotonic() - started < 60
    assert all(r.path.startswith("/") for r in rows)


@pytest.mark.timeout(60)
def test_unreadable_content_is_a_warning(tmp_path: Path, fat_image: Path) -> None:
    data = bytearray(fat_image.read_bytes())
    entry = data.find(b"HELLO   TXT")
    assert entry >= 0
    # Claims 6 MB: more than its one-cluster chain holds (TSK drops an entry larger than the volume).
    data[entry + 28 : entry + 32] = (6_000_000).to_bytes(4, "little")
    broken = tmp_path / "big-claim.img"
    broken.write_bytes(bytes(data))
    hello = _by_path(_walk(broken))["/hello.txt"]
    assert hello.size == 6_000_000
    assert hello.md5 is None and [w.code for w in hello.warnings] == ["EX-DEVICE-READ"]


# --- ext2 -----------------------------------------------------------------------------------------------------


def test_ext2_listing(ext_image: Path, ext_source: Path) -> None:
    rows = _walk(ext_image)
    found = _by_path(rows)
    for rel in ("d/f.txt", "d/e/deep.bin"):
        row, data = found[f"/{rel}"], (ext_source / rel).read_bytes()
        assert (row.size, row.md5, row.sha1, row.sha256) == (len(data), *_digests(data))
        assert row.mtime == _utc_wall_clock(EXT_MTIME) + "Z" and not row.times_are_local
        assert row.crtime is None  # ext2 has no creation time
    link = found["/link"]
    assert (link.file_type, link.link_target) == ("symlink", "d/f.txt")
    assert found["/d/e"].file_type == "directory" and found["/d/e"].md5 is None
    assert found["/$OrphanFiles"].virtual


def test_ext2_deleted_name(ext_image: Path) -> None:
    gone = [r for r in _walk(ext_image) if r.deleted]
    assert [r.path for r in gone] == ["/gone.txt"]
    assert not gone[0].name_allocated and not gone[0].recovery_unreliable


def test_non_utf8_names_are_escaped_not_fatal(ext_image: Path) -> None:
    names = {r.name for r in _walk(ext_image)}
    assert "caf\\xe9.txt" in names


def test_ext2_fs_info(ext_image: Path) -> None:
    info = fs_info(pytsk3.Img_Info(str(ext_image)))
    assert (info.type, info.label, info.block_size, info.root_inode) == ("ext2", "EXLABEL", 1024, 2)
    assert not info.times_are_local


def test_rows_convert_to_plain_dicts(ext_image: Path) -> None:
    row = _by_path(_walk(ext_image))["/d/f.txt"].to_row()
    assert row["path"] == "/d/f.txt" and row["warnings"] == [] and "sha256" in row
    assert set(row) == set(DeviceFile.__slots__)
