"""The device file index: a generated device_files table indexed, then browsed, searched and put on a timeline,
with the views and refusals it leaves on the ledger."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import func, select

from evidence_store.access import Actor, add_user
from evidence_store.analysis import read_table, record_table_batches
from evidence_store.cases import create_case
from evidence_store.catalog import DeviceFileIndex
from evidence_store.errors import AccessDeniedError, BadReferenceError
from evidence_store.file_index import (
    directory_listing,
    file_times,
    index_device_files,
    normal_directory,
    parent_of,
    search_device_files,
    subdirectories,
)
from evidence_store.intake import IngestRequest, ingest
from evidence_store.ledger import Ledger
from evidence_store.system import EvidenceSystem
from schemas.tables import DEVICE_FILES

CASE = "OP-INDEX"


def _digests(content: bytes) -> dict[str, str]:
    return {
        "md5": hashlib.md5(content).hexdigest(),
        "sha1": hashlib.sha1(content).hexdigest(),
        "sha256": hashlib.sha256(content).hexdigest(),
    }


def _entry(path: str, **fields: Any) -> dict[str, Any]:
    """A device_files row as the listing step writes it, with the fields a test cares about."""
    name = fields.pop("name", path.rsplit("/", 1)[1])
    return {
        "volume": 0,
        "path": path,
        "name": name,
        "file_type": "regular",
        "virtual": False,
        "deleted": False,
        "times_are_local": False,
        "recovery_unreliable": False,
        "resident": False,
        "known": None,
        "alert": False,
        **fields,
    }


PHOTO = _digests(b"photo one")
# The answers beside the data: what each directory holds, by name regardless of case.
ENTRIES = [
    _entry("/DCIM", file_type="directory", mtime="2024-02-01T12:00:00Z"),
    _entry("/Bulk", file_type="directory"),
    _entry("/notes.txt", size=5, mtime="2024-03-01T10:00:00Z", atime="2024-03-02T08:00:00Z", **_digests(b"notes")),
    _entry("/notes.txt:Zone.Identifier", name="notes.txt:Zone.Identifier", stream="Zone.Identifier", size=26),
    _entry("/100%_done.txt", size=1, mtime="2024-03-01T09:59:59.5Z"),
    _entry("/1000 done.txt", size=1),
    _entry("/plan_a.doc", size=1),
    _entry("/planXa.doc", size=1),
    _entry("/DCIM/IMG_0001.JPG", size=9, mtime="2024-03-01T11:00:00Z", crtime="2024-02-29T23:00:00Z", **PHOTO),
    _entry("/DCIM/_MG_0002.JPG", deleted=True, size=9, mtime="2024-03-01T10:30:00", times_are_local=True),
    _entry("/DCIM/Thumbs.db", known=True, size=4, **_digests(b"thumbs")),
    _entry("/DCIM/bad.jpg", known=True, alert=True, size=3, **_digests(b"bad")),
    _entry("/DCIM/Camera", file_type="directory"),
    _entry("/DCIM/Camera/a.jpg", size=1, known=False),
    *(_entry(f"/Bulk/file_{i:02d}.bin", size=i) for i in range(25)),
]


def _device_exhibit(system: EvidenceSystem, analyst: Actor, tmp_path: Path, name: str = "phone.bin") -> int:
    image = tmp_path / name
    image.write_bytes(name.encode() * 100)
    request = IngestRequest(case_ref=CASE, by="PC Smith", kind="device_image", exhibit_ref=f"PS/{len(name)}")
    (outcome,) = ingest(system, analyst, [image], request)
    assert outcome.ok and outcome.exhibit_id is not None, outcome.error
    return outcome.exhibit_id


def _record_listing(system: EvidenceSystem, analyst: Actor, exhibit_id: int, entries: list[dict[str, Any]]) -> str:
    rows = [{"exhibit_id": exhibit_id, "exhibit_ref": "X/1", **e} for e in entries]
    table = pa.Table.from_pylist(rows, schema=DEVICE_FILES)
    # Several batches, as a listing arrives: positions run on across them.
    result = record_table_batches(
        system, analyst, exhibit_id, "device_files", table.to_batches(max_chunksize=10), tool="test", tool_version="1"
    )
    return result.sha256


def _names(rows: list[dict[str, Any]]) -> list[str]:
    return [r["name"] for r in rows]


def _events(system: EvidenceSystem, action: str) -> list[Any]:
    with system.catalog.reading() as session:
        return [e for e in Ledger.iter(session) if e.action == action]


def test_a_device_listing_is_browsed_searched_and_put_on_a_timeline(
    system: EvidenceSystem, analyst: Actor, tmp_path: Path
) -> None:
    create_case(system, analyst, CASE, "Seized phone")
    exhibit_id = _device_exhibit(system, analyst, tmp_path)
    result_sha256 = _record_listing(system, analyst, exhibit_id, ENTRIES)
    analysed = len(_events(system, "ANALYSED"))
    assert index_device_files(system, exhibit_id) == len(ENTRIES)
    assert len(_events(system, "ANALYSED")) == analysed  # bookkeeping: nothing on the ledger

    root = directory_listing(system, analyst, exhibit_id, "/")
    assert (root.parent, root.total, root.offset) == ("/", 8, 0)
    expected_root = ["100%_done.txt", "1000 done.txt", "Bulk", "DCIM", "notes.txt", "notes.txt:Zone.Identifier"]
    assert _names(root.rows) == [*expected_root, "plan_a.doc", "planXa.doc"]
    # Each row names the table and the position it came from.
    listed = read_table(system, analyst, "device_files", CASE, exhibit_id).to_pylist()
    assert all(r["result_sha256"] == result_sha256 and listed[r["row"]]["path"] == r["path"] for r in root.rows)
    assert {r["exhibit_ref"] for r in root.rows} == {"PS/9"}  # the catalog's reference

    dcim = directory_listing(system, analyst, exhibit_id, "DCIM/")
    assert dcim.parent == "/DCIM"
    assert _names(dcim.rows) == ["_MG_0002.JPG", "bad.jpg", "Camera", "IMG_0001.JPG", "Thumbs.db"]
    assert _names(directory_listing(system, analyst, exhibit_id, "/DCIM", deleted_only=True).rows) == ["_MG_0002.JPG"]
    # Hiding known files hides benign ones, never an alert.
    hidden = directory_listing(system, analyst, exhibit_id, "/DCIM", hide_known=True)
    assert (_names(hidden.rows), hidden.total) == (["_MG_0002.JPG", "bad.jpg", "Camera", "IMG_0001.JPG"], 4)
    assert _names(directory_listing(system, analyst, exhibit_id, "/DCIM", alerts_only=True).rows) == ["bad.jpg"]
    assert directory_listing(system, analyst, exhibit_id, "/DCIM", volume=1).total == 0

    pages = [directory_listing(system, analyst, exhibit_id, "/Bulk", offset=o, limit=10) for o in (0, 10, 20)]
    assert [p.total for p in pages] == [25, 25, 25] and [len(p.rows) for p in pages] == [10, 10, 5]
    assert [n for p in pages for n in _names(p.rows)] == [f"file_{i:02d}.bin" for i in range(25)]
    with pytest.raises(BadReferenceError):
        directory_listing(system, analyst, exhibit_id, "/Bulk", limit=0)

    assert subdirectories(system, analyst, exhibit_id, "/") == ["/Bulk", "/DCIM"]
    assert subdirectories(system, analyst, exhibit_id, "/DCIM") == ["/DCIM/Camera"]
    assert subdirectories(system, analyst, exhibit_id, "/DCIM/Camera") == []

    views = [e.details["what"] for e in _events(system, "VIEWED") if e.exhibit_id == exhibit_id]
    assert "device file listing /" in views and "device file listing /DCIM" in views

    # Search: a digest exactly (any case), a name by substring with % and _ as themselves.
    for algorithm in ("md5", "sha1", "sha256"):
        (found,) = search_device_files(system, analyst, CASE, PHOTO[algorithm].upper())
        assert (found["path"], found["match"], found["exhibit_id"]) == ("/DCIM/IMG_0001.JPG", algorithm, exhibit_id)
    assert search_device_files(system, analyst, CASE, "0" * 64) == []
    assert _names(search_device_files(system, analyst, CASE, "img_")) == ["IMG_0001.JPG"]
    assert _names(search_device_files(system, analyst, CASE, "MG_000")) == ["_MG_0002.JPG", "IMG_0001.JPG"]
    assert _names(search_device_files(system, analyst, CASE, "100%")) == ["100%_done.txt"]
    assert _names(search_device_files(system, analyst, CASE, "plan_a")) == ["plan_a.doc"]
    assert _names(search_device_files(system, analyst, CASE, "_")) == [
        "100%_done.txt",
        "_MG_0002.JPG",
        *(f"file_{i:02d}.bin" for i in range(25)),
        "IMG_0001.JPG",
        "plan_a.doc",
    ]
    assert len(search_device_files(system, analyst, CASE, "file_", limit=7)) == 7
    with pytest.raises(BadReferenceError):
        search_device_files(system, analyst, CASE, "  ")
    searches = [e for e in _events(system, "VIEWED") if e.details["what"].startswith("device file search")]
    assert searches[0].case_ref == CASE and searches[0].details["what"].startswith("device file search by md5:")

    # The timeline: every time in the window, by time; a local (FAT) time says so.
    day = file_times(system, analyst, CASE, "2024-03-01T00:00:00Z", "2024-03-02T00:00:00Z")
    assert [(r["path"], r["time_kind"], r["time"], r["times_are_local"]) for r in day] == [
        ("/100%_done.txt", "mtime", "2024-03-01T09:59:59.5Z", False),
        ("/notes.txt", "mtime", "2024-03-01T10:00:00Z", False),
        ("/DCIM/_MG_0002.JPG", "mtime", "2024-03-01T10:30:00", True),
        ("/DCIM/IMG_0001.JPG", "mtime", "2024-03-01T11:00:00Z", False),
    ]
    # The end is excluded, the start included; an offset in another zone is converted to UTC.
    assert [
        r["time"] for r in file_times(system, analyst, CASE, "2024-03-01T11:00:00+00:00", "2024-03-02T08:00:00Z")
    ] == ["2024-03-01T11:00:00Z"]
    everything = file_times(system, analyst, CASE, None, None)
    assert [r["time_kind"] for r in everything] == ["mtime", "crtime", "mtime", "mtime", "mtime", "mtime", "atime"]
    assert file_times(system, analyst, CASE, None, None, offset=5, limit=1) == everything[5:6]
    assert [r["time_kind"] for r in file_times(system, analyst, CASE, None, None, kinds=["atime", "crtime"])] == [
        "crtime",
        "atime",
    ]
    with pytest.raises(BadReferenceError):
        file_times(system, analyst, CASE, "last tuesday", None)
    assert any(e.details["what"].startswith("device file times") for e in _events(system, "VIEWED"))


@pytest.mark.parametrize("settings", ["file-sqlite", "file-postgresql"], indirect=True)
def test_a_non_member_is_refused_and_the_refusal_recorded(
    system: EvidenceSystem, analyst: Actor, admin: Actor, tmp_path: Path
) -> None:
    create_case(system, analyst, CASE, "Seized phone")
    exhibit_id = _device_exhibit(system, analyst, tmp_path)
    _record_listing(system, analyst, exhibit_id, ENTRIES)
    index_device_files(system, exhibit_id)
    outsider = add_user(system, admin, "dc.green", "investigator")
    attempts = [
        lambda: directory_listing(system, outsider, exhibit_id, "/"),
        lambda: subdirectories(system, outsider, exhibit_id, "/"),
        lambda: search_device_files(system, outsider, CASE, "notes"),
        lambda: file_times(system, outsider, CASE, None, None),
    ]
    for attempt in attempts:
        with pytest.raises(AccessDeniedError):
            attempt()
    denied = _events(system, "ACCESS_DENIED")
    assert len(denied) == len(attempts) and {e.actor for e in denied} == {"dc.green"}
    assert [e.exhibit_id for e in denied] == [exhibit_id, exhibit_id, None, None]
    assert not [e for e in _events(system, "VIEWED") if e.actor == "dc.green"]


@pytest.mark.parametrize("settings", ["file-sqlite", "s3-postgresql"], indirect=True)
def test_indexing_again_replaces_the_exhibits_rows_and_no_others(
    system: EvidenceSystem, analyst: Actor, tmp_path: Path
) -> None:
    create_case(system, analyst, CASE, "Seized phone")
    first = _device_exhibit(system, analyst, tmp_path, "phone.bin")
    second = _device_exhibit(system, analyst, tmp_path, "tablet.bin")
    _record_listing(system, analyst, first, ENTRIES)
    _record_listing(system, analyst, second, [_entry("/notes.txt", **_digests(b"notes"))])
    assert (index_device_files(system, first), index_device_files(system, second)) == (len(ENTRIES), 1)
    found = search_device_files(system, analyst, CASE, _digests(b"notes")["sha1"])
    assert sorted(r["exhibit_id"] for r in found) == [first, second]

    # The listing made again (the device re-examined): the newest table replaces the rows, not adds to them.
    newer = _record_listing(system, analyst, first, [_entry("/DCIM", file_type="directory"), _entry("/DCIM/new.jpg")])
    assert index_device_files(system, first) == 2
    root = directory_listing(system, analyst, first, "/")
    assert (_names(root.rows), root.rows[0]["result_sha256"]) == (["DCIM"], newer)
    assert _names(directory_listing(system, analyst, first, "/DCIM").rows) == ["new.jpg"]
    with system.catalog.reading() as session:
        counted = session.execute(
            select(DeviceFileIndex.exhibit_id, func.count()).group_by(DeviceFileIndex.exhibit_id)
        ).all()
    assert dict(counted) == {first: 2, second: 1}
    assert index_device_files(system, second) == 1  # the same table again: the same rows, not twice as many
    assert len(search_device_files(system, analyst, CASE, "notes")) == 1


def test_paths_and_directories_are_read_as_the_index_holds_them() -> None:
    assert parent_of("/DCIM/IMG_0001.JPG", "IMG_0001.JPG") == "/DCIM"
    assert parent_of("/notes.txt", "notes.txt") == "/"
    assert parent_of("/a/notes.txt:ads", "notes.txt:ads") == "/a"
    assert parent_of("/a/odd/name", "odd/name") == "/a"  # a name holding a "/" stays in its directory
    assert [normal_directory(d) for d in ("", "/", "DCIM", "/DCIM/", " /DCIM/Camera ")] == [
        "/",
        "/",
        "/DCIM",
        "/DCIM",
        "/DCIM/Camera",
    ]


def test_a_build_is_written_in_short_transactions_and_shown_only_when_whole(
    system: EvidenceSystem, analyst: Actor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import evidence_store.file_index as file_index

    create_case(system, analyst, CASE, "Seized phone")
    exhibit = _device_exhibit(system, analyst, tmp_path)
    _record_listing(system, analyst, exhibit, ENTRIES)
    assert index_device_files(system, exhibit) == len(ENTRIES)
    before = directory_listing(system, analyst, exhibit, "/Bulk").total

    # The listing made again, and its indexing dies after two batches: those rows are in the table, but the
    # old build stays the one readers see; between batches other writers went on (a view is recorded).
    _record_listing(system, analyst, exhibit, [*ENTRIES, _entry("/Bulk/late.bin", size=1)])
    real_batches = file_index.result_batches
    seen = 0

    def dying(system_: EvidenceSystem, results: list[str]) -> Any:
        nonlocal seen
        for whole in real_batches(system_, results):
            for start in range(0, whole.num_rows, 10):  # batches of ten, as a large listing reads
                seen += 1
                if seen == 3:
                    raise OSError("the worker was killed")
                directory_listing(system, analyst, exhibit, "/")  # a write (VIEWED) between two batches
                yield whole.slice(start, 10)

    monkeypatch.setattr(file_index, "result_batches", dying)
    with pytest.raises(OSError):
        index_device_files(system, exhibit)
    monkeypatch.setattr(file_index, "result_batches", real_batches)
    with system.catalog.reading() as session:
        rows = session.execute(select(func.count()).select_from(DeviceFileIndex)).scalar_one()
    assert rows == len(ENTRIES) + 20  # two batches of ten, written and not shown
    assert directory_listing(system, analyst, exhibit, "/Bulk").total == before

    # The next build shows the new listing and removes both the old build and the dead one's rows.
    assert index_device_files(system, exhibit) == len(ENTRIES) + 1
    assert directory_listing(system, analyst, exhibit, "/Bulk").total == before + 1
    with system.catalog.reading() as session:
        rows = session.execute(select(func.count()).select_from(DeviceFileIndex)).scalar_one()
    assert rows == len(ENTRIES) + 1
