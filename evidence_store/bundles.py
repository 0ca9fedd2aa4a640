"""Signed case bundles: what leaves the force for the CPS or the defence, verifiable offline.

A bundle is one zip:

- `exhibits/<REF>/<file>`: each chosen exhibit's original, or with `redacted` its newest approved redacted copy;
- `custody/<REF>.json`: the exhibit's custody events with their inclusion proofs and the signed checkpoint
  (the document `exhibit custody proof` writes);
- `schedules/<FORM>.csv`: the schedule the exhibits were chosen by;
- `checkpoint.json` and `keys/<key id>.pub.pem`: the newest signed tree head and the service's public key;
- `README.txt` for the person who opens it;
- `manifest.json` (schema `schemas/bundle_manifest.schema.json`): every file's size and digests, signed in
  `manifest.sig.json` (Ed25519 over a domain prefix of its own and the manifest's canonical JSON);
- `SHA256SUMS`, for `sha256sum -c`.

Exhibits are streamed from the store into the zip (ZIP64), never held whole in memory. Exporting is recorded:
one EXPORTED event per exhibit, naming the recipient, the reason and the manifest's digest.
`evidence_store.bundle_verify` checks a bundle with nothing of ours but that module.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from evidence_store.access import SERVICE, Actor, Permission, authorize
from evidence_store.bundle_crypto import EncryptingWriter, check_passphrase
from evidence_store.bundle_verify import (
    BUNDLE_FORMAT,
    MANIFEST_NAME,
    SIGNATURE_FORMAT,
    SIGNATURE_NAME,
    SUMS_NAME,
    manifest_payload,
)
from evidence_store.case_uco import case_uco_document
from evidence_store.cases import get_case
from evidence_store.catalog import Derivative, Exhibit, StoredObject
from evidence_store.custody import exhibit_proof, make_checkpoint, record_exports
from evidence_store.digests import BlockFanout
from evidence_store.disclosure import case_items, schedule_csv
from evidence_store.errors import HashMismatchError, NotFoundError, RedactionNotApprovedError
from evidence_store.ledger import format_time
from evidence_store.redaction import ROLE as REDACTED_ROLE
from evidence_store.redaction import redaction_status
from evidence_store.system import EvidenceSystem
from evidence_store.workspace import written_whole
from schemas.errors import InputError

UCO_NAME = "case-uco.jsonld"
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_SLICE = 1 << 20


@dataclass(frozen=True, slots=True)
class ExportOutcome:
    out: str
    case_ref: str
    recipient: str
    exhibits: tuple[str, ...]
    files: int
    bytes_written: int
    manifest_sha256: str
    key_id: str
    checkpoint_size: int
    encrypted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": self.out,
            "case": self.case_ref,
            "recipient": self.recipient,
            "exhibits": list(self.exhibits),
            "files": self.files,
            "bytes": self.bytes_written,
            "manifest_sha256": self.manifest_sha256,
            "key_id": self.key_id,
            "checkpoint_size": self.checkpoint_size,
            "encrypted": self.encrypted,
        }


@dataclass(frozen=True, slots=True)
class _Chosen:
    exhibit_id: int
    reference: str
    kind: str
    description: str | None
    source_name: str
    original: dict[str, Any]
    content_sha256: str
    redacted: dict[str, Any] | None


def safe_name(name: str) -> str:
    """A path component that is the same on every system and can never climb: `JS/1` -> `JS-1`."""
    cleaned = _UNSAFE_CHARS.sub("_", name.replace("/", "-")).strip("._")
    return cleaned or "file"


def _digests(row: StoredObject) -> dict[str, Any]:
    return {"sha256": row.sha256, "md5": row.md5, "sha1": row.sha1, "size": row.size}


def _choose(
    system: EvidenceSystem, actor: Actor, case_ref: str, schedule: str | None, redacted: bool
) -> tuple[list[_Chosen], str | None, int]:
    """The exhibits to export (by id order), the schedule CSV (if any) and its item count."""
    csv_text: str | None = None
    item_count = 0
    wanted: set[str] | None = None
    if schedule is not None:
        items = case_items(system, actor, case_ref, schedule)
        wanted = {ref for item in items for ref in item.exhibits}
        csv_text, item_count = schedule_csv(case_ref, schedule, items, actor.name), len(items)
    chosen: list[_Chosen] = []
    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        exhibits = session.execute(
            select(Exhibit).where(Exhibit.case_id == case.id, Exhibit.status != "disposed").order_by(Exhibit.id)
        ).scalars()
        for exhibit in exhibits:
            if wanted is not None and exhibit.reference not in wanted:
                continue
            original = _digests(exhibit.original)
            copy: dict[str, Any] | None = None
            if redacted:
                copies = session.execute(
                    select(Derivative, StoredObject)
                    .join(StoredObject, StoredObject.sha256 == Derivative.sha256)
                    .where(Derivative.exhibit_id == exhibit.id, Derivative.role == REDACTED_ROLE)
                    .order_by(Derivative.id.desc())
                ).all()
                if copies:
                    approved = [
                        (d, o) for d, o in copies if redaction_status(system, exhibit.id, d.sha256) == "approved"
                    ]
                    if not approved:
                        raise RedactionNotApprovedError(
                            f"{case_ref}:{exhibit.reference} has a redacted copy that no reviewer has approved: "
                            "review it before a redacted export",
                            exhibit=exhibit.reference,
                        )
                    copy = _digests(approved[0][1])
            chosen.append(
                _Chosen(
                    exhibit.id,
                    exhibit.reference,
                    exhibit.kind,
                    exhibit.description,
                    exhibit.source_name,
                    original,
                    copy["sha256"] if copy else original["sha256"],
                    copy,
                )
            )
    if wanted is not None:
        missing = sorted(wanted - {c.reference for c in chosen})
        if missing:
            raise NotFoundError(f"the {schedule} schedule names exhibits the case lacks: {', '.join(missing)}")
    if not chosen:
        raise NotFoundError(
            f"nothing to export: case {case_ref} has no exhibits{' on ' + schedule if schedule else ''}"
        )
    return chosen, csv_text, item_count


class _Writer:
    """Writes zip members streamed, hashing as it goes, and remembers each member's digests for the manifest."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.files: list[dict[str, Any]] = []
        self.bytes_written = 0

    def write(self, name: str, blocks: Iterable[bytes], listed: bool = True, stored: bool = False) -> dict[str, Any]:
        info = zipfile.ZipInfo(name, date_time=datetime.now(UTC).timetuple()[:6])
        # Exhibits go in uncompressed: media gains nothing from deflate, and a mostly empty device image would
        # compress past the verifier's zip-bomb ratio. The JSON and text members are deflated.
        info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
        info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
        if isinstance(blocks, _Checked):
            # Stored content. `_Checked` takes its SHA-256 as it streams and raises, before this entry is made,
            # unless it is the object the catalog names byte for byte. Those are the bytes ingest hashed, so
            # the catalog's MD5 and SHA-1 are theirs: taking them from there rather than hashing the gigabytes
            # twice more (MD5 alone runs at a third of the speed of `tar` here) is most of why export runs 4x
            # faster than it did. Every digest in the manifest was still taken from these very bytes, at ingest
            # or here; the verifier recomputes all three.
            with self.archive.open(info, "w", force_zip64=True) as member:
                for block in blocks:
                    # In slices, so the zip's CRC-32 leaves each in the CPU cache for the write that follows
                    # (a whole 4 MiB block is read from memory twice: measured slower).
                    view = memoryview(block)
                    for at in range(0, len(view), _SLICE):
                        member.write(view[at : at + _SLICE])
            size = blocks.expected["size"]
            digests = {d: str(blocks.expected[d]) for d in ("sha256", "md5", "sha1")}
        else:
            size, digests = self._write_hashed(info, blocks)
        self.bytes_written += size
        entry: dict[str, Any] = {"path": name, "size": size, **digests}
        if listed:
            self.files.append(entry)
        return entry

    def _write_hashed(self, info: zipfile.ZipInfo, blocks: Iterable[bytes]) -> tuple[int, dict[str, str]]:
        """A member made here (JSON, text: small), hashed three ways as it is written."""
        sha256, md5, sha1, size = hashlib.sha256(), hashlib.md5(), hashlib.sha1(), 0
        with self.archive.open(info, "w", force_zip64=True) as member:
            for block in blocks:
                member.write(block)
                sha256.update(block)
                md5.update(block)
                sha1.update(block)
                size += len(block)
        return size, {"sha256": sha256.hexdigest(), "md5": md5.hexdigest(), "sha1": sha1.hexdigest()}


