"""Key rotation keeps old events and objects verifiable; private keys stay in their 0600 files."""

import base64
import json
import stat
from pathlib import Path

from sqlalchemy import text

from evidence_store.access import SERVICE, Actor
from evidence_store.cases import create_case
from evidence_store.custody import exhibit_proof, make_checkpoint, verify_full_ledger
from evidence_store.intake import IngestRequest, ingest
from evidence_store.keys import endorsement_message, rotate_master_key, rotate_signing_key
from evidence_store.ledger import Ledger, verify_signature
from evidence_store.proofs import verify_exhibit_proof
from evidence_store.system import EvidenceSystem
from evidence_store.verification import verify


def _ingest(system: EvidenceSystem, analyst: Actor, path: Path, data: bytes) -> int:
    path.write_bytes(data)
    [outcome] = ingest(system, analyst, [path], IngestRequest(case_ref="OP-K", by="Jane Smith"))
    assert outcome.exhibit_id is not None
    return outcome.exhibit_id


def test_rotations_keep_everything_verifiable(
    system: EvidenceSystem, admin: Actor, analyst: Actor, tmp_path: Path
) -> None:
    create_case(system, analyst, "OP-K", "Keys")
    before = _ingest(system, analyst, tmp_path / "a.bin", b"before rotation\n")
    make_checkpoint(system, admin)
    old_signing, old_master = system.ledger.signing_key.key_id, system.store.keys.current_id()

    signing = rotate_signing_key(system, admin)
    master = rotate_master_key(system, admin)
    after = _ingest(system, analyst, tmp_path / "b.bin", b"after rotation\n")
    make_checkpoint(system, admin)

    assert signing["previous_key_id"] == old_signing != signing["new_key_id"]
    old_public = system.public_keys()[old_signing]
    new_public = system.public_keys()[signing["new_key_id"]]
    assert verify_signature(
        old_public, endorsement_message(new_public), bytes.fromhex(signing["endorsement_by_previous"])
    )
    with system.catalog.reading() as session:
        envelopes = {
            row[0]: json.loads(row[1]) if isinstance(row[1], str) else row[1]
            for row in session.execute(
                text("SELECT e.id, o.envelope FROM exhibits e JOIN objects o ON o.sha256 = e.original_sha256")
            )
        }
        signers = {e.key_id for e in Ledger.iter(session)}
    assert envelopes[before]["key_id"] == old_master and envelopes[after]["key_id"] == master["new_key_id"]
    assert signers == {old_signing, signing["new_key_id"]}
    assert verify_full_ledger(system, SERVICE).ok
    assert verify(system, SERVICE, objects=True).ok  # old objects still open with the kept master key
    for exhibit in (before, after):
        assert verify_exhibit_proof(exhibit_proof(system, analyst, exhibit), system.public_keys()).ok

    # A deployment opened afresh signs with the new key.
    reopened = EvidenceSystem.open(system.settings)
    assert reopened.ledger.signing_key.key_id == signing["new_key_id"]
    reopened.close()


def test_private_keys_stay_private(system: EvidenceSystem, admin: Actor, analyst: Actor, tmp_path: Path) -> None:
    create_case(system, analyst, "OP-K", "Keys")
    _ingest(system, analyst, tmp_path / "a.bin", b"secret-free\n")
    rotate_signing_key(system, admin)
    make_checkpoint(system, admin)
    keys_dir = system.settings.keys_dir
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    secrets: list[str] = []
    for path in keys_dir.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        if path.is_dir():
            assert mode == 0o700, path
        elif path.name.endswith(".key") or (path.suffix == ".pem" and not path.name.endswith(".pub.pem")):
            assert mode == 0o600, path
            body = path.read_text()
            secrets += [line for line in body.splitlines() if line and not line.startswith("-----")]
    assert secrets
    # Nothing of a private key in the catalog, the ledger or the store.
    with system.catalog.reading() as session:
        dump = " ".join(
            str(row)
            for table in ("custody_events", "objects", "exhibits", "checkpoints", "users")
            for row in session.execute(text(f"SELECT * FROM {table}"))
        )
    backend = system.store.backend
    stored = b"".join(backend.read_range(k, 0, backend.size(k) or 0) for k in backend.list_keys(""))
    for secret in secrets:
        assert secret not in dump
        assert secret.encode() not in stored
        raw = base64.b64decode(secret + "=" * (-len(secret) % 4))
        assert raw not in stored
