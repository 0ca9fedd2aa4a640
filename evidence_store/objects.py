"""The content-addressed, encrypted object store: one-pass put, decrypting (ranged) reads, fixity.

A put reads its source once. The reading thread hands each block to three workers that run at the same time
(hashlib and OpenSSL release the GIL on large buffers): MD5; SHA-1 with SHA-256; and chunk encryption with the
staged write. MD5 alone takes most of one core, so it gets a worker to itself. The object becomes visible at
``objects/sha256/ab/cd/<sha256>`` of its plaintext only after the last byte is written and hashed.
"""

from __future__ import annotations

import io
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from evidence_store.backends import OBJECTS_PREFIX, Backend
from evidence_store.crypto import (
    MAX_HEADER,
    TAG_SIZE,
    ChunkCipher,
    Envelope,
    LocalKeyProvider,
    chunk_count,
    new_envelope,
    parse_header,
    plaintext_size,
)
from evidence_store.digests import BlockFanout, Digests, ParallelHasher, check_hex_digest, hash_stream
from evidence_store.errors import (
    HashMismatchError,
    ObjectFormatError,
    ObjectMissingError,
    SourceChangedError,
    SpecialFileError,
    UnreadableInputError,
)

BLOCK_SIZE = 4 << 20
HEAD_SIZE = 64 << 10
_QUEUE_DEPTH = 4
_KEY_RE = re.compile(r"^objects/sha256/([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})$")


def object_key(sha256: str) -> str:
    """The store key of the object whose plaintext has this SHA-256."""
    check_hex_digest("sha256", sha256)
    return f"{OBJECTS_PREFIX}sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def parse_object_key(key: str) -> str:
    """The SHA-256 named by a store key.

    Raises:
        ValueError: the key is not a well-formed object key (including a fan-out that disagrees with it).
    """
    match = _KEY_RE.match(key)
    if not match or match.group(3)[:2] != match.group(1) or match.group(3)[2:4] != match.group(2):
        raise ValueError(f"not an object key: {key!r}")
    return match.group(3)


@dataclass(frozen=True, slots=True)
class PutResult:
    digests: Digests
    envelope: Envelope
    created: bool  # False when an object with this digest was already stored (nothing new was written)
    key: str
    head: bytes  # the first HEAD_SIZE bytes of plaintext, for content sniffing without a second read


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """What a source file looked like when we started reading it; any change means it moved under us."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileIdentity:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class Readable(Protocol):
    """Anything with `read(size) -> bytes`: files, sockets' makefile(), spooled buffers."""

    def read(self, size: int = -1, /) -> bytes: ...


def _read_full(stream: Readable, size: int) -> bytes:
    """Reads up to `size` bytes, looping over short reads so every block but the last is full."""
    first = stream.read(size)
    if not first or len(first) == size:
        return first or b""
    parts = [first]
    got = len(first)
    while got < size:
        more = stream.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


