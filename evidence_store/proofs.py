"""Offline custody verification: signed checkpoints, the fast ledger check, and self-contained exhibit proofs.

Everything here is pure: events, checkpoints, proofs and public keys in, a verdict out. A defence expert can
run it on an exported proof with nothing of ours but this code and our public key.

A checkpoint signs the RFC 6962 tree head over every event so far. Each leaf commits to an event's entry hash
*and its signature*, so a valid checkpoint vouches for the exact signed events under it: the fast ledger check
verifies entry hashes and the chain for every event, then the checkpoint heads, and checks per-event
signatures only after the last checkpoint (or, when a head disagrees, to name the first bad event).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evidence_store.ledger import (
    GENESIS_HASH,
    CustodyEvent,
    LedgerVerification,
    MalformedEvent,
    StoredEntry,
    canonical_json,
    verify_signature,
)
from evidence_store.merkle import CompactTree, leaf_hash, verify_consistency, verify_inclusion

CHECKPOINT_FORMAT = "exhibit-checkpoint/1"
PROOF_FORMAT = "exhibit-custody-proof/1"
_CHECKPOINT_DOMAIN = b"exhibit.checkpoint.v1\x00"
# Signatures not yet vouched for by a head are checked in batches of this many when no head lies ahead; with
# one ahead they wait for it (as compact tuples, ~150 bytes each) up to the larger bound.
_UNCHECKPOINTED_BATCH = 50_000
_AWAITING_HEAD_BATCH = 1_000_000


def event_leaf(entry_hash: str, signature: str) -> bytes:
    """The Merkle leaf of a ledger event: its entry hash and its signature, so both are committed."""
    return leaf_hash(bytes.fromhex(entry_hash) + bytes.fromhex(signature))


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed tree head: the root over the first `tree_size` events, at a time, by a key."""

    tree_size: int
    root: str
    created_at: str
    key_id: str
    signature: str = ""

    def __post_init__(self) -> None:
        if self.tree_size < 1:
            raise ValueError("a checkpoint covers at least one event")
        if len(self.root) != 64 or any(c not in "0123456789abcdef" for c in self.root):
            raise ValueError("checkpoint root is not a SHA-256")

    def payload(self) -> bytes:
        body = {
            "format": CHECKPOINT_FORMAT,
            "tree_size": self.tree_size,
            "root": self.root,
            "created_at": self.created_at,
            "key_id": self.key_id,
        }
        return _CHECKPOINT_DOMAIN + canonical_json(body)

    def verify(self, public_keys: Mapping[str, bytes]) -> bool:
        public = public_keys.get(self.key_id)
        try:
            signature = bytes.fromhex(self.signature)
        except ValueError:
            return False
        return public is not None and verify_signature(public, self.payload(), signature)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "tree_size": self.tree_size,
            "root": self.root,
            "created_at": self.created_at,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        if data.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"not an Exhibit checkpoint (format {data.get('format')!r})")
        return cls(
            tree_size=int(data["tree_size"]),
            root=str(data["root"]),
            created_at=str(data["created_at"]),
            key_id=str(data["key_id"]),
            signature=str(data["signature"]),
        )


def signature_fault(
    seq: int, key_id: str, entry_hash: str, signature_hex: str, public_keys: Mapping[str, bytes]
) -> tuple[str, str] | None:
    """Why an event's signature does not hold, as (code, reason), or None when a known key signed its hash."""
    public = public_keys.get(key_id)
    if public is None:
        return "EX-LEDGER-UNKNOWN-KEY", f"event {seq} is signed by unknown key {key_id}"
    try:
        signature = bytes.fromhex(signature_hex)
    except ValueError:
        signature = b""
    if not verify_signature(public, bytes.fromhex(entry_hash), signature):
        return "EX-LEDGER-SIGNATURE", f"event {seq} has an invalid signature"
    return None


