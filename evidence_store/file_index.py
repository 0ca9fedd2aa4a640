"""The device file index: each exhibit's newest `device_files` table copied into SQL, for a file browser, a
case-wide search by name or digest, and a timeline of file-system times.

A device's listing can hold a million rows; reading its Parquet table to show one directory or to find one
name would read them all. The index holds the columns a screen shows, with the indexes those screens need
(`DeviceFileIndex` in the catalog). It is a copy: the Parquet table stays the record, and each index row names
the table (`result_sha256`) and position (`row`) it came from. Building it is bookkeeping, like a database
index, so it leaves nothing on the ledger; every read of it is authorised and recorded as a view.

Times are the ISO 8601 strings of the listing and are compared as strings: UTC ones end in "Z", local ones
(FAT, exFAT: the disk holds no zone) have no zone at all, and a timeline row says which it is.

A build is written batch by batch, each batch its own short transaction, so that on SQLite (one writer at a
time) ledger appends and views go on while a million-row listing is indexed; the rows carry the build's
number and readers see only the build `DeviceFileIndexBuild` names as current, which changes in one small
transaction once all its rows are in. The old build's rows are then deleted in chunks. A build that dies half
way leaves rows no reader sees, removed by the next build of that exhibit.

Measured on a generated 1,000,000-row listing (2-core VM; SQLite / PostgreSQL 127.0.0.1), with the build in
one transaction: indexing 62 s / 187 s, again (old rows deleted) 110-140 s / 238 s; a name search 0.2-0.3 s
whether it finds nothing or many; a digest, a directory page or a timeline page 5-50 ms.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import pyarrow as pa
from sqlalchemy import ColumnElement, Table, delete, func, insert, literal, or_, select, union_all
from sqlalchemy.orm import Session

from evidence_store.access import Actor, Permission, authorize, record_view
from evidence_store.analysis import newest_results, result_batches
from evidence_store.cases import get_case
from evidence_store.catalog import AnalysisResult, DeviceFileIndex, DeviceFileIndexBuild, Exhibit
from evidence_store.errors import BadReferenceError, NotFoundError
from evidence_store.ledger import format_time
from evidence_store.system import EvidenceSystem

TIME_KINDS = ("mtime", "atime", "ctime", "crtime")
MAX_PAGE = 10_000
_SQLITE_BUILD_CACHE_KIB = 64 << 10
_DELETE_CHUNK = 20_000
_INSERT_ROWS = 10_000
_DIGEST_COLUMNS = {32: "md5", 40: "sha1", 64: "sha256"}
_HEX = re.compile(r"[0-9a-fA-F]+")
# Copied from each device_files row as they are; `parent` and `name_lower` are derived.
_COPIED = (
    "volume",
    "path",
    "name",
    "file_type",
    "size",
    "deleted",
    "known",
    "alert",
    "md5",
    "sha1",
    "sha256",
    "magic_kind",
    "mtime",
    "atime",
    "ctime",
    "crtime",
    "times_are_local",
    "child_exhibit_id",
    "child_exhibit_ref",
)
# What a row of an answer holds (with `exhibit_ref`).
_SHOWN = ("exhibit_id", "parent", *_COPIED, "result_sha256", "row")


@dataclass(frozen=True, slots=True)
class FileListingPage:
    """One page of a directory's entries.

    Attributes:
        rows: The entries, by name (case-insensitive), as dicts (`exhibit_ref`, `path`, `name`, `deleted`, ...).
        total: How many entries of the directory pass the filters, over all pages.
        parent: The directory listed, normalised ("/" for the root).
        offset: Where this page starts among the `total`.
    """

    rows: list[dict[str, Any]]
    total: int
    parent: str
    offset: int


def parent_of(path: str, name: str) -> str:
    """The directory an entry is in: "/DCIM" for "/DCIM/IMG_1.JPG", "/" for an entry of the root.

    The name is taken off the end rather than the path split at its last "/", so a name holding a "/" (or an
    NTFS stream's "file:stream") still lands in the directory that lists it.
    """
    if name and path.endswith("/" + name):
        head = path[: -len(name) - 1]
    else:
        head = path.rsplit("/", 1)[0] if "/" in path else ""
    return head or "/"


def index_device_files(system: EvidenceSystem, exhibit_id: int) -> int:
    """(Re)builds the index rows of an exhibit from its newest `device_files` table.

    The table is read batch by batch and each batch inserted as it comes, so memory holds one batch, never the
    listing. A reader sees the old listing or the new one, never a mixture: the new build becomes current
    only once all of it is in. No ledger event and no authorisation: the listing being copied was authorised
    and recorded when it was made.

    Args:
        system: The deployment.
        exhibit_id: The exhibit whose listing to index.

    Returns:
        The number of rows indexed (0 for an exhibit with no listing, whose earlier rows are then removed).

    Raises:
        NotFoundError: there is no such exhibit.
    """
    with system.catalog.reading() as session:
        exhibit = session.get(Exhibit, exhibit_id)
        if exhibit is None:
            raise NotFoundError(f"no exhibit {exhibit_id}", exhibit=exhibit_id)
        case_id = exhibit.case_id
        query = select(AnalysisResult).where(
            AnalysisResult.exhibit_id == exhibit_id, AnalysisResult.table_name == "device_files"
        )
        results = newest_results(session, query)
    build = time.time_ns()  # unique across builds, so readers can name the current ones by number alone
    indexed = 0
    for result_sha256 in results:
        position = 0
        for whole in result_batches(system, [result_sha256]):
            # Rows as Python dicts cost ~2 KB each: slices keep a build's memory small whatever the batch.
            for start in range(0, whole.num_rows, _INSERT_ROWS):
                batch = whole.slice(start, _INSERT_ROWS)
                rows = _index_rows(batch, case_id, exhibit_id, result_sha256, position, build)
                with system.catalog.transaction() as session, _large_sqlite_cache(session):
                    # The Core table, not the ORM entity: ORM bulk inserts leave out None values and so split
                    # a batch into a statement per run of rows with the same None columns (10x slower).
                    session.execute(insert(cast(Table, DeviceFileIndex.__table__)), rows)
                position += batch.num_rows
        indexed += position
    with system.catalog.transaction() as session:
        current = session.get(DeviceFileIndexBuild, exhibit_id)
        if current is None:
            current = DeviceFileIndexBuild(exhibit_id=exhibit_id, case_id=case_id)
            session.add(current)
        current.build, current.rows = build, indexed
        current.result_sha256 = results[-1] if results else ""
        current.built_at = format_time(datetime.now(UTC))
    _remove_other_builds(system, exhibit_id, build)
    return indexed


def _remove_other_builds(system: EvidenceSystem, exhibit_id: int, build: int) -> None:
    """Deletes the exhibit's rows of any build but `build`, a chunk per transaction (no long write lock)."""
    while True:
        with system.catalog.transaction() as session:
            stale = list(
                session.execute(
                    select(DeviceFileIndex.id)
                    .where(DeviceFileIndex.exhibit_id == exhibit_id, DeviceFileIndex.build != build)
                    .limit(_DELETE_CHUNK)
                ).scalars()
            )
            if not stale:
                return
            session.execute(
                delete(DeviceFileIndex).where(DeviceFileIndex.id.in_(stale)),
                execution_options={"synchronize_session": False},
            )


def _current_builds(session: Session, *, case_id: int | None = None, exhibit_id: int | None = None) -> list[int]:
    """The builds readers see, of one case's device exhibits or of one exhibit."""
    query = select(DeviceFileIndexBuild.build)
    if case_id is not None:
        query = query.where(DeviceFileIndexBuild.case_id == case_id)
    if exhibit_id is not None:
        query = query.where(DeviceFileIndexBuild.exhibit_id == exhibit_id)
    return [int(b) for b in session.execute(query).scalars()]


@contextmanager
def _large_sqlite_cache(session: Session) -> Iterator[None]:
    """SQLite's page cache raised for the build: six indexes, three of them on random digests, are updated
    row by row, and with the default 2 MiB cache every insert reads index pages back from disk (measured on
    a million rows: twice as slow). 64 MiB keeps most of that gain within the memory budget (a 300,000-row
    build peaked at 387 MB RSS, imports included; 256 MiB: 406 MB, no faster under load). Put back afterwards,
    as the connection returns to a shared pool."""
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    connection = session.connection()
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size=-{_SQLITE_BUILD_CACHE_KIB}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size={int(before or -2000)}")


def _index_rows(
    batch: pa.RecordBatch, case_id: int, exhibit_id: int, result_sha256: str, first_row: int, build: int
) -> list[dict[str, Any]]:
    columns: dict[str, list[Any]] = {name: batch.column(name).to_pylist() for name in _COPIED}
    rows: list[dict[str, Any]] = []
    for i in range(batch.num_rows):
        row: dict[str, Any] = {name: values[i] for name, values in columns.items()}
        row["case_id"] = case_id
        row["exhibit_id"] = exhibit_id
        row["build"] = build
        row["result_sha256"] = result_sha256
        row["row"] = first_row + i
        row["parent"] = parent_of(row["path"], row["name"])
        row["name_lower"] = row["name"].lower()
        rows.append(row)
    return rows


def directory_listing(
    system: EvidenceSystem,
    actor: Actor,
    exhibit_id: int,
    parent: str,
    *,
    volume: int | None = None,
    deleted_only: bool = False,
    hide_known: bool = False,
    alerts_only: bool = False,
    offset: int = 0,
    limit: int = 200,
) -> FileListingPage:
    """One page of the entries of directory `parent` of a device exhibit, by name, recorded as a view.

    Args:
        system: The deployment.
        actor: Who is looking.
        exhibit_id: The device exhibit.
        parent: The directory's path ("/" or "" for the root; a trailing "/" is ignored).
        volume: Only this file system of the image (`volume` of the rows); all of them when None (each
            file system has its own "/").
        deleted_only: Only deleted entries.
        hide_known: Leave out files an imported hash set knows as benign; files that raise an alert stay.
        alerts_only: Only files in a known-bad hash set.
        offset: How many entries to skip (paging).
        limit: The most entries to return (1 to `MAX_PAGE`).

    Returns:
        The page, with the total number of entries that pass the filters.

    Raises:
        NotFoundError: there is no such exhibit.
        AccessDeniedError: the actor may not view the exhibit's case (recorded as ACCESS_DENIED).
        BadReferenceError: a negative offset or a limit out of range.
    """
    _check_page(offset, limit)
    directory = normal_directory(parent)
    with system.catalog.reading() as session:
        exhibit = _exhibit(session, exhibit_id)
        authorize(system, session, actor, Permission.VIEW, exhibit.case, exhibit_id=exhibit_id)
        case_ref, exhibit_ref = exhibit.case.reference, exhibit.reference
        conditions = [
            DeviceFileIndex.exhibit_id == exhibit_id,
            DeviceFileIndex.build.in_(_current_builds(session, exhibit_id=exhibit_id)),
            DeviceFileIndex.parent == directory,
        ]
        if volume is not None:
            conditions.append(DeviceFileIndex.volume == volume)
        if deleted_only:
            conditions.append(DeviceFileIndex.deleted.is_(True))
        if hide_known:
            conditions.append(or_(DeviceFileIndex.known.is_not(True), DeviceFileIndex.alert.is_(True)))
        if alerts_only:
            conditions.append(DeviceFileIndex.alert.is_(True))
        total = session.execute(select(func.count()).select_from(DeviceFileIndex).where(*conditions)).scalar_one()
        found = session.execute(
            select(DeviceFileIndex)
            .where(*conditions)
            .order_by(DeviceFileIndex.name_lower, DeviceFileIndex.id)
            .offset(offset)
            .limit(limit)
        ).scalars()
        rows = [_shown(r, exhibit_ref) for r in found]
    record_view(system, actor, f"device file listing {directory}", case_ref, exhibit_id)
    return FileListingPage(rows=rows, total=int(total), parent=directory, offset=offset)


def subdirectories(
    system: EvidenceSystem, actor: Actor, exhibit_id: int, parent: str, *, volume: int | None = None
) -> list[str]:
    """The paths of the directories in directory `parent` of a device exhibit, by name (for a folder tree).

    Authorised like `directory_listing` but not recorded as a view of its own: it shows a subset of what the
    listing of the same directory shows (its directory rows), and that listing is recorded. A screen that
    shows this tree shows the listing beside it.

    Args:
        system: The deployment.
        actor: Who is looking.
        exhibit_id: The device exhibit.
        parent: The directory's path ("/" for the root).
        volume: Only this file system of the image; all of them when None.

    Returns:
        The subdirectories' full paths (deleted ones included), each once.

    Raises:
        NotFoundError: there is no such exhibit.
        AccessDeniedError: the actor may not view the exhibit's case (recorded as ACCESS_DENIED).
    """
    directory = normal_directory(parent)
    with system.catalog.reading() as session:
        exhibit = _exhibit(session, exhibit_id)
        authorize(system, session, actor, Permission.VIEW, exhibit.case, exhibit_id=exhibit_id)
        query = (
            select(DeviceFileIndex.name_lower, DeviceFileIndex.path)
            .where(
                DeviceFileIndex.exhibit_id == exhibit_id,
                DeviceFileIndex.build.in_(_current_builds(session, exhibit_id=exhibit_id)),
                DeviceFileIndex.parent == directory,
                DeviceFileIndex.file_type == "directory",
            )
            .distinct()
            .order_by(DeviceFileIndex.name_lower, DeviceFileIndex.path)
        )
        if volume is not None:
            query = query.where(DeviceFileIndex.volume == volume)
        paths = [path for _name, path in session.execute(query)]
    return list(dict.fromkeys(paths))


def search_device_files(
    system: EvidenceSystem, actor: Actor, case_ref: str, text: str, limit: int = 100
) -> list[dict[str, Any]]:
    """The files of a case's device exhibits whose digest is `text`, or whose name contains it.

    A hex string of 32, 40 or 64 digits is an MD5, SHA-1 or SHA-256 and is matched exactly (so a file named
    by its own digest, as caches do, is found by that digest, not by its name); anything else is a
    case-insensitive substring of the name, with "%" and "_" taken literally.

    Args:
        system: The deployment.
        actor: Who is searching.
        case_ref: The case.
        text: A digest, or part of a file name.
        limit: The most rows to return (1 to `MAX_PAGE`): digest matches in listing order, names by name.

    Returns:
        The matching rows, each with `match` ("md5", "sha1", "sha256" or "name") and `exhibit_ref`.

    Raises:
        NotFoundError: there is no such case.
        AccessDeniedError: the actor may not view the case (recorded as ACCESS_DENIED).
        BadReferenceError: `text` is empty, or `limit` is out of range.
    """
    _check_page(0, limit)
    wanted = text.strip()
    if not wanted:
        raise BadReferenceError("give part of a file name, or an MD5, SHA-1 or SHA-256 digest, to search for")
    match = _DIGEST_COLUMNS.get(len(wanted)) if _HEX.fullmatch(wanted) else None
    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        authorize(system, session, actor, Permission.VIEW, case)
        # The ids first, then their rows: a name search then reads only the (case_id, name_lower) index, not
        # a table row per name it rejects (PostgreSQL: an index-only scan, 0.2 s instead of 1.7 s a million).
        query = select(DeviceFileIndex.id).where(
            DeviceFileIndex.case_id == case.id, DeviceFileIndex.build.in_(_current_builds(session, case_id=case.id))
        )
        if match is not None:
            column = getattr(DeviceFileIndex, match)
            query = query.where(column == wanted.lower()).order_by(DeviceFileIndex.id)
        else:
            pattern = "%" + escape_like(wanted.lower()) + "%"
            query = query.where(DeviceFileIndex.name_lower.like(pattern, escape="\\")).order_by(
                DeviceFileIndex.name_lower, DeviceFileIndex.id
            )
        ids = list(session.execute(query.limit(limit)).scalars())
        found = _rows_by_id(session, ids)
        refs = _exhibit_refs(session, {r.exhibit_id for r in found.values()})
        rows = [{**_shown(found[i], refs[found[i].exhibit_id]), "match": match or "name"} for i in ids]
    what = f"device file search by {match or 'name'}: {wanted!r} ({len(rows)} found)"
    record_view(system, actor, what, case_ref, reason=None)
    return rows


def file_times(
    system: EvidenceSystem,
    actor: Actor,
    case_ref: str,
    start_utc: str | None,
    end_utc: str | None,
    offset: int = 0,
    limit: int = 200,
    *,
    kinds: Sequence[str] = TIME_KINDS,
) -> list[dict[str, Any]]:
    """The file-system times of a case's device files within a window, one row per (file, kind of time).

    The window is `start_utc` <= time < `end_utc`, either end open when None. Times are compared as the
    strings of the listing: a UTC time ("...Z") by its UTC clock, a local one (`times_are_local`: FAT keeps no
    zone) by the wall clock the disk held, which may be hours from UTC. Within one second, a time with a
    fraction may sort before the whole second.

    Args:
        system: The deployment.
        actor: Who is looking.
        case_ref: The case.
        start_utc: The window's start, ISO 8601 ("2024-03-01T00:00:00Z"; no zone is taken as UTC; an offset
            is converted), or None.
        end_utc: The window's end (excluded), likewise, or None.
        offset: How many rows to skip (paging).
        limit: The most rows to return (1 to `MAX_PAGE`).
        kinds: Which times: any of "mtime", "atime", "ctime", "crtime".

    Returns:
        Rows ordered by time, each a file's row with `time_kind`, `time` and `times_are_local`.

    Raises:
        NotFoundError: there is no such case.
        AccessDeniedError: the actor may not view the case (recorded as ACCESS_DENIED).
        BadReferenceError: a bound that is not an ISO 8601 time, an unknown kind, or a page out of range.
    """
    _check_page(offset, limit)
    unknown = sorted(set(kinds) - set(TIME_KINDS))
    if unknown or not kinds:
        raise BadReferenceError(f"time kinds {unknown or kinds}: choose from {', '.join(TIME_KINDS)}")
    start, end = _bound(start_utc), _bound(end_utc)
    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        authorize(system, session, actor, Permission.VIEW, case)
        builds = _current_builds(session, case_id=case.id)
        arms = []
        for kind in dict.fromkeys(kinds):
            column = getattr(DeviceFileIndex, kind)
            conditions: list[ColumnElement[bool]] = [
                DeviceFileIndex.case_id == case.id,
                DeviceFileIndex.build.in_(builds),
                column.is_not(None),
            ]
            if start is not None:
                conditions.append(column >= start)
            if end is not None:
                conditions.append(column < end)
            # Each kind's page in its own order and limit, merged after: each reads its (case_id, time) index
            # from the window's start and stops, where a sort over the union would read every time in it
            # (PostgreSQL: 10 ms instead of 3.6 s a page of a million-row case).
            arm = (
                select(DeviceFileIndex.id.label("id"), literal(kind).label("kind"), column.label("time"))
                .where(*conditions)
                .order_by(column, DeviceFileIndex.id)
                .limit(offset + limit)
                .subquery()
            )
            arms.append(select(arm.c.id, arm.c.kind, arm.c.time))
        window = union_all(*arms).subquery()
        page = session.execute(
            select(window.c.id, window.c.kind, window.c.time)
            .order_by(window.c.time, window.c.id, window.c.kind)
            .offset(offset)
            .limit(limit)
        ).all()
        by_id = _rows_by_id(session, [p.id for p in page])
        refs = _exhibit_refs(session, {r.exhibit_id for r in by_id.values()})
        rows = [
            {**_shown(by_id[p.id], refs[by_id[p.id].exhibit_id]), "time_kind": p.kind, "time": p.time} for p in page
        ]
    record_view(system, actor, f"device file times {start_utc or '...'} to {end_utc or '...'}", case_ref)
    return rows


def normal_directory(parent: str) -> str:
    """A directory path as the index holds it: "/" for the root, no trailing "/", always a leading one."""
    stripped = parent.strip().rstrip("/")
    if not stripped:
        return "/"
    return stripped if stripped.startswith("/") else "/" + stripped


def escape_like(text: str) -> str:
    """`text` for a LIKE pattern with escape character "\\": its "%", "_" and "\\" match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _bound(value: str | None) -> str | None:
    """A window bound as a string to compare times with: the UTC wall clock, without the "Z".

    Without the "Z" the bound is a prefix of the times at that instant, so "...T10:00:00Z" and a local
    "...T10:00:00" are both >= a start of 10:00 and both excluded by an end of 10:00, and "...T09:59:59.5Z"
    sorts before it.
    """
    if value is None or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadReferenceError(f"time {value!r} is not ISO 8601 (e.g. 2024-03-01T09:30:00Z)") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    fraction = f".{moment.microsecond:06d}".rstrip("0") if moment.microsecond else ""
    return f"{moment:%Y-%m-%dT%H:%M:%S}{fraction}"


def _check_page(offset: int, limit: int) -> None:
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise BadReferenceError(f"page offset {offset}, limit {limit}: the offset >= 0, the limit 1 to {MAX_PAGE}")


def _exhibit(session: Session, exhibit_id: int) -> Exhibit:
    exhibit = session.get(Exhibit, exhibit_id)
    if exhibit is None:
        raise NotFoundError(f"no exhibit {exhibit_id}", exhibit=exhibit_id)
    return exhibit


def _rows_by_id(session: Session, ids: Sequence[int]) -> dict[int, DeviceFileIndex]:
    if not ids:
        return {}
    found = session.execute(select(DeviceFileIndex).where(DeviceFileIndex.id.in_(set(ids)))).scalars()
    return {r.id: r for r in found}


def _exhibit_refs(session: Session, exhibit_ids: Iterable[int]) -> dict[int, str]:
    # Looked up apart from the search: joined into it, the planner may walk exhibits first and lose the order
    # the index gives for free.
    wanted = set(exhibit_ids)
    if not wanted:
        return {}
    return {i: ref for i, ref in session.execute(select(Exhibit.id, Exhibit.reference).where(Exhibit.id.in_(wanted)))}


def _shown(row: DeviceFileIndex, exhibit_ref: str) -> dict[str, Any]:
    shown = {name: getattr(row, name) for name in _SHOWN}
    shown["exhibit_ref"] = exhibit_ref
    return shown
