"""Passphrase encryption of a whole case bundle for transfer: AES-256-GCM in chunks under a scrypt-derived key.

Layout of an encrypted bundle (`BUNDLE.zip.enc`)::

    b"EXHBNDE1" | uint32 header length | header (canonical JSON) | chunk 0 | chunk 1 | ... | chunk n-1
    key     = scrypt(passphrase, salt, n, r, p) -> 32 bytes
    check   = AES-256-GCM(key, nonce = ff * 12, plaintext = "", aad = check domain || salt)   (a bare tag)
    chunk i = AES-256-GCM(key, nonce = 0^4 || i, aad = chunk domain || SHA-256(header) || i || final flag)

Why this and not an AES zip (WinZip AE-2, what 7-Zip writes): an AES zip leaves every entry's name and size in
the clear, and a bundle's names are exhibit references and suspects' file names; it also authenticates entries
one by one, so entries can be dropped or swapped unnoticed at that layer. Here the whole zip is one authenticated
stream: names, sizes and order are hidden, chunks cannot be reordered or moved between bundles (the header's
digest, holding a random salt, is in every chunk's associated data), and the final flag makes a cut at a chunk
boundary detectable. The check tag tells a wrong passphrase ("EX-BUNDLE-PASSPHRASE") from a damaged file
("EX-BUNDLE-INVALID"). Fixed-size chunks make the encrypted file seekable, so `verify-bundle` reads the zip inside
without ever writing its plaintext to disk.

The passphrase is never stored: not in the bundle, the manifest, the ledger or any log. Nonces are the chunk
index, safe because every bundle has its own salt and so its own key.

Pure: the standard library and `cryptography`; no store, no SQL (the offline verifier imports it).
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import struct
from dataclasses import dataclass
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from evidence_store.crypto import TAG_SIZE, chunk_count, chunk_nonce, plaintext_size
from evidence_store.errors import BundleInvalidError, BundlePassphraseError, ObjectFormatError

MAGIC = b"EXHBNDE1"
FORMAT = "exhibit-encrypted-bundle/1"
CIPHER = "AES-256-GCM"
CHUNK_SIZE = 1 << 20
MAX_HEADER = 4096
MIN_PASSPHRASE = 12
# scrypt at n = 2^17, r = 8 takes 128 MiB and about half a second: slow for guessing, fine once per transfer.
SCRYPT_N = 1 << 17
SCRYPT_R = 8
SCRYPT_P = 1
_MAX_SCRYPT_N = 1 << 20  # a header may not make the reader spend more than 1 GiB on the key
_CHECK_DOMAIN = b"exhibit.bundle-passphrase-check.v1\x00"
_CHUNK_DOMAIN = b"exhibit.bundle-chunk.v1\x00"
_CHECK_NONCE = b"\xff" * 12


def is_encrypted(head: bytes) -> bool:
    """Whether these first bytes of a file are an encrypted bundle's."""
    return head[: len(MAGIC)] == MAGIC


def check_passphrase(passphrase: str) -> None:
    """Refuses a passphrase too short to protect a bundle sent over a network or on a disc.

    Raises:
        BundlePassphraseError: shorter than MIN_PASSPHRASE characters.
    """
    if len(passphrase) < MIN_PASSPHRASE:
        raise BundlePassphraseError(
            f"a bundle passphrase needs at least {MIN_PASSPHRASE} characters (a few random words is best)"
        )