class _Checked:
    """Stored plaintext passed through; once it ends, checked against the size and SHA-256 the catalog holds.

    The SHA-256 is taken in a thread of its own (`BlockFanout`: hashlib releases the GIL on large blocks), beside
    the decryption, the zip's CRC-32 and the write rather than after them.
    """

    def __init__(self, blocks: Iterator[bytes], expected: dict[str, Any], what: str) -> None:
        self.blocks, self.expected, self.what = blocks, expected, what

    def __iter__(self) -> Iterator[bytes]:
        sha256, size = hashlib.sha256(), 0

        def take(block: bytes, _last: bool) -> None:
            sha256.update(block)

        with BlockFanout(take) as fanout:
            for block in self.blocks:
                fanout.feed(block, False)
                size += len(block)
                yield block
        # Leaving the `with` waited for the thread to hash the last block.
        if sha256.hexdigest() != self.expected["sha256"] or size != self.expected["size"]:
            raise HashMismatchError(
                f"{self.what} read back as {sha256.hexdigest()} ({size} bytes), expected "
                f"{self.expected['sha256']}: not exported",
                expected=self.expected["sha256"],
                observed=sha256.hexdigest(),
            )


def _readme(manifest: dict[str, Any], chosen: list[_Chosen]) -> str:
    lines = [
        f"Exhibit case bundle: case {manifest['case']['reference']} ({manifest['case']['title']})",
        f"Exported {manifest['created_at']} by {manifest['exported_by']['name']} ({manifest['exported_by']['role']})",
        f"for {manifest['recipient']}. Reason: {manifest['reason']}",
        "",
        "Contents",
        *(
            f"  {c.reference}: {'redacted copy' if c.redacted else 'original'}, exhibits/{safe_name(c.reference)}/ "
            f"(SHA-256 of the original {c.original['sha256']})"
            for c in chosen
        ),
        *(f"  schedule {s['schedule']}: {s['file']}" for s in manifest["schedules"]),
        "  custody/: each exhibit's custody events with proofs of inclusion in the signed ledger checkpoint",
        f"  checkpoint.json, {manifest['public_key']}: the signed checkpoint and the signing public key",
        "  manifest.json, manifest.sig.json: every file's size and digests, and their signature",
        "",
        "How to check it",
        "  exhibit verify-bundle THIS.zip   (offline: no server, no database) checks every digest, the manifest",
        "  signature, every custody proof and the checkpoint signature, and prints a plain verdict.",
        "  Without Exhibit: unzip, then `sha256sum -c SHA256SUMS` checks the files' digests (not the signatures).",
        f"  The signing key's fingerprint is {manifest['key_id']}: compare it with the one the force publishes.",
        "",
    ]
    return "\n".join(lines)


