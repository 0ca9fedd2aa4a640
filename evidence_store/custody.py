"""Checkpoints and proofs of the custody ledger, made from the catalog and kept in the store too.

A checkpoint is written three ways at once: a row in `checkpoints`, a CHECKPOINT event on the ledger, and a
plain JSON object at `checkpoints/<tree size>.json` in the object store. Removing the tail of the ledger
then means removing it from the database *and* the store, and anyone who was handed a checkpoint can still
prove the removal with a consistency proof.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evidence_store.access import SERVICE, Actor, Permission, authorize, record_view
from evidence_store.cases import get_exhibit
from evidence_store.catalog import Case, CheckpointRow, CustodyEventRow
from evidence_store.errors import NotFoundError
from evidence_store.ledger import GENESIS_HASH, Ledger, LedgerVerification, StoredEntry, format_time
from evidence_store.merkle import CompactTree, consistency_proof, inclusion_proof
from evidence_store.proofs import PROOF_FORMAT, Checkpoint, event_leaf, signature_fault, verify_ledger
from evidence_store.system import EvidenceSystem
from schemas.records import CustodyAction

CHECKPOINT_PREFIX = "checkpoints/"


def _leaves(session: Session, upto: int) -> Iterator[bytes]:
    Ledger.write_pending(session)
    after = 0
    while after < upto:
        rows = session.execute(
            select(CustodyEventRow.seq, CustodyEventRow.entry_hash, CustodyEventRow.signature)
            .where(CustodyEventRow.seq > after, CustodyEventRow.seq <= upto)
            .order_by(CustodyEventRow.seq)
            .limit(20000)
        ).all()
        if not rows:
            return
        for _seq, entry_hash, signature in rows:
            yield event_leaf(entry_hash, signature)
        after = rows[-1][0]


def record_exports(
    system: EvidenceSystem,
    session: Session,
    actor: Actor,
    case_ref: str,
    exported: Iterable[tuple[int | None, str | None, Mapping[str, Any]]],
    reason: str | None,
) -> None:
    """One EXPORTED event per exhibit that left, as (exhibit id, digest of what left, details), in the caller's
    transaction."""
    system.ledger.lock(session)
    for exhibit_id, sha256, details in exported:
        system.ledger.append(
            session,
            CustodyAction.EXPORTED,
            actor=actor.name,
            role=actor.role,
            case_ref=case_ref,
            exhibit_id=exhibit_id,
            object_sha256=sha256,
            reason=reason,
            details=details,
        )


def make_checkpoint(system: EvidenceSystem, actor: Actor = SERVICE) -> Checkpoint:
    """Signs the tree head over every event so far and records it (catalog, ledger, store)."""
    with system.catalog.reading() as session:
        authorize(system, session, actor, Permission.VERIFY_ALL)
    with system.catalog.transaction() as session:
        system.ledger.lock(session)
        Ledger.write_pending(session)
        size = session.execute(select(func.max(CustodyEventRow.seq))).scalar_one() or 0
        existing = session.get(CheckpointRow, size)
        if existing is not None:
            return _from_row(existing)
        tree = CompactTree()
        for leaf in _leaves(session, size):
            tree.append(leaf)
        key = system.ledger.signing_key
        unsigned = Checkpoint(size, tree.root().hex(), format_time(datetime.now(UTC)), key.key_id)
        checkpoint = Checkpoint(
            unsigned.tree_size, unsigned.root, unsigned.created_at, unsigned.key_id, key.sign(unsigned.payload()).hex()
        )
        _store_checkpoint(system, checkpoint)
        session.add(
            CheckpointRow(
                tree_size=checkpoint.tree_size,
                root_hash=checkpoint.root,
                created_at=checkpoint.created_at,
                key_id=checkpoint.key_id,
                signature=checkpoint.signature,
            )
        )
        system.ledger.append(
            session,
            CustodyAction.CHECKPOINT,
            actor=actor.name,
            role=actor.role,
            details={"checkpoint": checkpoint.to_dict()},
        )
    return checkpoint


def _store_checkpoint(system: EvidenceSystem, checkpoint: Checkpoint) -> None:
    body = json.dumps(checkpoint.to_dict(), sort_keys=True, indent=1).encode()
    staged = system.store.backend.begin(size_hint=len(body))
    try:
        staged.write(body)
    except BaseException:
        staged.abort()
        raise
    # Not encrypted: a tree head reveals nothing about the evidence and must be readable by anyone.
    staged.commit(f"{CHECKPOINT_PREFIX}{checkpoint.tree_size:015d}.json")


def _from_row(row: CheckpointRow) -> Checkpoint:
    return Checkpoint(row.tree_size, row.root_hash, row.created_at, row.key_id, row.signature)


def load_checkpoints(system: EvidenceSystem, session: Session) -> tuple[list[Checkpoint], list[str]]:
    """Checkpoints from the catalog and from the store, merged (a head missing from one still counts).

    Returns the checkpoints and the store keys of checkpoint files that no longer parse (itself a sign of
    tampering, reported by `verify`).
    """
    found: dict[tuple[int, str], Checkpoint] = {}
    unreadable: list[str] = []
    for row in session.execute(select(CheckpointRow)).scalars():
        cp = _from_row(row)
        found[(cp.tree_size, cp.signature)] = cp
    backend = system.store.backend
    for key in backend.list_keys(CHECKPOINT_PREFIX):
        size = backend.size(key) or 0
        try:
            stored = Checkpoint.from_dict(json.load(io.BytesIO(backend.read_range(key, 0, size))))
        except (ValueError, KeyError, TypeError):
            unreadable.append(key)
            continue
        found[(stored.tree_size, stored.signature)] = stored
    return sorted(found.values(), key=lambda c: c.tree_size), unreadable


def verify_full_ledger(system: EvidenceSystem, actor: Actor) -> LedgerVerification:
    """The checkpointed whole-ledger check (the ledger half of `verify`)."""
    with system.catalog.reading() as session:
        authorize(system, session, actor, Permission.VERIFY_ALL)
        checkpoints, _unreadable = load_checkpoints(system, session)
        return verify_ledger(Ledger.iter_for_verification(session), system.public_keys(), checkpoints)


def verify_exhibit_events(system: EvidenceSystem, ident: str | int) -> LedgerVerification:
    """One exhibit's custody, checked without reading the whole ledger (a per-exhibit pipeline check).

    Each of the exhibit's events must hash to its stored entry hash, carry a valid signature by a known key,
    and chain to the entry before it, which must itself hash correctly; the first receipt must sign for the
    digests the catalog holds. The whole-ledger `verify` stays the complete check (sequence, checkpoints).
    """
    public_keys = system.public_keys()
    with system.catalog.reading() as session:
        exhibit = get_exhibit(session, ident)
        entries = Ledger.entries_for_exhibit(session, exhibit.id)
        original = exhibit.original
        by_seq = {e.seq: e for e in entries}
        checked = 0

        def fail(seq: int, code: str, reason: str) -> LedgerVerification:
            return LedgerVerification(False, checked, seq, code, reason)

        def hash_fault(entry: StoredEntry) -> tuple[str, str] | None:
            try:
                intact = entry.compute_hash() == entry.entry_hash
            except ValueError as exc:  # stored details that no longer parse: edited outside Exhibit
                return "EX-LEDGER-MALFORMED", f"event {entry.seq} is malformed: {exc}"
            return None if intact else ("EX-LEDGER-HASH", f"event {entry.seq} was altered: it hashes differently")

        receipt_seen = False
        for entry in entries:
            if entry.exhibit_id != exhibit.id:
                continue
            altered = hash_fault(entry)
            if altered is not None:
                return fail(entry.seq, *altered)
            signature = signature_fault(entry.seq, entry.key_id, entry.entry_hash, entry.signature, public_keys)
            if signature is not None:
                return fail(entry.seq, *signature)
            before = by_seq.get(entry.seq - 1)
            expected_prev = GENESIS_HASH if entry.seq == 1 else (before.entry_hash if before else None)
            if expected_prev is None or entry.prev_hash != expected_prev:
                return fail(entry.seq, "EX-LEDGER-CHAIN", f"event {entry.seq} does not chain to the entry before it")
            if before is not None and before.exhibit_id != exhibit.id and hash_fault(before) is not None:
                return fail(before.seq, "EX-LEDGER-HASH", f"event {before.seq}, before this exhibit's, was altered")
            if entry.action == CustodyAction.RECEIVED.value and not receipt_seen:
                receipt_seen = True
                differing = original.differs_from_receipt(entry.parsed_details())
                if differing:
                    reason = f"the catalog's {', '.join(differing)} differ from the receipt signed at event {entry.seq}"
                    return fail(entry.seq, "EX-CATALOG-MISMATCH", reason)
            checked += 1
        if not receipt_seen:
            return LedgerVerification(False, checked, None, "EX-LEDGER-NO-RECEIPT", "no signed receipt of this exhibit")
        return LedgerVerification(True, checked, head_hash=entries[-1].entry_hash if entries else None)


def exhibit_proof(system: EvidenceSystem, actor: Actor, ident: str | int, since: int | None = None) -> dict[str, Any]:
    """A self-contained proof of one exhibit's custody history, verifiable offline with the public key.

    Makes a fresh checkpoint when the newest one does not yet cover the exhibit's last event. With `since`
    (the size of a checkpoint the recipient already holds) it adds a consistency proof from that one.
    """
    with system.catalog.reading() as session:
        exhibit = get_exhibit(session, ident)
        authorize(system, session, actor, Permission.VIEW, exhibit.case, exhibit_id=exhibit.id)
        last = session.execute(
            select(func.max(CustodyEventRow.seq)).where(CustodyEventRow.exhibit_id == exhibit.id)
        ).scalar_one()
        newest = session.execute(select(func.max(CheckpointRow.tree_size))).scalar_one()
    # The service signs the head: any member may ask for a proof, not only those who may checkpoint.
    checkpoint: Checkpoint | None = make_checkpoint(system, SERVICE) if newest is None or (last or 0) > newest else None
    with system.catalog.reading() as session:
        if checkpoint is None:
            row = session.get(CheckpointRow, newest)
            assert row is not None
            checkpoint = _from_row(row)
        exhibit = get_exhibit(session, ident)
        case = session.get(Case, exhibit.case_id)
        assert case is not None
        leaves = list(_leaves(session, checkpoint.tree_size))
        events = [
            {
                "event": e.to_dict(),
                "inclusion_proof": [h.hex() for h in inclusion_proof(leaves, e.seq - 1, checkpoint.tree_size)],
            }
            for e in Ledger.iter(session, exhibit_id=exhibit.id)
            if e.seq <= checkpoint.tree_size
        ]
        document: dict[str, Any] = {
            "format": PROOF_FORMAT,
            "exhibit": {
                "exhibit_id": exhibit.id,
                "exhibit_ref": exhibit.reference,
                "case": case.reference,
                "original": {
                    "sha256": exhibit.original.sha256,
                    "md5": exhibit.original.md5,
                    "sha1": exhibit.original.sha1,
                    "size": exhibit.original.size,
                },
            },
            "checkpoint": checkpoint.to_dict(),
            "events": events,
        }
        if since is not None:
            earlier = session.get(CheckpointRow, since)
            if earlier is None:
                raise NotFoundError(f"no checkpoint of {since} events to prove consistency from")
            document["consistency"] = {
                "from": _from_row(earlier).to_dict(),
                "proof": [h.hex() for h in consistency_proof(leaves, since, checkpoint.tree_size)],
            }
    record_view(system, actor, "custody proof", document["exhibit"]["case"], document["exhibit"]["exhibit_id"])
    return document