def verify_ledger(
    events: Iterable[CustodyEvent | StoredEntry | MalformedEvent],
    public_keys: Mapping[str, bytes],
    checkpoints: Sequence[Checkpoint] = (),
) -> LedgerVerification:
    """The whole-ledger check: sequence, chain, entry hashes, checkpoint heads and signatures.

    Names the first bad event; a checkpoint that does not match the events (or claims more events than there
    are: a deleted tail) is reported with code EX-LEDGER-CHECKPOINT.
    """
    pending_checkpoints = sorted(checkpoints, key=lambda c: c.tree_size)
    tree = CompactTree()
    unvouched: list[tuple[int, str, str, str]] = []  # (seq, key id, entry hash, signature)
    expected_seq, prev, checked = 1, GENESIS_HASH, 0

    def result(
        ok: bool, seq: int | None = None, code: str | None = None, reason: str | None = None
    ) -> LedgerVerification:
        return LedgerVerification(ok, checked, seq, code, reason, prev if checked else None)

    def first_bad_signature() -> LedgerVerification | None:
        for seq, key_id, entry_hash, signature_hex in unvouched:
            fault = signature_fault(seq, key_id, entry_hash, signature_hex, public_keys)
            if fault is not None:
                return result(False, seq, *fault)
        unvouched.clear()
        return None

    def fail(seq: int | None, code: str, reason: str) -> LedgerVerification:
        # Signatures are checked late; one that is bad before this point is the first bad event.
        return first_bad_signature() or result(False, seq, code, reason)

    for event in events:
        if isinstance(event, MalformedEvent) and event.seq == expected_seq:
            return fail(event.seq, "EX-LEDGER-MALFORMED", f"event {event.seq} is malformed: {event.problem}")
        if event.seq != expected_seq:
            kind = "missing" if event.seq > expected_seq else "repeated or out of order"
            seq = expected_seq if event.seq > expected_seq else event.seq
            return fail(
                seq, "EX-LEDGER-SEQUENCE", f"sequence number {expected_seq} expected, found {event.seq} (event {kind})"
            )
        assert not isinstance(event, MalformedEvent)
        if event.prev_hash != prev:
            return fail(event.seq, "EX-LEDGER-CHAIN", f"event {event.seq} does not chain to the entry before it")
        try:
            computed = event.compute_hash()
        except ValueError as exc:  # a stored row whose details no longer parse
            return fail(event.seq, "EX-LEDGER-MALFORMED", f"event {event.seq} is malformed: {exc}")
        if computed != event.entry_hash:
            return fail(event.seq, "EX-LEDGER-HASH", f"event {event.seq} was altered: its content hashes differently")
        try:
            tree.append(event_leaf(event.entry_hash, event.signature))
        except ValueError:
            return fail(event.seq, "EX-LEDGER-SIGNATURE", f"event {event.seq} has an invalid signature")
        unvouched.append((event.seq, event.key_id, event.entry_hash, event.signature))
        prev, expected_seq, checked = event.entry_hash, expected_seq + 1, checked + 1
        vouched = False
        # Several heads can share a size (a killed checkpoint's stored copy and a later one): check them all.
        while pending_checkpoints and pending_checkpoints[0].tree_size == tree.size:
            checkpoint = pending_checkpoints.pop(0)
            if not checkpoint.verify(public_keys):
                return fail(
                    None,
                    "EX-LEDGER-CHECKPOINT",
                    f"checkpoint at {checkpoint.tree_size} events has an invalid signature",
                )
            if checkpoint.root != tree.root().hex():
                # Something under the head changed although each event still hashes: name it if we can.
                bad = first_bad_signature()
                if bad is not None:
                    return bad
                return result(
                    False,
                    None,
                    "EX-LEDGER-CHECKPOINT",
                    f"the first {checkpoint.tree_size} events no longer match their signed checkpoint",
                )
            vouched = True
        if vouched:
            unvouched.clear()  # the signed head commits to every signature under it
        if len(unvouched) >= (_AWAITING_HEAD_BATCH if pending_checkpoints else _UNCHECKPOINTED_BATCH):
            bad = first_bad_signature()
            if bad is not None:
                return bad
    bad = first_bad_signature()
    if bad is not None:
        return bad
    if pending_checkpoints:
        missing = pending_checkpoints[0].tree_size
        return result(
            False,
            checked + 1,
            "EX-LEDGER-TRUNCATED",
            f"a signed checkpoint covers {missing} events but the ledger ends at {checked}: events were removed",
        )
    return result(True)


