"""Envelope encryption of stored objects: AES-256-GCM in fixed-size chunks under a per-object data key.

Layout of a stored object::

    b"EXHOBJ01" | uint32 header length | header (canonical JSON) | chunk 0 | chunk 1 | ... | chunk n-1
    chunk i = AES-256-GCM(data key, nonce = 0^4 || i, aad = domain || object id || i || final flag) -> ct || tag

Why this shape:
- Fixed-size chunks let a ranged read (video seeking) decrypt only the chunks it needs.
- The chunk index and the random object id are authenticated, so chunks cannot be reordered or swapped between
  objects; the final flag on the last chunk makes truncation at a chunk boundary detectable. An empty object is
  one empty final chunk, so every object has at least one tag.
- The data key is wrapped by a master key (key id recorded) with the object id, key id and chunk size as
  associated data: editing any header field makes unwrapping fail, so the header needs no signature of its own.
- Nonces are the chunk index: safe because every object has its own random data key.

Bulk chunk encryption uses OpenSSL's AES-GCM through `cryptography` (2.8 GB/s here against 1.2 GB/s for
pycryptodome's GCM): the one-pass put is bounded by MD5 on one core, and the encryption must fit beside SHA-1
and SHA-256 on the other.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from evidence_store.errors import ChunkIntegrityError, KeyMissingError, KeyUnwrapError, ObjectFormatError

MAGIC = b"EXHOBJ01"
ALGORITHM = "AES-256-GCM"
TAG_SIZE = 16
DEFAULT_CHUNK_SIZE = 1 << 20
MAX_HEADER = 4096
_CHUNK_DOMAIN = b"exhibit.object-chunk.v1\x00"
_WRAP_DOMAIN = b"exhibit.data-key-wrap.v1\x00"
_KEY_ID_DOMAIN = b"exhibit.master-key-id.v1\x00"
_MASTER_KEY_ID = re.compile(r"^mk-[0-9a-f]{16}$")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def master_key_id(key: bytes) -> str:
    """A stable public name for a master key: it identifies the key without revealing it."""
    return "mk-" + hashlib.sha256(_KEY_ID_DOMAIN + key).hexdigest()[:16]


class LocalKeyProvider:
    """Master keys kept as files (mode 0600) in one folder; the current key wraps new data keys.

    Old keys stay in the folder so objects wrapped under them still open after a rotation.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _path(self, key_id: str) -> Path:
        return self.directory / f"{key_id}.key"

    def create(self) -> str:
        """Makes a new random master key, makes it current and returns its id."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = secrets.token_bytes(32)
        key_id = master_key_id(key)
        _write_secret(self._path(key_id), _b64(key).encode("ascii") + b"\n")
        _write_secret(self.directory / "current", key_id.encode("ascii") + b"\n")
        return key_id

    def current_id(self) -> str:
        try:
            return (self.directory / "current").read_text().strip()
        except FileNotFoundError as exc:
            raise KeyMissingError(
                f"no master key in {self.directory}; run `exhibit init` first", directory=str(self.directory)
            ) from exc

    def get(self, key_id: str) -> bytes:
        if not _MASTER_KEY_ID.match(key_id):
            raise KeyMissingError(f"{key_id!r} is not a master key id", key_id=key_id)
        try:
            key = _unb64(self._path(key_id).read_text().strip())
        except ValueError as exc:
            raise KeyMissingError(f"the file for master key {key_id} is corrupt", key_id=key_id) from exc
        except FileNotFoundError as exc:
            raise KeyMissingError(
                f"master key {key_id} is not in {self.directory}",
                key_id=key_id,
                directory=str(self.directory),
            ) from exc
        if master_key_id(key) != key_id:
            raise KeyMissingError(f"the file for master key {key_id} holds a different key", key_id=key_id)
        return key


def _write_secret(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


@dataclass(frozen=True, slots=True)
class Envelope:
    """Everything needed, with the master key, to decrypt one stored object."""

    object_id: str  # 32 hex chars, random per stored object
    key_id: str
    wrapped_key: bytes  # nonce (12) || AES-GCM(master, data key) || tag
    chunk_size: int
    algorithm: str = ALGORITHM

    def __post_init__(self) -> None:
        if len(self.object_id) != 32 or any(c not in "0123456789abcdef" for c in self.object_id):
            raise ObjectFormatError(f"bad object id {self.object_id!r} in envelope")
        if self.algorithm != ALGORITHM:
            raise ObjectFormatError(f"unsupported algorithm {self.algorithm!r}")
        if not 4096 <= self.chunk_size <= 64 << 20:
            raise ObjectFormatError(f"implausible chunk size {self.chunk_size}")
        if len(self.wrapped_key) != 12 + 32 + TAG_SIZE:
            raise ObjectFormatError("wrapped data key has the wrong length")

    def to_dict(self) -> dict[str, Any]:
        return {
            "alg": self.algorithm,
            "chunk_size": self.chunk_size,
            "key_id": self.key_id,
            "object_id": self.object_id,
            "wrapped_key": _b64(self.wrapped_key),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Envelope:
        try:
            return cls(
                object_id=str(data["object_id"]),
                key_id=str(data["key_id"]),
                wrapped_key=_unb64(str(data["wrapped_key"])),
                chunk_size=int(data["chunk_size"]),
                algorithm=str(data["alg"]),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ObjectFormatError(f"malformed envelope: {exc}") from exc

    def header_bytes(self) -> bytes:
        body = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()
        return MAGIC + struct.pack(">I", len(body)) + body

    def unwrap(self, keys: LocalKeyProvider) -> bytes:
        master = keys.get(self.key_id)
        try:
            aad = _wrap_aad(self.object_id, self.key_id, self.chunk_size)
            return AESGCM(master).decrypt(self.wrapped_key[:12], self.wrapped_key[12:], aad)
        except InvalidTag as exc:
            raise KeyUnwrapError(
                f"the data key of object {self.object_id} does not unwrap: header altered or wrong master key",
                object_id=self.object_id,
            ) from exc


def _wrap_aad(object_id: str, key_id: str, chunk_size: int) -> bytes:
    return _WRAP_DOMAIN + bytes.fromhex(object_id) + key_id.encode() + struct.pack(">Q", chunk_size)


def new_envelope(keys: LocalKeyProvider, chunk_size: int = DEFAULT_CHUNK_SIZE) -> tuple[Envelope, bytes]:
    """Makes a fresh data key and its envelope; returns (envelope, data key)."""
    key_id = keys.current_id()
    master = keys.get(key_id)
    data_key = AESGCM.generate_key(bit_length=256)
    object_id = secrets.token_hex(16)
    nonce = secrets.token_bytes(12)
    wrapped = nonce + AESGCM(master).encrypt(nonce, data_key, _wrap_aad(object_id, key_id, chunk_size))
    return Envelope(object_id, key_id, wrapped, chunk_size), data_key


def parse_header(prefix: bytes) -> tuple[Envelope, int]:
    """Parses the header at the start of a stored object; returns (envelope, offset of chunk 0).

    Raises:
        ObjectFormatError: the bytes do not start with a valid Exhibit object header.
    """
    if len(prefix) < 12 or prefix[:8] != MAGIC:
        raise ObjectFormatError("not an Exhibit object (bad magic)")
    (length,) = struct.unpack(">I", prefix[8:12])
    if length > MAX_HEADER or len(prefix) < 12 + length:
        raise ObjectFormatError(f"object header length {length} is implausible or cut short")
    try:
        data = json.loads(prefix[12 : 12 + length])
    except ValueError as exc:
        raise ObjectFormatError(f"object header is not JSON: {exc}") from exc
    return Envelope.from_dict(data), 12 + length


def chunk_nonce(index: int) -> bytes:
    """The nonce of chunk `index` (safe only under a key used for one object or one bundle)."""
    return b"\x00\x00\x00\x00" + struct.pack(">Q", index)


def _chunk_aad(object_id: str, index: int, final: bool) -> bytes:
    return _CHUNK_DOMAIN + bytes.fromhex(object_id) + struct.pack(">QB", index, 1 if final else 0)


class ChunkCipher:
    """Encrypts or decrypts the chunks of one object under its data key."""

    def __init__(self, envelope: Envelope, data_key: bytes) -> None:
        self.envelope = envelope
        self._aead = AESGCM(data_key)

    def encrypt_into(self, index: int, final: bool, plaintext: memoryview | bytes, out: bytearray) -> memoryview:
        """Encrypts chunk `index` into `out` (reused between calls) and returns the ciphertext with its tag."""
        view = memoryview(out)[: len(plaintext) + TAG_SIZE]
        self._aead.encrypt_into(chunk_nonce(index), plaintext, _chunk_aad(self.envelope.object_id, index, final), view)
        return view

    def decrypt(self, index: int, final: bool, sealed: bytes) -> bytes:
        """Decrypts chunk `index`.

        Raises:
            ChunkIntegrityError: the chunk was altered, moved, swapped from another object or cut short.
        """
        try:
            return self._aead.decrypt(chunk_nonce(index), sealed, _chunk_aad(self.envelope.object_id, index, final))
        except InvalidTag as exc:
            raise ChunkIntegrityError(
                f"chunk {index} of object {self.envelope.object_id} fails authentication "
                "(altered, reordered, swapped or truncated)",
                object_id=self.envelope.object_id,
                chunk=index,
            ) from exc


def chunk_count(plaintext_size: int, chunk_size: int) -> int:
    return max(1, -(-plaintext_size // chunk_size))


def sealed_size(plaintext_size: int, chunk_size: int) -> int:
    """Size of the chunk area for a plaintext of this size (header excluded)."""
    return plaintext_size + TAG_SIZE * chunk_count(plaintext_size, chunk_size)


def plaintext_size(sealed: int, chunk_size: int) -> int:
    """Inverse of `sealed_size`.

    Raises:
        ObjectFormatError: no plaintext size gives this sealed size (the object was truncated or padded).
    """
    full = chunk_size + TAG_SIZE
    chunks, rest = divmod(sealed, full)
    if rest == 0 and chunks > 0:
        size = chunks * chunk_size
    elif rest >= TAG_SIZE:
        size = chunks * chunk_size + rest - TAG_SIZE
    else:
        raise ObjectFormatError(f"stored size {sealed} cannot hold whole chunks of {chunk_size}")
    if sealed_size(size, chunk_size) != sealed:
        raise ObjectFormatError(f"stored size {sealed} cannot hold whole chunks of {chunk_size}")
    return size
