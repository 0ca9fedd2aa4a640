"""Signed case bundles: export from the store, verify offline, and refuse every kind of tampering."""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from evidence_store.access import Actor, Permission, add_member, add_user
from evidence_store.bundle_crypto import decrypt_file, is_encrypted
from evidence_store.bundle_verify import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    event_hash,
    manifest_payload,
    manifest_schema,
    schema_errors,
    verify_bundle,
)
from evidence_store.bundles import export_bundle
from evidence_store.cases import create_case
from evidence_store.catalog import CustodyEventRow
from evidence_store.derivatives import Provenance, record_derivative
from evidence_store.disclosure import decide_item
from evidence_store.errors import AccessDeniedError, BundlePassphraseError, RedactionNotApprovedError
from evidence_store.intake import IngestRequest, ingest
from evidence_store.ledger import CustodyEvent, SigningKey
from evidence_store.redaction import review_redaction
from evidence_store.system import EvidenceSystem
from schemas.errors import ExhibitError
from tests.conftest import flip_stored_byte

CASE = "OP-BUNDLE"
SINGLE = pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)


@pytest.fixture
def officer(system: EvidenceSystem, admin: Actor, analyst: Actor, tmp_path: Path) -> Actor:
    """A disclosure officer of a case of three exhibits (JS/1 .. JS/3), JS/1 and JS/2 on MG6C."""
    create_case(system, analyst, CASE, "Bundles")
    for n in range(1, 4):
        path = tmp_path / f"item{n}.txt"
        path.write_bytes(f"exhibit {n}\n".encode() * (n * 1000))
        ingest(system, analyst, [path], IngestRequest(case_ref=CASE, by="Jane Smith"))
    officer = add_user(system, admin, "do.patel", "disclosure_officer")
    add_member(system, admin, CASE, "do.patel")
    decide_item(system, officer, CASE, ["JS/1", "JS/2"], "MG6C", "Body-worn video and notebook of PC 123 at the scene")
    return officer


def _export(system: EvidenceSystem, officer: Actor, out: Path, **options: object) -> Path:
    export_bundle(system, officer, CASE, out, recipient="CPS Wessex", reason="pre-trial disclosure", **options)  # type: ignore[arg-type]
    return out


def test_round_trip_exports_the_case_and_verifies_offline(
    system: EvidenceSystem, officer: Actor, tmp_path: Path
) -> None:
    bundle = _export(system, officer, tmp_path / "case.zip")
    report = verify_bundle(bundle)
    assert report.ok, report.problems
    assert (report.case, report.recipient, report.exhibits_checked) == (CASE, "CPS Wessex", 3)
    assert report.key_id == system.ledger.signing_key.key_id
    assert report.verdict()[0].startswith("VERIFIED")
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read(MANIFEST_NAME))
        sums = archive.read("SHA256SUMS").decode()
        assert archive.read("exhibits/JS-1/item1.txt") == b"exhibit 1\n" * 1000
    assert {"README.txt", "checkpoint.json", "custody/JS-3.json", f"keys/{report.key_id}.pub.pem"} <= names
    assert schema_errors(manifest, manifest_schema()) == []
    assert f"  {MANIFEST_NAME}\n" in sums and "  exhibits/JS-2/item2.txt\n" in sums
    # Trusting the right key explicitly also passes; the export is on the ledger, naming the recipient.
    assert verify_bundle(bundle, {report.key_id: system.ledger.signing_key.public_raw}).ok
    with system.catalog.reading() as session:
        exported = session.execute(select(CustodyEventRow).where(CustodyEventRow.action == "EXPORTED")).scalars()
        rows = list(exported)
    assert len(rows) == 3 and all(r.actor == "do.patel" and r.reason == "pre-trial disclosure" for r in rows)
    assert all(json.loads(r.details)["recipient"] == "CPS Wessex" for r in rows)


@SINGLE
def test_a_schedule_export_holds_its_exhibits_and_the_schedule(
    system: EvidenceSystem, officer: Actor, tmp_path: Path
) -> None:
    bundle = _export(system, officer, tmp_path / "mg6c.zip", schedule="MG6C")
    assert verify_bundle(bundle).ok
    with zipfile.ZipFile(bundle) as archive:
        manifest = json.loads(archive.read(MANIFEST_NAME))
        csv_text = archive.read("schedules/MG6C.csv").decode()
        uco = json.loads(archive.read(manifest["case_uco"]))
    assert [e["exhibit_ref"] for e in manifest["exhibits"]] == ["JS/1", "JS/2"]
    assert manifest["schedules"] == [{"schedule": "MG6C", "file": "schedules/MG6C.csv", "items": 1}]
    assert "Body-worn video and notebook" in csv_text
    # The CASE/UCO graph inside names only the exported exhibits, and no case-wide event (the decisions).
    text = json.dumps(uco)
    assert '"JS/1"' in text and '"JS/2"' in text and '"JS/3"' not in text
    assert "DISCLOSURE_DECIDED" not in text and "Body-worn video and notebook" not in text


