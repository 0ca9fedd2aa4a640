"""Key rotation: a new service signing key or a new master key, with the old ones kept for verification.

Rotating the signing key leaves every old event verifiable (each names its key id, and old public keys stay in
the key folder). The KEY_ROTATED event is signed by the new key and carries the old key's endorsement of the
new public key, so a verifier who trusts the old key can follow the rotation. Rotating the master key changes
which key wraps *new* data keys; objects are immutable, so old master keys stay to open old objects.
Private keys are never written anywhere but their 0600 files.
"""

from __future__ import annotations

from typing import Any

from evidence_store.access import Actor, Permission, authorize
from evidence_store.crypto import LocalKeyProvider
from evidence_store.ledger import SigningKey
from evidence_store.system import EvidenceSystem
from schemas.records import CustodyAction

_ENDORSEMENT_DOMAIN = b"exhibit.signing-key-endorsement.v1\x00"


def endorsement_message(new_public_raw: bytes) -> bytes:
    return _ENDORSEMENT_DOMAIN + new_public_raw


def rotate_signing_key(system: EvidenceSystem, actor: Actor) -> dict[str, Any]:
    with system.catalog.reading() as session:
        authorize(system, session, actor, Permission.MANAGE_KEYS)
    old = system.ledger.signing_key
    new = SigningKey.generate()
    endorsement = old.sign(endorsement_message(new.public_raw)).hex()
    new.save(system.settings.keys_dir / "signing")
    system.ledger.signing_key = new
    details = {
        "kind": "signing",
        "previous_key_id": old.key_id,
        "new_key_id": new.key_id,
        "new_public_key": new.public_pem(),
        "endorsement_by_previous": endorsement,
    }
    system.record(CustodyAction.KEY_ROTATED, actor=actor.name, role=actor.role, details=details)
    return details


def rotate_master_key(system: EvidenceSystem, actor: Actor) -> dict[str, Any]:
    with system.catalog.reading() as session:
        authorize(system, session, actor, Permission.MANAGE_KEYS)
    keys: LocalKeyProvider = system.store.keys
    previous = keys.current_id()
    new = keys.create()
    details = {"kind": "master", "previous_key_id": previous, "new_key_id": new}
    system.record(CustodyAction.KEY_ROTATED, actor=actor.name, role=actor.role, details=details)
    return details


def list_keys(system: EvidenceSystem) -> dict[str, Any]:
    signing_dir = system.settings.keys_dir / "signing"
    return {
        "signing": {
            "current": system.ledger.signing_key.key_id,
            "public_keys": sorted(str(p) for p in signing_dir.glob("*.pub.pem")),
        },
        "master": {"current": system.store.keys.current_id(), "folder": str(system.store.keys.directory)},
    }
