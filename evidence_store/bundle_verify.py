"""Offline verification of a case bundle (`exhibit verify-bundle`): no server, no database, no object store.

This module is deliberately pure: the standard library, `cryptography` for Ed25519, `evidence_store.merkle`
and `evidence_store.digests` (the streaming hasher; both themselves pure) and the manifest's JSON schema.
`evidence_store.proofs` cannot be used here because it imports the ledger, which imports SQLAlchemy and the
catalog; so the few rules a recipient needs (canonical JSON, the event hash, the checkpoint payload, the Merkle
leaf of an event) are restated below, and the tests check them against the ledger's own on real events. A test
also checks that importing this module loads no SQL.

Zips are hostile until proven otherwise: every entry name, type and size is checked before anything is read,
and every read is streamed with a cap at the entry's declared size.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import stat
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

from evidence_store.bundle_crypto import MAGIC as ENCRYPTED_MAGIC
from evidence_store.bundle_crypto import DecryptingReader, is_encrypted
from evidence_store.digests import hash_stream
from evidence_store.errors import BundleInvalidError, BundlePassphraseError, BundleUnsafeError
from evidence_store.merkle import leaf_hash, verify_inclusion

BUNDLE_FORMAT = "exhibit-bundle/1"
SIGNATURE_FORMAT = "exhibit-bundle-signature/1"
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig.json"
SUMS_NAME = "SHA256SUMS"
# Distinct from ledger events ("exhibit.custody-event.v1") and checkpoints ("exhibit.checkpoint.v1"): a manifest
# signature can never be replayed as either.
MANIFEST_DOMAIN = b"exhibit.bundle-manifest.v1\x00"
_EVENT_DOMAIN = b"exhibit.custody-event.v1\x00"  # as evidence_store.ledger
_CHECKPOINT_DOMAIN = b"exhibit.checkpoint.v1\x00"  # as evidence_store.proofs
_SIGNING_KEY_ID_DOMAIN = b"exhibit.signing-key-id.v1\x00"  # as evidence_store.ledger
CHECKPOINT_FORMAT = "exhibit-checkpoint/1"
PROOF_FORMAT = "exhibit-custody-proof/1"
# Limits on what a bundle may be. Exhibits are media that barely compress; a high ratio on a large entry is
# a decompression bomb. JSON members are read whole, so they have a smaller cap.
MAX_ENTRIES = 100_000
MAX_TOTAL_SIZE = 256 * 2**30
MAX_RATIO = 100
RATIO_FLOOR = 1 * 2**20  # entries smaller than this may compress as well as they like
MAX_JSON_SIZE = 512 * 2**20
_BLOCK = 1 * 2**20
_EVENT_FIELDS = (
    "action",
    "actor",
    "case",
    "details",
    "exhibit",
    "key_id",
    "object_sha256",
    "prev_hash",
    "reason",
    "recorded_at",
    "role",
    "seq",
)


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN: the bytes the ledger and the manifest signature cover."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def manifest_payload(manifest: Mapping[str, Any]) -> bytes:
    """What the manifest signature signs: the domain prefix and the manifest's canonical JSON."""
    return MANIFEST_DOMAIN + canonical_json(dict(manifest))


def signing_key_id(public_raw: bytes) -> str:
    return "sk-" + hashlib.sha256(_SIGNING_KEY_ID_DOMAIN + public_raw).hexdigest()[:16]


def public_key_raw(pem: bytes) -> bytes:
    """The 32 raw bytes of an Ed25519 public key in PEM. Raises ValueError for anything else."""
    key = load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _signed(public_raw: bytes, message: bytes, signature_hex: Any) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(bytes.fromhex(str(signature_hex)), message)
        return True
    except (InvalidSignature, ValueError):
        return False


def event_hash(event: Mapping[str, Any]) -> str:
    """The entry hash of a ledger event as exported (`CustodyEvent.to_dict`)."""
    body = {name: event[name] for name in _EVENT_FIELDS}
    return hashlib.sha256(_EVENT_DOMAIN + canonical_json(body)).hexdigest()