class ObjectStore:
    """Encrypted, content-addressed, immutable objects on a backend."""

    def __init__(self, backend: Backend, keys: LocalKeyProvider, chunk_size: int = 1 << 20) -> None:
        if BLOCK_SIZE % chunk_size:
            raise ValueError("the read block size must be a whole number of chunks")
        self.backend = backend
        self.keys = keys
        self.chunk_size = chunk_size

    # -- writing ----------------------------------------------------------------------------------------------

    def put_stream(
        self,
        stream: Readable,
        size_hint: int | None = None,
        before_commit: Callable[[Digests], None] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> PutResult:
        """Hashes, encrypts and stores a stream in one pass.

        Args:
            stream: the plaintext source, read once.
            size_hint: the expected size, to size S3 multipart parts.
            before_commit: called with the digests after the last byte is staged and before the object becomes
                visible; an exception from it aborts the put and leaves nothing stored.
            progress: called with the byte count of each block as it is handed on.

        Raises:
            StorageError: the backend failed; nothing is left visible.
        """
        envelope, data_key = new_envelope(self.keys, self.chunk_size)
        cipher = ChunkCipher(envelope, data_key)
        staged = self.backend.begin(size_hint=size_hint)
        hasher = ParallelHasher()
        out = bytearray(self.chunk_size + TAG_SIZE)
        chunk_index = 0

        def seal(block: bytes, last: bool) -> None:
            nonlocal chunk_index
            view = memoryview(block)
            offsets = range(0, len(block), self.chunk_size) if block else range(1)
            for n, offset in enumerate(offsets):
                final = last and n == len(offsets) - 1
                staged.write(cipher.encrypt_into(chunk_index, final, view[offset : offset + self.chunk_size], out))
                chunk_index += 1

        try:
            staged.write(envelope.header_bytes())
            with BlockFanout(*hasher.consumers(), seal) as fanout:
                block = _read_full(stream, BLOCK_SIZE)
                head = block[:HEAD_SIZE]
                while True:
                    # Read one block ahead: the last chunk is sealed with a "final" flag.
                    following = _read_full(stream, BLOCK_SIZE) if len(block) == BLOCK_SIZE else b""
                    last = not following
                    fanout.feed(block, last)
                    if progress is not None:
                        progress(len(block))
                    if last or fanout.failed:
                        break
                    block = following
            digests = hasher.digests()
            key = object_key(digests.sha256)
            if before_commit is not None:
                before_commit(digests)
            created = staged.commit(key)
        except BaseException:
            staged.abort()
            raise
        return PutResult(digests, envelope if created else self.envelope(digests.sha256), created, key, head)

    def put_file(self, path: str | os.PathLike[str], progress: Callable[[int], None] | None = None) -> PutResult:
        """Stores a regular file, refusing it if it changes while it is read.

        Raises:
            SpecialFileError: not a regular file (FIFO, device, socket, folder).
            UnreadableInputError: the file cannot be opened or read.
            SourceChangedError: size, modification time or identity moved during the read; nothing is stored.
        """
        path = Path(path)
        try:
            before = os.stat(path)
        except OSError as exc:
            raise UnreadableInputError(f"cannot read {path}: {exc.strerror}", path=str(path)) from exc
        if not stat.S_ISREG(before.st_mode):
            raise SpecialFileError(
                f"{path} is not a regular file ({_file_type(before.st_mode)}); refusing to read it",
                path=str(path),
            )
        try:
            # O_NONBLOCK: if the path was swapped for a FIFO after the stat, opening must not hang.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            raise UnreadableInputError(f"cannot open {path}: {exc.strerror}", path=str(path)) from exc
        with os.fdopen(fd, "rb", buffering=0) as stream:
            opened = os.fstat(stream.fileno())
            if not stat.S_ISREG(opened.st_mode) or FileIdentity.of(opened) != FileIdentity.of(before):
                raise SourceChangedError(f"{path} changed between stat and open", path=str(path))
            expected = FileIdentity.of(before)

            def unchanged(digests: Digests) -> None:
                after_fd = FileIdentity.of(os.fstat(stream.fileno()))
                try:
                    after_path: FileIdentity | None = FileIdentity.of(os.stat(path))
                except OSError:
                    after_path = None
                if digests.size != expected.size or after_fd != expected or after_path != expected:
                    raise SourceChangedError(
                        f"{path} changed while it was being read (size or modification time moved); "
                        "nothing was stored — ingest it again once it is complete",
                        path=str(path),
                        expected_size=expected.size,
                        read_size=digests.size,
                    )

            return self.put_stream(
                _SourceReader(stream, path), size_hint=before.st_size, before_commit=unchanged, progress=progress
            )

    # -- reading ----------------------------------------------------------------------------------------------

    def envelope(self, sha256: str) -> Envelope:
        return self._header(object_key(sha256))[0]

    def _header(self, key: str) -> tuple[Envelope, int, int]:
        total = self.backend.size(key)
        if total is None:
            raise ObjectMissingError(f"object {key} is not in the store", key=key)
        envelope, offset = parse_header(self.backend.read_range(key, 0, MAX_HEADER + 12))
        return envelope, offset, plaintext_size(total - offset, envelope.chunk_size)

    def plaintext_size(self, sha256: str) -> int:
        """The object's size as stored bytes decrypt to (read from its header, not the catalog)."""
        return self._header(object_key(sha256))[2]

    def exists(self, sha256: str) -> bool:
        return self.backend.size(object_key(sha256)) is not None

    def open(self, sha256: str) -> ObjectReader:
        """A seekable, decrypting file object over the stored plaintext."""
        key = object_key(sha256)
        envelope, offset, size = self._header(key)
        return ObjectReader(
            self.backend, key, envelope, ChunkCipher(envelope, envelope.unwrap(self.keys)), offset, size
        )

    def read_range(self, sha256: str, start: int, length: int) -> bytes:
        """Plaintext bytes [start, start+length), decrypting only the chunks they fall in."""
        with self.open(sha256) as reader:
            reader.seek(start)
            return reader.read(length)

    def iter_plaintext(self, sha256: str) -> Iterator[bytes]:
        """The whole plaintext as a stream of blocks, each chunk authenticated as it is read."""
        with self.open(sha256) as reader:
            yield from reader.chunks()

    def verify(self, sha256: str, expected: Digests | None = None) -> Digests:
        """Re-reads, decrypts and re-hashes a stored object.

        Raises:
            ObjectMissingError: nothing is stored under this digest.
            ChunkIntegrityError, ObjectFormatError, KeyUnwrapError: the stored bytes were altered.
            HashMismatchError: the plaintext hashes to something else than its key (or `expected`).
        """

        observed = hash_stream(self.iter_plaintext(sha256))
        if observed.sha256 != sha256:
            raise HashMismatchError(
                f"object {sha256} decrypts to content with SHA-256 {observed.sha256}",
                expected={"sha256": sha256},
                observed={"sha256": observed.sha256},
            )
        if expected is not None:
            expected.require_match(observed, f"object {sha256}")
        return observed

    def iter_digests(self) -> Iterator[str]:
        """The SHA-256 of every visible object (malformed keys are skipped: they are not ours)."""
        for key in self.backend.list_keys(OBJECTS_PREFIX):
            try:
                yield parse_object_key(key)
            except ValueError:
                continue


class _SourceReader:
    """Reads the source file, so that a read failure is blamed on the input and a write failure on the store."""

    def __init__(self, stream: BinaryIO, path: Path) -> None:
        self._stream = stream
        self._path = path

    def read(self, size: int = -1) -> bytes:
        try:
            return self._stream.read(size)
        except OSError as exc:
            raise UnreadableInputError(f"reading {self._path} failed: {exc.strerror}", path=str(self._path)) from exc


class ObjectReader(io.RawIOBase):
    """Reads decrypted plaintext: a few sealed chunks per backend request, each decrypted only when read."""

    _WINDOW_CHUNKS = 8

    def __init__(
        self, backend: Backend, key: str, envelope: Envelope, cipher: ChunkCipher, offset: int, size: int
    ) -> None:
        super().__init__()
        self._backend = backend
        self._key = key
        self._cipher = cipher
        self._offset = offset
        self._chunk = envelope.chunk_size
        self.size = size
        self._chunks = chunk_count(size, envelope.chunk_size)
        self._pos = 0
        self._window_first = -1
        self._window_count = 0
        self._window = b""
        self._plain_index = -1
        self._plain_chunk = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def _fetch(self, first: int) -> None:
        """Fetches the sealed bytes of a few chunks in one backend request (decrypted only when read)."""
        count = min(self._WINDOW_CHUNKS, self._chunks - first)
        sealed_chunk = self._chunk + TAG_SIZE
        start = self._offset + first * sealed_chunk
        self._window = self._backend.read_range(self._key, start, start + count * sealed_chunk)
        self._window_first = first
        self._window_count = count

    def _plain(self, index: int) -> bytes:
        if self._plain_index == index:
            return self._plain_chunk
        if not self._window_first <= index < self._window_first + self._window_count:
            self._fetch(index)
        sealed_chunk = self._chunk + TAG_SIZE
        at = (index - self._window_first) * sealed_chunk
        piece = self._window[at : at + sealed_chunk]
        if len(piece) < TAG_SIZE:
            raise ObjectFormatError(f"object {self._key} ends inside chunk {index}", key=self._key)
        self._plain_chunk = self._cipher.decrypt(index, index == self._chunks - 1, piece)
        self._plain_index = index
        return self._plain_chunk

    def chunks(self) -> Iterator[bytes]:
        """The plaintext from the current position to the end, one decrypted chunk at a time, each as decrypted
        (no copy: a whole-object read such as hashing or an export is bounded by the cipher and the consumer)."""
        while self._pos < self.size:
            index, within = divmod(self._pos, self._chunk)
            plain = self._plain(index)
            self._pos += len(plain) - within
            yield plain[within:] if within else plain
        if self.size == 0:
            self._plain(0)  # an empty object is one empty final chunk: authenticate it all the same

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._pos >= self.size:
            return 0
        index, within = divmod(self._pos, self._chunk)
        plain = self._plain(index)
        n = min(len(buffer), len(plain) - within)
        buffer[:n] = plain[within : within + n]
        self._pos += n
        return n

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self.size - self._pos
        parts = []
        while size > 0:
            buf = bytearray(min(size, self._chunk))
            n = self.readinto(memoryview(buf))
            if n == 0:
                break
            parts.append(bytes(buf[:n]))
            size -= n
        return b"".join(parts)


def _file_type(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return name
    return "not a regular file"
