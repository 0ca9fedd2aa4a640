"""Intake: files become exhibits — hashed, encrypted, stored, catalogued, and recorded on the ledger.

Bad input never half-stores anything. Whole-command problems (a missing path, a folder with no files, a bad
exhibit reference) refuse the command before any byte is read. Per-file problems (a FIFO inside a folder, an
unreadable file, a file that changes while it is read) refuse that file with a coded error and an
`INGEST_REFUSED` ledger event, and the other files go on.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_store import __version__
from evidence_store.access import Actor, Permission, authorize
from evidence_store.cases import (
    check_exhibit_reference,
    check_exhibit_uid,
    exhibit_by_uid,
    get_case,
    new_exhibit_uid,
    next_exhibit_reference,
    producer_initials,
)
from evidence_store.catalog import Case, Exhibit, ExhibitAlias, ExhibitSegment, ensure_object_row
from evidence_store.errors import (
    AlreadyExistsError,
    BadReferenceError,
    IngestFailedError,
    NoFilesError,
    PathMissingError,
)
from evidence_store.ledger import format_time
from evidence_store.objects import PutResult
from evidence_store.system import EvidenceSystem
from forensics.media_type import MediaType, sniff
from schemas.errors import ExhibitError, InputError, StorageError
from schemas.records import CustodyAction, ExhibitKind


@dataclass(frozen=True, slots=True)
class IngestRequest:
    case_ref: str
    by: str  # the officer who produced or seized it: the initials of generated exhibit references
    kind: str = "auto"
    exhibit_ref: str | None = None
    description: str | None = None
    producer: str | None = None
    seized_from: str | None = None
    seized_at: str | None = None
    # Set by an intake that names the exhibit before reading it (a pipeline partition); one file only. The
    # same uid again is a retry: it returns the exhibit already made, with no second read and no second receipt.
    exhibit_uid: str | None = None


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What happened to one source file."""

    path: str
    exhibit_id: int | None = None
    exhibit_uid: str | None = None
    exhibit_ref: str | None = None
    kind: str | None = None
    media_type: str | None = None
    size: int | None = None
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    new_object: bool = False
    duplicate_of: int | None = None  # same bytes already an exhibit of this case: a new receipt, no new exhibit
    repeated: bool = False  # a retry of an intake that had already finished under the same uid: nothing done
    # The failure was the store or the catalog not answering (a StorageError): the file is fine, try again later.
    transient: bool = False
    warnings: tuple[dict[str, str], ...] = ()
    error: dict[str, Any] | None = None
    segments: tuple[str, ...] = ()  # the files of a split image, in order, when it came as several

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "exhibit_id": self.exhibit_id,
            "exhibit_uid": self.exhibit_uid,
            "exhibit_ref": self.exhibit_ref,
            "kind": self.kind,
            "media_type": self.media_type,
            "size": self.size,
            "md5": self.md5,
            "sha1": self.sha1,
            "sha256": self.sha256,
            "new_object": self.new_object,
            "duplicate_of": self.duplicate_of,
            "repeated": self.repeated,
            "warnings": list(self.warnings),
            "error": self.error,
            "segments": list(self.segments),
        }


@dataclass
class IngestProgress:
    """Callbacks for a progress display; all optional."""

    planned: Callable[[int, int], None] = lambda files, total_bytes: None
    file_started: Callable[[Path, int], None] = lambda path, size: None
    advanced: Callable[[int], None] = lambda nbytes: None
    file_done: Callable[[IngestOutcome], None] = lambda outcome: None


@dataclass(frozen=True, slots=True)
class _Source:
    path: Path
    size: int


def collect_sources(paths: Iterable[str | os.PathLike[str]]) -> list[_Source]:
    """Expands files and folders (recursively, sorted) into the files to ingest.

    Symbolic links to files are followed (the target is the evidence); links to folders are not, so a link
    loop cannot trap the walk. Special files are kept here and refused one by one when they are read.

    Raises:
        PathMissingError: a path does not exist.
        NoFilesError: a folder holds no files at all, or no paths were given.
    """
    sources: list[_Source] = []
    given = list(paths)
    if not given:
        raise NoFilesError("no paths to ingest were given")
    for raw in given:
        path = Path(raw)
        try:
            st = path.stat()
        except FileNotFoundError as exc:
            raise PathMissingError(f"{path} does not exist", path=str(path)) from exc
        except OSError as exc:
            raise PathMissingError(f"{path} cannot be examined: {exc.strerror}", path=str(path)) from exc
        if not stat.S_ISDIR(st.st_mode):
            sources.append(_Source(path, st.st_size))
            continue
        found = 0
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames.sort()
            for name in sorted(filenames):
                child = Path(dirpath, name)
                try:
                    size = child.stat().st_size
                except OSError:
                    size = 0  # a dangling link or unreadable entry: refused with a coded error when read
                sources.append(_Source(child, size))
                found += 1
        if not found:
            raise NoFilesError(f"folder {path} holds no files to ingest", path=str(path))
    return sources