def checkpoint_payload(checkpoint: Mapping[str, Any]) -> bytes:
    body = {name: checkpoint[name] for name in ("format", "tree_size", "root", "created_at", "key_id")}
    return _CHECKPOINT_DOMAIN + canonical_json(body)


def verify_checkpoint(checkpoint: Mapping[str, Any], public_keys: Mapping[str, bytes]) -> bool:
    try:
        if checkpoint["format"] != CHECKPOINT_FORMAT or int(checkpoint["tree_size"]) < 1:
            return False
        public = public_keys.get(str(checkpoint["key_id"]))
        return public is not None and _signed(public, checkpoint_payload(checkpoint), checkpoint["signature"])
    except (KeyError, TypeError, ValueError):
        return False


# -- the manifest schema --------------------------------------------------------------------------------------


def manifest_schema() -> dict[str, Any]:
    text = resources.files("schemas").joinpath("bundle_manifest.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "null": (type(None),),
}


def schema_errors(
    value: Any, schema: Mapping[str, Any], root: Mapping[str, Any] | None = None, at: str = "$"
) -> list[str]:
    """A small validator for the subset of JSON Schema the manifest schema uses (type, const, enum, required,
    properties, additionalProperties false, items, minimum, minLength, pattern, local $ref), so the verifier
    needs no third-party package."""
    root = root if root is not None else schema
    if "$ref" in schema:
        target: Any = root
        for part in str(schema["$ref"]).removeprefix("#/").split("/"):
            target = target[part]
        return schema_errors(value, target, root, at)
    errors: list[str] = []
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        fits = any(isinstance(value, _TYPES[n]) and not (n == "integer" and isinstance(value, bool)) for n in names)
        if not fits:
            return [f"{at}: expected {' or '.join(names)}"]
    if "const" in schema and value != schema["const"]:
        errors.append(f"{at}: must be {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{at}: must be one of {schema['enum']}")
    if isinstance(value, str):
        if len(value) < int(schema.get("minLength", 0)):
            errors.append(f"{at}: too short")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{at}: does not match {schema['pattern']}")
    if isinstance(value, int) and not isinstance(value, bool) and "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{at}: below {schema['minimum']}")
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{at}: {name} is missing")
        properties = schema.get("properties", {})
        for name, item in value.items():
            if name in properties:
                errors.extend(schema_errors(item, properties[name], root, f"{at}.{name}"))
            elif schema.get("additionalProperties") is False:
                errors.append(f"{at}: unexpected field {name}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors.extend(schema_errors(item, schema["items"], root, f"{at}[{i}]"))
    return errors


# -- zip safety -----------------------------------------------------------------------------------------------

_DRIVE = re.compile(r"^[A-Za-z]:")


def unsafe_entry(info: zipfile.ZipInfo) -> str | None:
    """Why a zip entry is refused, or None. Checked for every entry before any is read."""
    name = info.filename
    if not name or name.startswith(("/", "\\")) or _DRIVE.match(name):
        return f"{name!r} is an absolute path"
    if "\\" in name or "\x00" in name:
        return f"{name!r} holds a backslash or NUL"
    parts = name.rstrip("/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        return f"{name!r} climbs out of the bundle or has an empty path component"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return f"{name!r} is a symbolic link"
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):  # many zip tools leave the type bits unset
        return f"{name!r} is not a regular file"
    if info.flag_bits & 0x1:
        return f"{name!r} is encrypted"
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        return (
            f"{name!r} expands {info.file_size} bytes from {info.compress_size}: more than {MAX_RATIO}:1 (a zip bomb)"
        )
    return None


def check_zip_safety(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Every entry by name, once all have passed the checks.

    Raises:
        BundleUnsafeError: the first entry refused, and why.
    """
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise BundleUnsafeError(f"the zip has {len(infos)} entries, more than {MAX_ENTRIES}")
    entries: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        why = unsafe_entry(info)
        if why is not None:
            raise BundleUnsafeError(f"refused: {why}", entry=info.filename)
        if info.filename in entries:
            raise BundleUnsafeError(f"refused: {info.filename!r} appears twice", entry=info.filename)
        entries[info.filename] = info
        total += info.file_size
    if total > MAX_TOTAL_SIZE:
        raise BundleUnsafeError(f"refused: the zip declares {total} bytes, more than {MAX_TOTAL_SIZE}")
    return entries


def _blocks(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The entry's bytes, streamed; never more than its declared size (a lying header is refused)."""
    produced = 0
    with archive.open(info) as handle:
        while block := handle.read(_BLOCK):
            produced += len(block)
            if produced > info.file_size:
                raise BundleUnsafeError(f"refused: {info.filename!r} expands beyond its declared size")
            yield block


def _read_json(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Any:
    if info.file_size > MAX_JSON_SIZE:
        raise BundleUnsafeError(f"refused: {info.filename!r} is larger than {MAX_JSON_SIZE} bytes")
    return json.loads(b"".join(_blocks(archive, info)))


def _digests(blocks: Iterator[bytes]) -> dict[str, Any]:
    """Size, SHA-256, MD5 and SHA-1 of a member, all computed here: none of the manifest's claims is trusted.

    One read; MD5 in one thread and SHA-1 + SHA-256 in another (`hash_stream`), beside the zip's read and
    CRC-32 check in this one, so checking three digests takes little longer than the slowest (MD5) alone.
    """
    return hash_stream(blocks).to_dict()


# -- the verdict ----------------------------------------------------------------------------------------------


@dataclass
class BundleVerification:
    """What was checked and, where something failed, what: `problems` holds (code, what failed) in order."""

    ok: bool = False
    case: str | None = None
    recipient: str | None = None
    key_id: str | None = None
    key_source: str = "the bundle"
    files_checked: int = 0
    exhibits_checked: int = 0
    events_checked: int = 0
    checkpoint_size: int | None = None
    encrypted: bool = False
    problems: list[tuple[str, str]] = field(default_factory=list)

    def fail(self, code: str, what: str) -> None:
        self.problems.append((code, what))

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "case": self.case,
            "recipient": self.recipient,
            "key_id": self.key_id,
            "key_source": self.key_source,
            "files_checked": self.files_checked,
            "exhibits_checked": self.exhibits_checked,
            "events_checked": self.events_checked,
            "checkpoint_size": self.checkpoint_size,
            "encrypted": self.encrypted,
            "problems": [{"code": c, "what": w} for c, w in self.problems],
        }

    def verdict(self) -> list[str]:
        """The plain-language verdict, line by line."""
        if self.ok:
            return [
                f"VERIFIED: this bundle for case {self.case} (for {self.recipient}) is complete and unaltered.",
                f"All {self.files_checked} files match the digests in the signed manifest.",
                f"The custody of {self.exhibits_checked} exhibit(s), {self.events_checked} events, is proven "
                f"included in the ledger checkpoint of {self.checkpoint_size} events, signed by key {self.key_id}.",
                f"The signing key was taken from {self.key_source}: compare its fingerprint {self.key_id} with "
                "the one the force publishes."
                if self.key_source == "the bundle"
                else f"The signing key {self.key_id} is the one you supplied.",
                *(
                    ["It was encrypted for transfer, and every encrypted chunk authenticated."]
                    if self.encrypted
                    else []
                ),
            ]
        lines = ["NOT VERIFIED: this bundle failed its checks and must not be relied on as it stands."]
        lines += [f"[{code}] {what}" for code, what in self.problems]
        return lines


_INVALID = BundleInvalidError.code


def verify_bundle(
    path: Path | IO[bytes], trusted_keys: Mapping[str, bytes] | None = None, passphrase: str | None = None
) -> BundleVerification:
    """Checks a bundle made by `exhibit export`, offline.

    Args:
        path: The bundle (a zip file, or a zip encrypted by `exhibit export --encrypt`).
        trusted_keys: Public keys the recipient trusts, by key id; when given, the bundle's own key must be one
            of them. Without it the bundle's key is used and its fingerprint reported.
        passphrase: For an encrypted bundle: it is read through the decryption, never written out in plain.

    Returns:
        The verdict: the passphrase (EX-BUNDLE-PASSPHRASE), zip safety (EX-BUNDLE-UNSAFE), then the schema, the
        manifest signature, every file's size and digests, the sha256sum list, the checkpoint signature and
        every custody proof (EX-BUNDLE-INVALID; also every encrypted chunk's authentication).
    """
    report = BundleVerification()
    with contextlib.ExitStack() as stack:
        try:
            source = _plain_source(path, passphrase, report, stack)
            archive = stack.enter_context(zipfile.ZipFile(source))
        except (BundlePassphraseError, BundleInvalidError) as exc:
            report.fail(exc.code, exc.message)
            return report
        except (zipfile.BadZipFile, OSError) as exc:
            report.fail(_INVALID, f"the file is not a readable zip: {exc}")
            return report
        try:
            _verify(archive, report, trusted_keys)
        except (BundleUnsafeError, BundleInvalidError) as exc:
            report.fail(exc.code, exc.message)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:  # a CRC or structure error while streaming
            report.fail(_INVALID, f"the zip is damaged: {exc}")
    report.ok = not report.problems
    return report


def _plain_source(
    path: Path | IO[bytes], passphrase: str | None, report: BundleVerification, stack: contextlib.ExitStack
) -> IO[bytes]:
    """The zip to read: the file itself (opened once), or a decrypting view of an encrypted bundle."""
    raw: IO[bytes] = stack.enter_context(open(path, "rb")) if isinstance(path, (str, Path)) else path  # noqa: SIM115
    head = raw.read(len(ENCRYPTED_MAGIC))
    raw.seek(0)
    if not is_encrypted(head):
        return raw
    if passphrase is None:
        raise BundlePassphraseError("this bundle is encrypted: give its passphrase to check it")
    report.encrypted = True
    return io.BufferedReader(DecryptingReader(raw, passphrase), _BLOCK)


def _verify(archive: zipfile.ZipFile, report: BundleVerification, trusted: Mapping[str, bytes] | None) -> None:
    entries = check_zip_safety(archive)
    for name in (MANIFEST_NAME, SIGNATURE_NAME):
        if name not in entries:
            report.fail(_INVALID, f"{name} is missing")
            return
    try:
        manifest = _read_json(archive, entries[MANIFEST_NAME])
        signature = _read_json(archive, entries[SIGNATURE_NAME])
    except (ValueError, UnicodeDecodeError) as exc:
        report.fail(_INVALID, f"the manifest or its signature is not valid JSON: {exc}")
        return
    problems = schema_errors(manifest, manifest_schema())
    if problems:
        report.fail(_INVALID, f"the manifest does not follow its schema: {'; '.join(problems[:5])}")
        return
    report.case, report.recipient = manifest["case"]["reference"], manifest["recipient"]
    key_path = manifest["public_key"]
    if key_path not in entries:
        report.fail(_INVALID, f"the public key {key_path} named by the manifest is missing")
        return
    try:
        public = public_key_raw(b"".join(_blocks(archive, entries[key_path])))
    except ValueError as exc:
        report.fail(_INVALID, f"the public key {key_path} is unreadable: {exc}")
        return
    key_id = signing_key_id(public)
    report.key_id = key_id
    if key_id != manifest["key_id"]:
        report.fail(_INVALID, f"the public key in the bundle ({key_id}) is not the manifest's key {manifest['key_id']}")
        return
    if trusted is not None:
        report.key_source = "the keys you supplied"
        if key_id not in trusted or trusted[key_id] != public:
            report.fail(_INVALID, f"the bundle is signed by key {key_id}, which is not one you trust")
            return
    if (
        not isinstance(signature, dict)
        or signature.get("format") != SIGNATURE_FORMAT
        or signature.get("key_id") != key_id
        or not _signed(public, manifest_payload(manifest), signature.get("signature", ""))
    ):
        report.fail(
            _INVALID, "the manifest signature does not verify: the manifest was altered or not signed by this key"
        )
        return
    keys = {key_id: public}
    _check_files(archive, entries, manifest, report)
    _check_custody(archive, entries, manifest, keys, report)


def _check_files(
    archive: zipfile.ZipFile,
    entries: Mapping[str, zipfile.ZipInfo],
    manifest: Mapping[str, Any],
    report: BundleVerification,
) -> None:
    listed = {f["path"]: f for f in manifest["files"]}
    if len(listed) != len(manifest["files"]):
        report.fail(_INVALID, "the manifest lists a file twice")
    own = {MANIFEST_NAME, SIGNATURE_NAME, SUMS_NAME}
    for name, info in entries.items():
        if name.endswith("/") and info.file_size == 0:
            continue
        if name not in listed and name not in own:
            report.fail(_INVALID, f"{name} is in the zip but not in the signed manifest (a file was added)")
    for name, expected in listed.items():
        if name not in entries:
            report.fail(_INVALID, f"{name} is listed in the manifest but missing from the zip (a file was removed)")
            continue
        if entries[name].file_size != expected["size"]:
            report.fail(
                _INVALID,
                f"{name} was altered: it is {entries[name].file_size} bytes, the manifest says {expected['size']}",
            )
            continue
        observed = _digests(_blocks(archive, entries[name]))
        differing = [d for d in ("size", "sha256", "md5", "sha1") if observed[d] != expected[d]]
        if differing:
            report.fail(
                _INVALID,
                f"{name} was altered: its {', '.join(differing)} differ "
                f"(sha256 expected {expected['sha256']}, found {observed['sha256']})",
            )
            continue
        report.files_checked += 1
    if SUMS_NAME not in entries:
        report.fail(_INVALID, f"{SUMS_NAME} is missing")
        return
    info = entries[SUMS_NAME]
    if info.file_size > MAX_JSON_SIZE:
        raise BundleUnsafeError(f"refused: {SUMS_NAME} is larger than {MAX_JSON_SIZE} bytes")
    sums: dict[str, str] = {}
    for line in b"".join(_blocks(archive, info)).decode("utf-8", "replace").splitlines():
        digest, _, name = line.partition("  ")
        sums[name] = digest
    expected_sums = {name: f["sha256"] for name, f in listed.items()}
    for name in (MANIFEST_NAME, SIGNATURE_NAME):
        expected_sums[name] = hashlib.sha256(b"".join(_blocks(archive, entries[name]))).hexdigest()
    if sums != expected_sums:
        wrong = sorted(set(sums.items()) ^ set(expected_sums.items()))
        report.fail(_INVALID, f"{SUMS_NAME} disagrees with the manifest at {', '.join(sorted({n for n, _ in wrong}))}")


def _check_custody(
    archive: zipfile.ZipFile,
    entries: Mapping[str, zipfile.ZipInfo],
    manifest: Mapping[str, Any],
    keys: Mapping[str, bytes],
    report: BundleVerification,
) -> None:
    listed = {f["path"]: f for f in manifest["files"]}
    checkpoint_name = manifest["checkpoint"]
    if checkpoint_name not in entries or checkpoint_name not in listed:
        report.fail(_INVALID, f"the checkpoint {checkpoint_name} is missing")
        return
    try:
        checkpoint = _read_json(archive, entries[checkpoint_name])
    except ValueError as exc:
        report.fail(_INVALID, f"the checkpoint is not valid JSON: {exc}")
        return
    if not isinstance(checkpoint, dict) or not verify_checkpoint(checkpoint, keys):
        report.fail(_INVALID, "the checkpoint signature does not verify")
        return
    report.checkpoint_size = int(checkpoint["tree_size"])
    for exhibit in manifest["exhibits"]:
        label = f"exhibit {exhibit['exhibit_ref']}"
        if exhibit["custody"] not in entries or exhibit["custody"] not in listed:
            report.fail(_INVALID, f"{label}: its custody proof {exhibit['custody']} is missing")
            continue
        try:
            document = _read_json(archive, entries[exhibit["custody"]])
        except ValueError as exc:
            report.fail(_INVALID, f"{label}: its custody proof is not valid JSON: {exc}")
            continue
        try:
            problem, events = _proof_problem(document, exhibit, listed, keys)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # signed, yet not what we write
            problem, events = f"its custody proof is malformed ({type(exc).__name__}: {exc})", 0
        if problem is not None:
            report.fail(_INVALID, f"{label}: {problem}")
            continue
        report.exhibits_checked += 1
        report.events_checked += events


def _proof_problem(
    document: Any, exhibit: Mapping[str, Any], listed: Mapping[str, Any], keys: Mapping[str, bytes]
) -> tuple[str | None, int]:
    """Why an exhibit's custody proof does not hold for the exhibit the manifest describes, or None."""
    if not isinstance(document, dict) or document.get("format") != PROOF_FORMAT:
        return "its custody proof is not an Exhibit custody proof", 0
    checkpoint = document.get("checkpoint")
    if not isinstance(checkpoint, dict) or not verify_checkpoint(checkpoint, keys):
        return "the checkpoint of its custody proof does not verify", 0
    size, root = int(checkpoint["tree_size"]), bytes.fromhex(str(checkpoint["root"]))
    described = document.get("exhibit", {})
    if described.get("exhibit_id") != exhibit["exhibit_id"] or described.get("original") != exhibit["original"]:
        return "its custody proof is about another exhibit or other digests", 0
    received: Mapping[str, Any] | None = None
    approved: set[str] = set()
    derived: set[str] = set()
    checked = 0
    for item in document.get("events", []):
        try:
            event = item["event"]
            seq, action = int(event["seq"]), str(event["action"])
            computed = event_hash(event)
            path = [bytes.fromhex(h) for h in item["inclusion_proof"]]
            signature = bytes.fromhex(str(event["signature"]))
            entry = bytes.fromhex(str(event["entry_hash"]))
        except (KeyError, TypeError, ValueError) as exc:
            return f"a custody event is malformed ({exc})", checked
        label = f"custody event {seq} ({action})"
        if computed != event["entry_hash"]:
            return f"{label} was altered: its content hashes differently", checked
        public = keys.get(str(event["key_id"]))
        if public is None or not _signed(public, entry, event["signature"]):
            return f"{label} has no valid signature by the bundle's key", checked
        if event["exhibit"] != exhibit["exhibit_id"]:
            return f"{label} belongs to another exhibit", checked
        if not verify_inclusion(leaf_hash(entry + signature), seq - 1, size, path, root):
            return f"{label} is not included in the signed checkpoint of {size} events", checked
        if action == "RECEIVED" and received is None:
            received = event["details"]
        if action == "DERIVED" and event["object_sha256"]:
            derived.add(event["object_sha256"])
        if action == "REDACTION_REVIEWED" and event["object_sha256"]:
            verdict = event["details"].get("verdict") if isinstance(event["details"], dict) else None
            (approved.add if verdict == "approved" else approved.discard)(event["object_sha256"])
        checked += 1
    if received is None:
        return "its custody proof holds no signed receipt (RECEIVED)", checked
    for name in ("sha256", "md5", "sha1", "size"):
        if received.get(name) != exhibit["original"][name]:
            return f"the original's {name} is not the one its receipt signed for", checked
    content = listed.get(exhibit["file"])
    if content is None:
        return f"its file {exhibit['file']} is not in the manifest", checked
    if exhibit["content"] == "original":
        if content["sha256"] != exhibit["original"]["sha256"] or content["size"] != exhibit["original"]["size"]:
            return "its file is not the original its receipt signed for", checked
    else:
        copy = exhibit.get("redacted_copy")
        if copy is None or content["sha256"] != copy["sha256"]:
            return "its file is not the redacted copy the manifest names", checked
        if copy["sha256"] not in derived:
            return "the redacted copy was not made from this exhibit on the ledger (no DERIVED event)", checked
        if copy["sha256"] not in approved:
            return "the redacted copy has no approving review on the ledger", checked
    return None, checked
