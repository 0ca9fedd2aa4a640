"""Known-file hash sets: imported once for the deployment, matched against every device listing by digest.

A `known` set (NSRL, the force's own standard builds) lets an investigator hide the operating system's
thousands of files; a `known_bad` set (indecent-image categories, a case's contraband) raises an alert on every
file that matches. The set's own file is stored as an object and its import is on the ledger, so a listing's
"known" flag can always be traced to exactly which list said so.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from evidence_store.access import Actor, Permission, authorize
from evidence_store.catalog import HashSet, ensure_object_row, known_hashes
from evidence_store.errors import AlreadyExistsError, BadReferenceError
from evidence_store.ledger import format_time
from evidence_store.system import EvidenceSystem
from forensics.hashsets import HashSetFormat, HashSetReader, detect_hashset_format
from schemas.records import CustodyAction

HASHSET_KINDS = ("known", "known_bad")
_INSERT_ROWS = 10_000
_LOOKUP_DIGESTS = 900  # per query: under SQLite's default limit of bound parameters


@dataclass(frozen=True, slots=True)
class KnownMatch:
    """A digest found in an imported hash set."""

    hashset: str
    kind: str  # known or known_bad


def import_hashset(
    system: EvidenceSystem,
    actor: Actor,
    path: str | os.PathLike[str],
    *,
    name: str,
    kind: str,
    format: str | None = None,
) -> dict[str, Any]:
    """Imports the hash set file at `path` as `name` (`kind` known or known_bad); returns what was imported.

    Raises:
        AccessDeniedError: the actor may not manage hash sets (recorded).
        BadReferenceError: an unknown kind or format.
        AlreadyExistsError: a hash set of that name exists.
        HashSetMissingError, HashSetFormatError: the file is missing or in no format recognised.
    """
    if kind not in HASHSET_KINDS:
        raise BadReferenceError(f"hash set kind {kind!r} is not one of {', '.join(HASHSET_KINDS)}")
    source = Path(path)
    try:
        chosen = HashSetFormat(format) if format else detect_hashset_format(source)
    except ValueError as exc:
        known_formats = ", ".join(f.value for f in HashSetFormat)
        raise BadReferenceError(f"hash set format {format!r} is not one of {known_formats}") from exc
    with system.catalog.reading() as session:
        authorize(system, session, actor, Permission.MANAGE_HASHSETS)
        if session.execute(select(HashSet.id).where(HashSet.name == name)).first():
            raise AlreadyExistsError(f"a hash set called {name!r} exists already", name=name)
    stored = system.store.put_file(source)
    reader = HashSetReader(source, chosen)
    now = format_time(datetime.now(UTC))
    with system.catalog.transaction() as session:
        ensure_object_row(session, stored, "text/plain", now)
        row = HashSet(
            name=name,
            kind=kind,
            format=chosen.value,
            source_sha256=stored.digests.sha256,
            source_name=source.name,
            entries=0,
            bad_lines=0,
            imported_at=now,
            imported_by=actor.name,
        )
        session.add(row)
        session.flush()
        batch: list[dict[str, Any]] = []
        for known in reader:
            batch.append(
                {
                    "hashset_id": row.id,
                    "algorithm": known.algorithm,
                    "digest": known.digest,
                    "name": (known.name or "")[:500] or None,
                }
            )
            if len(batch) == _INSERT_ROWS:
                session.execute(insert(known_hashes), batch)
                batch = []
        if batch:
            session.execute(insert(known_hashes), batch)
        row.entries, row.bad_lines = reader.hashes, reader.bad_lines
        # The ledger lock last and briefly: a large list takes minutes to insert, appends should not wait.
        system.ledger.lock(session)
        details = {
            "name": name,
            "kind": kind,
            "format": chosen.value,
            "source_name": source.name,
            "entries": reader.hashes,
            "lines": reader.lines,
            "bad_lines": reader.bad_lines,
        }
        system.ledger.append(
            session,
            CustodyAction.HASHSET_IMPORTED,
            actor=actor.name,
            role=actor.role,
            object_sha256=stored.digests.sha256,
            details=details,
        )
    return {
        **details,
        "source_sha256": stored.digests.sha256,
        "warnings": [{"line": w.line, "code": w.code, "message": w.message} for w in reader.warnings],
    }


def list_hashsets(system: EvidenceSystem) -> list[dict[str, Any]]:
    with system.catalog.reading() as session:
        return [
            {
                "name": h.name,
                "kind": h.kind,
                "format": h.format,
                "entries": h.entries,
                "bad_lines": h.bad_lines,
                "source_name": h.source_name,
                "source_sha256": h.source_sha256,
                "imported_at": h.imported_at,
                "imported_by": h.imported_by,
            }
            for h in session.execute(select(HashSet).order_by(HashSet.id)).scalars()
        ]


def any_hashsets(system: EvidenceSystem) -> bool:
    with system.catalog.reading() as session:
        return bool(session.execute(select(func.count()).select_from(HashSet)).scalar_one())


def known_matches(system: EvidenceSystem, digests: Iterable[str]) -> dict[str, list[KnownMatch]]:
    """Which of `digests` (MD5, SHA-1 or SHA-256 hex) imported hash sets know, and in which sets."""
    wanted = sorted({d.lower() for d in digests if d})
    found: dict[str, list[KnownMatch]] = {}
    with system.catalog.reading() as session:
        for chunk in _chunks(wanted, _LOOKUP_DIGESTS):
            query = (
                select(known_hashes.c.digest, HashSet.name, HashSet.kind)
                .join(HashSet, HashSet.id == known_hashes.c.hashset_id)
                .where(known_hashes.c.digest.in_(chunk))
                .distinct()
            )
            for digest, set_name, set_kind in session.execute(query):
                found.setdefault(digest, []).append(KnownMatch(set_name, set_kind))
    return found


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