@contextlib.contextmanager
def _sink(path: Path, passphrase: str | None) -> Iterator[Path | EncryptingWriter]:
    """Where the zip is written: the file itself, or an encrypting stream over it (the plain zip never touches
    the disk). The stream is sealed after the zip's central directory is written into it."""
    if passphrase is None:
        yield path
        return
    with path.open("wb") as raw:
        writer = EncryptingWriter(raw, passphrase)
        yield writer
        writer.close()


def export_bundle(
    system: EvidenceSystem,
    actor: Actor,
    case_ref: str,
    out: Path,
    *,
    recipient: str,
    reason: str | None,
    schedule: str | None = None,
    redacted: bool = False,
    passphrase: str | None = None,
) -> ExportOutcome:
    """Writes the case bundle to `out` and records the export (EXPORTED per exhibit) on the ledger.

    Args:
        schedule: Export only the exhibits of the items on this schedule ("MG6C", ...) and the schedule itself.
        redacted: For exhibits with a redacted copy, export the newest approved copy instead of the original.
        recipient: Who receives the bundle (recorded).
        reason: Why it is exported (required, recorded).
        passphrase: Encrypt the whole bundle for transfer (`bundle_crypto`); the passphrase is not kept anywhere.

    Raises:
        AccessDeniedError: not a disclosure officer or supervisor of the case, or no reason (recorded).
        RedactionNotApprovedError: `redacted` and an exhibit's redacted copies are all unapproved.
        NotFoundError: no such case, or nothing to export.
        HashMismatchError: a stored exhibit did not read back as its digests (the bundle is removed).
        BundlePassphraseError: a passphrase shorter than 12 characters.
    """
    if passphrase is not None:
        check_passphrase(passphrase)
    if not recipient.strip():
        raise InputError("name the recipient of the bundle (--recipient)")
    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        authorize(system, session, actor, Permission.EXPORT, case, reason=reason)
        title = case.title
    chosen, csv_text, item_count = _choose(system, actor, case_ref, schedule, redacted)
    # One fresh head covers every event so far, so the proofs below normally share it.
    make_checkpoint(system, SERVICE)
    key = system.ledger.signing_key
    key_path = f"keys/{key.key_id}.pub.pem"
    with (
        written_whole(out) as partial,
        _sink(partial, passphrase) as sink,
        zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive,
    ):
        writer = _Writer(archive)
        entries: list[dict[str, Any]] = []
        newest: dict[str, Any] | None = None
        for c in chosen:
            folder = f"exhibits/{safe_name(c.reference)}"
            expected = c.redacted or c.original
            stem = safe_name(c.source_name)
            name = f"{folder}/{'redacted-' + stem if c.redacted else stem}"
            blocks = _Checked(system.store.iter_plaintext(c.content_sha256), expected, f"{case_ref}:{c.reference}")
            writer.write(name, blocks, stored=True)
            proof = exhibit_proof(system, actor, c.exhibit_id)
            if newest is None or proof["checkpoint"]["tree_size"] > newest["tree_size"]:
                newest = proof["checkpoint"]
            custody = f"custody/{safe_name(c.reference)}.json"
            writer.write(custody, [json.dumps(proof, indent=1, sort_keys=True).encode()])
            entry: dict[str, Any] = {
                "exhibit_ref": c.reference,
                "exhibit_id": c.exhibit_id,
                "kind": c.kind,
                "description": c.description,
                "original": c.original,
                "content": "redacted_copy" if c.redacted else "original",
                "file": name,
                "custody": custody,
            }
            if c.redacted:
                entry["redacted_copy"] = c.redacted
            entries.append(entry)
        assert newest is not None
        schedules: list[dict[str, Any]] = []
        if schedule is not None and csv_text is not None:
            path = f"schedules/{safe_name(schedule)}.csv"
            writer.write(path, [csv_text.encode()])
            schedules.append({"schedule": schedule, "file": path, "items": item_count})
        writer.write("checkpoint.json", [json.dumps(newest, indent=1, sort_keys=True).encode()])
        # The same custody and findings in CASE/UCO JSON-LD, for the recipient's own tools: only the exported
        # exhibits and their events, so nothing about material left out of the bundle leaves with it.
        uco = case_uco_document(system, actor, case_ref, reason=reason, exhibit_ids={c.exhibit_id for c in chosen})
        writer.write(UCO_NAME, [json.dumps(uco, indent=1, ensure_ascii=False).encode()])
        writer.write(key_path, [key.public_pem().encode()])
        manifest: dict[str, Any] = {
            "format": BUNDLE_FORMAT,
            "case": {"reference": case_ref, "title": title},
            "created_at": format_time(datetime.now(UTC)),
            "exported_by": {"name": actor.name, "role": actor.role},
            "recipient": recipient.strip(),
            "reason": (reason or "").strip() or "service export",
            "schedule": schedule,
            "redacted": redacted,
            "key_id": key.key_id,
            "public_key": key_path,
            "checkpoint": "checkpoint.json",
            "case_uco": UCO_NAME,
            "exhibits": entries,
            "schedules": schedules,
            "files": [],
        }
        writer.write("README.txt", [_readme(manifest, chosen).encode()])
        manifest["files"] = list(writer.files)
        manifest_bytes = json.dumps(manifest, indent=1, sort_keys=True).encode()
        signature = {
            "format": SIGNATURE_FORMAT,
            "key_id": key.key_id,
            "signature": key.sign(manifest_payload(manifest)).hex(),
        }
        sums = [(f["path"], f["sha256"]) for f in writer.files]
        sums.append((MANIFEST_NAME, writer.write(MANIFEST_NAME, [manifest_bytes], listed=False)["sha256"]))
        signed = json.dumps(signature, indent=1, sort_keys=True).encode()
        sums.append((SIGNATURE_NAME, writer.write(SIGNATURE_NAME, [signed], listed=False)["sha256"]))
        writer.write(SUMS_NAME, ["".join(f"{d}  {p}\n" for p, d in sums).encode()], listed=False)
    manifest_sha256 = hashlib.sha256(manifest_bytes).hexdigest()
    with system.catalog.transaction() as session:
        record_exports(
            system,
            session,
            actor,
            case_ref,
            [
                (
                    c.exhibit_id,
                    c.content_sha256,
                    {
                        "recipient": recipient.strip(),
                        "bundle": out.name,
                        "manifest_sha256": manifest_sha256,
                        "content": "redacted_copy" if c.redacted else "original",
                        "schedule": schedule,
                        "encrypted": passphrase is not None,
                    },
                )
                for c in chosen
            ],
            reason,
        )
    return ExportOutcome(
        out=str(out),
        case_ref=case_ref,
        recipient=recipient.strip(),
        exhibits=tuple(c.reference for c in chosen),
        files=len(writer.files),
        bytes_written=writer.bytes_written,
        manifest_sha256=manifest_sha256,
        key_id=key.key_id,
        checkpoint_size=int(newest["tree_size"]),
        encrypted=passphrase is not None,
    )
