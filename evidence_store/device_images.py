"""Seized-device images on the ledger: whether the media still hashes to what its acquisition recorded.

An E01 carries the MD5 (and often SHA-1) its acquisition tool computed at the scene or the lab. Re-hashing the
media and comparing is the proof that this is the image that was acquired; the answer is a custody event either
way (`HASH_VERIFIED`, or `FIXITY_FAILED` naming the algorithm and both values), never an exception, so a
mismatch is a red flag on the record and the rest of the exhibit's processing still runs.
"""

from __future__ import annotations

from typing import Any

from evidence_store.access import Actor
from evidence_store.catalog import Exhibit
from evidence_store.errors import NotFoundError
from evidence_store.system import EvidenceSystem
from forensics.device_image import DeviceVerification
from schemas.records import CustodyAction


def record_device_verification(
    system: EvidenceSystem, actor: Actor, exhibit_id: int, verification: DeviceVerification
) -> CustodyAction:
    """Records the verification of an exhibit's acquisition hashes; returns the action written.

    `HASH_VERIFIED` where the stored digests match, every byte was read and the image's own checksums hold;
    `FIXITY_FAILED` otherwise, and for a raw image (nothing was stored to verify against) `ANALYSED` with the
    computed digests, which become the reference for later checks.
    """
    with system.catalog.reading() as session:
        exhibit = session.get(Exhibit, exhibit_id)
        if exhibit is None:
            raise NotFoundError(f"no exhibit {exhibit_id}", exhibit=exhibit_id)
        case_ref, sha256 = exhibit.case.reference, exhibit.original_sha256
    result = verification.to_dict()
    details: dict[str, Any] = {
        "check": "device acquisition hashes",
        "format": result["format"],
        "media_size": result["media_size"],
        "computed": result["computed"],
        "stored": result["stored"],
        "matches": result["matches"],
        "mismatches": result["mismatches"],
        "unreadable_bytes": result["unreadable_bytes"],
        "checksum_errors": result["checksum_errors"],
    }
    if verification.verified:
        action, reason = CustodyAction.HASH_VERIFIED, None
    elif verification.matches is None and not verification.unreadable_bytes and not verification.checksum_errors:
        action, reason = CustodyAction.ANALYSED, "no acquisition hash is stored in the image: the media was hashed"
    else:
        action, reason = CustodyAction.FIXITY_FAILED, _why(verification)
    system.record(
        action,
        actor=actor.name,
        role=actor.role,
        case_ref=case_ref,
        exhibit_id=exhibit_id,
        object_sha256=sha256,
        reason=reason,
        details=details,
    )
    return action


def _why(verification: DeviceVerification) -> str:
    reasons = [
        f"stored {m.algorithm} {m.expected} but the media hashes to {m.observed}" for m in verification.mismatches
    ]
    if verification.unreadable_bytes:
        reasons.append(f"{verification.unreadable_bytes:,} bytes of the media could not be read")
    if verification.checksum_errors:
        reasons.append(f"{len(verification.checksum_errors)} range(s) of sectors fail the image's own checksums")
    return "; ".join(reasons) or "the acquisition hashes could not be verified"
