"""DFXML and hashdeep exports of a device listing: parsed back, and audited by hashdeep itself."""

from __future__ import annotations

import dataclasses
import io
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytsk3

from forensics.device_files import DeviceFile, DeviceWarning, fs_info, read_content, walk_file_system
from forensics.dfxml import DFXML_NAMESPACE, write_dfxml, write_hashdeep

NS = {"d": DFXML_NAMESPACE, "x": "urn:exhibit:dfxml"}


@pytest.fixture(scope="module")
def ext_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("mkfs.ext2") is None:
        pytest.skip("needs mkfs.ext2 (e2fsprogs)")
    src = tmp_path_factory.mktemp("src")
    (src / "docs").mkdir()
    (src / "docs" / "letter.txt").write_bytes(b"Dear Sir,\n" * 50)
    (src / "docs" / "copy.txt").write_bytes(b"Dear Sir,\n" * 50)  # same content twice
    (src / "a, b & <c>.bin").write_bytes(bytes(range(256)) * 9)
    (src / "empty").write_bytes(b"")
    image = tmp_path_factory.mktemp("img") / "ext.img"
    subprocess.run(["mkfs.ext2", "-q", "-F", "-b", "1024", "-d", str(src), str(image), "1M"], check=True)
    return image


def _row(**changes: object) -> DeviceFile:
    base = DeviceFile(
        volume=0,
        path="/file.txt",
        name="file.txt",
        stream=None,
        inode=5,
        sequence=None,
        parent_inode=2,
        file_type="regular",
        name_type="r",
        meta_type="r",
        virtual=False,
        deleted=False,
        name_allocated=True,
        meta_allocated=True,
        size=3,
        mode=511,
        uid=0,
        gid=0,
        nlink=1,
        link_target=None,
        mtime="2004-01-01T14:00:02",
        atime="2004-01-01T00:00:00",
        ctime=None,
        crtime="2004-01-01T14:00:01.34",
        times_are_local=True,
        md5="900150983cd24fb0d6963f7d28e17f72",
        sha1="a9993e364706816aba3e25717850c26c9cd0d89d",
        sha256="ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        magic_mime="text/plain",
        magic_kind="document",
        recovery_unreliable=False,
        resident=False,
        attr_type=1,
        attr_id=0,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _parse(data: bytes) -> ET.Element:
    return ET.fromstring(data)


def test_dfxml_of_a_walk_parses_back(ext_image: Path) -> None:
    img = pytsk3.Img_Info(str(ext_image))
    rows = list(walk_file_system(img, volume=0))
    out = io.BytesIO()
    written = write_dfxml(
        iter(rows), out, image_info={"image_filename": "ext.img", "image_size": 1 << 20, "volumes": {0: fs_info(img)}}
    )
    root = _parse(out.getvalue())
    assert root.tag == f"{{{DFXML_NAMESPACE}}}dfxml"
    assert root.findtext("d:creator/d:program", namespaces=NS) == "Exhibit"
    assert root.findtext("d:source/d:image_filename", namespaces=NS) == "ext.img"
    assert root.findtext("d:source/d:imagesize", namespaces=NS) == str(1 << 20)
    volume = root.find("d:volume", NS)
    assert volume is not None and volume.findtext("d:ftype_str", namespaces=NS) == "ext2"
    assert volume.findtext("d:block_size", namespaces=NS) == "1024"
    objects = volume.findall("d:fileobject", NS)
    assert written == len(objects) == len(rows)
    by_name = {o.findtext("d:filename", namespaces=NS): o for o in objects}
    letter = by_name["docs/letter.txt"]  # relative to the volume root, as fiwalk writes it
    row = next(r for r in rows if r.path == "/docs/letter.txt")
    assert letter.findtext("d:filesize", namespaces=NS) == str(row.size)
    assert letter.findtext("d:inode", namespaces=NS) == str(row.inode)
    assert letter.findtext("d:meta_type", namespaces=NS) == "1" and letter.findtext("d:name_type", namespaces=NS) == "r"
    assert letter.findtext("d:partition", namespaces=NS) == "1"
    assert letter.findtext("d:parent_object/d:inode", namespaces=NS) == str(row.parent_inode)
    assert letter.findtext("d:mtime", namespaces=NS) == row.mtime and (row.mtime or "").endswith("Z")
    digests = {h.get("type"): h.text for h in letter.findall("d:hashdigest", NS)}
    assert digests == {"md5": row.md5, "sha1": row.sha1, "sha256": row.sha256}
    assert "a, b & <c>.bin" in by_name  # escaped on the way out, intact on the way back
    assert not by_name["docs"].findall("d:hashdigest", NS)  # no digests for a directory


def test_dfxml_streams_as_rows_arrive() -> None:
    out = io.BytesIO()
    seen: list[int] = []

    def rows() -> Iterator[DeviceFile]:
        yield _row(path="/one", name="one")
        seen.append(out.tell())
        yield _row(path="/two", name="two")
        seen.append(out.tell())

    write_dfxml(rows(), out, image_info={"image_filename": "x.dd"})
    assert seen[0] > 0 and seen[1] > seen[0]  # the first fileobject was written before the second row existed
    assert b"<filename>one</filename>" in out.getvalue()[: seen[1]]


def test_dfxml_hostile_names_local_times_streams_and_warnings() -> None:
    rows = [
        _row(path="/bell\x07\x00name", name="bell\x07\x00name"),
        _row(
            path="/mult1.dat:ADS",
            name="mult1.dat:ADS",
            stream="ADS",
            deleted=True,
            name_allocated=False,
            meta_allocated=False,
            recovery_unreliable=True,
            warnings=(DeviceWarning("EX-DEVICE-READ", "read failed at byte 0"),),
            md5=None,
            sha1=None,
            sha256=None,
        ),
        _row(volume=1, path="/other-volume", name="other-volume"),
    ]
    out = io.BytesIO()
    write_dfxml(rows, out, image_info={"image_filename": "evidence\x01.E01"})
    root = _parse(out.getvalue())
    names = [e.text for e in root.iterfind(".//d:fileobject/d:filename", NS)]
    assert names == ["bell\\x07\\x00name", "mult1.dat:ADS", "other-volume"]
    assert len(root.findall("d:volume", NS)) == 2
    first, ads, other = root.iterfind(".//d:fileobject", NS)
    assert first.findtext("d:mtime", namespaces=NS) == "2004-01-01T14:00:02"  # FAT wall clock, no zone
    assert first.findtext("d:ctime", namespaces=NS) is None
    assert ads.findtext("d:alloc_name", namespaces=NS) == "0" and ads.findtext("d:alloc_inode", namespaces=NS) == "0"
    assert ads.findtext("x:recovery_unreliable", namespaces=NS) == "1"
    warning = ads.find("x:warning", NS)
    assert warning is not None and warning.get("code") == "EX-DEVICE-READ"
    assert other.findtext("d:partition", namespaces=NS) == "2"


def test_hashdeep_manifest_lines() -> None:
    out = io.BytesIO()
    rows = [_row(), _row(path="/dir", name="dir", file_type="directory", md5=None, sha1=None, sha256=None)]
    assert write_hashdeep(rows, out, root="/mnt/x/") == 1
    lines = out.getvalue().decode().splitlines()
    assert lines[:2] == ["%%%% HASHDEEP-1.0", "%%%% size,md5,sha256,filename"]
    assert lines[-1] == f"3,{rows[0].md5},{rows[0].sha256},/mnt/x/file.txt"
    assert all(line.startswith("##") for line in lines[2:-1])


@pytest.mark.skipif(shutil.which("hashdeep") is None, reason="needs hashdeep")
def test_hashdeep_audits_extracted_files(ext_image: Path, tmp_path: Path) -> None:
    img = pytsk3.Img_Info(str(ext_image))
    files = [r for r in walk_file_system(img) if r.file_type == "regular" and not r.virtual and not r.deleted]
    extracted = tmp_path / "extracted"
    for row in files:
        target = extracted / row.path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as out:
            for chunk in read_content(img, 0, row.inode or 0):
                out.write(chunk)
    manifest = tmp_path / "manifest.hashdeep"
    with manifest.open("wb") as out:
        assert write_hashdeep(files, out, root=str(extracted)) == len(files)

    def audit() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["hashdeep", "-a", "-k", str(manifest), "-r", str(extracted)], capture_output=True, text=True
        )

    passed = audit()
    assert passed.returncode == 0 and "Audit passed" in passed.stdout, passed.stdout + passed.stderr
    (extracted / "docs" / "letter.txt").write_bytes(b"tampered\n")
    failed = audit()
    assert failed.returncode != 0 and "Audit failed" in failed.stdout