@dataclass(frozen=True, slots=True)
class EncryptionHeader:
    """The public parameters of one encrypted bundle: everything but the passphrase needed to decrypt it."""

    salt: bytes
    check: bytes
    n: int = SCRYPT_N
    r: int = SCRYPT_R
    p: int = SCRYPT_P
    chunk_size: int = CHUNK_SIZE

    def __post_init__(self) -> None:
        if len(self.salt) != 16 or len(self.check) != TAG_SIZE:
            raise BundleInvalidError("the encrypted bundle's header has a salt or check of the wrong length")
        # r and p are fixed and n capped: a hostile header must not make the reader spend more than 1 GiB.
        if self.n < 2 or self.n & (self.n - 1) or self.n > _MAX_SCRYPT_N or (self.r, self.p) != (SCRYPT_R, SCRYPT_P):
            raise BundleInvalidError(
                f"the encrypted bundle's key parameters are implausible (n={self.n}, r={self.r}, p={self.p})"
            )
        if not 4096 <= self.chunk_size <= 64 << 20:
            raise BundleInvalidError("the encrypted bundle's parameters are implausible")

    def to_bytes(self) -> bytes:
        body = {
            "format": FORMAT,
            "cipher": CIPHER,
            "kdf": {"name": "scrypt", "n": self.n, "r": self.r, "p": self.p, "salt": self.salt.hex()},
            "check": self.check.hex(),
            "chunk_size": self.chunk_size,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> EncryptionHeader:
        try:
            body: dict[str, Any] = json.loads(data)
            if body["format"] != FORMAT or body["cipher"] != CIPHER or body["kdf"]["name"] != "scrypt":
                raise BundleInvalidError(f"unsupported encrypted bundle format {body.get('format')!r}")
            kdf = body["kdf"]
            return cls(
                salt=bytes.fromhex(kdf["salt"]),
                check=bytes.fromhex(body["check"]),
                n=int(kdf["n"]),
                r=int(kdf["r"]),
                p=int(kdf["p"]),
                chunk_size=int(body["chunk_size"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise BundleInvalidError(f"the encrypted bundle's header is unreadable: {exc}") from exc


def _derive(passphrase: str, header_salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=header_salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _check_tag(aead: AESGCM, salt: bytes) -> bytes:
    return aead.encrypt(_CHECK_NONCE, b"", _CHECK_DOMAIN + salt)


def _chunk_aad(header_digest: bytes, index: int, final: bool) -> bytes:
    return _CHUNK_DOMAIN + header_digest + struct.pack(">QB", index, 1 if final else 0)


class EncryptingWriter(io.RawIOBase):
    """A write-only stream that encrypts what is written into `sink`; `close()` seals the final chunk.

    Not seekable: `zipfile` writes to it with data descriptors, so the plaintext zip never touches a disk.
    """

    def __init__(self, sink: IO[bytes], passphrase: str, *, n: int = SCRYPT_N, chunk_size: int = CHUNK_SIZE) -> None:
        super().__init__()
        check_passphrase(passphrase)
        salt = secrets.token_bytes(16)
        self._aead = AESGCM(_derive(passphrase, salt, n, SCRYPT_R, SCRYPT_P))
        self.header = EncryptionHeader(salt, _check_tag(self._aead, salt), n, SCRYPT_R, SCRYPT_P, chunk_size)
        header = self.header.to_bytes()
        self._digest = hashlib.sha256(header).digest()
        self._sink = sink
        self._pending = bytearray()
        self._index = 0
        self._written = 0
        sink.write(MAGIC + struct.pack(">I", len(header)) + header)

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._written

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._pending += view
        size = self.header.chunk_size
        # A full chunk is sealed only once more data follows it: until then it might be the last.
        while len(self._pending) > size:
            self._seal(memoryview(self._pending)[:size], final=False)
            del self._pending[:size]
        self._written += len(view)
        return len(view)

    def _seal(self, plaintext: memoryview | bytearray, final: bool) -> None:
        aad = _chunk_aad(self._digest, self._index, final)
        self._sink.write(self._aead.encrypt(chunk_nonce(self._index), bytes(plaintext), aad))
        self._index += 1

    def close(self) -> None:
        if not self.closed:
            self._seal(self._pending, final=True)
            self._pending = bytearray()
            self._sink.flush()
        super().close()


class DecryptingReader(io.RawIOBase):
    """A seekable read-only view of an encrypted bundle's plaintext; each chunk is authenticated as it is read.

    Raises (on construction):
        BundlePassphraseError: the passphrase is not this bundle's.
        BundleInvalidError: the file is not an encrypted bundle, or its size cannot hold whole chunks.
    Raises (on read): BundleInvalidError when a chunk fails authentication (altered, moved, cut short).
    """

    def __init__(self, source: IO[bytes], passphrase: str) -> None:
        super().__init__()
        source.seek(0)
        prefix = source.read(len(MAGIC) + 4)
        if len(prefix) < len(MAGIC) + 4 or not is_encrypted(prefix):
            raise BundleInvalidError("not an encrypted Exhibit bundle (bad magic)")
        (length,) = struct.unpack(">I", prefix[len(MAGIC) :])
        if length > MAX_HEADER:
            raise BundleInvalidError(f"the encrypted bundle's header length {length} is implausible")
        header_bytes = source.read(length)
        self.header = EncryptionHeader.from_bytes(header_bytes)
        h = self.header
        self._aead = AESGCM(_derive(passphrase, h.salt, h.n, h.r, h.p))
        if not secrets.compare_digest(_check_tag(self._aead, h.salt), h.check):
            raise BundlePassphraseError("the passphrase is not this bundle's: nothing was decrypted")
        self._digest = hashlib.sha256(header_bytes).digest()
        self._source = source
        self._start = len(MAGIC) + 4 + length
        sealed = source.seek(0, io.SEEK_END) - self._start
        try:
            self.size = plaintext_size(sealed, h.chunk_size)  # the stored objects' chunk rules, the same layout
        except ObjectFormatError as exc:
            raise BundleInvalidError(f"the encrypted bundle is cut short ({sealed} bytes of chunks)") from exc
        self._chunks = chunk_count(self.size, h.chunk_size)
        self._position = 0
        self._cached: tuple[int, bytes] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def _plain(self, index: int) -> bytes:
        if self._cached is not None and self._cached[0] == index:
            return self._cached[1]
        size = self.header.chunk_size
        self._source.seek(self._start + index * (size + TAG_SIZE))
        sealed = self._source.read(size + TAG_SIZE)
        final = index == self._chunks - 1
        try:
            plain = self._aead.decrypt(chunk_nonce(index), sealed, _chunk_aad(self._digest, index, final))
        except InvalidTag as exc:
            raise BundleInvalidError(
                f"chunk {index} of the encrypted bundle fails authentication (altered, reordered or cut short)",
                chunk=index,
            ) from exc
        self._cached = (index, plain)
        return plain

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        size = self.header.chunk_size
        while done < len(view) and self._position < self.size:
            index, offset = divmod(self._position, size)
            plain = self._plain(index)
            take = min(len(view) - done, len(plain) - offset)
            view[done : done + take] = plain[offset : offset + take]
            done += take
            self._position += take
        return done


def decrypt_file(source: IO[bytes], sink: IO[bytes], passphrase: str) -> int:
    """Decrypts an encrypted bundle into `sink` (the plain zip), every chunk authenticated; returns its size."""
    reader = DecryptingReader(source, passphrase)
    written = 0
    while block := reader.read(CHUNK_SIZE):
        sink.write(block)
        written += len(block)
    return written