@SINGLE
def test_an_encrypted_bundle_verifies_through_its_passphrase(
    system: EvidenceSystem, officer: Actor, tmp_path: Path
) -> None:
    passphrase = "staple battery horse correct"
    bundle = _export(system, officer, tmp_path / "case.zip.enc", passphrase=passphrase)
    sealed = bundle.read_bytes()
    assert is_encrypted(sealed) and b"manifest.json" not in sealed and b"exhibit 1\n" not in sealed
    report = verify_bundle(bundle, passphrase=passphrase)
    assert report.ok and report.encrypted, report.problems
    assert "every encrypted chunk authenticated" in " ".join(report.verdict())
    missing = verify_bundle(bundle)
    assert not missing.ok and missing.problems[0][0] == "EX-BUNDLE-PASSPHRASE"
    wrong = verify_bundle(bundle, passphrase="another long passphrase")
    assert not wrong.ok and wrong.problems == [("EX-BUNDLE-PASSPHRASE", wrong.problems[0][1])]
    damaged = tmp_path / "damaged.zip.enc"
    flipped = bytearray(sealed)
    flipped[len(flipped) // 2] ^= 1
    damaged.write_bytes(bytes(flipped))
    report = verify_bundle(damaged, passphrase=passphrase)
    assert not report.ok and report.problems[0][0] == "EX-BUNDLE-INVALID"
    assert "fails authentication" in report.problems[0][1]
    plain = tmp_path / "plain.zip"
    with bundle.open("rb") as source, plain.open("wb") as sink:
        decrypt_file(source, sink, passphrase)
    assert verify_bundle(plain).ok
    with system.catalog.reading() as session:
        exported = session.execute(select(CustodyEventRow).where(CustodyEventRow.action == "EXPORTED")).scalars()
        details = [json.loads(e.details) for e in exported]
    assert all(d["encrypted"] for d in details) and passphrase not in json.dumps(details)
    with pytest.raises(BundlePassphraseError):
        _export(system, officer, tmp_path / "weak.zip.enc", passphrase="short")


@SINGLE
def test_export_needs_the_role_and_a_reason(
    system: EvidenceSystem, officer: Actor, analyst: Actor, tmp_path: Path
) -> None:
    with pytest.raises(AccessDeniedError, match="may not export"):
        export_bundle(system, analyst, CASE, tmp_path / "a.zip", recipient="CPS", reason="because")
    with pytest.raises(AccessDeniedError, match="reason"):
        export_bundle(system, officer, CASE, tmp_path / "b.zip", recipient="CPS", reason=" ")
    assert not (tmp_path / "a.zip").exists() and not (tmp_path / "b.zip").exists()


@SINGLE
def test_a_redacted_export_takes_only_approved_copies(system: EvidenceSystem, officer: Actor, tmp_path: Path) -> None:
    with system.catalog.reading() as session:
        original = (
            session.execute(select(CustodyEventRow.object_sha256).where(CustodyEventRow.action == "RECEIVED"))
            .scalars()
            .first()
        )
        exhibit_id = (
            session.execute(select(CustodyEventRow.exhibit_id).where(CustodyEventRow.object_sha256 == original))
            .scalars()
            .first()
        )
    assert original is not None and exhibit_id is not None
    copy = tmp_path / "redacted.txt"
    copy.write_bytes(b"exhibit [REDACTED]\n")
    made = record_derivative(
        system,
        officer,
        exhibit_id,
        "redacted_copy",
        copy,
        Provenance(original, "exhibit redaction", "test", {"mode": "all"}),
        permission=Permission.REDACT,
    )
    with pytest.raises(RedactionNotApprovedError) as refused:
        _export(system, officer, tmp_path / "pending.zip", redacted=True)
    assert refused.value.code == "EX-REDACTION-NOT-APPROVED"
    review_redaction(system, officer, exhibit_id, made.sha256, "approved", "watched it through: all faces hidden")
    bundle = _export(system, officer, tmp_path / "redacted.zip", redacted=True)
    report = verify_bundle(bundle)
    assert report.ok, report.problems
    with zipfile.ZipFile(bundle) as archive:
        manifest = json.loads(archive.read(MANIFEST_NAME))
        first = manifest["exhibits"][0]
        assert first["content"] == "redacted_copy" and first["redacted_copy"]["sha256"] == made.sha256
        assert archive.read(first["file"]) == b"exhibit [REDACTED]\n"
    assert [e["content"] for e in manifest["exhibits"][1:]] == ["original", "original"]


# -- tampering ------------------------------------------------------------------------------------------------


def _rewrite(bundle: Path, out: Path, edit: Callable[[dict[str, bytes]], None]) -> Path:
    with zipfile.ZipFile(bundle) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    edit(members)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out


def _flip(data: bytes, at: int = 3) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def _edit_event(members: dict[str, bytes]) -> None:
    proof = json.loads(members["custody/JS-1.json"])
    proof["events"][0]["event"]["actor"] = "someone.else"
    members["custody/JS-1.json"] = json.dumps(proof).encode()


def _resign_with_other_key(members: dict[str, bytes]) -> None:
    """An attacker's own key in place of ours, the manifest re-signed with it (its digests and proofs kept)."""
    other = SigningKey.generate()
    manifest = json.loads(members[MANIFEST_NAME])
    old_key = manifest["public_key"]
    new_key = f"keys/{other.key_id}.pub.pem"
    members[new_key] = other.public_pem().encode()
    del members[old_key]
    for entry in manifest["files"]:
        if entry["path"] == old_key:
            data = members[new_key]
            entry.update(
                path=new_key,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                md5=hashlib.md5(data).hexdigest(),
                sha1=hashlib.sha1(data).hexdigest(),
            )
    manifest.update(key_id=other.key_id, public_key=new_key)
    members[MANIFEST_NAME] = json.dumps(manifest).encode()
    signature = {"format": "exhibit-bundle-signature/1", "key_id": other.key_id}
    signature["signature"] = other.sign(manifest_payload(manifest)).hex()
    members[SIGNATURE_NAME] = json.dumps(signature).encode()


def _swap_key_only(members: dict[str, bytes]) -> None:
    name = next(n for n in members if n.startswith("keys/"))
    members[name] = SigningKey.generate().public_pem().encode()


TAMPERS: dict[str, tuple[Callable[[dict[str, bytes]], None], list[str]]] = {
    "exhibit byte": (
        lambda m: m.update({"exhibits/JS-2/item2.txt": _flip(m["exhibits/JS-2/item2.txt"])}),
        ["exhibits/JS-2/item2.txt was altered"],
    ),
    "manifest byte": (
        lambda m: m.update({MANIFEST_NAME: m[MANIFEST_NAME].replace(b"CPS Wessex", b"CPS Wessey")}),
        ["the manifest signature does not verify"],
    ),
    "custody event": (_edit_event, ["custody/JS-1.json was altered", "was altered: its content hashes differently"]),
    "dropped file": (lambda m: m.pop("exhibits/JS-3/item3.txt"), ["exhibits/JS-3/item3.txt is listed in the manifest"]),
    "added file": (
        lambda m: m.update({"exhibits/JS-9/extra.txt": b"planted"}),
        ["exhibits/JS-9/extra.txt is in the zip"],
    ),
    "public key swapped": (_swap_key_only, ["is not the manifest's key"]),
    "re-signed with another key": (_resign_with_other_key, ["the checkpoint signature does not verify"]),
}


@SINGLE
def test_tampering_is_refused_with_its_reason(system: EvidenceSystem, officer: Actor, tmp_path: Path) -> None:
    bundle = _export(system, officer, tmp_path / "case.zip")
    assert verify_bundle(bundle).ok
    for label, (edit, expected) in TAMPERS.items():
        report = verify_bundle(_rewrite(bundle, tmp_path / f"{label}.zip", edit))
        problems = " | ".join(what for _code, what in report.problems)
        assert not report.ok, label
        assert all(code == "EX-BUNDLE-INVALID" for code, _ in report.problems), (label, report.problems)
        for text in expected:
            assert text in problems, (label, problems)
        assert report.verdict()[0].startswith("NOT VERIFIED")
    # A recipient who pins our key refuses a bundle signed by any other.
    other = _rewrite(bundle, tmp_path / "other.zip", _resign_with_other_key)
    pinned = verify_bundle(other, {system.ledger.signing_key.key_id: system.ledger.signing_key.public_raw})
    assert "not one you trust" in pinned.problems[0][1]


def _with_entry(bundle: Path, out: Path, info: zipfile.ZipInfo, data: bytes) -> Path:
    _rewrite(bundle, out, lambda m: None)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(info, data)
    return out


def _symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@SINGLE
@pytest.mark.parametrize(
    ("info", "data", "reason"),
    [
        (zipfile.ZipInfo("../x"), b"escape", "climbs out of the bundle"),
        (zipfile.ZipInfo("exhibits/../../x"), b"escape", "climbs out of the bundle"),
        (zipfile.ZipInfo("/etc/cron.d/x"), b"absolute", "is an absolute path"),
        (zipfile.ZipInfo("C:/Windows/x"), b"absolute", "is an absolute path"),
        (_symlink("exhibits/JS-1/link"), b"/etc/passwd", "is a symbolic link"),
        (zipfile.ZipInfo("bomb.bin"), b"\0" * (64 * 2**20), "zip bomb"),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "drive", "symlink", "bomb"],
)
def test_unsafe_zips_are_refused_before_reading(
    system: EvidenceSystem, officer: Actor, tmp_path: Path, info: zipfile.ZipInfo, data: bytes, reason: str
) -> None:
    bundle = _export(system, officer, tmp_path / "case.zip")
    info.compress_type = zipfile.ZIP_DEFLATED
    report = verify_bundle(_with_entry(bundle, tmp_path / "unsafe.zip", info, data))
    assert not report.ok
    assert report.problems[0][0] == "EX-BUNDLE-UNSAFE" and reason in report.problems[0][1], report.problems


def test_not_a_zip_is_reported(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip at all")
    report = verify_bundle(junk)
    assert not report.ok and report.problems[0][0] == "EX-BUNDLE-INVALID"


# -- the verifier stays pure and agrees with the ledger ----------------------------------------------------------


def test_the_verifier_loads_no_sql_or_store() -> None:
    code = (
        "import sys, evidence_store.bundle_verify; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'boto3', 'dagster') "
        "or m in ('evidence_store.catalog', 'evidence_store.objects', 'evidence_store.ledger')); print(bad)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@SINGLE
def test_the_verifier_hashes_events_as_the_ledger_does(system: EvidenceSystem, officer: Actor) -> None:
    with system.catalog.reading() as session:
        rows = list(session.execute(select(CustodyEventRow).order_by(CustodyEventRow.seq)).scalars())
    assert rows
    for row in rows:
        event = CustodyEvent.from_row(row)
        assert event_hash(event.to_dict()) == event.entry_hash == event.compute_hash()


def test_the_manifest_schema_is_valid_json_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(manifest_schema())


@SINGLE
def test_a_duplicate_entry_is_refused(system: EvidenceSystem, officer: Actor, tmp_path: Path) -> None:
    """Two members of one name: a reader could check one and extract the other."""
    bundle = _export(system, officer, tmp_path / "case.zip")
    with pytest.warns(UserWarning, match="Duplicate name"):
        twice = _with_entry(bundle, tmp_path / "twice.zip", zipfile.ZipInfo("exhibits/JS-1/item1.txt"), b"other")
    report = verify_bundle(twice)
    assert report.problems[0][0] == "EX-BUNDLE-UNSAFE" and "appears twice" in report.problems[0][1]


@SINGLE
def test_sha256sum_checks_the_unzipped_bundle(system: EvidenceSystem, officer: Actor, tmp_path: Path) -> None:
    tool = shutil.which("sha256sum")
    if tool is None:
        pytest.skip("no sha256sum here")
    bundle = _export(system, officer, tmp_path / "case.zip")
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(unpacked)
    result = subprocess.run([tool, "-c", "SHA256SUMS"], cwd=unpacked, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "exhibits/JS-1/item1.txt: OK" in result.stdout


@SINGLE
def test_a_damaged_stored_exhibit_is_not_exported(system: EvidenceSystem, officer: Actor, tmp_path: Path) -> None:
    with system.catalog.reading() as session:
        sha256 = (
            session.execute(select(CustodyEventRow.object_sha256).where(CustodyEventRow.action == "RECEIVED"))
            .scalars()
            .first()
        )
    assert sha256 is not None
    flip_stored_byte(system, sha256)
    with pytest.raises(ExhibitError):
        _export(system, officer, tmp_path / "damaged.zip")
    assert not (tmp_path / "damaged.zip").exists() and not (tmp_path / "damaged.zip.partial").exists()
    with system.catalog.reading() as session:
        assert session.execute(select(CustodyEventRow).where(CustodyEventRow.action == "EXPORTED")).first() is None


@SINGLE
def test_large_and_empty_exhibits_stream_through(
    system: EvidenceSystem, officer: Actor, analyst: Actor, tmp_path: Path
) -> None:
    """A 40 MiB exhibit of zeros (a mostly empty disk image) is stored, not deflated past the bomb ratio, and
    an empty file is an exhibit too."""
    zeros = tmp_path / "disk.raw"
    with zeros.open("wb") as handle:
        handle.truncate(40 * 2**20)
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    ingest(system, analyst, [zeros, empty], IngestRequest(case_ref=CASE, by="Jane Smith"))
    bundle = _export(system, officer, tmp_path / "big.zip")
    report = verify_bundle(bundle)
    assert report.ok, report.problems
    with zipfile.ZipFile(bundle) as archive:
        big = next(i for i in archive.infolist() if i.filename.endswith("disk.raw"))
    assert big.file_size == 40 * 2**20 and big.compress_type == zipfile.ZIP_STORED
