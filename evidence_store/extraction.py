"""Files found on a device image become exhibits of their own: children of the image, with their own objects.

A photo recovered from a seized phone is evidence in its own right (it goes through the photo analyses, can be
disclosed, and has its own custody), but where it came from is part of what it is: the parent image, the
volume, the path, the metadata address, the stream, and whether it was deleted are signed into its receipt,
and the parent's ledger gets a `DERIVED` event naming the child, so either side leads to the other.

The same bytes at two paths of one image are one child exhibit with a receipt for each place it was found.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import select

from evidence_store.access import Actor, Permission, authorize
from evidence_store.cases import new_exhibit_uid, next_exhibit_reference
from evidence_store.catalog import Exhibit, ensure_object_row
from evidence_store.errors import NotFoundError
from evidence_store.ledger import format_time
from evidence_store.system import EvidenceSystem
from forensics.media_type import sniff
from schemas.records import CustodyAction


@dataclass(frozen=True, slots=True)
class Extracted:
    exhibit_id: int
    exhibit_uid: str
    exhibit_ref: str
    sha256: str
    new: bool  # False: the same bytes were already a child of this image (a further receipt)


def record_extracted(
    system: EvidenceSystem,
    actor: Actor,
    parent_id: int,
    path: str | os.PathLike[str],
    origin: dict[str, Any],
    warnings: list[dict[str, str]] | None = None,
) -> Extracted:
    """Stores the extracted file at `path` as a child exhibit of `parent_id`; `origin` says where on the image it
    was (volume, path, inode, stream, deleted, recovery_unreliable), plain JSON values only.

    Raises:
        NotFoundError: no such parent exhibit.
        AccessDeniedError: the actor may not ingest into the parent's case (recorded).
    """
    with system.catalog.reading() as session:
        parent = session.get(Exhibit, parent_id)
        if parent is None:
            raise NotFoundError(f"no exhibit {parent_id}", exhibit=parent_id)
        authorize(system, session, actor, Permission.INGEST, parent.case, exhibit_id=parent_id)
    result = system.store.put_file(path)
    media = sniff(result.head)
    digests = result.digests
    now = format_time(datetime.now(UTC))
    name = PurePosixPath(str(origin.get("path") or "extracted")).name or "extracted"
    with system.catalog.transaction() as session:
        system.ledger.lock(session)
        parent = session.get(Exhibit, parent_id)
        assert parent is not None
        case = parent.case
        ensure_object_row(session, result, media.mime, now)
        found = {
            "extracted_from": {"exhibit_id": parent.id, "exhibit_ref": parent.reference, "exhibit_uid": parent.uid},
            **origin,
            **digests.to_dict(),
            "media_type": media.mime,
        }
        existing = session.execute(
            select(Exhibit)
            .where(
                Exhibit.parent_id == parent.id,
                Exhibit.original_sha256 == digests.sha256,
                Exhibit.status != "disposed",
            )
            .limit(1)
        ).scalar_one_or_none()
        if existing is not None:
            system.ledger.append(
                session,
                CustodyAction.RECEIVED,
                actor=actor.name,
                role=actor.role,
                case_ref=case.reference,
                exhibit_id=existing.id,
                object_sha256=digests.sha256,
                reason="the same bytes were found again elsewhere on the image",
                details=found,
            )
            return Extracted(existing.id, existing.uid, existing.reference, digests.sha256, new=False)
        child = Exhibit(
            uid=new_exhibit_uid(),
            case_id=case.id,
            reference=next_exhibit_reference(session, case, parent.reference),
            kind=media.kind.value,
            producer=parent.producer,
            seized_from=parent.seized_from,
            seized_at=parent.seized_at,
            description=f"found on {parent.reference} at {origin.get('path')}",
            parent_id=parent.id,
            original_sha256=digests.sha256,
            source_name=name,
            source_path=f"{parent.reference}:{origin.get('path')}",
            status="stored",
            warnings=list(warnings or []),
            received_at=now,
        )
        session.add(child)
        session.flush()
        system.ledger.append(
            session,
            CustodyAction.RECEIVED,
            actor=actor.name,
            role=actor.role,
            case_ref=case.reference,
            exhibit_id=child.id,
            object_sha256=digests.sha256,
            details={**found, "exhibit_ref": child.reference, "exhibit_uid": child.uid, "kind": child.kind},
        )
        system.ledger.append(
            session,
            CustodyAction.STORED,
            actor=system.ledger.service_actor,
            role="service",
            case_ref=case.reference,
            exhibit_id=child.id,
            object_sha256=digests.sha256,
            details={
                "store": system.store.backend.url,
                "key": result.key,
                "new_object": result.created,
                "size": digests.size,
            },
        )
        system.ledger.append(
            session,
            CustodyAction.DERIVED,
            actor=actor.name,
            role=actor.role,
            case_ref=case.reference,
            exhibit_id=parent.id,
            object_sha256=digests.sha256,
            details={
                "role": "extracted_file",
                "child_exhibit_id": child.id,
                "child_exhibit_ref": child.reference,
                "child_exhibit_uid": child.uid,
                **origin,
            },
        )
        return Extracted(child.id, child.uid, child.reference, digests.sha256, new=True)
