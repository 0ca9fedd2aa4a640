"""Hash set readers: NSRL RDS, md5sum-style, hashdeep and digest-TAB-path, streamed, bad lines counted."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from forensics.errors import HashSetFormatError, HashSetMissingError
from forensics.hashsets import (
    BAD_LINE,
    MAX_LINE_BYTES,
    HashSetFormat,
    HashSetReader,
    KnownHash,
    detect_hashset_format,
    read_hashset,
)

NSRL_HEADER = '"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"'
EMPTY_MD5 = hashlib.md5(b"").hexdigest()
EMPTY_SHA1 = hashlib.sha1(b"").hexdigest()
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
ABC = b"abc"


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def test_nsrl_rds_sample(tmp_path: Path) -> None:
    sha1, md5 = hashlib.sha1(ABC).hexdigest().upper(), hashlib.md5(ABC).hexdigest().upper()
    sample = _write(
        tmp_path / "NSRLFile.txt",
        f"{NSRL_HEADER}\r\n"
        f'"{sha1}","{md5}","352441C2","abc.txt",3,1234,"WIN",""\r\n'
        f'"{EMPTY_SHA1.upper()}","{EMPTY_MD5.upper()}","00000000","empty, with a comma.dat",0,99,"358",""\r\n'
        '"NOT-A-DIGEST","ALSO-NOT","0","broken.txt",1,1,"WIN",""\r\n'
        '"only","three","fields"\r\n',
    )
    assert detect_hashset_format(sample) == HashSetFormat.NSRL_RDS
    reader = HashSetReader(sample)
    known = list(reader)
    assert known == [
        KnownHash("sha1", sha1.lower(), "abc.txt", 3),
        KnownHash("md5", md5.lower(), "abc.txt", 3),
        KnownHash("sha1", EMPTY_SHA1, "empty, with a comma.dat", 0),
        KnownHash("md5", EMPTY_MD5, "empty, with a comma.dat", 0),
    ]
    assert (reader.lines, reader.bad_lines, reader.hashes) == (5, 2, 4)
    assert [(w.line, w.code) for w in reader.warnings] == [(4, BAD_LINE), (5, BAD_LINE)]


def test_md5sum_sha1sum_sha256sum(tmp_path: Path) -> None:
    sums = _write(
        tmp_path / "sums.txt",
        "# made by md5sum and friends\n"
        f"{EMPTY_MD5} *empty.bin\n"
        f"{hashlib.sha1(ABC).hexdigest()}  abc.txt\n"
        f"{EMPTY_SHA256.upper()}  dir/with  two spaces.txt\n"
        f"\\{EMPTY_MD5} *line\\nbreak\\\\name\n"
        "12345 *too-short\n"
        f"{EMPTY_MD5}no-separator\n",
    )
    assert detect_hashset_format(sums) == HashSetFormat.MD5SUM
    reader = HashSetReader(sums)
    assert list(reader) == [
        KnownHash("md5", EMPTY_MD5, "empty.bin", None),
        KnownHash("sha1", hashlib.sha1(ABC).hexdigest(), "abc.txt", None),
        KnownHash("sha256", EMPTY_SHA256, "dir/with  two spaces.txt", None),
        KnownHash("md5", EMPTY_MD5, "line\nbreak\\name", None),
    ]
    assert reader.bad_lines == 2


def test_hashdeep_manifest(tmp_path: Path) -> None:
    manifest = _write(
        tmp_path / "manifest.hashdeep",
        "%%%% HASHDEEP-1.0\n"
        "%%%% size,md5,sha256,filename\n"
        "## Invoked from: /evidence\n"
        "## $ hashdeep -r .\n"
        "##\n"
        f"3,{hashlib.md5(ABC).hexdigest()},{hashlib.sha256(ABC).hexdigest()},/evidence/a,b,c.txt\n"
        f"x,{EMPTY_MD5},{EMPTY_SHA256},/evidence/bad-size\n"
        f"0,{EMPTY_MD5},{EMPTY_SHA256}\n",
    )
    assert detect_hashset_format(manifest) == HashSetFormat.HASHDEEP
    reader = HashSetReader(manifest)
    assert list(reader) == [
        KnownHash("md5", hashlib.md5(ABC).hexdigest(), "/evidence/a,b,c.txt", 3),
        KnownHash("sha256", hashlib.sha256(ABC).hexdigest(), "/evidence/a,b,c.txt", 3),
    ]
    assert reader.bad_lines == 2


def test_digest_tab_path(tmp_path: Path) -> None:
    listing = _write(tmp_path / "image.sha256", f"{EMPTY_SHA256}\t/a file\n{EMPTY_SHA256}/no-tab\n")
    assert detect_hashset_format(listing) == HashSetFormat.DIGEST_PATH
    reader = HashSetReader(listing)
    assert list(reader) == [KnownHash("sha256", EMPTY_SHA256, "/a file", None)]
    assert reader.bad_lines == 1
    assert list(read_hashset(listing, HashSetFormat.DIGEST_PATH)) == [
        KnownHash("sha256", EMPTY_SHA256, "/a file", None)
    ]


def test_overlong_line_is_a_counted_bad_line(tmp_path: Path) -> None:
    listing = _write(
        tmp_path / "long.md5",
        f"{EMPTY_MD5} *first\n{EMPTY_MD5} *{'x' * (3 * MAX_LINE_BYTES)}\n{EMPTY_MD5} *last\n",
    )
    reader = HashSetReader(listing, HashSetFormat.MD5SUM)
    assert [h.name for h in reader] == ["first", "last"]
    assert (reader.lines, reader.bad_lines) == (3, 1)


def test_reading_is_lazy(tmp_path: Path) -> None:
    listing = tmp_path / "many.md5"
    with listing.open("w") as handle:
        for i in range(50_000):
            handle.write(f"{hashlib.md5(str(i).encode()).hexdigest()} *f{i}\n")
    reader = HashSetReader(listing)
    first = next(iter(reader))
    assert first.name == "f0" and reader.lines < 10  # one line read to give one hash
    assert sum(1 for _ in HashSetReader(listing)) == 50_000


def test_unknown_and_missing(tmp_path: Path) -> None:
    with pytest.raises(HashSetFormatError):
        detect_hashset_format(_write(tmp_path / "prose.txt", "Dear Sir,\nplease find attached.\n"))
    with pytest.raises(HashSetFormatError):
        detect_hashset_format(_write(tmp_path / "empty.txt", ""))
    with pytest.raises(HashSetMissingError) as caught:
        HashSetReader(tmp_path / "absent.txt")
    assert caught.value.code == "EX-HASHSET-MISSING"


@pytest.mark.skipif(shutil.which("hashdeep") is None, reason="needs hashdeep")
def test_reads_what_hashdeep_writes(tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    contents = {"a.txt": b"alpha\n", "b, with comma.bin": bytes(range(256)), "empty": b""}
    for name, data in contents.items():
        (files / name).write_bytes(data)
    made = subprocess.run(["hashdeep", "-c", "md5,sha1,sha256", "-r", str(files)], check=True, capture_output=True)
    manifest = tmp_path / "made.hashdeep"
    manifest.write_bytes(made.stdout)
    known = {(h.algorithm, h.name): h for h in HashSetReader(manifest)}
    for name, data in contents.items():
        path = str(files / name)
        assert known["md5", path].digest == hashlib.md5(data).hexdigest()
        assert known["sha1", path].digest == hashlib.sha1(data).hexdigest()
        assert known["sha256", path].digest == hashlib.sha256(data).hexdigest()
        assert known["md5", path].size == len(data)