def display_path(path: str | os.PathLike[str]) -> str:
    """A path as text that any database and JSON accept: bytes that are not UTF-8 (a name from a seized FAT
    card, say) are shown as \\xNN escapes instead of crashing the catalog or the ledger's canonical JSON."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _path_details(path: Path) -> dict[str, str]:
    """Where a file came from, for the ledger: exact bytes in hex whenever the display form had to escape."""
    absolute = path.absolute()
    details = {"source_path": display_path(absolute), "source_name": display_path(path.name)}
    if details["source_path"] != os.fsdecode(absolute):
        details["source_path_hex"] = os.fsencode(absolute).hex()
    with contextlib.suppress(OSError):
        # The file system's time is the weakest of an exhibit's times (a copy resets it), but sometimes the only one.
        modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        details["source_modified_utc"] = modified.strftime("%Y-%m-%dT%H:%M:%SZ")
    return details


def _kind_for(request_kind: str, media: MediaType) -> str:
    if request_kind == "auto":
        return media.kind.value
    try:
        return ExhibitKind(request_kind).value
    except ValueError as exc:
        choices = ", ".join(["auto", *(k.value for k in ExhibitKind)])
        raise BadReferenceError(f"kind {request_kind!r} is not one of {choices}") from exc


def ingest(
    system: EvidenceSystem,
    actor: Actor,
    paths: Iterable[str | os.PathLike[str]],
    request: IngestRequest,
    progress: IngestProgress | None = None,
) -> list[IngestOutcome]:
    """Ingests files and folders into a case as `actor`; returns one outcome per file (failed ones carry `error`).

    Raises:
        AccessDeniedError: the actor may not ingest into this case (recorded).
        InputError: the whole command is refused (missing path, empty folder, unknown case, bad reference).
    """
    progress = progress or IngestProgress()
    if request.kind != "auto":
        _kind_for(request.kind, sniff(b""))
    explicit_ref = check_exhibit_reference(request.exhibit_ref) if request.exhibit_ref else None
    with system.catalog.reading() as session:
        case = get_case(session, request.case_ref)
        authorize(system, session, actor, Permission.INGEST, case)
        # Checked again under the lock when catalogued; checked here so a taken reference fails before a
        # 100 GB read rather than after it.
        if (
            explicit_ref
            and session.execute(
                select(Exhibit.id).where(Exhibit.case_id == case.id, Exhibit.reference == explicit_ref)
            ).first()
        ):
            raise AlreadyExistsError(
                f"case {case.reference} already has exhibit {explicit_ref}", exhibit_ref=explicit_ref
            )
        if request.exhibit_uid:
            done = exhibit_by_uid(session, check_exhibit_uid(request.exhibit_uid))
            if done is not None:
                return [_repeated_outcome(done, paths)]
    try:
        groups = _image_sets(collect_sources(paths))
        if explicit_ref and len(groups) != 1:
            raise BadReferenceError(
                f"--exhibit-ref {explicit_ref} names one exhibit but {len(groups)} files were given",
                files=len(groups),
            )
        if request.exhibit_uid and len(groups) != 1:
            raise BadReferenceError(
                f"exhibit uid {request.exhibit_uid} names one exhibit but {len(groups)} files were given",
                files=len(groups),
            )
    except InputError as exc:
        _record_refusal(system, actor, request, [str(p) for p in paths], exc)
        raise
    progress.planned(len(groups), sum(s.size for group in groups for s in group))
    outcomes = []
    for first, *more in groups:
        progress.file_started(first.path, first.size + sum(s.size for s in more))
        outcome = _ingest_one(system, actor, first.path, request, explicit_ref, progress, [s.path for s in more])
        outcomes.append(outcome)
        progress.file_done(outcome)
    return outcomes


def image_sets(paths: Sequence[Path]) -> list[tuple[Path, ...]]:
    """The files as exhibits: the files of a split device image (`disk.E01` + `disk.E02`, `disk.001` +
    `disk.002`) together, in segment order, as one; every other file on its own."""
    if len(paths) < 2:
        return [(p,) for p in paths]
    # Imported here: the image libraries are not needed to ingest or watch for one photo.
    from forensics.device_image import segment_groups

    grouped = segment_groups(paths)
    if sum(len(group) for group in grouped) != len(paths):  # one path given twice: each is a receipt of its own
        return [(p,) for p in paths]
    return grouped


def _image_sets(sources: list[_Source]) -> list[list[_Source]]:
    by_path = {s.path: s for s in sources}
    return [[by_path[p] for p in group] for group in image_sets([s.path for s in sources])]


def _repeated_outcome(exhibit: Exhibit, paths: Iterable[str | os.PathLike[str]]) -> IngestOutcome:
    original = exhibit.original
    return IngestOutcome(
        path=display_path(next(iter(paths), exhibit.source_path)),
        exhibit_id=exhibit.id,
        exhibit_uid=exhibit.uid,
        exhibit_ref=exhibit.reference,
        kind=exhibit.kind,
        media_type=original.media_type,
        size=original.size,
        md5=original.md5,
        sha1=original.sha1,
        sha256=original.sha256,
        repeated=True,
        warnings=tuple(exhibit.warnings),
    )


def _record_refusal(
    system: EvidenceSystem, actor: Actor, request: IngestRequest, paths: list[str], exc: ExhibitError
) -> None:
    action = CustodyAction.INGEST_REFUSED if isinstance(exc, InputError) else CustodyAction.INGEST_FAILED
    system.record(
        action,
        actor=actor.name,
        role=actor.role,
        case_ref=request.case_ref,
        reason=exc.message,
        details={"code": exc.code, "paths": [display_path(os.path.abspath(p)) for p in paths]},
    )


def _ingest_one(
    system: EvidenceSystem,
    actor: Actor,
    path: Path,
    request: IngestRequest,
    explicit_ref: str | None,
    progress: IngestProgress,
    more: Sequence[Path] = (),
) -> IngestOutcome:
    try:
        result = system.store.put_file(path, progress=progress.advanced)
        segments = [(p, system.store.put_file(p, progress=progress.advanced)) for p in more]
        media = sniff(result.head)
        kind = _kind_for(request.kind, media)
        outcome = _catalogue(system, actor, path, request, explicit_ref, result, media, kind, segments)
        if outcome.warnings and outcome.duplicate_of is None and outcome.exhibit_id is not None:
            _record_warnings(system, actor, outcome)
        return outcome
    except ExhibitError as exc:
        _record_refusal(system, actor, request, [str(path), *map(str, more)], exc)
        return IngestOutcome(path=display_path(path), error=exc.to_dict(), transient=isinstance(exc, StorageError))
    except Exception as exc:
        # Anything unforeseen fails this file, on the record, and the other files go on.
        failure = IngestFailedError(f"ingest of {display_path(path)} failed: {type(exc).__name__}: {exc}")
        _record_refusal(system, actor, request, [str(path), *map(str, more)], failure)
        return IngestOutcome(path=display_path(path), error=failure.to_dict(), transient=True)


def _record_warnings(system: EvidenceSystem, actor: Actor, outcome: IngestOutcome) -> None:
    # Imported here: pyarrow is a quarter of a second of start-up that most ingests never need.
    from evidence_store.analysis import record_warnings

    assert outcome.exhibit_id is not None and outcome.exhibit_ref is not None
    record_warnings(
        system,
        actor,
        outcome.exhibit_id,
        outcome.exhibit_ref,
        "intake",
        [(w["code"], w["message"]) for w in outcome.warnings],
        tool="exhibit-intake",
        tool_version=__version__,
    )


def _warnings_for(result: PutResult) -> list[dict[str, str]]:
    warnings = []
    if result.digests.size == 0:
        warnings.append(
            {
                "code": "EX-INPUT-EMPTY",
                "message": "the file is empty (0 bytes): stored and recorded, but there is nothing to analyse",
            }
        )
    return warnings


def _catalogue(
    system: EvidenceSystem,
    actor: Actor,
    path: Path,
    request: IngestRequest,
    explicit_ref: str | None,
    result: PutResult,
    media: MediaType,
    kind: str,
    segments: Sequence[tuple[Path, PutResult]] = (),
) -> IngestOutcome:
    now = format_time(datetime.now(UTC))
    digests = result.digests
    warnings = _warnings_for(result)
    source_details: dict[str, Any] = {
        **_path_details(path),
        "size": digests.size,
        "md5": digests.md5,
        "sha1": digests.sha1,
        "sha256": digests.sha256,
        "media_type": media.mime,
    }
    parts = [(path, result), *segments]
    if segments:
        # The receipt signs for every segment: the image is all of them, in this order.
        source_details["segments"] = [{"name": display_path(p.name), **r.digests.to_dict()} for p, r in parts]
        source_details["image_size"] = sum(r.digests.size for _p, r in parts)
    with system.catalog.transaction() as session:
        system.ledger.lock(session)
        case = get_case(session, request.case_ref)
        ensure_object_row(session, result, media.mime, now)
        for _p, later in segments:
            ensure_object_row(session, later, sniff(later.head).mime, now)

        def receipt(exhibit_id: int, reason: str | None, **details: Any) -> None:
            system.ledger.append(
                session,
                CustodyAction.RECEIVED,
                actor=actor.name,
                role=actor.role,
                case_ref=case.reference,
                exhibit_id=exhibit_id,
                object_sha256=digests.sha256,
                reason=reason,
                details={**source_details, **details},
            )

        if request.exhibit_uid:
            done = exhibit_by_uid(session, request.exhibit_uid)
            if done is not None and done.original_sha256 == digests.sha256:
                return _repeated_outcome(done, [path])
            if done is not None:
                raise AlreadyExistsError(
                    f"exhibit uid {request.exhibit_uid} is already exhibit {done.reference} with other bytes",
                    uid=request.exhibit_uid,
                )
        existing = _existing_exhibit(session, case, digests.sha256)
        if existing is not None:
            again = "the same bytes were received again; recorded as a further receipt of this exhibit"
            if request.exhibit_uid:
                receipt(existing.id, again, duplicate_receipt=True, received_as_uid=request.exhibit_uid)
                session.add(ExhibitAlias(uid=request.exhibit_uid, exhibit_id=existing.id, created_at=now))
            else:
                receipt(existing.id, again, duplicate_receipt=True)
            return _outcome(path, existing, result, media, duplicate_of=existing.id, segments=segments)
        reference = explicit_ref or next_exhibit_reference(
            session, case, producer_initials(request.producer or request.by)
        )
        if session.execute(
            select(Exhibit.id).where(Exhibit.case_id == case.id, Exhibit.reference == reference)
        ).first():
            raise AlreadyExistsError(f"case {case.reference} already has exhibit {reference}", exhibit_ref=reference)
        exhibit = Exhibit(
            uid=request.exhibit_uid or new_exhibit_uid(),
            case_id=case.id,
            reference=reference,
            kind=kind,
            producer=request.producer or request.by,
            seized_from=request.seized_from,
            seized_at=request.seized_at,
            description=request.description,
            original_sha256=digests.sha256,
            source_name=source_details["source_name"],
            source_path=source_details["source_path"],
            status="stored",
            warnings=warnings,
            received_at=now,
        )
        session.add(exhibit)
        session.flush()
        if segments:
            for position, (p, r) in enumerate(parts):
                name = display_path(p.name)
                session.add(
                    ExhibitSegment(exhibit_id=exhibit.id, position=position, sha256=r.digests.sha256, name=name)
                )
        receipt(
            exhibit.id,
            None,
            exhibit_ref=reference,
            exhibit_uid=exhibit.uid,
            kind=kind,
            producer=exhibit.producer,
            warnings=[w["code"] for w in warnings],
        )
        for position, (_p, stored) in enumerate(parts):
            system.ledger.append(
                session,
                CustodyAction.STORED,
                actor=system.ledger.service_actor,
                role="service",
                case_ref=case.reference,
                exhibit_id=exhibit.id,
                object_sha256=stored.digests.sha256,
                details={
                    "store": system.store.backend.url,
                    "key": stored.key,
                    "new_object": stored.created,
                    "encryption": {"alg": stored.envelope.algorithm, "key_id": stored.envelope.key_id},
                    "size": stored.digests.size,
                    **({"segment": position} if segments else {}),
                },
            )
        return _outcome(path, exhibit, result, media, warnings=warnings, segments=segments)


def _existing_exhibit(session: Session, case: Case, sha256: str) -> Exhibit | None:
    return session.execute(
        select(Exhibit)
        .where(
            Exhibit.case_id == case.id,
            Exhibit.original_sha256 == sha256,
            Exhibit.parent_id.is_(None),
            Exhibit.status != "disposed",  # the same bytes again after a disposal are a new exhibit
        )
        .order_by(Exhibit.id)
        .limit(1)
    ).scalar_one_or_none()


def _outcome(
    path: Path,
    exhibit: Exhibit,
    result: PutResult,
    media: MediaType,
    duplicate_of: int | None = None,
    warnings: list[dict[str, str]] | None = None,
    segments: Sequence[tuple[Path, PutResult]] = (),
) -> IngestOutcome:
    d = result.digests
    return IngestOutcome(
        path=display_path(path),
        exhibit_id=exhibit.id,
        exhibit_uid=exhibit.uid,
        exhibit_ref=exhibit.reference,
        kind=exhibit.kind,
        media_type=media.mime,
        size=d.size,
        md5=d.md5,
        sha1=d.sha1,
        sha256=d.sha256,
        new_object=result.created,
        duplicate_of=duplicate_of,
        warnings=tuple(warnings if warnings is not None else exhibit.warnings),
        segments=tuple(display_path(p.name) for p in [path, *(q for q, _r in segments)]) if segments else (),
    )
