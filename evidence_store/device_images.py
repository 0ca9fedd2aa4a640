"""Seized-device images on the ledger: whether the media still hashes to what its acquisition recorded.

An E01 carries the MD5 (and often SHA-1) its acquisition tool computed at the scene or the lab. Re-hashing the
media and comparing is the proof that this is the image that was acquired; the answer is a custody event either
way (`HASH_VERIFIED`, or `FIXITY_FAILED` naming the algorithm and both values), never an exception, so a
mismatch is a red flag on the record and the rest of the exhibit's processing still runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evidence_store import __version__
from evidence_store.access import Actor, Permission, authorize, record_view
from evidence_store.analysis import newest_batches, newest_rows
from evidence_store.cases import get_exhibit
from evidence_store.catalog import Exhibit
from evidence_store.errors import AlreadyExistsError, BadReferenceError, NotFoundError
from evidence_store.system import EvidenceSystem
from forensics.device_files import DeviceFile
from forensics.device_image import DeviceVerification, DeviceWarning
from forensics.dfxml import write_dfxml, write_hashdeep
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


LISTING_FORMATS = ("dfxml", "hashdeep")


def export_listing(
    system: EvidenceSystem,
    actor: Actor,
    ident: str | int,
    fmt: str,
    out_path: Path,
    *,
    reason: str | None = None,
) -> dict[str, Any]:
    """Writes an exhibit's device listing as DFXML (fiwalk's structure) or a hashdeep manifest to `out_path`
    (never over an existing file); a view of the listing, recorded like any other.

    Raises:
        BadReferenceError: an unknown format.
        NotFoundError: the exhibit has no device listing yet.
        AlreadyExistsError: `out_path` exists.
        AccessDeniedError: the actor may not view the exhibit's case (recorded).
    """
    if fmt not in LISTING_FORMATS:
        raise BadReferenceError(f"listing format {fmt!r} is not one of {', '.join(LISTING_FORMATS)}")
    with system.catalog.reading() as session:
        exhibit = get_exhibit(session, ident)
        authorize(system, session, actor, Permission.VIEW, exhibit.case, exhibit_id=exhibit.id)
        case_ref, exhibit_id, reference = exhibit.case.reference, exhibit.id, exhibit.reference
        source_name = exhibit.source_name
    volumes = {
        v["index"]: {"offset": v["start"], "type": v["file_system"], "sector_size": v["sector_size"]}
        for v in newest_rows(system, exhibit_id, "device_volumes", limit=10_000)
    }
    verified = newest_rows(system, exhibit_id, "device_verification", limit=1)
    if not verified:
        raise NotFoundError(f"exhibit {reference} has no device listing yet: run its analyses", exhibit=exhibit_id)
    try:
        handle = out_path.open("xb")
    except FileExistsError as exc:
        raise AlreadyExistsError(f"{out_path} exists; choose a new file name", path=str(out_path)) from exc
    files = _listed_files(system, exhibit_id)
    try:
        with handle:
            if fmt == "dfxml":
                count = write_dfxml(
                    files,
                    handle,
                    image_info={
                        "image_filename": f"{case_ref}:{reference} ({source_name})",
                        "image_size": verified[0]["media_size"],
                        "volumes": volumes,
                        "program": "Exhibit",
                        "version": __version__,
                        "command_line": f"exhibit export-listing {case_ref}:{reference} --format dfxml",
                    },
                )
            else:
                real = (f for f in files if not f.virtual)  # $MBR, $FAT1: TSK's, not files anyone extracts
                count = write_hashdeep(
                    real, handle, command_line=f"exhibit export-listing {reference} --format hashdeep"
                )
    except BaseException:
        out_path.unlink(missing_ok=True)
        raise
    record_view(system, actor, f"device listing as {fmt}", case_ref, exhibit_id, reason=reason)
    return {"exhibit_id": exhibit_id, "exhibit_ref": reference, "format": fmt, "out": str(out_path), "entries": count}


def _listed_files(system: EvidenceSystem, exhibit_id: int) -> Iterator[DeviceFile]:
    """The exhibit's newest device_files table back as records, streamed batch by batch."""
    fields = DeviceFile.__slots__
    for batch in newest_batches(system, exhibit_id, "device_files"):
        for row in batch.to_pylist():
            values = {k: row[k] for k in fields if k != "warnings"}
            warnings = tuple(DeviceWarning(w["code"], w["message"]) for w in row["warnings"] or ())
            yield DeviceFile(**values, warnings=warnings)
