"""Working copies of originals for tools that need a file (ffprobe, ffmpeg, TSK): decrypted, verified, removed.

The copy lives in a private folder (mode 0700) under EXHIBIT_HOME/work, is hashed as it is written and must
match the original's SHA-256 before any tool sees it, and is deleted when the block ends, whatever happens.
Only the stored, encrypted original is evidence; the copy is a means of reading it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from evidence_store.access import Actor
from evidence_store.cases import get_exhibit
from evidence_store.catalog import Exhibit, ExhibitSegment
from evidence_store.errors import HashMismatchError, NotFoundError
from evidence_store.ledger import format_time
from evidence_store.system import EvidenceSystem
from schemas.records import CustodyAction


@contextlib.contextmanager
def written_whole(out: Path) -> Iterator[Path]:
    """The path to write `out` at (`out.partial`, its folder made): it becomes `out` only when the block ends
    without an error and is removed when it does not, so nothing half-written is ever found under `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    try:
        yield partial
        partial.replace(out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def working_copy(system: EvidenceSystem, sha256: str, suffix: str = "") -> Iterator[Path]:
    """A verified plaintext copy of the stored object `sha256`, for the duration of the block.

    Raises:
        HashMismatchError: the decrypted bytes do not hash to `sha256` (the copy is removed first).
        ObjectMissingError, StoreUnavailableError: as for any read of the store.
    """
    root = system.settings.home / "work"
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="copy-", dir=root))
    folder.chmod(0o700)
    target = folder / f"original{suffix}"
    try:
        digest = hashlib.sha256()
        with open(target, "wb") as out:
            for chunk in system.store.iter_plaintext(sha256):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256:
            raise HashMismatchError(
                f"object {sha256} decrypted to bytes with SHA-256 {digest.hexdigest()}", sha256=sha256
            )
        target.chmod(0o400)
        yield target
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def working_segments(system: EvidenceSystem, exhibit_id: int) -> Iterator[tuple[Path, ...]]:
    """Verified plaintext copies of every segment of an exhibit's original, under their own names in one private
    folder (image libraries find `.E02` beside `.E01` by name); one file for an exhibit that came as one.

    Raises:
        HashMismatchError, ObjectMissingError, StoreUnavailableError: as for `working_copy`.
    """
    with system.catalog.reading() as session:
        exhibit = session.get(Exhibit, exhibit_id)
        if exhibit is None:
            raise NotFoundError(f"no exhibit {exhibit_id}", exhibit=exhibit_id)
        parts = [
            (segment.name, segment.sha256)
            for segment in session.execute(
                select(ExhibitSegment).where(ExhibitSegment.exhibit_id == exhibit_id).order_by(ExhibitSegment.position)
            ).scalars()
        ] or [(exhibit.source_name, exhibit.original_sha256)]
    with contextlib.ExitStack() as stack:
        folder: Path | None = None
        paths = []
        for name, sha256 in parts:
            copy = stack.enter_context(working_copy(system, sha256, suffix_for(name)))
            folder = folder or Path(tempfile.mkdtemp(prefix="segments-", dir=copy.parent.parent))
            # A hard link under the segment's own name: no second copy of a large image.
            target = folder / _safe_name(name)
            os.link(copy, target)
            paths.append(target)
        try:
            yield tuple(paths)
        finally:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)


def _safe_name(name: str) -> str:
    base = os.path.basename(name.replace("\\", "/")) or "segment"
    return base if base not in (".", "..") else "segment"


def suffix_for(source_name: str) -> str:
    """Tools guess formats from names too: keep the original's extension on the working copy."""
    _stem, ext = os.path.splitext(source_name)
    return ext.lower() if 0 < len(ext) <= 8 and ext[1:].isalnum() else ""


def mark_exhibit(
    system: EvidenceSystem, actor: Actor, ident: str | int, status: str, code: str, message: str, step: str
) -> None:
    """Sets an exhibit's processing status (`damaged`, `quarantined`) with a ledger event saying why.

    `quarantined` means an analysis could not read the original at all: the stored bytes stay exactly as
    received (they are the evidence), and the event says which step gave up and with which code.
    """
    action = CustodyAction.QUARANTINED if status == "quarantined" else CustodyAction.ANALYSED
    with system.catalog.transaction() as session:
        system.ledger.lock(session)
        exhibit = get_exhibit(session, ident)
        exhibit.status = status
        system.ledger.append(
            session,
            action,
            actor=actor.name,
            role=actor.role,
            case_ref=exhibit.case.reference,
            exhibit_id=exhibit.id,
            object_sha256=exhibit.original_sha256,
            reason=message,
            details={"code": code, "status": status, "step": step, "at": format_time(datetime.now(UTC))},
        )