# -- exhibit proofs -----------------------------------------------------------------------------------------


@dataclass
class ProofVerification:
    ok: bool
    events_checked: int = 0
    problems: list[str] = field(default_factory=list)
    exhibit: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events_checked": self.events_checked,
            "problems": self.problems,
            "exhibit": self.exhibit,
        }


def verify_exhibit_proof(document: Mapping[str, Any], public_keys: Mapping[str, bytes]) -> ProofVerification:
    """Checks a proof written by `exhibit custody proof`, offline.

    Every event must hash to its entry hash, carry a valid signature and be included (RFC 6962 audit path)
    in the signed checkpoint; the exhibit's digests must be those its first RECEIVED event signed for; an
    optional consistency proof must show the checkpoint extends an earlier one the recipient already holds.
    """
    report = ProofVerification(ok=False, exhibit=dict(document.get("exhibit", {})))
    if document.get("format") != PROOF_FORMAT:
        report.problems.append(f"not an Exhibit custody proof (format {document.get('format')!r})")
        return report
    try:
        checkpoint = Checkpoint.from_dict(document["checkpoint"])
    except (KeyError, ValueError, TypeError) as exc:
        report.problems.append(f"the checkpoint is malformed: {exc}")
        return report
    if not checkpoint.verify(public_keys):
        report.problems.append(f"the checkpoint signature does not verify with key {checkpoint.key_id}")
        return report
    root = bytes.fromhex(checkpoint.root)
    received: CustodyEvent | None = None
    for item in document.get("events", []):
        try:
            event = CustodyEvent.from_dict(item["event"])
            path = [bytes.fromhex(h) for h in item["inclusion_proof"]]
        except (KeyError, ValueError, TypeError) as exc:
            report.problems.append(f"an event entry is malformed: {exc}")
            return report
        label = f"event {event.seq} ({event.action})"
        if event.compute_hash() != event.entry_hash:
            report.problems.append(f"{label} was altered: its content hashes differently")
            return report
        public = public_keys.get(event.key_id)
        if public is None or not verify_signature(
            public, bytes.fromhex(event.entry_hash), bytes.fromhex(event.signature)
        ):
            report.problems.append(f"{label} has no valid signature by a trusted key ({event.key_id})")
            return report
        if not verify_inclusion(
            event_leaf(event.entry_hash, event.signature), event.seq - 1, checkpoint.tree_size, path, root
        ):
            report.problems.append(f"{label} is not included in the checkpoint of {checkpoint.tree_size} events")
            return report
        if received is None and event.action == "RECEIVED":
            received = event
        report.events_checked += 1
    original = report.exhibit.get("original", {})
    if received is None:
        report.problems.append("the proof holds no RECEIVED event for the exhibit")
        return report
    for name in ("sha256", "md5", "sha1", "size"):
        if received.details.get(name) != original.get(name):
            report.problems.append(f"the exhibit's {name} is not the one its receipt signed for")
            return report
    consistency = document.get("consistency")
    if consistency is not None:
        try:
            earlier = Checkpoint.from_dict(consistency["from"])
            path = [bytes.fromhex(h) for h in consistency["proof"]]
        except (KeyError, ValueError, TypeError) as exc:
            report.problems.append(f"the consistency proof is malformed: {exc}")
            return report
        if not earlier.verify(public_keys) or not verify_consistency(
            earlier.tree_size, checkpoint.tree_size, bytes.fromhex(earlier.root), root, path
        ):
            report.problems.append(f"the checkpoint does not extend the earlier one of {earlier.tree_size} events")
            return report
    report.ok = True
    return report


def proof_digest(document: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(dict(document))).hexdigest()
