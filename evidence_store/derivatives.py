"""Derivatives: objects made from an original (review proxies, thumbnails, redactions), with their provenance.

A derivative never replaces its original (ACPO principle 1). It is a stored object of its own, and its
catalog row and `DERIVED` ledger event record the input's SHA-256, the tool, its version and the exact
parameters, so anyone can remake it and compare.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from evidence_store.access import Actor, Permission, authorize
from evidence_store.catalog import Case, Derivative, Exhibit, ensure_object_row
from evidence_store.errors import NotFoundError
from evidence_store.ledger import format_time, plain
from evidence_store.system import EvidenceSystem
from schemas.records import CustodyAction


@dataclass(frozen=True, slots=True)
class Provenance:
    """How a derivative was made: enough to make it again."""

    source_sha256: str
    tool: str
    tool_version: str
    parameters: dict[str, Any]

    def __post_init__(self) -> None:
        if len(self.source_sha256) != 64:
            raise ValueError("a derivative's source is named by its SHA-256")
        if not self.tool or not self.tool_version:
            raise ValueError("a derivative names the tool and version that made it")
        # Recorded on the ledger as they are: numbers with fractions as text (canonical JSON has no floats).
        object.__setattr__(self, "parameters", plain(self.parameters))


@dataclass(frozen=True, slots=True)
class DerivativeFile:
    """One file a step made from an exhibit, to be stored as its derivative `role` (e.g. `keyframe`)."""

    role: str
    path: str | os.PathLike[str]
    provenance: Provenance
    media_type: str | None = None


def record_derivative(
    system: EvidenceSystem,
    actor: Actor,
    exhibit_id: int,
    role: str,
    path: str | os.PathLike[str],
    provenance: Provenance,
    *,
    run_id: str | None = None,
    media_type: str | None = None,
    permission: Permission = Permission.ANALYSE,
) -> Derivative:
    """Stores the file at `path` as the exhibit's derivative `role` (e.g. `review_proxy`) and records it.

    The same bytes made again (a re-run with the same inputs and versions) are the same object: a new row
    and event say it was made again, nothing is stored twice.
    """
    made = DerivativeFile(role, path, provenance, media_type)
    return record_derivatives(system, actor, exhibit_id, [made], run_id=run_id, permission=permission)[0]


def record_derivatives(
    system: EvidenceSystem,
    actor: Actor,
    exhibit_id: int,
    files: Sequence[DerivativeFile],
    *,
    run_id: str | None = None,
    permission: Permission = Permission.ANALYSE,
) -> list[Derivative]:
    """Stores several derivatives of one exhibit (a video's keyframes and contact sheets) and records them in
    one transaction: a row and a `DERIVED` event each, all or none."""
    with system.catalog.reading() as session:
        exhibit = session.get(Exhibit, exhibit_id)
        if exhibit is None:
            raise NotFoundError(f"no exhibit {exhibit_id}", exhibit=exhibit_id)
        authorize(system, session, actor, permission, exhibit.case, exhibit_id=exhibit_id)
    stored = [(made, system.store.put_file(made.path)) for made in files]
    now = format_time(datetime.now(UTC))
    rows = []
    with system.catalog.transaction() as session:
        system.ledger.lock(session)
        exhibit = session.get(Exhibit, exhibit_id)
        assert exhibit is not None
        case = session.get(Case, exhibit.case_id)
        assert case is not None
        for made, result in stored:
            provenance = made.provenance
            kind = made.media_type or mimetypes.guess_type(os.fspath(made.path))[0] or "application/octet-stream"
            ensure_object_row(session, result, kind, now)
            row = Derivative(
                exhibit_id=exhibit.id,
                role=made.role,
                source_sha256=provenance.source_sha256,
                sha256=result.digests.sha256,
                tool=provenance.tool,
                tool_version=provenance.tool_version,
                parameters=provenance.parameters,
                run_id=run_id,
                created_at=now,
            )
            session.add(row)
            rows.append(row)
            system.ledger.append(
                session,
                CustodyAction.DERIVED,
                actor=actor.name,
                role=actor.role,
                case_ref=case.reference,
                exhibit_id=exhibit.id,
                object_sha256=result.digests.sha256,
                details={
                    "role": made.role,
                    "source_sha256": provenance.source_sha256,
                    "tool": provenance.tool,
                    "tool_version": provenance.tool_version,
                    "parameters": provenance.parameters,
                    "size": result.digests.size,
                    "md5": result.digests.md5,
                    "run_id": run_id,
                    "made_again": not result.created,
                },
            )
        session.flush()
    return rows


def latest_derivative(system: EvidenceSystem, exhibit_id: int, role: str) -> Derivative | None:
    with system.catalog.reading() as session:
        row = session.execute(
            select(Derivative)
            .where(Derivative.exhibit_id == exhibit_id, Derivative.role == role)
            .order_by(Derivative.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if row is not None:
            session.expunge(row)
        return row
